"""sertune.study.store.results: finding, loading and counting a study, against a fake store with known numbers."""

from __future__ import annotations

import json

import pytest

from sertune.training.dataset import Theta
from sertune.errors import ConfigError
from sertune.study.store import results as sr
from sertune.study.store.locate import find_storage
from sertune.features.theta import theta_key
from sertune.study.search.grids import USUAL

from study_fixtures import FakeTrial, small_grid, write_study

GRID = small_grid()
G = dict(enumerate(GRID))         # g0..g7 = the product, g8 = θ•


def _trials():
    """3 repetitions; rep0 has a duplicate of g0, rep1 a pruned g7, rep2 a retried g3 and a failed g2."""
    out = []
    for r in range(3):
        for i, th in G.items():
            if (r, i) == (1, 7):
                out.append(FakeTrial(r, th, 99.0, state="pruned"))
            elif (r, i) == (2, 3):
                out += [FakeTrial(r, th, state="failed"), FakeTrial(r, th, 77.0, 76.0)]
            elif (r, i) == (2, 2):
                out.append(FakeTrial(r, th, state="failed", error="RuntimeError: CUDA out of memory"))
            else:
                out.append(FakeTrial(r, th, 60.0 + i + r, 59.0 + i))
    out.append(FakeTrial(0, G[0], 95.0, 95.0))     # duplicate: loses to the first g0 of rep 0
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    write_study(folder, "demo", grid=GRID, trials=_trials(), reps=3)
    return folder


@pytest.fixture(scope="module")
def results(study):
    return sr.load_results(*find_storage(study))


def test_theta_key_round_trip():
    for th in GRID:
        assert sr.parse_theta_key(theta_key(th)) == th
    assert sr.parse_theta_key("M40-L400-H160-T2.5") == Theta(40, 400, 160, 2.5)
    with pytest.raises(ConfigError, match="M<mels>-L<win>"):
        sr.parse_theta_key("40-400")


def test_load_reads_metadata_and_every_trial(results):
    assert results.name == "demo" and results.reps == 3 and results.studies == (0, 1, 2)
    assert results.grid == GRID and results.usual == USUAL
    assert results.classes == ("anger", "happiness", "neutral", "sadness")
    assert results.corpus["name"] == "emodb" and results.settings["epochs"] == 3
    assert len(results.trials) == 3 * 9 + 2          # + the retry in rep 2 + the duplicate in rep 0
    first = results.trials[0]
    assert (first.rep, first.number, first.theta, first.state) == (0, 0, G[0], "complete")
    assert first.value == 60.0 and first.test["wa"] == 59.0 and first.val["wa"] == 60.0
    assert first.device == "cpu (2 threads)" and first.epochs_run == 3 and first.intermediate[3] == 60.0
    failed = [t for t in results.trials if t.state == "failed"]
    assert [(t.theta, t.error) for t in failed] == [(G[2], "RuntimeError: CUDA out of memory"),
                                                    (G[3], "RuntimeError: out of memory")]
    assert failed[0].value is None and failed[0].test is None


def test_counts(results):
    assert sr.planned_count(results) == 27
    assert sr.trial_state_counts(results) == {"complete": 26, "pruned": 1, "failed": 2, "running": 0,
                                              "interrupted": 0, "waiting": 0}
    dup = sr.duplicates(results)
    assert [(t.rep, t.theta, t.value) for t in dup] == [(0, G[0], 95.0)]
    cov = sr.coverage(results)
    assert cov == {"planned": 27, "finished": 26, "complete": 25, "pruned": 1, "failed": 1, "running": 0,
                   "interrupted": 0, "waiting": 0, "missing": 0, "skipped": 0, "failed_trials": 2, "duplicates": 1,
                   "off_grid": 0, "unassigned": 0, "at_chance": 0}
    states = sr.cell_states(results)
    assert states[(1, G[7])] == "pruned" and states[(2, G[2])] == "failed" and states[(2, G[3])] == "complete"
    assert sr.coverage_by_rep(results)[2] == {"rep": 2, "complete": 8, "pruned": 0, "failed": 1, "running": 0,
                                              "interrupted": 0, "waiting": 0, "missing": 0}
    assert not sr.is_complete(results)


def test_selection_ignores_pruned_duplicates_and_failures(results):
    best = sr.best_per_rep(results)
    # rep 1: the pruned g7 (99) is no candidate; rep 0: the duplicate g0 (95) is ignored.
    # rep 2: the retried g3 (77, after a failure) counts.
    assert {r: (t.theta, t.value) for r, t in best.items()} == {0: (G[8], 68.0), 1: (G[8], 69.0),
                                                               2: (G[3], 77.0)}
    worst = sr.worst_per_rep(results)
    assert {r: (t.theta, t.value) for r, t in worst.items()} == {0: (G[0], 60.0), 1: (G[0], 61.0),
                                                                2: (G[0], 62.0)}
    assert {r: t.value for r, t in sr.usual_per_rep(results).items()} == {0: 68.0, 1: 69.0, 2: 70.0}


