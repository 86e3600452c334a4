"""``sertune search``, ``sertune worker`` and ``sertune status``: the study over Θ × repetitions."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

from ..config import add_flags, flat_fields, read_toml
from ..training.devices import resolve_device, usable_cpus
from ..errors import ConfigError, SertuneWarning
from ..outputs import write_json
from ..features.prepared import prepare
from ..study.search.backends import BACKENDS, WorkerOptions, terminate_as_interrupt
from ..study.search.epoch_checkpoints import EVERY_SECONDS
from ..study.search.grids import resolve_grid
from ..study.search.progress import counted, format_duration, read_progress
from ..study.store.locate import find_storage
from ..study.search.settings import SearchConfig
from ..study.store.storage import HEARTBEAT_SECONDS, default_url
from .corpus import add_corpus_args, corpus_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="search LMS settings over Θ x repetitions (resumable, parallel)",
                       description="Train SqueezeNet for every LMS setting θ of a grid on every repetition, "
                                   "in an Optuna storage that survives crashes and is shared by workers. "
                                   "Re-running the same command resumes the search.",
                       epilog=EXIT_STATUS)
    add_corpus_args(p)
    add_flags(p.add_argument_group("search settings (stored with the search)"), SearchConfig)
    p.add_argument("--config", metavar="FILE.toml", help="settings file (keys as the flags)")
    g = p.add_argument_group("workers")
    g.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    g.add_argument("--devices", default="auto",
                   help="comma-separated devices for the workers, round-robin: cpu or cuda:0,cuda:1 "
                        "(default auto: every visible GPU, else cpu)")
    g.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads per worker, kept fixed (reruns bit for bit) (default: the usable cores / "
                        "workers, fewer while other processes keep the cores busy)")
    g.add_argument("--backend", choices=tuple(BACKENDS), default="local",
                   help="start workers as local processes or as Ray tasks (default local)")
    g.add_argument("--ray-address", metavar="ADDRESS", help="Ray cluster address (default: start a local Ray "
                                                            "instance)")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G",
                   help="Ray: GPU fraction per worker (default 0: none)")
    g.add_argument("--storage", metavar="URL", help="SQLAlchemy URL (default sqlite:///OUT/study.db)")
    g.add_argument("--study", metavar="NAME", help="search name in the storage (default OUT's folder name)")
    g.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS, metavar="S",
                   help=f"seconds between worker heartbeats; a worker silent for 3x is taken over "
                        f"(default {HEARTBEAT_SECONDS:g})")
    add_checkpoint_flags(g)
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (models, logs, study.db)")
    p.add_argument("--cache-dir", metavar="DIR", help="decoded-audio cache (default ~/.cache/sertune)")
    p.add_argument("--json", action="store_true",
                   help="print the final status (with --plan: the plan) as JSON, without the live bar")
    p.add_argument("--plan", action="store_true",
                   help="print what the search will cost (a short probe of the device) and stop: trains "
                        "nothing, writes nothing; a search prints the same estimate when it starts")
    p.set_defaults(func=run_search)

    w = sub.add_parser("worker", help="join a running search from any machine",
                       description="Claim and train settings of a search until none is left.")
    w.add_argument("--storage", required=True, metavar="URL", help="the search's storage URL")
    w.add_argument("--study", required=True, metavar="NAME", help="the search's name")
    w.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    w.add_argument("--out", metavar="DIR", help="where to save the best models (default: none saved)")
    w.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads, kept fixed (reruns bit for bit) (default: the usable cores, fewer while "
                        "other processes keep the cores busy, as a search's workers do)")
    w.add_argument("--share-cpu", action="store_true",
                   help="with --threads N: N is a ceiling, and fewer threads (down to 1) are used while other "
                        "processes keep the cores busy (what a search gives its workers)")
    w.add_argument("--heartbeat", type=float, default=HEARTBEAT_SECONDS, metavar="S",
                   help=f"seconds between heartbeats (default {HEARTBEAT_SECONDS:g}; give the search's --heartbeat)")
    add_checkpoint_flags(w)
    w.add_argument("--cache-dir", metavar="DIR", help="decoded-audio cache (default ~/.cache/sertune)")
    w.add_argument("--parent", type=int, help=argparse.SUPPRESS)
    w.set_defaults(func=run_worker)

    s = sub.add_parser("status", help="print where a search stands, from its storage",
                       description="Counts of planned, complete, pruned, failed and running trials and "
                                   "the best θ of every repetition so far.")
    s.add_argument("target", metavar="STUDY", help="a search's output folder (its --out), or the search's "
                                                    "name with --storage")
    s.add_argument("--storage", metavar="URL", help="storage URL (default STUDY/study.db)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=run_status)


def add_checkpoint_flags(group) -> None:
    group.add_argument("--checkpoint-dir", metavar="DIR",
                       help="epoch checkpoints (default OUT/checkpoints; with workers on several machines, "
                            "a folder they all reach)")
    group.add_argument("--checkpoint-seconds", type=float, default=EVERY_SECONDS, metavar="S",
                       help=f"save a training's state every S seconds of training (default {EVERY_SECONDS:g}; "
                            f"0: every epoch)")
    group.add_argument("--checkpoint-epochs", type=int, default=0, metavar="N",
                       help="also save every N epochs (default 0: by time only)")


def _devices(spec: str) -> list[str]:
    if spec == "auto":
        import torch
        n = torch.cuda.device_count()
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    devices = [d.strip() for d in spec.split(",") if d.strip()]
    for d in devices:
        resolve_device(d)
    return devices


def _check_workers(args: argparse.Namespace) -> None:
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} must be at least 1")
    _check_checkpoints(args)


def _check_checkpoints(args: argparse.Namespace) -> None:
    """Threads, heartbeat, checkpoint flags, and a --checkpoint-dir that can be written, before any training."""
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads {args.threads} must be at least 1 (or leave it out to follow the load)")
    if args.heartbeat <= 0:
        raise ConfigError(f"--heartbeat {args.heartbeat:g} must be positive (seconds)")
    if args.checkpoint_seconds < 0 or args.checkpoint_epochs < 0:
        raise ConfigError(f"--checkpoint-seconds {args.checkpoint_seconds:g} and --checkpoint-epochs "
                          f"{args.checkpoint_epochs} must not be negative")
    if args.checkpoint_dir:
        try:
            Path(args.checkpoint_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--checkpoint-dir {args.checkpoint_dir} cannot be used as a folder "
                              f"({exc.strerror}); give a folder every worker can write") from None


def run_search(args: argparse.Namespace) -> int:
    from ..study.search.create import create_or_resume
    from ..study.search.progress import watch

    flags = {k: getattr(args, k, None) for k in flat_fields(SearchConfig)}
    config = SearchConfig.resolve(read_toml(args.config) if args.config else None, flags)   # validated here
    if config.grid is None:
        raise ConfigError("--grid is required: paper, usual or a TOML file")
    _check_workers(args)
    devices = _devices(args.devices)
    corpus = corpus_from_args(args)
    with warnings.catch_warnings(record=True) as grid_warnings:          # shown once the search is accepted
        warnings.simplefilter("always", SertuneWarning)
        grid_name, grid = resolve_grid(config.grid, corpus.name)         # whole grid validated here
    control = config.control_meta(grid)                                  # the restart control too
    out = Path(args.out).resolve()
    url = args.storage or default_url(out)
    name = args.study or out.name
    threads = args.threads or max(1, usable_cpus() // args.workers)
    prepared = prepare(corpus, cache_dir=args.cache_dir, progress=not args.json)
    notes = [str(w.message) for w in grid_warnings]
    worker_devices = _worker_devices(args, devices)
    if args.plan:
        text, doc = _plan(config, grid, prepared, devices, threads, worker_devices, follow_load=not args.threads,
                          notes=notes, control=control)
        print(json.dumps(doc, indent=2) if args.json else f"{text}\n(--plan: nothing was trained or written)")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    # A stored search made otherwise is refused here, before the probe spends seconds measuring.
    meta = create_or_resume(url, name, prepared=prepared, grid=grid, grid_name=grid_name,
                            settings=config.settings(), reps=config.reps, heartbeat=args.heartbeat, notes=notes,
                            control=control)
    planned = len(grid) * meta["reps"]
    write_json(out / "search.json", {"storage": url, "study": name, "grid": grid_name,
                                     "reps": meta["reps"], "planned": planned})
    resumed = read_progress(url, name, workers=args.workers) if meta["resumed"] else None
    if resumed is not None and resumed.done >= resumed.planned:     # nothing left: no probe, no workers
        if not args.json:
            print(start_message(meta, planned, resumed), file=sys.stderr)
        return _ending(args, resumed, [], out, name)
    if not args.json:
        text, _ = _plan(config, grid, prepared, devices, threads, worker_devices, follow_load=not args.threads,
                        control=meta.get("control"))
        print(f"{text}\n{start_message(meta, planned, resumed)}", file=sys.stderr)
    opts = WorkerOptions(devices=devices, out=out, heartbeat=args.heartbeat, threads=threads,
                         cache_dir=args.cache_dir, checkpoint_dir=args.checkpoint_dir,
                         checkpoint_seconds=args.checkpoint_seconds, checkpoint_epochs=args.checkpoint_epochs,
                         share_cpu=not args.threads)
    extra = {"address": args.ray_address, "gpus_per_worker": args.gpus_per_worker} if args.backend == "ray" else {}
    workers = BACKENDS[args.backend](url, name, args.workers, opts, **extra)
    try:
        with terminate_as_interrupt():
            state = watch(url, name, alive=workers.alive, workers=args.workers, progress=not args.json)
    except KeyboardInterrupt:
        workers.stop()
        done = read_progress(url, name)
        print(f"interrupted: {done.done:,} of {counted(done.planned, 'training')} done; the trainings in flight saved "
              f"their last epoch. Re-run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        if workers.alive():
            workers.stop()
    return _ending(args, state, workers.failures(), out, name)


def _ending(args: argparse.Namespace, state, bad: list[str], out: Path, name: str) -> int:
    """What a search prints and returns once its workers are gone (or none had anything to do)."""
    if state.done < state.planned:
        # Workers that stopped (a signal to them alone, a kill) left trainings neither done nor
        # failed: this is not the end of the search, and its models are not the selected ones.
        for line in bad:
            print(f"warning: {line}", file=sys.stderr)
        if args.json:
            print(json.dumps(state.as_json() | {"incomplete": True}, indent=2))
        else:
            print(format_status(state.as_json(), name))
        print(incomplete_line(state.done, state.planned), file=sys.stderr if args.json else sys.stdout)
        return INCOMPLETE
    if bad:
        raise ConfigError(bad[0])
    from ..study.store.models import collect_selected

    selected = collect_selected(state.reps, out)
    doc = state.as_json() | {"selected": selected}
    write_json(out / "status.json", doc)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_status(state.as_json(), name))
        if any(r["model"] for r in selected):
            print(f"\nselected models: {out}/selected/rep*.pt; best of all: {out}/model.pt")
        print(f"next: sertune report {out}")
    return 0


#: Exit status of a search whose workers all stopped before every planned training was done or failed.
INCOMPLETE = 3

EXIT_STATUS = ("exit status: 0 when every planned training is done (complete, pruned, or failed after its "
               "retry); 2 on bad input or a worker error; 3 when the workers stopped before that "
               "(\"incomplete: k of N trainings done\"): re-run the same command to resume; 130 on Ctrl-C")


def incomplete_line(done: int, planned: int) -> str:
    """What a search that ended with trainings neither done nor failed says last."""
    return f"incomplete: {done:,} of {counted(planned, 'training')} done; re-run the same command to resume"


def _worker_devices(args, devices: list[str]) -> list[str]:
    """Each worker's device as the backends assign them: round-robin over ``devices``; on Ray with
    ``--gpus-per-worker g``, workers 1/g at a time share one GPU (named apart for the plan's count)."""
    g = args.gpus_per_worker if args.backend == "ray" else 0
    if g and g > 0:
        return [f"cuda:ray{int(k * g)}" for k in range(args.workers)]
    return [devices[k % len(devices)] for k in range(args.workers)]


def _plan(config, grid, prepared, devices, threads, worker_devices, *, follow_load: bool = True,
          notes: list[str] | None = None, control: dict | None = None) -> tuple[str, dict]:
    """The cost estimate of ``--plan`` as text and as JSON; a real search prints the text when it
    starts too. With ``notes`` (``--plan``), also the warnings about the grid and corpus that a new
    search shows when it starts (``notes``: the grid's own, from :func:`resolve_grid`); with
    ``control`` (``meta["control"]``), the restart control's trainings too."""
    from ..training.corpus_splits import utterance_splits
    from ..study.search.plan import format_plan, plan_search

    splits = utterance_splits(prepared, protocol=config.protocol, reps=config.reps, seed=config.seed)
    plan, device = plan_search(grid, prepared, splits, config=config, device=devices[0], threads=threads,
                               worker_devices=worker_devices, follow_load=follow_load, control=control)
    text = format_plan(plan, device=device)
    doc = {"device": device, **plan.as_json()}
    if config.budget is not None:
        from ..study.strategies.budget import plan_text
        doc["budget"] = plan_text(config.budget, strategy=config.search_strategy(), settings=len(grid),
                                  epochs=config.train.epochs, fraction=plan.strategy_fraction, reps=len(splits),
                                  device=plan.device_fraction)
        text += f"\n{doc['budget']}"
    if notes is not None:
        from ..study.search.create import search_warnings
        doc["warnings"] = search_warnings(prepared, grid, splits, remainder=config.remainder, notes=notes)
        text += "".join(f"\nwarning: {w}" for w in doc["warnings"])
    return text, doc


def start_message(meta: dict, planned: int, state=None) -> str:
    """Whether the search is new or resuming, with what is done; its warnings in full when new,
    in one line when resumed (they were shown when it started). ``planned``: the grid's trainings;
    those of a restart control (``meta["control"]``) are said apart when new, counted in when resumed
    (``state`` counts them, as the live bar does)."""
    from ..study.store.storage import control_keys

    stored = meta.get("warnings") or []
    if state is None:
        extra = len(control_keys(meta.get("control"))) * int(meta.get("reps", 0))
        control = f", and {extra:,} of the restart control of {meta['control']['theta']}" if extra else ""
        return "\n".join([f"new search {meta['search']}: {counted(planned, 'training')} planned{control}",
                          *(f"warning: {w}" for w in stored)])
    stopped = f", {state.interrupted:,} to resume from a stopped worker" if state.interrupted else ""
    control = (f" (the restart control's: {state.control['done']:,} of {state.control['planned']:,})"
               if state.control else "")
    lines = [f"resuming {meta['search']}: {state.done:,} of {counted(state.planned, 'training')} done"
             f"{control}{stopped}"]
    if stored:
        lines.append(f"warning: {len(stored)} warning(s) about this grid and corpus were shown when the search "
                     f"started; the first: {stored[0]}")
    return "\n".join(lines)


def run_worker(args: argparse.Namespace) -> int:
    from ..study.search.runner import Worker, WorkerStopped

    _check_checkpoints(args)
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    stop = threading.Event()
    # SIGTERM (the search stopping its workers) and Ctrl-C: finish the epoch, save it, give θ back.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    from ..training.devices import CpuShare
    worker = Worker(args.storage, args.study, device=args.device, out=args.out, heartbeat=args.heartbeat,
                    cache_dir=args.cache_dir, parent=args.parent, checkpoint_dir=args.checkpoint_dir,
                    checkpoint_seconds=args.checkpoint_seconds, checkpoint_epochs=args.checkpoint_epochs,
                    stop=stop.is_set, cpu_share=CpuShare(args.threads) if args.share_cpu or not args.threads
                    else None)
    if worker.cpu_share is not None:
        # The first epoch too follows the load (as other processes used the CPU while this worker
        # started; the worker then adjusts after every epoch). Beside other processes on 2 cores,
        # a search's first training, its first epoch at 2 threads, took 28 s where the same
        # setting took 14 s on the next repetition (benchmarks/bench_plan.py).
        worker.cpu_share.adjust()
    try:
        n = worker.run()
    except WorkerStopped:
        print(f"worker {os.getpid()}: stopped after {counted(worker.trained, 'training')}; the one in flight saved "
              f"its state and its setting went back to the queue")
        return 0
    print(f"worker {os.getpid()}: ran {counted(n, 'training')}; no setting left to claim")
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


#: Below this many epochs, trainings at chance are blamed on the epochs, not on the learning rate.
#: On the lr 1e-4 record (benchmarks/data/README.md: 840 utterances, 144 trainings), 29 % of the
#: trainings were still at chance after 1 epoch, 4 % after 2 and none after 4; a smaller corpus
#: takes fewer optimizer steps per epoch, so more epochs to leave chance.
FEW_EPOCHS = 10


def _chance_line(doc: dict) -> list[str]:
    """The warning about complete trainings that never learned (none: no line)."""
    n = doc.get("at_chance") or 0
    if not n:
        return []
    from ..study.store.results import CHANCE_MARGIN
    epochs = doc.get("epochs")
    if epochs is not None and epochs < FEW_EPOCHS:
        why = (f"With only {counted(epochs, 'epoch')}, too few to learn, that is no surprise: run more "
               f"--epochs (default 150); if many stay at chance then, --lr may be too high for some starts.")
    else:
        why = "Many of them point at a learning rate too high (--lr) for some starts."
    grid = doc["complete"] - (doc.get("control") or {}).get("done", 0)       # the grid's: the control is not checked
    return [f"warning: {n} of the {counted(grid, 'complete training')} ended at chance (validation "
            f"UA within {CHANCE_MARGIN:g} points of 100 / classes %): they never learned; they still count, as "
            f"every training does. {why}"]


def _control_line(doc: dict) -> list[str]:
    """The restart control's own count (its trainings are in the totals above too)."""
    c = doc.get("control")
    if not c:
        return []
    return [f"restart control of {c['theta']}: {c['done']} of {counted(c['planned'], 'training')} done "
            f"(counted in the totals; they never compete for θ_r*)"]


def format_status(doc: dict, name: str) -> str:
    pct = 100 * (doc["complete"] + doc["pruned"] + doc["failed"]) / max(doc["planned"], 1)
    interrupted = f", {doc['interrupted']} interrupted (re-run to resume)" if doc.get("interrupted") else ""
    eta = f"; ETA {format_duration(doc['eta_seconds'])}" if doc.get("eta_seconds") and pct < 100 else ""
    skipped = f" ({doc['skipped']} of them skipped, never trained)" if doc.get("skipped") else ""
    waiting = (f" ({doc['waiting']} of them waiting for the other settings at the strategy's barrier)"
               if doc.get("waiting") else "")
    lines = [f"search {name}: {doc['complete']} complete, {doc['pruned']} pruned{skipped}, {doc['failed']} failed, "
             f"{doc['running']} running{waiting}{interrupted} of {doc['planned']} planned ({pct:.0f} % done); "
             f"{counted(doc['duplicates'], 'duplicate')}{eta}", *_chance_line(doc), *_control_line(doc), "",
             f"{'rep':>3}  {'done':>9}  {'best val WA':>11}  best θ"]
    for r in doc["reps"]:
        best = r["best"]
        theta = (f"M={best['theta']['n_mels']} L={best['theta']['win_length']} "
                 f"H={best['theta']['hop_length']} T={best['theta']['segment']:g}s") if best else "-"
        value = f"{best['value']:.2f}" if best else "-"
        lines.append(f"{r['rep']:>3}  {r['complete'] + r['pruned']:>4}/{r['planned']:<4}  {value:>11}  {theta}")
    return "\n".join(lines)
