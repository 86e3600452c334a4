"""The record type every corpus loader returns, and the loader registry.

A loader only knows a layout: which files exist under a root and what their
names say (label, speaker, ...). Reading audio headers for durations and
sorting out broken files happens once, here, for every layout alike.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple, Protocol

from ..errors import ConfigError, CorpusError

#: Canonical emotion labels (DESIGN.md contract). Loaders map their codes onto these.
CANONICAL_LABELS = (
    "anger", "boredom", "calm", "disgust", "fear",
    "happiness", "neutral", "sadness", "surprise",
)

#: File suffixes the loaders look for (lower case); soundfile decodes all of them.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

#: Common spellings of the canonical labels, as folder names and manifest labels use them.
LABEL_SYNONYMS = {
    "angry": "anger", "ang": "anger",
    "bored": "boredom", "bor": "boredom",
    "disgusted": "disgust", "dis": "disgust",
    "fearful": "fear", "afraid": "fear", "fea": "fear", "anxiety": "fear",
    "happy": "happiness", "hap": "happiness", "joy": "happiness",
    "neu": "neutral",
    "sad": "sadness",
    "surprised": "surprise", "sur": "surprise", "ps": "surprise",
    "pleasant_surprise": "surprise", "pleasant_surprised": "surprise",
}


@dataclass(frozen=True)
class Utterance:
    """One labelled recording.

    Attributes
    ----------
    id : str
        Unique within the corpus; split files and checkpoints refer to it.
    path : Path
        The audio file.
    label : str
        One of :data:`CANONICAL_LABELS`.
    speaker : str
        Speaker id as the corpus names it (``"03"``, ``"DC"``, ``"Ses01F"``).
    gender : str or None
        ``"f"``, ``"m"`` or None where the corpus does not say.
    session : str or None
        Recording session where the corpus has them (IEMOCAP), else None.
    duration : float or None
        Seconds, read from the file header by :func:`load_corpus`.
    """

    id: str
    path: Path
    label: str
    speaker: str
    gender: str | None = None
    session: str | None = None
    duration: float | None = None


@dataclass(frozen=True)
class Skipped:
    """A file that was found but not used, and why (never dropped silently)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: utterances in a stable order, plus what was skipped."""

    name: str
    root: Path
    utterances: tuple[Utterance, ...]
    skipped: tuple[Skipped, ...] = ()
    options: Mapping[str, object] = field(default_factory=dict)
    #: Recordings left out by design, not by fault: reason -> count (IEMOCAP's
    #: frustrated or scripted turns, a nested duplicate copy). Not in ``skipped``,
    #: which lists problems a user may want to fix.
    excluded: Mapping[str, int] = field(default_factory=dict)
    #: The ``sertune-synth.json`` marker of a corpus made by ``sertune synth`` (layout,
    #: seed, ...), or None for recordings of people. See :mod:`sertune.corpora.marker`.
    synthetic: Mapping[str, object] | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """Labels present in the corpus, in canonical order."""
        present = {u.label for u in self.utterances}
        return tuple(lab for lab in CANONICAL_LABELS if lab in present)

    def class_counts(self) -> dict[str, int]:
        counts = Counter(u.label for u in self.utterances)
        return {lab: counts[lab] for lab in self.classes}

    def speaker_counts(self) -> dict[str, int]:
        counts = Counter(u.speaker for u in self.utterances)
        return dict(sorted(counts.items()))

    def total_seconds(self) -> float:
        return float(sum(u.duration or 0.0 for u in self.utterances))


@dataclass(frozen=True)
class Scan:
    """What a layout scan found: candidate utterances and files it could not label."""

    utterances: list[Utterance]
    skipped: list[Skipped] = field(default_factory=list)
    excluded: Mapping[str, int] = field(default_factory=dict)


class Loader(Protocol):
    """A corpus layout. Implementations live one per module in this package."""

    name: str
    #: Options the loader accepts, with their defaults (unknown options are errors).
    defaults: Mapping[str, object]

    def detect(self, root: Path) -> bool:
        """True when ``root`` looks like this layout (cheap: directory names only)."""

    def scan(self, root: Path, **options: object) -> Scan:
        """List the utterances under ``root``; raise CorpusError if the layout is wrong."""


_REGISTRY: dict[str, Loader] = {}


def register(loader: Loader) -> Loader:
    """Add a loader to the registry under ``loader.name`` (used as a class decorator)."""
    instance = loader() if isinstance(loader, type) else loader
    if instance.name in _REGISTRY:
        raise RuntimeError(f"corpus loader {instance.name!r} registered twice")
    _REGISTRY[instance.name] = instance
    return loader


def registry() -> Mapping[str, Loader]:
    return dict(_REGISTRY)


def get_loader(name: str) -> Loader:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(f"unknown corpus {name!r}; choose one of: {known}") from None


def detect_layout(root: Path) -> str:
    """Name of the one layout ``root`` matches; CorpusError if none or several do."""
    # Generic layouts (csv manifest, folder-per-class) are tried last: they
    # would also match many specific corpora.
    specific = [n for n, ld in _REGISTRY.items() if not getattr(ld, "generic", False) and ld.detect(root)]
    if len(specific) == 1:
        return specific[0]
    if len(specific) > 1:
        raise CorpusError(
            f"{root} matches several corpus layouts ({', '.join(specific)}); "
            f"pick one with --corpus NAME"
        )
    generic = [n for n, ld in _REGISTRY.items() if getattr(ld, "generic", False) and ld.detect(root)]
    if len(generic) == 1:
        return generic[0]
    known = ", ".join(sorted(_REGISTRY))
    raise CorpusError(
        f"cannot tell the corpus layout of {root}: it matches "
        f"{'several' if generic else 'none'} of the known layouts ({known}). "
        f"Pass --corpus NAME; the Corpora table of sertune's README (details: docs/datasets.md in "
        f"its repository) shows the folder layout each expects"
    )


def check_root(root: str | Path) -> Path:
    """The root as a Path, or a CorpusError saying why it cannot be a corpus."""
    path = Path(root).expanduser()
    if not path.exists():
        raise CorpusError(f"corpus root {path} does not exist; pass the folder that holds the corpus")
    if path.is_file() and path.suffix.lower() == ".csv":
        return path  # a manifest (path,label[,speaker]) names its own files
    if not path.is_dir():
        raise CorpusError(
            f"corpus root {path} is a file, not a folder; pass the folder that holds the corpus "
            f"(or a .csv manifest with the header path,label[,speaker])"
        )
    if not any(path.iterdir()):
        raise CorpusError(f"corpus root {path} is empty; unpack the corpus there first")
    return path


def resolve_options(loader: Loader, options: Mapping[str, object] | None) -> dict[str, object]:
    """Loader defaults overridden by ``options``; unknown keys are ConfigErrors."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(loader.defaults))
    if unknown:
        allowed = ", ".join(sorted(loader.defaults)) or "none"
        raise ConfigError(
            f"corpus {loader.name!r} has no option {unknown[0]!r}; its options are: {allowed}"
        )
    return {**loader.defaults, **options}


