"""The ``sertune`` command package: what it sets up before torch loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import os, sertune.cli; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"


def test_openmp_threads_spin_briefly_in_a_fresh_process():
    # A short spin, then sleep (see sertune/cli/__init__.py): set before torch loads OpenMP.
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[-2] == "None 10000"


@pytest.mark.parametrize("given, shown", [
    ({"OMP_WAIT_POLICY": "PASSIVE"}, ("PASSIVE", None)),    # an explicit policy wins: no spin count added
    ({"GOMP_SPINCOUNT": "0"}, (None, "0")),                # so does an explicit spin count
])
def test_an_explicit_openmp_setting_wins(monkeypatch, given, shown):
    import importlib

    import sertune.cli

    for key in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in given.items():
        monkeypatch.setenv(key, value)
    importlib.reload(sertune.cli)            # its first lines, as in a fresh process (the rest is imported)
    assert (os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT")) == shown
