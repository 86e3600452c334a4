"""The synthetic corpus: deterministic, in real layouts, readable by the real loaders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sertune import __version__
from sertune.cli import main
from sertune.cli import train as train_cli
from sertune.corpora import load_corpus
from sertune.corpora.marker import MARKER, describe_corpus, synthetic_label
from sertune.corpora.synth import STYLES, make_speaker, synthesize, utterance
from sertune.errors import ConfigError
from sertune.training.metrics import METRICS


@pytest.mark.parametrize("layout,n_classes,speakers", [("emodb", 7, {"03", "08"}), ("savee", 7, {"DC", "JE"})])
def test_written_layout_is_read_by_the_real_loader(tmp_path, layout, n_classes, speakers):
    files = synthesize(tmp_path, layout=layout, speakers=2, per_class=3, seed=1)
    corpus = load_corpus(tmp_path)                       # autodetected
    assert corpus.name == layout
    assert len(files) == len(corpus.utterances) == 2 * 3 * n_classes
    assert set(corpus.class_counts().values()) == {6}
    assert set(corpus.speaker_counts()) == speakers
    assert not corpus.skipped
    assert all(1.0 <= u.duration <= 6.0 for u in corpus.utterances)


def test_same_seed_same_bytes_other_seed_other_audio(tmp_path):
    a = synthesize(tmp_path / "a", layout="emodb", speakers=1, per_class=2, seed=5)
    b = synthesize(tmp_path / "b", layout="emodb", speakers=1, per_class=2, seed=5)
    c = synthesize(tmp_path / "c", layout="emodb", speakers=1, per_class=2, seed=6)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


def test_classes_differ_in_the_intended_direction():
    """Anger is louder and higher than sadness for the same speaker, on average."""
    voice = make_speaker("03", "m", 0, seed=0)
    rms = {lab: np.mean([np.sqrt(np.mean(utterance(voice, lab, np.random.default_rng(k)) ** 2))
                         for k in range(6)]) for lab in ("anger", "sadness")}
    assert rms["anger"] > 2 * rms["sadness"]
    assert STYLES["anger"].pitch > STYLES["sadness"].pitch


@pytest.mark.parametrize("kwargs,match", [
    ({"layout": "iemocap"}, "layout='iemocap' is not supported"),
    ({"speakers": 0}, "speakers=0 is out of range"),
    ({"layout": "savee", "speakers": 5}, "1 to 4 speakers"),
    ({"per_class": 61}, "per_class=61 is out of range"),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        synthesize(tmp_path, **kwargs)


def test_cli_synth_then_info(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "s"), "--layout", "savee", "--speakers", "1", "--per-class", "1"]) == 0
    assert "wrote 7 files" in capsys.readouterr().out
    assert main(["synth", str(tmp_path / "s"), "--speakers", "11"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: speakers=11") and "Traceback" not in err


# --------------------------------------------------------------------------- the synthetic marker

CONTRACT_KEYS = {"corpus", "root", "options", "n_utterances", "classes", "speakers", "total_seconds",
                 "skipped", "excluded"}


def test_synth_writes_a_marker_that_the_loader_reads(tmp_path):
    synthesize(tmp_path, layout="savee", speakers=1, per_class=2, seed=3)
    marker = json.loads((tmp_path / MARKER).read_text())
    assert marker == {"generator": "sertune synth", "version": __version__, "layout": "savee", "seed": 3,
                      "speakers": 1, "per_class": 2, "sample_rate": 16000}
    corpus = load_corpus(tmp_path)
    assert corpus.name == "savee" and corpus.synthetic == marker
    (tmp_path / MARKER).unlink()                       # the same audio without the marker reads as real
    assert load_corpus(tmp_path).synthetic is None


@pytest.mark.parametrize("marker,label", [
    (None, None),
    ({"generator": "sertune synth", "layout": "emodb", "seed": 0}, "synthetic (sertune synth, layout emodb, seed 0)"),
    ({"generator": "sertune synth", "layout": "savee", "seed": 12, "speakers": 4},
     "synthetic (sertune synth, layout savee, seed 12)"),
    ({"generator": "sertune synth", "error": "bad"}, "synthetic (sertune synth, marker unreadable)"),
    ({}, "synthetic (sertune synth)"),
])
def test_synthetic_label(marker, label):
    assert synthetic_label(marker) == label
    assert describe_corpus("emodb", marker) == (label or "emodb")


@pytest.mark.parametrize("content,error", [
    ("{not json", "unreadable"),
    ("[1, 2]", "holds no JSON object"),
])
def test_a_damaged_marker_still_marks_the_corpus_synthetic(tmp_path, content, error):
    synthesize(tmp_path, speakers=1, per_class=1)
    (tmp_path / MARKER).write_text(content)
    synthetic = load_corpus(tmp_path).synthetic
    assert synthetic["generator"] == "sertune synth" and error in synthetic["error"]


def test_corpus_info_says_synthetic_in_text_and_json(tmp_path, capsys):
    root = tmp_path / "s"
    assert main(["synth", str(root), "--layout", "emodb", "--speakers", "1", "--per-class", "1", "--seed", "7"]) == 0
    assert f"marked synthetic by {MARKER}" in capsys.readouterr().out
    assert main(["corpus", "info", str(root)]) == 0
    text = capsys.readouterr().out
    assert "synthetic (sertune synth, layout emodb, seed 7): made by `sertune synth`" in text
    assert main(["corpus", "info", str(root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == CONTRACT_KEYS | {"synthetic"}                 # additive: the contract keys stay
    assert (doc["corpus"], doc["n_utterances"]) == ("emodb", 7)
    assert doc["synthetic"]["layout"] == "emodb" and doc["synthetic"]["seed"] == 7

    (root / MARKER).unlink()
    assert main(["corpus", "info", str(root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == CONTRACT_KEYS | {"synthetic"} and doc["synthetic"] is None
    assert main(["corpus", "info", str(root)]) == 0
    assert "synthetic" not in capsys.readouterr().out


def test_train_summary_names_a_synthetic_corpus():
    stats = {"mean": 50.0, "std": 1.0}
    doc = {"theta": {"n_mels": 40, "win_length": 400, "hop_length": 160, "segment": 3.0}, "corpus": "emodb",
           "reps": [{}], "level": "utterance", "device": "cpu",
           "summary": {part: {m: stats for m in METRICS} for part in ("val", "test")}}
    real = train_cli.format_summary(doc | {"synthetic": None}, Path("o")).splitlines()[0]
    synthetic = train_cli.format_summary(doc | {"synthetic": {"layout": "emodb", "seed": 2}}, Path("o"))
    assert real.startswith("θ = M=40 L=400 H=160 T=3s on emodb, 1 repetition,")
    assert synthetic.splitlines()[0].startswith(
        "θ = M=40 L=400 H=160 T=3s on synthetic (sertune synth, layout emodb, seed 2), 1 repetition,")
