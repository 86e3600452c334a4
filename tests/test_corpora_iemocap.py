"""IEMOCAP 4-class sets, against the counts in docs/datasets.md and an independent recount."""

from __future__ import annotations

from collections import Counter

import pytest

import corpus_trees
from corpus_trees import put
from sertune.corpora import load_corpus

LINES = "iemocap_emoevaluation_summary_lines.txt"


@pytest.mark.parametrize("options,classes", [
    ({}, {"anger": 289, "happiness": 947, "neutral": 1099, "sadness": 608}),             # the paper: 2943
    ({"merge_excited": False}, {"anger": 289, "happiness": 284, "neutral": 1099, "sadness": 608}),  # 2280
    ({"subset": "all"}, {"anger": 1103, "happiness": 1636, "neutral": 1708, "sadness": 1084}),       # 5531
    ({"subset": "all", "merge_excited": False},
     {"anger": 1103, "happiness": 595, "neutral": 1708, "sadness": 1084}),                          # 4490
    ({"subset": "scripted"}, {"anger": 814, "happiness": 689, "neutral": 609, "sadness": 476}),
], ids=["improvised-merged", "improvised-unmerged", "all-merged", "all-unmerged", "scripted-merged"])
def test_iemocap_class_counts(iemocap_root, options, classes):
    corpus = load_corpus(iemocap_root, "iemocap", **options)
    assert corpus.class_counts() == classes
    assert len(corpus.utterances) == sum(classes.values())
    assert not corpus.skipped


def test_sessions_and_speakers_of_all_sessions_merged(iemocap_root):
    corpus = load_corpus(iemocap_root, subset="all")
    assert Counter(u.session for u in corpus.utterances) == {
        "Ses01": 1085, "Ses02": 1023, "Ses03": 1151, "Ses04": 1031, "Ses05": 1241}
    # Recount from the raw lines: the speaker is the session plus the letter of the
    # utterance's last token, whatever letter follows "Ses0N".
    expected = Counter()
    for line in corpus_trees.names(LINES):
        utt, code = line.split("\t")[1:3]
        if code in {"ang", "hap", "exc", "neu", "sad"}:
            expected[utt[:5] + utt.rsplit("_", 1)[1][0]] += 1
    assert corpus.speaker_counts() == dict(sorted(expected.items()))
    assert len(expected) == 10
    assert {u.speaker[-1].lower() for u in corpus.utterances if u.gender == "f"} == {"f"}


def test_speaker_is_the_utterance_letter_not_the_dialog_letter(iemocap_root):
    utt = {u.id: u for u in load_corpus(iemocap_root).utterances}["Ses01F_impro01_M011"]
    assert (utt.speaker, utt.gender, utt.session) == ("Ses01M", "m", "Ses01")
    assert utt.path.relative_to(iemocap_root).as_posix() == \
        "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M011.wav"


def test_labels_outside_the_task_are_counted_not_skipped(iemocap_root):
    corpus = load_corpus(iemocap_root)
    assert dict(corpus.excluded) == {
        "label 'dis' (disgusted): not one of the 4 classes": 1,
        "label 'fea' (fearful): not one of the 4 classes": 8,
        "label 'fru' (frustrated): not one of the 4 classes": 971,
        "label 'oth' (other): not one of the 4 classes": 1,
        "label 'sur' (surprised): not one of the 4 classes": 60,
        "label 'xxx' (no majority): not one of the 4 classes": 800,
        "scripted dialog (subset='improvised')": 5255,
    }
    assert sum(corpus.excluded.values()) + len(corpus.utterances) == 10039


def test_annotator_folders_and_macos_forks_are_not_read(iemocap_root):
    # The fixture plants label-like lines for "..._F999" in Categorical/, Attribute/,
    # Self-evaluation/ and a ._ fork, and a ._ wav; reading any of them would show
    # up as a missing or unlabelled file.
    corpus = load_corpus(iemocap_root)
    assert not corpus.skipped
    assert not any(u.id.endswith("F999") or u.id.startswith("._") for u in corpus.utterances)


def _mini(tmp_path, n=8):
    """One improvised dialog's first ``n`` labelled turns, under IEMOCAP_full_release/."""
    lines = [ln for ln in corpus_trees.names(LINES) if ln.split("\t")[1].startswith("Ses01F_impro01_")][:n]
    root = tmp_path / "IEMOCAP_full_release"
    corpus_trees.iemocap(root, lines=lines)
    return root, lines


def test_root_may_be_the_folder_above_the_sessions(tmp_path):
    root, lines = _mini(tmp_path)
    wanted = sum(ln.split("\t")[2] in {"ang", "hap", "exc", "neu", "sad"} for ln in lines)
    assert len(load_corpus(tmp_path).utterances) == len(load_corpus(root).utterances) == wanted > 0


def test_labelled_but_missing_audio_is_skipped(tmp_path):
    root, _ = _mini(tmp_path)
    wav = root / "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav"   # neu
    wav.unlink()
    corpus = load_corpus(root)
    assert [(s.path, s.reason) for s in corpus.skipped] == [
        (str(wav), "labelled in Ses01F_impro01.txt but the audio file is missing")]


def test_unlabelled_audio_and_malformed_lines_are_skipped(tmp_path):
    root, _ = _mini(tmp_path)
    put(root / "Session1/sentences/wav/Ses01F_impro01", ["Ses01F_impro01_F500.wav"])
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_text(label_file.read_text() + "[1.0 - 2.0] Ses01F_impro01_F501 neu [1, 1, 1]\n")
    reasons = sorted(s.reason for s in load_corpus(root).skipped)
    assert reasons[0].startswith("EmoEvaluation summary line does not parse: '[1.0 - 2.0]")
    assert reasons[1] == "no summary line for it in dialog/EmoEvaluation/<dialog>.txt"


def test_windows_line_endings_parse(tmp_path):
    root, _ = _mini(tmp_path)
    before = len(load_corpus(root).utterances)
    label_file = root / "Session1/dialog/EmoEvaluation/Ses01F_impro01.txt"
    label_file.write_bytes(label_file.read_bytes().replace(b"\n", b"\r\n"))
    assert len(load_corpus(root).utterances) == before
