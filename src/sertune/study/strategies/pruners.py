"""The ``--pruner`` names of earlier sertune, as strategy specs, and the pruner a search runs.

A search's strategy (:mod:`~sertune.study.strategies.registry`) is stored with its settings
as a canonical spec (``"asha:eta=3,min=1,bootstrap=0"``); searches stored before
strategies existed hold only ``pruner``, which :func:`strategy_of` maps here.
"""

from __future__ import annotations

from typing import Mapping

from ...errors import ConfigError
from .registry import parse_strategy

#: ``--pruner`` name -> the strategy spec it means (the flag stays for old commands and stores).
PRUNERS: dict[str, str] = {"none": "brute", "asha": "asha", "hyperband": "hyperband"}


def strategy_of(settings: Mapping) -> str:
    """The canonical strategy spec of a search's stored (or new) settings."""
    spec = settings.get("strategy")
    if not spec:
        pruner = settings.get("pruner", "none")
        if pruner not in PRUNERS:
            raise ConfigError(f"pruner={pruner!r} is unknown; choose one of: {', '.join(PRUNERS)}")
        spec = PRUNERS[pruner]
    return parse_strategy(spec).spec()


def make_pruner(settings: Mapping, epochs: int):
    """The Optuna pruner of a search's settings (ConfigError for a strategy that cannot run live)."""
    return parse_strategy(strategy_of(settings)).pruner(epochs)
