"""TESS: 14 folders with inconsistent casing, the ``OA_`` typo, the Kaggle nesting.

The shared data has no TESS file list, so the tree is built from the folder
rule with a few real words per folder (the release has 200 per folder).
"""

from __future__ import annotations

from corpus_trees import TESS_WORDS, put
from sertune.corpora import load_corpus

N = len(TESS_WORDS)


def test_tess_counts_follow_the_folder_rule(tess_root):
    corpus = load_corpus(tess_root, "tess")
    assert len(corpus.utterances) == 14 * N
    assert corpus.class_counts() == {label: 2 * N for label in (
        "anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")}
    assert corpus.speaker_counts() == {"OAF": 7 * N, "YAF": 7 * N}
    assert {u.gender for u in corpus.utterances} == {"f"}
    assert not corpus.skipped
    assert dict(corpus.excluded) == {"duplicate copy (same speaker, word and emotion found twice)": 14 * N}


def test_speaker_comes_from_the_folder_despite_the_name_typo(tess_root):
    typo = next(u for u in load_corpus(tess_root).utterances if u.path.name == "OA_bite_neutral.wav")
    assert (typo.id, typo.speaker, typo.label) == ("OAF_bite_neutral", "OAF", "neutral")


def test_pleasant_surprise_in_either_spelling_is_surprise(tess_root):
    folders = {u.path.parent.name for u in load_corpus(tess_root).utterances if u.label == "surprise"}
    assert folders == {"OAF_Pleasant_surprise", "YAF_pleasant_surprised"}


def test_root_may_be_the_inner_folder_or_one_emotion_folder(tess_root):
    inner = tess_root / "TESS Toronto emotional speech set data"
    assert len(load_corpus(inner).utterances) == 14 * N
    assert load_corpus(inner / "YAF_sad").class_counts() == {"sadness": N}


def test_name_case_does_not_matter(tmp_path):
    put(tmp_path, ["YAF_Fear/YAF_Back_FEAR.wav", "yaf_angry/YAF_dog_angry.wav"])
    corpus = load_corpus(tmp_path)
    assert [(u.id, u.label, u.speaker) for u in corpus.utterances] == [
        ("YAF_back_fear", "fear", "YAF"), ("YAF_dog_angry", "anger", "YAF")]
