"""The ``sertune`` command package: what it sets up before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import os, sertune.cli; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"


@pytest.mark.parametrize("given, shown", [
    ({}, "None 10000"),                                   # a short spin, then sleep (see sertune/cli/__init__.py)
    pytest.param({"OMP_WAIT_POLICY": "PASSIVE"}, "PASSIVE None",  # an explicit policy wins: no spin count added
                 marks=pytest.mark.slow),                 # (each case imports torch in a new process)
    pytest.param({"GOMP_SPINCOUNT": "0"}, "None 0", marks=pytest.mark.slow),   # so does an explicit spin count
])
def test_openmp_threads_spin_briefly_unless_told_otherwise(given, shown):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | given
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-2] == shown
