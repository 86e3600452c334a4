"""Devices: threads on a shared CPU, precision choice, device names."""

from __future__ import annotations

import os
import time

import pytest
import torch

from sertune.training import devices
from sertune.training.devices import CpuShare, resolve_device, threads_for, usable_cpus
from sertune.errors import ConfigError


@pytest.mark.parametrize("usable, others, threads", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 3.0, 1), (8, 2.2, 6), (8, -0.5, 8), (1, 0.0, 1),
])
def test_threads_for_leaves_the_cores_other_processes_use(usable, others, threads):
    assert threads_for(usable, others) == threads


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="needs Linux /proc")
def test_cpu_share_does_not_count_this_process_as_another():
    share = CpuShare(limit=usable_cpus())
    end = time.monotonic() + 0.6
    x = 0
    while time.monotonic() < end:          # this process busy on one core; nothing else of ours runs
        x += 1
    others = share.others()
    assert others is not None and others < usable_cpus()
    before = torch.get_num_threads()
    try:
        assert 1 <= share.adjust() <= usable_cpus()
    finally:
        torch.set_num_threads(before)


def test_cpu_share_asked_again_at_once_keeps_what_it_measured(monkeypatch):
    """Two calls in quick succession: a second call within 0.2 s answers the
    last reading (it used to reset the thread count to the limit)."""
    share = CpuShare(limit=2)
    share.ticks = 100
    # (busy ticks of the CPUs, this process's ticks, seconds): others kept one core busy for 1 s
    clock = iter([(100.0, 10.0, 1.0), (250.0, 60.0, 2.0), (250.0, 60.0, 2.05)])
    monkeypatch.setattr(share, "_sample", lambda: next(clock))
    share._last = share._sample()
    before = torch.get_num_threads()
    try:
        assert share.adjust() == 1 and torch.get_num_threads() == 1
        assert share.adjust() == 1 and torch.get_num_threads() == 1      # 0.05 s later: not back to 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("name, match", [
    ("tpu", r"device='tpu' is not a device"),
    ("cuda:99", r"device='cuda:99' but"),
])
def test_bad_devices_say_what_to_use(name, match):
    with pytest.raises(ConfigError, match=match):
        resolve_device(name)


@pytest.mark.parametrize("flags, auto, explicit", [
    ("fpu avx512_bf16 amx_bf16 amx_tile", True, True),    # AMX: bf16 is faster, auto picks it
    ("fpu avx512_bf16", False, True),                      # AVX512-BF16 alone: measured slower, auto stays fp32
    ("fpu avx2", False, None),                             # no bf16 instructions: --precision bf16 is refused
])
def test_auto_precision_picks_bf16_on_a_cpu_only_where_it_is_faster(monkeypatch, flags, auto, explicit):
    monkeypatch.setattr(devices, "_cpuinfo", lambda: flags)
    cpu = torch.device("cpu")
    assert devices.use_bf16(cpu, "auto") is auto and devices.use_bf16(cpu, "fp32") is False
    if explicit:
        assert devices.use_bf16(cpu, "bf16") is True
    else:
        with pytest.raises(ConfigError, match="precision='bf16' but cpu has no bf16 support; use --precision fp32"):
            devices.use_bf16(cpu, "bf16")
