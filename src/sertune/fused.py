"""Fused repetitions: K trainings of one θ as one stacked SqueezeNet, one optimizer step for all.

A search trains one θ on K repetitions (own split, own seed), and every window
length L of one (M, H, T) gives inputs of one shape: all of these can be members
of one stack (each with its own features). At small inputs
(e.g. 40 mels x 301 frames) a step is a few hundred small kernels, and on a GPU
their launches dominate; :func:`fit_fused` runs the K members as ONE network of
grouped convolutions (``groups=K``): member k's activations are channel group k,
its weights rows k of each stacked weight ``(K * out, in, kh, kw)``. No layer
mixes samples or channel groups, so each member's forward and backward are its
own (the stacked network and its Adam: :mod:`sertune.fused_stack`). Where the
step is compute-bound (a CPU) fusing gains little or loses: :mod:`sertune.fused_probe`
measures it per input shape against what fit runs there. On a GPU,
:func:`sertune.train.fit` replays each step as a CUDA graph, which removes the
launches too: measured on an H200 at 40 x 301, 10 members one at a time with
graphs trained 9,234 samples/s, this eager stack 5,220. A search fuses a θ's
repetitions where that probe says so, or always with ``--fuse on``
(:mod:`sertune.study.fused_reps`), and so does ``sertune train``; the stack is
not captured as a CUDA graph yet.

Every member keeps what :func:`sertune.train.fit` gives a run, so its numbers do
not depend on what else is fused: its normaliser, initial weights, batch-order
generator, dropout generator (masks of SeededDropout's shape, dtype, memory format
and order), Adam state with its own step count, and best-validation checkpoint.
On a CPU each member runs its own layers (:mod:`sertune.fused_stack`), so at the
same thread count a member equals its ``fit`` bit for bit (tests/test_fused.py).
On a GPU the stack's grouped convolutions sum in another order: a member equals
its ``fit`` to float rounding, which a training can amplify (on synthetic EmoDB
at 32 x 51, ``fit`` itself with 1 thread and with 2 differed by 1e-3 in weights
after one epoch).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .dataset import SegmentData
from .devices import use_bf16
from .errors import ConfigError
from .metrics import evaluate
from .fused_stack import _Stack
from .model import SqueezeNet, build_model
from .segments import fit_normalizer, normalize
from .splits import Split
from .train import RunResult, TrainConfig, TrainState, _metrics, _on_cpu

CL = torch.channels_last


class MemberStopped(Exception):
    """Raised by an ``on_epoch`` hook of :func:`fit_fused` to stop ONE member (e.g. pruned).

    The member leaves the stack after that epoch; the others go on. Its result is
    still returned, from its best epoch so far, with ``epochs_run < config.epochs``.
    """


#: Called after each epoch of each member still training with (member index in
#: ``splits``, epoch, mean train loss, validation WA %). Raising :class:`MemberStopped`
#: (or one of ``stop_on``) stops that member only; any other exception ends the run.
MemberHook = Callable[[int, int, float, float], None]

#: Called after each epoch but the last of each member still training with (member
#: index, epoch, snapshot): ``snapshot()`` returns the member's
#: :class:`~sertune.train.TrainState` as fit's ``on_snapshot`` gives it, so
#: ``fit(..., resume=state)`` goes on with that member alone. Raising one of ``stop_on``
#: (after saving it) stops that member too, e.g. one that waits for others at a barrier.
MemberSnapshotHook = Callable[[int, int, Callable[[], TrainState]], None]

#: Called when a member's validation WA improved, with (member index, epoch, its test
#: {"wa", "ua"} at that epoch), as fit's ``on_improve``.
MemberImproveHook = Callable[[int, int, dict], None]


@dataclass
class _Member:
    """One repetition's own state beside the stack (what fit keeps in local variables)."""

    index: int                                  # position in fit_fused's ``splits``
    data: SegmentData                           # its θ's segments (one input shape for all members)
    split: Split
    seed: int
    rows: dict[str, np.ndarray]                 # train / val / test segment rows
    mean: float                                 # its normaliser
    std: float
    order: torch.Generator                      # CPU: batch order, one randperm per epoch
    dropout: torch.Generator                    # on the device: dropout masks
    best_wa: float = -1.0
    best_epoch: int = 0
    best_state: dict | None = None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _member_rows(data: SegmentData, split: Split, unit: str) -> dict[str, np.ndarray]:
    rows = {part: data.rows(getattr(split, part), by=unit) for part in ("train", "val", "test")}
    for part, idx in rows.items():
        if len(idx) == 0:
            raise ConfigError(f"split {split.name!r}: the {part} part matches no segment; "
                              f"check that the split file belongs to this corpus")
    return rows


