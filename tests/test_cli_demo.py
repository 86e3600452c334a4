"""`sertune demo` end to end: the README's first command, on this machine's CPU."""

from __future__ import annotations

import json

from sertune.cli import main


def test_demo_runs_end_to_end_and_writes_the_whole_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SERTUNE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[5/5] predict one file" in printed and "demo done in" in printed

    report = json.loads((out / "report" / "report.json").read_text())
    for table, keys in {"table3": ("val_wa_best", "val_wa_worst", "val_wa_usual"),
                        "table4": ("test_wa_tuned", "test_wa_usual"),
                        "table5": ("precision", "f1", "ua")}.items():
        for key in keys:
            assert set(report[table][key]) >= {"mean", "std"}, (table, key)
    assert len(report["selected"]) == 3
    assert report["coverage"]["planned"] == 15 and report["coverage"]["complete"] == 15
    html = (out / "report" / "report.html").read_text()
    pngs = sorted(p.name for p in (out / "report").glob("*.png"))
    assert len(pngs) >= 5
    assert html.count("data:image/png;base64,") >= len(pngs)
    for title in ("Table 3", "Table 4", "Table 5", "Table 6"):
        assert title in html
    assert (out / "model.onnx").stat().st_size > 1_000_000
    assert "03a01Wa.wav" in printed                               # the predicted file is shown

    # A second demo into the same folder is refused rather than mixed with the first.
    assert main(["demo", "--out", str(out)]) == 2
