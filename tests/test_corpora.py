"""What every corpus layout shares: registry, autodetection, bad input, the CLI.

Per-layout counts live in ``test_corpora_<name>.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import corpus_trees
from corpus_trees import put, tiny_wav
from sertune.cli import main
from sertune.corpora import CANONICAL_LABELS, load_corpus, registry
from sertune.corpora.base import canonical_label, find_dirs
from sertune.errors import ConfigError, CorpusError

LAYOUTS = {"emodb", "savee", "iemocap", "ravdess", "cremad", "tess", "manifest", "folders"}


def test_registry_holds_every_layout_and_marks_the_generic_ones():
    loaders = registry()
    assert LAYOUTS <= set(loaders)
    generic = {name for name, loader in loaders.items() if getattr(loader, "generic", False)}
    assert generic == {"manifest", "folders"}
    assert dict(loaders["iemocap"].defaults) == {"subset": "improvised", "merge_excited": True}


@pytest.mark.parametrize("text,label", [
    ("anger", "anger"), ("Angry", "anger"), (" sad ", "sadness"), ("HAPPY", "happiness"),
    ("fearful", "fear"), ("ps", "surprise"), ("Pleasant surprise", "surprise"),
    ("pleasant-surprised", "surprise"), ("neu", "neutral"), ("bored", "boredom"), ("calm", "calm"),
    ("excited", None), ("frustrated", None), ("", None),
])
def test_canonical_label_understands_common_spellings(text, label):
    assert canonical_label(text) == label


def test_find_dirs_stops_at_max_depth_and_ignores_macos_debris(tmp_path):
    for rel in ("a/Actor_01", "b/c/Actor_02", "b/c/d/Actor_03", "__MACOSX/Actor_04", ".hidden/Actor_05"):
        (tmp_path / rel).mkdir(parents=True)
    found = find_dirs(tmp_path, lambda name: name.startswith("Actor_"), max_depth=3)
    assert [p.name for p in found] == ["Actor_01", "Actor_02"]
    assert find_dirs(tmp_path / "missing", lambda name: True) == []


# --- autodetection -----------------------------------------------------------------

def _manifest_root(tmp_path):
    put(tmp_path, ["clips/a.wav", "clips/b.wav"])
    (tmp_path / "labels.csv").write_text("path,label\nclips/a.wav,angry\nclips/b.wav,sad\n")
    return tmp_path


def _folders_root(tmp_path):
    put(tmp_path, ["angry/a.wav", "neutral/b.wav"])
    return tmp_path


@pytest.mark.parametrize("fixture,name", [
    ("emodb_official", "emodb"), ("emodb_flat", "emodb"),
    ("savee_original", "savee"), ("savee_flat", "savee"),
    ("iemocap_root", "iemocap"),
    ("ravdess_root", "ravdess"), ("ravdess_kaggle", "ravdess"),
    ("cremad_root", "cremad"), ("tess_root", "tess"),
])
def test_every_real_layout_is_detected(request, fixture, name):
    corpus = load_corpus(request.getfixturevalue(fixture))
    assert corpus.name == name
    assert corpus.utterances and not corpus.skipped


@pytest.mark.parametrize("make,name", [
    (_manifest_root, "manifest"),
    (lambda tmp: _manifest_root(tmp) / "labels.csv", "manifest"),
    (_folders_root, "folders"),
])
def test_generic_layouts_are_detected_when_no_specific_one_matches(tmp_path, make, name):
    assert load_corpus(make(tmp_path)).name == name


# --- bad roots -------------------------------------------------------------------------

def _missing(tmp):
    return tmp / "no-such-folder"


def _empty(tmp):
    (tmp / "empty").mkdir()
    return tmp / "empty"


def _text_file(tmp):
    (tmp / "notes.txt").write_text("not a corpus")
    return tmp / "notes.txt"


def _unknown_layout(tmp):
    (tmp / "README.txt").write_text("hello")
    put(tmp, ["stuff/x.wav"])
    return tmp


def _small_emodb(tmp):
    put(tmp, ["wav/03a01Wa.wav", "wav/08a02Tb.wav"])
    return tmp


def _small_savee(tmp):
    put(tmp, ["AudioData/DC/a01.wav", "AudioData/DC/sa01.wav"])
    return tmp


def _all_bad_emodb(tmp):
    put(tmp, ["wav/03a01Wa.wav", "wav/08a02Tb.wav"], b"")
    return tmp


def _csv_without_manifest_header(tmp):
    (tmp / "data.csv").write_text("file,emotion\na.wav,angry\n")
    return tmp / "data.csv"


@pytest.mark.parametrize("make_root,corpus,message", [
    (_missing, None, "does not exist"),
    (_empty, None, "is empty"),
    (_text_file, None, "is a file, not a folder"),
    (_unknown_layout, None, "cannot tell the corpus layout"),
    (_small_emodb, "savee", r"does not look like SAVEE: expected AudioData/"),
    (_small_emodb, "iemocap", r"does not look like IEMOCAP: expected Session1"),
    (_small_emodb, "ravdess", r"does not look like RAVDESS: expected Actor_01"),
    (_small_emodb, "cremad", r"does not look like CREMA-D: expected AudioWAV/"),
    (_small_emodb, "tess", r"does not look like TESS: expected folders OAF_"),
    (_small_emodb, "folders", "does not look like a folder-per-class corpus"),
    (_small_emodb, "manifest", r"no manifest in .*path,label\[,speaker\]"),
    (_small_savee, "emodb", "no usable emodb utterances"),
    (_all_bad_emodb, None, "no usable emodb utterances .*first problem: .*not a readable audio file"),
    (_csv_without_manifest_header, "manifest", r"has the header 'file,emotion'"),
], ids=["missing", "empty", "file", "unknown-layout", "emodb-as-savee", "emodb-as-iemocap",
        "emodb-as-ravdess", "emodb-as-cremad", "emodb-as-tess", "emodb-as-folders",
        "emodb-as-manifest", "savee-as-emodb", "all-files-bad", "csv-not-a-manifest"])
def test_bad_root_is_a_corpus_error_naming_the_path(tmp_path, make_root, corpus, message):
    root = make_root(tmp_path)
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(root, corpus)
    assert str(root) in str(info.value)


@pytest.mark.parametrize("make_root,corpus", [(_unknown_layout, None), (_small_savee, "emodb")],
                         ids=["unknown-layout", "no-usable-utterance"])
def test_layout_errors_cite_a_document_that_is_in_the_repository(tmp_path, make_root, corpus):
    with pytest.raises(CorpusError) as info:
        load_corpus(make_root(tmp_path), corpus)
    cited = re.findall(r"\b[\w/.-]+\.md\b", str(info.value))
    assert cited == ["docs/datasets.md"]
    assert (Path(__file__).resolve().parents[1] / cited[0]).is_file()


@pytest.mark.parametrize("corpus,options,message", [
    ("emodb", {"subset": "all"}, "corpus 'emodb' has no option 'subset'"),
    ("iemocap", {"subset": "impro"}, "subset='impro' is not an IEMOCAP subset; choose one of: improvised"),
    ("iemocap", {"merge_excited": "no"}, "merge_excited='no' must be True or False"),
    ("nosuch", {}, "unknown corpus 'nosuch'; choose one of: cremad"),
])
def test_bad_options_are_config_errors(tmp_path, corpus, options, message):
    corpus_trees.iemocap(tmp_path, lines=corpus_trees.names("iemocap_emoevaluation_summary_lines.txt")[:5])
    put(tmp_path, ["wav/03a01Wa.wav"])   # emodb too, so only the option is wrong
    with pytest.raises(ConfigError, match=message):
        load_corpus(tmp_path, corpus, **options)


# --- bad files: skipped with a reason, never a crash -------------------------------------

@pytest.mark.parametrize("data,reason", [
    (b"", "not a readable audio file"),
    (tiny_wav()[:44], "zero-length audio"),                        # header, no samples
    (tiny_wav()[:30], "not a readable audio file"),                # header cut short
    (b"this is not audio\n" * 20, r"not a readable audio file .*Format not recognised"),
], ids=["zero-bytes", "header-only", "cut-in-header", "text-named-wav"])
def test_unreadable_audio_is_skipped_with_the_reason(tmp_path, data, reason):
    put(tmp_path, ["wav/03a01Wa.wav", "wav/03a02Wa.wav"])
    bad = put(tmp_path, ["wav/08a01Tb.wav"], data)[0]
    corpus = load_corpus(tmp_path)
    assert [u.id for u in corpus.utterances] == ["03a01Wa", "03a02Wa"]
    assert len(corpus.skipped) == 1
    assert corpus.skipped[0].path == str(bad)
    assert re.search(reason, corpus.skipped[0].reason)


def test_truncated_wav_is_kept_with_the_samples_that_are_there(tmp_path):
    # The header claims 0.1 s; only 400 of its 1600 samples were written. libsndfile
    # notices the short data chunk and reports the frames actually present.
    whole = tiny_wav(seconds=0.1)
    put(tmp_path, ["wav/03a01Wa.wav"])
    put(tmp_path, ["wav/08a01Tb.wav"], whole[:44 + 2 * 400])
    corpus = load_corpus(tmp_path)
    assert not corpus.skipped
    truncated = next(u for u in corpus.utterances if u.id == "08a01Tb")
    assert truncated.duration == pytest.approx(400 / 16000)


# Unknown label codes in each specific layout (and unknown labels in the generic
# ones): the file is listed in ``skipped`` with the code, the rest still loads.
UNKNOWN_CODES = [
    ("emodb", ["wav/03a01Wa.wav"], "wav/03a01Xa.wav", "unknown EmoDB emotion code 'X'"),
    ("savee", ["AudioData/DC/a01.wav", "AudioData/DC/sa01.wav"], "AudioData/DC/x01.wav",
     "unknown SAVEE emotion code 'x'"),
    ("savee", ["ALL/DC_a01.wav"], "ALL/JK_xy02.wav", "unknown SAVEE emotion code 'xy'"),
    ("ravdess", ["Actor_01/03-01-01-01-01-01-01.wav"], "Actor_01/03-01-09-01-01-01-01.wav",
     "unknown RAVDESS emotion code '09'"),
    ("ravdess", ["Actor_01/03-01-01-01-01-01-01.wav"], "Actor_01/03-02-03-01-01-01-01.wav",
     "audio-only song recording .*only audio-only speech"),
    ("cremad", ["AudioWAV/1001_DFA_ANG_XX.wav"], "AudioWAV/1001_DFA_BOR_XX.wav",
     "unknown CREMA-D emotion code 'BOR'"),
    ("tess", ["OAF_angry/OAF_back_angry.wav"], "OAF_angry/OAF_back_bored.wav", "unknown TESS emotion 'bored'"),
    ("folders", ["angry/a.wav", "sad/b.wav"], "notes/c.wav", "folder 'notes' is not an emotion label"),
    ("folders", ["angry/a.wav", "sad/b.wav"], "loose.wav", "not inside a class folder"),
]


@pytest.mark.parametrize("name,good,bad,reason", UNKNOWN_CODES,
                         ids=[f"{case[0]}-{case[2].rsplit('/', 1)[-1]}" for case in UNKNOWN_CODES])
def test_unknown_label_codes_are_skipped_and_listed(tmp_path, name, good, bad, reason):
    put(tmp_path, good)
    put(tmp_path, [bad])
    corpus = load_corpus(tmp_path)                       # also checks autodetection
    assert corpus.name == name
    assert len(corpus.utterances) == len(good)
    assert [s.path for s in corpus.skipped] == [str(tmp_path / bad)]
    assert re.search(reason, corpus.skipped[0].reason)


# --- the command line -----------------------------------------------------------------

def test_cli_corpus_info_json_follows_the_contract(emodb_official, capsys):
    assert main(["corpus", "info", str(emodb_official), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"corpus", "n_utterances", "classes", "speakers", "total_seconds", "skipped"} <= set(summary)
    assert summary["corpus"] == "emodb"
    assert summary["n_utterances"] == 535
    assert summary["classes"] == {"anger": 127, "boredom": 81, "disgust": 46, "fear": 69,
                                  "happiness": 71, "neutral": 79, "sadness": 62}
    assert summary["speakers"]["03"] == 49 and len(summary["speakers"]) == 10
    assert summary["total_seconds"] == pytest.approx(535 * 0.02, abs=0.1)
    assert summary["skipped"] == []
    assert list(summary["classes"]) == [c for c in CANONICAL_LABELS if c in summary["classes"]]


def test_cli_passes_iemocap_options_and_reports_what_was_left_out(iemocap_root, capsys):
    assert main(["corpus", "info", str(iemocap_root), "--subset", "all", "--no-merge-excited", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_utterances"] == 4490
    assert summary["options"] == {"subset": "all", "merge_excited": False}
    assert summary["excluded"]["label 'exc' (excited): merge_excited=False"] == 1041
    assert main(["corpus", "info", str(iemocap_root)]) == 0
    text = capsys.readouterr().out
    assert "2943 utterances" in text and "5255  scripted dialog (subset='improvised')" in text


def test_cli_lists_skipped_files_in_the_table(tmp_path, capsys):
    put(tmp_path, ["wav/03a01Wa.wav"])
    put(tmp_path, ["wav/03a01Xa.wav"])
    assert main(["corpus", "info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "skipped  1 file:" in out and "unknown EmoDB emotion code 'X'" in out


@pytest.mark.parametrize("args,message", [
    (["{tmp}/missing"], "does not exist"),
    (["{tmp}/emodb", "--corpus", "ravdess"], "does not look like RAVDESS"),
    (["{tmp}/emodb", "--subset", "all"], "corpus 'emodb' has no option 'subset'"),
], ids=["missing-root", "wrong-layout", "wrong-option"])
def test_cli_errors_are_one_line_and_status_2(tmp_path, capsys, args, message):
    put(tmp_path / "emodb", ["wav/03a01Wa.wav"])
    status = main(["corpus", "info", *[a.format(tmp=tmp_path) for a in args], "--json"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("error: ") and message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
