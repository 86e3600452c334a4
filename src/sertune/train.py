"""One training run: fit SqueezeNet on one split for one θ, keep the best-validation model, test it.

The data of a run are rows of a :class:`~sertune.dataset.SegmentData` already on the
device; an epoch is a shuffled walk over index batches into it. bf16 autocast
and channels-last memory are used where the device runs them fast (AMX CPUs,
recent GPUs) and ``precision="fp32"`` turns them off. Every random choice
(initial weights, dropout, batch order) comes from the run's seed, so the
same seed gives the same numbers on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import SegmentData, normalizer
from .devices import use_bf16
from .errors import ConfigError
from .metrics import evaluate
from .model import INITS, build_model
from .splits import Split


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (the paper's: Adam, lr 1e-4, batch 16, 150 epochs)."""

    epochs: int = 150
    batch_size: int = 16
    lr: float = 1e-4
    precision: str = "auto"
    init: str = "scratch"
    weights: str | None = None
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a positive integer")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r} must be positive (the paper uses 1e-4)")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"precision={self.precision!r} is unknown; choose auto, bf16 or fp32")
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


def fit(data: SegmentData, split: Split, *, n_classes: int, config: TrainConfig, seed: int,
        unit: str = "utterance", on_epoch: EpochHook | None = None, progress=None) -> RunResult:
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
        Seeds weights, dropout and batch order.
    unit : {"utterance", "segment"}
        Selection uses utterance-level WA for utterance splits, segment-level WA
        for segment splits (as the reference code).
    on_epoch : callable, optional
        See :data:`EpochHook`.
    progress : tqdm-like, optional
        Updated once per epoch (``update(1)`` and ``set_postfix``).
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
    mean, std = normalizer(data, rows["train"])
    torch.manual_seed(seed)                                   # dropout
    model = build_model(n_classes, init=config.init, weights=config.weights, seed=seed)
    model = model.to(device=device, memory_format=torch.channels_last)
    bf16 = use_bf16(device, config.precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    order = torch.Generator().manual_seed(seed)
    train_rows = torch.as_tensor(rows["train"])
    level = "segment" if unit == "segment" else "utterance"

    best_wa, best_epoch, best_state, history = -1.0, 0, None, []
    for epoch in range(1, config.epochs + 1):
        perm = train_rows[torch.randperm(len(train_rows), generator=order)].to(device)
        train_loss = train_epoch(model, optimizer, data, perm, mean, std,
                                 bf16=bf16, batch_size=config.batch_size)
        val_wa = _metrics(model, data, rows["val"], mean, std, bf16, n_classes, config)[level]["wa"]
        history.append({"epoch": epoch, "loss": train_loss, "val_wa": val_wa})
        if val_wa > best_wa:
            best_wa, best_epoch = val_wa, epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress is not None:
            progress.set_postfix(loss=f"{train_loss:.3f}", val_wa=f"{val_wa:.1f}",
                                 best=f"{best_wa:.1f}@{best_epoch}", refresh=False)
            progress.update(1)
        if on_epoch is not None:
            on_epoch(epoch, train_loss, val_wa)

    model.load_state_dict(best_state)
    val = _metrics(model, data, rows["val"], mean, std, bf16, n_classes, config)
    test = _metrics(model, data, rows["test"], mean, std, bf16, n_classes, config)
    return RunResult(split=split.name, seed=seed, val=val, test=test, best_epoch=best_epoch,
                     epochs_run=len(history), seconds=time.perf_counter() - start, history=history,
                     mean=mean, std=std,
                     state_dict={k: v.to("cpu", torch.float32) for k, v in best_state.items()})


def train_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: SegmentData,
                order: torch.Tensor, mean: float, std: float, *, bf16: bool, batch_size: int) -> float:
    """One pass over the rows in ``order`` (already shuffled, on the device); mean loss.

    The loss is accumulated on the device and read once at the end, so the
    device never waits for the host inside the loop.
    """
    model.train()
    loss_sum = torch.zeros((), device=data.device)
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        x = _inputs(data, idx, mean, std)          # outside autocast: features stay float32
        with torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), data.labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(idx)
    return float(loss_sum) / len(order)


def _inputs(data: SegmentData, idx: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Normalised network input (batch, 1, n_mels, frames), channels-last."""
    x = (data.batch(idx) - mean) / std
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
        out.append(torch.log_softmax(logits.float(), dim=1).cpu().double().numpy())
    return np.concatenate(out)


def _metrics(model, data, rows, mean, std, bf16, n_classes, config) -> dict:
    lp = log_probs(model, data, rows, mean, std, bf16=bf16, batch_size=config.eval_batch_size)
    return evaluate(lp, data.labels[torch.as_tensor(rows, device=data.device)].cpu().numpy(),
                    data.utterance[rows], n_classes=n_classes)


def rep_seed(seed: int, rep: int) -> int:
    """The training seed of repetition ``rep`` (independent streams for every (seed, rep))."""
    return int(np.random.SeedSequence([seed, rep, 1]).generate_state(1)[0] & 0x7FFFFFFF)
