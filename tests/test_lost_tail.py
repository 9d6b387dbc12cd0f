"""A log that lost its acknowledged tail is refused, not silently shortened
(docs/log-format.md, "A lost tail"): the SQLite store keeps a commit mark in the
same transaction as each append and compares it with what the file holds at load.
Damaged files, a SIGKILL'd service, the service on asyncio and trio."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from kill_harness import first_line, running

from ccroute import (
    Agent,
    Contact,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    Service,
    StorageError,
)
from ccroute.storage_sqlite import SQLiteStorage
from ccroute.testing_storage import record, records, timed

DRIVER = Path(__file__).resolve().parent / "crash_driver.py"


@contextmanager
def direct(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, as an operator with a SQLite tool has; commits."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


def dump(path: Path) -> dict[str, Any]:
    """Everything in the file's tables, to show that a refusal changed nothing."""
    with closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in ("meta", "log", "snapshots", "quarantine")
        }


def mark(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        (value,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'committed_through'"
        ).fetchone()
    return int(value)


@pytest.fixture
def ten(tmp_path: Path) -> Path:
    """A closed log holding records 1 to 10, written in three commits."""
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 3))
        opened.append(records(4, 9))
        opened.append([record(10)])
    return path


def test_each_commit_moves_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        assert mark(path) == 0
        opened.append(records(1, 4))
        assert mark(path) == 4
        opened.append([record(5)])
        assert mark(path) == 5


@pytest.mark.parametrize("cut", [0, 7, 9])
def test_a_deleted_tail_is_refused_naming_the_file_and_both_seqs(ten: Path, cut: int) -> None:
    with direct(ten) as other:
        other.execute("DELETE FROM log WHERE seq > ?", (cut,))
    before = dump(ten)
    with SQLiteStorage(ten) as opened:
        with pytest.raises(StorageError) as refused:
            opened.load()
        message = str(refused.value)
        assert str(ten) in message
        assert "commit mark says record 10 was committed" in message
        assert f"the last record found is {cut}" in message
        assert "accept_loss=True" in message and "nothing was changed" in message
        # Nor can the log be written past the loss, which would hide it.
        with pytest.raises(StorageError, match="has lost acknowledged records"):
            opened.append([record(cut + 1)])
    assert dump(ten) == before


def test_accepting_the_loss_records_it_and_the_log_goes_on(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("DELETE FROM log WHERE seq > 6")
    with SQLiteStorage(ten, accept_loss=True) as opened:
        recovered = opened.load()
        assert recovered.records == tuple(records(1, 6))
        assert recovered.problem is not None
        assert re.search(r"records 7\.\.10 missing.*the loss was accepted", recovered.problem)
        opened.append([record(7)])
    with direct(ten) as other:
        [(kind, seq, reason)] = other.execute("SELECT kind, seq, reason FROM quarantine")
    assert (kind, seq) == ("lost", 7) and "accepted" in reason
    # Accepted once: the next open, without the setting, finds a whole log.
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 7)) and recovered.problem is None
    assert mark(ten) == 7


def test_a_pruned_log_and_a_tail_a_snapshot_covers_are_not_lost_tails(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, retention=0) as opened:
        opened.append([timed(seq, float(seq)) for seq in range(1, 11)])
        opened.snapshot(8, b"eight")
    with direct(path) as other:
        (first,) = other.execute("SELECT min(seq) FROM log").fetchone()
    assert first > 1  # retention pruned the records the snapshot covers
    with SQLiteStorage(path, retention=0) as opened:
        recovered = opened.load()
        assert (recovered.snapshot_seq, [r.seq for r in recovered.records]) == (8, [9, 10])
        opened.snapshot(10, b"ten")
    # Records the latest snapshot covers are never needed again: removing them loses nothing.
    with direct(path) as other:
        other.execute("DELETE FROM log WHERE seq > 8")
    with SQLiteStorage(path, retention=0) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.records, recovered.problem) == (10, (), None)


