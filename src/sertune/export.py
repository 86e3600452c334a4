"""Old home of the ONNX export, kept so that ``sertune.export`` imports work: :mod:`sertune.deploy.export`."""

from .deploy.export import (  # noqa: F401
    ATOL, INPUT_NAME, OUTPUT_NAME, ExportError, check_inputs, conv_macs, export_onnx, max_logit_diff,
    median_ms,
)

__all__ = ["ExportError", "conv_macs", "export_onnx", "check_inputs", "median_ms"]
