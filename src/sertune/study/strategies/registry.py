"""Search strategies, by name: how much of the grid x epochs x repetitions a search trains.

Every strategy is a small frozen dataclass registered in :data:`STRATEGIES`. A
spec names one and sets its parameters: ``asha``, ``asha:eta=4,min=2``,
``topk:n=2,k=3``. Each strategy can be *replayed* on recorded curves
(:meth:`Strategy.replay`: which epochs of which (θ, r) it would train, and which
trials finish and are candidates for selection), vectorised over many arrival
orders so that a hundred orders of a 511 x 10 grid take seconds. Those with
``live = True`` also run in ``sertune search --strategy`` through the Optuna
pruner :meth:`Strategy.pruner` returns (and, for ``topk``, the barrier of
:mod:`.barrier`); their replay re-implements that
pruner's rule on arrays (Optuna's code, read as the specification: the tests
check decision for decision that both agree on the same curves).

Arrival order is the order a single worker claims θs (a search's claim order is
seeded); every repetition is its own Optuna study, so a pruner compares trials
of the same repetition only. Trial number i of repetition r is the i-th θ to
arrive.
"""

from __future__ import annotations

# The registry fills in this order: brute and the pruners, then the phased ones, TPE last.
from .base import (  # noqa: F401
    STRATEGIES, SYNTAX, Outcome, Strategy, live_names, parse_strategy, register)
from .pruning import (  # noqa: F401
    Asha, AshaScreen, Brute, Hyperband, Median, successive_halving)
from .phased import RandomSubset, RepetitionFidelity, TopK  # noqa: F401
from .sampled import Tpe  # noqa: F401

__all__ = ["STRATEGIES", "SYNTAX", "Outcome", "Strategy", "live_names", "parse_strategy", "register", "Asha",
           "AshaScreen", "Brute", "Hyperband", "Median", "successive_halving", "RandomSubset",
           "RepetitionFidelity", "TopK", "Tpe"]
