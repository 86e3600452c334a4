"""Training throughput: sertune's training step vs the reference code's style, same run, same CPU.

Reference: the authors' loop — a ``Dataset`` of per-sample numpy arrays, a
``DataLoader`` (batch 16, shuffled) with a per-sample ToTensor + Normalize
transform (re-implemented here without torchvision, same work), an fp32 model
in the default memory format.

sertune: :func:`sertune.training.fit.train_epoch` — the features in one float16 tensor
on the device, batches by indexing, bf16 autocast + channels-last where the
device supports them (``--precision`` as in ``sertune train``), and the same
in fp32, which separates what the data path gains from what bf16 gains.
The reference runs on the same ``--device`` (its batches moved there each step).

Both train the same SqueezeNet v1.1 (same init) on the same random "log-Mel"
inputs for the same number of samples, after one warm-up batch each. Input
sizes 128x1001 and 256x2001 (M x frames). Prints samples/s for each, then the
memory check of the paper's largest θ on IEMOCAP (M=256, H=16, T=9 s, 3000
segments: ~14 GB of 16-bit features): which storage mode sertune picks on this
device and the peak memory (max RSS) of a training step in it. The last line is
``ratio: <reference s / sertune s>`` at the first size, after
``ratio_fp32:`` (the same with sertune in fp32).

On a CUDA device a third sertune row replays full batches as one CUDA graph
(:mod:`sertune.training.cuda_graphs`, what ``fit`` does there), and 40x301 (θ•, where a
step is launch-bound) is measured too; ``--shapes`` picks other sizes.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sertune.training.dataset import MEMORY_SHARE, SegmentData, Theta
from sertune.training.devices import free_memory_bytes, resolve_device, use_bf16
from sertune.training.model import build_model
from sertune.training.cuda_graphs import GraphedStep
from sertune.training.fit import train_epoch


class ReferenceDataset(Dataset):
    """Per-sample arrays (H, W, 1) and a per-sample transform, as the authors' SERDataset."""

    def __init__(self, arrays, labels, mean, std):
        self.arrays, self.labels, self.mean, self.std = arrays, labels, mean, std

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = torch.from_numpy(self.arrays[i].transpose(2, 0, 1).copy())   # ToTensor: HWC -> CHW
        return (x - self.mean) / self.std, self.labels[i]                 # Normalize


