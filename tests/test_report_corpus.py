"""What a report says its corpus is: synthetic corpora named as such, the paper's numbers only
beside a real corpus of the paper under the paper's protocol, and every protocol difference labelled."""

from __future__ import annotations

import json
from html import escape

import pytest

from sertune.cli import main
from sertune.corpora.marker import write_marker
from sertune.report import build_report, subtitle
from sertune.report import tables
from sertune.report.render import tables as table_list
from sertune.study.search import grids

from study_fixtures import FakeTrial, fake_results, small_grid, write_study

GRID = small_grid()
MARKER = {"generator": "sertune synth", "version": "0.1.0", "layout": "emodb", "seed": 4, "speakers": 4,
          "per_class": 10, "sample_rate": 16000}
LABEL = "synthetic (sertune synth, layout emodb, seed 4)"
SHUFFLE = {"epochs": 150, "batch_size": 16, "lr": 1e-4, "protocol": "shuffle-split", "seed": 0, "pruner": "none",
           "remainder": "drop", "init": "scratch"}


def _trials(reps=2):
    return [FakeTrial(r, th, 60.0 + i + r, 58.0 + i) for r in range(reps) for i, th in enumerate(GRID)]


def _report(tmp_path, corpus_attrs, *, name="s"):
    write_study(tmp_path / "study", name, grid=GRID, trials=_trials(), reps=2, corpus_attrs=corpus_attrs)
    out = tmp_path / "report"
    assert main(["report", str(tmp_path / "study"), "--out", str(out)]) == 0
    return (json.loads((out / "report.json").read_text()), (out / "report.html").read_text(),
            (out / "tables.md").read_text())


@pytest.mark.slow
def test_a_synthetic_corpus_is_named_so_in_report_json_html_and_summary(tmp_path, capsys):
    doc, page, md = _report(tmp_path, {"synthetic": MARKER}, name="demo")
    assert capsys.readouterr().out.startswith(f"study demo on {LABEL}: ")
    study = doc["study"]
    assert (study["synthetic"], study["synthetic_source"], study["corpus_text"]) == (
        MARKER, "search metadata", LABEL)
    assert doc["paper_comparison"] == [] and doc["table6"] is None
    assert not doc["paper_context"]["comparable"] and LABEL in doc["paper_context"]["reasons"][0]
    assert f"Corpus <b>{LABEL}</b>" in page and "<b>Synthetic corpus.</b>" in page
    assert "Table 6 is not shown" in page and "No comparison with the paper" in page
    for paper_only in ("This study next to the paper", "Maji et al.", "88.22"):
        assert paper_only not in page and paper_only not in md
    assert subtitle(doc) == f"study demo, corpus {LABEL}"


