"""Shared fixtures: tiny audio files, corpus trees built from the real file lists, a synthetic corpus.

The lists in ``tests/data`` hold the real names and labels of the public
corpora (no audio); :mod:`corpus_trees` lays them out on disk with a few
milliseconds of synthetic audio per file. Trees are built once per session and
must not be modified by tests: build a private one in ``tmp_path`` for that.
The real EmoDB audio is not in the repository: :func:`real_emodb` finds it
beside the clone (where CI puts it) or skips.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

import corpus_trees
from study_fixtures import CONTROL_GRID, CONTROL_TRAIN
from sertune.corpora.synth import synthesize


def write_wav(path, seconds: float = 0.05, sr: int = 16000, channels: int = 1,
              subtype: str = "PCM_16") -> Path:
    """Write a short quiet sine (+ a little noise) to ``path``, creating folders; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, int(round(seconds * sr)))
    t = np.arange(n) / sr
    rng = np.random.default_rng(n)
    wave = 0.1 * np.sin(2 * np.pi * 220.0 * t) + 0.001 * rng.standard_normal(n)
    data = np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave
    sf.write(str(path), data.astype(np.float32), sr, subtype=subtype)
    return path


@pytest.fixture(scope="session")
def synth_savee(tmp_path_factory) -> Path:
    """A synthetic corpus in the SAVEE layout: 2 speakers x 7 classes x 5 utterances (70), seed 0.

    For tests that train on audio (train, search, predict, export). Built once per
    session; read only (copy it into ``tmp_path`` to change it).
    """
    root = tmp_path_factory.mktemp("synth_savee")
    synthesize(root, layout="savee", speakers=2, per_class=5, seed=0)
    return root


@pytest.fixture(scope="session")
def synth_model(synth_savee, tmp_path_factory) -> SimpleNamespace:
    """One 2-epoch model on :func:`synth_savee` at θ = (32 mels, 400, 160, 1 s), for predict and export.

    Attributes: ``corpus`` (the corpus folder), ``theta``, ``prepared`` (the decoded
    corpus), ``doc`` (``sertune train``'s metrics), ``split`` (the split it was tested
    on), ``paths`` ({utterance id: file}) and ``model`` (its ``model.pt``). Read only.
    """
    import torch

    from sertune.corpora import load_corpus
    from sertune.features.prepared import prepare
    from sertune.training.repetitions import run_theta
    from sertune.features.theta import Theta
    from sertune.training.fit import TrainConfig

    tmp = tmp_path_factory.mktemp("synth_model")
    theta = Theta(32, 400, 160, 1.0)
    prepared = prepare(load_corpus(synth_savee), cache_dir=tmp / "cache", progress=False)
    doc, splits = run_theta(prepared, theta, splits=None, config=TrainConfig(epochs=2), protocol="shuffle-split",
                            unit="utterance", reps=1, seed=0, device=torch.device("cpu"), out=tmp / "run",
                            progress=False)
    return SimpleNamespace(corpus=synth_savee, theta=theta, prepared=prepared, doc=doc, split=splits[0],
                           paths={u.id: str(u.path) for u in prepared.corpus.utterances},
                           model=tmp / "run" / "rep0" / "model.pt")


@pytest.fixture(scope="session")
def synth_emodb(tmp_path_factory) -> Path:
    """A larger synthetic corpus in the EmoDB layout: 4 speakers x 7 classes x 8 utterances (224), seed 0.

    For tests that need a model to learn (70 utterances leave 12 to validate on: too
    few to tell learning from chance). Built once per session; read only.
    """
    root = tmp_path_factory.mktemp("synth_emodb")
    synthesize(root, layout="emodb", speakers=4, per_class=8, seed=0)
    return root


#: Where CI puts the real EmoDB (535 wavs, read only): ``../shared/data/corpora/emodb`` beside the clone.
REAL_EMODB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "corpora" / "emodb"


@pytest.fixture(scope="session")
def real_emodb() -> Path:
    """The real EmoDB audio (``$SERTUNE_TEST_EMODB``, else :data:`REAL_EMODB`); read only.

    Skipped with a reason when absent; under CI (``CI=true``, which has it) a
    missing corpus fails instead, so the real-audio tests never skip there silently.
    """
    root = Path(os.environ.get("SERTUNE_TEST_EMODB") or REAL_EMODB)
    if root.is_dir():
        return root
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the real EmoDB is missing at {root}, and CI must run the real-audio tests "
                    "(.ci/run expects ../shared beside the clone)")
    pytest.skip(f"real EmoDB audio not found at {root} (set SERTUNE_TEST_EMODB to its folder)")


@contextlib.contextmanager
def _process_groups():
    """``start(cmd, **popen_kwargs)``: start a process in its own process group (a session); on leaving,
    also on an interrupt, every group started is killed with SIGKILL and nothing new starts."""
    procs: list[subprocess.Popen] = []
    closed = False

    def start(cmd, **kwargs) -> subprocess.Popen:
        if closed:
            raise RuntimeError("the test ended: no more processes")
        # SIGINT back to its default: a shell without job control starts background commands (a CI
        # script's `cmd &`) with SIGINT ignored, and Python then never raises KeyboardInterrupt.
        proc = subprocess.Popen(cmd, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)
        procs.append(proc)
        return proc

    try:
        yield start
    finally:
        closed = True
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # also when the leader is gone and its children are not
            except ProcessLookupError:
                pass
            proc.wait()


