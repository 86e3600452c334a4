"""First vs cached load of a decoded corpus, in one run on the same machine.

Writes a SAVEE-layout synthetic corpus at 44.1 kHz (as the real SAVEE), then
decodes it twice into a fresh cache folder: the first load reads, downmixes and
resamples every file with soxr; the second reads the cache. Both loads touch
every sample (a sum), so the lazy memory map of the cached load is not given
an easy time. Last line: ``ratio: <first seconds / cached seconds>``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sertune.features.audio import decode_corpus
from sertune.corpora import load_corpus
from sertune.corpora.synth import synthesize


def timed_load(corpus, cache: Path) -> tuple[float, float]:
    start = time.perf_counter()
    _, waves = decode_corpus(corpus, cache_dir=cache, progress=False)
    checksum = float(sum(np.sum(w, dtype=np.float64) for w in waves))
    return time.perf_counter() - start, checksum


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "savee"
        files = synthesize(root, layout="savee", speakers=4, per_class=args.per_class, sample_rate=44100)
        corpus = load_corpus(root)
        first, sum1 = timed_load(corpus, Path(tmp) / "cache")
        cached, sum2 = timed_load(corpus, Path(tmp) / "cache")
        assert sum1 == sum2, "cached waveforms differ from decoded ones"
        print(f"corpus: {len(files)} files at 44.1 kHz, {corpus.total_seconds():.0f} s of audio")
        print(f"first load (decode + resample to 16 kHz): {first:.3f} s")
        print(f"cached load:                              {cached:.3f} s")
        print(f"ratio: {first / cached:.1f}")


if __name__ == "__main__":
    main()
