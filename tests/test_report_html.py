"""report.html in a real browser: headless Chromium loads the page offline and every figure decodes.

Skipped with a reason when no Chromium is installed, except under CI (CI=true),
where a missing browser is a failure: this check must never pass silently.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess

import pytest

from sertune.report import write_report
from sertune.study.store import results as sr
from sertune.study.store.locate import find_storage

from study_fixtures import FakeTrial, small_grid, write_study

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

#: Appended to a copy of the page: after load, write every image's state and natural size into the DOM.
PROBE = ('<script>window.addEventListener("load",()=>{const o=document.createElement("pre");'
         'o.id="probe";o.textContent=[...document.images].map(i=>i.complete+":"+i.naturalWidth+"x"'
         '+i.naturalHeight).join(",");document.body.appendChild(o);});</script>')


def _browser() -> str:
    found = os.environ.get("SERTUNE_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("Chromium is not installed, and CI must run the browser check: "
                    "apt-get install -y chromium (see .ci/run)")
    pytest.skip("Chromium is not installed (apt-get install chromium); CI runs this check")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _loaded_images(browser: str, page: str, tmp_path) -> list[tuple[str, tuple[int, int]]]:
    """(complete, natural size) of every image of ``page`` once headless Chromium has loaded it."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
           probe.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    match = re.search(r'<pre id="probe">([^<]*)</pre>', run.stdout)
    assert match, f"the page did not finish loading in {browser} (rc {run.returncode}): {run.stderr[-2000:]}"
    images = [s.split(":") for s in match.group(1).split(",")]
    return [(c, tuple(map(int, wh.split("x")))) for c, wh in images]


def test_every_figure_loads_in_headless_chromium(tmp_path):
    browser = _browser()
    grid = small_grid()
    trials = [FakeTrial(r, th, 60.0 + 2 * i + r, 58.0 + 2 * i) for r in range(3) for i, th in enumerate(grid)]
    write_study(tmp_path / "study", "browser", grid=grid, trials=trials, reps=3)
    out = tmp_path / "report"
    doc = write_report(sr.load_results(*find_storage(tmp_path / "study")), out)
    pngs = sorted(p for p in doc["files"] if p.endswith(".png"))
    assert len(pngs) == 5
    images = _loaded_images(browser, (out / "report.html").read_text(encoding="utf-8"), tmp_path)
    # Every image decoded at the PNG's own size, in page order (fig. 3, 3, 4, marginals, paired).
    order = ["fig3_confusion", "fig3_confusion_normalised", "fig4_heatmap", "marginals", "paired"]
    expected = [_png_size((out / f"{name}.png").read_bytes()) for name in order]
    assert images == [("true", e) for e in expected]


@pytest.mark.slow
def test_the_replay_section_loads_in_headless_chromium(tmp_path):
    """With a `sertune replay` of the study, the page gains the budget-vs-regret figure and table."""
    from sertune.study.strategies.budget import PANEL
    from sertune.study.store.curves import synthesize
    from sertune.study.replay.lab import replay

    browser = _browser()
    grid = small_grid()
    trials = [FakeTrial(r, th, 60.0 + 2 * i + r, 58.0 + 2 * i) for r in range(3) for i, th in enumerate(grid)]
    write_study(tmp_path / "study", "browser", grid=grid, trials=trials, reps=3)
    curves = synthesize(settings=40, reps=3, epochs=20)
    results = replay(curves, PANEL, orders=10)
    doc = {"curves": {"name": "browser", "settings": 40, "reps": 3, "epochs": 20, "synthetic": True,
                      "text": curves.describe(), "notes": []},
           "orders": 10, "seed": 0, "budget": 0.1, "default": results[1].spec,
           "strategies": [r.as_dict() for r in results]}
    out = tmp_path / "report"
    write_report(sr.load_results(*find_storage(tmp_path / "study")), out, replay=doc)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="replay">' in page and page.count("<tr>") > len(PANEL)
    images = _loaded_images(browser, page, tmp_path)
    assert len(images) == 6 and all(c == "true" for c, _ in images)
    assert ("true", _png_size((out / "replay.png").read_bytes())) in images