def test_a_damaged_tail_is_still_set_aside_as_damage_not_refused(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("UPDATE log SET crc = crc + 1 WHERE seq = 9")
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
        assert recovered.records == tuple(records(1, 8))
        assert recovered.problem is not None and "record 9" in recovered.problem
        assert "lost" not in recovered.problem
        opened.append([record(9)])  # the log goes on from its good prefix
    assert mark(ten) == 9
    with SQLiteStorage(ten) as opened:
        assert opened.load().problem is None


def test_a_file_from_before_the_mark_opens_and_gets_one(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("DELETE FROM meta WHERE key = 'committed_through'")
    with SQLiteStorage(ten) as opened:
        assert opened.load().records == tuple(records(1, 10))
    assert mark(ten) == 10
    # From then on a lost tail is seen.
    with direct(ten) as other:
        other.execute("DELETE FROM log WHERE seq > 8")
    with SQLiteStorage(ten) as opened, pytest.raises(StorageError, match="record 10"):
        opened.load()


def test_a_damaged_mark_is_refused_at_open(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("UPDATE meta SET value = 'ten' WHERE key = 'committed_through'")
    before = dump(ten)
    with pytest.raises(StorageError, match="committed_through is 'ten'"):
        SQLiteStorage(ten)
    assert dump(ten) == before


def test_accept_loss_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="accept_loss"):
        SQLiteStorage(tmp_path / "x.db", accept_loss="yes")  # type: ignore[arg-type]


# -- the service -----------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_the_service_refuses_to_start_from_a_log_that_lost_its_tail(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    clock = ManualClock(1000.0)
    async with Service(path=path, clock=clock, load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q"))
        await service.add_agent(Agent("ann", queues=["q"]), Presence.AVAILABLE)
        kept = service.durable_seq
        for n in range(5):
            clock.advance(1)
            await service.submit(Contact(f"c{n}", "chat", "q"))
    acknowledged = mark(path)
    assert acknowledged > kept + 4
    with direct(path) as other:
        # As an older copy of the file would be: neither the records nor the
        # snapshots after them (the mark is the file's own).
        other.execute("DELETE FROM log WHERE seq > ?", (kept,))
        other.execute("DELETE FROM snapshots WHERE seq > ?", (kept,))
    before = dump(path)
    with pytest.raises(StorageError) as refused:
        async with Service(path=path, clock=clock, load_entrypoints=False):
            pass
    assert str(path) in str(refused.value)
    assert f"says record {acknowledged} was committed" in str(refused.value)
    assert f"the last record found is {kept}" in str(refused.value)
    assert dump(path) == before
    settings = {"accept_loss": True}
    async with Service(path=path, clock=clock, settings=settings, load_entrypoints=False) as again:
        assert again.durable_seq == kept
        assert again.recovery_problem is not None and "accepted" in again.recovery_problem
        assert again.router.contact_ids == []
        await again.submit(Contact("after", "chat", "q"))
    async with Service(path=path, clock=clock, load_entrypoints=False) as third:
        assert third.recovery_problem is None and third.router.contact_ids == ["after"]


async def test_a_sigkill_leaves_the_mark_at_the_log_and_a_later_lost_tail_is_seen(
    anyio_backend: str, tmp_path: Path
) -> None:
    db = tmp_path / "centre.db"
    command = [sys.executable, str(DRIVER), str(db), "5", "0", "--backend", anyio_backend]
    command += ["--max-seconds", "30"]
    with anyio.fail_after(60), running(command, tmp_path, 0) as (proc, out, err):
        await first_line(proc, out, err, 30.0)
        deadline = time.monotonic() + 30.0
        while out.read_text().count("\nack ") < 40:
            assert proc.poll() is None, err.read_text()
            assert time.monotonic() < deadline, "the driver made too few calls"
            await anyio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    with closing(sqlite3.connect(db)) as connection:
        (last,) = connection.execute("SELECT max(seq) FROM log").fetchone()
    # The mark commits with the records: a kill leaves it exactly at the log's end.
    assert mark(db) == last
    clock = ManualClock(0.0)
    async with Service(path=db, clock=clock, load_entrypoints=False) as service:
        assert service.recovery_problem is None and service.durable_seq == last
    last = mark(db)
    cut = last - 5
    with direct(db) as other:
        other.execute("DELETE FROM log WHERE seq > ?", (cut,))
        other.execute("DELETE FROM snapshots WHERE seq > ?", (cut,))
    with pytest.raises(StorageError, match=f"says record {last} was committed.*found is {cut}"):
        async with Service(path=db, clock=clock, load_entrypoints=False):
            pass
