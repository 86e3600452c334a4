"""Log-Mel spectrograms (batched, torch, any device), segmentation and normalisation.

The log-Mel spectrogram (LMS) is the authors' recipe, to within float rounding::

    librosa.power_to_db(librosa.feature.melspectrogram(
        y=y, sr=16000, n_mels=M, n_fft=L, hop_length=H, win_length=L, window="hann",
        center=True, pad_mode="constant", power=2.0), ref=1.0, amin=1e-10, top_db=80)

computed for a whole batch at once, with the 80 dB floor applied per example
(librosa applies it over whatever array it is given). Paper eq. 1-3: STFT with a
window of L samples (= n_fft, so L = 127 gives 64 FFT bins), hop H, M triangular
mel filters on the power spectrum. ``mel_scale="htk"`` uses eq. 5's mel formula;
eq. 4's rounding of filter edges down to whole FFT bins is not reproduced (librosa
places the triangles at exact frequencies, and so does this). The filter bank is
librosa's own (:mod:`.melbank`); segmentation and normalisation are in
:mod:`.segments`, the checks of settings in :mod:`.lms_settings` (the package
:mod:`sertune.features` gathers the public functions of all three). All functions
are pure: arrays in, arrays out; devices are the caller's choice.
"""

from __future__ import annotations

import contextlib
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

import librosa
import numpy as np
import scipy.fft
import torch

from . import melbank
from ..errors import ConfigError
from .lms_settings import check_settings, is_int, n_frames

__all__ = ["log_mel", "log_mel_many"]

#: Power floor before the log (librosa.power_to_db's ``amin``); the reference power is 1.0.
AMIN = 1e-10
#: Elements of one group's (bins or mels or n_fft, examples * frames) buffers on CPU: a
#: few examples, cache-sized. Accelerators take groups 16x larger.
_GROUP_ELEMENTS = 1 << 22
#: Device types that take the CPU path: pocketfft, filter blocks, groups spread over threads.
_CPU = ("cpu",)


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


