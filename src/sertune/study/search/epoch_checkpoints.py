"""Epoch checkpoints: a training of (θ, r) stopped by a kill goes on from its last saved epoch.

A checkpoint holds the whole :class:`~sertune.training.fit.TrainState` (model and
optimizer state, generator states, best epoch so far, history) of one (θ, r),
in ``FOLDER/rep{r}/{θ key}.pt``. It is written every ``every_seconds`` seconds
of training or every ``every_epochs`` epochs, whichever comes first, atomically
(temporary file, then rename), and removed when the trial is recorded. The
folder is the search's output folder by default; workers on several machines
need a folder they all reach (``--checkpoint-dir``).

Training is deterministic on the CPU, so a run resumed from a checkpoint gives
the very numbers an uninterrupted one gives; a checkpoint is only used by a run
with the same identity (search, θ, r, seed, training settings).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from ...training.fit import SnapshotHook, TrainState

#: Default: at most about a minute of training is lost to a kill.
EVERY_SECONDS = 60.0
FORMAT = 1


@dataclass(frozen=True)
class EpochCheckpoints:
    """Where and how often the trainings of one search save their state.

    Parameters
    ----------
    folder : Path
    identity : dict
        What must match for a checkpoint to be used (search, seed, training settings).
    every_seconds : float
        Save when this many seconds of training passed since the last save (0: every epoch).
    every_epochs : int
        Also save every this many epochs (0: only by time).
    """

    folder: Path
    identity: dict
    every_seconds: float = EVERY_SECONDS
    every_epochs: int = 0

    def path(self, key: str, rep: int) -> Path:
        return Path(self.folder) / f"rep{rep}" / f"{key}.pt"

    def load(self, key: str, rep: int) -> TrainState | None:
        """The saved state of (θ, r), or None (no file, another search's, or unreadable)."""
        path = self.path(key, rep)
        if not path.is_file():
            return None
        try:
            doc = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:          # a file cut short by a kill mid-write of an older version
            return None
        if doc.get("format") != FORMAT or doc.get("identity") != self._identity(key, rep):
            return None
        return TrainState(**doc["state"])

    def save(self, key: str, rep: int, state: TrainState) -> Path:
        path = self.path(key, rep)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # vars, not asdict: the state's tensors are already CPU copies; no need to deep-copy them again.
        torch.save({"format": FORMAT, "identity": self._identity(key, rep), "state": dict(vars(state))}, tmp)
        os.replace(tmp, path)
        return path

    def remove(self, key: str, rep: int) -> None:
        self.path(key, rep).unlink(missing_ok=True)

    def hook(self, key: str, rep: int, *, force: Callable[[], bool] = lambda: False,
             saved: Callable[[int], None] | None = None) -> SnapshotHook:
        """A :data:`~sertune.training.fit.SnapshotHook` that saves (θ, r) when due, or when ``force()``."""
        last = [time.monotonic()]

        def on_snapshot(epoch: int, snapshot: Callable[[], TrainState]) -> None:
            due = (time.monotonic() - last[0] >= self.every_seconds
                   or (self.every_epochs > 0 and epoch % self.every_epochs == 0))
            if due or force():
                self.save(key, rep, snapshot())
                last[0] = time.monotonic()
                if saved is not None:
                    saved(epoch)

        return on_snapshot

    def _identity(self, key: str, rep: int) -> dict:
        return {**self.identity, "theta": key, "rep": rep}


def saved_epoch(path: Path) -> int | None:
    """The epoch a checkpoint file holds (for tools and tests), or None when unreadable."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["state"]["epoch"])
    except Exception:
        return None
