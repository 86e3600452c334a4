"""Device choice and what each device does fast. The only place that asks the hardware."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from .errors import ConfigError


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


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. under taskset or a container's
    cpuset), not every CPU of the machine: threads beyond them only wait for each other."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):        # not on Linux
        return max(1, os.cpu_count() or 1)


@lru_cache(maxsize=None)
def _cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: bf16 convolutions are then faster than fp32 on the CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


#: Precisions a training or an inference can ask for (``--precision``).
PRECISIONS = ("auto", "bf16", "fp32")


def use_bf16(device: torch.device, precision: str) -> bool:
    """Whether to train in bf16 autocast: ``precision`` is one of :data:`PRECISIONS`."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r} is unknown; choose one of: {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return False
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        supported = _cpu_has_fast_bf16()
    if precision == "bf16" and not supported:
        raise ConfigError(f"precision='bf16' but {device} has no fast bf16 support; use --precision fp32")
    return supported


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


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
