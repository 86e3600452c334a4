"""``sertune export MODEL --onnx FILE.onnx``: the network as ONNX, verified and measured."""

from __future__ import annotations

import argparse
import json

from ..deploy.export import ATOL, export_onnx
from ..features.theta import Theta


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX, verified against PyTorch",
                       description="Write the network of a model.pt as ONNX (input: normalised log-Mel "
                                   "(batch, 1, n_mels, frames); output: logits) with θ, classes and "
                                   "normalisation in its metadata, check with onnxruntime that the logits "
                                   "match PyTorch, and report size, MACs and CPU latency. "
                                   "`sertune predict FILE.onnx AUDIO...` runs it.")
    p.add_argument("model", metavar="MODEL", help="model.pt written by `sertune train` or `sertune search`")
    p.add_argument("--onnx", required=True, metavar="FILE.onnx", help="file to write (replaced if it exists)")
    p.add_argument("--audio", nargs="+", default=(), metavar="FILE",
                   help="also check on the first segment of these audio files")
    p.add_argument("--atol", type=float, default=ATOL,
                   help="largest accepted |logit difference| (default %(default)g)")
    p.add_argument("--runs", type=int, default=30, metavar="N",
                   help="timed runs for the latency median (default %(default)s)")
    p.add_argument("--threads", type=int, metavar="N",
                   help="CPU threads for the latencies (default torch's own)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = export_onnx(args.model, args.onnx, atol=args.atol, runs=args.runs, threads=args.threads,
                         audio=args.audio)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def format_report(r: dict) -> str:
    theta = Theta(**r["theta"])
    lat = r["latency_ms"]
    check = r["check"]
    threads = f"{lat['threads']} thread" + ("s" if lat["threads"] != 1 else "")
    return "\n".join([
        f"wrote {r['onnx']} ({r['bytes'] / 1e6:.2f} MB, ONNX opset {r['opset']})",
        f"θ = [{theta}], input (batch, {', '.join(map(str, r['input_shape'][1:]))}), "
        f"{len(r['classes'])} classes: {', '.join(r['classes'])}",
        f"parameters      {r['parameters']:,}",
        f"MACs            {r['macs_per_segment'] / 1e6:.1f} M per {theta.segment:g} s segment = "
        f"{r['macs_per_second'] / 1e6:.1f} M per second of audio (convolutions)",
        f"check           max |logit onnxruntime - torch| = {check['max_abs_diff']:.2g} on "
        f"{check['examples']} inputs (limit {check['atol']:g})",
        f"CPU latency     {lat['network']:.2f} ms network (onnxruntime, {threads}) + "
        f"{lat['features']:.2f} ms log-Mel per {theta.segment:g} s segment, median of {lat['runs']}",
    ])
