"""The synthetic corpus: deterministic, in real layouts, readable by the real loaders."""

from __future__ import annotations

import numpy as np
import pytest

from sertune.cli import main
from sertune.corpora import load_corpus
from sertune.corpora.synth import STYLES, make_speaker, synthesize, utterance
from sertune.errors import ConfigError


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
