"""What a worker trains under strategies that choose settings: the claim history it reads from
the storage, and the budget check that orders workers claiming at the same moment."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from sertune.study.search.picking import SKIPPED, TRAINING, claimed, within_budget

KEYS = ["a", "b", "c", "d", "e"]


def add(study, key, *, attrs=None, curve=None, state=None):
    """A trial of θ ``key`` on ``study``: its attributes, validation curve, and end state if any."""
    study.enqueue_trial({"theta": key})
    t = study.ask({"theta": CategoricalDistribution(KEYS)})
    for name, value in (attrs or {}).items():
        t.set_user_attr(name, value)
    for epoch, value in enumerate(curve or [], start=1):
        t.report(value, epoch)
    if state is not None:
        study.tell(t, max(curve) if state == TrialState.COMPLETE else None, state=state)
    return t


@pytest.fixture
def studies():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return [optuna.create_study(direction="maximize") for _ in range(2)]


def test_the_history_is_in_claim_order_with_the_replays_objective(studies):
    s0, s1 = studies
    add(s0, "c", attrs={TRAINING: 1}, curve=[40, 50, 45], state=TrialState.COMPLETE)
    add(s0, "a", attrs={SKIPPED: "not chosen"}, state=TrialState.PRUNED)
    add(s0, "e", attrs={TRAINING: 1}, curve=[30, 35], state=TrialState.COMPLETE)
    add(s1, "c", attrs={TRAINING: 1}, curve=[60, 55, 58], state=TrialState.COMPLETE)
    add(s1, "e", attrs={TRAINING: 1}, curve=[20])          # still training on repetition 1
    history = claimed(studies, KEYS, held=["e", "b", "a"])
    # c: mean of the best validation WA over both repetitions; e: not complete everywhere; b: held,
    # no trial yet (claimed last); a: skipped, so neither claimed nor held-as-training.
    assert history == [(2, 55.0), (4, None), (1, None)]


def test_exactly_the_first_k_by_trial_number_train(studies):
    s0 = studies[0]
    for key in "bdac":
        add(s0, key, attrs={TRAINING: 1})
    add(s0, "e", attrs={TRAINING: 1, SKIPPED: "not chosen"}, state=TrialState.PRUNED)
    assert [within_budget(s0, key, 2) for key in "bdac"] == [True, True, False, False]


def test_an_earlier_trial_that_does_not_say_what_it_is_is_waited_for_then_ignored(studies):
    s0 = studies[0]
    add(s0, "a")                              # asked, attributes not yet written (or its worker died)
    add(s0, "b", attrs={TRAINING: 1})
    assert within_budget(s0, "b", 1, patience=0.2)
