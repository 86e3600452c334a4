"""Features: audio decoding, mel filters, log-Mel spectrograms, segments and the LMS setting θ.

The public functions are reached from here (``sertune.features.log_mel`` is the
contract other tools rely on) but live in one module each: :mod:`.logmel` (the
spectrograms, torch), :mod:`.segments` (cutting and normalising), :mod:`.lms_settings`
(checks of a setting), :mod:`.melfilters` (the filter bank, torch-free), :mod:`.theta`
(θ and its key), :mod:`.audio` (decoding and the cache), :mod:`.prepared` (a decoded
corpus), :mod:`.plot` (a picture of one LMS). They are imported on first use, so that
``sertune.features.theta`` (which the torch-free report reads) does not import torch.
"""

from __future__ import annotations

import importlib

#: Public name -> the module of this package that defines it.
_HOMES = {
    "log_mel": "logmel", "log_mel_many": "logmel",
    "segment": "segments", "segment_many": "segments", "fit_normalizer": "segments", "normalize": "segments",
    "REMAINDERS": "segments",
    "check_settings": "lms_settings", "n_frames": "lms_settings", "MEL_SCALES": "lms_settings",
    "PAD_MODES": "lms_settings",
    "empty_mel_filters": "melfilters",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    """``sertune.features.NAME`` for a public NAME: imported from its module on first use (PEP 562)."""
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
