"""The mel filter bank's weights and its empty-filter diagnostics, in numpy (no torch).

The weights are ``librosa.filters.mel`` in float32, exactly what
``librosa.feature.melspectrogram`` uses, cached per setting. They are here,
apart from the torch projection of :mod:`sertune.features.melbank`, so that settings can
be checked (:mod:`sertune.features.lms_settings`) without importing torch.
"""

from __future__ import annotations

import functools
import warnings

import librosa
import numpy as np


@functools.lru_cache(maxsize=512)
def mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> np.ndarray:
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
    return n_empty(sample_rate, n_fft, float(fmin), float(fmax), mel_scale == "htk", n_mels)


def n_empty(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> int:
    """:func:`empty_mel_filters` with positional, hashable settings (as cached)."""
    return int((~mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels).any(axis=1)).sum())


def max_mels(sample_rate, n_fft, fmin, fmax, htk) -> int:
    """Largest n_mels without empty filters (emptiness grows with n_mels: bisect)."""
    lo, hi = 1, 1 + n_fft // 2
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if not n_empty(sample_rate, n_fft, fmin, fmax, htk, mid) else (lo, mid - 1)
    return lo


def min_n_fft(sample_rate, n_fft, fmin, fmax, htk, n_mels) -> int | None:
    """Smallest power of two >= n_fft without empty filters for n_mels (None: none up to 2^16)."""
    size = 1 << max(n_fft - 1, 1).bit_length()
    while n_empty(sample_rate, size, fmin, fmax, htk, n_mels):
        if size >= 1 << 16:
            return None
        size *= 2
    return size


def listing(empty: dict) -> str:
    """``128/136: 42 of 128, 47 of 136``, or for many n_mels ``128..256: 42 of 128 ... 139 of 256``."""
    counts = [f"{k} of {m}" for m, k in empty.items()]
    if len(empty) <= 3:
        return f"{'/'.join(map(str, empty))}: {', '.join(counts)}"
    return f"{min(empty)}..{max(empty)} ({len(empty)} values): {counts[0]} ... {counts[-1]}"