def test_ties_go_to_the_lowest_trial_number(tmp_path):
    trials = [FakeTrial(0, G[3], 80.0, 70.0), FakeTrial(0, G[1], 80.0, 71.0), FakeTrial(0, G[2], 79.0, 72.0)]
    url = write_study(tmp_path, "tie", grid=GRID, trials=trials, reps=1)
    best = sr.best_per_rep(sr.load_results(url, "tie"))[0]
    assert best.theta == G[3] and best.number == 0
    worst = sr.worst_per_rep(sr.load_results(url, "tie"))[0]
    assert worst.theta == G[2]


def test_in_progress_study_counts_what_is_missing(tmp_path):
    trials = [FakeTrial(0, G[0], 70.0, 69.0), FakeTrial(0, G[1], state="running"),
              FakeTrial(0, G[2], state="waiting"), FakeTrial(1, G[0], 71.0, 70.0)]
    write_study(tmp_path, "wip", grid=GRID, trials=trials, reps=3, studies=[0, 1])
    res = sr.load_results(*find_storage(tmp_path))
    assert res.reps == 3 and res.studies == (0, 1)
    cov = sr.coverage(res)
    assert (cov["complete"], cov["running"], cov["waiting"], cov["missing"]) == (2, 1, 1, 27 - 4)
    assert set(sr.best_per_rep(res)) == {0, 1}


def test_find_storage_without_search_json_uses_the_only_search(tmp_path):
    write_study(tmp_path, "only", grid=GRID, trials=[FakeTrial(0, G[0], 70.0, 69.0)], reps=1)
    (tmp_path / "search.json").unlink()
    url, name = find_storage(tmp_path)
    assert url == f"sqlite:///{(tmp_path / 'study.db').resolve()}" and name == "only"
    write_study(url, "other", grid=GRID, trials=[], reps=1)
    with pytest.raises(ConfigError, match="2 searches .*only.*other|2 searches .*other.*only"):
        find_storage(tmp_path)


def test_relative_storage_in_search_json_is_relative_to_the_folder(tmp_path):
    write_study(tmp_path, "rel", grid=GRID, trials=[], reps=1)
    (tmp_path / "search.json").write_text(json.dumps({"storage": "sqlite:///study.db", "study": "rel"}))
    url, name = find_storage(tmp_path)
    assert url == f"sqlite:///{(tmp_path / 'study.db').resolve()}" and name == "rel"


def test_errors_name_the_problem_and_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        find_storage(tmp_path / "nope")
    with pytest.raises(ConfigError, match="no study.db nor search.json"):
        find_storage(tmp_path)
    (tmp_path / "search.json").write_text("{")
    with pytest.raises(ConfigError, match="search.json"):
        find_storage(tmp_path)
    missing = tmp_path / "gone.db"
    with pytest.raises(ConfigError, match="gone.db does not exist"):
        sr.load_results(f"sqlite:///{missing}", "x")
    assert not missing.exists()                      # a reader never creates a database
    url = write_study(tmp_path / "s", "demo", grid=GRID, trials=[], reps=1)
    with pytest.raises(ConfigError, match="no study nope.rep0.*searches there: demo"):
        sr.load_results(url, "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "study.db").write_bytes(b"")
    with pytest.raises(ConfigError):
        find_storage(tmp_path / "empty")


@pytest.mark.parametrize("val_ua, at_chance", [(25.0, True), (27.0, True), (27.5, False), (60.0, False)])
def test_a_complete_training_at_chance_is_flagged_and_still_counts(val_ua, at_chance):
    """4 classes: chance is 25 % UA (one class for everything); within CHANCE_MARGIN (2) of it: at chance."""
    from study_fixtures import fake_results, metrics

    trials = [FakeTrial(0, G[0], 30.0, 30.0, val=metrics(30.0, ua=val_ua)),
              FakeTrial(0, G[1], 20.0, state="pruned", val=metrics(20.0, ua=20.0)),   # pruned: partial, never flagged
              *(FakeTrial(0, G[i], 60.0, 60.0) for i in range(2, 9))]
    res = fake_results(GRID, trials, reps=1)
    assert [t.theta for t in sr.at_chance(res)] == ([G[0]] if at_chance else [])
    assert sr.coverage(res)["at_chance"] == int(at_chance)
    assert len(sr.complete_trials(res)) == 8              # flagged, not dropped
