"""One training run: fit SqueezeNet on one split for one θ, keep the best-validation model, test it.

The data of a run are rows of a :class:`~sertune.training.dataset.SegmentData` already on the
device; an epoch is a shuffled walk over index batches into it. bf16 autocast
and channels-last memory are used where the device runs them fast (AMX CPUs,
recent GPUs) and ``precision="fp32"`` turns them off. Every random choice
(initial weights, dropout, batch order) comes from an explicit generator
seeded by the run's seed, so the same seed gives the same numbers on the CPU,
and a run stopped after any epoch goes on from its :class:`TrainState` exactly.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .cuda_graphs import GraphedStep, load_optimizer_state, use_graphs
from .dataset import SegmentData
from .devices import PRECISIONS, use_bf16
from ..errors import ConfigError
from .metrics import evaluate
from .model import INITS, SeededDropout, build_model
from ..features.segments import fit_normalizer, normalize
from ..corpora.splits import Split


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper's: Adam, lr 1e-4, batch 16, 150 epochs).

    Each field's metadata gives its command-line flag (:func:`sertune.config.add_flags`):
    ``help``, and ``choices`` from the registry that validates it.
    """

    epochs: int = field(default=150, metadata={"help": "epochs per training"})
    batch_size: int = field(default=16, metadata={"help": "training batch size"})
    lr: float = field(default=1e-4, metadata={"help": "Adam learning rate"})
    precision: str = field(default="auto", metadata={
        "choices": PRECISIONS, "help": "auto: bf16 + channels-last where the device runs them fast"})
    init: str = field(default="scratch", metadata={
        "choices": tuple(INITS), "help": "scratch (the reference code) or ImageNet weights"})
    weights: str | None = field(default=None, metadata={
        "metavar": "PATH", "help": "torchvision's squeezenet1_1 ImageNet weights for --init imagenet"})
    eval_batch_size: int = field(default=64, metadata={"flag": False})

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a positive integer")
        if isinstance(self.lr, bool) or not isinstance(self.lr, (int, float)) or not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r} must be a positive number (the paper uses 1e-4)")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision={self.precision!r} is unknown; choose one of: {', '.join(PRECISIONS)}")
        if self.init not in INITS:
            raise ConfigError(f"init={self.init!r} is unknown; choose one of: {', '.join(INITS)}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RunResult:
    """What one repetition produced. Metrics are in %, at segment and utterance level."""

    split: str
    seed: int
    val: dict
    test: dict
    best_epoch: int
    epochs_run: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0
    state_dict: dict | None = None

    def summary(self) -> dict:
        """JSON-ready, without the weights."""
        return {k: v for k, v in asdict(self).items() if k != "state_dict"}


#: Called after each epoch with (epoch, mean train loss, validation WA %). It may
#: raise (e.g. an Optuna pruning exception) to stop the run.
EpochHook = Callable[[int, float, float], None]


@dataclass
class TrainState:
    """Everything a run needs to go on after ``epoch`` exactly as if it had never stopped.

    Model and optimizer state, the batch-order and dropout generators' states,
    the best validation WA so far with its epoch and weights, and the history.
    Tensors live on the CPU; :func:`fit` moves them to the device on resume.
    """

    epoch: int
    model: dict
    optimizer: dict
    order_rng: torch.Tensor
    dropout_rng: torch.Tensor
    best_wa: float
    best_epoch: int
    best_model: dict | None
    history: list[dict]


#: Called at each epoch where validation WA improved, with (epoch, test metrics of that
#: checkpoint at the selection level: ``{"wa": .., "ua": ..}`` in %). This is what a run
#: stopped at any later epoch would report as its test result; replay of search
#: strategies (:mod:`sertune.study.replay.lab`) reads it, selection never does.
ImproveHook = Callable[[int, dict], None]


#: Called after each epoch with (epoch, snapshot): ``snapshot()`` returns the
#: run's :class:`TrainState` (built only when called, it copies the weights).
SnapshotHook = Callable[[int, Callable[[], TrainState]], None]


def fit(data: SegmentData, split: Split, *, n_classes: int, config: TrainConfig, seed: int,
        unit: str = "utterance", on_epoch: EpochHook | None = None, progress=None,
        resume: TrainState | None = None, on_snapshot: SnapshotHook | None = None,
        on_improve: ImproveHook | None = None, cuda_graphs: bool = True) -> RunResult:
    """Train on ``split.train``, select the epoch by validation WA, evaluate val and test.

    Parameters
    ----------
    data : SegmentData
        All segments for one θ, on the training device.
    split : Split
        Ids of the train/val/test parts: utterance ids (``unit="utterance"``) or
        segment ids (``unit="segment"``, the reference code's leaky protocol).
    n_classes : int
    config : TrainConfig
    seed : int
        Seeds weights, dropout and batch order (explicit generators: nothing
        global is seeded or drawn from).
    unit : {"utterance", "segment"}
        Selection uses utterance-level WA for utterance splits, segment-level WA
        for segment splits (as the reference code).
    on_epoch : callable, optional
        See :data:`EpochHook`. Not called again for the epochs ``resume`` holds.
    progress : tqdm-like, optional
        Updated once per epoch (``update(1)`` and ``set_postfix``).
    resume : TrainState, optional
        Go on from this state (saved by ``on_snapshot`` of an interrupted run with
        the same data, split, config and seed): the result is the one the
        uninterrupted run gives, bit for bit on the CPU.
    on_snapshot : callable, optional
        See :data:`SnapshotHook`; e.g. saves an epoch checkpoint now and then.
    on_improve : callable, optional
        See :data:`ImproveHook`. When given, the test part is evaluated at every
        epoch that improves validation (a test pass only then, not every epoch) and
        the history entry of that epoch keeps it as ``"test"``.
    cuda_graphs : bool
        On a CUDA device, replay full training batches as one CUDA graph
        (:mod:`sertune.training.cuda_graphs`; a failed capture falls back to eager steps
        with a warning). Ignored on the CPU and for data in waves mode.
    """
    if unit not in ("utterance", "segment"):
        raise ConfigError(f"split unit {unit!r} is unknown; choose utterance or segment")
    device = data.device
    rows = {part: data.rows(getattr(split, part), by=unit) for part in ("train", "val", "test")}
    for part, idx in rows.items():
        if len(idx) == 0:
            raise ConfigError(f"split {split.name!r}: the {part} part matches no segment; "
                              f"check that the split file belongs to this corpus")
    start = time.perf_counter()
    mean, std = fit_normalizer(data.batch(torch.as_tensor(rows["train"][b:b + 256], device=device))
                               for b in range(0, len(rows["train"]), 256))
    model = build_model(n_classes, init=config.init, weights=config.weights, seed=seed)
    model = model.to(device=device, memory_format=torch.channels_last)
    dropout = torch.Generator(device=device).manual_seed(seed)
    for module in model.modules():
        if isinstance(module, SeededDropout):
            module.generator = dropout
    bf16 = use_bf16(device, config.precision)
    graphs = use_graphs(device, cuda_graphs)
    # On CUDA, Adam keeps its step count on the device (capturable) whether or not the step is
    # graphed: a graph needs that, and the same arithmetic both ways makes graphs a pure speed-up.
    capturable = device.type == "cuda"
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, capturable=capturable)
    order = torch.Generator().manual_seed(seed)
    train_rows = torch.as_tensor(rows["train"])
    level = "segment" if unit == "segment" else "utterance"

    best_wa, best_epoch, best_state, history, first = -1.0, 0, None, [], 1
    if resume is not None:
        model.load_state_dict(resume.model)
        load_optimizer_state(optimizer, resume.optimizer, capturable=capturable)
        order.set_state(resume.order_rng)
        dropout.set_state(resume.dropout_rng)
        best_wa, best_epoch, history = resume.best_wa, resume.best_epoch, list(resume.history)
        best_state = None if resume.best_model is None else {k: v.to(device) for k, v in resume.best_model.items()}
        first = resume.epoch + 1
        if progress is not None:
            progress.update(resume.epoch)

    def snapshot(epoch: int) -> TrainState:
        return TrainState(epoch=epoch, model=_on_cpu(model.state_dict()), optimizer=_on_cpu(optimizer.state_dict()),
                          order_rng=order.get_state(), dropout_rng=dropout.get_state(), best_wa=best_wa,
                          best_epoch=best_epoch, best_model=_on_cpu(best_state), history=list(history))

    graph = None
    # Waves mode computes the log-Mel per batch, and its input check reads a value on the host,
    # which a capture cannot hold; those θs are the largest, bound by memory bandwidth, where a
    # graph gains nothing measurable (256 x 2001 on an H200: x1.02), so they step eagerly.
    if graphs and data.mode == "features" and len(train_rows) >= config.batch_size and first <= config.epochs:
        try:
            model.train()
            graph = GraphedStep(model, optimizer, data, mean, std, bf16=bf16, batch_size=config.batch_size,
                                generator=dropout)
        except RuntimeError as err:     # e.g. an op that cannot be captured: eager steps, same numbers
            warnings.warn(f"CUDA graph capture failed ({err}); training with eager steps", stacklevel=2)
    for epoch in range(first, config.epochs + 1):
        perm = train_rows[torch.randperm(len(train_rows), generator=order)].to(device)
        train_loss = train_epoch(model, optimizer, data, perm, mean, std,
                                 bf16=bf16, batch_size=config.batch_size, graph=graph)
        val_wa = _metrics(model, data, rows["val"], mean, std, bf16, n_classes, config)[level]["wa"]
        history.append({"epoch": epoch, "loss": train_loss, "val_wa": val_wa})
        if val_wa > best_wa:
            best_wa, best_epoch = val_wa, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            if on_improve is not None:
                test = _metrics(model, data, rows["test"], mean, std, bf16, n_classes, config)[level]
                history[-1]["test"] = {"wa": test["wa"], "ua": test["ua"]}
                on_improve(epoch, history[-1]["test"])
        if progress is not None:
            progress.set_postfix(loss=f"{train_loss:.3f}", val_wa=f"{val_wa:.1f}",
                                 best=f"{best_wa:.1f}@{best_epoch}", refresh=False)
            progress.update(1)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_wa)
        if on_snapshot is not None and epoch < config.epochs:
            on_snapshot(epoch, lambda e=epoch: snapshot(e))

    model.load_state_dict(best_state)
    val = _metrics(model, data, rows["val"], mean, std, bf16, n_classes, config)
    test = _metrics(model, data, rows["test"], mean, std, bf16, n_classes, config)
    return RunResult(split=split.name, seed=seed, val=val, test=test, best_epoch=best_epoch,
                     epochs_run=len(history), seconds=time.perf_counter() - start, history=history,
                     mean=mean, std=std,
                     state_dict={k: v.to("cpu", torch.float32) for k, v in best_state.items()})


