"""Where a search's workers run: local processes or Ray tasks, by name (``--backend``).

A backend starts N workers (:class:`~sertune.study.search.runner.Worker`) and returns a
handle the search watches: ``alive()`` while any worker runs, ``stop()`` to end
them (each saves an epoch checkpoint and gives its θ back), and ``failures()``
naming the workers that ended with an error.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from ...errors import ConfigError


@contextlib.contextmanager
def terminate_as_interrupt():
    """Within it, SIGTERM (``kill PID``, a job scheduler's stop) raises KeyboardInterrupt, so that it
    ends a search as Ctrl-C does: its workers save their epoch and stop, and it says how far it got.
    Python's default ends the process at once, unannounced (its workers stop on their own later,
    when they see their parent gone). Only the main thread may set a handler: elsewhere, a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class WorkerOptions:
    """How each worker runs (the same for every backend)."""

    devices: Sequence[str]
    out: Path
    heartbeat: float
    threads: int
    cache_dir: str | None = None
    checkpoint_dir: str | None = None
    checkpoint_seconds: float = 60.0
    checkpoint_epochs: int = 0
    #: Lower the thread count while other processes keep the cores busy (``--threads`` not given).
    share_cpu: bool = False


def worker_command(url: str, name: str, device: str, opts: WorkerOptions) -> list[str]:
    """``sertune worker ...`` for one local worker process."""
    cmd = [sys.executable, "-m", "sertune", "worker", "--storage", url, "--study", name, "--device", device,
           "--out", str(opts.out), "--heartbeat", str(opts.heartbeat), "--threads", str(opts.threads),
           "--checkpoint-seconds", str(opts.checkpoint_seconds),
           "--checkpoint-epochs", str(opts.checkpoint_epochs), "--parent", str(os.getpid())]
    if opts.checkpoint_dir:
        cmd += ["--checkpoint-dir", str(opts.checkpoint_dir)]
    if opts.share_cpu:
        cmd.append("--share-cpu")
    return cmd + (["--cache-dir", opts.cache_dir] if opts.cache_dir else [])


class LocalWorkers:
    """N worker processes on this machine, devices assigned round-robin; logs in OUT/logs/."""

    def __init__(self, url: str, name: str, workers: int, opts: WorkerOptions) -> None:
        (opts.out / "logs").mkdir(parents=True, exist_ok=True)
        self.logs = [opts.out / "logs" / f"worker{k}.log" for k in range(workers)]
        self.procs = []
        for k in range(workers):
            with open(self.logs[k], "ab") as log:
                cmd = worker_command(url, name, opts.devices[k % len(opts.devices)], opts)
                self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))

    def alive(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def stop(self, wait: float = 10.0) -> None:
        """SIGTERM: each worker saves its training's state at the end of the epoch; killed after ``wait`` s."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + wait
        for p in self.procs:
            try:
                p.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def failures(self) -> list[str]:
        return [f"worker {k} stopped with status {p.returncode}; see {self.logs[k]}"
                for k, p in enumerate(self.procs) if p.returncode not in (0, None)]


class RayWorkers:
    """N workers as Ray tasks (``ray start --head`` / ``--address``), with a GPU fraction each."""

    def __init__(self, url: str, name: str, workers: int, opts: WorkerOptions, *, address: str | None = None,
                 gpus_per_worker: float = 0.0) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--backend ray needs Ray: pip install 'sertune[distributed]' "
                              "(or pip install ray)") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                     include_dashboard=False, num_cpus=None if address else max(workers * opts.threads, 1))

        @ray.remote(num_cpus=opts.threads, num_gpus=gpus_per_worker)
        def ray_worker(k: int) -> int:
            import torch

            from .runner import Worker
            torch.set_num_threads(max(1, opts.threads))
            device = "cuda" if gpus_per_worker > 0 else opts.devices[k % len(opts.devices)]
            return Worker(url, name, device=device, out=opts.out, heartbeat=opts.heartbeat,
                          cache_dir=opts.cache_dir, checkpoint_dir=opts.checkpoint_dir,
                          checkpoint_seconds=opts.checkpoint_seconds,
                          checkpoint_epochs=opts.checkpoint_epochs).run()

        self.refs = [ray_worker.remote(k) for k in range(workers)]
        self.errors: list[str] = []

    def alive(self) -> bool:
        return bool(self.ray.wait(self.refs, num_returns=len(self.refs), timeout=0)[1])

    def stop(self, wait: float = 10.0) -> None:
        for ref in self.refs:
            self.ray.cancel(ref, force=True)

    def failures(self) -> list[str]:
        failed = []
        for k, ref in enumerate(self.refs):
            try:
                self.ray.get(ref, timeout=0)
            except Exception as exc:  # Ray wraps the worker's exception in its own types
                failed.append(f"Ray worker {k} failed: {str(exc).splitlines()[0]}")
        return failed


#: name -> backend class; ``sertune search --backend`` lists these names.
BACKENDS: dict[str, Callable[..., object]] = {"local": LocalWorkers, "ray": RayWorkers}