def _normaliser(data: SegmentData, train: np.ndarray) -> tuple[float, float]:
    """As fit: chunks of 256 rows, so the float64 merges (and the floats) are the same."""
    return fit_normalizer(data.batch(torch.as_tensor(train[b:b + 256], device=data.device))
                          for b in range(0, len(train), 256))


def _inputs(data: SegmentData, idx: torch.Tensor, member: _Member) -> torch.Tensor:
    """fit's network input for member's rows ``idx``: normalised (b, 1, n_mels, frames), channels-last."""
    return normalize(data.batch(idx), member.mean, member.std).unsqueeze(1).contiguous(memory_format=CL)


def _train_epoch(stack: _Stack, members: Sequence[_Member], perms: Sequence[torch.Tensor],
                 *, bf16: bool, batch_size: int) -> list[float]:
    """One epoch of every member (``perms[k]``: its shuffled train rows); their mean losses, as fit's.

    Step s takes batch s of every member; a member whose epoch has fewer batches sits
    the last steps out (loss weight 0, no Adam step, no dropout draw).
    """
    device = members[0].data.device
    loss_sum = torch.zeros(stack.k, device=device)
    for s in range(max(math.ceil(len(p) / batch_size) for p in perms)):
        idx = [p[s * batch_size:(s + 1) * batch_size] for p in perms]
        loss = stack.train_step([_inputs(m.data, i, m) for i, m in zip(idx, members)],
                                [m.data.labels[i] for i, m in zip(idx, members)],
                                [m.dropout for m in members], bf16=bf16)
        loss_sum += loss * torch.tensor([len(i) for i in idx], dtype=torch.float32, device=device)
    return [float(v) / len(p) for v, p in zip(loss_sum.tolist(), perms)]


@torch.inference_mode()
def _log_probs(stack: _Stack, members: Sequence[_Member], rows: Sequence[np.ndarray],
               *, bf16: bool, batch_size: int) -> list[np.ndarray]:
    """Each member's segment log-probabilities (n, n_classes) on its ``rows``: train.log_probs, fused."""
    out = [[] for _ in members]
    device = members[0].data.device
    rows = [torch.as_tensor(r, device=device) for r in rows]
    for b in range(0, max(len(r) for r in rows), batch_size):
        inputs = [_inputs(m.data, r[b:b + batch_size], m) for r, m in zip(rows, members)]
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = stack.logits(inputs)
        for i, z in enumerate(logits):
            if z is not None:
                out[i].append(torch.log_softmax(z.float(), dim=1).cpu().double().numpy())
    return [np.concatenate(o) for o in out]


