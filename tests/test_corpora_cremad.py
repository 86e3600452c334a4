"""CREMA-D: all 7442 names, gender from VideoDemographics.csv, the known empty file."""

from __future__ import annotations

from collections import Counter

import pytest

import corpus_trees
from corpus_trees import put, tiny_wav
from sertune.corpora import load_corpus
from sertune.errors import SertuneWarning


def test_cremad_counts_match_the_release(cremad_root):
    corpus = load_corpus(cremad_root, "cremad")
    assert len(corpus.utterances) == 7442
    assert corpus.class_counts() == {"anger": 1271, "disgust": 1271, "fear": 1271,
                                     "happiness": 1271, "neutral": 1087, "sadness": 1271}
    assert len(corpus.speaker_counts()) == 91
    assert not corpus.skipped


def test_gender_comes_from_the_demographics_table_not_from_the_id(cremad_root):
    gender = {u.speaker: u.gender for u in load_corpus(cremad_root).utterances}
    assert Counter(gender.values()) == {"m": 48, "f": 43}
    assert (gender["1001"], gender["1002"]) == ("m", "f")
    # Odd/even is wrong for CREMA-D: some even ids are male.
    assert any(int(actor) % 2 == 0 and g == "m" for actor, g in gender.items())


def test_without_the_table_gender_is_unknown_not_guessed(tmp_path):
    put(tmp_path / "AudioWAV", corpus_trees.names("cremad_files.txt")[:200])
    corpus = load_corpus(tmp_path)
    assert corpus.name == "cremad" and len(corpus.utterances) == 200
    assert {u.gender for u in corpus.utterances} == {None}


@pytest.mark.slow
def test_root_may_be_audiowav_with_the_table_beside_it(tmp_path):
    corpus_trees.cremad(tmp_path)
    corpus = load_corpus(tmp_path / "AudioWAV")
    assert len(corpus.utterances) == 7442 and None not in {u.gender for u in corpus.utterances}


@pytest.mark.slow
def test_the_file_without_audio_is_skipped(tmp_path):
    corpus_trees.cremad(tmp_path)
    empty = put(tmp_path / "AudioWAV", ["1076_MTI_SAD_XX.wav"], tiny_wav()[:44])[0]
    corpus = load_corpus(tmp_path)
    assert len(corpus.utterances) == 7441
    assert [(s.path, s.reason) for s in corpus.skipped] == [(str(empty), "zero-length audio (no samples)")]


def test_unreadable_demographics_table_warns_and_leaves_gender_unknown(tmp_path):
    put(tmp_path / "AudioWAV", ["1001_DFA_ANG_XX.wav"])
    (tmp_path / "VideoDemographics.csv").write_text("Actor,Gender\n1001,Male\n")
    with pytest.warns(SertuneWarning, match="no ActorID and Sex columns"):
        corpus = load_corpus(tmp_path)
    assert corpus.utterances[0].gender is None
