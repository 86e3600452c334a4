"""Training on the synthetic corpus: learns, is deterministic, keeps the best epoch, and the CLI."""

from __future__ import annotations

import json

import pytest
import torch

from sertune.training.checkpoint import load_checkpoint
from sertune.cli import main
from sertune.corpora import load_corpus
from sertune.training.dataset import build_segments
from sertune.training.corpus_splits import utterance_splits
from sertune.features.prepared import prepare
from sertune.errors import ConfigError
from sertune.features.theta import Theta
from sertune.training.fit import TrainConfig, fit

SMALL = Theta(n_mels=40, win_length=400, hop_length=160, segment=1.5)


@pytest.fixture(scope="module")
def prepared(synth_emodb, tmp_path_factory):
    return prepare(load_corpus(synth_emodb), cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


@pytest.fixture(scope="module")
def data(prepared):
    return build_segments(prepared.waves, prepared.labels, prepared.ids, SMALL, device=torch.device("cpu"))


@pytest.mark.slow
def test_segments_keep_their_utterance(prepared, data):
    assert len(data) >= len(prepared.ids)
    for row in range(len(data)):
        utt = prepared.ids[data.utterance[row]]
        assert data.segment_ids[row].startswith(utt + "#")
        assert data.labels[row] == prepared.labels[data.utterance[row]]
    assert data.store.shape[1:] == (40, SMALL.frames(16000)) and data.store.dtype == torch.float16


@pytest.mark.slow
def test_waves_mode_gives_the_same_features(prepared, data):
    waves = build_segments(prepared.waves, prepared.labels, prepared.ids, SMALL,
                           device=torch.device("cpu"), mode="waves")
    idx = torch.arange(0, len(data), 7)
    # float16 storage of dB values in [-100, 20] rounds to within 0.03 dB
    torch.testing.assert_close(waves.batch(idx), data.batch(idx), atol=0.07, rtol=0)


@pytest.mark.slow
def test_fit_learns_well_above_chance_and_keeps_best_epoch(prepared, data):
    split = utterance_splits(prepared, protocol="shuffle-split", reps=1, seed=0)[0]
    result = fit(data, split, n_classes=7, config=TrainConfig(epochs=10), seed=0)
    chance = 100 / 7
    best_val = max(h["val_wa"] for h in result.history)
    assert best_val > 2.5 * chance, result.history
    assert result.val["utterance"]["wa"] == pytest.approx(best_val)        # the best epoch was kept
    assert result.history[result.best_epoch - 1]["val_wa"] == best_val
    assert result.test["utterance"]["wa"] > 1.8 * chance
    assert result.epochs_run == 10 and result.seconds > 0


@pytest.mark.slow
def test_same_seed_same_numbers_on_cpu(prepared, data):
    split = utterance_splits(prepared, protocol="shuffle-split", reps=1, seed=1)[0]
    config = TrainConfig(epochs=2)
    a = fit(data, split, n_classes=7, config=config, seed=3)
    b = fit(data, split, n_classes=7, config=config, seed=3)
    assert a.history == b.history and a.test == b.test
    for k in a.state_dict:
        torch.testing.assert_close(a.state_dict[k], b.state_dict[k], rtol=0, atol=0)


@pytest.mark.parametrize("stop_after", [1, 3])
@pytest.mark.slow
def test_a_run_resumed_from_any_epoch_is_bit_identical(prepared, data, stop_after):
    """What an epoch checkpoint holds is enough: the resumed run equals the uninterrupted one."""
    split = utterance_splits(prepared, protocol="shuffle-split", reps=1, seed=1)[0]
    config = TrainConfig(epochs=4)
    snapshots, epochs_seen = {}, []
    full = fit(data, split, n_classes=7, config=config, seed=5,
               on_snapshot=lambda epoch, snap: snapshots.__setitem__(epoch, snap()))
    assert sorted(snapshots) == [1, 2, 3]                            # none after the last epoch
    resumed = fit(data, split, n_classes=7, config=config, seed=5, resume=snapshots[stop_after],
                  on_epoch=lambda epoch, loss, wa: epochs_seen.append(epoch))
    assert epochs_seen == list(range(stop_after + 1, 5))             # only the epochs left are trained
    assert resumed.history == full.history and resumed.best_epoch == full.best_epoch
    assert resumed.val == full.val and resumed.test == full.test
    for k in full.state_dict:
        torch.testing.assert_close(resumed.state_dict[k], full.state_dict[k], rtol=0, atol=0)


@pytest.mark.slow
def test_dropout_masks_come_from_the_run_seed_alone(prepared, data):
    """Draws from torch's global generator in between change nothing (explicit generators)."""
    split = utterance_splits(prepared, protocol="shuffle-split", reps=1, seed=1)[0]
    config = TrainConfig(epochs=1)
    torch.manual_seed(0)
    a = fit(data, split, n_classes=7, config=config, seed=3)
    torch.manual_seed(12345)
    torch.rand(1000)
    b = fit(data, split, n_classes=7, config=config, seed=3)
    c = fit(data, split, n_classes=7, config=config, seed=4)
    assert a.history == b.history
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    assert a.history != c.history


@pytest.mark.slow
def test_segment_split_unit_and_epoch_hook(prepared, data):
    from sertune.training.corpus_splits import segment_splits
    split = segment_splits(data, prepared, reps=1, seed=0)[0]
    assert all("#" in i for i in split.test)
    seen = []
    fit(data, split, n_classes=7, config=TrainConfig(epochs=2), seed=0, unit="segment",
        on_epoch=lambda e, loss, wa: seen.append((e, loss > 0, 0 <= wa <= 100)))
    assert seen == [(1, True, True), (2, True, True)]


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 0}, "epochs=0 must be a positive integer"),
    ({"lr": -1.0}, "lr=-1.0 must be a positive number"),
    ({"precision": "fp8"}, "precision='fp8' is unknown"),
    ({"init": "xavier"}, "init='xavier' is unknown"),
])
def test_bad_train_config(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


@pytest.mark.slow
def test_cli_train_end_to_end(synth_savee, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", str(synth_savee), "--n-mels", "32", "--win-length", "400", "--hop-length", "160",
            "--segment", "1.5", "--reps", "2", "--epochs", "2", "--out", str(out),
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    for part in ("test", "val"):
        for metric in ("wa", "ua", "precision", "f1"):
            assert set(doc["summary"][part][metric]) == {"mean", "std"}
    assert len(doc["reps"]) == 2 and doc["level"] == "utterance"
    assert json.loads((out / "metrics.json").read_text())["summary"] == doc["summary"]
    splits = json.loads((out / "splits.json").read_text())["splits"]
    assert len(splits) == 2 and not set(splits[0]["train"]) & set(splits[0]["test"])
    ckpt = load_checkpoint(out / "rep1" / "model.pt")
    assert ckpt.spec.theta == Theta(32, 400, 160, 1.5) and len(ckpt.spec.classes) == 7
    assert ckpt.model()(torch.zeros(1, 1, 32, 151)).shape == (1, 7)
    assert (out / "model.pt").is_file() and (out / "config.json").is_file()
    # Same command again: results are never overwritten.
    assert main(args) == 2
    assert "already holds results" in capsys.readouterr().err
    # Re-using the split file gives the same test sets.
    assert main(args[:-4] + ["--out", str(tmp_path / "again"), "--splits", str(out / "splits.json"),
                             "--cache-dir", str(tmp_path / "cache")]) == 0
    capsys.readouterr()
    again = json.loads((tmp_path / "again" / "splits.json").read_text())["splits"]
    assert again == splits


@pytest.mark.slow
def test_cli_train_with_fixed_threads(synth_savee, tmp_path, capsys, monkeypatch):
    """--threads N: that many threads, kept (no adjusting to the load), and said in metrics.json."""
    import sertune.cli.train as cli_train

    monkeypatch.setattr(cli_train, "CpuShare", lambda *a, **k: pytest.fail("--threads was not kept"))
    before = torch.get_num_threads()
    try:
        assert main(["train", str(synth_savee), "--n-mels", "24", "--win-length", "400", "--hop-length", "320",
                     "--segment", "1", "--reps", "2", "--epochs", "1", "--threads", "1",
                     "--out", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out, err = capsys.readouterr()
    assert "2 repetitions one after the other on cpu" in err
    assert "2 repetitions, utterance level" in out
    doc = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert doc["threads"] == [1] and doc["config"]["threads"] == 1 and "fused" not in doc


@pytest.mark.parametrize("extra,match", [
    (["--win-length", "400", "--hop-length", "160", "--segment", "1"], "--n-mels is required"),
    (["--n-mels", "40", "--win-length", "400", "--hop-length", "0", "--segment", "1"], "hop"),
    (["--n-mels", "40", "--win-length", "400", "--hop-length", "160", "--segment", "1",
      "--protocol", "loso", "--split-unit", "segment"], "only goes with"),
    (["--config", "CONFIG"], "unknown key 'n_mel'"),
    (["--n-mels", "40", "--win-length", "400", "--hop-length", "160", "--segment", "1", "--config", "FUSE"],
     r"unknown key 'fuse'"),
    (["--n-mels", "40", "--win-length", "400", "--hop-length", "160", "--segment", "1", "--threads", "0"],
     r"threads=0 must be a positive integer \(e.g. --threads 2\)"),
    # Each number's own rule before what they make together; too small an input is an error, not a crash.
    (["--n-mels", "-5", "--win-length", "400", "--hop-length", "160", "--segment", "1"],
     r"^error: n_mels=-5 is invalid: the number of mel filters must be a positive integer"),
    (["--n-mels", "8", "--win-length", "400", "--hop-length", "160", "--segment", "1"],
     r"^error: the network input is 8 mels x 101 frames; SqueezeNet needs at least 17 of each"),
    (["--config", "MISSING"], r"^error: config file \S+missing.toml does not exist"),
])
def test_cli_train_bad_settings(synth_savee, tmp_path, capsys, extra, match):
    (tmp_path / "c.toml").write_text("n_mel = 40\n")
    (tmp_path / "f.toml").write_text('fuse = "always"\n')
    files = {"CONFIG": tmp_path / "c.toml", "FUSE": tmp_path / "f.toml", "MISSING": tmp_path / "missing.toml"}
    extra = [str(files.get(e, e)) for e in extra]
    assert main(["train", str(synth_savee), "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    assert __import__("re").search(match, err), err


@pytest.mark.parametrize("theta", [Theta(128, 511, 16, 1.0), Theta(40, 127, 32, 0.5), Theta(40, 400, 160, 1.0)])
@pytest.mark.slow
def test_frames_match_the_features_for_odd_and_even_windows(prepared, theta):
    data = build_segments(prepared.waves[:2], prepared.labels[:2], prepared.ids[:2], theta,
                          device=torch.device("cpu"))
    assert data.store.shape[2] == theta.frames(16000)
