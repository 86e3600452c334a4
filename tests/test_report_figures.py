"""The figures carry information: no panel for a parameter with one value, a colour scale of at
least a few points with θ• on it, a legend of what is shown, and Fig. 3's rounding stated."""

from __future__ import annotations

import re

import numpy as np
import pytest

from sertune.report import build_report, draw_figures
from sertune.report import analysis
from sertune.report import figures
from sertune.report.html import render_html
from sertune.report.render import confusion_table
from sertune.study.search import grids
from sertune.study.search.grids import USUAL

from study_fixtures import FakeTrial, fake_results, metrics

#: The demo's grid: M ∈ {64, 80} × L ∈ {255, 511}, one H (160) and one T (1.5 s), plus θ• (a lone point).
DEMO = grids.product((64, 80), (255, 511), (160,), (1.5,)) + (USUAL,)
PNG = b"\x89PNG\r\n\x1a\n"


def _demo_doc(values=(44.0, 45.5, 45.0, 46.0, 40.0), reps=3, states=None):
    states = states or {}
    trials = [FakeTrial(r, th, values[i] + 0.1 * r, values[i], state=states.get(i, "complete"))
              for r in range(reps) for i, th in enumerate(DEMO)]
    return build_report(fake_results(DEMO, trials, reps=reps))


def test_a_parameter_with_one_value_gets_no_panel():
    doc = _demo_doc()
    marg = doc["marginals"]
    assert marg["constant"] == ["H", "T"]
    assert [len(marg["parameters"][k]["values"]) for k in "MLHT"] == [2, 2, 1, 1]
    panels, fixed = figures.marginal_panels(marg)
    assert list(panels) == ["M", "L"] and fixed == ["H = 160 samples", "T = 1.5 s"]
    assert figures.marginals_figure(marg)[:8] == PNG


@pytest.mark.parametrize("grid", [
    grids.product((64, 80, 96), (400,), (160,), (1.5,)) + (USUAL,),         # one parameter varies: one panel
    DEMO,
    grids.product((64, 80), (255, 511), (16, 32), (1.0, 2.0)),
])
def test_the_marginals_title_fits_the_figure(grid):
    trials = [FakeTrial(r, th, 44.0 + i, 44.0 + i) for r in range(2) for i, th in enumerate(grid)]
    marg = build_report(fake_results(grid, trials, reps=2))["marginals"]
    fig = figures.marginals_canvas(marg, subtitle="synthetic corpus (made by `sertune synth`), not recordings "
                                                  "of people")
    fig.canvas.draw()
    box, page = fig._suptitle.get_window_extent(), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and box.y1 <= page.y1, (box, page)
    assert "one value in every setting" in fig._suptitle.get_text() or len(grid) == 16


@pytest.mark.slow
def test_no_marginals_figure_when_every_parameter_has_one_value():
    grid = (grids.Theta(64, 400, 160, 3.0),)
    doc = build_report(fake_results(grid, [FakeTrial(0, grid[0], 50.0, 49.0)], reps=1, usual=None))
    assert doc["marginals"]["constant"] == ["M", "L", "H", "T"]
    images = draw_figures(doc)
    assert images["marginals"] is None and images["fig4_heatmap"][:8] == PNG
    page = render_html(doc, images)
    assert "marginal effects: not drawn: every LMS parameter takes one value in this grid." in page


@pytest.mark.parametrize("values,limits", [
    ([70.0, 71.0], (68.0, 73.0)),           # 1 point apart: widened about the middle to 5
    ([45.8, 46.3, 44.3, 45.3], (42.8, 47.8)),
    ([60.0, 80.0], (60.0, 80.0)),           # wide enough already
    ([55.0, 55.0], (52.5, 57.5)),           # one value
    ([99.0, 99.5], (95.0, 100.0)),          # kept within 0..100
    ([0.5, 1.0], (0.0, 5.0)),
    ([np.nan, np.nan], (0.0, 100.0)),       # nothing to scale
])
def test_colour_scale_spans_at_least_five_points(values, limits):
    assert figures.colour_limits(np.array(values)) == pytest.approx(limits)


def test_heatmap_keeps_theta_usual_for_the_colour_bar_and_the_legend_lists_what_is_shown():
    hm = _demo_doc()["heatmap"]
    assert hm["usual"] == pytest.approx(40.1) and hm["usual_on_map"] is False
    assert figures.heatmap_legend(hm) == [
        ("best", "best mean"), ("usual", "θ• (usual, not on the map): 40.1 on the colour bar")]
    assert figures.heatmap_figure(hm)[:8] == PNG


@pytest.mark.parametrize("states,kinds", [
    ({}, ["best", "usual"]),
    ({1: "pruned"}, ["pruned", "best", "usual"]),
    ({1: "running"}, ["missing", "best", "usual"]),
    ({4: "failed"}, ["best"]),                              # θ• never finished: nothing to mark
])
def test_heatmap_legend_lists_only_states_present(states, kinds):
    doc = _demo_doc(states=states)
    assert [kind for kind, _ in figures.heatmap_legend(doc["heatmap"])] == kinds


@pytest.mark.slow
def test_paper_sized_heatmap_with_missing_and_pruned_cells_renders():
    grid = grids.paper_grid("emodb")
    rng = np.random.default_rng(1)
    trials = [FakeTrial(0, th, float(70 + rng.normal(0, 3)), 70.0, state="pruned" if k % 7 == 0 else "complete")
              for k, th in enumerate(grid) if k % 11]
    hm = build_report(fake_results(grid, trials, reps=1))["heatmap"]
    assert [k for k, _ in figures.heatmap_legend(hm)] == ["missing", "pruned", "best", "usual"]
    assert figures.heatmap_figure(hm, subtitle="study x, corpus emodb")[:8] == PNG


