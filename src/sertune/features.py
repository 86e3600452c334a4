"""Log-Mel spectrograms (batched, torch, any device), segmentation and normalisation.

The log-Mel spectrogram (LMS) is the authors' recipe, to within float rounding::

    librosa.power_to_db(librosa.feature.melspectrogram(
        y=y, sr=16000, n_mels=M, n_fft=L, hop_length=H, win_length=L, window="hann",
        center=True, pad_mode="constant", power=2.0), ref=1.0, amin=1e-10, top_db=80)

computed for a whole batch at once, with the 80 dB floor applied per example
(librosa applies it over whatever array it is given). Paper eq. 1-2: STFT with a
window of L samples (= n_fft, so L = 127 gives 64 FFT bins), hop H, and M
triangular mel filters applied to the power spectrum; eq. 4-5 (``mel_scale="htk"``)
place the filters on the HTK mel scale, librosa's default is Slaney's. The
filter bank is librosa's own (``librosa.filters.mel``), not a re-derivation.

All functions are pure: arrays in, arrays out; devices are the caller's choice.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Sequence

import librosa
import numpy as np
import scipy.fft
import scipy.signal
import torch

from .errors import ConfigError, SertuneWarning

__all__ = [
    "check_settings", "empty_mel_filters", "n_frames", "log_mel", "log_mel_many",
    "segment", "segment_many", "fit_normalizer", "normalize",
]

#: Power floor before the log (librosa.power_to_db's ``amin``); the reference power is 1.0.
AMIN = 1e-10
MEL_SCALES = ("slaney", "htk")
#: ``constant`` (zeros) is librosa >= 0.9's centre padding; ``reflect`` reproduces librosa < 0.9.
PAD_MODES = ("constant", "reflect")
REMAINDERS = ("drop", "pad")
#: Mel filters per dense block of the CPU projection (mel filters are narrow bands; see _Bank).
_BLOCK = 16
#: Frame samples per CPU chunk: small enough for the STFT temporaries to stay in cache.
_CHUNK_SAMPLES = 1 << 21


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def check_settings(*, sample_rate=16000, n_mels, win_length, hop_length, n_fft=None, window="hann",
                   mel_scale="slaney", fmin=0.0, fmax=None, top_db=80.0, pad_mode="constant",
                   segment=None, warn=True) -> list[str]:
    """Validate log-Mel settings before any expensive work starts.

    Parameters are those of :func:`log_mel`; ``n_mels`` may also be a sequence
    (as for :func:`log_mel_many`) and ``segment`` is a segment length in seconds.

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
    def bad(name, value, rule, fix):
        raise ConfigError(f"{name}={value!r} is invalid: {rule}; {fix}")

    if not (_is_int(sample_rate) or isinstance(sample_rate, float)) or not sample_rate > 0:
        bad("sample_rate", sample_rate, "the sample rate must be a positive number of Hz", "use e.g. 16000")
    mels = [n_mels] if _is_int(n_mels) else list(n_mels) if isinstance(n_mels, (list, tuple, range)) else [n_mels]
    if not mels:
        bad("n_mels", n_mels, "at least one number of mel filters is needed", "pass e.g. [128, 136]")
    for m in mels:
        if not _is_int(m) or m <= 0:
            bad("n_mels", m, "the number of mel filters must be a positive integer", "use e.g. 128")
    if not _is_int(win_length) or win_length < 2:
        bad("win_length", win_length, "the window must be an integer of at least 2 samples",
            "use e.g. 400 (25 ms at 16 kHz)")
    if not _is_int(hop_length) or hop_length <= 0:
        bad("hop_length", hop_length, "the hop must be a positive integer number of samples",
            "use e.g. 160 (10 ms at 16 kHz)")
    n_fft = win_length if n_fft is None else n_fft
    if not _is_int(n_fft) or n_fft < win_length:
        bad("n_fft", n_fft, f"the FFT size must be an integer >= win_length={win_length}",
            f"leave n_fft unset (= win_length) or use n_fft >= {win_length}")
    try:
        scipy.signal.get_window(window, win_length, fftbins=True)
    except (ValueError, TypeError) as exc:
        bad("window", window, f"not a scipy.signal.get_window name ({exc})", "use 'hann', 'hamming' or 'blackman'")
    if mel_scale not in MEL_SCALES:
        bad("mel_scale", mel_scale, f"must be one of {', '.join(MEL_SCALES)}",
            "use 'slaney' (librosa's default) or 'htk' (the paper's eq. 5)")
    if pad_mode not in PAD_MODES:
        bad("pad_mode", pad_mode, f"must be one of {', '.join(PAD_MODES)}",
            "use 'constant' (librosa >= 0.9) or 'reflect' (librosa < 0.9)")
    nyquist = sample_rate / 2
    fmax_ = nyquist if fmax is None else fmax
    if not isinstance(fmin, (int, float, np.number)) or fmin < 0:
        bad("fmin", fmin, "the lowest filter frequency must be >= 0 Hz", "use fmin=0.0")
    if not isinstance(fmax_, (int, float, np.number)) or fmax_ <= fmin:
        bad("fmax", fmax, f"the highest filter frequency must be above fmin={fmin} Hz",
            f"leave fmax unset (= {nyquist:g} Hz, the Nyquist frequency)")
    if top_db is not None and (not isinstance(top_db, (int, float, np.number)) or top_db < 0):
        bad("top_db", top_db, "the dynamic range must be >= 0 dB (or None for no floor)", "use top_db=80.0")
    if segment is not None:
        if not isinstance(segment, (int, float, np.number)) or not segment > 0:
            bad("segment", segment, "the segment length must be a positive number of seconds", "use e.g. 3.0")
        if round(segment * sample_rate) < n_fft:
            bad("segment", segment, f"a {segment:g} s segment ({round(segment * sample_rate)} samples) is shorter "
                f"than one {n_fft}-sample window", f"use segments of at least {n_fft / sample_rate:.3g} s")

    advice = []
    if fmax_ > nyquist:
        advice.append(f"fmax={fmax} Hz is above the Nyquist frequency {nyquist:g} Hz: the top mel filters "
                      f"see no FFT bins and stay empty; leave fmax unset or use fmax <= {nyquist:g}")
    settings = (sample_rate, n_fft, float(fmin), float(fmax_), mel_scale == "htk")
    empty = {m: k for m in sorted(set(mels)) if (k := _n_empty(*settings, m))}
    if empty:
        counts = ", ".join(f"{k} of {m}" for m, k in empty.items())
        worst = max(empty)
        advice.append(
            f"n_fft={n_fft} at {sample_rate:g} Hz gives {n_fft // 2 + 1} FFT bins, too few for n_mels="
            f"{'/'.join(map(str, empty))}: {counts} mel filters are empty (all-zero rows: constant "
            f"-top_db floor, no information); use n_mels <= {_max_mels(*settings)} or n_fft >= "
            f"{_min_n_fft(*settings, worst)} (win_length too if n_fft was unset)")
    if warn:
        for text in advice:
            warnings.warn(text, SertuneWarning, stacklevel=2)
    return advice


