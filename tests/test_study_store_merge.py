"""store/merge.py on stored studies: searches of other settings report as one search of their union."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from study_fixtures import FakeTrial, fake_results, write_study

from sertune.cli import main
from sertune.errors import ConfigError
from sertune.features.theta import Theta, theta_key
from sertune.report import build_report
from sertune.study.search.grids import USUAL
from sertune.study.store import curves as cv
from sertune.study.store import recording
from sertune.study.store import results as sr
from sertune.study.store.claims import order
from sertune.study.store.control import Control, Restart
from sertune.study.store.merge import merge_controls, merge_results

A, B = Theta(24, 255, 80, 1.0), Theta(96, 1023, 240, 1.0)
C = Theta(48, 255, 80, 2.0)
GRID = (A, B, C, USUAL)
# Three repetitions; no two settings tie on validation within a repetition.
TRIALS = [FakeTrial(r, theta, val, test) for r, row in enumerate([(80, 70, 60, 50), (62, 75, 71, 52), (55, 58, 79, 51)])
          for theta, val, test in zip(GRID, row, (val - 5 for val in row))]


def part(name: str, thetas, trials=TRIALS, **kw) -> sr.StudyResults:
    """The search of ``thetas`` alone: the same trainings, its own grid and name."""
    grid = tuple(t for t in GRID if t in thetas)
    return replace(fake_results(grid, [t for t in trials if t.theta in thetas], reps=3, **kw), name=name)


def test_parts_of_a_grid_report_as_the_whole():
    whole = fake_results(GRID, TRIALS, reps=3)
    merged = merge_results([part("t2", (C, USUAL)), part("t1", (A, B))])
    assert merged.name == "t2+t1" and merged.usual == USUAL
    assert merged.grid == (A, B, C, USUAL)              # product-grid order: T, then L, M, H; not the parts'
    assert [p["name"] for p in merged.attrs["parts"]] == ["t2", "t1"] and merged.attrs["parts"][1]["settings"] == 2
    mine, theirs = build_report(merged), build_report(whole)
    for key in ("coverage", "table3", "table4", "table5", "heatmap", "marginals"):
        assert mine[key] == theirs[key], key
    # Trial numbers are the merged study's own (claim order), not a part's.
    assert [{**row, "trial": None} for row in mine["selected"]] == [{**row, "trial": None} for row in theirs["selected"]]
    assert mine["study"]["parts"][1]["name"] == "t1" and theirs["study"]["parts"] is None
    assert merge_results([whole]) is whole


def test_a_training_both_parts_hold_counts_once_and_must_agree():
    merged = merge_results([part("t1", (A, B, USUAL)), part("t2", (C, USUAL))])
    cov = sr.coverage(merged)
    assert cov["duplicates"] == 0 and cov["complete"] == cov["planned"] == 12
    other = [replace(t, test_wa=t.test_wa + 1) if t.theta == USUAL and t.rep == 1 else t for t in TRIALS]
    with pytest.raises(ConfigError, match=r"setting M40-L400-H160-T3 of repetition 1 is in two searches with "
                                          r"different results"):
        merge_results([part("t1", (A, USUAL)), part("t2", (C, USUAL), trials=other)])


def test_a_tie_for_theta_star_goes_where_one_search_of_the_union_sends_it():
    tied = [replace(t, val_wa=90.0) if t.rep == 0 and t.theta in (A, C) else t for t in TRIALS]
    merged = merge_results([part("t2", (C, USUAL), trials=tied), part("t1", (A, B), trials=tied)])
    first = next(k for k in order([theta_key(t) for t in merged.grid], 0) if k in (theta_key(A), theta_key(C)))
    assert theta_key(sr.best_per_rep(merged)[0].theta) == first


@pytest.mark.parametrize("change, match", [
    (dict(settings={"epochs": 3, "batch_size": 16, "lr": 1e-3, "protocol": "shuffle-split", "split_unit": "utterance",
                    "seed": 0, "pruner": "none"}), r"search 't2' differ from 't1' in training settings: lr 0.001 vs 0.0001"),
    (dict(classes=("anger", "sadness", "neutral", "happiness")), r"in classes"),
    (dict(corpus="ravdess"), r"in corpus: name 'ravdess' vs 'emodb'"),
])
def test_searches_of_another_corpus_or_training_do_not_merge(change, match):
    with pytest.raises(ConfigError, match=match):
        merge_results([part("t1", (A, B)), part("t2", (C,), **change)])


def test_search_settings_that_choose_trainings_do_not_stop_a_merge():
    settings = {"epochs": 3, "batch_size": 16, "lr": 1e-4, "protocol": "shuffle-split", "split_unit": "utterance",
                "seed": 0, "pruner": "none", "restarts": 8, "control": "usual", "strategy": "brute"}
    merged = merge_results([part("t1", (A, B), settings=settings), part("t2", (C,))])
    assert len(merged.grid) == 3


def test_one_restart_control_at_most():
    runs = (Restart(0, 0, 50.0, 55.0, 54.0), Restart(0, 1, 60.0, 58.0, 57.0))
    control = Control(theta=USUAL, restarts=2, runs=runs)
    assert merge_controls([None, control]) is control and merge_controls([control, control]) is control
    assert merge_controls([None, None]) is None
    with pytest.raises(ConfigError, match=r"two searches hold different restart controls"):
        merge_controls([control, replace(control, runs=runs[:1])])


# --------------------------------------------------------------------------- sertune report A B

@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """Two stored searches, t1 (A, B) and t2 (C, θ•), and a replay.json of t1's curves."""
    tmp = tmp_path_factory.mktemp("parts")
    for name, thetas in (("t1", (A, B)), ("t2", (C, USUAL))):
        grid = tuple(t for t in GRID if t in thetas)
        write_study(tmp / name, name, grid=grid, trials=[t for t in TRIALS if t.theta in thetas], reps=3)
    (tmp / "t1" / "replay.json").write_text(json.dumps({"curves": {"name": "t1"}}))
    return tmp


