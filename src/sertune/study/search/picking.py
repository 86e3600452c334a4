"""What a worker trains when the search's strategy decides which settings to train.

``random`` and ``tpe`` choose the settings (:func:`acquire_chosen`, :func:`within_budget`);
``asha-screen`` promotes a setting past its screening repetitions or not (:func:`promoted`).

A choosing strategy decides from the settings claimed so far (:meth:`Strategy.next_setting`);
this module reads them from the search's storage. A setting's first trial on repetition 0
marks when it was claimed; a skipped setting (a trial with the ``skipped`` attribute: the
strategy did not choose it) does not count. Its objective is the one the replay uses: the
mean over repetitions of the best validation WA reported, once every repetition is complete.
A setting held by a worker that has not opened its trial yet counts as claimed last and
still training.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from ...features.theta import Theta
from ..store.claims import Claim, ClaimBook
from ..strategies.base import Strategy

#: User attribute of a trial recorded without training: the strategy did not choose or promote it.
SKIPPED = "skipped"
#: User attribute every training trial carries from its start (the runner's attempt count).
TRAINING = "attempt"


def claimed(rep_studies: Sequence[optuna.Study], keys: Sequence[str],
            held: Sequence[str] = ()) -> list[tuple[int, float | None]]:
    """(setting index, objective or None) of every setting claimed so far, in claim order."""
    index = {k: i for i, k in enumerate(keys)}
    first: dict[str, int] = {}
    skipped = set()
    for t in rep_studies[0].get_trials(deepcopy=False):
        key = t.params.get("theta")
        if key not in index:
            continue
        if SKIPPED in t.user_attrs:
            skipped.add(key)
        else:
            first[key] = min(first.get(key, t.number), t.number)
    best: dict[str, list[float]] = {k: [] for k in first}
    for study in rep_studies:
        done = {}
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            key = t.params.get("theta")
            if key in best and key not in done and t.intermediate_values:
                done[key] = max(t.intermediate_values.values())
        for key, value in done.items():
            best[key].append(value)
    history = [(index[k], _mean(best[k]) if len(best[k]) == len(rep_studies) else None)
               for k in sorted(first, key=first.__getitem__)]
    return history + [(index[k], None) for k in held if k in index and k not in first and k not in skipped]


def _mean(values: list[float]) -> float:
    # As the replay's mean over axis 0 of (repetitions, settings): the same sums, the same float.
    return float(np.asarray(values, dtype=np.float64)[:, None].mean(axis=0)[0])


def acquire_chosen(book: ClaimBook, strategy: Strategy, rep_studies: Sequence[optuna.Study],
                   grid: Sequence[Theta], keys: Sequence[str], seed: int) -> tuple[Claim | None, bool | None]:
    """Claim what ``strategy`` chooses next; (claim, whether to train it).

    ``True``: train it (chosen, or a stopped worker's θ being trained). ``False``: the
    budget is spent, record it skipped (every θ ends recorded, so the search finishes).
    ``None``: another worker claimed the chosen θ first; give this one back and ask again.
    ``(None, True)``: nothing to claim now.
    """
    rows = book.rows()
    history = claimed(rep_studies, keys, held=[r.key for r in rows if r.state == "held"])
    index = {k: i for i, k in enumerate(keys)}
    want = strategy.next_setting(grid, [index[r.key] for r in rows], history, seed)   # rows: queue order
    claim = book.acquire(prefer=None if want is None else keys[want])
    if claim is None:
        return None, True
    if claim.took_over:          # go on as the stopped worker went: training it, or skipping it
        return claim, not any(SKIPPED in t.user_attrs for t in rep_studies[0].get_trials(deepcopy=False)
                              if t.params.get("theta") == claim.key)
    if want is None:
        return claim, False
    return claim, (True if claim.key == keys[want] else None)


def within_budget(study: optuna.Study, key: str, k: int, *, patience: float = 5.0) -> bool:
    """Whether θ ``key`` is among the first ``k`` settings trained, ordered by their first trial
    on repetition 0 (``study``), excluding skipped ones.

    Workers that claim at the same moment each decide from what they saw, and together could
    claim more than the budget. Trial numbers are given out by the storage one at a time, so
    they order those claims the same for every worker: each checks its own place once its trial
    exists, and exactly the first ``k`` train. A trial's attributes are written a moment after
    its number; earlier trials that do not yet say what they are (training or skipped) are
    waited for, at most ``patience`` seconds (one left by a worker killed in that moment).
    """
    deadline = time.monotonic() + patience
    while True:
        trials = study.get_trials(deepcopy=False)
        mine = min(t.number for t in trials if t.params.get("theta") == key and SKIPPED not in t.user_attrs)
        earlier = [t for t in trials if t.number < mine]
        if all(_labelled(t) or t.state != TrialState.RUNNING for t in earlier) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    before = {t.params["theta"] for t in earlier if _labelled(t) and SKIPPED not in t.user_attrs}
    return len(before - {key}) < k


def _labelled(t) -> bool:
    return t.params.get("theta") is not None and (TRAINING in t.user_attrs or SKIPPED in t.user_attrs)


def promoted(rep_studies: Sequence[optuna.Study], strategy: Strategy, key: str) -> bool:
    """Whether θ goes past the screening repetitions (``asha-screen``).

    Its score is the mean validation WA of its trials on the screening repetitions; it is
    ranked against every θ that finished screening before. A θ already decided (it has a
    trial in the first repetition after screening) keeps its decision, so a resumed search
    does not decide again against competitors that came later.
    """
    m = strategy.screening()
    after = [t for t in rep_studies[m].get_trials(deepcopy=False) if t.params.get("theta") == key]
    if after:
        return not any(SKIPPED in t.user_attrs for t in after)
    scores: dict[str, list[float]] = {}
    for study in rep_studies[:m]:
        seen = set()
        for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
            k = t.params.get("theta")
            if k not in seen:
                seen.add(k)
                scores.setdefault(k, []).append(t.value)
    mine = scores.pop(key, [])
    if len(mine) < m:
        return False                 # pruned on a screening repetition
    earlier = [sum(v) / m for v in scores.values() if len(v) == m]
    return strategy.promoted(sum(mine) / m, earlier)
