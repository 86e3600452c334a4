"""Measuring what a training step costs on a device, and how far to trust it (``--plan``'s probe).

:func:`probe` times training steps and evaluation batches at a few input shapes; :func:`fit`
draws ``a + b x (M x frames)`` through the points (:mod:`.plan` applies it to a grid).

A probe is only as good as the machine is quiet. Each shape is warmed up, then timed step
by step; the median per sample is kept with its spread (:func:`summarize`). On a CPU the
probe runs at the thread count the workers will run at: a search's workers follow the load
(``CpuShare``), and so does the probe. Beside other processes on 2 cores, a probe at 2
threads measured 77-97 ms per sample where the search's workers, down to 1 thread, then
trained at 2.4 ms (issue 26): torch's threads wait for each other at every operation.
:func:`busy_note` says, beside the estimate, when the CPU was busy (other processes' cores,
the load average) or the steps varied. Everything but :func:`probe` is pure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class ProbePoint:
    """Measured seconds per sample at one input shape (train: forward + backward + step)."""

    n_mels: int
    frames: int
    train: float
    eval: float
    #: Slowest over fastest timed training step at this shape (1: all alike).
    spread: float = 1.0
    #: Timed training steps behind ``train`` (their median).
    steps: int = 1

    @property
    def size(self) -> int:
        return self.n_mels * self.frames


@dataclass(frozen=True)
class Timing:
    """Repeated measurements of one thing: their median, spread (slowest / fastest) and count."""

    median: float
    spread: float
    n: int


def summarize(seconds: Sequence[float]) -> Timing:
    """Median and spread of repeated timings (seconds, each > 0).

    The median, not the mean: a step that another process interrupted is one slow
    outlier, and the median of 5 ignores up to 2 of them. The spread (slowest over
    fastest) says how steady the device was: about 1.1 on a quiet CPU.
    """
    t = np.asarray(list(seconds), dtype=float)
    if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t <= 0):
        raise ValueError(f"timings must be one or more positive numbers of seconds; got {t.tolist()}")
    return Timing(median=float(np.median(t)), spread=float(t.max() / t.min()), n=int(t.size))


@dataclass(frozen=True)
class CpuLoad:
    """What else ran on the CPU while the probe measured."""

    cores: int                            # usable cores (affinity)
    load: float | None                    # 1-minute load average at the end of the probe
    others: float | None                  # cores other processes kept busy during the probe
    threads: tuple[int, ...] = ()         # torch threads the probe ran at, in order


#: Other processes keeping at least this many cores busy make the CPU busy.
BUSY_CORES = 0.5
#: Timed steps whose slowest took this many times the fastest (median over shapes) were disturbed.
UNSTEADY = 2.0


def busy_note(cpu: CpuLoad | None, spread: float) -> str | None:
    """The warning to print beside an estimate measured on a busy or unsteady device, or None.

    Parameters
    ----------
    cpu : CpuLoad or None
        The CPU's usage during the probe (None: the probe ran on an accelerator).
    spread : float
        Slowest over fastest timed step, the median over the probed shapes.
    """
    busy = []
    if cpu is not None:
        if cpu.load is not None and cpu.load > cpu.cores:
            busy.append(f"load {cpu.load:.1f} on {cpu.cores} core{'s' if cpu.cores != 1 else ''}")
        if cpu.others is not None and cpu.others >= BUSY_CORES:
            busy.append(f"other processes kept {cpu.others:.1f} of the cores busy")
    unsteady = [f"steps varied x{spread:.1f}"] if spread >= UNSTEADY else []
    if not busy and not unsteady:
        return None
    what = "the CPU was busy" if busy else "the device was not steady"
    return (f"{what} during the probe ({'; '.join(busy + unsteady)}): this estimate may be several times "
            f"off, and holds at best while the other work goes on as it did; re-run --plan on a quiet machine")


@dataclass(frozen=True)
class Fit:
    """seconds per sample = intercept + slope x (M x frames), for training and for evaluation."""

    train: tuple[float, float]
    eval: tuple[float, float]

    def seconds(self, size: float, part: str = "train") -> float:
        a, b = getattr(self, part)
        return a + b * size


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



# --------------------------------------------------------------------------- measuring (device I/O)

#: Untimed steps per shape before the timed ones (allocations, oneDNN's or cuDNN's kernel choice).
WARMUP = 2
#: Timed steps per shape: at most ``repeats`` (the probe's argument), at least this many.
MIN_REPEATS = 3
#: Seconds a CPU probe that follows the load watches the CPU before it sets its threads, as a
#: worker does once it has started (CpuShare needs 0.2 s between readings of the CPU's counters).
SHARE_WINDOW = 0.3


@dataclass(frozen=True)
class Probe:
    """What :func:`probe` measured, and what else ran on the CPU meanwhile."""

    points: list[ProbePoint]
    skipped: list[tuple[int, int]]
    cpu: CpuLoad | None = None


def probe(candidates: Sequence[tuple[int, int]], *, device, n_classes: int, batch_size: int, eval_batch_size: int,
          precision: str = "auto", repeats: int = 5, budget: float = 6.0, follow_load: bool = False) -> Probe:
    """Time training steps and evaluation batches at each shape (smallest first).

    Each shape gets a fresh model, :data:`WARMUP` untimed steps, then up to ``repeats``
    (at least :data:`MIN_REPEATS`) timed steps and evaluation batches, each timed on its
    own, within its share of ``budget`` seconds; its seconds per sample are the medians
    (:func:`summarize`). Large shapes are probed with smaller batches so that a shape takes
    about its share (per-sample cost there is linear in the batch), sized by the fit of the
    shapes before (the first, on a CPU, by one step of 2 samples); a shape that would take
    over twice its share even with batches of 2 is skipped and extrapolated: on a CPU the
    largest paper inputs take seconds per sample.

    On a CPU the probe runs at torch's thread count, the workers' limit. With
    ``follow_load`` (a search's workers without a fixed ``--threads``), it sets the threads
    below that limit as a worker does (:class:`~sertune.training.devices.CpuShare`): from what
    other processes took in the first :data:`SHARE_WINDOW` seconds (a worker: while it
    starts), then before each shape (a worker: after each epoch). It also records the cores
    other processes kept busy over the whole probe, and the load average.
    """
    import torch

    from ...training.cuda_graphs import graphed_batch_step, use_graphs
    from ...training.devices import CpuShare, use_bf16, usable_cpus
    from ...training.model import build_model
    from ...training.fit import train_step

    bf16 = use_bf16(device, precision)
    cpu = device.type == "cpu"
    whole = CpuShare() if cpu else None                   # others over the whole probe
    share = CpuShare(torch.get_num_threads()) if cpu and follow_load else None
    if share is not None:
        time.sleep(SHARE_WINDOW)
    threads: list[int] = []
    points: list[ProbePoint] = []
    skipped = []
    gen = torch.Generator().manual_seed(0)
    per_shape = budget / max(1, len(candidates))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def timed(call, n: int, until: float) -> list[float]:
        """Seconds of each of up to ``n`` calls (at least MIN_REPEATS), stopping past ``until``."""
        out: list[float] = []
        while len(out) < n and (len(out) < MIN_REPEATS or time.perf_counter() < until):
            start = time.perf_counter()
            call()
            sync()
            out.append(time.perf_counter() - start)
        return out

    calls = WARMUP + MIN_REPEATS
    for n_mels, frames in candidates:
        if share is not None:
            share.adjust()
        model = build_model(n_classes, init="scratch", seed=0).to(device=device, memory_format=torch.channels_last)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, capturable=use_graphs(device))

        def inputs(n):
            return torch.randn(n, 1, n_mels, frames, generator=gen).to(device).contiguous(
                memory_format=torch.channels_last)
        batch, eval_batch = batch_size, eval_batch_size
        if points:
            f = fit(points)
            per = f.seconds(n_mels * frames) + f.seconds(n_mels * frames, "eval")
            batch = int(min(batch_size, per_shape / (calls * per)))
            if batch < 2:
                if 2 * calls * per > 2 * per_shape:
                    skipped.append((n_mels, frames))
                    continue
                batch = 2
        elif cpu:
            # The first shape has no fit to size its batch by: a step of 2 samples (the second:
            # the very first pays one-time costs) says whether full batches would take far over
            # its share of the budget.
            x2, y2 = inputs(2), torch.zeros(2, dtype=torch.long)
            train_step(model, optimizer, x2, y2, bf16=bf16)
            start = time.perf_counter()
            train_step(model, optimizer, x2, y2, bf16=bf16)
            per = 1.25 * (time.perf_counter() - start) / 2
            if calls * batch_size * per > 2 * per_shape:
                batch = max(2, int(per_shape / (calls * per)))
        eval_batch = min(eval_batch_size, 2 * batch) if batch < batch_size else eval_batch_size
        x, xe = inputs(batch), inputs(eval_batch)
        y = torch.randint(0, n_classes, (batch,), generator=gen).to(device)
        model.train()
        if use_graphs(device):       # what fit trains with there: full batches as one CUDA graph
            step = graphed_batch_step(model, optimizer, x[:, 0], y, bf16=bf16)
        else:
            step = lambda: train_step(model, optimizer, x, y, bf16=bf16)   # noqa: E731
        for _ in range(WARMUP):
            step()
        sync()
        if cpu and (not threads or threads[-1] != torch.get_num_threads()):
            threads.append(torch.get_num_threads())
        shape_end = time.perf_counter() + per_shape
        train = summarize(timed(step, repeats, time.perf_counter() + per_shape / 2))
        model.eval()
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model(xe)
            sync()
            evals = summarize(timed(lambda: model(xe), repeats, shape_end))
        points.append(ProbePoint(n_mels, frames, train.median / batch, evals.median / eval_batch,
                                 spread=train.spread, steps=train.n))
    load = None
    if cpu:
        try:
            load = os.getloadavg()[0]
        except OSError:                  # not on Linux or BSD
            pass
    usage = CpuLoad(cores=usable_cpus(), load=load, others=whole.others(), threads=tuple(threads)) if cpu else None
    return Probe(points, skipped, usage)
