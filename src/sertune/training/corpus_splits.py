"""The splits of a prepared corpus under a protocol: by utterance, or by segment as the reference code.

Utterance splits are the same for every θ, so θs are compared on the same data;
segment splits reproduce the reference code (segments of one utterance may land
in train and test). Both are :class:`~sertune.corpora.splits.Split` lists from
:func:`~sertune.corpora.splits.make_splits`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..corpora.splits import Split, make_splits

if TYPE_CHECKING:
    from .dataset import SegmentData
    from ..features.prepared import Prepared


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
