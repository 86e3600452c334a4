"""Any corpus sorted into one folder per class: ``<root>/<label>/**/<file>.wav``.

Folder names are the canonical labels or common synonyms (``angry/``,
``Happy/``, ``pleasant_surprise/`` ...). Speakers are not known (``"unknown"``),
so speaker-independent splits need a manifest instead.
"""

from __future__ import annotations

from pathlib import Path

from .base import (CANONICAL_LABELS, Scan, Skipped, Utterance, audio_files, canonical_label,
                   layout_error, register)

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
        utterances, skipped = [], []
        for path in audio_files(root):
            parts = path.relative_to(root).parts
            if len(parts) < 2:
                skipped.append(Skipped(str(path), "not inside a class folder; move it into the folder of its label"))
                continue
            label = canonical_label(parts[0])
            if label is None:
                skipped.append(Skipped(str(path), f"folder {parts[0]!r} is not an emotion label; rename it "
                                                  f"to one of: {', '.join(CANONICAL_LABELS)}"))
                continue
            utt_id = path.relative_to(root).with_suffix("").as_posix()
            utterances.append(Utterance(id=utt_id, path=path, label=label, speaker="unknown"))
        return Scan(utterances, skipped)


def _class_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and canonical_label(p.name)]
