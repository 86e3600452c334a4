"""The restart control of a stored search, read-only: θ trained N times per repetition.

Restart 0 is the grid's own training of θ (in ``NAME.rep{r}``; the control's own when θ is
not in the grid), restarts 1..N-1 the control's extra trainings (in ``NAME.rep{r}.restarts``, written by the worker, never
selected). The report reads this to say how much of a tuned gain is the setting and how
much the pick of the best of many trainings.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...features.theta import Theta, parse_theta_key
from .locate import _storage
from .results import StudyResults, complete_trials
from .storage import restarts_name


@dataclass(frozen=True)
class Restart:
    """One finished training of the control: repetition, restart, final validation and test WA/UA (%)."""

    rep: int
    restart: int
    val_wa: float
    test_wa: float
    test_ua: float


@dataclass(frozen=True)
class Control:
    """Every finished training of the control (``runs``) and its plan (``restarts`` per repetition)."""

    theta: Theta
    restarts: int
    runs: tuple[Restart, ...]

    def complete_reps(self) -> list[int]:
        """The repetitions whose N restarts are all finished (the only ones the control compares)."""
        done = {}
        for run in self.runs:
            done.setdefault(run.rep, set()).add(run.restart)
        return sorted(r for r, have in done.items() if len(have) == self.restarts)

    def of(self, rep: int) -> list[Restart]:
        """The restarts of ``rep``, restart 0 first."""
        return sorted((run for run in self.runs if run.rep == rep), key=lambda run: run.restart)


def control_progress(results: StudyResults) -> dict | None:
    """``{"theta", "planned", "done"}``: the trainings the restart control adds to the grid's (N - 1 per
    repetition for a θ of the grid, N otherwise) and how many are finished; None without a control."""
    control = results.attrs.get("control")
    if not control:
        return None
    first = 1 if control.get("in_grid", True) else 0
    found = load_control(results)
    done = sum(1 for run in found.runs if run.restart >= first)
    return {"theta": control["theta"], "planned": (int(control["restarts"]) - first) * results.reps, "done": done}


def load_control(results: StudyResults) -> Control | None:
    """The restart control of ``results``' search, or None when it has none."""
    import optuna
    from optuna.trial import TrialState

    control = results.attrs.get("control")
    if not control:
        return None
    theta, n = parse_theta_key(control["theta"]), int(control["restarts"])
    runs = {(t.rep, 0): Restart(t.rep, 0, t.value, t.test["wa"], t.test["ua"])
            for t in complete_trials(results) if t.theta == theta and t.test}
    storage = _storage(results.storage)
    for r in range(results.reps):
        try:
            study = optuna.load_study(study_name=restarts_name(results.name, r), storage=storage)
        except KeyError:
            continue
        for t in sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number):
            i = t.user_attrs.get("restart")
            if i is not None and (r, i) not in runs and t.value is not None and "test" in t.user_attrs:
                runs[(r, i)] = Restart(r, i, t.value, t.user_attrs["test"]["wa"], t.user_attrs["test"]["ua"])
    return Control(theta=theta, restarts=n, runs=tuple(runs[k] for k in sorted(runs)))
