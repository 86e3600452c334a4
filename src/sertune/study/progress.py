"""Where a search stands, read from its storage alone (any machine can ask).

The counting rules are :mod:`sertune.study.results`' (the same as the report's):
counts are per planned (θ, r) cell, a retried failure that then finished is not
a failed cell, and finished trials of a cell beyond the first are duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import best_per_rep, cell_states, coverage, coverage_by_rep, load_results


@dataclass
class Progress:
    planned: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    duplicates: int = 0
    reps: list[dict] = field(default_factory=list)
    #: Epochs per training, and the epochs done so far (a finished, pruned or failed
    #: cell counts in full; a running one by its reported epochs): the live bar's unit.
    epochs: int = 1
    epochs_done: int = 0

    @property
    def done(self) -> int:
        return self.complete + self.pruned + self.failed

    def as_json(self) -> dict:
        """The ``sertune status --json`` object."""
        return {"planned": self.planned, "complete": self.complete, "pruned": self.pruned,
                "failed": self.failed, "running": self.running, "duplicates": self.duplicates,
                "reps": self.reps}

    def postfix(self) -> str:
        """Short live summary: per-repetition counts and the best θ so far."""
        per_rep = " ".join(f"r{r['rep']}:{r['complete']}" for r in self.reps)
        best = max((r["best"] for r in self.reps if r["best"]), key=lambda b: b["value"], default=None)
        text = (f"{self.done}/{self.planned} trials, running {self.running}, failed {self.failed} "
                f"| {per_rep}")
        if best:
            t = best["theta"]
            text += (f" | best val WA {best['value']:.1f} at M={t['n_mels']} L={t['win_length']} "
                     f"H={t['hop_length']} T={t['segment']:g}")
        return text


def read_progress(url: str, name: str) -> Progress:
    """The search's progress from its storage."""
    results = load_results(url, name)
    cov = coverage(results)
    best = best_per_rep(results)
    epochs = int(results.settings.get("epochs", 1))
    state = Progress(planned=cov["planned"], complete=cov["complete"], pruned=cov["pruned"],
                     failed=cov["failed"], running=cov["running"], duplicates=cov["duplicates"],
                     epochs=epochs)
    running = {(t.rep, t.theta): len(t.intermediate) for t in results.trials if t.state == "running"}
    for cell, cell_state in cell_states(results).items():
        if cell_state in ("complete", "pruned", "failed"):
            state.epochs_done += epochs
        elif cell_state == "running":
            state.epochs_done += min(running.get(cell, 0), epochs)
    for row in coverage_by_rep(results):
        r = row["rep"]
        top = best.get(r)
        state.reps.append({
            "rep": r, **{k: row[k] for k in ("complete", "pruned", "failed", "running")},
            "planned": len(results.grid),
            "best": None if top is None else {"value": top.value, "theta": top.theta.as_dict(),
                                              "trial": top.number, "model": top.model},
        })
    return state
