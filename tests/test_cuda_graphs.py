"""CUDA-graph training steps: on a GPU they train what eager steps train; everywhere, optimizer
state moves between graphed and eager runs. The GPU tests run where torch sees CUDA (the device
machine: `pytest tests/test_cuda_graphs.py`); the CPU tests run everywhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sertune.training.cuda_graphs import load_optimizer_state, use_graphs
from sertune.training.dataset import SegmentData
from sertune.training.model import build_model
from sertune.corpora.splits import Split
from sertune.features.theta import Theta
from sertune.training.fit import TrainConfig, fit

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on the device machine)")


def random_data(device: torch.device, *, utterances: int = 120, n_mels: int = 40, frames: int = 101) -> SegmentData:
    """Two segments per utterance of random "log-Mel" whose mean depends on the class: learnable."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(utterances).repeat_interleave(2) % 4
    store = torch.randn((2 * utterances, n_mels, frames), generator=gen) * 10 - 40 + labels[:, None, None] * 3.0
    ids = tuple(f"u{i}" for i in range(utterances))
    return SegmentData(Theta(n_mels, 400, 160, 1.0), 16000, "features", store.to(device, torch.float16),
                       labels.to(device), np.arange(utterances).repeat(2), ids,
                       tuple(f"u{i // 2}#{i % 2}" for i in range(2 * utterances)))


def split_of(data: SegmentData) -> Split:
    ids = data.utterance_ids
    return Split("r0", ids[:80], ids[80:100], ids[100:])


def test_graphs_are_used_on_cuda_only():
    assert not use_graphs(torch.device("cpu"))
    assert use_graphs(torch.device("cuda"))
    assert not use_graphs(torch.device("cuda"), enabled=False)


@pytest.mark.parametrize("saved, wanted", [(True, False), (False, False)])
def test_optimizer_state_of_a_graphed_run_resumes_eagerly(saved, wanted):
    """A checkpoint written by a GPU run with graphs (capturable Adam) resumes in an eager run."""
    model = build_model(4, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model(torch.randn(2, 1, 40, 40)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    for group in state["param_groups"]:
        group["capturable"] = saved
    other = build_model(4, seed=1)
    fresh = torch.optim.Adam(other.parameters(), lr=1e-4)
    load_optimizer_state(fresh, state, capturable=wanted)
    assert all(g["capturable"] is wanted for g in fresh.param_groups)
    steps = [s["step"] for s in fresh.state.values()]
    assert steps and all(s.device.type == "cpu" and s.item() == 1.0 for s in steps)
    other(torch.randn(2, 1, 40, 40)).sum().backward()
    fresh.step()                    # an eager step runs on the loaded state
    assert all(s["step"].item() == 2.0 for s in fresh.state.values())
    assert all(s["step"].item() == 1.0 for s in state["state"].values())   # the checkpoint is untouched


@pytest.mark.slow
def test_fit_on_cpu_ignores_the_graph_flag():
    data = random_data(torch.device("cpu"))
    config = TrainConfig(epochs=2, precision="fp32")
    a = fit(data, split_of(data), n_classes=4, config=config, seed=3, cuda_graphs=True)
    b = fit(data, split_of(data), n_classes=4, config=config, seed=3, cuda_graphs=False)
    assert a.history == b.history
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


@cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_graphed_steps_draw_the_eager_steps_batches_and_dropout_masks_on_cuda(precision):
    """With a learning rate too small to move the weights, an epoch's loss is fixed by its batches
    and dropout masks alone: graphed and eager runs must agree to float rounding. A graph that
    replayed one mask (its generator not advancing) or skipped a batch would differ at ~1e-3."""
    data = random_data(torch.device("cuda"))
    config = TrainConfig(epochs=3, precision=precision, batch_size=16, lr=1e-9)   # 160 rows: 10 full batches
    graphed = fit(data, split_of(data), n_classes=4, config=config, seed=5, cuda_graphs=True)
    eager = fit(data, split_of(data), n_classes=4, config=config, seed=5, cuda_graphs=False)
    for g, e in zip(graphed.history, eager.history):
        assert g["loss"] == pytest.approx(e["loss"], rel=1e-5), (graphed.history, eager.history)
    other_seed = fit(data, split_of(data), n_classes=4, config=config, seed=6, cuda_graphs=True)
    assert other_seed.history[0]["loss"] != pytest.approx(graphed.history[0]["loss"], rel=1e-5)


@cuda
def test_graphed_training_equals_eager_training_on_cuda():
    """At a learning rate that trains, graphs change nothing: eager steps on CUDA use the same
    capturable Adam, so the two runs do the same arithmetic (measured on an H200: equal weights
    after 6 epochs at 3 seeds). Allowance only for a GPU's nondeterministic gradient sums."""
    data = random_data(torch.device("cuda"))
    config = TrainConfig(epochs=3, precision="fp32", batch_size=16, lr=5e-4)
    graphed = fit(data, split_of(data), n_classes=4, config=config, seed=5, cuda_graphs=True)
    eager = fit(data, split_of(data), n_classes=4, config=config, seed=5, cuda_graphs=False)
    for g, e in zip(graphed.history, eager.history):
        assert g["loss"] == pytest.approx(e["loss"], rel=1e-5), (graphed.history, eager.history)
    for k in eager.state_dict:
        torch.testing.assert_close(graphed.state_dict[k], eager.state_dict[k], atol=1e-5, rtol=1e-4)


@cuda
@pytest.mark.parametrize("lr", [1e-9, 1e-4])
def test_graphed_training_with_a_partial_last_batch_and_resume_on_cuda(lr):
    """150 train rows at batch 16: 9 graphed batches and one eager batch of 6 per epoch; a run
    stopped after epoch 2 and resumed (graph captured again) ends where the uninterrupted one does,
    and where eager steps end. At lr 1e-9 the losses are fixed by batches and masks alone."""
    data = random_data(torch.device("cuda"))
    ids = data.utterance_ids
    split = Split("r0", ids[:75], ids[75:100], ids[100:])
    config = TrainConfig(epochs=4, precision="fp32", batch_size=16, lr=lr)
    snapshots = {}
    whole = fit(data, split, n_classes=4, config=config, seed=7,
                on_snapshot=lambda epoch, snap: snapshots.__setitem__(epoch, snap()))
    resumed = fit(data, split, n_classes=4, config=config, seed=7, resume=snapshots[2])
    eager = fit(data, split, n_classes=4, config=config, seed=7, cuda_graphs=False)
    for a, b, c in zip(whole.history, resumed.history, eager.history):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert c["loss"] == pytest.approx(a["loss"], rel=1e-5)
    for k in whole.state_dict:
        torch.testing.assert_close(resumed.state_dict[k], whole.state_dict[k], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(eager.state_dict[k], whole.state_dict[k], atol=1e-5, rtol=1e-4)
