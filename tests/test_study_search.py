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
from sertune.corpora.synth import synthesize
from sertune.experiment import prepare
from sertune.study import runner
from sertune.study.grids import toml_grid
from sertune.study.progress import read_progress
from sertune.study.create import create_or_resume
from sertune.study.storage import open_storage, rep_name

GRID = "n_mels = [24, 40]\nwin_length = [400]\nhop_length = [160, 320]\nsegment = [1.0]\n"
SETTINGS = {"protocol": "shuffle-split", "pruner": "none", "seed": 0, "remainder": "drop",
            "epochs": 2, "batch_size": 16, "lr": 1e-4, "precision": "auto", "init": "scratch",
            "weights": None, "eval_batch_size": 64}


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("savee")
    synthesize(root, layout="savee", speakers=2, per_class=5, seed=0)
    return root


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


def test_search_two_workers_sqlite_then_status_and_resume(corpus_root, grid_file, tmp_path, capsys):
    out = tmp_path / "run"
    args = search_args(corpus_root, grid_file, out, tmp_path / "cache", "--workers", "2")
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

    # The same command again: nothing is recomputed.
    assert main(args) == 0
    capsys.readouterr()
    again = finished_trials(f"sqlite:///{out / 'study.db'}", "run", 2)
    assert {k: [t.number for t in v] for k, v in again.items()} == {k: [t.number for t in v]
                                                                       for k, v in found.items()}
    # A conflicting command is refused.
    assert main(search_args(corpus_root, grid_file, out, tmp_path / "cache", "--epochs", "3")) == 2
    assert "made with epochs 2" in capsys.readouterr().err


def test_sigkill_at_random_moments_then_resume_matches_an_uninterrupted_run(corpus_root, grid_file, tmp_path):
    cache = tmp_path / "cache"
    reference = tmp_path / "reference"
    assert main(search_args(corpus_root, grid_file, reference, cache, "--json")) == 0
    expected = finished_trials(f"sqlite:///{reference / 'study.db'}", "reference", 2)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sertune", *search_args(corpus_root, grid_file, out, cache, "--json")]
    rng = random.Random(0)
    for _ in range(3):
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(6.0, 14.0))
        os.killpg(proc.pid, signal.SIGKILL)          # the search and its workers, like a power cut
        proc.wait()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    got = finished_trials(f"sqlite:///{out / 'study.db'}", "killed", 2)
    assert sorted(got) == sorted(expected)
    assert all(len(v) == 1 for v in got.values())                     # every (θ, r) exactly once
    for key, trials in expected.items():
        assert got[key][0].value == trials[0].value
        assert got[key][0].user_attrs["test"] == trials[0].user_attrs["test"]


def test_failed_training_is_recorded_and_retried_once(corpus_root, grid_file, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    prepared = prepare(load_corpus(corpus_root), cache_dir=tmp_path / "cache", progress=False)
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


def test_asha_pruner_prunes_and_records(corpus_root, grid_file, tmp_path, capsys):
    out = tmp_path / "asha"
    assert main(search_args(corpus_root, grid_file, out, tmp_path / "cache", "--epochs", "4",
                            "--pruner", "asha", "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["complete"] + doc["pruned"] == 8 and doc["failed"] == 0


@pytest.mark.parametrize("extra,match", [
    ([], "--grid is required"),
    (["--grid", "usual", "--workers", "0"], "--workers 0"),
    (["--grid", "usual", "--epochs", "0"], "epochs=0"),
    (["--grid", "usual", "--devices", "tpu"], "device='tpu'"),
    (["--grid", "nope.toml"], "does not exist"),
])
def test_search_bad_input_before_any_work(corpus_root, tmp_path, capsys, extra, match):
    assert main(["search", str(corpus_root), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and match in err and "Traceback" not in err


def test_status_of_a_folder_that_is_not_a_search(tmp_path, capsys):
    assert main(["status", str(tmp_path)]) == 2
    assert "not the output folder of `sertune search`" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("SERTUNE_TEST_POSTGRES"),
                    reason="set SERTUNE_TEST_POSTGRES=postgresql://... (.ci/run starts a server)")
def test_two_workers_on_postgresql(corpus_root, grid_file, tmp_path, capsys):
    url = os.environ["SERTUNE_TEST_POSTGRES"]
    name = f"pg{os.getpid()}"
    args = search_args(corpus_root, grid_file, tmp_path / "pg", tmp_path / "cache", "--workers", "2",
                       "--storage", url, "--study", name, "--json")
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["complete"], doc["duplicates"], doc["planned"]) == (8, 0, 8)
    found = finished_trials(url, name, 2)
    assert len(found) == 8 and all(len(v) == 1 for v in found.values())


def test_two_ray_workers_on_a_local_ray_instance(corpus_root, grid_file, tmp_path, capsys):
    ray = pytest.importorskip("ray", reason="pip install 'sertune[ray]' (.ci/run installs it)")
    try:
        args = search_args(corpus_root, grid_file, tmp_path / "ray", tmp_path / "cache", "--workers", "2",
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
