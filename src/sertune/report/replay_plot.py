"""The budget-vs-regret figure of a strategy replay (``sertune replay``, a section of the report)."""

from __future__ import annotations

from matplotlib.figure import Figure

from .drawing import png
from .render import counted


def replay_figure(doc: dict) -> bytes:
    """Epochs spent (% of brute force, log scale) against regret in test WA points, one point per
    strategy with its 95 % ranges over arrival orders on both axes. Brute force sits at (100 %, 0);
    a dotted line marks what brute force's own runner-up loses (``runner_up_regret``, when given),
    and a star what a perfect ranking of the settings would lose at the budget (``ranking_oracle``)."""
    rows = doc["strategies"]
    fig = Figure(figsize=(8.5, 5.2), layout="constrained")
    ax = fig.add_subplot()
    ax.axhline(0, color="0.6", lw=0.8, zorder=0)
    scale = doc.get("runner_up_regret")
    if scale:      # the scale of a regret: what brute force's own second choice loses on test
        ax.axhline(scale, color="0.45", lw=0.8, ls=":", zorder=0)
        ax.annotate(f"brute force's runner-up by validation: {scale:+.1f}", (1, scale),
                    xycoords=("axes fraction", "data"), xytext=(-4, 3), textcoords="offset points",
                    ha="right", fontsize=7.5, color="0.35")
    budget = doc.get("budget")
    if budget:
        ax.axvline(100 * budget, color="tab:green", lw=0.8, ls="--", zorder=0)
    oracle = doc.get("ranking_oracle")
    if oracle:     # the other scale: what a perfect ranking of the settings would lose at the budget
        ax.plot([100 * oracle["epoch_fraction"]], [oracle["regret"]], "*", ms=11, color="0.3", zorder=3)
        ax.annotate(f"perfect ranking, best {counted(oracle['settings'], 'setting')}: {oracle['regret']:+.1f}",
                    (100 * oracle["epoch_fraction"], oracle["regret"]), xytext=(6, -12),
                    textcoords="offset points", fontsize=7.5, color="0.3")
    for i, r in enumerate(rows):
        x, y = 100 * r["epoch_fraction"]["mean"], r["regret"]["mean"]
        # max(0, .): the mean of identical values can sit a rounding error outside their percentiles.
        xerr = [[max(0.0, x - 100 * r["epoch_fraction"]["low"])], [max(0.0, 100 * r["epoch_fraction"]["high"] - x)]]
        yerr = [[max(0.0, y - r["regret"]["low"])], [max(0.0, r["regret"]["high"] - y)]]
        chosen = r["spec"] == doc.get("default")
        colour = "tab:green" if chosen else ("tab:blue" if r["live"] else "tab:orange")
        ax.errorbar([x], [y], xerr=xerr, yerr=yerr, fmt="o", ms=7 if chosen else 5, color=colour,
                    ecolor=colour, elinewidth=0.9, capsize=2, alpha=0.9)
        ax.annotate(r["spec"].replace(",bootstrap=0", ""), (x, y), xytext=(5, (-12, 4, 14)[i % 3]),
                    textcoords="offset points", fontsize=7.5, color=colour)
    ax.set_xscale("log")
    ax.set_xlabel("epochs spent, % of brute force (log scale; bars: 95 % of arrival orders)")
    ax.set_ylabel("regret: test WA points lost vs brute force's θ_r*")
    curves = doc["curves"]
    title = (f"Search strategies replayed on {counted(curves['settings'], 'setting')} x "
             f"{counted(curves['reps'], 'repetition')} x {counted(curves['epochs'], 'epoch')}, "
             f"{counted(doc['orders'], 'arrival order')}")
    ax.set_title(title, fontsize=10)
    handles = [ax.plot([], [], "o", color=c)[0] for c in ("tab:blue", "tab:orange", "tab:green")]
    labels = ["runs live (sertune search --strategy)", "replay only", "default for --budget"]
    if oracle:
        handles.append(ax.plot([], [], "*", ms=9, color="0.3")[0])
        labels.append("perfect ranking of the settings (no strategy has it)")
    ax.legend(handles, labels, fontsize=8, loc="upper right")
    fig.suptitle(curves["text"], fontsize=8.5, color="tab:red" if curves.get("synthetic") else "0.3")
    return png(fig)
