"""One LMS setting θ = (M, L, H, T), its text key and back, without torch.

A :class:`Theta` is what a study searches, a checkpoint records and a report
lists; :func:`theta_key` names it in storages (``M40-L400-H160-T3``) and
:func:`parse_theta_key` / :func:`theta_from_dict` read it back. Nothing here
imports torch, so reports and study results can use θ cheaply.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Mapping

from ..errors import ConfigError
from .lms_settings import check_network_input, check_settings, n_frames

__all__ = ["Theta", "theta_key", "parse_theta_key", "theta_from_dict"]

_KEY = re.compile(r"^M(\d+)-L(\d+)-H(\d+)-T(\d+(?:\.\d*)?(?:e[+-]?\d+)?)$")


@dataclass(frozen=True)
class Theta:
    """One LMS setting: M mel filters, window L and hop H in samples, segment T in seconds."""

    n_mels: int
    win_length: int
    hop_length: int
    segment: float

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"M={self.n_mels} L={self.win_length} H={self.hop_length} T={self.segment:g}s"

    def frames(self, sample_rate: int) -> int:
        """Frames per segment of a centred STFT (one fewer for an odd window, e.g. L=127)."""
        return n_frames(int(round(self.segment * sample_rate)), n_fft=self.win_length,
                        hop_length=self.hop_length)

    def check(self, sample_rate: int, *, warn: bool = True) -> list[str]:
        """Raise ConfigError for an impossible setting (before any work is done).

        Each number's own rule first (:func:`check_settings`: ``n_mels`` positive, ...),
        then the network input it makes (:func:`check_network_input`: SqueezeNet's smallest).
        Returns the advice for legal but poor settings (also issued as warnings when ``warn``).
        """
        advice = check_settings(n_mels=self.n_mels, win_length=self.win_length, hop_length=self.hop_length,
                                sample_rate=sample_rate, segment=self.segment, warn=warn)
        check_network_input(n_mels=self.n_mels, frames=self.frames(sample_rate), hop_length=self.hop_length,
                            sample_rate=sample_rate)
        return advice


def theta_key(theta: Theta) -> str:
    """Stable text key of a setting, e.g. ``M40-L400-H160-T3``."""
    return f"M{theta.n_mels}-L{theta.win_length}-H{theta.hop_length}-T{theta.segment:g}"


def parse_theta_key(key: str) -> Theta:
    """Inverse of :func:`theta_key`: ``"M40-L400-H160-T3"`` -> Theta.

    Raises
    ------
    ConfigError
        When ``key`` is not of that form.
    """
    match = _KEY.match(str(key))
    if not match:
        raise ConfigError(f"theta key {key!r} is not of the form M<mels>-L<win>-H<hop>-T<seconds>, "
                          f"e.g. M40-L400-H160-T3")
    m, w, h, t = match.groups()
    return Theta(int(m), int(w), int(h), float(t))


def theta_from_dict(d: Mapping) -> Theta:
    """A θ dict of the storage (``n_mels win_length hop_length segment``) -> Theta.

    Raises
    ------
    ConfigError
        When a field is missing or not a number.
    """
    try:
        return Theta(int(d["n_mels"]), int(d["win_length"]), int(d["hop_length"]), float(d["segment"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"setting {d!r} lacks or mistypes a field ({exc}); a θ needs n_mels, "
                          f"win_length, hop_length and segment") from None