def fit_fused(data: SegmentData | Sequence[SegmentData], splits: Sequence[Split], *, n_classes: int,
              config: TrainConfig, seeds: Sequence[int], unit: str = "utterance", on_epoch: MemberHook | None = None,
              stop_on: tuple[type[BaseException], ...] = (MemberStopped,),
              on_snapshot: MemberSnapshotHook | None = None, on_improve: MemberImproveHook | None = None,
              after_epoch: Callable[[int], None] | None = None,
              resume: Sequence[TrainState] | None = None) -> list[RunResult]:
    """Train K = len(splits) trainings together; member i is ``fit(data[i], splits[i], seed=seeds[i])``.

    Parameters
    ----------
    data : SegmentData, or a sequence of K of them
        All segments of the one θ of every member (K repetitions of one θ), or of
        member i: settings whose inputs have one shape (n_mels, frames), e.g. every
        window length L of one (M, H, T). On the training device.
    splits, seeds : sequences of Split and of int, of one length K >= 1
        Member i's split, and its seed (weights, dropout masks, batch order).
    n_classes, config, unit
        As for :func:`sertune.train.fit`.
    on_epoch : callable, optional
        See :data:`MemberHook`.
    stop_on : tuple of exception types
        Exceptions of ``on_epoch`` that stop only that member (e.g. add ``optuna.TrialPruned``).
    on_snapshot : callable, optional
        See :data:`MemberSnapshotHook`: fit's epoch checkpoints, per member.
    on_improve : callable, optional
        See :data:`MemberImproveHook`. When given, a member's test part is evaluated
        at every epoch that improves its validation WA, with the single model fit
        would test (so the values are fit's), and its history entry keeps it as ``"test"``.
    after_epoch : callable, optional
        Called with the epoch once every member's hooks of that epoch ran and the
        stopped members left; whatever it raises ends the whole run (e.g. a worker
        asked to stop, once every member saved its state).
    resume : sequence of K TrainState, optional
        Member i goes on from ``resume[i]`` as ``fit(resume=resume[i])`` would: a
        snapshot of fit's or of a fused member's, all after the same epoch.

    Returns
    -------
    list of RunResult, one per split, in order
        What ``fit`` returns for each member: val/test metrics of its best-validation
        epoch, its history, normaliser and best weights (CPU float32). A stopped member
        has ``epochs_run < config.epochs`` and the results of its best epoch so far.
        ``seconds`` is the member's share of the fused run's wall time: each epoch's
        time split evenly over the members that trained in it.
    """
    _check(splits, seeds, unit, stop_on, {"on_epoch": on_epoch, "on_snapshot": on_snapshot,
                                          "on_improve": on_improve, "after_epoch": after_epoch})
    first = _first_epoch(resume, len(splits))
    datas = _per_member(data, len(splits))
    mark, device = time.perf_counter(), datas[0].device     # setup counts as the first epoch's time
    members, states = [], []
    for i, (d, split, seed) in enumerate(zip(datas, splits, seeds)):
        rows = _member_rows(d, split, unit)
        mean, std = _normaliser(d, rows["train"])
        template = build_model(n_classes, init=config.init, weights=config.weights, seed=seed)
        states.append(template.state_dict())
        members.append(_Member(i, d, split, int(seed), rows, mean, std, torch.Generator().manual_seed(seed),
                               torch.Generator(device=device).manual_seed(seed)))
    bf16, level = use_bf16(device, config.precision), ("segment" if unit == "segment" else "utterance")
    if resume is not None:
        states = [state.model for state in resume]
    stack, finished = _Stack(template, states, lr=config.lr, device=device), []
    for i, state in enumerate(resume or []):       # what fit(resume=state) restores
        stack.load_adam(i, state.optimizer)
        m = members[i]
        m.order.set_state(state.order_rng)
        m.dropout.set_state(state.dropout_rng)
        m.best_wa, m.best_epoch, m.history = state.best_wa, state.best_epoch, list(state.history)
        m.best_state = None if state.best_model is None else {k: v.to(device) for k, v in state.best_model.items()}
    for epoch in range(first, config.epochs + 1):
        perms = [torch.as_tensor(m.rows["train"])[torch.randperm(len(m.rows["train"]), generator=m.order)]
                 .to(device) for m in members]          # fit's draw, from each member's own generator
        losses = _train_epoch(stack, members, perms, bf16=bf16, batch_size=config.batch_size)
        val = _log_probs(stack, members, [m.rows["val"] for m in members], bf16=bf16,
                         batch_size=config.eval_batch_size)
        stopped = []
        for i, (member, loss, lp) in enumerate(zip(members, losses, val)):
            val_wa = _evaluate(member.data, member.rows["val"], lp, n_classes)[level]["wa"]
            member.history.append({"epoch": epoch, "loss": loss, "val_wa": val_wa})
            if val_wa > member.best_wa:
                member.best_wa, member.best_epoch, member.best_state = val_wa, epoch, stack.state(i)
                if on_improve is not None:
                    test = _metrics(_single(template, member.best_state, device), member.data, member.rows["test"],
                                    member.mean, member.std, bf16, n_classes, config)[level]
                    member.history[-1]["test"] = {"wa": test["wa"], "ua": test["ua"]}
                    on_improve(member.index, epoch, member.history[-1]["test"])
            try:
                if on_epoch is not None:
                    on_epoch(member.index, epoch, loss, val_wa)
                if on_snapshot is not None and epoch < config.epochs:
                    on_snapshot(member.index, epoch,
                                lambda i=i, m=member, e=epoch: _snapshot(stack, m, i, e, config))
            except stop_on:
                stopped.append(i)
        now = time.perf_counter()
        share, mark = (now - mark) / len(members), now
        for member in members:
            member.seconds += share
        if stopped:       # the stopped leave the stack: the rest train on, and cost less
            finished += [members[i] for i in stopped]
            keep = [i for i in range(len(members)) if i not in stopped]
            members = [members[i] for i in keep]
            if members:
                stack.keep(keep)
        if after_epoch is not None:
            after_epoch(epoch)
        if not members:
            break
    return [_result(m, template, n_classes, config, bf16)
            for m in sorted(finished + members, key=lambda m: m.index)]


def _snapshot(stack: _Stack, member: _Member, i: int, epoch: int, config: TrainConfig) -> TrainState:
    """Member i's :class:`~sertune.train.TrainState`, in fit's format: ``fit(resume=...)`` goes on from it."""
    weights, m, v = stack.views[i]
    adam = torch.optim.Adam(stack.template.parameters(), lr=config.lr).state_dict()   # fit's param_groups
    adam["state"] = {j: {"step": step.clone(), "exp_avg": _on_cpu(m[j]), "exp_avg_sq": _on_cpu(v[j])}
                     for j, step in enumerate(stack.steps[i])}
    return TrainState(epoch=epoch, model={n: _on_cpu(p) for n, p in zip(stack.w, weights)}, optimizer=adam,
                      order_rng=member.order.get_state(), dropout_rng=member.dropout.get_state(),
                      best_wa=member.best_wa, best_epoch=member.best_epoch,
                      best_model=_on_cpu(member.best_state), history=list(member.history))