def test_report_of_two_studies_is_one_report_of_their_union(two, tmp_path, capsys):
    assert main(["report", str(two / "t1"), str(two / "t2"), "--out", str(tmp_path / "both")]) == 0
    assert "study t1+t2 on" in capsys.readouterr().out
    doc = json.loads((tmp_path / "both" / "report.json").read_text())
    assert doc["study"]["grid_size"] == 4 and doc["coverage"]["complete"] == 12
    assert [p["name"] for p in doc["study"]["parts"]] == ["t1", "t2"]
    assert "merged from" in (tmp_path / "both" / "report.html").read_text()


@pytest.mark.parametrize("args, match", [
    (["{t1}", "{t2}"], r"--out DIR is required with --storage or several STUDY"),
    (["{t1}", "{t2}", "--study", "t1", "--out", "{o}"], r"--study t1 names the search of one STUDY"),
    (["{t1}", "{t2}", "--storage", "sqlite:///{o}.db", "--out", "{o}"], r"--storage .* names one storage; give it "
                                                                        r"alone, or give the 2 STUDY folders"),
    (["{t1}", "{t2}", "--out", "{o}", "--replay", "{o}/none.json"], r"--replay .*none.json: no such file"),
    (["{t1}", "{t2}", "--out", "{o}", "--replay", "{t1}/replay.json"], r"replays the curves of 't1', not of "
                                                                        r"search 't1\+t2'"),
])
def test_bad_report_arguments_are_one_error_line(two, tmp_path, capsys, args, match):
    code = main(["report", *(a.format(t1=two / "t1", t2=two / "t2", o=tmp_path / "o") for a in args)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in err
    assert __import__("re").search(match, err), err
    assert not (tmp_path / "o").exists()                 # refused before anything is written


# --------------------------------------------------------------------------- real searches, curves

@pytest.mark.slow
def test_a_part_of_the_grid_records_the_same_curves_and_parts_merge_into_the_whole(restart_searches, tmp_path,
                                                                                   capsys):
    """A (θ, r) training does not depend on the rest of its grid: the search of M 24 alone (``added``)
    recorded the very curves of M 24 that the search of M 24 and θ• (``plain``) did, and merged with
    θ•'s curves it is that search's record."""
    whole = recording.open_curves(restart_searches / "plain")
    other = cv.save(whole.settings([theta_key(USUAL)]), tmp_path / "usual.npz")
    assert main(["curves", str(other), str(restart_searches / "added"), "--out", str(tmp_path / "merged.npz")]) == 0
    out = capsys.readouterr().out
    assert "merged 2 records of one corpus and training settings (1 + 1 settings)" in out and "note:" not in out
    merged = cv.load(tmp_path / "merged.npz")
    assert merged.keys == whole.keys and merged.seed == whole.seed and merged.notes == ()
    assert merged.source["grid"] == whole.source["grid"]
    for part in ("val", "test_wa", "test_ua"):
        np.testing.assert_array_equal(getattr(merged, part), getattr(whole, part))
