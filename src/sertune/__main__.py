"""``python -m sertune``: the same command line as ``sertune``; a search starts its workers this way."""

import os
import sys

from .cli import main

code = main()
if sys.argv[1:2] == ["worker"]:
    # A worker is done when main returns: its trainings are committed to the storage, its claims
    # settled, its threads joined. The interpreter's own teardown (torch, SciPy) then took 1.5-2 s
    # on 2 CPU cores, and the search waited for it at its end; a worker skips it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
