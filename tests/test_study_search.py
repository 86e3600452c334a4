"""The search engine: end to end, resume after SIGKILL, retries, refusal of changed settings, backends."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from sertune.cli import main
from sertune.corpora import load_corpus
from sertune.features.prepared import prepare
from sertune.study.search import runner
from sertune.study.search.grids import toml_grid
from sertune.study.search.progress import read_progress
from sertune.study.search.create import create_or_resume
from sertune.study.store.claims import make_engine, read_rows
from sertune.study.search.epoch_checkpoints import saved_epoch
from sertune.study.search.settings import SearchConfig
from sertune.study.store.storage import open_storage, rep_name
from sertune.training.fit import TrainConfig

GRID = "n_mels = [24, 40]\nwin_length = [400]\nhop_length = [160, 320]\nsegment = [1.0]\n"
SETTINGS = SearchConfig(train=TrainConfig(epochs=2)).settings()


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "grid.toml"
    path.write_text(GRID)
    return path


def search_args(root, grid, out, cache, *extra):
    return ["search", str(root), "--grid", str(grid), "--reps", "2", "--epochs", "2", "--out", str(out),
            "--cache-dir", str(cache), "--heartbeat", "1", *extra]


def finished_trials(url: str, name: str, reps: int) -> dict:
    """{(theta key, rep): [complete trials]} of a search, straight from the storage."""
    storage = open_storage(url)
    found = {}
    for r in range(reps):
        study = optuna.load_study(study_name=rep_name(name, r), storage=storage)
        for t in study.get_trials(states=(TrialState.COMPLETE,)):
            found.setdefault((t.params["theta"], r), []).append(t)
    return found


@pytest.mark.slow
def test_search_two_workers_sqlite_then_status_and_resume(synth_savee, grid_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = search_args(synth_savee, grid_file, out, tmp_path / "cache", "--workers", "2")
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["planned"] == 8 and doc["complete"] == 8
    assert doc["duplicates"] == doc["failed"] == doc["running"] == 0
    found = finished_trials(f"sqlite:///{out / 'study.db'}", "run", 2)
    assert len(found) == 8 and all(len(v) == 1 for v in found.values())
    for trials in found.values():
        attrs = trials[0].user_attrs
        assert set(attrs["test"]) >= {"wa", "ua", "precision", "recall", "f1", "confusion"}
        assert attrs["epochs_run"] == 2 and attrs["seconds"] > 0 and attrs["device"].startswith("cpu")
        assert len(trials[0].intermediate_values) == 2
    assert (out / "selected" / "rep0.pt").is_file() and (out / "model.pt").is_file()

    assert main(["status", str(out), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["complete"] == 8 and [r["rep"] for r in status["reps"]] == [0, 1]
    assert set(status["reps"][0]["best"]["theta"]) == {"n_mels", "win_length", "hop_length", "segment"}

    # The same command again: nothing is recomputed, and it says it resumed; with nothing left
    # it neither probes the device nor starts a worker, and ends as the search did.
    logs = sorted(p.stat().st_mtime_ns for p in (out / "logs").glob("worker*.log"))
    assert main(args) == 0
    captured = capsys.readouterr()
    err = captured.err
    assert "resuming run: 8 of 8 trainings done" in err and "new search" not in err
    assert "probe on" not in err and f"next: sertune report {out}" in captured.out
    assert sorted(p.stat().st_mtime_ns for p in (out / "logs").glob("worker*.log")) == logs
    again = finished_trials(f"sqlite:///{out / 'study.db'}", "run", 2)
    assert {k: [t.number for t in v] for k, v in again.items()} == {k: [t.number for t in v]
                                                                       for k, v in found.items()}
    # A conflicting command is refused.
    assert main(search_args(synth_savee, grid_file, out, tmp_path / "cache", "--epochs", "3")) == 2
    assert "made with epochs 2" in capsys.readouterr().err


def checkpoints(out: Path) -> dict:
    """{(θ key, rep): saved epoch} of the epoch checkpoints in a search's folder."""
    found = {}
    for path in (out / "checkpoints").glob("rep*/*.pt"):
        epoch = saved_epoch(path)
        if epoch is not None:
            found[(path.stem, int(path.parent.name[3:]))] = epoch
    return found


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.slow
def test_sigkill_mid_training_resumes_from_the_last_epoch_and_matches_an_uninterrupted_run(
        synth_savee, grid_file, tmp_path, spawn):
    cache = tmp_path / "cache"
    # A checkpoint after every epoch; on the CPU, where training is bit-for-bit deterministic.
    # One thread each: the uninterrupted reference runs beside the killed runs on the 2 cores.
    epochs = ["--epochs", "4", "--checkpoint-seconds", "0", "--devices", "cpu", "--threads", "1"]
    reference = tmp_path / "reference"
    ref = spawn([sys.executable, "-m", "sertune",
                 *search_args(synth_savee, grid_file, reference, cache, *epochs, "--json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sertune", *search_args(synth_savee, grid_file, out, cache, *epochs, "--json")]
    rng = random.Random(0)
    landed: list[tuple[tuple[str, int], int]] = []
    for _ in range(8):
        if len(landed) == 3:
            break
        before = set(checkpoints(out).items())
        proc = spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait until a training of this run saved an epoch, then kill at a seeded moment after it.
        wait_for(lambda: set(checkpoints(out).items()) - before, 120, "an epoch checkpoint")
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(proc.pid, signal.SIGKILL)          # the search and its workers, like a power cut
        proc.wait()
        wait_for(lambda: not sertune_pids(out), 10, "the killed search's workers to end")
        # Landed mid-training: a checkpoint at epoch > 0 of a (θ, r) that is not finished (a kill
        # between recording a trial and removing its checkpoint leaves a finished one behind).
        finished = set(finished_trials(f"sqlite:///{out / 'study.db'}", "killed", 2))
        new = {cell for cell in set(checkpoints(out).items()) - before if cell[0] not in finished}
        landed += [cell for cell in new if cell[1] > 0]
        # Once its worker's heartbeat is stale (3 s here) or its process is seen gone, nothing
        # shows as running. (SIGKILL is asynchronous: the worker may take a moment to exit.)
        status = wait_for(lambda: (s := read_progress(f"sqlite:///{out / 'study.db'}", "killed")).running == 0
                          and s, 3 * 1 + 2, "status to stop counting the killed worker's training")
        assert status.interrupted >= len(new)
    assert len(landed) >= 3, "the kills did not land mid-training"
    assert ref.wait(timeout=600) == 0, ref.stderr.read()[-2000:]
    expected = finished_trials(f"sqlite:///{reference / 'study.db'}", "reference", 2)
    done = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr[-2000:]
    assert json.loads(stdout)["complete"] == 8
    got = finished_trials(f"sqlite:///{out / 'study.db'}", "killed", 2)
    assert sorted(got) == sorted(expected)
    assert all(len(v) == 1 for v in got.values())                     # every (θ, r) exactly once
    failed = [t for r in range(2) for t in optuna.load_study(
        study_name=rep_name("killed", r), storage=open_storage(f"sqlite:///{out / 'study.db'}")).get_trials(
        states=(TrialState.FAIL,))]
    assert failed == []
    for (key, rep), epoch in landed:                                  # the next attempt started there
        assert epoch in got[(key, rep)][0].user_attrs["resumed_from"]
    for key, trials in expected.items():
        assert got[key][0].value == trials[0].value
        assert got[key][0].intermediate_values == trials[0].intermediate_values
        assert got[key][0].user_attrs["test"] == trials[0].user_attrs["test"]
    assert checkpoints(out) == {}                                     # removed when recorded


def sertune_pids(out: Path) -> list[int]:
    """Live processes (not zombies) with ``out`` in their command line: a search of that folder, its workers."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):               # not a process, or it ended meanwhile
            continue
        if state != "Z" and str(out).encode() in cmdline and b"sertune" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
@pytest.mark.slow
def test_sigint_to_a_search_process_group_or_sigterm_to_the_search_ends_it_and_its_workers(
        synth_savee, grid_file, tmp_path, spawn, how):
    """Ctrl-C in a terminal signals the whole foreground group: the search and its workers. ``kill PID``
    (SIGTERM) signals the search alone, which then stops its workers: the same ending."""
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "sertune", *search_args(synth_savee, grid_file, out, tmp_path / "cache",
                                                         "--epochs", "30", "--workers", "2", "--json")]
    proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started = wait_for(lambda: len(sertune_pids(out)) == 3 and sertune_pids(out), 120, "a search and two workers")
    engine = make_engine(f"sqlite:///{out / 'study.db'}")
    wait_for(lambda: any(r.state == "held" and r.pid in started for r in read_rows(engine, "interrupted")),
             120, "a worker to be training")
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    assert "interrupted: " in stderr and "Re-run the same command to resume" in stderr
    assert sertune_pids(out) == []                  # the search waited for its workers before it ended


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.slow
def test_a_worker_paused_past_the_grace_loses_its_claim_and_stops_that_work_cleanly(
        synth_savee, grid_file, tmp_path, backend):
    """SIGSTOP one of two workers mid-training until the other takes its θ over, then SIGCONT:
    no duplicate, no missing and no failed trial, and the paused worker says it dropped the work.
    (With PostgreSQL, also the search of two workers on that storage, end to end.)"""
    if backend == "postgresql":
        if not os.environ.get("SERTUNE_TEST_POSTGRES"):
            pytest.skip("set SERTUNE_TEST_POSTGRES=postgresql://... (.ci/run starts a server)")
        url, name = os.environ["SERTUNE_TEST_POSTGRES"], f"pause{os.getpid()}"
        where = ["--storage", url, "--study", name]
    else:
        url, name, where = f"sqlite:///{tmp_path / 'paused' / 'study.db'}", "paused", []
    out = tmp_path / "paused"
    cmd = [sys.executable, "-m", "sertune", *search_args(synth_savee, grid_file, out, tmp_path / "cache",
                                                         "--epochs", "6", "--checkpoint-seconds", "0",
                                                         "--workers", "2", "--json", *where)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        workers = wait_for(lambda: len(children(proc.pid)) == 2 and children(proc.pid), 60, "two workers")
        engine = make_engine(url)
        # Held mid-training: an epoch checkpoint of the held θ itself (not of a θ the worker just finished).
        held = wait_for(lambda: [r for r in read_rows(engine, name) if r.state == "held" and r.pid in workers
                                 and any(key == r.key for key, _ in checkpoints(out))], 120,
                        "a claim held mid-training")
        paused = held[0]
        os.kill(paused.pid, signal.SIGSTOP)
        try:
            wait_for(lambda: next(r for r in read_rows(engine, name) if r.key == paused.key).pid != paused.pid,
                     300, "the other worker to take the paused worker's θ over")
        finally:
            os.kill(paused.pid, signal.SIGCONT)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, stderr[-2000:]
    doc = json.loads(stdout)
    assert (doc["complete"], doc["failed"], doc["duplicates"], doc["planned"]) == (8, 0, 0, 8)
    storage = open_storage(url)
    trials = [t for r in range(2) for t in optuna.load_study(study_name=rep_name(name, r),
                                                             storage=storage).get_trials()]
    assert [t.state for t in trials].count(TrialState.FAIL) == 0
    assert len(trials) == 8 and all(t.state == TrialState.COMPLETE for t in trials)
    logs = "".join(p.read_text() for p in (out / "logs").glob("worker*.log"))
    assert f"another worker took over {paused.key}" in logs and "Traceback" not in logs


def test_start_message_new_then_resuming():
    from sertune.cli.search import start_message
    from sertune.study.search.progress import Progress

    meta = {"search": "s", "warnings": ["430 of 511 settings have poor log-Mel parameters; they are searched",
                                        "T = 5 s: 97 % of utterances are shorter and are zero-padded"]}
    new = start_message(meta, 5110)
    assert new.splitlines() == ["new search s: 5,110 trainings planned",
                                "warning: 430 of 511 settings have poor log-Mel parameters; they are searched",
                                "warning: T = 5 s: 97 % of utterances are shorter and are zero-padded"]
    state = Progress(planned=5110, complete=30, pruned=5, failed=2, interrupted=2)
    again = start_message(meta, 5110, state).splitlines()
    assert again[0] == "resuming s: 37 of 5,110 trainings done, 2 to resume from a stopped worker"
    assert again[1].startswith("warning: 2 warning(s) about this grid and corpus were shown when the search "
                               "started; the first: 430 of 511 settings have poor log-Mel parameters")
    assert len(again) == 2
    # A restart control: said apart when new; counted in when resumed, as the live bar counts it.
    meta |= {"reps": 10, "control": {"theta": "M40-L400-H160-T3", "restarts": 8, "in_grid": False}}
    assert start_message(meta, 120).splitlines()[0] == ("new search s: 120 trainings planned, and 80 of the "
                                                        "restart control of M40-L400-H160-T3")
    state = Progress(planned=200, complete=125, control={"theta": "M40-L400-H160-T3", "planned": 80, "done": 5})
    assert start_message(meta, 120, state).splitlines()[0] == ("resuming s: 125 of 200 trainings done (the "
                                                               "restart control's: 5 of 80)")


class EndedWorkers:
    """A backend whose workers have ended, having trained nothing (each stopped on its own)."""

    reasons: list[str] = []

    def __init__(self, url, name, workers, opts, **_):
        pass

    def alive(self) -> bool:
        return False

    def stop(self, wait: float = 10.0) -> None:
        pass

    def failures(self) -> list[str]:
        return list(self.reasons)


def test_a_search_whose_workers_end_early_says_it_is_incomplete_and_fails(synth_savee, grid_file, tmp_path,
                                                                          capsys, monkeypatch):
    from sertune.cli import search as cli

    monkeypatch.setitem(cli.BACKENDS, "local", EndedWorkers)
    out = tmp_path / "early"
    args = search_args(synth_savee, grid_file, out, tmp_path / "cache")
    assert main(args + ["--json"]) == cli.INCOMPLETE == 3
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert doc["incomplete"] is True and (doc["planned"], doc["complete"], doc["failed"]) == (8, 0, 0)
    assert "incomplete: 0 of 8 trainings done; re-run the same command to resume" in captured.err
    assert not (out / "status.json").exists() and not (out / "model.pt").exists()

    # In text, with a worker that was killed: its failure as a warning, the status, then the
    # incomplete line where a finished search says "next: sertune report".
    monkeypatch.setattr(EndedWorkers, "reasons", ["worker 0 stopped with status -9; see worker0.log"])
    monkeypatch.setattr(cli, "_plan", lambda *a, **k: ("plan: (not probed in this test)", {}))
    assert main(args) == 3
    captured = capsys.readouterr()
    assert captured.out.rstrip().splitlines()[-1] == ("incomplete: 0 of 8 trainings done; re-run the same "
                                                      "command to resume")
    assert captured.out.startswith("search early: 0 complete, 0 pruned, 0 failed, 0 running of 8 planned")
    assert "next: sertune report" not in captured.out and "selected models" not in captured.out
    assert "warning: worker 0 stopped with status -9; see worker0.log" in captured.err
    assert "resuming early: 0 of 8 trainings done" in captured.err


@pytest.mark.slow
def test_a_search_whose_worker_alone_is_interrupted_ends_incomplete(synth_savee, grid_file, tmp_path):
    """SIGINT to the worker only (as a shell's Ctrl-C misses a search started in the background):
    the worker saves its epoch and leaves; the search must not end as if it were done."""
    out = tmp_path / "stopped"
    cmd = [sys.executable, "-m", "sertune", *search_args(synth_savee, grid_file, out, tmp_path / "cache",
                                                         "--epochs", "6", "--checkpoint-seconds", "0",
                                                         "--devices", "cpu")]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: checkpoints(out), 180, "an epoch checkpoint")
        worker, = [pid for pid in children(proc.pid) if " worker " in cmdline(pid)]
        os.kill(worker, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 3, stderr[-2000:]
    last = stdout.rstrip().splitlines()[-1]
    done = read_progress(f"sqlite:///{out / 'study.db'}", "stopped")
    assert done.done < 8 and done.interrupted == 1
    assert last == f"incomplete: {done.done} of 8 trainings done; re-run the same command to resume"
    assert "next: sertune report" not in stdout and "selected models" not in stdout
    assert "stopped after" in (out / "logs" / "worker0.log").read_text()


@pytest.mark.parametrize("epochs, blames", [
    (4, "With only 4 epochs, too few to learn, that is no surprise: run more --epochs"),
    (1, "With only 1 epoch, too few"),
    (150, "Many of them point at a learning rate too high (--lr)"),
    (None, "Many of them point at a learning rate too high (--lr)"),     # a status without its epochs
])
def test_the_chance_warning_blames_few_epochs_before_the_learning_rate(epochs, blames):
    from sertune.cli.search import format_status
    from sertune.study.search.progress import Progress

    doc = Progress(planned=8, complete=1, at_chance=1, epochs=epochs).as_json()
    text = format_status(doc, "s")
    assert "warning: 1 of the 1 complete training ended at chance" in text and blames in text
    assert ("learning rate" in text) == (epochs is None or epochs >= 10)
    assert "0 duplicates" in text and "1 duplicates" not in format_status(doc | {"duplicates": 1}, "s")


@pytest.mark.parametrize("flags, share, torch_threads", [
    ([], "usable", None),                       # no --threads: follow the load, up to the usable cores
    (["--threads", "1"], None, 1),              # a fixed count is kept
    (["--threads", "1", "--share-cpu"], 1, 1),  # what a search gives its workers: a ceiling, followed below
])
def test_worker_threads_follow_the_load_unless_fixed(flags, share, torch_threads, monkeypatch):
    import torch

    from sertune.training.devices import usable_cpus

    seen = {}

    class FakeWorker:
        def __init__(self, url, name, **kwargs):
            seen.update(kwargs, threads=torch.get_num_threads())
            self.trained, self.cpu_share = 0, kwargs["cpu_share"]

        def run(self) -> int:
            return 0

    monkeypatch.setattr(runner, "Worker", FakeWorker)
    before = torch.get_num_threads()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert main(["worker", "--storage", "sqlite://", "--study", "s", *flags]) == 0
    finally:
        torch.set_num_threads(before)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if share is None:
        assert seen["cpu_share"] is None
    else:
        assert seen["cpu_share"].limit == (usable_cpus() if share == "usable" else share)
    if torch_threads is not None:
        assert seen["threads"] == torch_threads


@pytest.mark.slow
def test_failed_training_is_recorded_and_retried_once(synth_savee, grid_file, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    create_or_resume(url, "f", prepared=prepared, grid=toml_grid(grid_file), grid_name="g",
                     settings=SETTINGS | {"epochs": 1}, reps=1, heartbeat=1)
    real_fit, calls = runner.fit, {}

    def flaky_fit(data, split, **kwargs):
        key = (data.theta.n_mels, data.theta.hop_length)
        calls[key] = calls.get(key, 0) + 1
        if key == (24, 160) and calls[key] == 1:
            raise RuntimeError("CUDA out of memory (simulated)")
        if key == (40, 320):
            raise RuntimeError("always broken (simulated)")
        return real_fit(data, split, **kwargs)

    monkeypatch.setattr(runner, "fit", flaky_fit)
    worker = runner.Worker(url, "f", device="cpu", heartbeat=1, cache_dir=str(tmp_path / "cache"))
    assert worker.run() == 3
    trials = optuna.load_study(study_name="f.rep0", storage=open_storage(url)).get_trials()
    by_key = {}
    for t in trials:
        by_key.setdefault(t.params["theta"], []).append(t)
    retried = by_key["M24-L400-H160-T1"]
    assert [t.state for t in retried] == [TrialState.FAIL, TrialState.COMPLETE]
    assert "out of memory" in retried[0].user_attrs["error"] and retried[1].user_attrs["attempt"] == 2
    broken = by_key["M40-L400-H320-T1"]
    assert [t.state for t in broken] == [TrialState.FAIL, TrialState.FAIL]
    progress = read_progress(url, "f")
    assert (progress.complete, progress.failed, progress.planned) == (3, 1, 4)


#: Validation WA per epoch of each θ of GRID, for a training stand-in whose curves are known.
CURVES = {"M24-L400-H160-T1": [30, 35, 40, 45], "M24-L400-H320-T1": [50, 60, 70, 80],
          "M40-L400-H160-T1": [5, 5, 5, 5], "M40-L400-H320-T1": [40, 62, 64, 66]}


def scripted_fit(data, split, *, config, on_epoch=None, resume=None, on_snapshot=None, **_):
    """Stands in for train.fit: reports CURVES[θ] epoch by epoch, like a real training."""
    from sertune.features.theta import theta_key
    from sertune.training.fit import RunResult

    curve = CURVES[theta_key(data.theta)]
    for epoch in range(1, config.epochs + 1):
        on_epoch(epoch, 1.0, float(curve[epoch - 1]))
    metrics = {"wa": float(max(curve)), "ua": 0.0, "precision": 0.0, "recall": 0.0, "f1": 0.0, "confusion": []}
    return RunResult(split=split.name, seed=0, val={"utterance": metrics, "segment": metrics},
                     test={"utterance": metrics, "segment": metrics}, best_epoch=config.epochs,
                     epochs_run=config.epochs, seconds=0.1)


@pytest.mark.slow
def test_status_shows_the_trainings_waiting_at_a_barrier_then_the_decision(synth_savee, grid_file, tmp_path):
    """topk: a worker stopped once every θ is parked leaves them running and waiting (not
    interrupted); the next worker decides the barrier and finishes the top 1 of each repetition."""
    from sertune.cli.search import format_status
    from sertune.study.store.claims import ClaimBook

    url = f"sqlite:///{tmp_path / 'study.db'}"
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    train = TrainConfig(epochs=2, batch_size=8, precision="fp32")
    create_or_resume(url, "wait", prepared=prepared, grid=toml_grid(grid_file), grid_name="g",
                     settings=SearchConfig(strategy="topk:n=1,k=1", train=train).settings(), reps=2, heartbeat=1)
    book = ClaimBook(make_engine(url), "wait", grace=3)
    kwargs = dict(device="cpu", heartbeat=1, out=tmp_path / "out", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(runner.WorkerStopped):      # stops before it would decide
        runner.Worker(url, "wait", stop=lambda: all(r.state == "parked" for r in book.rows()), **kwargs).run()
    n = 2 * len(toml_grid(grid_file))
    waiting = read_progress(url, "wait")
    assert (waiting.running, waiting.waiting, waiting.interrupted, waiting.done) == (n, n, 0, 0)
    assert f"running 0, waiting at the barrier {n}," in waiting.postfix()
    assert f"{n} running ({n} of them waiting for the other settings at the strategy's barrier) of {n} planned" \
        in format_status(waiting.as_json(), "wait")
    runner.Worker(url, "wait", **kwargs).run()
    done = read_progress(url, "wait")
    assert (done.complete, done.pruned, done.running, done.waiting) == (2, n - 2, 0, 0)


@pytest.mark.slow
def test_asha_prunes_the_settings_behind_at_a_rung(synth_savee, grid_file, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    create_or_resume(url, "asha", prepared=prepared, grid=toml_grid(grid_file), grid_name="g",
                     settings=SearchConfig(pruner="asha", train=TrainConfig(epochs=4)).settings(), reps=2,
                     heartbeat=1)
    monkeypatch.setattr(runner, "fit", scripted_fit)
    runner.Worker(url, "asha", device="cpu", heartbeat=1, cache_dir=str(tmp_path / "cache")).run()
    progress = read_progress(url, "asha")
    assert progress.pruned > 0 and progress.complete + progress.pruned == 8 and progress.failed == 0
    for r in range(2):
        trials = optuna.load_study(study_name=rep_name("asha", r), storage=open_storage(url)).get_trials()
        for t in trials:
            curve = CURVES[t.params["theta"]]
            reported = [t.intermediate_values[e] for e in sorted(t.intermediate_values)]
            assert reported == curve[:len(reported)]                 # the pruner saw the real curve
            if t.state == TrialState.PRUNED:
                assert t.user_attrs["epochs_run"] == len(reported) < 4
            else:
                assert t.state == TrialState.COMPLETE and len(reported) == 4
            if t.state == TrialState.PRUNED:                         # it was behind an earlier trial
                assert any(o.number < t.number and o.intermediate_values.get(len(reported), -1) > reported[-1]
                           for o in trials)


@pytest.mark.parametrize("extra,match", [
    ([], "--grid is required"),
    (["--grid", "usual", "--workers", "0"], "--workers 0"),
    (["--grid", "usual", "--epochs", "0"], "epochs=0"),
    (["--grid", "usual", "--devices", "tpu"], "device='tpu'"),
    (["--grid", "nope.toml"], "does not exist"),
    (["--grid", "usual", "--checkpoint-seconds", "-1"], "must not be negative"),
    (["--grid", "usual", "--checkpoint-dir", "/dev/null/x"], "--checkpoint-dir /dev/null/x cannot be used"),
    (["--grid", "usual", "--heartbeat", "0"], "--heartbeat 0 must be positive"),
    (["--grid", "usual", "--threads", "0"], "--threads 0 must be at least 1"),
])
def test_search_bad_input_before_any_work(synth_savee, tmp_path, capsys, extra, match):
    assert main(["search", str(synth_savee), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and match in err and "Traceback" not in err


def test_status_of_a_folder_that_is_not_a_search(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "not the output folder of `sertune search`" in capsys.readouterr().err


@pytest.mark.slow
def test_two_ray_workers_on_a_local_ray_instance(synth_savee, grid_file, tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="pip install 'sertune[ray]' (.ci/run installs it)")
    try:
        args = search_args(synth_savee, grid_file, tmp_path / "ray", tmp_path / "cache", "--workers", "2",
                           "--backend", "ray", "--threads", "1", "--json")
        assert main(args) == 0
        doc = json.loads(capsys.readouterr().out)
        assert (doc["complete"], doc["duplicates"], doc["planned"]) == (8, 0, 8)
        found = finished_trials(f"sqlite:///{tmp_path / 'ray' / 'study.db'}", "ray", 2)
        assert all(len(v) == 1 for v in found.values()) and len(found) == 8
    finally:
        ray.shutdown()


def test_ci_runs_the_backend_tests():
    """In CI the PostgreSQL and Ray tests must run, never skip silently."""
    if os.environ.get("CI") != "true":
        pytest.skip("only checked in CI")
    assert os.environ.get("SERTUNE_TEST_POSTGRES"), ".ci/run must start PostgreSQL"
    __import__("ray")
    assert Path(sys.executable).exists()


def test_one_worker_runs_a_repfid_search_through_its_barrier_without_training(synth_savee, tmp_path, monkeypatch):
    """Fast (a scripted training, two settings): storage, claims, worker and barrier of a live search.
    One repetition trains both θ; the barrier continues the better one alone in the other."""
    url = f"sqlite:///{tmp_path / 'study.db'}"
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp_path / "cache", progress=False)
    (tmp_path / "grid.toml").write_text("n_mels = [24, 40]\nwin_length = [400]\nhop_length = [320]\nsegment = [1.0]\n")
    create_or_resume(url, "fid", prepared=prepared, grid=toml_grid(tmp_path / "grid.toml"), grid_name="g",
                     settings=SearchConfig(strategy="repfid:reps=1,top=1", train=TrainConfig(epochs=2)).settings(),
                     reps=2, heartbeat=1)
    monkeypatch.setattr(runner, "fit", scripted_fit)
    runner.Worker(url, "fid", device="cpu", heartbeat=1, out=tmp_path / "out",
                  cache_dir=str(tmp_path / "cache")).run()
    storage = open_storage(url)
    reps = [optuna.load_study(study_name=rep_name("fid", r), storage=storage).get_trials() for r in (0, 1)]
    done = [sorted(t.params["theta"] for t in trials if t.state == TrialState.COMPLETE) for trials in reps]
    # Best validation WA over the 2 epochs of CURVES: 62 (M40) against 60 (M24).
    assert sorted(done, key=len) == [["M40-L400-H320-T1"], ["M24-L400-H320-T1", "M40-L400-H320-T1"]]
    assert [t.params["theta"] for trials in reps for t in trials if "skipped" in t.user_attrs] == ["M24-L400-H320-T1"]
    assert read_progress(url, "fid").failed == 0


def test_local_workers_are_started_with_the_search_as_their_parent(tmp_path):
    """A worker stops when the process that started it is gone (``--parent``): a killed search
    leaves no worker training on."""
    from sertune.study.search.backends import WorkerOptions, worker_command

    cmd = worker_command("sqlite:///s.db", "s", "cpu", WorkerOptions(devices=["cpu"], out=tmp_path, heartbeat=2.0,
                                                                    threads=1))
    assert cmd[1:4] == ["-m", "sertune", "worker"]
    assert cmd[cmd.index("--parent") + 1] == str(os.getpid())
    assert cmd[cmd.index("--out") + 1] == str(tmp_path)
