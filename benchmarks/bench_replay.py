"""Search strategies replayed on a recorded brute-force study: what each spends and loses.

Two parts, both measured in this run:

1. Speed: the standard panel (10 strategies besides brute force) x 100 arrival
   orders on curves of the paper's size, 511 settings x 10 repetitions x 150
   epochs (synthesized by ``sertune.study.store.curves.synthesize``: no one has
   recorded that study on a CPU), with the wall time of each and of all.
2. Quality: every strategy of the panel and ``--budget``'s candidates on the
   recorded study ``--budget`` chooses on (``sertune.study.strategies.budget.RECORD``, a real
   brute-force ``sertune search`` on a synthetic corpus; ``--curves`` takes another): epochs
   spent (% of brute force), regret (mean test WA points lost against brute
   force's θ_r*, with the range of 95 % of arrival orders) and how often θ_r* itself
   is selected. Beside them, two scales: what brute force's own runner-up loses,
   and what a perfect ranking of the settings (training only the best few on every
   repetition) would lose at each budget.

Last line, for the default of ``sertune search --budget 10%``:
``epoch_fraction: X regret: Y ci95: [A, B]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sertune.training.devices import cpu_model, usable_cpus
from sertune.study.store import curves as cv
from sertune.study.strategies.budget import BUDGETS, CANDIDATES, PANEL, RECORD, choose, evidence_for, strategy_for
from sertune.study.strategies.registry import parse_strategy
from sertune.study.replay.lab import replay
from sertune.study.replay.scales import ranking_oracle, runner_up_regret
from sertune.study.replay.text import format_table, scale_lines

#: --budget's evidence (budget.RECORD is relative to the repository root).
RECORDED = Path(__file__).resolve().parents[1] / RECORD


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=Path, default=RECORDED, help="recorded curves (.npz)")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--budget", default="10%")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}, {usable_cpus()} usable cores")

    big = cv.synthesize(settings=511, reps=10, epochs=150, seed=0)
    panel = [s for s in PANEL if s != "brute"]
    start = time.perf_counter()
    timed = replay(big, panel, orders=args.orders, seed=0)
    total = time.perf_counter() - start
    print(f"\n1. speed: {len(panel)} strategies x {args.orders} orders on {big.describe()}")
    for r in timed:
        print(f"  {r.spec:<44} {r.seconds:6.2f} s")
    print(f"replay_seconds: {total:.1f} for {len(panel)} strategies x {args.orders} orders (target <= 60)")

    curves = cv.load(args.curves)
    # The default as `sertune search --budget` runs it on a search of this record's epochs (its
    # epoch parameters are stated for the evidence record's epochs and scaled).
    default = strategy_for(args.budget, curves.epochs).spec()
    specs = list(dict.fromkeys(parse_strategy(s).spec() for s in [*PANEL, *CANDIDATES, default]))
    results = replay(curves, specs, orders=args.orders, seed=0)
    tests = curves.source.get("test_utterances") or []
    print(f"\n2. quality on {curves.describe()}, {sum(tests)} test utterances summed over repetitions")
    for note in curves.notes:
        print(f"note: {note}")
    print(format_table(results))
    for line in scale_lines({"runner_up_regret": runner_up_regret(curves)}):
        print(f"scale: {line}")
    for budget in BUDGETS:
        for line in scale_lines({"ranking_oracle": ranking_oracle(curves, budget)}):
            print(f"scale at {budget:.0%}: {line}")
    evidence = args.curves.resolve() == RECORDED.resolve()
    print("\n" + ("evidence for --budget" if evidence else f"on this record (--budget's evidence is {RECORDED.name})")
          + " (the live strategy with the least regret within each budget):")
    for budget in BUDGETS:
        best = choose(results, budget)
        shipped = evidence_for(budget)
        print(f"  {budget:>4.0%}: " + (f"{best.spec}  epochs {best.epoch_fraction.mean:.1%}  regret "
                                     f"{best.regret.mean:+.2f} [{best.regret.low:+.2f}, {best.regret.high:+.2f}]"
                                     if best else "none fits")
              + ("" if best and parse_strategy(shipped.spec).spec() == best.spec else
                 f"   (BY_BUDGET ships {shipped.spec}" + (": update it)" if evidence else ")")))
    d = next(r for r in results if r.spec == default)
    row = evidence_for(args.budget)
    scaled = ("" if row.epochs == curves.epochs else
              f" ({row.spec} of the {row.epochs}-epoch evidence, scaled to {curves.epochs} epochs)")
    print(f"\ndefault for --budget {args.budget}: {default}{scaled}")
    print(f"epoch_fraction: {d.epoch_fraction.mean:.3f} regret: {d.regret.mean:.2f} "
          f"ci95: [{d.regret.low:.2f}, {d.regret.high:.2f}]")


if __name__ == "__main__":
    main()
