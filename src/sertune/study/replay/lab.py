"""Replay search strategies on recorded curves: what each would have spent and selected.

For every strategy and every arrival order (order 0 is the recorded search's
own claim order, the others are seeded permutations) the replay takes the
strategy's :class:`~sertune.study.strategies.registry.Outcome` and selects, per
repetition, θ_r = the best validation WA among the trials it completed (ties to
the earliest arrival, as :func:`sertune.study.store.results.best_per_rep`). Brute force
on the same order selects θ_r*. Then

- epoch fraction = epochs spent / (S x R x E);
- regret = mean over repetitions of test WA(θ_r*) - test WA(θ_r), in points
  (negative when the strategy happened to pick a θ that tests better);
- same θ = the share of (order, repetition) where θ_r is θ_r*;

each with the 2.5 and 97.5 percentiles over the orders: the range a user's one
search would fall in 95 % of the time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from ...errors import ConfigError
from ..store.curves import Curves, best_so_far, synthesize
from ..strategies.registry import Brute, Outcome, Strategy, parse_strategy
from ..strategies.base import arrival_ranks


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray) -> "Interval":
        lo, hi = np.percentile(values, [2.5, 97.5])
        return cls(float(np.mean(values)), float(lo), float(hi))


@dataclass(frozen=True)
class StrategyResult:
    """One strategy's replay over every order. ``selected``: θ_r keys of order 0 (the recorded order)."""

    spec: str
    summary: str
    live: bool
    epoch_fraction: Interval
    regret: Interval
    regret_ua: Interval
    same_theta: float
    no_selection: float
    selected: list[str | None]
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def make_orders(curves: Curves, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` arrival orders (n, S) and one seed per order: order 0 is the recorded search's claim
    order with the search's own seed (so strategies that draw at random replay what that search
    with that strategy would have drawn), the others permutations and seeds drawn from ``seed``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"orders={n!r} must be a positive integer")
    rng = np.random.default_rng(seed)
    orders = np.empty((n, curves.n_settings), dtype=np.int64)
    orders[0] = curves.live_order()
    for i in range(1, n):
        orders[i] = rng.permutation(curves.n_settings)
    seeds = np.random.SeedSequence(seed).generate_state(n).astype(np.int64)
    seeds[0] = curves.seed
    return orders, seeds


def select(curves: Curves, outcome: Outcome, orders: np.ndarray) -> np.ndarray:
    """θ_r per (order, repetition): the best final validation WA among complete trials, ties to the
    earliest arrival; -1 where the strategy completed nothing in that repetition."""
    S = orders.shape[1]
    final = best_so_far(curves.val)[:, :, -1]                                    # (R, S)
    score = np.where(outcome.complete, final[None], -np.inf)                     # (N, R, S)
    top = score.max(axis=-1, keepdims=True)
    ranks = arrival_ranks(orders) if outcome.ranks is None else outcome.ranks
    tie = np.where((score == top) & outcome.complete, ranks[:, None, :], S)
    chosen = tie.argmin(axis=-1)
    return np.where(outcome.complete.any(axis=-1), chosen, -1)


def replay(curves: Curves, strategies: list[Strategy | str], *, orders: int = 100, seed: int = 0,
           progress=None) -> list[StrategyResult]:
    """Replay each strategy on ``orders`` arrival orders; results in the order given."""
    strategies = [parse_strategy(s) if isinstance(s, str) else s for s in strategies]
    for s in strategies:
        s.check(curves.epochs, curves.n_settings, curves.reps)
    order_arr, seeds = make_orders(curves, orders, seed)
    final_wa, final_ua = curves.test_wa[:, :, -1], curves.test_ua[:, :, -1]     # (R, S)
    reps = np.arange(curves.reps)[None, :]
    star = select(curves, Brute().replay(curves, order_arr, seeds), order_arr)
    total = curves.reps * curves.n_settings * curves.epochs
    results = []
    for strategy in strategies:
        start = time.perf_counter()
        outcome = strategy.replay(curves, order_arr, seeds)
        chosen = select(curves, outcome, order_arr)
        ok = chosen >= 0
        safe = np.where(ok, chosen, 0)
        # A repetition where nothing was completed has no θ_r: count it as the worst possible pick.
        worst_wa, worst_ua = final_wa.min(axis=1)[None], final_ua.min(axis=1)[None]
        got_wa = np.where(ok, final_wa[reps, safe], worst_wa)
        got_ua = np.where(ok, final_ua[reps, safe], worst_ua)
        regret = (final_wa[reps, star] - got_wa).mean(axis=1)
        regret_ua = (final_ua[reps, star] - got_ua).mean(axis=1)
        fraction = outcome.spent.reshape(len(order_arr), -1).sum(axis=1) / total
        results.append(StrategyResult(
            spec=strategy.spec(), summary=strategy.summary, live=strategy.runs_live(),
            epoch_fraction=Interval.of(fraction), regret=Interval.of(regret), regret_ua=Interval.of(regret_ua),
            same_theta=float((chosen == star).mean()), no_selection=float((~ok).mean()),
            selected=[curves.keys[c] if c >= 0 else None for c in chosen[0]],
            seconds=time.perf_counter() - start))
        if progress is not None:
            progress.update(1)
    return results


def runner_up_regret(curves: Curves) -> float:
    """Test WA points lost, on average over repetitions, by brute force's own runner-up (the
    second-best setting by final validation WA) against θ_r*: the scale of a regret.

    A training's luck shows on its validation and its test set alike, so the runner-up
    usually loses more than the gap in true quality (2.5 points on the H100 record):
    a regret near 0 means choosing θ_r* itself in most repetitions.
    """
    if curves.n_settings < 2:
        return 0.0
    final = best_so_far(curves.val)[:, :, -1]                                    # (R, S)
    first, second = np.argsort(-final, axis=1, kind="stable")[:, :2].T
    reps = np.arange(curves.reps)
    wa = curves.test_wa[:, :, -1]
    return float((wa[reps, first] - wa[reps, second]).mean())


def ranking_oracle(curves: Curves, budget: float) -> dict:
    """What a perfect ranking of the settings would lose within ``budget`` of brute force's epochs.

    The oracle knows every setting's final validation WA averaged over the repetitions,
    trains only the best ``k = floor(budget x S)`` settings (at least 1), every epoch, on
    every repetition, and selects per repetition the best of them by validation, as brute
    force would among them. No strategy knows that ranking; it is the other scale of a
    regret beside :func:`runner_up_regret`. When the oracle loses little at a budget and the
    strategies lose much, the budget is not the limit: the early epochs rank the settings
    poorly (on the H100 record: -0.10 points at 9.5 %, where every strategy lost 7 or more).

    Returns
    -------
    dict
        ``budget``, ``settings`` (k), ``epoch_fraction`` (k / S) and ``regret`` (test WA points).
    """
    if not 0 < budget <= 1:
        raise ConfigError(f"budget={budget!r} must be a fraction in (0, 1]")
    final = best_so_far(curves.val)[:, :, -1]                                    # (R, S)
    k = max(1, int(np.floor(budget * curves.n_settings + 1e-9)))
    best = np.argsort(-final.mean(axis=0), kind="stable")[:k]
    reps = np.arange(curves.reps)
    star = np.argmax(final, axis=1)                          # first maximum: ties to the lower index
    pick = best[np.argmax(final[:, best], axis=1)]
    wa = curves.test_wa[:, :, -1]
    return {"budget": budget, "settings": k, "epoch_fraction": k / curves.n_settings,
            "regret": float((wa[reps, star] - wa[reps, pick]).mean())}


def scale_lines(doc: dict) -> list[str]:
    """What a regret compares with, from a ``replay.json`` (its ``runner_up_regret`` and
    ``ranking_oracle``, where present): the lines `sertune replay` prints and the report shows."""
    lines = []
    if "runner_up_regret" in doc:
        lines.append(f"brute force's own runner-up by validation WA loses {signed(doc['runner_up_regret'])} points "
                     f"of test WA against θ_r*, so a regret near 0 needs θ_r* itself")
    oracle = doc.get("ranking_oracle")
    if oracle:
        lines.append(f"a perfect ranking of the settings (their final validation WA averaged over repetitions), "
                     f"training only the best {oracle['settings']} ({oracle['epoch_fraction']:.1%} of the epochs), "
                     f"would lose {signed(oracle['regret'])}")
    return lines


def signed(x: float) -> str:
    """``+1.23`` / ``-0.45``, and ``+0.00`` rather than ``-0.00`` for a rounding error below zero."""
    return f"{(round(x, 2) or 0.0):+.2f}"


def format_table(results: list[StrategyResult]) -> str:
    """A plain-text table: one row per strategy."""
    w = max(len("strategy"), *(len(r.spec) for r in results))
    head = f"{'strategy':<{w}} {'epochs':>7} {'regret':>7} {'95 % interval':>16} {'same θ':>7} {'s':>6}"
    lines = [head, "-" * len(head)]
    for r in results:
        ci = f"[{signed(r.regret.low)}, {signed(r.regret.high)}]"
        lines.append(f"{r.spec:<{w}} {100 * r.epoch_fraction.mean:>6.1f}% {signed(r.regret.mean):>7} {ci:>16} "
                     f"{100 * r.same_theta:>6.0f}% {r.seconds:>6.2f}")
    return "\n".join(lines)


def strategy_fraction(spec: str, *, settings: int, reps: int, epochs: int) -> float:
    """The share of brute force's epochs ``spec`` spends, replayed on synthesized curves of this
    size (10 orders): an estimate, since the real share depends on the real curves."""
    if spec == "brute":
        return 1.0
    (result,) = replay(synthesize(settings=settings, reps=reps, epochs=epochs), [spec], orders=10)
    return result.epoch_fraction.mean
