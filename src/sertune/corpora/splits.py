"""Evaluation protocols: who is trained on, validated on and tested on, per repetition.

Splits are lists of ids. By default the ids are utterance ids, so all segments
of an utterance stay on one side (no leakage between train and test); the
reference code's segment-level split is reproduced by splitting segment ids
instead. Splits are plain data, written to and read from JSON files so that a
study can be repeated exactly.

Protocols (registry :data:`PROTOCOLS`):

``shuffle-split``
    The paper: K repetitions of a stratified 80/20 train+val/test split, then
    a stratified 80/20 train/val split of the first part.
``loso``
    Leave one speaker out: speaker k is the test set, the next speaker (in
    sorted order, cyclically) the validation set, all others train.
``loso-session``
    The same with recording sessions (IEMOCAP's five sessions).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import ConfigError


#: The paper's number of shuffle-and-split repetitions K.
DEFAULT_REPS = 10


@dataclass(frozen=True)
class Split:
    """One repetition's partition of ids into train, validation and test."""

    name: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def check_disjoint(self) -> None:
        a, b, c = set(self.train), set(self.val), set(self.test)
        if a & b or a & c or b & c:
            raise ConfigError(f"split {self.name!r} puts the same id in two parts; "
                              f"regenerate the split file")


def shuffle_split(ids: Sequence[str], labels: Sequence[str], *, reps: int, seed: int,
                  test_size: float = 0.2, val_size: float = 0.2) -> list[Split]:
    """K stratified shuffle-and-split repetitions (the paper's protocol).

    Parameters
    ----------
    ids, labels : sequences of str, same length
        The units to split and their classes (stratification keeps class proportions).
    reps : int
        Number of repetitions K (>= 1).
    seed : int
        Repetition r uses a random state derived from (seed, r): same seed, same splits.
    test_size, val_size : float in (0, 1)
        Fraction of all ids held out for test, then of the rest for validation.
    """
    if reps < 1:
        raise ConfigError(f"reps={reps}: need at least one repetition")
    for name, size in (("test_size", test_size), ("val_size", val_size)):
        if not 0 < size < 1:
            raise ConfigError(f"{name}={size} must be a fraction between 0 and 1")
    counts = Counter(labels)
    rare = [lab for lab, n in counts.items() if n < 5]
    if rare:
        raise ConfigError(
            f"class {rare[0]!r} has only {counts[rare[0]]} utterances; a stratified train/val/test "
            f"split needs at least 5 per class. Add data or drop the class")
    ids = np.asarray(ids)
    labels = np.asarray(labels)
    splits = []
    for r in range(reps):
        state = int(np.random.SeedSequence([seed, r]).generate_state(1)[0])
        try:
            rest, test, rest_y, _ = train_test_split(ids, labels, test_size=test_size,
                                                     stratify=labels, random_state=state)
            train, val = train_test_split(rest, test_size=val_size, stratify=rest_y,
                                          random_state=state + 1)
        except ValueError as exc:  # sklearn: too few members for a stratified split
            raise ConfigError(f"cannot split {len(ids)} items of {len(counts)} classes into "
                              f"stratified train/val/test parts: {exc}. Add data") from None
        splits.append(Split(f"rep{r}", tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test))))
    return splits


def group_split(ids: Sequence[str], groups: Sequence[str], *, kind: str = "speaker") -> list[Split]:
    """Leave-one-group-out: each group once as test, the next group as validation.

    Parameters
    ----------
    ids, groups : sequences of str, same length
        Units to split and the group (speaker or session) of each.
    kind : str
        Word used in split names and messages ("speaker", "session").
    """
    order = sorted(set(groups))
    if len(order) < 3:
        raise ConfigError(
            f"leave-one-{kind}-out needs at least 3 {kind}s (test, validation, train); the corpus "
            f"has {len(order)} ({', '.join(order)}). Use --protocol shuffle-split")
    ids = np.asarray(ids)
    groups = np.asarray(groups)
    splits = []
    for k, test_group in enumerate(order):
        val_group = order[(k + 1) % len(order)]
        test = ids[groups == test_group]
        val = ids[groups == val_group]
        train = ids[(groups != test_group) & (groups != val_group)]
        splits.append(Split(f"{kind} {test_group}", tuple(sorted(train)), tuple(sorted(val)),
                            tuple(sorted(test))))
    return splits


def _loso(ids, labels, speakers, sessions, *, reps, seed):
    return group_split(ids, speakers, kind="speaker")[:reps]


def _loso_session(ids, labels, speakers, sessions, *, reps, seed):
    if any(s is None for s in sessions):
        raise ConfigError("--protocol loso-session needs recording sessions, which this corpus "
                          "does not have (IEMOCAP does); use loso or shuffle-split")
    return group_split(ids, sessions, kind="session")[:reps]


def _shuffle(ids, labels, speakers, sessions, *, reps, seed):
    return shuffle_split(ids, labels, reps=reps, seed=seed)


#: Protocol name -> function(ids, labels, speakers, sessions, *, reps, seed) -> splits.
PROTOCOLS: dict[str, Callable[..., list[Split]]] = {
    "shuffle-split": _shuffle,
    "loso": _loso,
    "loso-session": _loso_session,
}


def make_splits(protocol: str, *, ids: Sequence[str], labels: Sequence[str],
                speakers: Sequence[str], sessions: Sequence[str | None], reps: int | None,
                seed: int) -> list[Split]:
    """Splits of ``protocol``.

    ``reps=None`` means the paper's K = 10 for shuffle-split and every fold for
    the leave-one-out protocols; for those, a number caps the folds.
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol={protocol!r} is unknown; choose one of: {', '.join(PROTOCOLS)}")
    if reps is None:
        reps = DEFAULT_REPS if protocol == "shuffle-split" else len(ids)
    if reps < 1:
        raise ConfigError(f"reps={reps}: need at least one repetition")
    return PROTOCOLS[protocol](ids, labels, speakers, sessions, reps=reps, seed=seed)


def write_splits(path: str | Path, splits: Sequence[Split], **meta: object) -> None:
    """Write splits as JSON: ``{"meta": {...}, "splits": [{"name", "train", "val", "test"}]}``."""
    doc = {"meta": meta, "splits": [asdict(s) | {"train": list(s.train), "val": list(s.val),
                                                 "test": list(s.test)} for s in splits]}
    Path(path).write_text(json.dumps(doc, indent=1))


def read_splits(path: str | Path) -> tuple[list[Split], dict]:
    """Splits and metadata from a file written by :func:`write_splits`."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        splits = [Split(d["name"], tuple(d["train"]), tuple(d["val"]), tuple(d["test"]))
                  for d in doc["splits"]]
    except FileNotFoundError:
        raise ConfigError(f"split file {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"split file {path} is not a sertune split file ({exc}); "
                          f"write one with `sertune train ... --out DIR` (DIR/splits.json)") from None
    for split in splits:
        split.check_disjoint()
    return splits, dict(doc.get("meta", {}))
