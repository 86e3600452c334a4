"""report/gain.py (and its section): how much of θ_r*'s lead is the setting, how much the pick."""

from __future__ import annotations

import pytest
from study_fixtures import FakeTrial, fake_results

from sertune.features.theta import Theta
from sertune.report import build_report
from sertune.report.gain import gain
from sertune.report.html import render_html
from sertune.study.search.grids import USUAL
from sertune.study.store.control import Control, Restart

A = Theta(64, 255, 32, 1.0)
B = Theta(128, 511, 32, 1.0)
GRID = (A, B, USUAL)

# Three repetitions. θ_r*: A on 0 (lucky there: 90 test, 60 elsewhere), B on 1 and 2 (75 everywhere).
TRIALS = [FakeTrial(0, A, 80, 90), FakeTrial(0, B, 70, 75), FakeTrial(0, USUAL, 50, 55),
          FakeTrial(1, A, 50, 60), FakeTrial(1, B, 78, 75), FakeTrial(1, USUAL, 52, 60),
          FakeTrial(2, A, 55, 60), FakeTrial(2, B, 77, 75), FakeTrial(2, USUAL, 51, 50)]


def control(n: int = 3, drop=()) -> Control:
    """θ•'s restarts: restart 0 is the grid's own training; restart 2 is the luckiest on validation."""
    grid_own = {0: (50, 55), 1: (52, 60), 2: (51, 50)}
    runs = []
    for r in range(3):
        runs.append(Restart(r, 0, *grid_own[r], 0.0))
        runs += [Restart(r, 1, 40, 45, 0.0), Restart(r, 2, 60, 65, 0.0)][:n - 1]
    return Control(theta=USUAL, restarts=n, runs=tuple(x for x in runs if (x.rep, x.restart) not in drop))


def rows(doc):
    return {row["key"]: row for row in doc["rows"]}


def test_the_four_rows_on_the_same_splits():
    results = fake_results(GRID, TRIALS, reps=3)
    doc = gain(results, control())
    r = rows(doc)
    # One training: mean of (55, 45, 65), (60, 45, 65), (50, 45, 65) = 55, 56.67, 53.33.
    assert r["one_training"]["per_rep"] == pytest.approx([55.0, 170 / 3, 160 / 3])
    assert r["best_of_restarts"]["per_rep"] == [65.0, 65.0, 65.0]          # restart 2 wins validation
    assert r["study"]["per_rep"] == [90.0, 75.0, 75.0]
    assert r["study_elsewhere"]["per_rep"] == [60.0, 75.0, 75.0]           # A elsewhere 60; B 75 everywhere
    assert r["study"]["gain"]["mean"] == pytest.approx((90 + 75 + 75) / 3 - 55.0)
    assert r["study_elsewhere"]["gain"]["mean"] == pytest.approx((60 + 75 + 75) / 3 - 55.0)
    assert r["one_training"]["label"].startswith("θ• as one training") and doc["settings"] == 3
    assert "best of 3 settings" in r["study"]["label"] and "best of 3 trainings" in r["best_of_restarts"]["label"]


def test_only_repetitions_with_the_whole_control_count():
    doc = gain(fake_results(GRID, TRIALS, reps=3), control(drop={(1, 2)}))
    assert doc["reps"] == [0, 2] and len(rows(doc)["study"]["per_rep"]) == 2
    assert gain(fake_results(GRID, TRIALS, reps=3), None) is None
    assert gain(fake_results(GRID, TRIALS, reps=3), control(drop={(r, 1) for r in range(3)})) is None


def test_a_study_without_a_control_has_no_empty_section():
    doc = build_report(fake_results(GRID, TRIALS, reps=3))
    assert doc["gain"] is None
    html = render_html(doc, {})
    assert 'id="gain"' not in html and "where the gain comes from" not in html


def test_the_section_says_the_three_numbers():
    doc = build_report(fake_results(GRID, TRIALS, reps=3))
    doc["gain"] = gain(fake_results(GRID, TRIALS, reps=3), control())
    html = render_html(doc, {})
    assert '<h2 id="gain">Where the gain comes from</h2>' in html
    assert "credits θ_r* with +25.0 points over one training of θ•" in html
    assert "Keeping the best of 3 trainings of θ• alone, by validation, buys +10.0" in html
    assert "are worth +15.0" in html
    assert "the rest (+10.0) is the luck of keeping the best of 3 trainings" in html


def test_the_section_says_when_the_pick_added_no_luck():
    """On the real EmoDB record θ_r* scored more on the other repetitions than on their own."""
    doc = build_report(fake_results(GRID, TRIALS, reps=3))
    doc["gain"] = gain(fake_results(GRID, TRIALS, reps=3), control())
    by_key = {row["key"]: row for row in doc["gain"]["rows"]}
    by_key["study"]["gain"]["mean"] = 4.1
    by_key["study_elsewhere"]["gain"]["mean"] = 4.9
    html = render_html(doc, {})
    assert ("keeping the best of 3 trainings added no luck here: θ_r* score 0.8 points more on the repetitions "
            "they were not picked on") in html and "the rest" not in html
    by_key["study"]["gain"]["mean"] = 4.9
    assert "θ_r* score as much on the repetitions" in render_html(doc, {})
