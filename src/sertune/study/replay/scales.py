"""What a regret is measured against: brute force's runner-up, a perfect ranking, and the luck
brute force's per-repetition pick harvests.

These are the scales a replay's regrets are read on (:mod:`.text` prints them): a
strategy that loses about what brute force's own runner-up loses has nearly found
θ_r*; one that loses much more than a perfect ranking at the same budget is let down
by its early epochs, not by the budget.
"""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError
from ..store.curves import Curves, best_so_far
from .yardsticks import leave_one_out


def runner_up_regret(curves: Curves) -> float:
    """Test WA points lost, on average over repetitions, by brute force's own runner-up (the
    second-best setting by final validation WA) against θ_r*: the scale of a regret.

    A training's luck shows on its validation and its test set alike, so the runner-up
    usually loses more than the gap in true quality (2.5 points on the H100 record):
    a regret near 0 means choosing θ_r* itself in most repetitions.
    """
    if curves.n_settings < 2:
        return 0.0
    final = best_so_far(curves.val)[:, :, -1]                                    # (R, S)
    first, second = np.argsort(-final, axis=1, kind="stable")[:, :2].T
    reps = np.arange(curves.reps)
    wa = curves.test_wa[:, :, -1]
    return float((wa[reps, first] - wa[reps, second]).mean())


def ranking_oracle(curves: Curves, budget: float) -> dict:
    """What a perfect ranking of the settings would lose within ``budget`` of brute force's epochs.

    The oracle knows every setting's final validation WA averaged over the repetitions,
    trains only the best ``k = floor(budget x S)`` settings (at least 1), every epoch, on
    every repetition, and selects per repetition the best of them by validation, as brute
    force would among them. No strategy knows that ranking; it is the other scale of a
    regret beside :func:`runner_up_regret`. When the oracle loses little at a budget and the
    strategies lose much, the budget is not the limit: the early epochs rank the settings
    poorly (on the H100 record: -0.10 points at 9.5 %, where every strategy lost 7 or more).

    Returns
    -------
    dict
        ``budget``, ``settings`` (k), ``epoch_fraction`` (k / S) and ``regret`` (test WA points).
    """
    if not 0 < budget <= 1:
        raise ConfigError(f"budget={budget!r} must be a fraction in (0, 1]")
    final = best_so_far(curves.val)[:, :, -1]                                    # (R, S)
    k = max(1, int(np.floor(budget * curves.n_settings + 1e-9)))
    best = np.argsort(-final.mean(axis=0), kind="stable")[:k]
    reps = np.arange(curves.reps)
    star = np.argmax(final, axis=1)                          # first maximum: ties to the lower index
    pick = best[np.argmax(final[:, best], axis=1)]
    wa = curves.test_wa[:, :, -1]
    doc = {"budget": budget, "settings": k, "epoch_fraction": k / curves.n_settings,
           "regret": float((wa[reps, star] - wa[reps, pick]).mean())}
    if curves.reps > 1:
        loo = leave_one_out(wa)
        doc["setting_regret"] = float((loo[reps, star] - loo[reps, pick]).mean())
    return doc


def selection_luck(curves: Curves) -> dict | None:
    """How much of brute force's per-repetition number is the pick of the luckiest training.

    Brute force keeps, per repetition r, the training with the best validation WA among S;
    a network that started well scores well on validation and test alike. So θ_r* scores
    more on r (where it was picked) than the same setting does on the other repetitions.

    Returns
    -------
    dict or None (one repetition: there are no other repetitions)
        ``own``: mean over r of test WA of θ_r* on r (the paper's number); ``others``: mean
        over r of θ_r*'s mean test WA on the other repetitions; ``luck`` = own - others;
        ``best_setting``: the best mean test WA of any single setting over all repetitions.
    """
    if curves.reps < 2:
        return None
    final = best_so_far(curves.val)[:, :, -1]
    wa = curves.test_wa[:, :, -1]
    reps = np.arange(curves.reps)
    star = np.argmax(final, axis=1)
    own = float(wa[reps, star].mean())
    others = float(leave_one_out(wa)[reps, star].mean())
    return {"own": own, "others": others, "luck": own - others, "best_setting": float(wa.mean(axis=0).max())}
