"""Segmentation of utterances into T-second segments, and input normalisation.

Pure functions, re-exported by :mod:`sertune.features`. The reference code cuts
each utterance into non-overlapping T-second segments (zero-padding shorter
utterances, dropping the tail of longer ones) and normalises the log-Mel inputs
with one mean and one standard deviation of the training set.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["segment", "segment_many", "fit_normalizer", "normalize", "REMAINDERS"]

#: What happens to the tail of an utterance longer than a whole number of segments.
REMAINDERS = ("drop", "pad")


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
    count = segment_count(total, length=length, remainder=remainder)
    keep = min(total, count * length)
    lib = torch if isinstance(wave, torch.Tensor) else np
    extra = {"device": wave.device} if lib is torch else {}
    out = lib.zeros((count, length), dtype=wave.dtype, **extra)
    out.reshape(-1)[:keep] = wave[:keep]
    return out


def segment_count(samples: int, *, length: int, remainder: str = "drop") -> int:
    """Segments :func:`segment` cuts from ``samples`` samples with segments of ``length`` samples."""
    full, rest = divmod(samples, length)
    return 1 if samples <= length else full + (1 if rest and remainder == "pad" else 0)


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
    training set's log-Mel values; so does this, for training, prediction and
    export alike. The std is the population one (ddof=0), accumulated in float64
    over all values (the reference averages per-batch means, which weights a
    smaller last batch more).

    Numerically stable in one pass: each item's mean and sum of squared
    deviations are merged with Chan et al.'s pairwise formula, so dB values far
    from 0 do not cancel as ``E[x^2] - E[x]^2`` would, and ``features`` may be a
    generator of batches too large to hold at once (e.g. a corpus's features on a GPU).

    Parameters
    ----------
    features : array or tensor of any shape, or an iterable of them (e.g. one per batch)

    Returns
    -------
    (mean, std) : tuple of float
    """
    items = [features] if isinstance(features, (np.ndarray, torch.Tensor)) else features
    count, mean, m2 = 0, 0.0, 0.0
    for item in items:
        x = torch.as_tensor(item).detach().to(torch.float64)      # float64 on the item's device
        n = x.numel()
        if n == 0:
            continue
        item_mean = float(x.mean())
        item_m2 = float(((x - item_mean) ** 2).sum())
        delta = item_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += item_m2 + delta * delta * count * n / total
        count = total
    if count == 0:
        raise ConfigError("features is empty: fit the normaliser on at least one training value")
    std = math.sqrt(m2 / count) if math.isfinite(m2) else math.nan
    if not (math.isfinite(mean) and math.isfinite(std)) or std == 0:
        raise ConfigError(f"cannot normalise: the training features have mean={mean} and std={std}; "
                          "they must be finite and not all equal (check the audio is not silent or broken)")
    return mean, std


def normalize(x, mean: float, std: float):
    """``(x - mean) / std``, keeping the type, dtype and device of ``x``.

    ``mean`` and ``std`` are plain floats (from :func:`fit_normalizer`), so a
    float32 array stays float32.
    """
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ConfigError(f"std={std!r} (mean={mean!r}) is invalid: both must be finite and std > 0; "
                          "use the pair fit_normalizer returns")
    return (x - float(mean)) / float(std)
