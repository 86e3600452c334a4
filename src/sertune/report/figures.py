"""The report's figures, drawn from the numbers of :mod:`.analysis` and :mod:`.tables`.

Fig. 3 (confusion), the marginal effects and the paired test WA are drawn here;
Fig. 4, the heat map, in :mod:`.heatmap_plot` (its names are re-exported).
Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg
canvas, no pyplot): no global backend is switched, nothing is shown, and a
figure is freed as soon as it is rendered. Every function returns PNG bytes.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
from matplotlib.figure import Figure

from .drawing import png, text_colour
from .render import counted
from .heatmap_plot import MIN_COLOUR_SPAN, colour_limits, heatmap_figure, heatmap_legend

__all__ = ["confusion_figure", "heatmap_figure", "heatmap_legend", "colour_limits", "MIN_COLOUR_SPAN",
           "marginals_figure", "marginal_panels", "paired_figure", "label_positions", "png"]


def confusion_figure(conf: dict, *, normalised: bool, subtitle: str = "") -> bytes:
    """Fig. 3: mean confusion matrix of θ_r* (every cell rounded, as in the paper) or its
    row-normalised version (%).

    The rounded matrix carries each row's unrounded mean total on its right, so a row whose
    rounded cells add up to 7 for a class of 8 test utterances says so.
    """
    classes = conf["classes"]
    mat = np.asarray(conf["row_percent"] if normalised else conf["rounded"], dtype=float)
    n = len(classes)
    side = max(4.5, 0.75 * n + 2.5)
    fig = Figure(figsize=(side + (1.2 if normalised else 2.0), side), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(mat, cmap="Blues", vmin=0, vmax=100 if normalised else max(1.0, mat.max()))
    for i in range(n):
        for j in range(n):
            text = f"{mat[i, j]:.0f}" + ("%" if normalised else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=9 if n <= 9 else 7,
                    color=text_colour(im.cmap(im.norm(mat[i, j]))))
    ax.set_xticks(range(n), classes, rotation=40, ha="right")
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if not normalised:
        totals = np.sum(conf["mean"], axis=1)
        right = ax.secondary_yaxis("right")
        right.set_yticks(range(n), [f"{t:.2f}" for t in totals], fontsize=8)
        right.set_ylabel("mean test utterances of the class (row total, unrounded)", fontsize=8)
    unit = ("% of the true class (unrounded rows sum to 100)" if normalised
            else "utterances: mean over repetitions, each cell rounded")
    fig.colorbar(im, ax=ax, shrink=0.8, label=unit, pad=0.02)
    if normalised:
        what = f"Test confusion matrix of θ_r*, mean over {counted(conf['reps'], 'repetition')}, row-normalised (%)"
    else:
        what = (f"Test confusion matrix of θ_r*: mean over {counted(conf['reps'], 'repetition')}, every cell rounded "
                f"to an integer (as in the paper);\nrounded rows need not add up to the row total on the right")
    ax.set_title(what + (f"\n{subtitle}" if subtitle else ""), fontsize=9)
    return png(fig)


def marginals_figure(marg: dict, *, subtitle: str = "") -> bytes | None:
    """Mean ± std of mean validation WA for each value of M, L, H and T (over the other three).

    A parameter that takes one value in every setting gets no panel (it has no effect to
    show); the title names it and its value. None when no parameter takes two values.
    """
    fig = marginals_canvas(marg, subtitle=subtitle)
    return None if fig is None else png(fig)


def marginals_canvas(marg: dict, *, subtitle: str = "") -> Figure | None:
    """The :class:`Figure` :func:`marginals_figure` renders (None when no parameter varies)."""
    params, fixed = marginal_panels(marg)
    if not params:
        return None
    width = max(4.5, 3.0 * len(params) + 0.6)
    fig = Figure(figsize=(width, 3.9), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(params), sharey=True))
    for ax, (symbol, p) in zip(axes, params.items()):
        vals = p["values"]
        x = np.arange(len(vals))
        ax.errorbar(x, [v["mean"] for v in vals], yerr=[v["std"] for v in vals], fmt="o-", capsize=3,
                    color="#1f77b4", label="mean ± std over the other parameters")
        if marg.get("usual") is not None:
            ax.axhline(marg["usual"], color="#d62728", linestyle="--", linewidth=1,
                       label=f"θ• (usual): {marg['usual']:.1f}")
        labels = [f"{v['value']:g}" for v in vals]
        step = max(1, math.ceil(len(vals) / 9))
        ax.set_xticks(x[::step], labels[::step])
        ax.set_xlim(-0.5, len(vals) - 0.5)
        ax.set_xlabel(f"{symbol} ({p['unit']})")
        ax.set_title(f"effect of {symbol}", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean validation WA (%)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    lines = ["Marginal effect of each LMS parameter"]
    if fixed:
        lines.append(f"one value in every setting, so no panel: {', '.join(fixed)}")
    if subtitle:
        lines.append(subtitle)
    # Wrapped to the figure's width: with one panel (one parameter varies) the figure is narrow
    # and the line naming the fixed parameters would run past both edges.
    fig.suptitle("\n".join(wrap_lines(lines, width=width, fontsize=10)), fontsize=10)
    return fig


def wrap_lines(lines: list[str], *, width: float, fontsize: float) -> list[str]:
    """``lines`` broken at spaces so that each fits ``width`` inches of ``fontsize``-point text
    (DejaVu Sans averages about 0.5 em per character; 0.55 leaves a margin)."""
    chars = max(20, int(width * 72 / (0.55 * fontsize)))
    return [part for line in lines for part in textwrap.wrap(line, chars) or [""]]


def marginal_panels(marg: dict) -> tuple[dict, list[str]]:
    """(the parameters that get a panel: two values or more, the others as ``H = 160 samples``)."""
    params = {k: p for k, p in marg["parameters"].items() if len(p["values"]) > 1}
    fixed = [f"{k} = {p['values'][0]['value']:g} {_unit(p['unit'])}".rstrip()
             for k, p in marg["parameters"].items() if len(p["values"]) == 1]
    return params, fixed


def _unit(unit: str) -> str:
    return {"mel filters": "", "samples": "samples"}.get(unit, unit)


def paired_figure(t4: dict, *, subtitle: str = "") -> bytes:
    """Test WA per repetition: θ• vs θ_r* (paired lines), and the per-repetition gain."""
    reps = t4["per_rep"]
    paired = [r for r in reps if r["usual"] is not None]
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[1.1, 1])
    for r in reps:
        if r["usual"] is not None:
            ax.plot([0, 1], [r["usual"], r["tuned"]], "-", color="#999999", linewidth=1)
            ax.plot([0], [r["usual"]], "o", color="#d62728")
        ax.plot([1], [r["tuned"]], "o", color="#1f77b4")
    if len(reps) <= 6:  # more labels would crowd; the right panel names every repetition
        values = [r["tuned"] for r in reps] + [r["usual"] for r in paired]
        gap = 0.05 * max(max(values) - min(values), 1.0)
        for r, y in zip(reps, label_positions([r["tuned"] for r in reps], gap)):
            ax.annotate(f"rep {r['rep']}", (1, r["tuned"]), xytext=(1.06, y), textcoords="data",
                        fontsize=7, va="center", arrowprops=None)
    for x, key, colour in ((0, "test_wa_usual", "#d62728"), (1, "test_wa_tuned", "#1f77b4")):
        if t4[key]:
            ax.errorbar([x - 0.12], [t4[key]["mean"]], yerr=[t4[key]["std"]], fmt="s", color=colour,
                        capsize=4, markersize=7,
                        label=f"{'θ•' if x == 0 else 'θ_r*'} mean ± std: {t4[key]['mean']:.2f} ± {t4[key]['std']:.2f}")
    ax.set_xticks([0, 1], ["θ• (usual)", "θ_r* (tuned)"])
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel("test WA (%)")
    ax.set_title("test WA per repetition", fontsize=10)
    # Below the axes: inside, it would cover the points of some repetition.
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=1, frameon=False)
    ax.grid(alpha=0.3, axis="y")
    if paired:
        gains = [r["tuned"] - r["usual"] for r in paired]
        bx.bar([str(r["rep"]) for r in paired], gains,
               color=["#1f77b4" if g >= 0 else "#d62728" for g in gains])
        bx.axhline(0, color="black", linewidth=0.8)
        p = [f"Wilcoxon p = {_p(t4['wilcoxon_p'])}", f"paired t p = {_p(t4['ttest_p'])}"]
        bx.set_title("gain of θ_r* over θ• per repetition\n" + ", ".join(p), fontsize=10)
    else:
        bx.text(0.5, 0.5, "no repetition has both θ_r* and θ•:\nno gain to show", ha="center",
                va="center", transform=bx.transAxes)
        bx.set_title("gain of θ_r* over θ• per repetition", fontsize=10)
    bx.set_xlabel("repetition")
    bx.set_ylabel("test WA gain (percentage points)")
    bx.grid(alpha=0.3, axis="y")
    if subtitle:
        fig.suptitle(subtitle, fontsize=9)
    return png(fig)


def label_positions(values, gap: float) -> list[float]:
    """Heights for labels of points at ``values``: each as close to its point as it can be while
    labels stay at least ``gap`` apart (a pile of equal values is spread upwards from its first)."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    last = -math.inf
    for i in order:
        out[i] = max(values[i], last + gap)
        last = out[i]
    return out


def _p(p) -> str:
    return "n/a" if p is None else (f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}")
