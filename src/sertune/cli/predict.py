"""``sertune predict MODEL AUDIO...``: the emotion of each audio file, with class probabilities.

Exit status: 0 when at least one file was scored (files that could not be read are
listed with the reason, and a warning on stderr counts them); 2 with an ``error:``
line when the model cannot be used or no file at all could be read (the reasons are
in the table or the JSON, once). A file the model cannot judge (silent, very short,
mostly zero padding) is still labelled, with a ``warning: FILE: ...`` line on stderr
and the same text in its JSON ``warnings``.
"""

from __future__ import annotations

import argparse
import json
import warnings

from ..training.devices import PRECISIONS
from ..deploy.predict import Prediction, Predictor, expand_paths
from ..errors import AudioError, SertuneWarning


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="predict the emotion of audio files with a trained model",
                       description="Label each audio file with a model written by `sertune train`, "
                                   "`sertune search` (model.pt) or `sertune export` (.onnx): the file is "
                                   "cut into T-second segments as in training and the decision is the "
                                   "mean of the segments' log-probabilities.")
    p.add_argument("model", metavar="MODEL", help="model.pt checkpoint or exported .onnx file")
    p.add_argument("audio", metavar="AUDIO", nargs="+",
                   help="audio files (WAV/FLAC/OGG, any rate and channels) or folders of them")
    p.add_argument("--json", action="store_true",
                   help='print a JSON list: {"path", "prediction", "probabilities", "segments", "warnings"} '
                        'or {"path", "error"}')
    p.add_argument("--device", default="cpu",
                   help="cpu, cuda, cuda:N or auto; .onnx models run on the CPU (default %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="auto: bf16 where training would use it, so results match training (default %(default)s)")
    p.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="segments per network call (default %(default)s)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    predictor = Predictor(args.model, device=args.device, precision=args.precision,
                          batch_size=args.batch_size)
    results = predictor.predict_files(expand_paths(args.audio))
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(format_table(results, predictor.classes))
    for r in results:
        for text in r.warnings:
            warnings.warn(f"{r.path}: {text}", SertuneWarning)
    where = "the error entries" if args.json else "the table"
    if len(failed) == len(results):
        raise AudioError(f"none of the {len(results)} audio files could be read (the reasons are in {where})")
    if failed:
        warnings.warn(f"{len(failed)} of {len(results)} files could not be read (see {where})", SertuneWarning)
    return 0


def format_table(results: list[Prediction], classes: tuple[str, ...]) -> str:
    """One row per file: the predicted class, segments and the probability of each class in %."""
    width = max([4] + [len(r.path or "") for r in results])
    label_w = max([len("prediction")] + [len(c) for c in classes])
    col = [max(5, len(c)) for c in classes]
    head = f"{'file':<{width}}  {'prediction':<{label_w}}  {'segs':>4}  " + \
        "  ".join(f"{c:>{w}}" for c, w in zip(classes, col))
    lines = [head, "-" * len(head)]
    for r in results:
        if not r.ok:
            lines.append(f"{r.path:<{width}}  error: {r.error}")
            continue
        probs = "  ".join(f"{100 * r.probabilities[c]:>{w}.1f}" for c, w in zip(classes, col))
        lines.append(f"{r.path:<{width}}  {r.label:<{label_w}}  {r.segments:>4}  {probs}")
    lines.append("(class probabilities in %: softmax of the mean segment log-probability)")
    return "\n".join(lines)
