"""Replay: a live search and its replay agree trial for trial; curves files; regret arithmetic; the CLI."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from sertune.cli import main
from sertune.errors import ConfigError
from sertune.study.store import curves as cv
from sertune.study.store.merge import merge
from sertune.study.store import recording
from sertune.study.replay.lab import make_orders, replay, select, strategy_shares
from sertune.study.replay.scales import ranking_oracle, runner_up_regret
from sertune.study.store.storage import open_storage, rep_name
from sertune.study.strategies.registry import Outcome, parse_strategy

GRID = "n_mels = [24, 40]\nwin_length = [255, 511]\nhop_length = [160, 320]\nsegment = [1.0]\n"
TRAIN = ["--reps", "2", "--epochs", "4", "--lr", "1e-3", "--batch-size", "16", "--precision", "fp32", "--seed", "3"]


@pytest.fixture(scope="module")
def recorded(synth_savee, tmp_path_factory, run_sertune):
    """A brute-force search (8 settings x 2 repetitions x 4 epochs) and a search of each LIVE strategy
    with the same seed."""
    tmp = tmp_path_factory.mktemp("replay")
    (tmp / "grid.toml").write_text(GRID)
    # --json: no --plan probe before each of these searches (seconds each; nothing here reads it).
    common = [str(synth_savee), *TRAIN, "--json", "--cache-dir", tmp / "cache", "--devices", "cpu", "--threads", "1"]
    run_sertune(["search", "--grid", tmp / "grid.toml", *common, "--out", tmp / "brute"],
                *(["search", "--grid", tmp / "grid.toml", *common, "--out", tmp / name, "--strategy", spec]
                  for name, spec in LIVE.items()))
    return tmp


#: Live searches of the fixture: output folder (= search name) -> strategy.
LIVE = {"asha": "asha:eta=2", "screen": "asha-screen:reps=1,keep=0.5,eta=2", "random": "random:budget=3",
        "tpe": "tpe:budget=4,startup=2", "topk": "topk:n=2,k=3", "repfid": "repfid:reps=1,n=2,top=3",
        "repfid-full": "repfid:reps=1,top=2"}


def trials_of(folder, name: str, reps: int) -> dict:
    storage = open_storage(f"sqlite:///{folder / 'study.db'}")
    out = {}
    for r in range(reps):
        study = optuna.load_study(study_name=rep_name(name, r), storage=storage)
        for t in study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)):
            out[(r, t.params["theta"])] = t
    return out


@pytest.mark.parametrize("name", LIVE)
@pytest.mark.slow
def test_a_live_search_and_its_replay_prune_spend_and_select_the_same(recorded, name):
    curves = recording.open_curves(recorded / "brute")
    assert (curves.n_settings, curves.reps, curves.epochs) == (8, 2, 4) and not curves.notes
    strategy = parse_strategy(LIVE[name])
    orders, seeds = curves.live_order()[None], np.array([curves.seed])   # replay's order 0
    assert (seeds == make_orders(curves, 3, seed=11)[1][:1]).all()
    outcome = strategy.replay(curves, orders, seeds)
    live = trials_of(recorded / name, name, 2)
    assert len(live) == 16
    pruned = 0
    for r in range(2):
        for s, key in enumerate(curves.keys):
            t = live[(r, key)]
            assert (t.state == TrialState.COMPLETE) == outcome.complete[0, r, s], (r, key)
            assert t.user_attrs["epochs_run"] == outcome.spent[0, r, s], (r, key)
            pruned += t.state == TrialState.PRUNED
    assert pruned > 0, f"{name} pruned nothing here: the comparison would show nothing"
    if name == "screen":     # some settings were screened out of repetition 1 without training
        assert any(t.user_attrs["epochs_run"] == 0 and "skipped" in t.user_attrs
                   for (r, _), t in live.items() if r == 1)
    if name.startswith("topk"):   # every training waited at epoch 2; the top 3 of each repetition resumed from there
        assert all(t.user_attrs.get("resumed_from") == [2] for t in live.values() if t.state == TrialState.COMPLETE)
    if name.startswith("repfid"):     # the other repetition waited for the barrier: its losers were never trained
        screen = strategy.before_barrier(2, curves.seed)
        assert len(screen) == 1
        other = [t for (r, _), t in live.items() if r not in screen]
        assert sum("skipped" in t.user_attrs for t in other) == 8 - {"repfid": 3, "repfid-full": 2}[name]
    if strategy.picks:       # the settings not chosen were recorded on every repetition, untrained
        chosen_here = {key for (r, key), t in live.items() if t.state == TrialState.COMPLETE}
        assert len(chosen_here) == {"random": 3, "tpe": 4}[name]
        assert all(("skipped" in t.user_attrs) == (key not in chosen_here) for (_, key), t in live.items())
    chosen = select(curves, outcome, orders)[0]
    for r in range(2):
        complete = [t for (rr, _), t in live.items() if rr == r and t.state == TrialState.COMPLETE]
        best = min(complete, key=lambda t: (-t.value, t.number))
        assert best.params["theta"] == curves.keys[chosen[r]]
        assert best.user_attrs["test"]["wa"] == pytest.approx(curves.test_wa[r, chosen[r], -1])


def two_worker_search(recorded, corpus, name: str, strategy: str, *, epochs: int, seed: int):
    """A search of the fixture's grid by two CPU workers; returns its output folder."""
    out = recorded / name
    assert main(["search", str(corpus), "--grid", str(recorded / "grid.toml"), "--reps", "2", "--epochs", str(epochs),
                 "--lr", "1e-3", "--batch-size", "16", "--precision", "fp32", "--seed", str(seed), "--cache-dir",
                 str(recorded / "cache"), "--devices", "cpu", "--threads", "1", "--workers", "2",
                 "--strategy", strategy, "--out", str(out), "--json"]) == 0
    return out


