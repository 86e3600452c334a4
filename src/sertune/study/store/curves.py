"""Recorded learning curves of a brute-force search: what replay of search strategies reads.

A brute-force search trains every θ of its grid for every epoch on every
repetition. Each of its trials keeps the validation WA of every epoch (the
Optuna intermediate values) and the test metrics of every checkpoint that
improved validation (``test_curve``, :mod:`~sertune.study.search.runner`). Training is
deterministic on the CPU, so a run of θ stopped at epoch e would have reported
exactly the first e values of that curve and the test metrics of its best
checkpoint up to e. :class:`Curves` holds that as arrays; a strategy replayed on
them (:mod:`~sertune.study.replay.lab`) spends and selects exactly what it would
have live, without training.

A :class:`Curves` comes from a study's storage (:func:`.recording.from_storage`) or from a
compact ``.npz`` file (:func:`save` / :func:`load`, ``sertune curves``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from ...features.theta import Theta, theta_from_dict
from .claims import order

#: Format of the ``.npz`` curves file (the ``meta`` entry says it). Additive entries
#: (``epoch_seconds``, the restart control's arrays) leave it at 1: older files lack them.
CURVES_FORMAT = 1
#: The rate every θ's frames are counted at (sertune resamples every corpus to it).
SAMPLE_RATE = 16000

#: Trial attr the runner writes: [[epoch, test WA, test UA], ...] at every epoch that improved
#: validation WA (the validation curve itself is the trial's intermediate values).
TEST_CURVE = "test_curve"


@dataclass(frozen=True)
class Curves:
    """Learning curves of S settings on R repetitions over E epochs.

    Attributes
    ----------
    name : str
        The search they were recorded from.
    keys : tuple of str
        θ keys, length S, in the grid's order.
    val : ndarray, shape (R, S, E)
        Validation WA (%) of every epoch (epoch e at index e - 1).
    test_wa, test_ua : ndarray, shape (R, S, E)
        Test WA and UA (%) of the best-validation checkpoint up to each epoch: what a
        training stopped after that epoch reports (the first epoch wins ties, as in
        :func:`sertune.training.fit.fit`).
    seed : int
        The search's seed: its claim order is :meth:`live_order`.
    source : dict
        Corpus, settings and anything else the search stored (JSON-ready).
    notes : tuple of str
        What was left out when the record was read (e.g. settings not finished).
    epoch_seconds : ndarray, shape (S,), optional
        Measured seconds of one epoch of each setting (training and validation), on the
        machine that recorded it; None in records made before sertune measured it.
    restarts : Restarts, optional
        The restart control: one setting trained N times per repetition.
    """

    name: str
    keys: tuple[str, ...]
    val: np.ndarray
    test_wa: np.ndarray
    test_ua: np.ndarray
    seed: int = 0
    source: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    epoch_seconds: np.ndarray | None = None
    restarts: "Restarts | None" = None

    def __post_init__(self) -> None:
        shape = self.val.shape
        if len(shape) != 3 or shape[1] != len(self.keys) or min(shape) < 1:
            raise ConfigError(f"curves: val has shape {shape}; expected (reps, {len(self.keys)} settings, epochs)")
        for part in ("test_wa", "test_ua"):
            if getattr(self, part).shape != shape:
                raise ConfigError(f"curves: {part} has shape {getattr(self, part).shape}, val has {shape}")
        if not np.isfinite(self.val).all():
            raise ConfigError("curves: val holds NaN or infinite values; every (θ, r) needs its whole curve")
        if self.epoch_seconds is not None and (self.epoch_seconds.shape != (shape[1],)
                                               or not (self.epoch_seconds > 0).all()):
            raise ConfigError(f"curves: epoch_seconds has shape {self.epoch_seconds.shape} or a value <= 0; "
                              f"expected {shape[1]} positive seconds, one per setting")
        if self.restarts is not None and self.restarts.val.shape[0] != shape[0]:
            raise ConfigError(f"curves: the restart control has {self.restarts.val.shape[0]} repetitions, "
                              f"the grid {shape[0]}")

    @property
    def reps(self) -> int:
        return self.val.shape[0]

    @property
    def n_settings(self) -> int:
        return self.val.shape[1]

    @property
    def epochs(self) -> int:
        return self.val.shape[2]

    @property
    def synthetic(self) -> bool:
        return bool((self.source.get("corpus") or {}).get("synthetic"))

    def repetitions(self, which: slice) -> "Curves":
        """The same curves for some repetitions only (strategies that treat them apart)."""
        restarts = self.restarts.repetitions(which) if self.restarts is not None else None
        return replace(self, val=self.val[which], test_wa=self.test_wa[which], test_ua=self.test_ua[which],
                       restarts=restarts)

    def settings(self, keys: Sequence[str]) -> "Curves":
        """The same curves for the settings ``keys`` only, in that order."""
        index = [self.keys.index(k) for k in keys]
        source = dict(self.source)
        if "grid" in source:
            source["grid"] = [source["grid"][i] for i in index]
        seconds = self.epoch_seconds[index] if self.epoch_seconds is not None else None
        return replace(self, keys=tuple(keys), val=self.val[:, index], test_wa=self.test_wa[:, index],
                       test_ua=self.test_ua[:, index], source=source, epoch_seconds=seconds)

    def epoch_costs(self) -> tuple[np.ndarray, str]:
        """Seconds (or relative cost) of one epoch of each setting, shape (S,), and where they come from.

        ``measured``: the record's own seconds per epoch. ``cost model``: records made before
        sertune measured them fall back to M x frames / T, the input size per second of audio,
        in proportion to which an epoch costs (an epoch of T-second segments holds about
        audio / T of them); only ratios between settings matter to a device fraction.
        ``equal``: synthesized curves, whose keys name no settings.
        """
        if self.epoch_seconds is not None:
            return self.epoch_seconds, "measured"
        try:
            thetas = [theta_of(self, i) for i in range(self.n_settings)]
        except ConfigError:         # synthesized curves (keys S0, S1, ...) have no settings to cost
            return np.ones(self.n_settings), "equal (no settings to cost)"
        cost = np.array([epoch_cost(t) for t in thetas], dtype=np.float64)
        return cost, "cost model"

    def live_order(self) -> np.ndarray:
        """Indices of the settings in the order a search with this seed claims them."""
        index = {k: i for i, k in enumerate(self.keys)}
        return np.array([index[k] for k in order(self.keys, self.seed)], dtype=np.int64)

    def thetas(self) -> list[Theta]:
        return [Theta(**t) for t in self.source["grid"]] if "grid" in self.source else []

    def describe(self) -> str:
        corpus = self.source.get("corpus") or {}
        kind = "synthetic " if self.synthetic else ""
        return (f"{self.name}: {self.n_settings} settings x {self.reps} repetitions x {self.epochs} epochs "
                f"({kind}{corpus.get('name', 'corpus')})")


@dataclass(frozen=True)
class Restarts:
    """The restart control: setting ``key`` trained N times per repetition with different seeds.

    Restart 0 is the grid's own training of ``key`` (the search's seed for that
    repetition); restarts 1..N-1 differ only in their training seed, on the same split.
    Arrays are shaped (R, N, E) as :class:`Curves`' are (R, S, E).
    """

    key: str
    val: np.ndarray
    test_wa: np.ndarray
    test_ua: np.ndarray

    @property
    def n(self) -> int:
        return self.val.shape[1]

    def repetitions(self, which: slice) -> "Restarts":
        return replace(self, val=self.val[which], test_wa=self.test_wa[which], test_ua=self.test_ua[which])

    def best_by_validation(self) -> np.ndarray:
        """Index of the restart with the best final validation WA per repetition, shape (R,) (ties:
        the lowest restart, as a search's θ_r* ties go to the earliest)."""
        return np.argmax(best_so_far(self.val)[:, :, -1], axis=1)


def epoch_cost(theta: Theta) -> float:
    """The cost model of one epoch of θ: M x frames per segment, times about (audio) / T segments."""
    return float(theta.n_mels * theta.frames(SAMPLE_RATE)) / theta.segment


def best_so_far(val: np.ndarray) -> np.ndarray:
    """Running maximum along the last axis: the best validation WA up to each epoch."""
    return np.maximum.accumulate(val, axis=-1)


def test_at_epochs(improved: list, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Forward-fill ``[[epoch, test WA, test UA], ...]`` (improving epochs) over 1..epochs.

    The first epoch always improves (validation starts below any value), so every
    epoch gets the test metrics of the latest improvement at or before it.
    """
    wa, ua = np.full(epochs, np.nan), np.full(epochs, np.nan)
    for epoch, w, u in sorted(improved):
        wa[int(epoch) - 1:], ua[int(epoch) - 1:] = w, u
    return wa, ua


def jsonable(value):
    return json.loads(json.dumps(value, default=str))


# --------------------------------------------------------------------------- file

def save(curves: Curves, path: str | Path) -> Path:
    """Write ``curves`` as one compressed ``.npz`` (the arrays plus a JSON ``meta``)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ConfigError(f"curves file {path}: use a .npz name (numpy's compressed archive)")
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": CURVES_FORMAT, "name": curves.name, "keys": list(curves.keys), "seed": curves.seed,
            "source": curves.source, "notes": list(curves.notes)}
    extra = {}
    if curves.epoch_seconds is not None:
        extra["epoch_seconds"] = curves.epoch_seconds
    if curves.restarts is not None:
        meta["restarts"] = {"key": curves.restarts.key}
        extra |= {f"restart_{f}": getattr(curves.restarts, f) for f in ("val", "test_wa", "test_ua")}
    # float64 as the trials hold them: a replay from the file and from the storage agree to the bit.
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), val=curves.val,
                        test_wa=curves.test_wa, test_ua=curves.test_ua, **extra)
    return path


