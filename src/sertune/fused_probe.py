"""Whether to fuse: a short measured probe per input shape, and ``--fuse``'s choice.

Fusing K repetitions (:func:`sertune.fused.fit_fused`) is faster only where one
training step is bound by kernel launches rather than by arithmetic, which
depends on the device, its kernels, the input shape and K. So it is measured,
as ``cudnn.benchmark`` picks a kernel: :func:`fused_is_faster` times a few steps
of the stack against what :func:`sertune.train.fit` runs on the device (there, on
CUDA, a CUDA-graph replay per step). :func:`choose_fusion` is the one place that
turns ``--fuse auto|on|off`` into a decision, for ``sertune train`` and for a
search worker alike.
"""

from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F

from .cuda_graphs import graphed_batch_step, use_graphs
from .devices import use_bf16
from .errors import ConfigError
from .fused_stack import _Stack
from .model import build_model

CL = torch.channels_last

#: Values of ``--fuse``.
FUSE_MODES = ("auto", "on", "off")


def check_fuse(fuse: str) -> str:
    """``fuse`` if it is one of :data:`FUSE_MODES`, else a ConfigError naming them."""
    if fuse not in FUSE_MODES:
        raise ConfigError(f"fuse={fuse!r} is unknown; choose one of: {', '.join(FUSE_MODES)} "
                          f"(auto: on a GPU when a probe measures it faster)")
    return fuse


def may_fuse(fuse: str, device_type: str) -> bool:
    """Whether ``--fuse fuse`` can fuse anything on a device of this type (``cuda``, ``cpu``):
    ``on`` anywhere, ``auto`` on a GPU only (see :func:`choose_fusion`), ``off`` nowhere."""
    return fuse == "on" or (fuse == "auto" and device_type == "cuda")


def choose_fusion(fuse: str, *, shape: tuple[int, int], k: int, device: torch.device, precision: str = "auto",
                  batch_size: int = 16) -> tuple[bool, str]:
    """Whether to train ``k`` repetitions at input ``shape`` (n_mels, frames) fused, and why (for a log line).

    ``off`` never fuses, nor does anything with ``k < 2``; ``on`` always does;
    ``auto`` fuses on a GPU when :func:`fused_is_faster` measures it faster, and
    never on a CPU: there it gained at most 1.1x (``benchmarks/bench_fused.py``);
    a CPU's stack runs each member's own layers, so its numbers are the same either
    way. A probe that fails (e.g. K members do not fit in the device's memory)
    means one at a time.
    """
    check_fuse(fuse)
    if fuse == "off" or k < 2:
        return False, "--fuse off" if fuse == "off" else "one repetition"
    if fuse == "on":
        return True, "--fuse on"
    if not may_fuse(fuse, device.type):
        return False, "auto fuses on a GPU only"
    try:
        faster = fused_is_faster(shape, k, device, precision=precision, batch_size=batch_size)
    except RuntimeError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        torch.cuda.empty_cache()
        return False, f"the probe failed: {first_line}"
    return faster, "measured faster" if faster else "measured slower"


#: (device, (n_mels, frames), k, precision, batch size) -> whether fused training was measured faster.
_FASTER: dict[tuple, bool] = {}


