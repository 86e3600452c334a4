"""``sertune train ROOT ...``: K repetitions of one LMS setting θ, with honest numbers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..config import add_flags, read_toml, resolve
from ..corpora.marker import synthetic_label
from ..features.theta import Theta
from ..training.devices import CpuShare, describe, prepare_device, resolve_device
from ..environment import environment
from ..errors import ConfigError
from ..training.metrics import METRICS
from ..outputs import check_out_dir, write_json
from ..features.prepared import prepare
from ..training.repetitions import check_restarts, run_theta
from ..corpora.splits import PROTOCOLS, read_splits, write_splits
from ..features.segments import REMAINDERS
from ..training.fit import TrainConfig
from .corpus import add_corpus_args, corpus_from_args

#: Every setting of a training run and its default (None = required / chosen later).
DEFAULTS: dict[str, object] = {
    "n_mels": None, "win_length": None, "hop_length": None, "segment": None,
    "protocol": "shuffle-split", "reps": None, "split_unit": "utterance", "splits": None,
    "remainder": "drop", "seed": 0, "device": "auto", "restarts": 1,
    "threads": None,
    **TrainConfig().as_dict(),
}


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train and evaluate one LMS setting over K repetitions",
                       description="Train SqueezeNet v1.1 on log-Mel spectrograms of one setting θ = "
                                   "(M, L, H, T) for K repetitions and report mean ± std of WA, UA, "
                                   "weighted precision and F1 (utterance level, %).")
    add_corpus_args(p)
    g = p.add_argument_group("LMS setting θ")
    g.add_argument("--n-mels", type=int, metavar="M", help="number of mel filters")
    g.add_argument("--win-length", type=int, metavar="L", help="window length = n_fft, samples")
    g.add_argument("--hop-length", type=int, metavar="H", help="hop length, samples")
    g.add_argument("--segment", type=float, metavar="T", help="segment length, seconds")
    g.add_argument("--remainder", choices=REMAINDERS,
                   help="tail of long utterances: drop (the reference code) or pad (keep all speech) "
                        "(default drop)")
    g = p.add_argument_group("protocol")
    g.add_argument("--protocol", choices=sorted(PROTOCOLS), help="evaluation protocol (default shuffle-split, "
                                                                  "the paper's)")
    g.add_argument("--reps", type=int, metavar="K",
                   help="repetitions (default 10; loso/loso-session: every fold)")
    g.add_argument("--split-unit", choices=("utterance", "segment"),
                   help="split utterances, or segments as the reference code does (leaks) (default utterance)")
    g.add_argument("--splits", metavar="FILE", help="reuse the splits of an earlier run (splits.json)")
    g.add_argument("--seed", type=int, help="seed of splits, weights and batch order (default 0)")
    g.add_argument("--restarts", type=int, metavar="N",
                   help="train every repetition N times with other seeds and keep the best by validation WA, "
                        "as a search keeps its best setting: the restart control (default 1)")
    g = p.add_argument_group("training")
    add_flags(g, TrainConfig)
    g.add_argument("--device", help="auto, cpu, cuda or cuda:N (default auto, a GPU if there is one)")
    g.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads, fixed (default the usable cores, fewer while other processes keep "
                        "them busy; the thread count changes a CPU training's float rounding, so give N "
                        "to rerun bit for bit)")
    p.add_argument("--config", metavar="FILE.toml", help="settings file (keys as the flags, e.g. n_mels)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (must not hold results)")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of the table")
    p.add_argument("--cache-dir", metavar="DIR", help="decoded-audio cache (default ~/.cache/sertune)")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> dict:
    flags = {k: getattr(args, k, None) for k in DEFAULTS}
    file = read_toml(args.config) if args.config else None
    s = resolve(DEFAULTS, file, flags)
    for key in ("n_mels", "win_length", "hop_length", "segment"):
        if s[key] is None:
            raise ConfigError(f"--{key.replace('_', '-')} is required (or {key} in --config)")
    check_restarts(s["restarts"])
    if s["threads"] is not None and (isinstance(s["threads"], bool) or not isinstance(s["threads"], int)
                                     or s["threads"] < 1):
        raise ConfigError(f"threads={s['threads']!r} must be a positive integer (e.g. --threads 2), "
                          f"or left out to follow the machine's load")
    if s["split_unit"] == "segment" and s["protocol"] != "shuffle-split":
        raise ConfigError("--split-unit segment only goes with --protocol shuffle-split "
                          "(speaker protocols split by speaker)")
    return s


def run(args: argparse.Namespace) -> int:
    s = settings_from_args(args)
    theta = Theta(int(s["n_mels"]), int(s["win_length"]), int(s["hop_length"]), float(s["segment"]))
    theta.check(16000)
    config = TrainConfig(**{k: s[k] for k in TrainConfig().as_dict()})
    device = resolve_device(s["device"])
    prepare_device(device)
    if device.type == "cpu" and s["threads"]:
        torch.set_num_threads(int(s["threads"]))
    splits = read_splits(s["splits"])[0] if s["splits"] else None
    out = check_out_dir(Path(args.out))
    prepared = prepare(corpus_from_args(args), cache_dir=args.cache_dir, progress=not args.json)
    doc, splits = run_theta(prepared, theta, splits=splits, config=config, protocol=s["protocol"],
                            unit=s["split_unit"], reps=s["reps"], seed=int(s["seed"]),
                            device=device, remainder=s["remainder"], out=out, progress=not args.json,
                            cpu_share=CpuShare() if device.type == "cpu" and not s["threads"] else None,
                            log=None if args.json else lambda line: print(line, file=sys.stderr),
                            restarts=int(s["restarts"]))
    write_splits(out / "splits.json", splits, protocol=s["protocol"], unit=s["split_unit"],
                 seed=s["seed"], corpus=prepared.corpus.name)
    synthetic = dict(prepared.corpus.synthetic) if prepared.corpus.synthetic is not None else None
    doc = {"corpus": prepared.corpus.name, "synthetic": synthetic, "device": describe(device), "config": s,
           "environment": environment(), **doc}
    write_json(out / "config.json", {"settings": s, "corpus_root": str(prepared.corpus.root),
                                     "corpus_options": dict(prepared.corpus.options),
                                     "corpus_synthetic": synthetic, "environment": doc["environment"]})
    write_json(out / "metrics.json", doc)
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(format_summary(doc, out))
    return 0


def format_summary(doc: dict, out: Path) -> str:
    s = doc["summary"]
    corpus = synthetic_label(doc.get("synthetic")) or doc["corpus"]
    k = len(doc["reps"])
    lines = [f"θ = {Theta(**doc['theta'])} on {corpus}, {k} repetition{'s' if k != 1 else ''}, "
             f"{doc['level']} level, {doc['device']}", "",
             f"{'metric':<10} {'validation':>16} {'test':>16}"]
    for m in METRICS:
        v, t = s["val"][m], s["test"][m]
        lines.append(f"{m:<10} {v['mean']:>8.2f} ± {v['std']:<5.2f} {t['mean']:>8.2f} ± {t['std']:<5.2f}")
    control = doc.get("restarts")
    if control:
        lines += ["", f"restart control: {control['n']} trainings per repetition, other seeds, same split"]
        for name, label in (("mean", "one training (mean over restarts)"),
                            ("best", f"best of {control['n']} by validation")):
            t = control[name]["test"]
            lines.append(f"  {label:<36} test WA {t['wa']['mean']:6.2f} ± {t['wa']['std']:<5.2f} "
                         f"UA {t['ua']['mean']:6.2f} ± {t['ua']['std']:.2f}")
        lines.append("  (the table above is the best of each repetition's restarts, as a search keeps θ_r*)")
    lines += ["", f"wrote {out}/metrics.json, splits.json, config.json, rep*/model.pt and "
                  f"model.pt (the repetition with the best validation WA)"]
    return "\n".join(lines)
