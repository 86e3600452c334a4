"""K repetitions of one θ: the unit ``sertune train`` runs and ``sertune search`` repeats.

Stages talk through plain data: a decoded corpus (:class:`Prepared`), splits
(lists of ids), :class:`~sertune.dataset.SegmentData` for θ, and the
:class:`~sertune.train.RunResult` of each repetition.
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from . import __version__
from .audio import SAMPLE_RATE, decode_corpus
from .checkpoint import save_checkpoint
from .corpora import Corpus
from .dataset import SegmentData, Theta, build_segments
from .errors import ConfigError
from .metrics import METRICS, mean_std
from .splits import Split, make_splits
from .train import RunResult, TrainConfig, fit, rep_seed


@dataclass(frozen=True)
class Prepared:
    """A decoded corpus with integer labels (index into ``classes``)."""

    corpus: Corpus
    waves: list[np.ndarray]
    classes: tuple[str, ...]
    labels: np.ndarray

    @property
    def ids(self) -> list[str]:
        return [u.id for u in self.corpus.utterances]


def prepare(corpus: Corpus, *, cache_dir: str | Path | None = None, progress: bool = True) -> Prepared:
    """Decode (or read from the cache) every utterance and index the labels."""
    corpus, waves = decode_corpus(corpus, sample_rate=SAMPLE_RATE, cache_dir=cache_dir, progress=progress)
    classes = corpus.classes
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[u.label] for u in corpus.utterances], dtype=np.int64)
    return Prepared(corpus, waves, classes, labels)


def utterance_splits(prepared: Prepared, *, protocol: str, reps: int | None, seed: int) -> list[Split]:
    """Utterance-level splits: the same for every θ, so θs are compared on the same data."""
    utts = prepared.corpus.utterances
    return make_splits(protocol, ids=prepared.ids, labels=[u.label for u in utts],
                       speakers=[u.speaker for u in utts], sessions=[u.session for u in utts],
                       reps=reps, seed=seed)


def segment_splits(data: SegmentData, prepared: Prepared, *, reps: int | None, seed: int) -> list[Split]:
    """The reference code's split of segments (segments of an utterance may land in train and test)."""
    labels = [prepared.classes[i] for i in data.labels.cpu().numpy()]
    return make_splits("shuffle-split", ids=list(data.segment_ids), labels=labels,
                       speakers=[""] * len(labels), sessions=[None] * len(labels), reps=reps, seed=seed)


def summarize(results: Sequence[RunResult], *, level: str = "utterance") -> dict:
    """Mean ± std over repetitions of every metric, for val and test, at ``level``."""
    return {part: {m: mean_std(getattr(r, part)[level][m] for r in results) for m in METRICS}
            for part in ("test", "val")}


def environment() -> dict:
    """Versions and machine, saved with every result."""
    return {"sertune": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "platform": platform.platform()}


def run_theta(prepared: Prepared, theta: Theta, *, splits: Sequence[Split] | None, config: TrainConfig,
              protocol: str, unit: str, reps: int | None, seed: int, device: torch.device,
              remainder: str = "drop", out: Path | None = None,
              progress: bool = True) -> tuple[dict, list[Split]]:
    """Train and evaluate θ on every split; write checkpoints and split files under ``out``.

    Returns the ``metrics.json`` document (``{"theta", "summary", "reps", ...}``) and the splits used.
    """
    data = build_segments(prepared.waves, prepared.labels, prepared.ids, theta, device=device,
                          remainder=remainder)
    if splits is None:
        splits = (segment_splits(data, prepared, reps=reps, seed=seed) if unit == "segment"
                  else utterance_splits(prepared, protocol=protocol, reps=reps, seed=seed))
    results = []
    for r, split in enumerate(splits):
        bar = tqdm(total=config.epochs, desc=f"rep {r + 1}/{len(splits)} [{theta}]", unit="epoch",
                   disable=not progress, file=sys.stderr, leave=True)
        with bar:
            result = fit(data, split, n_classes=len(prepared.classes), config=config,
                         seed=rep_seed(seed, r), unit=unit, progress=bar)
        results.append(result)
        if out is not None:
            save_checkpoint(out / f"rep{r}" / "model.pt", state_dict=result.state_dict, theta=theta,
                            classes=prepared.classes, mean=result.mean, std=result.std,
                            sample_rate=SAMPLE_RATE, remainder=remainder,
                            info={"split": split.name, "rep": r, "val": result.val, "test": result.test,
                                  "corpus": prepared.corpus.name})
    level = "segment" if unit == "segment" else "utterance"
    doc = {
        "theta": theta.as_dict(), "level": level, "classes": list(prepared.classes),
        "summary": summarize(results, level=level),
        "reps": [r.summary() | {"rep": i} for i, r in enumerate(results)],
        "segments": {"count": len(data), "mode": data.mode},
    }
    if out is not None:
        best = int(np.argmax([r.val[level]["wa"] for r in results]))
        (out / "model.pt").write_bytes((out / f"rep{best}" / "model.pt").read_bytes())
        doc["selected_rep"] = best
    return doc, list(splits)


def check_out_dir(out: Path, *, marker: str = "metrics.json") -> Path:
    """An output folder that does not already hold results (results are never overwritten)."""
    out = Path(out)
    if (out / marker).exists():
        raise ConfigError(f"{out} already holds results ({marker}); pass a new --out folder "
                          f"or delete the old one")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; pass a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_jsonable))
    tmp.replace(path)


def _jsonable(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
