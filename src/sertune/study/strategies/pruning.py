"""Live strategies: Optuna's pruners, and their rules re-implemented on arrays for replay.

Each ``replay`` here reads Optuna's code as the specification (its rule is quoted in
the docstrings) and vectorises it over arrival orders; tests/test_study_strategies.py
checks decision for decision that replay and the live pruner agree on the same curves.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...errors import ConfigError
from ..store.curves import Curves, best_so_far
from .base import Outcome, Strategy, _positive, register

# --------------------------------------------------------------------------- brute force

@register
@dataclass(frozen=True)
class Brute(Strategy):
    """The paper's brute force: every setting, every epoch, every repetition."""

    name: ClassVar[str] = "brute"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "every setting, every epoch, every repetition (the paper)"

    def replay(self, curves, orders, seeds):
        shape = (len(orders), curves.reps, curves.n_settings)
        return Outcome(np.full(shape, curves.epochs), np.ones(shape, dtype=bool))

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.NopPruner()



# --------------------------------------------------------------------------- successive halving

def successive_halving(values: np.ndarray, *, eta: float, bootstrap: int,
                       present: np.ndarray | None = None) -> np.ndarray:
    """Rungs passed by each arrival under Optuna's asynchronous successive halving.

    Parameters
    ----------
    values : ndarray, shape (L, A, K)
        Validation WA at the K rung epochs of the A arrivals of L independent lanes,
        in arrival order.
    eta, bootstrap : int
        Reduction factor and bootstrap count (``SuccessiveHalvingPruner``).
    present : ndarray of bool, shape (L, A), optional
        Arrivals that take part; the others are skipped (they pass no rung and
        are no competitor).

    Returns
    -------
    ndarray of int, shape (L, A)
        For each arrival, the rungs it passed: K means it was promoted past every rung.

    Notes
    -----
    Optuna's rule at a rung (``_is_trial_promotable_to_next_rung``): the competing
    values are every earlier trial's value at that rung plus this one's; with n of
    them, the trial goes on when its value is at least the (max(n // eta, 1))-th
    largest, i.e. when at most max(n // eta - 1, 0) earlier values are strictly
    greater; with n <= bootstrap it is pruned.
    """
    lanes, arrivals, rungs = values.shape
    seen = np.full((rungs, lanes, arrivals), np.nan)    # values recorded at each rung so far (NaN: none)
    count = np.zeros((lanes, rungs), dtype=np.int64)
    passed = np.zeros((lanes, arrivals), dtype=np.int64)
    for i in range(arrivals):
        alive = np.ones(lanes, dtype=bool) if present is None else present[:, i].copy()
        for k in range(rungs):
            v = values[:, i, k]
            n = count[:, k] + 1
            greater = (seen[k, :, :i] > v[:, None]).sum(axis=1)       # NaN compares False
            ok = (n > bootstrap) & (greater <= np.maximum(np.floor(n / eta).astype(np.int64) - 1, 0))
            seen[k, alive, i] = v[alive]
            count[alive, k] += 1
            alive &= ok
            passed[alive, i] += 1
            if not alive.any():
                break
    return passed


def _check_halving(name: str, *, eta: int, minimum: int, bootstrap: int) -> None:
    """The parameters every successive-halving strategy shares (Optuna's own bounds)."""
    if eta < 2:
        raise ConfigError(f"strategy {name}: eta={eta} must be >= 2 (the reduction factor)")
    _positive(name, min=minimum)
    if bootstrap < 0:
        raise ConfigError(f"strategy {name}: bootstrap={bootstrap} must be >= 0")


def _rung_epochs(epochs: int, minimum: int, eta: int, rate: int) -> list[int]:
    out, k = [], 0
    while minimum * eta ** (rate + k) <= epochs:
        out.append(minimum * eta ** (rate + k))
        k += 1
    return out


