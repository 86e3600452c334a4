"""Inference: predictions reproduce training's evaluation, bad files are reported, the CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch

import sertune.deploy.predict as predict_mod
from sertune.cli import main
from sertune.deploy.predict import PADDED_SHARE, QUIET_DBFS, SHORT_SECONDS, Predictor, input_warnings
from sertune.training.dataset import build_segments
from sertune.training.devices import use_bf16
from sertune.errors import ConfigError
from sertune.training.metrics import utterance_log_probs
from sertune.features.theta import Theta
from sertune.training.fit import log_probs

THETA = Theta(32, 400, 160, 1.0)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def trained(synth_model):
    """A 2-epoch model on a small synthetic SAVEE corpus, with the split it was tested on (conftest)."""
    assert synth_model.theta == THETA
    return synth_model


def _training_scores(trained, predictor, *, mode, bf16):
    """Utterance scores of the test part, computed by training's own evaluation code."""
    p = trained.prepared
    data = build_segments(p.waves, p.labels, p.ids, THETA, device=CPU, mode=mode)
    rows = data.rows(trained.split.test)
    model = predictor._net.model
    lp = log_probs(model, data, rows, predictor.spec.mean, predictor.spec.std, bf16=bf16, batch_size=64)
    uniq, index = np.unique(data.utterance[rows], return_inverse=True)
    return [p.ids[u] for u in uniq], utterance_log_probs(lp, index, len(uniq)), p.labels[uniq]