def fused_is_faster(shape: tuple[int, int], k: int, device: torch.device, *, precision: str = "auto",
                    batch_size: int = 16, steps: int = 3) -> bool:
    """Whether training ``k`` members fused beats ``k`` one at a time at input ``shape`` (n_mels, frames).

    Measured, not modelled (it depends on the device, its kernels and its load), and
    once per (device, shape, k, precision, batch size) in a process, as
    ``cudnn.benchmark`` picks a kernel: ``steps`` training steps of each on random
    inputs after a warm-up step, twice in alternation (the best of each counts, so
    a burst of other load hurts both alike); a few seconds at small shapes. The
    one-at-a-time side is what :func:`sertune.train.fit` runs on the device: on CUDA
    a replay of each member's captured step (:func:`graphed_steps`).
    """
    key = (str(device), tuple(shape), k, precision, batch_size)
    if key not in _FASTER:
        bf16 = use_bf16(device, precision)
        fused, single = probe_steps(shape, k, device, bf16=bf16, batch_size=batch_size)
        if use_graphs(device):      # fit replays a CUDA graph per step there: that is what to beat
            single = graphed_steps(shape, k, device, bf16=bf16, batch_size=batch_size)
        times = [(step_seconds(fused, device, steps=steps), step_seconds(single, device, steps=steps))
                 for _ in range(2)]
        _FASTER[key] = min(f for f, _ in times) < min(s for _, s in times)
    return _FASTER[key]


def probe_steps(shape: tuple[int, int], k: int, device: torch.device, *, bf16: bool, batch_size: int = 16,
                n_classes: int = 7) -> tuple[Callable[[], None], Callable[[], None]]:
    """Two closures on the same random batch (``batch_size`` x ``shape`` per member): one training
    step of ``k`` members fused, and ``k`` steps of fit's model and Adam, one member at a time."""
    if not (len(shape) == 2 and all(isinstance(n, int) and n >= 17 for n in shape)) or not (
            isinstance(k, int) and k >= 1):
        raise ConfigError(f"shape={shape!r}, k={k!r}: the shape must be (n_mels, frames), each >= 17 "
                          f"(SqueezeNet's minimum input), and k >= 1")
    gen = torch.Generator().manual_seed(0)
    inputs = [torch.randn((batch_size, 1, *shape), generator=gen).to(device).contiguous(memory_format=CL)
              for _ in range(k)]                                         # as fit's _inputs lays them out
    labels = [torch.randint(0, n_classes, (batch_size,), generator=gen).to(device) for _ in range(k)]
    models = [build_model(n_classes, seed=i).to(device=device, memory_format=CL).train() for i in range(k)]
    dropouts = [torch.Generator(device=device).manual_seed(i) for i in range(k)]
    for model, g in zip(models, dropouts):
        model.classifier[0].generator = g
    optimizers = [torch.optim.Adam(m.parameters(), lr=1e-4, capturable=device.type == "cuda")   # as fit
                  for m in models]
    stack = _Stack(models[0], [m.state_dict() for m in models], lr=1e-4, device=device)

    def fused() -> None:
        stack.train_step(inputs, labels, dropouts, bf16=bf16)

    def one_at_a_time() -> None:          # sertune.train.train_step, member after member
        for i, (model, optimizer) in enumerate(zip(models, optimizers)):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(inputs[i])
            loss = F.cross_entropy(logits.float(), labels[i])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return fused, one_at_a_time


def graphed_steps(shape: tuple[int, int], k: int, device: torch.device, *, bf16: bool, batch_size: int = 16,
                  n_classes: int = 7) -> Callable[[], None]:
    """``k`` members one after the other as fit trains them on a CUDA device: each step a replay
    of the member's CUDA graph (:mod:`sertune.cuda_graphs`) on its own random batch."""
    gen = torch.Generator().manual_seed(0)
    steps = []
    for i in range(k):
        features = torch.randn((batch_size, *shape), generator=gen).to(device)
        labels = torch.randint(0, n_classes, (batch_size,), generator=gen).to(device)
        model = build_model(n_classes, seed=i).to(device=device, memory_format=CL).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, capturable=True)
        steps.append(graphed_batch_step(model, optimizer, features, labels, bf16=bf16, seed=i))

    def one_at_a_time() -> None:
        for step in steps:
            step()
    return one_at_a_time


def step_seconds(step: Callable[[], None], device: torch.device, *, steps: int = 3) -> float:
    """Seconds per call of ``step``: one warm-up call, then the mean of ``steps`` (device synchronised)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    step()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync()
    return (time.perf_counter() - start) / steps
