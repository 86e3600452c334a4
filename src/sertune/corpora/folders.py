"""Any corpus sorted into one folder per class: ``<root>/<label>/**/<file>.wav``.

Folder names are the canonical labels or common synonyms (``angry/``,
``Happy/``, ``pleasant_surprise/`` ...). Speakers are not known (``"unknown"``),
so speaker-independent splits need a manifest instead.
"""

from __future__ import annotations

from pathlib import Path

from .base import CANONICAL_LABELS, Scan, Utterance, audio_files, canonical_label, layout_error, register, scan_files

EXPECTED = "one subfolder per class named after its label (anger/, happiness/, neutral/, ...) with audio inside"


@register
class Folders:
    name = "folders"
    generic = True  # tried only when no specific layout matches
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        # Two classes at least: one folder called "neutral" does not make a corpus.
        return len(_class_dirs(root)) >= 2

    def scan(self, root: Path) -> Scan:
        if not _class_dirs(root):
            raise layout_error(root, "a folder-per-class corpus", EXPECTED)
        return scan_files(audio_files(root), lambda path: _utterance(path, root))


def _utterance(path: Path, root: Path) -> Utterance | str:
    """The utterance of a file in the class folder under ``root``, or why it is skipped."""
    parts = path.relative_to(root).parts
    if len(parts) < 2:
        return "not inside a class folder; move it into the folder of its label"
    label = canonical_label(parts[0])
    if label is None:
        return f"folder {parts[0]!r} is not an emotion label; rename it to one of: {', '.join(CANONICAL_LABELS)}"
    return Utterance(id=path.relative_to(root).with_suffix("").as_posix(), path=path, label=label,
                     speaker="unknown")


def _class_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and canonical_label(p.name)]
