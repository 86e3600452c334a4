"""Versions and machine: what a result, a search or a report records about the software behind it.

:func:`environment` is saved with every training and search (the torch and
numpy actually imported); :func:`versions` is the report's (package versions
read from metadata, nothing imported). Only the standard library is imported
here, so the report stays free of torch.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

from . import __version__

#: Packages whose versions the report records.
PACKAGES = ("numpy", "scipy", "matplotlib", "optuna", "scikit-learn", "torch")


def environment() -> dict:
    """Versions and machine, saved with every result (imports torch and numpy)."""
    import numpy as np
    import torch

    return {"sertune": __version__, "python": _python(), "torch": torch.__version__,
            "numpy": np.__version__, "platform": platform.platform()}


def versions(packages: tuple[str, ...] = PACKAGES) -> dict:
    """sertune, Python, the platform and the installed version of each of ``packages``
    (``"not installed"`` where it is not), read from metadata: nothing is imported."""
    out = {"sertune": __version__, "python": _python(), "platform": platform.platform()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _python() -> str:
    return sys.version.split()[0]
