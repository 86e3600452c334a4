"""The ``sertune`` command: one module per sub-command, registered here.

Each command module defines ``add_parser(subparsers)`` that adds its parser
and sets ``func`` to a function taking the parsed namespace and returning an
exit status. Errors a user can cause are :class:`~sertune.errors.SertuneError`:
they print one ``error: ...`` line and exit with status 2 (``--debug`` shows
the traceback instead).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Sequence

# Before torch loads OpenMP (libgomp): a thread that finishes a parallel region spins this many
# times, then sleeps. libgomp's default (300,000) lets spinning threads steal the cores from the
# working ones as soon as another process needs them too (two trainings with 2 threads on 2
# cores: 20x slower); sleeping at once (OMP_WAIT_POLICY=PASSIVE) made a training alone 1.6x
# slower, since every operation then waits for its threads to wake. 10,000 spins is within 4 %
# of the default alone; on a shared CPU, search workers drop to one thread (CpuShare), which
# has no waits at all. Measured on a 2-core Xeon: benchmarks/bench_busy.py. An explicit
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from .. import __version__  # noqa: E402
from ..errors import SertuneError, SertuneWarning  # noqa: E402
from . import corpus, dashboard, demo, export, features, predict, replay, report, search, synth, train  # noqa: E402

#: Command modules, in the order ``sertune --help`` lists them.
COMMANDS = (demo, corpus, synth, features, train, search, dashboard, replay, report, predict, export)


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors follow the one-line ``error:`` / status 2 contract."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.print_usage(sys.stderr)
        raise SystemExit(_fail(f"{message} (see {self.prog} --help)"))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sertune", description=(
        "Tune log-Mel spectrogram parameters for speech emotion recognition."))
    parser.add_argument("--version", action="version", version=f"sertune {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args(argv)
    warnings.simplefilter("always", SertuneWarning)
    warnings.showwarning = _show_warning
    try:
        return int(args.func(args) or 0)
    except SertuneError as exc:
        if debug:
            raise
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


_shown: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """One ``warning:`` line per distinct message: the same advice about a setting is
    raised by every log-Mel call on it, and once is enough to read."""
    text = str(message)
    if text not in _shown:
        _shown.add(text)
        print(f"warning: {text}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
