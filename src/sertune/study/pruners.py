"""Pruners a search can use, by name: the registry ``--pruner`` offers its choices from.

Each factory takes the number of epochs (the resource a pruner counts in) and
returns an Optuna pruner; Optuna's own implementations are used as they are.
"""

from __future__ import annotations

from typing import Callable

import optuna

from ..errors import ConfigError


def _none(epochs: int) -> optuna.pruners.BasePruner:
    """The paper's brute force: every training runs all its epochs."""
    return optuna.pruners.NopPruner()


def _asha(epochs: int) -> optuna.pruners.BasePruner:
    """Successive halving: rungs at 1, 3, 9, ... epochs, the top third promoted at each."""
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)


def _hyperband(epochs: int) -> optuna.pruners.BasePruner:
    """Hyperband over 1..epochs with reduction factor 3 (several successive-halving brackets)."""
    return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)


#: name -> factory(epochs). ``sertune search --pruner`` lists these names.
PRUNERS: dict[str, Callable[[int], optuna.pruners.BasePruner]] = {
    "none": _none, "asha": _asha, "hyperband": _hyperband,
}


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """The pruner registered as ``name``; ConfigError listing the registry for an unknown one."""
    if name not in PRUNERS:
        raise ConfigError(f"pruner={name!r} is unknown; choose one of: {', '.join(PRUNERS)}")
    return PRUNERS[name](epochs)
