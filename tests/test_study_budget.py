"""--budget: the table of defaults is what replay of the recorded study shows, and its parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from sertune.errors import ConfigError
from sertune.study.store import curves as cv
from sertune.study.strategies.budget import (BY_BUDGET, CANDIDATES, PANEL, RECORD, RECORD_LABEL, RECORD_SETTINGS,
                                             Evidence, choose, evidence_for, evidence_of, least_share, parse_budget,
                                             plan_text, risk, strategy_for)
from sertune.study.strategies.pruners import strategy_of
from sertune.study.replay.lab import replay, strategy_fraction
from sertune.study.search.settings import SearchConfig
from sertune.study.strategies.registry import parse_strategy
from sertune.training.fit import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_budget_table_is_what_replay_of_the_recorded_study_shows():
    curves = cv.load(ROOT / RECORD)
    results = replay(curves, CANDIDATES, orders=100, seed=0)
    for row in BY_BUDGET:
        best = choose(results, row.budget)
        assert best is not None and best.spec == parse_strategy(row.spec).spec(), row
        assert row.epochs == curves.epochs and RECORD_SETTINGS == curves.n_settings
        got = evidence_of(best, row.budget, curves.epochs)
        fields = ("device_fraction", "epoch_fraction", "setting_regret", "low", "high", "per_rep_regret")
        assert [getattr(row, f) for f in fields] == pytest.approx([getattr(got, f) for f in fields], abs=0.005)


RECORDS = sorted((ROOT / "benchmarks" / "data").glob("*.curves.npz"))


def test_the_evidence_record_is_shipped():
    assert ROOT / RECORD in RECORDS and len(RECORDS) >= 3


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_every_shipped_record_resolves_a_point(path):
    curves = cv.load(path)
    # Synthetic records say so (replay labels them), the real one does not, and each file's name tells which.
    assert curves.synthetic == path.name.startswith("synthetic-")
    assert sum(curves.source["test_utterances"]) >= 1000 and not curves.notes
    assert strategy_of(curves.source["settings"]) == "brute"
    # the ranking is not trivial: the settings' order by final validation WA differs between repetitions
    ranks = curves.val.max(axis=-1).argsort(axis=1)
    assert len({tuple(r) for r in ranks.tolist()}) == curves.reps
    if path == ROOT / RECORD:       # and on --budget's evidence, even the best setting differs
        best = curves.val.max(axis=-1).argmax(axis=1)
        assert len(set(best.tolist())) > 1


def test_every_panel_and_candidate_spec_parses_and_candidates_run_live():
    for spec in PANEL + CANDIDATES:
        parse_strategy(spec)
    assert all(parse_strategy(s).live for s in CANDIDATES)


def test_strategy_for_scales_epoch_parameters_to_the_search():
    row = evidence_for("100%")
    s20, s150 = strategy_for("100%", row.epochs), strategy_for("100%", row.epochs * 7.5)
    assert type(s20) is type(s150)
    for name in ("min", "n", "warmup", "interval"):
        if hasattr(s20, name) and getattr(s20, name):
            assert getattr(s150, name) == round(getattr(s20, name) * 7.5)


def test_search_with_a_budget_stores_the_strategy_it_chose():
    settings = SearchConfig(budget="10%", train=TrainConfig(epochs=150)).settings()
    assert settings["budget"] == 0.1 and settings["strategy"] == strategy_for("10%", 150).spec()


def test_a_budget_whose_strategy_does_not_fit_the_epochs_says_what_to_change(monkeypatch):
    import sertune.study.strategies.budget as budget

    row = Evidence(0.10, "topk:n=1,k=0.05", 30, 0.1, 0.1, 1.0, 0.0, 2.0, 3.0)
    monkeypatch.setattr(budget, "BY_BUDGET", [row, *BY_BUDGET[1:]])
    with pytest.raises(ConfigError, match=r"--budget 10% runs topk:n=1,k=0.05, which does not fit 1 epochs "
                                          r"\(strategy topk: n=1 leaves nothing to continue.*\); give more --epochs"):
        SearchConfig(budget="10%", train=TrainConfig(epochs=1))
    assert SearchConfig(budget="10%", train=TrainConfig(epochs=2)).search_strategy() == "topk:n=1,k=0.05"


@pytest.mark.parametrize("text, match", [
    ("ten", r"budget='ten' must be a percentage of brute force's device time, e.g. 10%"),
    ("0%", r"budget='0%' is out of range"),
    ("150%", r"budget='150%' is out of range"),
    ("-0.1", r"budget='-0.1' is out of range"),
])
def test_bad_budgets(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_budget(text)


def test_a_budget_below_every_row_says_the_cheapest():
    cheapest = min(r.budget for r in BY_BUDGET)
    with pytest.raises(ConfigError, match=f"give --budget {cheapest:.0%} or more"):
        strategy_for(f"{100 * cheapest / 2:g}%", 150)


def test_choose_takes_the_least_regret_within_the_budget():
    curves = cv.synthesize(settings=30, reps=2, epochs=20, seed=0)
    results = replay(curves, ["brute", "asha", "median", "topk:n=1,k=2"], orders=5)
    best = choose(results, 1.0)
    assert best.live and best.device_fraction.mean <= 1.0
    assert risk(best) == min(risk(r) for r in results if r.live)
    assert risk(best) == best.setting_regret.mean + best.setting_regret.high
    assert choose(results, 0.001) is None
    # A budget is counted in device time: a strategy within it by epochs but not by device time is out.
    cheap = min((r for r in results if r.live and r.spec != "brute"), key=lambda r: r.device_fraction.mean)
    assert choose(results, cheap.device_fraction.mean - 1e-6) is not cheap


def _plan(budget: str, settings: int, epochs: int, reps: int) -> str:
    """plan_text as --plan calls it: the strategy --budget runs and the share replay estimates for the grid."""
    spec = SearchConfig(budget=budget, train=TrainConfig(epochs=epochs)).search_strategy()
    fraction = strategy_fraction(spec, settings=settings, reps=reps, epochs=epochs)
    return plan_text(budget, strategy=spec, settings=settings, epochs=epochs, fraction=fraction, reps=reps)


def test_a_budget_a_small_grid_cannot_reach_says_why_and_what_it_will_spend():
    text = _plan("10%", settings=3, epochs=4, reps=3)          # the case: 3 settings, 4 epochs
    lines = text.splitlines()
    row = evidence_for("10%")
    spec = parse_strategy(row.spec).scaled(4 / row.epochs).spec()
    assert lines[0].startswith(f"--budget 10% runs {spec}: on {RECORD_LABEL} ({RECORD_SETTINGS} settings x "
                               f"{row.epochs} epochs) it spent {row.device_fraction:.0%} of brute force's device "
                               f"time ({row.epoch_fraction:.0%} of its epochs); setting regret")
    assert "per-repetition regret" in lines[0]
    fraction = strategy_fraction(spec, settings=3, reps=3, epochs=4)
    assert lines[1] == (f"--budget 10% is out of reach on this grid: the search will spend about {fraction:.0%} of "
                        f"brute force's epochs (at least 33%):") and fraction > 0.5
    assert lines[2] == ("  with 3 settings, the one selected, trained to the end on each repetition, is already "
                        "1/3 = 33% of brute force's epochs")
    assert lines[3] == "  the rest: trainings it lets go on (replayed on synthetic curves of this size)"
    assert lines[4] == f"  more settings (the record has {RECORD_SETTINGS}) bring the share toward 10%"


def test_a_budget_is_out_of_reach_by_its_device_time_not_its_epochs():
    spec = SearchConfig(budget="10%", train=TrainConfig(epochs=40)).search_strategy()
    # Within the budget by epochs, but the settings it trains longest are the dearest: out of reach.
    text = plan_text("10%", strategy=spec, settings=25, epochs=40, fraction=0.09, device=0.3)
    assert ("--budget 10% is out of reach on this grid: the search will spend about 30% of brute force's device "
            "time (9% of its epochs, at least ") in text
    # And the other way round: a search within the budget in device time prints only the evidence.
    assert len(plan_text("10%", strategy=spec, settings=25, epochs=40, fraction=0.3, device=0.1).splitlines()) == 1


@pytest.mark.parametrize("budget, settings, epochs", [("10%", 63, 30), ("10%", 30, 150), ("25%", 12, 150),
                                                      ("10%", 25, 40)])
def test_a_budget_the_grid_reaches_prints_only_the_evidence(budget, settings, epochs):
    text = _plan(budget, settings=settings, epochs=epochs, reps=10)
    assert len(text.splitlines()) == 1 and text.startswith(f"--budget {budget} runs ")


@pytest.mark.parametrize("spec, settings, epochs, share", [
    ("topk:n=1,k=0.05", 3, 4, (4 + 2 * 1) / 12),
    ("topk:n=2,k=3", 10, 20, (3 * 20 + 7 * 2) / 200),
    ("asha:eta=2,min=2", 10, 20, (20 + 9 * 2) / 200),
    ("asha-screen:eta=4", 10, 20, 1 / 10),                 # settings may get no epoch past the screening
    ("median:startup=5,warmup=6", 3, 30, 1.0),
    ("median:startup=2,warmup=0,interval=3", 10, 30, (2 * 30 + 8 * 3) / 300),
    ("random:budget=0.1", 20, 30, 2 / 20),
    ("brute", 4, 10, 1.0),
    ("repfid:reps=1,n=10,top=1", 25, 40, (40 + 24 * 10 / 10) / (25 * 40)),   # screened on 1 of 10 reps
])
def test_least_share(spec, settings, epochs, share):
    assert least_share(parse_strategy(spec), settings=settings, epochs=epochs, reps=10)[0] == pytest.approx(share)


@pytest.mark.parametrize("settings, epochs", [(3, 4), (7, 12), (25, 30)])
def test_least_share_is_a_lower_bound_of_what_replay_spends(settings, epochs):
    for spec in dict.fromkeys(PANEL + CANDIDATES):
        strategy = parse_strategy(spec)
        try:
            strategy.check(epochs, settings, 3)
        except ConfigError:
            continue
        least, _ = least_share(strategy, settings=settings, epochs=epochs, reps=3)
        spent = strategy_fraction(spec, settings=settings, reps=3, epochs=epochs)
        assert spent >= least - 1e-9, (spec, spent, least)