def _on_cpu(value):
    """A copy of ``value`` (nested dicts and lists of tensors, e.g. a state dict) with every
    tensor on the CPU: a checkpoint outlives the device it was trained on."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _on_cpu(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_on_cpu(v) for v in value]
    return value


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: SegmentData,
                order: torch.Tensor, mean: float, std: float, *, bf16: bool, batch_size: int,
                graph: GraphedStep | None = None) -> float:
    """One pass over the rows in ``order`` (already shuffled, on the device); mean loss.

    The loss is accumulated on the device and read once at the end, so the
    device never waits for the host inside the loop. With ``graph`` (captured for
    this model, optimizer, data and batch size) the full batches replay it and
    only a last, smaller batch runs eagerly.
    """
    model.train()
    start = 0
    if graph is not None:
        graph.loss_sum.zero_()
        start = len(order) // batch_size * batch_size
        for b in range(0, start, batch_size):
            graph(order[b:b + batch_size])
        loss_sum = graph.loss_sum
    else:
        loss_sum = torch.zeros((), device=data.device)
    for b in range(start, len(order), batch_size):
        idx = order[b:b + batch_size]
        x = _inputs(data, idx, mean, std)          # outside autocast: features stay float32
        loss_sum += train_step(model, optimizer, x, data.labels[idx], bf16=bf16) * len(idx)
    return float(loss_sum) / len(order)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               *, bf16: bool) -> torch.Tensor:
    """One optimizer step on inputs ``x`` (batch, 1, n_mels, frames) and labels ``y``; the loss,
    detached, on the device (reading it would make the device wait)."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _inputs(data: SegmentData, idx: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Normalised network input (batch, 1, n_mels, frames), channels-last."""
    x = normalize(data.batch(idx), mean, std)
    return x.unsqueeze(1).contiguous(memory_format=torch.channels_last)


