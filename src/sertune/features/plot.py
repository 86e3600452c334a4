"""Pictures of log-Mel spectrograms: time in seconds, frequency in Hz on a mel axis.

Rows of a log-Mel spectrogram are equally spaced in mel, not in Hz, so the image
is drawn against mel and the ticks are labelled with the Hz they stand for.
Figures are drawn without pyplot (a bare ``Figure`` rendered by Agg): no display
is needed and no global backend state is touched.
"""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np

#: Frequencies offered as ticks (Hz); those inside [fmin, fmax] and not too close on the mel axis are used.
_TICKS_HZ = (0, 125, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 11025, 16000, 22050)


def mel_ticks(*, n_mels: int, fmin: float, fmax: float, htk: bool) -> tuple[list[float], list[str]]:
    """Tick positions on the row axis (row index units, row 0 = lowest filter) and their Hz labels.

    Row m holds the filter centred at mel ``lo + (m + 1) * step``, with ``step = (hi - lo) / (n_mels + 1)``
    (librosa places n_mels + 2 equally spaced mel points and the filters between them).
    """
    lo, hi = (float(librosa.hz_to_mel(f, htk=htk)) for f in (fmin, fmax))
    step = (hi - lo) / (n_mels + 1)
    positions, labels = [], []
    for hz in _TICKS_HZ:
        if not fmin <= hz <= fmax:
            continue
        row = (float(librosa.hz_to_mel(hz, htk=htk)) - lo) / step - 1
        if positions and row - positions[-1] < 0.06 * n_mels:     # keep labels from colliding
            continue
        positions.append(row)
        labels.append(f"{hz / 1000:g}k" if hz >= 1000 else f"{hz:g}")
    return positions, labels


def plot_log_mel(lms: np.ndarray, path: str | Path, *, sample_rate: int, hop_length: int, fmin: float = 0.0,
                 fmax: float | None = None, htk: bool = False, title: str = "",
                 starts: list[float] | None = None, panel_titles: list[str] | None = None) -> Path:
    """Draw one log-Mel spectrogram, or several (one panel each), to a PNG file.

    Parameters
    ----------
    lms : np.ndarray, shape (n_mels, frames) or (panels, n_mels, frames), dB
    path : output file (PNG)
    sample_rate, hop_length : int
        For the time axis: frame t is centred at ``t * hop_length / sample_rate`` s.
    fmin, fmax, htk : the filter bank's range (Hz) and mel scale, for the frequency ticks.
    title : str
        Figure title (the settings).
    starts : list of float, optional
        Start time (s) of each panel, so segments show their place in the utterance.
    panel_titles : list of str, optional
    """
    from matplotlib.figure import Figure

    panels = lms[None] if lms.ndim == 2 else lms
    count, n_mels, frames = panels.shape
    fmax = sample_rate / 2 if fmax is None else fmax
    starts = starts or [0.0] * count
    seconds_per_frame = hop_length / sample_rate
    lo, hi = float(np.min(panels)), float(np.max(panels))
    fig = Figure(figsize=(10, 1.2 + 2.6 * count), layout="constrained")
    axes = fig.subplots(count, 1, squeeze=False)
    ticks, labels = mel_ticks(n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk)
    for k, ax in enumerate(axes[:, 0]):
        left = starts[k] - 0.5 * seconds_per_frame
        image = ax.imshow(panels[k], origin="lower", aspect="auto", interpolation="nearest", cmap="magma",
                          vmin=lo, vmax=hi,
                          extent=(left, left + frames * seconds_per_frame, -0.5, n_mels - 0.5))
        ax.set_yticks(ticks, labels)
        ax.set_ylabel(f"frequency (Hz, {'HTK' if htk else 'Slaney'} mel scale)")
        ax.set_xlabel("time (s)")
        if panel_titles:
            ax.set_title(panel_titles[k], fontsize=10)
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="power (dB re 1)", format="%+.0f")
    if title:
        fig.suptitle(title, fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
