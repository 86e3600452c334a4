"""The budget-vs-regret figure of a strategy replay (``sertune replay``, a section of the report)."""

from __future__ import annotations

from matplotlib.figure import Figure

from .drawing import png
from .render import counted

#: The two yardsticks, as (key in replay.json, axis label); the second only where the replay has it.
YARDSTICKS = (("regret", "per-repetition regret: test WA points lost\nvs brute force's θ_r* on its repetition"),
              ("setting_regret", "setting regret: the same, each θ scored\non the other repetitions"))


def _x(row: dict) -> tuple[dict, str]:
    """The cost axis: device time where the replay weighed it, else epochs (older replay.json)."""
    if row.get("device_fraction"):
        return row["device_fraction"], "device time"
    return row["epoch_fraction"], "epochs"


def replay_figure(doc: dict) -> bytes:
    """Cost (% of brute force's device time, log scale) against regret in test WA points: one panel
    per yardstick, one point per strategy with its 95 % ranges over arrival orders on both axes.
    Brute force sits at (100 %, 0); a dotted line marks what brute force's own runner-up loses
    (``runner_up_regret``), and a star what a perfect ranking of the settings would lose
    at the budget (``ranking_oracle``, on its epochs)."""
    rows = doc["strategies"]
    sticks = [s for s in YARDSTICKS if all(r.get(s[0]) for r in rows)]
    fig = Figure(figsize=(6.2 * len(sticks) + 1.5, 5.4), layout="constrained")
    axes = fig.subplots(1, len(sticks), squeeze=False)[0]
    for ax, (key, label) in zip(axes, sticks):
        _panel(ax, doc, key, label)
    curves = doc["curves"]
    fig.suptitle(f"Search strategies replayed on {counted(curves['settings'], 'setting')} x "
                 f"{counted(curves['reps'], 'repetition')} x {counted(curves['epochs'], 'epoch')}, "
                 f"{counted(doc['orders'], 'arrival order')}\n{curves['text']}", fontsize=9,
                 color="tab:red" if curves.get("synthetic") else "0.2")
    return png(fig)


def _panel(ax, doc: dict, key: str, label: str) -> None:
    rows = doc["strategies"]
    ax.axhline(0, color="0.6", lw=0.8, zorder=0)
    scale = doc.get("runner_up_regret")
    if scale and key == "regret":      # the scale of a regret: what brute force's own second choice loses
        ax.axhline(scale, color="0.45", lw=0.8, ls=":", zorder=0)
        ax.annotate(f"brute force's runner-up by validation: {scale:+.1f}", (1, scale),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3), textcoords="offset points",
                    ha="right", fontsize=7.5, color="0.35")
    budget = doc.get("budget")
    if budget:
        ax.axvline(100 * budget, color="tab:green", lw=0.8, ls="--", zorder=0)
    oracle = doc.get("ranking_oracle")
    if oracle and key in oracle:       # what a perfect ranking of the settings would lose at the budget
        ax.plot([100 * oracle["epoch_fraction"]], [oracle[key]], "*", ms=11, color="0.3", zorder=3)
        ax.annotate(f"perfect ranking, best {counted(oracle['settings'], 'setting')}: {oracle[key]:+.1f}",
                    (100 * oracle["epoch_fraction"], oracle[key]), xytext=(6, -12),
                    textcoords="offset points", fontsize=7.5, color="0.3")
    xname = "epochs"
    for i, r in enumerate(rows):
        frac, xname = _x(r)
        x, y = 100 * frac["mean"], r[key]["mean"]
        # max(0, .): the mean of identical values can sit a rounding error outside their percentiles.
        xerr = [[max(0.0, x - 100 * frac["low"])], [max(0.0, 100 * frac["high"] - x)]]
        yerr = [[max(0.0, y - r[key]["low"])], [max(0.0, r[key]["high"] - y)]]
        chosen = r["spec"] == doc.get("default")
        colour = "tab:green" if chosen else ("tab:blue" if r["live"] else "tab:orange")
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", ms=7 if chosen else 5, color=colour,
                    ecolor=colour, elinewidth=0.9, capsize=2, alpha=0.9)
        ax.annotate(r["spec"].replace(",bootstrap=0", ""), (x, y), xytext=(5, (-12, 4, 14)[i % 3]),
                    textcoords="offset points", fontsize=7, color=colour)
    ax.set_xscale("log")
    ax.set_xlabel(f"{xname} spent, % of brute force's (log scale; bars: 95 % of arrival orders)", fontsize=8.5)
    ax.set_ylabel(label, fontsize=8.5)
    handles = [ax.plot([], [], "o", color=c)[0] for c in ("tab:blue", "tab:orange", "tab:green")]
    labels = ["runs live (sertune search --strategy)", "replay only", "default for --budget"]
    if oracle:
        handles.append(ax.plot([], [], "*", ms=9, color="0.3")[0])
        labels.append("perfect ranking of the settings (no strategy has it)")
    ax.legend(handles, labels, fontsize=7.5, loc="upper right")
