"""The report's tables as rows of cells, and their Markdown and CSV forms.

:func:`tables` turns the ``report.json`` document into :class:`Table` objects
whose cells are raw values (numbers, strings, None, ``{"mean", "std"}``); each
output format formats them its own way: Markdown and HTML as ``88.22 ± 1.87``,
CSV as two numeric columns so a spreadsheet can use them.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

#: Readable names of the paper's quantities.
QUANTITIES = {
    "val_wa_best": "validation WA* (θ_r*, best)", "val_wa_worst": "validation WA° (θ_r°, worst)",
    "val_wa_usual": "validation WA• (θ•, usual)", "test_wa_tuned": "test WA of θ_r* (tuned)",
    "test_wa_usual": "test WA of θ• (usual)", "precision": "weighted precision", "f1": "weighted F1",
    "ua": "UA (unweighted accuracy)", "recall": "weighted recall", "wa": "WA",
}


def counted(n: int, noun: str, nouns: str | None = None) -> str:
    """``"1 setting"``, ``"3 settings"``: a count with its noun in the right number
    (``nouns``: the plural where it is not ``noun + "s"``)."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


#: Cell states in the order the coverage tables list them (those a study's counts lack are left out).
CELL_STATES = ("complete", "pruned", "failed", "running", "interrupted", "waiting", "missing")


@dataclass
class Table:
    """One table: a file stem, a title, column names, rows of raw cells, and notes."""

    name: str
    title: str
    columns: list[str]
    rows: list[list]
    notes: list[str] = field(default_factory=list)


class PValue(float):
    """A p-value cell: shown with significant digits, not fixed decimals."""


class Seconds(float):
    """A segment length cell: shown as ``3`` or ``2.5``, not ``3.00``."""


def pvalue(p) -> PValue | None:
    return None if p is None else PValue(p)


def fmt(cell, digits: int = 2) -> str:
    """A cell as text: ``–`` for None, ``m ± s`` for a mean/std dict, fixed decimals for floats."""
    if cell is None:
        return "–"
    if isinstance(cell, PValue):
        return fmt_p(float(cell))
    if isinstance(cell, Seconds):
        return f"{float(cell):g}"
    if isinstance(cell, dict) and set(cell) == {"mean", "std"}:
        return f"{cell['mean']:.{digits}f} ± {cell['std']:.{digits}f}"
    if isinstance(cell, dict):
        return json.dumps(cell, ensure_ascii=False, default=str)
    if isinstance(cell, bool):
        return "yes" if cell else ""
    if isinstance(cell, float):
        return f"{cell:.{digits}f}"
    if isinstance(cell, (list, tuple)):
        return ", ".join(map(str, cell))
    return str(cell)


def fmt_p(p) -> str:
    return "–" if p is None else (f"{p:.3g}" if p >= 1e-3 else f"{p:.2e}")


def _theta_cells(theta: dict) -> list:
    return [theta["n_mels"], theta["win_length"], theta["hop_length"], Seconds(theta["segment"])]


#: Words for the coverage keys that are not a cell state (report.json keeps the keys).
COVERAGE_ROWS = {
    "planned": "planned (repetitions × settings)",
    "failed_trials": "failed trainings (every attempt, retried or not)",
    "duplicates": "duplicate trainings (a cell finished more than once; the first counts)",
}


