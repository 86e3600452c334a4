"""Epoch checkpoints: saved when due, atomically, used only by the same training."""

from __future__ import annotations

import torch

from sertune.study.search.epoch_checkpoints import EpochCheckpoints, saved_epoch
from sertune.training.fit import TrainState

IDENTITY = {"search": "s", "seed": 0, "settings": {"epochs": 5}}


def state(epoch: int) -> TrainState:
    return TrainState(epoch=epoch, model={"w": torch.full((2,), float(epoch))}, optimizer={"state": {}},
                      order_rng=torch.Generator().manual_seed(1).get_state(),
                      dropout_rng=torch.Generator().manual_seed(2).get_state(), best_wa=50.0, best_epoch=epoch,
                      best_model={"w": torch.zeros(2)}, history=[{"epoch": e, "val_wa": 1.0} for e in range(epoch)])


def test_round_trip_and_identity(tmp_path):
    ck = EpochCheckpoints(tmp_path, IDENTITY)
    assert ck.load("M40-L400-H160-T3", 0) is None
    path = ck.save("M40-L400-H160-T3", 0, state(3))
    assert path == tmp_path / "rep0" / "M40-L400-H160-T3.pt" and saved_epoch(path) == 3
    back = ck.load("M40-L400-H160-T3", 0)
    assert back.epoch == 3 and torch.equal(back.model["w"], torch.full((2,), 3.0))
    assert torch.equal(back.order_rng, state(3).order_rng) and len(back.history) == 3
    assert not list(tmp_path.rglob("*.tmp"))                       # written via a temporary file
    # Another search, seed or setting never resumes from it; another repetition has its own file.
    assert EpochCheckpoints(tmp_path, IDENTITY | {"seed": 1}).load("M40-L400-H160-T3", 0) is None
    assert ck.load("M40-L400-H160-T3", 1) is None
    ck.remove("M40-L400-H160-T3", 0)
    assert ck.load("M40-L400-H160-T3", 0) is None


def test_a_damaged_file_is_ignored(tmp_path):
    ck = EpochCheckpoints(tmp_path, IDENTITY)
    ck.save("k", 0, state(2))
    ck.path("k", 0).write_bytes(b"cut short")
    assert ck.load("k", 0) is None and saved_epoch(ck.path("k", 0)) is None


def test_hook_saves_when_due_by_epochs_or_when_forced(tmp_path):
    saved = []
    ck = EpochCheckpoints(tmp_path, IDENTITY, every_seconds=3600, every_epochs=3)
    hook = ck.hook("k", 0, saved=saved.append)
    for epoch in range(1, 8):
        hook(epoch, lambda e=epoch: state(e))
    assert saved == [3, 6] and saved_epoch(ck.path("k", 0)) == 6
    stop = EpochCheckpoints(tmp_path, IDENTITY, every_seconds=3600).hook("k", 0, force=lambda: True,
                                                                           saved=saved.append)
    stop(7, lambda: state(7))
    assert saved[-1] == 7
    every = EpochCheckpoints(tmp_path, IDENTITY, every_seconds=0).hook("k", 1, saved=saved.append)
    every(1, lambda: state(1))
    assert saved[-1] == 1
