"""Log-Mel throughput: sertune vs the reference code's librosa calls, same run, same CPU.

Workload: the 102 (M, L, H) settings of the paper's Table 2 (M = 128, 136, ..., 256;
L = 127, 255, 511; H = 16, 32) for a batch of 32 speech-like utterances of 3 s.

* reference: what the authors' code does, per utterance and per setting,
  ``librosa.power_to_db(librosa.feature.melspectrogram(y, sr=16000, n_mels=M,
  n_fft=L, hop_length=H, win_length=L))`` (3264 calls);
* librosa, the best a librosa user can do: one ``librosa.stft`` per (L, H) on the
  whole batch, then ``librosa.feature.melspectrogram(S=...)`` per M on it and
  ``power_to_db`` with the 80 dB floor applied per utterance (the same numbers);
* sertune: ``features.log_mel_many`` once per (L, H) on the whole batch
  (6 calls of 17 M values each: one STFT shared by the 17 filter banks).

Both use 2 CPU threads (torch.set_num_threads(2); numpy's BLAS limited to 2) and
run once untimed on a small batch first (imports, caches). For each (L, H) in
turn, sertune is timed 3 times (median) and then librosa once over its 544 calls,
so background load on a shared machine hits both alike. The outputs are compared
on utterance 0 to show the work is the same. On a machine with CUDA the GPU path
is timed too (data already on the GPU, outputs left there). The last line is
``ratio: <librosa per-call seconds / sertune seconds>``; the line before it,
``ratio_best: <best librosa seconds / sertune seconds>``.

    python benchmarks/bench_features.py [--utterances 32] [--seconds 3]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "2")      # before numpy/torch load their BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from sertune.features import logmel as features  # noqa: E402

MELS = list(range(128, 257, 8))
WINDOWS = (127, 255, 511)
HOPS = (16, 32)


def speech_like(n_utterances: int, seconds: float, sample_rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Harmonic voices with a gliding pitch, syllable envelopes and a little noise: (n, samples) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    waves = []
    for _ in range(n_utterances):
        f0 = rng.uniform(90, 260) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        voice = sum(np.sin(k * phase) / k for k in range(1, 40))
        envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)), 0, None)
        y = voice * envelope + 0.01 * rng.standard_normal(len(t))
        waves.append(0.5 * y / np.abs(y).max())
    return np.stack(waves).astype(np.float32)


def librosa_lms(y, m, win, hop):
    spec = librosa.feature.melspectrogram(y=y, sr=16000, n_mels=m, n_fft=win, hop_length=hop, win_length=win)
    return librosa.power_to_db(spec, ref=1.0, amin=1e-10, top_db=80.0)


def librosa_best(batch, win, hop):
    """All M of one (L, H) for the whole batch: one STFT, a filter bank per M, dB per utterance."""
    power = np.abs(librosa.stft(batch, n_fft=win, hop_length=hop, win_length=win)) ** 2
    out = {}
    for m in MELS:
        db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=16000, n_fft=win, n_mels=m),
                                 ref=1.0, amin=1e-10, top_db=None)
        out[m] = np.maximum(db, db.max(axis=(-2, -1), keepdims=True) - 80.0)   # top_db per utterance
    return out


def time_setting(batch, win, hop, repeats):
    """Seconds for one (L, H): sertune (median of ``repeats``), librosa at its best (median of
    ``repeats``) and librosa per call (one pass), back to back."""
    ours = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = features.log_mel_many(batch, n_mels=MELS, win_length=win, hop_length=hop)
        ours.append(time.perf_counter() - start)
        del out
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        best_out = librosa_best(batch, win, hop)
        best.append(time.perf_counter() - start)
    start = time.perf_counter()
    kept = {}
    for m in MELS:
        for i, y in enumerate(batch):
            lms = librosa_lms(y, m, win, hop)
            if i == 0:
                kept[m] = lms
    theirs = time.perf_counter() - start
    ours_0 = features.log_mel_many(batch[:1], n_mels=MELS, win_length=win, hop_length=hop)
    worst = max(float(np.abs(ours_0[m][0] - kept[m]).max()) for m in MELS)
    worst_best = max(float(np.abs(best_out[m][0] - kept[m]).max()) for m in MELS)
    if worst_best > 1e-3:
        raise SystemExit(f"librosa's batched recipe differs from its per-call one by {worst_best:.2e} dB")
    return statistics.median(ours), statistics.median(best), theirs, worst


def time_gpu(batch, repeats):
    gpu = torch.from_numpy(batch).cuda()
    total = 0.0
    for win in WINDOWS:
        for hop in HOPS:
            features.log_mel_many(gpu[:2], n_mels=MELS, win_length=win, hop_length=hop)
            runs = []
            for _ in range(repeats):
                torch.cuda.synchronize()
                start = time.perf_counter()
                out = features.log_mel_many(gpu, n_mels=MELS, win_length=win, hop_length=hop)
                torch.cuda.synchronize()
                runs.append(time.perf_counter() - start)
                del out
            total += statistics.median(runs)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--utterances", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    warnings.simplefilter("ignore")        # empty mel filters at L = 127: known, both sides
    batch = speech_like(args.utterances, args.seconds)
    n_calls = len(MELS) * len(WINDOWS) * len(HOPS) * len(batch)
    print(f"workload: {len(batch)} utterances x {args.seconds:g} s, {len(MELS) * len(WINDOWS) * len(HOPS)} "
          f"(M, L, H) settings of Table 2; torch threads {torch.get_num_threads()}, "
          f"BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}")

    for win in WINDOWS:                     # warm-up: imports, filter-bank caches, allocator
        for hop in HOPS:
            features.log_mel_many(batch[:2], n_mels=MELS, win_length=win, hop_length=hop)
            librosa_lms(batch[0], MELS[0], win, hop)

    sertune_s = best_s = librosa_s = worst = 0.0
    for win in WINDOWS:       # interleaved, so both sides see the same background load
        for hop in HOPS:
            ours, best, theirs, diff = time_setting(batch, win, hop, max(1, args.repeats))
            sertune_s, best_s, librosa_s = sertune_s + ours, best_s + best, librosa_s + theirs
            worst = max(worst, diff)
            print(f"L={win:3d} H={hop:2d}: sertune {ours:6.3f} s  librosa best {best:6.3f} s  per call "
                  f"{theirs:6.2f} s  ({len(batch)} x {len(MELS)} log-Mels; x{best / ours:.1f}, "
                  f"x{theirs / ours:.1f})", flush=True)
    print(f"sertune  cpu: {sertune_s:.2f} s (6 log_mel_many calls, median of {args.repeats} runs each)")
    print(f"librosa  cpu, best: {best_s:.2f} s (one STFT per (L, H) on the batch, melspectrogram(S=...) per M)")
    print(f"librosa  cpu, per call: {librosa_s:.2f} s ({n_calls} calls, {1e3 * librosa_s / n_calls:.1f} ms each)")
    print(f"parity   max |sertune - librosa| on utterance 0, all 102 settings: {worst:.2e} dB")
    if torch.cuda.is_available():
        gpu_s = time_gpu(batch, max(1, args.repeats))
        print(f"sertune  gpu ({torch.cuda.get_device_name()}): {gpu_s:.3f} s; "
              f"x{librosa_s / gpu_s:.0f} vs librosa cpu")
    else:
        print("sertune  gpu: no CUDA device here, not timed")
    print(f"ratio_best: {best_s / sertune_s:.2f}")
    print(f"ratio: {librosa_s / sertune_s:.2f}")


if __name__ == "__main__":
    main()
