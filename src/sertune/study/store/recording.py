"""A study's learning curves read from its storage: what ``sertune curves`` exports and replay reads.

Every θ finished on every repetition gives its validation curve (the trial's intermediate
values) and the test metrics of its improving epochs (``test_curve``); beside them, the
seconds per epoch each setting took and the restart control's curves, where the search has one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...features.theta import Theta, theta_key
from .curves import TEST_CURVE, Curves, Restarts, jsonable, load, test_at_epochs
from .storage import load_meta, open_storage, rep_name, restarts_name


def from_storage(url: str, name: str) -> Curves:
    """The curves of search ``name``: every θ finished on every repetition.

    Raises ConfigError when the search is not brute force, recorded no test
    curves, or has no θ finished on every repetition. Settings finished on only
    some repetitions are left out and :attr:`Curves.notes` says so.
    """
    import optuna
    from optuna.trial import TrialState

    storage = open_storage(url)
    meta = load_meta(storage, name)
    settings = meta.get("settings") or {}
    strategy = settings.get("strategy") or settings.get("pruner", "none")
    if strategy not in ("none", "brute"):
        raise ConfigError(f"search {name!r} ran strategy {strategy!r}: replay needs a brute-force record "
                          f"(every setting trained every epoch); run `sertune search ... --strategy brute`")
    grid = [Theta(**t) for t in meta["grid"]]
    keys = [theta_key(t) for t in grid]
    reps, epochs = int(meta["reps"]), int(settings["epochs"])
    found: dict[tuple[int, str], tuple] = {}
    seconds: dict[str, list[float]] = {}
    no_curve = 0
    tests, digests = [], []
    for r in range(reps):
        try:
            study = optuna.load_study(study_name=rep_name(name, r), storage=storage)
        except KeyError:
            continue
        split = study.user_attrs.get("split", {})
        tests.append(len(split.get("test", ())))
        digests.append(hashlib.sha256(json.dumps(split, sort_keys=True).encode()).hexdigest()[:16])
        for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
            key = t.params.get("theta")
            if key not in keys or (r, key) in found:
                continue            # a duplicate: the first finished trial of a cell wins, as everywhere
            if TEST_CURVE not in t.user_attrs:
                no_curve += 1
                continue
            curve = _curve(t, epochs)
            if curve is not None:
                found[(r, key)] = curve
                seconds.setdefault(key, []).extend(_epoch_seconds(t))
    if no_curve and not found:
        raise ConfigError(f"search {name!r} has no test curves: it was recorded before sertune kept the test "
                          f"metrics of improving epochs; run the search again to record them")
    done = [k for k in keys if all((r, k) in found for r in range(reps))]
    if not done:
        raise ConfigError(f"search {name!r} has no setting finished on all {reps} repetitions yet; "
                          f"replay needs whole curves (let the search finish, or wait for a few settings)")
    notes = []
    if len(done) < len(keys):
        notes.append(f"partial record: {len(done)} of {len(keys)} settings are finished on every repetition; "
                     f"the replay covers those only")
    if no_curve:
        notes.append(f"{no_curve} trials recorded no test curve and were left out")
    arrays = [np.array([[found[(r, k)][i] for k in done] for r in range(reps)], dtype=np.float64)
              for i in range(3)]
    # The fastest repetition of a setting is the least disturbed by other work on the machine.
    timed = [min(seconds[k]) if seconds.get(k) else None for k in done]
    epoch_seconds = np.array(timed, dtype=np.float64) if all(timed) else None
    restarts, note = _restarts(storage, name, meta, found, epochs)
    notes += [note] if note else []
    kept = [meta["grid"][keys.index(k)] for k in done]
    source = {"corpus": meta.get("corpus"), "settings": settings, "grid": kept, "storage": url,
              "classes": meta.get("classes"), "test_utterances": tests,
              "split_digests": digests}
    return Curves(name=name, keys=tuple(done), val=arrays[0], test_wa=arrays[1], test_ua=arrays[2],
                  seed=int(settings.get("seed", 0)), source=jsonable(source), notes=tuple(notes),
                  epoch_seconds=epoch_seconds, restarts=restarts)


def _curve(trial, epochs: int) -> tuple | None:
    """(validation WAs, test WAs, test UAs) of every epoch of a complete trial, or None if one is missing."""
    values = [trial.intermediate_values.get(e) for e in range(1, epochs + 1)]
    if any(v is None for v in values):
        return None
    return (values, *test_at_epochs(trial.user_attrs[TEST_CURVE], epochs))


def _epoch_seconds(trial) -> list[float]:
    """Seconds per epoch of a training trained in one go (a resumed one timed only its last part)."""
    secs, ran = trial.user_attrs.get("seconds"), trial.user_attrs.get("epochs_run")
    if not secs or not ran or trial.user_attrs.get("resumed_from"):
        return []
    return [float(secs) / int(ran)]


def _restarts(storage, name: str, meta: dict, found: dict, epochs: int) -> tuple[Restarts | None, str | None]:
    """The restart control's curves (restart 0: the grid's own training of θ, or the control's when θ
    is not in the grid), or (None, why not)."""
    import optuna
    from optuna.trial import TrialState

    control = meta.get("control")
    if not control:
        return None, None
    key, n, reps = control["theta"], int(control["restarts"]), int(meta["reps"])
    cells: dict[tuple[int, int], tuple] = {(r, 0): found[(r, key)] for r in range(reps) if (r, key) in found}
    for r in range(reps):
        try:
            study = optuna.load_study(study_name=restarts_name(name, r), storage=storage)
        except KeyError:
            continue
        for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
            i = t.user_attrs.get("restart")
            if t.params.get("theta") == key and i is not None and (r, i) not in cells and TEST_CURVE in t.user_attrs:
                curve = _curve(t, epochs)
                if curve is not None:
                    cells[(r, int(i))] = curve
    missing = reps * n - len(cells)
    if missing:
        return None, (f"restart control of {key}: {missing} of its {reps * n} trainings are not finished; "
                      f"left out")
    arrays = [np.array([[cells[(r, i)][j] for i in range(n)] for r in range(reps)], dtype=np.float64)
              for j in range(3)]
    return Restarts(key=key, val=arrays[0], test_wa=arrays[1], test_ua=arrays[2]), None


def open_curves(study: str | Path, *, storage: str | None = None, name: str | None = None) -> Curves:
    """Curves from a ``.npz`` file, a search's output folder, or a storage URL (``--storage``)."""
    from .locate import find_storage, find_study_name

    if storage:
        return from_storage(storage, name or find_study_name(storage))
    if study is None:
        raise ConfigError("give STUDY (a curves .npz, or the --out folder of `sertune search`) or --storage URL")
    path = Path(study)
    if path.suffix == ".npz" or path.is_file():
        return load(path)
    if "://" in str(study):
        return from_storage(str(study), name or find_study_name(str(study)))
    url, found = find_storage(path)
    return from_storage(url, name or found)
