"""Numbers behind the figures: mean confusion matrix, the Fig. 4 heat map, marginal effects.

Pure functions of a :class:`~sertune.study.store.results.StudyResults`; the
figures only draw what these return, and ``report.json`` stores it.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster import hierarchy

from ..study.store import results as sr
from ..features.theta import Theta
from .render import counted
from .tables import theta_values

#: The four LMS parameters: θ field, symbol, unit (for axis labels).
PARAMETERS = (("n_mels", "M", "mel filters"), ("win_length", "L", "samples"),
              ("hop_length", "H", "samples"), ("segment", "T", "s"))

#: Linkage of the heat map's clustering: average linkage on Euclidean distance
#: (seaborn's clustermap default; the paper does not say which it used).
LINKAGE = "average"


def mean_confusion(results: sr.StudyResults) -> dict | None:
    """Fig. 3: the θ_r* test confusion matrices averaged over repetitions.

    ``rounded`` rounds half up to integers as the paper does; ``row_percent``
    normalises the mean matrix by its rows (recall per class, %); rows with no
    sample are 0. None when no repetition has a θ_r* with a confusion matrix.
    """
    mats = [np.asarray(t.test["confusion"], dtype=float)
            for t in sr.best_per_rep(results).values() if t.test and t.test.get("confusion")]
    if not mats:
        return None
    mean = np.mean(mats, axis=0)
    rows = mean.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * mean, rows, out=np.zeros_like(mean), where=rows > 0)
    classes = list(results.classes) or [str(i) for i in range(len(mean))]
    return {"classes": classes, "reps": len(mats), "mean": mean.tolist(),
            "rounded": np.floor(mean + 0.5).astype(int).tolist(), "row_percent": percent.tolist()}


def theta_means(results: sr.StudyResults) -> dict[Theta, float]:
    """Mean validation WA of every θ over its COMPLETE repetitions."""
    return {th: float(np.mean(v)) for th, v in theta_values(results).items()}


def _lone(theta: Theta, thetas) -> bool:
    """θ shares neither its (M, H) row nor its (T, L) column with any other θ."""
    return not any(o != theta and ((o.n_mels, o.hop_length) == (theta.n_mels, theta.hop_length) or
                                   (o.segment, o.win_length) == (theta.segment, theta.win_length))
                   for o in thetas)


def heatmap_thetas(results: sr.StudyResults) -> tuple[list[Theta], list[Theta]]:
    """(settings on the heat map, settings left out): θ• is left out when it is a lone point
    outside the (T, L) × (M, H) product (as in the paper's grid), where it would only add
    an empty row and column; Table 3 shows it."""
    grid = list(results.grid)
    out = [th for th in grid if th == results.usual and len(grid) > 1 and _lone(th, grid)]
    return [th for th in grid if th not in out], out


def cluster_order(matrix: np.ndarray, *, other: str = "column") -> tuple[list[int], np.ndarray | None, str | None]:
    """Order of the rows of ``matrix`` by hierarchical clustering (average linkage, Euclidean).

    Missing cells (NaN) are filled with their column's mean, for the ordering
    only. Returns (order, linkage matrix or None, note): with fewer than 2 rows,
    or no value at all, the order is kept and the note says why. ``other`` names
    the columns in the note.
    """
    n = matrix.shape[0]
    if n < 2:
        return list(range(n)), None, f"only {n}, nothing to cluster, order kept"
    if np.all(np.isnan(matrix)):
        return list(range(n)), None, "no values yet: order kept"
    filled = matrix.copy()
    col_mean = _column_means(filled)
    idx = np.where(np.isnan(filled))
    filled[idx] = col_mean[idx[1]]
    z = hierarchy.linkage(filled, method=LINKAGE, metric="euclidean", optimal_ordering=True)
    note = (f"missing cells filled with the mean of their {other}, for the ordering only"
            if len(idx[0]) else None)
    return [int(i) for i in hierarchy.leaves_list(z)], z, note


def _column_means(matrix: np.ndarray) -> np.ndarray:
    """Mean of each column over its values; the overall mean for a column with none."""
    overall = np.nanmean(matrix)
    counts = (~np.isnan(matrix)).sum(axis=0)
    sums = np.nansum(matrix, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), overall)


def heatmap(results: sr.StudyResults) -> dict:
    """Fig. 4: mean validation WA with (M, H) rows and (T, L) columns, clustered on both axes.

    Returns rows/columns (as ``[M, H]`` / ``[T, L]`` pairs, in display order),
    ``values`` (None = no complete trial), ``state`` per cell (``complete``:
    has a mean; ``pruned``: every finished trial was pruned; ``missing``: not on
    the grid or not run yet), the linkage matrices for the dendrograms, ``usual`` (θ•'s mean
    validation WA, marked on the colour bar; None without one), ``usual_cell`` ([row, column]
    of θ• on the map, or None where it is left out) and notes.
    """
    thetas, left_out = heatmap_thetas(results)
    means = theta_means(results)
    rows = sorted({(th.n_mels, th.hop_length) for th in thetas})
    cols = sorted({(th.segment, th.win_length) for th in thetas})
    values = np.full((len(rows), len(cols)), np.nan)
    state = np.full((len(rows), len(cols)), "missing", dtype=object)
    pruned = {th for (_, th), s in sr.cell_states(results).items() if s == "pruned"}
    ri, ci = {r: i for i, r in enumerate(rows)}, {c: j for j, c in enumerate(cols)}
    for th in thetas:
        i, j = ri[(th.n_mels, th.hop_length)], ci[(th.segment, th.win_length)]
        if th in means:
            values[i, j], state[i, j] = means[th], "complete"
        elif th in pruned:
            state[i, j] = "pruned"
    row_order, row_z, row_note = cluster_order(values, other="column")
    col_order, col_z, col_note = cluster_order(values.T, other="row")
    notes = [f"{axis}: {note}" for axis, note in (("rows", row_note), ("columns", col_note)) if note]
    notes += [f"{th} is not on the (T, L) × (M, H) product and is left out (see Table 3)" for th in left_out]
    if (state == "missing").any():
        n = int((state == "missing").sum())
        notes.append(f"{counted(n, 'cell')} {'has' if n == 1 else 'have'} no trial (not in the grid or not run yet)")
    if (state == "pruned").any():
        n = int((state == "pruned").sum())
        notes.append(f"{counted(n, 'cell')} {'holds' if n == 1 else 'hold'} only pruned trials")
    v = values[np.ix_(row_order, col_order)]
    usual_cell = None
    if results.usual is not None and results.usual in thetas:
        u = results.usual
        usual_cell = [row_order.index(ri[(u.n_mels, u.hop_length)]), col_order.index(ci[(u.segment, u.win_length)])]
    return {
        "rows": [list(rows[i]) for i in row_order], "columns": [list(cols[j]) for j in col_order],
        "values": [[None if np.isnan(x) else float(x) for x in line] for line in v],
        "state": state[np.ix_(row_order, col_order)].tolist(),
        "row_order": row_order, "col_order": col_order,
        "row_linkage": None if row_z is None else row_z.tolist(),
        "col_linkage": None if col_z is None else col_z.tolist(),
        "usual": means.get(results.usual) if results.usual is not None else None,
        "usual_on_map": usual_cell is not None, "usual_cell": usual_cell,
        "notes": notes,
    }


def marginal_effects(results: sr.StudyResults) -> dict:
    """Mean ± std (population) of the per-θ mean validation WA over every θ with a given value
    of one parameter, for M, L, H and T; θ left out of the heat map (a lone θ•) is left out
    here too and given as ``usual`` for reference. ``constant`` lists the parameters that take
    one value in every setting (the figure draws no panel for them)."""
    thetas, _ = heatmap_thetas(results)
    means = theta_means(results)
    doc = {}
    for field, symbol, unit in PARAMETERS:
        groups: dict = {}
        for th in thetas:
            if th in means:
                groups.setdefault(getattr(th, field), []).append(means[th])
        doc[symbol] = {"field": field, "unit": unit, "values": [
            {"value": k, "mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)}
            for k, v in sorted(groups.items())]}
    usual = means.get(results.usual) if results.usual is not None else None
    constant = [symbol for symbol, p in doc.items() if len(p["values"]) == 1]
    return {"parameters": doc, "usual": usual, "constant": constant}
