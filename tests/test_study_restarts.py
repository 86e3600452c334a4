"""The restart control: one setting trained N times per repetition with other seeds, kept apart
from the grid (`sertune train --restarts`, `sertune search --restarts --control`)."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from study_fixtures import CONTROL_GRID as GRID, CONTROL_TRAIN as TRAIN

from sertune.cli import main
from sertune.study.search.progress import read_progress
from sertune.study.store import recording
from sertune.study.store.storage import open_storage, rep_name, restarts_name
from sertune.training.fit import rep_seed, restart_seed

USUAL = "M40-L400-H160-T3"


def test_restart_seeds_start_from_the_repetitions_own_and_differ():
    assert restart_seed(5, 1, 0) == rep_seed(5, 1)
    seeds = {restart_seed(5, r, i) for r in range(3) for i in range(4)}
    assert len(seeds) == 12


@pytest.fixture(scope="module")
def searched(restart_searches):
    return restart_searches


def trials(folder, study_name):
    storage = open_storage(f"sqlite:///{folder / 'study.db'}")
    return optuna.load_study(study_name=study_name, storage=storage).get_trials()


@pytest.mark.slow
def test_the_control_trains_its_restarts_apart_and_leaves_the_grid_as_it_was(searched):
    for r in range(2):
        plain = {t.params["theta"]: t.value for t in trials(searched / "plain", rep_name("plain", r))}
        grid = {t.params["theta"]: t.value for t in trials(searched / "control", rep_name("control", r))}
        assert grid == plain                        # the control changes no number of the grid, selects nothing
        extra = trials(searched / "control", restarts_name("control", r))
        assert sorted(t.user_attrs["restart"] for t in extra) == [1, 2]
        assert all(t.state == TrialState.COMPLETE and t.params["theta"] == USUAL for t in extra)
        assert all("model" not in t.user_attrs for t in extra)      # it competes for no selected model
    curves = recording.open_curves(searched / "control")
    assert curves.restarts.key == USUAL and curves.restarts.val.shape == (2, 3, 2)
    i = curves.keys.index(USUAL)
    np.testing.assert_array_equal(curves.restarts.val[:, 0], curves.val[:, i])      # restart 0: the grid's
    # Other seeds: at 2 epochs on 12 validation utterances a curve can repeat by chance, not all of them.
    assert any(not np.array_equal(curves.restarts.val[:, i], curves.restarts.val[:, 0]) for i in (1, 2))
    assert curves.epoch_seconds is not None and (curves.epoch_seconds > 0).all()
    assert recording.open_curves(searched / "plain").restarts is None
    # Status counts the control's trainings in its totals, and says so in a line of its own.
    state = read_progress(f"sqlite:///{searched / 'control' / 'study.db'}", "control")
    assert state.control == {"theta": USUAL, "planned": 4, "done": 4}
    assert (state.planned, state.done) == (2 * 2 + 4, 2 * 2 + 4)


@pytest.mark.slow
def test_a_control_added_to_a_stored_search_of_other_settings_trains_the_very_same_trainings(searched,
                                                                                              synth_savee):
    """θ• not in the grid: the control trains its restarts 0..N-1 itself. Added when a finished search
    is resumed, it changes none of the grid's numbers, and its restart 0 is, bit for bit, the
    training a search with θ• in its grid made (same split, same seed)."""
    args = ["search", str(synth_savee), "--grid", str(searched / "other.toml"), *TRAIN, "--devices", "cpu", "--json",
            "--threads", "1", "--cache-dir", str(searched / "cache"), "--out", str(searched / "added")]
    before = [{t.params["theta"]: t.value for t in trials(searched / "added", rep_name("added", r))} for r in range(2)]
    assert main([*args, "--restarts", "3"]) == 0
    after = [{t.params["theta"]: t.value for t in trials(searched / "added", rep_name("added", r))} for r in range(2)]
    assert after == before and all(USUAL not in b for b in before)
    curves = recording.open_curves(searched / "added")
    assert curves.restarts.key == USUAL and curves.restarts.val.shape == (2, 3, 2) and USUAL not in curves.keys
    grid_usual = recording.open_curves(searched / "plain")
    np.testing.assert_array_equal(curves.restarts.val[:, 0], grid_usual.val[:, grid_usual.keys.index(USUAL)])
    np.testing.assert_array_equal(curves.restarts.test_wa[:, 0],
                                  grid_usual.test_wa[:, grid_usual.keys.index(USUAL)])
    assert main(["report", str(searched / "added")]) == 0
    doc = json.loads((searched / "added" / "report" / "report.json").read_text())
    assert doc["gain"]["restarts"] == 3 and doc["gain"]["name"] == "θ•" and doc["gain"]["reps"] == [0, 1]
    # With the search that holds θ• in its grid, as parts of one record, it reports as the one search of
    # both settings with the control does: every number, the gain's too.
    assert main(["report", str(searched / "added"), str(searched / "plain"), "--out", str(searched / "merged")]) == 0
    assert main(["report", str(searched / "control")]) == 0
    merged = json.loads((searched / "merged" / "report.json").read_text())
    whole = json.loads((searched / "control" / "report" / "report.json").read_text())
    for key in ("coverage", "table3", "table4", "table5", "heatmap", "marginals", "gain"):
        assert merged[key] == whole[key], key
    assert merged["study"]["name"] == "added+plain" and merged["gain"]["settings"] == 2


@pytest.mark.slow
def test_resuming_with_another_control_is_refused(searched, synth_savee, capsys):
    args = ["search", str(synth_savee), "--grid", str(searched / "grid.toml"), *TRAIN, "--devices", "cpu",
            "--threads", "1", "--cache-dir", str(searched / "cache"), "--out", str(searched / "control")]
    assert main([*args, "--restarts", "4"]) == 2
    assert "restart control" in capsys.readouterr().err


@pytest.mark.parametrize("extra, match", [
    (["--restarts", "0"], r"error: restarts=0 must be a positive integer"),
    (["--restarts", "two"], r"error: .*--restarts"),
    (["--restarts", "3", "--control", "M40-L400-H0-T1"], r"error: .*hop"),
    (["--restarts", "3", "--control", "big"], r"error: control='big' is not a setting"),
])
def test_bad_restart_settings_are_one_error_line_before_any_work(synth_savee, tmp_path, capsys, extra, match):
    (tmp_path / "grid.toml").write_text(GRID)
    try:          # argparse's own errors (a non-integer) exit with the same one line and status
        code = main(["search", str(synth_savee), "--grid", str(tmp_path / "grid.toml"), "--out", str(tmp_path / "o"),
                     "--cache-dir", str(tmp_path / "cache"), *extra])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert __import__("re").search(match, err), err
    assert not (tmp_path / "o").exists() and not (tmp_path / "cache").exists()     # nothing decoded


@pytest.mark.slow
def test_train_restarts_keeps_the_best_by_validation_and_reports_one_training(synth_savee, tmp_path, capsys):
    base = ["train", str(synth_savee), "--n-mels", "24", "--win-length", "400", "--hop-length", "320",
            "--segment", "1", "--reps", "2", "--epochs", "2", "--lr", "1e-3", "--precision", "fp32",
            "--threads", "1", "--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--out", str(tmp_path / "one")]) == 0
    assert main([*base, "--restarts", "3", "--out", str(tmp_path / "three")]) == 0
    out = capsys.readouterr().out
    assert "restart control: 3 trainings per repetition" in out and "best of 3 by validation" in out
    one = json.loads((tmp_path / "one" / "metrics.json").read_text())
    doc = json.loads((tmp_path / "three" / "metrics.json").read_text())
    control = doc["restarts"]
    assert control["n"] == 3 and len(control["runs"]) == 2 and all(len(r) == 3 for r in control["runs"])
    for r, runs in enumerate(control["runs"]):
        assert runs[0]["val_wa"] == one["reps"][r]["val"]["utterance"]["wa"]       # restart 0 = one training
        assert runs[0]["test_wa"] == one["reps"][r]["test"]["utterance"]["wa"]
        kept = max(range(3), key=lambda i: (runs[i]["val_wa"], -i))
        assert control["kept"][r] == kept == doc["reps"][r]["restart"]
        assert doc["reps"][r]["test"]["utterance"]["wa"] == runs[kept]["test_wa"]
    mean = np.mean([[run["test_wa"] for run in runs] for runs in control["runs"]], axis=1)
    assert control["mean"]["test"]["wa"]["mean"] == pytest.approx(mean.mean())
    assert doc["summary"]["test"]["wa"] == control["best"]["test"]["wa"]


@pytest.mark.parametrize("value, match", [("0", r"restarts=0 must be a positive integer"),
                                          ("1.5", r"restarts=1.5 must be a positive integer")])
def test_train_refuses_bad_restarts(synth_savee, tmp_path, capsys, value, match):
    (tmp_path / "c.toml").write_text(f"restarts = {value}\n")
    code = main(["train", str(synth_savee), "--n-mels", "24", "--win-length", "400", "--hop-length", "320",
                 "--segment", "1", "--config", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and __import__("re").search(match, err), err
