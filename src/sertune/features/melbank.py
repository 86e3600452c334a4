"""The mel filter bank's fast projection of a power spectrogram, in torch.

Internal to :mod:`sertune.features`. The weights and the empty-filter
diagnostics are torch-free, in :mod:`sertune.features.melfilters` (re-exported here).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .melfilters import mel_basis

#: Mel filters per dense block of the blocked (CPU) projection; see :class:`Projection`.
BLOCK = 16


class Projection:
    """The mel projection of one filter bank: ``out = weights @ spec``, block by block.

    Mel filters are narrow bands: each FFT bin feeds at most two filters, so a
    dense (M, bins) @ (bins, n) product multiplies mostly zeros. ``blocked`` cuts
    the filters into blocks of :data:`BLOCK` consecutive filters, each multiplied
    only with the bins it covers: ~10 % of the dense work on CPU, and the same
    sums (the skipped terms are exact zeros). On accelerators one dense block
    (``blocked=False``) is faster.
    """

    def __init__(self, basis: np.ndarray, dtype: torch.dtype, device: torch.device, blocked: bool):
        weights = torch.from_numpy(basis.copy()).to(device=device, dtype=dtype)
        self.n_mels = basis.shape[0]
        size = BLOCK if blocked else self.n_mels
        self.blocks = []                       # (first filter, end filter, first bin, end bin, weights)
        for a in range(0, self.n_mels, size):
            cols = np.flatnonzero(basis[a:a + size].any(axis=0))
            s, e = (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)
            self.blocks.append((a, min(a + size, self.n_mels), s, e, weights[a:a + size, s:e].contiguous()))

    def project(self, spec: torch.Tensor, out: torch.Tensor) -> None:
        """out (M, n) <- weights @ spec (bins, n), one matmul per block, in place."""
        for a, b, s, e, w in self.blocks:
            if e > s:
                torch.mm(w, spec[s:e], out=out[a:b])
            else:
                out[a:b].zero_()


@functools.lru_cache(maxsize=256)
def projection(sample_rate, n_fft, fmin, fmax, htk, n_mels, dtype, device, blocked) -> Projection:
    """Cached :class:`Projection` for a setting, dtype and device."""
    return Projection(mel_basis(sample_rate, n_fft, fmin, fmax, htk, n_mels), dtype, device, blocked)
