"""Fused repetitions in a search: the numbers of one-at-a-time training, a stop that loses no epoch,
a failed stack retried one at a time, and --fuse's choices."""

from __future__ import annotations

import optuna
import pytest
import torch
from optuna.trial import TrialState

from sertune.cli import main
from sertune.corpora import load_corpus
from sertune import fused_probe
from sertune.errors import ConfigError
from sertune.prepared import prepare
from sertune.study import fused_reps, runner
from sertune.study.claims import make_engine, read_rows
from sertune.study.create import create_or_resume
from sertune.study.curves import TEST_CURVE
from sertune.study.epoch_checkpoints import saved_epoch
from sertune.study.grids import toml_grid
from sertune.study.settings import SearchConfig
from sertune.study.storage import open_storage, rep_name
from sertune.train import TrainConfig

GRID = "n_mels = [24, 40]\nwin_length = [400]\nhop_length = [160, 320]\nsegment = [1.0]\n"
#: Two window lengths per (M, H, T): settings in pairs of one input shape.
PAIRS = "n_mels = [24]\nwin_length = [400, 640]\nhop_length = [160, 320]\nsegment = [1.0]\n"
TRAIN = TrainConfig(epochs=3, batch_size=8, lr=1e-3, precision="fp32")


@pytest.fixture(scope="module")
def corpus(synth_savee, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fused-reps")
    (tmp / "grid.toml").write_text(GRID)
    (tmp / "pairs.toml").write_text(PAIRS)
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp / "cache", progress=False)
    return tmp, prepared


def new_search(corpus, folder: str, *, strategy: str | None = None, grid: str = "grid.toml", reps: int = 2) -> str:
    tmp, prepared = corpus
    url = f"sqlite:///{tmp / folder}.db"
    create_or_resume(url, folder, prepared=prepared, grid=toml_grid(tmp / grid), grid_name="g",
                     settings=SearchConfig(strategy=strategy, train=TRAIN).settings(), reps=reps, heartbeat=1)
    return url


def worker(corpus, url: str, name: str, **kwargs) -> runner.Worker:
    tmp, _ = corpus
    return runner.Worker(url, name, device="cpu", heartbeat=1, cache_dir=str(tmp / "cache"), **kwargs)


def trials(url: str, name: str, reps: int = 2) -> dict:
    """{(θ key, rep): [trials, in order]}."""
    found = {}
    for r in range(reps):
        for t in optuna.load_study(study_name=rep_name(name, r), storage=open_storage(url)).get_trials():
            found.setdefault((t.params["theta"], r), []).append(t)
    return found


@pytest.fixture(scope="module")
def one_at_a_time(corpus):
    url = new_search(corpus, "single")
    assert worker(corpus, url, "single", fuse="off").run() == 8
    return trials(url, "single")


def same_numbers(got, want) -> None:
    """A fused member and its one-at-a-time training: equal to float rounding, so the same predictions."""
    assert got.state == want.state == TrialState.COMPLETE
    assert got.intermediate_values == want.intermediate_values
    assert got.value == want.value
    for key in ("test", "val", "best_epoch", "epochs_run", TEST_CURVE):
        assert got.user_attrs[key] == want.user_attrs[key], key


def spy_stacks(monkeypatch) -> list:
    """Every fit_fused call of the workers from now on: the epochs its members resume from (None: fresh)."""
    calls, real = [], fused_reps.fit_fused

    def spy(*args, resume=None, **kwargs):
        calls.append(None if resume is None else [state.epoch for state in resume])
        return real(*args, resume=resume, **kwargs)
    monkeypatch.setattr(fused_reps, "fit_fused", spy)
    return calls


def test_a_fused_search_records_each_repetition_with_the_numbers_of_one_at_a_time(corpus, one_at_a_time):
    url = new_search(corpus, "fused")
    assert worker(corpus, url, "fused", fuse="on").run() == 8
    fused = trials(url, "fused")
    assert fused.keys() == one_at_a_time.keys()
    for key, [t] in fused.items():
        same_numbers(t, one_at_a_time[key][0])
        assert t.user_attrs["fused"] == 2 and "fused" not in one_at_a_time[key][0].user_attrs
        assert t.user_attrs["seconds"] > 0          # its share of the stack's time


