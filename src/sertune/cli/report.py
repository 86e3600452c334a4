"""``sertune report STUDY --out DIR``: the paper's tables and figures from a study, as one HTML page."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import ConfigError
from ..study.store.locate import find_storage, find_study_name
from ..study.store.results import load_results


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="tables, figures and an HTML page from a search",
                       description="Read a study (`sertune search` output) and write report.html (self-"
                                   "contained), report.json, tables.md, one CSV per table and the figures: "
                                   "the paper's Tables 3-6 and Fig. 3-4, marginal effects and paired tests. "
                                   "Works on a study in progress.")
    p.add_argument("study_dir", metavar="STUDY", nargs="*",
                   help="the --out folder of `sertune search` (it holds search.json or study.db); several: "
                        "searches of other settings of one corpus and training, reported as one search over "
                        "the union of their grids (a study recorded in parts)")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL instead of STUDY's "
                                                    "(e.g. sqlite:////abs/study.db, postgresql://...)")
    p.add_argument("--study", metavar="NAME",
                   help="the search's name, as given to `sertune search --study` (default the search in STUDY, "
                        "or the only one in --storage)")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default STUDY/report; required "
                                                "with --storage or several STUDY)")
    p.add_argument("--replay", metavar="FILE", help="a replay.json of `sertune replay` to show as a section "
                                                    "(default STUDY/replay/replay.json when it replays this search)")
    p.add_argument("--json", action="store_true", help="print report.json instead of the summary")
    p.set_defaults(func=run)


def locate(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(storage URL, search name) of every search to report, from STUDY... and/or --storage/--study."""
    if args.storage:          # with one STUDY, that folder is only where the report goes (STUDY/report)
        if len(args.study_dir) > 1:
            raise ConfigError(f"--storage {args.storage} names one storage; give it alone, or give the "
                              f"{len(args.study_dir)} STUDY folders without it")
        return [(args.storage, args.study or find_study_name(args.storage))]
    if not args.study_dir:
        raise ConfigError("give STUDY (the --out folder of `sertune search`) or --storage URL")
    if args.study and len(args.study_dir) > 1:
        raise ConfigError(f"--study {args.study} names the search of one STUDY; with {len(args.study_dir)} "
                          f"STUDY folders each one's own search is reported (leave --study out)")
    found = [find_storage(folder) for folder in args.study_dir]
    return [(url, args.study or name) for url, name in found]


def run(args: argparse.Namespace) -> int:
    from ..report import write_report  # matplotlib and scipy only for this command
    from ..study.store.control import load_control
    from ..study.store.merge import merge_controls, merge_results

    located = locate(args)
    if args.out:
        out = Path(args.out)
    elif len(args.study_dir) == 1:
        out = Path(args.study_dir[0]) / "report"
    else:
        raise ConfigError("--out DIR is required with --storage or several STUDY (there is no one STUDY "
                          "folder to write into)")
    parts = [load_results(url, name) for url, name in located]
    results = merge_results(parts)
    replay = _replay_doc(args, results.name)
    doc = write_report(results, out, replay=replay, control=merge_controls([load_control(p) for p in parts]))
    if args.json:
        print(json.dumps({k: v for k, v in doc.items() if k != "files"}, indent=2, ensure_ascii=False))
    else:
        print(format_summary(doc, out))
    return 0


def _replay_doc(args: argparse.Namespace, name: str) -> dict | None:
    """The replay section's document: ``--replay FILE`` (it must replay this search: its curves'
    name is the search's, ``A+B`` for merged parts), else ``STUDY/replay/replay.json`` of a lone
    STUDY when it replays this search."""
    if args.replay:
        path = Path(args.replay)
        if not path.is_file():
            raise ConfigError(f"--replay {path}: no such file; give the replay.json `sertune replay` wrote")
    elif len(args.study_dir) == 1:
        path = Path(args.study_dir[0]) / "replay" / "replay.json"
        if not path.is_file():
            return None
    else:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a replay.json ({exc}); give the file `sertune replay` wrote") from exc
    replayed = doc.get("curves", {}).get("name") if isinstance(doc, dict) else None
    if replayed == name:
        return doc
    if args.replay:
        raise ConfigError(f"--replay {path} replays the curves of {replayed!r}, not of search {name!r}; give the "
                          f"replay of this search's curves (`sertune curves` of the same parts, then `sertune replay`)")
    return None


def _ms(x) -> str:
    return "–" if x is None else f"{x['mean']:.2f} ± {x['std']:.2f}"


def format_summary(doc: dict, out: Path) -> str:
    """A few lines: coverage, Tables 3-4, the paired test, where the page is."""
    cov, t3, t4 = doc["coverage"], doc["table3"], doc["table4"]
    study = doc["study"]
    p = t4["wilcoxon_p"]
    lines = [
        f"study {study['name']} on {study.get('corpus_text') or study['corpus'].get('name', '?')}: "
        f"{cov['finished']}/{cov['planned']} "
        f"cells finished ({cov['complete']} complete, {cov['pruned']} pruned"
        + (f", {cov['skipped']} of them skipped, never trained" if cov.get("skipped") else "")
        + f"), {cov['failed']} failed"
        + (", IN PROGRESS" if doc["in_progress"] else ""),
        f"val WA  best {_ms(t3['val_wa_best'])}  worst {_ms(t3['val_wa_worst'])}  usual {_ms(t3['val_wa_usual'])}",
        f"test WA tuned {_ms(t4['test_wa_tuned'])}  usual {_ms(t4['test_wa_usual'])}"
        + (f"  gain {t4['gain_abs']['mean']:+.2f} points" if t4["gain_abs"] else "")
        + (f"  (Wilcoxon p = {p:.3g})" if p is not None else ""),
    ]
    lines += [f"note: {n}" for n in doc["notes"][:5]]
    lines.append(f"wrote {(out / 'report.html').resolve()}")
    return "\n".join(lines)