@pytest.mark.slow
def test_two_workers_train_exactly_the_budget_a_choosing_strategy_allows(recorded, synth_savee, capsys):
    """Two workers asking TPE at once: each chosen θ is trained once on every repetition (a worker
    that lost the race for its choice gives the claim back and asks again), the rest are skipped."""
    out = two_worker_search(recorded, synth_savee, "two-workers", "tpe:budget=3,startup=1", epochs=1, seed=4)
    storage = open_storage(f"sqlite:///{out / 'study.db'}")
    for r in range(2):
        trials = optuna.load_study(study_name=rep_name("two-workers", r), storage=storage).get_trials()
        assert len(trials) == 8 and len({t.params["theta"] for t in trials}) == 8     # no θ twice
        trained = [t for t in trials if t.state == TrialState.COMPLETE]
        assert len(trained) == 3 and all(t.user_attrs["epochs_run"] == 1 for t in trained)
        assert all("skipped" in t.user_attrs for t in trials if t.state != TrialState.COMPLETE)
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["complete"], doc["pruned"], doc["skipped"]) == (6, 10, 10)
    assert main(["status", str(out)]) == 0
    assert "10 pruned (10 of them skipped, never trained)" in capsys.readouterr().out


@pytest.mark.slow
def test_two_workers_wait_at_the_barrier_of_topk_then_finish_its_top_k(recorded, synth_savee, capsys):
    """topk:n=1,k=2 with two workers: every (θ, r) is trained one epoch and parked, then exactly the
    top 2 of each repetition by validation WA (ties to the earlier claim) go on from their checkpoints."""
    out = two_worker_search(recorded, synth_savee, "topk-two", "topk:n=1,k=2", epochs=3, seed=5)
    storage = open_storage(f"sqlite:///{out / 'study.db'}")
    from sertune.study.store.claims import make_engine, read_rows
    position = {row.key: row.position for row in read_rows(make_engine(f"sqlite:///{out / 'study.db'}"), "topk-two")}
    for r in range(2):
        trials = optuna.load_study(study_name=rep_name("topk-two", r), storage=storage).get_trials()
        assert len(trials) == 8 and len({t.params["theta"] for t in trials}) == 8     # no θ twice
        ranked = sorted(trials, key=lambda t: (-t.intermediate_values[1], position[t.params["theta"]]))
        assert [t.state for t in ranked] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED] * 6
        assert [t.user_attrs["epochs_run"] for t in ranked] == [3, 3] + [1] * 6
    assert not list((out / "checkpoints").rglob("*.pt"))          # pruned or finished: nothing left behind
    capsys.readouterr()
    assert main(["status", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["complete"], doc["pruned"], doc["running"]) == (4, 12, 0)


@pytest.mark.slow
def test_recorded_test_curve_ends_at_the_trial_test_result(recorded):
    for t in trials_of(recorded / "brute", "brute", 2).values():
        last = max(t.user_attrs[cv.TEST_CURVE])
        assert last[0] == t.user_attrs["best_epoch"]
        assert last[1] == pytest.approx(t.user_attrs["test"]["wa"])
        improving = [e for e, *_ in t.user_attrs[cv.TEST_CURVE]]
        values = [t.intermediate_values[e] for e in range(1, 5)]
        assert improving == [e for e in range(1, 5) if values[e - 1] > max(values[:e - 1], default=-1)]


@pytest.mark.slow
def test_curves_file_round_trip_and_cli(recorded, tmp_path, capsys):
    path = tmp_path / "study.curves.npz"
    assert main(["curves", str(recorded / "brute"), "--out", str(path)]) == 0
    assert "wrote" in capsys.readouterr().out
    a, b = recording.open_curves(recorded / "brute"), cv.load(path)
    assert a.keys == b.keys and a.seed == b.seed
    for part in ("val", "test_wa", "test_ua"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert main(["replay", str(path), "--strategy", "asha", "--strategy", "topk:n=1,k=2", "--orders", "5",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["spec"] for s in doc["strategies"]] == ["asha:eta=3,min=1,bootstrap=0", "topk:n=1,k=2"]
    assert (tmp_path / "study.curves-replay" / "replay.png").stat().st_size > 10_000


def _part(keys, *, seed=0, epochs=3, lr=1e-3, shift=0.0, splits=None):
    """Handmade curves of ``keys`` (θ keys) as a record of one corpus holds them."""
    n = len(keys)
    val = np.arange(2 * n * epochs, dtype=float).reshape(2, n, epochs) + shift
    source = {"corpus": {"name": "savee", "root": f"/data/{shift}"}, "settings": {"lr": lr, "strategy": "brute"},
              "classes": ["a", "b"], "test_utterances": [40, 40]}
    if splits:
        source["split_digests"] = splits
    return cv.Curves(name=f"part{shift}", keys=tuple(keys), val=val, test_wa=val + 1, test_ua=val + 2, seed=seed,
                     source=source)


def test_merge_orders_settings_as_a_product_grid_and_keeps_one_copy_of_a_shared_setting():
    a = _part(["M40-L255-H160-T1", "M24-L511-H160-T1"])
    b = _part(["M24-L255-H160-T1", "M40-L255-H160-T1"], shift=0.0)
    b = cv.Curves(name="b", keys=b.keys, val=np.concatenate([a.val[:, :1] - 50, a.val[:, :1]], axis=1),
                  test_wa=np.concatenate([a.test_wa[:, :1] - 50, a.test_wa[:, :1]], axis=1),
                  test_ua=np.concatenate([a.test_ua[:, :1] - 50, a.test_ua[:, :1]], axis=1), source=a.source)
    merged = merge([a, b])
    assert merged.keys == ("M24-L255-H160-T1", "M40-L255-H160-T1", "M24-L511-H160-T1")
    np.testing.assert_array_equal(merged.val[:, 1], a.val[:, 0])
    np.testing.assert_array_equal(merged.val[:, 0], a.val[:, 0] - 50)
    assert merged.name == "part0.0+b" and [p["settings"] for p in merged.source["parts"]] == [2, 2]
    assert merge([a]) is a


@pytest.mark.parametrize("other, match", [
    (dict(epochs=4), r"differ from 'part0.0' in epochs: 4 vs 3; only records of one corpus and training"),
    (dict(seed=1), r"in seed: 1 vs 0"),
    (dict(lr=1e-4), r"in training settings: .*0.0001.* vs .*0.001"),
    (dict(shift=1.0, splits=["b", "b"]), r"were trained on different splits"),
    (dict(shift=1.0, keys=["M24-L255-H160-T1"]), r"setting M24-L255-H160-T1 is in two records with different curves"),
])
def test_merge_refuses_records_that_were_not_trained_alike(other, match):
    mine = _part(["M24-L255-H160-T1"], splits=["a", "a"])
    keys = other.pop("keys", ["M40-L255-H160-T1"])
    with pytest.raises(ConfigError, match=match):
        merge([mine, _part(keys, **other)])


def test_curves_cli_without_a_study_is_one_error_line(capsys):
    assert main(["curves", "--out", "x.npz"]) == 2
    assert capsys.readouterr().err == ("error: give STUDY (a curves .npz, or the --out folder of `sertune search`) "
                                       "or --storage URL\n")


def test_replay_cli_runs_tpe_with_and_without_pruning(tmp_path, capsys):
    path = cv.save(cv.synthesize(settings=20, reps=2, epochs=9, seed=1), tmp_path / "s.curves.npz")
    assert main(["replay", str(path), "--strategy", "tpe:budget=0.2", "--strategy", "tpe:budget=0.2,prune=1",
                 "--orders", "3", "--json"]) == 0
    plain, pruned = json.loads(capsys.readouterr().out)["strategies"]
    assert (plain["spec"], pruned["spec"]) == ("tpe:budget=0.2,startup=10,prune=0", "tpe:budget=0.2,startup=10,prune=1")
    assert plain["epoch_fraction"]["mean"] == pytest.approx(4 / 20) and plain["no_selection"] == 0
    assert pruned["epoch_fraction"]["mean"] < plain["epoch_fraction"]["mean"]


@pytest.mark.slow
def test_report_shows_the_replay_of_its_study(recorded, tmp_path, capsys):
    assert main(["replay", str(recorded / "brute"), "--orders", "3", "--strategy", "asha"]) == 0
    assert main(["report", str(recorded / "brute"), "--out", str(tmp_path / "report")]) == 0
    html = (tmp_path / "report" / "report.html").read_text()
    assert 'id="replay"' in html and "asha:eta=3,min=1" in html
    assert "runner-up by validation WA loses" in html and "a perfect ranking of the settings" in html
    assert (tmp_path / "report" / "replay.png").is_file()


@pytest.mark.slow
def test_replay_refuses_a_search_that_is_not_brute_force(recorded, capsys):
    assert main(["replay", str(recorded / "asha")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: search 'asha' ran strategy 'asha:eta=2,min=1,bootstrap=0': replay needs a "
                          "brute-force record") and err.count("\n") == 1


def test_regret_and_selection_arithmetic_on_handmade_curves():
    # 3 settings, 1 repetition, 2 epochs. Setting 2 has the best validation, setting 0 the best test.
    val = np.array([[[50.0, 60.0], [40.0, 55.0], [30.0, 70.0]]])
    test = np.array([[[70.0, 80.0], [50.0, 50.0], [60.0, 65.0]]])
    curves = cv.Curves(name="h", keys=("a", "b", "c"), val=val, test_wa=test, test_ua=test)
    orders = np.array([[0, 1, 2]])
    only_ab = Outcome(np.array([[[2, 2, 1]]]), np.array([[[True, True, False]]]))
    assert select(curves, only_ab, orders).tolist() == [[0]]
    (result,) = replay(curves, ["topk:n=1,k=2"], orders=1)
    # topk after 1 epoch keeps a (50) and b (40); a is selected: test 80 against brute force's c: 65.
    assert result.regret.mean == pytest.approx(65.0 - 80.0)
    assert result.epoch_fraction.mean == pytest.approx((3 * 1 + 2 * 1) / 6)
    assert result.same_theta == 0 and result.selected == ["a"]


def test_strategy_shares_weigh_epochs_by_the_plans_seconds():
    """--plan's estimate: a strategy that trains the best settings longest spends more device time than
    epochs when those settings are the dearest (as on the real EmoDB record), and the same without costs."""
    size = dict(settings=12, reps=3, epochs=10)
    assert strategy_shares("brute", **size) == (1.0, 1.0)
    epochs, device = strategy_shares("topk:n=1,k=1", **size)
    assert epochs == pytest.approx(device) and 0 < epochs < 0.5
    curves = cv.synthesize(**size)
    kept = np.unique(curves.val[:, :, 0].argmax(axis=1))      # what topk:n=1,k=1 keeps: each repetition's leader
    seconds = np.ones(12)
    seconds[kept] = 50.0
    epochs_dear, device_dear = strategy_shares("topk:n=1,k=1", **size, epoch_seconds=seconds)
    assert epochs_dear == pytest.approx(epochs) and device_dear > 1.5 * epochs
    with pytest.raises(ConfigError, match="epoch_seconds has shape"):
        strategy_shares("topk:n=1,k=1", **size, epoch_seconds=[1.0, 2.0])


def test_runner_up_regret_is_what_brute_forces_second_choice_loses_on_test():
    # 2 repetitions. Rep 0: c best by validation (test 65), a second (test 80): -15. Rep 1: b then c: 90 - 60.
    val = np.array([[[50.0, 60.0], [40.0, 55.0], [30.0, 70.0]], [[10.0, 20.0], [50.0, 90.0], [30.0, 80.0]]])
    test = np.array([[[70.0, 80.0], [50.0, 50.0], [60.0, 65.0]], [[0.0, 10.0], [70.0, 90.0], [50.0, 60.0]]])
    curves = cv.Curves(name="h", keys=("a", "b", "c"), val=val, test_wa=test, test_ua=test)
    assert runner_up_regret(curves) == pytest.approx(((65.0 - 80.0) + (90.0 - 60.0)) / 2)
    one = cv.Curves(name="one", keys=("a",), val=val[:, :1], test_wa=test[:, :1], test_ua=test[:, :1])
    assert runner_up_regret(one) == 0.0


def test_ranking_oracle_trains_only_the_settings_best_on_average():
    # 4 settings x 2 repetitions, final validation WA (epoch 2) and test WA:
    #   rep 0: val a 60, b 70, c 50, d 90 (d: θ_0*); test a 60, b 75, c 40, d 80
    #   rep 1: val a 80, b 75, c 60, d 40 (a: θ_1*); test a 70, b 72, c 50, d 30
    # mean val: a 70, b 72.5, c 55, d 65. At 50 % the oracle trains b and a: rep 0 picks b
    # (70 > 60): 80 - 75 = 5 lost; rep 1 picks a = θ_1*: 0 lost.
    val = np.array([[[0.0, 60.0], [0.0, 70.0], [0.0, 50.0], [0.0, 90.0]],
                    [[0.0, 80.0], [0.0, 75.0], [0.0, 60.0], [0.0, 40.0]]])
    test = np.array([[[0.0, 60.0], [0.0, 75.0], [0.0, 40.0], [0.0, 80.0]],
                     [[0.0, 70.0], [0.0, 72.0], [0.0, 50.0], [0.0, 30.0]]])
    curves = cv.Curves(name="o", keys=("a", "b", "c", "d"), val=val, test_wa=test, test_ua=test)
    # Setting regret scores each pick on the other repetition: θ_r* d, a -> 30, 60; the oracle's b, a
    # -> 72, 60: -21 (d won repetition 0 by luck; it is the worst setting on the other one).
    assert ranking_oracle(curves, 0.5) == {"budget": 0.5, "settings": 2, "epoch_fraction": 0.5,
                                           "regret": pytest.approx(2.5), "setting_regret": pytest.approx(-21.0)}
    # 10 %: still one setting (b): rep 0 loses 5, rep 1 gains 2 (72 against θ_1*'s 70).
    assert ranking_oracle(curves, 0.1)["settings"] == 1
    assert ranking_oracle(curves, 0.1)["regret"] == pytest.approx((5.0 - 2.0) / 2)
    assert ranking_oracle(curves, 1.0)["regret"] == 0.0          # every setting: brute force itself
    with pytest.raises(ConfigError, match=r"budget=0 must be a fraction in \(0, 1\]"):
        ranking_oracle(curves, 0)


def test_replay_cli_prints_and_saves_both_scales(tmp_path, capsys):
    path = cv.save(cv.synthesize(settings=20, reps=2, epochs=9, seed=1), tmp_path / "s.curves.npz")
    assert main(["replay", str(path), "--strategy", "asha", "--orders", "2", "--budget", "25%"]) == 0
    out = capsys.readouterr().out
    assert "scale: brute force's own runner-up by validation WA loses" in out
    assert "a perfect ranking of the settings" in out and "training only the best 5 (25.0% of the epochs)" in out
    doc = json.loads((tmp_path / "s.curves-replay" / "replay.json").read_text())
    assert doc["ranking_oracle"] == ranking_oracle(cv.load(path), 0.25)


def test_ties_in_selection_go_to_the_earliest_arrival():
    val = np.full((1, 3, 1), 50.0)
    curves = cv.Curves(name="t", keys=("a", "b", "c"), val=val, test_wa=val, test_ua=val)
    everything = Outcome(np.ones((2, 1, 3), int), np.ones((2, 1, 3), bool))
    assert select(curves, everything, np.array([[2, 0, 1], [1, 2, 0]])).tolist() == [[2], [1]]


def test_orders_start_with_the_recorded_claim_order_and_repeat_with_the_seed():
    curves = cv.synthesize(settings=10, reps=1, epochs=3, seed=0)
    a, sa = make_orders(curves, 4, 7)
    b, sb = make_orders(curves, 4, 7)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_array_equal(a[0], curves.live_order())
    assert all(sorted(o) == list(range(10)) for o in a)


@pytest.mark.parametrize("args, match", [
    (["replay", "{tmp}/none.npz"], r"curves file .*none.npz does not exist"),
    (["replay", "{tmp}/bad.npz"], r"bad.npz is not a sertune curves file"),
    (["replay", "{tmp}/ok.npz", "--strategy", "nope"], r"strategy 'nope' is unknown; choose one of: brute"),
    (["replay", "{tmp}/ok.npz", "--orders", "0"], r"orders=0 must be a positive integer"),
    (["replay", "{tmp}/ok.npz", "--strategy", "repfid:reps=5"], r"reps=5 is more than the study's 2 repetitions"),
    (["replay", "{tmp}/ok.npz", "--budget", "1%"], r"no strategy was replayed below 10% of brute force.s device time; give --budget 10% or more"),
])
def test_replay_bad_input_is_one_error_line(tmp_path, capsys, args, match):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    cv.save(cv.synthesize(settings=4, reps=2, epochs=3), tmp_path / "ok.npz")
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    import re
    assert re.search(match, err), err