def _halving_outcome(curves: Curves, lanes_order: np.ndarray, rung_epochs: list[int], eta: int,
                     bootstrap: int, present: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spent and complete (R, L, A) for arrivals ``lanes_order`` (L, A) in every repetition
    (``present`` (R, L, A): the arrivals each repetition trains; default all)."""
    epochs = curves.epochs
    reps = curves.reps
    lanes, arrivals = lanes_order.shape
    spent = np.full((reps, lanes, arrivals), epochs, dtype=np.int64)
    complete = np.ones((reps, lanes, arrivals), dtype=bool)
    if present is not None:
        spent[~present], complete[~present] = 0, False
    if not rung_epochs:
        return spent, complete
    at = np.array(rung_epochs) - 1
    for r in range(reps):
        values = curves.val[r][lanes_order][:, :, at]              # (L, A, K)
        here = None if present is None else present[r]
        passed = successive_halving(values, eta=eta, bootstrap=bootstrap, present=here)
        stopped = passed < len(rung_epochs)
        if here is not None:
            stopped &= here
        stop_epoch = np.array(rung_epochs + [epochs])[passed]
        spent[r] = np.where(stopped, stop_epoch, spent[r])
        complete[r] &= ~stopped
    return spent, complete


def _scatter(orders: np.ndarray, by_arrival: np.ndarray) -> np.ndarray:
    """(R, N, A) arrays in arrival order -> (N, R, S) by setting index."""
    out = np.empty_like(by_arrival)
    idx = np.broadcast_to(orders[None], by_arrival.shape)
    np.put_along_axis(out, idx, by_arrival, axis=2)
    return out.transpose(1, 0, 2)


@register
@dataclass(frozen=True)
class Asha(Strategy):
    """Asynchronous successive halving (Optuna's ``SuccessiveHalvingPruner``): rungs at
    min x eta^k epochs; at each, a trial goes on when it is in the top 1/eta so far.

    ``bootstrap`` is Optuna's ``bootstrap_count``, which is harsher than its name
    suggests: the first ``bootstrap`` trials to reach each rung are pruned there (they
    only set the bar for the later ones), so they are stopped at the first rung
    instead of being let through. On the H100 record
    (``benchmarks/data``) ``asha:bootstrap=3`` lost about 52 points of test WA; keep
    the default 0 unless you want exactly Optuna's behaviour.
    """

    name: ClassVar[str] = "asha"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "asynchronous successive halving: the top 1/eta go on at each rung"
    eta: int = 3
    min: int = field(default=1, metadata={"epochs": True})
    bootstrap: int = 0

    def __post_init__(self) -> None:
        _check_halving("asha", eta=self.eta, minimum=self.min, bootstrap=self.bootstrap)

    def replay(self, curves, orders, seeds):
        spent, complete = _halving_outcome(curves, orders, _rung_epochs(curves.epochs, self.min, self.eta, 0),
                                           self.eta, self.bootstrap)
        return Outcome(_scatter(orders, spent), _scatter(orders, complete))

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=self.min, reduction_factor=self.eta,
                                                      bootstrap_count=self.bootstrap)


@register
@dataclass(frozen=True)
class AshaScreen(Strategy):
    """ASHA over epochs, and over repetitions: a setting goes on past its first ``reps`` repetitions
    only when its mean validation WA there ranks in the top ``keep`` of the settings screened
    so far (the same asynchronous rule as a rung of ASHA, with 1/keep as the reduction factor)."""

    name: ClassVar[str] = "asha-screen"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "ASHA, and only the top `keep` of the first `reps` repetitions go on to the rest"
    reps: int = 1
    keep: float = 0.2
    eta: int = 3
    min: int = field(default=1, metadata={"epochs": True})
    bootstrap: int = 0

    def __post_init__(self) -> None:
        _check_halving("asha-screen", eta=self.eta, minimum=self.min, bootstrap=self.bootstrap)
        _positive("asha-screen", reps=self.reps)
        if not 0 < self.keep <= 1:
            raise ConfigError(f"strategy asha-screen: keep={self.keep} must be a fraction in (0, 1]")

    def check(self, epochs, n_settings, reps):
        if self.reps >= reps:
            raise ConfigError(f"strategy asha-screen: reps={self.reps} screening repetitions leave none of "
                              f"the study's {reps} to screen for; use fewer")

    def epoch_pruner(self):
        return Asha(eta=self.eta, min=self.min, bootstrap=self.bootstrap)

    def screening(self) -> int:
        return self.reps

    def promoted(self, score: float, earlier: list[float]) -> bool:
        """The live rule: ``score`` (mean validation WA on the screening repetitions) against the
        scores of the settings screened before it."""
        n = len(earlier) + 1
        greater = sum(v > score for v in earlier)
        return greater <= max(int(np.floor(n * self.keep)) - 1, 0)

    def replay(self, curves, orders, seeds):
        m = self.reps
        rungs = _rung_epochs(curves.epochs, self.min, self.eta, 0)
        screen = curves.repetitions(slice(None, m))
        s_spent, s_complete = _halving_outcome(screen, orders, rungs, self.eta, self.bootstrap)   # (m, L, A)
        ok = s_complete.all(axis=0)                                                         # (L, A)
        final = best_so_far(curves.val[:m])[:, :, -1].mean(axis=0)                          # (S,)
        passed = successive_halving(final[orders][:, :, None], eta=1 / self.keep, bootstrap=0, present=ok)
        promoted = (passed == 1)[None].repeat(curves.reps - m, axis=0)
        rest = curves.repetitions(slice(m, None))
        r_spent, r_complete = _halving_outcome(rest, orders, rungs, self.eta, self.bootstrap, present=promoted)
        spent = np.concatenate([s_spent, r_spent])
        complete = np.concatenate([s_complete, r_complete])
        return Outcome(_scatter(orders, spent), _scatter(orders, complete))

    def pruner(self, epochs):
        return self.epoch_pruner().pruner(epochs)


@register
@dataclass(frozen=True)
class Hyperband(Strategy):
    """Hyperband (Optuna's ``HyperbandPruner``): successive-halving brackets that start
    pruning at different epochs; a trial's bracket comes from a hash of its number."""

    name: ClassVar[str] = "hyperband"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "brackets of successive halving, from aggressive to none"
    eta: int = 3
    min: int = field(default=1, metadata={"epochs": True})
    bootstrap: int = 0

    def __post_init__(self) -> None:
        _check_halving("hyperband", eta=self.eta, minimum=self.min, bootstrap=self.bootstrap)

    def check(self, epochs, n_settings, reps):
        if self.min > epochs:
            raise ConfigError(f"strategy hyperband: min={self.min} is more than the {epochs} epochs")

    def brackets(self, epochs: int) -> list[int]:
        """Trial allocation budget of each bracket (Optuna's formula)."""
        n = math.floor(math.log(epochs / self.min, self.eta)) + 1
        return [math.ceil(n * self.eta ** (n - 1 - b) / (n - b)) for b in range(n)]

    def bracket_of(self, study_name: str, number: int, epochs: int) -> int:
        budgets = self.brackets(epochs)
        left = binascii.crc32(f"{study_name}_{number}".encode()) % sum(budgets)
        for b, budget in enumerate(budgets):
            left -= budget
            if left < 0:
                return b
        raise AssertionError("unreachable")

    def replay(self, curves, orders, seeds):
        from ..store.storage import rep_name
        lanes, arrivals = orders.shape
        spent = np.full((curves.reps, lanes, arrivals), curves.epochs, dtype=np.int64)
        complete = np.ones_like(spent, dtype=bool)
        for r in range(curves.reps):
            bracket = np.array([self.bracket_of(rep_name(curves.name, r), i, curves.epochs)
                                for i in range(arrivals)])
            one = curves.repetitions(slice(r, r + 1))
            for b in range(len(self.brackets(curves.epochs))):
                at = np.flatnonzero(bracket == b)
                if not len(at):
                    continue
                s, c = _halving_outcome(one, orders[:, at], _rung_epochs(curves.epochs, self.min, self.eta, b),
                                        self.eta, self.bootstrap)
                spent[r][:, at], complete[r][:, at] = s[0], c[0]
        return Outcome(_scatter(orders, spent), _scatter(orders, complete))

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.HyperbandPruner(min_resource=self.min, max_resource=epochs,
                                              reduction_factor=self.eta, bootstrap_count=self.bootstrap)


# --------------------------------------------------------------------------- median stopping

@register
@dataclass(frozen=True)
class Median(Strategy):
    """Median stopping (Optuna's ``MedianPruner``): stop a trial whose best validation WA so far
    is below the median of the completed trials at the same epoch."""

    name: ClassVar[str] = "median"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "stop when the best so far is below the completed trials' median"
    startup: int = 5
    warmup: int = field(default=0, metadata={"epochs": True})
    interval: int = field(default=1, metadata={"epochs": True})

    def __post_init__(self) -> None:
        if self.startup < 0 or self.warmup < 0:
            raise ConfigError(f"strategy median: startup={self.startup} and warmup={self.warmup} must be >= 0")
        _positive("median", interval=self.interval)

    def checks(self, epochs: int) -> np.ndarray:
        """Epochs at which Optuna's rule looks (reports every epoch: (e - warmup) % interval == 0)."""
        e = np.arange(1, epochs + 1)
        return e[(e >= self.warmup) & ((e - self.warmup) % self.interval == 0)]

    def replay(self, curves, orders, seeds):
        lanes, arrivals = orders.shape
        checks = self.checks(curves.epochs)
        spent = np.full((curves.reps, lanes, arrivals), curves.epochs, dtype=np.int64)
        complete = np.ones_like(spent, dtype=bool)
        if len(checks) == 0:
            return Outcome(_scatter(orders, spent), _scatter(orders, complete))
        at = checks - 1
        for r in range(curves.reps):
            values = curves.val[r][orders][:, :, at]                       # (L, A, C) at the checks
            best = best_so_far(curves.val[r])[orders][:, :, at]            # the trial's best up to each
            # Completed trials' values at each check, kept sorted (NaN = empty slot, sorts last).
            done = np.full((lanes, arrivals, len(at)), np.nan)
            n_done = np.zeros(lanes, dtype=np.int64)
            for i in range(arrivals):
                active = (n_done > 0) & (n_done >= self.startup)
                stop = np.full(lanes, curves.epochs + 1)
                if active.any():
                    lo = np.take_along_axis(done, ((n_done - 1) // 2)[:, None, None].clip(0), axis=1)[:, 0]
                    hi = np.take_along_axis(done, (n_done // 2)[:, None, None].clip(0), axis=1)[:, 0]
                    median = (lo + hi) / 2
                    below = (best[:, i] < median) & active[:, None]
                    first = np.where(below.any(axis=1), below.argmax(axis=1), len(at))
                    stop = np.where(first < len(at), checks[np.minimum(first, len(at) - 1)], stop)
                pruned = stop <= curves.epochs
                spent[r, :, i] = np.where(pruned, stop, curves.epochs)
                complete[r, :, i] = ~pruned
                grow = ~pruned
                if grow.any():
                    # Insert the new curve into each lane's sorted column (only the filled part).
                    m = int(n_done[grow].max()) + 1
                    old, v = done[grow, :m], values[grow, i][:, None, :]
                    pos = (old < v).sum(axis=1, keepdims=True)            # NaN compares False
                    slot = np.arange(m)[None, :, None]
                    shifted = np.concatenate([old[:, :1], old[:, :-1]], axis=1)
                    done[grow, :m] = np.where(slot < pos, old, np.where(slot == pos, v, shifted))
                    n_done[grow] += 1
        return Outcome(_scatter(orders, spent), _scatter(orders, complete))

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.MedianPruner(n_startup_trials=self.startup, n_warmup_steps=self.warmup,
                                           interval_steps=self.interval)


