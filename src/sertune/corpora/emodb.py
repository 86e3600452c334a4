"""EmoDB (Berlin Database of Emotional Speech), 535 utterances, 7 classes.

Layouts: the official release (``download/wav/*.wav`` beside ``silb/``,
``lablaut/``, ...) and flat copies (``wav/*.wav``, Kaggle, audb). A name
``SSTTTEV.wav`` holds speaker (chars 1-2), text (3-5), emotion (6), version (7).
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Name, Scan, audio_files, register, scan_names

#: German emotion letters -> canonical labels.
CODES = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
         "F": "happiness", "T": "sadness", "N": "neutral"}
GENDER = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m",
          "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}
NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


@register
class EmoDB:
    name = "emodb"
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        return any(_wav_dirs(root))

    def scan(self, root: Path) -> Scan:
        files = [p for d in _wav_dirs(root) for p in audio_files(d)]
        return scan_names(files, _parse, corpus="EmoDB", codes=CODES, known="".join(CODES), gender=GENDER,
                          key=lambda p: p.stem)


def _parse(path: Path) -> Name | str:
    """The name, e.g. ``Name("03a01Wa", "03", "W")``; else why it is not EmoDB."""
    match = NAME.match(path.stem)
    if match is None:
        return "name is not an EmoDB name SSTTTEV (e.g. 03a01Wa)"
    speaker, _text, code, _version = match.groups()
    return Name(path.stem, speaker, code)


def _wav_dirs(root: Path):
    """``wav/`` folders directly under root or under ``download/`` (or root itself if it is ``wav``)."""
    for cand in (root / "download" / "wav", root / "wav", root):
        if cand.is_dir() and cand.name == "wav" and any(NAME.match(p.stem) for p in cand.glob("*.wav")):
            yield cand
