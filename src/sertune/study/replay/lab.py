"""Replay search strategies on recorded curves: what each would have spent and selected.

For every strategy and every arrival order (order 0 is the recorded search's
own claim order, the others are seeded permutations) the replay takes the
strategy's :class:`~sertune.study.strategies.registry.Outcome` and selects, per
repetition, θ_r = the best validation WA among the trials it completed (ties to
the earliest arrival, as :func:`sertune.study.store.results.best_per_rep`). Brute force
on the same order selects θ_r*. Then

- epoch fraction = epochs spent / (S x R x E), and device fraction, the same with every
  epoch weighed by its setting's seconds per epoch (:mod:`.yardsticks`);
- regret (per-repetition) = mean over repetitions of test WA(θ_r*) - test WA(θ_r), in
  points (negative when the strategy happened to pick a θ that tests better), and
  setting regret, the same with each θ scored on the other repetitions;
- same θ = the share of (order, repetition) where θ_r is θ_r*;

each with the 2.5 and 97.5 percentiles over the orders: the range a user's one
search would fall in 95 % of the time.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from ...errors import ConfigError
from ..store.curves import Curves, best_so_far, synthesize
from ..strategies.registry import Brute, Outcome, Strategy, parse_strategy
from ..strategies.base import arrival_ranks
from .yardsticks import device_fraction, per_rep_regret, setting_regret


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
    """One strategy's replay over every order. ``selected``: θ_r keys of order 0 (the recorded order).

    ``regret`` (and ``regret_ua``) is per-repetition regret, the paper's protocol;
    ``setting_regret`` judges the setting on the other repetitions (None with one repetition;
    :mod:`.yardsticks`). ``device_fraction`` weighs every epoch by its setting's cost
    (``cost_source`` says whether measured or from the cost model).
    """

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
    setting_regret: Interval | None = None
    device_fraction: Interval | None = None
    cost_source: str = "measured"

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
    star = select(curves, Brute().replay(curves, order_arr, seeds), order_arr)
    costs, cost_source = curves.epoch_costs()
    total = curves.reps * curves.n_settings * curves.epochs
    results = []
    for strategy in strategies:
        start = time.perf_counter()
        outcome = strategy.replay(curves, order_arr, seeds)
        chosen = select(curves, outcome, order_arr)
        fraction = outcome.spent.reshape(len(order_arr), -1).sum(axis=1) / total
        results.append(StrategyResult(
            spec=strategy.spec(), summary=strategy.summary, live=strategy.runs_live(),
            epoch_fraction=Interval.of(fraction),
            regret=Interval.of(per_rep_regret(final_wa, chosen, star)),
            regret_ua=Interval.of(per_rep_regret(final_ua, chosen, star)),
            same_theta=float((chosen == star).mean()), no_selection=float((chosen < 0).mean()),
            selected=[curves.keys[c] if c >= 0 else None for c in chosen[0]],
            seconds=time.perf_counter() - start,
            setting_regret=Interval.of(setting_regret(final_wa, chosen, star)) if curves.reps > 1 else None,
            device_fraction=Interval.of(device_fraction(outcome.spent, costs, epochs=curves.epochs)),
            cost_source=cost_source))
        if progress is not None:
            progress.update(1)
    return results


def strategy_shares(spec: str, *, settings: int, reps: int, epochs: int,
                    epoch_seconds=None) -> tuple[float, float]:
    """The shares of brute force's epochs and of its device time ``spec`` spends, replayed on
    synthesized curves of this size (10 orders).

    Parameters
    ----------
    epoch_seconds : sequence of float, shape (settings,), optional
        Each setting's seconds per epoch (``--plan``'s estimate); equal when None, so that both
        shares are the same.

    Returns
    -------
    (epoch_share, device_share) : tuple of float in (0, 1]
        An estimate: the synthesized accuracies say nothing of a setting's cost, while on real
        speech the dearest settings were often the best (the real EmoDB record,
        ``benchmarks/data/README.md``), which a strategy then trains longest.
    """
    if spec == "brute":
        return 1.0, 1.0
    curves = synthesize(settings=settings, reps=reps, epochs=epochs)
    if epoch_seconds is not None:
        curves = replace(curves, epoch_seconds=np.asarray(epoch_seconds, dtype=np.float64))
    (result,) = replay(curves, [spec], orders=10)
    return result.epoch_fraction.mean, result.device_fraction.mean


def strategy_fraction(spec: str, *, settings: int, reps: int, epochs: int) -> float:
    """The share of brute force's epochs ``spec`` spends, replayed on synthesized curves of this
    size (10 orders): an estimate, since the real share depends on the real curves."""
    return strategy_shares(spec, settings=settings, reps=reps, epochs=epochs)[0]
