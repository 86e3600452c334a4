"""Search strategies, by name: how much of the grid x epochs x repetitions a search trains.

Every strategy is a small frozen dataclass registered in :data:`STRATEGIES`. A
spec names one and sets its parameters: ``asha``, ``asha:eta=4,min=2``,
``topk:n=2,k=3``. Each strategy can be *replayed* on recorded curves
(:meth:`Strategy.replay`: which epochs of which (θ, r) it would train, and which
trials finish and are candidates for selection), vectorised over many arrival
orders so that a hundred orders of a 511 x 10 grid take seconds. Those with
``live = True`` also run in ``sertune search --strategy`` through the Optuna
pruner :meth:`Strategy.pruner` returns; their replay re-implements that
pruner's rule on arrays (Optuna's code, read as the specification: the tests
check decision for decision that both agree on the same curves).

Arrival order is the order a single worker claims θs (a search's claim order is
seeded); every repetition is its own Optuna study, so a pruner compares trials
of the same repetition only. Trial number i of repetition r is the i-th θ to
arrive.
"""

from __future__ import annotations

import binascii
import math
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from .curves import Curves, best_so_far


@dataclass(frozen=True)
class Outcome:
    """What a strategy trains, per lane (arrival order) n, repetition r and setting s.

    spent : ndarray of int, shape (N, R, S)
        Epochs trained.
    complete : ndarray of bool, shape (N, R, S)
        Trained every epoch and not pruned: a candidate for θ_r (the selection
        takes the best validation WA among these, ties to the earliest arrival).
    """

    spent: np.ndarray
    complete: np.ndarray


class Strategy:
    """Base of every strategy. Subclasses are frozen dataclasses whose fields are the
    spec's parameters (ints or floats, with defaults)."""

    name: ClassVar[str]
    live: ClassVar[bool] = False
    summary: ClassVar[str] = ""

    def replay(self, curves: Curves, orders: np.ndarray, seeds: np.ndarray) -> Outcome:
        """The outcome on ``curves`` for arrival ``orders`` (N, S) of setting indices and one
        seed per lane (N,) for strategies that draw at random."""
        raise NotImplementedError

    def pruner(self, epochs: int):
        """The Optuna pruner that runs this strategy live (only where ``live``)."""
        raise ConfigError(f"strategy {self.spec()!r} runs in `sertune replay` only: its phases need every "
                          f"setting's results at once; live strategies: {', '.join(live_names())}")

    def check(self, epochs: int, n_settings: int, reps: int) -> None:
        """ConfigError when the parameters cannot work for this study's size."""

    def screening(self) -> int:
        """Repetitions a setting is screened on before the others (0: none, every setting gets all)."""
        return 0

    def promoted(self, score: float, earlier: list[float]) -> bool:
        """Whether a setting whose screening score is ``score`` goes on (only where :meth:`screening`)."""
        return True

    def scaled(self, factor: float) -> "Strategy":
        """The same strategy with every parameter counted in epochs multiplied by ``factor``
        (rounded, at least 1 where it was): for a search with ``factor`` times the epochs."""
        changes = {f.name: max(int(round(getattr(self, f.name) * factor)), min(getattr(self, f.name), 1))
                   for f in fields(self) if f.metadata.get("epochs")}
        return replace(self, **changes)

    def spec(self) -> str:
        """Canonical spec: the name and every parameter (``asha:eta=3,min=1,bootstrap=0``)."""
        def text(v):
            return f"{v:g}" if isinstance(v, float) else str(v)
        params = ",".join(f"{f.name}={text(getattr(self, f.name))}" for f in fields(self))
        return f"{self.name}:{params}" if params else self.name


#: name -> strategy class. Filled by :func:`register`.
STRATEGIES: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    STRATEGIES[cls.name] = cls
    return cls


def live_names() -> list[str]:
    return [n for n, c in STRATEGIES.items() if c.live]


SYNTAX = "NAME or NAME:param=value,param=value (e.g. asha:eta=3,min=1)"


