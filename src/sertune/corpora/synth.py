"""A synthetic emotional-speech corpus, written in a real corpus layout.

No audio corpus can ship with the tool or its tests, so sertune makes one:
source-filter "speech" (a glottal pulse train with a pitch contour, shaped by
formant resonators, in syllables with pauses) whose prosody and voice quality
depend on the emotion and on the speaker, with random variation per utterance.

The class cues overlap on purpose (anger ~ happiness, boredom ~ sadness,
fear ~ surprise) and speakers differ more than classes do in pitch and
formants, so a model trained on it must learn relative cues: it scores well
above chance but not 100 %. The files are written in the EmoDB or SAVEE
layout, so the real loaders read them, with a marker file
(``sertune-synth.json``, :mod:`sertune.corpora.marker`) that makes every
output say the corpus is synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from ..errors import ConfigError
from .marker import write_marker

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Style:
    """How an emotion colours speech, relative to the speaker's neutral voice."""

    pitch: float      # f0 multiplier
    range: float      # depth of the pitch movement (fraction of f0)
    slope: float      # pitch change over the utterance (fraction of f0)
    tempo: float      # syllables per second multiplier
    gain_db: float    # loudness
    tilt: float       # spectral tilt of the source: higher = darker, softer voice
    breath: float     # aspiration noise relative to voicing
    jitter: float     # random f0 perturbation (fraction)
    formant: float    # formant frequency multiplier (smiling, tension)


STYLES = {
    "anger":     Style(1.30, 0.22, -0.10, 1.20, +6.0, 0.9, 0.02, 0.010, 1.06),
    "boredom":   Style(0.90, 0.05, -0.05, 0.78, -3.0, 1.6, 0.05, 0.005, 0.98),
    "disgust":   Style(0.95, 0.14, -0.15, 0.85, +0.0, 1.3, 0.08, 0.015, 0.94),
    "fear":      Style(1.38, 0.12, +0.05, 1.28, -1.0, 1.2, 0.10, 0.040, 1.02),
    "happiness": Style(1.26, 0.28, +0.05, 1.10, +4.0, 1.0, 0.03, 0.010, 1.09),
    "neutral":   Style(1.00, 0.10, -0.05, 1.00, +0.0, 1.3, 0.03, 0.008, 1.00),
    "sadness":   Style(0.86, 0.07, -0.10, 0.72, -5.0, 1.7, 0.12, 0.020, 0.97),
    "surprise":  Style(1.45, 0.35, +0.30, 1.05, +2.0, 1.1, 0.04, 0.015, 1.04),
}

#: (F1, F2, F3) in Hz of a few vowels of an adult male voice.
VOWELS = np.array([(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240),
                   (530, 1840, 2480), (570, 840, 2410), (660, 1720, 2410)], dtype=float)


@dataclass(frozen=True)
class Speaker:
    code: str
    gender: str
    f0: float        # mean neutral pitch in Hz
    tract: float     # formant multiplier (shorter vocal tract = higher formants)
    rate: float      # syllables per second when neutral


@dataclass(frozen=True)
class Layout:
    """Where the files go and how they are named, per real corpus."""

    classes: tuple[str, ...]
    speakers: tuple[tuple[str, str], ...]    # (code, gender) in the corpus's own naming
    max_per_class: int

    def path(self, out: Path, speaker: str, label: str, k: int) -> Path:
        raise NotImplementedError


