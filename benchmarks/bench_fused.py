"""Fused repetitions vs one at a time: training throughput of K = 10 members, same run, same device.

One at a time: K SqueezeNets (channels-last, fit's Adam), each taking its training
step on its own batch, member after member, as K repetitions trained by
:func:`sertune.train.fit` one after the other do. Fused: the same K members as one
stacked network (:mod:`sertune.fused`: grouped convolutions, one backward, Adam on
each member's views). Both run on random inputs of the shape (no corpus), after a
warm-up step each; the two are measured in alternation ``--rounds`` times and the
best round of each is kept (the machine's other load hurts both the same way).

For each input size (M mels x frames): samples/s of training (K x batch samples
per K-member step) and useful TFLOP/s (FLOPs of K single-model training steps,
counted with ``torch.utils.flop_counter.FlopCounterMode``, per second; the fused
network does the same convolutions). Defaults fit 2 CPU cores in a few minutes:
batch 16 (the paper's) at 40 x 301 and 128 x 1001, 4 at 128 x 2501 (16 needs
~20 GB for K = 10 on a CPU; ``--mid-batch-size``). On a CPU, glibc's malloc is
told to keep freed memory (``--glibc-default`` to leave it): large activations
would otherwise be unmapped and page-faulted in again every step.

CPU caveat: on a machine with other load, two OpenMP threads spin at every
barrier while the other is descheduled, which hurts the one-at-a-time side (10x
the kernels, so 10x the barriers) far more: measure on a quiet machine.

Measured on the 2-core Xeon (AVX-512, no AMX) this was written on, quiet, 2 threads,
fp32: ratio_small 1.00, ratio_mid 0.82 (1.05 and 0.82 on 2026-11-26); bf16 autocast:
1.10 and 0.96. A CPU step is compute-bound (~0.1 TFLOP/s either way, a third of
the 0.29 TFLOP/s a 2048 x 2048 matmul reaches there: SqueezeNet's convolutions
are narrow, and stacking members does not widen them, since each member's weights
meet only its own activations), so fusing saves little there; it is for GPUs,
where the small shapes are launch-bound. A profile of one K = 10 step at 40 x 301
shows the stack's grouped convolutions' forward taking 1.9x the time of the 10
models' own (oneDNN, 169 vs 89 ms), which eats what the fewer launches save.
Another side says how far fusion could go: ONE model trained on the K members'
batches at once (batch 160), which pays every launch once as a stack does and
also widens every matmul K times, which a stack cannot. At 40 x 301 it gains only
x1.28-1.30 over the 10 models one at a time (2026-11-26, three runs; at 128 x 1001
it is even slower, x0.57): on this CPU even that is short of 1.5x.

On a CUDA device a third side trains the K members one at a time as
:func:`sertune.train.fit` does there: each step one replay of the member's
CUDA graph (:mod:`sertune.cuda_graphs`). Measured on an NVIDIA H200 (bf16, K = 10,
batch 16), samples/s one at a time eager / graphed / fused: 1,912 / 9,234 / 5,220 at
40 x 301, 1,920 / 3,634 / 3,357 at 128 x 1001, 1,883 / 1,923 / 1,544 at 128 x 2501
(``ratio_small: 0.57 ratio_mid: 0.80``): the graphed single model outran the eager stack.

The last line is ``ratio_small: X ratio_mid: Y``: fused over sertune's own
one-at-a-time training on the device (graphed on CUDA, eager on a CPU),
samples/s at 40 x 301 and at 128 x 2501.
"""

from __future__ import annotations

import argparse
import ctypes
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from sertune.devices import cpu_model, resolve_device, use_bf16
from sertune.fused_probe import graphed_steps, probe_steps, step_seconds

SHAPES = {"small": (40, 301), "128x1001": (128, 1001), "mid": (128, 2501)}


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def keep_freed_memory() -> bool:
    """glibc malloc: no mmap for large blocks and no trimming, so memory freed by one step is
    reused by the next instead of being unmapped and faulted in again (a fused step at 40 x 301
    took ~100k page faults otherwise; on a quiet CPU it changed the ratio by ~2 %, under load
    more). Process-wide: both sides get it."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2 ** 31 - 1))


def timed(step, device: torch.device, *, min_steps: int, seconds: float) -> float:
    """Seconds per call of ``step`` over at least ``min_steps`` calls and ``seconds`` (warm: call it first)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    start, n = time.perf_counter(), 0
    while n < min_steps or time.perf_counter() - start < seconds:
        step()
        n += 1
    sync()
    return (time.perf_counter() - start) / n


def flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def wide_step(shape, k: int, device: torch.device, *, bf16: bool, batch_size: int):
    """ONE model's training step on a batch of ``k * batch_size`` (the issue's "one model, batch 160").

    It does the arithmetic of k members at batch b with the weights shared: every launch,
    barrier and optimizer step is paid once, as in a stack, and each matmul is also k times
    wider, which a stack cannot do (each member's weights meet only its own activations).
    Where the wider matmuls help, this is about the most a fused stack could reach; where
    they do not (at large inputs on a CPU the wide batch can even be slower, its activations
    outgrowing the caches), it bounds nothing. On CUDA it is captured as a graph, as fit's are."""
    if device.type == "cuda":
        return graphed_steps(shape, 1, device, bf16=bf16, batch_size=k * batch_size)
    return probe_steps(shape, 1, device, bf16=bf16, batch_size=k * batch_size)[1]


def measure(shape, k: int, device: torch.device, args, bf16: bool, batch_size: int) -> dict[str, float]:
    """Samples/s of each side (fused, eager one at a time, on CUDA graphed one at a time, and
    one model on the K members' samples at once) and the useful FLOPs per K-member step."""
    fused, single = probe_steps(shape, k, device, bf16=bf16, batch_size=batch_size)
    sides = {"fused": fused, "eager": single}
    if device.type == "cuda":
        sides["graphed"] = graphed_steps(shape, k, device, bf16=bf16, batch_size=batch_size)
    sides["wide"] = wide_step(shape, k, device, bf16=bf16, batch_size=batch_size)
    useful = flops(single)                        # also the warm-up step of each
    flops(fused)
    best = {name: float("inf") for name in sides}
    for _ in range(args.rounds):
        for name, step in sides.items():
            step()
            best[name] = min(best[name], timed(step, device, min_steps=args.min_steps, seconds=args.seconds))
    return {**{name: k * batch_size / t for name, t in best.items()}, "flops": useful}


def matmul_peak(device: torch.device, bf16: bool, *, n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of one large square matmul on ``device`` (what its BLAS reaches: near the hardware's peak)."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return 2 * n ** 3 / step_seconds(lambda: a @ b, device, steps=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="cuda if available, else cpu")
    parser.add_argument("--k", type=int, default=10, help="members (repetitions) fused")
    parser.add_argument("--batch-size", type=int, default=16, help="batch per member (the paper's 16)")
    parser.add_argument("--mid-batch-size", type=int, default=4,
                        help="batch per member at 128 x 2501 (16: ~20 GB of memory for K = 10 on a CPU)")
    parser.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating measurements of each side")
    parser.add_argument("--min-steps", type=int, default=1, help="timed K-member steps per measurement, at least")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement, at least")
    parser.add_argument("--shapes", default="small,128x1001,mid",
                        help=f"comma-separated, of: {', '.join(SHAPES)}")
    parser.add_argument("--glibc-default", action="store_true",
                        help="leave malloc as it is (default on a CPU: keep freed memory, see keep_freed_memory)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    bf16 = use_bf16(device, args.precision)
    kept = device.type == "cpu" and not args.glibc_default and keep_freed_memory()
    print(f"device: {device} ({device_name(device)}); threads: {torch.get_num_threads()}; "
          f"precision: {'bf16 autocast' if bf16 else 'fp32'} (--precision {args.precision}); "
          f"K = {args.k}; malloc keeps freed memory: {'yes' if kept else 'no'}; torch {torch.__version__}")
    peak = matmul_peak(device, bf16)
    print(f"matmul peak here (2048 x 2048, {'bf16' if bf16 else 'fp32'}): {peak / 1e12:.3f} TFLOP/s: the most "
          f"any training step could reach; fusing does not widen a member's matmuls, it saves launches")
    ratios = {}
    for key in args.shapes.split(","):
        shape = SHAPES[key]
        batch = args.mid_batch_size if key == "mid" else args.batch_size
        start = time.perf_counter()
        speed = measure(shape, args.k, device, args, bf16, batch)
        # sertune's one-at-a-time training on this device: CUDA graphs there, eager steps on a CPU
        single = speed.get("graphed", speed["eager"])
        ratios[key] = speed["fused"] / single
        per_sample = speed["flops"] / (args.k * batch)
        rows = [("one at a time", speed["eager"])] + (
            [("one at a time, CUDA graphs", speed["graphed"])] if "graphed" in speed else []) + [
            ("fused", speed["fused"]), (f"one model, batch {args.k * batch}", speed["wide"])]
        print(f"{shape[0]} x {shape[1]}, batch {batch}: " + " | ".join(
            f"{name} {v:7.1f} samples/s ({v * per_sample / 1e12:.3f} TFLOP/s)" for name, v in rows) +
            f" | fused x{speed['fused'] / speed['eager']:.2f} eager" +
            (f", x{ratios[key]:.2f} graphed" if "graphed" in speed else "") +
            f"; one model on all K batches x{speed['wide'] / single:.2f}" +
            f" [{speed['flops'] / 1e9:.1f} GFLOP per K-member step; one at a time at "
            f"{speed['eager'] * per_sample / peak:.0%} of the matmul peak; {time.perf_counter() - start:.0f} s]",
            flush=True)
    print(f"ratio_small: {ratios.get('small', float('nan')):.2f} ratio_mid: {ratios.get('mid', float('nan')):.2f}")


if __name__ == "__main__":
    main()
