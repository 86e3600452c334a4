"""What a search will cost, before it starts (``sertune search --plan``).

The cost of an epoch of θ is (training segments x seconds per training sample) +
(validation segments x seconds per evaluated sample), and seconds per sample grow
with the input size M x frames. :func:`probe` measures both on the chosen device
with a few steps on a handful of representative input shapes; :func:`fit` fits
``a + b x (M x frames)`` to them (least squares); :func:`estimate` applies the fit
to every θ of the grid. Everything but :func:`probe` is pure arithmetic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ...features.theta import Theta, theta_key

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class ProbePoint:
    """Measured seconds per sample at one input shape (train: forward + backward + step)."""

    n_mels: int
    frames: int
    train: float
    eval: float

    @property
    def size(self) -> int:
        return self.n_mels * self.frames


@dataclass(frozen=True)
class Fit:
    """seconds per sample = intercept + slope x (M x frames), for training and for evaluation."""

    train: tuple[float, float]
    eval: tuple[float, float]

    def seconds(self, size: float, part: str = "train") -> float:
        a, b = getattr(self, part)
        return a + b * size


@dataclass(frozen=True)
class Plan:
    grid_size: int
    reps: int
    epochs: int
    shapes: int
    epoch_seconds: dict[str, float]            # θ key -> seconds per epoch
    brute_seconds: float
    strategy: str
    strategy_fraction: float
    workers: int
    lanes: int                                 # trainings that run at once at the probed speed
    probes: list[ProbePoint] = field(default_factory=list)
    skipped: list[tuple[int, int]] = field(default_factory=list)

    @property
    def trainings(self) -> int:
        return self.grid_size * self.reps

    @property
    def strategy_seconds(self) -> float:
        return self.brute_seconds * self.strategy_fraction


def count_lanes(worker_devices: Sequence[str]) -> int:
    """How many trainings run at once at the probed speed, given each worker's device.

    Every CPU worker counts (it has its own ``--threads`` cores, and the probe ran at
    that thread count); every distinct accelerator counts once, whatever the number of
    workers on it. Workers on one GPU time-slice it: on an H100, 8 workers on the
    H100-recorded study (benchmarks/data/README.md) finished its 11,340 epochs in 9.4
    minutes, where the one-worker estimate was 9 minutes.
    """
    cpu = sum(1 for d in worker_devices if d.split(":")[0] == "cpu")
    accelerators = {d if ":" in d else f"{d}:0" for d in worker_devices if d.split(":")[0] != "cpu"}
    return max(1, cpu + len(accelerators))


def shapes(grid: Sequence[Theta]) -> list[tuple[int, int]]:
    """Distinct network inputs (M, frames) of a grid, smallest M x frames first."""
    return sorted({(t.n_mels, t.frames(SAMPLE_RATE)) for t in grid}, key=lambda s: (s[0] * s[1], s))


def representative(all_shapes: list[tuple[int, int]], n: int = 5) -> list[tuple[int, int]]:
    """Up to ``n`` shapes spread evenly (by rank) from the smallest to the largest."""
    if len(all_shapes) <= n:
        return list(all_shapes)
    picks = np.unique(np.round(np.linspace(0, len(all_shapes) - 1, n)).astype(int))
    return [all_shapes[i] for i in picks]


def fit(points: Sequence[ProbePoint]) -> Fit:
    """Least-squares line through the probe points (a single point: proportional to size).
    Intercepts and slopes are kept non-negative: a negative one only means noise."""
    sizes = np.array([p.size for p in points], dtype=float)

    def line(values: np.ndarray) -> tuple[float, float]:
        if len(points) == 1 or np.ptp(sizes) == 0:
            return 0.0, float(values.mean() / sizes.mean())
        slope, intercept = np.polyfit(sizes, values, 1)
        if intercept < 0:
            return 0.0, float((values * sizes).sum() / (sizes ** 2).sum())
        return float(intercept), max(float(slope), 0.0)

    return Fit(train=line(np.array([p.train for p in points])), eval=line(np.array([p.eval for p in points])))


def estimate(grid: Sequence[Theta], *, segments: dict[str, tuple[int, int]], fitted: Fit, reps: int,
             epochs: int, strategy: str = "brute", strategy_fraction: float = 1.0, workers: int = 1,
             lanes: int = 1, probes: Sequence[ProbePoint] = (), skipped: Sequence[tuple[int, int]] = ()) -> Plan:
    """The cost of every θ and of the whole search.

    Parameters
    ----------
    segments : dict
        θ key -> (training segments, validation segments) of one repetition.
    fitted : Fit
        Seconds per sample as a function of M x frames.
    strategy_fraction : float
        The share of brute force's epochs the strategy spends.
    workers, lanes : int
        Workers of the search, and how many of them train at full speed at once
        (:func:`count_lanes`): the wall-clock is the device time over ``lanes``.
    """
    per_epoch = {}
    for t in grid:
        size = t.n_mels * t.frames(SAMPLE_RATE)
        train, val = segments[theta_key(t)]
        per_epoch[theta_key(t)] = train * fitted.seconds(size, "train") + val * fitted.seconds(size, "eval")
    brute = sum(per_epoch.values()) * reps * epochs
    return Plan(grid_size=len(grid), reps=reps, epochs=epochs, shapes=len(shapes(grid)), epoch_seconds=per_epoch,
                brute_seconds=brute, strategy=strategy, strategy_fraction=strategy_fraction, workers=workers,
                lanes=lanes, probes=list(probes), skipped=list(skipped))


def format_plan(plan: Plan, *, device: str) -> str:
    from .progress import format_duration

    hours = plan.brute_seconds / 3600
    lines = [f"plan: {plan.grid_size} settings x {plan.reps} repetitions = {plan.trainings:,} trainings of "
             f"{plan.epochs} epochs; {plan.shapes} distinct input shapes (M x frames)",
             f"probe on {device} (seconds per sample, measured):"]
    lines += [f"  {p.n_mels:>4} x {p.frames:<6} train {p.train * 1e3:8.3f} ms  eval {p.eval * 1e3:7.3f} ms"
              for p in plan.probes]
    if plan.skipped:
        lines.append(f"  {len(plan.skipped)} larger shapes were not probed (too slow here): extrapolated")
    per = sorted(plan.epoch_seconds.values())
    lines.append(f"seconds per epoch: {per[0]:.2f} (smallest θ) to {per[-1]:.2f} (largest), median "
                 f"{per[len(per) // 2]:.2f}")
    lines.append(f"brute force: {hours:,.1f} device-hours ({format_duration(plan.brute_seconds)} of training)")
    if plan.strategy != "brute":
        lines.append(f"strategy {plan.strategy}: about {plan.strategy_fraction:.0%} of the epochs, "
                     f"{plan.strategy_seconds / 3600:,.1f} device-hours")
    if plan.workers > 1:
        shared = (f", {plan.lanes} at full speed at once (workers on one GPU share it)"
                  if plan.lanes < plan.workers else " at once")
        lines.append(f"on {plan.workers} workers{shared}: about "
                     f"{format_duration(plan.strategy_seconds / plan.lanes)} wall-clock")
    return "\n".join(lines)


# --------------------------------------------------------------------------- measuring (device I/O)

def probe(candidates: Sequence[tuple[int, int]], *, device, n_classes: int, batch_size: int, eval_batch_size: int,
          precision: str = "auto", steps: int = 2, max_seconds: float = 4.0) -> tuple[list[ProbePoint], list]:
    """Time ``steps`` training steps and evaluation batches at each shape (smallest first).

    Large shapes are probed with smaller batches so that each probe takes about
    ``max_seconds`` at most (per-sample cost there is linear in the batch); a shape
    that would take over twice that even with batches of 2 is skipped (returned
    second) and extrapolated: on a CPU the largest paper inputs take seconds per sample.
    """
    import torch

    from ...training.cuda_graphs import graphed_batch_step, use_graphs
    from ...training.devices import use_bf16
    from ...training.model import build_model
    from ...training.fit import train_step

    bf16 = use_bf16(device, precision)
    points: list[ProbePoint] = []
    skipped = []
    gen = torch.Generator().manual_seed(0)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for n_mels, frames in candidates:
        batch, eval_batch = batch_size, eval_batch_size
        if points:
            f = fit(points)
            per = f.seconds(n_mels * frames) + f.seconds(n_mels * frames, "eval")
            batch = int(min(batch_size, max_seconds / ((steps + 1) * per)))
            if batch < 2:
                if 2 * (steps + 1) * per > 2 * max_seconds:
                    skipped.append((n_mels, frames))
                    continue
                batch = 2
            eval_batch = min(eval_batch_size, 2 * batch)
        model = build_model(n_classes, init="scratch", seed=0).to(device=device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, capturable=use_graphs(device))

        def inputs(n):
            return torch.randn(n, 1, n_mels, frames, generator=gen).to(device).contiguous(
                memory_format=torch.channels_last)
        x, xe = inputs(batch), inputs(eval_batch)
        y = torch.randint(0, n_classes, (batch,), generator=gen).to(device)
        model.train()
        if use_graphs(device):       # what fit trains with there: full batches as one CUDA graph
            step = graphed_batch_step(model, optimizer, x[:, 0], y, bf16=bf16)
        else:
            step = lambda: train_step(model, optimizer, x, y, bf16=bf16)   # noqa: E731
        step()                                                   # warm-up (allocations, kernel choice)
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        train = (time.perf_counter() - start) / (steps * batch)
        model.eval()
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model(xe)
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                model(xe)
            sync()
        points.append(ProbePoint(n_mels, frames, train, (time.perf_counter() - start) / (steps * eval_batch)))
    return points, skipped


# --------------------------------------------------------------------------- a search's plan

def segment_counts(grid: Sequence[Theta], lengths: dict[str, int], split, *, remainder: str) -> dict:
    """θ key -> (training segments, validation segments) of one repetition's split."""
    from ...features.segments import segment_count

    out = {}
    for t in grid:
        length = int(round(t.segment * SAMPLE_RATE))
        out[theta_key(t)] = tuple(sum(segment_count(lengths[i], length=length, remainder=remainder) for i in ids)
                                  for ids in (split.train, split.val))
    return out


