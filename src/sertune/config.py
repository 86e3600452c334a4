"""Resolving settings: defaults, then a TOML file, then command-line flags.

Unknown keys are errors (a typo must not silently fall back to a default), and
the resolved settings are saved with every result.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError


def read_toml(path: str | Path) -> dict:
    """A TOML file as a dict; ConfigError naming the file and the problem."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def resolve(defaults: Mapping[str, object], file: Mapping[str, object] | None,
            flags: Mapping[str, object], *, source: str = "config file") -> dict:
    """``defaults`` overridden by ``file`` then by the flags that were given (not None).

    Keys of ``file`` use the flags' names with underscores (``n_mels``) or dashes
    (``n-mels``). Unknown keys raise ConfigError listing the known ones.
    """
    resolved = dict(defaults)
    for key, value in (file or {}).items():
        name = key.replace("-", "_")
        if name not in defaults:
            raise ConfigError(f"{source} has unknown key {key!r}; known keys: {', '.join(sorted(defaults))}")
        resolved[name] = value
    for key, value in flags.items():
        if key not in defaults:
            raise ConfigError(f"unknown setting {key!r}")
        if value is not None:
            resolved[key] = value
    return resolved
