"""What a search worker trains on: the search's corpus, checked, and the features of the θs it holds."""

from __future__ import annotations

from typing import Sequence

from ...corpora import load_corpus
from ...training.dataset import build_segments
from ...errors import ConfigError
from ...features.prepared import Prepared, prepare
from ...corpora.splits import Split
from ...features.theta import Theta
from ..store.claims import Claim, ClaimBook


def load_search_corpus(meta: dict, splits: Sequence[Split], *, cache_dir) -> Prepared:
    """The corpus the search was created on (``meta["corpus"]``), decoded; ConfigError when it has
    other classes or lacks an utterance of the search's splits (every worker needs the same corpus)."""
    c = meta["corpus"]
    corpus = load_corpus(c["root"], c["name"], **c["options"])
    prepared = prepare(corpus, cache_dir=cache_dir, progress=False)
    if tuple(prepared.classes) != tuple(meta["classes"]):
        raise ConfigError(f"the corpus at {c['root']} has classes {list(prepared.classes)}, but the "
                          f"search was created with {meta['classes']}; point the worker at the same corpus")
    known = set(prepared.ids)
    missing = [i for s in splits for part in (s.train, s.val, s.test) for i in part if i not in known]
    if missing:
        raise ConfigError(f"{len(missing)} utterances of the search's splits are not in the corpus at "
                          f"{c['root']} (e.g. {missing[0]!r}); every worker needs the same corpus")
    return prepared


class FeatureCache:
    """The SegmentData of the θs a worker holds, computed once for all their repetitions."""

    def __init__(self, prepared: Prepared, book: ClaimBook, *, device, remainder: str) -> None:
        self.prepared, self.book, self.device, self.remainder = prepared, book, device, remainder
        self._held: dict[str, object] = {}

    def get(self, claim: Claim, theta: Theta):
        """θ's SegmentData in the feature store the first holder of θ chose (recorded with the
        claim, so that every (θ, r) of a search computes the same numbers). A θ not held yet
        frees the others first.
        """
        if claim.key not in self._held:
            self._held.clear()
            p = self.prepared
            data = build_segments(p.waves, p.labels, p.ids, theta, device=self.device,
                                  remainder=self.remainder, mode=claim.store or "auto")
            if claim.store is None:
                self.book.set_store(claim, data.mode)
            self._held[claim.key] = data
        return self._held[claim.key]
