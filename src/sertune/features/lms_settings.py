"""Which log-Mel settings are legal, and how many frames they give: checks and arithmetic, no torch.

:func:`check_settings` validates the settings of :func:`sertune.features.log_mel`
(and of a setting θ, :meth:`sertune.features.theta.Theta.check`) before any work starts;
:func:`n_frames` is the centred STFT's frame count. Both are re-exported by
:mod:`sertune.features`.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.signal

from . import melfilters
from ..errors import ConfigError, SertuneWarning

__all__ = ["check_settings", "check_network_input", "n_frames", "MEL_SCALES", "PAD_MODES", "is_int"]

MEL_SCALES = ("slaney", "htk")

#: Smallest input SqueezeNet v1.1 accepts in each dimension (mels and frames): a 3x3 stride-2
#: convolution and three 3x3 stride-2 max pools shrink 16 to 7, 3, 1 and then nothing
#: (tests/test_model.py checks the number against the network).
MIN_INPUT = 17
#: ``constant`` (zeros) is librosa >= 0.9's centre padding; ``reflect`` reproduces librosa < 0.9.
PAD_MODES = ("constant", "reflect")


def is_int(value) -> bool:
    """True for a Python or numpy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_num(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _bad(name, value, rule, fix):
    raise ConfigError(f"{name}={value!r} is invalid: {rule}; {fix}")


def check_settings(*, sample_rate=16000, n_mels, win_length, hop_length, n_fft=None, window="hann",
                   mel_scale="slaney", fmin=0.0, fmax=None, top_db=80.0, pad_mode="constant",
                   segment=None, warn=True) -> list[str]:
    """Validate log-Mel settings before any expensive work starts.

    Parameters are those of :func:`sertune.features.log_mel`; ``n_mels`` may also be a
    sequence (as for :func:`sertune.features.log_mel_many`) and ``segment`` is a segment length in seconds.

    Returns
    -------
    list of str
        Advice for legal but poor settings (empty mel filters, fmax above Nyquist);
        each is also issued as a :class:`SertuneWarning` when ``warn`` is true.

    Raises
    ------
    ConfigError
        For impossible settings, naming the parameter, its value, the rule and the fix.
    """
    if not _is_num(sample_rate) or sample_rate <= 0:
        _bad("sample_rate", sample_rate, "the sample rate must be a positive number of Hz", "use e.g. 16000")
    mels = list(n_mels) if isinstance(n_mels, (list, tuple, range)) else [n_mels]
    if not mels:
        _bad("n_mels", n_mels, "at least one number of mel filters is needed", "pass e.g. [128, 136]")
    for m in mels:
        if not is_int(m) or m <= 0:
            _bad("n_mels", m, "the number of mel filters must be a positive integer", "use e.g. 128")
    if not is_int(win_length) or win_length < 2:
        _bad("win_length", win_length, "the window must be an integer of at least 2 samples",
             "use e.g. 400 (25 ms at 16 kHz)")
    if not is_int(hop_length) or hop_length <= 0:
        _bad("hop_length", hop_length, "the hop must be a positive integer number of samples",
             "use e.g. 160 (10 ms at 16 kHz)")
    n_fft = win_length if n_fft is None else n_fft
    if not is_int(n_fft) or n_fft < win_length:
        _bad("n_fft", n_fft, f"the FFT size must be an integer >= win_length={win_length}",
             f"leave n_fft unset (= win_length) or use n_fft >= {win_length}")
    try:
        scipy.signal.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as exc:
        _bad("window", window, f"scipy.signal.get_window does not know it ({exc})", "use 'hann'")
    if mel_scale not in MEL_SCALES:
        _bad("mel_scale", mel_scale, f"must be one of {MEL_SCALES}",
             "use 'slaney' (librosa) or 'htk' (the paper's eq. 5)")
    if pad_mode not in PAD_MODES:
        _bad("pad_mode", pad_mode, f"must be one of {PAD_MODES}",
             "use 'constant' (librosa >= 0.9) or 'reflect' (librosa < 0.9)")
    nyquist = sample_rate / 2
    if not _is_num(fmin) or fmin < 0:
        _bad("fmin", fmin, "the lowest filter frequency must be >= 0 Hz", "use fmin=0.0")
    if not _is_num(nyquist if fmax is None else fmax) or (nyquist if fmax is None else fmax) <= fmin:
        _bad("fmax", fmax, f"the highest filter frequency must be above fmin={fmin} Hz",
             f"leave fmax unset (= {nyquist:g} Hz, the Nyquist frequency)")
    if top_db is not None and (not _is_num(top_db) or top_db < 0):
        _bad("top_db", top_db, "the dynamic range must be >= 0 dB (or None: no floor)", "use top_db=80.0")
    if segment is not None and (not _is_num(segment) or round(segment * sample_rate) < n_fft):
        _bad("segment", segment, f"a segment must be a number of seconds holding at least one {n_fft}-sample "
             f"window", f"use segments of at least {n_fft / sample_rate:.3g} s")

    advice = []
    fmax = nyquist if fmax is None else fmax
    if fmax > nyquist:
        advice.append(f"fmax={fmax} Hz is above the Nyquist frequency {nyquist:g} Hz: the top mel filters "
                      f"see no FFT bins and stay empty; leave fmax unset or use fmax <= {nyquist:g}")
    # Empty filters that only an fmax above Nyquist causes are covered by the advice above.
    key = (sample_rate, n_fft, float(fmin), float(min(fmax, nyquist)), mel_scale == "htk")
    empty = {m: k for m in sorted(set(mels)) if (k := melfilters.n_empty(*key, m))}
    if empty:
        bigger = melfilters.min_n_fft(*key, max(empty))
        advice.append(
            f"n_fft={n_fft} at {sample_rate:g} Hz gives {n_fft // 2 + 1} FFT bins, too few for n_mels="
            f"{melfilters.listing(empty)} mel filters are empty (all-zero: constant -top_db rows, "
            "no information); "
            f"use n_mels <= {melfilters.max_mels(*key)}"
            + (f" or n_fft >= {bigger} (win_length too if n_fft was unset)" if bigger else ""))
    if warn:
        for text in advice:
            warnings.warn(text, SertuneWarning, stacklevel=2)
    return advice


def check_network_input(*, n_mels: int, frames: int, hop_length: int, sample_rate: int = 16000) -> None:
    """ConfigError when a log-Mel of ``n_mels`` x ``frames`` is smaller than SqueezeNet's smallest
    input (:data:`MIN_INPUT` in each dimension). Check the numbers with :func:`check_settings` first."""
    if min(n_mels, frames) < MIN_INPUT:
        raise ConfigError(f"the network input is {n_mels} mels x {frames} frames; SqueezeNet needs at least "
                          f"{MIN_INPUT} of each. Use n_mels >= {MIN_INPUT} and a segment of at least "
                          f"{MIN_INPUT - 1} hops ({(MIN_INPUT - 1) * hop_length / sample_rate:g} s at H={hop_length})")


def n_frames(samples: int, *, n_fft: int, hop_length: int) -> int:
    """Frames of a centred STFT (librosa/torch ``center=True``): ``1 + (samples - n_fft % 2) // hop``."""
    return 1 + (samples + 2 * (n_fft // 2) - n_fft) // hop_length
