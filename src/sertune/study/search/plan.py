"""What a search will cost, before it starts (``sertune search --plan``).

The cost of an epoch of θ is (training segments x seconds per training sample) +
(validation segments x seconds per evaluated sample), and seconds per sample grow
with the input size M x frames. :func:`~.probe.probe` measures both on the chosen device
with a few steps on a handful of representative input shapes, and says how far to trust
them on a busy machine; :func:`~.probe.fit` fits ``a + b x (M x frames)`` to them (least
squares); :func:`estimate` applies the fit to every θ of the grid. Everything but
:func:`plan_search` is pure arithmetic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np

from ...features.theta import Theta, parse_theta_key, theta_key
from .probe import CpuLoad, Fit, ProbePoint, busy_note, fit, probe

SAMPLE_RATE = 16000


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
    #: The CPU's usage during the probe (None: an accelerator, or not measured).
    cpu: CpuLoad | None = None
    #: The workers' CPU thread limit, which the probe started at.
    thread_limit: int | None = None
    #: The restart control (``search --restarts``): its θ key, its trainings, and their device time.
    control: str | None = None
    control_trainings: int = 0
    control_seconds: float = 0.0
    #: The strategy's share of brute force's device time, replayed with each setting's seconds per
    #: epoch (None: not estimated, the share of epochs stands for it).
    device_fraction: float | None = None

    @property
    def spread(self) -> float:
        """Slowest over fastest timed step, the median over the probed shapes (1: none probed)."""
        return float(np.median([p.spread for p in self.probes])) if self.probes else 1.0

    @property
    def note(self) -> str | None:
        """:func:`busy_note` of the probe: what to print beside the estimate, or None."""
        return busy_note(self.cpu, self.spread)

    def as_json(self) -> dict:
        """``--plan --json``: the estimate in seconds, the probe, and the note."""
        return {"settings": self.grid_size, "reps": self.reps, "trainings": self.trainings, "epochs": self.epochs,
                "shapes": self.shapes, "brute_seconds": self.brute_seconds, "strategy": self.strategy,
                "strategy_fraction": self.strategy_fraction, "device_fraction": self.device_fraction,
                "strategy_seconds": self.strategy_seconds,
                "workers": self.workers, "lanes": self.lanes, "wall_seconds": self.total_seconds / self.lanes,
                "probes": [asdict(p) for p in self.probes], "skipped": [list(s) for s in self.skipped],
                "cpu": None if self.cpu is None else asdict(self.cpu), "thread_limit": self.thread_limit,
                "spread": self.spread, "note": self.note, "control": self.control,
                "control_trainings": self.control_trainings, "control_seconds": self.control_seconds}

    @property
    def trainings(self) -> int:
        return self.grid_size * self.reps

    @property
    def strategy_seconds(self) -> float:
        share = self.strategy_fraction if self.device_fraction is None else self.device_fraction
        return self.brute_seconds * share

    @property
    def total_seconds(self) -> float:
        """The device time of the whole search: the strategy's share of the grid, and the control in full."""
        return self.strategy_seconds + self.control_seconds


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


