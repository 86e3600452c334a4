"""What a worker claims next when the search's strategy chooses the settings (random, tpe).

The strategy decides from the settings claimed so far (:meth:`Strategy.next_setting`);
this module reads them from the search's storage. A setting's first trial on repetition 0
marks when it was claimed; a skipped setting (a trial with the ``skipped`` attribute: the
strategy did not choose it) does not count. Its objective is the one the replay uses: the
mean over repetitions of the best validation WA reported, once every repetition is complete.
A setting held by a worker that has not opened its trial yet counts as claimed last and
still training.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from ..theta import Theta
from .claims import Claim, ClaimBook
from .strategy_base import Strategy

#: User attribute of a trial recorded without training: the strategy did not choose or promote it.
SKIPPED = "skipped"


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
