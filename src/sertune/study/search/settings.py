"""The settings of a search: one frozen :class:`SearchConfig`, validated once at the boundary.

Its fields are the single source of the ``sertune search`` flags (with their
choices from the registries), of the defaults, of the flat ``settings`` dict
stored with the search, and of :data:`IDENTITY`, the settings a resumed
search must share with the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ...config import flat_fields, resolve
from ...errors import ConfigError
from ...features.segments import REMAINDERS
from ...corpora.splits import PROTOCOLS
from ...features.theta import Theta, parse_theta_key, theta_key
from ...training.fit import TrainConfig
from ...training.repetitions import check_restarts
from .grids import USUAL
from ..strategies.budget import parse_budget, strategy_for
from ..strategies.pruners import PRUNERS, strategy_of
from ..strategies.registry import SYNTAX, live_names, parse_strategy


@dataclass(frozen=True)
class SearchConfig:
    """What a search trains and how: grid, repetitions, protocol, pruner, seed, and the training."""

    grid: str | None = field(default=None, metadata={
        "metavar": "paper|usual|FILE.toml",
        "help": "the paper's 511 settings, the usual ones from the literature, or a TOML grid"})
    reps: int | None = field(default=None, metadata={
        "metavar": "K", "type": int, "help": "repetitions (default 10; loso: every fold)"})
    protocol: str = field(default="shuffle-split", metadata={
        "choices": tuple(sorted(PROTOCOLS)), "help": "evaluation protocol"})
    pruner: str = field(default="none", metadata={
        "choices": tuple(PRUNERS), "help": "older name of --strategy: none = brute, asha, hyperband"})
    strategy: str | None = field(default=None, metadata={
        "metavar": "SPEC", "help": f"search strategy, {SYNTAX}; default brute (the paper). "
                                   f"Live: {', '.join(live_names())}; `sertune replay` compares them all"})
    budget: str | None = field(default=None, metadata={
        "metavar": "PCT", "help": "spend about PCT of brute force's epochs (e.g. 10%%) with the strategy "
                                  "that replay of a recorded study showed best at that budget"})
    seed: int = field(default=0, metadata={"help": "seed of splits, trainings and the claim order"})
    restarts: int = field(default=1, metadata={
        "metavar": "N", "type": int,
        "help": "the restart control: also train --control N times per repetition with other seeds "
                "(restart 1 is its grid training), to measure how much keeping the best of many trainings "
                "adds; 1: none"})
    control: str = field(default="usual", metadata={
        "metavar": "THETA", "help": "the setting --restarts trains: usual (θ•) or a key such as "
                                    "M40-L400-H160-T3; it must be in the grid"})
    remainder: str = field(default="drop", metadata={
        "choices": REMAINDERS, "help": "tail of long utterances"})
    train: TrainConfig = TrainConfig()

    def __post_init__(self) -> None:
        if self.grid is not None and not isinstance(self.grid, str):
            raise ConfigError(f"grid={self.grid!r} must be paper, usual or the path of a TOML grid")
        if self.reps is not None and (isinstance(self.reps, bool) or not isinstance(self.reps, int)
                                      or self.reps < 1):
            raise ConfigError(f"reps={self.reps!r} must be a positive integer")
        for name, registry in (("protocol", PROTOCOLS), ("pruner", PRUNERS), ("remainder", REMAINDERS)):
            if getattr(self, name) not in registry:
                raise ConfigError(f"{name}={getattr(self, name)!r} is unknown; choose one of: "
                                  f"{', '.join(registry)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed={self.seed!r} must be an integer")
        check_restarts(self.restarts)
        self.control_theta()                     # a ConfigError now for a key that is no setting
        given = [f"--{n}" for n, v in (("pruner", self.pruner != "none"), ("strategy", self.strategy),
                                      ("budget", self.budget)) if v]
        if len(given) > 1:
            raise ConfigError(f"{' and '.join(given)} both choose the search strategy; give one of them")
        strategy = parse_strategy(self.search_strategy())
        if not strategy.runs_live():
            which = " with these parameters" if strategy.live else ""
            raise ConfigError(f"strategy {strategy.spec()!r} runs in `sertune replay` only{which}; a search "
                              f"can run: {', '.join(live_names())}")
        try:
            strategy.pruner(self.train.epochs)      # ConfigError when its parameters do not fit the epochs
        except ConfigError as exc:
            if self.budget is None:
                raise
            raise ConfigError(f"--budget {self.budget} runs {strategy.spec()}, which does not fit "
                              f"{self.train.epochs} epochs ({exc}); give more --epochs or a --strategy") from None

    def control_theta(self) -> Theta:
        """The setting the restart control trains (``usual``: θ• of the paper)."""
        if self.control == "usual":
            return USUAL
        try:
            return parse_theta_key(str(self.control))
        except ConfigError:
            raise ConfigError(f"control={self.control!r} is not a setting; give usual (θ•) or a key such as "
                              f"M40-L400-H160-T3 (mels, window, hop in samples, segment in seconds)") from None

    def control_meta(self, grid) -> dict | None:
        """``{"theta": key, "restarts": N, "in_grid": bool}`` stored with the search, or None without
        a control. A θ of the grid has its grid training as restart 0; another θ is trained N times
        by the control alone, on the same splits and seed scheme."""
        if self.restarts < 2:
            return None
        theta = self.control_theta()
        theta.check(16000, warn=False)             # a ConfigError now for an impossible setting
        return {"theta": theta_key(theta), "restarts": self.restarts, "in_grid": theta in grid}

    def search_strategy(self) -> str:
        """The canonical spec of the strategy this search runs (from --budget, --strategy or --pruner)."""
        if self.budget is not None:
            return strategy_for(self.budget, self.train.epochs).spec()
        return strategy_of({"strategy": self.strategy, "pruner": self.pruner})

    @classmethod
    def from_flat(cls, values: Mapping[str, object]) -> "SearchConfig":
        """From one flat dict (the flags' names); the training's keys go to :class:`TrainConfig`."""
        train_keys = set(TrainConfig().as_dict())
        train = TrainConfig(**{k: v for k, v in values.items() if k in train_keys})
        return cls(**{k: v for k, v in values.items() if k not in train_keys}, train=train)

    @classmethod
    def resolve(cls, file: Mapping[str, object] | None, flags: Mapping[str, object]) -> "SearchConfig":
        """Defaults, then a TOML file's keys, then the flags that were given; unknown keys are errors."""
        return cls.from_flat(resolve(flat_fields(cls), file, flags))

    def settings(self) -> dict:
        """The flat dict stored with the search (everything but the grid, K and the restart
        control, which is stored apart: :meth:`control_meta`)."""
        return {"protocol": self.protocol, "pruner": self.pruner, "strategy": self.search_strategy(),
                "budget": None if self.budget is None else parse_budget(self.budget), "seed": self.seed,
                "remainder": self.remainder, **self.train.as_dict()}


#: Settings that must match when a stored search is resumed (others may change freely).
IDENTITY = tuple(k for k in SearchConfig().settings() if k not in ("eval_batch_size", "pruner", "budget"))
