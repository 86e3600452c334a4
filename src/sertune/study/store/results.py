"""A read-only view of a study, straight from its Optuna storage.

A search named ``NAME`` is one Optuna study per repetition, ``NAME.rep{r}``
(``docs/study-storage.md``). :func:`load_results` reads them all into one
:class:`StudyResults`: the study's metadata and one :class:`TrialRecord` per
trial. Everything else here is a pure function of that object, so that
``sertune report`` and ``sertune status`` count the same way:

- a *cell* is one planned (repetition, θ) pair; :func:`cell_states` says what
  each cell holds, :func:`coverage` counts cells per state;
- *finished* means COMPLETE or PRUNED; a pruned trial was stopped early, so its
  numbers are partial: it is never a θ_r* candidate nor part of a mean;
- :func:`duplicates` are finished trials of a cell beyond the first (the first
  by trial number wins, everywhere);
- :func:`best_per_rep`, :func:`worst_per_rep`, :func:`usual_per_rep` pick the
  paper's θ_r*, θ_r° and θ• trials among COMPLETE ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from ...errors import ConfigError
from ...features.theta import Theta, parse_theta_key, theta_from_dict, theta_key
from .locate import _REP, _searches, _storage, study_names

#: Trial states, in the order reports list them. ``interrupted``: RUNNING in the storage,
#: but the worker holding its θ stopped beating (killed, lost its machine, paused);
#: the next holder of θ resumes it from its last epoch checkpoint.
STATES = ("complete", "pruned", "failed", "running", "interrupted", "waiting")

#: States of a planned cell: a trial state, or ``missing`` (no trial yet).
CELL_STATES = STATES + ("missing",)

#: Optuna TrialState names -> ours.
_OPTUNA_STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
                  "RUNNING": "running", "WAITING": "waiting"}



@dataclass(frozen=True)
class TrialRecord:
    """One trial = one (θ, repetition), as the storage holds it.

    ``theta`` is None only for a trial that has not drawn its setting yet (a
    fresh RUNNING or WAITING trial). ``val`` and ``test`` are the utterance-level
    metric dicts (``wa ua precision recall f1`` in %, ``confusion``) of a
    finished trial, else None. ``value`` is the best validation WA (%).
    """

    rep: int
    number: int
    theta: Theta | None
    state: str
    value: float | None = None
    val: Mapping | None = None
    test: Mapping | None = None
    epochs_run: int | None = None
    best_epoch: int | None = None
    seconds: float | None = None
    device: str | None = None
    #: ``host:pid`` of the worker that trains (or trained) it last.
    worker: str | None = None
    model: str | None = None
    error: str | None = None
    intermediate: Mapping[int, float] = field(default_factory=dict)
    #: A running trial parked at a topk or repfid barrier, waiting for the other settings.
    parked: bool = False

    @property
    def key(self) -> str | None:
        """The θ key (``M40-L400-H160-T3``), or None while θ is unknown."""
        return None if self.theta is None else theta_key(self.theta)

    @property
    def finished(self) -> bool:
        return self.state in ("complete", "pruned")


@dataclass(frozen=True)
class StudyResults:
    """Everything a report needs from a study: metadata of ``NAME.rep0`` plus all trials.

    Attributes
    ----------
    name : str
        The search name (studies are ``name.rep{r}``).
    storage : str
        The storage URL it was read from.
    reps : int
        K, the planned number of repetitions.
    grid : tuple of Theta
        The planned settings, in the writer's order.
    usual : Theta or None
        θ•, or None when the grid does not hold it.
    classes : tuple of str
        Class names in model output order (confusion matrix order).
    corpus, settings : dict
        As the study's ``user_attrs`` hold them (``settings``: epochs, protocol, pruner...).
    grid_name : str or None
    attrs : dict
        All user_attrs of the first repetition's study, for anything else (e.g. ``environment``).
    studies : tuple of int
        Repetitions whose study exists in the storage (a search in progress may lack some).
    trials : tuple of TrialRecord
        Every trial of every repetition, ordered by (rep, number).
    """

    name: str
    storage: str
    reps: int
    grid: tuple[Theta, ...]
    usual: Theta | None
    classes: tuple[str, ...]
    corpus: dict
    settings: dict
    grid_name: str | None
    attrs: dict
    studies: tuple[int, ...]
    trials: tuple[TrialRecord, ...]


# --------------------------------------------------------------------------- parsing

def _trial_theta(params: Mapping, user_attrs: Mapping, system_attrs: Mapping) -> Theta | None:
    """θ of a trial: user_attrs (finished), else the sampled param, else an enqueued fixed param."""
    if isinstance(user_attrs.get("theta"), Mapping):
        return theta_from_dict(user_attrs["theta"])
    key = params.get("theta") or (system_attrs.get("fixed_params") or {}).get("theta")
    return parse_theta_key(key) if key else None


def _record(rep: int, trial) -> TrialRecord:
    """An Optuna FrozenTrial -> TrialRecord (only plain data is kept)."""
    ua = trial.user_attrs
    state = _OPTUNA_STATES.get(trial.state.name, trial.state.name.lower())
    finished = state in ("complete", "pruned")
    return TrialRecord(
        rep=rep, number=trial.number, state=state,
        theta=_trial_theta(trial.params, ua, trial.system_attrs),
        value=trial.value if finished else None,
        val=ua.get("val") if finished else None,
        test=ua.get("test") if finished else None,
        epochs_run=ua.get("epochs_run"), best_epoch=ua.get("best_epoch"),
        seconds=ua.get("seconds"), device=ua.get("device"), worker=ua.get("worker"), model=ua.get("model"),
        error=ua.get("error"),
        intermediate=dict(trial.intermediate_values),
    )


# --------------------------------------------------------------------------- loading

def load_results(storage_url: str, name: str) -> StudyResults:
    """Read every ``name.rep{r}`` study of the storage.

    Raises
    ------
    ConfigError
        When the storage cannot be opened or holds no ``name.rep{r}`` study.
    """
    import optuna

    storage = _storage(storage_url)
    names = study_names(storage_url, storage)
    reps = {}
    for study in names:
        match = _REP.match(study)
        if match and match["name"] == name:
            reps[int(match["rep"])] = study
    if not reps:
        raise ConfigError(f"storage {storage_url} holds no study {name}.rep0, {name}.rep1, ...; "
                          f"searches there: {_searches(names)}")
    records: list[TrialRecord] = []
    attrs: dict = {}
    for rep in sorted(reps):
        study = optuna.load_study(study_name=reps[rep], storage=storage)
        if not attrs:
            attrs = dict(study.user_attrs)
        records += sorted((_record(rep, t) for t in study.get_trials(deepcopy=False)),
                          key=lambda t: t.number)
    return _results(name, storage_url, attrs, tuple(sorted(reps)), tuple(_with_claims(records, storage_url, name)))


def _with_claims(records: list[TrialRecord], storage_url: str, name: str) -> list[TrialRecord]:
    """RUNNING trials of a θ whose claim is no longer alive become ``interrupted``; those of a
    θ parked at a strategy's barrier stay running, marked ``parked``.

    A study written before claims had a table of their own has no rows: its
    RUNNING trials stay ``running`` (nothing says otherwise).
    """
    if not any(t.state == "running" for t in records):
        return records
    from .claims import make_engine, read_rows      # sqlalchemy only; no torch

    engine = make_engine(storage_url)
    try:
        rows = {row.key: row for row in read_rows(engine, name)}
    finally:
        engine.dispose()
    if not rows:
        return records

    def mark(t: TrialRecord) -> TrialRecord:
        row = rows.get(t.key) if t.state == "running" else None
        if row is None:
            return t
        if row.state == "parked":
            return replace(t, parked=True)
        return replace(t, state="interrupted") if row.state != "held" or row.stopped() else t

    return [mark(t) for t in records]


def _results(name, storage_url, attrs, studies, records) -> StudyResults:
    usual = attrs.get("usual")
    grid = tuple(theta_from_dict(d) for d in attrs.get("grid") or ())
    if not grid:
        # A writer that stored no grid: the settings trials used are the best guess.
        grid = tuple(dict.fromkeys(t.theta for t in records if t.theta is not None))
    return StudyResults(
        name=name, storage=storage_url,
        reps=int(attrs.get("reps") or (max(studies) + 1)),
        grid=grid, usual=theta_from_dict(usual) if usual else None,
        classes=tuple(attrs.get("classes") or ()),
        corpus=dict(attrs.get("corpus") or {}), settings=dict(attrs.get("settings") or {}),
        grid_name=attrs.get("grid_name"), attrs=attrs, studies=studies, trials=records)


# --------------------------------------------------------------------------- counting

def planned_count(results: StudyResults) -> int:
    """Cells planned: len(grid) × K."""
    return len(results.grid) * results.reps


def trial_state_counts(results: StudyResults) -> dict[str, int]:
    """Trials per state, every trial counted (retries and duplicates too)."""
    counts = dict.fromkeys(STATES, 0)
    for t in results.trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    return counts


def first_finished(results: StudyResults) -> dict[tuple[int, Theta], TrialRecord]:
    """The finished (complete or pruned) trial of each (rep, θ): the lowest trial number wins."""
    first: dict[tuple[int, Theta], TrialRecord] = {}
    for t in sorted(results.trials, key=lambda t: (t.rep, t.number)):
        if t.finished and t.theta is not None:
            first.setdefault((t.rep, t.theta), t)
    return first


def duplicates(results: StudyResults) -> list[TrialRecord]:
    """Finished trials of a (rep, θ) beyond the first: ignored by every count and mean."""
    kept = {id(t) for t in first_finished(results).values()}
    return [t for t in results.trials if t.finished and t.theta is not None and id(t) not in kept]


def cell_states(results: StudyResults) -> dict[tuple[int, Theta], str]:
    """State of every planned (rep, θ) cell, one of :data:`CELL_STATES`.

    A cell's state is the best thing it holds: a finished trial (the first),
    else a running one, else a waiting one, else a failure, else ``missing``.
    A failure that was retried and then finished is therefore not a failed cell.
    """
    rank = {"running": 4, "interrupted": 3, "waiting": 2, "failed": 1}
    finished = first_finished(results)
    other: dict[tuple[int, Theta], str] = {}
    for t in results.trials:
        if t.theta is not None and not t.finished:
            cell = (t.rep, t.theta)
            if rank[t.state] > rank.get(other.get(cell, ""), 0):
                other[cell] = t.state
    states = {}
    for rep in range(results.reps):
        for theta in results.grid:
            cell = (rep, theta)
            states[cell] = finished[cell].state if cell in finished else other.get(cell, "missing")
    return states


def coverage(results: StudyResults) -> dict[str, int]:
    """Cells per state (they add up to ``planned``), plus trial-level counts.

    Keys: ``planned``, ``finished`` (complete + pruned), one per
    :data:`CELL_STATES`, ``skipped`` (the pruned cells the strategy recorded without
    training them: 0 epochs), ``at_chance`` (complete cells that never learned:
    :func:`at_chance`), ``failed_trials`` (every FAIL, retried or not),
    ``duplicates``, ``off_grid`` (finished trials of a θ outside the grid or of
    a repetition ≥ K) and ``unassigned`` (running/waiting trials with no θ yet).
    """
    cells = cell_states(results)
    counts = {"planned": planned_count(results)}
    by_state = dict.fromkeys(CELL_STATES, 0)
    for state in cells.values():
        by_state[state] += 1
    counts["finished"] = by_state["complete"] + by_state["pruned"]
    counts.update(by_state)
    first = first_finished(results)
    counts["skipped"] = sum(1 for cell, state in cells.items()
                            if state == "pruned" and cell in first and first[cell].epochs_run == 0)
    counts["failed_trials"] = trial_state_counts(results)["failed"]
    counts["duplicates"] = len(duplicates(results))
    counts["off_grid"] = sum(1 for cell in first_finished(results) if cell not in cells)
    counts["unassigned"] = sum(1 for t in results.trials if t.theta is None)
    counts["at_chance"] = len(at_chance(results))
    return counts


#: Points of validation UA above chance (100 / classes %) within which a training "did not learn".
CHANCE_MARGIN = 2.0


def at_chance(results: StudyResults) -> list[TrialRecord]:
    """The complete trainings that ended at chance: validation UA of their best epoch within
    :data:`CHANCE_MARGIN` points of 100 / classes %, what predicting one class for everything
    gives. They never learned (e.g. a learning rate too high for that start), and they still
    count as candidates and in the means, as the paper's study counts every training."""
    chance = 100.0 / max(1, len(results.classes))
    return [t for t in complete_trials(results)
            if t.val is not None and t.val.get("ua") is not None and t.val["ua"] <= chance + CHANCE_MARGIN]


