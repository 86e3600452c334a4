"""ONNX export: logits match PyTorch, metadata round-trips, predict runs the .onnx, numbers are sane."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import sertune.deploy.export as export_mod
from sertune.training.checkpoint import load_checkpoint
from sertune.cli import main
from sertune.deploy.export import ExportError, conv_macs, export_onnx
from sertune.deploy.predict import ModelSpec, Predictor
from sertune.deploy.session import open_session
from sertune.errors import ConfigError
from sertune.training.model import SqueezeNet
from sertune.features.theta import Theta

THETA = Theta(32, 400, 160, 1.0)


@pytest.fixture(scope="module")
def exported(synth_model, tmp_path_factory):
    """The 2-epoch model of a small synthetic SAVEE corpus (conftest), exported once."""
    assert synth_model.theta == THETA
    tmp = tmp_path_factory.mktemp("export")
    report = export_onnx(synth_model.model, tmp / "model.onnx", runs=3)
    return SimpleNamespace(tmp=tmp, model=synth_model.model, onnx=tmp / "model.onnx", report=report,
                           paths=sorted(synth_model.paths.values()))


def test_conv_macs_counts_from_layer_shapes():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 6, 1),
                        nn.Conv2d(6, 6, 3, padding=1, groups=3))
    # 9x9 -> 4x4: 4*16*(1*9) = 576; 1x1: 6*16*4 = 384; grouped 3x3: 6*16*(2*9) = 1728
    assert conv_macs(net, (1, 1, 9, 9)) == 576 + 384 + 1728
    assert not net[0]._forward_hooks                     # hooks removed: the model is unchanged
    # torchvision's squeezenet1_1 on ImageNet: 0.349 GMACs (its docs: "GFLOPS 0.35").
    assert conv_macs(SqueezeNet(1000, in_channels=3).eval(), (1, 3, 224, 224)) == 349_151_936


@pytest.mark.slow
def test_report_and_file(exported):
    r, ckpt = exported.report, load_checkpoint(exported.model)
    assert r["bytes"] == exported.onnx.stat().st_size > 2_000_000          # weights are inside the file
    assert r["parameters"] == sum(p.numel() for p in ckpt.model().parameters()) == 724_935
    assert r["input_shape"] == ["batch", 1, 32, 101]
    assert r["macs_per_second"] == pytest.approx(r["macs_per_segment"] / THETA.segment)
    assert r["macs_per_segment"] == conv_macs(ckpt.model(), (1, 1, 32, 101))
    assert r["check"]["max_abs_diff"] <= 1e-4 and r["check"]["examples"] >= 5
    assert r["latency_ms"]["network"] > 0 and r["latency_ms"]["features"] > 0
    assert not list(exported.tmp.glob(".model.onnx*"))                     # no temporary left


@pytest.mark.slow
def test_onnx_logits_match_torch_and_metadata_round_trips(exported):
    ckpt = load_checkpoint(exported.model)
    session = open_session(exported.onnx)
    spec = ModelSpec.from_metadata(session.get_modelmeta().custom_metadata_map)
    assert spec == ckpt.spec
    x = np.random.default_rng(1).standard_normal((5, 1, 32, 101), dtype=np.float32) * 2
    with torch.inference_mode():
        ref = ckpt.model()(torch.from_numpy(x)).numpy()
    got = session.run(None, {"log_mel": x})[0]
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.slow
def test_predict_with_onnx_gives_the_labels_of_the_checkpoint(exported):
    onnx_pred = Predictor(exported.onnx)
    assert onnx_pred.classes == Predictor(exported.model).classes and "onnxruntime" in repr(onnx_pred)
    a = onnx_pred.predict_files(exported.paths)
    b = Predictor(exported.model, precision="fp32").predict_files(exported.paths)
    assert [x.label for x in a] == [y.label for y in b]
    np.testing.assert_allclose(np.stack([x.scores for x in a]), np.stack([y.scores for y in b]), atol=1e-4)
    # Against the default precision (bf16 on fast-bf16 CPUs, as training): labels agree off near-ties.
    c = np.stack([r.scores for r in Predictor(exported.model).predict_files(exported.paths)])
    top2 = np.sort(c, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2e-2
    assert (np.array([x.label for x in a])[clear] == np.array(onnx_pred.classes)[c.argmax(1)][clear]).all()
    with pytest.raises(ConfigError, match="fp32"):
        Predictor(exported.onnx, precision="bf16")


@pytest.mark.slow
def test_onnx_without_metadata_is_refused(exported, tmp_path, capsys):
    model = onnx.load(str(exported.onnx))
    del model.metadata_props[:]
    onnx.save(model, str(tmp_path / "bare.onnx"))
    assert main(["predict", str(tmp_path / "bare.onnx"), exported.paths[0]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "without sertune metadata" in err and "Traceback" not in err


@pytest.mark.slow
def test_failed_verification_leaves_no_file(exported, tmp_path, monkeypatch):
    def fake_export(net, spec, path):
        shutil.copyfile(exported.onnx, path)
        return 20
    monkeypatch.setattr(export_mod, "_export", fake_export)
    monkeypatch.setattr(export_mod, "max_logit_diff", lambda *a: 0.5)
    with pytest.raises(ExportError, match="differ from PyTorch's by up to 0.5"):
        export_onnx(exported.model, tmp_path / "bad.onnx", runs=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_export_end_to_end(exported, tmp_path, capsys):
    out = tmp_path / "sub" / "m.onnx"
    assert main(["export", str(exported.model), "--onnx", str(out), "--runs", "2",
                 "--audio", exported.paths[0], "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["onnx"] == str(out) and out.is_file() and doc["check"]["max_abs_diff"] <= 1e-4
    assert doc["check"]["examples"] == 6                     # 1 + 3 random, chirp, the audio file
    assert main(["predict", str(out), exported.paths[0], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["prediction"] == Predictor(exported.onnx).predict_file(
        exported.paths[0]).label


@pytest.mark.parametrize("args,match", [
    (["MISSING", "--onnx", "OUT/m.onnx"], "does not exist"),
    (["MODEL", "--onnx", "OUT/m.txt"], "must end in .onnx"),
    (["ONNX", "--onnx", "OUT/m.onnx"], "already an ONNX model"),
    (["MODEL", "--onnx", "OUT/m.onnx", "--audio", "OUT/nope.wav"], "does not exist"),
])
@pytest.mark.slow
def test_cli_export_errors(exported, tmp_path, capsys, args, match):
    subst = {"MISSING": str(tmp_path / "nope.pt"), "MODEL": str(exported.model), "ONNX": str(exported.onnx)}
    argv = [subst.get(a, a.replace("OUT", str(tmp_path))) for a in args]
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and match in err and "Traceback" not in err
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.slow
def test_export_stands_beside_predict():
    code = ("import sys, sertune.deploy.export; "
            "print('sertune.deploy.predict' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]            # export does not import predict


def test_open_session_runs_a_model_on_the_cpu_and_names_a_file_that_is_not_one(tmp_path):
    """Fast (a one-node graph, no export): the onnxruntime session predict and export share."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "relu.onnx")
    session = open_session(tmp_path / "relu.onnx", threads=1)
    assert session.get_session_options().intra_op_num_threads == 1
    out = session.run(None, {"x": np.array([[-1.0, 0.5, 2.0]], dtype=np.float32)})[0]
    np.testing.assert_array_equal(out, [[0.0, 0.5, 2.0]])
    (tmp_path / "fake.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(ConfigError, match=r"fake.onnx is not a readable ONNX model"):
        open_session(tmp_path / "fake.onnx")