def plan_search(grid: Sequence[Theta], prepared, splits, *, config, device: str, threads: int,
                worker_devices: Sequence[str]) -> tuple[Plan, str]:
    """Probe ``device`` and estimate the search run by workers on ``worker_devices`` (one entry
    per worker); returns the plan and the device's description."""
    import torch

    from ...training.devices import describe, resolve_device

    dev = resolve_device(device)
    lengths = {i: len(w) for i, w in zip(prepared.ids, prepared.waves)}
    counts = segment_counts(grid, lengths, splits[0], remainder=config.remainder)
    before = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(threads)              # as one worker will run
    try:
        points, skipped = probe(representative(shapes(grid)), device=dev, n_classes=len(prepared.classes),
                                batch_size=config.train.batch_size, eval_batch_size=config.train.eval_batch_size,
                                precision=config.train.precision)
    finally:
        torch.set_num_threads(before)
    spec = config.search_strategy()
    from ..replay.lab import strategy_fraction

    fraction = strategy_fraction(spec, settings=len(grid), reps=len(splits), epochs=config.train.epochs)
    plan = estimate(grid, segments=counts, fitted=fit(points), reps=len(splits), epochs=config.train.epochs,
                    strategy=spec, strategy_fraction=fraction, workers=len(worker_devices),
                    lanes=count_lanes(worker_devices), probes=points, skipped=skipped)
    return plan, describe(dev)
