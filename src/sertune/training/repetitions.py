"""K repetitions of one θ: the unit ``sertune train`` runs and ``sertune search`` repeats.

:func:`run_theta` trains and evaluates θ on every split, writes each
repetition's checkpoint (and the best one's as ``model.pt``) and returns the
``metrics.json`` document; :func:`summarize` is its mean ± std over repetitions.
Stages talk through plain data: a :class:`~sertune.features.prepared.Prepared` corpus,
splits (lists of ids), :class:`~sertune.training.dataset.SegmentData` for θ, and the
:class:`~sertune.training.fit.RunResult` of each repetition.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..features.audio import SAMPLE_RATE
from .checkpoint import save_checkpoint
from .corpus_splits import segment_splits, utterance_splits
from .dataset import SegmentData, build_segments
from .metrics import METRICS, mean_std
from ..features.prepared import Prepared
from ..corpora.splits import Split
from ..features.theta import Theta
from ..errors import ConfigError
from .fit import RunResult, TrainConfig, fit, restart_seed


def summarize(results: Sequence[RunResult], *, level: str = "utterance") -> dict:
    """Mean ± std over repetitions of every metric, for val and test, at ``level``."""
    return {part: {m: mean_std(getattr(r, part)[level][m] for r in results) for m in METRICS}
            for part in ("test", "val")}


def run_theta(prepared: Prepared, theta: Theta, *, splits: Sequence[Split] | None, config: TrainConfig,
              protocol: str, unit: str, reps: int | None, seed: int, device: torch.device,
              remainder: str = "drop", out: Path | None = None, progress: bool = True,
              cpu_share=None, log=None, restarts: int = 1) -> tuple[dict, list[Split]]:
    """Train and evaluate θ on every split; write checkpoints and split files under ``out``.

    ``cpu_share`` (a :class:`~sertune.training.devices.CpuShare`, on a CPU) adjusts the thread
    count after every epoch to the cores other processes leave, as search workers do.
    ``log`` (a callable taking a line) is told what runs where.

    ``restarts`` = N trains θ N times per split with different seeds (restart 0 is the
    repetition's own seed, :func:`~sertune.training.fit.restart_seed`) and keeps the one with
    the best validation WA, exactly as a search picks θ_r* among its settings: the restart
    control, which measures how much picking the best of N trainings adds to one training.
    Then ``reps`` holds the kept restart of each split, and ``restarts`` what one training
    scores on average (``mean``) and the best-by-validation pick (``best``), with every run.

    Returns the ``metrics.json`` document (``{"theta", "summary", "reps", ...}``) and the splits used.
    """
    check_restarts(restarts)
    data = build_segments(prepared.waves, prepared.labels, prepared.ids, theta, device=device,
                          remainder=remainder)
    if splits is None:
        splits = (segment_splits(data, prepared, reps=reps, seed=seed) if unit == "segment"
                  else utterance_splits(prepared, protocol=protocol, reps=reps, seed=seed))
    if log is not None and len(splits) > 1:
        log(f"{len(splits)} repetitions one after the other on {device}")
    adjust = None if cpu_share is None else _Threads(cpu_share)
    level = "segment" if unit == "segment" else "utterance"
    runs = [_one_at_a_time(data, splits, n_classes=len(prepared.classes), config=config, seed=seed, unit=unit,
                           progress=progress, adjust=adjust, label=str(theta), restart=i, restarts=restarts)
            for i in range(restarts)]                                      # runs[i][r]
    kept = [max(range(restarts), key=lambda i: (runs[i][r].val[level]["wa"], -i)) for r in range(len(splits))]
    results = [runs[kept[r]][r] for r in range(len(splits))]
    if out is not None:
        for r, (split, result) in enumerate(zip(splits, results)):
            _save_rep(out / f"rep{r}" / "model.pt", result, rep=r, split=split, theta=theta,
                      prepared=prepared, remainder=remainder)
    doc = {
        "theta": theta.as_dict(), "level": level, "classes": list(prepared.classes),
        "summary": summarize(results, level=level),
        "reps": [r.summary() | {"rep": i} | ({"restart": kept[i]} if restarts > 1 else {})
                 for i, r in enumerate(results)],
        "segments": {"count": len(data), "mode": data.mode},
    }
    if restarts > 1:
        doc["restarts"] = restart_summary(runs, kept, level=level)
    if device.type == "cpu":      # the thread counts change the float rounding: say which ran
        doc["threads"] = sorted(adjust.seen) if adjust is not None and adjust.seen else [torch.get_num_threads()]
    if out is not None:
        doc["selected_rep"] = _select_best(out, results, level=level)
    return doc, list(splits)


class _Threads:
    """``cpu_share.adjust`` after an epoch, remembering every thread count it set."""

    def __init__(self, cpu_share) -> None:
        self.cpu_share, self.seen = cpu_share, set()

    def __call__(self, *_) -> None:
        threads = self.cpu_share.adjust()
        if isinstance(threads, int):
            self.seen.add(threads)


def _one_at_a_time(data: SegmentData, splits: Sequence[Split], *, n_classes: int, config: TrainConfig,
                   seed: int, unit: str, progress: bool, adjust, label: str, restart: int = 0,
                   restarts: int = 1) -> list[RunResult]:
    """Repetition r is ``fit(seed=restart_seed(seed, r, restart))``, one after the other, a bar each."""
    results = []
    which = f" restart {restart + 1}/{restarts}" if restarts > 1 else ""
    for r, split in enumerate(splits):
        bar = tqdm(total=config.epochs, desc=f"rep {r + 1}/{len(splits)}{which} [{label}]", unit="epoch",
                   disable=not progress, file=sys.stderr, leave=True)
        with bar:
            results.append(fit(data, split, n_classes=n_classes, config=config,
                               seed=restart_seed(seed, r, restart), unit=unit, progress=bar, on_epoch=adjust))
    return results


def check_restarts(restarts) -> int:
    """``restarts`` if it is a positive integer, else a ConfigError that says so."""
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ConfigError(f"restarts={restarts!r} must be a positive integer: how many times each repetition "
                          f"is trained with another seed (1: once, no restart control)")
    return restarts


def restart_summary(runs: Sequence[Sequence[RunResult]], kept: Sequence[int], *, level: str) -> dict:
    """The restart control of ``metrics.json``: what one training scores (the mean over restarts of
    each repetition, then mean ± std over repetitions) against the best-by-validation restart
    (``best``), with every run's validation and test WA and UA (``runs[r][i]``)."""
    n, reps = len(runs), len(kept)

    def score(result: RunResult, part: str, metric: str) -> float:
        return getattr(result, part)[level][metric]

    mean = {part: {m: mean_std(float(np.mean([score(runs[i][r], part, m) for i in range(n)])) for r in range(reps))
                   for m in ("wa", "ua")} for part in ("val", "test")}
    best = {part: {m: mean_std(score(runs[kept[r]][r], part, m) for r in range(reps)) for m in ("wa", "ua")}
            for part in ("val", "test")}
    table = [[{"restart": i, "seed": runs[i][r].seed, "best_epoch": runs[i][r].best_epoch,
               **{f"{part}_{m}": score(runs[i][r], part, m) for part in ("val", "test") for m in ("wa", "ua")}}
              for i in range(n)] for r in range(reps)]
    return {"n": n, "kept": list(kept), "mean": mean, "best": best, "runs": table}


def _save_rep(path: Path, result: RunResult, *, rep: int, split: Split, theta: Theta, prepared: Prepared,
              remainder: str) -> None:
    """One repetition's checkpoint, with its split, scores and corpus."""
    save_checkpoint(path, state_dict=result.state_dict, theta=theta, classes=prepared.classes,
                    mean=result.mean, std=result.std, sample_rate=SAMPLE_RATE, remainder=remainder,
                    info={"split": split.name, "rep": rep, "val": result.val, "test": result.test,
                          "corpus": prepared.corpus.name})


def _select_best(out: Path, results: Sequence[RunResult], *, level: str) -> int:
    """Copy the checkpoint of the repetition with the best validation WA to ``out/model.pt``; its index."""
    best = int(np.argmax([r.val[level]["wa"] for r in results]))
    (out / "model.pt").write_bytes((out / f"rep{best}" / "model.pt").read_bytes())
    return best
