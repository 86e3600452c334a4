"""Self-describing model checkpoints: everything ``predict`` needs to use a model alone.

A checkpoint holds the weights and, beside them, the LMS setting θ, the sample
rate, the class names in output order, the training set's normalisation, the
model configuration, how the remainder of long utterances was treated, and the
metrics it scored. It is a plain ``torch.save`` dict of tensors, numbers and
strings, loadable with ``weights_only=True`` (no pickled code).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from .dataset import Theta
from .errors import ConfigError
from .model import SqueezeNet

FORMAT = "sertune-checkpoint"
VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    theta: Theta
    classes: tuple[str, ...]
    mean: float
    std: float
    sample_rate: int
    remainder: str
    state_dict: dict
    info: dict

    def model(self, device: torch.device | str = "cpu") -> SqueezeNet:
        """The network with its trained weights, in eval mode."""
        net = SqueezeNet(len(self.classes))
        net.load_state_dict(self.state_dict)
        return net.to(device).eval()


def save_checkpoint(path: str | Path, *, state_dict: dict, theta: Theta, classes: tuple[str, ...],
                    mean: float, std: float, sample_rate: int, remainder: str,
                    info: dict | None = None) -> Path:
    """Write a checkpoint (atomically: a crash leaves the old file or none)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": FORMAT, "version": VERSION,
        "model": {"arch": "squeezenet1_1", "in_channels": 1, "num_classes": len(classes)},
        "theta": theta.as_dict(), "classes": list(classes),
        "normalization": {"mean": float(mean), "std": float(std)},
        "sample_rate": int(sample_rate), "remainder": remainder,
        "state_dict": state_dict, "info": info or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(doc, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; ConfigError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model file {path} does not exist; pass a model.pt written by "
                          f"`sertune train` or `sertune search`")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ConfigError(f"{path} is not a readable sertune checkpoint ({type(exc).__name__}); "
                          f"pass a model.pt written by `sertune train` or `sertune search`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{path} is a torch file but not a sertune checkpoint (no format tag); "
                          f"pass a model.pt written by `sertune train` or `sertune search`")
    if doc.get("version", 0) > VERSION:
        raise ConfigError(f"{path} was written by a newer sertune (checkpoint version "
                          f"{doc['version']}); upgrade sertune to read it")
    norm = doc["normalization"]
    return Checkpoint(theta=Theta(**doc["theta"]), classes=tuple(doc["classes"]),
                      mean=norm["mean"], std=norm["std"], sample_rate=doc["sample_rate"],
                      remainder=doc["remainder"], state_dict=doc["state_dict"], info=doc["info"])