def parse_strategy(spec: str) -> Strategy:
    """The strategy a spec names; ConfigError listing the registry and the syntax otherwise."""
    text = str(spec).strip()
    name, _, rest = text.partition(":")
    if name not in STRATEGIES:
        raise ConfigError(f"strategy {spec!r} is unknown; choose one of: {', '.join(STRATEGIES)}; "
                          f"syntax: {SYNTAX}")
    cls = STRATEGIES[name]
    types = {f.name: f.type for f in fields(cls)}
    values: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = part.partition("=")
        if not eq or key not in types:
            known = ", ".join(types) or "none"
            raise ConfigError(f"strategy {spec!r}: {part!r} is not a parameter of {name} (its parameters: "
                              f"{known}); syntax: {SYNTAX}")
        try:
            values[key] = int(raw) if types[key] in (int, "int") else float(raw)
        except ValueError:
            raise ConfigError(f"strategy {spec!r}: {key}={raw!r} must be a number") from None
    return cls(**values)


def _positive(spec_name: str, **values) -> None:
    for key, value in values.items():
        if not value > 0:
            raise ConfigError(f"strategy {spec_name}: {key}={value} must be > 0")


def _count(value: float, total: int) -> int:
    """A count given as a number (>= 1) or a fraction of ``total`` (< 1), at least 1."""
    return max(1, min(total, int(round(value)) if value >= 1 else math.ceil(value * total)))


def _ranks(orders: np.ndarray) -> np.ndarray:
    """rank[n, s]: arrival position of setting s in order n."""
    ranks = np.empty_like(orders)
    np.put_along_axis(ranks, orders, np.arange(orders.shape[1])[None, :].repeat(len(orders), 0), axis=1)
    return ranks


