"""SAVEE (Surrey Audio-Visual Expressed Emotion), 480 utterances, 7 classes.

Layouts: the original release ``AudioData/<SPK>/<code><NN>.wav`` (speakers DC,
JE, JK, KL, beside ``AudioData/Info.txt``) and the flat Kaggle copy
``ALL/<SPK>_<code><NN>.wav``. Some copies nest a second ``AudioData/AudioData/``;
both layouts are read recursively and every recording is kept once.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Name, Scan, audio_files, find_dirs, layout_error, register, scan_names

#: Emotion codes -> canonical labels. Names are split into letters and digits
#: before the lookup, so the two-letter ``sa``/``su`` never read as ``s`` + ...
CODES = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness",
         "n": "neutral", "sa": "sadness", "su": "surprise"}
#: All four speakers are male (a public README saying otherwise is wrong, see docs/datasets.md).
SPEAKERS = {"DC": "m", "JE": "m", "JK": "m", "KL": "m"}
NESTED = re.compile(r"^([a-z]+)(\d+)$", re.IGNORECASE)            # AudioData/DC/sa01
FLAT = re.compile(r"^([A-Z]{2})_([a-z]+)(\d+)$", re.IGNORECASE)   # ALL/DC_sa01
EXPECTED = ("AudioData/<DC|JE|JK|KL>/<code><NN>.wav or ALL/<SPK>_<code><NN>.wav "
            "(codes a d f h n sa su)")


@register
class Savee:
    name = "savee"
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        return bool(_speaker_dirs(root) or _flat_dirs(root))

    def scan(self, root: Path) -> Scan:
        if not self.detect(root):
            raise layout_error(root, "SAVEE", EXPECTED)
        return scan_names(audio_files(root), _parse, corpus="SAVEE", codes=CODES, gender=SPEAKERS,
                          duplicate="same speaker and code found twice")


def _parse(path: Path) -> Name | str:
    """The name in either naming, e.g. ``Name("DC_sa01", "DC", "sa")``; else why it is not SAVEE."""
    flat = FLAT.match(path.stem)
    if flat:
        speaker, code, number = flat.groups()
    else:
        nested = NESTED.match(path.stem)
        # A bare ``a01`` only means something inside a speaker folder.
        if nested is None or path.parent.name.upper() not in SPEAKERS:
            return f"not a SAVEE name: expected {EXPECTED}"
        speaker, (code, number) = path.parent.name, nested.groups()
    speaker, code = speaker.upper(), code.lower()
    return Name(f"{speaker}_{code}{number}", speaker, code)


def _speaker_dirs(root: Path) -> list[Path]:
    # Depth 4 reaches a wrapped nested copy: <zip folder>/AudioData/AudioData/DC.
    return find_dirs(root, lambda name: name.upper() in SPEAKERS, max_depth=4)


def _flat_dirs(root: Path) -> list[Path]:
    """``ALL`` folders (or root itself) holding at least one ``<SPK>_<code><NN>.wav``."""
    candidates = [root] + find_dirs(root, lambda name: name.upper() == "ALL", max_depth=3)
    return [d for d in candidates if d.is_dir() and any(
        FLAT.match(p.stem) and p.stem[:2].upper() in SPEAKERS for p in d.glob("*.wav"))]
