"""Resolving settings: defaults, then a TOML file, then command-line flags.

Unknown keys are errors (a typo must not silently fall back to a default), and
the resolved settings are saved with every result.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import ConfigError


def read_toml(path: str | Path, *, what: str = "config file") -> dict:
    """A TOML file as a dict; ConfigError naming the file, what it is and the problem.

    ``what`` is what the caller reads (``"config file"``, ``"grid file"``): a missing grid
    is not a missing config file.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; check the path") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder; give a .toml file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


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


def add_flags(group, cls, *, defaults=None) -> None:
    """Add a ``--flag`` for every field of the dataclass ``cls`` that has one.

    A field's metadata says how: ``help``, ``choices`` (the registry that
    validates the value, so the flag offers what the code accepts), ``metavar``,
    and ``flag: False`` for settings read only from a config file. The type
    comes from the default's type; every flag defaults to None so that
    :func:`resolve` can tell a given flag from an absent one. Nested dataclass
    fields (e.g. ``train: TrainConfig``) add their own fields' flags.
    """
    instance = defaults if defaults is not None else cls()
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            add_flags(group, type(value), defaults=value)
            continue
        meta = f.metadata
        if meta.get("flag", True) is False:
            continue
        kwargs = {"metavar": meta.get("metavar"), "choices": meta.get("choices")}
        kind = meta.get("type") or (type(value) if value is not None and not isinstance(value, bool) else str)
        if kwargs["choices"] is None:
            kwargs["type"] = kind
        shown = "" if value is None else f" (default {value:g})" if isinstance(value, float) else f" (default {value})"
        kwargs["help"] = meta.get("help", "") + shown
        group.add_argument("--" + f.name.replace("_", "-"), **{k: v for k, v in kwargs.items() if v is not None})


def flat_fields(cls, *, defaults=None) -> dict:
    """``{name: default}`` of every field of ``cls``, nested dataclass fields flattened in."""
    instance = defaults if defaults is not None else cls()
    flat = {}
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        flat.update(flat_fields(type(value), defaults=value) if dataclasses.is_dataclass(value) else {f.name: value})
    return flat