def coverage_by_rep(results: StudyResults) -> list[dict]:
    """Cells per state for each repetition: ``[{"rep": r, "complete": n, ..., "missing": n}]``."""
    rows = [{"rep": r, **dict.fromkeys(CELL_STATES, 0)} for r in range(results.reps)]
    for (rep, _), state in cell_states(results).items():
        rows[rep][state] += 1
    return rows


def is_complete(results: StudyResults) -> bool:
    """Every planned cell holds a COMPLETE or PRUNED trial (the storage contract's definition)."""
    return all(s in ("complete", "pruned") for s in cell_states(results).values())


# --------------------------------------------------------------------------- selection

def complete_trials(results: StudyResults) -> list[TrialRecord]:
    """The first finished trial of each cell, where it is COMPLETE and has a value."""
    return [t for t in first_finished(results).values() if t.state == "complete" and t.value is not None]


def _per_rep(results: StudyResults, choose) -> dict[int, TrialRecord]:
    by_rep: dict[int, list[TrialRecord]] = {}
    for t in complete_trials(results):
        by_rep.setdefault(t.rep, []).append(t)
    return {rep: choose(ts) for rep, ts in sorted(by_rep.items())}


def best_per_rep(results: StudyResults) -> dict[int, TrialRecord]:
    """θ_r* of each repetition: argmax of validation WA over COMPLETE trials; ties -> lowest number.

    Repetitions with no complete trial are absent.
    """
    return _per_rep(results, lambda ts: min(ts, key=lambda t: (-t.value, t.number)))


def worst_per_rep(results: StudyResults) -> dict[int, TrialRecord]:
    """θ_r° of each repetition: argmin of validation WA over COMPLETE trials; ties -> lowest number."""
    return _per_rep(results, lambda ts: min(ts, key=lambda t: (t.value, t.number)))


def usual_per_rep(results: StudyResults) -> dict[int, TrialRecord]:
    """The COMPLETE trial of θ• in each repetition (empty when the grid has no θ•)."""
    if results.usual is None:
        return {}
    return {t.rep: t for t in complete_trials(results) if t.theta == results.usual}
