"""Fused repetitions: every member equals its one-at-a-time training, whatever else is fused.

One module-scoped setup trains 4 members (3 shuffle-split repetitions and one with
fewer training utterances, so fewer batches per epoch) one at a time and fused;
the tests compare them. fp32 on the CPU, where each member runs its own layers: bit
for bit (weights, Adam moments, losses, predictions, generator states). A GPU's stack
of grouped convolutions adds in another order: one step of it is checked against the
members' own layers to float rounding.
"""

from __future__ import annotations

import copy
import dataclasses

import optuna
import pytest
import torch

from sertune.corpora import load_corpus
from sertune.corpus_splits import utterance_splits
from sertune.dataset import build_segments
from sertune.errors import ConfigError
from sertune.fused import MemberStopped, fit_fused
from sertune.fused_probe import fused_is_faster
from sertune.fused_stack import _Stack
from sertune.model import build_model
from sertune.prepared import prepare
from sertune.theta import Theta
from sertune.train import TrainConfig, fit, rep_seed

CONFIG = TrainConfig(epochs=4, precision="fp32")
SNAP = 3                      # fit snapshots after epochs 1..3 of 4: compare the state after epoch 3
ATOL = 0.0


@pytest.fixture(scope="module")
def savee(synth_savee, tmp_path_factory):
    return prepare(load_corpus(synth_savee, "savee"), cache_dir=tmp_path_factory.mktemp("cache"), progress=False)


@pytest.fixture(scope="module")
def setup(savee):
    prepared = savee
    data = build_segments(prepared.waves, prepared.labels, prepared.ids, Theta(24, 400, 320, 1.0),
                          device=torch.device("cpu"))
    splits = utterance_splits(prepared, protocol="shuffle-split", reps=3, seed=0)
    short = dataclasses.replace(splits[0], name="short", train=splits[0].train[:-12])
    splits.append(short)
    seeds = [rep_seed(0, r) for r in range(len(splits))]
    return data, splits, seeds


def _train(data, splits, seeds, **kwargs):
    """Fused training with every member's snapshot after epoch SNAP; (results, {member: state})."""
    snaps = {}
    results = fit_fused(data, splits, n_classes=7, config=CONFIG, seeds=seeds,
                        on_snapshot=lambda i, e, snap: snaps.__setitem__(i, snap()) if e == SNAP else None,
                        **kwargs)
    return results, snaps


@pytest.fixture(scope="module")
def single(setup):
    """Each member trained alone by train.fit: [(result, state after epoch SNAP)]."""
    data, splits, seeds = setup
    out = []
    for split, seed in zip(splits, seeds):
        snaps = {}
        result = fit(data, split, n_classes=7, config=CONFIG, seed=seed,
                     on_snapshot=lambda e, snap: snaps.__setitem__(e, snap()) if e == SNAP else None)
        out.append((result, snaps[SNAP]))
    return out


@pytest.fixture(scope="module")
def fused(setup):
    return _train(*setup)


def _same_result(a, b):
    """Two RunResults of one member agree: history, selection, metrics, normaliser, weights."""
    assert [h["epoch"] for h in a.history] == [h["epoch"] for h in b.history]
    assert [h["val_wa"] for h in a.history] == [h["val_wa"] for h in b.history]
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    assert (a.best_epoch, a.epochs_run, a.split, a.seed) == (b.best_epoch, b.epochs_run, b.split, b.seed)
    assert (a.mean, a.std) == (b.mean, b.std)                 # the member's own train rows, exactly
    assert a.val == b.val and a.test == b.test                # the same predictions, so the same metrics
    _close(a.state_dict, b.state_dict)


def _close(a: dict, b: dict, atol: float = ATOL):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=atol, msg=lambda m: f"{k}: {m}")


