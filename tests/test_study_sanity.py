"""Grid sanity: T beyond the speech, and too few segments of a class in a split part, with numbers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sertune.errors import ConfigError
from sertune.features.segments import segment
from sertune.corpora.splits import Split
from sertune.study.search.sanity import class_warnings, grid_warnings, padding_warnings, segment_counts
from sertune.features.theta import Theta

SR = 16000


def grid(*segments, per_t=1):
    """``per_t`` settings (different M) for each segment length."""
    return tuple(Theta(40 + 8 * k, 400, 160, float(t)) for t in segments for k in range(per_t))


@pytest.mark.parametrize("remainder,expected", [
    ("drop", [1, 1, 1, 1, 2, 2, 3]),
    ("pad", [1, 1, 1, 2, 2, 3, 3]),
])
def test_segment_counts(remainder, expected):
    durations = [0.0, 0.5, 1.0, 1.5, 2.0, 2.9, 3.0]
    assert segment_counts(durations, 1.0, remainder=remainder).tolist() == expected


@pytest.mark.parametrize("remainder", ["drop", "pad"])
@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.5, 3.0])
def test_segment_counts_match_the_segmenter(remainder, seconds):
    durations = np.random.default_rng(0).uniform(0.01, 7.0, 40).round(4)
    cut = [len(segment(np.zeros(int(round(d * SR)), dtype=np.float32), sample_rate=SR, seconds=seconds,
                       remainder=remainder)) for d in durations]
    assert segment_counts(durations, seconds, remainder=remainder).tolist() == cut


def test_t_beyond_most_utterances_is_said_with_numbers():
    durations = [2.0] * 97 + [6.0] * 3                 # 97 % shorter than 5 s
    # At T = 5 s: 100 segments of 5 s = 500 s, of which 97 × 2 + 3 × 5 = 209 s are speech.
    assert padding_warnings(grid(1, 5, 5), durations) == [
        "T = 5 s: 97 % of utterances are shorter and are zero-padded (median utterance 2.0 s; 58 % of all "
        "segment samples are padding; 2 of 3 settings use T = 5 s)"]


@pytest.mark.parametrize("durations,segments,expected", [
    ([1.0] * 50 + [4.0] * 50, (3,), []),                                  # half shorter: not "most"
    ([1.0] * 51 + [4.0] * 49, (3,), ["T = 3 s: 51 % "]),
    ([5.0] * 10, (5,), []),                                               # as long as T is not shorter
    ([4.99] * 10, (5,), ["T = 5 s: 100 % "]),
    ([1.0] * 999 + [9.0], (5, 6), ["T = 5 s: >99 % ", "T = 6 s: >99 % "]),  # never rounded up to all
    ([1.0] * 10, (0.5, 2, 4), ["T = 2 s: 100 % ", "T = 4 s: 100 % "]),     # ascending T, only those too long
    ([], (5,), []),
])
def test_padding_warnings(durations, segments, expected):
    got = padding_warnings(grid(*segments), durations)
    assert [w[:len(e)] for w, e in zip(got, expected)] == expected and len(got) == len(expected)


def test_padding_share_counts_every_segment():
    """0.5 s utterances in 2 s segments are 75 % zeros; 4.5 s ones give two full segments."""
    got = padding_warnings(grid(2), [0.5] * 3 + [4.5])
    assert got[0].startswith("T = 2 s: 75 % of utterances are shorter")
    # 3 padded segments (1.5 s of zeros each) + 2 full ones: 4.5 of 10 s are padding.
    assert "; 45 % of all segment samples are padding;" in got[0] and "median utterance 0.5 s" in got[0]


def test_a_long_t_can_leave_a_class_with_one_segment():
    """One 10 s utterance of class c: 10 segments at T = 1 s, one at T = 9 s."""
    labels = ["a"] * 5 + ["c"]
    durations = [2.0] * 5 + [10.0]
    assert class_warnings(grid(1, 9), durations, labels) == [
        "T = 9 s: fewer than 2 segments of a class in the corpus, where that class can hardly be learnt "
        "or measured. Segments per short class: the corpus: c 1"]


@pytest.mark.parametrize("as_mapping", [False, True])
def test_split_parts_with_too_few_segments_are_named(as_mapping):
    ids = [f"u{i}" for i in range(8)]
    labels = ["a", "a", "a", "a", "b", "b", "b", "b"]
    durations = [1.0] * 8
    splits = [Split("shuffle-split/0", train=("u0", "u1", "u4", "u5"), val=("u2", "u6"), test=("u3", "u7")),
              Split("shuffle-split/1", train=("u0", "u1", "u2", "u4", "u5"), val=("u3", "u6", "u7"), test=())]
    if as_mapping:
        splits = [{"name": s.name, "train": list(s.train), "val": list(s.val), "test": list(s.test)}
                  for s in splits]
    assert class_warnings(grid(1, 2), durations, labels, ids=ids, splits=splits) == [
        "T = 1, 2 s: fewer than 2 segments of a class in 4 of 6 split parts, where that class can hardly be "
        "learnt or measured. Segments per short class: rep 0 val: a 1, b 1; rep 0 test: a 1, b 1; "
        "rep 1 val: a 1; rep 1 test: a 0, b 0"]


@pytest.mark.parametrize("remainder,expected", [("drop", 1), ("pad", 0)])
def test_padding_the_remainder_can_give_the_second_segment(remainder, expected):
    labels, durations = ["a", "a", "c"], [4.0, 4.0, 3.5]        # c: 1 segment of 2 s (drop) or 2 (pad)
    assert len(class_warnings(grid(2), durations, labels, remainder=remainder)) == expected


def test_more_than_four_short_parts_are_counted():
    ids, labels = ["x", "y"], ["a", "b"]
    splits = [{"train": ["x", "y"], "val": [], "test": []}] * 3
    (warning,) = class_warnings(grid(1), [1.0, 1.0], labels, ids=ids, splits=splits)
    assert "in 9 of 9 split parts" in warning and warning.endswith("; and 5 more parts")


def test_grid_warnings_gives_padding_then_classes():
    got = grid_warnings(grid(1, 5), [2.0, 2.0, 2.0], ["a", "a", "b"])     # b: 2 segments at T = 1 s, 1 at 5 s
    assert [w[:9] for w in got] == ["T = 5 s: ", "T = 5 s: "]
    assert "100 % of utterances" in got[0] and "the corpus: b 1" in got[1]
    assert grid_warnings(grid(1, 5), [2.0, 2.0, 2.0]) == got[:1]        # no labels: no class check


@pytest.mark.parametrize("kwargs,match", [
    (dict(durations=[1.0, 2.0, 3.0], labels=["a", "b"]), "2 labels for 3 durations"),
    (dict(durations=[1.0, -1.0], labels=["a", "b"]), "finite, non-negative seconds; got -1"),
    (dict(durations=[1.0, float("nan")], labels=["a", "b"]), "finite, non-negative seconds; got nan"),
    (dict(durations=[1.0], labels=["a"], splits=[{"train": ["u"], "val": [], "test": []}]), "give ids"),
    (dict(durations=[1.0], labels=["a"], ids=["u", "v"], splits=[]), "2 ids for 1 durations"),
    (dict(durations=[1.0], labels=["a"], ids=["u"], splits=[{"train": ["zz"], "val": [], "test": []}]),
     r"split 0 \(train\) names utterance 'zz'"),
    (dict(durations=[1.0], labels=["a"], ids=["u"], splits=[{"train": ["u"], "test": []}]), "has no 'val' part"),
    (dict(durations=[1.0], labels=["a"], remainder="keep"), "remainder='keep' is invalid"),
    (dict(durations=[1.0], labels=["a"], segments=(0,)), "T must be a positive number of seconds"),
])
def test_bad_inputs(kwargs, match):
    segments = kwargs.pop("segments", (1,))
    with pytest.raises(ConfigError, match=match):
        class_warnings(grid(*segments), kwargs.pop("durations"), kwargs.pop("labels"), **kwargs)


def test_sanity_does_not_import_torch():
    code = "import sys, sertune.study.search.sanity; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
