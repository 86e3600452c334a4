"""Create a search in its storage, or check that the stored one is the same search and resume it.

Everything a worker needs is written into the storage first (corpus, grid,
settings, the split of every repetition, the claim queue), so a worker started
by hand on another machine (``sertune worker --storage URL --study NAME``) runs
exactly the same trainings as the ones the search starts itself.
"""

from __future__ import annotations

from typing import Sequence

import optuna

from ...features.audio import SAMPLE_RATE
from ...training.corpus_splits import utterance_splits
from ...environment import environment
from ...errors import ConfigError
from ...features.prepared import Prepared
from ...features.theta import Theta, theta_key
from ..store.claims import ClaimBook, make_engine, order
from .grids import USUAL
from .sanity import grid_warnings
from .settings import IDENTITY
from ..strategies.pruners import strategy_of
from ..store.storage import (FORMAT_VERSION, control_keys, open_storage, rep_name, restarts_name,
                             restarts_search)


def create_or_resume(url: str, name: str, *, prepared: Prepared, grid: Sequence[Theta], grid_name: str,
                     settings: dict, reps: int | None, heartbeat: float, notes: Sequence[str] = (),
                     control: dict | None = None) -> dict:
    """Write a new search into the storage, or check that the stored one is the same search.

    Returns the search's metadata (``NAME.rep0`` user attrs) with ``"resumed"``
    True for a stored search. A stored search made with another corpus, grid or
    settings is refused: resuming it with different settings would mix
    incomparable trials. The claim queue (one row per θ, in an order shuffled by
    the seed) is created here too, and completed for a search stored by an
    older sertune without one.

    ``control`` (``{"theta": key, "restarts": N, "in_grid": bool}``,
    :meth:`SearchConfig.control_meta`) adds the restart control: studies ``NAME.rep{r}.restarts``
    and a claim queue of the trainings of θ per repetition it adds beside the grid's. A stored
    search without one gets it when resumed with one (its grid's numbers do not change); a
    stored control goes on when the search is resumed without the flag.

    A new search stores its warnings (``notes`` about the grid, e.g. empty mel
    filters, and :mod:`~sertune.study.search.sanity`'s about the corpus: T longer than the
    speech, classes with too few segments) under ``"warnings"``, so that they are
    shown in full once and summarised when the search is resumed.
    """
    storage = open_storage(url, heartbeat=heartbeat)
    splits = utterance_splits(prepared, protocol=settings["protocol"], reps=reps, seed=int(settings["seed"]))
    corpus = prepared.corpus
    meta = {
        "sertune": FORMAT_VERSION, "search": name, "reps": len(splits),
        "corpus": {"name": corpus.name, "root": str(corpus.root), "options": dict(corpus.options),
                   "n_utterances": len(corpus.utterances), "synthetic": getattr(corpus, "synthetic", None)},
        "classes": list(prepared.classes), "grid": [t.as_dict() for t in grid], "grid_name": grid_name,
        "usual": USUAL.as_dict() if USUAL in grid else None, "settings": dict(settings),
        "environment": environment(), "control": control,
    }
    book = ClaimBook(make_engine(url), name, grace=3 * heartbeat)
    if rep_name(name, 0) in optuna.study.get_all_study_names(storage):
        stored = optuna.load_study(study_name=rep_name(name, 0), storage=storage).user_attrs
        _check_same(stored, meta, name)
        book.create(order([theta_key(Theta(**t)) for t in stored["grid"]], int(stored["settings"]["seed"])))
        stored = dict(stored)
        if control and not stored.get("control"):      # a control added to a stored search: it changes no number
            for r in range(len(splits)):
                optuna.load_study(study_name=rep_name(name, r), storage=storage).set_user_attr("control", control)
            stored["control"] = control
        _create_control(storage, url, name, stored.get("control"), len(splits), heartbeat)
        return stored | {"resumed": True}
    meta["warnings"] = search_warnings(prepared, grid, splits, remainder=settings["remainder"], notes=notes)
    for r, split in enumerate(splits):
        study = optuna.create_study(storage=storage, study_name=rep_name(name, r), direction="maximize",
                                    load_if_exists=True)
        for key, value in (meta | {"rep": r, "split": {"name": split.name, "train": list(split.train),
                                                        "val": list(split.val),
                                                        "test": list(split.test)}}).items():
            study.set_user_attr(key, value)
    book.create(order([theta_key(t) for t in grid], int(settings["seed"])))
    _create_control(storage, url, name, control, len(splits), heartbeat)
    return meta | {"resumed": False}


def _create_control(storage, url: str, name: str, control: dict | None, reps: int, heartbeat: float) -> None:
    """The restart control's studies (one per repetition) and its claim queue (restarts 1..N-1)."""
    if not control:
        return
    for r in range(reps):
        optuna.create_study(storage=storage, study_name=restarts_name(name, r), direction="maximize",
                            load_if_exists=True).set_user_attr("rep", r)
    ClaimBook(make_engine(url), restarts_search(name), grace=3 * heartbeat).create(control_keys(control))


def search_warnings(prepared: Prepared, grid: Sequence[Theta], splits, *, remainder: str,
                    notes: Sequence[str] = ()) -> list[str]:
    """The warnings a new search stores and shows (and ``--plan`` prints): ``notes`` about the
    grid (e.g. empty mel filters, from :func:`~sertune.study.search.grids.resolve_grid`), then
    :func:`~sertune.study.search.sanity.grid_warnings` about this corpus and these splits."""
    return list(notes) + grid_warnings(
        grid, [len(w) / SAMPLE_RATE for w in prepared.waves], [u.label for u in prepared.corpus.utterances],
        ids=prepared.ids, splits=splits, remainder=remainder)


def _check_same(stored: dict, meta: dict, name: str) -> None:
    def differs(what, a, b):
        return ConfigError(f"the stored search {name!r} was made with {what} {a}; this command asks for "
                           f"{b}. Re-run with the same settings to resume it, or start a new search "
                           f"(another --out folder or --study name)")
    if stored.get("corpus", {}).get("name") != meta["corpus"]["name"] or \
            stored["corpus"].get("options") != meta["corpus"]["options"]:
        raise differs("corpus", stored.get("corpus"), meta["corpus"])
    if stored.get("grid") != meta["grid"]:
        raise differs("grid", f"{stored.get('grid_name')} ({len(stored.get('grid', []))} settings)",
                      f"{meta['grid_name']} ({len(meta['grid'])} settings)")
    if stored.get("reps") != meta["reps"]:
        raise differs("reps", stored.get("reps"), meta["reps"])
    if stored.get("control") and meta["control"] and stored["control"] != meta["control"]:
        raise differs("restart control", stored["control"], meta["control"])
    for key in IDENTITY:
        # A search stored before strategies existed names its strategy by its pruner.
        old = strategy_of(stored["settings"]) if key == "strategy" else stored["settings"].get(key)
        if old != meta["settings"].get(key):
            raise differs(key, old, meta["settings"].get(key))
