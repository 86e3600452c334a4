"""RAVDESS speech: the Zenodo zip and the Kaggle copy that holds every file twice."""

from __future__ import annotations

from collections import Counter

import pytest

from sertune.corpora import load_corpus

CLASSES = {"anger": 192, "calm": 192, "disgust": 192, "fear": 192, "happiness": 192,
           "neutral": 96, "sadness": 192, "surprise": 192}


@pytest.mark.parametrize("fixture", ["ravdess_root", "ravdess_kaggle"])
def test_ravdess_counts_match_the_release(request, fixture):
    corpus = load_corpus(request.getfixturevalue(fixture), "ravdess")
    assert len(corpus.utterances) == 1440
    assert corpus.class_counts() == CLASSES
    speakers = corpus.speaker_counts()
    assert len(speakers) == 24 and set(speakers.values()) == {60}
    gender = {u.speaker: u.gender for u in corpus.utterances}
    assert gender["Actor_01"] == "m" and gender["Actor_24"] == "f"
    assert Counter(gender.values()) == {"m": 12, "f": 12}
    assert not corpus.skipped


def test_kaggle_double_copy_is_reported_as_excluded(ravdess_kaggle):
    corpus = load_corpus(ravdess_kaggle)
    assert dict(corpus.excluded) == {"duplicate copy (same file name found twice)": 1440}
    assert all("audio_speech_actors_01-24" not in str(u.path) for u in corpus.utterances)
