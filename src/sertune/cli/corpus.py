"""``sertune corpus info ROOT``: what a corpus holds, as a table or as JSON."""

from __future__ import annotations

import argparse
import json

from ..corpora import Corpus, load_corpus, registry
from ..corpora.marker import synthetic_label


def add_corpus_args(parser: argparse.ArgumentParser) -> None:
    """The corpus arguments every command that reads a corpus shares."""
    parser.add_argument("root", metavar="ROOT", help="folder the corpus was unpacked into")
    parser.add_argument("--corpus", metavar="NAME", choices=sorted(registry()),
                        help="corpus layout: %(choices)s (default detected from ROOT)")
    parser.add_argument("--subset", choices=("improvised", "scripted", "all"), default=None,
                        help="IEMOCAP utterances to use (default improvised, as the paper)")
    parser.add_argument("--no-merge-excited", dest="merge_excited", action="store_false", default=None,
                        help="IEMOCAP: drop 'excited' instead of merging it into happiness")


def corpus_from_args(args: argparse.Namespace) -> Corpus:
    options = {k: getattr(args, k) for k in ("subset", "merge_excited") if getattr(args, k) is not None}
    return load_corpus(args.root, args.corpus, **options)


def corpus_summary(corpus: Corpus) -> dict:
    """The ``corpus info --json`` object (DESIGN.md contract)."""
    return {
        "corpus": corpus.name,
        "root": str(corpus.root),
        "options": dict(corpus.options),
        "n_utterances": len(corpus.utterances),
        "classes": corpus.class_counts(),
        "speakers": corpus.speaker_counts(),
        "total_seconds": round(corpus.total_seconds(), 1),
        "skipped": [{"path": s.path, "reason": s.reason} for s in corpus.skipped],
        # Left out by design (other subset, a label outside the task, a duplicate copy).
        "excluded": dict(corpus.excluded),
        # The sertune-synth.json marker of a corpus made by `sertune synth`, else null.
        "synthetic": dict(corpus.synthetic) if corpus.synthetic is not None else None,
    }


def add_parser(sub) -> None:
    parser = sub.add_parser("corpus", help="inspect a corpus on disk")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    info = actions.add_parser("info", help="count utterances per class and speaker",
                              description="Find and label every utterance under ROOT and count them.")
    add_corpus_args(info)
    info.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    info.set_defaults(func=run_info)


def run_info(args: argparse.Namespace) -> int:
    summary = corpus_summary(corpus_from_args(args))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
    return 0


def format_summary(summary: dict) -> str:
    n = summary["n_utterances"]
    lines = [f"corpus   {summary['corpus']}  ({summary['root']})"]
    label = synthetic_label(summary.get("synthetic"))
    if label:
        lines.append(f"data     {label}: made by `sertune synth`, not recordings of people")
    lines += [
        f"options  {', '.join(f'{k}={v}' for k, v in summary['options'].items()) or '-'}",
        f"total    {_counted(n, 'utterance')}, {summary['total_seconds'] / 60:.1f} min of audio, "
        f"{_counted(len(summary['speakers']), 'speaker')}, {_counted(len(summary['classes']), 'class', 'classes')}",
        "",
        _table("class", summary["classes"], n),
        "",
        _table("speaker", summary["speakers"], n),
    ]
    excluded = summary.get("excluded") or {}
    if excluded:
        lines += ["", f"excluded {_counted(sum(excluded.values()), 'utterance')} by design (not errors):"]
        lines += [f"  {count:>6}  {reason}" for reason, count in excluded.items()]
    skipped = summary["skipped"]
    if skipped:
        lines += ["", f"skipped  {_counted(len(skipped), 'file')}:"]
        lines += [f"  {s['path']}: {s['reason']}" for s in skipped[:20]]
        if len(skipped) > 20:
            lines.append(f"  ... and {len(skipped) - 20} more (see --json)")
    return "\n".join(lines)


def _counted(n: int, noun: str, nouns: str | None = None) -> str:
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def _table(title: str, counts: dict[str, int], total: int) -> str:
    width = max([len(title)] + [len(k) for k in counts])
    rows = [f"{title:<{width}}  {'count':>6}  {'share':>6}", f"{'-' * width}  {'-' * 6}  {'-' * 6}"]
    rows += [f"{k:<{width}}  {v:>6}  {100 * v / total:>5.1f}%" for k, v in counts.items()]
    return "\n".join(rows)
