"""One exception hierarchy for everything a user can get wrong.

Every message says what was wrong, with which value, and how to fix it. The
command line prints ``error: <message>`` and exits with status 2 for any
:class:`SertuneError`; anything else is a bug and shows a traceback.
"""

from __future__ import annotations


class SertuneError(Exception):
    """Base class of all errors caused by user input or the user's files."""


class ConfigError(SertuneError, ValueError):
    """A parameter or configuration value is invalid (wrong type, range or name)."""


class CorpusError(SertuneError):
    """A corpus root cannot be read as the requested (or any known) layout."""


class AudioError(SertuneError):
    """An audio file cannot be decoded (missing, empty, truncated, not audio)."""


class SertuneWarning(UserWarning):
    """Settings are legal but probably not what the user wants; the message says the fix."""