@pytest.mark.parametrize("precision", ["auto", "fp32"])
@pytest.mark.slow
def test_predict_reproduces_training_evaluation(trained, precision):
    predictor = Predictor(trained.model, precision=precision)
    bf16 = use_bf16(CPU, precision)
    assert predictor._net.bf16 == bf16           # same precision logic as training on this machine
    # Training's evaluation code on float32 features: identical scores.
    ids, exact, _ = _training_scores(trained, predictor, mode="waves", bf16=bf16)
    got = predictor.predict_files([trained.paths[i] for i in ids])
    scores = np.stack([r.scores for r in got])
    np.testing.assert_allclose(scores, exact, rtol=0, atol=1e-6)
    # What training actually evaluated: float16-stored features (within ~0.03 dB).
    ids16, stored, truth = _training_scores(trained, predictor, mode="features", bf16=bf16)
    assert ids16 == ids
    assert np.abs(scores - stored).max() < 1e-2
    top2 = np.sort(stored, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2e-2          # not a near-tie that rounding may flip
    assert clear.mean() >= 0.8, "the test model has too many near-ties to compare labels"
    labels = np.array([predictor.classes.index(r.label) for r in got])
    assert (labels[clear] == stored.argmax(1)[clear]).all()
    if precision == "auto":   # the training run itself: its test confusion matrix from these labels
        confusion = np.zeros((len(predictor.classes),) * 2, dtype=int)
        np.add.at(confusion, (truth, stored.argmax(1)), 1)
        assert confusion.tolist() == trained.doc["reps"][0]["test"]["utterance"]["confusion"]
        if clear.all():
            np.add.at(confusion, (truth, labels), 1)
            assert (confusion == 2 * np.asarray(trained.doc["reps"][0]["test"]["utterance"]["confusion"])).all()


@pytest.mark.slow
def test_results_do_not_depend_on_batching(trained, monkeypatch):
    paths = sorted(trained.paths.values())[:12]
    single = Predictor(trained.model, precision="fp32", batch_size=64)
    one_by_one = [single.predict_file(p) for p in paths]
    monkeypatch.setattr(predict_mod, "GROUP_SEGMENTS", 5)    # several groups, several batches each
    grouped = Predictor(trained.model, precision="fp32", batch_size=3).predict_files(paths)
    for a, b in zip(one_by_one, grouped):
        assert a.label == b.label and a.segments == b.segments and a.path == b.path
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


@pytest.mark.slow
def test_prediction_fields_and_segments(trained, tmp_path):
    predictor = Predictor(trained.model)
    wave = trained.prepared.waves[0]
    long = np.concatenate([wave] * 6)[: int(3.5 * 16000)]           # 3.5 s: 3 segments, tail dropped
    sf.write(tmp_path / "long.wav", long, 16000, subtype="FLOAT")
    r = predictor.predict_file(tmp_path / "long.wav")
    assert r.ok and r.segments == 3 and r.label in predictor.classes
    assert set(r.probabilities) == set(predictor.classes)
    assert sum(r.probabilities.values()) == pytest.approx(1.0)
    assert max(r.probabilities, key=r.probabilities.get) == r.label
    assert r.as_dict() == {"path": str(tmp_path / "long.wav"), "prediction": r.label,
                           "probabilities": r.probabilities, "segments": 3, "warnings": []}
    # In memory, and at another rate (resampled as files are), the same decision.
    w = predictor.predict_waveform(long)
    np.testing.assert_allclose(w.scores, r.scores, atol=1e-5)
    assert w.path is None and w.segments == 3
    import soxr
    w8 = predictor.predict_waveform(soxr.resample(long, 16000, 8000), sample_rate=8000)
    assert w8.segments == 3
    assert predictor.spec.input_shape == (1, 32, THETA.frames(16000)) == (1, 32, 101)


@pytest.mark.slow
def test_unreadable_files_are_reported_and_the_rest_predicted(trained, tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "empty").mkdir()
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    good = sorted(trained.paths.values())[:2]
    paths = [good[0], str(tmp_path / "notes.wav"), str(tmp_path / "missing.wav"),
             str(tmp_path / "empty"), str(nan), good[1]]
    results = Predictor(trained.model).predict_files(paths)
    assert [r.path for r in results] == paths
    assert [r.ok for r in results] == [True, False, False, False, False, True]
    assert "cannot decode" in results[1].error and "notes.wav" in results[1].error
    assert "does not exist" in results[2].error
    assert "folder" in results[3].error
    assert "NaN" in results[4].error
    assert results[1].as_dict() == {"path": paths[1], "error": results[1].error}


@pytest.mark.slow
def test_bad_arguments(trained):
    predictor = Predictor(trained.model)
    with pytest.raises(ConfigError, match="shape"):
        predictor.predict_waveform(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(ConfigError, match="batch_size"):
        Predictor(trained.model, batch_size=0)
    with pytest.raises(ConfigError, match="folder"):
        Predictor(trained.model.parent)


@pytest.mark.slow
def test_cli_predict_end_to_end(trained, tmp_path, capsys):
    good = sorted(trained.paths.values())[:3]
    (tmp_path / "bad.wav").write_text("not audio")
    assert main(["predict", str(trained.model), *good, str(tmp_path / "bad.wav"), "--json"]) == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [d["path"] for d in doc] == good + [str(tmp_path / "bad.wav")]
    assert set(doc[0]) == {"path", "prediction", "probabilities", "segments", "warnings"}
    classes = Predictor(trained.model).classes
    assert all(d["prediction"] in classes and d["warnings"] == [] for d in doc[:3])
    assert set(doc[3]) == {"path", "error"}
    assert captured.err.startswith("warning: 1 of 4 files could not be read")
    # The table, on a folder of audio (expanded to its files).
    folder = str(trained.corpus)
    assert main(["predict", str(trained.model), folder]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["file", "prediction", "segs"]
    assert len(table) == 2 + len(trained.paths) + 1
    # Nothing readable: the error contract, and the reason said once, in one sentence.
    for json_flag, where in (([], "the table"), (["--json"], "the error entries")):
        assert main(["predict", str(trained.model), str(tmp_path / "bad.wav"), *json_flag]) == 2
        out, err = capsys.readouterr()
        assert err.startswith("error: none of the 1 audio files could be read") and "Traceback" not in err
        assert f"the reasons are in {where}" in err
        assert (out + err).count("Format not recognised") == 1 and ".." not in out + err


@pytest.mark.parametrize("make,match", [
    (lambda d: d / "missing.pt", "does not exist"),
    (lambda d: (d / "notes.pt").write_text("hello") and d / "notes.pt", "not a readable sertune checkpoint"),
    (lambda d: torch.save({"a": torch.zeros(1)}, d / "other.pt") or d / "other.pt", "not a sertune checkpoint"),
    (lambda d: d, "is a folder"),
    (lambda d: (d / "fake.onnx").write_bytes(b"\x00garbage") and d / "fake.onnx", "not a readable ONNX model"),
    (lambda d: d / "missing.onnx", "does not exist"),
])
@pytest.mark.slow
def test_cli_bad_model_paths(trained, tmp_path, capsys, make, match):
    model = make(tmp_path)
    assert main(["predict", str(model), next(iter(trained.paths.values()))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and match in err and "Traceback" not in err


def _speech(seconds: float, *, level: float = 0.1) -> np.ndarray:
    """Noise with a speech-like level (RMS -20 dBFS at level 0.1), 16 kHz."""
    return np.random.default_rng(0).normal(0, level, int(seconds * 16000)).astype(np.float32)


@pytest.mark.parametrize("wave, expected", [
    (_speech(2.0), []),
    (_speech(0.6), []),                                          # shorter than T = 1 s, mostly speech
    (np.zeros(32000, dtype=np.float32), ["silent: every sample is zero"]),
    (_speech(2.0, level=10 ** ((QUIET_DBFS - 5) / 20)), ["near-silent: RMS -65 dBFS"]),
    (_speech(2.0, level=10 ** ((QUIET_DBFS + 5) / 20)), []),
    (_speech(478 / 16000), ["very short: 0.03 s (478 samples at 16000 Hz), less than 0.25 s",
                            "mostly padding: 0.03 s of audio for the model's 1 s segment, so 97 % of the "
                            "network's input is zero padding"]),
    (_speech(0.3), ["mostly padding: 0.30 s of audio for the model's 1 s segment, so 70 %"]),
    (np.zeros(478, dtype=np.float32), ["silent", "very short", "mostly padding"]),
])
def test_input_warnings_name_what_the_model_cannot_judge(wave, expected):
    got = input_warnings(wave, sample_rate=16000, segment=1.0)
    assert len(got) == len(expected) and all(g.startswith(e) for g, e in zip(got, expected)), got


def test_warning_thresholds_are_the_documented_ones():
    assert (QUIET_DBFS, SHORT_SECONDS, PADDED_SHARE) == (-60.0, 0.25, 1 / 3)
    assert input_warnings(_speech(1.48), sample_rate=16000, segment=3.0) == []         # half padding: ordinary
    assert input_warnings(_speech(1.3), sample_rate=16000, segment=4.0)[0].startswith(
        "mostly padding: 1.30 s of audio for the model's 4 s segment, so 68 %")


@pytest.mark.slow
def test_cli_predict_warns_on_silent_and_short_files_and_still_answers(trained, tmp_path, capsys):
    zero, short = tmp_path / "zero.wav", tmp_path / "short.wav"
    sf.write(zero, np.zeros(32000, dtype=np.float32), 16000)                      # 2 s of digital silence
    sf.write(short, _speech(478 / 16000), 16000)
    normal = sorted(trained.paths.values())[0]
    argv = ["predict", str(trained.model), str(zero), str(short), normal]
    assert main([*argv, "--json"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert [d["prediction"] in Predictor(trained.model).classes for d in doc] == [True] * 3   # still answered
    assert [len(d["warnings"]) for d in doc] == [1, 2, 0]
    assert doc[0]["warnings"][0].startswith("silent: every sample is zero")
    assert doc[1]["warnings"][0].startswith("very short: 0.03 s (478 samples")
    assert err.splitlines() == [f"warning: {zero}: {doc[0]['warnings'][0]}",
                                *(f"warning: {short}: {w}" for w in doc[1]["warnings"])]
    # The table: the same warnings on stderr, none for the ordinary file (other names: the CLI
    # shows each distinct warning once per process).
    zero.rename(zero := tmp_path / "zero-again.wav")
    assert main(["predict", str(trained.model), str(zero), normal]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {zero}: {doc[0]['warnings'][0]}\n"
    assert [line.split()[:2] for line in out.splitlines()[2:4]] == [[str(zero), doc[0]["prediction"]],
                                                                     [normal, doc[2]["prediction"]]]
def test_an_untrained_checkpoint_scores_files_and_reports_the_unreadable_ones(tmp_path, capsys):
    """Fast, without training: the scoring path of the API and the CLI on an untrained network."""
    from conftest import write_wav
    from sertune.training.checkpoint import save_checkpoint
    from sertune.training.model import SqueezeNet

    classes = ("anger", "neutral", "sadness")
    model = save_checkpoint(tmp_path / "model.pt", state_dict=SqueezeNet(len(classes)).state_dict(), theta=THETA,
                            classes=classes, mean=-40.0, std=20.0, sample_rate=16000, remainder="drop")
    wav = write_wav(tmp_path / "two_seconds.wav", seconds=2.0)
    (tmp_path / "bad.wav").write_text("not audio")
    good, bad = Predictor(model).predict_files([wav, tmp_path / "bad.wav"])
    assert good.ok and good.segments == 2 and list(good.probabilities) == list(classes)
    assert sum(good.probabilities.values()) == pytest.approx(1.0)
    assert good.label == max(good.probabilities, key=good.probabilities.get)
    assert not bad.ok and "bad.wav" in bad.error
    assert main(["predict", str(model), str(wav)]) == 0
    assert "two_seconds.wav" in capsys.readouterr().out
