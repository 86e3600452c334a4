"""SqueezeNet v1.1 (Iandola et al. 2016; the paper's Fig. 2) for one-channel spectrograms.

Parameter names are torchvision's (``features.0.weight``, ``features.3.squeeze.weight``,
``classifier.1.weight`` ...), so torchvision's ImageNet state dict loads into it.
torchvision itself is not a dependency: its wheels do not load beside every torch
build, and the network is 60 lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError

#: torchvision's ImageNet weights for squeezenet1_1 (file name as the hub caches it).
IMAGENET_URL = "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth"
IMAGENET_FILE = "squeezenet1_1-b8a52dc0.pth"


class Fire(nn.Module):
    """Squeeze with S 1x1 filters, then expand with E1 1x1 and E2 3x3 filters, concatenated."""

    def __init__(self, inplanes: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], dim=1)


class SeededDropout(nn.Module):
    """Dropout whose masks come from an explicit generator (``self.generator``).

    ``nn.Dropout`` draws from torch's global generator, so its masks depend on
    whatever else drew from it; with a generator of its own each training run's
    masks follow from its seed alone, and the generator's state can be saved in
    an epoch checkpoint and restored. ``None`` falls back to the global generator.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ConfigError(f"dropout={p!r} must be in [0, 1)")
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SqueezeNet(nn.Module):
    """SqueezeNet v1.1.

    Parameters
    ----------
    num_classes : int
        Number of emotion classes C (the final 1x1 conv has C filters).
    in_channels : int
        1 for a log-Mel spectrogram.
    dropout : float
        Dropout before the final conv (torchvision: 0.5).

    Input shape (batch, in_channels, n_mels, frames), any spatial size of at
    least 17x17 (three stride-2 poolings and a stride-2 conv); output (batch, C) logits.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 1, dropout: float = 0.5) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"num_classes={num_classes}: a classifier needs at least 2 classes")
        self.num_classes = num_classes
        pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(SeededDropout(dropout), final_conv,
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


def init_scratch(model: SqueezeNet, *, generator: torch.Generator | None = None) -> None:
    """The reference init: kaiming-uniform convs, final conv normal(0, 0.01), zero biases.

    PyTorch's default conv init left this network at chance for 15+ epochs on
    real speech at lr 1e-4; this init (torchvision's and the authors') does not.
    """
    final = model.classifier[1]
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            if module is final:
                nn.init.normal_(module.weight, mean=0.0, std=0.01, generator=generator)
            else:
                nn.init.kaiming_uniform_(module.weight, generator=generator)
            nn.init.zeros_(module.bias)


def adapt_imagenet(model: SqueezeNet, state: dict[str, torch.Tensor],
                   *, generator: torch.Generator | None = None) -> None:
    """Load torchvision ImageNet weights into a 1-channel, C-class SqueezeNet.

    The first conv's 3 input channels are summed into 1 (a grey image through
    an RGB filter), and the classifier is re-initialised for C classes.
    """
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    first = state.get("features.0.weight")
    if first is None or first.ndim != 4 or first.shape[0] != 64:
        raise ConfigError("the weights file is not a torchvision squeezenet1_1 state dict "
                          "(no 64-filter 'features.0.weight'); pass the squeezenet1_1 ImageNet file")
    if first.shape[1] != model.features[0].in_channels:
        state["features.0.weight"] = first.sum(dim=1, keepdim=True).expand(
            -1, model.features[0].in_channels, -1, -1).clone()
    init_scratch(model, generator=generator)        # classifier gets the reference init
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("classifier.")]
    if missing or unexpected:
        raise ConfigError(f"the weights file does not fit SqueezeNet v1.1: missing {missing[:3]}, "
                          f"unexpected {unexpected[:3]}; pass torchvision's squeezenet1_1 weights")


def imagenet_state(weights: str | Path | None = None) -> dict[str, torch.Tensor]:
    """torchvision's squeezenet1_1 ImageNet state dict from a file, the hub cache or the web."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise ConfigError(f"--weights {path} does not exist; pass the path of {IMAGENET_FILE}")
        return torch.load(path, map_location="cpu", weights_only=True)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_FILE
    if cached.is_file():
        return torch.load(cached, map_location="cpu", weights_only=True)
    try:
        return torch.hub.load_state_dict_from_url(IMAGENET_URL, map_location="cpu", progress=True)
    except Exception as exc:
        raise ConfigError(
            f"ImageNet weights for SqueezeNet v1.1 are not in the torch hub cache ({cached}) and "
            f"could not be downloaded ({type(exc).__name__}). Download {IMAGENET_URL} on a machine "
            f"with internet, then pass --weights PATH or copy it to {cached}"
        ) from None


def _scratch(model: SqueezeNet, *, weights: str | Path | None, generator: torch.Generator) -> None:
    init_scratch(model, generator=generator)


def _imagenet(model: SqueezeNet, *, weights: str | Path | None, generator: torch.Generator) -> None:
    adapt_imagenet(model, imagenet_state(weights), generator=generator)


#: name -> initialiser(model, weights=..., generator=...); ``--init`` offers these names.
INITS: dict[str, Callable[..., None]] = {"scratch": _scratch, "imagenet": _imagenet}


def build_model(num_classes: int, *, init: str = "scratch", weights: str | Path | None = None,
                seed: int = 0) -> SqueezeNet:
    """A 1-channel SqueezeNet v1.1, initialised by ``init`` from ``seed`` (same seed, same weights)."""
    if init not in INITS:
        raise ConfigError(f"init={init!r} is unknown; choose one of: {', '.join(INITS)}")
    model = SqueezeNet(num_classes)
    INITS[init](model, weights=weights, generator=torch.Generator().manual_seed(seed))
    return model