class EmoDBLayout(Layout):
    _codes = {"anger": "W", "boredom": "L", "disgust": "E", "fear": "A",
              "happiness": "F", "neutral": "N", "sadness": "T"}
    _texts = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")

    def path(self, out, speaker, label, k):
        text, version = self._texts[k % 10], "abcdef"[k // 10]
        return out / "wav" / f"{speaker}{text}{self._codes[label]}{version}.wav"


class SaveeLayout(Layout):
    _codes = {"anger": "a", "disgust": "d", "fear": "f", "happiness": "h",
              "neutral": "n", "sadness": "sa", "surprise": "su"}

    def path(self, out, speaker, label, k):
        return out / "AudioData" / speaker / f"{self._codes[label]}{k + 1:02d}.wav"


LAYOUTS: dict[str, Layout] = {
    "emodb": EmoDBLayout(
        classes=("anger", "boredom", "disgust", "fear", "happiness", "neutral", "sadness"),
        speakers=(("03", "m"), ("08", "f"), ("09", "f"), ("10", "m"), ("11", "m"),
                  ("12", "m"), ("13", "f"), ("14", "f"), ("15", "m"), ("16", "f")),
        max_per_class=60),
    "savee": SaveeLayout(
        classes=("anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"),
        speakers=(("DC", "m"), ("JE", "m"), ("JK", "m"), ("KL", "m")),
        max_per_class=99),
}


def make_speaker(code: str, gender: str, index: int, seed: int) -> Speaker:
    """A speaker's voice, drawn from a seed so it is the same in every run."""
    rng = np.random.default_rng([seed, 7919, index])
    base = 120.0 if gender == "m" else 215.0
    return Speaker(code=code, gender=gender,
                   f0=base * float(rng.uniform(0.85, 1.18)),
                   tract=(1.0 if gender == "m" else 1.17) * float(rng.uniform(0.94, 1.06)),
                   rate=float(rng.uniform(3.4, 4.6)))


def utterance(speaker: Speaker, label: str, rng: np.random.Generator,
              *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One synthetic utterance, float32 in [-1, 1], 1-4 s long.

    Each style parameter is jittered per utterance (log-normal, ~8-15 %) so that
    classes overlap, as real emotions do.
    """
    st = STYLES[label]
    vary = lambda x, s: x * float(np.exp(rng.normal(0.0, s)))  # noqa: E731
    f0_mean = vary(speaker.f0 * st.pitch, 0.08)
    rate = vary(speaker.rate * st.tempo, 0.12)
    n_syll = int(rng.integers(4, 11))
    pieces = [np.zeros(int(sample_rate * rng.uniform(0.05, 0.2)))]
    t_total = n_syll / rate
    t = 0.0
    for i in range(n_syll):
        dur = max(0.08, vary(0.75 / rate, 0.2))
        n = int(dur * sample_rate)
        pos = (t + np.arange(n) / sample_rate) / t_total        # 0..1 through the utterance
        contour = (1 + vary(st.range, 0.25) * np.sin(2 * np.pi * (pos * rng.uniform(1.0, 2.5) + rng.uniform()))
                   + st.slope * (pos - 0.5))
        f0 = f0_mean * contour * (1 + st.jitter * rng.standard_normal(n).cumsum() / np.sqrt(np.arange(1, n + 1)))
        voiced = _source(f0, tilt=vary(st.tilt, 0.1), sample_rate=sample_rate)
        noise = rng.standard_normal(n) * vary(st.breath, 0.3)
        formants = VOWELS[rng.integers(len(VOWELS))] * speaker.tract * vary(st.formant, 0.03)
        syllable = _resonate(voiced + noise, formants, sample_rate=sample_rate)
        attack = rng.uniform(0.1, 0.35) / (st.tempo ** 2)
        pieces.append(syllable * _envelope(n, attack=min(attack, 0.45)))
        gap = max(0.0, vary(0.25 / rate, 0.4)) if rng.uniform() < 0.8 else 0.0
        pieces.append(np.zeros(int(gap * sample_rate)))
        t += dur + gap
    pieces.append(np.zeros(int(sample_rate * rng.uniform(0.05, 0.2))))
    wave = np.concatenate(pieces)
    wave = wave / (np.abs(wave).max() + 1e-9) * 0.3 * 10 ** (vary(1.0, 0.1) * st.gain_db / 20 - 0.3)
    wave += rng.standard_normal(len(wave)) * 3e-4                 # room noise
    return np.clip(wave, -1, 1).astype(np.float32)


def _source(f0: np.ndarray, *, tilt: float, sample_rate: int) -> np.ndarray:
    """Glottal source: harmonics of the time-varying f0 up to 5 kHz, amplitude k**-tilt."""
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    n_harm = int(5000 / f0.max())
    k = np.arange(1, n_harm + 1)[:, None]
    audible = (k * f0[None, :] < 5000)                             # no aliasing as f0 moves
    return (np.sin(k * phase[None, :]) * (k ** -tilt) * audible).sum(axis=0)


def _resonate(x: np.ndarray, formants: np.ndarray, *, sample_rate: int) -> np.ndarray:
    """Cascade of two-pole resonators, one per formant (bandwidth ~ 60 + F/20 Hz)."""
    for freq in formants:
        bw = 60 + freq / 20
        r = np.exp(-np.pi * bw / sample_rate)
        a = [1.0, -2 * r * np.cos(2 * np.pi * freq / sample_rate), r * r]
        x = lfilter([1 - r], a, x)
    return x


def _envelope(n: int, *, attack: float) -> np.ndarray:
    """Rise, hold and fall of a syllable; ``attack`` is the fraction spent rising and falling."""
    edge = max(1, int(n * attack))
    env = np.ones(n)
    ramp = np.sin(np.linspace(0, np.pi / 2, edge)) ** 2
    env[:edge] = ramp
    env[-edge:] = np.minimum(env[-edge:], ramp[::-1])
    return env


def synthesize(out: str | Path, *, layout: str = "emodb", seed: int = 0,
               speakers: int = 4, per_class: int = 10, sample_rate: int = SAMPLE_RATE) -> list[Path]:
    """Write a synthetic corpus into ``out`` and return the audio files written.

    Parameters
    ----------
    out : str or Path
        Folder to write into (created; existing files of the same names are replaced).
    layout : {"emodb", "savee"}
        The real corpus layout to imitate (names, folders, classes).
    seed : int
        Same seed, same files, byte for byte.
    speakers : int
        Number of speakers, at most as many as the real corpus has (10 or 4).
    per_class : int
        Utterances per class and speaker.

    The marker ``out/sertune-synth.json`` records these arguments; loaders read it
    into ``Corpus.synthetic``.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"layout={layout!r} is not supported for synthesis; choose one of: "
                          f"{', '.join(LAYOUTS)}")
    spec = LAYOUTS[layout]
    if not 1 <= speakers <= len(spec.speakers):
        raise ConfigError(f"speakers={speakers} is out of range: the {layout} layout has 1 to "
                          f"{len(spec.speakers)} speakers; pass --speakers between those")
    if not 1 <= per_class <= spec.max_per_class:
        raise ConfigError(f"per_class={per_class} is out of range: {layout} names allow 1 to "
                          f"{spec.max_per_class} utterances per class and speaker")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output {out} is a file; pass a folder to write the corpus into")
    written = []
    for s, (code, gender) in enumerate(spec.speakers[:speakers]):
        voice = make_speaker(code, gender, s, seed)
        for c, label in enumerate(spec.classes):
            for k in range(per_class):
                rng = np.random.default_rng([seed, s, c, k])
                path = spec.path(out, code, label, k)
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), utterance(voice, label, rng, sample_rate=sample_rate),
                         sample_rate, subtype="PCM_16")
                written.append(path)
    write_marker(out, layout=layout, seed=seed, speakers=speakers, per_class=per_class,
                 sample_rate=sample_rate)
    return written
