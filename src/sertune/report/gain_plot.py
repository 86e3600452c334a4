"""The where-the-gain-comes-from figure: one training, the best of N restarts, θ_r*, θ_r* elsewhere."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .drawing import png

COLOURS = ("0.55", "tab:purple", "tab:blue", "tab:cyan")


def gain_figure(gain: dict, *, subtitle: str) -> bytes:
    """Test WA of the four rows of :mod:`.gain` (bars: mean, whiskers: ± std over repetitions), each
    repetition a dot, the dots of one repetition joined by a grey line."""
    rows = gain["rows"]
    fig = Figure(figsize=(8.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    per_rep = np.array([[np.nan if v is None else v for v in row["per_rep"]] for row in rows])   # (4, reps)
    for r in range(per_rep.shape[1]):
        ax.plot(x, per_rep[:, r], "-o", color="0.3", lw=0.5, ms=3, alpha=0.6, zorder=3)
    for i, row in enumerate(rows):
        if row["test_wa"] is None:
            continue
        mean, std = row["test_wa"]["mean"], row["test_wa"]["std"]
        ax.bar(i, mean, yerr=std, color=COLOURS[i], alpha=0.8, capsize=4, width=0.6, zorder=2)
        # The label sits above everything drawn in its column: the whisker and every repetition's dot.
        top = max(mean + std, np.nanmax(per_rep[i]) if np.isfinite(per_rep[i]).any() else mean)
        ax.annotate(f"{mean:.1f}" + ("" if i == 0 else f" ({row['gain']['mean']:+.1f})"), (i, top), xytext=(0, 5),
                    textcoords="offset points", ha="center", va="bottom", fontsize=8.5, zorder=4,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
    ax.set_ylim(0, np.nanmax(per_rep) * 1.18 if np.isfinite(per_rep).any() else None)
    ax.set_xticks(x, [row["label"].replace(" (", "\n(").replace(", best", ",\nbest") for row in rows], fontsize=7.5)
    ax.set_ylabel("test WA (%)")
    ax.set_title(f"Where the gain comes from: {gain['name']} restarted {gain['restarts']} times against "
                 f"the best of {gain['settings']} settings, on {len(gain['reps'])} repetitions", fontsize=9.5)
    fig.suptitle(subtitle, fontsize=8, color="0.3")
    return png(fig)
