"""--plan: the arithmetic of the estimate on a fake probe, the fit, the probe's statistics and its busy
note (on given timings and loads: nothing here times anything), and the command end to end."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sertune.cli import main
from sertune.study.search.plan import count_lanes, estimate, format_plan, representative, segment_counts, shapes
from sertune.study.search.probe import CpuLoad, Fit, ProbePoint, busy_note, fit, summarize
from sertune.study.search.progress import format_duration
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
    # Under 0.1 h, minutes or seconds: "0.0 device-hours" would tell nothing.
    assert plan.brute_seconds < 360 and "device-hours" not in text
    assert f"brute force: {format_duration(plan.brute_seconds)} of device time" in text
    assert (f"strategy asha: about 25% of brute force's epochs, {format_duration(plan.strategy_seconds)} of "
            f"device time") in text
    # Replayed with each setting's seconds per epoch, the device share is what a strategy's time is counted in.
    dear = replace(plan, device_fraction=0.4)
    assert dear.strategy_seconds == pytest.approx(plan.brute_seconds * 0.4)
    assert "strategy asha: about 25% of brute force's epochs and 40% of its device time" in format_plan(dear, device="x")
    assert dear.as_json()["device_fraction"] == 0.4 and plan.as_json()["device_fraction"] is None
    assert "plan: 3 settings x 3 repetitions = 9 trainings of 10 epochs; 2 distinct input shapes" in text
    one = format_plan(estimate(GRID[:1], segments=segments, fitted=fake, reps=1, epochs=1), device="fake")
    assert "plan: 1 setting x 1 repetition = 1 training of 1 epoch; 1 distinct input shape (M x frames)" in one


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
    assert "brute force: 3.0 device-hours (3.0 h of training)" in text
    assert "on 8 workers, 1 at full speed at once (workers on one GPU share it): about 3.0 h wall-clock" in text
    two = format_plan(estimate(GRID, segments=segments, fitted=fake, reps=1, epochs=1000, workers=2, lanes=2),
                      device="fake")
    assert "on 2 workers at once: about 1.5 h wall-clock" in two


def test_the_restart_control_is_costed_in_full_and_counted_in_the_wall_clock():
    """θ• restarted 8 times on 10 repetitions, not in the grid: 80 trainings of every epoch (never pruned)."""
    fake = Fit(train=(1e-3, 0.0), eval=(0.0, 0.0))
    usual = Theta(40, 400, 160, 3.0)
    segments = {theta_key(t): (3600, 0) for t in (*GRID, usual)}           # 3.6 s per epoch, every θ
    plan = estimate(GRID, segments=segments, fitted=fake, reps=10, epochs=10, strategy="asha",
                    strategy_fraction=0.5, workers=2, lanes=2, control=(usual, 80))
    assert plan.brute_seconds == pytest.approx(3 * 10 * 10 * 3.6)          # the grid's alone
    assert plan.control_seconds == pytest.approx(80 * 10 * 3.6)
    assert plan.total_seconds == pytest.approx(plan.strategy_seconds + plan.control_seconds)
    text = format_plan(plan, device="fake")
    assert (f"restart control of {theta_key(usual)}: 80 trainings more, 0.8 device-hours; the whole search "
            f"0.9 device-hours") in text                                    # 48 + 9 min
    assert f"on 2 workers at once: about {format_duration(plan.total_seconds / 2)} wall-clock" in text
    assert plan.as_json()["control_trainings"] == 80 and plan.as_json()["wall_seconds"] == plan.total_seconds / 2
    without = estimate(GRID, segments=segments, fitted=fake, reps=10, epochs=10)
    assert without.control_seconds == 0 and "restart control" not in format_plan(without, device="fake")


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
    assert "probe on cpu at " in text and " train " in text and "brute force: " in text and "of device time" in text
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


@pytest.mark.parametrize("seconds, median, spread", [
    ([0.002], 0.002, 1.0),
    ([0.003, 0.001, 0.002], 0.002, 3.0),
    ([0.010, 0.011, 0.200, 0.010, 0.012], 0.011, 20.0),        # one disturbed step moves the median little
    ([0.004, 0.002, 0.002, 0.004], 0.003, 2.0),
])
def test_summarize_keeps_the_median_and_the_spread(seconds, median, spread):
    t = summarize(seconds)
    assert (t.median, t.spread, t.n) == (pytest.approx(median), pytest.approx(spread), len(seconds))


@pytest.mark.parametrize("seconds", [[], [0.0, 0.1], [-0.1], [float("nan")], [float("inf"), 1.0]])
def test_summarize_refuses_what_is_not_a_timing(seconds):
    with pytest.raises(ValueError, match="timings must be one or more positive numbers of seconds"):
        summarize(seconds)


@pytest.mark.parametrize("cpu, spread, expected", [
    # A quiet CPU: nothing to say.
    (CpuLoad(cores=2, load=0.8, others=0.1, threads=(2,)), 1.2, None),
    (CpuLoad(cores=2, load=None, others=None), 1.9, None),
    # Busy by the load average, by other processes' cores, by unsteady steps, or all of them.
    (CpuLoad(cores=2, load=3.1, others=0.2), 1.1, "the CPU was busy during the probe (load 3.1 on 2 cores): "),
    (CpuLoad(cores=2, load=1.5, others=1.8), 1.1,
     "the CPU was busy during the probe (other processes kept 1.8 of the cores busy): "),
    (CpuLoad(cores=1, load=3.1, others=0.9), 4.0,
     "the CPU was busy during the probe (load 3.1 on 1 core; other processes kept 0.9 of the cores busy; "
     "steps varied x4.0): "),
    (CpuLoad(cores=2, load=0.5, others=0.0), 2.5, "the device was not steady during the probe (steps varied x2.5): "),
    # An accelerator: only its steps tell.
    (None, 1.5, None),
    (None, 3.0, "the device was not steady during the probe (steps varied x3.0): "),
])
def test_busy_note_names_what_made_the_probe_unreliable(cpu, spread, expected):
    note = busy_note(cpu, spread)
    if expected is None:
        assert note is None
    else:
        assert note.startswith(expected)
        assert note.endswith("this estimate may be several times off, and holds at best while the other work "
                             "goes on as it did; re-run --plan on a quiet machine")


def test_the_busy_note_and_the_threads_are_printed_beside_the_estimate():
    fake = Fit(train=(1e-3, 0.0), eval=(0.0, 0.0))
    probes = [ProbePoint(40, 101, 1e-3, 1e-4, spread=s, steps=5) for s in (1.1, 3.0, 3.5)]
    busy = estimate(GRID, segments={theta_key(t): (100, 0) for t in GRID}, fitted=fake, reps=1, epochs=1,
                    probes=probes, cpu=CpuLoad(cores=2, load=3.2, others=1.9, threads=(2, 1)), thread_limit=2)
    assert busy.spread == 3.0                                      # the median over shapes
    lines = format_plan(busy, device="cpu").splitlines()
    assert lines[1].startswith("probe on cpu at 2/1 threads (of the workers' 2: other processes kept cores busy, "
                               "and the workers follow the load the same way); seconds per sample, the median "
                               "of 5 timed steps")
    assert lines[2] == "    40 x 101    train    1.000 ms (x1.1)  eval   0.100 ms"
    brute = next(k for k, line in enumerate(lines) if line.startswith("brute force:"))
    assert lines[brute + 1] == ("warning: the CPU was busy during the probe (load 3.2 on 2 cores; other processes "
                                "kept 1.9 of the cores busy; steps varied x3.0): this estimate may be several times "
                                "off, and holds at best while the other work goes on as it did; re-run --plan on a "
                                "quiet machine")
    quiet = estimate(GRID, segments={theta_key(t): (100, 0) for t in GRID}, fitted=fake, reps=1, epochs=1,
                     probes=probes[:1], cpu=CpuLoad(cores=2, load=0.4, others=0.0, threads=(2,)), thread_limit=2)
    text = format_plan(quiet, device="cpu")
    assert quiet.note is None and "warning" not in text and "probe on cpu at 2 threads; seconds" in text


@pytest.mark.slow
def test_plan_prints_the_grid_warnings_the_search_shows(synth_savee, tmp_path, capsys):
    """Segments longer than most utterances, and 512 mels from a 64-sample window: the same
    warnings a new search stores and shows, before anything is spent."""
    grid = tmp_path / "grid.toml"
    grid.write_text("n_mels = [20, 512]\nwin_length = [64]\nhop_length = [320]\nsegment = [5.0]\n")
    out = tmp_path / "out"
    assert main(["search", str(synth_savee), "--grid", str(grid), "--reps", "1", "--epochs", "2", "--batch-size",
                 "4", "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--devices", "cpu",
                 "--plan"]) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.out.splitlines() if line.startswith("warning: ")]
    assert any("1 of 2 settings has poor log-Mel parameters" in w and "450 of 512 mel filters are empty" in w
               for w in warnings), captured.out
    assert any(w.startswith("warning: T = 5 s: 100 % of utterances are shorter and are zero-padded") for w in warnings)
    assert captured.out.rstrip().endswith("(--plan: nothing was trained or written)")
    assert not out.exists()
