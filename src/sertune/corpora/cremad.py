"""CREMA-D, 7442 utterances, 6 classes, 91 actors.

Layout: ``AudioWAV/AAAA_SSS_EEE_LL.wav`` (GitHub repo after ``git lfs pull``, or
the flat Kaggle copy), with ``VideoDemographics.csv`` beside ``AudioWAV/`` for
the actors' sex. Without that file gender is unknown (None): it does **not**
follow odd/even actor ids, so it is never guessed.
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

from ..errors import SertuneWarning
from .base import Name, Scan, audio_files, find_dirs, layout_error, register, scan_names

EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
            "NEU": "neutral", "SAD": "sadness"}
NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$", re.IGNORECASE)
DEMOGRAPHICS = "VideoDemographics.csv"
SEX = {"male": "m", "female": "f"}
EXPECTED = "AudioWAV/AAAA_SSS_EEE_LL.wav (e.g. AudioWAV/1001_DFA_ANG_XX.wav)"


@register
class CremaD:
    name = "cremad"
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        return bool(_wav_dirs(root))

    def scan(self, root: Path) -> Scan:
        if not self.detect(root):
            raise layout_error(root, "CREMA-D", EXPECTED)
        table = _demographics_file(root)
        gender = read_demographics(table) if table else {}
        files = [p for folder in _wav_dirs(root) for p in audio_files(folder)]
        return scan_names(files, _parse, corpus="CREMA-D", codes=EMOTIONS, fold=str.upper, gender=gender,
                          key=lambda p: p.stem.upper(), duplicate="same file name found twice")


def _parse(path: Path) -> Name | str:
    """The name, e.g. ``Name("1001_DFA_ANG_XX", "1001", "ANG")``; else why it is not CREMA-D."""
    match = NAME.match(path.stem)
    if match is None:
        return f"not a CREMA-D name: expected {EXPECTED}"
    actor, _sentence, emotion, _level = match.groups()
    return Name(path.stem, actor, emotion)


def read_demographics(path: Path) -> dict[str, str]:
    """Actor id -> ``"m"``/``"f"`` from ``VideoDemographics.csv`` (ActorID, Age, Sex, ...).

    A file that cannot be read costs only the gender, so it warns instead of failing.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        warnings.warn(f"cannot read {path} ({exc}); actor gender is left unknown", SertuneWarning, stacklevel=3)
        return {}
    if not rows or not {"ActorID", "Sex"} <= set(rows[0]):
        warnings.warn(f"{path} has no ActorID and Sex columns; actor gender is left unknown. "
                      f"Use the VideoDemographics.csv of the CREMA-D repository", SertuneWarning, stacklevel=3)
        return {}
    return {row["ActorID"].strip(): SEX[row["Sex"].strip().lower()]
            for row in rows if (row["Sex"] or "").strip().lower() in SEX}


def _demographics_file(root: Path) -> Path | None:
    """``VideoDemographics.csv`` in root, or beside root when root is ``AudioWAV`` itself."""
    for folder in (root, root.parent) if root.name.lower() == "audiowav" else (root,):
        if (folder / DEMOGRAPHICS).is_file():
            return folder / DEMOGRAPHICS
    return None


def _wav_dirs(root: Path) -> list[Path]:
    """``AudioWAV`` folders (root itself included) that hold at least one CREMA-D name."""
    folders = find_dirs(root, lambda name: name.lower() == "audiowav", max_depth=2)
    if root.name.lower() == "audiowav":
        folders.insert(0, root)
    return [d for d in folders if any(NAME.match(p.stem) for p in d.glob("*.wav"))]
