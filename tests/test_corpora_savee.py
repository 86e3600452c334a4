"""SAVEE: ``AudioData/<SPK>/`` (with a nested duplicate copy) and the flat ``ALL/``."""

from __future__ import annotations

import pytest

from corpus_trees import put
from sertune.corpora import load_corpus

CLASSES = {"anger": 60, "disgust": 60, "fear": 60, "happiness": 60,
           "neutral": 120, "sadness": 60, "surprise": 60}


@pytest.mark.parametrize("fixture", ["savee_original", "savee_flat"])
def test_savee_counts_match_the_release(request, fixture):
    corpus = load_corpus(request.getfixturevalue(fixture), "savee")
    assert len(corpus.utterances) == 480
    assert corpus.class_counts() == CLASSES
    assert corpus.speaker_counts() == {"DC": 120, "JE": 120, "JK": 120, "KL": 120}
    assert {u.gender for u in corpus.utterances} == {"m"}
    assert not corpus.skipped


def test_nested_copy_is_read_once_and_reported(savee_original):
    corpus = load_corpus(savee_original)
    assert dict(corpus.excluded) == {"duplicate copy (same speaker and code found twice)": 480}
    # The shallower copy wins.
    assert all("AudioData/AudioData" not in u.path.as_posix() for u in corpus.utterances)


def test_two_letter_codes_win_over_one_letter_ones(savee_flat):
    labels = {u.id: u.label for u in load_corpus(savee_flat).utterances}
    assert labels["JK_sa15"] == "sadness"
    assert labels["JK_su15"] == "surprise"
    assert labels["DC_n30"] == "neutral"
    assert labels["KL_a01"] == "anger"
    assert labels["JE_h07"] == "happiness"


def test_both_layouts_in_one_root_give_each_recording_once(tmp_path):
    put(tmp_path, ["AudioData/DC/a01.wav", "AudioData/DC/su02.wav", "ALL/DC_a01.wav", "ALL/JE_d03.wav"])
    corpus = load_corpus(tmp_path)
    assert [u.id for u in corpus.utterances] == ["DC_a01", "DC_su02", "JE_d03"]


def test_files_that_are_not_savee_names_are_skipped(tmp_path):
    put(tmp_path, ["AudioData/DC/a01.wav", "AudioData/XY/a01.wav", "AudioData/DC/a01 copy.wav"])
    corpus = load_corpus(tmp_path)
    assert [u.id for u in corpus.utterances] == ["DC_a01"]
    assert [s.path for s in corpus.skipped] == [str(tmp_path / "AudioData/DC/a01 copy.wav"),
                                                str(tmp_path / "AudioData/XY/a01.wav")]
    assert all("not a SAVEE name" in s.reason for s in corpus.skipped)
