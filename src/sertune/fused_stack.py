"""The network of fused training: K SqueezeNets as one stack of grouped convolutions, and their Adam.

Member k's activations are channel group k of every layer after the stem, its
weights rows k of each stacked weight ``(K * out, in, kh, kw)`` (the layout of a
grouped convolution, ``groups=K``). No layer mixes samples or channel groups, so
each member's forward and backward are its own. :mod:`sertune.fused` trains with it.

On a CPU the stack keeps the stacked weights and Adam but runs each member's
layers on its own (``grouped=False``): a grouped convolution's kernel adds in
another order than fit's on some CPUs (on an AMD EPYC a member drifted 1.7e-4 from
its training alone within 3 epochs of the test fixture, and its validation WA
changed; on the Xeons measured before it was bit for bit), and oneDNN's grouped
forward was slower there anyway (169 against 89 ms for K = 10 at 40 x 301 on a Xeon). What a
CPU saves is the per-step bookkeeping only; a GPU saves kernel launches, so there
the convolutions stay grouped.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam as _adam

from .model import Fire, SeededDropout, SqueezeNet

CL = torch.channels_last


def _own(w: dict[str, torch.Tensor], names: Sequence[str], k: int) -> list[dict[str, torch.Tensor]]:
    """Member k's weights as views of the stacked ones (one chunk per name, so that the backward
    writes every member's gradient into the stacked one in one go)."""
    chunks = {name: w[name].chunk(k) for name in names}
    return [{name: t[i] for name, t in chunks.items()} for i in range(k)]


def _layer_list(template: SqueezeNet) -> list[tuple[str, nn.Module]]:
    """(torchvision name, module) of every layer, in order."""
    return [(f"{prefix}.{i}", m) for prefix in ("features", "classifier")
            for i, m in enumerate(getattr(template, prefix))]


def _members_forward(template: SqueezeNet, w: dict[str, torch.Tensor], inputs: Sequence[torch.Tensor],
                     dropouts: Sequence[Callable[[torch.Tensor, float], torch.Tensor] | None]) -> list[torch.Tensor]:
    """Each member's logits (b_k, C), every layer run on member k alone with its weight views:
    the very operations of fit's model (``dropouts[k]``: member k's, ``None`` in eval mode).
    A member without rows (b_k = 0) gets ``None``."""
    layers = _layer_list(template)
    own = _own(w, list(w), len(inputs))
    return [_layers(layers, x, own[i], 1, dropouts[i]).flatten(1) if len(x) else None
            for i, x in enumerate(inputs)]


def seeded_dropout(generator: torch.Generator) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """SeededDropout's training forward with ``generator``: the same mask draw and arithmetic."""
    def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
        keep = torch.empty_like(x).bernoulli_(1.0 - p, generator=generator)
        return x * keep / (1.0 - p)
    return dropout


def _forward(template: SqueezeNet, w: dict[str, torch.Tensor], inputs: Sequence[torch.Tensor],
             dropout: Callable[[torch.Tensor, float], torch.Tensor] | None) -> torch.Tensor:
    """Logits (B, K, C) of K members; member k's input ``inputs[k]`` is (b_k, 1, n_mels, frames).

    The template gives the architecture (strides, paddings, pools), ``w`` the stacked
    weights by torchvision name. The stem (the layers before the first Fire) runs per
    member: with one input channel per group a grouped conv is a depthwise conv, which
    adds its 9 taps in another order than fit's conv; every later grouped conv's
    forward gave fit's numbers bit for bit on the Xeons measured (not on an AMD EPYC).
    The stems' outputs, padded with zero rows to B = max b_k (the loss weighs those
    rows 0), become the channel groups. A GPU's stack runs this; a CPU's runs
    :func:`_members_forward`.
    ``dropout(x, p)`` replaces SeededDropout (``None``: eval mode).
    """
    layers = _layer_list(template)
    first_fire = next(j for j, (_, m) in enumerate(layers) if isinstance(m, Fire))
    k, n = len(inputs), max(len(x) for x in inputs)
    names = [f"{name}.{p}" for name, m in layers[:first_fire] if isinstance(m, nn.Conv2d) for p in ("weight", "bias")]
    own = _own(w, names, k)      # member views, with grad
    stems = []
    for i, x in enumerate(inputs):
        y = _layers(layers[:first_fire], x, own[i], 1, None)
        if len(y) < n:
            y = torch.cat([y, y.new_zeros((n - len(y), *y.shape[1:])).contiguous(memory_format=CL)])
        stems.append(y)
    x = _layers(layers[first_fire:], torch.cat(stems, dim=1), w, k, dropout)
    return x.flatten(1).unflatten(1, (k, -1))


