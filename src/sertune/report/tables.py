"""The paper's Tables 3-6, the selected θ_r* and a ranking of Θ, as pure functions of a study.

Every function takes a :class:`~sertune.study.store.results.StudyResults` and
returns plain data (dicts, lists, floats in %, None for "not available") that
goes to ``report.json`` unchanged; rendering is elsewhere. Means and stds are
over repetitions with :func:`sertune.training.metrics.mean_std` (population std, as the
authors' code). Only COMPLETE trials count: a pruned trial stopped early, so
its numbers would understate that setting.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

from ..corpora.marker import synthetic_label
from ..training.metrics import mean_std
from ..study.store import results as sr
from ..study.strategies.pruners import strategy_of
from ..features.theta import Theta, theta_key
from .literature import LITERATURE, PAPER_RESULTS, PAPER_SETUP, REFERENCES
from .render import counted

#: The θ_r* test metrics of Table 5 (the paper's precision and F1, plus UA, recall and WA).
TABLE5_METRICS = ("precision", "f1", "ua", "recall", "wa")


def _ms(values) -> dict | None:
    """mean ± std of a list, or None when it is empty."""
    values = list(values)
    return mean_std(values) if values else None


def theta_dict(theta: Theta) -> dict:
    return theta.as_dict()


def _reps_note(results: sr.StudyResults, have: dict, what: str) -> list[str]:
    missing = [r for r in range(results.reps) if r not in have]
    if not missing:
        return []
    return [f"{what}: {len(have)} of {counted(results.reps, 'repetition')} {'has' if len(have) == 1 else 'have'} "
            f"a complete trial; "
            f"missing in rep {', '.join(map(str, missing))}"]


def _usual_notes(results: sr.StudyResults) -> list[str]:
    """Why θ• values are absent: no θ• in the grid, or its trials pruned/failed/not run."""
    if results.usual is None:
        return ["the grid has no usual setting θ• (M=40 L=400 H=160 T=3 s in the paper): "
                "its columns are empty (null)"]
    have = sr.usual_per_rep(results)
    states = sr.cell_states(results)
    lacking = {r: states.get((r, results.usual), "off-grid") for r in range(results.reps) if r not in have}
    if not lacking:
        return []
    return [f"θ• ({results.usual}) has no complete trial in " +
            ", ".join(f"rep {r} ({s})" for r, s in lacking.items()) +
            "; θ• means are over the other repetitions"]


def table3(results: sr.StudyResults) -> dict:
    """Validation WA of θ_r* (best), θ_r° (worst) and θ• (usual), mean ± std over repetitions."""
    best, worst, usual = sr.best_per_rep(results), sr.worst_per_rep(results), sr.usual_per_rep(results)
    notes = _reps_note(results, best, "θ_r*")
    pruned = sr.coverage(results)["pruned"]
    if pruned:
        notes.append(f"WA° is the worst of the complete trials; {counted(pruned, 'pruned trial')} (stopped early "
                     f"because {'it was' if pruned == 1 else 'they were'} doing worse) {'is' if pruned == 1 else 'are'} "
                     f"left out, so the true worst may be lower")
    notes += _usual_notes(results)
    return {
        "val_wa_best": _ms(t.value for t in best.values()),
        "val_wa_worst": _ms(t.value for t in worst.values()),
        "val_wa_usual": _ms(t.value for t in usual.values()),
        "per_rep": [{"rep": r, "best": best[r].value, "worst": worst[r].value,
                     "usual": usual[r].value if r in usual else None} for r in best],
        "notes": notes,
    }


def paired_tests(a, b) -> dict:
    """Two-sided paired tests of a vs b over repetitions: Wilcoxon signed-rank and paired t.

    Returns ``{"n", "wilcoxon_p", "wilcoxon_stat", "ttest_p", "ttest_stat", "notes"}``; a
    p-value is None (with a note saying why) when the test is undefined: fewer than 2
    pairs, all differences zero, or (t-test) all differences equal.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    out = {"n": int(len(d)), "wilcoxon_p": None, "wilcoxon_stat": None, "ttest_p": None,
           "ttest_stat": None, "notes": []}
    if len(d) < 2:
        out["notes"].append(f"a paired test needs at least 2 repetitions with both θ* and θ•; "
                            f"there are {len(d)}")
        return out
    if np.all(d == 0):
        out["notes"].append("θ* and θ• have the same test WA in every repetition: nothing to test")
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on ties and small n; the notes say it
        w = stats.wilcoxon(a, b)
        out["wilcoxon_stat"], out["wilcoxon_p"] = _num(w.statistic), _num(w.pvalue)
        if np.ptp(d) == 0:
            out["notes"].append(f"every difference is {d[0]:+.2f}: the t statistic is undefined "
                                f"(zero variance)")
        else:
            t = stats.ttest_rel(a, b)
            out["ttest_stat"], out["ttest_p"] = _num(t.statistic), _num(t.pvalue)
    if len(d) < 6:
        out["notes"].append(f"with {len(d)} pairs the two-sided Wilcoxon p cannot go below "
                            f"{2 / 2 ** len(d):.3g}")
    return out


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def table4(results: sr.StudyResults) -> dict:
    """Test WA of θ_r* vs θ•, their gain (absolute in points, relative in %) and paired tests.

    The gain is over the repetitions that have both; the paper's "~23 %" (EmoDB)
    is the absolute gain, 88.22 - 64.78 points.
    """
    best, usual = sr.best_per_rep(results), sr.usual_per_rep(results)
    tuned = {r: t.test["wa"] for r, t in best.items() if t.test}
    base = {r: t.test["wa"] for r, t in usual.items() if t.test}
    paired = sorted(set(tuned) & set(base))
    a, b = [tuned[r] for r in paired], [base[r] for r in paired]
    tests = paired_tests(a, b)
    gain = rel = None
    if paired:
        gain = mean_std(np.subtract(a, b))
        rel = float(100.0 * (np.mean(a) - np.mean(b)) / np.mean(b)) if np.mean(b) else None
    notes = _usual_notes(results) + tests.pop("notes")
    if paired and len(paired) < len(tuned):
        notes.append(f"gain and tests use the {counted(len(paired), 'repetition')} with both θ* and θ•")
    return {
        "test_wa_tuned": _ms(tuned.values()),
        "test_wa_usual": _ms(base.values()),
        "gain_abs": gain, "gain_rel": rel,
        **tests,
        "per_rep": [{"rep": r, "tuned": tuned[r], "usual": base.get(r)} for r in sorted(tuned)],
        "notes": notes,
    }


