"""A decoded corpus with integer labels: what training and search read, decoded once.

:func:`prepare` decodes (or reads from the cache) every utterance of a
:class:`~sertune.corpora.Corpus` and indexes its labels; the result,
:class:`Prepared`, is the plain data every later stage takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, decode_corpus
from ..corpora import Corpus


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
