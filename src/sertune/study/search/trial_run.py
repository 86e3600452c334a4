"""One (θ, r) training recorded as an Optuna trial: what its epochs report, in one place.

A worker trains a repetition with :func:`sertune.training.fit.fit`; each epoch becomes
the same things here: the trial's report (once per epoch,
also across a resume), the pruner's verdict, a heartbeat of θ's claim and, at a
strategy's barrier, the request to park. The exceptions are the ways a training
stops early; :mod:`~sertune.study.search.runner` decides what each one writes.
"""

from __future__ import annotations

import time
from typing import Callable

import optuna
from optuna.trial import FrozenTrial

from ...training.fit import TrainState
from ..store.claims import Claim, ClaimBook
from ..store.curves import TEST_CURVE


class WorkerStopped(BaseException):
    """The worker was asked to stop (its parent is gone, or SIGTERM): stop after saving."""


class ClaimLost(Exception):
    """Another worker took this worker's θ over (this one was paused past the heartbeat grace)."""


class Parked(BaseException):
    """(θ, r) reached the strategy's barrier and saved its checkpoint there (``study/barrier.py``)."""


class TrialRun:
    """The bookkeeping of one training of (θ, r) as ``trial``.

    Parameters
    ----------
    trial : optuna.Trial
        The trial this training writes (new, or adopted from a stopped worker).
    claim, book
        θ's claim and the claim book: every epoch is a heartbeat; a lost claim stops the training.
    resume : TrainState, optional
        The epoch checkpoint the training goes on from: its epochs count as reported.
    adopted : FrozenTrial, optional
        The stopped worker's trial, whose reported epochs are not reported again.
    park_at : callable
        ``park_at(epoch)``: whether the training waits at the strategy's barrier after that epoch.
    on_epoch : callable, optional
        Called first at every epoch (e.g. adjusting CPU threads to the machine's load); when it
        returns thread counts and they change, the trial's ``threads`` attribute lists them.
    """

    def __init__(self, trial: optuna.Trial, claim: Claim, book: ClaimBook, *, resume: TrainState | None = None,
                 adopted: FrozenTrial | None = None, park_at: Callable[[int], bool] = lambda epoch: False,
                 on_epoch: Callable[[], None] | None = None) -> None:
        self.trial, self.claim, self.book = trial, claim, book
        self.park_at, self.each_epoch = park_at, on_epoch
        self.reported = set(adopted.intermediate_values) if adopted is not None else set()
        past = resume.history if resume is not None else []
        #: Validation WA of every epoch so far.
        self.history: list[float] = [h["val_wa"] for h in past]
        #: Test metrics of every checkpoint that improved validation: [epoch, test WA, test UA].
        self.improved = [[h["epoch"], h["test"]["wa"], h["test"]["ua"]] for h in past if "test" in h]
        #: Set at the barrier's epoch: the checkpoint hook saves, then the training parks.
        self.park = False
        #: CPU thread counts ``on_epoch`` set (a worker following the machine's load).
        self.threads: set[int] = set()
        self.start = time.perf_counter()
        if resume is not None:
            # Every resumption is kept: the epochs this trial went on from after each stop.
            before = adopted.user_attrs.get("resumed_from", []) if adopted is not None else []
            trial.set_user_attr("resumed_from", [*before, resume.epoch])
            for epoch, value in enumerate(self.history, start=1):
                if epoch not in self.reported:     # a new trial: the pruner sees the epochs before the stop
                    trial.report(value, epoch)
                    self.reported.add(epoch)

    def on_epoch(self, epoch: int, loss: float, val_wa: float) -> None:
        """fit's ``on_epoch``: record, beat, report; raises ClaimLost or optuna.TrialPruned."""
        self.history.append(val_wa)
        if self.each_epoch is not None:
            threads = self.each_epoch()
            if isinstance(threads, int) and threads not in self.threads:
                self.threads.add(threads)
                if len(self.threads) > 1:      # its float rounding followed the load: say so
                    self.trial.set_user_attr("threads", sorted(self.threads))
        self.claim.progress += 1
        if not self.book.beat(self.claim):
            raise ClaimLost()
        if epoch not in self.reported:
            self.trial.report(val_wa, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned()
        if self.park_at(epoch):
            self.park = True

    def on_improve(self, epoch: int, test: dict) -> None:
        """fit's ``on_improve``: keep the test metrics of the checkpoint that improved validation."""
        self.improved.append([epoch, test["wa"], test["ua"]])

    def leave(self) -> None:
        """What a training that stopped early (pruned, or parked at a barrier) leaves on its trial."""
        spent = time.perf_counter() - self.start
        for k, v in ((TEST_CURVE, self.improved), ("epochs_run", len(self.history)), ("seconds", spent)):
            self.trial.set_user_attr(k, v)