def table5(results: sr.StudyResults) -> dict:
    """Weighted precision, weighted F1 (the paper's Table 5), UA, recall and WA of θ_r* on test."""
    best = [t for t in sr.best_per_rep(results).values() if t.test]
    doc = {m: _ms(t.test[m] for t in best if m in t.test) for m in TABLE5_METRICS}
    doc["notes"] = ["in %; the paper's Table 5 gives fractions (0.89 = 89 %)"]
    return doc


#: How a search setting other than the paper's is labelled (``value``: this study's, ``paper``: the paper's).
SETTING_DIFFERENCES = {
    "epochs": "{value} epochs per training; the paper trains {paper}",
    "batch_size": "batch size {value}; the paper's is {paper}",
    "lr": "learning rate {value:g}; the paper's is {paper:g}",
    "init": "initialisation {value}; the authors' code trains from {paper} (the paper's text says pre-trained)",
    "remainder": "remainder {value} (tails of long utterances kept); the authors' code drops them",
}


def paper_context(results: sr.StudyResults, synthetic: dict | None) -> dict:
    """Whether this study may stand next to the paper's numbers (Table 6, "this study next to
    the paper"), why not, and how its protocol differs from the paper's and the authors' code.

    Comparable means: a real (not synthetic) corpus of the paper (EmoDB, IEMOCAP with the
    paper's improvised 4-class subset, SAVEE) under the paper's shuffle-and-split protocol.
    ``reasons`` say why a study is not comparable; ``differences`` label every remaining
    difference of a comparable one (sertune's split unit and epoch selection, and any
    setting other than the paper's: epochs, K, grid, pruner, ...).
    """
    corpus = results.corpus.get("name") or ""
    settings = results.settings or {}
    reasons = []
    if synthetic is not None:
        reasons.append(f"the corpus is {synthetic_label(synthetic)}, made by `sertune synth` in the "
                       f"{corpus} layout, not recordings of people: published {corpus} results do not apply")
    elif corpus not in PAPER_RESULTS:
        reasons.append(f"the paper reports EmoDB, IEMOCAP and SAVEE only; this corpus is {corpus or '(unknown)'!r}")
    protocol = settings.get("protocol")
    if protocol != PAPER_SETUP["protocol"]:
        reasons.append(f"the protocol is {protocol or 'not recorded'}; the paper's is shuffle-split "
                       f"(stratified 80/20 train+val/test, then 80/20 train/val, per repetition)")
    options = results.corpus.get("options") or {}
    if corpus == "iemocap" and synthetic is None and (options.get("subset", "improvised") != "improvised"
                                                        or options.get("merge_excited", True) is not True):
        reasons.append(f"IEMOCAP options {dict(options)}; the paper uses the improvised subset with "
                       f"excited merged into happiness")
    differences = []
    if settings.get("split_unit", "utterance") == "utterance":
        differences.append("sertune splits utterances; the authors' code splits segments, so segments of one "
                           "utterance land in train and test (leakage that raises their numbers)")
    differences.append("the best epoch is chosen by validation WA and tested once; the authors' code keeps "
                       "the best test accuracy over the epochs")
    differences.append("accuracy is per utterance (mean of its segments' log-probabilities); the paper's is "
                       "per segment")
    for key, text in SETTING_DIFFERENCES.items():
        if key in settings and settings[key] != PAPER_SETUP[key]:
            differences.append(text.format(value=settings[key], paper=PAPER_SETUP[key]))
    strategy = strategy_of(settings)
    if strategy != "brute":
        differences.append(f"strategy {strategy} stops or skips settings early; the paper trains every "
                           f"setting for every epoch on every repetition")
    if results.reps != PAPER_SETUP["reps"]:
        differences.append(f"K = {counted(results.reps, 'repetition')}; the paper's K = {PAPER_SETUP['reps']}")
    if len(results.grid) != PAPER_SETUP["grid_size"] or results.grid_name != "paper":
        differences.append(f"grid {results.grid_name or '(unnamed)'} with {counted(len(results.grid), 'setting')}; the "
                           f"paper searches Table 2's {PAPER_SETUP['grid_size']} (with θ•)")
    return {"corpus": corpus, "synthetic": synthetic is not None, "comparable": not reasons,
            "reasons": reasons, "differences": differences}


