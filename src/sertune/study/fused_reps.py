"""Fused repetitions in a search: a worker trains the fresh repetitions of its θ as one stack.

:func:`sertune.fused.fit_fused` trains K repetitions of one θ as one stacked
network, each member with its own seed, batch order, dropout masks, checkpoint
and pruning decision; here each member is still its own (θ, r) trial, written as
a one-at-a-time training writes it (:class:`.trial_run.TrialRun`). Only fresh
repetitions are fused (no trial yet: nothing to adopt or resume); the rest, and a
fused training that failed, go on one at a time in :meth:`Worker._rep`.

``--fuse`` (:func:`sertune.fused_probe.choose_fusion`): ``on`` fuses whenever two
or more repetitions are fresh; ``off`` never; ``auto`` (the default) fuses on a GPU
when a short probe on the device measures the stack faster than fit's
CUDA-graphed steps one at a time, decided once per input shape and K and
logged, and never on a CPU (why: :func:`~sertune.fused_probe.choose_fusion`).
"""

from __future__ import annotations

import os

import optuna
from optuna.exceptions import UpdateFinishedTrialError

from ..dataset import SegmentData
from ..fused import fit_fused
from ..fused_probe import choose_fusion
from ..train import rep_seed
from .claims import Claim
from .curves import TEST_CURVE
from .trial_run import ClaimLost, Parked, WorkerStopped


class FusedReps:
    """Mixin of :class:`~sertune.study.runner.Worker`: its fused path (uses the worker's
    trials, claim book, checkpoints and features; ``self.fuse`` is one of :data:`~sertune.fused_probe.FUSE_MODES`,
    ``self._probed`` maps (input shape, K) to auto's decision)."""

    def _fusable(self, claim: Claim, *, until: int, decided: bool, go_on) -> list[int]:
        """The repetitions of θ that :meth:`_work` would train now and that have no trial yet.

        ``until``: past a screening repetition the rest wait for its verdict; ``decided``,
        ``go_on``: a barrier's state (before it, only the screening repetitions train).
        """
        if self.fuse == "off" or (self.fuse == "auto" and self.device.type != "cuda") or self.reps < 2:
            return []           # choose_fusion would say no: skip the features and the trial scan
        reps = [r for r in range(until) if (decided or r in self.before_barrier)
                and (go_on is None or claim.key in go_on[r])]
        return [r for r in reps if not any(t.params.get("theta") == claim.key
                                           for t in self.rep_studies[r].get_trials(deepcopy=False))]

    def _fuses(self, data: SegmentData, k: int) -> bool:
        """Whether to train ``k`` fresh repetitions of ``data``'s θ fused (``--fuse on``, or auto's probe)."""
        shape = (data.theta.n_mels, data.theta.frames(data.sample_rate))
        if (shape, k) not in self._probed:
            fused, why = choose_fusion(self.fuse, shape=shape, k=k, device=self.device,
                                       precision=self.config.precision, batch_size=self.config.batch_size)
            self._probed[(shape, k)] = fused
            if self.fuse == "auto":
                self.log(f"worker {os.getpid()}: {shape[0]} x {shape[1]} inputs, {k} repetitions: "
                         f"{'fused' if fused else 'one at a time'} on {self.device} ({why})")
        return self._probed[(shape, k)]

    def _train_fused(self, claim: Claim, reps: list[int]) -> None:
        """Train θ on the fresh repetitions ``reps`` as one stack when :meth:`_fuses` says so.

        Each member reports, prunes, saves and parks as its own trial. A stop request
        is decided once per epoch, so every member saves that epoch before the worker
        stops. A training error fails every member's trial (recorded), and
        :meth:`_rep` then trains them one at a time (its one retry).
        """
        try:
            data = self.features.get(claim, self.thetas[claim.key])
        except Exception:     # noqa: BLE001  one at a time computes them again and records the error
            return            # with each trial, as for any training error
        if not self._fuses(data, len(reps)):
            return
        runs = []
        for r in reps:       # the first repetition's trial may raise NotChosen: nothing trained yet
            trial = self._new_trial(claim, self.rep_studies[r], r, 1)
            trial.set_user_attr("feature_store", data.mode)
            trial.set_user_attr("fused", len(reps))
            runs.append(self._run(claim, trial))
        left: list[str | None] = [None] * len(reps)       # "pruned" or "parked", for members that left
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
            return self.checkpoints.hook(claim.key, reps[i], force=lambda: runs[i].park or halt[0], saved=saved)

        hooks = [hook(i) for i in range(len(reps))] if self.checkpoints is not None else None

        def after_epoch(epoch: int) -> None:
            if halt[0] and epoch < self.config.epochs:
                raise WorkerStopped()

        seed = int(self.meta["settings"]["seed"])
        try:
            results = fit_fused(data, [self.splits[r] for r in reps], n_classes=len(self.meta["classes"]),
                                config=self.config, seeds=[rep_seed(seed, r) for r in reps], on_epoch=on_epoch,
                                stop_on=(optuna.TrialPruned, Parked),
                                on_snapshot=(lambda i, e, snap: hooks[i](e, snap)) if hooks else None,
                                on_improve=lambda i, e, test: runs[i].on_improve(e, test), after_epoch=after_epoch)
        except WorkerStopped:     # the members that left before the stop are settled; the rest saved
            for i, r in enumerate(reps):
                self._settle(claim, r, runs[i], left[i], None)
            raise
        except (ClaimLost, UpdateFinishedTrialError):
            raise
        except Exception as exc:  # e.g. out of memory with K members: each fails, then one at a time
            for r, run in zip(reps, runs):
                self._failed(claim, self.rep_studies[r], run.trial, r, 1, exc)
            return
        for i, (r, result) in enumerate(zip(reps, results)):
            if left[i] is None:
                runs[i].trial.set_user_attr(TEST_CURVE, runs[i].improved)
                self._record(claim, self.rep_studies[r], runs[i].trial, r, result)
            else:
                self._settle(claim, r, runs[i], left[i], result.seconds)
