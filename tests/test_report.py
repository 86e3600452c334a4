"""sertune.report and ``sertune report``: every table cell, θ_r*, clustering and tests on known numbers."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from scipy import stats

from sertune.cli import main
from sertune.report import analysis, build_report, draw_figures, tables
from sertune.report.render import csv_text, markdown
from sertune.report.render import tables as table_list
from sertune.features.theta import Theta, theta_key
from sertune.study.search import grids
from sertune.study.store import results as sr
from sertune.study.store.locate import find_storage
from sertune.study.search.grids import USUAL

from study_fixtures import FakeTrial, fake_results, metrics, small_grid, write_study

GRID = small_grid()          # g0..g7: T ∈ {1, 2} × L ∈ {255, 511} × M ∈ {64, 128}, H = 32; g8 = θ•
G = dict(enumerate(GRID))

# Validation and test WA of every (rep, θ): rows = reps, columns = g0..g8.
VAL = np.array([[70, 72, 75, 80, 66, 90, 71, 73, 62],
                [71, 85, 74, 78, 64, 84, 70, 72, 65],
                [70, 88, 73, 77, 67, 86, 88, 72, 63]], dtype=float)
TEST = np.array([[69, 70, 74, 79, 65, 88, 70, 72, 60],
                 [70, 83, 73, 77, 63, 82, 69, 71, 66],
                 [69, 84, 72, 76, 66, 85, 87, 71, 61]], dtype=float)
PRUNED = {(1, 7)}            # rep 1, g7: pruned with a value of 99 (would win if counted)
FAILED = {(2, 2)}            # rep 2, g2: failed, never finished
# θ_r*: rep 0 g5 (90), rep 1 g1 (85; the pruned 99 does not count), rep 2 g1 (88, tied with g6: lower number)
BEST = {0: 5, 1: 1, 2: 1}
CONF = {0: [[9, 1, 0, 0], [1, 8, 1, 0], [0, 0, 10, 0], [0, 1, 0, 9]],
        1: [[8, 2, 0, 0], [0, 9, 1, 0], [1, 0, 9, 0], [0, 0, 1, 9]],
        2: [[10, 0, 0, 0], [1, 9, 0, 0], [0, 1, 9, 0], [0, 0, 0, 10]]}
T5 = {0: dict(precision=88.4, f1=87.9, ua=86.1), 1: dict(precision=83.6, f1=82.7, ua=81.9),
      2: dict(precision=84.8, f1=83.1, ua=83.3)}


def _trials():
    out = []
    for r in range(3):
        for i, th in G.items():
            if (r, i) in PRUNED:
                out.append(FakeTrial(r, th, 99.0, state="pruned"))
            elif (r, i) in FAILED:
                out.append(FakeTrial(r, th, state="failed"))
            else:
                test = metrics(TEST[r, i], confusion=CONF[r], **T5[r]) if BEST[r] == i else None
                out.append(FakeTrial(r, th, VAL[r, i], TEST[r, i], test=test))
    return out


def _ok(r, i):
    return (r, i) not in PRUNED | FAILED


def ms(values):
    values = np.asarray(values, dtype=float)
    return {"mean": pytest.approx(values.mean()), "std": pytest.approx(values.std())}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    write_study(folder, "known", grid=GRID, trials=_trials(), reps=3)
    return folder


@pytest.fixture(scope="module")
def results(study):
    return sr.load_results(*find_storage(study))


@pytest.fixture(scope="module")
def doc(results):
    return build_report(results)


@pytest.mark.slow
def test_selected_theta_per_repetition(doc):
    assert [(s["rep"], s["key"], s["val_wa"], s["test_wa"]) for s in doc["selected"]] == [
        (r, theta_key(G[i]), VAL[r, i], TEST[r, i]) for r, i in BEST.items()]
    assert doc["selected"][0]["theta"] == {"n_mels": 128, "win_length": 255, "hop_length": 32, "segment": 2.0}


def test_table3(doc):
    t3 = doc["table3"]
    worst = [min(VAL[r, i] for i in range(9) if _ok(r, i)) for r in range(3)]
    assert t3["val_wa_best"] == ms([90, 85, 88])
    assert t3["val_wa_worst"] == ms(worst) and worst == [62, 64, 63]
    assert t3["val_wa_usual"] == ms(VAL[:, 8])
    assert any("1 pruned" in n for n in t3["notes"])


def test_table4_and_paired_tests_match_scipy(doc):
    t4 = doc["table4"]
    tuned = [TEST[r, i] for r, i in BEST.items()]
    usual = TEST[:, 8]
    assert t4["test_wa_tuned"] == ms(tuned) and t4["test_wa_usual"] == ms(usual)
    assert t4["gain_abs"] == ms(np.subtract(tuned, usual))
    assert t4["gain_rel"] == pytest.approx(100 * (np.mean(tuned) - np.mean(usual)) / np.mean(usual))
    assert t4["wilcoxon_p"] == pytest.approx(stats.wilcoxon(tuned, usual).pvalue)
    assert t4["ttest_p"] == pytest.approx(stats.ttest_rel(tuned, usual).pvalue)
    assert t4["n"] == 3 and any("cannot go below 0.25" in n for n in t4["notes"])


def test_table5(doc):
    t5 = doc["table5"]
    for m in ("precision", "f1", "ua"):
        assert t5[m] == ms([T5[r][m] for r in range(3)])
    assert t5["wa"] == ms([TEST[r, i] for r, i in BEST.items()])


def test_table6_has_the_literature_and_this_study(doc):
    rows = doc["table6"]["rows"]
    assert [r["test_wa"] for r in rows[:5]] == [90.31, 87.72, 86.96, 85.42, 88.22]
    assert rows[0]["work"] == "Maji et al." and rows[0]["ref"] == 15 and "Electronics" in rows[0]["reference"]
    assert rows[-1]["work"] == "this study (known)"
    assert rows[-1]["test_wa"] == pytest.approx(np.mean([88, 83, 84]))


def test_coverage(doc):
    c = doc["coverage"]
    assert (c["planned"], c["complete"], c["pruned"], c["failed"]) == (27, 25, 1, 1)
    assert doc["in_progress"] and any("pruned" in n for n in doc["notes"])


def test_ranking_excludes_pruned_and_counts_repetitions(doc):
    means = {i: np.mean([VAL[r, i] for r in range(3) if _ok(r, i)]) for i in range(9)}
    expect = sorted(range(9), key=lambda i: (-means[i], i))
    ranking = doc["ranking"]
    assert [r["key"] for r in ranking] == [theta_key(G[i]) for i in expect]
    by_key = {r["key"]: r for r in ranking}
    g7, g2 = by_key[theta_key(G[7])], by_key[theta_key(G[2])]
    assert (g7["n"], g7["pruned"], g7["mean"]) == (2, 1, pytest.approx(np.mean([73, 72])))
    assert (g2["n"], g2["failed"]) == (2, 1)
    assert by_key[theta_key(G[1])]["selected_in"] == [1, 2]
    assert by_key[theta_key(USUAL)]["usual"] is True
    assert [r["rank"] for r in ranking] == list(range(1, 10))


def test_mean_confusion_is_rounded_half_up(doc):
    conf = doc["confusion"]
    mean = np.mean([CONF[r] for r in range(3)], axis=0)
    assert np.allclose(conf["mean"], mean)
    assert conf["rounded"] == np.floor(mean + 0.5).astype(int).tolist()
    assert conf["rounded"][0][0] == 9 and conf["rounded"][1][2] == 1 and conf["rounded"][2][0] == 0
    assert np.allclose(np.sum(conf["row_percent"], axis=1), 100)
    assert conf["classes"] == ["anger", "happiness", "neutral", "sadness"]


def test_confusion_halves_round_up():
    """The paper rounds to the nearest integer; halves go up (numpy's rint would give 0 and 2)."""
    a, b = [[1, 2], [0, 3]], [[0, 3], [1, 2]]            # means 0.5, 2.5 / 0.5, 2.5
    trials = [FakeTrial(r, G[0], 70.0, 70.0, test=metrics(70.0, confusion=c)) for r, c in enumerate((a, b))]
    conf = analysis.mean_confusion(fake_results(GRID, trials, reps=2, classes=("x", "y")))
    assert conf["rounded"] == [[1, 3], [1, 3]] and conf["reps"] == 2


def test_heatmap_cells_and_clustering(doc):
    hm = doc["heatmap"]
    assert sorted(hm["row_order"]) == [0, 1] and sorted(hm["col_order"]) == [0, 1, 2, 3]
    assert sorted(map(tuple, hm["rows"])) == [(64, 32), (128, 32)]
    assert sorted(map(tuple, hm["columns"])) == [(1.0, 255), (1.0, 511), (2.0, 255), (2.0, 511)]
    means = analysis.theta_means(sr.load_results(doc["study"]["storage"], "known"))
    for i, (m, h) in enumerate(hm["rows"]):
        for j, (t, w) in enumerate(hm["columns"]):
            assert hm["values"][i][j] == pytest.approx(means[Theta(m, w, h, t)])
    assert any("left out" in n for n in hm["notes"])            # θ• is a lone point, shown in Table 3


def test_cluster_order_is_a_permutation_with_missing_cells():
    rng = np.random.default_rng(0)
    m = rng.normal(70, 5, (12, 7))
    m[3, 2] = m[5, :3] = np.nan
    order, z, note = analysis.cluster_order(m)
    assert sorted(order) == list(range(12)) and z is not None and "filled" in note
    assert analysis.cluster_order(m[:1]) == ([0], None, "only 1, nothing to cluster, order kept")
    order, z, note = analysis.cluster_order(np.full((3, 2), np.nan))
    assert order == [0, 1, 2] and z is None and "no values" in note


def test_paired_tests_edge_cases():
    one = tables.paired_tests([80.0], [70.0])
    assert one["wilcoxon_p"] is None and one["ttest_p"] is None and "at least 2" in one["notes"][0]
    same = tables.paired_tests([80.0, 81.0], [80.0, 81.0])
    assert same["wilcoxon_p"] is None and same["ttest_p"] is None
    const = tables.paired_tests([80.0, 81.0, 82.0], [75.0, 76.0, 77.0])
    assert const["ttest_p"] is None and any("+5.00" in n for n in const["notes"])
    assert const["wilcoxon_p"] == pytest.approx(stats.wilcoxon([80, 81, 82], [75, 76, 77]).pvalue)


@pytest.mark.slow
def test_no_usual_setting_gives_nulls_with_a_note(tmp_path):
    grid = small_grid(with_usual=False)
    trials = [FakeTrial(r, th, 70.0 + i + r, 69.0 + i) for r in range(2) for i, th in enumerate(grid)]
    out = tmp_path / "out"
    write_study(tmp_path / "s", "nousual", grid=grid, trials=trials, reps=2)
    assert main(["report", str(tmp_path / "s"), "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert doc["table3"]["val_wa_usual"] is None and doc["table4"]["test_wa_usual"] is None
    assert doc["table4"]["wilcoxon_p"] is None and doc["table4"]["ttest_p"] is None
    assert any("no usual setting" in n for n in doc["table3"]["notes"])
    assert doc["table3"]["val_wa_best"]["mean"] == pytest.approx(77.5)
    assert not doc["in_progress"]


@pytest.mark.slow
def test_study_in_progress(tmp_path, capsys):
    trials = [FakeTrial(0, G[0], 70.0, 69.0), FakeTrial(0, G[1], 72.0, 71.0), FakeTrial(0, G[2], state="running")]
    write_study(tmp_path, "wip", grid=GRID, trials=trials, reps=3, studies=[0])
    assert main(["report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "IN PROGRESS" in out and str((tmp_path / "report" / "report.html").resolve()) in out
    doc = json.loads((tmp_path / "report" / "report.json").read_text())
    assert doc["coverage"]["complete"] == 2 and doc["coverage"]["running"] == 1
    assert [s["rep"] for s in doc["selected"]] == [0]
    assert any("no study yet for rep 1, 2" in n for n in doc["notes"])
    assert doc["table3"]["val_wa_usual"] is None and any("rep 0 (missing)" in n for n in doc["table3"]["notes"])


@pytest.mark.slow
def test_cli_writes_every_file_and_the_contract_keys(study, tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(study), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "report.json", "tables.md", "table3.csv", "table4.csv", "table5.csv", "table6.csv",
            "selected.csv", "ranking.csv", "coverage.csv", "fig3_confusion.png", "fig3_confusion_normalised.png",
            "fig4_heatmap.png", "marginals.png", "paired.png"} <= names
    doc = json.loads((out / "report.json").read_text())
    for key in ("val_wa_best", "val_wa_worst", "val_wa_usual"):
        assert set(doc["table3"][key]) == {"mean", "std"}
    assert {"test_wa_tuned", "test_wa_usual", "wilcoxon_p", "ttest_p"} <= set(doc["table4"])
    assert {"precision", "f1", "ua"} <= set(doc["table5"])
    assert set(doc["selected"][0]) >= {"rep", "theta", "val_wa", "test_wa"}
    assert {"planned", "complete", "pruned", "failed"} <= set(doc["coverage"])
    with open(out / "table3.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["quantity", "mean ± std (%) mean", "mean ± std (%) std"]
    assert float(rows[1][1]) == pytest.approx(np.mean([90, 85, 88]))
    md = (out / "tables.md").read_text()
    assert "| validation WA* (θ_r*, best) | 87.67 ± 2.05 |" in md


@pytest.mark.slow
def test_cli_storage_and_study_flags_and_errors(study, tmp_path, capsys):
    url = json.loads((study / "search.json").read_text())["storage"]
    assert main(["report", "--storage", url, "--study", "known", "--out", str(tmp_path / "o"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["study"]["name"] == "known"
    assert main(["report", "--storage", url]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: study folder")
    assert main(["report", str(study), "--study", "nope", "--out", str(tmp_path / "o")]) == 2
    assert "no study nope.rep0" in capsys.readouterr().err


@pytest.mark.slow
def test_html_is_self_contained(study, tmp_path):
    out = tmp_path / "h"
    assert main(["report", str(study), "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 5
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', page)     # nothing but data URIs and anchors
    assert "<link" not in page and "<script" not in page and "url(" not in page and "@import" not in page


def test_markdown_and_csv_render_every_table(doc):
    for t in table_list(doc):
        text = markdown(t)
        assert text.startswith("### ") and text.count("\n|") >= len(t.rows) + 1
        assert len(list(csv.reader(csv_text(t).splitlines()))) == len(t.rows) + 1


@pytest.mark.slow
def test_paper_sized_grid_heatmap_and_figures():
    """511 settings × 2 repetitions in memory: 34 × 15 map, θ• left out, every figure renders."""
    grid = grids.paper_grid("emodb")
    rng = np.random.default_rng(0)
    trials = [FakeTrial(r, th, float(70 + rng.normal(0, 3)), float(70 + rng.normal(0, 3)))
              for r in range(2) for th in grid]
    doc = build_report(fake_results(grid, trials, reps=2))
    hm = doc["heatmap"]
    assert len(hm["rows"]) == 34 and len(hm["columns"]) == 15
    assert sorted(hm["row_order"]) == list(range(34)) and sorted(hm["col_order"]) == list(range(15))
    assert len(doc["marginals"]["parameters"]["M"]["values"]) == 17
    assert doc["marginals"]["usual"] is not None
    images = draw_figures(doc)
    assert images.pop("gain") is None                        # no restart control in this study
    assert all(png is not None and png[:8] == b"\x89PNG\r\n\x1a\n" for png in images.values())


def test_a_study_with_no_finished_trial_reports_what_is_missing(tmp_path):
    write_study(tmp_path, "empty", grid=GRID, trials=[FakeTrial(0, G[0], state="running")], reps=2, studies=[0])
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["table3"]["val_wa_best"] is None and doc["table4"]["test_wa_tuned"] is None
    assert doc["selected"] == [] and doc["confusion"] is None and doc["in_progress"]
    assert not list((tmp_path / "r").glob("*.png"))
    page = (tmp_path / "r" / "report.html").read_text()
    assert "not available yet" in page and "In progress" in page


def test_trainings_at_chance_are_named_in_the_report_and_the_status():
    """Two complete trainings of rep 1 that never learned (val UA 25 % of 4 classes): a coverage note
    in the report, a warning line in `sertune status`; both still count as trainings."""
    from sertune.cli.search import format_status
    from sertune.study.search.progress import Progress

    grid = small_grid()
    trials = [FakeTrial(r, th, 60.0 + i, 58.0, val=metrics(25.0) if r == 1 and i < 2 else None)
              for r in range(2) for i, th in enumerate(grid)]
    doc = build_report(fake_results(grid, trials, reps=2))
    note, = [n for n in doc["coverage_notes"] if "at chance" in n]
    assert note.startswith("2 complete trainings ended at chance") and "25.0 %" in note and "rep 1 (2)" in note
    status = Progress(planned=18, complete=18, at_chance=2).as_json()
    assert status["at_chance"] == 2
    assert "warning: 2 of the 18 complete trainings ended at chance" in format_status(status, "s")
    assert "at chance" not in format_status(Progress(planned=18, complete=18).as_json(), "s")
