"""Inference: an emotion label and class probabilities for audio files, from a trained model.

A model is a checkpoint written by ``sertune train``/``search`` (``model.pt``) or its
ONNX export (``.onnx``, :mod:`sertune.deploy.export`); both carry what inference needs
(:class:`ModelSpec`). Each file goes through the steps the training evaluated with:

1. decode, downmix and resample to the model's rate (:func:`sertune.features.audio.load_audio`);
2. cut into T-second segments with the model's remainder rule (:func:`sertune.features.segment_many`);
3. log-Mel with θ (:func:`sertune.features.log_mel`), normalised ``(x - mean) / std``
   with the training set's statistics;
4. the network, log-softmax per segment, and the utterance decision: the mean of its
   segments' log-probabilities (:func:`sertune.training.metrics.utterance_log_probs`), argmax.

Reported probabilities are ``softmax`` of that mean (the normalised geometric mean of
the segment probabilities), so their argmax is the training's decision.

Input the model cannot judge is still scored, with warnings (:func:`input_warnings`):
silence or near-silence, a file too short to hold speech, and a file so much shorter than
the model's segment T that most of the network's input is zero padding.

Precision follows training: ``precision="auto"`` runs bf16 autocast and channels-last
where :func:`sertune.training.devices.use_bf16` says the device is fast at it, as training's
evaluation did on the same machine; ``"fp32"`` turns it off. One difference is
deliberate: training usually stores log-Mel features as float16 (within ~0.03 dB),
while inference keeps float32. Against training's evaluation of float32 features
(``build_segments(mode="waves")``) the scores are identical; against float16 features
they differ by ~1e-4 in fp32 and ~1e-3 under bf16 (the test suite's model), so labels
can differ only where two classes score within that of each other. ONNX models run in
fp32 and agree with the fp32 checkpoint to ~1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soxr
import torch

from .. import features
from ..features.audio import load_audio
from ..training.checkpoint import ModelSpec, load_checkpoint
from ..training.devices import resolve_device, use_bf16
from ..errors import AudioError, ConfigError
from ..features.segments import normalize
from ..training.metrics import utterance_log_probs
from ..features.theta import Theta
from .session import open_session

__all__ = ["ModelSpec", "Prediction", "Predictor", "input_warnings"]

#: Segments decoded and scored together by :meth:`Predictor.predict_files` (bounds memory:
#: 256 three-second segments are ~50 MB of audio).
GROUP_SEGMENTS = 256

#: RMS level (dB re full scale) below which a file is called near-silent. Speech corpora are
#: recorded tens of dB above it (EmoDB's 535 files: -26 to -12 dBFS RMS, peaks at 0 dBFS); a
#: quiet room's noise floor in 16-bit PCM lies around -60 to -70 dBFS. The log-Mel is not
#: normalised per file (power in dB re 1.0, then the training set's mean and std), so such a
#: file is far outside what the network saw and its label says nothing about the speaker.
QUIET_DBFS = -60.0

#: Shorter than this (seconds), a file cannot hold an utterance: a syllable lasts about 0.2 s,
#: and the shortest utterances of the usual corpora last about a second (EmoDB: 1.2 s).
SHORT_SECONDS = 0.25

#: A file shorter than this share of the model's segment T is mostly zero padding: segments are
#: padded at the end to T, so the network sees at least twice as much silence as sound. Training
#: pads short utterances too, so a half would flag ordinary ones (EmoDB's shortest, 1.2 s, is 59 %
#: padding at the usual T = 3 s; the demo's file, 1.48 s, 51 %); a third flags what is much shorter.
PADDED_SHARE = 1 / 3


@dataclass(frozen=True)
class Prediction:
    """The result for one file (or waveform).

    Attributes
    ----------
    path : str or None
        The file as given (None for :meth:`Predictor.predict_waveform`).
    label : str or None
        The predicted class; None when ``error`` is set.
    probabilities : dict of str to float
        Per class, in model output order; sums to 1.
    segments : int
        Number of T-second segments the decision averages over.
    scores : np.ndarray, shape (n_classes,), float64
        Mean of the segments' log-probabilities: the statistic training's utterance-level
        evaluation takes the argmax of.
    error : str or None
        Why the file could not be scored; the other fields are then empty.
    warnings : tuple of str
        Why the prediction may say little about the recording (:func:`input_warnings`):
        silence, a very short file, mostly zero padding. Empty for ordinary speech.
    """

    path: str | None
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    segments: int = 0
    scores: np.ndarray | None = field(default=None, repr=False)
    error: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict:
        """``{"path", "prediction", "probabilities", "segments", "warnings"}`` or ``{"path", "error"}``.

        JSON-ready. ``prediction`` is the predicted class (:attr:`label`): one key, named
        for what it is (a ``label`` of a corpus is the true class); ``warnings`` is a list,
        empty for ordinary speech.
        """
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, "prediction": self.label, "probabilities": dict(self.probabilities),
                "segments": self.segments, "warnings": list(self.warnings)}


class Predictor:
    """Score audio with a trained model.

    Parameters
    ----------
    model_path : str or Path
        ``model.pt`` written by ``sertune train``/``search``, or an ``.onnx`` file
        written by ``sertune export`` (run with onnxruntime on the CPU).
    device : str or torch.device
        Where the log-Mel and the network run: ``cpu`` (default), ``cuda``, ``cuda:N``
        or ``auto``. ONNX models run on the CPU.
    precision : {"auto", "bf16", "fp32"}
        ``auto`` uses bf16 autocast where training would (fast-bf16 CPUs, recent GPUs),
        so predictions match training's evaluation on the same machine.
    batch_size : int
        Segments per network call (training's evaluation uses 64).

    Raises
    ------
    ConfigError
        The model file is missing or not a sertune model, or a setting is invalid.
    """

    def __init__(self, model_path: str | Path, *, device: str | torch.device = "cpu",
                 precision: str = "auto", batch_size: int = 64) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size={batch_size!r} must be a positive integer; use e.g. 64")
        self.path = Path(model_path)
        if self.path.is_dir():
            hint = f" ({self.path / 'model.pt'})" if (self.path / "model.pt").is_file() else ""
            raise ConfigError(f"model {self.path} is a folder; pass the model.pt inside it{hint} or a .onnx file")
        self.device = device if isinstance(device, torch.device) else resolve_device(str(device))
        self.batch_size = batch_size
        if self.path.suffix.lower() == ".onnx":
            self._net = _OnnxNet(self.path, device=self.device, precision=precision)
            self.spec = self._net.spec
        else:
            ckpt = load_checkpoint(self.path)
            self.spec = ckpt.spec
            self._net = _TorchNet(ckpt.model(self.device), device=self.device, precision=precision)
        # Impossible settings (corrupt metadata) fail here; advice about poor ones (empty mel
        # filters) was given at training time and is not repeated on every prediction.
        t = self.spec.theta
        features.check_settings(sample_rate=self.spec.sample_rate, n_mels=t.n_mels, win_length=t.win_length,
                                hop_length=t.hop_length, segment=t.segment, warn=False)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def theta(self) -> Theta:
        return self.spec.theta

    def __repr__(self) -> str:
        return (f"Predictor({str(self.path)!r}, θ=[{self.theta}], classes={list(self.classes)}, "
                f"backend={self._net.name})")

    # -- public API ---------------------------------------------------------------------------------
    def predict_file(self, path: str | Path) -> Prediction:
        """One file; an unreadable file gives a :class:`Prediction` with ``error`` set (no exception)."""
        return self.predict_files([path])[0]

    def predict_files(self, paths: Iterable[str | Path]) -> list[Prediction]:
        """Every file, in order; unreadable ones get an error entry and the others are still scored.

        Files are decoded a group at a time (about :data:`GROUP_SEGMENTS` segments) and
        the segments of a group go through the log-Mel and the network together.
        """
        results: list[Prediction | None] = []
        group: list[tuple[int, str, np.ndarray]] = []
        pending = 0
        seg_samples = int(round(self.theta.segment * self.spec.sample_rate))
        for path in paths:
            name = str(path)
            try:
                if Path(path).is_dir():
                    raise AudioError(f"{name} is a folder without .wav, .flac or .ogg files; pass audio files")
                wave = load_audio(path, sample_rate=self.spec.sample_rate)
                _check_finite(wave, name)
            except AudioError as exc:
                results.append(Prediction(name, error=str(exc)))
                continue
            results.append(None)
            group.append((len(results) - 1, name, wave))
            pending += max(1, len(wave) // seg_samples)
            if pending >= GROUP_SEGMENTS:
                self._fill(results, group)
                group, pending = [], 0
        self._fill(results, group)
        return results

    def predict_waveform(self, wave: np.ndarray | torch.Tensor, *, sample_rate: int | None = None) -> Prediction:
        """One utterance already in memory.

        Parameters
        ----------
        wave : array or tensor, shape (samples,), float
            Mono audio in [-1, 1].
        sample_rate : int, Hz, optional
            Rate of ``wave``; resampled (soxr HQ, as files are) if it is not the model's.
            Default: the model's rate.
        """
        wave = np.asarray(wave.detach().cpu() if isinstance(wave, torch.Tensor) else wave)
        if wave.ndim != 1 or not np.issubdtype(wave.dtype, np.floating) or wave.size == 0:
            raise ConfigError(f"wave must be a non-empty float array of shape (samples,), got {wave.dtype} "
                              f"of shape {wave.shape}; average channels with wave.mean(axis=-1) and convert "
                              "integer PCM with wave / 32768")
        wave = wave.astype(np.float32)
        if sample_rate is not None and sample_rate != self.spec.sample_rate:
            wave = soxr.resample(wave, sample_rate, self.spec.sample_rate, quality="HQ").astype(np.float32)
        try:
            _check_finite(wave, "wave")
        except AudioError as exc:
            raise ConfigError(str(exc)) from None
        results: list[Prediction | None] = [None]
        self._fill(results, [(0, None, wave)])
        return results[0]

    def segment_log_probs(self, segments: np.ndarray) -> np.ndarray:
        """Log-probabilities (n_segments, n_classes), float64, of segments (n_segments, samples)."""
        out = []
        for start in range(0, len(segments), self.batch_size):
            part = torch.from_numpy(np.ascontiguousarray(segments[start:start + self.batch_size]))
            lms = features.log_mel(part.to(self.device), sample_rate=self.spec.sample_rate,
                                   n_mels=self.theta.n_mels, win_length=self.theta.win_length,
                                   hop_length=self.theta.hop_length)
            out.append(self._net(normalize(lms, self.spec.mean, self.spec.std)))
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)))

    # -- internals ----------------------------------------------------------------------------------
    def _fill(self, results: list, group: list[tuple[int, str | None, np.ndarray]]) -> None:
        """Score a group of decoded utterances and put their predictions at their indices."""
        if not group:
            return
        segs, owner = features.segment_many([w for _, _, w in group], sample_rate=self.spec.sample_rate,
                                            seconds=self.theta.segment, remainder=self.spec.remainder)
        scores = utterance_log_probs(self.segment_log_probs(segs), owner, len(group))
        counts = np.bincount(owner, minlength=len(group))
        for (index, name, wave), score, n in zip(group, scores, counts):
            probs = np.exp(score - score.max())
            probs /= probs.sum()
            results[index] = Prediction(name, label=self.classes[int(score.argmax())],
                                        probabilities={c: float(p) for c, p in zip(self.classes, probs)},
                                        segments=int(n), scores=score,
                                        warnings=tuple(input_warnings(wave, sample_rate=self.spec.sample_rate,
                                                                      segment=self.theta.segment)))


def input_warnings(wave: np.ndarray, *, sample_rate: int, segment: float) -> list[str]:
    """Why a prediction on ``wave`` may say little about the recording; empty for ordinary speech.

    Parameters
    ----------
    wave : np.ndarray, shape (samples,), float
        Mono audio in [-1, 1] at ``sample_rate``, as the model will see it.
    sample_rate : int, Hz
    segment : float, seconds
        The model's segment length T.

    Returns
    -------
    list of str
        In this order, each where it applies: silent (every sample zero) or near-silent (RMS
        below :data:`QUIET_DBFS`); shorter than :data:`SHORT_SECONDS`; shorter than
        :data:`PADDED_SHARE` of T, with the share of the input that is zero padding.
    """
    out = []
    wave = np.asarray(wave, dtype=np.float64)
    seconds = len(wave) / sample_rate
    if not np.any(wave):
        out.append("silent: every sample is zero, so the label says nothing about a speaker")
    else:
        rms = 10 * np.log10(np.mean(wave ** 2))
        if rms < QUIET_DBFS:
            peak = 20 * np.log10(np.abs(wave).max())
            out.append(f"near-silent: RMS {rms:.0f} dBFS, peak {peak:.0f} dBFS (below {QUIET_DBFS:g} dBFS RMS; "
                       f"speech corpora are recorded at about -40 to -12 dBFS), so the label says little; "
                       f"check the recording level")
    if seconds < SHORT_SECONDS:
        out.append(f"very short: {seconds:.2f} s ({len(wave)} samples at {sample_rate} Hz), less than "
                   f"{SHORT_SECONDS:g} s, too short to hold an utterance")
    if seconds < PADDED_SHARE * segment:
        out.append(f"mostly padding: {seconds:.2f} s of audio for the model's {segment:g} s segment, so "
                   f"{100 * (1 - seconds / segment):.0f} % of the network's input is zero padding")
    return out


def _check_finite(wave: np.ndarray, name: str) -> None:
    # A float WAV can hold NaN/inf; caught per file so one bad file does not fail its batch.
    if not np.isfinite(wave).all():
        raise AudioError(f"{name} contains NaN or infinite samples; re-export it as 16-bit PCM WAV")


class _TorchNet:
    """The checkpoint's network, run as training's evaluation runs it (``train.log_probs``)."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, *, device: torch.device, precision: str) -> None:
        self.device = device
        self.bf16 = use_bf16(device, precision)
        # channels-last as in training: the same convolution kernels, so the same rounding.
        self.model = model.to(memory_format=torch.channels_last).eval()

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        x = x.unsqueeze(1).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            logits = self.model(x)
        return torch.log_softmax(logits.float(), dim=1).cpu().double().numpy()


class _OnnxNet:
    """An exported network in onnxruntime (CPU, fp32), with its :class:`ModelSpec` from metadata."""

    name = "onnxruntime"

    def __init__(self, path: Path, *, device: torch.device, precision: str) -> None:
        if device.type != "cpu":
            raise ConfigError(f"device={str(device)!r}: ONNX models run on the CPU here; use device='cpu' "
                              "or predict with the model.pt checkpoint on the GPU")
        if precision not in ("auto", "fp32"):
            raise ConfigError(f"precision={precision!r}: ONNX models run in fp32; use precision='auto' or 'fp32'")
        if not path.is_file():
            raise ConfigError(f"model file {path} does not exist; pass a .onnx file written by `sertune export`")
        self.session = open_session(path)
        self.spec = ModelSpec.from_metadata(self.session.get_modelmeta().custom_metadata_map, path=path)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        if tuple(inp.shape[1:]) != self.spec.input_shape:
            raise ConfigError(f"{path}: the network takes inputs of shape {inp.shape} but its metadata θ "
                              f"[{self.spec.theta}] makes {('batch',) + self.spec.input_shape}; re-export it")

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        arr = x.unsqueeze(1).to("cpu", torch.float32).numpy()
        step = self.fixed_batch or len(arr)
        logits = np.concatenate([self.session.run(None, {self.input_name: arr[i:i + step]})[0]
                                 for i in range(0, len(arr), step)])
        return torch.log_softmax(torch.from_numpy(logits).float(), dim=1).double().numpy()


def expand_paths(paths: Sequence[str | Path], *, suffixes: Sequence[str] = (".wav", ".flac", ".ogg")) -> list[str]:
    """Files as given, folders replaced by the audio files under them (sorted, recursive).

    A folder without audio is kept as given, so it is reported as unreadable.
    """
    out = []
    for p in paths:
        path = Path(p)
        found = sorted(str(f) for f in path.rglob("*") if f.suffix.lower() in suffixes and f.is_file()) \
            if path.is_dir() else []
        out.extend(found or [str(p)])
    return out
