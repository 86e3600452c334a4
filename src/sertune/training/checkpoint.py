"""Self-describing model checkpoints: everything ``predict`` needs to use a model alone.

A checkpoint holds the weights and, beside them, the LMS setting θ, the sample
rate, the class names in output order, the training set's normalisation, the
model configuration, how the remainder of long utterances was treated, and the
metrics it scored. It is a plain ``torch.save`` dict of tensors, numbers and
strings, loadable with ``weights_only=True`` (no pickled code).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .dataset import Theta
from ..errors import ConfigError
from .model import SqueezeNet

FORMAT = "sertune-checkpoint"
VERSION = 1


#: Prefix of the ONNX ``metadata_props`` keys sertune writes and reads.
META_PREFIX = "sertune."


@dataclass(frozen=True)
class ModelSpec:
    """Everything inference needs besides the weights; the same for .pt and .onnx models."""

    theta: Theta
    classes: tuple[str, ...]
    mean: float
    std: float
    sample_rate: int
    remainder: str

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(channels, n_mels, frames) of one network input."""
        return (1, self.theta.n_mels, self.theta.frames(self.sample_rate))

    def to_metadata(self) -> dict[str, str]:
        """ONNX ``metadata_props``: ``sertune.*`` keys, JSON values (lossless for floats)."""
        doc = {"format": "sertune-onnx", "version": 1, "theta": self.theta.as_dict(),
               "classes": list(self.classes), "mean": self.mean, "std": self.std,
               "sample_rate": self.sample_rate, "remainder": self.remainder}
        return {META_PREFIX + k: json.dumps(v) for k, v in doc.items()}

    @classmethod
    def from_metadata(cls, props: dict[str, str], *, path: str | Path = "model") -> "ModelSpec":
        """Read what :meth:`to_metadata` wrote; ConfigError naming ``path`` if it is not there."""
        fix = "export it with `sertune export MODEL.pt --onnx OUT.onnx`"
        try:
            doc = {k[len(META_PREFIX):]: json.loads(v) for k, v in props.items() if k.startswith(META_PREFIX)}
        except ValueError:
            raise ConfigError(f"{path} has unreadable sertune metadata; {fix}") from None
        if doc.get("format") != "sertune-onnx":
            raise ConfigError(f"{path} is an ONNX model without sertune metadata (no {META_PREFIX}format); {fix}")
        if doc.get("version", 0) > 1:
            raise ConfigError(f"{path} was exported by a newer sertune (metadata version {doc['version']}); "
                              "upgrade sertune to read it")
        try:
            return cls(Theta(**doc["theta"]), tuple(doc["classes"]), float(doc["mean"]), float(doc["std"]),
                       int(doc["sample_rate"]), str(doc["remainder"]))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"{path} has incomplete sertune metadata ({exc}); {fix}") from None


@dataclass(frozen=True)
class Checkpoint:
    """A trained model: what inference needs (:class:`ModelSpec`), the weights, and where they came from."""

    spec: ModelSpec
    state_dict: dict
    info: dict

    def model(self, device: torch.device | str = "cpu") -> SqueezeNet:
        """The network with its trained weights, in eval mode."""
        net = SqueezeNet(len(self.spec.classes))
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
    spec = ModelSpec(theta=Theta(**doc["theta"]), classes=tuple(doc["classes"]), mean=float(norm["mean"]),
                     std=float(norm["std"]), sample_rate=int(doc["sample_rate"]), remainder=doc["remainder"])
    return Checkpoint(spec=spec, state_dict=doc["state_dict"], info=doc["info"])
