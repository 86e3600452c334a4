"""The base of search strategies: the :class:`Strategy` class, the registry and spec parsing.

Strategies themselves live in :mod:`.strategies_pruning` (Optuna's pruners, live),
:mod:`.strategies_phased` (a random subset, live; and two-phase ones that need every
setting's results at once, live through a barrier) and :mod:`.strategies_sampled` (TPE, live without
pruning); :mod:`.strategies` imports them, in registry order, and is the module to import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import ClassVar, Sequence

import numpy as np

from ...errors import ConfigError
from ...features.theta import Theta
from ..store.curves import Curves


@dataclass(frozen=True)
class Outcome:
    """What a strategy trains, per lane (arrival order) n, repetition r and setting s.

    spent : ndarray of int, shape (N, R, S)
        Epochs trained.
    complete : ndarray of bool, shape (N, R, S)
        Trained every epoch and not pruned: a candidate for θ_r (the selection
        takes the best validation WA among these, ties to the earliest arrival).
    ranks : ndarray of int, shape (N, S), optional
        The order in which the strategy trained the settings (rank per setting), where it
        is not the arrival order (TPE trains in its own order): selection ties go to the
        earliest trained, as a live search's do.
    """

    spent: np.ndarray
    complete: np.ndarray
    ranks: np.ndarray | None = None


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

    #: Whether the strategy chooses which settings a search trains (random, tpe): a worker asks
    #: :meth:`next_setting` before each claim, and records the settings it will not train as
    #: skipped (pruned after 0 epochs), as the replay counts them.
    picks: ClassVar[bool] = False

    def runs_live(self) -> bool:
        """Whether `sertune search --strategy` can run this very spec (some parameters are replay-only)."""
        return self.live

    def next_setting(self, thetas: Sequence[Theta], arrival: Sequence[int],
                     history: Sequence[tuple[int, float | None]], seed: int) -> int | None:
        """The setting to train next in a live search, or None when the budget is spent (only where ``picks``).

        ``thetas`` is the grid, ``arrival`` its indices in the search's claim order, ``history``
        the settings claimed so far in claim order with their objective (mean over repetitions of
        the best validation WA; None while training), ``seed`` the search's seed. With one worker
        the choices equal the replay's with arrival order 0 and the same seed.
        """
        raise NotImplementedError

    def budget_count(self, n_settings: int) -> int:
        """How many of ``n_settings`` settings a choosing strategy trains (only where ``picks``)."""
        raise NotImplementedError

    def pruner(self, epochs: int):
        """The Optuna pruner that runs this strategy live (only where ``live``)."""
        raise ConfigError(f"strategy {self.spec()!r} runs in `sertune replay` only: its phases need every "
                          f"setting's results at once; live strategies: {', '.join(live_names())}")

    def check(self, epochs: int, n_settings: int, reps: int) -> None:
        """ConfigError when the parameters cannot work for this study's size."""

    def barrier(self, epochs: int) -> int:
        """Epochs after which every (θ, r) waits for all the others (0: none), in a search of
        ``epochs``. A live search parks each training there with a checkpoint and, once all
        have arrived, :meth:`continues` says which go on (see ``study/barrier.py``)."""
        return 0

    def before_barrier(self, reps: int, seed: int) -> list[int]:
        """The repetitions trained up to the barrier; the others start after it."""
        return list(range(reps))

    def continues(self, score: np.ndarray, ranks: np.ndarray) -> np.ndarray:
        """Which (r, θ) go on past the barrier: a boolean mask like ``score`` (..., R, S), the best
        validation WA up to the barrier (-inf on repetitions not trained before it), given the
        settings' arrival ``ranks`` (..., 1, S) (only where :meth:`barrier`)."""
        raise NotImplementedError

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


def arrival_ranks(orders: np.ndarray) -> np.ndarray:
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


