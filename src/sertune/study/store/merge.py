"""Records of one corpus and training with other settings θ merge into the record one search over
the union of their grids makes: curves (``sertune curves A B --out AB.npz``) and stored studies
(``sertune report A B --out DIR``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ...errors import ConfigError
from ...features.theta import parse_theta_key, theta_key
from .claims import order
from .control import Control
from .curves import Curves, Restarts, jsonable, theta_of
from .results import StudyResults, TrialRecord, first_finished


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


def _study_recipe(results: StudyResults) -> dict:
    """:func:`_recipe` of a stored study: its repetition 0's split stands for all (they follow from the
    corpus, the protocol and the seed)."""
    corpus = {k: v for k, v in results.corpus.items() if k != "root"}
    settings = {k: v for k, v in results.settings.items() if k not in NOT_RECIPE}
    return {"corpus": corpus, "training settings": settings, "classes": list(results.classes),
            "repetitions": results.reps, "split of repetition 0": results.attrs.get("split")}


def _check_recipes(names: Sequence[str], recipes: Sequence[dict], what: str) -> None:
    """ConfigError naming the first part and field that differ from the first part's."""
    for name, got in zip(names[1:], recipes[1:]):
        for field_, value in recipes[0].items():
            if got[field_] != value:
                raise ConfigError(f"{what} {name!r} differ from {names[0]!r} in {field_}: "
                                  f"{_difference(got[field_], value)}; only records of one corpus and training "
                                  f"settings merge")


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
    _check_recipes([p.name for p in parts], [_recipe(p) for p in parts], "curves")
    for part in parts[1:]:
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


# --------------------------------------------------------------------------- stored studies

def merge_results(parts: Sequence[StudyResults]) -> StudyResults:
    """One study from stored searches of other settings of one corpus and training (see :func:`merge`).

    Parameters
    ----------
    parts : sequence of StudyResults, length >= 1
        Searches that agree on corpus (its folder may differ), training settings (the
        strategy, pruner, budget and restart control aside), classes, repetitions and splits.

    Returns
    -------
    StudyResults
        Named ``A+B``, its grid the union of the parts' in product-grid order (a merged curves
        record's order). A (repetition, θ) finished in two parts is kept once. Trial numbers
        are renumbered per repetition in the claim order of one search over that grid with the
        parts' seed, so a tie of validation WA for θ_r* goes where that search and a replay of
        the merged curves send it, whichever part trained it first. ``attrs["parts"]`` names
        the parts (name, storage, settings). One part is returned as it is.

    Raises
    ------
    ConfigError
        Naming the first part and field that differ, or a (repetition, θ) two parts finished
        with different results.
    """
    if not parts:
        raise ConfigError("merge: no studies given; pass one or more searches")
    if len(parts) == 1:
        return parts[0]
    _check_recipes([p.name for p in parts], [_study_recipe(p) for p in parts], "search")
    grid = {theta: None for p in parts for theta in p.grid}
    grid = sorted(grid, key=lambda t: _grid_order(t.as_dict()))
    kept: list[tuple[int, TrialRecord]] = []
    finished: dict = {}                           # (rep, θ) -> the finished trial kept for it
    for i, part in enumerate(parts):
        firsts = {id(t): cell for cell, t in first_finished(part).items()}
        for t in part.trials:
            cell = firsts.get(id(t))
            if cell in finished:
                other = finished[cell]
                if (other.state, other.value, other.test) != (t.state, t.value, t.test):
                    raise ConfigError(f"setting {t.key} of repetition {t.rep} is in two searches with different "
                                      f"results; they were not trained alike (another machine or thread "
                                      f"count?), so they do not merge")
                continue                          # the same training, stored twice: count it once
            if cell is not None:
                finished[cell] = t
            kept.append((i, t))
    claims = order([theta_key(t) for t in grid], int(parts[0].settings.get("seed", 0)))
    position = {parse_theta_key(key): j for j, key in enumerate(claims)}

    def place(item):
        i, t = item
        return (t.rep, position.get(t.theta, len(grid)), i, t.number)
    trials, count = [], {}
    for i, t in sorted(kept, key=place):
        trials.append(replace(t, number=count.setdefault(t.rep, 0)))
        count[t.rep] += 1
    first = parts[0]
    usual = next((p.usual for p in parts if p.usual is not None), None)
    control = next((p.attrs["control"] for p in parts if p.attrs.get("control")), None)
    names = list(dict.fromkeys(p.grid_name for p in parts if p.grid_name))
    attrs = dict(first.attrs) | {
        "grid": [t.as_dict() for t in grid], "usual": usual.as_dict() if usual else None, "control": control,
        "parts": [{"name": p.name, "storage": p.storage, "settings": len(p.grid)} for p in parts]}
    return replace(first, name="+".join(p.name for p in parts), storage=" + ".join(p.storage for p in parts),
                   grid=tuple(grid), usual=usual, grid_name=" + ".join(names) or None, attrs=attrs,
                   studies=tuple(sorted({r for p in parts for r in p.studies})), trials=tuple(trials))


def merge_controls(controls: Sequence[Control | None]) -> Control | None:
    """The restart control of the parts that hold one; two parts with different controls do not merge."""
    held = [c for c in controls if c is not None]
    for c in held[1:]:
        if c != held[0]:
            raise ConfigError(f"two searches hold different restart controls ({c.theta} x {c.restarts} vs "
                              f"{held[0].theta} x {held[0].restarts}); merge searches with one control at most")
    return held[0] if held else None