def test_a_stop_saves_every_member_and_the_next_worker_resumes_them(corpus, one_at_a_time, tmp_path,
                                                                      monkeypatch):
    """Stopped in the first epoch of the first stack: both members save that epoch and stay running;
    the next worker goes on from there (one at a time: their trials exist) to the same numbers."""
    url = new_search(corpus, "stopped")
    calls = []
    stop = lambda: calls.append(1) or len(calls) > 1   # noqa: E731  the worker's first look says go on
    with pytest.raises(runner.WorkerStopped):
        worker(corpus, url, "stopped", fuse="on", out=tmp_path, stop=stop).run()
    running = trials(url, "stopped")
    key = next(iter(running))[0]
    assert set(running) == {(key, 0), (key, 1)}
    assert all(t.state == TrialState.RUNNING for [t] in running.values())
    for r in range(2):
        assert saved_epoch(tmp_path / "checkpoints" / f"rep{r}" / f"{key}.pt") == 1
        assert list(running[(key, r)][0].intermediate_values) == [1]
    stacks = spy_stacks(monkeypatch)
    assert worker(corpus, url, "stopped", fuse="on", out=tmp_path).run() == 8
    assert stacks[0] == [1, 1]                      # both members went on from epoch 1 in one stack
    for k, [t] in trials(url, "stopped").items():
        same_numbers(t, one_at_a_time[k][0])
        assert t.user_attrs.get("resumed_from") == ([1] if k in running else None)
    assert not list((tmp_path / "checkpoints").rglob("*.pt"))