def reference_seconds(arrays, labels, n_classes, steps, batch, device):
    """The authors' loop on the same device as sertune: batches collated on the CPU and moved
    to the device each step, an fp32 model in the default memory format."""
    model = build_model(n_classes, seed=0).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loader = DataLoader(ReferenceDataset(arrays, labels, -40.0, 20.0), batch_size=batch, shuffle=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    start, seen = None, 0
    for i, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i == 0:                                   # warm-up batch not timed
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        else:
            seen += len(y)
        if i == steps:
            break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, seen


def sertune_seconds(arrays, labels, n_classes, steps, batch, device, precision, graphed=False):
    n, m = len(arrays), arrays[0].shape[0]
    store = torch.from_numpy(np.stack([a[..., 0] for a in arrays])).to(device, torch.float16)
    data = SegmentData(Theta(m, 511, 16, 1.0), 16000, "features", store,
                       torch.as_tensor(labels, device=device), np.arange(n),
                       tuple(map(str, range(n))), tuple(map(str, range(n))))
    model = build_model(n_classes, seed=0).to(device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, capturable=device.type == "cuda")   # as fit
    bf16 = use_bf16(device, precision)
    graph = None
    if graphed:     # capture (its warm-up steps are undone) before the timed steps, as fit does
        graph = GraphedStep(model.train(), opt, data, -40.0, 20.0, bf16=bf16, batch_size=batch,
                            generator=torch.Generator(device=device).manual_seed(0))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0)).to(device)
    train_epoch(model, opt, data, order[:batch], -40.0, 20.0, bf16=bf16, batch_size=batch,
                graph=graph)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    rows = order[batch:batch * (steps + 1)]
    train_epoch(model, opt, data, rows, -40.0, 20.0, bf16=bf16, batch_size=batch, graph=graph)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, len(rows), bf16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed batches per measurement (6 was too few: one noisy batch moved a ratio 2x)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--largest", type=int, default=3000, metavar="N",
                        help="segments of the largest-θ memory check (0 skips it)")
    parser.add_argument("--shapes", default=None, metavar="MxF,...",
                        help="input sizes (default 128x1001,256x2001; on CUDA 40x301 first)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    default = "128x1001,256x2001" if device.type == "cpu" else "40x301,128x1001,256x2001"
    shapes = [tuple(int(v) for v in s.split("x")) for s in (args.shapes or default).split(",")]
    batch, n_classes = 16, 7
    ratios, fp32_ratios = [], []
    print(f"device {device}; threads {torch.get_num_threads()}; the reference runs on the same device")
    for shape in shapes:
        rng = np.random.default_rng(0)
        n = batch * (args.steps + 1)
        arrays = [rng.normal(-40, 20, size=(*shape, 1)).astype(np.float32) for _ in range(n)]
        labels = rng.integers(0, n_classes, n)
        ref_s, ref_n = reference_seconds(arrays, labels, n_classes, args.steps, batch, device)
        # fp32 first: the data path alone (features held on the device, batches by indexing) ...
        fp_s, fp_n, _ = sertune_seconds(arrays, labels, n_classes, args.steps, batch, device, "fp32")
        # ... then the precision asked for (bf16 + channels-last where the device runs them fast)
        ours_s, ours_n, bf16 = sertune_seconds(arrays, labels, n_classes, args.steps, batch,
                                               device, args.precision)
        ratio = (ref_s / ref_n) / (ours_s / ours_n)
        fp32_ratio = (ref_s / ref_n) / (fp_s / fp_n)
        ratios.append(ratio)
        fp32_ratios.append(fp32_ratio)
        print(f"{shape[0]}x{shape[1]}: reference fp32 DataLoader {ref_n / ref_s:6.2f} samples/s | "
              f"sertune fp32 {fp_n / fp_s:6.2f} samples/s (x{fp32_ratio:.2f}) | "
              f"sertune {'bf16 + channels-last' if bf16 else 'fp32'} {ours_n / ours_s:6.2f} samples/s "
              f"(x{ratio:.2f})")
        if device.type == "cuda":
            g_s, g_n, _ = sertune_seconds(arrays, labels, n_classes, args.steps, batch, device,
                                          args.precision, graphed=True)
            print(f"{shape[0]}x{shape[1]}: sertune CUDA graph {g_n / g_s:6.2f} samples/s "
                  f"(x{(ref_s / ref_n) / (g_s / g_n):.2f} the reference, x{(ours_s / ours_n) / (g_s / g_n):.2f} "
                  f"sertune's eager steps)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"peak memory so far (max RSS of this process): {peak:.2f} GiB")
    if args.largest:
        largest_theta(device, args.precision, args.largest)
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2 ** 30:.2f} GiB")
    print(f"ratio_fp32: {fp32_ratios[0]:.2f}")
    print(f"ratio: {ratios[0]:.2f}")


def largest_theta(device, precision, n_segments):
    """The paper's largest θ on IEMOCAP (M=256, H=16, T=9 s, ~3000 segments): where it lives,
    and the peak memory of a training step on it."""
    theta = Theta(256, 511, 16, 9.0)
    frames = theta.frames(16000)
    feature_gib = n_segments * theta.n_mels * frames * 2 / 2 ** 30
    budget_gib = MEMORY_SHARE * free_memory_bytes(device) / 2 ** 30
    mode = "features" if feature_gib <= budget_gib else "waves"
    print(f"largest θ ({theta}, {n_segments} segments): 16-bit features would take {feature_gib:.1f} GiB, "
          f"budget {budget_gib:.1f} GiB -> mode '{mode}'")
    if mode == "features":
        return
    waves = torch.randn(n_segments, 9 * 16000, generator=torch.Generator().manual_seed(0)).mul_(0.05)
    data = SegmentData(theta, 16000, "waves", waves.to(device), torch.zeros(n_segments, dtype=torch.long,
                       device=device), np.arange(n_segments), tuple(map(str, range(n_segments))),
                       tuple(map(str, range(n_segments))))
    model = build_model(4, seed=0).to(device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    start = time.perf_counter()
    train_epoch(model, opt, data, torch.arange(16, device=device), -40.0, 20.0,
                bf16=use_bf16(device, precision), batch_size=16)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"one training step (batch 16, input 256x{frames}, log-Mel computed per batch): "
          f"{time.perf_counter() - start:.1f} s; peak memory (max RSS): {peak:.2f} GiB")


if __name__ == "__main__":
    main()
