"""Records of one corpus and training with other settings θ merge into the record one search over
the union of their grids makes (``sertune curves A B --out AB.npz``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...errors import ConfigError
from .curves import Curves, Restarts, jsonable, theta_of


#: Stored search settings that decide which trainings a search runs, not what a (θ, r) training computes.
NOT_RECIPE = ("strategy", "pruner", "budget", "restarts", "control")


def _recipe(curves: Curves) -> dict:
    """What a (θ, r) training depends on besides θ: records that share it may merge."""
    source = curves.source
    corpus = {k: v for k, v in (source.get("corpus") or {}).items() if k != "root"}   # a path, not the data
    settings = {k: v for k, v in (source.get("settings") or {}).items() if k not in NOT_RECIPE}
    return {"corpus": corpus, "training settings": settings, "classes": source.get("classes"),
            "seed": curves.seed, "repetitions": curves.reps, "epochs": curves.epochs,
            "test utterances": source.get("test_utterances")}


def _difference(got, want) -> str:
    """``got vs want``; for two dicts, only the keys whose values differ (``missing`` where absent)."""
    if not (isinstance(got, dict) and isinstance(want, dict)):
        return f"{got!r} vs {want!r}"
    keys = [k for k in dict.fromkeys([*want, *got]) if got.get(k, ...) != want.get(k, ...)]
    show = lambda d, k: repr(d[k]) if k in d else "missing"   # noqa: E731
    return ", ".join(f"{k} {show(got, k)} vs {show(want, k)}" for k in keys)


def _grid_order(theta: dict) -> tuple:
    # The order of a product grid (grids.product: segment, window, mels, hop), so that the union
    # of two parts is ordered as one search over the union of their grids would be.
    return (float(theta["segment"]), int(theta["win_length"]), int(theta["n_mels"]), int(theta["hop_length"]))


def merge(parts: Sequence[Curves]) -> Curves:
    """One record from brute-force records of other settings of one corpus and training.

    A (θ, r) training depends on the corpus, repetition r's split and seed
    (:func:`sertune.training.fit.rep_seed` of the search's seed and r) and the training
    settings, never on which other settings its grid holds. So records that share all
    of those merge into exactly the record one search over the union of their grids
    makes (tested): a grid grown later, or cut into parts recorded on several machines.

    Parameters
    ----------
    parts : sequence of Curves, length >= 1
        Records that agree on corpus (its folder may differ), training settings, classes,
        seed, repetitions, epochs, test utterances and (where recorded) their splits.

    Returns
    -------
    Curves
        Every setting of every part once, in product-grid order; ``source["parts"]`` names the
        parts (name, storage, settings). One part is returned as it is.

    Raises
    ------
    ConfigError
        Naming the first part and field that differ, or a setting two parts hold with other
        curves.
    """
    if not parts:
        raise ConfigError("merge: no curves given; pass one or more records")
    first = parts[0]
    if len(parts) == 1:
        return first
    want = _recipe(first)
    for part in parts[1:]:
        got = _recipe(part)
        for field_, value in want.items():
            if got[field_] != value:
                raise ConfigError(f"curves {part.name!r} differ from {first.name!r} in {field_}: "
                                  f"{_difference(got[field_], value)}; only records of one corpus and training "
                                  f"settings merge")
        mine, theirs = first.source.get("split_digests"), part.source.get("split_digests")
        if mine and theirs and mine != theirs:
            raise ConfigError(f"curves {part.name!r} and {first.name!r} were trained on different splits; "
                              f"only records of one corpus and seed merge")
    grid, cells, secs = {}, {}, {}
    for part in parts:
        for i, key in enumerate(part.keys):
            if part.epoch_seconds is not None:
                secs[key] = part.epoch_seconds[i]
            cell = (part.val[:, i], part.test_wa[:, i], part.test_ua[:, i])
            if key in cells and not all(np.array_equal(a, b) for a, b in zip(cells[key], cell)):
                raise ConfigError(f"setting {key} is in two records with different curves; they were not "
                                  f"trained alike (another machine or thread count?), so they do not merge")
            cells[key] = cell
            grid[key] = theta_of(part, i).as_dict()
    keys = sorted(cells, key=lambda k: _grid_order(grid[k]))
    val, test_wa, test_ua = (np.stack([cells[k][j] for k in keys], axis=1) for j in range(3))
    names = [p.name for p in parts]
    name = first.name if len(set(names)) == 1 else "+".join(names)
    source = dict(first.source) | {"grid": [grid[k] for k in keys],
                                   "parts": [{"name": p.name, "storage": p.source.get("storage"),
                                              "settings": p.n_settings} for p in parts]}
    notes = dict.fromkeys(n for p in parts for n in p.notes)     # what the parts left out
    seconds = np.array([secs[k] for k in keys]) if len(secs) == len(keys) else None
    return Curves(name=name, keys=tuple(keys), val=val, test_wa=test_wa, test_ua=test_ua, seed=first.seed,
                  source=jsonable(source), notes=tuple(notes), epoch_seconds=seconds, restarts=_one_control(parts))


def _one_control(parts: Sequence[Curves]) -> Restarts | None:
    """The restart control of the parts that hold one; two parts with different controls do not merge."""
    controls = [p for p in parts if p.restarts is not None]
    for p in controls[1:]:
        a, b = controls[0].restarts, p.restarts
        if a.key != b.key or a.val.shape != b.val.shape or not all(
                np.array_equal(getattr(a, f), getattr(b, f)) for f in ("val", "test_wa", "test_ua")):
            raise ConfigError(f"curves {p.name!r} and {controls[0].name!r} hold different restart controls "
                              f"({b.key} x {b.n} vs {a.key} x {a.n}); merge records with one control at most")
    return controls[0].restarts if controls else None