@functools.lru_cache(maxsize=512)
def _mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> np.ndarray:
    """librosa's filter bank (M, 1 + n_fft // 2) in float32, as melspectrogram builds it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # we warn ourselves, once, with the fix
        basis = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                    fmax=fmax, htk=htk, norm="slaney", dtype=np.float32)
    basis.flags.writeable = False
    return basis


def empty_mel_filters(*, sample_rate=16000, n_mels, n_fft, fmin=0.0, fmax=None, mel_scale="slaney") -> int:
    """Number of all-zero mel filters: no FFT bin falls strictly inside their triangle.

    With few FFT bins (small ``n_fft``) the narrow low-frequency filters miss every
    bin: n_fft = 127 (64 bins) leaves 42 of 128 filters empty. Their log-Mel rows are
    the constant -top_db floor.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    return _n_empty(sample_rate, n_fft, float(fmin), float(fmax), mel_scale == "htk", n_mels)


def _n_empty(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> int:
    return int((~_mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels).any(axis=1)).sum())


def _max_mels(sample_rate, n_fft, fmin, fmax, htk) -> int:
    """Largest n_mels without empty filters (emptiness grows with n_mels: bisect)."""
    lo, hi = 1, 1 + n_fft // 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if not _n_empty(sample_rate, n_fft, fmin, fmax, htk, mid) else (lo, mid - 1)
    return lo