@pytest.fixture
def spawn():
    """``spawn(cmd, **popen_kwargs)``: start a process in its own process group (a session).

    At teardown, also when the run is interrupted (Ctrl-C, or SIGTERM: see
    :func:`pytest_sessionstart`), every group started is killed with SIGKILL: the process and
    whatever it started (a search's workers). In a group of its own, a terminal's Ctrl-C
    reaches pytest only, and the test decides which signal the process gets.
    """
    with _process_groups() as start:
        yield start


def _run_sertune(*commands: list[str], jobs: int = 2) -> list[str]:
    with ThreadPoolExecutor(jobs) as pool, _process_groups() as start:
        def run(args: list[str]) -> str:
            proc = start([sys.executable, "-m", "sertune", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                raise AssertionError(f"sertune {' '.join(args)} exited {proc.returncode}:\n{stderr[-3000:]}")
            return stdout

        futures = [pool.submit(run, list(map(str, args))) for args in commands]
        return [f.result() for f in futures]


@pytest.fixture(scope="session")
def run_sertune():
    """``run_sertune(*commands, jobs=2)``: run ``sertune`` commands (argument lists) as processes,
    ``jobs`` at a time, and return their stdouts; fails with the stderr of one that exits non-zero.

    For fixtures that record several independent searches: each trains in its own worker at
    ``--threads 1``, so two at once keep this machine's 2 cores busy where one after the other
    left one idle half the time (start-up, decoding, waiting on the storage). Processes are
    killed as :func:`spawn`'s are, also on an interrupt.
    """
    return _run_sertune


@pytest.fixture(scope="session")
def restart_searches(synth_savee, tmp_path_factory, run_sertune) -> Path:
    """Three finished real searches of :data:`study_fixtures.CONTROL_GRID` (θ• and M 24), in folders
    named for their search: ``plain``; ``control``, the same with θ•'s restart control (3
    restarts); ``added``, the M 24 setting alone (test_study_restarts.py adds the control to it).
    ``plain`` stays as it is: the dashboard tests read it too."""
    tmp = tmp_path_factory.mktemp("restarts")
    (tmp / "grid.toml").write_text(CONTROL_GRID)
    (tmp / "other.toml").write_text(CONTROL_GRID.split("\n\n")[0] + "\n")          # M24 only
    common = ["search", synth_savee, *CONTROL_TRAIN, "--devices", "cpu", "--json", "--threads", "1",
              "--cache-dir", tmp / "cache"]
    run_sertune([*common, "--grid", tmp / "grid.toml", "--out", tmp / "plain"],
                [*common, "--grid", tmp / "grid.toml", "--out", tmp / "control", "--restarts", "3"],
                [*common, "--grid", tmp / "other.toml", "--out", tmp / "added"])
    return tmp


def pytest_sessionstart(session):
    """SIGTERM (``timeout``, a CI runner) interrupts like Ctrl-C, so fixtures' finalizers still end
    the processes tests started; by default it would end pytest at once and leave them running."""
    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)     # a second SIGTERM ends pytest at once
        session.shouldstop = "interrupted by SIGTERM"      # even if a test swallows the interrupt
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)


def _tree(tmp_path_factory, name: str, build, **kwargs) -> Path:
    root = tmp_path_factory.mktemp(name)
    build(root, **kwargs)
    return root


@pytest.fixture(scope="session")
def emodb_official(tmp_path_factory):
    """``download/wav/`` of the official zip, with ``silb/`` and ``erkennung.txt`` beside it."""
    return _tree(tmp_path_factory, "emodb_official", corpus_trees.emodb, official=True)


@pytest.fixture(scope="session")
def emodb_flat(tmp_path_factory):
    """Kaggle / audb copy: ``wav/*.wav``."""
    return _tree(tmp_path_factory, "emodb_flat", corpus_trees.emodb, official=False)


@pytest.fixture(scope="session")
def savee_original(tmp_path_factory):
    """``AudioData/<SPK>/`` + ``Info.txt``, plus a nested duplicate ``AudioData/AudioData/``."""
    return _tree(tmp_path_factory, "savee_original", corpus_trees.savee, flat=False, nested_copy=True)


@pytest.fixture(scope="session")
def savee_flat(tmp_path_factory):
    """Kaggle copy: ``ALL/<SPK>_<code><NN>.wav``."""
    return _tree(tmp_path_factory, "savee_flat", corpus_trees.savee, flat=True)


@pytest.fixture(scope="session")
def iemocap_root(tmp_path_factory):
    """All 10039 labelled sentences of IEMOCAP_full_release, with annotator and macOS decoys."""
    return _tree(tmp_path_factory, "iemocap", corpus_trees.iemocap)


@pytest.fixture(scope="session")
def ravdess_root(tmp_path_factory):
    """Zenodo speech zip: ``Actor_XX/*.wav``."""
    return _tree(tmp_path_factory, "ravdess", corpus_trees.ravdess, kaggle=False)


@pytest.fixture(scope="session")
def ravdess_kaggle(tmp_path_factory):
    """Kaggle copy: every actor twice, at root and under ``audio_speech_actors_01-24/``."""
    return _tree(tmp_path_factory, "ravdess_kaggle", corpus_trees.ravdess, kaggle=True)


@pytest.fixture(scope="session")
def cremad_root(tmp_path_factory):
    """``AudioWAV/`` with all 7442 names and ``VideoDemographics.csv``."""
    return _tree(tmp_path_factory, "cremad", corpus_trees.cremad)


@pytest.fixture(scope="session")
def tess_root(tmp_path_factory):
    """The 14 folders twice (Kaggle nesting), a few words each, with the ``OA_`` typo."""
    return _tree(tmp_path_factory, "tess", corpus_trees.tess, nested_copy=True)
