"""--plan: the arithmetic of the estimate on a fake probe, the fit, and the command end to end."""

from __future__ import annotations

import pytest

from sertune.cli import main
from sertune.study.search.plan import (Fit, ProbePoint, count_lanes, estimate, fit, format_plan,
                                representative, segment_counts, shapes)
from sertune.corpora.splits import Split
from sertune.features.theta import Theta, theta_key

GRID = (Theta(40, 400, 160, 1.0), Theta(80, 400, 160, 1.0), Theta(40, 400, 320, 2.0))


def test_estimate_is_segments_times_seconds_per_sample_times_reps_and_epochs():
    fake = Fit(train=(1e-3, 1e-6), eval=(0.0, 2e-7))          # seconds per sample = a + b x (M x frames)
    segments = {theta_key(t): (100, 20) for t in GRID}
    plan = estimate(GRID, segments=segments, fitted=fake, reps=3, epochs=10, strategy="asha",
                    strategy_fraction=0.25, workers=2, lanes=2)
    frames = [t.frames(16000) for t in GRID]                    # 101, 101, 101
    assert frames == [101, 101, 101]
    expected = [100 * (1e-3 + 1e-6 * m * 101) + 20 * 2e-7 * m * 101 for m in (40, 80, 40)]
    assert list(plan.epoch_seconds.values()) == pytest.approx(expected)
    assert plan.brute_seconds == pytest.approx(sum(expected) * 3 * 10)
    assert plan.strategy_seconds == pytest.approx(plan.brute_seconds / 4)
    assert (plan.trainings, plan.shapes) == (9, 2)
    text = format_plan(plan, device="fake")
    assert f"{plan.brute_seconds / 3600:,.1f} device-hours" in text and "strategy asha: about 25%" in text


@pytest.mark.parametrize("worker_devices, expected", [
    (["cpu"], 1),
    (["cpu", "cpu"], 2),                       # each CPU worker has its own threads, as probed
    (["cuda"] * 8, 1),                         # workers on one GPU time-slice it
    (["cuda", "cuda:0", "cuda:1", "cuda:1"], 2),
    (["cuda:0", "cpu", "cuda:0", "cpu"], 3),
])
def test_lanes_count_cpu_workers_and_distinct_accelerators(worker_devices, expected):
    assert count_lanes(worker_devices) == expected


def test_wall_clock_divides_by_lanes_not_workers():
    fake = Fit(train=(1e-3, 0.0), eval=(0.0, 0.0))
    segments = {theta_key(t): (3600, 0) for t in GRID}          # 3.6 s per epoch
    plan = estimate(GRID, segments=segments, fitted=fake, reps=1, epochs=1000, workers=8, lanes=1)
    text = format_plan(plan, device="fake")
    assert plan.brute_seconds == pytest.approx(3 * 3600)
    assert "on 8 workers, 1 at full speed at once (workers on one GPU share it): about 3.0 h wall-clock" in text
    two = format_plan(estimate(GRID, segments=segments, fitted=fake, reps=1, epochs=1000, workers=2, lanes=2),
                      device="fake")
    assert "on 2 workers at once: about 1.5 h wall-clock" in two


def test_fit_recovers_a_line_and_never_goes_negative():
    points = [ProbePoint(10, s, 0.001 + 2e-6 * 10 * s, 5e-7 * 10 * s) for s in (20, 50, 100)]
    f = fit(points)
    assert f.train == pytest.approx((0.001, 2e-6)) and f.eval[1] == pytest.approx(5e-7)
    noisy = fit([ProbePoint(10, 20, 0.001, 0.001), ProbePoint(10, 40, 0.003, 0.003)])   # intercept < 0
    assert noisy.train[0] == 0 and noisy.train[1] > 0
    one = fit([ProbePoint(10, 20, 0.002, 0.001)])
    assert one.seconds(400) == pytest.approx(0.004)


def test_shapes_and_representatives():
    s = shapes(GRID)
    assert s == [(40, 101), (80, 101)]
    many = [(m, 100) for m in range(20, 60)]
    picks = representative(many, 5)
    assert picks[0] == many[0] and picks[-1] == many[-1] and len(picks) == 5


def test_segment_counts_follow_the_remainder_policy():
    lengths = {"a": 16000 * 3 + 100, "b": 8000}
    split = Split(name="s", train=("a",), val=("b",), test=())
    drop = segment_counts([Theta(40, 400, 160, 1.0)], lengths, split, remainder="drop")
    pad = segment_counts([Theta(40, 400, 160, 1.0)], lengths, split, remainder="pad")
    assert list(drop.values()) == [(3, 1)] and list(pad.values()) == [(4, 1)]


@pytest.mark.slow
def test_plan_prints_the_probe_and_writes_nothing(synth_savee, tmp_path, capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text("n_mels = [24, 40]\nwin_length = [400]\nhop_length = [160, 320]\nsegment = [1.0]\n")
    out = tmp_path / "out"
    assert main(["search", str(synth_savee), "--grid", str(grid), "--reps", "2", "--epochs", "3", "--out",
                 str(out), "--cache-dir", str(tmp_path / "cache"), "--devices", "cpu", "--strategy", "asha",
                 "--plan"]) == 0
    text = capsys.readouterr().out
    assert "plan: 4 settings x 2 repetitions = 8 trainings of 3 epochs; 4 distinct input shapes" in text
    assert "probe on cpu" in text and " train " in text and "device-hours" in text
    assert "strategy asha:eta=3,min=1,bootstrap=0: about" in text
    assert not out.exists()


@pytest.mark.parametrize("backend, workers, devices, gpus_per_worker, line", [
    ("local", 2, "cpu", 0.0, "on 2 workers at once: about"),
    ("local", 3, "cuda:0,cuda:1", 0.0, "on 3 workers, 2 at full speed at once (workers on one GPU share it): about"),
    ("ray", 4, "cpu", 0.5, "on 4 workers, 2 at full speed at once (workers on one GPU share it): about"),
    ("ray", 3, "cpu", 0.0, "on 3 workers at once: about"),
])
def test_plan_wall_clock_counts_what_runs_at_once(backend, workers, devices, gpus_per_worker, line):
    """The devices the search's backends give its workers, counted as :func:`count_lanes` counts them."""
    import argparse

    from sertune.cli.search import _worker_devices

    args = argparse.Namespace(backend=backend, workers=workers, gpus_per_worker=gpus_per_worker)
    worker_devices = _worker_devices(args, devices.split(","))
    assert len(worker_devices) == workers
    fake = Fit(train=(1e-3, 0.0), eval=(0.0, 0.0))
    plan = estimate(GRID, segments={theta_key(t): (100, 0) for t in GRID}, fitted=fake, reps=1, epochs=1,
                    workers=workers, lanes=count_lanes(worker_devices))
    assert line in format_plan(plan, device="fake")