def _power(x: torch.Tensor, *, n_fft, hop_length, window: torch.Tensor, pad_mode, workers=1) -> torch.Tensor:
    """|STFT|^2 of (b, samples) -> (1 + n_fft // 2, b, frames) in x's dtype; centred frames.

    The FFT runs in ``window``'s dtype (see :func:`_fft_dtype`). On CPU it is
    pocketfft (``scipy.fft``, the FFT numpy and so librosa use), with ``workers``
    threads: in float64 it is 3-4x faster than torch's MKL FFT for n_fft = 511 =
    7 * 73, and as exact. It transforms the strided frames directly into the
    (bins, b, frames) layout, so no transpose is needed.
    """
    pad = n_fft // 2
    padded = torch.nn.functional.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
    frames = padded.to(window.dtype).unfold(-1, n_fft, hop_length) * window     # (b, frames, n_fft)
    if x.device.type in _CPU:
        spec = scipy.fft.rfft(frames.permute(2, 0, 1).numpy(), axis=0, workers=workers)
        power = np.square(spec.real)
        power += np.square(spec.imag)                  # |X|^2 in float64, rounded once below
        return torch.from_numpy(power).to(x.dtype)
    spec = torch.view_as_real(torch.fft.rfft(frames, dim=-1))
    return spec.square().sum(-1).to(x.dtype).permute(2, 0, 1).contiguous()


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
    mels = list(dict.fromkeys([n_mels] if is_int(n_mels) else n_mels))
    is_numpy = isinstance(x, np.ndarray)
    t = _as_tensor(x)
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
    banks = [melbank.projection(*key, m, dtype, t.device, t.device.type in _CPU) for m in mels]
    window_t = _window(window, win_length, n_fft, _fft_dtype(t.device, dtype), t.device)
    frames = n_frames(samples, n_fft=n_fft, hop_length=hop_length)
    n, bins = batch.shape[0], n_fft // 2 + 1
    outs = [torch.empty((n, m, frames), dtype=dtype, device=t.device) for m in mels]
    # CPU: groups of a few examples, each group one job from start to finish, the jobs
    # spread over the intra-op threads as single-threaded workers. Independent jobs
    # need no per-op thread hand-offs; with thousands of small multi-threaded ops a
    # loaded machine (other processes on the cores) made this 10-20x slower.
    cpu = t.device.type in _CPU
    threads = torch.get_num_threads() if cpu else 1
    budget = _GROUP_ELEMENTS if cpu else 16 * _GROUP_ELEMENTS
    group = max(1, min(budget // (frames * max(bins, n_fft, max(mels))), -(-n // threads)))
    spans = [(a, min(n, a + group)) for a in range(0, n, group)]
    pooled = threads > 1 and len(spans) > 1

    inference = torch.is_inference_mode_enabled()

    def job(span):
        a, b = span
        with torch.inference_mode(inference), torch.no_grad():    # the caller's modes (they are per thread)
            _run_group(batch[a:b], [out[a:b] for out in outs], banks, n_fft=n_fft, hop_length=hop_length,
                       window=window_t, pad_mode=pad_mode, top_db=top_db, workers=1 if pooled else threads)

    if pooled:
        with intra_op_threads(1), ThreadPoolExecutor(threads) as pool:
            list(pool.map(job, spans))
    else:
        for span in spans:
            job(span)
    result = {}
    for m, out in zip(mels, outs):
        out = out.reshape(*t.shape[:-1], m, frames).to(out_dtype)
        result[m] = out.numpy() if is_numpy else out
    return result


def _as_tensor(x) -> torch.Tensor:
    """x as a float tensor sharing memory where possible; ConfigError for anything else."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        if not (x.flags.writeable and x.dtype.isnative and all(s >= 0 for s in x.strides)):
            x = np.array(x, dtype=x.dtype.newbyteorder("="))   # what torch.from_numpy accepts
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim < 1:
        what = f"{getattr(x, 'dtype', type(x).__name__)} of shape {tuple(getattr(x, 'shape', ()))}"
        raise ConfigError(f"x={what} is invalid: x must be a float array of shape (..., samples); "
                          "convert integer PCM with x.astype(np.float32) / 32768")
    return x


@contextlib.contextmanager
def intra_op_threads(count: int):
    """Set the calling thread's torch intra-op threads for a while; threads started
    meanwhile take ``count`` too (torch's thread counts are per thread, OpenMP-style)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_group(x, outs, banks, *, n_fft, hop_length, window, pad_mode, top_db, workers) -> None:
    """outs[k] (b, M_k, frames) <- log-Mel of x (b, samples) for each bank: one STFT, shared.

    The examples' frames sit side by side as (bins, b * frames), so each filter
    block is one matmul for the whole group.
    """
    spec = _power(x, n_fft=n_fft, hop_length=hop_length, window=window, pad_mode=pad_mode,
                  workers=workers)                                             # (bins, b, frames)
    bins, size, frames = spec.shape
    most = max(bank.n_mels for bank in banks)
    work = torch.empty((most, size * frames), dtype=spec.dtype, device=spec.device)
    for bank, out in zip(banks, outs):
        mel = work[:bank.n_mels]
        bank.project(spec.view(bins, -1), mel)
        _to_db(mel.view(bank.n_mels, size, frames), out, top_db)


def _to_db(mel: torch.Tensor, out: torch.Tensor, top_db) -> None:
    """out (b, M, frames) <- power_to_db(mel (M, b, frames)), floor per example; mel is overwritten.

    librosa: 10 log10(max(S, amin)), then a floor at max_dB - top_db. Flooring the
    power at max * 10^(-top_db / 10) before the log is the same to rounding, one pass less.
    """
    if top_db is None:
        mel.clamp_min_(AMIN)
    else:
        peak = mel.amax(dim=2).amax(dim=0)                                    # (b,)
        floor = peak.mul_(10.0 ** (-top_db / 10)).clamp_min_(AMIN).view(1, -1, 1)
        torch.maximum(mel, floor, out=mel)
    mel.log10_()
    torch.mul(mel.transpose(0, 1), 10.0, out=out)
