"""Device choice and what each device does fast. The only place that asks the hardware."""

from __future__ import annotations

import math
import os
import time
from functools import lru_cache

import torch

from ..errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> the first CUDA GPU if there is one, else the CPU; ``cpu``, ``cuda``, ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device={name!r} but this torch sees no CUDA GPU; use --device cpu "
                              f"or install a CUDA build of torch")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device={name!r} but only {torch.cuda.device_count()} GPU(s) are visible")
    elif device.type != "cpu":
        raise ConfigError(f"device={name!r} is not supported; use auto, cpu, cuda or cuda:N")
    return device


def prepare_device(device: torch.device) -> None:
    """Settings a training process wants on ``device``. On CUDA: cuDNN's benchmark mode OFF.

    Measured on an H200 (bf16, training steps as CUDA graphs): benchmark mode gave the same
    samples/s as cuDNN's heuristics at 40x301, 128x1001 and 256x2001 (9,232 vs 9,260; 3,631 vs
    3,633; 1,272 vs 1,273), but timed the kernels again for every new batch shape (an epoch's
    last batch, each evaluation batch size), which made a 6-epoch training take 11.3 s
    instead of 1.0 s. A search meets many such shapes, so the timing never pays.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under taskset or a container's
    cpuset), not every CPU of the machine: threads beyond them only wait for each other."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):        # not on Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=None)
def _cpuinfo() -> str:
    """``/proc/cpuinfo`` ("" where there is none): flags and model name."""
    try:
        with open("/proc/cpuinfo") as f:
            return f.read()
    except OSError:
        return ""


def _cpu_has_bf16() -> bool:
    """AMX or AVX512-BF16: the CPU has bf16 instructions (``--precision bf16`` runs natively)."""
    return "amx_bf16" in _cpuinfo() or "avx512_bf16" in _cpuinfo()


def _cpu_bf16_is_faster() -> bool:
    """AMX: bf16 training is faster than fp32 there, so ``auto`` picks it.

    AVX512-BF16 alone is not enough: measured on a 2-core Xeon with AVX512-BF16 and no
    AMX, a SqueezeNet training step (batch 16, channels-last) in bf16 autocast took
    4-10 % longer than in fp32 at 40 x 301, 80 x 150 and 128 x 301 (the casts cost
    more than the dot products gain), so ``auto`` trains in fp32 there.
    """
    return "amx_bf16" in _cpuinfo()


#: Precisions a training or an inference can ask for (``--precision``).
PRECISIONS = ("auto", "bf16", "fp32")


def use_bf16(device: torch.device, precision: str) -> bool:
    """Whether to train in bf16 autocast: ``precision`` is one of :data:`PRECISIONS`; ``auto``
    picks bf16 where it is faster (a CUDA device that supports it, a CPU with AMX)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is unknown; choose one of: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return False
    if device.type == "cuda":
        supported = faster = torch.cuda.is_bf16_supported()
    else:
        supported, faster = _cpu_has_bf16(), _cpu_bf16_is_faster()
    if precision == "bf16" and not supported:
        raise ConfigError(f"precision='bf16' but {device} has no bf16 support; use --precision fp32")
    return supported if precision == "bf16" else faster


def free_memory_bytes(device: torch.device) -> int:
    """Memory that can still be allocated on ``device`` (RAM for the CPU)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), for benchmarks that say where they ran."""
    try:
        return next(line.split(":", 1)[1].strip() for line in _cpuinfo().splitlines()
                    if line.startswith("model name"))
    except StopIteration:
        import platform
        return platform.processor() or platform.machine() or "unknown CPU"


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"


def threads_for(usable: int, others: float) -> int:
    """Threads for a CPU-bound training: the usable cores other processes leave idle, at least 1.

    ``others`` is how many cores other processes kept busy lately (a fraction counts: 0.6
    of a core busy leaves 1.4, rounded to 1).
    """
    return max(1, min(usable, math.floor(usable - max(others, 0.0) + 0.5)))


class CpuShare:
    """Keeps a CPU training's thread count to the cores other processes leave it.

    Why: torch's intra-op threads wait for each other at every operation, so two
    processes with 2 threads each on 2 cores make every operation wait for a thread
    the other process holds: measured 10-30x slower, not 2x. :meth:`adjust` (called
    after each epoch) reads how busy the usable cores were since the last call, from
    Linux's ``/proc/stat`` minus this process's own time, and sets
    ``torch.set_num_threads`` to :func:`threads_for` of it (at most ``limit``).
    Where ``/proc`` is missing it keeps ``limit``.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.limit = max(1, limit or usable_cpus())
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last = self._sample()
        self._recent: float | None = None

    def _sample(self) -> tuple[float, float, float] | None:
        """(busy ticks of the usable CPUs, this process's ticks, wall time), or None."""
        try:
            cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
            busy = 0
            with open("/proc/stat") as f:
                for line in f:
                    name, *values = line.split()
                    if name in cpus:
                        v = [int(x) for x in values]
                        busy += sum(v) - v[3] - (v[4] if len(v) > 4 else 0)     # all but idle and iowait
            with open("/proc/self/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            own = int(fields[11]) + int(fields[12])                             # utime + stime
        except (OSError, AttributeError, ValueError, IndexError):
            return None
        return float(busy), float(own), time.monotonic()

    def others(self) -> float | None:
        """Cores other processes kept busy since the last reading (None where it cannot be known).

        A call under 0.2 s after the last reading is too soon to tell (the counters tick
        every 10 ms): it answers what that reading said.
        """
        now, last = self._sample(), self._last
        if now is not None and last is not None and now[2] - last[2] < 0.2:
            return self._recent
        self._last = now
        self._recent = (None if now is None or last is None
                        else ((now[0] - last[0]) - (now[1] - last[1])) / self.ticks / (now[2] - last[2]))
        return self._recent

    def adjust(self) -> int:
        """Set torch's thread count for what the other processes left; returns it."""
        others = self.others()
        threads = self.limit if others is None else threads_for(self.limit, others)
        if threads != torch.get_num_threads():
            torch.set_num_threads(threads)
        return threads