def _layers(layers: Sequence[tuple[str, nn.Module]], x: torch.Tensor, w: dict[str, torch.Tensor], k: int,
            dropout) -> torch.Tensor:
    """Run ``layers`` (name, module) on x, grouped by member: convs get ``groups=k``."""
    for name, module in layers:
        if isinstance(module, nn.Conv2d):
            x = _conv(x, w, name, module, k)
        elif isinstance(module, nn.ReLU):
            x = F.relu(x, inplace=module.inplace)      # as fit's: saves the memory of a copy
        elif isinstance(module, nn.MaxPool2d):
            x = F.max_pool2d(x, module.kernel_size, module.stride, module.padding, module.dilation,
                             ceil_mode=module.ceil_mode)
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            x = F.adaptive_avg_pool2d(x, module.output_size)
        elif isinstance(module, Fire):
            s = torch.relu_(_conv(x, w, f"{name}.squeeze", module.squeeze, k))
            x = _cat_members(torch.relu_(_conv(s, w, f"{name}.expand1x1", module.expand1x1, k)),
                             torch.relu_(_conv(s, w, f"{name}.expand3x3", module.expand3x3, k)), k)
        elif isinstance(module, SeededDropout):
            x = x if dropout is None or module.p == 0.0 else dropout(x, module.p)
        else:   # a module this interpreter does not know would silently be skipped
            raise TypeError(f"fused training does not support {type(module).__name__} ({name})")
    return x


def _conv(x: torch.Tensor, w: dict, name: str, conv: nn.Conv2d, k: int) -> torch.Tensor:
    return F.conv2d(x, w[f"{name}.weight"], w[f"{name}.bias"], conv.stride, conv.padding, conv.dilation,
                    groups=k * conv.groups)


def _cat_members(a: torch.Tensor, b: torch.Tensor, k: int) -> torch.Tensor:
    """Fire's concat per member: (B, K*E1), (B, K*E3) -> (B, K*(E1+E3)) with member k's E1 + E3
    channels in group k. Channels-last memory is (B, h, w, C): a concat of its last axis."""
    out = torch.cat([a.permute(0, 2, 3, 1).unflatten(3, (k, -1)), b.permute(0, 2, 3, 1).unflatten(3, (k, -1))], 4)
    return out.flatten(3).permute(0, 3, 1, 2)