@torch.inference_mode()
def log_probs(model: torch.nn.Module, data: SegmentData, rows: np.ndarray, mean: float, std: float,
              *, bf16: bool, batch_size: int) -> np.ndarray:
    """Segment log-probabilities (len(rows), n_classes), float64, in eval mode."""
    model.eval()
    out = []
    for b in range(0, len(rows), batch_size):
        idx = torch.as_tensor(rows[b:b + batch_size], device=data.device)
        x = _inputs(data, idx, mean, std)
        with torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        out.append(torch.log_softmax(logits.float(), dim=1))
    # One copy to the host at the end: a copy per batch would make the GPU wait each time.
    return torch.cat(out).cpu().double().numpy()


def _metrics(model, data, rows, mean, std, bf16, n_classes, config) -> dict:
    lp = log_probs(model, data, rows, mean, std, bf16=bf16, batch_size=config.eval_batch_size)
    return evaluate(lp, data.labels[torch.as_tensor(rows, device=data.device)].cpu().numpy(),
                    data.utterance[rows], n_classes=n_classes)


def rep_seed(seed: int, rep: int) -> int:
    """The training seed of repetition ``rep`` (independent streams for every (seed, rep))."""
    return int(np.random.SeedSequence([seed, rep, 1]).generate_state(1)[0] & 0x7FFFFFFF)


def restart_seed(seed: int, rep: int, restart: int) -> int:
    """The training seed of restart ``restart`` of repetition ``rep``: restart 0 is the repetition's
    own training (:func:`rep_seed`), the others independent streams on the same split."""
    if restart == 0:
        return rep_seed(seed, rep)
    return int(np.random.SeedSequence([seed, rep, 2, restart]).generate_state(1)[0] & 0x7FFFFFFF)
