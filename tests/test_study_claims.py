"""Claims: ownership by compare-and-set in the database, heartbeats, takeover of stopped holders."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from sertune.study.store.claims import ClaimBook, Heartbeat, claims_table, make_engine, order, read_rows


@pytest.fixture
def engine(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'claims.db'}")


def book(engine, *, grace=3.0, pid=None, host=None, search="s"):
    b = ClaimBook(engine, search, grace=grace)
    if pid is not None:
        b.pid = pid
    if host is not None:
        b.host = host
    return b


def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_queue_order_is_seeded_and_create_is_idempotent(engine):
    keys = [f"k{i}" for i in range(10)]
    assert order(keys, 3) == order(keys, 3) != order(keys, 4)
    assert sorted(order(keys, 3)) == keys
    b = book(engine)
    assert b.create(order(keys, 3)) == 10
    assert b.create(order(keys, 3)) == 0                     # resuming adds nothing
    assert [r.key for r in b.rows()] == order(keys, 3)


def test_each_key_is_claimed_once_in_queue_order(engine):
    a, b = book(engine), book(engine)
    a.create(["x", "y", "z"])
    got = [a.acquire(), b.acquire(), a.acquire()]
    assert [c.key for c in got] == ["x", "y", "z"]
    assert a.acquire() is None and b.acquire() is None       # all held by live workers
    assert not a.finished()
    for c in got:
        assert a.finish(c)
    assert a.finished()


@pytest.mark.slow
def test_a_fresh_heartbeat_keeps_the_claim_and_a_stale_one_loses_it(engine):
    holder, other = book(engine, grace=0.5, host="elsewhere"), book(engine, grace=0.5)
    holder.create(["x"])
    claim = holder.acquire()
    assert other.acquire() is None                           # fresh: not taken
    with Heartbeat(holder, claim, 0.1):
        time.sleep(0.8)
        assert other.acquire() is None                       # the thread keeps it fresh
    time.sleep(0.8)                                          # now it is stale (holder "paused")
    taken = other.acquire()
    assert taken is not None and taken.key == "x" and taken.took_over
    # The paused holder wakes up: its heartbeat and its finish both fail, and it knows.
    assert not holder.beat(claim) and claim.lost
    assert not holder.finish(claim)
    assert other.beat(taken) and other.finish(taken)


def test_a_holder_whose_process_is_gone_is_taken_over_at_once(engine):
    gone = book(engine, grace=3600, pid=dead_pid())
    gone.create(["x"])
    claim = gone.acquire()
    assert claim is not None
    # Another machine cannot see the process table: it waits for the heartbeat to go stale.
    assert book(engine, grace=3600, host="another-machine").acquire() is None
    taken = book(engine, grace=3600).acquire()
    assert taken is not None and taken.took_over and taken.stuck == 1


def test_stuck_counts_takeovers_without_progress(engine):
    first = book(engine, pid=dead_pid())
    first.create(["x"])
    claim = first.acquire()
    claim.progress = 4                                       # 4 epochs, then killed
    first.beat(claim)
    second = book(engine, pid=dead_pid()).acquire()
    assert second.stuck == 0 and second.progress == 4        # progress since the last takeover
    third = book(engine).acquire()
    assert third.stuck == 1                                  # killed again without an epoch


def test_the_first_feature_store_chosen_for_a_key_is_kept(engine):
    b = book(engine, pid=dead_pid())
    b.create(["x"])
    first = b.acquire()
    assert first.store is None
    b.set_store(first, "waves")
    b.set_store(first, "features")                 # a second choice does not replace the first
    assert first.store == "waves"
    again = book(engine).acquire()                 # the next holder (first's process is gone)
    assert again.store == "waves"


def test_give_back_and_release(engine):
    b = book(engine)
    b.create(["x"])
    claim = b.acquire()
    assert b.give_back(claim) and claim.lost
    again = b.acquire()
    assert again.key == "x" and not again.took_over
    b.release(again, error="RuntimeError: bug", max_failures=2)
    third = b.acquire()
    b.release(third, error="RuntimeError: bug", max_failures=2)
    assert b.acquire() is None and b.finished()
    row = b.rows()[0]
    assert (row.state, row.failures) == ("failed", 2)


def test_readers_see_stale_and_missing_tables(engine, tmp_path):
    assert read_rows(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), "s") == []
    b = book(engine, grace=0.3)
    b.create(["x", "y"])
    b.acquire()
    rows = {r.key: r for r in read_rows(engine, "s")}
    assert rows["x"].alive and not rows["x"].stopped() and rows["y"].state == "open"
    time.sleep(0.5)
    assert read_rows(engine, "s")[0].stopped()


def test_searches_in_one_table_do_not_mix(engine):
    a, b = book(engine, search="a"), book(engine, search="b")
    a.create(["x"])
    b.create(["x"])
    assert a.acquire().key == "x" and b.acquire().key == "x"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(claims_table)).scalar() == 2


@pytest.mark.slow
def test_concurrent_workers_never_share_a_claim(tmp_path, spawn):
    """Four processes race for 40 keys: every key is won exactly once."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    book(make_engine(url)).create([f"k{i:02d}" for i in range(40)])
    script = (
        "import sys\n"
        "from sertune.study.store.claims import ClaimBook, make_engine\n"
        "b = ClaimBook(make_engine(sys.argv[1]), 's', grace=60)\n"
        "while (c := b.acquire()) is not None:\n"
        "    print(c.key, flush=True); b.finish(c)\n")
    procs = [spawn([sys.executable, "-c", script, url], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    won = [line for p in procs for line in p.communicate(timeout=120)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(won) == [f"k{i:02d}" for i in range(40)]
