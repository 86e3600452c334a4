"""ONNX export of a trained model, verified against PyTorch and measured.

The exported graph is the network alone: input ``log_mel`` of shape
``(batch, 1, n_mels, frames)`` (normalised log-Mel of T-second segments, frames
fixed by θ), output ``logits`` ``(batch, n_classes)``. Everything else inference
needs (θ, classes, normalisation, sample rate, remainder rule) travels in the
file's ``metadata_props`` (:meth:`sertune.training.checkpoint.ModelSpec.to_metadata`), so
``sertune predict`` and any onnxruntime user can run it alone.

The export uses ``torch.onnx.export(dynamo=True)``: the TorchScript exporter is
deprecated and slated for removal. The file is only put in place after
onnxruntime's logits matched PyTorch's (fp32, eval mode) on several inputs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .. import features
from ..features.audio import load_audio
from ..training.checkpoint import ModelSpec, load_checkpoint
from ..errors import ConfigError, SertuneError
from ..features.logmel import intra_op_threads
from ..features.segments import normalize
from .session import open_session

__all__ = ["ExportError", "conv_macs", "export_onnx", "check_inputs", "median_ms"]

#: Largest |logit(onnxruntime) - logit(torch)| accepted, in fp32 (SqueezeNet logits are O(1-10)).
ATOL = 1e-4
INPUT_NAME, OUTPUT_NAME = "log_mel", "logits"


class ExportError(SertuneError):
    """The exported model does not reproduce the PyTorch model, or the exporter failed."""


def conv_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates of every ``Conv2d`` for one input, counted from the layer shapes.

    Each convolution costs ``out_channels * out_h * out_w * (in_channels / groups) * k_h * k_w``
    MACs; forward hooks read the output sizes off one forward pass (pooling, ReLU and
    concatenation are not multiply-accumulates and are left out). The model is unchanged.

    Parameters
    ----------
    model : nn.Module
    input_shape : sequence of int
        One example's input shape, e.g. ``(1, 1, n_mels, frames)``.

    Returns
    -------
    int
        MACs per example.
    """
    total = 0

    def count(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = module.kernel_size
        total += output[0].numel() * (module.in_channels // module.groups) * kh * kw

    handles = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape), device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return int(total)


def check_inputs(spec: ModelSpec, *, seed: int = 0, audio: Sequence[str | Path] = ()) -> list[np.ndarray]:
    """Network inputs to compare the runtimes on: random, speech-like, and from real files.

    Returns float32 arrays of shape (batch, 1, n_mels, frames): a random normal
    example, a batch of 3 (exercises the dynamic batch axis), the normalised log-Mel
    of a chirp in noise (the value range and structure of real inputs), and the
    first segment of each file in ``audio``.
    """
    shape = spec.input_shape
    rng = np.random.default_rng(seed)
    samples = int(round(spec.theta.segment * spec.sample_rate))
    t = np.arange(samples) / spec.sample_rate
    chirp = 0.3 * np.sin(2 * np.pi * (100 * t + 600 * t ** 2 / max(spec.theta.segment, 1e-3)))
    waves = [(chirp + 0.01 * rng.standard_normal(samples)).astype(np.float32)]
    for path in audio:
        wave = load_audio(path, sample_rate=spec.sample_rate)
        waves.append(features.segment(wave, sample_rate=spec.sample_rate, seconds=spec.theta.segment,
                                      remainder=spec.remainder)[0])
    lms = features.log_mel(np.stack(waves), sample_rate=spec.sample_rate, n_mels=spec.theta.n_mels,
                           win_length=spec.theta.win_length, hop_length=spec.theta.hop_length)
    real = normalize(lms, spec.mean, spec.std).astype(np.float32)[:, None]
    return [rng.standard_normal((1, *shape), dtype=np.float32),
            rng.standard_normal((3, *shape), dtype=np.float32),
            *[r[None] for r in real]]


def median_ms(fn, *, runs: int, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``runs`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000.0 * statistics.median(times)


def export_onnx(model_path: str | Path, out: str | Path, *, atol: float = ATOL, runs: int = 30,
                threads: int | None = None, audio: Sequence[str | Path] = (), seed: int = 0) -> dict:
    """Export a checkpoint to ONNX, verify it with onnxruntime, and measure it.

    Parameters
    ----------
    model_path : str or Path
        ``model.pt`` written by ``sertune train``/``search``.
    out : str or Path
        The ``.onnx`` file to write (replaced atomically if it exists; weights inside).
    atol : float
        Largest accepted max-abs difference of logits between onnxruntime and PyTorch (fp32).
    runs : int
        Timed runs for the latency medians.
    threads : int, optional
        CPU threads for the latencies, onnxruntime's and the log-Mel's (default: torch's count).
    audio : sequence of paths
        Extra audio files whose first segment is used in the check.
    seed : int
        Seed of the random check inputs.

    Returns
    -------
    dict
        ``onnx``, ``bytes``, ``opset``, ``input_shape``, ``theta``, ``classes``, ``parameters``,
        ``macs_per_segment``, ``macs_per_second`` (MACs per second of audio: per segment / T),
        ``check`` (``inputs``, ``max_abs_diff``, ``atol``) and ``latency_ms``
        (``network``: onnxruntime, batch 1, one T-second segment; ``features``: its log-Mel
        in PyTorch; ``runs``, ``threads``).

    Raises
    ------
    ConfigError
        Bad paths or settings. ExportError: the exporter failed or the logits differ by more than ``atol``.
    """
    model_path, out = Path(model_path), Path(out)
    if model_path.suffix.lower() == ".onnx":
        raise ConfigError(f"{model_path} is already an ONNX model; pass the model.pt it was exported from")
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"--onnx {out} must end in .onnx (sertune predict tells models apart by it); "
                          f"use e.g. {out.with_suffix('.onnx')}")
    if out.is_dir():
        raise ConfigError(f"--onnx {out} is a folder; pass a file name ending in .onnx")
    if not isinstance(runs, int) or runs < 1:
        raise ConfigError(f"runs={runs!r} must be a positive integer; use e.g. 30")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads={threads!r} must be a positive integer; leave it unset for torch's count")
    ckpt = load_checkpoint(model_path)
    spec = ckpt.spec
    net = ckpt.model("cpu").float().eval()
    inputs = check_inputs(spec, seed=seed, audio=audio)   # before writing: bad --audio fails early
    # Timed before onnxruntime starts: its idle worker threads spin for a while after each run
    # and would slow down (and so misreport) anything else timed on the same cores.
    wave = torch.from_numpy(np.random.default_rng(seed).standard_normal(
        int(round(spec.theta.segment * spec.sample_rate)), dtype=np.float32) * 0.1)
    threads = torch.get_num_threads() if threads is None else threads
    with intra_op_threads(threads):       # the same number of threads as onnxruntime gets
        features_ms = median_ms(lambda: features.log_mel(
            wave, sample_rate=spec.sample_rate, n_mels=spec.theta.n_mels, win_length=spec.theta.win_length,
            hop_length=spec.theta.hop_length), runs=runs)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        opset = _export(net, spec, tmp)
        session = open_session(tmp, threads=threads)
        diff = max_logit_diff(net, session, inputs)
        if not diff <= atol:
            raise ExportError(f"onnxruntime's logits differ from PyTorch's by up to {diff:.3g} (> atol={atol:g}) "
                              f"for {model_path}; the export is wrong, please report it with the model file")
        one = inputs[0]
        network_ms = median_ms(lambda: session.run(None, {INPUT_NAME: one}), runs=runs)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    macs = conv_macs(net, (1, *spec.input_shape))
    return {
        "onnx": str(out), "bytes": out.stat().st_size, "opset": opset,
        "input_shape": ["batch", *spec.input_shape], "theta": spec.theta.as_dict(),
        "classes": list(spec.classes), "sample_rate": spec.sample_rate,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "macs_per_segment": macs, "macs_per_second": macs / spec.theta.segment,
        "check": {"inputs": len(inputs), "examples": int(sum(len(x) for x in inputs)),
                  "max_abs_diff": diff, "atol": atol},
        "latency_ms": {"network": network_ms, "features": features_ms, "runs": runs,
                       "threads": session.get_session_options().intra_op_num_threads},
    }


def max_logit_diff(net: nn.Module, session, inputs: Sequence[np.ndarray]) -> float:
    """Largest |onnxruntime - PyTorch| logit over ``inputs`` (fp32, eval mode)."""
    worst = 0.0
    with torch.inference_mode():
        for x in inputs:
            ref = net(torch.from_numpy(x)).numpy()
            got = session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
            if got.shape != ref.shape:
                raise ExportError(f"the ONNX model returns shape {got.shape} for an input of shape {x.shape}, "
                                  f"PyTorch {ref.shape}; the export is wrong, please report it")
            worst = max(worst, float(np.abs(got.astype(np.float64) - ref).max()))
    return worst


def _export(net: nn.Module, spec: ModelSpec, path: Path) -> int:
    """Write the network with its metadata to ``path``; returns the ONNX opset used."""
    example = torch.zeros((2, *spec.input_shape))        # batch 2: a size-1 axis would be specialised
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    try:
        with _quiet():
            program = torch.onnx.export(net, (example,), dynamo=True, input_names=[INPUT_NAME],
                                        output_names=[OUTPUT_NAME], dynamic_shapes=({0: batch},),
                                        verbose=False)
    except ImportError as exc:
        raise ConfigError(f"torch.onnx needs {exc.name or 'onnxscript'}; install it with "
                          "`pip install onnx onnxscript onnxruntime`") from None
    except Exception as exc:
        raise ExportError(f"torch.onnx.export failed: {type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''}") from None
    model = program.model
    model.metadata_props.update(spec.to_metadata())
    model.producer_name = "sertune"
    model.doc_string = (f"SqueezeNet v1.1 on log-Mel spectrograms, θ = [{spec.theta}], classes "
                        f"{', '.join(spec.classes)}. Input: log-Mel in dB of a {spec.theta.segment:g} s "
                        f"segment at {spec.sample_rate} Hz, normalised (x - mean) / std with the "
                        f"sertune.mean/std metadata. Output: logits; an utterance's decision is the "
                        f"argmax of the mean of its segments' log-softmax.")
    program.save(str(path), external_data=False)
    return int(model.opset_imports.get("", 0))


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress prints, deprecation warnings and 'torchvision missing' logs."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(open(os.devnull, "w")) as sink:
            warnings.simplefilter("ignore")
            try:
                yield
            finally:
                sink.close()
    finally:
        logger.setLevel(level)