def table6(results: sr.StudyResults, tuned: dict | None) -> dict:
    """The paper's literature comparison for this corpus, with this study's test WA added.

    The report shows it only where :func:`paper_context` says the study is comparable.
    """
    corpus = results.corpus.get("name", "")
    rows = [{"work": w, "ref": ref, "reference": REFERENCES.get(ref), "year": y, "test_wa": wa,
             "std": sd} for w, ref, y, wa, sd in LITERATURE.get(corpus, ())]
    rows.append({"work": f"this study ({results.name})", "ref": None, "reference": None, "year": None,
                 "test_wa": tuned["mean"] if tuned else None, "std": tuned["std"] if tuned else None})
    notes = ["literature rows are Table 6 of the paper; their protocols differ (splits, speakers, "
             "class sets), so they place this result rather than rank it"]
    if corpus not in LITERATURE:
        notes.append(f"the paper compares EmoDB, IEMOCAP and SAVEE only; corpus {corpus or '(unknown)'!r} "
                     f"has no literature rows")
    return {"corpus": corpus, "rows": rows, "notes": notes}


def paper_comparison(results: sr.StudyResults, doc: dict) -> list[dict]:
    """This study's Table 3-5 means next to the paper's for the same corpus (empty for others)."""
    paper = PAPER_RESULTS.get(results.corpus.get("name", ""))
    if not paper:
        return []
    ours = {"val_wa_best": doc["table3"]["val_wa_best"], "val_wa_worst": doc["table3"]["val_wa_worst"],
            "val_wa_usual": doc["table3"]["val_wa_usual"], "test_wa_tuned": doc["table4"]["test_wa_tuned"],
            "test_wa_usual": doc["table4"]["test_wa_usual"], "precision": doc["table5"]["precision"],
            "f1": doc["table5"]["f1"]}
    return [{"quantity": k, "paper": {"mean": m, "std": s}, "study": ours[k]} for k, (m, s) in paper.items()]


def selected(results: sr.StudyResults) -> list[dict]:
    """θ_r* of every repetition with its validation and test numbers."""
    rows = []
    for r, t in sr.best_per_rep(results).items():
        test = t.test or {}
        rows.append({"rep": r, "theta": theta_dict(t.theta), "key": t.key, "trial": t.number,
                     "val_wa": t.value, "test_wa": test.get("wa"), "test_ua": test.get("ua"),
                     "test_f1": test.get("f1"), "best_epoch": t.best_epoch, "epochs_run": t.epochs_run})
    return rows


def theta_values(results: sr.StudyResults) -> dict[Theta, list[float]]:
    """Validation WA of every COMPLETE (first) trial, per θ, in repetition order."""
    values: dict[Theta, list[float]] = {}
    for t in sorted(sr.complete_trials(results), key=lambda t: t.rep):
        values.setdefault(t.theta, []).append(t.value)
    return values


def ranking(results: sr.StudyResults) -> list[dict]:
    """Every θ, best mean validation WA first; θ with no complete trial last (mean None).

    ``n`` is the number of repetitions in the mean; ``pruned``, ``failed`` and
    ``missing`` count the other cells of that θ, so a mean over few repetitions
    (the others pruned) can be told apart.
    """
    values = theta_values(results)
    cells = sr.cell_states(results)
    thetas = list(dict.fromkeys(list(results.grid) + list(values)))
    chosen: dict[Theta, list[int]] = {}
    for r, t in sr.best_per_rep(results).items():
        chosen.setdefault(t.theta, []).append(r)
    order = {th: i for i, th in enumerate(thetas)}
    thetas.sort(key=lambda th: (th not in values, -np.mean(values[th]) if th in values else 0, order[th]))
    rows = []
    for rank, th in enumerate(thetas, 1):
        states = [cells.get((r, th)) for r in range(results.reps)]
        ms = _ms(values.get(th, ()))
        rows.append({"rank": rank if ms else None, "theta": theta_dict(th), "key": theta_key(th),
                     "mean": ms["mean"] if ms else None, "std": ms["std"] if ms else None,
                     "n": len(values.get(th, ())), "pruned": states.count("pruned"),
                     "failed": states.count("failed"),
                     "missing": sum(s not in ("complete", "pruned", "failed") for s in states),
                     "usual": th == results.usual, "selected_in": chosen.get(th, [])})
    return rows

