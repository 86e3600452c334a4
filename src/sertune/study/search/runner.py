"""A search worker: claim a θ, train it on every repetition, record each (θ, r) as a trial.

Why θ-major: the log-Mel features of θ are the expensive input every repetition
shares, so a worker computes them once and trains all K repetitions on them, one
after another; each epoch's bookkeeping is :class:`.trial_run.TrialRun`'s.

Ownership (:mod:`~sertune.study.store.claims`): a θ is held by one worker at a time,
decided by a compare-and-set in the database and kept with a heartbeat thread.
Only the holder of θ writes the repetition trials of θ, so a repetition trial
left RUNNING when its worker stopped (kill -9, lost machine, a pause longer
than the heartbeat grace) is *adopted* by the next holder: it goes on from the
training's last epoch checkpoint (:mod:`~sertune.study.search.epoch_checkpoints`) in
the same trial, so the pruner keeps every epoch reported before the stop. A
holder that finds its claim taken over (it was paused) drops that work
without writing anything. A training that raises (e.g. out of memory) is
recorded as a FAIL trial with its error and retried once.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from pathlib import Path

import optuna
import torch
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ...training.devices import describe, prepare_device, resolve_device
from ...errors import ConfigError
from ...corpora.splits import Split
from ...training.fit import TrainConfig, fit, restart_seed
from ..store.curves import TEST_CURVE
from ..store.claims import Claim, ClaimBook, Heartbeat, make_engine
from .epoch_checkpoints import EVERY_SECONDS, EpochCheckpoints
from ...features.theta import Theta, parse_theta_key, theta_key
from . import barrier
from ..store.models import save_if_best
from ..store.optuna_private import adopt
from .picking import SKIPPED, acquire_chosen, promoted, within_budget
from ..strategies.pruners import strategy_of
from ..strategies.registry import parse_strategy
from ..store.storage import (FixedSampler, control_keys, is_control_key, load_meta, open_storage, rep_name,
                             restarts_name, restarts_search, split_control_key)
from .trial_run import ClaimLost, Parked, TrialRun, WorkerStopped
from .worker_data import FeatureCache, load_search_corpus

#: A (θ, r) that failed this many times is given up (recorded, never dropped silently).
MAX_ATTEMPTS = 2
#: A θ whose worker died this many times in a row without finishing an epoch is given up
#: (e.g. the kernel's OOM killer ends the process every time). Deaths that follow
#: progress (preemption, kill and resume) do not count.
MAX_ORPHANS = 5
ORPHANED = "the worker training it stopped repeatedly without progress (killed, crashed or out of memory)"
#: A θ whose claim ended with an error in sertune itself (a bug, not a training error)
#: this many times is not claimed again.
MAX_CLAIM_FAILURES = 3
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class NotChosen(Exception):
    """A choosing strategy's budget was taken by other workers claiming at the same moment."""


