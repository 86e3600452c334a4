"""Who trains which θ: one row per (search, θ) in a table of the study's database.

A worker *claims* θ and then trains it on every repetition, because the log-Mel
features of θ are the expensive input all K repetitions share. Ownership is
decided by the database, never by timing: every change of owner is a single
``UPDATE ... WHERE`` (a compare-and-set) whose row count says whether it won,
atomic on SQLite and PostgreSQL alike.

- ``open``: nobody holds θ. A worker takes it with
  ``UPDATE ... SET state='held', token=T WHERE theta=k AND state='open'``.
- ``held``: the holder's heartbeat thread runs
  ``UPDATE ... SET heartbeat=now WHERE theta=k AND token=T``; a row count of 0
  means another worker took θ over, and the holder stops that work cleanly.
- A held claim whose heartbeat is older than its grace period (the holder was
  killed, lost its machine, or is paused) is taken over with
  ``... WHERE token=OLD AND heartbeat < now - grace``; a holder on this machine
  whose process is gone is taken over at once (``WHERE token=OLD``).
- ``done`` / ``failed``: finished (``failed``: gave up after repeated crashes).

Heartbeats use the database's clock, so workers on machines whose clocks differ
agree on what is stale. Readers (``sertune status``) use the same table to tell
a running training from one whose worker is gone.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

import sqlalchemy as sa

TABLE = "sertune_claims"

_metadata = sa.MetaData()
claims_table = sa.Table(
    TABLE, _metadata,
    sa.Column("search", sa.String(255), primary_key=True),
    sa.Column("theta", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),          # seeded, shuffled claim order
    sa.Column("state", sa.String(8), nullable=False),           # open held parked done failed
    sa.Column("token", sa.String(36)),                          # the current holder's claim
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("heartbeat", sa.Float),                           # database clock, seconds
    sa.Column("grace", sa.Float),                               # stale after this many seconds
    sa.Column("progress", sa.Integer, nullable=False, default=0),   # epochs trained on θ so far
    sa.Column("mark", sa.Integer, nullable=False, default=0),       # progress at the last takeover
    sa.Column("stuck", sa.Integer, nullable=False, default=0),      # takeovers without progress
    sa.Column("failures", sa.Integer, nullable=False, default=0),   # claims ended by an error
    sa.Column("error", sa.Text),
    # The feature store the first holder chose for θ (``features``: float16 log-Mel, or
    # ``waves``: computed per batch); later holders reuse it so that every (θ, r) of a
    # search computes the same numbers, whatever memory the machine has free then.
    sa.Column("store", sa.String(8)),
)


def _now(dialect: str) -> sa.ColumnElement:
    """The database's clock in seconds (sub-second), as an SQL expression."""
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Float)
    if dialect == "mysql":
        return sa.literal_column("UNIX_TIMESTAMP(NOW(6))", sa.Float)
    return sa.literal_column("EXTRACT(EPOCH FROM CLOCK_TIMESTAMP())", sa.Float)


@lru_cache(maxsize=None)
def machine_id() -> str:
    """This machine: host name and boot id (a PID means nothing on another machine or boot)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"[:255]


def _process_gone(pid: int | None) -> bool:
    """The process has exited (a zombie nobody reaped counts as exited: it runs no more)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:          # exists but is not ours to signal
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


def make_engine(url: str) -> sa.Engine:
    """An engine on the study's database; SQLite waits for locks rather than failing."""
    kwargs = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    return sa.create_engine(url, **kwargs)


@dataclass
class Claim:
    """θ held by this worker. ``lost`` turns true when a heartbeat finds another holder."""

    key: str
    token: str
    progress: int = 0
    took_over: bool = False
    stuck: int = 0
    store: str | None = None
    lost: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.Lock()


