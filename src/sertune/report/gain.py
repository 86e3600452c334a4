"""Where a tuned gain comes from: the setting, or the pick of the best of many trainings.

The paper's Table 4 sets θ_r*, the best by validation of S trainings per repetition
(one per setting), against one training of θ•. A training that started well scores well
on validation *and* test, so part of θ_r*'s lead is that pick, not the setting. With a
restart control (θ• trained N times per repetition, :mod:`sertune.study.store.control`),
four numbers on the same splits separate the two:

1. θ• as one training scores (the mean over its N restarts of each repetition);
2. θ• kept as a search keeps θ_r*: the best of its N restarts by validation;
3. the study's θ_r* (the paper's number, best of S);
4. those θ_r* on the repetitions other than the one each was picked on (their setting).

3 - 1 is the paper's gain; 2 - 1 is what picking the best of N trainings alone buys;
4 - 1 is what the settings the study found are worth without their training's luck.
"""

from __future__ import annotations

import numpy as np

from ..study.store import results as sr
from ..study.search.grids import USUAL
from ..study.store.control import Control
from ..training.metrics import mean_std

#: Row keys of the gain table, in order, with what each says.
ROWS = (
    ("one_training", "{c} as one training (mean over its restarts)"),
    ("best_of_restarts", "{c} best of {n} trainings by validation"),
    ("study", "θ_r* of the study, best of {s} settings by validation (the paper's number)"),
    ("study_elsewhere", "the same θ_r* on the other repetitions (the setting without its luck)"),
)


def gain(results: sr.StudyResults, control: Control | None) -> dict | None:
    """The where-the-gain-comes-from table: test WA (mean ± std over repetitions, %) of the four
    rows of :data:`ROWS` on the repetitions where the control is complete and θ_r* exists; each
    row's gain over row 1 (mean of per-repetition differences); per-repetition values.
    None without a control, or when no repetition has all of it yet."""
    if control is None:
        return None
    best = sr.best_per_rep(results)
    by_cell = {(t.rep, t.theta): t for t in sr.complete_trials(results) if t.test}
    reps = [r for r in control.complete_reps() if r in best and best[r].test]
    if not reps:
        return None
    values = {key: [] for key, _ in ROWS}
    for r in reps:
        runs = control.of(r)
        values["one_training"].append(float(np.mean([run.test_wa for run in runs])))
        kept = max(runs, key=lambda run: (run.val_wa, -run.restart))          # ties: the lowest restart
        values["best_of_restarts"].append(kept.test_wa)
        values["study"].append(best[r].test["wa"])
        elsewhere = [by_cell[(o, best[r].theta)].test["wa"] for o in range(results.reps)
                     if o != r and (o, best[r].theta) in by_cell]
        values["study_elsewhere"].append(float(np.mean(elsewhere)) if elsewhere else float("nan"))
    base = np.array(values["one_training"])
    settings = len(results.grid)
    name = "θ•" if control.theta == USUAL else str(control.theta)
    rows = []
    for key, label in ROWS:
        v = np.array(values[key])
        ok = np.isfinite(v)
        rows.append({"key": key, "label": label.format(c=name, n=control.restarts, s=settings),
                     "test_wa": mean_std(v[ok]) if ok.any() else None,
                     "gain": mean_std((v - base)[ok]) if ok.any() else None,
                     "per_rep": [None if not np.isfinite(x) else float(x) for x in v]})
    missing = sum(not np.isfinite(x) for x in values["study_elsewhere"])
    notes = [f"test WA on the {len(reps)} repetitions where all {control.restarts} restarts of {name} and θ_r* "
             f"are finished; gain: the mean of per-repetition differences from the first row"]
    if missing:
        notes.append(f"{missing} θ_r* were not trained to the end on any other repetition (a strategy that "
                     f"pruned them): left out of the last row")
    return {"theta": str(control.theta), "name": name, "restarts": control.restarts, "settings": settings, "reps": reps,
            "rows": rows, "notes": notes}