class Worker:
    """Runs claims of one search until no θ is left to claim.

    Parameters
    ----------
    url, name : str
        Storage URL and search name.
    device : str
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    out : Path, optional
        Output folder of the search: the best model of each repetition so far is
        saved under ``out/models/``, epoch checkpoints under ``out/checkpoints/``.
    heartbeat : float
        Seconds between heartbeats (a worker silent for 3x that is taken over).
    parent : int, optional
        PID of the process that started this worker; the worker stops when it is gone.
    checkpoint_dir : Path, optional
        Where epoch checkpoints go (default ``out/checkpoints``; none without either).
    checkpoint_seconds, checkpoint_epochs : float, int
        Save a training's state every that many seconds or epochs, whichever comes first.
    cpu_share : sertune.training.devices.CpuShare, optional
        Adjusts the CPU thread count after every epoch to the cores other processes leave.
    stop : callable, optional
        Returns True when the worker should stop (e.g. after SIGTERM): the training in
        flight saves an epoch checkpoint at the end of its epoch, gives its θ back and stops.
    """

    def __init__(self, url: str, name: str, *, device: str = "auto", out: Path | None = None,
                 heartbeat: float = 10.0, cache_dir: str | None = None, parent: int | None = None,
                 checkpoint_dir: Path | None = None, checkpoint_seconds: float = EVERY_SECONDS,
                 checkpoint_epochs: int = 0, stop=None, log=None, cpu_share=None) -> None:
        self.storage = open_storage(url, heartbeat=heartbeat)
        self.name = name
        self.heartbeat = max(float(heartbeat), 0.1)
        self.meta = load_meta(self.storage, name)
        self.device = resolve_device(device)
        prepare_device(self.device)
        self.out = Path(out) if out else None
        self.parent = parent
        self.stop_requested = stop or (lambda: False)
        # On a CPU shared with other processes: fewer threads while they keep the cores busy.
        self.cpu_share = cpu_share if self.device.type == "cpu" else None
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        s = self.meta["settings"]
        self.config = TrainConfig(**{k: s[k] for k in TrainConfig().as_dict()})
        self.grid = [Theta(**t) for t in self.meta["grid"]]
        self.keys = [theta_key(t) for t in self.grid]
        self.thetas = dict(zip(self.keys, self.grid))
        self.reps = int(self.meta["reps"])
        self.book = ClaimBook(make_engine(url), name, grace=3 * self.heartbeat)
        # The restart control (``meta["control"]``): θ trained again with other seeds, in studies and
        # a claim queue of its own, so that its trainings never compete for θ_r* nor are pruned.
        self.control = control_keys(self.meta.get("control"))
        self.thetas |= {k: parse_theta_key(split_control_key(k)[0]) for k in self.control}
        self.control_book = (ClaimBook(make_engine(url), restarts_search(name), grace=3 * self.heartbeat)
                             if self.control else None)
        self.fixed = FixedSampler()
        self.strategy = parse_strategy(strategy_of(s))
        pruner = self.strategy.pruner(self.config.epochs)
        self.rep_studies = [optuna.load_study(study_name=rep_name(name, r), storage=self.storage,
                                              sampler=self.fixed, pruner=pruner) for r in range(self.reps)]
        self.restart_studies = [optuna.load_study(study_name=restarts_name(name, r), storage=self.storage,
                                                  sampler=self.fixed, pruner=optuna.pruners.NopPruner())
                                for r in range(self.reps)] if self.control else []
        self.splits = [Split(**self.rep_studies[r].user_attrs["split"]) for r in range(self.reps)]
        folder = checkpoint_dir or (self.out / "checkpoints" if self.out else None)
        identity = {"search": name, "seed": int(s["seed"]), "settings": self.config.as_dict()}
        self.checkpoints = (EpochCheckpoints(Path(folder), identity, every_seconds=checkpoint_seconds,
                                             every_epochs=checkpoint_epochs) if folder else None)
        self.barrier = self.strategy.barrier(self.config.epochs)
        self.before_barrier = set(self.strategy.before_barrier(self.reps, int(s["seed"])))
        if self.barrier and self.checkpoints is None:
            raise ConfigError(f"strategy {self.strategy.spec()} parks every training at epoch {self.barrier} "
                              f"with a checkpoint: give this worker --out or --checkpoint-dir")
        self._parked = False
        self.prepared = load_search_corpus(self.meta, self.splits, cache_dir=cache_dir)
        self.features = FeatureCache(self.prepared, self.book, device=self.device, remainder=s["remainder"])
        self.trained = 0

    # -- main loop -----------------------------------------------------------------------
    def run(self) -> int:
        """Claim and train until every θ is done; returns the number of trainings run here."""
        while True:
            self._check_stop()
            claim, train = self._acquire()
            if claim is None and self.control_book is not None:
                claim, train = self.control_book.acquire(), True       # the grid has nothing to give now
            if claim is None:
                if self.book.finished() and (self.control_book is None or self.control_book.finished()):
                    return self.trained
                if self.barrier and barrier.decide(self.book, self.rep_studies, self.strategy, self.keys,
                                                   epochs=self.config.epochs, checkpoints=self.checkpoints):
                    continue                      # every θ arrived: the chosen ones are open again
                time.sleep(self.heartbeat)        # others hold the rest; they may stop
                continue
            if train is None:                     # another worker claimed the chosen θ first
                self.book.give_back(claim)
                time.sleep(0.05)
                continue
            self._work(claim, train=train)

    def _acquire(self) -> tuple[Claim | None, bool | None]:
        """The next claim, and whether to train it (see :func:`.picking.acquire_chosen`)."""
        if not self.strategy.picks:
            return self.book.acquire(), True
        return acquire_chosen(self.book, self.strategy, self.rep_studies, self.grid, self.keys,
                              int(self.meta["settings"]["seed"]))

    def _work(self, claim: Claim, *, train: bool = True) -> None:
        """Train θ on every repetition while holding its claim, then mark it done (``train=False``:
        record every repetition as skipped, the strategy did not choose θ)."""
        with Heartbeat(self._book(claim), claim, self.heartbeat, log=self.log):
            try:
                if claim.stuck >= MAX_ORPHANS:
                    self._give_up(claim)
                    return
                if self._control(claim):          # the control: every repetition, in full, no strategy
                    for r in range(self.reps):
                        self._rep(claim, r)
                    self.control_book.finish(claim)
                    return
                if not train:
                    self._skip(claim, range(self.reps), why=f"not chosen by {self.strategy.spec()}")
                    self.book.finish(claim)
                    return
                screen = self.strategy.screening()
                self._parked = False
                decided = not self.barrier or barrier.decided(self.rep_studies)
                go_on = barrier.going_on(self.rep_studies) if self.barrier and decided else None
                try:
                    for r in range(self.reps):
                        if not decided and r not in self.before_barrier:
                            self._parked = True           # starts once the barrier is decided
                            continue
                        if go_on is not None and claim.key not in go_on[r]:
                            self._skip(claim, [r], why=f"not continued past epoch {self.barrier} by "
                                                       f"{self.strategy.spec()}")
                            continue
                        if r == screen and screen and not self._promoted(claim.key):
                            self._skip(claim, range(r, self.reps),
                                       why=f"did not pass the screening of {self.strategy.spec()}")
                            break
                        self._rep(claim, r)
                except NotChosen:
                    self._skip(claim, range(1, self.reps), why=f"not chosen by {self.strategy.spec()}: "
                                                              f"other workers took its budget first")
                (self.book.park if self._parked else self.book.finish)(claim)
            except ClaimLost:
                self.log(f"worker {os.getpid()}: another worker took over {claim.key} (this one was paused "
                         f"longer than the heartbeat grace); dropped it")
            except WorkerStopped:
                self._book(claim).give_back(claim)
                raise
            except Exception as exc:  # a bug in sertune, not a training error: log, give θ back
                self._released_after(claim, exc)

    def _released_after(self, claim: Claim, exc: Exception) -> None:
        """A bug in sertune (not a training error) while holding θ: log it, give θ back (failed
        after MAX_CLAIM_FAILURES such errors)."""
        self.log(f"worker {os.getpid()}: claim of {claim.key} failed:\n{traceback.format_exc()}")
        self._book(claim).release(claim, error=f"{type(exc).__name__}: {exc}", max_failures=MAX_CLAIM_FAILURES)

    def _give_up(self, claim: Claim) -> None:
        """θ killed its workers MAX_ORPHANS times in a row: fail its open trials and the claim."""
        for r in range(self.reps):
            study = self._study(claim, r)
            for t in self._trials_of(claim.key, r):
                if t.state == TrialState.RUNNING:
                    trial = adopt(study, t)
                    trial.set_user_attr("error", ORPHANED)
                    study.tell(trial, state=TrialState.FAIL)
        self._book(claim).finish(claim, state="failed", error=ORPHANED)
        self.log(f"worker {os.getpid()}: gave up {claim.key}: {ORPHANED}")

    # -- strategies that skip settings ----------------------------------------------------
    def _promoted(self, key: str) -> bool:
        """Whether θ goes past the screening repetitions (``asha-screen``; :func:`.picking.promoted`)."""
        return promoted(self.rep_studies, self.strategy, key)

    def _skip(self, claim: Claim, reps, *, why: str) -> None:
        """Record θ's repetitions ``reps`` as pruned without training (not chosen, or not promoted)."""
        for r in reps:
            study = self.rep_studies[r]
            if any(t.params.get("theta") == claim.key and t.state in FINISHED
                   for t in study.get_trials(deepcopy=False)):
                continue
            self.fixed.key = claim.key
            trial = study.ask()
            trial.suggest_categorical("theta", self.keys)
            for k, v in (("theta", self.thetas[claim.key].as_dict()), ("rep", r), ("epochs_run", 0),
                         (SKIPPED, why)):
                trial.set_user_attr(k, v)
            self._tell(claim, study, trial, claim.key, r, state=TrialState.PRUNED, trained=False)

    # -- one (θ, r) ----------------------------------------------------------------------
    def _rep(self, claim: Claim, r: int) -> None:
        """Train θ on repetition r unless it is done (adopting a trial a stopped worker left)."""
        study = self._study(claim, r)
        mine = self._trials_of(claim.key, r)
        if any(t.state in FINISHED for t in mine):
            if self.checkpoints is not None:       # one a paused former holder wrote late
                self.checkpoints.remove(claim.key, r)
            return
        running = [t for t in mine if t.state == TrialState.RUNNING]
        attempts = sum(1 for t in mine if t.state == TrialState.FAIL)
        adopted = running[0] if running else None      # only a holder of θ writes these: its writer stopped
        if adopted is not None and self._at_barrier(adopted):
            self._parked = True                        # parked by a holder that stopped after it
            return
        while attempts < MAX_ATTEMPTS:
            attempts += 1
            try:
                if not self._train(claim, study, r, attempts, adopted):
                    return
            except UpdateFinishedTrialError:
                return          # the worker this one took θ over from finished the trial first
            adopted = None

    def _trials_of(self, key: str, r: int) -> list[FrozenTrial]:
        """The trials of (θ, r) so far (failed, running, finished); of one restart for a control key."""
        base, restart = split_control_key(key)
        study = self.restart_studies[r] if is_control_key(key) else self.rep_studies[r]
        return [t for t in study.get_trials(deepcopy=False)
                if t.params.get("theta") == base and t.user_attrs.get("restart", 0) == restart]

    # -- the restart control's claims live beside the grid's ------------------------------
    @staticmethod
    def _control(claim: Claim) -> bool:
        """Whether a claim is one of the restart control's (not a grid setting's)."""
        return is_control_key(claim.key)

    @staticmethod
    def _restart(claim: Claim) -> int:
        """The restart index a claim trains: 0 for a grid setting (and the control's restart 0 of a θ
        that is not in the grid), 1..N-1 for the control."""
        return split_control_key(claim.key)[1]

    def _book(self, claim: Claim) -> ClaimBook:
        return self.control_book if self._control(claim) else self.book

    def _study(self, claim: Claim, r: int) -> optuna.Study:
        return self.restart_studies[r] if self._control(claim) else self.rep_studies[r]

    def _at_barrier(self, trial: FrozenTrial) -> bool:
        """Whether a RUNNING ``trial`` waits parked at the strategy's undecided barrier."""
        return (0 < self.barrier < self.config.epochs and len(trial.intermediate_values) >= self.barrier
                and not barrier.decided(self.rep_studies))

    def _new_trial(self, claim: Claim, study: optuna.Study, r: int, attempt: int) -> optuna.Trial:
        """A new trial of (θ, r); raises NotChosen (after recording why) when a choosing strategy's
        budget was taken by other workers before this one's first repetition started."""
        base = split_control_key(claim.key)[0]
        self.fixed.key = base
        trial = study.ask()
        trial.suggest_categorical("theta", self.keys if base in self.keys else [*self.keys, base])
        for k, v in (("theta", self.thetas[claim.key].as_dict()), ("rep", r), ("attempt", attempt),
                     ("device", describe(self.device))):
            trial.set_user_attr(k, v)
        if self._control(claim):
            trial.set_user_attr("restart", self._restart(claim))
            return trial
        if r == 0 and self.strategy.picks and not within_budget(
                study, claim.key, self.strategy.budget_count(len(self.keys))):
            for k, v in (("epochs_run", 0), (SKIPPED, f"not chosen by {self.strategy.spec()}: other "
                                                       f"workers took its budget first")):
                trial.set_user_attr(k, v)
            self._tell(claim, study, trial, claim.key, r, state=TrialState.PRUNED, trained=False)
            raise NotChosen()
        return trial

    def _run(self, claim: Claim, trial: optuna.Trial, resume=None, adopted: FrozenTrial | None = None) -> TrialRun:
        """The bookkeeping of one training of θ (see :class:`.trial_run.TrialRun`)."""
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")    # status counts workers so
        return TrialRun(trial, claim, self._book(claim), resume=resume, adopted=adopted,
                        park_at=lambda epoch: (epoch == self.barrier and not self._control(claim)
                                               and not barrier.decided(self.rep_studies)),
                        on_epoch=self.cpu_share.adjust if self.cpu_share is not None else None)

    def _train(self, claim: Claim, study: optuna.Study, r: int, attempt: int,
               adopted: FrozenTrial | None) -> bool:
        """One training of (θ, r) recorded as a trial; True when it failed (retry), else False.

        Raises UpdateFinishedTrialError when a paused former holder of θ finished the
        adopted trial first (same numbers): :meth:`_rep` keeps that one.
        """
        key, theta = claim.key, self.thetas[claim.key]
        trial = adopt(study, adopted) if adopted is not None else self._new_trial(claim, study, r, attempt)
        resume = self.checkpoints.load(key, r) if self.checkpoints else None
        run = self._run(claim, trial, resume, adopted)
        stopping = self._stopping

        def on_epoch(epoch: int, loss: float, val_wa: float) -> None:
            run.on_epoch(epoch, loss, val_wa)
            if self.checkpoints is None and stopping():      # nothing to save: stop now
                raise WorkerStopped()

        def saved(epoch: int) -> None:
            if run.park:
                raise Parked()
            if stopping():
                raise WorkerStopped()

        try:
            data = self.features.get(claim, theta)
            trial.set_user_attr("feature_store", data.mode)
            force = lambda: run.park or stopping()  # noqa: E731
            snapshot = self.checkpoints.hook(key, r, force=force, saved=saved) if self.checkpoints else None
            result = fit(data, self.splits[r], n_classes=len(self.meta["classes"]), config=self.config,
                         seed=restart_seed(int(self.meta["settings"]["seed"]), r, self._restart(claim)),
                         unit="utterance",
                         on_epoch=on_epoch, resume=resume, on_snapshot=snapshot, on_improve=run.on_improve)
        except Parked:                 # stays RUNNING; barrier.decide prunes it or a worker resumes it
            self._settle(claim, r, run, "parked")
            return False
        except optuna.TrialPruned:
            self._settle(claim, r, run, "pruned")
            return False
        except (ClaimLost, WorkerStopped, UpdateFinishedTrialError):
            raise
        except Exception as exc:  # any training error is recorded with the trial, then retried once
            self._failed(claim, study, trial, r, attempt, exc)
            return True
        trial.set_user_attr(TEST_CURVE, run.improved)
        self._record(claim, study, trial, r, result)
        return False

    def _settle(self, claim: Claim, r: int, run: TrialRun, left: str) -> None:
        """What a training that stopped early leaves (``left``): "pruned", told; "parked" at a
        barrier, RUNNING with its curve."""
        run.leave()
        if left == "parked":
            self._parked = True
        else:
            self._tell(claim, self._study(claim, r), run.trial, claim.key, r, state=TrialState.PRUNED)

    def _failed(self, claim: Claim, study: optuna.Study, trial: optuna.Trial, r: int, attempt: int,
                exc: Exception) -> None:
        """Record a training error with its trial (FAIL); the caller retries it one at a time."""
        trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        self._tell(claim, study, trial, claim.key, r, state=TrialState.FAIL)
        self.log(f"worker {os.getpid()}: {claim.key} rep {r} failed (attempt {attempt}): {exc}")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _record(self, claim: Claim, study: optuna.Study, trial: optuna.Trial, r: int, result) -> None:
        """Metrics of a finished training as trial attrs, its model if best so far, then the value."""
        for part in ("val", "test"):
            trial.set_user_attr(part, getattr(result, part)["utterance"])
            trial.set_user_attr(f"{part}_segment", getattr(result, part)["segment"])
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("epochs_run", result.epochs_run)
        trial.set_user_attr("seconds", result.seconds)
        value = result.val["utterance"]["wa"]
        if self.out is not None and not self._control(claim):      # the control competes for no model
            model = save_if_best(self.out, study, trial.number, value, theta=self.thetas[claim.key],
                                 key=claim.key, rep=r, result=result, meta=self.meta)
            if model:
                trial.set_user_attr("model", model)
        self._tell(claim, study, trial, claim.key, r, value=value)

    def _tell(self, claim: Claim, study: optuna.Study, trial: optuna.Trial, key: str, r: int, *,
              state: TrialState = TrialState.COMPLETE, value: float | None = None, trained: bool = True) -> None:
        """Record the trial if this worker still holds θ; drop it cleanly otherwise."""
        if not self._book(claim).beat(claim):
            raise ClaimLost()
        # skip_if_finished: a paused former holder may have finished it first (same numbers).
        study.tell(trial, value, state=state, skip_if_finished=True)
        if self.checkpoints is not None:
            self.checkpoints.remove(key, r)
        self.trained += trained and state != TrialState.FAIL      # trainings run here: complete or pruned

    def _stopping(self) -> bool:
        """Asked to stop (SIGTERM), or the process that started this worker is gone."""
        return self.stop_requested() or (self.parent is not None and os.getppid() != self.parent)

    def _check_stop(self) -> None:
        if self._stopping():
            raise WorkerStopped()