@dataclass(frozen=True)
class ClaimRow:
    """One row as readers see it; ``age`` = seconds since the last heartbeat (database clock)."""

    key: str
    position: int
    state: str
    age: float | None
    grace: float | None
    progress: int
    stuck: int
    failures: int
    host: str | None
    pid: int | None
    token: str | None = field(default=None, repr=False)
    mark: int = 0
    store: str | None = None

    @property
    def alive(self) -> bool:
        """Held by a worker whose heartbeat is fresh."""
        return self.state == "held" and self.age is not None and self.grace is not None and self.age <= self.grace

    def process_gone(self, host: str) -> bool:
        """Its holder ran on ``host`` (this machine) and that process no longer exists."""
        return self.host == host and _process_gone(self.pid)

    def stopped(self, host: str | None = None) -> bool:
        """Held, but its worker stopped: heartbeat stale, or (on this machine) its process is gone."""
        return self.state == "held" and (not self.alive or self.process_gone(host or machine_id()))


@dataclass
class ClaimBook:
    """The claims of one search, for one worker process.

    Parameters
    ----------
    engine : sqlalchemy.Engine
    search : str
        The search's name.
    grace : float
        Seconds without a heartbeat after which this worker's claims may be taken over.
    """

    engine: sa.Engine
    search: str
    grace: float
    host: str = field(default_factory=machine_id)
    pid: int = field(default_factory=os.getpid)

    def __post_init__(self) -> None:
        self.now = _now(self.engine.dialect.name)

    # -- writing the queue -----------------------------------------------------------------
    def create(self, keys_in_order: Sequence[str]) -> int:
        """Add an ``open`` row for every key not in the table yet; returns how many were added."""
        _metadata.create_all(self.engine, tables=[claims_table], checkfirst=True)
        t = claims_table
        with self.engine.begin() as conn:
            have = set(conn.execute(sa.select(t.c.theta).where(t.c.search == self.search)).scalars())
            rows = [{"search": self.search, "theta": k, "position": i, "state": "open", "progress": 0,
                     "mark": 0, "stuck": 0, "failures": 0}
                    for i, k in enumerate(keys_in_order) if k not in have]
            if rows:
                conn.execute(sa.insert(t), rows)
        return len(rows)

    # -- compare-and-set -------------------------------------------------------------------
    def _cas(self, where, **values) -> bool:
        t = claims_table
        with self.engine.begin() as conn:
            result = conn.execute(sa.update(t).where(t.c.search == self.search, *where).values(**values))
        return result.rowcount == 1

    def _hold_values(self, token: str) -> dict:
        return {"state": "held", "token": token, "host": self.host, "pid": self.pid, "heartbeat": self.now,
                "grace": self.grace}

    def acquire(self, *, prefer: str | None = None) -> Claim | None:
        """Take over a θ whose holder stopped, else the first open θ (queue order, ``prefer`` first
        when it is open); None if neither.

        A taken-over claim carries ``stuck``: how many times in a row θ was taken
        over without an epoch of progress in between (its training kills its worker
        every time, e.g. the kernel's OOM killer); the worker decides when to give up.
        """
        t = claims_table
        rows = self.rows()
        # Stopped holders' θs first: finish started work before starting more.
        # (Held rows whose holder is alive are skipped below.)
        opened = sorted((r for r in rows if r.state == "open"), key=lambda r: r.key != prefer)   # stable
        for row in [r for r in rows if r.state == "held"] + opened:
            token = str(uuid.uuid4())
            if row.state == "open":
                if self._cas([t.c.theta == row.key, t.c.state == "open"], **self._hold_values(token)):
                    return Claim(row.key, token, progress=row.progress, store=row.store)
                continue
            if row.token is None or not row.stopped(self.host):
                continue
            gone = row.process_gone(self.host)
            where = [t.c.theta == row.key, t.c.state == "held", t.c.token == row.token]
            if not gone:
                where.append(t.c.heartbeat < self.now - t.c.grace)
            stuck = row.stuck + 1 if row.progress == row.mark else 0
            if self._cas(where, **self._hold_values(token), stuck=stuck, mark=row.progress):
                return Claim(row.key, token, progress=row.progress, took_over=True, stuck=stuck, store=row.store)
        return None

    def beat(self, claim: Claim) -> bool:
        """Heartbeat (and progress) of a held claim; False, and ``claim.lost``, if another holds it now."""
        with claim._lock:
            if claim.lost:
                return False
            t = claims_table
            ok = self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.state == "held"],
                           heartbeat=self.now, progress=claim.progress)
            if not ok:
                claim.lost = True
            return ok

    def set_store(self, claim: Claim, store: str) -> None:
        """Record the feature store chosen for θ (only the first choice is kept)."""
        t = claims_table
        self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.store.is_(None)], store=store)
        claim.store = claim.store or store

    def finish(self, claim: Claim, *, state: str = "done", error: str | None = None) -> bool:
        """Mark θ ``done`` (or ``failed``); False when the claim was lost (the new holder finishes it)."""
        t = claims_table
        with claim._lock:
            ok = self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.state == "held"],
                           state=state, token=None, progress=claim.progress, error=error)
            claim.lost = claim.lost or not ok
        return ok

    def give_back(self, claim: Claim) -> bool:
        """Put θ back in the queue (this worker stops); its next holder resumes the trainings."""
        t = claims_table
        with claim._lock:
            ok = self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.state == "held"],
                           state="open", token=None, progress=claim.progress)
            claim.lost = True
        return ok

    def park(self, claim: Claim) -> bool:
        """Mark θ ``parked``: its trainings wait at the strategy's barrier (``study/barrier.py``);
        False when the claim was lost."""
        t = claims_table
        with claim._lock:
            ok = self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.state == "held"],
                           state="parked", token=None, progress=claim.progress)
            claim.lost = claim.lost or not ok
        return ok

    def unpark(self, key: str, *, go_on: bool) -> bool:
        """Past the barrier: a parked θ goes back to the queue (``go_on``) or is done."""
        t = claims_table
        return self._cas([t.c.theta == key, t.c.state == "parked"], state="open" if go_on else "done")

    def release(self, claim: Claim, *, error: str, max_failures: int) -> None:
        """Give θ back after an error in sertune itself; ``failed`` after ``max_failures`` such errors."""
        t = claims_table
        with self.engine.connect() as conn:
            failures = (conn.execute(sa.select(t.c.failures).where(
                t.c.search == self.search, t.c.theta == claim.key)).scalar() or 0) + 1
        self._cas([t.c.theta == claim.key, t.c.token == claim.token, t.c.state == "held"],
                  state="failed" if failures >= max_failures else "open", token=None, failures=failures,
                  error=error[:2000])

    # -- reading ---------------------------------------------------------------------------
    def rows(self) -> list[ClaimRow]:
        """Every row of this search in queue order."""
        return read_rows(self.engine, self.search)

    def finished(self) -> bool:
        """No θ is open or held."""
        return all(r.state in ("done", "failed") for r in self.rows())


