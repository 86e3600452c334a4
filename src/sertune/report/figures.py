"""The report's figures, drawn from the numbers of :mod:`.analysis` and :mod:`.tables`.

Figures are built on :class:`matplotlib.figure.Figure` directly (the Agg
canvas, no pyplot): no global backend is switched, nothing is shown, and a
figure is freed as soon as it is rendered. Every function returns PNG bytes.
"""

from __future__ import annotations

import io
import math
import textwrap
import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from scipy.cluster import hierarchy

DPI = 110
#: Most tick labels an axis shows; beyond it every k-th is labelled so they never overlap.
MAX_TICKS = 45


def png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _text_colour(rgba) -> str:
    """Black on light cells, white on dark ones (relative luminance)."""
    r, g, b = to_rgb(rgba)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


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
                    color=_text_colour(im.cmap(im.norm(mat[i, j]))))
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
        what = f"Test confusion matrix of θ_r*, mean over {conf['reps']} repetitions, row-normalised (%)"
    else:
        what = (f"Test confusion matrix of θ_r*: mean over {conf['reps']} repetitions, every cell rounded "
                f"to an integer (as in the paper);\nrounded rows need not add up to the row total on the right")
    ax.set_title(what + (f"\n{subtitle}" if subtitle else ""), fontsize=9)
    return png(fig)


def _ticks(n: int) -> list[int]:
    step = max(1, math.ceil(n / MAX_TICKS))
    return list(range(0, n, step))


#: Narrowest span of the heat map's colour scale, in points of WA: a map whose values lie
#: within 2 points is not stretched over the whole scale, which would make noise look like an effect.
MIN_COLOUR_SPAN = 5.0


def colour_limits(values: np.ndarray, *, span: float = MIN_COLOUR_SPAN) -> tuple[float, float]:
    """(vmin, vmax) of the heat map: the finite values' range, widened about its middle to at
    least ``span`` points and kept within [0, 100]."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 100.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < span:
        mid = (lo + hi) / 2
        lo, hi = mid - span / 2, mid + span / 2
        if lo < 0:
            lo, hi = 0.0, span
        if hi > 100:
            lo, hi = 100.0 - span, 100.0
    return lo, hi


def _text_width(fig: Figure, texts, fontsize: float) -> float:
    """Width in inches of the widest of ``texts`` at ``fontsize`` (0 for none)."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    widest = 0.0
    for text in texts:
        t = fig.text(0, 0, text, fontsize=fontsize)
        widest = max(widest, t.get_window_extent(renderer).width / fig.dpi)
        t.remove()
    return widest


