"""IEMOCAP (IEMOCAP_full_release), the 4-class task: anger, happiness, neutral, sadness.

Labels come from the summary line that opens each utterance block of
``SessionN/dialog/EmoEvaluation/<dialog>.txt``; the audio is
``SessionN/sentences/wav/<dialog>/<utt>.wav``. The per-annotator files in
``Categorical/``, ``Attribute/`` and ``Self-evaluation/`` are not read.

The paper's set is the improvised dialogs with "excited" merged into happiness
(2943 utterances); ``merge_excited=False`` gives the 2280 set of its text, and
``subset="all"`` adds the scripted dialogs (5531 merged). Turns with any other
label (frustrated, no majority ``xxx``, surprised, ...) are not part of the task:
they are counted in ``excluded``, not reported as problems.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ..errors import ConfigError
from .base import Scan, Skipped, Utterance, audio_files, find_dirs, layout_error, register

#: The summary line, tab-separated; this regex matched all 10039 lines of the release.
SUMMARY = re.compile(r"^\[(\d+\.\d+) - (\d+\.\d+)\]\t(\S+)\t(\S+)\t"
                     r"\[(\d+\.\d+), (\d+\.\d+), (\d+\.\d+)\]$")
#: ``Ses01F_impro01_M003``: session, dialog, then the gender letter of the *speaker*
#: (the letter after ``Ses01`` says who wore the mocap markers, not who speaks).
UTTERANCE = re.compile(r"^(Ses\d\d)[FM]_(.+)_([FM])(\d{3})$")
CODES = {"ang": "anger", "hap": "happiness", "neu": "neutral", "sad": "sadness"}
NAMES = {"exc": "excited", "fru": "frustrated", "xxx": "no majority", "sur": "surprised",
         "fea": "fearful", "dis": "disgusted", "oth": "other"}
SUBSETS = {"improvised": ("improvised",), "scripted": ("scripted",),
           "all": ("improvised", "scripted")}
EXPECTED = ("Session1..Session5/dialog/EmoEvaluation/<dialog>.txt label files and "
            "Session1..Session5/sentences/wav/<dialog>/<utterance>.wav (IEMOCAP_full_release)")


@register
class Iemocap:
    name = "iemocap"
    defaults: dict[str, object] = {"subset": "improvised", "merge_excited": True}

    def detect(self, root: Path) -> bool:
        return bool(_sessions(root))

    def scan(self, root: Path, subset: str = "improvised", merge_excited: bool = True) -> Scan:
        _check_options(subset, merge_excited)
        sessions = _sessions(root)
        if not sessions:
            raise layout_error(root, "IEMOCAP", EXPECTED)
        wanted = SUBSETS[subset]
        utterances: list[Utterance] = []
        skipped: list[Skipped] = []
        excluded: Counter = Counter()
        labelled: set[str] = set()
        for session in sessions:
            wavs = {p.stem: p for p in audio_files(session / "sentences" / "wav")}
            for label_file in _label_files(session):
                for where, utt_id, code in _summary_lines(label_file, skipped):
                    if utt_id in labelled:
                        excluded["labelled twice (later label line ignored)"] += 1
                        continue
                    labelled.add(utt_id)
                    parts = UTTERANCE.match(utt_id)
                    if parts is None or _kind(utt_id) is None:
                        skipped.append(Skipped(where, f"utterance id {utt_id!r} is not an IEMOCAP id "
                                                      f"Ses0N[FM]_<impro|script dialog>_[FM]NNN"))
                        continue
                    if _kind(utt_id) not in wanted:
                        excluded[f"{_kind(utt_id)} dialog (subset={subset!r})"] += 1
                        continue
                    label, reason = _label(code, merge_excited)
                    if label is None:
                        excluded[reason] += 1
                        continue
                    if utt_id not in wavs:
                        dialog = utt_id.rsplit("_", 1)[0]
                        missing = session / "sentences" / "wav" / dialog / f"{utt_id}.wav"
                        skipped.append(Skipped(str(missing), f"labelled in {label_file.name} "
                                                             f"but the audio file is missing"))
                        continue
                    ses, _dialog, letter, _n = parts.groups()
                    utterances.append(Utterance(id=utt_id, path=wavs[utt_id], label=label,
                                                speaker=ses + letter, gender=letter.lower(),
                                                session=ses))
            skipped += _unlabelled(wavs, labelled, wanted)
        return Scan(utterances, skipped, dict(excluded))


def _check_options(subset: object, merge_excited: object) -> None:
    if subset not in SUBSETS:
        raise ConfigError(f"subset={subset!r} is not an IEMOCAP subset; choose one of: "
                          f"{', '.join(SUBSETS)}")
    if not isinstance(merge_excited, bool):
        raise ConfigError(f"merge_excited={merge_excited!r} must be True or False")


def _sessions(root: Path) -> list[Path]:
    """``SessionN`` folders with label files, at root or one level down; one per name."""
    is_session = re.compile(r"Session[1-5]").fullmatch
    found = [root] if is_session(root.name) else []
    found += find_dirs(root, is_session, max_depth=2)
    chosen: dict[str, Path] = {}
    for folder in found:  # shallowest first: a nested second copy is ignored
        if (folder / "dialog" / "EmoEvaluation").is_dir():
            chosen.setdefault(folder.name, folder)
    return [chosen[name] for name in sorted(chosen)]


def _label_files(session: Path) -> list[Path]:
    # Only the folder itself: Categorical/, Attribute/, Self-evaluation/ hold
    # per-annotator files; ._* are macOS resource forks, not text.
    folder = session / "dialog" / "EmoEvaluation"
    return sorted(p for p in folder.glob("*.txt") if p.is_file() and not p.name.startswith("._"))


def _summary_lines(label_file: Path, skipped: list[Skipped]):
    """Yield ``(file:line, utterance id, code)`` per summary line; malformed ones go to ``skipped``."""
    text = label_file.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        match = SUMMARY.match(line)
        where = f"{label_file}:{number}"
        if match:
            yield where, match.group(3), match.group(4).lower()
        elif line.startswith("["):  # looks like a summary line but is not one: say so
            skipped.append(Skipped(where, f"EmoEvaluation summary line does not parse: {line[:80]!r}"))


def _kind(utt_id: str) -> str | None:
    if "_impro" in utt_id:
        return "improvised"
    if "_script" in utt_id:
        return "scripted"
    return None


def _label(code: str, merge_excited: bool) -> tuple[str | None, str]:
    """Canonical label of an IEMOCAP code, or None and why it is left out."""
    if code in CODES:
        return CODES[code], ""
    if code == "exc":
        if merge_excited:
            return "happiness", ""
        return None, "label 'exc' (excited): merge_excited=False"
    return None, f"label {code!r} ({NAMES.get(code, 'unknown code')}): not one of the 4 classes"


def _unlabelled(wavs: dict[str, Path], labelled: set[str], wanted: tuple[str, ...]) -> list[Skipped]:
    """Sentence files of the chosen subset that no summary line labels."""
    return [Skipped(str(path), "no summary line for it in dialog/EmoEvaluation/<dialog>.txt")
            for stem, path in sorted(wavs.items())
            if stem not in labelled and _kind(stem) in wanted]