def load(path: str | Path) -> Curves:
    """Read a curves file written by :func:`save`; ConfigError naming what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"curves file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k].astype(np.float64) for k in ("val", "test_wa", "test_ua")}
            seconds = z["epoch_seconds"].astype(np.float64) if "epoch_seconds" in z.files else None
            restarts = (Restarts(key=meta["restarts"]["key"], **{f: z[f"restart_{f}"].astype(np.float64)
                                                                   for f in ("val", "test_wa", "test_ua")})
                        if "restarts" in meta else None)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path} is not a sertune curves file ({exc}); write one with `sertune curves`") from None
    if meta.get("format") != CURVES_FORMAT:
        raise ConfigError(f"{path}: curves format {meta.get('format')!r}, this sertune reads {CURVES_FORMAT}")
    return Curves(name=meta["name"], keys=tuple(meta["keys"]), seed=int(meta["seed"]), source=meta["source"],
                  notes=tuple(meta["notes"]), epoch_seconds=seconds, restarts=restarts, **arrays)


def theta_of(curves: Curves, index: int) -> Theta:
    """θ of setting ``index`` (from the stored grid, else parsed from its key)."""
    grid = curves.source.get("grid")
    if grid:
        return theta_from_dict(grid[index])
    from ...features.theta import parse_theta_key
    return parse_theta_key(curves.keys[index])


def synthesize(*, settings: int, reps: int, epochs: int, seed: int = 0, n_val: int = 107,
               n_test: int = 107, name: str = "synthetic") -> Curves:
    """Plausible curves without training, for benchmarks and tests of replay at any size.

    Each setting has a true accuracy (spread like the paper's EmoDB grid, 55-80 %) and a
    learning speed; each repetition draws validation and test accuracies around it on
    ``n_val`` / ``n_test`` utterances (so they are multiples of 100 / n, as real WAs are),
    rising over the epochs with noise. The test metrics are forward-filled at the epochs
    where validation improved, as a recorded study holds them.
    """
    rng = np.random.default_rng(seed)
    truth = rng.uniform(55, 80, settings)
    speed = rng.uniform(0.03, 0.3, settings)
    e = np.arange(1, epochs + 1)
    shape = (reps, settings, epochs)
    level = truth[None, :, None] * (1 - 0.6 * np.exp(-speed[None, :, None] * e)) + rng.normal(0, 2, (reps, settings, 1))

    def draw(n: int) -> np.ndarray:
        p = np.clip(level + rng.normal(0, 3, shape), 1, 99) / 100
        return np.round(p * n) / n * 100

    val, test = draw(n_val), draw(n_test)
    best = best_so_far(val)
    improved = np.concatenate([np.ones(shape[:2] + (1,), bool), best[..., 1:] > best[..., :-1]], axis=-1)
    idx = np.maximum.accumulate(np.where(improved, e - 1, 0), axis=-1)
    test_wa = np.take_along_axis(test, idx, axis=-1)
    keys = tuple(f"S{i}" for i in range(settings))
    return Curves(name=name, keys=keys, val=val, test_wa=test_wa, test_ua=test_wa.copy(), seed=seed,
                  source={"corpus": {"name": "synthesized curves", "synthetic": True}})
