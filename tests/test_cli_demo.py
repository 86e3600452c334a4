"""`sertune demo` end to end: the README's first command, on this machine's CPU."""

from __future__ import annotations

import io
import json

import pytest

from sertune.cli import main
from sertune.cli.demo import WithoutHints


@pytest.mark.slow
def test_demo_runs_end_to_end_and_writes_the_whole_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SERTUNE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "2", "--reps", "2"]) == 0    # the whole path, small
    printed = capsys.readouterr().out
    assert "[5/5] predict one file" in printed and "demo done in" in printed

    report = json.loads((out / "report" / "report.json").read_text())
    for table, keys in {"table3": ("val_wa_best", "val_wa_worst", "val_wa_usual"),
                        "table4": ("test_wa_tuned", "test_wa_usual"),
                        "table5": ("precision", "f1", "ua")}.items():
        for key in keys:
            assert set(report[table][key]) >= {"mean", "std"}, (table, key)
    assert len(report["selected"]) == 2
    assert report["coverage"]["planned"] == 10 and report["coverage"]["complete"] == 10
    html = (out / "report" / "report.html").read_text()
    pngs = sorted(p.name for p in (out / "report").glob("*.png"))
    assert len(pngs) >= 5
    assert html.count("data:image/png;base64,") >= len(pngs)
    for title in ("Table 3", "Table 4", "Table 5", "Fig. 3 unrounded"):
        assert title in html
    # The corpus is synthetic: said everywhere, and never set beside EmoDB's published numbers.
    label = "synthetic (sertune synth, layout emodb, seed 0)"
    assert report["study"]["corpus_text"] == label and report["study"]["synthetic"]["layout"] == "emodb"
    assert report["table6"] is None and report["paper_comparison"] == []
    assert f"Corpus <b>{label}</b>" in html and "Table 6 is not shown" in html
    assert "88.22" not in html and "Maji et al." not in html
    assert f"study demo on {label}" in printed
    assert "next: " not in printed                 # the steps' hints name folders the demo does not use
    assert (out / "model.onnx").stat().st_size > 1_000_000
    assert "03a01Wa.wav" in printed                               # the predicted file is shown

    # A second demo into the same folder is refused rather than mixed with the first.
    assert main(["demo", "--out", str(out)]) == 2


@pytest.mark.parametrize("writes,shown", [
    (["a\n", "next: sertune report x\n", "b\n"], "a\nb\n"),
    (["a\nnext: sertune corpus info y\nb"], "a\nb"),                 # a last line without newline is kept
    (["ne", "xt: split", " across writes\n", "c\n"], "c\n"),
    (["the next: step\n", "next:", "\n"], "the next: step\nnext:\n"),   # only lines that start with "next: "
    (["tail: next: z"], "tail: next: z"),
])
def test_the_demo_drops_the_steps_next_hints(writes, shown):
    out = io.StringIO()
    stream = WithoutHints(out)
    for text in writes:
        stream.write(text)
    stream.close()
    assert out.getvalue() == shown