def audio_files(root: Path) -> Iterable[Path]:
    """Every audio file under ``root``, sorted, skipping macOS ``._*`` resource forks."""
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith("._") and path.is_file():
            yield path


def decode_reason(exc: Exception) -> str:
    """Why soundfile (libsndfile) could not read a file, as a clause for a message of ours.

    The first line of the error, without the ``Error opening '<path>': `` prefix (the
    message names the path already) and without a final period (the message goes on):
    ``Format not recognised``.
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"^Error opening .*?: ", "", text).rstrip(". ")
    return text[:200] or type(exc).__name__


def dedupe_by(items: Iterable[Path], key: Callable[[Path], str]) -> list[Path]:
    """Keep the first path for each key.

    Corpus copies often nest a second copy of themselves (``AudioData/AudioData``,
    ``audio_speech_actors_01-24/Actor_01``); a recursive glob then finds every file
    twice. Paths are sorted, and the shallowest copy wins.
    """
    chosen: dict[str, Path] = {}
    for path in sorted(items, key=lambda p: (len(p.parts), str(p))):
        chosen.setdefault(key(path), path)
    return sorted(chosen.values())


def scan_files(files: Iterable[Path], read: Callable[[Path], Utterance | str], *,
               key: Callable[[Path], str] = str, duplicate: str | None = None) -> Scan:
    """The scan of a layout whose paths say everything: de-duplicate, read each file, skip with reasons.

    Parameters
    ----------
    files : iterable of Path
        The audio files found under the root.
    read : callable
        ``read(path)`` -> the :class:`Utterance` the file holds, or the reason (str)
        it cannot be used (not a name of the layout, unknown code, ...).
    key : callable
        The recording a file holds, for :func:`dedupe_by`: of files with one key only
        the shallowest is read. Default: every path is its own recording.
    duplicate : str or None
        What makes two files one recording (``"same file name found twice"``): the
        copies left out are counted in ``excluded["duplicate copy (<duplicate>)"]``.
        None leaves them uncounted.
    """
    files = list(files)
    kept = dedupe_by(files, key=key)
    excluded = {}
    if duplicate is not None and len(kept) < len(files):
        excluded[f"duplicate copy ({duplicate})"] = len(files) - len(kept)
    utterances, skipped = [], []
    for path in kept:
        got = read(path)
        if isinstance(got, Utterance):
            utterances.append(got)
        else:
            skipped.append(Skipped(str(path), got))
    return Scan(utterances, skipped, excluded)


class Name(NamedTuple):
    """What a corpus file's name says: the utterance id, the speaker and the emotion code."""

    id: str
    speaker: str
    code: str


