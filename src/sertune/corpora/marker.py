"""The marker file that says a corpus was made by ``sertune synth``, and how it is described.

``sertune synth`` writes ``sertune-synth.json`` at the corpus root::

    {"generator": "sertune synth", "version": "0.1.0", "layout": "emodb", "seed": 0,
     "speakers": 4, "per_class": 10, "sample_rate": 16000}

:func:`~sertune.corpora.load_corpus` reads it into ``Corpus.synthetic``, and
every output about such a corpus (``corpus info``, ``train``, ``report``) says
``synthetic (sertune synth, layout emodb, seed 0)``: a synthetic corpus in the
EmoDB layout must never be read as EmoDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

#: File name of the marker, at the corpus root.
MARKER = "sertune-synth.json"

#: The ``generator`` value ``sertune synth`` writes.
GENERATOR = "sertune synth"


def write_marker(root: str | Path, **fields: object) -> Path:
    """Write the marker into ``root`` (a folder) with ``generator`` and ``version`` first."""
    from .. import __version__

    path = Path(root) / MARKER
    doc = {"generator": GENERATOR, "version": __version__, **fields}
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def read_marker(root: str | Path | None) -> dict | None:
    """The marker of the corpus at ``root``, or None when there is none.

    A marker that exists but cannot be read still marks the corpus as synthetic:
    the result is ``{"generator": "sertune synth", "error": "<why>"}``, so that a
    damaged marker never turns a synthetic corpus into a real one.
    """
    if root is None:
        return None
    path = Path(root)
    if not path.is_dir():     # a manifest CSV or a root that is not on this machine
        return None
    path = path / MARKER
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"generator": GENERATOR, "error": f"{MARKER} is unreadable ({exc})"}
    if not isinstance(doc, dict):
        return {"generator": GENERATOR, "error": f"{MARKER} holds no JSON object"}
    return doc


def synthetic_label(marker: Mapping | None) -> str | None:
    """``synthetic (sertune synth, layout emodb, seed 0)`` for a marker; None for a real corpus."""
    if marker is None:
        return None
    parts = [str(marker.get("generator") or GENERATOR)]
    if marker.get("layout") is not None:
        parts.append(f"layout {marker['layout']}")
    if marker.get("seed") is not None:
        parts.append(f"seed {marker['seed']}")
    if marker.get("error"):
        parts.append("marker unreadable")
    return f"synthetic ({', '.join(parts)})"


def describe_corpus(name: str | None, marker: Mapping | None) -> str:
    """How outputs name a corpus: ``emodb`` for a real one, the synthetic label for a synthetic one."""
    label = synthetic_label(marker)
    if label is None:
        return str(name or "?")
    return label
