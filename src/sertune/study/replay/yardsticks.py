"""The two yardsticks that judge a selection of settings, and the device time it spends.

A search selects, per repetition r, the setting θ_r with the best validation WA
among those it trained; brute force selects θ_r* among all S. Two questions can be
asked of θ_r, and they have different answers:

- **per-repetition regret** (the paper's protocol): test WA of θ_r* on r minus test WA
  of θ_r on r. It includes the luck of the training that won r: a network that
  started well is better on validation *and* on test, so brute force, keeping the
  best of S trainings per repetition, harvests that luck, and no strategy that
  trains fewer of them can.
- **setting regret**: the same difference, each setting scored on the repetitions
  *other* than the one it was picked on (leave-one-out), so neither side is
  scored where its luck was drawn. It judges the setting a search finds.

Both are means over repetitions, in test WA points; positive means the strategy
selected worse. All functions are pure: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

from ...errors import ConfigError


def per_rep_scores(final: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Test WA of the chosen setting on its own repetition.

    Parameters
    ----------
    final : ndarray, shape (R, S)
        Final test WA (the best-validation checkpoint) of every setting on every repetition.
    chosen : ndarray of int, shape (N, R)
        The setting selected per (order, repetition); -1 where nothing was selected,
        which scores as the worst setting of that repetition.

    Returns
    -------
    ndarray, shape (N, R)
    """
    reps = np.arange(final.shape[0])[None, :]
    got = final[reps, np.maximum(chosen, 0)]
    return np.where(chosen >= 0, got, final.min(axis=1)[None, :])


def leave_one_out(final: np.ndarray) -> np.ndarray:
    """Mean test WA of every setting over the repetitions other than r.

    Parameters
    ----------
    final : ndarray, shape (R, S), R >= 2

    Returns
    -------
    ndarray, shape (R, S)
        Entry (r, s): mean over r' != r of ``final[r', s]``.
    """
    reps = final.shape[0]
    if reps < 2:
        raise ConfigError(f"setting regret needs at least 2 repetitions (each setting is scored on the "
                          f"repetitions other than the one it was picked on); this record has {reps}")
    return (final.sum(axis=0)[None, :] - final) / (reps - 1)


def setting_scores(final: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Leave-one-out test WA of the setting chosen per (order, repetition), shape (N, R); a
    repetition with nothing selected scores the worst setting's leave-one-out mean there."""
    loo = leave_one_out(final)
    reps = np.arange(final.shape[0])[None, :]
    got = loo[reps, np.maximum(chosen, 0)]
    return np.where(chosen >= 0, got, loo.min(axis=1)[None, :])


def per_rep_regret(final: np.ndarray, chosen: np.ndarray, star: np.ndarray) -> np.ndarray:
    """Per-repetition regret of each order, shape (N,): mean over r of
    ``final[r, star] - final[r, chosen]`` (test WA points)."""
    return (per_rep_scores(final, star) - per_rep_scores(final, chosen)).mean(axis=1)


def setting_regret(final: np.ndarray, chosen: np.ndarray, star: np.ndarray) -> np.ndarray:
    """Setting regret of each order, shape (N,): mean over r of [leave-one-out test WA of
    θ_r*] - [the same for θ_r] (test WA points). Needs R >= 2."""
    return (setting_scores(final, star) - setting_scores(final, chosen)).mean(axis=1)


def device_fraction(spent: np.ndarray, epoch_seconds: np.ndarray, *, epochs: int) -> np.ndarray:
    """The share of brute force's device time a strategy spent, per order.

    Parameters
    ----------
    spent : ndarray, shape (N, R, S)
        Epochs the strategy trained of each (order, repetition, setting).
    epoch_seconds : ndarray, shape (S,)
        Seconds one epoch of each setting costs (any unit: only ratios matter).
    epochs : int
        Epochs of a whole training (brute force's per (repetition, setting)).

    Returns
    -------
    ndarray, shape (N,)
        Sum of spent x seconds over (r, s), divided by what brute force spends:
        every setting's every epoch on every repetition.
    """
    _, reps, settings = spent.shape
    if epoch_seconds.shape != (settings,) or not (epoch_seconds > 0).all():
        raise ConfigError(f"epoch_seconds has shape {epoch_seconds.shape} or a value <= 0; expected "
                          f"{settings} positive costs, one per setting")
    return (spent * epoch_seconds[None, None, :]).sum(axis=(1, 2)) / (reps * epochs * epoch_seconds.sum())
