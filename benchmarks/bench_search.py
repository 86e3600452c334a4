"""What pruning saves and what it costs: the same search with ``--pruner asha`` and ``none``.

On a synthetic corpus (EmoDB layout) with a grid of 24 settings (small T so it
runs on a CPU), both searches run in this process, one after the other, with the
same seed, splits and features. Reports epochs trained and wall time of each,
and selection quality: per repetition θ_r* is the complete trial with the best
validation WA; the gap is |mean test WA of asha's θ_r* - mean test WA of the
brute-force θ_r*| in points. Last line:
``epoch_fraction: <asha epochs / brute-force epochs> test_wa_gap: <points>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna
import torch
from optuna.trial import TrialState

from sertune.corpora import load_corpus
from sertune.corpora.synth import synthesize
from sertune.prepared import prepare
from sertune.study.grids import product, validate
from sertune.study.runner import Worker
from sertune.study.create import create_or_resume
from sertune.study.settings import SearchConfig
from sertune.study.storage import open_storage, rep_name
from sertune.train import TrainConfig

GRID = product(n_mels=(24, 40, 64, 96), win_lengths=(256, 400, 512), hop_lengths=(160, 320),
               segments=(1.5,))


def run(url: str, name: str, prepared, *, pruner: str, epochs: int, reps: int, cache: str) -> dict:
    settings = SearchConfig(pruner=pruner, train=TrainConfig(epochs=epochs)).settings()
    create_or_resume(url, name, prepared=prepared, grid=validate(GRID), grid_name="bench",
                     settings=settings, reps=reps, heartbeat=10)
    start = time.perf_counter()
    Worker(url, name, device="cpu", cache_dir=cache).run()
    seconds = time.perf_counter() - start
    storage = open_storage(url)
    epochs_spent, selected_test, pruned = 0, [], 0
    for r in range(reps):
        trials = optuna.load_study(study_name=rep_name(name, r), storage=storage).get_trials()
        epochs_spent += sum(t.user_attrs.get("epochs_run", 0) for t in trials)
        pruned += sum(t.state == TrialState.PRUNED for t in trials)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        best = max(complete, key=lambda t: (t.value, -t.number))
        selected_test.append(best.user_attrs["test"]["wa"])
    return {"seconds": seconds, "epochs": epochs_spent, "test_wa": float(np.mean(selected_test)),
            "pruned": pruned}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=27, help="27 = ASHA rungs at 1, 3, 9 and 27 epochs")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root, cache = Path(tmp) / "corpus", str(Path(tmp) / "cache")
        synthesize(root, layout="emodb", speakers=4, per_class=8, seed=0)
        prepared = prepare(load_corpus(root), cache_dir=cache, progress=False)
        url = f"sqlite:///{Path(tmp) / 'study.db'}"
        results = {p: run(url, p, prepared, pruner=p, epochs=args.epochs, reps=args.reps, cache=cache)
                   for p in ("none", "asha")}
    print(f"grid: {len(GRID)} settings x {args.reps} repetitions, up to {args.epochs} epochs each "
          f"({len(prepared.ids)} utterances)")
    for p, r in results.items():
        print(f"{p:>5}: {r['epochs']:5d} epochs, {r['seconds']:7.1f} s, {r['pruned']:3d} pruned, "
              f"mean test WA of the selected θ_r*: {r['test_wa']:.2f}")
    fraction = results["asha"]["epochs"] / results["none"]["epochs"]
    gap = abs(results["asha"]["test_wa"] - results["none"]["test_wa"])
    print(f"wall time ratio (none / asha): {results['none']['seconds'] / results['asha']['seconds']:.2f}")
    print(f"epoch_fraction: {fraction:.3f} test_wa_gap: {gap:.2f}")


if __name__ == "__main__":
    main()
