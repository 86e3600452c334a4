"""``sertune synth OUT``: write a synthetic corpus in a real corpus layout."""

from __future__ import annotations

import argparse

from ..corpora import load_corpus
from ..corpora.marker import MARKER
from ..corpora.synth import LAYOUTS, synthesize


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "synth", help="write a synthetic emotional-speech corpus",
        description="Write deterministic speech-like audio whose prosody and voice quality vary "
                    "with emotion and speaker, in a real corpus layout that the loaders read. A marker "
                    f"file ({MARKER}) in DIR makes every output say the corpus is synthetic.")
    parser.add_argument("out", metavar="DIR", help="folder to write the corpus into")
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="emodb",
                        help="corpus layout to imitate (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default %(default)s)")
    parser.add_argument("--speakers", type=int, default=4, metavar="N",
                        help="number of speakers (default %(default)s)")
    parser.add_argument("--per-class", type=int, default=10, metavar="N",
                        help="utterances per class and speaker (default %(default)s)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    files = synthesize(args.out, layout=args.layout, seed=args.seed,
                       speakers=args.speakers, per_class=args.per_class)
    corpus = load_corpus(args.out, args.layout)
    print(f"wrote {len(files)} files ({corpus.total_seconds() / 60:.1f} min of audio) in the "
          f"{args.layout} layout to {args.out}")
    print(f"marked synthetic by {MARKER}: every report on it says so; it is not {args.layout}")
    print(f"next: sertune corpus info {args.out}")
    return 0
