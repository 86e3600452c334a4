"""The Optuna internals sertune relies on (study/optuna_private.py): fails when Optuna changes them."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from sertune.study.store.optuna_private import adopt, trial_id


def test_a_running_trial_can_be_adopted_and_finished_by_another_handle(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'o.db'}")
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    first = study.ask()
    first.suggest_categorical("theta", ["a", "b"])
    first.report(1.0, 1)
    first.report(2.0, 2)

    again = optuna.load_study(study_name="s", storage=storage)           # e.g. another process
    frozen = again.get_trials(deepcopy=False, states=(TrialState.RUNNING,))[0]
    assert trial_id(frozen) == first._trial_id
    live = adopt(again, frozen)
    assert live.number == first.number and live.params == first.params
    live.report(3.0, 3)
    again.tell(live, 3.0)
    done = study.get_trials()[0]
    assert done.state == TrialState.COMPLETE and done.intermediate_values == {1: 1.0, 2: 2.0, 3: 3.0}
    # The first handle's owner (paused meanwhile) finds it finished and skips cleanly.
    study.tell(first, 2.0, skip_if_finished=True)
    assert study.get_trials()[0].value == 3.0
