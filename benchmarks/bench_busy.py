"""A CPU shared with another training: one ``sertune demo`` alone, then two at once.

On a 2-core machine, two torch processes with 2 threads each used to make each
other 10-30x slower (threads spinning at every parallel region for a core the
other process holds). sertune's CLI lets finished OpenMP threads spin only
briefly before they sleep (``GOMP_SPINCOUNT=10000`` unless ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` is set) and its search workers lower their thread count after
each epoch while other processes keep the cores busy
(:class:`sertune.training.devices.CpuShare`). This runs ``sertune demo`` (fewer epochs with
``--epochs``) alone, then two demos started at the same time into different
folders, and prints each wall time. Two demos cannot beat 2x on 2 cores; the
target is that each finishes within 2.5x of the one alone.

Last line: ``busy_ratio: X`` (the slower of the two over the one alone).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sertune.training.devices import cpu_model, usable_cpus


def demo(out: Path, epochs: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sertune", "demo", "--out", str(out), "--epochs", str(epochs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen, start: float) -> float:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"a demo failed (status {proc.returncode}):\n{err[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15, help="epochs of each demo (the demo's default: 15)")
    parser.add_argument("--wait-policy", default=None,
                        help="OMP_WAIT_POLICY to give the demos (default: sertune's own choice)")
    parser.add_argument("--spin-count", default=None,
                        help="GOMP_SPINCOUNT to give the demos (default: sertune's own choice, 10000)")
    args = parser.parse_args()
    env = dict(os.environ)
    for name, value in (("OMP_WAIT_POLICY", args.wait_policy), ("GOMP_SPINCOUNT", args.spin_count)):
        if value:
            env[name] = value
    print(f"CPU: {cpu_model()}, {usable_cpus()} usable cores; load before: {os.getloadavg()[0]:.2f}; "
          f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')}, "
          f"GOMP_SPINCOUNT={env.get('GOMP_SPINCOUNT', '(sertune default: 10000)')}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        alone = finish(demo(tmp / "alone", args.epochs, env), start)
        print(f"one demo alone: {alone:.0f} s")
        start = time.perf_counter()
        pair = [demo(tmp / f"busy{i}", args.epochs, env) for i in range(2)]
        times = [finish(p, start) for p in pair]
        print(f"two demos at once: {times[0]:.0f} s and {times[1]:.0f} s "
              f"(x{times[0] / alone:.2f}, x{times[1] / alone:.2f} of alone)")
    print(f"busy_ratio: {max(times) / alone:.2f}")


if __name__ == "__main__":
    main()
