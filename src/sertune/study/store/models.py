"""The model files of a search: the best model of each repetition so far, and the selected ones.

While a search runs, a finished training whose validation WA beats every
finished trial of its repetition saves its best-epoch model under
``OUT/models/rep{r}/{θ key}.pt``; when the search ends, each repetition's θ_r*
model is copied to ``OUT/selected/rep{r}.pt`` and the best of all to ``OUT/model.pt``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import optuna
from optuna.trial import TrialState

from ...training.checkpoint import save_checkpoint
from ...features.theta import Theta
from ...training.fit import RunResult


def save_if_best(out: Path, study: optuna.Study, number: int, value: float, *, theta: Theta, key: str,
                 rep: int, result: RunResult, meta: dict) -> str | None:
    """Save the model of trial ``number`` if it beats every finished trial of its repetition so far.

    "Beats" is the selection's own order (higher value, then lower trial number on
    ties), so the θ_r* a report selects always has its model, whatever order
    concurrent workers finish in. Returns the path relative to ``out``, or None.
    """
    best = max(((t.value, -t.number) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.number != number), default=(-math.inf, 0))
    if (value, -number) <= best:
        return None
    rel = Path("models") / f"rep{rep}" / f"{key}.pt"
    save_checkpoint(Path(out) / rel, state_dict=result.state_dict, theta=theta,
                    classes=tuple(meta["classes"]), mean=result.mean, std=result.std,
                    sample_rate=16000, remainder=meta["settings"]["remainder"],
                    info={"search": meta["search"], "rep": rep, "trial": number,
                          "val": result.val, "test": result.test, "corpus": meta["corpus"]["name"]})
    return str(rel)


def collect_selected(reps: list[dict], out: Path) -> list[dict]:
    """Copy each repetition's winning model to ``out/selected/rep{r}.pt`` and the best of all
    to ``out/model.pt``; returns what was copied (``model`` None where no file was found).

    ``reps`` are the ``reps`` rows of :class:`~sertune.study.search.progress.Progress`.
    """
    rows = []
    for rep in reps:
        best = rep.get("best")
        if not best:
            continue
        model = best.get("model")
        src = out / model if model else None
        row = {"rep": rep["rep"], "theta": best["theta"], "value": best["value"], "model": None}
        if src is not None and src.is_file():
            dst = out / "selected" / f"rep{rep['rep']}.pt"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
            row["model"] = str(dst.relative_to(out))
        rows.append(row)
    saved = [r for r in rows if r["model"]]
    if saved:
        top = max(saved, key=lambda r: r["value"])
        shutil.copyfile(out / top["model"], out / "model.pt")
    return rows
