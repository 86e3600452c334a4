"""sertune: tune log-Mel spectrogram parameters for speech emotion recognition.

The package is laid out as one module per pipeline stage (see DESIGN.md):
``corpora`` (find utterances and labels), ``audio`` (decode to 16 kHz mono),
``features`` (log-Mel spectrograms), and the ``cli`` that ties them together.
"""

__version__ = "0.1.0"
