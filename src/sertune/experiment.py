"""Old import path, kept so that existing code keeps working: import from the modules below instead.

Decoding: :mod:`sertune.prepared`; splits of a prepared corpus:
:mod:`sertune.corpus_splits`; K repetitions of one θ: :mod:`sertune.repetitions`;
versions and machine: :mod:`sertune.environment`; output folders and JSON:
:mod:`sertune.outputs`.
"""

from __future__ import annotations

from .corpus_splits import segment_splits, utterance_splits
from .environment import environment
from .outputs import check_out_dir, write_json
from .prepared import Prepared, prepare
from .repetitions import run_theta, summarize

__all__ = ["Prepared", "prepare", "utterance_splits", "segment_splits", "summarize", "run_theta",
           "environment", "check_out_dir", "write_json"]
