"""Replay results as text: the table `sertune replay` and `bench_replay.py` print, and the lines
that say what a regret is measured against (the CLI, the benchmark and the report share them)."""

from __future__ import annotations

from .lab import StrategyResult


def signed(x: float) -> str:
    """``+1.23`` / ``-0.45``, and ``+0.00`` rather than ``-0.00`` for a rounding error below zero."""
    return f"{(round(x, 2) or 0.0):+.2f}"


def interval(doc) -> str:
    """``+1.23 [-0.50, +2.10]`` from an Interval or its dict; ``n/a`` for None."""
    if doc is None:
        return "n/a"
    get = doc.get if isinstance(doc, dict) else lambda k: getattr(doc, k)
    return f"{signed(get('mean'))} [{signed(get('low'))}, {signed(get('high'))}]"


def format_table(results: list[StrategyResult]) -> str:
    """A plain-text table: one row per strategy, both fractions and both yardsticks."""
    w = max(len("strategy"), *(len(r.spec) for r in results))
    head = (f"{'strategy':<{w}} {'epochs':>7} {'device':>7} {'per-rep regret [95 %]':>24} "
            f"{'setting regret [95 %]':>24} {'same θ':>7} {'s':>6}")
    lines = [head, "-" * len(head)]
    for r in results:
        device = f"{100 * r.device_fraction.mean:>6.1f}%" if r.device_fraction else f"{'n/a':>7}"
        lines.append(f"{r.spec:<{w}} {100 * r.epoch_fraction.mean:>6.1f}% {device} {interval(r.regret):>24} "
                     f"{interval(r.setting_regret):>24} {100 * r.same_theta:>6.0f}% {r.seconds:>6.2f}")
    return "\n".join(lines)


#: What the columns mean, printed under the table.
LEGEND = ("epochs / device: % of brute force's epochs / of its device time (each epoch weighed by its setting's "
          "seconds); per-rep regret: mean test WA points lost against brute force's θ_r* on the repetition it "
          "was picked on (the paper's protocol); setting regret: the same with every θ scored on the other "
          "repetitions (the setting, without the luck of its training); same θ: share of repetitions "
          "selecting θ_r* itself")


def scale_lines(doc: dict) -> list[str]:
    """What a regret compares with, from a ``replay.json`` (its ``runner_up_regret``,
    ``ranking_oracle``, ``selection_luck`` and ``cost_source``, where present): the lines
    `sertune replay` prints and the report shows."""
    lines = []
    luck = doc.get("selection_luck")
    if luck:
        lines.append(f"brute force's θ_r* score {luck['own']:.1f} % test WA on the repetition each was picked on "
                     f"and {luck['others']:.1f} % on the others: {luck['luck']:.1f} points of the per-repetition "
                     f"number are the pick of the luckiest of the trainings, not the setting (the best single "
                     f"setting averages {luck['best_setting']:.1f} %)")
    if "runner_up_regret" in doc:
        lines.append(f"brute force's own runner-up by validation WA loses {signed(doc['runner_up_regret'])} points "
                     f"of test WA against θ_r*, so a per-repetition regret near 0 needs θ_r* itself")
    oracle = doc.get("ranking_oracle")
    if oracle:
        both = (f" (setting regret {signed(oracle['setting_regret'])})" if "setting_regret" in oracle else "")
        lines.append(f"a perfect ranking of the settings (their final validation WA averaged over repetitions), "
                     f"training only the best {oracle['settings']} ({oracle['epoch_fraction']:.1%} of the epochs), "
                     f"would lose {signed(oracle['regret'])}{both}")
    if doc.get("cost_source") == "cost model":
        lines.append("device time: this record has no measured seconds per epoch; each setting's epoch is "
                     "weighed by M x frames / T (the cost model), an estimate")
    return lines
