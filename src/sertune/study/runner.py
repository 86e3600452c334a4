"""A search worker: claim a θ, train it on every repetition, record each (θ, r) as a trial.

Why θ-major: the log-Mel features of θ are the expensive input every repetition
shares, so a worker computes them once and trains all K repetitions on them.

Why claims: a claim trial in ``NAME.claims`` (drawn by the seeded, shuffled
``GridSampler``: trial number n -> grid point n) is held by exactly one worker,
which keeps it alive with Optuna's heartbeat. The repetition trials of θ are
only ever written by the claim's holder, so no two workers train the same
(θ, r), and a repetition trial left RUNNING by a dead holder is known to be
orphaned. A claim whose worker dies (kill -9, power loss) stops beating, is
failed by the next worker that looks, and is queued again; the new holder
skips the repetitions that finished and re-runs the rest. A training that
raises (e.g. out of memory) is recorded as a FAIL trial with its error and
retried once.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

import optuna
import torch
from optuna.samplers import BaseSampler, GridSampler
from optuna.trial import TrialState

from ..checkpoint import save_checkpoint
from ..corpora import load_corpus
from ..dataset import Theta, build_segments
from ..devices import describe, resolve_device
from ..errors import ConfigError
from ..experiment import Prepared, prepare
from ..splits import Split
from ..train import TrainConfig, fit, rep_seed
from .grids import theta_key
from .storage import claims_name, load_meta, open_storage, rep_name

#: A (θ, r) that failed this many times is given up (recorded, never dropped silently).
MAX_ATTEMPTS = 2
#: A (θ, r) whose worker died this many times while training it is given up too
#: (e.g. the kernel's OOM killer ends the process every time). Deaths are not
#: training errors, so they do not use up MAX_ATTEMPTS.
MAX_ORPHANS = 5
ORPHANED = "the worker training it stopped (killed, crashed or lost its machine)"
#: A θ whose claim failed this many times (a bug, not a training error) is not claimed again.
MAX_CLAIM_FAILURES = 3
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


class WorkerStopped(BaseException):
    """The process that started this worker is gone: stop without recording anything."""


class _Fixed(BaseSampler):
    """Sampler of the repetition studies: returns the θ the claim holder is training."""

    def __init__(self) -> None:
        self.key: str | None = None

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.key


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """``none`` (the paper's brute force), ``asha`` or ``hyperband``, over epochs."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "asha":
        # Rungs at 1, 3, 9, ... epochs; keep the top third at each (reduction factor 3).
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs, reduction_factor=3)
    raise ConfigError(f"pruner={name!r} is unknown; choose none, asha or hyperband")


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
        saved under ``out/models/``. Without it no checkpoints are written.
    heartbeat : float
        Seconds between heartbeats (a dead worker is noticed after 3x that).
    parent : int, optional
        PID of the process that started this worker; the worker stops when it is gone.
    """

    def __init__(self, url: str, name: str, *, device: str = "auto", out: Path | None = None,
                 heartbeat: float = 10.0, cache_dir: str | None = None, parent: int | None = None,
                 log=None) -> None:
        self.storage = open_storage(url, heartbeat=heartbeat)
        self.name = name
        self.meta = load_meta(self.storage, name)
        self.device = resolve_device(device)
        self.out = Path(out) if out else None
        self.parent = parent
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        s = self.meta["settings"]
        self.config = TrainConfig(**{k: s[k] for k in TrainConfig().as_dict()})
        self.grid = [Theta(**t) for t in self.meta["grid"]]
        self.keys = [theta_key(t) for t in self.grid]
        self.thetas = dict(zip(self.keys, self.grid))
        self.reps = int(self.meta["reps"])
        self.claims = optuna.load_study(study_name=claims_name(name), storage=self.storage,
                                        sampler=GridSampler({"theta": self.keys}, seed=int(s["seed"])))
        self.fixed = _Fixed()
        pruner = make_pruner(s["pruner"], self.config.epochs)
        self.rep_studies = [optuna.load_study(study_name=rep_name(name, r), storage=self.storage,
                                              sampler=self.fixed, pruner=pruner) for r in range(self.reps)]
        self.splits = [Split(**self.rep_studies[r].user_attrs["split"]) for r in range(self.reps)]
        self.prepared = self._load_corpus(cache_dir)
        self._features: tuple[str, object] | None = None
        self.trained = 0

    # -- setup ---------------------------------------------------------------------------
    def _load_corpus(self, cache_dir) -> Prepared:
        c = self.meta["corpus"]
        corpus = load_corpus(c["root"], c["name"], **c["options"])
        prepared = prepare(corpus, cache_dir=cache_dir, progress=False)
        if tuple(prepared.classes) != tuple(self.meta["classes"]):
            raise ConfigError(f"the corpus at {c['root']} has classes {list(prepared.classes)}, but the "
                              f"search was created with {self.meta['classes']}; point the worker at the same corpus")
        known = set(prepared.ids)
        missing = [i for s in self.splits for part in (s.train, s.val, s.test) for i in part if i not in known]
        if missing:
            raise ConfigError(f"{len(missing)} utterances of the search's splits are not in the corpus at "
                              f"{c['root']} (e.g. {missing[0]!r}); every worker needs the same corpus")
        return prepared

    # -- main loop -----------------------------------------------------------------------
    def run(self) -> int:
        """Claim and train until the search is done; returns the number of trainings run here."""
        n_grid = len(self.keys)
        while True:
            self._check_parent()
            optuna.storages.fail_stale_trials(self.claims)
            claims = self.claims.get_trials(deepcopy=False)
            waiting = any(t.state == TrialState.WAITING for t in claims)
            if not waiting and len(claims) >= n_grid:
                open_keys = self._open_keys(claims)
                if open_keys:
                    # A θ whose claim ended without a retry (worker stopped cleanly, or a
                    # numbering gap left by re-queued claims): queue it again.
                    self.claims.enqueue_trial({"theta": open_keys[os.getpid() % len(open_keys)]},
                                              skip_if_exists=False)
                    waiting = True
            if waiting or len(claims) < n_grid:
                self.claims.optimize(self._claim, n_trials=1, catch=(Exception,))
                continue
            if any(t.state == TrialState.RUNNING for t in claims):
                time.sleep(self.storage.heartbeat_interval)   # others still work; they may die
                continue
            return self.trained

    def _open_keys(self, claims) -> list[str]:
        """θs with no claim that is running, waiting or done, and not failed too often."""
        covered, failures = set(), {}
        for t in claims:
            key = t.params.get("theta")
            if key is None:
                continue
            if t.state in (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE):
                covered.add(key)
            elif t.state == TrialState.FAIL:
                failures[key] = failures.get(key, 0) + 1
        return [k for k in self.keys if k not in covered and failures.get(k, 0) < MAX_CLAIM_FAILURES]

    def _claim(self, trial: optuna.Trial) -> float:
        key = trial.suggest_categorical("theta", self.keys)
        queued = "fixed_params" in self.storage.get_trial_system_attrs(trial._trial_id)
        if trial.number >= len(self.keys) or queued:
            # Claims outside the numbered range may race: the lower trial number wins.
            time.sleep(1.0)
            if self._claimed_before(trial, key):
                raise optuna.TrialPruned(f"{key} is already claimed by another worker")
        theta = self.thetas[key]
        trial.set_user_attr("theta", theta.as_dict())
        trial.set_user_attr("device", describe(self.device))
        values = [v for r in range(self.reps) if (v := self._rep(theta, key, r)) is not None]
        # The claim is done even when no repetition completed (all pruned or given up):
        # its value is the mean validation WA of the complete ones, 0 for none.
        trial.set_user_attr("complete_reps", len(values))
        return sum(values) / len(values) if values else 0.0

    def _claimed_before(self, trial: optuna.Trial, key: str) -> bool:
        for other in self.claims.get_trials(deepcopy=False):
            if (other.number < trial.number and other.params.get("theta") == key
                    and other.state in (TrialState.RUNNING, TrialState.COMPLETE)):
                return True
        return False

    # -- one (θ, r) ----------------------------------------------------------------------
    def _rep(self, theta: Theta, key: str, r: int) -> float | None:
        """Train θ on repetition r unless done; returns the validation WA of a complete trial."""
        study = self.rep_studies[r]
        mine = [t for t in study.get_trials(deepcopy=False) if t.params.get("theta") == key]
        done = [t for t in mine if t.state in FINISHED]
        if done:
            return done[0].value if done[0].state == TrialState.COMPLETE else None
        attempts = orphans = 0
        for t in mine:
            if t.state == TrialState.RUNNING:      # only a claim holder writes these: it died
                study._storage.set_trial_user_attr(t._trial_id, "error", ORPHANED)
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                orphans += 1
            elif t.state == TrialState.FAIL:
                orphans += t.user_attrs.get("error") == ORPHANED
                attempts += t.user_attrs.get("error") != ORPHANED
        if orphans >= MAX_ORPHANS:
            return None
        while attempts < MAX_ATTEMPTS:
            attempts += 1
            value, failed = self._train(study, theta, key, r, attempts)
            if not failed:
                return value
        return None

    def _train(self, study: optuna.Study, theta: Theta, key: str, r: int, attempt: int):
        self.fixed.key = key
        trial = study.ask()
        trial.suggest_categorical("theta", self.keys)
        for k, v in (("theta", theta.as_dict()), ("rep", r), ("attempt", attempt),
                     ("device", describe(self.device))):
            trial.set_user_attr(k, v)
        history: list[float] = []

        def on_epoch(epoch: int, loss: float, val_wa: float) -> None:
            self._check_parent()
            history.append(val_wa)
            trial.report(val_wa, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        start = time.perf_counter()
        try:
            data = self._data(theta, key)
            result = fit(data, self.splits[r], n_classes=len(self.meta["classes"]), config=self.config,
                         seed=rep_seed(int(self.meta["settings"]["seed"]), r), unit="utterance",
                         on_epoch=on_epoch)
        except optuna.TrialPruned:
            trial.set_user_attr("epochs_run", len(history))
            trial.set_user_attr("seconds", time.perf_counter() - start)
            study.tell(trial, state=TrialState.PRUNED)
            self.trained += 1
            return None, False
        except Exception as exc:  # any training error is recorded with the trial, then retried once
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            study.tell(trial, state=TrialState.FAIL)
            self.log(f"worker {os.getpid()}: {key} rep {r} failed (attempt {attempt}): {exc}")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            return None, True
        for part in ("val", "test"):
            trial.set_user_attr(part, getattr(result, part)["utterance"])
            trial.set_user_attr(f"{part}_segment", getattr(result, part)["segment"])
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("epochs_run", result.epochs_run)
        trial.set_user_attr("seconds", result.seconds)
        value = result.val["utterance"]["wa"]
        model = self._save_if_best(study, trial, theta, key, r, result, value)
        if model:
            trial.set_user_attr("model", model)
        study.tell(trial, value)
        self.trained += 1
        return value, False

    def _data(self, theta: Theta, key: str):
        """SegmentData of θ, computed once and kept for the other repetitions."""
        if self._features is None or self._features[0] != key:
            self._features = None                    # free the previous θ first
            p = self.prepared
            self._features = (key, build_segments(p.waves, p.labels, p.ids, theta, device=self.device,
                                                  remainder=self.meta["settings"]["remainder"]))
        return self._features[1]

    def _save_if_best(self, study, trial, theta, key, r, result, value) -> str | None:
        """Checkpoint a model that beats every finished trial of its repetition so far.

        "Beats" is the selection's own order (higher value, then lower trial number on
        ties), so the θ_r* a report selects always has its model, whatever order
        concurrent workers finish in.
        """
        if self.out is None:
            return None
        best = max(((t.value, -t.number) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if t.number != trial.number), default=(-math.inf, 0))
        if (value, -trial.number) <= best:
            return None
        rel = Path("models") / f"rep{r}" / f"{key}.pt"
        save_checkpoint(self.out / rel, state_dict=result.state_dict, theta=theta,
                        classes=tuple(self.meta["classes"]), mean=result.mean, std=result.std,
                        sample_rate=16000, remainder=self.meta["settings"]["remainder"],
                        info={"search": self.name, "rep": r, "trial": trial.number,
                              "val": result.val, "test": result.test, "corpus": self.meta["corpus"]["name"]})
        return str(rel)

    def _check_parent(self) -> None:
        if self.parent is not None and os.getppid() != self.parent:
            raise WorkerStopped()
