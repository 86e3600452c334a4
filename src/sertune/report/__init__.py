"""The report of a study: the paper's Tables 3-6 and Fig. 3-4, and what the paper could not show.

:func:`build_report` computes every number from a
:class:`~sertune.study.store.results.StudyResults` (the ``report.json`` document);
:func:`write_report` draws the figures from those numbers and writes
``report.json``, ``report.html``, ``tables.md``, one CSV per table and the PNGs.

Modules: :mod:`.tables` (Tables 3-6, θ_r*, ranking), :mod:`.analysis`
(confusion, heat map, marginals), :mod:`.figures` (Fig. 3, marginals, paired),
:mod:`.heatmap_plot` (Fig. 4), :mod:`.drawing` (PNG rendering), :mod:`.render`
(Markdown, CSV), :mod:`.html`.
"""

from __future__ import annotations

import datetime
import json
import math
from pathlib import Path

from ..corpora.marker import describe_corpus, read_marker
from ..environment import versions
from ..study.store import results as sr
from ..study.store.control import Control
from . import analysis, tables
from .gain import gain
from .render import counted, csv_text, markdown
from .render import tables as table_list

#: How many failed trials the report lists (the rest are counted).
FAILURES_SHOWN = 20


def _coverage_notes(results: sr.StudyResults, cov: dict) -> list[str]:
    notes = []
    if cov["finished"] < cov["planned"]:
        lacking = [r for r in sr.coverage_by_rep(results) if r["complete"] + r["pruned"] < len(results.grid)]
        left = cov["planned"] - cov["finished"]
        notes.append(f"{left} of {counted(cov['planned'], 'cell')} {'is' if left == 1 else 'are'} not finished, in rep "
                     + ", ".join(f"{r['rep']} ({len(results.grid) - r['complete'] - r['pruned']})" for r in lacking))
    if len(results.studies) < results.reps:
        absent = sorted(set(range(results.reps)) - set(results.studies))
        notes.append(f"no study yet for rep {', '.join(map(str, absent))} of {results.reps}")
    if cov["pruned"]:
        skipped = (f"; {cov['skipped']} of them were skipped by the search strategy without training"
                   if cov.get("skipped") else "")
        notes.append(f"{counted(cov['pruned'], 'cell')} {'was' if cov['pruned'] == 1 else 'were'} pruned "
                     f"(stopped early){skipped}: shown as pruned, never as "
                     f"finished, and left out of θ_r*, the means and the ranking")
    if cov["failed"]:
        notes.append(f"{counted(cov['failed'], 'cell')} failed and {'was' if cov['failed'] == 1 else 'were'} "
                     f"not retried successfully (errors below)")
    if cov.get("at_chance"):
        chance = sr.at_chance(results)
        by_rep = sorted({t.rep for t in chance})
        notes.append(f"{counted(len(chance), 'complete training')} ended at chance (validation UA within "
                     f"{sr.CHANCE_MARGIN:g} points of {100 / max(1, len(results.classes)):.1f} %, one class for "
                     f"everything), in rep {', '.join(f'{r} ({sum(t.rep == r for t in chance)})' for r in by_rep)}"
                     f": they never learned, and count like every other training; many point at a learning "
                     f"rate too high for some starts")
    if cov["duplicates"]:
        notes.append(f"{counted(cov['duplicates'], 'duplicate trial')} (same θ, same repetition) "
                     f"{'is' if cov['duplicates'] == 1 else 'are'} ignored: "
                     f"the first by trial number counts")
    if cov["off_grid"]:
        notes.append(f"{counted(cov['off_grid'], 'finished trial')} {'is' if cov['off_grid'] == 1 else 'are'} "
                     f"of a θ or repetition outside the plan; used as candidates but not counted in coverage")
    return notes


def corpus_synthetic(corpus: dict) -> tuple[dict | None, str | None]:
    """(the corpus's ``sertune synth`` marker or None, where it was found).

    A search stores the marker as ``corpus["synthetic"]`` (null for a real corpus); a study
    written before that key existed is checked for the marker file at ``corpus["root"]``,
    where the corpus is on this machine.
    """
    if "synthetic" in corpus:
        marker = corpus["synthetic"]
        return (dict(marker), "search metadata") if marker is not None else (None, None)
    marker = read_marker(corpus.get("root"))
    return (marker, f"marker file in {corpus.get('root')}") if marker is not None else (None, None)


