"""Create (or resume) a search in its storage, start its workers, watch it, collect the winners.

Everything a worker needs is written into the storage first (corpus, grid,
settings, the split of every repetition), so a worker started by hand on
another machine (``sertune worker --storage URL --study NAME``) runs exactly
the same trainings as the ones started here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import optuna
from tqdm.auto import tqdm

from ..dataset import Theta
from ..errors import ConfigError
from ..experiment import Prepared, environment, utterance_splits
from .grids import USUAL, theta_key
from .progress import Progress, read_progress
from .storage import FORMAT_VERSION, claims_name, open_storage, rep_name, study_names

#: Settings that must match when a stored search is resumed (others may change freely).
IDENTITY = ("epochs", "batch_size", "lr", "protocol", "seed", "pruner", "remainder", "init",
            "weights", "precision")


def create_or_resume(url: str, name: str, *, prepared: Prepared, grid: Sequence[Theta], grid_name: str,
                     settings: dict, reps: int | None, heartbeat: float) -> dict:
    """Write a new search into the storage, or check that the stored one is the same search.

    Returns the search's metadata (``NAME.rep0`` user attrs). A stored search made with
    another corpus, grid or settings is refused: resuming it with different settings
    would mix incomparable trials.
    """
    storage = open_storage(url, heartbeat=heartbeat)
    splits = utterance_splits(prepared, protocol=settings["protocol"], reps=reps, seed=int(settings["seed"]))
    corpus = prepared.corpus
    meta = {
        "sertune": FORMAT_VERSION, "search": name, "reps": len(splits),
        "corpus": {"name": corpus.name, "root": str(corpus.root), "options": dict(corpus.options),
                   "n_utterances": len(corpus.utterances)},
        "classes": list(prepared.classes), "grid": [t.as_dict() for t in grid], "grid_name": grid_name,
        "usual": USUAL.as_dict() if USUAL in grid else None, "settings": dict(settings),
        "environment": environment(),
    }
    existing = study_names(storage)
    if rep_name(name, 0) in existing:
        stored = optuna.load_study(study_name=rep_name(name, 0), storage=storage).user_attrs
        _check_same(stored, meta, name)
        return stored
    for r, split in enumerate(splits):
        study = optuna.create_study(storage=storage, study_name=rep_name(name, r), direction="maximize",
                                    load_if_exists=True)
        for key, value in (meta | {"rep": r, "split": {"name": split.name, "train": list(split.train),
                                                        "val": list(split.val),
                                                        "test": list(split.test)}}).items():
            study.set_user_attr(key, value)
    claims = optuna.create_study(storage=storage, study_name=claims_name(name), direction="maximize",
                                 load_if_exists=True)
    claims.set_user_attr("search", name)
    return meta


def _check_same(stored: dict, meta: dict, name: str) -> None:
    def differs(what, a, b):
        return ConfigError(f"the stored search {name!r} was made with {what} {a}; this command asks for "
                           f"{b}. Re-run with the same settings to resume it, or start a new search "
                           f"(another --out folder or --study name)")
    if stored.get("corpus", {}).get("name") != meta["corpus"]["name"] or \
            stored["corpus"].get("options") != meta["corpus"]["options"]:
        raise differs("corpus", stored.get("corpus"), meta["corpus"])
    if stored.get("grid") != meta["grid"]:
        raise differs("grid", f"{stored.get('grid_name')} ({len(stored.get('grid', []))} settings)",
                      f"{meta['grid_name']} ({len(meta['grid'])} settings)")
    if stored.get("reps") != meta["reps"]:
        raise differs("reps", stored.get("reps"), meta["reps"])
    for key in IDENTITY:
        if stored["settings"].get(key) != meta["settings"].get(key):
            raise differs(key, stored["settings"].get(key), meta["settings"].get(key))


def worker_command(url: str, name: str, *, device: str, out: Path, heartbeat: float, threads: int,
                   cache_dir: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "sertune", "worker", "--storage", url, "--study", name, "--device", device,
           "--out", str(out), "--heartbeat", str(heartbeat), "--threads", str(threads),
           "--parent", str(os.getpid())]
    return cmd + (["--cache-dir", cache_dir] if cache_dir else [])


def start_local(url: str, name: str, *, workers: int, devices: Sequence[str], out: Path, heartbeat: float,
                threads: int, cache_dir: str | None) -> list[subprocess.Popen]:
    """N worker processes on this machine, devices assigned round-robin; logs in out/logs/."""
    (out / "logs").mkdir(parents=True, exist_ok=True)
    procs = []
    for k in range(workers):
        log = open(out / "logs" / f"worker{k}.log", "ab")
        cmd = worker_command(url, name, device=devices[k % len(devices)], out=out, heartbeat=heartbeat,
                             threads=threads, cache_dir=cache_dir)
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
    return procs


def start_ray(url: str, name: str, *, workers: int, devices: Sequence[str], out: Path, heartbeat: float,
              threads: int, cache_dir: str | None, address: str | None, gpus_per_worker: float):
    """N workers as Ray tasks (``ray start --head`` / ``--address``), with a GPU fraction each."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'sertune[ray]' (or pip install ray)") from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 include_dashboard=False, num_cpus=None if address else max(workers * threads, 1))

    @ray.remote(num_cpus=threads, num_gpus=gpus_per_worker)
    def ray_worker(k: int) -> int:
        from .runner import Worker
        torch_threads(threads)
        device = "cuda" if gpus_per_worker > 0 else devices[k % len(devices)]
        return Worker(url, name, device=device, out=out, heartbeat=heartbeat, cache_dir=cache_dir).run()

    return [ray_worker.remote(k) for k in range(workers)]


def torch_threads(threads: int) -> None:
    import torch
    torch.set_num_threads(max(1, threads))


def watch(url: str, name: str, *, alive, progress: bool = True, interval: float = 2.0) -> Progress:
    """Show a live bar (trials done / planned, ETA, best θ so far) until ``alive()`` is false."""
    state = read_progress(url, name)
    # Counted in epochs, not trials: a trial is minutes long, an epoch seconds, so the
    # bar moves and its ETA settles early.
    bar = tqdm(total=state.planned * state.epochs, initial=state.epochs_done, desc=f"search {name}",
               unit="epoch", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    with bar:
        while True:
            state = read_progress(url, name)
            bar.update(state.epochs_done - bar.n)
            bar.set_postfix_str(state.postfix(), refresh=True)
            if not alive():
                return read_progress(url, name)
            time.sleep(interval)


def collect_selected(state: Progress, out: Path) -> list[dict]:
    """Copy each repetition's winning model to ``out/selected/rep{r}.pt`` and the best of all
    to ``out/model.pt``; returns what was copied (and what was not found)."""
    rows = []
    for rep in state.reps:
        best = rep.get("best")
        if not best:
            continue
        model = best.get("model")
        src = out / model if model else None
        row = {"rep": rep["rep"], "theta": best["theta"], "value": best["value"], "model": None}
        if src is not None and src.is_file():
            dst = out / "selected" / f"rep{rep['rep']}.pt"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            row["model"] = str(dst.relative_to(out))
        rows.append(row)
    saved = [r for r in rows if r["model"]]
    if saved:
        top = max(saved, key=lambda r: r["value"])
        shutil.copyfile(out / top["model"], out / "model.pt")
    return rows


def theta_label(theta: dict) -> str:
    return theta_key(Theta(**theta))
