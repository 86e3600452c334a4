"""``sertune dashboard STUDY``: optuna-dashboard on a search's storage, a live view in the browser.

Every repetition r of a search is an Optuna study ``NAME.rep{r}`` whose trials report
validation WA per epoch as intermediate values, so optuna-dashboard shows each repetition's
trials, learning curves and parameter importances as the search runs. optuna-dashboard is an
optional extra (``pip install 'sertune[dashboard]'``), imported only by this command.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import signal
import socket
import warnings

from ..errors import ConfigError
from ..study.store.locate import find_storage, read_only_storage, study_names

INSTALL = "pip install 'sertune[dashboard]'"
READ_ONLY = ("sertune dashboard is read-only: the search owns this storage (notes, renames and deletions "
             "are refused); to edit, run optuna-dashboard on the storage yourself")


def add_parser(sub) -> None:
    p = sub.add_parser("dashboard", help="a live view of a search in the browser (optuna-dashboard)",
                       description="Serve optuna-dashboard on a search's storage: each repetition's study "
                                   "(NAME.rep0, NAME.rep1, ...) with its trials, the learning curves (validation "
                                   "WA per epoch) and parameter importances, updated as the search runs. "
                                   "Read-only; runs until Ctrl-C. Needs the optional extra: " + INSTALL + ".")
    p.add_argument("target", metavar="STUDY", nargs="?",
                   help="a search's output folder (holds study.db or search.json), or its name with --storage")
    p.add_argument("--storage", metavar="URL", help="Optuna storage URL instead of STUDY's "
                                                    "(e.g. sqlite:////abs/study.db, postgresql://...)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; 0.0.0.0 lets other "
                        "machines in: the dashboard has no login)")
    p.add_argument("--port", type=int, default=8080, metavar="N",
                   help="port to listen on (default: %(default)s; 0 picks a free one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port; give 0-65535 (0 picks a free one)")
    try:  # only this command needs optuna-dashboard (and bottle)
        from optuna_dashboard import wsgi
    except ImportError:
        raise ConfigError(f"sertune dashboard needs optuna-dashboard, which is not installed: {INSTALL}") from None
    if args.storage:
        url, name = args.storage, args.target
    elif args.target:
        url, name = find_storage(args.target)
    else:
        raise ConfigError("give STUDY (the --out folder of `sertune search`) or --storage URL")

    storage = read_only_storage(url)
    shown = _describe(study_names(url, storage), name, url)
    server = _serve(_read_only(wsgi(storage)), args.host, args.port)
    host = socket.gethostname() if args.host in ("0.0.0.0", "::", "") else args.host
    host = f"[{host}]" if ":" in host else host
    print(f"dashboard of {shown} in {_shown_url(url)} (read-only)", flush=True)
    print(f"open http://{host}:{server.server_port}/dashboard   (Ctrl-C to stop)", flush=True)
    # Ctrl-C or a plain `kill` stops it cleanly, also when a shell started it in the background
    # with SIGINT ignored (as a non-interactive shell does with `cmd &`).
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with warnings.catch_warnings():
            # optuna's notes on what the page asks for (e.g. importances of too few trials) are no
            # advice to the user at this terminal; the page shows what it can.
            warnings.simplefilter("ignore")
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    print("dashboard stopped", flush=True)
    return 0


def _shown_url(url: str) -> str:
    """The storage URL without its password (postgresql://user:***@host/db)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL was refused when opened; print it as given
        return url


def _stop(signum, frame):
    raise KeyboardInterrupt


def _describe(names: list[str], name: str | None, url: str) -> str:
    """Which searches the dashboard will show, e.g. ``search run (studies run.rep0, run.rep1)``."""
    reps = re.compile(r"^(?P<name>.+)\.rep(?P<rep>\d+)$")
    searches: dict[str, list[int]] = {}
    for m in filter(None, map(reps.match, names)):
        searches.setdefault(m["name"], []).append(int(m["rep"]))
    if name is not None and name not in searches:
        raise ConfigError(f"storage {url} holds no study of search {name!r} (no {name}.rep0; searches: "
                          f"{', '.join(sorted(searches)) or 'none'}); check the name, or run `sertune search`")
    if not searches:
        raise ConfigError(f"storage {url} holds no search (no study named NAME.rep0); run `sertune search` first")
    shown = [name] if name is not None else sorted(searches)
    return "; ".join(f"search {s} (studies {', '.join(f'{s}.rep{r}' for r in sorted(searches[s]))})"
                     for s in shown)


def _read_only(app):
    """The WSGI ``app``, answering only GET and HEAD: a live search owns the storage, and a click
    on "delete study" or "tell" in the browser must not change it under the workers."""
    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD"):
            return app(environ, start_response)
        body = json.dumps({"reason": READ_ONLY}).encode()
        start_response("405 Method Not Allowed", [("Content-Type", "application/json"), ("Allow", "GET, HEAD"),
                                                  ("Content-Length", str(len(body)))])
        return [body]
    return guarded


def _serve(app, host: str, port: int):
    """A threaded wsgiref server bound to ``host:port`` (bound here, so a taken port is an error
    before the URL is printed), logging no requests: the page polls every few seconds."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True  # a slow request must not hold up Ctrl-C
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args) -> None:
            pass

    try:
        return make_server(host, port, app, server_class=Server, handler_class=Quiet)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host} is not an address of this machine ({exc.strerror}); "
                          f"use 127.0.0.1, or 0.0.0.0 for every interface") from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is taken (another dashboard or server is listening "
                              f"there); stop it, or choose another port: --port {port + 1 if port < 65535 else 0} "
                              f"(--port 0 picks a free one)") from None
        if exc.errno == errno.EACCES:
            raise ConfigError(f"port {port} needs administrator rights (ports below 1024 do); "
                              f"use --port 8080 or above") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(f"--host {host} is not an address of this machine; use 127.0.0.1, "
                              f"or 0.0.0.0 for every interface") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

