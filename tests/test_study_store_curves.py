"""study/store/curves.py: what a record keeps besides the curves (seconds per epoch, the restart
control), through its file and a merge of parts."""

from __future__ import annotations

import numpy as np
import pytest

from sertune.errors import ConfigError
from sertune.study.store import curves as cv
from sertune.study.store.merge import merge

KEYS = ("M24-L255-H160-T1", "M40-L400-H160-T3")


def record(keys=KEYS, *, seconds=(0.5, 2.0), control=True, shift=0.0) -> cv.Curves:
    reps, epochs = 3, 4
    rng = np.random.default_rng(int(shift))
    val = rng.uniform(20, 80, (reps, len(keys), epochs)) + shift
    restarts = None
    if control:
        rv = rng.uniform(20, 80, (reps, 4, epochs))
        restarts = cv.Restarts(key=KEYS[1], val=rv, test_wa=rv + 1, test_ua=rv + 2)
    source = {"corpus": {"name": "emodb"}, "settings": {"lr": 1e-4, "strategy": "brute"}, "classes": ["a"],
              "test_utterances": [10, 10, 10]}
    return cv.Curves(name=f"part{shift:g}", keys=tuple(keys), val=val, test_wa=val + 1, test_ua=val + 2,
                     source=source, epoch_seconds=None if seconds is None else np.array(seconds),
                     restarts=restarts)


def test_seconds_and_the_restart_control_survive_the_file(tmp_path):
    curves = record()
    back = cv.load(cv.save(curves, tmp_path / "r.npz"))
    np.testing.assert_array_equal(back.epoch_seconds, [0.5, 2.0])
    assert back.restarts.key == KEYS[1] and back.restarts.n == 4
    for f in ("val", "test_wa", "test_ua"):
        np.testing.assert_array_equal(getattr(back.restarts, f), getattr(curves.restarts, f))
    assert back.epoch_costs() == (back.epoch_seconds, "measured")
    # Its best restart per repetition by final (running best) validation WA, ties to the lowest.
    best = cv.best_so_far(curves.restarts.val)[:, :, -1].argmax(axis=1)
    assert back.restarts.best_by_validation().tolist() == best.tolist()


def test_a_record_without_seconds_falls_back_to_the_cost_model(tmp_path):
    old = cv.load(cv.save(record(seconds=None, control=False), tmp_path / "old.npz"))
    assert old.epoch_seconds is None and old.restarts is None
    cost, source = old.epoch_costs()
    assert source == "cost model"
    assert cost.tolist() == [24 * 100 / 1.0, 40 * 301 / 3.0]       # M x frames / T (L=255 is odd: 100 frames)


def test_settings_and_repetitions_keep_seconds_and_control_aligned():
    curves = record()
    one = curves.settings([KEYS[1]])
    assert one.epoch_seconds.tolist() == [2.0] and one.restarts is curves.restarts
    two = curves.repetitions(slice(0, 2))
    assert two.reps == 2 and two.restarts.val.shape == (2, 4, 4)


def test_parts_merge_with_their_seconds_and_the_one_control():
    a = record(("M24-L255-H160-T1",), seconds=(0.5,), control=False)
    b = record(("M40-L400-H160-T3",), seconds=(2.0,), shift=1.0)
    merged = merge([a, b])
    assert merged.keys == ("M24-L255-H160-T1", "M40-L400-H160-T3")
    assert merged.epoch_seconds.tolist() == [0.5, 2.0] and merged.restarts is b.restarts
    # A part without measured seconds leaves the merged record to the cost model.
    assert merge([record(("M24-L255-H160-T1",), seconds=None, control=False), b]).epoch_seconds is None


def test_two_different_controls_do_not_merge():
    b = record(("M40-L400-H160-T3",), seconds=(2.0,), shift=1.0)
    c = record(("M24-L255-H160-T1",), seconds=(0.5,), shift=2.0)
    with pytest.raises(ConfigError, match=r"hold different restart controls .* merge records with one control"):
        merge([b, c])


def test_search_settings_that_choose_trainings_do_not_stop_a_merge():
    a = record(("M24-L255-H160-T1",), seconds=(0.5,), control=False)
    b = record(("M40-L400-H160-T3",), seconds=(2.0,), shift=1.0)
    b.source["settings"] = {**b.source["settings"], "restarts": 8, "control": "usual", "budget": None}
    assert merge([a, b]).n_settings == 2


@pytest.mark.parametrize("change, match", [
    (dict(epoch_seconds=np.array([1.0])), r"epoch_seconds has shape \(1,\) .* expected 2 positive seconds"),
    (dict(epoch_seconds=np.array([1.0, 0.0])), r"a value <= 0"),
    (dict(restarts=cv.Restarts("k", np.ones((2, 3, 4)), np.ones((2, 3, 4)), np.ones((2, 3, 4)))),
     r"restart control has 2 repetitions, the grid 3"),
])
def test_bad_extras_are_refused(change, match):
    base = record(control=False, seconds=None)
    with pytest.raises(ConfigError, match=match):
        cv.Curves(name="x", keys=base.keys, val=base.val, test_wa=base.test_wa, test_ua=base.test_ua, **change)
