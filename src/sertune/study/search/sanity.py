"""Grid sanity: what a grid's segment lengths T do to a corpus, said before any training.

Pure functions of the grid, the utterances' durations in seconds and, optionally, their
labels and the split of each repetition. They count segments exactly as
:func:`sertune.features.segments.segment` cuts them (an utterance of at most T seconds is one
zero-padded segment; a longer one gives ``floor(duration / T)`` segments, plus a padded
last one with ``remainder="pad"``) and return warnings as sentences with numbers:

- :func:`padding_warnings`: T longer than most utterances, so most segments are mostly
  zeros (``T = 5 s: 97 % of utterances are shorter and are zero-padded ...``);
- :func:`class_warnings`: a T that leaves fewer than two segments of a class in a part
  (train, validation, test) of a split, where that class can hardly be learnt or measured.

Nothing here imports torch, reads files or warns by itself: the caller decides when and
how often to show the strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError

if TYPE_CHECKING:
    from ...features.theta import Theta

__all__ = ["segment_counts", "padding_warnings", "class_warnings", "grid_warnings"]

SAMPLE_RATE = 16000

#: Parts of a split, in the order warnings name them.
PARTS = ("train", "val", "test")

#: How many split parts with a short class a warning lists before it counts the rest.
SHOWN = 4


def segment_counts(durations, segment: float, *, sample_rate: int = SAMPLE_RATE,
                   remainder: str = "drop") -> np.ndarray:
    """Segments of ``segment`` seconds each utterance gives, as :func:`sertune.features.segments.segment` cuts.

    Parameters
    ----------
    durations : sequence of float
        Utterance durations in seconds.
    segment : float
        T in seconds.
    remainder : {"drop", "pad"}
        The tail of an utterance longer than a whole number of segments: dropped (the
        reference code) or zero-padded into one more segment.
    """
    samples = _samples(durations, sample_rate)
    length = _length(segment, sample_rate)
    if remainder not in ("drop", "pad"):
        raise ConfigError(f"remainder={remainder!r} is invalid: must be drop or pad")
    full, rest = np.divmod(samples, length)
    counts = full + ((rest > 0) & (remainder == "pad"))
    return np.where(samples <= length, 1, counts).astype(np.int64)


def padding_warnings(grid: Sequence[Theta], durations, *, most: float = 0.5,
                     sample_rate: int = SAMPLE_RATE) -> list[str]:
    """One warning per segment length T that exceeds more than ``most`` of the utterances.

    Each says which share of the utterances is shorter than T (and so zero-padded), the
    median utterance, which share of all segment samples at that T is padding, and how
    many settings of the grid use that T.
    """
    samples = _samples(durations, sample_rate)
    if not len(samples):
        return []
    out = []
    for t, n_settings in _segments(grid).items():
        length = _length(t, sample_rate)
        shorter = samples < length
        share = float(shorter.mean())
        if share <= most:
            continue
        counts = segment_counts(durations, t, sample_rate=sample_rate)
        kept = np.minimum(samples, counts * length)
        padding = 1.0 - float(kept.sum()) / float(counts.sum() * length)
        out.append(f"T = {t:g} s: {_percent(share)} % of utterances are shorter and are zero-padded "
                   f"(median utterance {np.median(samples) / sample_rate:.1f} s; {_percent(padding)} % of "
                   f"all segment samples are padding; {n_settings} of {len(grid)} settings "
                   f"use{'s' if n_settings == 1 else ''} T = {t:g} s)")
    return out


def class_warnings(grid: Sequence[Theta], durations, labels: Sequence[str], *,
                   ids: Sequence[str] | None = None, splits: Sequence | None = None, minimum: int = 2,
                   remainder: str = "drop", sample_rate: int = SAMPLE_RATE) -> list[str]:
    """Warnings for segment lengths T that leave fewer than ``minimum`` segments of a class in a
    part (train, val, test) of a split; without ``splits``, in the whole corpus.

    Parameters
    ----------
    labels : sequence of str
        The class of each utterance (same order as ``durations``).
    ids : sequence of str
        Utterance ids (same order), needed to place the utterances of ``splits``.
    splits : sequence of splits
        Each a :class:`~sertune.corpora.splits.Split` or a mapping with ``train``, ``val`` and ``test``
        id lists (and an optional ``name``), as the study metadata stores them.

    Returns one warning per group of T values that share the same shortfall, naming the
    split parts and classes with their segment counts.
    """
    labels = list(labels)
    n = len(_samples(durations, sample_rate))
    if len(labels) != n:
        raise ConfigError(f"{len(labels)} labels for {n} durations: give one label per utterance")
    classes = list(dict.fromkeys(labels))
    parts = _parts(n, ids, splits)
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels], dtype=np.int64)
    by_problem: dict[tuple, list[float]] = {}
    for t in _segments(grid):
        counts = segment_counts(durations, t, sample_rate=sample_rate, remainder=remainder)
        problems = []
        for name, members in parts:
            per_class = np.bincount(y[members], weights=counts[members], minlength=len(classes))
            problems += [(name, classes[c], int(per_class[c])) for c in range(len(classes))
                         if per_class[c] < minimum]
        if problems:
            by_problem.setdefault(tuple(problems), []).append(t)
    out = []
    for problems, ts in by_problem.items():
        short: dict[str, list[str]] = {}
        for part, cls, k in problems:
            short.setdefault(part, []).append(f"{cls} {k}")
        scope = "the corpus" if splits is None else f"{len(short)} of {len(parts)} split parts"
        where = "; ".join(f"{part}: {', '.join(found)}" for part, found in list(short.items())[:SHOWN])
        more = f"; and {len(short) - SHOWN} more parts" if len(short) > SHOWN else ""
        out.append(f"{_ts(ts)}: fewer than {minimum} segments of a class in {scope}, where that class can "
                   f"hardly be learnt or measured. Segments per short class: {where}{more}")
    return out


def grid_warnings(grid: Sequence[Theta], durations, labels: Sequence[str] | None = None, *,
                  ids: Sequence[str] | None = None, splits: Sequence | None = None, remainder: str = "drop",
                  sample_rate: int = SAMPLE_RATE) -> list[str]:
    """:func:`padding_warnings`, then :func:`class_warnings` when labels are given."""
    out = padding_warnings(grid, durations, sample_rate=sample_rate)
    if labels is not None:
        out += class_warnings(grid, durations, labels, ids=ids, splits=splits, remainder=remainder,
                              sample_rate=sample_rate)
    return out


# --------------------------------------------------------------------------- helpers

def _samples(durations, sample_rate: int) -> np.ndarray:
    d = np.asarray(list(durations), dtype=float)
    if d.ndim != 1:
        raise ConfigError(f"durations must be one number of seconds per utterance; got shape {d.shape}")
    bad = d[~np.isfinite(d) | (d < 0)]
    if bad.size:
        raise ConfigError(f"durations must be finite, non-negative seconds; got {bad[0]:g}")
    return np.rint(d * sample_rate).astype(np.int64)


def _length(segment: float, sample_rate: int) -> int:
    length = int(round(float(segment) * sample_rate))
    if not segment > 0 or length < 1:
        raise ConfigError(f"segment={segment!r} is invalid: T must be a positive number of seconds")
    return length


def _segments(grid: Sequence[Theta]) -> dict[float, int]:
    """Distinct T of the grid, ascending, with how many settings use each."""
    counts: dict[float, int] = {}
    for theta in grid:
        counts[float(theta.segment)] = counts.get(float(theta.segment), 0) + 1
    return dict(sorted(counts.items()))


def _parts(n: int, ids, splits) -> list[tuple[str, np.ndarray]]:
    """(name, utterance indices) of every part of every split; the whole corpus without splits."""
    if splits is None:
        return [("the corpus", np.arange(n))]
    if ids is None:
        raise ConfigError("splits name utterances by id: give ids (one per duration) with splits")
    ids = list(ids)
    if len(ids) != n:
        raise ConfigError(f"{len(ids)} ids for {n} durations: give one id per utterance")
    where = {u: i for i, u in enumerate(ids)}
    out = []
    for r, split in enumerate(splits):
        for part in PARTS:
            members = split.get(part) if isinstance(split, Mapping) else getattr(split, part, None)
            if members is None:
                raise ConfigError(f"split {r} has no {part!r} part; a split needs train, val and test ids")
            unknown = [u for u in members if u not in where]
            if unknown:
                raise ConfigError(f"split {r} ({part}) names utterance {unknown[0]!r}, which is not among "
                                  f"the {n} utterances given")
            out.append((f"rep {r} {part}", np.array([where[u] for u in members], dtype=np.int64)))
    return out


def _percent(share: float) -> str:
    """A share as a whole percentage that never rounds a part up to all, nor a part down to none."""
    p = 100.0 * share
    if 99.0 < p < 100.0:
        return ">99"
    if 0.0 < p < 1.0:
        return "<1"
    return f"{p:.0f}"


def _ts(ts: list[float]) -> str:
    return "T = " + ", ".join(f"{t:g}" for t in ts) + " s"