def _min_n_fft(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> int:
    """Smallest power of two >= n_fft without empty filters for n_mels."""
    size = 1 << max(n_fft - 1, 1).bit_length()
    while _n_empty(sample_rate, size, fmin, fmax, htk, n_mels) and size < 1 << 20:
        size *= 2
    return size


def n_frames(samples: int, *, n_fft: int, hop_length: int) -> int:
    """Frames of a centred STFT (librosa/torch ``center=True``): ``1 + (samples - n_fft % 2) // hop``."""
    return 1 + (samples + 2 * (n_fft // 2) - n_fft) // hop_length


class _Bank:
    """The mel projection for one (settings, n_mels, dtype, device), as dense blocks.

    Mel filters are narrow bands: each FFT bin feeds at most two filters, so a
    dense (M, F) @ (F, frames) product multiplies mostly zeros. On CPU the filters
    are cut into blocks of ``_BLOCK`` consecutive filters, each multiplied only with
    the bins it covers (~10 % of the dense work; the same sums, as the skipped terms
    are exact zeros). On accelerators one dense block is faster.
    """

    def __init__(self, basis: np.ndarray, dtype: torch.dtype, device: torch.device):
        weights = torch.from_numpy(basis.copy()).to(device=device, dtype=dtype)
        self.n_mels = basis.shape[0]
        size = _BLOCK if device.type == "cpu" else self.n_mels
        self.blocks = []
        for a in range(0, self.n_mels, size):
            cols = np.flatnonzero(basis[a:a + size].any(axis=0))
            s, e = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)
            self.blocks.append((a, min(a + size, self.n_mels), s, e, weights[a:a + size, s:e].contiguous()))

    def project(self, spec: torch.Tensor, out: torch.Tensor) -> None:
        """out (b, M, frames) <- filters @ spec (b, bins, frames), block by block, in place."""
        if len(self.blocks) == 1:                       # dense: one batched matmul
            a, b, s, e, w = self.blocks[0]
            torch.matmul(w, spec[:, s:e], out=out)
            return
        for i in range(spec.shape[0]):
            for a, b, s, e, w in self.blocks:
                if e > s:
                    torch.mm(w, spec[i, s:e], out=out[i, a:b])
                else:
                    out[i, a:b].zero_()


@functools.lru_cache(maxsize=256)
def _bank(sample_rate, n_fft, fmin, fmax, htk, n_mels, dtype, device) -> _Bank:
    return _Bank(_mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels), dtype, device)


@functools.lru_cache(maxsize=64)
def _window(window, win_length, n_fft, dtype, device) -> torch.Tensor:
    """librosa's window: periodic (``fftbins=True``), zero-padded to n_fft at the centre."""
    w = librosa.util.pad_center(librosa.filters.get_window(window, win_length, fftbins=True), size=n_fft)
    return torch.from_numpy(w).to(device=device, dtype=dtype)


def _fft_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The STFT's precision: float64 where the device has it (CPU, CUDA), as librosa.

    librosa multiplies float32 frames by a float64 window, so its FFT runs in
    float64 and the spectrum is rounded to complex64 afterwards. An FFT as exact
    keeps float32 results within ~2e-5 dB of librosa's down to the 80 dB floor:
    a float32 FFT (or merely a float32-rounded window) adds rounding noise some
    150 dB below the peak, which moves quiet bins by up to ~3e-3 dB.
    """
    return torch.float64 if device.type in ("cpu", "cuda") else dtype


def _power(x: torch.Tensor, *, n_fft, hop_length, window: torch.Tensor, pad_mode) -> torch.Tensor:
    """|STFT|^2 of (b, samples) -> (b, 1 + n_fft // 2, frames) in x's dtype; centred frames.

    The FFT runs in ``window``'s dtype (see :func:`_fft_dtype`). On CPU it is
    pocketfft (``scipy.fft``, the FFT numpy and so librosa use): in float64 it is
    3-4x faster than torch's MKL FFT for n_fft = 511 = 7 * 73, and as exact; it
    transforms the strided frames in place of a transpose, straight to (bins, frames).
    """
    pad = n_fft // 2
    padded = torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
    frames = padded.to(window.dtype).unfold(-1, n_fft, hop_length) * window     # (b, frames, n_fft)
    if x.device.type == "cpu":
        spec = scipy.fft.rfft(frames.transpose(1, 2).numpy(), axis=1, workers=torch.get_num_threads())
        power = np.square(spec.real)
        power += np.square(spec.imag)                  # |X|^2 in float64, rounded once below
        return torch.from_numpy(power).to(x.dtype)
    spec = torch.view_as_real(torch.fft.rfft(frames, dim=-1))
    return spec.square().sum(-1).to(x.dtype).transpose(1, 2).contiguous()


def log_mel(x, *, sample_rate=16000, n_mels, win_length, hop_length, n_fft=None, window="hann",
            mel_scale="slaney", fmin=0.0, fmax=None, top_db=80.0, pad_mode="constant"):
    """Log-Mel spectrogram in dB of every example in a batch.

    Parameters
    ----------
    x : np.ndarray or torch.Tensor, shape (..., samples), floating point
        Waveforms at ``sample_rate``; a tensor may live on any device.
    sample_rate : int, Hz
    n_mels : int > 0
        M, the number of mel filters.
    win_length : int >= 2, samples
        L, the Hann window length (the paper's L = n_fft).
    hop_length : int > 0, samples
        H, the step between frames.
    n_fft : int >= win_length, optional
        FFT size; default ``win_length`` (odd sizes are fine: L = 127 gives 64 bins).
    window : str
        Any ``scipy.signal.get_window`` name (periodic), default "hann".
    mel_scale : {"slaney", "htk"}
        Filter placement: librosa's default, or the paper's eq. 5 (``htk=True``).
        Both use Slaney area normalisation, as ``librosa.feature.melspectrogram``.
    fmin, fmax : float, Hz
        Filter bank range; fmax defaults to ``sample_rate / 2``.
    top_db : float >= 0 or None, dB
        Floor at (maximum - top_db), the maximum taken per example over mels and frames.
    pad_mode : {"constant", "reflect"}
        Centre padding: zeros (librosa >= 0.9) or reflection (librosa < 0.9).

    Returns
    -------
    log_mel : same type as ``x``, shape (..., n_mels, frames)
        Power (|X|^2) in dB re 1.0, floored at 1e-10 (-100 dB) and at max - top_db.
        ``frames = 1 + (samples - n_fft % 2) // hop_length``. numpy in gives numpy
        out with the same float dtype; a tensor in gives a tensor on the same device.

    Raises
    ------
    ConfigError
        Impossible settings (see :func:`check_settings`) or a non-float / non-finite ``x``.
    """
    return log_mel_many(x, sample_rate=sample_rate, n_mels=[n_mels], win_length=win_length,
                        hop_length=hop_length, n_fft=n_fft, window=window, mel_scale=mel_scale,
                        fmin=fmin, fmax=fmax, top_db=top_db, pad_mode=pad_mode)[n_mels]


def log_mel_many(x, *, sample_rate=16000, n_mels: Sequence[int], win_length, hop_length, n_fft=None,
                 window="hann", mel_scale="slaney", fmin=0.0, fmax=None, top_db=80.0, pad_mode="constant"):
    """:func:`log_mel` for several numbers of mel filters, sharing one STFT.

    Returns
    -------
    dict
        ``{M: log_mel(x, n_mels=M, ...)}`` for each M in ``n_mels``, identical to
        separate :func:`log_mel` calls; the power spectrogram is computed once.
    """
    check_settings(sample_rate=sample_rate, n_mels=n_mels, win_length=win_length, hop_length=hop_length,
                   n_fft=n_fft, window=window, mel_scale=mel_scale, fmin=fmin, fmax=fmax, top_db=top_db,
                   pad_mode=pad_mode)
    n_fft = win_length if n_fft is None else n_fft
    fmax = sample_rate / 2 if fmax is None else fmax
    mels = list(dict.fromkeys([n_mels] if _is_int(n_mels) else n_mels))
    is_numpy = isinstance(x, np.ndarray)
    t = torch.from_numpy(x) if is_numpy else x
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim < 1:
        raise ConfigError(f"x must be a float array of shape (..., samples), got "
                          f"{getattr(x, 'dtype', type(x).__name__)} with shape {tuple(getattr(x, 'shape', ()))}; "
                          "convert integer PCM with x.astype(np.float32) / 32768")
    samples = t.shape[-1]
    if samples == 0 or (pad_mode == "reflect" and samples <= n_fft // 2):
        raise ConfigError(f"x has {samples} samples, too few for n_fft={n_fft} with pad_mode={pad_mode!r}; "
                          f"pass at least {n_fft // 2 + 1} samples or use pad_mode='constant'")
    out_dtype = t.dtype
    dtype = t.dtype if t.dtype in (torch.float32, torch.float64) else torch.float32
    batch = t.reshape(-1, samples).to(dtype)
    if not bool(torch.isfinite(batch).all()):
        raise ConfigError("x contains NaN or infinite samples; check the decoding of the audio")
    key = (sample_rate, n_fft, float(fmin), float(fmax), mel_scale == "htk")
    banks = [_bank(*key, m, dtype, t.device) for m in mels]
    window_t = _window(window, win_length, n_fft, _fft_dtype(t.device, dtype), t.device)
    frames = n_frames(samples, n_fft=n_fft, hop_length=hop_length)
    n = batch.shape[0]
    outs = [torch.empty((n, m, frames), dtype=dtype, device=t.device) for m in mels]
    # On CPU a few examples at a time, so the spectrogram and each example's (M, frames)
    # output stay in cache between the STFT, the projection and the dB passes.
    step = max(1, _CHUNK_SAMPLES // (frames * n_fft)) if t.device.type == "cpu" else n
    with torch.no_grad():
        for c0 in range(0, n, step):
            spec = _power(batch[c0:c0 + step], n_fft=n_fft, hop_length=hop_length,
                          window=window_t, pad_mode=pad_mode)                 # (b, bins, frames)
            for bank, out in zip(banks, outs):
                bank.project(spec, out[c0:c0 + step])
                _to_db(out[c0:c0 + step], top_db)
    result = {}
    for m, out in zip(mels, outs):
        out = out.reshape(*t.shape[:-1], m, frames).to(out_dtype)
        result[m] = out.numpy() if is_numpy else out
    return result


def _to_db(power: torch.Tensor, top_db) -> None:
    """power_to_db of (b, M, frames) in place, with the top_db floor per example.

    librosa: 10 log10(max(S, amin)), then a floor at max_dB - top_db. Flooring the
    power at max * 10^(-top_db / 10) before the log is the same to rounding, one pass less.
    """
    if top_db is None:
        power.clamp_min_(AMIN)
    else:
        peak = power.amax(dim=(-2, -1), keepdim=True)                         # (b, 1, 1)
        torch.maximum(power, peak.mul_(10.0 ** (-top_db / 10)).clamp_min_(AMIN), out=power)
    power.log10_().mul_(10.0)


def segment(wave, *, sample_rate=16000, seconds, remainder="drop"):
    """Cut one utterance into non-overlapping segments of ``seconds``.

    Parameters
    ----------
    wave : np.ndarray or torch.Tensor, shape (samples,)
    sample_rate : int, Hz
    seconds : float > 0
        Segment length T; ``round(seconds * sample_rate)`` samples.
    remainder : {"drop", "pad"}
        For an utterance longer than one segment, what to do with a last partial
        segment: ``drop`` it (the reference code's ``librosa.util.frame``) or
        zero-pad it to a full segment, keeping all speech. An utterance of at most
        one segment is always zero-padded (at the end) to one segment.

    Returns
    -------
    segments : same type and dtype as ``wave``, shape (n_segments, round(seconds * sample_rate))
    """
    length = _segment_length(sample_rate, seconds, remainder)
    if getattr(wave, "ndim", None) != 1:
        raise ConfigError(f"wave must be one utterance of shape (samples,), got shape "
                          f"{tuple(getattr(wave, 'shape', ()))}; use segment_many for a list of utterances")
    total = wave.shape[0]
    full, rest = divmod(total, length)
    count = 1 if total <= length else full + (1 if rest and remainder == "pad" else 0)
    keep = min(total, count * length)
    lib = torch if isinstance(wave, torch.Tensor) else np
    extra = {"device": wave.device} if lib is torch else {}
    out = lib.zeros((count, length), dtype=wave.dtype, **extra)
    out.reshape(-1)[:keep] = wave[:keep]
    return out


def _segment_length(sample_rate, seconds, remainder) -> int:
    if not isinstance(seconds, (int, float, np.number)) or not seconds > 0:
        raise ConfigError(f"seconds={seconds!r} is invalid: the segment length must be a positive number of "
                          "seconds; use e.g. 3.0")
    if remainder not in REMAINDERS:
        raise ConfigError(f"remainder={remainder!r} is invalid: must be one of {', '.join(REMAINDERS)}; use "
                          "'drop' (reference code) or 'pad' (keep the tail, zero-padded)")
    length = int(round(seconds * sample_rate))
    if length < 1:
        raise ConfigError(f"seconds={seconds!r} is invalid: it is less than one sample at {sample_rate} Hz; "
                          "use a longer segment")
    return length


def segment_many(waves, *, sample_rate=16000, seconds, remainder="drop"):
    """:func:`segment` every utterance of a list, remembering whose segment is whose.

    Returns
    -------
    segments : np.ndarray or torch.Tensor, shape (n_segments, round(seconds * sample_rate))
        All segments, utterance by utterance (torch if the waves are tensors).
    utterance : np.ndarray of int64, shape (n_segments,)
        For each segment, the index in ``waves`` of its utterance.
    """
    length = _segment_length(sample_rate, seconds, remainder)
    parts = [segment(w, sample_rate=sample_rate, seconds=seconds, remainder=remainder) for w in waves]
    owner = np.repeat(np.arange(len(parts), dtype=np.int64), [len(p) for p in parts])
    if not parts:
        return np.zeros((0, length), dtype=np.float32), owner
    if isinstance(parts[0], torch.Tensor):
        return torch.cat(parts), owner
    return np.concatenate(parts), owner


def fit_normalizer(features) -> tuple[float, float]:
    """One global mean and standard deviation over every value of the training features.

    The reference code normalises with a single (one-channel) mean and std of the
    training set's log-Mel values; so does this. The std is the population one
    (ddof=0, the reference's sqrt(E[x^2] - E[x]^2)), both accumulated in float64
    exactly over all values (the reference averages per-batch means, which weights
    a smaller last batch more).

    Parameters
    ----------
    features : array or tensor of any shape, or a sequence of them (e.g. one per segment)

    Returns
    -------
    (mean, std) : tuple of float
    """
    items = [features] if isinstance(features, (np.ndarray, torch.Tensor)) else list(features)
    as64 = [torch.as_tensor(f).detach().to("cpu", torch.float64).reshape(-1) for f in items]
    count = sum(a.numel() for a in as64)
    if count == 0:
        raise ConfigError("features is empty: fit the normaliser on at least one training value")
    mean = sum(float(a.sum()) for a in as64) / count
    std = math.sqrt(sum(float(((a - mean) ** 2).sum()) for a in as64) / count)   # two passes: no cancellation
    if not (math.isfinite(mean) and math.isfinite(std)) or std == 0:
        raise ConfigError(f"cannot normalise: the training features have mean={mean} and std={std}; "
                          "they must be finite and not all equal (check the audio is not silent or broken)")
    return mean, std


def normalize(x, mean: float, std: float):
    """``(x - mean) / std``, keeping the type, dtype and device of ``x``."""
    if not (std > 0 and math.isfinite(std) and math.isfinite(mean)):
        raise ConfigError(f"std={std!r} is invalid: it must be a finite positive number; "
                          "use the std returned by fit_normalizer")
    return (x - mean) / std
