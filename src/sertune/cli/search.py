"""``sertune search``, ``sertune worker`` and ``sertune status``: the study over Θ × repetitions."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..config import read_toml, resolve
from ..devices import resolve_device
from ..errors import ConfigError
from ..experiment import prepare, write_json
from ..splits import PROTOCOLS
from ..study.grids import resolve_grid
from ..study.progress import read_progress
from ..study.results import find_storage
from ..study.runner import make_pruner
from ..study.storage import HEARTBEAT_SECONDS, default_url
from ..train import TrainConfig
from .corpus import add_corpus_args, corpus_from_args

#: Settings of a search and their defaults (stored with the search; see study/search.IDENTITY).
DEFAULTS: dict[str, object] = {
    "grid": None, "reps": None, "protocol": "shuffle-split", "pruner": "none", "seed": 0,
    "remainder": "drop", **TrainConfig().as_dict(),
}


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="search LMS settings over Θ x repetitions (resumable, parallel)",
                       description="Train SqueezeNet for every LMS setting θ of a grid on every repetition, "
                                   "in an Optuna storage that survives crashes and is shared by workers. "
                                   "Re-running the same command resumes the search.")
    add_corpus_args(p)
    p.add_argument("--grid", metavar="paper|usual|FILE.toml",
                   help="the paper's 511 settings, the usual ones from the literature, or a TOML grid")
    p.add_argument("--reps", type=int, metavar="K", help="repetitions (default 10; loso: every fold)")
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), help="default shuffle-split (the paper)")
    p.add_argument("--pruner", choices=("none", "asha", "hyperband"),
                   help="stop poor settings early (default none: the paper's brute force)")
    p.add_argument("--seed", type=int, help="seed of splits, trainings and the grid order (default 0)")
    p.add_argument("--remainder", choices=("drop", "pad"), help="tail of long utterances (default drop)")
    p.add_argument("--epochs", type=int, help="default 150")
    p.add_argument("--batch-size", type=int, help="default 16")
    p.add_argument("--lr", type=float, help="default 1e-4")
    p.add_argument("--init", choices=("scratch", "imagenet"), help="default scratch")
    p.add_argument("--weights", metavar="PATH", help="ImageNet weights for --init imagenet")
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), help="default auto")
    p.add_argument("--config", metavar="FILE.toml", help="settings file (keys as the flags)")
    g = p.add_argument_group("workers")
    g.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    g.add_argument("--devices", default="auto",
                   help="comma-separated devices for the workers, round-robin: cpu or cuda:0,cuda:1 "
                        "(default auto: every visible GPU, else cpu)")
    g.add_argument("--threads", type=int, help="CPU threads per worker (default: cores / workers)")
    g.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="start workers as local processes (default) or as Ray tasks")
    g.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray instance)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="Ray: GPU fraction per worker")
    g.add_argument("--storage", metavar="URL", help="SQLAlchemy URL (default sqlite:///OUT/study.db)")
    g.add_argument("--study", metavar="NAME", help="search name in the storage (default: OUT's name)")
    g.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS,
                   help="seconds between worker heartbeats; a worker silent for 3x is re-queued")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (models, logs, study.db)")
    p.add_argument("--cache-dir", metavar="DIR", help="decoded-audio cache (default ~/.cache/sertune)")
    p.add_argument("--json", action="store_true", help="print the final status as JSON")
    p.set_defaults(func=run_search)

    w = sub.add_parser("worker", help="join a running search from any machine",
                       description="Claim and train settings of a search until none is left.")
    w.add_argument("--storage", required=True, metavar="URL", help="the search's storage URL")
    w.add_argument("--study", required=True, metavar="NAME", help="the search's name")
    w.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    w.add_argument("--out", metavar="DIR", help="where to save the best models (default: none)")
    w.add_argument("--threads", type=int, help="CPU threads (default: torch's)")
    w.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS, help="seconds between heartbeats")
    w.add_argument("--cache-dir", metavar="DIR", help="decoded-audio cache (default ~/.cache/sertune)")
    w.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    w.set_defaults(func=run_worker)

    s = sub.add_parser("status", help="print where a search stands, from its storage",
                       description="Counts of planned, complete, pruned, failed and running trials and "
                                   "the best θ of every repetition so far.")
    s.add_argument("target", metavar="STUDY", help="a search's output folder, or its name with --storage")
    s.add_argument("--storage", metavar="URL", help="storage URL (default: STUDY/study.db)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run_status)


def _devices(spec: str) -> list[str]:
    if spec == "auto":
        import torch
        n = torch.cuda.device_count()
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    devices = [d.strip() for d in spec.split(",") if d.strip()]
    for d in devices:
        resolve_device(d)
    return devices


def run_search(args: argparse.Namespace) -> int:
    from ..study import search as engine

    flags = {k: getattr(args, k, None) for k in DEFAULTS}
    s = resolve(DEFAULTS, read_toml(args.config) if args.config else None, flags)
    if s["grid"] is None:
        raise ConfigError("--grid is required: paper, usual or a TOML file")
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be at least 1")
    make_pruner(s["pruner"], int(s["epochs"]))
    TrainConfig(**{k: s[k] for k in TrainConfig().as_dict()})          # validate before any work
    devices = _devices(args.devices)
    corpus = corpus_from_args(args)
    grid_name, grid = resolve_grid(str(s["grid"]), corpus.name)           # whole grid validated here
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    url = args.storage or default_url(out)
    name = args.study or out.name
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    prepared = prepare(corpus, cache_dir=args.cache_dir, progress=not args.json)
    settings = {k: v for k, v in s.items() if k not in ("grid", "reps")}
    meta = engine.create_or_resume(url, name, prepared=prepared, grid=grid, grid_name=grid_name,
                                   settings=settings, reps=s["reps"], heartbeat=args.heartbeat)
    write_json(out / "search.json", {"storage": url, "study": name, "grid": grid_name,
                                     "reps": meta["reps"], "planned": len(grid) * meta["reps"]})
    common = dict(workers=args.workers, devices=devices, out=out, heartbeat=args.heartbeat,
                  threads=threads, cache_dir=args.cache_dir)
    if args.backend == "ray":
        import ray
        refs = engine.start_ray(url, name, address=args.ray_address,
                                gpus_per_worker=args.gpus_per_worker, **common)
        alive = lambda: bool(ray.wait(refs, num_returns=len(refs), timeout=0)[1])  # noqa: E731
        state = engine.watch(url, name, alive=alive, progress=not args.json)
        ray.get(refs)
    else:
        procs = engine.start_local(url, name, **common)
        try:
            state = engine.watch(url, name, alive=lambda: any(p.poll() is None for p in procs),
                                 progress=not args.json)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
        bad = [k for k, p in enumerate(procs) if p.returncode not in (0, None)]
        if bad:
            raise ConfigError(f"worker {bad[0]} stopped with status {procs[bad[0]].returncode}; "
                              f"see {out}/logs/worker{bad[0]}.log")
    selected = engine.collect_selected(state, out)
    doc = state.as_json() | {"selected": selected}
    write_json(out / "status.json", doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_status(state.as_json(), name))
        if any(r["model"] for r in selected):
            print(f"\nselected models: {out}/selected/rep*.pt; best of all: {out}/model.pt")
        print(f"next: sertune report {out} --out {out}/report")
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from ..study.runner import Worker

    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    worker = Worker(args.storage, args.study, device=args.device, out=args.out, heartbeat=args.heartbeat,
                    cache_dir=args.cache_dir, parent=args.parent)
    n = worker.run()
    print(f"worker {os.getpid()}: ran {n} trainings; no setting left to claim")
    return 0


def run_status(args: argparse.Namespace) -> int:
    if args.storage:
        url, name = args.storage, args.target
    else:
        url, name = find_storage(args.target)
    state = read_progress(url, name)
    if args.json:
        print(json.dumps(state.as_json(), indent=2))
    else:
        print(format_status(state.as_json(), name))
    return 0


def format_status(doc: dict, name: str) -> str:
    pct = 100 * (doc["complete"] + doc["pruned"] + doc["failed"]) / max(doc["planned"], 1)
    lines = [f"search {name}: {doc['complete']} complete, {doc['pruned']} pruned, {doc['failed']} failed, "
             f"{doc['running']} running of {doc['planned']} planned ({pct:.0f} % done); "
             f"{doc['duplicates']} duplicates", "",
             f"{'rep':>3}  {'done':>9}  {'best val WA':>11}  best θ"]
    for r in doc["reps"]:
        best = r["best"]
        theta = (f"M={best['theta']['n_mels']} L={best['theta']['win_length']} "
                 f"H={best['theta']['hop_length']} T={best['theta']['segment']:g}s") if best else "-"
        value = f"{best['value']:.2f}" if best else "-"
        lines.append(f"{r['rep']:>3}  {r['complete'] + r['pruned']:>4}/{r['planned']:<4}  {value:>11}  {theta}")
    return "\n".join(lines)
