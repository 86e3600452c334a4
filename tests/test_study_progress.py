"""The live bar's numbers: ETA from measured seconds per unit of work (M x frames x epochs)."""

from __future__ import annotations

import pytest

from sertune.study.search.progress import (READ_SHARE, busy_workers, cost, counted, device_time, epochs_left,
                                           eta_seconds, expected_fraction, format_duration, refresh_interval)
from sertune.features.theta import Theta

SMALL = Theta(40, 400, 160, 3.0)      # 40 mels x 301 frames
BIG = Theta(256, 511, 16, 9.0)        # 256 mels x 9000 frames: ~64x the work of SMALL per epoch


def test_cost_grows_with_mels_times_frames_per_second_of_segment():
    assert cost(SMALL) == 40 * SMALL.frames(16000) / 3 == 40 * 301 / 3
    assert cost(BIG) / cost(SMALL) == pytest.approx((256 * BIG.frames(16000) / 9) / (40 * 301 / 3))
    # The same window and hop at 1 s and at 2 s: about the same work per epoch (half the segments).
    assert cost(Theta(40, 400, 160, 2.0)) / cost(Theta(40, 400, 160, 1.0)) == pytest.approx((201 / 2) / 101)


def test_eta_on_a_fake_timeline():
    # One small training of 10 epochs took 20 s: 20 / (cost * 10) s per unit.
    finished = [(SMALL, 10, 20.0)]
    per_unit = 20.0 / (cost(SMALL) * 10)
    # Left: 3 small trainings (30 epochs) and one big one with 4 of 10 epochs done (6 left).
    remaining = [(SMALL, 10)] * 3 + [(BIG, 6)]
    expected = (3 * 10 * cost(SMALL) + 6 * cost(BIG)) * per_unit
    assert eta_seconds(finished, remaining, workers=1) == pytest.approx(expected)
    assert eta_seconds(finished, remaining, workers=4) == pytest.approx(expected / 4)
    # Settings differ in cost: the big one dominates, not the count of trainings left.
    assert eta_seconds(finished, [(BIG, 10)], workers=1) > 50 * eta_seconds(finished, [(SMALL, 10)], workers=1)


def test_eta_pools_every_finished_training_and_waits_for_the_first():
    assert eta_seconds([], [(SMALL, 10)], workers=1) is None
    assert eta_seconds([(SMALL, 0, 0.0)], [(SMALL, 10)], workers=1) is None      # pruned at once: nothing measured
    # A small run at 2 s/epoch and a big one at the same rate per unit pool into one rate.
    finished = [(SMALL, 5, 10.0), (BIG, 1, 2.0 * cost(BIG) / cost(SMALL))]
    assert eta_seconds(finished, [(SMALL, 1)], workers=0) == pytest.approx(2.0)   # workers < 1 counts as 1
    assert eta_seconds(finished, [], workers=2) == 0.0