def _per_member(data: SegmentData | Sequence[SegmentData], k: int) -> list[SegmentData]:
    """Member i's SegmentData: ``data`` for all, or ``data[i]``; all of one input shape, on one device."""
    datas = [data] * k if isinstance(data, SegmentData) else list(data)
    if len(datas) != k or not all(isinstance(d, SegmentData) for d in datas):
        raise ConfigError(f"data must be one SegmentData or a list of {k} (one per split), "
                          f"not {type(data).__name__} of {len(datas)}")
    shapes = {(d.theta.n_mels, d.theta.frames(d.sample_rate)) for d in datas}
    devices = {str(d.device) for d in datas}
    if len(shapes) > 1 or len(devices) > 1:
        raise ConfigError(f"fused members need inputs of one shape on one device; got shapes (n_mels, frames) "
                          f"{sorted(shapes)} on {sorted(devices)}: fuse settings that share M, H and T")
    return datas


def _first_epoch(resume: Sequence[TrainState] | None, k: int) -> int:
    """The epoch the members start at: 1, or one after the epoch of their ``resume`` states."""
    if resume is None:
        return 1
    if isinstance(resume, TrainState) or len(resume) != k or not all(isinstance(s, TrainState) for s in resume):
        raise ConfigError(f"resume must be a list of {k} TrainState (one per split), or None")
    epochs = sorted({s.epoch for s in resume})
    if len(epochs) > 1:
        raise ConfigError(f"resume states are after epochs {epochs}: a stack goes on from one epoch; "
                          f"fuse the members of each epoch apart (or resume them with fit)")
    return epochs[0] + 1


def _check(splits, seeds, unit, stop_on, hooks: dict) -> None:
    if unit not in ("utterance", "segment"):
        raise ConfigError(f"split unit {unit!r} is unknown; choose utterance or segment")
    if isinstance(splits, (str, bytes, Split)) or not isinstance(splits, Sequence) or len(splits) == 0:
        raise ConfigError(f"splits={splits!r} must be a non-empty list of Split (one per member)")
    if not all(isinstance(s, Split) for s in splits):
        raise ConfigError("splits must hold Split objects only (sertune.splits.Split)")
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or len(seeds) != len(splits):
        raise ConfigError(f"seeds={seeds!r} must be a list of {len(splits)} int (one per split); "
                          f"use [rep_seed(seed, r) for r in range({len(splits)})]")
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds={list(seeds)!r} must be non-negative integers")
    for name, hook in hooks.items():
        if hook is not None and not callable(hook):
            raise ConfigError(f"{name}={hook!r} must be callable or None (see sertune.fused.fit_fused)")
    if not (isinstance(stop_on, tuple) and all(isinstance(e, type) and issubclass(e, BaseException)
                                               for e in stop_on)):
        raise ConfigError(f"stop_on={stop_on!r} must be a tuple of exception classes, e.g. (MemberStopped,)")


def _evaluate(data: SegmentData, rows: np.ndarray, lp: np.ndarray, n_classes: int) -> dict:
    return evaluate(lp, data.labels[torch.as_tensor(rows, device=data.device)].cpu().numpy(),
                    data.utterance[rows], n_classes=n_classes)


def _single(template: SqueezeNet, state: dict, device: torch.device) -> SqueezeNet:
    """fit's single model holding ``state`` (deepcopy of the template: no global RNG draw)."""
    model = copy.deepcopy(template).to(device=device, memory_format=CL)
    model.load_state_dict(state)
    return model


def _result(member: _Member, template: SqueezeNet, n_classes: int, config: TrainConfig, bf16: bool) -> RunResult:
    """fit's final evaluation: the best epoch's weights in a single model, val and test."""
    model = _single(template, member.best_state, member.data.device)
    val, test = (_metrics(model, member.data, member.rows[part], member.mean, member.std, bf16, n_classes, config)
                 for part in ("val", "test"))
    return RunResult(split=member.split.name, seed=member.seed, val=val, test=test,
                     best_epoch=member.best_epoch, epochs_run=len(member.history), seconds=member.seconds,
                     history=member.history, mean=member.mean, std=member.std,
                     state_dict={k: v.to("cpu", torch.float32) for k, v in member.best_state.items()})