def build_report(results: sr.StudyResults, *, control: Control | None = None, generated: str | None = None) -> dict:
    """Every number of the report, as one JSON-ready document (percentages; None = not available).

    ``control``: the search's restart control (:func:`sertune.study.store.control.load_control`),
    for the where-the-gain-comes-from section; None leaves the section out.

    ``study.synthetic`` is the corpus's ``sertune synth`` marker (None for a real corpus) and
    ``study.corpus_text`` how every output names the corpus; ``paper_context`` says whether
    the paper comparison and Table 6 apply (they are empty/None where they do not).
    """
    cov = sr.coverage(results)
    synthetic, source = corpus_synthetic(results.corpus)
    context = tables.paper_context(results, synthetic)
    doc = {
        "generated": generated or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "study": {"name": results.name, "storage": results.storage, "corpus": results.corpus,
                  "synthetic": synthetic, "synthetic_source": source,
                  "corpus_text": describe_corpus(results.corpus.get("name"), synthetic),
                  "classes": list(results.classes), "grid_name": results.grid_name,
                  "grid_size": len(results.grid), "reps": results.reps, "studies_found": list(results.studies),
                  "usual": results.usual.as_dict() if results.usual else None,
                  "usual_text": str(results.usual) if results.usual else "not in the grid",
                  "settings": results.settings, "parts": results.attrs.get("parts")},
        "coverage": cov, "coverage_by_rep": sr.coverage_by_rep(results),
        "in_progress": not sr.is_complete(results) or len(results.studies) < results.reps,
        "coverage_notes": _coverage_notes(results, cov),
        "failures": [{"rep": t.rep, "key": t.key, "trial": t.number, "error": t.error}
                     for t in results.trials if t.state == "failed"][:FAILURES_SHOWN],
        "reps_with_best": len(sr.best_per_rep(results)),
        "table3": tables.table3(results), "table4": tables.table4(results), "table5": tables.table5(results),
        "selected": tables.selected(results), "ranking": tables.ranking(results),
        "confusion": analysis.mean_confusion(results), "heatmap": analysis.heatmap(results),
        "marginals": analysis.marginal_effects(results),
        "versions": versions(), "study_environment": results.attrs.get("environment"),
        "gain": gain(results, control),
    }
    doc["paper_context"] = context
    doc["table6"] = tables.table6(results, doc["table4"]["test_wa_tuned"]) if context["comparable"] else None
    doc["paper_comparison"] = tables.paper_comparison(results, doc) if context["comparable"] else []
    doc["notes"] = doc["coverage_notes"] if doc["in_progress"] else []
    return _finite(doc)


def _finite(x):
    """NaN and infinities become None: JSON has no NaN, and a reader should see 'not available'."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def draw_figures(doc: dict) -> dict[str, bytes | None]:
    """PNG bytes of every figure (None where there is nothing to draw yet)."""
    from . import figures as fg, heatmap_plot  # matplotlib only when drawing
    from .gain_plot import gain_figure

    conf, t4, hm = doc["confusion"], doc["table4"], doc["heatmap"]
    sub = subtitle(doc)
    has_values = any(v is not None for row in hm["values"] for v in row)
    return {
        "fig3_confusion": fg.confusion_figure(conf, normalised=False, subtitle=sub) if conf else None,
        "fig3_confusion_normalised": fg.confusion_figure(conf, normalised=True, subtitle=sub) if conf else None,
        "fig4_heatmap": heatmap_plot.heatmap_figure(hm, subtitle=sub) if has_values else None,
        "marginals": fg.marginals_figure(doc["marginals"], subtitle=sub) if has_values else None,
        "paired": fg.paired_figure(t4, subtitle=sub) if t4["per_rep"] else None,
        "gain": gain_figure(doc["gain"], subtitle=sub) if doc.get("gain") else None,
    }


def subtitle(doc: dict) -> str:
    """The line every figure carries: the study and what its corpus is (``synthetic (...)`` when so)."""
    return f"study {doc['study']['name']}, corpus {doc['study']['corpus_text']}"


def write_report(results: sr.StudyResults, out: str | Path, *, replay: dict | None = None,
                 control: Control | None = None) -> dict:
    """Write every report file into ``out`` (created; existing report files are replaced).

    ``replay``: the ``replay.json`` of a ``sertune replay`` of this study, shown as a section;
    ``control``: its restart control, as :func:`build_report` takes it.

    Returns the ``report.json`` document with ``files``: the paths written.
    """
    from .html import render_html

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = build_report(results, control=control)
    images = draw_figures(doc)
    if replay is not None:
        from .replay_plot import replay_figure
        doc["replay"] = replay
        images["replay"] = replay_figure(replay)
    written = []
    for name, data in images.items():
        if data is None:  # nothing to draw yet: no stale figure of an earlier report either
            (out / f"{name}.png").unlink(missing_ok=True)
        else:
            (out / f"{name}.png").write_bytes(data)
            written.append(out / f"{name}.png")
    all_tables = table_list(doc)
    (out / "tables.md").write_text("\n".join(markdown(t) for t in all_tables), encoding="utf-8")
    written.append(out / "tables.md")
    for t in all_tables:
        (out / f"{t.name}.csv").write_text(csv_text(t), encoding="utf-8")
        written.append(out / f"{t.name}.csv")
    (out / "report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "report.html").write_text(render_html(doc, images), encoding="utf-8")
    written += [out / "report.json", out / "report.html"]
    return {**doc, "files": [str(p) for p in written]}
