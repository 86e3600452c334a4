"""Protocols: stratified, disjoint, grouped as promised, reproducible, and round-trip to files."""

from __future__ import annotations

from collections import Counter

import pytest

from sertune.errors import ConfigError
from sertune.corpora.splits import Split, make_splits, read_splits, shuffle_split, write_splits

CLASSES = ["anger"] * 40 + ["neutral"] * 80 + ["sadness"] * 20
IDS = [f"u{i:03d}" for i in range(len(CLASSES))]
SPEAKERS = [f"s{i % 5}" for i in range(len(CLASSES))]
SESSIONS = [f"Ses0{i % 5 // 2 + 1}" for i in range(len(CLASSES))]
LABEL = dict(zip(IDS, CLASSES))


def test_shuffle_split_is_stratified_disjoint_and_complete():
    for split in shuffle_split(IDS, CLASSES, reps=3, seed=0):
        parts = (split.train, split.val, split.test)
        assert sorted(sum(map(list, parts), [])) == IDS            # complete, nothing twice
        split.check_disjoint()
        assert len(split.test) == 28 and len(split.val) == 23    # 20 % of 140, 20 % of 112 (rounded up)
        for part in parts:
            share = Counter(LABEL[i] for i in part)
            for label, total in Counter(CLASSES).items():
                assert abs(share[label] / len(part) - total / len(IDS)) < 0.03


def test_same_seed_same_splits_other_seed_or_rep_differs():
    a = shuffle_split(IDS, CLASSES, reps=2, seed=5)
    b = shuffle_split(IDS, CLASSES, reps=2, seed=5)
    c = shuffle_split(IDS, CLASSES, reps=2, seed=6)
    assert a == b
    assert a[0].test != c[0].test
    assert a[0].test != a[1].test


def test_segment_units_of_one_utterance_are_never_split():
    """Splitting utterance ids keeps every segment of an utterance on one side."""
    segments = [(u, k) for u in IDS for k in range(3)]
    for split in shuffle_split(IDS, CLASSES, reps=2, seed=1):
        side = {u: name for name in ("train", "val", "test") for u in getattr(split, name)}
        assert all(side[u] in ("train", "val", "test") for u, _ in segments)


def test_loso_groups_by_speaker():
    splits = make_splits("loso", ids=IDS, labels=CLASSES, speakers=SPEAKERS, sessions=SESSIONS,
                         reps=None, seed=0)
    spk = dict(zip(IDS, SPEAKERS))
    assert [s.name for s in splits] == [f"speaker s{i}" for i in range(5)]
    for k, split in enumerate(splits):
        assert {spk[i] for i in split.test} == {f"s{k}"}
        assert {spk[i] for i in split.val} == {f"s{(k + 1) % 5}"}
        assert not {spk[i] for i in split.train} & {f"s{k}", f"s{(k + 1) % 5}"}
        assert len(split.train) + len(split.val) + len(split.test) == len(IDS)


def test_loso_session_groups_by_session_and_reps_caps_folds():
    splits = make_splits("loso-session", ids=IDS, labels=CLASSES, speakers=SPEAKERS,
                         sessions=SESSIONS, reps=2, seed=0)
    ses = dict(zip(IDS, SESSIONS))
    assert len(splits) == 2
    assert {ses[i] for i in splits[0].test} == {"Ses01"}
    assert {ses[i] for i in splits[0].val} == {"Ses02"}


@pytest.mark.parametrize("kwargs,match", [
    ({"protocol": "kfold"}, "protocol='kfold' is unknown"),
    ({"reps": 0}, "reps=0"),
    ({"protocol": "loso-session", "sessions": [None] * len(IDS)}, "needs recording sessions"),
    ({"protocol": "loso", "speakers": ["a", "b"] * 70}, "at least 3 speakers"),
    ({"labels": CLASSES[:-17] + ["fear"] * 3 + ["sadness"] * 14}, "class 'fear' has only 3"),
])
def test_bad_protocol_arguments(kwargs, match):
    args = dict(protocol="shuffle-split", ids=IDS, labels=CLASSES, speakers=SPEAKERS,
                sessions=SESSIONS, reps=2, seed=0) | kwargs
    with pytest.raises(ConfigError, match=match):
        make_splits(**args)


def test_split_files_round_trip(tmp_path):
    splits = shuffle_split(IDS, CLASSES, reps=2, seed=0)
    write_splits(tmp_path / "s.json", splits, protocol="shuffle-split", seed=0)
    back, meta = read_splits(tmp_path / "s.json")
    assert back == splits and meta == {"protocol": "shuffle-split", "seed": 0}


@pytest.mark.parametrize("content,match", [(None, "does not exist"), ("{not json", "not a sertune split file"),
                                           ('{"splits": [{"name": 1}]}', "not a sertune split file")])
def test_bad_split_files(tmp_path, content, match):
    path = tmp_path / "s.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=match):
        read_splits(path)


def test_overlapping_split_is_refused(tmp_path):
    write_splits(tmp_path / "s.json", [Split("x", ("a", "b"), ("b",), ("c",))])
    with pytest.raises(ConfigError, match="same id in two parts"):
        read_splits(tmp_path / "s.json")
