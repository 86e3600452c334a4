"""Any corpus, described by a CSV manifest: ``path,label[,speaker]``.

ROOT is the CSV file itself, or a folder holding exactly one CSV with that
header. Paths are absolute or relative to the CSV's folder; labels are the
canonical ones or common synonyms (``angry``, ``happy``, ``sad``, ``ps``, ...).
Without a speaker column (or with an empty cell) the speaker is the name of
the file's parent folder as the row writes it, else ``"unknown"``.

>>> # clips.csv:  path,label,speaker
>>> #             spk1/a.wav,angry,spk1
>>> corpus = load_corpus("clips.csv")
"""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import CorpusError
from .base import CANONICAL_LABELS, Scan, Skipped, Utterance, canonical_label, register

HEADER = "path,label[,speaker]"


@register
class Manifest:
    name = "manifest"
    generic = True  # tried only when no specific layout matches
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        try:
            find_manifest(root)
        except CorpusError:
            return False
        return True

    def scan(self, root: Path) -> Scan:
        table = find_manifest(root)
        utterances, skipped = [], []
        first_row: dict[Path, int] = {}
        for line, cells in _rows(table):
            raw = cells.get("path", "").strip()
            if not raw:
                skipped.append(Skipped(f"{table}:{line}", "row has no path"))
                continue
            path = _resolve(raw, table)
            text = cells.get("label", "")
            label = canonical_label(text)
            if label is None:
                skipped.append(Skipped(str(path), (
                    f"label {text.strip()!r} (row {line} of {table.name}) is not an emotion label; "
                    f"use one of: {', '.join(CANONICAL_LABELS)} (or angry, happy, sad, fearful, surprised, ...)")))
                continue
            if path in first_row:
                skipped.append(Skipped(str(path), f"listed again in row {line} of {table.name} "
                                                  f"(first in row {first_row[path]}); list each file once"))
                continue
            first_row[path] = line
            if not path.is_file():
                skipped.append(Skipped(str(path), f"listed in row {line} of {table.name} but does not exist"))
                continue
            speaker = cells.get("speaker", "").strip() or _folder_of(raw)
            utterances.append(Utterance(id=_utt_id(path, table), path=path, label=label, speaker=speaker))
        return Scan(utterances, skipped)


def find_manifest(root: Path) -> Path:
    """The manifest ROOT names: the CSV itself, or the one manifest CSV in the folder.

    Raises
    ------
    CorpusError
        Saying what was found instead (another header, no CSV, several manifests).
    """
    if root.is_file():
        header = _header(root)
        if not {"path", "label"} <= set(header):
            raise CorpusError(f"{root} has the header {','.join(header) or '(none)'!r}; "
                              f"a manifest needs the header {HEADER}")
        return root
    tables = sorted(p for p in root.glob("*.csv") if p.is_file() and not p.name.startswith("._"))
    manifests = [p for p in tables if {"path", "label"} <= set(_header(p))]
    if len(manifests) == 1:
        return manifests[0]
    if manifests:
        names = ", ".join(p.name for p in manifests)
        raise CorpusError(f"{root} holds {len(manifests)} manifests ({names}); pass the one to use as ROOT")
    found = f" (found {', '.join(p.name for p in tables)}, none with that header)" if tables else ""
    raise CorpusError(f"no manifest in {root}: expected one .csv file with the header {HEADER}{found}")


def _header(table: Path) -> list[str]:
    """Lower-cased column names of the first line; [] when unreadable or empty."""
    try:
        with open(table, newline="", encoding="utf-8-sig", errors="replace") as handle:
            first = next(csv.reader(handle), [])
    except (OSError, csv.Error):
        return []
    return [name.strip().lower() for name in first]


def _rows(table: Path):
    """Yield ``(line number, {column: cell})`` for each non-blank data row."""
    with open(table, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        columns = [name.strip().lower() for name in next(reader, [])]
        for cells in reader:
            if any(cell.strip() for cell in cells):
                yield reader.line_num, dict(zip(columns, cells))


def _resolve(raw: str, table: Path) -> Path:
    path = Path(raw).expanduser()
    return path if path.is_absolute() else table.parent / path


def _folder_of(raw: str) -> str:
    """Parent folder name as the row writes it (``spk1/a.wav`` -> ``spk1``), else ``"unknown"``."""
    parent = Path(raw).parent.name
    return parent or "unknown"


def _utt_id(path: Path, table: Path) -> str:
    """Path relative to the manifest's folder without suffix (absolute when outside it)."""
    try:
        return path.relative_to(table.parent).with_suffix("").as_posix()
    except ValueError:
        return path.with_suffix("").as_posix()
