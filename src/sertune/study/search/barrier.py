"""The barrier of a two-phase strategy (``topk``, ``repfid``) in a live search.

Workers train every (θ, r) of the repetitions before the barrier to its epoch n, save a
checkpoint there and park θ: those trials stay RUNNING (or COMPLETE when n is the last
epoch) and the claim ``parked``. Once no θ is open or held and some are parked, any worker
decides: the best validation WA up to epoch n of every parked (θ, r) goes through
:meth:`~sertune.study.strategies.base.Strategy.continues`, the very function the replay ranks
the recorded curves with (ties to the earlier place in the claim queue, as replay's order 0
is that queue). Trainings it does not continue are pruned after n epochs; the decision is
stored with the search, and each parked θ with work left goes back to the queue: its
chosen repetitions resume from their checkpoints or start, the others are recorded skipped.

The decision reads only the storage, and each of its writes is idempotent, so two workers
deciding at once agree, and one killed halfway leaves the rest to the next.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from optuna.trial import TrialState

from ..store.optuna_private import adopt
from .picking import SKIPPED

#: Rep-0 study attributes: set once the barrier is decided (from then on nothing parks), and
#: which θ keys go on in each repetition (``{"r": [key, ...]}``).
DECIDED = "barrier_decided"
GO_ON = "barrier_go_on"


def reached(rows) -> bool:
    """Whether every θ has arrived: some are parked, none open or held (``rows``: the claims)."""
    return any(r.state == "parked" for r in rows) and not any(r.state in ("open", "held") for r in rows)


def decided(rep_studies) -> bool:
    """Whether a worker has decided the barrier already."""
    return bool(rep_studies[0].user_attrs.get(DECIDED))


def going_on(rep_studies) -> list[set[str]]:
    """Per repetition, the θ keys the decision continues (after :func:`decided`)."""
    stored = rep_studies[0].user_attrs.get(GO_ON) or {}
    return [set(stored.get(str(r), ())) for r in range(len(rep_studies))]


def scores(rep_studies, keys: Sequence[str], parked: set[str], epoch: int) -> tuple[np.ndarray, dict]:
    """Best validation WA up to ``epoch`` of each parked (r, θ), (R, S) with -inf elsewhere, and
    those trials by (r, key). Trials already pruned by an earlier decider count too, and
    complete ones (a barrier at the last epoch)."""
    score = np.full((len(rep_studies), len(keys)), -np.inf)
    trials = {}
    for r, study in enumerate(rep_studies):
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.PRUNED,
                                                                 TrialState.COMPLETE)):
            key = t.params.get("theta")
            values = [t.intermediate_values.get(e) for e in range(1, epoch + 1)]
            if key not in parked or SKIPPED in t.user_attrs or any(v is None for v in values):
                continue
            score[r, keys.index(key)] = max(values)
            trials[(r, key)] = t
    return score, trials


def decide(book, rep_studies, strategy, keys: Sequence[str], *, epochs: int, checkpoints=None) -> int:
    """Prune every parked (θ, r) the strategy does not continue, store the decision and reopen
    (work left) or finish each parked θ; returns how many θs were reopened (0 when the barrier
    is not reached)."""
    rows = book.rows()
    if not reached(rows):
        return 0
    parked = {r.key for r in rows if r.state == "parked"}
    position = {r.key: r.position for r in rows}
    ranks = np.array([position.get(k, len(rows)) for k in keys])
    score, trials = scores(rep_studies, keys, parked, strategy.barrier(epochs))
    go_on = np.asarray(strategy.continues(score, ranks[None, :]))
    rep_studies[0].set_user_attr(GO_ON, {str(r): [k for s, k in enumerate(keys) if go_on[r, s]]
                                         for r in range(len(rep_studies))})
    rep_studies[0].set_user_attr(DECIDED, True)
    for (r, key), t in trials.items():
        if not go_on[r, keys.index(key)] and t.state == TrialState.RUNNING:
            rep_studies[r].tell(adopt(rep_studies[r], t), state=TrialState.PRUNED, skip_if_finished=True)
            if checkpoints is not None:
                checkpoints.remove(key, r)
    reopened = 0
    for key in parked:
        s = keys.index(key)
        work_left = go_on[:, s].any() or not np.isfinite(score[:, s]).all()    # to train, or to record skipped
        reopened += book.unpark(key, go_on=bool(work_left)) and bool(work_left)
    return reopened
