"""``sertune replay``: simulate search strategies on a recorded brute-force study;
``sertune curves``: export a study's learning curves to a compact file replay reads."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError
from ..study.strategies import budget as budgets
from ..study.store.curves import Curves, save
from ..study.store.merge import merge
from ..study.store.recording import open_curves
from ..study.replay.lab import make_orders, replay
from ..study.replay.scales import ranking_oracle, runner_up_regret, selection_luck
from ..study.replay.text import LEGEND, format_table, scale_lines
from ..study.strategies.registry import STRATEGIES, SYNTAX, parse_strategy


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", metavar="STUDY", nargs="?",
                   help="the --out folder of a brute-force `sertune search`, or a curves .npz file")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL instead of STUDY")
    p.add_argument("--study", dest="name", metavar="NAME",
                   help="the search's name, as given to `sertune search --study` (default the search in STUDY, "
                        "or the only one in --storage)")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "replay", help="simulate search strategies on a recorded brute-force study, without training",
        description="Replay search strategies on the learning curves a brute-force search recorded: the "
                    "epochs each would spend, the θ it would select per repetition and the test WA that "
                    "costs (regret), over many arrival orders. Exact: training is deterministic, so a "
                    "stopped run reports the first epochs of the recorded one. Writes replay.json, "
                    "replay.md and replay.png; `sertune report` shows them.",
        epilog=f"Strategies: {', '.join(f'{n} ({c.summary})' for n, c in STRATEGIES.items())}. "
               f"Spec syntax: {SYNTAX}.")
    _add_source(p)
    p.add_argument("--strategy", action="append", metavar="SPEC",
                   help="a strategy to replay; repeat the flag for several (default the standard panel)")
    p.add_argument("--orders", type=int, default=100, metavar="N", help="arrival orders (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the orders and random choices (default %(default)s)")
    p.add_argument("--budget", metavar="PCT", help="mark the strategy --budget PCT picks (e.g. 10%%)")
    p.add_argument("--out", metavar="DIR",
                   help="where to write (default STUDY/replay, or NAME-replay/ beside a curves file NAME.npz)")
    p.add_argument("--json", action="store_true", help="print replay.json instead of the table")
    p.set_defaults(func=run)

    c = sub.add_parser("curves", help="export a brute-force study's learning curves to a .npz file",
                       description="Write the validation curve of every (θ, r) and the test metrics of its "
                                   "improving epochs as one compressed .npz that `sertune replay` reads. "
                                   "Several studies (or curves files) of one corpus and training settings "
                                   "with other settings θ merge into one record, the one a single search "
                                   "over the union of their grids makes: grow a record, or cut it into parts.")
    c.add_argument("source", metavar="STUDY", nargs="*",
                   help="--out folders of brute-force `sertune search`es, or curves .npz files (several merge)")
    c.add_argument("--storage", metavar="URL", help="Optuna storage URL (merged with any STUDY)")
    c.add_argument("--study", dest="name", metavar="NAME",
                   help="the search's name, as given to `sertune search --study` (default the search in STUDY, "
                        "or the only one in --storage)")
    c.add_argument("--out", metavar="FILE.npz", required=True, help="the curves file to write")
    c.set_defaults(func=run_curves)


def _default_out(args: argparse.Namespace) -> Path:
    if args.out:
        return Path(args.out)
    if not args.source:
        raise ConfigError("--out DIR is required with --storage (there is no STUDY folder to write into)")
    path = Path(args.source)
    return path.with_name(path.stem + "-replay") if path.suffix == ".npz" else path / "replay"


def curves_text(curves: Curves) -> str:
    return curves.describe() + (" — SYNTHETIC corpus, not recordings of people" if curves.synthetic else "")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..report.replay_plot import replay_figure

    curves = open_curves(args.source, storage=args.storage, name=args.name)
    budget = budgets.parse_budget(args.budget) if args.budget else None
    default = budgets.strategy_for(budget, curves.epochs) if budget else None
    strategies = [parse_strategy(s) for s in (args.strategy or budgets.PANEL)]
    if default and default not in strategies:
        strategies.append(default)
    for s in strategies:                    # every spec checked before any work
        s.check(curves.epochs, curves.n_settings, curves.reps)
    make_orders(curves, args.orders, args.seed)
    out = _default_out(args)
    with tqdm(total=len(strategies), desc="replay", unit="strategy", disable=args.json, leave=False) as bar:
        results = replay(curves, strategies, orders=args.orders, seed=args.seed, progress=bar)
    doc = {"curves": {"name": curves.name, "settings": curves.n_settings, "reps": curves.reps,
                      "epochs": curves.epochs, "synthetic": curves.synthetic, "text": curves_text(curves),
                      "notes": list(curves.notes)},
           "orders": args.orders, "seed": args.seed, "budget": budget,
           "default": default.spec() if default else None,
           "runner_up_regret": runner_up_regret(curves),
           "ranking_oracle": ranking_oracle(curves, budget or 0.10),
           "selection_luck": selection_luck(curves),
           "cost_source": curves.epoch_costs()[1],
           "strategies": [r.as_dict() for r in results]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "replay.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    table = format_table(results)
    (out / "replay.md").write_text(f"# Replay of {curves_text(curves)}\n\n```\n{table}\n```\n", encoding="utf-8")
    (out / "replay.png").write_bytes(replay_figure(doc))
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    print(f"replayed {len(results)} {'strategy' if len(results) == 1 else 'strategies'} x {args.orders} "
          f"order{'s' if args.orders != 1 else ''} on {curves_text(curves)}")
    for note in curves.notes:
        print(f"note: {note}")
    if curves.reps < 2:
        print("note: one repetition: no setting regret (it scores a setting on the other repetitions); "
              "per-repetition regret only")
    print(table)
    print(LEGEND)
    for line in scale_lines(doc):
        print(f"scale: {line}")
    print(f"wrote {(out / 'replay.json').resolve()}, replay.md, replay.png")
    return 0


def run_curves(args: argparse.Namespace) -> int:
    if not args.source and not args.storage:
        raise ConfigError("give STUDY (a curves .npz, or the --out folder of `sertune search`) or --storage URL")
    # --study names the search in --storage, or in the one STUDY given
    one = not args.storage and len(args.source) == 1
    parts = [open_curves(None, storage=args.storage, name=args.name)] if args.storage else []
    parts += [open_curves(s, name=args.name if one else None) for s in args.source]
    curves = merge(parts)
    path = save(curves, args.out)
    if len(parts) > 1:
        print(f"merged {len(parts)} records of one corpus and training settings "
              f"({' + '.join(str(p.n_settings) for p in parts)} settings)")
    for note in curves.notes:
        print(f"note: {note}")
    print(f"wrote {path.resolve()}: {curves_text(curves)} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"next: sertune replay {path}")
    return 0
