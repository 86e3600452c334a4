"""Strategies that choose which settings to train by a model of Θ: Optuna's TPE.

A search with a budget of settings can pick them better than at random when the
parameters (M, L, H, T) predict validation WA: TPE fits one density to the good
settings and one to the others and samples where their ratio is high. One sequence
of Optuna's own :class:`~optuna.samplers.TPESampler` asks and tells (``Tpe._sequence``)
serves both the replay, driven by the recorded curves, and a live search, where a
worker rebuilds it from the settings claimed so far before each claim.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np

from ...errors import ConfigError
from ...features.theta import Theta
from ..store.curves import Curves, best_so_far, theta_of
from .pruning import Asha, _rung_epochs
from .base import Outcome, Strategy, _count, _positive, arrival_ranks, register


def search_space(curves: Curves) -> tuple[dict[str, list], np.ndarray]:
    """The categorical choices of each parameter and each setting's choice indices (S, P).

    The parameters are M, L, H and T, each over the distinct values of the grid. Curves whose
    keys are no θ (e.g. :func:`~.curves.synthesize`'s ``S0``, ``S1``...) get one categorical
    parameter, the setting itself: TPE then learns per setting only.
    """
    try:
        thetas = [theta_of(curves, s) for s in range(curves.n_settings)]
    except ConfigError:
        return _space({"setting": list(range(curves.n_settings))})
    return grid_space(thetas)


def grid_space(thetas: Sequence[Theta]) -> tuple[dict[str, list], np.ndarray]:
    """:func:`search_space` of a grid of θs."""
    return _space({"M": [t.n_mels for t in thetas], "L": [t.win_length for t in thetas],
                   "H": [t.hop_length for t in thetas], "T": [t.segment for t in thetas]})


def _space(columns: dict[str, list]) -> tuple[dict[str, list], np.ndarray]:
    choices = {p: sorted(set(v)) for p, v in columns.items()}
    codes = np.array([[choices[p].index(v) for v in values] for p, values in columns.items()]).T
    return choices, codes


@contextmanager
def _quiet_optuna():
    """No INFO line per study and trial while TPE is driven here; the caller's level after."""
    import optuna
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


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

    Live (``sertune search --strategy tpe:budget=0.1``, prune=0 only): before each claim a
    worker replays the sequence on the settings claimed so far, in claim order, with their
    objectives; a setting still training elsewhere counts with the mean of those known (a
    "constant liar"). With one worker the search trains what the replay of arrival order 0
    with the search's seed trains.

    Cost: 100 lanes of ``tpe:budget=0.1`` (52 trials each) on the paper's 511 θs x 10
    repetitions x 150 epochs replay in about 6 s on one CPU core; ``budget=0.2,prune=1`` in 14 s.
    """

    name: ClassVar[str] = "tpe"
    live: ClassVar[bool] = True          # with prune=0 (runs_live)
    picks: ClassVar[bool] = True
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

    def runs_live(self) -> bool:
        # Pruning here reports the mean over repetitions at each rung, which needs every
        # repetition trained in step; a search trains a θ's repetitions one after another.
        return self.prune == 0

    def pruner(self, epochs: int):
        import optuna
        if self.prune:
            raise ConfigError(f"strategy {self.spec()!r} runs in `sertune replay` only (its pruning needs all "
                              f"repetitions of a setting trained in step); use tpe:prune=0 in a search")
        return optuna.pruners.NopPruner()

    def _sequence(self, choices: dict[str, list], codes: np.ndarray, ranks: np.ndarray, seed: int, k: int,
                  epochs: int):
        """The settings TPE trains, in order: a generator of (setting index, Optuna trial).

        The driver trains the setting (or reports rung values on the trial and asks it whether
        to prune) and sends back ``(trained, state, value)``: the setting actually trained (the
        one yielded; in a live search with several workers, another one claimed at this step),
        COMPLETE or PRUNED, and the objective when complete. It stops after ``k`` settings.
        """
        import optuna

        names = list(choices)
        dists = {p: optuna.distributions.CategoricalDistribution(choices[p]) for p in names}
        params = lambda s: {p: choices[p][c] for p, c in zip(names, codes[s])}  # noqa: E731
        sampler = optuna.samplers.TPESampler(seed=int(seed), n_startup_trials=min(self.startup, k))
        pruner = Asha().pruner(epochs) if self.prune else optuna.pruners.NopPruner()
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        tried = np.zeros(len(codes), dtype=bool)
        for _ in range(k):
            trial = study.ask(dists)
            want = np.array([choices[p].index(trial.params[p]) for p in names])
            # A setting is trained once: tried ones are pushed beyond any real distance.
            distance = np.abs(codes - want).sum(axis=1) + np.where(tried, 1 << 30, 0)
            s = int(np.lexsort((ranks, distance))[0])
            if (codes[s] != want).any():
                # Not trainable as suggested: FAIL keeps it out of TPE's model, and the
                # setting actually trained is told under its own parameters.
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(params(s))
                trial = study.ask(dists)
            trained, state, value = yield s, trial
            if trained != s:          # another worker's claim came first: learn from what was trained
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                study.enqueue_trial(params(trained))
                trial = study.ask(dists)
            tried[trained] = True
            if state == optuna.trial.TrialState.PRUNED:
                study.tell(trial, state=state)
            else:
                study.tell(trial, value)

    def budget_count(self, n_settings):
        return _count(self.budget, n_settings)

    def next_setting(self, thetas, arrival, history, seed):
        import optuna

        k = self.budget_count(len(thetas))
        if len(history) >= k:          # every step of the sequence is taken: no need to rebuild it
            return None
        choices, codes = grid_space(thetas)
        ranks = np.empty(len(thetas), dtype=np.int64)
        ranks[np.asarray(arrival)] = np.arange(len(thetas))
        known = [v for _, v in history if v is not None]
        liar = float(np.mean(known)) if known else 0.0      # a setting still training: the mean so far
        steps = self._sequence(choices, codes, ranks, seed, k, 1)
        with _quiet_optuna():
            try:
                s, _ = next(steps)
                for index, value in history:
                    s, _ = steps.send((index, optuna.trial.TrialState.COMPLETE, liar if value is None else value))
            except StopIteration:
                return None
        return s

    def replay(self, curves, orders, seeds):
        import optuna

        lanes, R, S, E = len(orders), curves.reps, curves.n_settings, curves.epochs
        k = self.budget_count(S)
        choices, codes = search_space(curves)
        objective = best_so_far(curves.val)[:, :, -1].mean(axis=0)                  # (S,)
        mean_val = curves.val.mean(axis=0)                                           # (S, E)
        asha = Asha()
        rungs = _rung_epochs(E, asha.min, asha.eta, 0) if self.prune else []
        ranks = arrival_ranks(orders)
        spent = np.zeros((lanes, R, S), dtype=np.int64)
        complete = np.zeros((lanes, R, S), dtype=bool)
        trained = np.full((lanes, S), S, dtype=np.int64)       # rank in TPE's order; S: not trained
        with _quiet_optuna():
            for lane, seed in enumerate(seeds):
                steps = self._sequence(choices, codes, ranks[lane], seed, k, E)
                try:
                    s, trial = next(steps)
                    for position in range(S):
                        trained[lane, s] = position
                        # The pruner acts only at rung epochs, on the value reported there, so reporting
                        # those alone decides exactly as reporting every epoch, at a fraction of the calls.
                        stop = 0
                        for e in rungs:
                            trial.report(float(mean_val[s, e - 1]), e)
                            if trial.should_prune():
                                stop = e
                                break
                        if stop:
                            spent[lane, :, s] = stop
                            feedback = (s, optuna.trial.TrialState.PRUNED, None)
                        else:
                            spent[lane, :, s], complete[lane, :, s] = E, True
                            feedback = (s, optuna.trial.TrialState.COMPLETE, float(objective[s]))
                        s, trial = steps.send(feedback)
                except StopIteration:
                    pass
        return Outcome(spent, complete, ranks=trained)
