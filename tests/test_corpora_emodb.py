"""EmoDB: the official zip and the flat copies, against the counts in docs/datasets.md, and the real audio."""

from __future__ import annotations

import pytest

import corpus_trees
from sertune.corpora import load_corpus
from sertune.features.audio import load_audio

CLASSES = {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
           "happiness": 71, "neutral": 79, "sadness": 62}
SPEAKERS = {"03": 49, "08": 58, "09": 43, "10": 38, "11": 55,
            "12": 35, "13": 61, "14": 69, "15": 56, "16": 71}
GENDER = {"03": "m", "08": "f", "09": "f", "10": "m", "11": "m",
          "12": "m", "13": "f", "14": "f", "15": "m", "16": "f"}


@pytest.mark.parametrize("fixture", ["emodb_official", "emodb_flat"])
def test_emodb_counts_match_the_release(request, fixture):
    corpus = load_corpus(request.getfixturevalue(fixture), "emodb")
    assert len(corpus.utterances) == 535
    assert corpus.class_counts() == CLASSES
    assert corpus.speaker_counts() == SPEAKERS
    assert {u.speaker: u.gender for u in corpus.utterances} == GENDER
    assert sorted(f"{u.id}.wav" for u in corpus.utterances) == sorted(corpus_trees.names("emodb_files.txt"))
    assert not corpus.skipped


def test_emodb_root_may_be_the_wav_folder_itself(emodb_flat):
    assert len(load_corpus(emodb_flat / "wav").utterances) == 535


def test_the_real_emodb_audio_has_the_release_counts_and_decodes_at_16_khz(real_emodb):
    corpus = load_corpus(real_emodb)
    assert corpus.name == "emodb" and len(corpus.utterances) == 535
    assert corpus.class_counts() == CLASSES
    assert corpus.speaker_counts() == SPEAKERS
    assert sum(u.duration for u in corpus.utterances) == pytest.approx(1487.1, abs=0.05)
    first = min(corpus.utterances, key=lambda u: u.id)
    wave = load_audio(first.path)
    assert wave.ndim == 1 and len(wave) == pytest.approx(first.duration * 16000, abs=1)
