"""``sertune demo``: the whole method on a built-in synthetic corpus, in minutes, on a CPU.

It runs the same commands a user would, in order, and says what each step is:
synthesize a corpus, search a small grid (θ• and a few tuned settings, three
repetitions, few epochs), write the report, export the winning model to ONNX,
and predict one file with it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

from ..errors import ConfigError

#: The demo's grid: the usual θ• (40 mels, 25 ms / 10 ms, 3 s) against a few settings
#: with more mel filters, other windows and shorter segments, in the spirit of Table 2.
DEMO_GRID = """\
# sertune demo grid: {n} settings
n_mels = [64, 80]
win_length = [255, 511]
hop_length = [160]
segment = [1.5]

[[extra]]   # the usual setting of the literature
n_mels = 40
win_length = 400
hop_length = 160
segment = 3
"""


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the whole method on a synthetic corpus (a few minutes)",
                       description="Synthesize a corpus, search a small LMS grid with K repetitions, "
                                   "write the report, export the best model to ONNX and predict a file.")
    p.add_argument("--out", default="sertune-demo", metavar="DIR", help="output folder (default %(default)s)")
    p.add_argument("--epochs", type=int, default=15, metavar="N", help="epochs per training (default %(default)s)")
    p.add_argument("--reps", type=int, default=3, metavar="K", help="repetitions (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, metavar="SEED",
                   help="seed of the corpus, the splits and the trainings (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from . import main

    out = Path(args.out).resolve()
    if (out / "search" / "status.json").exists():
        raise ConfigError(f"{out} already holds a finished demo; pass another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    corpus, search, report = out / "corpus", out / "search", out / "report"
    grid = out / "grid.toml"
    grid.write_text(DEMO_GRID.format(n=5))
    start = time.perf_counter()
    steps = [
        ("synthesize a corpus in the EmoDB layout (7 emotions, 4 speakers; synthetic, not EmoDB)",
         ["synth", str(corpus), "--layout", "emodb", "--speakers", "4", "--per-class", "10",
          "--seed", str(args.seed)]),
        (f"search 5 LMS settings x {args.reps} repetitions ({args.epochs} epochs each)",
         ["search", str(corpus), "--grid", str(grid), "--reps", str(args.reps), "--epochs", str(args.epochs),
          "--seed", str(args.seed), "--out", str(search), "--study", "demo",
          "--cache-dir", str(out / "cache")]),
        ("write the report (tables, figures, report.html)", ["report", str(search), "--out", str(report)]),
        ("export the selected model to ONNX", ["export", str(search / "model.pt"), "--onnx",
                                               str(out / "model.onnx"), "--runs", "5"]),
        ("predict one file with the exported model",
         ["predict", str(out / "model.onnx"), str(corpus / "wav" / "03a01Wa.wav")]),   # speaker 03, anger
    ]
    for k, (what, argv) in enumerate(steps, 1):
        print(f"\n[{k}/{len(steps)}] {what}\n$ sertune {' '.join(argv)}", flush=True)
        hints = WithoutHints(sys.stdout)
        try:
            with contextlib.redirect_stdout(hints):
                status = main(argv)
        finally:
            hints.close()
        if status != 0:
            print(f"demo stopped at step {k} (status {status})", file=sys.stderr)
            return status
    minutes = (time.perf_counter() - start) / 60
    print(f"\ndemo done in {minutes:.1f} min. Open {report / 'report.html'} in a browser "
          f"(a synthetic corpus: the numbers show the method at work, they are not EmoDB results).")
    return 0


class WithoutHints(io.TextIOBase):
    """A step's standard output without its ``next: sertune ...`` lines.

    Each command ends with a hint of what to run next, with its own folders; inside the
    demo, the next step is the demo's (with the demo's folders), so the hints would point
    where the demo does not go.
    """

    def __init__(self, target):
        super().__init__()
        self.target = target
        self.pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if not line.startswith("next: "):
                self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close(self) -> None:
        if self.pending and not self.pending.startswith("next: "):
            self.target.write(self.pending)
        self.pending = ""
        self.target.flush()
        super().close()
