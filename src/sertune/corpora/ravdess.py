"""RAVDESS speech, audio only: 1440 utterances, 8 classes, 24 actors.

Layout: ``Actor_01 … Actor_24/MM-VV-EE-II-SS-RR-AA.wav`` (Zenodo
``Audio_Speech_Actors_01-24.zip``). The Kaggle copy holds every actor folder
twice (``<root>/Actor_XX`` and ``<root>/audio_speech_actors_01-24/Actor_XX``),
so files are de-duplicated by name. Only audio-only speech (modality 03,
channel 01) belongs to this corpus; song files are skipped with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Name, Scan, audio_files, find_dirs, layout_error, register, scan_names

#: Emotion field EE -> canonical label.
EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
            "05": "anger", "06": "fear", "07": "disgust", "08": "surprise"}
MODALITIES = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
CHANNELS = {"01": "speech", "02": "song"}
#: Odd actors are male, even ones female.
GENDER = {f"Actor_{a:02d}": "m" if a % 2 else "f" for a in range(1, 25)}
NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
ACTOR_DIR = re.compile(r"Actor_\d\d", re.IGNORECASE).fullmatch
EXPECTED = "Actor_01 … Actor_24/MM-VV-EE-II-SS-RR-AA.wav (Audio_Speech_Actors_01-24)"


@register
class Ravdess:
    name = "ravdess"
    defaults: dict[str, object] = {}

    def detect(self, root: Path) -> bool:
        folders = find_dirs(root, ACTOR_DIR, max_depth=3)
        if ACTOR_DIR(root.name):
            folders.append(root)
        return any(NAME.match(p.stem) for folder in folders for p in folder.glob("*.wav"))

    def scan(self, root: Path) -> Scan:
        if not self.detect(root):
            raise layout_error(root, "RAVDESS", EXPECTED)
        return scan_names(audio_files(root), _parse, corpus="RAVDESS", codes=EMOTIONS, known="01-08",
                          gender=GENDER, key=lambda p: p.name.lower(), duplicate="same file name found twice")


def _parse(path: Path) -> Name | str:
    """The name of an audio-only speech file (speaker ``Actor_XX``), or why the file is not used."""
    match = NAME.match(path.stem)
    if match is None:
        return f"not a RAVDESS name: expected {EXPECTED}"
    modality, channel, emotion, _intensity, _statement, _repetition, actor = match.groups()
    if modality != "03" or channel != "01":
        what = f"{MODALITIES.get(modality, 'modality ' + modality)} {CHANNELS.get(channel, 'channel ' + channel)}"
        return (f"{what} recording (modality {modality}, channel {channel}); "
                f"only audio-only speech (03-01-...) is part of RAVDESS speech")
    # An unknown emotion code is named first (by scan_names), then an unknown actor.
    if emotion in EMOTIONS and not 1 <= int(actor) <= 24:
        return f"unknown RAVDESS actor {actor!r} (known: 01-24)"
    return Name(path.stem, f"Actor_{actor}", emotion)
