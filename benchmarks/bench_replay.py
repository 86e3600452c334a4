"""Search strategies replayed on a recorded brute-force study: what each spends and loses.

Two parts, both measured in this run:

1. Speed: the standard panel (10 strategies besides brute force) x 100 arrival
   orders on curves of the paper's size, 511 settings x 10 repetitions x 150
   epochs (synthesized by ``sertune.study.store.curves.synthesize``: no one has
   recorded that study on a CPU), with the wall time of each and of all.
2. Quality: every strategy of the panel and ``--budget``'s candidates on the
   recorded study ``--budget`` chooses on (``sertune.study.strategies.budget.RECORD``;
   ``--curves`` takes another): the share of brute force's epochs and of its device
   time (each epoch weighed by its setting's measured seconds, or the cost model for
   records without them), and both yardsticks with the range of 95 % of arrival
   orders: per-repetition regret (test WA lost against brute force's θ_r* on the
   repetition it was picked on, the paper's protocol) and setting regret (each
   selected θ scored on the other repetitions: the setting without its training's
   luck). Beside them, the scales: how much of brute force's per-repetition number is
   the pick of the luckiest training, what its runner-up loses, and what a perfect
   ranking of the settings would lose at each budget. Then the live strategy of least
   risk (mean setting regret plus the upper end of its 95 % range, :func:`budget.risk`)
   within each budget of device time (:func:`budget.choose`), as a row to paste into
   ``BY_BUDGET``. The evidence record is the real EmoDB one (``benchmarks/data/README.md``).

Last line, for the default of ``sertune search --budget 10%`` as it runs on a search of
the record's epochs:
``device_fraction: X setting_regret: Y ci95: [A, B] per_rep_regret: Z``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sertune.training.devices import cpu_model, usable_cpus
from sertune.study.store import curves as cv
from sertune.study.strategies.budget import (BUDGETS, CANDIDATES, PANEL, RECORD, choose, evidence_for, evidence_of,
                                            strategy_for, yardstick)
from sertune.study.strategies.registry import parse_strategy
from sertune.study.replay.lab import replay
from sertune.study.replay.scales import ranking_oracle, runner_up_regret, selection_luck
from sertune.study.replay.text import LEGEND, format_table, interval, scale_lines

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
    print(LEGEND)
    doc = {"runner_up_regret": runner_up_regret(curves), "selection_luck": selection_luck(curves),
           "cost_source": curves.epoch_costs()[1]}
    for line in scale_lines(doc):
        print(f"scale: {line}")
    for budget in BUDGETS:
        for line in scale_lines({"ranking_oracle": ranking_oracle(curves, budget)}):
            print(f"scale at {budget:.0%}: {line}")
    evidence = args.curves.resolve() == RECORDED.resolve()
    print("\n" + ("evidence for --budget" if evidence else f"on this record (--budget's evidence is {RECORDED.name})")
          + " (the live strategy of least mean setting regret + the upper end of its 95 % range, within each "
            "share of device time):")
    for budget in BUDGETS:
        best = choose(results, budget)
        shipped = evidence_for(budget)
        if best is None:
            print(f"  {budget:>4.0%}: none fits")
            continue
        print(f"  {budget:>4.0%}: {best.spec}  device {best.device_fraction.mean:.1%}  epochs "
              f"{best.epoch_fraction.mean:.1%}  setting regret {interval(yardstick(best))}  per-rep regret "
              f"{interval(best.regret)}"
              + ("" if parse_strategy(shipped.spec).spec() == best.spec else
                 f"   (BY_BUDGET ships {shipped.spec}" + (": update it)" if evidence else ")")))
        if evidence:
            print(f"        {evidence_of(best, budget, curves.epochs)!r}")
    d = next(r for r in results if r.spec == default)
    row = evidence_for(args.budget)
    scaled = ("" if row.epochs == curves.epochs else
              f" ({row.spec} of the {row.epochs}-epoch evidence, scaled to {curves.epochs} epochs)")
    setting = yardstick(d)
    print(f"\ndefault for --budget {args.budget}: {default}{scaled}")
    print(f"device_fraction: {d.device_fraction.mean:.3f} setting_regret: {setting.mean:.2f} "
          f"ci95: [{setting.low:.2f}, {setting.high:.2f}] per_rep_regret: {d.regret.mean:.2f}")


if __name__ == "__main__":
    main()