def heatmap_figure(hm: dict, *, subtitle: str = "") -> bytes:
    """Fig. 4: mean validation WA, (T, L) on x and (M, H) on y, clustered with dendrograms.

    Grey cells have no trial; hatched cells hold only pruned trials; the best
    mean is outlined in red; the legend lists only what the map shows. Values are
    printed in the cells when they fit. The colour scale spans at least
    :data:`MIN_COLOUR_SPAN` points, and θ•'s mean (``hm["usual"]``) is marked on it.
    """
    values = np.array([[np.nan if v is None else v for v in row] for row in hm["values"]], dtype=float)
    n_rows, n_cols = values.shape if values.size else (len(hm["rows"]), len(hm["columns"]))
    # Cells of at least 0.3 × 0.2 in (room for a value) while the map stays under 16 × 14 in;
    # beyond that cells shrink, values are not printed and tick labels are thinned.
    cell_w = min(0.8, max(10.0 / max(n_cols, 1), min(0.3, 16.0 / max(n_cols, 1))))
    cell_h = min(0.6, max(10.0 / max(n_rows, 1), min(0.2, 14.0 / max(n_rows, 1))))
    ys, xs = _ticks(n_rows), _ticks(n_cols)
    ylabels = [f"M={hm['rows'][i][0]}, H={hm['rows'][i][1]}" for i in ys]
    xlabels = [f"T={hm['columns'][j][0]:g} s, L={hm['columns'][j][1]}" for j in xs]
    fig = Figure(figsize=(8, 6))                       # resized below, once the layout is known
    # Layout in inches, left to right: row dendrogram, map, row tick labels and their axis label,
    # θ• mark, colour bar and its label; bottom to top: legend, column labels, map, column
    # dendrogram, title. As seaborn's clustermap, the dendrograms touch the map and the labels
    # sit on the far side, so neither hides the other; every gap is measured from the labels.
    ytick_w = _text_width(fig, ylabels, 7) + 0.1
    xtick_h = _text_width(fig, xlabels, 7) + 0.1
    map_h = n_rows * cell_h
    ytitle = "(M mel filters, H hop samples)" + _every(ys)
    if _text_width(fig, [ytitle], 9) > max(map_h, 1.8):
        ytitle = ytitle.replace(", H", ",\nH", 1)
    ytitle_w = 0.2 * (ytitle.count("\n") + 1) + 0.1
    left_d = 1.15 if hm["row_linkage"] else 0.3
    usual = hm.get("usual")
    vmin, vmax = colour_limits(values)
    mark_w = (_text_width(fig, [_usual_text(usual, vmin, vmax)], 7) + 0.25) if usual is not None else 0.15
    cbar_w = 0.2 + 0.85
    top_d, title_h, legend_h = (0.9 if hm["col_linkage"] else 0.1), 0.75, 0.35
    xlabels_h = xtick_h + 0.35
    natural_w = left_d + n_cols * cell_w + ytick_w + ytitle_w + mark_w + cbar_w
    natural_h = title_h + top_d + map_h + xlabels_h + legend_h
    # Small maps are centred in a figure of at least 6 × 4.5 in, so rotated labels have room.
    width, height = max(natural_w, 6.0), max(natural_h, 4.5)
    fig.set_size_inches(width, height)

    def box(x, y, w, h):  # inches from the bottom left -> figure fractions
        return [x / width, y / height, w / width, h / height]

    map_x = left_d + (width - natural_w) / 2
    map_y = legend_h + xlabels_h + (height - natural_h) / 2
    ax = fig.add_axes(box(map_x, map_y, n_cols * cell_w, map_h))
    masked = np.ma.masked_invalid(values)
    im = ax.imshow(masked, cmap=_cmap(), vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    for i, row in enumerate(hm["state"]):
        for j, s in enumerate(row):
            if s == "pruned":
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="////",
                                       edgecolor="#555555", linewidth=0))
    finite = np.isfinite(values)
    if hm.get("usual_cell"):
        ui, uj = hm["usual_cell"]
        ax.add_patch(Rectangle((uj - 0.5, ui - 0.5), 1, 1, fill=False, edgecolor="#d62728", linewidth=1.5,
                               linestyle="--"))
    if finite.any():
        bi, bj = np.unravel_index(np.nanargmax(values), values.shape)
        ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
        if cell_w >= 0.34 and cell_h >= 0.2:
            size = 6 if cell_w < 0.5 else 7
            for i, j in zip(*np.where(finite)):
                ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=size,
                        color=_text_colour(im.cmap(im.norm(values[i, j]))))
    ax.yaxis.tick_right()
    ax.set_yticks(ys, ylabels, fontsize=7)
    ax.set_xticks(xs, xlabels, rotation=90, fontsize=7)
    ax.set_xlabel("(T segment seconds, L window samples)" + _every(xs))
    # The rows' axis label right beside their tick labels (not floating towards the colour bar).
    fig.text((map_x + n_cols * cell_w + ytick_w + 0.05) / width, (map_y + map_h / 2) / height, ytitle,
             rotation=90, ha="left", va="center", fontsize=9, multialignment="center")
    if hm["row_linkage"]:
        # The dendrogram's leaves sit at 5, 15, 25, ...: limits of 10 × rows align them with the cells.
        dax = fig.add_axes(box(map_x - left_d + 0.05, map_y, left_d - 0.08, map_h))
        _dendrogram(hm["row_linkage"], dax, "left")
        dax.set_ylim(10 * n_rows, 0)
        dax.set_axis_off()
    if hm["col_linkage"]:
        dax = fig.add_axes(box(map_x, map_y + map_h + 0.05, n_cols * cell_w, top_d - 0.1))
        _dendrogram(hm["col_linkage"], dax, "top")
        dax.set_xlim(0, 10 * n_cols)
        dax.set_axis_off()
    cbar_h = min(max(map_h, 1.8), 5.0)
    cax = fig.add_axes(box(map_x + n_cols * cell_w + ytick_w + ytitle_w + mark_w, map_y + (map_h - cbar_h) / 2,
                           0.2, cbar_h))
    fig.colorbar(im, cax=cax, label="mean validation WA (%)")
    if usual is not None:
        _mark_usual(cax, float(usual), vmin, vmax)
    handles = [_legend_handle(kind, label) for kind, label in heatmap_legend(hm)]
    if handles:
        fig.legend(handles=handles, loc="lower left", fontsize=7, frameon=False, ncols=len(handles),
                   bbox_to_anchor=(max(map_x - left_d, 0.1) / width, 0.05 / height))
    order = {(True, True): "rows and columns clustered", (True, False): "rows clustered, columns in grid order",
             (False, True): "columns clustered, rows in grid order",
             (False, False): "too few rows and columns to cluster: grid order"}
    title = "\n".join([
        "Mean validation WA over repetitions for every setting",
        *textwrap.wrap(order[bool(hm["row_linkage"]), bool(hm["col_linkage"])]
                       + (f"; {subtitle}" if subtitle else ""), width=int(width * 10))])
    fig.text(0.02, 1 - 0.15 / height, title, fontsize=10, va="top")
    return png(fig)


