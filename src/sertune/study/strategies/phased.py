"""Strategies that decide which settings to train in full.

``topk`` and ``repfid`` rank every setting before they choose: a barrier between two phases.
A live search parks every (θ, r) before the barrier at epoch n with a checkpoint, and once all
have reached it the workers prune what :meth:`continues` drops and resume or start the rest
(``study/barrier.py``). ``asha-screen`` is the asynchronous form of ``repfid``.
``random`` decides up front and runs live too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ...errors import ConfigError
from ..store.curves import best_so_far
from .base import Outcome, Strategy, _count, _positive, arrival_ranks, _top, register

# --------------------------------------------------------------------------- two-phase strategies

@register
@dataclass(frozen=True)
class TopK(Strategy):
    """Train every setting n epochs, then only the top k (a count, or a fraction when < 1) to the end,
    ranked per repetition by validation WA (Egele et al. 2023: as good as successive halving)."""

    name: ClassVar[str] = "topk"
    live: ClassVar[bool] = True
    summary: ClassVar[str] = "every setting n epochs, then only the top k to the end"
    n: int = field(default=1, metadata={"epochs": True})
    k: float = 0.05

    def __post_init__(self) -> None:
        _positive("topk", n=self.n, k=self.k)

    def check(self, epochs, n_settings, reps):
        if self.n > epochs:
            raise ConfigError(f"strategy topk: n={self.n} is more than the {epochs} epochs")

    def pruner(self, epochs):
        if self.n >= epochs:
            raise ConfigError(f"strategy topk: n={self.n} leaves nothing to continue in a search of {epochs} "
                              f"epochs; use n < {epochs}")
        import optuna
        return optuna.pruners.NopPruner()       # the barrier prunes, not Optuna

    def barrier(self, epochs: int) -> int:
        return self.n

    def continues(self, score: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Top k per repetition of ``score`` (..., R, S), the best validation WA up to epoch n;
        ties go to the earlier arrival (``ranks`` broadcast against it)."""
        top = _top(score, np.broadcast_to(ranks, score.shape), _count(self.k, score.shape[-1]))
        return top & np.isfinite(score)

    def replay(self, curves, orders, seeds):
        lanes = len(orders)
        score = best_so_far(curves.val)[:, :, self.n - 1]                 # (R, S)
        top = self.continues(np.broadcast_to(score[None], (lanes, *score.shape)), arrival_ranks(orders)[:, None, :])
        spent = np.where(top, curves.epochs, self.n)
        return Outcome(spent, top)


@register
@dataclass(frozen=True)
class RandomSubset(Strategy):
    """A random subset of the settings (a fraction, or a count when >= 1), trained in full.

    The subset is drawn from the seed (the search's seed when live, the lane's in a replay),
    the same for every repetition; live, a worker trains its settings in the search's claim
    order and records the others as skipped.
    """

    name: ClassVar[str] = "random"
    live: ClassVar[bool] = True
    picks: ClassVar[bool] = True
    summary: ClassVar[str] = "a random subset of the settings, trained in full"
    budget: float = 0.1

    def __post_init__(self) -> None:
        _positive("random", budget=self.budget)

    def subset(self, n_settings: int, seed: int) -> np.ndarray:
        """Indices of the settings trained with this seed."""
        k = self.budget_count(n_settings)
        return np.random.default_rng(int(seed)).choice(n_settings, k, replace=False)

    def pruner(self, epochs: int):
        import optuna
        return optuna.pruners.NopPruner()

    def budget_count(self, n_settings):
        return _count(self.budget, n_settings)

    def next_setting(self, thetas, arrival, history, seed):
        chosen = set(self.subset(len(thetas), seed).tolist()) - {s for s, _ in history}
        return next((int(s) for s in arrival if s in chosen), None)

    def replay(self, curves, orders, seeds):
        chosen = np.zeros((len(orders), curves.n_settings), dtype=bool)
        for n, seed in enumerate(seeds):
            chosen[n, self.subset(curves.n_settings, seed)] = True
        mask = np.broadcast_to(chosen[:, None, :], (len(orders), curves.reps, curves.n_settings))
        return Outcome(np.where(mask, curves.epochs, 0), mask.copy())


@register
@dataclass(frozen=True)
class RepetitionFidelity(Strategy):
    """Rank settings on a few repetitions (``reps``, chosen at random per seed) after ``n`` epochs,
    then train the best ``top`` (fraction or count) on every repetition to the end."""

    name: ClassVar[str] = "repfid"
    live: ClassVar[bool] = True
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

    def pruner(self, epochs):
        import optuna
        return optuna.pruners.NopPruner()       # the barrier prunes, not Optuna

    def barrier(self, epochs: int) -> int:
        return self.n or epochs

    def before_barrier(self, reps: int, seed: int) -> list[int]:
        """The screening repetitions: ``reps`` of them drawn from ``seed``."""
        return sorted(int(r) for r in np.random.default_rng(int(seed)).choice(reps, min(self.reps, reps),
                                                                              replace=False))

    def continues(self, score: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """The best ``top`` settings by their mean ``score`` over the screening repetitions (the
        finite rows of (..., R, S)), on every repetition; ties go to the earlier arrival."""
        screened = np.isfinite(score).any(axis=-1, keepdims=True)                # (..., R, 1)
        mean = np.where(screened, score, 0.0).sum(axis=-2) / np.maximum(screened.sum(axis=-2), 1)
        rank = np.broadcast_to(ranks, (*score.shape[:-2], 1, score.shape[-1]))[..., 0, :]  # (..., S)
        finalists = _top(mean, rank, _count(self.top, score.shape[-1]))
        return np.broadcast_to(finalists[..., None, :] & np.isfinite(mean)[..., None, :], score.shape)

    def replay(self, curves, orders, seeds):
        lanes, R, S, E = len(orders), curves.reps, curves.n_settings, curves.epochs
        n = self.barrier(E)
        best = best_so_far(curves.val)[:, :, n - 1]                        # (R, S)
        ranks = arrival_ranks(orders)
        spent = np.zeros((lanes, R, S), dtype=np.int64)
        complete = np.zeros((lanes, R, S), dtype=bool)
        for lane, seed in enumerate(seeds):
            screen = self.before_barrier(R, int(seed))
            score = np.full((R, S), -np.inf)
            score[screen] = best[screen]
            finalists = self.continues(score, ranks[lane][None, :])[0]   # the same on every row
            spent[lane] = np.where(finalists, E, 0)
            spent[lane, screen] = np.where(finalists, E, n)
            complete[lane] = finalists
            if n == E:
                complete[lane, screen] = True
        return Outcome(spent, complete)

