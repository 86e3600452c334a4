"""Corpus loaders: one module per on-disk layout, all returning :class:`Corpus`.

>>> corpus = load_corpus("/data/emodb")            # layout autodetected
>>> corpus = load_corpus("/data/IEMOCAP_full_release", "iemocap", subset="all")
"""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from ..errors import CorpusError
# Modules register their loaders on import; generic layouts (manifest, folders) last.
from . import cremad, emodb, iemocap, ravdess, savee, tess  # noqa: F401  (imported to register their loaders)
from . import folders, manifest  # noqa: F401  (registered last: they would claim any folder)
from .base import (
    CANONICAL_LABELS,
    Corpus,
    Skipped,
    Utterance,
    check_root,
    decode_reason,
    detect_layout,
    get_loader,
    registry,
    resolve_options,
    with_duration,
)
from .marker import read_marker

__all__ = [
    "CANONICAL_LABELS", "Corpus", "Skipped", "Utterance",
    "load_corpus", "registry", "probe",
]


def probe(path: Path) -> float:
    """Duration of an audio file in seconds from its header; CorpusError-free.

    Raises
    ------
    ValueError
        With a readable reason when the file is not decodable audio or holds no samples.
    """
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises several types for bad files
        raise ValueError(f"not a readable audio file ({decode_reason(exc)})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise ValueError("zero-length audio (no samples)")
    return info.frames / info.samplerate


def load_corpus(root: str | Path, corpus: str | None = None, **options: object) -> Corpus:
    """Find and label every utterance of a corpus on disk.

    Parameters
    ----------
    root : str or Path
        The folder the corpus was unpacked into.
    corpus : str, optional
        Layout name (``emodb``, ``savee``, ``iemocap``, ...); autodetected when None.
    **options
        Layout options, e.g. ``subset="all"`` or ``merge_excited=False`` for IEMOCAP.

    Returns
    -------
    Corpus
        Utterances sorted by id, each with its duration; files that were found but
        cannot be used are listed in ``Corpus.skipped`` with the reason. A corpus
        written by ``sertune synth`` carries its marker in ``Corpus.synthetic``.

    Raises
    ------
    CorpusError
        The root is missing, empty, of another layout, or holds no usable audio.
    """
    path = check_root(root)
    name = corpus or detect_layout(path)
    loader = get_loader(name)
    resolved = resolve_options(loader, options)
    scan = loader.scan(path, **resolved)
    utterances: list[Utterance] = []
    skipped: list[Skipped] = list(scan.skipped)
    for utt in scan.utterances:
        try:
            utterances.append(with_duration(utt, probe(utt.path)))
        except ValueError as exc:
            skipped.append(Skipped(str(utt.path), str(exc)))
    if not utterances:
        detail = f"; first problem: {skipped[0].path}: {skipped[0].reason}" if skipped else ""
        raise CorpusError(
            f"no usable {name} utterances under {path}{detail}. "
            f"Check that the folder holds the corpus audio in the layout the Corpora table of sertune's "
            f"README shows (details: docs/datasets.md in its repository)"
        )
    ids = [u.id for u in utterances]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise CorpusError(f"utterance id {dup!r} occurs twice under {path}; remove the duplicate copy")
    utterances.sort(key=lambda u: u.id)
    skipped.sort(key=lambda s: s.path)
    return Corpus(name, path, tuple(utterances), tuple(skipped), resolved, dict(sorted(scan.excluded.items())),
                  synthetic=read_marker(path))