def tables(doc: dict) -> list[Table]:
    """Every table of the report, in reading order."""
    cov = doc["coverage"]
    t3, t4, t5 = doc["table3"], doc["table4"], doc["table5"]
    out = [Table("coverage", "Coverage: planned (repetition, θ) cells by state", ["state", "cells"],
                 [[COVERAGE_ROWS.get(k, k), cov[k]] for k in ("planned", *CELL_STATES, "failed_trials", "duplicates")
                  if k in cov],
                 doc["coverage_notes"])]
    out.append(Table("table3", f"Table 3: validation WA over {counted(doc['reps_with_best'], 'repetition')} "
                     "(mean ± std, %)", ["quantity", "mean ± std (%)"],
                     [[QUANTITIES[k], t3[k]] for k in ("val_wa_best", "val_wa_worst", "val_wa_usual")],
                     t3["notes"]))
    out.append(Table("table4", "Table 4: test WA of the selected θ_r* vs the usual θ• (%)",
                     ["quantity", "value"],
                     [[QUANTITIES["test_wa_tuned"], t4["test_wa_tuned"]],
                      [QUANTITIES["test_wa_usual"], t4["test_wa_usual"]],
                      ["absolute gain (percentage points; the paper's \"~23 %\")", t4["gain_abs"]],
                      ["relative gain (% of θ• test WA)", t4["gain_rel"]],
                      [f"Wilcoxon signed-rank p (two-sided, {t4['n']} pairs)", pvalue(t4["wilcoxon_p"])],
                      [f"paired t-test p (two-sided, {t4['n']} pairs)", pvalue(t4["ttest_p"])]],
                     t4["notes"]))
    out.append(Table("table5", "Table 5: test metrics of θ_r* (mean ± std, %)", ["metric", "mean ± std (%)"],
                     [[QUANTITIES[k], t5[k]] for k in ("precision", "f1", "ua", "recall", "wa")],
                     t5["notes"]))
    context = doc.get("paper_context") or {}
    differences = [f"differs from the paper: {d}" for d in context.get("differences", [])]
    if doc["paper_comparison"]:
        out.append(Table("paper", f"This study next to the paper ({doc['study']['corpus'].get('name')})",
                         ["quantity", "paper (%)", "this study (%)"],
                         [[QUANTITIES[r["quantity"]], r["paper"], r["study"]] for r in doc["paper_comparison"]],
                         differences))
    t6 = doc["table6"]
    if t6:
        out.append(Table("table6", "Table 6: test WA against the literature (as cited by the paper)",
                         ["work", "year", "reference", "test WA (%)"],
                         [[r["work"] + (f" [{r['ref']}]" if r["ref"] else ""), r["year"], r["reference"],
                           {"mean": r["test_wa"], "std": r["std"]}
                           if r["std"] is not None and r["test_wa"] is not None else r["test_wa"]]
                          for r in t6["rows"]], t6["notes"] + differences))
    if doc["confusion"]:
        out.append(confusion_table(doc["confusion"]))
    if doc.get("gain"):
        g = doc["gain"]
        out.append(Table("gain", f"Where the gain comes from: {g['name']} restarted {g['restarts']} times on the "
                                 f"study's splits (test WA, mean ± std, %)",
                         ["", "test WA (%)", f"gain over one training of {g['name']} (points)"],
                         [[row["label"], row["test_wa"], row["gain"] if i else None]
                          for i, row in enumerate(g["rows"])], g["notes"]))
    out.append(Table("selected", "The selected θ_r* of every repetition",
                     ["rep", "M", "L", "H", "T (s)", "trial", "val WA (%)", "test WA (%)", "test UA (%)",
                      "test F1 (%)", "best epoch"],
                     [[s["rep"], *_theta_cells(s["theta"]), s["trial"], s["val_wa"], s["test_wa"],
                       s["test_ua"], s["test_f1"], s["best_epoch"]] for s in doc["selected"]]))
    out.append(Table("ranking", "Every θ by mean validation WA over its complete repetitions",
                     ["rank", "M", "L", "H", "T (s)", "mean val WA (%)", "std", "n", "pruned", "failed",
                      "missing", "usual θ•", "θ_r* in reps"],
                     [[r["rank"], *_theta_cells(r["theta"]), r["mean"], r["std"], r["n"], r["pruned"],
                       r["failed"], r["missing"], r["usual"], r["selected_in"]] for r in doc["ranking"]],
                     ["n = repetitions in the mean; pruned trials are not in it"]))
    return out


def confusion_table(conf: dict) -> Table:
    """Fig. 3's matrix unrounded: mean test utterances per (true, predicted) class over repetitions."""
    mean = conf["mean"]
    rows = [[true, *map(float, row), float(sum(row)), int(sum(conf["rounded"][i]))]
            for i, (true, row) in enumerate(zip(conf["classes"], mean))]
    return Table("confusion_mean", f"Fig. 3 unrounded: mean test confusion matrix of θ_r* over "
                 f"{counted(conf['reps'], 'repetition')} (utterances)",
                 ["true \\ predicted", *conf["classes"], "row total", "sum of rounded cells"], rows,
                 ["Fig. 3 rounds every cell to the nearest integer, as the paper does; a rounded row can "
                  "add up to more or less than the class's mean number of test utterances (row total)"])


def markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown table with its title and notes."""
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in table.rows]
    lines += [""] + [f"- {n}" for n in table.notes]
    return "\n".join(lines).rstrip() + "\n"


def csv_text(table: Table) -> str:
    """CSV with raw numbers; a mean ± std column becomes ``NAME mean`` and ``NAME std``."""
    split = [any(isinstance(row[i], dict) for row in table.rows) for i in range(len(table.columns))]
    header = []
    for name, s in zip(table.columns, split):
        header += [f"{name} mean", f"{name} std"] if s else [name]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in table.rows:
        cells = []
        for cell, s in zip(row, split):
            if s:
                cells += [cell["mean"], cell["std"]] if isinstance(cell, dict) else [_raw(cell), ""]
            else:
                cells.append(_raw(cell))
        writer.writerow(cells)
    return buf.getvalue()


def _raw(cell):
    if cell is None:
        return ""
    if isinstance(cell, (list, tuple)):
        return " ".join(map(str, cell))
    return float(cell) if isinstance(cell, float) else cell
