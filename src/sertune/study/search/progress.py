"""Where a search stands, read from its storage alone (any machine can ask), and its live bar.

The counting rules are :mod:`sertune.study.store.results`' (the same as the report's):
counts are per planned (θ, r) cell, a retried failure that then finished is not
a failed cell, and finished trials of a cell beyond the first are duplicates.

The ETA is not a rate of polls: settings differ in cost by 30x and more, so it
is the remaining work, costed per setting by its input size (M x frames per
epoch), at the seconds per unit that finished trainings measured (:func:`eta_seconds`).
Brute force trains every remaining (θ, r) to the last epoch; a cheaper strategy
is expected to spend the share of the epochs that ``--plan`` estimates for it
(:func:`epochs_left`), so a ``--budget 10%`` search does not show ten times its ETA.
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from ...features.theta import Theta, parse_theta_key
from ..strategies.pruners import strategy_of
from ..store.control import control_progress
from ..store.curves import epoch_cost
from ..store.results import TrialRecord, best_per_rep, cell_states, coverage, coverage_by_rep, load_results



@dataclass
class Progress:
    planned: int
    complete: int = 0
    pruned: int = 0
    #: Of the pruned: recorded without training (a strategy that skips settings).
    skipped: int = 0
    failed: int = 0
    running: int = 0
    #: Of the running: trainings parked at a topk or repfid barrier, waiting for the other settings.
    waiting: int = 0
    interrupted: int = 0
    duplicates: int = 0
    #: Of the complete: trainings that ended at chance (never learned; results.at_chance).
    at_chance: int = 0
    reps: list[dict] = field(default_factory=list)
    #: Estimated seconds of work left (None until a training finished).
    eta: float | None = None
    #: Epochs of each training (the search's setting; None where unknown).
    epochs: int | None = None
    #: The restart control's trainings (``{"theta", "planned", "done"}``), counted in ``planned`` and
    #: ``complete`` too; None without one.
    control: dict | None = None

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed

    def as_json(self) -> dict:
        """The ``sertune status --json`` object."""
        return {"planned": self.planned, "complete": self.complete, "pruned": self.pruned,
                "skipped": self.skipped, "failed": self.failed, "running": self.running, "waiting": self.waiting,
                "interrupted": self.interrupted, "duplicates": self.duplicates, "at_chance": self.at_chance,
                "eta_seconds": self.eta, "epochs": self.epochs, "reps": self.reps, "control": self.control}

    def postfix(self) -> str:
        """Short live summary: ETA, running and failed counts, the best θ so far."""
        waiting = f", waiting at the barrier {self.waiting}" if self.waiting else ""
        text = (f"ETA {format_duration(self.eta)}, running {self.running - self.waiting}{waiting}, "
                f"failed {self.failed}")
        best = max((r["best"] for r in self.reps if r["best"]), key=lambda b: b["value"], default=None)
        if best:
            t = best["theta"]
            text += (f" | best val WA {best['value']:.1f} at M={t['n_mels']} L={t['win_length']} "
                     f"H={t['hop_length']} T={t['segment']:g}")
        return text


def cost(theta: Theta) -> float:
    """Relative cost of one epoch of θ: the network's work per segment grows with M x frames, and an
    epoch of T-second segments holds about (the corpus's audio) / T of them; the cost model of
    :meth:`sertune.study.store.curves.Curves.epoch_costs` too. (Without / T, θ• at 3 s, costed
    from trainings at 1 s, was 3x too dear: a 5.7 h ETA for 1.9 h of work.)"""
    return epoch_cost(theta)


def eta_seconds(finished: Iterable[tuple[Theta, int, float]], remaining: Iterable[tuple[Theta, int]],
                *, workers: int) -> float | None:
    """Seconds of work left, spread over ``workers``.

    Parameters
    ----------
    finished : iterable of (θ, epochs run, seconds)
        Trainings that finished (complete or pruned), with their measured time.
    remaining : iterable of (θ, epochs left)
        The work still to do.
    workers : int
        Trainings that run at once (at least 1).

    Returns
    -------
    float or None
        None until a training finished (nothing measured yet).
    """
    work = seconds = 0.0
    for theta, epochs, secs in finished:
        if epochs and secs:
            work += cost(theta) * epochs
            seconds += secs
    if work <= 0:
        return None
    per_unit = seconds / work
    left = sum(cost(theta) * epochs for theta, epochs in remaining)
    return left * per_unit / max(1, workers)


def format_duration(seconds: float | None) -> str:
    """``?`` / ``42 s`` / ``12 min`` / ``3.4 h`` / ``2.1 days``: what a person reads at a glance."""
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def counted(n: int, noun: str) -> str:
    """``1 setting``, ``2 settings``, ``1,024 trainings``: a count with its noun, singular for one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def device_time(seconds: float, *, training: bool = True) -> str:
    """``1.2 device-hours (73 min of training)``; under 0.1 h, ``4 min of device time``
    (``0.0 device-hours`` tells nothing)."""
    if seconds < 360:
        return f"{format_duration(seconds)} of device time"
    text = f"{seconds / 3600:,.1f} device-hours"
    return f"{text} ({format_duration(seconds)} of training)" if training else text


def epochs_left(reported: int, *, epochs: int, fraction: float = 1.0) -> float:
    """Expected epochs still to train for a (θ, r) that has ``reported`` epochs so far.

    A strategy that spends ``fraction`` of brute force's epochs trains ``fraction x
    epochs`` per setting on average; a training already past that survived its
    strategy's cuts and is expected to go on to the last epoch. Brute force
    (``fraction=1``): ``epochs - reported``.
    """
    expected = fraction * epochs
    return expected - reported if reported < expected else float(max(0, epochs - reported))


def busy_workers(trials: Iterable[TrialRecord]) -> int:
    """Workers training now: distinct workers with a running trial that is not parked at a barrier.

    Counted by worker, not by trial: a search written with the retired fused training
    (sertune < 0.2) had one worker running several trials at once. A trial written
    before trials named their ``worker`` counts by its setting."""
    return len({t.worker or t.theta for t in trials
                if t.state == "running" and not t.parked and t.theta is not None})


@functools.lru_cache(maxsize=16)
def expected_fraction(strategy: str, *, settings: int, reps: int, epochs: int) -> float:
    """The share of brute force's epochs ``strategy`` is expected to spend (``--plan``'s estimate:
    replayed on synthesized curves of this size; cached, as the live bar asks at every poll)."""
    from ..replay.lab import strategy_fraction

    return strategy_fraction(strategy, settings=settings, reps=reps, epochs=epochs)


def read_progress(url: str, name: str, *, workers: int | None = None) -> Progress:
    """The search's progress from its storage (``workers``: for the ETA; default: :func:`busy_workers`)."""
    results = load_results(url, name)
    cov = coverage(results)
    best = best_per_rep(results)
    epochs = int(results.settings.get("epochs", 1))
    state = Progress(planned=cov["planned"], complete=cov["complete"], pruned=cov["pruned"],
                     skipped=cov["skipped"], failed=cov["failed"], running=cov["running"], interrupted=cov["interrupted"],
                     duplicates=cov["duplicates"], at_chance=cov["at_chance"], epochs=epochs)
    state.waiting = sum(1 for t in results.trials if t.parked)
    fraction = expected_fraction(strategy_of(results.settings), settings=len(results.grid),
                                 reps=results.reps, epochs=epochs)
    for row in coverage_by_rep(results):
        r = row["rep"]
        top = best.get(r)
        state.reps.append({
            "rep": r, **{k: row[k] for k in ("complete", "pruned", "failed", "running", "interrupted")},
            "planned": len(results.grid),
            "best": None if top is None else {"value": top.value, "theta": top.theta.as_dict(),
                                              "trial": top.number, "model": top.model},
        })
    state.control = control_progress(results)
    control_left = []
    if state.control:          # the control's trainings are planned work too: the bar, the ETA and the end count them
        state.planned += state.control["planned"]
        state.complete += state.control["done"]
        left = state.control["planned"] - state.control["done"]
        control_left = [(parse_theta_key(state.control["theta"]), epochs)] * left     # never pruned
    state.eta = _eta(results.trials, cell_states(results), epochs, fraction=fraction, extra=control_left,
                     workers=workers if workers is not None else busy_workers(results.trials))
    return state


def _eta(trials: tuple[TrialRecord, ...], cells: dict, epochs: int, *, workers: int,
         fraction: float = 1.0, extra: Iterable[tuple[Theta, int]] = ()) -> float | None:
    """:func:`eta_seconds` of the grid's unfinished cells, plus ``extra`` work (θ, epochs left): the
    restart control's trainings, which are no cells of the grid."""
    finished = [(t.theta, t.epochs_run or epochs, t.seconds) for t in trials
                if t.finished and t.theta is not None and t.seconds]
    reported = {(t.rep, t.theta): len(t.intermediate) for t in trials if t.state in ("running", "interrupted")}
    remaining = [(theta, epochs_left(reported.get((rep, theta), 0), epochs=epochs, fraction=fraction))
                 for (rep, theta), s in cells.items() if s in ("running", "interrupted", "waiting", "missing")]
    return eta_seconds(finished, [*remaining, *extra], workers=workers)


#: The most of one core the live bar may spend reading the storage. A read of a real study
#: takes a tenth of a second and more (0.18 s CPU for 10 repetitions x 12 settings); every
#: 2 s, that took 9 % of a core from the trainings on a 2-core machine.
READ_SHARE = 0.02
#: Seconds between refreshes when stderr is not a terminal (a log file): each refresh is a line
#: there, not a redraw.
LOG_INTERVAL = 30.0


def refresh_interval(read_seconds: float, *, interval: float, terminal: bool) -> float:
    """Seconds to wait before the next refresh of the bar: ``interval`` (``LOG_INTERVAL`` at least when
    the bar goes to a log file), longer when a read of the storage took ``read_seconds``, so that
    reading stays within :data:`READ_SHARE` of a core."""
    base = interval if terminal else max(interval, LOG_INTERVAL)
    return max(base, read_seconds / READ_SHARE)


def watch(url: str, name: str, *, alive: Callable[[], bool], workers: int, progress: bool = True,
          interval: float = 2.0) -> Progress:
    """Show a live bar (trainings done / planned, ETA, best θ so far) until ``alive()`` is false.

    Without ``progress`` it only waits: the storage is read once, at the end."""
    from tqdm.auto import tqdm

    if not progress:
        while alive():
            _sleep_while(alive, interval)
        return read_progress(url, name, workers=workers)
    terminal = sys.stderr.isatty()
    state = read_progress(url, name, workers=workers)
    bar = tqdm(total=state.planned, initial=state.done, desc=f"search {name}", unit="training",
               file=sys.stderr, dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} trainings [{elapsed}] {postfix}")
    with bar:
        while True:
            started = time.perf_counter()
            state = read_progress(url, name, workers=workers)
            read = time.perf_counter() - started
            bar.n = state.done                    # drawn once, with the postfix (update() would draw too)
            bar.set_postfix_str(state.postfix(), refresh=True)
            if not alive():
                return read_progress(url, name, workers=workers)
            _sleep_while(alive, refresh_interval(read, interval=interval, terminal=terminal))


def _sleep_while(alive: Callable[[], bool], seconds: float, *, step: float = 0.05) -> None:
    """Sleep ``seconds``, or less when ``alive()`` turns false: the end of a search is shown at once,
    not up to a bar refresh later (a refresh reads the whole storage; checking the workers is cheap)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        time.sleep(min(step, max(0.0, deadline - time.monotonic())))
