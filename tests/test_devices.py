"""Devices: threads on a shared CPU, precision choice, device names."""

from __future__ import annotations

import os
import time

import pytest
import torch

from sertune.devices import CpuShare, resolve_device, threads_for, usable_cpus
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


@pytest.mark.parametrize("name, match", [
    ("tpu", r"device='tpu' is not a device"),
    ("cuda:99", r"device='cuda:99' but"),
])
def test_bad_devices_say_what_to_use(name, match):
    with pytest.raises(ConfigError, match=match):
        resolve_device(name)
