"""Versions and machine: what training and search save, what the report records, and no torch for the report."""

from __future__ import annotations

import subprocess
import sys

import sertune
from sertune.environment import PACKAGES, environment, versions


def test_environment_names_the_imported_torch_and_numpy():
    import numpy as np
    import torch

    env = environment()
    assert list(env) == ["sertune", "python", "torch", "numpy", "platform"]
    assert env["torch"] == torch.__version__ and env["numpy"] == np.__version__
    assert env["sertune"] == sertune.__version__ and env["python"] == sys.version.split()[0]


def test_versions_lists_every_package_and_says_which_are_missing():
    out = versions(PACKAGES + ("no-such-package-sertune",))
    assert list(out)[:3] == ["sertune", "python", "platform"]
    assert set(PACKAGES) <= set(out)
    assert out["no-such-package-sertune"] == "not installed"


def test_report_versions_are_these():
    import sertune.report as report

    assert report.versions is versions


def test_versions_import_no_torch():
    code = ("import sys; from sertune.environment import versions; v = versions(); "
            "print('torch' in sys.modules, v['torch'] != '')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