def _same_state(a, b):
    """Two TrainStates after the same epoch: weights and Adam moments close, generators bit for bit."""
    assert torch.equal(a.order_rng, b.order_rng)              # the same batch-order draws
    assert torch.equal(a.dropout_rng, b.dropout_rng)          # the same number of dropout draws
    _close(a.model, b.model)
    sa, sb = a.optimizer["state"], b.optimizer["state"]
    assert sa.keys() == sb.keys() and a.optimizer["param_groups"] == b.optimizer["param_groups"]
    for j in sa:
        assert float(sa[j]["step"]) == float(sb[j]["step"])   # each member's own Adam step count
        torch.testing.assert_close(sa[j]["exp_avg"], sb[j]["exp_avg"], rtol=0, atol=ATOL)
        torch.testing.assert_close(sa[j]["exp_avg_sq"], sb[j]["exp_avg_sq"], rtol=0, atol=ATOL)


def test_each_fused_member_equals_its_training_alone(setup, single, fused):
    data, splits, _ = setup
    assert len({-(-len(data.rows(s.train)) // CONFIG.batch_size) for s in splits}) == 2   # uneven batch counts
    results, snaps = fused
    assert len(results) == len(splits) == len(snaps)
    for i, (result, state) in enumerate(single):
        _same_result(results[i], result)
        _same_state(snaps[i], state)


@pytest.mark.parametrize("sizes", [(8, 8, 5), (8, 0, 5)])
def test_the_grouped_stack_of_a_gpu_takes_the_step_of_the_members_own_layers(sizes):
    models = [build_model(7, seed=s) for s in range(3)]
    states = [m.state_dict() for m in models]
    gen = torch.Generator().manual_seed(0)
    x = [torch.randn((b, 1, 24, 51), generator=gen).contiguous(memory_format=torch.channels_last) for b in sizes]
    y = [torch.randint(0, 7, (b,), generator=gen) for b in sizes]
    stacks = [_Stack(models[0], states, lr=1e-3, device=torch.device("cpu"), grouped=g) for g in (True, False)]
    assert _Stack(models[0], states, lr=1e-3, device=torch.device("cpu")).grouped is False   # a CPU's default
    losses = [s.train_step(x, y, [torch.Generator().manual_seed(i) for i in range(3)], bf16=False) for s in stacks]
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-6, atol=1e-6)
    assert losses[0][1] == 0 if sizes[1] == 0 else losses[0][1] > 0
    for i in range(3):
        _close(stacks[0].state(i), stacks[1].state(i), atol=1e-6)
    with torch.no_grad():
        grouped, own = (s.logits(x) for s in stacks)
    for a, b in zip(grouped, own):
        assert (a is None) == (b is None) and (a is None or torch.allclose(a, b, atol=1e-5))
    if sizes[1] == 0:       # a member sitting the step out keeps its weights exactly
        _close(stacks[1].state(1), states[1])


def test_a_fused_snapshot_resumes_in_fit(setup, single, fused):
    """A member's snapshot is fit's TrainState: fit(resume=...) finishes the member alone."""
    data, splits, seeds = setup
    state = copy.deepcopy(fused[1][1])            # fit's Adam takes the state's tensors over and steps them
    resumed = fit(data, splits[1], n_classes=7, config=CONFIG, seed=seeds[1], resume=state)
    _same_result(resumed, single[1][0])


@pytest.mark.parametrize("source", ["fit", "fused"])
def test_a_stack_resumes_from_snapshots_of_fit_or_of_a_stack(setup, single, fused, source):
    """Every member goes on from its epoch-SNAP state, fit's or a fused member's, to the numbers
    of the run that never stopped; the history before the stop is kept."""
    data, splits, seeds = setup
    states = [copy.deepcopy(state) for _, state in single] if source == "fit" else \
        [copy.deepcopy(fused[1][i]) for i in range(len(splits))]
    epochs = []
    results = fit_fused(data, splits, n_classes=7, config=CONFIG, seeds=seeds, resume=states,
                        on_epoch=lambda i, e, loss, wa: epochs.append(e))
    assert set(epochs) == {SNAP + 1}
    for i, (result, _) in enumerate(single):
        _same_result(results[i], result)


@pytest.mark.parametrize("change,match", [
    (lambda states: states[:1], r"resume must be a list of 2 TrainState \(one per split\), or None"),
    (lambda states: [states[0], dataclasses.replace(states[1], epoch=2)],
     r"resume states are after epochs \[2, 3\]: a stack goes on from one epoch"),
])
def test_resume_states_must_fit_the_stack(setup, single, change, match):
    data, splits, seeds = setup
    with pytest.raises(ConfigError, match=match):
        fit_fused(data, splits[:2], n_classes=7, config=CONFIG, seeds=seeds[:2],
                  resume=change([state for _, state in single[:2]]))


def test_a_member_does_not_depend_on_what_else_is_fused(setup, single, fused):
    data, splits, seeds = setup
    alone, alone_snaps = _train(data, splits[3:], seeds[3:])
    assert alone[0].history == single[3][0].history                   # alone: fit's numbers bit for bit
    _close(alone_snaps[0].model, single[3][1].model, atol=0)
    pair, pair_snaps = _train(data, [splits[3], splits[1]], [seeds[3], seeds[1]])     # another order
    _same_result(alone[0], fused[0][3])
    _same_result(pair[0], fused[0][3])
    _same_result(pair[1], fused[0][1])
    _same_state(alone_snaps[0], fused[1][3])
    _same_state(pair_snaps[1], fused[1][1])


def test_a_stopped_member_leaves_and_the_others_go_on(setup, single):
    data, splits, seeds = setup
    seen = []

    def on_epoch(i, epoch, loss, wa):
        seen.append((i, epoch))
        if (i, epoch) == (1, 1):
            raise MemberStopped
        if (i, epoch) == (2, 2):
            raise optuna.TrialPruned

    results, snaps = _train(data, splits[:3], seeds[:3], on_epoch=on_epoch,
                            stop_on=(MemberStopped, optuna.TrialPruned))
    assert seen == [(0, 1), (1, 1), (2, 1), (0, 2), (2, 2), (0, 3), (0, 4)]
    assert sorted(snaps) == [0]                               # stopped members take no more snapshots
    _same_result(results[0], single[0][0])
    _same_state(snaps[0], single[0][1])
    for i, epochs in ((1, 1), (2, 2)):
        assert results[i].epochs_run == epochs < CONFIG.epochs
        for got, want in zip(results[i].history, single[i][0].history[:epochs], strict=True):
            assert got == pytest.approx(want, rel=1e-5)
        assert 1 <= results[i].best_epoch <= epochs and results[i].test["utterance"]["wa"] >= 0


def test_members_that_all_stop_at_once_end_the_run_with_their_results(setup, single):
    data, splits, seeds = setup
    ends = []

    def on_epoch(i, epoch, loss, wa):
        if epoch == 2:
            raise MemberStopped

    results, _ = _train(data, splits[:2], seeds[:2], on_epoch=on_epoch, after_epoch=ends.append)
    assert ends == [1, 2] and [r.epochs_run for r in results] == [2, 2]
    for got, want in zip(results, single):
        assert got.seconds > 0
        for a, b in zip(got.history, want[0].history[:2], strict=True):
            assert a == pytest.approx(b, rel=1e-5)


def test_other_exceptions_end_the_run(setup):
    data, splits, seeds = setup

    def on_epoch(i, epoch, loss, wa):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_fused(data, splits[:1], n_classes=7, config=dataclasses.replace(CONFIG, epochs=1), seeds=seeds[:1],
                  on_epoch=on_epoch)


def test_the_probe_decides_once_per_shape(monkeypatch):
    import sertune.fused_probe as fused_module
    decision = fused_is_faster((24, 51), 2, torch.device("cpu"), precision="fp32", batch_size=4, steps=1)
    assert isinstance(decision, bool)
    monkeypatch.setattr(fused_module, "probe_steps", lambda *a, **k: pytest.fail("measured twice"))
    assert fused_is_faster((24, 51), 2, torch.device("cpu"), precision="fp32", batch_size=4, steps=1) is decision


@pytest.mark.parametrize("shape,k", [((16, 301), 2), ((40,), 2), ((40, 301), 0)])
def test_the_probe_rejects_what_squeezenet_cannot_train(shape, k):
    with pytest.raises(ConfigError, match=r"the shape must be \(n_mels, frames\), each >= 17"):
        fused_is_faster(shape, k, torch.device("cpu"))


@pytest.mark.parametrize("change,match", [
    ({"splits": []}, r"splits=\[\] must be a non-empty list of Split"),
    ({"seeds": [1, 2]}, r"seeds=\[1, 2\] must be a list of 1 int"),
    ({"seeds": [True]}, r"seeds=\[True\] must be non-negative integers"),
    ({"seeds": [-1]}, r"seeds=\[-1\] must be non-negative integers"),
    ({"splits": ["rep0"]}, "splits must hold Split objects only"),
    ({"unit": "frame"}, "split unit 'frame' is unknown"),
    ({"on_epoch": 3}, "on_epoch=3 must be callable"),
    ({"after_epoch": "x"}, "after_epoch=.x. must be callable"),
    ({"stop_on": MemberStopped}, "stop_on=.* must be a tuple of exception classes"),
])
def test_bad_input(setup, change, match):
    data, splits, seeds = setup
    kwargs = {"splits": splits[:1], "seeds": seeds[:1]} | change
    with pytest.raises(ConfigError, match=match):
        fit_fused(data, n_classes=7, config=CONFIG, **kwargs)


def test_a_split_of_another_corpus_is_an_error(setup):
    data, splits, seeds = setup
    foreign = dataclasses.replace(splits[0], name="foreign", val=("nope",))
    with pytest.raises(ConfigError, match="'foreign': the val part matches no segment"):
        fit_fused(data, [splits[0], foreign], n_classes=7, config=CONFIG, seeds=seeds[:2])


def test_settings_of_one_input_shape_fuse_each_with_its_own_features(savee, setup, single):
    """Two window lengths of one (M, H, T) in one stack: each member equals fit on its own θ's
    features (rounding only), and the member of the first θ its fit from the fixture."""
    data, splits, seeds = setup
    theta = dataclasses.replace(data.theta, win_length=640)             # same n_mels and frames
    other = build_segments(savee.waves, savee.labels, savee.ids, theta, device=torch.device("cpu"))
    alone = fit(other, splits[1], n_classes=7, config=CONFIG, seed=seeds[1])
    results = fit_fused([data, other], splits[:2], n_classes=7, config=CONFIG, seeds=seeds[:2])
    _same_result(results[0], single[0][0])
    _same_result(results[1], alone)
    assert results[1].test != single[1][0].test or results[1].history != single[1][0].history   # its own features


@pytest.mark.parametrize("datas,match", [
    ("TWO_SHAPES", r"fused members need inputs of one shape on one device; got shapes \(n_mels, frames\) "
                   r"\[\(24, 51\), \(32, 51\)\]"),
    ("ONE_OF_TWO", r"data must be one SegmentData or a list of 2 \(one per split\), not list of 1"),
])
def test_members_of_other_shapes_are_refused(savee, setup, datas, match):
    data, splits, seeds = setup
    other = build_segments(savee.waves, savee.labels, savee.ids, dataclasses.replace(data.theta, n_mels=32),
                           device=torch.device("cpu"))
    datas = {"TWO_SHAPES": [data, other], "ONE_OF_TWO": [data]}[datas]
    with pytest.raises(ConfigError, match=match):
        fit_fused(datas, splits[:2], n_classes=7, config=CONFIG, seeds=seeds[:2])
