"""Old home of inference, kept so that ``sertune.predict`` imports work: :mod:`sertune.deploy.predict`."""

from .deploy.predict import GROUP_SEGMENTS, ModelSpec, Prediction, Predictor, expand_paths  # noqa: F401
from .deploy.session import open_session  # noqa: F401

__all__ = ["ModelSpec", "Prediction", "Predictor"]