def estimate(grid: Sequence[Theta], *, segments: dict[str, tuple[int, int]], fitted: Fit, reps: int,
             epochs: int, strategy: str = "brute", strategy_fraction: float = 1.0, workers: int = 1,
             lanes: int = 1, probes: Sequence[ProbePoint] = (), skipped: Sequence[tuple[int, int]] = (),
             cpu: CpuLoad | None = None, thread_limit: int | None = None,
             control: tuple[Theta, int] | None = None) -> Plan:
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
    control : (Theta, int), optional
        The restart control's θ and its trainings (all repetitions, every epoch: never pruned);
        ``segments`` holds its θ too.
    """
    def seconds_per_epoch(t: Theta) -> float:
        size = t.n_mels * t.frames(SAMPLE_RATE)
        train, val = segments[theta_key(t)]
        return train * fitted.seconds(size, "train") + val * fitted.seconds(size, "eval")

    per_epoch = {theta_key(t): seconds_per_epoch(t) for t in grid}
    brute = sum(per_epoch.values()) * reps * epochs
    extra = {}
    if control is not None and control[1] > 0:
        extra = {"control": theta_key(control[0]), "control_trainings": control[1],
                 "control_seconds": seconds_per_epoch(control[0]) * control[1] * epochs}
    return Plan(grid_size=len(grid), reps=reps, epochs=epochs, shapes=len(shapes(grid)), epoch_seconds=per_epoch,
                brute_seconds=brute, strategy=strategy, strategy_fraction=strategy_fraction, workers=workers,
                lanes=lanes, probes=list(probes), skipped=list(skipped), cpu=cpu, thread_limit=thread_limit,
                **extra)


def format_plan(plan: Plan, *, device: str) -> str:
    """The estimate as ``--plan`` prints it: the probe, seconds per epoch, device time, wall-clock,
    and :attr:`Plan.note` beside them when the probe ran on a busy or unsteady device."""
    from .progress import counted, device_time, format_duration

    lines = [f"plan: {counted(plan.grid_size, 'setting')} x {counted(plan.reps, 'repetition')} = "
             f"{counted(plan.trainings, 'training')} of {counted(plan.epochs, 'epoch')}; "
             f"{counted(plan.shapes, 'distinct input shape')} (M x frames)"]
    if plan.probes:
        lines.append(f"probe on {device}{_threads(plan)}; seconds per sample, the median of "
                     f"{max(p.steps for p in plan.probes)} timed steps (slowest / fastest):")
    lines += [f"  {p.n_mels:>4} x {p.frames:<6} train {p.train * 1e3:8.3f} ms (x{p.spread:.1f})  "
              f"eval {p.eval * 1e3:7.3f} ms" for p in plan.probes]
    if plan.skipped:
        lines.append(f"  {counted(len(plan.skipped), 'larger shape')} not probed (too slow here): extrapolated")
    per = sorted(plan.epoch_seconds.values())
    lines.append(f"seconds per epoch: {per[0]:.2f} (smallest θ) to {per[-1]:.2f} (largest), median "
                 f"{per[len(per) // 2]:.2f}")
    lines.append(f"brute force: {device_time(plan.brute_seconds)}")
    if plan.strategy != "brute":
        device = "" if plan.device_fraction is None else f" and {plan.device_fraction:.0%} of its device time"
        lines.append(f"strategy {plan.strategy}: about {plan.strategy_fraction:.0%} of brute force's epochs{device}, "
                     f"{device_time(plan.strategy_seconds, training=False)}")
    if plan.control_trainings:
        lines.append(f"restart control of {plan.control}: {counted(plan.control_trainings, 'training')} more, "
                     f"{device_time(plan.control_seconds, training=False)}; the whole search "
                     f"{device_time(plan.total_seconds, training=False)}")
    if plan.workers > 1:
        shared = (f", {plan.lanes} at full speed at once (workers on one GPU share it)"
                  if plan.lanes < plan.workers else " at once")
        lines.append(f"on {plan.workers} workers{shared}: about "
                     f"{format_duration(plan.total_seconds / plan.lanes)} wall-clock")
    if plan.note:
        lines.append(f"warning: {plan.note}")
    return "\n".join(lines)


def _threads(plan: Plan) -> str:
    """`` at 1 thread (...)`` on a CPU: what the probe ran at, and why fewer than the limit."""
    if plan.cpu is None or not plan.cpu.threads:
        return ""
    used = "/".join(map(str, plan.cpu.threads))
    text = f" at {used} thread{'s' if used != '1' else ''}"
    if plan.thread_limit and min(plan.cpu.threads) < plan.thread_limit:
        text += (f" (of the workers' {plan.thread_limit}: other processes kept cores busy, and the workers "
                 f"follow the load the same way)")
    return text


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
                worker_devices: Sequence[str], follow_load: bool = True,
                control: dict | None = None) -> tuple[Plan, str]:
    """Probe ``device`` and estimate the search run by workers on ``worker_devices`` (one entry
    per worker); returns the plan and the device's description.

    ``threads`` is each CPU worker's thread count; with ``follow_load`` (no fixed
    ``--threads``) it is their limit, and the probe follows the load below it as they do.
    ``control``: the restart control as a search stores it (``meta["control"]``), costed too.
    """
    import torch

    from ...training.devices import resolve_device
    from ..store.storage import control_keys

    dev = resolve_device(device)
    lengths = {i: len(w) for i, w in zip(prepared.ids, prepared.waves)}
    restarts = (parse_theta_key(control["theta"]), len(control_keys(control)) * len(splits)) if control else None
    probed = [*grid, restarts[0]] if restarts else list(grid)
    counts = segment_counts(probed, lengths, splits[0], remainder=config.remainder)
    before = torch.get_num_threads()
    if dev.type == "cpu":
        torch.set_num_threads(threads)              # as one worker will start
    try:
        found = probe(representative(shapes(probed)), device=dev, n_classes=len(prepared.classes),
                      batch_size=config.train.batch_size, eval_batch_size=config.train.eval_batch_size,
                      precision=config.train.precision, follow_load=follow_load)
    finally:
        torch.set_num_threads(before)
    spec = config.search_strategy()
    plan = estimate(grid, segments=counts, fitted=fit(found.points), reps=len(splits), epochs=config.train.epochs,
                    strategy=spec, workers=len(worker_devices),
                    lanes=count_lanes(worker_devices), probes=found.points, skipped=found.skipped,
                    cpu=found.cpu, thread_limit=threads if dev.type == "cpu" else None, control=restarts)
    if spec != "brute":     # its shares, replayed on synthesized curves weighed by these seconds per epoch
        from ..replay.lab import strategy_shares

        epochs, device = strategy_shares(spec, settings=len(grid), reps=len(splits), epochs=config.train.epochs,
                                         epoch_seconds=[plan.epoch_seconds[theta_key(t)] for t in grid])
        plan = replace(plan, strategy_fraction=epochs, device_fraction=device)
    if dev.type == "cuda":
        return plan, f"{dev} ({torch.cuda.get_device_name(dev)})"
    return plan, dev.type
