"""TESS (Toronto Emotional Speech Set), 2800 utterances, 7 classes, 2 speakers.

Layout: 14 folders ``OAF_angry`` … ``YAF_sad`` (casing varies: ``OAF_Fear``,
``YAF_pleasant_surprised``) of ``<SPK>_<word>_<emotion>.wav`` files. The label
is the last name token; the speaker comes from the folder, because one file is
misnamed ``OA_bite_neutral.wav``. Kaggle copies often nest the whole set twice,
so the tree is globbed recursively and every (speaker, word, emotion) kept once.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .base import Scan, Skipped, Utterance, audio_files, dedupe_by, find_dirs, layout_error, register

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
        files = list(audio_files(root))
        kept = dedupe_by(files, key=lambda p: (_parse(p) or (str(p),))[0])
        excluded = Counter()
        if len(kept) < len(files):
            excluded["duplicate copy (same speaker, word and emotion found twice)"] = len(files) - len(kept)
        utterances, skipped = [], []
        for path in kept:
            parsed = _parse(path)
            if parsed is None:
                skipped.append(Skipped(str(path), f"not a TESS file: expected {EXPECTED}"))
                continue
            utt_id, speaker, emotion = parsed
            if emotion not in EMOTIONS:
                skipped.append(Skipped(str(path), f"unknown TESS emotion {emotion!r} "
                                                  f"(known: {', '.join(EMOTIONS)})"))
                continue
            utterances.append(Utterance(id=utt_id, path=path, label=EMOTIONS[emotion],
                                        speaker=speaker, gender=SPEAKERS[speaker]))
        return Scan(utterances, skipped, dict(excluded))


def _parse(path: Path) -> tuple[str, str, str] | None:
    """``(id, speaker, emotion)``, e.g. ``("OAF_bite_neutral", "OAF", "neutral")``; None if not TESS."""
    tokens = path.stem.split("_")
    if len(tokens) < 3:
        return None
    folder = FOLDER.match(path.parent.name)
    # The folder is the reliable source; the name prefix only when files lie loose.
    speaker = (folder.group(1) if folder else tokens[0]).upper()
    if speaker not in SPEAKERS:
        return None
    word, emotion = "_".join(tokens[1:-1]).lower(), tokens[-1].lower()
    return f"{speaker}_{word}_{emotion}", speaker, emotion
