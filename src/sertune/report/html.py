"""``report.html``: one self-contained page (inline CSS, PNGs as base64 data URIs).

Nothing is loaded from elsewhere (no CSS, script, font or image URL), so the
page opens offline and can be mailed as one file. Every value from the study
is escaped.
"""

from __future__ import annotations

import base64
from html import escape

from ..study.replay.text import interval, scale_lines
from .render import CELL_STATES, Table, counted, fmt, tables

#: How many ranking rows show before the rest folds into <details>.
RANKING_SHOWN = 25

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f2f2f2}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.notes{font-size:.88em;color:#555;margin:.2em 0 1em 1.2em}
.banner{padding:.6em 1em;border-radius:4px;margin:1em 0}.warn{background:#fff4d6;border:1px solid #e0b84d}
.ok{background:#e8f6e8;border:1px solid #7cba7c}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #ddd}
figcaption{font-size:.9em;color:#444;max-width:70em}nav a{margin-right:1em}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}dd{margin:0}
.side{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.side figure{flex:1 1 560px;margin:0}
.side>div{flex:0 1 auto}
"""


def _table_html(table: Table, *, limit: int | None = None) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)

    def row_html(row):
        cells = []
        for c in row:
            numeric = isinstance(c, (int, float, dict)) and not isinstance(c, bool)
            attr = ' class="num"' if numeric else ""
            cells.append(f"<td{attr}>{escape(fmt(c))}</td>")
        return "<tr>" + "".join(cells) + "</tr>"

    rows = [row_html(r) for r in table.rows]
    body = "".join(rows[:limit] if limit else rows)
    html = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if limit and len(rows) > limit:
        html += (f"<details><summary>the other {counted(len(rows) - limit, 'setting')}</summary>"
                 f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows[limit:])}</tbody></table></details>")
    return html + _notes(table.notes)


def _notes(notes) -> str:
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _figure(png: bytes | None, alt: str, caption: str, *, missing: str = "not available yet") -> str:
    if png is None:
        return f"<p><em>{escape(alt)}: {escape(missing)}.</em> {escape(caption)}</p>"
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _luck_clause(luck: float, settings: int) -> str:
    """What the pick of the best of ``settings`` trainings per repetition added to θ_r*'s number:
    ``luck`` = θ_r*'s gain on its own repetitions minus on the others (real speech: about none)."""
    if luck > 0.05:
        return (f"the rest ({luck:+.1f}) is the luck of keeping the best of {settings} trainings, which a user "
                f"can also buy by training one good setting several times.")
    elsewhere = f"{-luck:.1f} points more" if luck < -0.05 else "as much"
    return (f"keeping the best of {settings} trainings added no luck here: θ_r* score {elsewhere} on the "
            f"repetitions they were not picked on.")


def _gain_section(gain: dict, image: bytes | None, table: Table) -> list[str]:
    """The honest Table 4: how much of θ_r*'s lead over one training is the setting, how much the
    pick of the best of many trainings (the restart control of the study)."""
    rows = {row["key"]: row for row in gain["rows"]}
    said = []
    if all(rows[k]["gain"] for k in ("best_of_restarts", "study", "study_elsewhere")):
        pick, paper, setting = (rows[k]["gain"]["mean"] for k in ("best_of_restarts", "study", "study_elsewhere"))
        said.append(f"The paper's protocol credits θ_r* with {paper:+.1f} points over one training of "
                    f"{gain['name']}. Keeping the best of {gain['restarts']} trainings of {gain['name']} alone, by "
                    f"validation, buys {pick:+.1f}; the settings θ_r* scored on the repetitions they were not "
                    f"picked on are worth {setting:+.1f}. That last number is what tuning the LMS settings "
                    f"gained; " + _luck_clause(paper - setting, gain["settings"]))
    caption = ("Test WA on the study's own splits. Grey lines join one repetition's values. Bars: mean, "
               "whiskers: ± std over repetitions; in brackets, the gain over the first bar.")
    return ['<h2 id="gain">Where the gain comes from</h2>', *(f"<p>{escape(s)}</p>" for s in said),
            _figure(image, "where the gain comes from", caption), _table_html(table)]


def _replay_section(replay: dict, image: bytes | None) -> list[str]:
    """The budget-vs-regret figure and table of a ``sertune replay`` of this study."""
    rows = [[r["spec"], f"{100 * r['epoch_fraction']['mean']:.1f}",
             f"{100 * r['device_fraction']['mean']:.1f}" if r.get("device_fraction") else "n/a",
             interval(r["regret"]), interval(r.get("setting_regret")), f"{100 * r['same_theta']:.0f}",
             "yes" if r["live"] else "replay only"] for r in replay["strategies"]]
    table = Table("replay", "", ["strategy", "epochs (% of brute force)", "device time (%)",
                                 "per-repetition regret [95 % of orders]", "setting regret [95 % of orders]",
                                 "same θ_r* (%)", "runs live"], rows)
    curves = replay["curves"]
    caption = (f"Each strategy replayed on this study's recorded learning curves ({counted(curves['settings'], 'setting')} x "
               f"{counted(curves['reps'], 'repetition')} x {counted(curves['epochs'], 'epoch')}) over "
               f"{counted(replay['orders'], 'arrival order')}: the epochs and device time it spends and the test WA it loses against brute force's "
               f"θ_r*, on the repetition each was picked on (per-repetition regret, the paper's protocol) and on "
               f"the other repetitions (setting regret: the setting without its training's luck); mean and the "
               f"range of 95 % of orders. Exact, not estimated: training is deterministic, so a run stopped at "
               f"epoch e reports the recorded curve's first e epochs.")
    return ['<h2 id="replay">Search strategies: what a cheaper search would have chosen</h2>',
            _figure(image, "budget against regret of search strategies", caption), _table_html(table),
            *(f"<p>Scale: {escape(line)}.</p>" for line in scale_lines(replay)),
            *(f"<p><em>note: {escape(n)}</em></p>" for n in curves.get("notes", []))]


def _dl(items: dict) -> str:
    """Settings as a definition list; floats as written (lr 0.0001, not 0.00)."""
    def text(v):
        return f"{v:g}" if isinstance(v, float) else fmt(v)
    return "<dl>" + "".join(f"<dt>{escape(str(k))}</dt><dd>{escape(text(v))}</dd>"
                            for k, v in items.items()) + "</dl>"


def _synthetic_banner(study: dict, context: dict) -> str:
    """A warning at the top of the page for a corpus made by ``sertune synth``."""
    if not study.get("synthetic"):
        return ""
    name = study["corpus"].get("name", "?")
    source = study.get("synthetic_source")
    return (f'<div class="banner warn"><b>Synthetic corpus.</b> {escape(study["corpus_text"])}: speech-like '
            f"audio made by <code>sertune synth</code> in the {escape(str(name))} layout, not recordings of "
            f"people. Its numbers show the method at work; they say nothing about recognising emotions in "
            f"{escape(str(name))} and are not set beside the paper's or the literature's."
            + (f" (Marker read from the {escape(source)}.)" if source else "") + "</div>")


def _not_comparable(what: str, context: dict) -> str:
    reasons = context.get("reasons") or ["the study's corpus and protocol are not recorded"]
    return (f"<p><em>{escape(what)}</em>: the paper's numbers apply to a real EmoDB, IEMOCAP or SAVEE under "
            f"its shuffle-and-split protocol, and here " + escape("; and ".join(reasons)) + ".</p>")


def render_html(doc: dict, images: dict[str, bytes | None]) -> str:
    """The page for a ``report.json`` document and its figures (name -> PNG bytes or None)."""
    by_name = {t.name: t for t in tables(doc)}
    study, cov = doc["study"], doc["coverage"]
    corpus = study["corpus"]
    status = ("ok", f"Complete: all {cov['planned']} planned (repetition, θ) cells are finished.") \
        if not doc["in_progress"] else \
        ("warn", f"In progress or incomplete: {cov['finished']} of {cov['planned']} cells finished "
                 f"({cov['complete']} complete, {cov['pruned']} pruned), {cov['failed']} failed, "
                 f"{cov['running']} running, "
                 + (f"{cov['interrupted']} interrupted (re-run the search to resume them), "
                    if cov.get("interrupted") else "")
                 + f"{cov['waiting'] + cov['missing']} not started. "
                 f"Numbers below use what is there.")
    hm = doc["heatmap"]
    by_rep = [k for k in CELL_STATES if k in cov]
    context = doc.get("paper_context") or {}
    corpus_text = study.get("corpus_text") or str(corpus.get("name", "?"))
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>sertune report: {escape(study['name'])}</title><style>{CSS}</style></head><body>",
        f"<h1>LMS parameter search <code>{escape(study['name'])}</code></h1>",
        f"<p>Corpus <b>{escape(corpus_text)}</b> "
        f"({escape(str(corpus.get('n_utterances', '?')))} utterances; classes: "
        f"{escape(', '.join(study['classes']))}); {counted(study['grid_size'], 'setting')} θ "
        f"(grid <code>{escape(str(study['grid_name']))}</code>) × {counted(study['reps'], 'repetition')}. "
        f"Usual setting θ•: {escape(study['usual_text'])}. All numbers are in %; mean ± std is over "
        f"repetitions, std with ddof=0 as in the authors' code. Generated {escape(doc['generated'])}.</p>",
        _synthetic_banner(study, context),
        f'<div class="banner {status[0]}">{escape(status[1])}</div>', _notes(doc["notes"]),
        "<nav>" + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in (
            ("coverage", "coverage"), ("tables", "Tables 3-5"), ("fig3", "Fig. 3"), ("fig4", "Fig. 4"),
            ("beyond", "beyond the paper"), *((("gain", "where the gain comes from"),) if doc.get("gain") else ()),
            *((("replay", "search strategies"),) if doc.get("replay") else ()),
            ("thetas", "θ_r* and ranking"), ("table6", "Table 6"),
            ("settings", "settings"), ("versions", "versions"))) + "</nav>",
        '<h2 id="coverage">Coverage</h2>', _table_html(by_name["coverage"]),
        _table_html(Table("by_rep", "", ["rep", *by_rep], [[r["rep"], *(r[k] for k in by_rep)]
                                                         for r in doc["coverage_by_rep"]])),
    ]
    if doc["failures"]:
        parts.append(_table_html(Table("failures", "", ["rep", "θ", "trial", "error"],
                                       [[f["rep"], f["key"], f["trial"], f["error"]] for f in doc["failures"]])))
    parts.append('<h2 id="tables">Tables 3, 4 and 5</h2>')
    for name in ("table3", "table4", "table5", "paper"):
        if name in by_name:
            parts += [f"<h3>{escape(by_name[name].title)}</h3>", _table_html(by_name[name])]
    if "paper" not in by_name:
        parts.append(_not_comparable("No comparison with the paper's numbers", context))
    fig3 = _figure(images.get("fig3_confusion"), "mean confusion matrix",
                   "Test confusion matrix of the selected θ_r*: the mean over repetitions with every cell "
                   "rounded to an integer, as in the paper (rows: true class, columns: prediction). Rounded "
                   "rows need not add up to a class's test utterances; the table with it has the "
                   "unrounded means.")
    if "confusion_mean" in by_name:
        fig3 = (f'<div class="side">{fig3}<div><h3>{escape(by_name["confusion_mean"].title)}</h3>'
                f'{_table_html(by_name["confusion_mean"])}</div></div>')
    parts += ['<h2 id="fig3">Fig. 3: confusion matrices of θ_r*</h2>', fig3,
              _figure(images.get("fig3_confusion_normalised"), "row-normalised confusion matrix",
                      "The same mean matrix with each row divided by its total: the diagonal is each class's "
                      "recall (%).")]
    caption4 = ("Mean validation WA of every setting over its complete repetitions; (T, L) on x, (M, H) on y; "
                "rows and columns ordered by hierarchical clustering (average linkage, Euclidean), "
                "dendrograms at the side. " + " ".join(n.rstrip(".") + "." for n in hm["notes"]))
    parts += ['<h2 id="fig4">Fig. 4: heat map of mean validation WA</h2>',
              _figure(images.get("fig4_heatmap"), "heat map of mean validation WA", caption4)]
    parts += ['<h2 id="beyond">Beyond the paper</h2>',
              _figure(images.get("marginals"), "marginal effects",
                      "For each value of one parameter, mean ± std (over the settings of the other three) "
                      "of the settings' mean validation WA; dashed red: θ•. A parameter with one value in "
                      "the grid has no panel.",
                      missing="not drawn: every LMS parameter takes one value in this grid"
                      if images.get("fig4_heatmap") and len(doc["marginals"].get("constant", []))
                      == len(doc["marginals"]["parameters"]) else "not available yet"),
              _figure(images.get("paired"), "test WA of θ_r* vs θ• per repetition",
                      "Left: test WA of θ• and of the selected θ_r* in each repetition (grey lines pair them), "
                      "with mean ± std. Right: the gain per repetition and the paired tests' p-values.")]
    if doc.get("gain"):
        parts += _gain_section(doc["gain"], images.get("gain"), by_name["gain"])
    if doc.get("replay"):
        parts += _replay_section(doc["replay"], images.get("replay"))
    parts += ['<h2 id="thetas">θ_r* of every repetition and the ranking of Θ</h2>',
              _table_html(by_name["selected"]), f"<h3>{escape(by_name['ranking'].title)}</h3>",
              _table_html(by_name["ranking"], limit=RANKING_SHOWN)]
    parts.append('<h2 id="table6">Table 6: comparison with the literature</h2>')
    parts.append(_table_html(by_name["table6"]) if "table6" in by_name
                 else _not_comparable("Table 6 is not shown", context))
    merged = {"merged from": "; ".join(f"{p['name']} ({counted(p['settings'], 'setting')}, {p['storage']})"
                                       for p in study["parts"])} if study.get("parts") else {}
    parts += ['<h2 id="settings">Settings</h2>', _dl({"study": study["name"], "storage": study["storage"], **merged,
                                                      **{f"corpus {k}": v for k, v in corpus.items()}}),
              "<h3>search settings</h3>", _dl(study["settings"] or {"(none recorded)": ""})]
    parts += ['<h2 id="versions">Software versions</h2>', "<h3>this report</h3>", _dl(doc["versions"])]
    if doc.get("study_environment"):
        parts += ["<h3>the search (as recorded by it)</h3>", _dl(doc["study_environment"])]
    parts.append("</body></html>")
    return "\n".join(parts)
