"""The training step as one CUDA graph: one launch per batch instead of a few hundred.

At small inputs (40 mels x 301 frames, batch 16) a SqueezeNet training step is a
few hundred small kernels, and a GPU spends most of the step waiting for the host
to launch them (measured on an H100: 1,456 samples/s at θ•, against 15,600 for one
model at batch 160). A CUDA graph records the whole step once (the gather of the
batch from the device-resident features, normalisation, forward, loss, backward
and Adam) and replays it with one launch. torch.compile's "reduce-overhead" mode
does the same through a compiler; capturing by hand needs no compiler on the
machine, no warm-up per process, and keeps the eager model that checkpoints and
evaluation use.

What a graph needs, and how :class:`GraphedStep` provides it:

- static shapes and addresses: the batch's row indices are copied into one static
  index tensor; only full batches replay, an epoch's last, smaller batch runs eagerly;
- state that exists before capture: Adam's moments are created by warm-up steps on a
  side stream (torch's recipe), and the warm-up's effect on weights, moments, step
  counts and the dropout generator is undone afterwards, so the run trains exactly
  the batches it would have trained eagerly;
- Adam with ``capturable=True`` (its step count lives on the device);
- the run's own dropout generator registered with the graph: each replay advances it
  as the eager step would, so masks follow the run's seed.

On a CUDA device the eager steps use the same capturable Adam, so graphed and eager
training do the same arithmetic: measured on an H200, equal weights after 6 epochs
(bf16, three seeds), and the tests in tests/test_cuda_graphs.py agree there to 1e-5.
On the CPU nothing here is used.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import SegmentData
from ..features.segments import normalize
from ..features.theta import Theta

#: Warm-up steps before capture: the first creates Adam's state and cuDNN's per-shape setup
#: (and, with cudnn.benchmark on, times the kernels: timing cannot happen inside a capture).
WARMUP_STEPS = 3


class GraphedStep:
    """One full-batch training step of ``model`` captured as a CUDA graph.

    Parameters
    ----------
    model : torch.nn.Module
        In training mode, on a CUDA device, channels-last.
    optimizer : torch.optim.Adam
        Over ``model``'s parameters, created with ``capturable=True``.
    data : SegmentData
        The run's segments, on the same device.
    mean, std : float
        The run's normaliser (constants of the graph).
    bf16 : bool
        bf16 autocast, as the eager step.
    batch_size : int
        Rows per replay (the static shape).
    generator : torch.Generator
        The run's dropout generator (on the device).

    Call it with a (batch_size,) tensor of row indices on the device; the batch's
    mean loss times batch_size is added to :attr:`loss_sum` on the device (read it
    once per epoch: reading it per step would make the host wait).
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: SegmentData,
                 mean: float, std: float, *, bf16: bool, batch_size: int, generator: torch.Generator) -> None:
        self.model, self.optimizer, self.data = model, optimizer, data
        self.mean, self.std, self.bf16, self.batch_size = mean, std, bf16, batch_size
        device = data.device
        self.index = torch.arange(batch_size, device=device) % len(data.labels)
        self.loss_sum = torch.zeros((), device=device)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        before = _copy_state(params, optimizer)
        random_state = generator.get_state()
        try:
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    optimizer.zero_grad(set_to_none=True)
                    self._step()
            torch.cuda.current_stream(device).wait_stream(side)
            optimizer.zero_grad(set_to_none=True)
            self.graph = torch.cuda.CUDAGraph()
            self.graph.register_generator_state(generator)     # replays advance the run's own generator
            with torch.cuda.graph(self.graph):
                self._step()
            # The gradients live in the graph's memory; keep them referenced while it replays.
            self._grads = [p.grad for p in params]
        finally:     # captured or not, the run goes on from where it was
            _restore_state(params, optimizer, before)
            generator.set_state(random_state)
            self.loss_sum.zero_()

    def _step(self) -> None:
        """The eager step's work (sertune.training.fit.train_step) on the static batch; captured once."""
        x = normalize(self.data.batch(self.index), self.mean, self.std)
        x = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        # cache_enabled=False: autocast's cache of bf16 weight copies must not outlive a replay.
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16, cache_enabled=False):
            logits = self.model(x)
        loss = F.cross_entropy(logits.float(), self.data.labels[self.index])
        loss.backward()
        self.optimizer.step()
        self.loss_sum.add_(loss.detach() * self.batch_size)

    def __call__(self, rows: torch.Tensor) -> None:
        self.index.copy_(rows)
        self.graph.replay()


def graphed_batch_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, features: torch.Tensor,
                       labels: torch.Tensor, *, bf16: bool, seed: int = 0):
    """A step that replays fit's CUDA graph on one fixed batch, for timing it (``--plan``'s probe,
    benchmarks): ``features`` (b, n_mels, frames) already normalised, ``labels`` (b,), on the device."""
    n = len(labels)
    ids = tuple(map(str, range(n)))
    data = SegmentData(Theta(features.shape[1], 512, 256, 1.0), 16000, "features", features.half(), labels,
                       np.arange(n), ids, ids)
    graph = GraphedStep(model, optimizer, data, 0.0, 1.0, bf16=bf16, batch_size=n,
                        generator=torch.Generator(device=features.device).manual_seed(seed))
    rows = torch.arange(n, device=features.device)
    return lambda: graph(rows)


def _copy_state(params: list[torch.Tensor], optimizer: torch.optim.Optimizer) -> tuple[list, list]:
    """Copies of the weights and of each parameter's optimizer state (None where it has none yet)."""
    weights = [p.detach().clone() for p in params]
    states = [{k: v.clone() for k, v in optimizer.state[p].items() if torch.is_tensor(v)}
              if optimizer.state.get(p) else None for p in params]
    return weights, states


@torch.no_grad()
def _restore_state(params: list[torch.Tensor], optimizer: torch.optim.Optimizer, saved: tuple[list, list]) -> None:
    """Undo the warm-up in place (the graph holds these tensors' addresses). A parameter
    that had no Adam state gets zero moments and step 0: Adam's own fresh state."""
    weights, states = saved
    for p, w, old in zip(params, weights, states):
        p.copy_(w)
        for key, value in optimizer.state[p].items():
            if torch.is_tensor(value):
                value.copy_(old[key]) if old is not None else value.zero_()


def load_optimizer_state(optimizer: torch.optim.Optimizer, state: dict, *, capturable: bool) -> None:
    """``optimizer.load_state_dict(state)`` keeping this run's ``capturable`` setting.

    A checkpoint saved by a run with CUDA graphs holds ``capturable=True`` and step
    counts that lived on the GPU; one saved by an eager or CPU run holds the opposite.
    Either resumes on either device: the flag is set back, and the step counts are
    moved where the optimizer then expects them (device float32 tensors when
    capturable, CPU tensors otherwise). ``state`` itself is left as it was: tensors
    already on the right device would otherwise be shared with, and stepped in place
    by, the optimizer (a second resume from the same state would start elsewhere).
    """
    optimizer.load_state_dict(copy.deepcopy(state))
    for group in optimizer.param_groups:
        group["capturable"] = capturable
        for p in group["params"]:
            entry = optimizer.state.get(p)
            if entry and torch.is_tensor(entry.get("step")):
                entry["step"] = (entry["step"].to(p.device, torch.float32) if capturable
                                 else entry["step"].to("cpu", torch.float32))


def use_graphs(device: torch.device, enabled: bool = True) -> bool:
    """Whether a run on ``device`` trains with a CUDA graph (CUDA only; ``enabled=False`` turns it off)."""
    return enabled and device.type == "cuda"