def test_a_stack_that_fails_is_recorded_and_retried_one_at_a_time(corpus, one_at_a_time, monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory with 2 members (simulated)")

    monkeypatch.setattr(fused_reps, "fit_fused", out_of_memory)
    url = new_search(corpus, "failed")
    assert worker(corpus, url, "failed", fuse="on").run() == 8
    for key, ts in trials(url, "failed").items():
        assert [t.state for t in ts] == [TrialState.FAIL, TrialState.COMPLETE]
        assert "out of memory with 2 members" in ts[0].user_attrs["error"] and ts[0].user_attrs["fused"] == 2
        assert ts[1].user_attrs["attempt"] == 2 and "fused" not in ts[1].user_attrs
        same_numbers(ts[1], one_at_a_time[key][0])


def test_auto_never_fuses_on_a_cpu(corpus, monkeypatch):
    monkeypatch.setattr(fused_reps, "fit_fused", lambda *a, **k: pytest.fail("fused on a CPU under auto"))
    monkeypatch.setattr(fused_probe, "fused_is_faster", lambda *a, **k: pytest.fail("probed on a CPU"))
    url = new_search(corpus, "auto")
    w = worker(corpus, url, "auto")
    assert w.fuse == "auto" and w.run() == 8


def test_a_bad_fuse_mode_is_refused(corpus, tmp_path, capsys):
    url = new_search(corpus, "bad")
    with pytest.raises(ConfigError, match=r"fuse='yes' is unknown; choose one of: auto, on, off"):
        worker(corpus, url, "bad", fuse="yes")
    tmp, _ = corpus
    with pytest.raises(SystemExit) as exit_:
        main(["search", str(tmp), "--grid", str(tmp / "grid.toml"), "--out", str(tmp_path), "--fuse", "always"])
    assert exit_.value.code == 2 and "invalid choice: 'always'" in capsys.readouterr().err


def test_auto_asks_the_probe_once_per_shape_and_a_failed_probe_means_one_at_a_time(corpus, monkeypatch):
    """What a GPU worker does under auto (the probe itself is tested in test_fused.py)."""
    from sertune.theta import Theta

    url = new_search(corpus, "probe")
    logged, asked = [], []
    w = worker(corpus, url, "probe", log=logged.append)

    w.device = torch.device("cuda")       # as a GPU worker (the probe is faked: no CUDA is touched)

    def probe(shape, k, device, **kwargs):
        asked.append((shape, k))
        if shape[0] == 40:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore detail")
        return shape[0] == 24

    monkeypatch.setattr(fused_probe, "fused_is_faster", probe)
    small, big, other = ((m, Theta(m, 400, 160, 1.0).frames(16000)) for m in (24, 40, 32))
    assert [w._fuses(small, 2), w._fuses(small, 2), w._fuses(big, 2), w._fuses(big, 2), w._fuses(other, 2)] == [
        True, True, False, False, False]
    assert asked == [((24, 101), 2), ((40, 101), 2), ((32, 101), 2)]
    assert "24 x 101 inputs, 2 trainings: fused on cuda (measured faster)" in logged[0]
    assert logged[1].endswith("40 x 101 inputs, 2 trainings: one at a time on cuda (the probe failed: "
                              "CUDA out of memory. Tried to allocate 2.00 GiB)")
    assert logged[2].endswith("32 x 101 inputs, 2 trainings: one at a time on cuda (measured slower)")


def test_features_that_fail_are_recorded_by_the_one_at_a_time_path(corpus, monkeypatch):
    """Computing a θ's features fails twice: nothing is fused for it, its first training records
    the error and the retry trains; the other settings are fused."""
    from sertune.study.worker_data import FeatureCache

    real, calls = FeatureCache.get, []

    def flaky(self, claim, theta, **kwargs):
        calls.append(claim.key)
        if len(calls) <= 2:
            raise RuntimeError("out of memory while computing features (simulated)")
        return real(self, claim, theta, **kwargs)

    monkeypatch.setattr(FeatureCache, "get", flaky)
    url = new_search(corpus, "features")
    assert worker(corpus, url, "features", fuse="on").run() == 8
    found = trials(url, "features")
    first = calls[0]
    assert [t.state for t in found[(first, 0)]] == [TrialState.FAIL, TrialState.COMPLETE]
    assert "computing features (simulated)" in found[(first, 0)][0].user_attrs["error"]
    assert [len(found[(first, 1)]), "fused" in found[(first, 1)][0].user_attrs] == [1, False]
    assert all(ts[0].user_attrs["fused"] == 2 for (key, _), ts in found.items() if key != first)


# -- settings of one input shape in one stack ----------------------------------------------------

@pytest.fixture(scope="module")
def pairs_one_at_a_time(corpus):
    url = new_search(corpus, "pairs-single", grid="pairs.toml")
    assert worker(corpus, url, "pairs-single", fuse="off").run() == 8
    return trials(url, "pairs-single")


def test_brute_force_stacks_the_settings_of_one_input_shape(corpus, pairs_one_at_a_time):
    """Both window lengths of an (M, H, T) and both repetitions: one stack of 4, the same numbers."""
    url = new_search(corpus, "pairs", grid="pairs.toml")
    assert worker(corpus, url, "pairs", fuse="on").run() == 8
    fused = trials(url, "pairs")
    assert fused.keys() == pairs_one_at_a_time.keys()
    for key, [t] in fused.items():
        same_numbers(t, pairs_one_at_a_time[key][0])
        assert t.user_attrs["fused"] == 4
    assert len({t.user_attrs["worker"] for [t] in fused.values()}) == 1       # status counts one worker
    rows = read_rows(make_engine(url), "pairs")
    assert [r.state for r in rows] == ["done"] * 4 and all(r.progress == 2 * TRAIN.epochs for r in rows)


def test_one_repetition_stacks_the_settings_of_one_shape(corpus, pairs_one_at_a_time):
    """With K = 1 the settings of a shape are what there is to stack: 2 window lengths, one stack."""
    url = new_search(corpus, "pairs-k1", grid="pairs.toml", reps=1)
    assert worker(corpus, url, "pairs-k1", fuse="on").run() == 4
    for key, [t] in trials(url, "pairs-k1", reps=1).items():
        same_numbers(t, pairs_one_at_a_time[key][0])
        assert t.user_attrs["fused"] == 2


@pytest.mark.parametrize("strategy,max_members", [("asha:eta=2", 40), (None, 3)])
def test_only_order_free_strategies_stack_settings_and_at_most_max_members(corpus, monkeypatch, strategy,
                                                                           max_members):
    """ASHA's rungs depend on which settings reported first: each θ alone (its repetitions fused).
    With room for fewer than two settings' repetitions, no θ takes a sibling either."""
    monkeypatch.setattr(fused_reps, "MAX_MEMBERS", max_members)
    name = f"pairs-{strategy or 'brute'}-{max_members}".replace(":", "-").replace("=", "-")
    url = new_search(corpus, name, grid="pairs.toml", strategy=strategy)
    worker(corpus, url, name, fuse="on").run()
    stacks = {t.user_attrs.get("fused") for ts in trials(url, name).values() for t in ts
              if t.user_attrs.get("epochs_run", 0) > 0}
    assert stacks == {2}


def test_a_stopped_stack_of_settings_gives_every_setting_back(corpus, pairs_one_at_a_time, tmp_path,
                                                             monkeypatch):
    """Stopped in the first epoch: all 4 members save epoch 1 and stay running, both θs go back to
    the queue, and the next worker finishes every member to the same numbers."""
    url = new_search(corpus, "pairs-stopped", grid="pairs.toml")
    calls = []
    stop = lambda: calls.append(1) or len(calls) > 1   # noqa: E731  the worker's first look says go on
    with pytest.raises(runner.WorkerStopped):
        worker(corpus, url, "pairs-stopped", fuse="on", out=tmp_path, stop=stop).run()
    running = trials(url, "pairs-stopped")
    assert len(running) == 4 and all(t.state == TrialState.RUNNING for [t] in running.values())
    assert len({key for key, _ in running}) == 2
    for key, r in running:
        assert saved_epoch(tmp_path / "checkpoints" / f"rep{r}" / f"{key}.pt") == 1
    assert [r.state for r in read_rows(make_engine(url), "pairs-stopped")] == ["open"] * 4
    stacks = spy_stacks(monkeypatch)
    assert worker(corpus, url, "pairs-stopped", fuse="on", out=tmp_path).run() == 8
    assert stacks == [[1, 1, 1, 1], None]           # the 4 went on in one stack; then the fresh pair
    for k, [t] in trials(url, "pairs-stopped").items():
        same_numbers(t, pairs_one_at_a_time[k][0])
        assert t.user_attrs.get("resumed_from") == ([1] if k in running else None)


@pytest.mark.parametrize("faster_at,siblings", [({2, 4}, 1), ({2}, 0)])
def test_auto_takes_siblings_only_where_the_probe_measures_their_stack_faster(corpus, monkeypatch, faster_at,
                                                                             siblings):
    """A GPU worker under auto: the probe of all the settings' repetitions decides before any sibling
    is claimed, so a worker never holds settings it would then train one at a time."""
    name = f"pairs-auto-{siblings}"
    url = new_search(corpus, name, grid="pairs.toml")
    w = worker(corpus, url, name, log=lambda line: None)
    w.device = torch.device("cuda")       # as a GPU worker (the probe is faked: no CUDA is touched)
    asked = []
    monkeypatch.setattr(fused_probe, "fused_is_faster",
                        lambda shape, k, device, **kw: asked.append(k) or k in faster_at)
    claim = w.book.acquire()
    got = w._siblings(claim)
    assert asked == [4] and len(got) == siblings
    held = {r.key for r in read_rows(make_engine(url), name) if r.state == "held"}
    assert held == {claim.key, *(c.key for c in got)} and len(held) == 1 + siblings
    assert all(w._shape(c.key) == w._shape(claim.key) for c in got)


def test_two_workers_stack_settings_without_training_any_twice(corpus, synth_savee, tmp_path, capsys):
    """`sertune search --workers 2 --fuse on` on pairs of one shape: every (θ, r) trained once, in
    stacks of 4, or of 2 where the other worker claimed the sibling first (it is not taken from
    it: which happens is a race), and status counts no θ twice."""
    tmp, _ = corpus
    out = tmp_path / "two"
    assert main(["search", str(synth_savee), "--grid", str(tmp / "pairs.toml"), "--reps", "2", "--epochs", "2",
                 "--lr", "1e-3", "--batch-size", "8", "--precision", "fp32", "--cache-dir", str(tmp / "cache"),
                 "--devices", "cpu", "--threads", "1", "--workers", "2", "--fuse", "on", "--out", str(out)]) == 0
    found = trials(f"sqlite:///{out / 'study.db'}", "two")
    assert len(found) == 8 and all(len(ts) == 1 for ts in found.values())
    assert all(t.state == TrialState.COMPLETE and t.user_attrs["fused"] in (2, 4) for [t] in found.values())
    for size in (2, 4):         # a stack's members: all its θs' repetitions, trained by one worker
        stack = [(key, t.user_attrs["worker"]) for (key, _), [t] in found.items() if t.user_attrs["fused"] == size]
        assert len(stack) % size == 0 and all(len({w for k, w in stack if k == key}) == 1 for key, _ in stack)
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 0
    doc = __import__("json").loads(capsys.readouterr().out)
    assert (doc["complete"], doc["duplicates"], doc["running"]) == (8, 0, 0)


def test_auto_takes_fewer_siblings_where_all_of_them_would_not_be_faster(corpus, monkeypatch):
    """Three window lengths of one shape: 6 members measured slower (e.g. out of memory), 4 faster:
    the worker takes one sibling, not two."""
    tmp, _ = corpus
    (tmp / "triples.toml").write_text("n_mels = [24]\nwin_length = [400, 512, 640]\nhop_length = [160]\n"
                                      "segment = [1.0]\n")
    url = new_search(corpus, "triples", grid="triples.toml")
    w = worker(corpus, url, "triples", log=lambda line: None)
    w.device = torch.device("cuda")       # as a GPU worker (the probe is faked: no CUDA is touched)
    asked = []
    monkeypatch.setattr(fused_probe, "fused_is_faster", lambda shape, k, device, **kw: asked.append(k) or k <= 4)
    assert len(w._siblings(w.book.acquire())) == 1 and asked == [6, 4]


def test_a_bug_while_stacking_settings_gives_every_setting_back_with_the_error(corpus, monkeypatch):
    """As for one θ: a bug in sertune (not a training error) is logged and each claim given back,
    and after repeated failures marked failed with the error; the worker itself goes on."""
    def broken(self, claim, r, **kwargs):
        raise RuntimeError("stacking bug (simulated)")

    monkeypatch.setattr(runner.Worker, "_member", broken)
    url = new_search(corpus, "pairs-bug", grid="pairs.toml")
    logged = []
    assert worker(corpus, url, "pairs-bug", fuse="on", log=logged.append).run() == 0
    rows = read_rows(make_engine(url), "pairs-bug")
    assert [(r.state, r.failures) for r in rows] == [("failed", runner.MAX_CLAIM_FAILURES)] * 4
    assert any("Traceback" in line and "RuntimeError: stacking bug (simulated)" in line for line in logged)
