"""Fused training in a search: a worker trains the repetitions of its θ as one stack.

:func:`sertune.fused.fit_fused` trains K trainings as one stacked network, each
member with its own seed, batch order, dropout masks, checkpoint and pruning
decision; here each member is still its own (θ, r) trial, written as a
one-at-a-time training writes it (:class:`.trial_run.TrialRun`). A stack holds
the repetitions with no trial yet, or those a stopped worker left RUNNING with
an epoch checkpoint (a stack per epoch they go on from, in their own trials).
Under brute force (a strategy that is ``order_free``) a worker also claims the
other open settings of its θ's input shape and stacks their repetitions beside
its own (:meth:`FusedReps._siblings`). The rest, and a stack that failed, go on
one at a time in :meth:`Worker._rep`.

``--fuse`` (:func:`sertune.fused_probe.choose_fusion`): ``on`` fuses whenever two
or more trainings can share a stack; ``off`` never; ``auto`` (the default) fuses on a GPU
when a short probe on the device measures the stack faster than fit's
CUDA-graphed steps one at a time, decided once per input shape and K and
logged, and never on a CPU (why: :func:`~sertune.fused_probe.choose_fusion`).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ..audio import SAMPLE_RATE
from ..fused import fit_fused
from ..fused_probe import choose_fusion, may_fuse
from ..train import TrainState, rep_seed
from .claims import Claim, Heartbeat
from .curves import TEST_CURVE
from .optuna_private import adopt
from .trial_run import ClaimLost, Parked, WorkerStopped

#: At most this many trainings in one stack of several settings (see :meth:`FusedReps._siblings`).
MAX_MEMBERS = 40


class FusedReps:
    """Mixin of :class:`~sertune.study.runner.Worker`: its fused path (uses the worker's
    trials, claim book, checkpoints and features; ``self.fuse`` is one of :data:`~sertune.fused_probe.FUSE_MODES`,
    ``self._probed`` maps (input shape, K) to auto's decision)."""

    def _stacks(self, claims: list[Claim], *, until: int, decided: bool, go_on) -> None:
        """Train what can be fused of the repetitions :meth:`_work` would train now of ``claims``:
        those a stopped worker left with an epoch checkpoint, a stack per epoch they go on from,
        then those with no trial yet. What is left (or failed) goes on one at a time.

        ``until``: past a screening repetition the rest wait for its verdict; ``decided``,
        ``go_on``: a barrier's state (before it, only the screening repetitions train).
        """
        if not may_fuse(self.fuse, self.device.type):
            return              # choose_fusion would say no: skip the features and the trial scan
        fresh, resumed = [], {}
        for claim in claims:
            for r in range(until):
                if not (decided or r in self.before_barrier) or (go_on is not None and claim.key not in go_on[r]):
                    continue
                member = self._member(claim, r)
                if member is not None and member.state is None:
                    fresh.append(member)
                elif member is not None:
                    resumed.setdefault(member.state.epoch, []).append(member)
        for members in [*(resumed[e] for e in sorted(resumed)), fresh]:
            if len(members) > 1:
                try:
                    self._train_fused(members)
                except UpdateFinishedTrialError:   # a paused former holder finished one first: the
                    pass                           # others go on one at a time from their checkpoints

    def _member(self, claim: Claim, r: int) -> "_Member | None":
        """(θ, r) as a member of a stack: fresh (no trial yet), or going on from the checkpoint of
        the one RUNNING trial a stopped worker left; None when it is done, has nothing to go
        on from, or waits parked at an undecided barrier (:meth:`_rep` has the same rules)."""
        mine = self._trials_of(claim.key, r)
        if not mine:
            return _Member(claim, r)
        running = [t for t in mine if t.state == TrialState.RUNNING]
        if len(running) != 1 or len(mine) > 1 + sum(t.state == TrialState.FAIL for t in mine) \
                or self.checkpoints is None:
            return None
        state = None if self._at_barrier(running[0]) else self.checkpoints.load(claim.key, r)
        if state is None:
            return None
        return _Member(claim, r, running[0], state, attempt=len(mine))

    def _fuses(self, shape: tuple[int, int], k: int) -> bool:
        """Whether to train ``k`` fresh trainings at input ``shape`` fused (``--fuse on``, or auto's probe)."""
        if (shape, k) not in self._probed:
            fused, why = choose_fusion(self.fuse, shape=shape, k=k, device=self.device,
                                       precision=self.config.precision, batch_size=self.config.batch_size)
            self._probed[(shape, k)] = fused
            if self.fuse == "auto":
                self.log(f"worker {os.getpid()}: {shape[0]} x {shape[1]} inputs, {k} trainings: "
                         f"{'fused' if fused else 'one at a time'} on {self.device} ({why})")
        return self._probed[(shape, k)]

    def _shape(self, key: str) -> tuple[int, int]:
        theta = self.thetas[key]
        return theta.n_mels, theta.frames(SAMPLE_RATE)

    # -- settings of one input shape side by side ---------------------------------------------
    def _siblings(self, claim: Claim) -> list[Claim]:
        """Open settings with θ's input shape, claimed now to train beside it in one stack.

        Only under a strategy whose decisions do not depend on the order settings train in
        (brute force: the numbers are those of one setting at a time), only where the
        stack of every repetition of them all would be fused (:meth:`_fuses`; fewer siblings,
        halving, where it would not), and at most :data:`MAX_MEMBERS` trainings in all (more
        hold claims other workers could train).
        """
        if not self.strategy.order_free or claim.stuck or not may_fuse(self.fuse, self.device.type):
            return []
        shape = self._shape(claim.key)
        room = max(0, MAX_MEMBERS // self.reps - 1)
        keys = [r.key for r in self.book.rows()
                if r.state == "open" and r.key != claim.key and self._shape(r.key) == shape][:room]
        while keys and not self._fuses(shape, self.reps * (1 + len(keys))):
            keys = keys[:len(keys) // 2]        # e.g. 40 members do not fit in memory, 20 may
        return [c for c in map(self.book.acquire_open, keys) if c is not None]

    def _work_group(self, claims: list[Claim]) -> None:
        """Train what can be stacked of the repetitions of ``claims`` (θs of one input shape), then
        finish each θ as :meth:`_work` does: what the stacks left undone goes on one at a time there."""
        with ExitStack() as beats:
            for claim in claims:
                beats.enter_context(Heartbeat(self.book, claim, self.heartbeat, log=self.log))
            try:
                try:
                    self._stacks(claims, until=self.reps, decided=True, go_on=None)
                except ClaimLost:
                    self.log(f"worker {os.getpid()}: another worker took over one of {[c.key for c in claims]}; "
                             f"the others go on one at a time from their checkpoints")
                for claim in claims:
                    if not claim.lost:
                        self._work(claim)
            except WorkerStopped:       # a stopped stack saved every member: give every θ back
                for claim in claims:
                    self.book.give_back(claim)
                raise
            except Exception as exc:    # a bug in sertune, as in _work: log, give every θ back
                for claim in claims:
                    self._released_after(claim, exc)

    # -- one stack ------------------------------------------------------------------------------
    def _train_fused(self, members: list["_Member"]) -> None:
        """Train ``members`` (all fresh, or all going on from one epoch) as one stack when
        :meth:`_fuses` says so.

        Each member reports, prunes, saves and parks as its own trial. A stop request
        is decided once per epoch, so every member saves that epoch before the worker
        stops. A training error fails every member's trial (recorded), and
        :meth:`_rep` then trains them one at a time (its one retry).
        """
        claims = list({m.claim.key: m.claim for m in members}.values())
        try:
            data = {c.key: self.features.get(c, self.thetas[c.key], alongside=i > 0) for i, c in enumerate(claims)}
        except Exception:     # noqa: BLE001  one at a time computes them again and records the error
            return            # with each trial, as for any training error
        if not self._fuses(self._shape(claims[0].key), len(members)):
            return
        runs = []
        for m in members:     # a fresh first repetition's trial may raise NotChosen: nothing trained yet
            study = self.rep_studies[m.r]
            trial = adopt(study, m.adopted) if m.adopted is not None else self._new_trial(m.claim, study, m.r, 1)
            trial.set_user_attr("feature_store", data[m.claim.key].mode)
            trial.set_user_attr("fused", len(members))
            runs.append(self._run(m.claim, trial, m.state, m.adopted))
        left: list[str | None] = [None] * len(members)       # "pruned" or "parked", for members that left
        halt, current = [False], [0]

        def on_epoch(i: int, epoch: int, loss: float, val_wa: float) -> None:
            if epoch != current[0]:            # one stop decision per epoch, for every member alike
                current[0], halt[0] = epoch, self._stopping()
            try:
                runs[i].on_epoch(epoch, loss, val_wa)
            except optuna.TrialPruned:
                left[i] = "pruned"
                raise

        def hook(i: int):
            def saved(epoch: int) -> None:
                if runs[i].park:
                    left[i] = "parked"
                    raise Parked()
            return self.checkpoints.hook(members[i].claim.key, members[i].r,
                                         force=lambda: runs[i].park or halt[0], saved=saved)

        hooks = [hook(i) for i in range(len(members))] if self.checkpoints is not None else None

        def after_epoch(epoch: int) -> None:
            if halt[0] and epoch < self.config.epochs:
                raise WorkerStopped()

        seed = int(self.meta["settings"]["seed"])
        try:
            results = fit_fused([data[m.claim.key] for m in members], [self.splits[m.r] for m in members],
                                n_classes=len(self.meta["classes"]), config=self.config,
                                seeds=[rep_seed(seed, m.r) for m in members], on_epoch=on_epoch,
                                stop_on=(optuna.TrialPruned, Parked),
                                on_snapshot=(lambda i, e, snap: hooks[i](e, snap)) if hooks else None,
                                on_improve=lambda i, e, test: runs[i].on_improve(e, test), after_epoch=after_epoch,
                                resume=[m.state for m in members] if members[0].state is not None else None)
        except WorkerStopped:     # the members that left before the stop are settled; the rest saved
            for m, run, why in zip(members, runs, left):
                self._settle(m.claim, m.r, run, why, None)
            raise
        except (ClaimLost, UpdateFinishedTrialError):
            raise
        except Exception as exc:  # e.g. out of memory with K members: each fails, then one at a time
            for m, run in zip(members, runs):
                self._failed(m.claim, self.rep_studies[m.r], run.trial, m.r, m.attempt, exc)
            return
        for m, run, why, result in zip(members, runs, left, results):
            if why is None:
                run.trial.set_user_attr(TEST_CURVE, run.improved)
                self._record(m.claim, self.rep_studies[m.r], run.trial, m.r, result)
            else:
                self._settle(m.claim, m.r, run, why, result.seconds)


@dataclass
class _Member:
    """One (θ, r) of a stack: fresh, or going on from ``state`` in the trial a stopped worker left."""

    claim: Claim
    r: int
    adopted: FrozenTrial | None = None
    state: TrainState | None = None
    attempt: int = 1               # as :meth:`Worker._rep` counts: failed trials before, plus one