@pytest.mark.slow
def test_an_older_study_is_checked_for_the_marker_file_at_its_root(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    write_marker(root, layout="emodb", seed=4)
    doc, page, _ = _report(tmp_path, {"root": str(root)})          # no "synthetic" key: written before it
    assert doc["study"]["corpus_text"] == LABEL
    assert doc["study"]["synthetic_source"] == f"marker file in {root}"
    assert doc["table6"] is None and "<b>Synthetic corpus.</b>" in page


@pytest.mark.parametrize("corpus_attrs", [{"synthetic": None}, {}])
@pytest.mark.slow
def test_a_real_corpus_of_the_paper_gets_the_comparison_with_its_differences(tmp_path, corpus_attrs):
    doc, page, md = _report(tmp_path, corpus_attrs)
    assert doc["study"]["synthetic"] is None and doc["study"]["corpus_text"] == "emodb"
    assert doc["paper_context"]["comparable"] and doc["table6"]["rows"][0]["work"] == "Maji et al."
    assert [r["quantity"] for r in doc["paper_comparison"]][:2] == ["val_wa_best", "val_wa_worst"]
    assert "Synthetic corpus" not in page and "This study next to the paper (emodb)" in page
    # The fixture's search: 3 epochs, K = 2, a 9-setting grid named "test", utterance splits.
    for difference in ("sertune splits utterances; the authors' code splits segments",
                       "the best epoch is chosen by validation WA", "3 epochs per training; the paper trains 150",
                       "K = 2 repetitions; the paper's K = 10", "grid test with 9 settings"):
        assert f"differs from the paper: {difference}" in md
        assert escape(difference) in page


@pytest.mark.parametrize("corpus,options,synthetic,protocol,reason", [
    ("emodb", {}, None, "shuffle-split", None),
    ("savee", {}, None, "shuffle-split", None),
    ("iemocap", {"subset": "improvised", "merge_excited": True}, None, "shuffle-split", None),
    ("iemocap", {"subset": "all", "merge_excited": True}, None, "shuffle-split", "the improvised subset"),
    ("iemocap", {"subset": "improvised", "merge_excited": False}, None, "shuffle-split", "excited merged"),
    ("ravdess", {}, None, "shuffle-split", "EmoDB, IEMOCAP and SAVEE only; this corpus is 'ravdess'"),
    ("emodb", {}, MARKER, "shuffle-split", f"the corpus is {LABEL}"),
    ("savee", {}, {**MARKER, "layout": "savee"}, "shuffle-split", "not recordings of people"),
    ("emodb", {}, None, "loso", "the protocol is loso"),
    ("iemocap", {}, None, "loso-session", "the protocol is loso-session"),
])
def test_paper_context(corpus, options, synthetic, protocol, reason):
    results = fake_results(GRID, _trials(), reps=2, corpus=corpus, settings={**SHUFFLE, "protocol": protocol},
                           corpus_attrs={"options": options})
    context = tables.paper_context(results, synthetic)
    assert context["comparable"] is (reason is None)
    if reason is not None:
        assert any(reason in r for r in context["reasons"]), context["reasons"]


@pytest.mark.parametrize("changes,difference", [
    ({"epochs": 30}, "30 epochs per training; the paper trains 150"),
    ({"pruner": "asha"}, "strategy asha:eta=3,min=1,bootstrap=0 stops or skips settings early"),
    ({"strategy": "median:startup=5,warmup=0,interval=1"}, "strategy median:startup=5,warmup=0,interval=1 stops"),
    ({"lr": 3e-4}, "learning rate 0.0003; the paper's is 0.0001"),
    ({"batch_size": 32}, "batch size 32; the paper's is 16"),
    ({"init": "imagenet"}, "initialisation imagenet; the authors' code trains from scratch"),
    ({"remainder": "pad"}, "remainder pad (tails of long utterances kept)"),
])
def test_every_setting_other_than_the_papers_is_labelled(changes, difference):
    results = fake_results(grids.paper_grid("emodb"), [], reps=10, settings={**SHUFFLE, **changes},
                           grid_name="paper")
    differences = tables.paper_context(results, None)["differences"]
    assert len(differences) == 4 and differences[-1].startswith(difference)


def test_a_segment_split_is_not_labelled_as_an_utterance_split():
    results = fake_results(grids.paper_grid("emodb"), [], reps=10, settings={**SHUFFLE, "split_unit": "segment"},
                           grid_name="paper")
    differences = tables.paper_context(results, None)["differences"]
    assert len(differences) == 2 and not any("splits utterances" in d for d in differences)


def test_the_paper_setup_itself_has_only_sertunes_own_differences():
    results = fake_results(grids.paper_grid("emodb"), [], reps=10, settings=SHUFFLE, grid_name="paper")
    differences = tables.paper_context(results, None)["differences"]
    assert len(differences) == 3
    assert [d.split(";")[0] for d in differences] == [
        "sertune splits utterances", "the best epoch is chosen by validation WA and tested once",
        "accuracy is per utterance (mean of its segments' log-probabilities)"]


def test_tables_of_a_synthetic_study_leave_out_the_paper_and_literature():
    results = fake_results(GRID, _trials(), reps=2, settings=SHUFFLE, corpus_attrs={"synthetic": MARKER})
    names = [t.name for t in table_list(build_report(results))]
    assert "paper" not in names and "table6" not in names
    assert {"table3", "table4", "table5", "confusion_mean"} <= set(names)
