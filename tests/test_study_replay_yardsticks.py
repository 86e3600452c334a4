"""study/replay/yardsticks.py and its use in replay: per-repetition and setting regret, device time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sertune.cli import main
from sertune.errors import ConfigError
from sertune.study.replay.lab import replay
from sertune.study.replay.scales import ranking_oracle, selection_luck
from sertune.study.replay.yardsticks import (device_fraction, leave_one_out, per_rep_regret, setting_regret,
                                             setting_scores)
from sertune.study.store import curves as cv

# Two settings A, B on two repetitions. A is lucky on repetition 0 (95 % test) and 70 elsewhere;
# B is 70 everywhere. Brute force picks A on 0 and B on 1 by validation; a strategy that ranks
# after one epoch keeps B (it leads early on both) and picks B twice.
FINAL = np.array([[95.0, 70.0],
                  [70.0, 70.0]])
STAR = np.array([[0, 1]])
CHOSEN = np.array([[1, 1]])


def lucky_curves(epoch_seconds=None) -> cv.Curves:
    val = np.array([[[10.0, 90.0], [20.0, 80.0]],        # repetition 0: B leads at epoch 1, A ends best
                    [[10.0, 50.0], [20.0, 60.0]]])       # repetition 1: B leads and ends best
    test = np.repeat(FINAL[:, :, None], 2, axis=2)
    return cv.Curves(name="lucky", keys=("M40-L400-H160-T1", "M96-L400-H80-T1"), val=val, test_wa=test,
                     test_ua=test, epoch_seconds=epoch_seconds)


def test_per_repetition_regret_is_large_where_setting_regret_is_zero():
    """The pick of a lucky training: brute force's A on repetition 0 scores 95 there and 70 on the
    other repetition, exactly what B scores; so the strategy lost 12.5 points per repetition
    (25 on one of two) and nothing of setting quality."""
    assert per_rep_regret(FINAL, CHOSEN, STAR).tolist() == [12.5]
    assert setting_regret(FINAL, CHOSEN, STAR).tolist() == [0.0]
    (result,) = replay(lucky_curves(), ["topk:n=1,k=1"], orders=3)
    assert result.selected == ["M96-L400-H80-T1", "M96-L400-H80-T1"]
    assert (result.regret.mean, result.regret.low, result.regret.high) == (12.5, 12.5, 12.5)
    assert (result.setting_regret.mean, result.setting_regret.low, result.setting_regret.high) == (0.0, 0.0, 0.0)


def test_leave_one_out_scores_each_setting_on_the_other_repetitions():
    final = np.array([[80.0, 60.0], [60.0, 80.0], [70.0, 70.0]])
    np.testing.assert_allclose(leave_one_out(final), [[65.0, 75.0], [75.0, 65.0], [70.0, 70.0]])
    # A repetition with nothing selected (-1) scores the worst setting's leave-one-out mean there.
    assert setting_scores(final, np.array([[-1, 0, 1]])).tolist() == [[65.0, 75.0, 70.0]]
    with pytest.raises(ConfigError, match=r"at least 2 repetitions .* this record has 1"):
        leave_one_out(final[:1])


def test_device_fraction_weighs_every_epoch_by_its_settings_cost():
    spent = np.array([[[2, 0], [2, 0]]])                  # A's 2 epochs on both repetitions, B none
    assert device_fraction(spent, np.array([1.0, 3.0]), epochs=2).tolist() == [0.25]      # 4 of 16
    assert device_fraction(np.full((1, 2, 2), 2), np.array([1.0, 3.0]), epochs=2).tolist() == [1.0]
    with pytest.raises(ConfigError, match=r"2 positive costs, one per setting"):
        device_fraction(spent, np.array([1.0, 0.0]), epochs=2)


def test_replay_weighs_device_time_by_measured_seconds_else_by_the_cost_model():
    measured = replay(lucky_curves(np.array([1.0, 9.0])), ["topk:n=1,k=1"], orders=1)[0]
    # topk trains both for 1 epoch, then B's second: (1 + 9 + 9) x 2 repetitions of (1 + 9) x 2 x 2.
    assert measured.epoch_fraction.mean == pytest.approx(3 / 4)
    assert measured.device_fraction.mean == pytest.approx(19 / 20) and measured.cost_source == "measured"
    modelled = replay(lucky_curves(), ["topk:n=1,k=1"], orders=1)[0]
    # M x frames / T: 40 x 101 against 96 x 201 per second of audio.
    a, b = 40 * 101, 96 * 201
    assert modelled.device_fraction.mean == pytest.approx((a + 2 * b) / (2 * (a + b)))
    assert modelled.cost_source == "cost model"


def test_selection_luck_and_the_oracle_say_both_yardsticks():
    luck = selection_luck(lucky_curves())
    assert luck == {"own": 82.5, "others": 70.0, "luck": 12.5, "best_setting": 82.5}
    oracle = ranking_oracle(lucky_curves(), 0.5)      # the best 1 of 2 on average: A (val 70 vs 70, A first)
    assert oracle["regret"] == pytest.approx(0.0 - (70.0 - 70.0) / 2) and "setting_regret" in oracle
    one = cv.Curves(name="one", keys=("a", "b"), val=np.ones((1, 2, 2)), test_wa=np.ones((1, 2, 2)),
                    test_ua=np.ones((1, 2, 2)))
    assert selection_luck(one) is None and "setting_regret" not in ranking_oracle(one, 0.5)


@pytest.mark.slow
def test_replay_json_has_both_yardsticks_and_both_fractions(tmp_path, capsys):
    path = cv.save(lucky_curves(np.array([1.0, 9.0])), tmp_path / "lucky.npz")
    assert main(["replay", str(path), "--strategy", "topk:n=1,k=1", "--orders", "2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (row,) = [r for r in doc["strategies"] if r["spec"].startswith("topk")]
    assert row["regret"]["mean"] == 12.5 and row["setting_regret"]["mean"] == 0.0
    assert row["epoch_fraction"]["mean"] == pytest.approx(0.75) and row["device_fraction"]["mean"] == pytest.approx(0.95)
    assert all(r["setting_regret"] is not None and r["device_fraction"] for r in doc["strategies"])
    assert doc["selection_luck"]["luck"] == 12.5 and doc["cost_source"] == "measured"


@pytest.mark.slow
def test_one_repetition_has_no_setting_regret_and_says_so(tmp_path, capsys):
    one = lucky_curves().repetitions(slice(0, 1))
    path = cv.save(one, tmp_path / "one.npz")
    assert main(["replay", str(path), "--strategy", "topk:n=1,k=1", "--orders", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("no setting regret") == 1 and "per-repetition regret only" in out
    doc = json.loads((tmp_path / "one-replay" / "replay.json").read_text())
    assert all(r["setting_regret"] is None for r in doc["strategies"])
    assert all(r["regret"]["mean"] is not None for r in doc["strategies"])
