"""The sets Θ of LMS settings a study searches: the paper's, the usual ones, or a user's TOML.

A grid is a plain tuple of :class:`~sertune.features.theta.Theta`, validated as a whole
before the first training starts, so a typo in entry 400 does not surface
hours into a search.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

from ...config import read_toml
from ...errors import ConfigError, SertuneWarning
from ...features.theta import Theta

SAMPLE_RATE = 16000

#: θ• of the paper: 40 mels, 25 ms window (400), 10 ms hop (160), 3 s segments.
USUAL = Theta(n_mels=40, win_length=400, hop_length=160, segment=3.0)

#: Table 2 of the paper.
PAPER_N_MELS = tuple(range(128, 257, 8))
PAPER_WIN_LENGTHS = (127, 255, 511)
PAPER_HOP_LENGTHS = (16, 32)
PAPER_SEGMENTS = {"savee": (1.0, 2.0, 3.0, 4.0, 5.0)}
PAPER_SEGMENTS_DEFAULT = (5.0, 6.0, 7.0, 8.0, 9.0)       # EmoDB and IEMOCAP

#: "Usual" settings of the paper's literature review (segment 3 s where the source gives none).
USUAL_SETTINGS = (
    USUAL,                                   # 40 mels, 25 ms / 10 ms, 3 s
    Theta(64, 400, 160, 3.0),                # 64 mels, 25 ms / 10 ms
    Theta(128, 1024, 512, 3.0),              # 128 mels, n_fft 1024, hop 512
    Theta(64, 512, 512, 3.0),                # 64 mels, 512 / 512
    Theta(40, 640, 320, 3.0),                # 40 mels, 40 ms / 20 ms
)


def _seconds(value):
    """Segments are floats; other types are left for :func:`validate` to name."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def product(n_mels, win_lengths, hop_lengths, segments) -> tuple[Theta, ...]:
    """Every combination, ordered by T, then L, then M, then H."""
    return tuple(Theta(m, w, h, _seconds(t))
                 for t, w, m, h in itertools.product(segments, win_lengths, n_mels, hop_lengths))


def paper_grid(corpus: str) -> tuple[Theta, ...]:
    """Table 2's 510 settings for ``corpus`` plus θ•: 511 (T in 1..5 s for SAVEE, 5..9 s otherwise)."""
    segments = PAPER_SEGMENTS.get(corpus, PAPER_SEGMENTS_DEFAULT)
    return product(PAPER_N_MELS, PAPER_WIN_LENGTHS, PAPER_HOP_LENGTHS, segments) + (USUAL,)


def toml_grid(path: str | Path) -> tuple[Theta, ...]:
    """A grid from TOML: lists ``n_mels``, ``win_length``, ``hop_length`` (samples) and
    ``segment`` (seconds) whose product is the grid, plus optional ``[[extra]]`` tables
    of single settings. Either part may be absent, not both.

    Example::

        n_mels = [64, 128]
        win_length = [400, 512]
        hop_length = [160]
        segment = [2, 3]

        [[extra]]
        n_mels = 40
        win_length = 400
        hop_length = 160
        segment = 3
    """
    doc = read_toml(path, what="grid file")
    fields = ("n_mels", "win_length", "hop_length", "segment")
    unknown = sorted(set(doc) - set(fields) - {"extra"})
    if unknown:
        raise ConfigError(f"grid file {path}: unknown key {unknown[0]!r}; use {', '.join(fields)} "
                          f"and [[extra]] tables")
    grid: tuple[Theta, ...] = ()
    given = [f for f in fields if f in doc]
    if given:
        missing = [f for f in fields if f not in doc]
        if missing:
            raise ConfigError(f"grid file {path}: {missing[0]!r} is missing; a product grid "
                              f"needs all of {', '.join(fields)} as lists")
        for f in fields:
            if not isinstance(doc[f], list) or not doc[f]:
                raise ConfigError(f"grid file {path}: {f} = {doc[f]!r} must be a non-empty list")
        grid = product(*(doc[f] for f in fields))
    extras = doc.get("extra", [])
    if not isinstance(extras, list):
        raise ConfigError(f"grid file {path}: 'extra' must be [[extra]] tables")
    for k, entry in enumerate(extras):
        bad = sorted(set(entry) ^ set(fields)) if isinstance(entry, dict) else ["(not a table)"]
        if bad:
            raise ConfigError(f"grid file {path}: [[extra]] table {k + 1} must have exactly "
                              f"{', '.join(fields)} (problem: {bad[0]})")
        grid += (Theta(entry["n_mels"], entry["win_length"], entry["hop_length"],
                       _seconds(entry["segment"])),)
    if not grid:
        raise ConfigError(f"grid file {path} defines no setting; give the four lists or [[extra]] tables")
    return grid


#: Named grids: name -> grid(corpus name). ``--grid`` takes one of these names or a TOML path.
GRIDS = {"paper": paper_grid, "usual": lambda corpus: USUAL_SETTINGS}


def resolve_grid(spec: str, corpus: str) -> tuple[str, tuple[Theta, ...]]:
    """A name of :data:`GRIDS` or a TOML path -> (name, validated grid without duplicates)."""
    if spec in GRIDS:
        grid = GRIDS[spec](corpus)
    elif spec.endswith(".toml") or Path(spec).is_file():
        grid = toml_grid(spec)
    else:
        raise ConfigError(f"--grid {spec!r} is not {', '.join(GRIDS)} or a .toml file")
    return spec, validate(grid)


def validate(grid: tuple[Theta, ...]) -> tuple[Theta, ...]:
    """Check every setting before any training; drop exact duplicates (keeping order).

    Types first, then :meth:`Theta.check`: each number's own rule (``n_mels = -5`` must be
    positive) before what the numbers make together (SqueezeNet's smallest input).
    """
    poor = []
    for k, theta in enumerate(grid):
        for name in ("n_mels", "win_length", "hop_length"):
            value = getattr(theta, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"grid entry {k + 1}: {name}={value!r} must be an integer")
        if not isinstance(theta.segment, float):
            raise ConfigError(f"grid entry {k + 1}: segment={theta.segment!r} must be a number of seconds")
        try:
            if theta.check(SAMPLE_RATE, warn=False):
                poor.append(theta)
        except ConfigError as exc:
            raise ConfigError(f"grid entry {k + 1} ({theta}): {exc}") from None
    if poor:
        # One summary instead of one warning per setting: the paper's own grid has
        # 100+ settings with empty mel filters (small L), and they are searched on purpose.
        advice = poor[0].check(SAMPLE_RATE, warn=False)[0]
        one = len(poor) == 1
        some = f"{len(poor)} of {len(grid)} settings {'has' if one else 'have'}" if len(grid) > 1 else \
            "the one setting has"
        warnings.warn(f"{some} poor log-Mel parameters; {'it is' if one else 'they are'} searched as given. "
                      f"{'It' if one else 'First'}: {poor[0]}: {advice}", SertuneWarning, stacklevel=2)
    return tuple(dict.fromkeys(grid))
