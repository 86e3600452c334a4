"""Replay-only strategies that choose which settings to train by a model of Θ: Optuna's TPE.

A search with a budget of settings can pick them better than at random when the
parameters (M, L, H, T) predict validation WA: TPE fits one density to the good
settings and one to the others and samples where their ratio is high. `sertune
search` claims θs in a fixed order and has no sampler, so this runs in `sertune
replay` only, with Optuna's own :class:`~optuna.samplers.TPESampler` asked and told
trial by trial on the recorded curves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ConfigError
from .curves import Curves, best_so_far, theta_of
from .strategies_pruning import Asha, _rung_epochs
from .strategy_base import Outcome, Strategy, _count, _positive, arrival_ranks, register


def search_space(curves: Curves) -> tuple[dict[str, list], np.ndarray]:
    """The categorical choices of each parameter and each setting's choice indices (S, P).

    The parameters are M, L, H and T, each over the distinct values of the grid. Curves whose
    keys are no θ (e.g. :func:`~.curves.synthesize`'s ``S0``, ``S1``...) get one categorical
    parameter, the setting itself: TPE then learns per setting only.
    """
    try:
        thetas = [theta_of(curves, s) for s in range(curves.n_settings)]
        columns = {"M": [t.n_mels for t in thetas], "L": [t.win_length for t in thetas],
                   "H": [t.hop_length for t in thetas], "T": [t.segment for t in thetas]}
    except ConfigError:
        columns = {"setting": list(range(curves.n_settings))}
    choices = {p: sorted(set(v)) for p, v in columns.items()}
    codes = np.array([[choices[p].index(v) for v in values] for p, values in columns.items()]).T
    return choices, codes


@register
@dataclass(frozen=True)
class Tpe(Strategy):
    """Optuna's TPE samples ``budget`` settings (a fraction, or a count when >= 1), ``startup`` of
    them at random first; each is trained on every repetition. With ``prune=1`` Optuna's
    ``SuccessiveHalvingPruner`` as ``asha`` sets it (eta 3, rungs at 1, 3, 9... epochs) stops
    the poor ones in the same study.

    Notes
    -----
    One TPE study per arrival order (lane), seeded by the lane's seed, as sertune trains a θ on
    all its repetitions: a trial is θ on every repetition together, its objective the mean over
    repetitions of the best validation WA, and with pruning it reports the mean validation WA at
    each rung epoch (a pruned setting stops on every repetition at once). The same settings are
    thus trained in every repetition of a lane, as ``random`` does.

    The parameters are categorical over the grid's distinct M, L, H, T (:func:`search_space`).
    TPE may suggest a combination outside the grid or already trained; that trial is told FAIL
    (TPE learns only from complete and pruned trials) and the untried grid setting nearest to it
    is enqueued and trained instead: nearest by the sum over parameters of the distance between
    choice positions (values sorted), ties to the lane's earliest arrival. Arrival order
    otherwise only breaks ties in the selection, as for every strategy; the settings are
    trained in TPE's order.

    Cost: 100 lanes of ``tpe:budget=0.1`` (52 trials each) on the paper's 511 θs x 10
    repetitions x 150 epochs replay in about 6 s on one CPU core; ``budget=0.2,prune=1`` in 14 s.
    """

    name: ClassVar[str] = "tpe"
    summary: ClassVar[str] = "Optuna's TPE samples a budget of settings by M, L, H, T (prune=1: with ASHA)"
    budget: float = 0.1
    startup: int = 10
    prune: int = 0

    def __post_init__(self) -> None:
        _positive("tpe", budget=self.budget)
        if self.startup < 0:
            raise ConfigError(f"strategy tpe: startup={self.startup} must be >= 0 (random trials before TPE)")
        if self.prune not in (0, 1):
            raise ConfigError(f"strategy tpe: prune={self.prune} must be 0 (train in full) or 1 (ASHA)")

    def replay(self, curves, orders, seeds):
        import optuna

        lanes, R, S, E = len(orders), curves.reps, curves.n_settings, curves.epochs
        k = _count(self.budget, S)
        choices, codes = search_space(curves)
        names = list(choices)
        dists = {p: optuna.distributions.CategoricalDistribution(choices[p]) for p in names}
        objective = best_so_far(curves.val)[:, :, -1].mean(axis=0)                  # (S,)
        mean_val = curves.val.mean(axis=0)                                           # (S, E)
        asha = Asha()
        rungs = _rung_epochs(E, asha.min, asha.eta, 0) if self.prune else []
        ranks = arrival_ranks(orders)
        spent = np.zeros((lanes, R, S), dtype=np.int64)
        complete = np.zeros((lanes, R, S), dtype=bool)
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)      # no INFO line per study and trial
        try:
            for lane, seed in enumerate(seeds):
                sampler = optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=min(self.startup, k))
                pruner = asha.pruner(E) if self.prune else optuna.pruners.NopPruner()
                study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
                tried = np.zeros(S, dtype=bool)
                for _ in range(k):
                    trial = study.ask(dists)
                    want = np.array([choices[p].index(trial.params[p]) for p in names])
                    # A setting is trained once: tried ones are pushed beyond any real distance.
                    distance = np.abs(codes - want).sum(axis=1) + np.where(tried, 1 << 30, 0)
                    s = int(np.lexsort((ranks[lane], distance))[0])
                    if (codes[s] != want).any():
                        # Not trainable as suggested: FAIL keeps it out of TPE's model, and the
                        # setting actually trained is told under its own parameters.
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        study.enqueue_trial({p: choices[p][c] for p, c in zip(names, codes[s])})
                        trial = study.ask(dists)
                    tried[s] = True
                    # The pruner acts only at rung epochs, on the value reported there, so reporting
                    # those alone decides exactly as reporting every epoch, at a fraction of the calls.
                    stop = 0
                    for e in rungs:
                        trial.report(float(mean_val[s, e - 1]), e)
                        if trial.should_prune():
                            stop = e
                            break
                    if stop:
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        spent[lane, :, s] = stop
                    else:
                        study.tell(trial, float(objective[s]))
                        spent[lane, :, s], complete[lane, :, s] = E, True
        finally:
            optuna.logging.set_verbosity(level)
        return Outcome(spent, complete)
