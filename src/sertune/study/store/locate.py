"""Find a study, read-only: its storage URL and search name from a folder, a URL or both.

``sertune status`` and ``sertune report`` take a search's output folder (its
``search.json`` points at the storage, else ``study.db`` beside it) or a URL and
name; nothing here creates a database file or tables.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable

from ...errors import ConfigError

_REP = re.compile(r"^(?P<name>.+)\.rep(?P<rep>\d+)$")


def find_storage(study_dir: str | Path) -> tuple[str, str]:
    """The storage URL and search name of the study in ``study_dir``.

    ``search.json`` (``{"storage": url, "study": name}``, written by ``sertune
    search``) wins; otherwise ``study_dir/study.db`` and the only ``NAME.rep0``
    study in it.

    Raises
    ------
    ConfigError
        When the folder, its ``study.db`` or a unique study is not there.
    """
    folder = Path(study_dir)
    if not folder.is_dir():
        raise ConfigError(f"study folder {folder} does not exist; give the --out folder of "
                          f"`sertune search`, or --storage URL --study NAME")
    pointer = folder / "search.json"
    if pointer.is_file():
        try:
            doc = json.loads(pointer.read_text())
            url, name = doc["storage"], doc["study"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{pointer} is not a search.json with 'storage' and 'study' ({exc}); "
                              f"fix or delete it, or give --storage URL --study NAME") from None
        return _relative_sqlite(url, folder), name
    db = folder / "study.db"
    if not db.is_file():
        raise ConfigError(f"{folder} holds no study.db nor search.json: it is not the output folder of "
                          f"`sertune search` (or give --storage URL --study NAME)")
    url = f"sqlite:///{db.resolve()}"
    return url, find_study_name(url)


def _relative_sqlite(url: str, folder: Path) -> str:
    """A relative SQLite path in search.json is relative to the study folder, not to the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url[len(prefix):].startswith("/") and url[len(prefix):] != ":memory:":
        return prefix + str((folder / url[len(prefix):]).resolve())
    return url


def _storage(url: str):
    """A read-only RDB storage; never creates a database file or tables."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path != ":memory:" and not Path(path).is_file():
            raise ConfigError(f"storage {url}: the file {path} does not exist; check the path "
                              f"(an absolute path needs four slashes: sqlite:////abs/study.db)")
    # A search's workers may be writing: wait for their SQLite locks rather than fail.
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=engine, skip_table_creation=True,
                                          skip_compatibility_check=True)
    except Exception as exc:  # SQLAlchemy and Optuna raise many kinds; all mean "cannot open"
        if "no such table" in str(exc.__cause__ or exc):  # a database, but not one Optuna wrote
            raise ConfigError(f"storage {url} is not an Optuna storage (it has no Optuna tables); give the "
                              f"study.db that `sertune search` wrote, or its folder") from None
        raise ConfigError(f"cannot open storage {url}: {exc}") from None


def read_only_storage(url: str):
    """The storage at ``url`` opened as the readers here open it (for viewers such as ``sertune
    dashboard``): no database file or table is created. Raises ConfigError when it cannot be opened."""
    return _storage(url)


def study_names(storage_url: str, storage=None) -> list[str]:
    """Names of every study in the storage (any search, any repetition)."""
    import optuna

    try:
        return list(optuna.study.get_all_study_names(storage or _storage(storage_url)))
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"storage {storage_url} is not an Optuna storage ({exc})") from None


def find_study_name(storage_url: str) -> str:
    """The only search in the storage (the ``NAME`` of its ``NAME.rep0`` study)."""
    names = sorted(m["name"] for m in map(_REP.match, study_names(storage_url)) if m and m["rep"] == "0")
    if len(names) == 1:
        return names[0]
    if not names:
        raise ConfigError(f"storage {storage_url} holds no search (no study named NAME.rep0); "
                          f"run `sertune search` first")
    raise ConfigError(f"storage {storage_url} holds {len(names)} searches ({', '.join(names)}); "
                      f"choose one with --study NAME")


def _searches(names: Iterable[str]) -> str:
    found = sorted({m["name"] for m in map(_REP.match, names) if m})
    return ", ".join(found) or "none"
