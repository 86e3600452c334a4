"""Decode audio files to 16 kHz mono float32, and cache a decoded corpus.

Any format soundfile (libsndfile) reads is accepted: WAV of any sample width,
with extra chunks before ``data`` (RAVDESS), FLAC, OGG. Channels are averaged,
and the rate converted with soxr, the resampler made for this (band-limited,
fast); nothing here is written by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

from ..corpora import Corpus, Skipped
from ..corpora.base import decode_reason
from ..errors import AudioError

#: The rate every stage after decoding works at (the paper's 16 kHz).
SAMPLE_RATE = 16000

#: Bump when the decoded output of the same file would change (invalidates caches).
_CACHE_VERSION = 1


def load_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode one file to a mono float32 waveform at ``sample_rate`` Hz.

    Parameters
    ----------
    path : str or Path
        Any file soundfile reads (WAV, FLAC, OGG, ...).
    sample_rate : int
        Target rate in Hz; the file is resampled with soxr (HQ) if it differs.

    Returns
    -------
    np.ndarray, shape (samples,), float32

    Raises
    ------
    AudioError
        The file is missing, not audio, truncated beyond reading, or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports bad files with several exception types
        raise AudioError(f"cannot decode {path}: {decode_reason(exc)}. Check that it is a WAV/FLAC/OGG "
                         f"audio file and not truncated (re-copy it from the corpus archive)") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path} holds no samples (zero-length audio); remove it or re-copy it")
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def default_cache_dir() -> Path:
    """``$SERTUNE_CACHE`` or ``~/.cache/sertune``."""
    env = os.environ.get("SERTUNE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sertune"


def decode_corpus(
    corpus: Corpus,
    *,
    sample_rate: int = SAMPLE_RATE,
    cache_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[Corpus, list[np.ndarray]]:
    """Decode every utterance of a corpus, using and filling an on-disk cache.

    The first load decodes and resamples each file and stores all waveforms in
    one float32 file; later loads of the same files (same paths, sizes and
    modification times) memory-map it instead, which takes a fraction of the time.

    Parameters
    ----------
    corpus : Corpus
        From :func:`sertune.corpora.load_corpus`.
    sample_rate : int
        Rate of the returned waveforms in Hz.
    cache_dir : str or Path, optional
        Where caches live (default :func:`default_cache_dir`). A cache that
        cannot be written is not an error: the corpus is decoded again next time.
    progress : bool
        Show a progress bar on stderr while decoding.

    Returns
    -------
    corpus : Corpus
        The input, less utterances that failed to decode; those are added to
        ``corpus.skipped`` with the reason (nothing is dropped silently).
    waves : list of np.ndarray, float32, shape (samples,)
        One per remaining utterance, in ``corpus.utterances`` order.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(corpus, sample_rate)
    cached = _read_cache(cache / "waveforms" / key)
    if cached is not None:
        keep_ids, skipped, waves = cached
        by_id = {u.id: u for u in corpus.utterances}
        kept = tuple(by_id[i] for i in keep_ids)
        extra = tuple(Skipped(p, r) for p, r in skipped)
        return replace(corpus, utterances=kept, skipped=corpus.skipped + extra), waves

    waves, kept, failed = [], [], []
    bar = tqdm(corpus.utterances, desc=f"decoding {corpus.name}", unit="file",
               disable=not progress, file=sys.stderr, leave=False)
    for utt in bar:
        try:
            waves.append(load_audio(utt.path, sample_rate=sample_rate))
            kept.append(utt)
        except AudioError as exc:
            failed.append(Skipped(str(utt.path), str(exc)))
    _write_cache(cache / "waveforms" / key, [u.id for u in kept], failed, waves)
    return replace(corpus, utterances=tuple(kept), skipped=corpus.skipped + tuple(failed)), waves


def _cache_key(corpus: Corpus, sample_rate: int) -> str:
    """Hash of everything the decoded output depends on."""
    h = hashlib.sha256(f"v{_CACHE_VERSION}:{sample_rate}".encode())
    for utt in corpus.utterances:
        st = utt.path.stat()
        h.update(f"\0{utt.id}\0{utt.path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _write_cache(folder: Path, ids: list[str], failed: list[Skipped], waves: list[np.ndarray]) -> None:
    """Write atomically: a crash mid-write leaves no half cache behind."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.with_name(folder.name + f".tmp{os.getpid()}")
        tmp.mkdir(exist_ok=True)
        lengths = np.array([len(w) for w in waves], dtype=np.int64)
        flat = np.concatenate(waves) if waves else np.zeros(0, np.float32)
        np.save(tmp / "samples.npy", flat)
        np.save(tmp / "lengths.npy", lengths)
        meta = {"ids": ids, "failed": [[s.path, s.reason] for s in failed]}
        (tmp / "meta.json").write_text(json.dumps(meta))
        os.replace(tmp, folder)
    except OSError:
        # A read-only or full cache folder must not stop the work: decoding
        # simply happens again next time.
        pass


def _read_cache(folder: Path):
    try:
        meta = json.loads((folder / "meta.json").read_text())
        flat = np.load(folder / "samples.npy", mmap_mode="r")
        lengths = np.load(folder / "lengths.npy")
    except (OSError, ValueError):
        return None
    ends = np.cumsum(lengths)
    waves = [np.asarray(flat[e - n:e]) for e, n in zip(ends, lengths)]
    return meta["ids"], meta["failed"], waves
