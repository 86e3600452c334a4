"""Fake studies with known numbers, written with Optuna exactly as docs/study-storage.md says.

``write_study`` lays a search out in an Optuna storage (one study per repetition,
``NAME.rep{r}``, the study user attrs, one trial per :class:`FakeTrial` added in
order, so trial numbers follow the list) and, given a folder, writes
``search.json`` beside ``study.db`` as ``sertune search`` does. ``fake_results``
builds the same thing in memory (no storage) for tests of pure functions on big
grids, where writing thousands of trials to SQLite would be slow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState, create_trial

from sertune.training.dataset import Theta
from sertune.study.search import grids
from sertune.study.store import results as sr
from sertune.features.theta import theta_key
from sertune.study.search.grids import USUAL

CLASSES = ("anger", "happiness", "neutral", "sadness")

#: The real searches of ``conftest.restart_searches``: θ• and one other setting, 2 repetitions x 2
#: epochs, fixed threads (bit for bit), with and without θ•'s restart control.
CONTROL_GRID = ("n_mels = [24]\nwin_length = [400]\nhop_length = [320]\nsegment = [1.0]\n\n"
                "[[extra]]\nn_mels = 40\nwin_length = 400\nhop_length = 160\nsegment = 3\n")
CONTROL_TRAIN = ["--reps", "2", "--epochs", "2", "--lr", "1e-3", "--batch-size", "8", "--precision", "fp32",
                 "--seed", "5"]

_STATES = {"complete": TrialState.COMPLETE, "pruned": TrialState.PRUNED, "failed": TrialState.FAIL,
           "running": TrialState.RUNNING, "waiting": TrialState.WAITING}


def metrics(wa: float, *, n_classes: int = len(CLASSES), confusion=None, **over) -> dict:
    """A metric dict as the runner stores it; UA, precision, recall, F1 derived from WA by fixed
    offsets (WA - 1, WA + 0.5, WA, WA - 0.5) unless given, and a diagonal-heavy confusion."""
    if confusion is None:
        confusion = [[8 if i == j else 1 for j in range(n_classes)] for i in range(n_classes)]
    return {"wa": wa, "ua": wa - 1.0, "precision": wa + 0.5, "recall": wa, "f1": wa - 0.5,
            "confusion": confusion, **over}


@dataclass
class FakeTrial:
    """One trial of repetition ``rep``: ``val_wa`` is its value, ``test_wa`` its test WA.

    ``test``/``val`` replace the derived metric dicts entirely when given.
    """

    rep: int
    theta: Theta
    val_wa: float | None = None
    test_wa: float | None = None
    state: str = "complete"
    test: dict | None = None
    val: dict | None = None
    error: str | None = None
    epochs_run: int = 3


def small_grid(with_usual: bool = True) -> tuple[Theta, ...]:
    """2 M × 2 L × 1 H × 2 T (8 settings), plus θ• when asked: 9."""
    grid = grids.product((64, 128), (255, 511), (32,), (1.0, 2.0))
    return grid + ((USUAL,) if with_usual else ())


def _meta(name, rep, reps, grid, classes, usual, corpus, settings, corpus_attrs=None) -> dict:
    return {"sertune": 1, "search": name, "rep": rep, "reps": reps,
            "corpus": {"name": corpus, "root": f"/data/{corpus}", "options": {}, "n_utterances": 535,
                       **(corpus_attrs or {})},
            "classes": list(classes), "grid": [t.as_dict() for t in grid], "grid_name": "test",
            "usual": usual.as_dict() if usual is not None else None,
            "settings": settings or {"epochs": 3, "batch_size": 16, "lr": 1e-4, "protocol": "shuffle-split",
                                     "split_unit": "utterance", "seed": 0, "pruner": "none"},
            "split": {"name": f"shuffle-split/{rep}", "train": ["a"], "val": ["b"], "test": ["c"]},
            "environment": {"sertune": "0.1.0", "torch": "2.x"}}


def _frozen(t: FakeTrial, keys: Sequence[str], classes) -> optuna.trial.FrozenTrial:
    key = theta_key(t.theta)
    finished = t.state in ("complete", "pruned")
    attrs = {"theta": t.theta.as_dict(), "rep": t.rep, "device": "cpu (2 threads)"}
    if finished:
        attrs.update(epochs_run=t.epochs_run, seconds=1.5)
    if t.state == "complete":
        attrs.update(val=t.val or metrics(t.val_wa, n_classes=len(classes)),
                     test=t.test or metrics(t.test_wa, n_classes=len(classes)),
                     best_epoch=t.epochs_run, model=f"models/rep{t.rep}/{key}.pt")
    if t.state == "failed":
        attrs.update(error=t.error or "RuntimeError: out of memory", attempt=1)
    inter = {}
    if t.val_wa is not None and t.state != "waiting":
        inter = {e: t.val_wa - (t.epochs_run - e) for e in range(1, t.epochs_run + 1)}
    return create_trial(params={"theta": key}, distributions={"theta": CategoricalDistribution(list(keys))},
                        value=t.val_wa if finished else None, user_attrs=attrs,
                        intermediate_values=inter, state=_STATES[t.state])


def write_study(where, name: str, *, grid: Sequence[Theta], trials: Sequence[FakeTrial], reps: int,
                classes=CLASSES, usual: Theta | None | str = "auto", corpus: str = "emodb",
                settings: dict | None = None, studies: Sequence[int] | None = None,
                corpus_attrs: dict | None = None) -> str:
    """Write a fake search; return its storage URL.

    Parameters
    ----------
    where : folder or storage URL
        A folder gets ``study.db`` and ``search.json``; a URL is used as is.
    usual : Theta, None or "auto"
        θ• of the metadata; "auto": USUAL when the grid holds it, else None.
    studies : repetitions whose study exists (default all K): fewer imitate a search in progress.
    corpus_attrs : entries added to (or replacing) the corpus dict, e.g. ``{"synthetic": marker}``
        or ``{"root": folder}``; without ``synthetic`` the study looks like one written before
        searches stored that key.
    """
    if isinstance(where, Path) or not str(where).startswith(("sqlite:", "postgresql:", "mysql:")):
        folder = Path(where)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{(folder / 'study.db').resolve()}"
        (folder / "search.json").write_text(json.dumps({"storage": url, "study": name}))
    else:
        url = str(where)
    if usual == "auto":
        usual = USUAL if USUAL in grid else None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    keys = [theta_key(t) for t in grid]
    keys += [theta_key(t.theta) for t in trials if theta_key(t.theta) not in keys]
    for rep in (range(reps) if studies is None else studies):
        study = optuna.create_study(storage=url, study_name=f"{name}.rep{rep}", direction="maximize")
        for k, v in _meta(name, rep, reps, grid, classes, usual, corpus, settings, corpus_attrs).items():
            study.set_user_attr(k, v)
        study.add_trials([_frozen(t, keys, classes) for t in trials if t.rep == rep])
    return url


def fake_results(grid: Sequence[Theta], trials: Sequence[FakeTrial], *, reps: int, classes=CLASSES,
                 usual: Theta | None | str = "auto", corpus: str = "emodb", settings: dict | None = None,
                 corpus_attrs: dict | None = None, grid_name: str = "test") -> sr.StudyResults:
    """The StudyResults that :func:`write_study` + :func:`~sertune.study.store.results.load_results` would give."""
    if usual == "auto":
        usual = USUAL if USUAL in grid else None
    numbers: dict[int, int] = {}
    records = []
    for t in trials:
        n = numbers[t.rep] = numbers.get(t.rep, -1) + 1
        f = _frozen(t, [theta_key(t.theta)], classes)
        f.number = n
        records.append(sr._record(t.rep, f))
    attrs = _meta("fake", 0, reps, grid, classes, usual, corpus, settings, corpus_attrs) | {"grid_name": grid_name}
    return sr._results("fake", "memory", attrs, tuple(range(reps)),
                       tuple(sorted(records, key=lambda r: (r.rep, r.number))))
