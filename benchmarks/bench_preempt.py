"""Work lost to preemption: a search killed with SIGKILL every ~20 s, resumed each time, until done.

A synthetic EmoDB-layout corpus and a small grid, trainings long enough to span
several checkpoint intervals (``--epochs`` x about a second, checkpoints every
``--checkpoint-seconds``). The search runs as `sertune search` in its own process
group, is killed (search and workers, like a preempted machine) after a seeded
random 15-25 s, and is started again with the same command until it exits 0.

Epochs trained are counted by the claims table (each holder adds the epochs it
trains, including those a kill then throws away); epochs needed are trainings x
epochs. Last line: ``wasted_epoch_fraction: X`` = (trained - needed) / needed.
Without epoch checkpoints every kill would throw away every training in flight.

What a kill costs is about half a checkpoint interval of training (plus the epoch in
flight), so the expected fraction is about interval / (2 x kill period): checkpoints every
2 s against kills every ~20 s give ~5 %; every 5 s give ~12 %. The default here is 2 s,
with trainings of ~30 s (15 intervals); the search's own default is 60 s, which bounds the
loss per kill to about a minute of training.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from sertune.corpora.synth import synthesize
from sertune.training.devices import cpu_model, usable_cpus, use_bf16
from sertune.study.store.claims import make_engine, read_rows

GRID = "n_mels = [32, 64]\nwin_length = [400]\nhop_length = [160]\nsegment = [1.5]\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--per-class", type=int, default=10, help="utterances per class and speaker")
    parser.add_argument("--checkpoint-seconds", type=float, default=2.0)
    parser.add_argument("--kill-every", type=float, default=20.0, help="mean seconds between kills")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_preempt_"))
    corpus = work / "corpus"
    synthesize(corpus, layout="emodb", speakers=4, per_class=args.per_class, seed=args.seed)
    grid = work / "grid.toml"
    grid.write_text(GRID)
    out = work / "search"
    cmd = [sys.executable, "-m", "sertune", "search", str(corpus), "--grid", str(grid), "--reps", str(args.reps),
           "--epochs", str(args.epochs), "--out", str(out), "--cache-dir", str(work / "cache"), "--heartbeat", "2",
           "--checkpoint-seconds", str(args.checkpoint_seconds), "--workers", "1", "--json"]
    rng = random.Random(args.seed)
    print(f"cpu: {cpu_model()}, {usable_cpus()} cores, precision {'bf16' if use_bf16(torch.device('cpu'), 'auto') else 'fp32'}; "
          f"work folder {work}")
    start, kills = time.perf_counter(), 0
    while True:
        proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        try:
            stdout, _ = proc.communicate(timeout=rng.uniform(0.75, 1.25) * args.kill_every)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            print(f"killed after {time.perf_counter() - start:.0f} s (kill {kills})", flush=True)
            continue
        if proc.returncode != 0:
            raise SystemExit(f"search failed with status {proc.returncode}")
        break
    doc = json.loads(stdout)
    rows = read_rows(make_engine(f"sqlite:///{out / 'study.db'}"), "search")
    trained = sum(r.progress for r in rows)
    needed = doc["planned"] * args.epochs
    print(f"done in {time.perf_counter() - start:.0f} s with {kills} kills: {doc['complete']} of "
          f"{doc['planned']} complete, {doc['failed']} failed, {doc['duplicates']} duplicates")
    print(f"epochs trained: {trained}, needed: {needed}")
    print(f"wasted_epoch_fraction: {(trained - needed) / needed:.3f}")


if __name__ == "__main__":
    main()
