"""Corpus trees on disk, built from the real file lists in ``tests/data`` (see docs/datasets.md).

Every file gets the same few milliseconds of audio (written once, then copied
as bytes), so even CREMA-D's 7442 files take well under a second.
"""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

#: Words of the NU-6 list as TESS uses them; ``bite`` carries the ``OA_`` typo.
TESS_WORDS = ("back", "bite", "chair", "dog", "home")
TESS_FOLDERS = ("OAF_angry", "OAF_disgust", "OAF_Fear", "OAF_happy", "OAF_neutral",
                "OAF_Pleasant_surprise", "OAF_Sad", "YAF_angry", "YAF_disgust", "YAF_fear",
                "YAF_happy", "YAF_neutral", "YAF_pleasant_surprised", "YAF_sad")
TESS_TOKEN = {"angry": "angry", "disgust": "disgust", "fear": "fear", "happy": "happy",
              "neutral": "neutral", "pleasant_surprise": "ps", "pleasant_surprised": "ps", "sad": "sad"}

EMOEVAL_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


#: The real file lists of the public corpora, in the repository (tests/data/README.md).
DATA = Path(__file__).resolve().parent / "data"


def names(list_name: str) -> list[str]:
    """Non-blank lines of one list in ``tests/data``."""
    text = (DATA / list_name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def tiny_wav(seconds: float = 0.02, sr: int = 16000) -> bytes:
    """A PCM-16 mono WAV of a quiet sine, as bytes."""
    t = np.arange(int(seconds * sr)) / sr
    buffer = io.BytesIO()
    sf.write(buffer, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr,
             format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def put(root: Path, relpaths, data: bytes | None = None) -> list[Path]:
    """Write ``data`` (default: :func:`tiny_wav`) to every relative path under root."""
    data = tiny_wav() if data is None else data
    written = []
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def emodb(root: Path, *, official: bool = True) -> None:
    base = root / "download" if official else root
    put(base, [f"wav/{n}" for n in names("emodb_files.txt")])
    if official:  # the other folders of the zip must not confuse the loader
        put(base, [f"silb/{Path(n).stem}.silb" for n in names("emodb_files.txt")[:5]], b"0.1 a\n")
        (base / "erkennung.txt").write_bytes("Nr.\tSatz\terkannt\tnatuerlich\n".encode("latin-1"))


def savee(root: Path, *, flat: bool = False, nested_copy: bool = False) -> None:
    files = names("savee_files.txt")                      # DC/a01.wav
    if flat:
        put(root, [f"ALL/{f.replace('/', '_')}" for f in files])
        return
    put(root, [f"AudioData/{f}" for f in files])
    (root / "AudioData" / "Info.txt").write_text("WAV 44.1 kHz\n")
    if nested_copy:
        put(root, [f"AudioData/AudioData/{f}" for f in files])


def iemocap(root: Path, lines: list[str] | None = None) -> None:
    """Label files per dialog, one wav per summary line, and decoys the loader must ignore."""
    lines = names("iemocap_emoevaluation_summary_lines.txt") if lines is None else lines
    by_dialog: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        by_dialog[line.split("\t")[1].rsplit("_", 1)[0]].append(line)
    data = tiny_wav()
    for dialog, block in by_dialog.items():
        session = root / f"Session{int(dialog[3:5])}"
        emo = session / "dialog" / "EmoEvaluation"
        emo.mkdir(parents=True, exist_ok=True)
        body = "".join(f"{line}\nC-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n\n" for line in block)
        (emo / f"{dialog}.txt").write_text(EMOEVAL_HEADER + body)
        put(session / "sentences" / "wav" / dialog, [f"{line.split(chr(9))[1]}.wav" for line in block], data)
    # Decoys: per-annotator files and macOS forks that look like label lines, a
    # macOS fork beside the sentence wavs, and a whole-dialog wav.
    first = next(iter(by_dialog))
    session = root / f"Session{int(first[3:5])}"
    fake = f"[1.0000 - 2.0000]\t{first}_F999\tang\t[1.0000, 1.0000, 1.0000]\n"
    for sub, name in (("Categorical", f"{first}_e1_cat.txt"), ("Attribute", f"{first}_e1_atr.txt"),
                      ("Self-evaluation", f"{first}.txt")):
        (session / "dialog" / "EmoEvaluation" / sub).mkdir(exist_ok=True)
        (session / "dialog" / "EmoEvaluation" / sub / name).write_text(fake)
    (session / "dialog" / "EmoEvaluation" / f"._{first}.txt").write_bytes(b"\x00\x05\x16\x07Mac OS X\n" + fake.encode())
    put(session / "sentences" / "wav" / first, [f"._{first}_F000.wav"], b"\x00\x05\x16\x07Mac OS X")
    put(session / "dialog" / "wav", [f"{first}.wav"], data)


def ravdess(root: Path, *, kaggle: bool = False) -> None:
    files = names("ravdess_speech_files.txt")            # Actor_01/03-01-....wav
    put(root, files)
    if kaggle:
        put(root / "audio_speech_actors_01-24", files)


def cremad(root: Path, *, demographics: bool = True) -> None:
    put(root / "AudioWAV", names("cremad_files.txt"))
    if demographics:
        (root / "VideoDemographics.csv").write_bytes((DATA / "cremad_VideoDemographics.csv").read_bytes())


def tess_files(words=TESS_WORDS) -> list[str]:
    """``<folder>/<SPK>_<word>_<emo>.wav`` for every folder and word, with the real ``OA_`` typo."""
    files = []
    for folder in TESS_FOLDERS:
        speaker, emotion = folder.split("_", 1)
        for word in words:
            prefix = "OA" if (folder, word) == ("OAF_neutral", "bite") else speaker
            files.append(f"{folder}/{prefix}_{word}_{TESS_TOKEN[emotion.lower()]}.wav")
    return files


def tess(root: Path, *, words=TESS_WORDS, nested_copy: bool = False) -> None:
    top = "TESS Toronto emotional speech set data"
    put(root / top, tess_files(words))
    if nested_copy:
        put(root / "tess toronto emotional speech set data" / top, tess_files(words))
