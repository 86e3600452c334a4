"""Where results are written: a fresh output folder, and JSON files written whole or not at all.

:func:`check_out_dir` refuses a folder that already holds results (results are
never overwritten); :func:`write_json` writes through a temporary file, and
writes numpy numbers and paths as plain JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import ConfigError


def check_out_dir(out: Path, *, marker: str = "metrics.json") -> Path:
    """An output folder that does not already hold results (results are never overwritten)."""
    out = Path(out)
    if (out / marker).exists():
        raise ConfigError(f"{out} already holds results ({marker}); pass a new --out folder "
                          f"or delete the old one")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` (indented) through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_jsonable))
    tmp.replace(path)


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