def scan_names(files: Iterable[Path], parse: Callable[[Path], Name | str], *, corpus: str,
               codes: Mapping[str, str], gender: Mapping[str, str], key: Callable[[Path], str] | None = None,
               duplicate: str | None = None, fold: Callable[[str], str] | None = None,
               known: str | None = None, what: str = "emotion code") -> Scan:
    """:func:`scan_files` for a layout whose file names hold id, speaker and an emotion code.

    Parameters
    ----------
    files : iterable of Path
    parse : callable
        ``parse(path)`` -> the :class:`Name` of a file of the layout, or the reason (str) it is not one.
    corpus : str
        The corpus as messages name it (``"SAVEE"``).
    codes : mapping
        Emotion code -> canonical label. A file with any other code is skipped:
        ``unknown SAVEE emotion code 'x' (known: a, d, ...)``.
    gender : mapping
        Speaker -> ``"m"``/``"f"``; a speaker not in it has gender None.
    key : callable, optional
        Recording identity for de-duplication; default the parsed id (a file that does
        not parse is its own recording).
    duplicate : str, optional
        As for :func:`scan_files`.
    fold : callable, optional
        Applied to a code before the look-up (e.g. ``str.upper``); messages show the code as written.
    known, what : str
        The known codes and what a code is, as the message says them (default: ``codes``
        listed with commas; ``"emotion code"``).
    """
    def read(path: Path) -> Utterance | str:
        name = parse(path)
        if isinstance(name, str):
            return name
        label = codes.get(fold(name.code) if fold else name.code)
        if label is None:
            listed = ", ".join(codes) if known is None else known
            return f"unknown {corpus} {what} {name.code!r} (known: {listed})"
        return Utterance(id=name.id, path=path, label=label, speaker=name.speaker,
                         gender=gender.get(name.speaker))

    def parsed_id(path: Path) -> str:
        name = parse(path)
        return name.id if isinstance(name, Name) else str(path)

    return scan_files(files, read, key=key or parsed_id, duplicate=duplicate)


def with_duration(utt: Utterance, duration: float) -> Utterance:
    return dataclasses.replace(utt, duration=duration)


def canonical_label(text: str) -> str | None:
    """The canonical label a folder name or manifest label stands for, or None.

    Case, surrounding blanks and ``-``/space vs ``_`` do not matter:
    ``"Angry"``, ``"pleasant surprise"`` and ``"neu"`` are understood.
    """
    key = re.sub(r"[\s\-]+", "_", text.strip().lower())
    return key if key in CANONICAL_LABELS else LABEL_SYNONYMS.get(key)


def find_dirs(root: Path, match: Callable[[str], bool], max_depth: int = 3) -> list[Path]:
    """Folders at most ``max_depth`` levels below ``root`` whose name satisfies ``match``.

    Layout detection runs every loader's ``detect`` on the root, so it must stay
    cheap on a 10,000-file corpus: it descends through folders only, never into
    a match, and ignores hidden folders and macOS ``__MACOSX`` zip debris.
    """
    found: list[Path] = []
    level = [root] if root.is_dir() else []
    for _ in range(max_depth):
        below = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:  # unreadable folder: detection must not crash on it
                continue
            for entry in entries:
                if entry.name.startswith(".") or entry.name == "__MACOSX" or not entry.is_dir():
                    continue
                (found if match(entry.name) else below).append(Path(entry.path))
        level = below
    return found


def layout_error(root: Path, corpus: str, expected: str) -> CorpusError:
    """The error for a root that is not laid out as the requested corpus."""
    return CorpusError(
        f"{root} does not look like {corpus}: expected {expected}. "
        f"Check ROOT, or leave out --corpus to detect the layout"
    )
