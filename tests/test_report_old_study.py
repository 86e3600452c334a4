"""A study written by sertune 0.1 (the fused training and the flat layout of then) reports the same.

``tests/data/study-0.1/`` holds the ``study.db`` of a small brute-force search run by sertune
0.1.0 with ``--fuse on`` (each repetition pair of a setting trained as one stack: its trials
carry ``fused: 2``), and the ``report.json`` sertune 0.1.0 wrote for it. Made with::

    sertune synth corpus --layout savee --speakers 2 --per-class 5 --seed 0
    sertune search corpus --grid grid.toml --reps 2 --epochs 2 --lr 1e-3 --batch-size 8 \\
        --precision fp32 --seed 3 --devices cpu --threads 1 --fuse on --out old
    sertune report old            # grid.toml: n_mels [24], win_length [400], hop_length [320, 640], T [1]
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sertune.cli import main

DATA = Path(__file__).parent / "data" / "study-0.1"
#: Keys that say when, where and with what the report was made, not what it found.
VOLATILE = {"generated", "versions", "study", "files"}


@pytest.mark.slow
def test_a_study_of_sertune_0_1_with_fused_trials_gives_the_same_report(tmp_path, capsys):
    study = tmp_path / "old"
    study.mkdir()
    shutil.copy(DATA / "study.db", study / "study.db")
    assert main(["report", str(study)]) == 0
    new = json.loads((study / "report" / "report.json").read_text())
    old = json.loads((DATA / "report.json").read_text())
    differ = [k for k in old if k not in VOLATILE and old[k] != new.get(k)]
    assert not differ, differ
    assert old["table4"]["per_rep"] and old["ranking"]          # the comparison compares something
    assert new["gain"] is None and "fused" not in capsys.readouterr().out
