"""The training data for one LMS setting θ: every segment's log-Mel, held on the device.

For a setting θ = (M, L, H, T) the corpus is cut into T-second segments and
each segment's log-Mel spectrogram computed once. They are kept as one 16-bit
tensor on the training device (features in dB: float16 keeps them to within
~0.03 dB), so a training step is an index into that tensor, not a Python loop
over samples. When even 16 bits do not fit (the paper's largest θ on IEMOCAP
needs ~16 GB), the segments' waveforms are kept instead and each batch's
log-Mel is computed on the fly on the device: slower, but it fits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .. import features
from .devices import free_memory_bytes
from ..errors import ConfigError
from ..features.theta import Theta

#: Fraction of the device's free memory that stored features may take.
MEMORY_SHARE = 0.5


@dataclass
class SegmentData:
    """All segments of a corpus for one θ.

    Attributes
    ----------
    store : torch.Tensor
        ``mode == "features"``: (n_segments, n_mels, frames) float16 log-Mel in dB;
        ``mode == "waves"``: (n_segments, samples) float32 waveforms.
    labels : torch.Tensor, (n_segments,) int64, on the same device.
    utterance : np.ndarray, (n_segments,) int
        Index into ``utterance_ids`` of each segment's utterance.
    """

    theta: Theta
    sample_rate: int
    mode: str
    store: torch.Tensor
    labels: torch.Tensor
    utterance: np.ndarray
    utterance_ids: tuple[str, ...]
    segment_ids: tuple[str, ...]

    @property
    def device(self) -> torch.device:
        return self.store.device

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Log-Mel of the segments at ``index``: (len(index), n_mels, frames) float32 in dB."""
        if self.mode == "features":
            return self.store[index].float()
        return _log_mel(self.store[index], self.theta, self.sample_rate)

    def rows(self, ids: Sequence[str], *, by: str = "utterance") -> np.ndarray:
        """Segment rows whose utterance (``by="utterance"``) or segment id is in ``ids``."""
        wanted = set(ids)
        keys = (self.utterance_ids[u] for u in self.utterance) if by == "utterance" else self.segment_ids
        return np.fromiter((i for i, k in enumerate(keys) if k in wanted), dtype=np.int64)


def _log_mel(waves: torch.Tensor, theta: Theta, sample_rate: int) -> torch.Tensor:
    return features.log_mel(waves, sample_rate=sample_rate, n_mels=theta.n_mels,
                            win_length=theta.win_length, hop_length=theta.hop_length)


def build_segments(waves: Sequence[np.ndarray], labels: Sequence[int], utterance_ids: Sequence[str],
                   theta: Theta, *, device: torch.device, sample_rate: int = 16000,
                   remainder: str = "drop", mode: str = "auto", chunk: int = 64) -> SegmentData:
    """Cut every utterance into T-second segments and compute (or plan) their log-Mel.

    Parameters
    ----------
    waves : sequence of float32 arrays, shape (samples,)
        Decoded utterances at ``sample_rate``.
    labels : sequence of int
        Class index of each utterance.
    utterance_ids : sequence of str
    theta : Theta
    device : torch.device
        Where the tensors live and the log-Mel is computed.
    remainder : {"drop", "pad"}
        What to do with the tail of an utterance longer than a whole number of segments.
    mode : {"auto", "features", "waves"}
        Store 16-bit features, or waveforms computed per batch; ``auto`` stores
        features when they take at most half of the device's free memory.
    chunk : int
        Segments per log-Mel call while precomputing (bounds peak memory).
    """
    theta.check(sample_rate)
    if mode not in ("auto", "features", "waves"):
        raise ConfigError(f"mode={mode!r} is unknown; choose auto, features or waves")
    segs, owner = features.segment_many(waves, sample_rate=sample_rate, seconds=theta.segment,
                                        remainder=remainder)
    n = len(segs)
    n_frames = theta.frames(sample_rate)
    feature_bytes = n * theta.n_mels * n_frames * 2
    if mode == "auto":
        mode = "features" if feature_bytes <= MEMORY_SHARE * free_memory_bytes(device) else "waves"
    labels_t = torch.as_tensor(np.asarray(labels)[owner], dtype=torch.long, device=device)
    seg_ids = tuple(f"{utterance_ids[u]}#{k}" for u, k in zip(owner, _running_count(owner)))
    wave_t = torch.from_numpy(np.ascontiguousarray(segs, dtype=np.float32))
    if mode == "waves":
        store = wave_t.to(device)
    else:
        store = torch.empty((n, theta.n_mels, n_frames), dtype=torch.float16, device=device)
        for start in range(0, n, chunk):
            part = wave_t[start:start + chunk].to(device)
            store[start:start + chunk] = _log_mel(part, theta, sample_rate).to(torch.float16)
    return SegmentData(theta, sample_rate, mode, store, labels_t, np.asarray(owner),
                       tuple(utterance_ids), seg_ids)


def _running_count(owner: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal owners (the segment number inside its utterance)."""
    owner = np.asarray(owner)
    starts = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    counts = np.diff(np.r_[starts, len(owner)])
    return np.arange(len(owner)) - np.repeat(starts, counts)
