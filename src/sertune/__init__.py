"""sertune: tune log-Mel spectrogram parameters for speech emotion recognition.

One package per pipeline stage, imports running one way down it (docs/architecture.md):
``corpora`` -> ``features`` -> ``training`` -> ``study`` -> ``report`` -> ``deploy`` -> ``cli``,
on top of ``errors``, ``config``, ``environment`` and ``outputs``.
"""

__version__ = "0.2.0"
