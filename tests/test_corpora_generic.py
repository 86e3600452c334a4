"""The generic layouts: a CSV manifest, and one folder per class."""

from __future__ import annotations

import pytest

from conftest import write_wav
from corpus_trees import put
from sertune.corpora import load_corpus
from sertune.errors import CorpusError

# --- manifest ------------------------------------------------------------------------


def _manifest(tmp_path, body: str, name: str = "labels.csv"):
    (tmp_path / name).write_text(body)
    return tmp_path / name


def test_manifest_paths_labels_and_speakers(tmp_path):
    put(tmp_path, ["spk1/a.wav", "c.wav"])
    write_wav(tmp_path / "spk2/b.flac")
    outside = put(tmp_path / "elsewhere", ["d.wav"])[0]
    table = _manifest(tmp_path, f"path,label,speaker\nspk1/a.wav,Angry,\nspk2/b.flac,neu,\n"
                                f"c.wav,happiness,\n{outside},ps,alice\n")
    corpus = load_corpus(table)
    assert corpus.name == "manifest" and not corpus.skipped
    got = {u.id: (u.label, u.speaker) for u in corpus.utterances}
    assert got == {"spk1/a": ("anger", "spk1"), "spk2/b": ("neutral", "spk2"),
                   "c": ("happiness", "unknown"), "elsewhere/d": ("surprise", "alice")}


def test_manifest_header_is_forgiving_about_case_blanks_and_bom(tmp_path):
    put(tmp_path, ["a.wav", "b.wav"])
    (tmp_path / "m.csv").write_bytes("\ufeffPath, Label ,Speaker\na.wav,sad,x\nb.wav,fearful,y\n".encode())
    corpus = load_corpus(tmp_path)                       # folder with one manifest
    assert corpus.class_counts() == {"fear": 1, "sadness": 1}
    assert corpus.speaker_counts() == {"x": 1, "y": 1}


def test_manifest_rows_that_cannot_be_used_are_skipped_with_the_reason(tmp_path):
    put(tmp_path, ["a.wav", "b.wav"])
    _manifest(tmp_path, "path,label\na.wav,angry\nb.wav,excited\nmissing.wav,sad\na.wav,angry\n,sad\n\n")
    corpus = load_corpus(tmp_path, "manifest")
    assert [u.id for u in corpus.utterances] == ["a"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in corpus.skipped}
    assert reasons["b.wav"].startswith("label 'excited' (row 3 of labels.csv) is not an emotion label; "
                                       "use one of: anger, boredom, calm")
    assert reasons["missing.wav"] == "listed in row 4 of labels.csv but does not exist"
    assert reasons["a.wav"] == "listed again in row 5 of labels.csv (first in row 2); list each file once"
    assert reasons["labels.csv:6"] == "row has no path"
    assert len(corpus.skipped) == 4


def test_manifest_with_no_usable_row_is_an_error(tmp_path):
    put(tmp_path, ["a.wav"])
    table = _manifest(tmp_path, "path,label\na.wav,excited\n")
    with pytest.raises(CorpusError, match=r"no usable manifest utterances .*label 'excited'"):
        load_corpus(table)


def test_folder_must_hold_exactly_one_manifest(tmp_path):
    put(tmp_path, ["a.wav"])
    _manifest(tmp_path, "path,label\na.wav,sad\n", "one.csv")
    _manifest(tmp_path, "speaker,age\nx,3\n", "speakers.csv")     # not a manifest: ignored
    assert len(load_corpus(tmp_path, "manifest").utterances) == 1
    _manifest(tmp_path, "path,label\na.wav,angry\n", "two.csv")
    with pytest.raises(CorpusError, match=r"holds 2 manifests \(one.csv, two.csv\); pass the one to use"):
        load_corpus(tmp_path, "manifest")


# --- folders -------------------------------------------------------------------------


def test_folders_map_synonyms_and_read_subfolders(tmp_path):
    put(tmp_path, ["Angry/a.wav", "HAPPY/b.wav", "pleasant surprise/s1/c.wav"])
    write_wav(tmp_path / "neutral/d.ogg", seconds=0.2, subtype="VORBIS")
    corpus = load_corpus(tmp_path)
    assert corpus.name == "folders" and not corpus.skipped
    assert {u.id: u.label for u in corpus.utterances} == {
        "Angry/a": "anger", "HAPPY/b": "happiness", "pleasant surprise/s1/c": "surprise", "neutral/d": "neutral"}
    assert corpus.speaker_counts() == {"unknown": 4}


def test_one_class_folder_is_not_detected_but_may_be_named(tmp_path):
    put(tmp_path, ["sad/a.wav"])
    with pytest.raises(CorpusError, match="cannot tell the corpus layout"):
        load_corpus(tmp_path)
    assert load_corpus(tmp_path, "folders").class_counts() == {"sadness": 1}