@pytest.mark.parametrize("seconds,text", [
    (None, "?"), (42.4, "42 s"), (600, "10 min"), (3 * 3600 + 1440, "3.4 h"), (5 * 86400, "5.0 days"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("n, noun, text", [
    (0, "training", "0 trainings"), (1, "training", "1 training"), (2, "setting", "2 settings"),
    (5110, "training", "5,110 trainings"), (1, "complete training", "1 complete training"),
])
def test_counted_is_singular_for_one_only(n, noun, text):
    assert counted(n, noun) == text


@pytest.mark.parametrize("seconds, training, text", [
    (20.4, True, "20 s of device time"),            # was "0.0 device-hours"
    (359, True, "6 min of device time"),
    (360, True, "0.1 device-hours (6 min of training)"),
    (4380, True, "1.2 device-hours (73 min of training)"),
    (4380, False, "1.2 device-hours"),
    (3.6e6, False, "1,000.0 device-hours"),
])
def test_device_time_never_says_zero_hours(seconds, training, text):
    assert device_time(seconds, training=training) == text


@pytest.mark.parametrize("reported, fraction, left", [
    (0, 1.0, 30), (10, 1.0, 20), (30, 1.0, 0),       # brute force: to the last epoch
    (0, 0.1, 3), (2, 0.1, 1),                        # a cheap strategy: its share of the epochs on average
    (3, 0.1, 27), (29, 0.1, 1), (30, 0.1, 0),         # past that share: a survivor, to the last epoch
])
def test_epochs_left_expects_a_strategy_to_spend_its_share(reported, fraction, left):
    assert epochs_left(reported, epochs=30, fraction=fraction) == pytest.approx(left)


def test_expected_fraction_is_the_plans_estimate():
    assert expected_fraction("brute", settings=63, reps=6, epochs=30) == 1.0
    cheap = expected_fraction("topk:n=1,k=0.05", settings=63, reps=6, epochs=30)
    assert 0.05 < cheap < 0.15             # n=1 of 30 epochs for all, the rest for the top 5 %


def test_busy_workers_counts_settings_in_training_not_trials():
    """A worker fusing 3 repetitions of SMALL is one worker; a parked trial is nobody's work."""
    from sertune.study.store.results import TrialRecord
    trials = [TrialRecord(rep=r, number=r, theta=SMALL, state="running") for r in range(3)]
    trials += [TrialRecord(rep=0, number=9, theta=BIG, state="running"),
               TrialRecord(rep=1, number=10, theta=Theta(64, 400, 160, 3.0), state="running", parked=True),
               TrialRecord(rep=1, number=11, theta=Theta(80, 400, 160, 3.0), state="complete")]
    assert busy_workers(trials) == 2


def test_busy_workers_counts_a_stack_of_several_settings_once():
    """One worker stacking 2 window lengths x 2 repetitions, another training alone: 2 workers.
    Trials without a ``worker`` (older studies) still count by setting."""
    from sertune.study.store.results import TrialRecord
    other_l = Theta(40, 640, 160, 3.0)
    trials = [TrialRecord(rep=r, number=r, theta=theta, state="running", worker="gpu-box:41")
              for r in range(2) for theta in (SMALL, other_l)]
    trials.append(TrialRecord(rep=0, number=7, theta=BIG, state="running", worker="gpu-box:42"))
    assert busy_workers(trials) == 2
    assert busy_workers(trials + [TrialRecord(rep=1, number=8, theta=Theta(64, 400, 160, 3.0),
                                              state="running")]) == 3


@pytest.mark.parametrize("read, terminal, wait", [
    (0.01, True, 2.0),                  # a small study, on a terminal: the usual 2 s
    (0.18, True, 0.18 / READ_SHARE),    # a real study's read: reading stays within READ_SHARE of a core
    (0.01, False, 30.0),                # a log file: a line every 30 s, not a redraw every 2 s
    (1.0, False, 1.0 / READ_SHARE),
])
def test_the_bar_refreshes_as_often_as_reading_the_storage_allows(read, terminal, wait):
    assert refresh_interval(read, interval=2.0, terminal=terminal) == pytest.approx(wait)


def test_the_eta_counts_the_restart_controls_trainings_once_the_grid_is_done():
    from sertune.study.search.progress import _eta
    from sertune.study.store.results import TrialRecord

    a, usual = Theta(24, 400, 160, 1.0), Theta(40, 400, 160, 3.0)
    done = (TrialRecord(rep=0, number=0, theta=a, state="complete", epochs_run=4, seconds=8.0),)
    cells = {(0, a): "complete"}
    assert _eta(done, cells, 4, workers=2) == 0.0                    # the grid alone: nothing left
    left = _eta(done, cells, 4, workers=2, extra=[(usual, 4)] * 3)   # 3 trainings of θ• left
    assert left == pytest.approx(3 * cost(usual) * 4 * (8.0 / (cost(a) * 4)) / 2)