def test_fig3_table_gives_the_unrounded_counts_that_rounding_hides():
    """Row means 2.4, 2.4, 3.2 (8 utterances) round to 2, 2, 3: the rounded row sums to 7."""
    rows = ([3, 2, 3], [2, 3, 3], [2, 2, 4], [3, 2, 3], [2, 3, 3])
    other = [[0, 8, 0], [0, 0, 8]]
    trials = [FakeTrial(r, DEMO[0], 70.0, 70.0, test=metrics(70.0, confusion=[row, *other]))
              for r, row in enumerate(rows)]
    conf = analysis.mean_confusion(fake_results(DEMO, trials, reps=5, classes=("a", "b", "c")))
    assert conf["rounded"][0] == [2, 2, 3]
    table = confusion_table(conf)
    assert table.columns == ["true \\ predicted", "a", "b", "c", "row total", "sum of rounded cells"]
    assert table.rows[0] == ["a", pytest.approx(2.4), pytest.approx(2.4), pytest.approx(3.2), pytest.approx(8.0), 7]
    assert table.rows[1] == ["b", 0.0, 8.0, 0.0, 8.0, 8]
    assert "rounds every cell to the nearest integer, as the paper does" in table.notes[0]
    assert figures.confusion_figure(conf, normalised=False)[:8] == PNG


@pytest.mark.slow
def test_fig3_and_its_unrounded_table_sit_side_by_side_in_the_page():
    doc = _demo_doc()
    page = render_html(doc, draw_figures(doc))
    side = page[page.index('<div class="side">'):page.index('<h2 id="fig4">')]
    assert "mean confusion matrix" in side and "Fig. 3 unrounded" in side
    assert "rounded to an integer, as in the paper" in side


@pytest.mark.parametrize("values,gap,expected", [
    ([77.4, 76.6, 77.6], 0.8, [77.4, 76.6, 78.2]),           # 77.6 moved up clear of 77.4
    ([70.0, 70.0, 70.0], 1.0, [70.0, 71.0, 72.0]),           # equal values spread upwards in order
    ([60.0, 80.0], 1.0, [60.0, 80.0]),                        # far apart: at their points
    ([], 1.0, []),
])
def test_repetition_labels_of_the_paired_figure_do_not_overlap(values, gap, expected):
    assert figures.label_positions(values, gap) == pytest.approx(expected)


def test_interrupted_cells_are_counted_in_the_coverage_tables():
    doc = _demo_doc()
    doc["coverage"] = {**doc["coverage"], "interrupted": 2}
    doc["coverage_by_rep"] = [{**r, "interrupted": 1 if r["rep"] < 2 else 0} for r in doc["coverage_by_rep"]]
    doc["in_progress"] = True
    page = render_html(doc, {})
    assert "<td>interrupted</td><td class=\"num\">2</td>" in page
    assert "2 interrupted (re-run the search to resume them)" in page
    assert "<th>running</th><th>interrupted</th><th>waiting</th>" in page


def test_the_coverage_table_says_in_words_what_is_not_a_cell_state():
    doc = _demo_doc(states={1: "failed"})
    assert doc["coverage"]["failed_trials"] == 3                    # report.json keeps its keys
    page = render_html(doc, {})
    assert "failed_trials" not in page and "<td>duplicates</td>" not in page
    assert "<td>failed trainings (every attempt, retried or not)</td><td class=\"num\">3</td>" in page
    assert "<td>failed</td><td class=\"num\">3</td>" in page and "<td>planned (repetitions × settings)</td>" in page


def test_theta_usual_inside_the_grid_is_outlined_on_the_map():
    grid = grids.product((40, 64), (400, 512), (160,), (3.0,))          # θ• is one of its cells
    trials = [FakeTrial(r, th, 50.0 + i, 50.0) for r in range(2) for i, th in enumerate(grid)]
    hm = build_report(fake_results(grid, trials, reps=2))["heatmap"]
    i, j = hm["usual_cell"]
    assert (hm["rows"][i], hm["columns"][j]) == ([40, 160], [3.0, 400]) and hm["values"][i][j] == 50.0
    assert figures.heatmap_legend(hm)[-2:] == [
        ("usual_cell", "θ• (usual)"), ("usual", "θ• (usual): 50.0 on the colour bar")]
    assert figures.heatmap_figure(hm)[:8] == PNG


def test_counts_of_one_take_the_singular():
    """One repetition, one pruned cell, one cell not run: no "1 cells" anywhere."""
    grid = grids.product((64, 80, 96), (400,), (160,), (1.5,))
    trials = [FakeTrial(0, grid[0], 45.0, 44.0), FakeTrial(0, grid[1], 40.0, 40.0, state="pruned")]
    doc = build_report(fake_results(grid, trials, reps=1))
    text = " ".join(doc["notes"] + doc["coverage_notes"] + doc["heatmap"]["notes"] + doc["table3"]["notes"])
    assert "1 cell was pruned" in text and "1 of 3 cells is not finished" in text
    assert "1 cell has no trial" in text and "1 cell holds only pruned trials" in text
    assert "1 pruned trial (stopped early because it was doing worse) is left out" in text
    page = render_html(doc, {})
    assert re.search(r"\b1 (cells|repetitions|settings|trainings|trials)\b", text + page) is None
    assert "Table 3: validation WA over 1 repetition (" in page and "× 1 repetition." in page
