"""The only place that uses Optuna internals; tests/test_study_optuna_private.py fails when they change.

- ``FrozenTrial._trial_id``: the storage id of a trial read back from a study
  (public Optuna offers the number, but storage calls take the id).
- ``optuna.trial.Trial(study, trial_id)``: a live handle on an existing RUNNING
  trial, so that the worker that takes over a stopped worker's θ goes on with
  that trial (its reported epochs and the pruner's view of them) instead of
  failing it and starting another.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial


def trial_id(trial: FrozenTrial) -> int:
    """Storage id of a trial."""
    return trial._trial_id


def adopt(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial:
    """A live :class:`optuna.Trial` for a RUNNING trial another process started."""
    return optuna.trial.Trial(study, trial._trial_id)
