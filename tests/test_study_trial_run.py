"""One training as a trial: what each epoch writes, on fakes of the trial and the claim book."""

from __future__ import annotations

import pytest

from sertune.study.store.claims import Claim
from sertune.study.search.trial_run import ClaimLost, TrialRun


class FakeTrial:
    def __init__(self) -> None:
        self.user_attrs, self.reports = {}, []

    def set_user_attr(self, key, value) -> None:
        self.user_attrs[key] = value

    def report(self, value, step) -> None:
        self.reports.append((step, value))

    def should_prune(self) -> bool:
        return False


class FakeBook:
    def __init__(self, alive: bool = True) -> None:
        self.alive = alive

    def beat(self, claim) -> bool:
        return self.alive


@pytest.mark.parametrize("counts,listed", [([2, 2, 2], None), ([2, 1, 2], [1, 2]), ([None, None, None], None)])
def test_thread_counts_are_named_when_the_load_changed_them(counts, listed):
    """A worker that follows the machine's load: the trial lists the thread counts only when they
    changed (then its rounding, so its numbers, are not those of a rerun at a fixed count)."""
    trial, given = FakeTrial(), iter(counts)
    run = TrialRun(trial, Claim("M40-L400-H160-T1", "t"), FakeBook(), on_epoch=lambda: next(given))
    for epoch, wa in enumerate((30.0, 40.0, 45.0), start=1):
        run.on_epoch(epoch, 1.0, wa)
    assert trial.user_attrs.get("threads") == listed
    assert trial.reports == [(1, 30.0), (2, 40.0), (3, 45.0)] and run.history == [30.0, 40.0, 45.0]


def test_a_lost_claim_stops_the_training_before_it_reports():
    trial = FakeTrial()
    run = TrialRun(trial, Claim("M40-L400-H160-T1", "t"), FakeBook(alive=False))
    with pytest.raises(ClaimLost):
        run.on_epoch(1, 1.0, 30.0)
    assert trial.reports == []
