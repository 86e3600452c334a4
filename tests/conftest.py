"""Shared fixtures: tiny audio files and corpus trees built from the real file lists.

The lists in ``../shared/data`` hold the real names and labels of the public
corpora (no audio); :mod:`corpus_trees` lays them out on disk with a few
milliseconds of synthetic audio per file. Trees are built once per session and
must not be modified by tests: build a private one in ``tmp_path`` for that.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import corpus_trees


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
def shared_data() -> Path:
    """``../shared/data`` beside the repository (CI clones it there)."""
    return corpus_trees.shared_data()


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