def heatmap_legend(hm: dict) -> list[tuple[str, str]]:
    """(kind, label) of every legend entry of the heat map: only what the map shows."""
    states = {s for row in hm["state"] for s in row}
    entries = []
    if "missing" in states:
        entries.append(("missing", "no trial"))
    if "pruned" in states:
        entries.append(("pruned", "pruned only"))
    if any(v is not None for row in hm["values"] for v in row):
        entries.append(("best", "best mean"))
    if hm.get("usual_cell"):
        entries.append(("usual_cell", "θ• (usual)"))
    if hm.get("usual") is not None:
        where = "" if hm.get("usual_cell") else ", not on the map"
        entries.append(("usual", f"θ• (usual{where}): {hm['usual']:.1f} on the colour bar"))
    return entries


def _legend_handle(kind: str, label: str):
    if kind == "missing":
        return Patch(facecolor="#d9d9d9", label=label)
    if kind == "pruned":
        return Patch(facecolor="white", hatch="////", edgecolor="#555555", label=label)
    if kind == "best":
        return Patch(facecolor="white", edgecolor="red", linewidth=2, label=label)
    if kind == "usual_cell":
        return Patch(facecolor="white", edgecolor="#d62728", linewidth=1.5, linestyle="--", label=label)
    return Line2D([], [], color="#d62728", marker=">", linestyle="none", label=label)


def _mark_usual(cax, value: float, vmin: float, vmax: float) -> None:
    """θ•'s mean on the colour bar: a red line and a pointer at its value, or at the end it is beyond."""
    shown = min(max(value, vmin), vmax)
    cax.axhline(shown, color="#d62728", linewidth=2)
    cax.plot([-0.15], [shown], marker=">", color="#d62728", markersize=6, clip_on=False,
             transform=cax.get_yaxis_transform())
    cax.text(-0.45, shown, _usual_text(value, vmin, vmax), transform=cax.get_yaxis_transform(), ha="right",
             va="center", fontsize=7, color="#d62728")


def _usual_text(value: float, vmin: float, vmax: float) -> str:
    return f"θ• {value:.1f}" + (" (below)" if value < vmin else " (above)" if value > vmax else "")


def _every(ticks: list[int]) -> str:
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    return f", every {step}th labelled" if step > 1 else ""


def _dendrogram(linkage, ax, orientation: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # all-zero heights (identical rows) make matplotlib warn
        hierarchy.dendrogram(np.asarray(linkage), ax=ax, orientation=orientation, no_labels=True,
                             link_color_func=lambda _: "#444444")


def _cmap():
    from matplotlib import colormaps

    # Missing cells: light grey, not a colour of the scale.
    return colormaps["viridis"].with_extremes(bad="#d9d9d9")


def marginals_figure(marg: dict, *, subtitle: str = "") -> bytes | None:
    """Mean ± std of mean validation WA for each value of M, L, H and T (over the other three).

    A parameter that takes one value in every setting gets no panel (it has no effect to
    show); the title names it and its value. None when no parameter takes two values.
    """
    params, fixed = marginal_panels(marg)
    if not params:
        return None
    fig = Figure(figsize=(max(4.5, 3.0 * len(params) + 0.6), 3.9), layout="constrained")
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
    fig.suptitle("\n".join(lines), fontsize=10)
    return png(fig)


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
