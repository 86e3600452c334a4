"""Fig. 4 drawn: mean validation WA for every setting, clustered with dendrograms, θ• marked.

The numbers come from :func:`sertune.report.analysis.heatmap`; this module only
lays them out (cells, tick labels, dendrograms, colour bar, legend) and
returns PNG bytes.
"""

from __future__ import annotations

import math
import textwrap
import warnings

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from scipy.cluster import hierarchy

from .drawing import png, text_colour

#: Most tick labels an axis shows; beyond it every k-th is labelled so they never overlap.
MAX_TICKS = 45


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
                        color=text_colour(im.cmap(im.norm(values[i, j]))))
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
