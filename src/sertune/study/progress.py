"""Where a search stands, read from its storage alone (any machine can ask).

The counting rules are :mod:`sertune.study.results`' (the same as the report's):
counts are per planned (θ, r) cell, a retried failure that then finished is not
a failed cell, and finished trials of a cell beyond the first are duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .results import best_per_rep, coverage, coverage_by_rep, load_results


@dataclass
class Progress:
    planned: int
    complete: int = 0
    pruned: int = 0
    failed: int = 0
    running: int = 0
    duplicates: int = 0
    reps: list[dict] = field(default_factory=list)

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
        text = f"running {self.running}, failed {self.failed} | {per_rep}"
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
    state = Progress(planned=cov["planned"], complete=cov["complete"], pruned=cov["pruned"],
                     failed=cov["failed"], running=cov["running"], duplicates=cov["duplicates"])
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