class _Stack:
    """K members' weights as one network: stacked leaf weights, name -> (K * out, ...), member
    k's rows at [k * out:(k + 1) * out] (the layout of a grouped conv), and their Adam."""

    def __init__(self, template: SqueezeNet, states: Sequence[dict[str, torch.Tensor]], *, lr: float,
                 device: torch.device, grouped: bool | None = None) -> None:
        self.template, self.k, self.lr = template, len(states), lr
        #: Grouped convolutions (one kernel per layer for all members), or each member's own (module text).
        self.grouped = torch.device(device).type != "cpu" if grouped is None else grouped
        self.w = {n: _layout(torch.cat([s[n] for s in states]).to(device)).requires_grad_() for n in states[0]}
        self.m = {n: torch.zeros_like(w) for n, w in self.w.items()}      # Adam's moments, stacked alike
        self.v = {n: torch.zeros_like(w) for n, w in self.w.items()}
        self.steps = [[torch.tensor(0.0) for _ in self.w] for _ in range(self.k)]   # as torch keeps them
        self._views()

    def _views(self) -> None:
        """views[i] = (weights, m, v) of member i, lists in name order. chunk, not unflatten: a
        slice keeps the strides of size-1 axes, and the conv kernel (so the rounding) follows them."""
        per_name = [[t.detach().chunk(self.k) for t in (self.w[n], self.m[n], self.v[n])] for n in self.w]
        self.views = [tuple([views[j][i] for views in per_name] for j in range(3)) for i in range(self.k)]

    def state(self, i: int) -> dict[str, torch.Tensor]:
        """A copy of member i's weights (a state dict of the single model)."""
        return {n: p.clone() for n, p in zip(self.w, self.views[i][0])}

    @torch.no_grad()
    def load_adam(self, i: int, optimizer: dict) -> None:
        """Member i's Adam state from fit's ``optimizer.state_dict()`` (a TrainState's, on any device)."""
        _, m, v = self.views[i]
        for j, state in optimizer["state"].items():
            m[j].copy_(state["exp_avg"])
            v[j].copy_(state["exp_avg_sq"])
            self.steps[i][j] = torch.tensor(float(state["step"]))

    def keep(self, keep: list[int]) -> None:
        """Only the members at ``keep`` stay (new, smaller stacks: the rest no longer cost anything)."""
        pick = lambda t: _layout(t.detach().unflatten(0, (self.k, -1))[keep].flatten(0, 1))  # noqa: E731
        self.w = {n: pick(t).requires_grad_() for n, t in self.w.items()}
        self.m, self.v = ({n: pick(t) for n, t in d.items()} for d in (self.m, self.v))
        self.steps, self.k = [self.steps[i] for i in keep], len(keep)
        self._views()

    @torch.no_grad()
    def adam_step(self, active: Sequence[bool]) -> None:
        """torch's Adam (fit's settings) on the views of the members in ``active``.

        Adam is elementwise, but its bias corrections depend on the step count, and
        members whose train sets differ in size take different numbers of steps; so
        each member keeps its own state and ``torch.optim.adam.adam`` (the function
        behind ``Adam.step``, choosing the same implementation) runs on the views of
        the members that had a batch only. A member sitting a step out is not in the
        lists: its weights, m, v and step count stay exactly as they were (a
        zero-gradient Adam step would still move its weights by its momentum).
        Per tensor, not foreach: each tensor's 7 passes run while it is in cache.
        """
        chunks = [w.grad.chunk(self.k) for w in self.w.values()]
        params, grads, m, v, steps = [], [], [], [], []
        for i in (i for i, on in enumerate(active) if on):
            params += self.views[i][0]
            grads += [g[i] for g in chunks]
            m += self.views[i][1]
            v += self.views[i][2]
            steps += self.steps[i]
        _adam(params, grads, m, v, [], steps, amsgrad=False, beta1=0.9, beta2=0.999, lr=self.lr,
              weight_decay=0.0, eps=1e-8, maximize=False)
        for w in self.w.values():
            w.grad = None

    def train_step(self, inputs: Sequence[torch.Tensor], labels: Sequence[torch.Tensor],
                   generators: Sequence[torch.Generator], *, bf16: bool) -> torch.Tensor:
        """One step; member k's batch is ``inputs[k]`` (b_k, 1, n_mels, frames), ``labels[k]`` (b_k,),
        b_k = 0 for a member without a batch. Each member's mean loss (K,), detached, on the device."""
        sizes = [len(y) for y in labels]
        if not self.grouped:
            return self._members_step(inputs, labels, generators, sizes, bf16=bf16)
        n, device = max(sizes), labels[0].device
        y = torch.stack([torch.cat([t, t.new_zeros(n - len(t))]) for t in labels], dim=1)     # (B, K)
        size = torch.tensor(sizes, dtype=torch.float32, device=device)
        valid = torch.arange(n, device=device).unsqueeze(1) < size
        weight = torch.where(valid, 1.0 / size.clamp(min=1), 0.0)   # fit's mean over its own rows
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = _forward(self.template, self.w, inputs, _masked_dropout(generators, sizes))
        ce = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none")
        (ce.view_as(weight) * weight).sum().backward()   # no weight is shared: each member its own gradient
        with torch.no_grad():    # the loss fit reports, reduced as fit reduces it (to the last bit)
            loss = torch.stack([F.cross_entropy(logits[:b, i].float(), t) if b else ce.new_zeros(())
                                for i, (b, t) in enumerate(zip(sizes, labels))])
        self.adam_step([b > 0 for b in sizes])
        return loss

    def _members_step(self, inputs, labels, generators, sizes, *, bf16: bool) -> torch.Tensor:
        """train_step with each member's own layers: fit's forward, its mean loss, and a backward
        of the members' sum (each loss's gradient is exactly 1, as fit's is)."""
        on = [i for i, b in enumerate(sizes) if b]     # a member sitting a step out takes no part
        device = labels[on[0]].device
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = _members_forward(self.template, self.w, inputs, [seeded_dropout(g) for g in generators])
        losses = torch.stack([F.cross_entropy(logits[i].float(), labels[i]) for i in on])
        losses.sum().backward()
        loss = torch.zeros(self.k, device=device)
        loss[on] = losses.detach()
        self.adam_step([b > 0 for b in sizes])
        return loss

    def logits(self, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Each member's eval-mode logits (b_k, C) on ``inputs[k]``, as this stack computes them
        (``None`` for a member without rows)."""
        if not self.grouped:
            return _members_forward(self.template, self.w, inputs, [None] * len(inputs))
        logits = _forward(self.template, self.w, inputs, None)
        return [logits[:len(x), i] if len(x) else None for i, x in enumerate(inputs)]


def _layout(w: torch.Tensor) -> torch.Tensor:
    """Conv weights with the strides of fit's channels-last model even along size-1 axes (which
    ``contiguous(memory_format=...)`` leaves as they are: the conv would pick another kernel)."""
    if w.dim() != 4:
        return w.contiguous()
    return torch.empty(w.shape, dtype=w.dtype, device=w.device, memory_format=CL).copy_(w)


def _masked_dropout(generators: Sequence[torch.Generator], sizes: Sequence[int]):
    """Dropout with member k's mask drawn by its own generator, as SeededDropout would draw it.

    SeededDropout draws ``empty_like(x).bernoulli_`` on member k's (b_k, C, h, w) input,
    which fit's model holds channels-last; bernoulli's values depend on shape, dtype
    and memory format, so the mask is drawn exactly so. Members without a batch draw nothing.
    """
    def dropout(x: torch.Tensor, p: float) -> torch.Tensor:
        n, kc, h, w = x.shape
        k = len(generators)
        full = x.new_zeros((n, h, w, k, kc // k))                 # channels-last memory, per member
        for i, (gen, b) in enumerate(zip(generators, sizes)):
            if b:
                keep = torch.empty((b, kc // k, h, w), dtype=x.dtype, device=x.device, memory_format=CL)
                full[:b, :, :, i] = keep.bernoulli_(1.0 - p, generator=gen).permute(0, 2, 3, 1)
        return x * full.flatten(3).permute(0, 3, 1, 2) / (1.0 - p)
    return dropout
