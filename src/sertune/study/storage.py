"""Where a study lives: Optuna RDB storage (SQLite by default, PostgreSQL for many machines).

A search named NAME is K+1 Optuna studies in one storage (docs/study-storage.md):
``NAME.rep{r}`` holds the trials of repetition r, and ``NAME.claims`` is the
work queue: one trial per θ, drawn by a seeded ``GridSampler`` in a shuffled
order, held (with a heartbeat) by the worker that trains θ on every repetition.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import optuna
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

from ..errors import ConfigError

#: Storage format written into every study's user attrs.
FORMAT_VERSION = 1

#: Seconds between heartbeats of a running claim, and how long without one means "dead".
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
    """An RDB storage with heartbeats: a claim whose worker stops beating for
    ``3 * heartbeat`` seconds is failed and queued again.

    Raises ConfigError for a URL SQLAlchemy cannot open.
    """
    quiet_optuna()
    interval = max(1, int(round(heartbeat)))
    kwargs = {}
    if url.startswith("sqlite"):
        # Several worker processes share one SQLite file: wait for locks rather than fail.
        kwargs = {"connect_args": {"timeout": 120}}
    try:
        return RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=interval,
                          grace_period=3 * interval,
                          heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=None))
    except Exception as exc:  # SQLAlchemy raises many types for bad URLs / unreachable servers
        raise ConfigError(f"cannot open study storage {url!r}: {str(exc).splitlines()[0]}. "
                          f"Use sqlite:////abs/path/study.db or postgresql://user@host/db") from None


def rep_name(name: str, rep: int) -> str:
    return f"{name}.rep{rep}"


def claims_name(name: str) -> str:
    return f"{name}.claims"


def study_names(storage: RDBStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def load_meta(storage: RDBStorage, name: str) -> dict:
    """User attrs of ``NAME.rep0`` (the search's settings); ConfigError if there is no such search."""
    names = study_names(storage)
    if rep_name(name, 0) not in names:
        known = sorted({n.rsplit(".", 1)[0] for n in names if n.endswith(".rep0")})
        raise ConfigError(f"no search named {name!r} in this storage"
                          + (f"; it holds: {', '.join(known)}" if known else " (it holds no search)"))
    study_id = storage.get_study_id_from_name(rep_name(name, 0))
    return dict(storage.get_study_user_attrs(study_id))
