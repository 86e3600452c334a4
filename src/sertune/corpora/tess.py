"""TESS (Toronto Emotional Speech Set), 2800 utterances, 7 classes, 2 speakers.

Layout: 14 folders ``OAF_angry`` … ``YAF_sad`` (casing varies: ``OAF_Fear``,
``YAF_pleasant_surprised``) of ``<SPK>_<word>_<emotion>.wav`` files. The label
is the last name token; the speaker comes from the folder, because one file is
misnamed ``OA_bite_neutral.wav``. Kaggle copies often nest the whole set twice,
so the tree is globbed recursively and every (speaker, word, emotion) kept once.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Name, Scan, audio_files, find_dirs, layout_error, register, scan_names

#: Last name token -> canonical label; ``ps`` is "pleasant surprise".
EMOTIONS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
            "neutral": "neutral", "ps": "surprise", "sad": "sadness"}
#: Older and younger actress, both female.
SPEAKERS = {"OAF": "f", "YAF": "f"}
FOLDER = re.compile(r"^(OAF|YAF)_[a-z_ ]+$", re.IGNORECASE)
EXPECTED = "folders OAF_<emotion>/ and YAF_<emotion>/ of <SPK>_<word>_<emotion>.wav (e.g. OAF_angry/OAF_back_angry.wav)"


@register
class Tess:
    name = "tess"
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        return bool(FOLDER.match(root.name) or find_dirs(root, FOLDER.match, max_depth=3))

    def scan(self, root: Path) -> Scan:
        if not self.detect(root):
            raise layout_error(root, "TESS", EXPECTED)
        return scan_names(audio_files(root), _parse, corpus="TESS", codes=EMOTIONS, gender=SPEAKERS,
                          what="emotion", duplicate="same speaker, word and emotion found twice")


def _parse(path: Path) -> Name | str:
    """The name, e.g. ``Name("OAF_bite_neutral", "OAF", "neutral")``; else why it is not TESS."""
    not_tess = f"not a TESS file: expected {EXPECTED}"
    tokens = path.stem.split("_")
    if len(tokens) < 3:
        return not_tess
    folder = FOLDER.match(path.parent.name)
    # The folder is the reliable source; the name prefix only when files lie loose.
    speaker = (folder.group(1) if folder else tokens[0]).upper()
    if speaker not in SPEAKERS:
        return not_tess
    word, emotion = "_".join(tokens[1:-1]).lower(), tokens[-1].lower()
    return Name(f"{speaker}_{word}_{emotion}", speaker, emotion)
