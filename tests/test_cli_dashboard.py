"""``sertune dashboard``: optuna-dashboard on a real search's storage, over HTTP and in headless Chromium.

The end-to-end tests need the optional extra (``sertune[dashboard]``): they skip with a reason
when it is missing, except under CI (CI=true), where .ci/run installs it and a skip would hide
the check. The browser test skips likewise without Chromium outside CI (see test_report_html).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from sertune.cli import main

from study_fixtures import FakeTrial, small_grid, write_study
from test_report_html import _browser

INSTALL = "pip install 'sertune[dashboard]'"
CHROMIUM = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--virtual-time-budget=15000")


def _needs_dashboard() -> None:
    try:
        import optuna_dashboard  # noqa: F401
    except ImportError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"optuna-dashboard is not installed, and CI must run the dashboard check: {INSTALL} "
                        f"(.ci/run installs the extra)")
        pytest.skip(f"optuna-dashboard is not installed ({INSTALL}); CI runs this check")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def study(restart_searches):
    """A finished real search: 2 settings x 2 repetitions x 2 epochs, its folder and search named ``plain``."""
    return restart_searches / "plain"


@pytest.fixture
def dashboard():
    """Start ``sertune dashboard ARGS --port P`` in its own process group; return (process, base URL)
    once it answers HTTP. Every process group started is killed at the end, however the test ends."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, str]:
        port = _free_port()
        proc = subprocess.Popen([sys.executable, "-m", "sertune", "dashboard", *args, "--port", str(port)],
                                start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # it imports torch first: slow on a busy machine
        while True:
            if proc.poll() is not None:
                pytest.fail(f"sertune dashboard exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                _get(f"{base}/api/meta", timeout=2)
                return proc, base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail("sertune dashboard did not answer HTTP within 120 s")
                time.sleep(0.3)

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    """Ctrl-C: the dashboard must stop by itself, with status 0."""
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr[-2000:]
    return stdout, stderr


def _rep_ids(base: str) -> dict[str, int]:
    return {s["study_name"]: s["study_id"] for s in _get(f"{base}/api/studies")["study_summaries"]}


@pytest.mark.slow
def test_serves_the_repetitions_and_their_curves_read_only_and_stops_on_ctrl_c(study, dashboard):
    _needs_dashboard()
    proc, base = dashboard(str(study))
    ids = _rep_ids(base)
    assert sorted(ids) == ["plain.rep0", "plain.rep1"]
    for name, study_id in ids.items():
        trials = _get(f"{base}/api/studies/{study_id}")["trials"]
        assert len(trials) == 2                                       # one per setting
        for t in trials:                                              # a learning curve: val WA per epoch
            assert [v["step"] for v in t["intermediate_values"]] == [1, 2]
            assert all(0 <= v["value"] <= 100 for v in t["intermediate_values"])
    # Read-only: a "delete study" from the browser is refused, and the study stays.
    request = urllib.request.Request(f"{base}/api/studies/{ids['plain.rep0']}", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405 and "read-only" in json.loads(refused.value.read())["reason"]
    assert sorted(_rep_ids(base)) == ["plain.rep0", "plain.rep1"]

    stdout, stderr = _stop(proc)
    port = int(base.rsplit(":", 1)[1])
    assert stdout.splitlines() == [
        f"dashboard of search plain (studies plain.rep0, plain.rep1) in sqlite:///{(study / 'study.db').resolve()} "
        f"(read-only)",
        f"open {base}/dashboard   (Ctrl-C to stop)",
        "dashboard stopped"]
    assert stderr == ""
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{base}/api/meta", timeout=5)
    with socket.socket() as s:                    # free again for the next server (which reuses addresses)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()


@pytest.mark.slow
def test_headless_chromium_lists_the_repetitions_and_draws_their_learning_curves(study, dashboard, tmp_path):
    _needs_dashboard()
    browser = _browser()
    proc, base = dashboard(str(study))
    ids = _rep_ids(base)
    chromium = [browser, *CHROMIUM, f"--user-data-dir={tmp_path / 'profile'}"]

    listing = subprocess.run([*chromium, "--dump-dom", f"{base}/dashboard"], capture_output=True, text=True,
                             timeout=120)
    assert "plain.rep0" in listing.stdout and "plain.rep1" in listing.stdout, listing.stderr[-2000:]

    page = f"{base}/dashboard/studies/{ids['plain.rep0']}"
    dom = subprocess.run([*chromium, "--window-size=1400,2400", "--dump-dom", page], capture_output=True,
                         text=True, timeout=120).stdout
    start = dom.find('id="graph-intermediate-values"')
    assert start >= 0, "the study page has no intermediate-values (learning curve) plot"
    plot = dom[start:]
    end = plot.find('id="graph-', 1)
    plot = plot[:end] if end > 0 else plot
    # One drawn line per trial (2 settings), each through its 2 epochs: "M x,y L x,y".
    assert len(re.findall(r'class="js-line" d="M[-\d.e]+,[-\d.e]+L', plot)) == 2

    png = tmp_path / "study.png"
    subprocess.run([*chromium, "--window-size=1400,2400", f"--screenshot={png}", page], capture_output=True,
                   timeout=120)
    from PIL import Image  # matplotlib's dependency

    with Image.open(png) as image:
        assert image.size == (1400, 2400)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 50   # drawn, not a blank page
    assert _stop(proc)[1] == ""      # optuna's warnings on the importances it computed stay off the terminal


def test_other_commands_do_not_import_optuna_dashboard():
    code = "import sys, sertune.cli; sertune.cli.build_parser(); print('optuna_dashboard' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout.strip() == "False"


def test_without_the_extra_it_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "optuna_dashboard", None)       # makes `import optuna_dashboard` fail
    assert main(["dashboard", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: sertune dashboard needs optuna-dashboard, which is not installed: {INSTALL}\n"


@pytest.fixture
def fake_study(tmp_path):
    """A small fake search ``fake`` (2 repetitions) in ``tmp_path/fake``; returns the folder."""
    grid = small_grid()[:2]
    write_study(tmp_path / "fake", "fake", grid=grid, reps=2,
                trials=[FakeTrial(r, th, 60.0 + i, 58.0) for r in range(2) for i, th in enumerate(grid)])
    return tmp_path / "fake"


@pytest.mark.parametrize("args, match", [
    ([], r"give STUDY \(the --out folder of `sertune search`\) or --storage URL"),
    (["{tmp}/nowhere"], r"study folder .*nowhere does not exist"),
    (["{tmp}/empty"], r"empty holds no study.db nor search.json: it is not the output folder"),
    (["--storage", "sqlite:///{tmp}/empty/study.db"], r"the file .*study.db does not exist"),
    (["--storage", "sqlite:///{tmp}/notes.db"], r"storage sqlite:///.*notes.db is not an Optuna storage"),
    (["other", "--storage", "sqlite:///{tmp}/fake/study.db"],
     r"holds no study of search 'other' \(no other.rep0; searches: fake\)"),
    (["{tmp}/fake", "--port", "70000"], r"--port 70000 is not a port; give 0-65535"),
])
def test_what_is_not_a_study_is_refused_and_left_as_it_was(fake_study, tmp_path, capsys, args, match):
    _needs_dashboard()
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.db").write_bytes(b"")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["dashboard", *(a.format(tmp=tmp_path) for a in args)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and re.search(match, err), err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before     # nothing created
    assert (tmp_path / "notes.db").read_bytes() == b""


def test_a_taken_port_is_named_with_the_fix(fake_study, capsys):
    _needs_dashboard()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dashboard", str(fake_study), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: port {port} on 127.0.0.1 is taken (another dashboard or server is listening there); "
                   f"stop it, or choose another port: --port {port + 1} (--port 0 picks a free one)\n")