def read_rows(engine: sa.Engine, search: str) -> list[ClaimRow]:
    """The claims of ``search`` (empty when the table does not exist: a study written before it)."""
    t = claims_table
    if not sa.inspect(engine).has_table(TABLE):
        return []
    now = _now(engine.dialect.name)
    query = sa.select(t.c.theta, t.c.position, t.c.state, (now - t.c.heartbeat).label("age"), t.c.grace,
                      t.c.progress, t.c.stuck, t.c.failures, t.c.host, t.c.pid, t.c.token, t.c.mark,
                      t.c.store).where(t.c.search == search).order_by(t.c.position)
    with engine.connect() as conn:
        return [ClaimRow(*row) for row in conn.execute(query)]


class Heartbeat:
    """A thread that beats for a claim every ``interval`` seconds while the claim is held.

    The training loop only reads ``claim.lost``: the thread does the database
    work, so a long epoch never lets a claim go stale.
    """

    def __init__(self, book: ClaimBook, claim: Claim, interval: float, log=None) -> None:
        self.book, self.claim, self.interval = book, claim, interval
        self.log = log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {claim.key}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.book.beat(self.claim):
                    return
            except Exception as exc:       # a database hiccup: try again next beat
                if self.log:
                    self.log(f"heartbeat of {self.claim.key} failed ({type(exc).__name__}: {exc}); retrying")


def order(keys: Iterable[str], seed: int) -> list[str]:
    """The claim order: ``keys`` shuffled by ``seed`` (spreads cheap and costly θs over time)."""
    keys = list(keys)
    random.Random(seed).shuffle(keys)
    return keys
