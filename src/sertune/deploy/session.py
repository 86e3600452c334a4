"""Opening an ONNX model in onnxruntime on the CPU, for prediction and for the export's check.

Below both :mod:`sertune.deploy.predict` and :mod:`sertune.deploy.export`, so
neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError

__all__ = ["open_session"]


def open_session(path: str | Path, *, threads: int | None = None):
    """An onnxruntime CPU session; ConfigError naming the file if it is not a readable ONNX model.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    threads : int, optional
        onnxruntime's intra-op threads (default: its own choice).
    """
    import onnxruntime as ort        # imported here: only ONNX users pay for it

    options = ort.SessionOptions()
    options.log_severity_level = 3   # errors only: no per-session info lines on stderr
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:         # onnxruntime raises its own Fail/InvalidGraph/... types
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path} is not a readable ONNX model ({reason}); pass a .onnx file written "
                          "by `sertune export`") from None