def _top(scores: np.ndarray, ranks: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k best scores along the last axis; ties go to the earlier arrival."""
    # lexsort: the last key is primary. Sort by -score, then by arrival rank.
    idx = np.lexsort((np.broadcast_to(ranks, scores.shape), -scores), axis=-1)[..., :k]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, idx, True, axis=-1)
    return mask


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
    min x eta^k epochs; at each, a trial goes on when it is in the top 1/eta so far."""

    name: ClassVar[str] = "asha"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "asynchronous successive halving: the top 1/eta go on at each rung"
    eta: int = 3
    min: int = field(default=1, metadata={"epochs": True})
    bootstrap: int = 0

    def __post_init__(self) -> None:
        if self.eta < 2:
            raise ConfigError(f"strategy asha: eta={self.eta} must be >= 2 (the reduction factor)")
        _positive("asha", min=self.min)
        if self.bootstrap < 0:
            raise ConfigError(f"strategy asha: bootstrap={self.bootstrap} must be >= 0")

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
        Asha(eta=self.eta, min=self.min, bootstrap=self.bootstrap)          # same checks
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
        screen = Curves(name=curves.name, keys=curves.keys, val=curves.val[:m], test_wa=curves.test_wa[:m],
                        test_ua=curves.test_ua[:m], seed=curves.seed)
        s_spent, s_complete = _halving_outcome(screen, orders, rungs, self.eta, self.bootstrap)   # (m, L, A)
        ok = s_complete.all(axis=0)                                                         # (L, A)
        final = best_so_far(curves.val[:m])[:, :, -1].mean(axis=0)                          # (S,)
        passed = successive_halving(final[orders][:, :, None], eta=1 / self.keep, bootstrap=0, present=ok)
        promoted = (passed == 1)[None].repeat(curves.reps - m, axis=0)
        rest = Curves(name=curves.name, keys=curves.keys, val=curves.val[m:], test_wa=curves.test_wa[m:],
                      test_ua=curves.test_ua[m:], seed=curves.seed)
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
        if self.eta < 2:
            raise ConfigError(f"strategy hyperband: eta={self.eta} must be >= 2 (the reduction factor)")
        _positive("hyperband", min=self.min)

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
        from .storage import rep_name
        lanes, arrivals = orders.shape
        spent = np.full((curves.reps, lanes, arrivals), curves.epochs, dtype=np.int64)
        complete = np.ones_like(spent, dtype=bool)
        for r in range(curves.reps):
            bracket = np.array([self.bracket_of(rep_name(curves.name, r), i, curves.epochs)
                                for i in range(arrivals)])
            for b in range(len(self.brackets(curves.epochs))):
                at = np.flatnonzero(bracket == b)
                if not len(at):
                    continue
                one = _single_rep(curves, r)
                s, c = _halving_outcome(one, orders[:, at], _rung_epochs(curves.epochs, self.min, self.eta, b),
                                        self.eta, self.bootstrap)
                spent[r][:, at], complete[r][:, at] = s[0], c[0]
        return Outcome(_scatter(orders, spent), _scatter(orders, complete))

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.HyperbandPruner(min_resource=self.min, max_resource=epochs,
                                              reduction_factor=self.eta, bootstrap_count=self.bootstrap)


def _single_rep(curves: Curves, r: int) -> Curves:
    sl = slice(r, r + 1)
    return Curves(name=curves.name, keys=curves.keys, val=curves.val[sl], test_wa=curves.test_wa[sl],
                  test_ua=curves.test_ua[sl], seed=curves.seed)


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


# --------------------------------------------------------------------------- two-phase strategies

@register
@dataclass(frozen=True)
class TopK(Strategy):
    """Train every setting n epochs, then only the top k (a count, or a fraction when < 1) to the end,
    ranked per repetition by validation WA (Egele et al. 2023: as good as successive halving)."""

    name: ClassVar[str] = "topk"
    summary: ClassVar[str] = "every setting n epochs, then only the top k to the end"
    n: int = field(default=1, metadata={"epochs": True})
    k: float = 0.05

    def __post_init__(self) -> None:
        _positive("topk", n=self.n, k=self.k)

    def check(self, epochs, n_settings, reps):
        if self.n > epochs:
            raise ConfigError(f"strategy topk: n={self.n} is more than the {epochs} epochs")

    def replay(self, curves, orders, seeds):
        lanes = len(orders)
        k = _count(self.k, curves.n_settings)
        score = best_so_far(curves.val)[:, :, self.n - 1]                 # (R, S)
        top = _top(np.broadcast_to(score[None], (lanes, *score.shape)), _ranks(orders)[:, None, :], k)
        spent = np.where(top, curves.epochs, self.n)
        return Outcome(spent, top)


@register
@dataclass(frozen=True)
class RandomSubset(Strategy):
    """A random subset of the settings (a fraction, or a count when >= 1), trained in full."""

    name: ClassVar[str] = "random"
    summary: ClassVar[str] = "a random subset of the settings, trained in full"
    budget: float = 0.1

    def __post_init__(self) -> None:
        _positive("random", budget=self.budget)

    def replay(self, curves, orders, seeds):
        k = _count(self.budget, curves.n_settings)
        chosen = np.zeros((len(orders), curves.n_settings), dtype=bool)
        for n, seed in enumerate(seeds):
            chosen[n, np.random.default_rng(int(seed)).choice(curves.n_settings, k, replace=False)] = True
        mask = np.broadcast_to(chosen[:, None, :], (len(orders), curves.reps, curves.n_settings))
        return Outcome(np.where(mask, curves.epochs, 0), mask.copy())


@register
@dataclass(frozen=True)
class RepetitionFidelity(Strategy):
    """Rank settings on a few repetitions (``reps``, chosen at random per seed) after ``n`` epochs,
    then train the best ``top`` (fraction or count) on every repetition to the end."""

    name: ClassVar[str] = "repfid"
    summary: ClassVar[str] = "rank on a few repetitions, train all K only for the best"
    reps: int = 1
    n: int = field(default=0, metadata={"epochs": True})
    top: float = 0.1

    def __post_init__(self) -> None:
        _positive("repfid", reps=self.reps, top=self.top)
        if self.n < 0:
            raise ConfigError(f"strategy repfid: n={self.n} must be >= 0 (0: all epochs)")

    def check(self, epochs, n_settings, reps):
        if self.reps > reps:
            raise ConfigError(f"strategy repfid: reps={self.reps} is more than the study's {reps} repetitions")
        if self.n > epochs:
            raise ConfigError(f"strategy repfid: n={self.n} is more than the {epochs} epochs")

    def replay(self, curves, orders, seeds):
        lanes, R, S, E = len(orders), curves.reps, curves.n_settings, curves.epochs
        n = self.n or E
        k = _count(self.top, S)
        best = best_so_far(curves.val)[:, :, n - 1]                        # (R, S)
        ranks = _ranks(orders)
        spent = np.zeros((lanes, R, S), dtype=np.int64)
        complete = np.zeros((lanes, R, S), dtype=bool)
        for lane, seed in enumerate(seeds):
            screen = np.random.default_rng(int(seed)).choice(R, min(self.reps, R), replace=False)
            finalists = _top(best[screen].mean(axis=0), ranks[lane], k)
            spent[lane] = np.where(finalists, E, 0)
            spent[lane, screen] = np.where(finalists, E, n)
            complete[lane] = finalists
            if n == E:
                complete[lane, screen] = True
        return Outcome(spent, complete)
