"""Where a study lives: Optuna RDB storage (SQLite by default, PostgreSQL for many machines).

A search named NAME is K Optuna studies in one storage (docs/study-storage.md):
``NAME.rep{r}`` holds the trials of repetition r; a search with a restart control
also has ``NAME.rep{r}.restarts``, the control's extra trainings of repetition r. The work queue is the table
``sertune_claims`` in the same database (:mod:`sertune.study.store.claims`): one row
per θ, held with a heartbeat by the worker that trains θ on every repetition.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage

from ...errors import ConfigError

#: Storage format written into every study's user attrs.
FORMAT_VERSION = 1

#: Seconds between heartbeats of a held claim; 3x that without one means its worker stopped.
HEARTBEAT_SECONDS = 10


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO and warns about ask/tell with heartbeats; the
    progress bar says what matters, so keep Optuna to real warnings."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed", module="optuna")
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)


def default_url(out: Path) -> str:
    """SQLite file ``study.db`` in the output folder."""
    return f"sqlite:///{Path(out).resolve() / 'study.db'}"


def open_storage(url: str, *, heartbeat: float = HEARTBEAT_SECONDS) -> RDBStorage:
    """An RDB storage for the search's studies (``heartbeat`` is accepted for callers' symmetry:
    claims beat in their own table, :mod:`sertune.study.store.claims`).

    Raises ConfigError for a URL SQLAlchemy cannot open.
    """
    quiet_optuna()
    kwargs = {}
    if url.startswith("sqlite"):
        # Several worker processes share one SQLite file: wait for locks rather than fail.
        kwargs = {"connect_args": {"timeout": 120}}
    try:
        return RDBStorage(url, engine_kwargs=kwargs)
    except Exception as exc:  # SQLAlchemy raises many types for bad URLs / unreachable servers
        raise ConfigError(f"cannot open study storage {url!r}: {str(exc).splitlines()[0]}. "
                          f"Use sqlite:////abs/path/study.db or postgresql://user@host/db") from None


def rep_name(name: str, rep: int) -> str:
    return f"{name}.rep{rep}"


def restarts_name(name: str, rep: int) -> str:
    """The study of repetition ``rep``'s restart control (its trainings never compete for θ_r*)."""
    return f"{rep_name(name, rep)}.restarts"


def restarts_search(name: str) -> str:
    """The claims of a search's restart control: a queue of its own beside the grid's."""
    return f"{name}.restarts"


#: Separates a control claim's θ key from its restart index (``M40-L400-H160-T3~restart2``).
RESTART_MARK = "~restart"


def control_keys(control: dict | None) -> list[str]:
    """The claim keys of a restart control (``meta["control"]``: ``{"theta": key, "restarts": N,
    "in_grid": bool}``): one per restart it trains, 1..N-1 when θ is in the grid (restart 0 is
    the grid's own training of θ), else 0..N-1."""
    if not control:
        return []
    first = 1 if control.get("in_grid", True) else 0
    return [f"{control['theta']}{RESTART_MARK}{i}" for i in range(first, int(control["restarts"]))]


def is_control_key(key: str) -> bool:
    return RESTART_MARK in key


def split_control_key(key: str) -> tuple[str, int]:
    """(θ key, restart index) of a claim key; restart 0 for a grid setting's own key."""
    base, mark, index = key.partition(RESTART_MARK)
    return (base, int(index)) if mark else (key, 0)


def load_meta(storage: RDBStorage, name: str) -> dict:
    """User attrs of ``NAME.rep0`` (the search's settings); ConfigError if there is no such search."""
    names = optuna.study.get_all_study_names(storage)
    if rep_name(name, 0) not in names:
        known = sorted({n.rsplit(".", 1)[0] for n in names if n.endswith(".rep0")})
        raise ConfigError(f"no search named {name!r} in this storage"
                          + (f"; it holds: {', '.join(known)}" if known else " (it holds no search)"))
    study_id = storage.get_study_id_from_name(rep_name(name, 0))
    return dict(storage.get_study_user_attrs(study_id))


class FixedSampler(optuna.samplers.BaseSampler):
    """Sampler of the repetition studies: θ is not sampled, it is the one the claim holder trains
    (set ``key`` before ``study.ask()``), recorded as the trial's categorical ``theta`` param."""

    def __init__(self) -> None:
        self.key: str | None = None

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.key
