"""Stores keep what was appended, give it back in order, and set damage aside.

The shared behaviour (the storage contract of ccroute.testing_storage, which
plugins' stores pass too) runs against both built-in stores and, through a
blocking portal, an async store on asyncio and trio; the SQLite store's durability, file checks,
single-owner lock, retention and recovery from damage are tested on real
database files, damaged with direct SQL or by truncating a copied WAL file.
The log format itself (JSON bodies, tags) is tested in tests/test_codec.py
and against committed files in tests/test_golden.py; the migration of
format-1 logs at the end of this file.
"""

from __future__ import annotations

import os
import pickle
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from ccroute import (
    Contact,
    InvalidValueError,
    LogRecord,
    ManualClock,
    MemoryStorage,
    Presence,
    Recovered,
    Service,
    SQLiteStorage,
    Storage,
)
from ccroute.codec import FORMAT, READABLE_FORMATS, row_crc, snapshot_crc
from ccroute.commands import Accept, SetPresence, Submit, Tick, Transfer
from ccroute.errors import StorageError
from ccroute.storage import DEFAULT_RETENTION, AsyncStorage
from ccroute.storage_sqlite import migrate_v1
from ccroute.testing_storage import (
    AsyncStorageContract,
    MakeAsyncStore,
    MakeStore,
    StorageContract,
    record,
    records,
    timed,
)

#: The log format this release writes, the next one (which it calls newer),
#: and the formats it reads as its messages list them.
NEWER = FORMAT + 1
READS = ", ".join(map(str, READABLE_FORMATS))

STORE_KINDS = ["memory", "sqlite"]
V1 = Path(__file__).resolve().parent / "golden" / "v1"


def open_store(kind: str, directory: Path, **options: Any) -> Storage:
    """A fresh store of ``kind``; an SQLite one lives in ``directory``."""
    if kind == "memory":
        return MemoryStorage(**options)
    return SQLiteStorage(directory / "centre.db", **options)


@pytest.fixture(params=STORE_KINDS, ids=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """An empty store of each kind, closed after the test."""
    opened = open_store(request.param, tmp_path)
    yield opened
    opened.close()


@contextmanager
def direct(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to a database file, as a person with a SQLite tool has; commits."""
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()


# -- shared behaviour: the storage contract -----------------------------------


class TestMemoryStorage(StorageContract):
    """The shared behaviour (ccroute.testing_storage) on the memory store."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        return MemoryStorage


class TestSQLiteStorage(StorageContract):
    """The shared behaviour on the SQLite store, reopened from its file."""

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> MakeStore:
        count = iter(range(1_000_000))

        def make(*, retention: float | None = DEFAULT_RETENTION) -> Storage:
            path = tmp_path / f"centre-{next(count)}.db"
            return SQLiteStorage(path, synchronous="OFF", retention=retention)

        return make

    @pytest.fixture
    def reopen_store(self) -> Callable[[Storage], Storage]:
        def reopen(store: Storage) -> Storage:
            assert isinstance(store, SQLiteStorage)
            return SQLiteStorage(store.path, synchronous="OFF")

        return reopen


class AsyncOf:
    """A built-in store behind coroutine methods, as an engine's store is."""

    def __init__(self, store: Storage) -> None:
        self.store = store

    async def load(self) -> Recovered:
        await anyio.sleep(0)
        return self.store.load()

    async def append(self, records: Sequence[LogRecord]) -> None:
        await anyio.sleep(0)
        self.store.append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        await anyio.sleep(0)
        self.store.snapshot(seq, state)

    async def close(self) -> None:
        self.store.close()


class TestAsyncStorageThroughAPortal(AsyncStorageContract):
    """The same tests reach an AsyncStorage through SyncStorage's portal."""

    @pytest.fixture
    def make_async_store(self, tmp_path: Path) -> MakeAsyncStore:
        count = iter(range(1_000_000))

        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            path = tmp_path / f"centre-{next(count)}.db"
            return AsyncOf(SQLiteStorage(path, synchronous="OFF", retention=retention))

        return make

    @pytest.fixture
    def reopen_async_store(self) -> Callable[[AsyncStorage], Awaitable[AsyncStorage]]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, AsyncOf) and isinstance(store.store, SQLiteStorage)
            return AsyncOf(SQLiteStorage(store.store.path, synchronous="OFF"))

        return reopen


class TestAsyncStorageOnTrio(TestAsyncStorageThroughAPortal):
    backend = "trio"


# -- retention: bounded growth -------------------------------------------------


def test_retention_defaults_to_thirty_days(tmp_path: Path) -> None:
    assert DEFAULT_RETENTION == 30 * 24 * 3600
    assert MemoryStorage().retention == DEFAULT_RETENTION
    with SQLiteStorage(tmp_path / "centre.db") as opened:
        assert opened.retention == DEFAULT_RETENTION


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_a_snapshot_drops_covered_records_older_than_the_retention(
    kind: str, tmp_path: Path
) -> None:
    opened = open_store(kind, tmp_path, retention=100.0)
    try:
        # Records 1..10 at times 0, 50, ..., 450.
        log = [timed(seq, 50.0 * (seq - 1)) for seq in range(1, 11)]
        opened.append(log)
        opened.snapshot(6, b"after six")
        # The last record is at 450: records before 350 that the snapshot
        # covers (1..6, at 0..250) go; the tail after the snapshot stays.
        recovered = opened.load()
        assert (recovered.snapshot_seq, recovered.records) == (6, tuple(log[6:]))
        if kind == "sqlite":
            assert log_seqs(tmp_path / "centre.db") == [7, 8, 9, 10]
        # Records older than the retention but after the snapshot are kept,
        # and the log goes on.
        opened.append([timed(11, 1000.0)])
        opened.snapshot(11, b"after eleven")
        assert opened.load() == Recovered(11, b"after eleven", ())
        opened.append([timed(12, 1001.0)])
        assert opened.load().records == (timed(12, 1001.0),)
    finally:
        opened.close()
    if kind == "sqlite":
        # SQLite keeps two snapshots: records 7..10 stay for the older one (after 6).
        assert snapshot_seqs(tmp_path / "centre.db") == [11, 6]
        assert log_seqs(tmp_path / "centre.db") == [7, 8, 9, 10, 11, 12]
        with direct(tmp_path / "centre.db") as other:
            assert other.execute(
                "SELECT value FROM meta WHERE key = 'pruned_through'"
            ).fetchone() == ("6",)


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_records_within_the_retention_are_kept(kind: str, tmp_path: Path) -> None:
    opened = open_store(kind, tmp_path, retention=1000.0)
    try:
        opened.append([timed(seq, 50.0 * seq) for seq in range(1, 11)])
        opened.snapshot(10, b"ten")
        opened.close()
        if kind == "sqlite":
            assert log_seqs(tmp_path / "centre.db") == list(range(1, 11))
    finally:
        opened.close()


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_retention_none_keeps_every_record(kind: str, tmp_path: Path) -> None:
    opened = open_store(kind, tmp_path, retention=None)
    try:
        assert opened.retention is None  # type: ignore[attr-defined]
        opened.append([timed(seq, 1e6 * seq) for seq in range(1, 11)])
        opened.snapshot(10, b"ten")
    finally:
        opened.close()
    if kind == "sqlite":
        assert log_seqs(tmp_path / "centre.db") == list(range(1, 11))


def test_retention_keeps_what_every_kept_snapshot_needs(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, retention=0.0, keep_snapshots=2) as opened:
        opened.append([timed(seq, float(seq)) for seq in range(1, 11)])
        opened.snapshot(4, b"four")
        opened.snapshot(8, b"eight")
    # Retention 0 drops all it may: what the older kept snapshot (after 4) covers.
    assert log_seqs(path) == [5, 6, 7, 8, 9, 10]
    flip_body(path, "snapshots", 8)
    with SQLiteStorage(path) as opened:
        recovered = opened.load()
    # The fallback snapshot still has every record after it.
    assert (recovered.snapshot_seq, recovered.snapshot) == (4, b"four")
    assert recovered.records == tuple(timed(seq, float(seq)) for seq in range(5, 11))


def test_a_log_retention_pruned_with_no_good_snapshot_left_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, retention=0.0, keep_snapshots=1) as opened:
        opened.append([timed(seq, float(seq)) for seq in range(1, 11)])
        opened.snapshot(6, b"six")
    flip_body(path, "snapshots", 6)
    with SQLiteStorage(path) as opened, pytest.raises(StorageError) as raised:
        opened.load()
    message = str(raised.value)
    assert "retention removed records 1..6 and no good snapshot is left" in message
    assert "restore the file from a backup" in message
    assert "nothing was changed" in message
    assert quarantine(path) == []
    assert snapshot_seqs(path) == [6]


@pytest.mark.parametrize("retention", [-1.0, float("nan"), float("inf"), True, "30d"])
def test_bad_retention_is_refused(tmp_path: Path, retention: Any) -> None:
    with pytest.raises(InvalidValueError, match="retention must be None or a finite number"):
        SQLiteStorage(tmp_path / "centre.db", retention=retention)
    with pytest.raises(InvalidValueError, match="retention must be None or a finite number"):
        MemoryStorage(retention=retention)
    assert list(tmp_path.iterdir()) == []


# -- SQLite: files, settings, durability ---------------------------------------


def test_sqlite_log_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as first:
        first.append(records(1, 4))
        first.snapshot(2, b"two")
        first.append(records(5, 6))
    with SQLiteStorage(str(path)) as second:
        # The next seq is known without a load, from what the file holds.
        second.append([record(7)])
        recovered = second.load()
    assert recovered == Recovered(
        snapshot_seq=2, snapshot=b"two", records=tuple(records(3, 7)), problem=None
    )


@pytest.mark.parametrize(("mode", "level"), [("FULL", 2), ("NORMAL", 1), ("OFF", 0)])
def test_sqlite_sync_modes_are_applied(tmp_path: Path, mode: Any, level: int) -> None:
    with SQLiteStorage(tmp_path / "centre.db", synchronous=mode) as opened:
        assert opened.synchronous == mode
        connection = opened._connection
        assert connection is not None
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == level
        opened.append(records(1, 2))
        assert opened.load().records == tuple(records(1, 2))
    with direct(tmp_path / "centre.db") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("mode", ["full", "EXTRA", "", None, 2])
def test_sqlite_refuses_unknown_sync_modes_before_touching_the_disk(
    tmp_path: Path, mode: Any
) -> None:
    with pytest.raises(
        InvalidValueError, match=r"synchronous must be one of 'FULL', 'NORMAL', 'OFF'"
    ):
        SQLiteStorage(tmp_path / "centre.db", synchronous=mode)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("keep", "message"),
    [(0, "at least 1"), (-2, "at least 1"), (True, "must be an int"), (1.5, "must be an int")],
)
def test_sqlite_refuses_bad_keep_snapshots(tmp_path: Path, keep: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        SQLiteStorage(tmp_path / "centre.db", keep_snapshots=keep)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", [":memory:", ""])
def test_sqlite_refuses_a_path_that_is_not_a_file(path: str) -> None:
    with pytest.raises(InvalidValueError, match="MemoryStorage"):
        SQLiteStorage(path)


def test_sqlite_names_the_path_it_cannot_open(tmp_path: Path) -> None:
    path = tmp_path / "no such directory" / "centre.db"
    with pytest.raises(StorageError, match=f"cannot open {re.escape(str(path))}"):
        SQLiteStorage(path)


def test_sqlite_refuses_another_sqlite_database_and_leaves_it_alone(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    with direct(path) as other:
        other.execute("CREATE TABLE customers (id TEXT PRIMARY KEY)")
    before = path.read_bytes()
    with pytest.raises(
        StorageError,
        match=re.escape(str(path)) + r" is not a ccroute log \(.*application id is 0x0",
    ):
        SQLiteStorage(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm.db"]


def test_sqlite_refuses_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"dear diary, " * 1000)
    with pytest.raises(
        StorageError, match=re.escape(str(path)) + r" is not a ccroute log \(not an SQLite database"
    ):
        SQLiteStorage(path)
    assert path.read_bytes() == b"dear diary, " * 1000


@pytest.mark.parametrize(
    ("found", "message"),
    [
        (
            str(NEWER),
            rf"ccroute log in format '{NEWER}', written by a newer ccroute; "
            rf"this release reads format {READS}",
        ),
        ("12", rf"format '12', written by a newer ccroute; this release reads format {READS}"),
        ("x", rf"ccroute log in format 'x'; this release reads format {READS}"),
    ],
)
def test_sqlite_refuses_a_log_in_another_format_and_leaves_it_untouched(
    tmp_path: Path, found: str, message: str
) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 3))
    with direct(path) as other:
        other.execute("UPDATE meta SET value = ? WHERE key = 'format'", (found,))
    before = path.read_bytes()
    with pytest.raises(StorageError, match=message + r".*left untouched"):
        SQLiteStorage(path)
    assert path.read_bytes() == before
    assert log_seqs(path) == [1, 2, 3]


def test_a_later_release_opens_an_older_format_it_reads_and_marks_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ccroute import codec, storage_sqlite

    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 2))
    # As a later release, which writes the next format and still reads this
    # one, would open it.
    monkeypatch.setattr(codec, "FORMAT", NEWER)
    monkeypatch.setattr(codec, "READABLE_FORMATS", (*READABLE_FORMATS, NEWER))
    monkeypatch.setattr(storage_sqlite, "_FORMAT", NEWER)
    with SQLiteStorage(path) as opened:
        assert opened.load().records == tuple(records(1, 2))  # this format's rows read
    with direct(path) as other:
        format_row = other.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        assert format_row == (str(NEWER),)
        assert set(other.execute("SELECT DISTINCT version FROM log")) == {(FORMAT,)}
    # And this release, which does not read the next format, now refuses the file.
    monkeypatch.undo()
    with pytest.raises(StorageError, match=rf"format '{NEWER}', written by a newer ccroute"):
        SQLiteStorage(path)


def test_sqlite_refuses_a_format_1_log_and_says_how_to_migrate(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-names.db", path)
    before = path.read_bytes()
    with pytest.raises(StorageError) as raised:
        SQLiteStorage(path)
    message = str(raised.value)
    assert f"{path} is a ccroute log in format 1 (pickles)" in message
    assert f"it reads format {READS}" in message
    assert "left untouched" in message
    assert f"python -m ccroute.storage_sqlite migrate {path} NEW.db" in message
    assert path.read_bytes() == before


def test_sqlite_refuses_a_database_claiming_our_id_without_our_tables(tmp_path: Path) -> None:
    path = tmp_path / "impostor.db"
    with direct(path) as other:
        other.execute("PRAGMA application_id = 0x6363726C")
        other.execute("CREATE TABLE t (x)")
    with pytest.raises(StorageError, match="no meta table"):
        SQLiteStorage(path)


def test_sqlite_append_rolls_back_when_the_database_fails_mid_batch(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append([record(1)])
        with direct(path) as other:
            other.execute(
                "CREATE TRIGGER planted BEFORE INSERT ON log WHEN NEW.seq = 4"
                " BEGIN SELECT RAISE(ABORT, 'planted failure'); END"
            )
        with pytest.raises(StorageError, match=r"records 2\.\.5 .*planted failure.*none"):
            opened.append(records(2, 5))
        assert opened.load().records == (record(1),)
        with direct(path) as other:
            other.execute("DROP TRIGGER planted")
        opened.append(records(2, 5))
        assert opened.load().records == tuple(records(1, 5))


def test_sqlite_snapshot_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, keep_snapshots=1) as opened:
        opened.append(records(1, 4))
        opened.snapshot(2, b"two")
        with direct(path) as other:
            # Fails the pruning, after the new snapshot was written.
            other.execute(
                "CREATE TRIGGER planted BEFORE DELETE ON snapshots"
                " BEGIN SELECT RAISE(ABORT, 'planted failure'); END"
            )
        with pytest.raises(StorageError, match=r"snapshot after record 4.*planted failure"):
            opened.snapshot(4, b"four")
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.snapshot) == (2, b"two")
    assert snapshot_seqs(path) == [2]


def test_sqlite_retention_is_part_of_the_snapshot_transaction(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, keep_snapshots=1, retention=0.0) as opened:
        opened.append([timed(seq, float(seq)) for seq in range(1, 6)])
        with direct(path) as other:
            other.execute(
                "CREATE TRIGGER planted BEFORE DELETE ON log"
                " BEGIN SELECT RAISE(ABORT, 'planted failure'); END"
            )
        with pytest.raises(StorageError, match=r"snapshot after record 4.*planted failure"):
            opened.snapshot(4, b"four")
    assert snapshot_seqs(path) == []
    assert log_seqs(path) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_sqlite_keeps_the_latest_snapshots_only(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, keep_snapshots=keep) as opened:
        opened.append(records(1, 6))
        for seq in range(1, 7):
            opened.snapshot(seq, bytes([seq]))
        assert opened.keep_snapshots == keep
    assert snapshot_seqs(path) == list(range(6, 6 - keep, -1))


# -- SQLite: what an operator sees with plain SQL -------------------------------


def test_the_log_reads_with_plain_sql(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 3))
        opened.append(
            [
                LogRecord(4, 40.0, Accept("c1", "a1")),
                LogRecord(5, 41.0, SetPresence("a1", Presence.NOT_READY, "break")),
                LogRecord(6, 42.0, Tick()),
                LogRecord(7, 43.0, Transfer("c2", queue="vip", agent="a2")),
            ]
        )
        opened.snapshot(7, b'{"router": "state"}')
    with direct(path) as other:
        rows = other.execute("SELECT seq, at, command, contact_id, agent_id, queue FROM log")
        assert list(rows) == [
            (1, 10.0, "submit", "c1", None, "sales"),
            (2, 20.0, "submit", "c2", None, "sales"),
            (3, 30.0, "submit", "c3", None, "sales"),
            (4, 40.0, "accept", "c1", "a1", None),
            (5, 41.0, "set_presence", None, "a1", None),
            (6, 42.0, "tick", None, None, None),
            (7, 43.0, "transfer", "c2", "a2", "vip"),
        ]
        assert set(other.execute("SELECT DISTINCT version FROM log")) == {(FORMAT,)}
        # JSON functions see the body.
        (events,) = other.execute("SELECT json_extract(body, '$.events') FROM log WHERE seq = 1")
        assert '"type":"queued"' in events[0]
        tags = other.execute(
            "SELECT log.seq, json_extract(e.value, '$.type') FROM log, json_each(log.body, "
            "'$.events') AS e WHERE json_extract(e.value, '$.contact_id') = 'c2' ORDER BY 1, 2"
        )
        assert list(tags) == [(2, "offered"), (2, "queued")]
        reason = other.execute(
            "SELECT body ->> '$.command.reason', body ->> '$.command.presence' FROM log"
            " WHERE command = 'set_presence'"
        ).fetchone()
        assert reason == ("break", "not-ready")
        # A JSON snapshot is kept as text, so the JSON functions read it too.
        assert other.execute(
            "SELECT typeof(body), json_extract(body, '$.router') FROM snapshots"
        ).fetchone() == ("text", "state")


def test_a_binary_snapshot_is_kept_as_a_blob(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 2))
        opened.snapshot(2, b"\x80\x05\xff")
    with direct(path) as other:
        assert other.execute("SELECT typeof(body) FROM snapshots").fetchone() == ("blob",)


# -- SQLite: one owner at a time -----------------------------------------------


def test_a_second_store_in_the_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as first:
        first.append(records(1, 2))
        with pytest.raises(StorageError) as raised:
            SQLiteStorage(path)
        message = str(raised.value)
        assert f"{path} is in use by another store in this process (pid {os.getpid()})" in message
        # The first store is unharmed.
        first.append([record(3)])
        first.snapshot(3, b"three")
        assert first.load() == Recovered(3, b"three", ())
    # Once it is closed, the file may be opened again.
    with SQLiteStorage(path) as again:
        assert again.load().snapshot_seq == 3


def test_readers_are_not_blocked_by_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as owner:
        owner.append(records(1, 2))
        with direct(path) as reader:
            assert [row[0] for row in reader.execute("SELECT seq FROM log")] == [1, 2]
        owner.append([record(3)])


HOLDER = textwrap.dedent(
    """
    import sys, time
    from ccroute import SQLiteStorage
    store = SQLiteStorage(sys.argv[1])
    store.load()
    print("holding", flush=True)
    time.sleep(60)
    """
)


def test_a_store_held_by_another_process_is_refused_until_it_dies(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 2))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(StorageError) as raised:
            SQLiteStorage(path)
        assert f"{path} is in use by another process (pid {holder.pid})" in str(raised.value)
        # SIGKILL: no clean-up runs, yet the operating system drops the lock.
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
    with SQLiteStorage(path) as opened:
        assert opened.load().records == tuple(records(1, 2))


# -- SQLite: recovery from damage ----------------------------------------------


def snapshot_seqs(path: Path) -> list[int]:
    """The seqs in the snapshots table, newest first."""
    with direct(path) as other:
        return [row[0] for row in other.execute("SELECT seq FROM snapshots ORDER BY seq DESC")]


def log_seqs(path: Path) -> list[int]:
    """The seqs in the log table, in order."""
    with direct(path) as other:
        return [row[0] for row in other.execute("SELECT seq FROM log ORDER BY seq")]


def quarantine(path: Path) -> list[tuple[str, int, str]]:
    """``(kind, seq, reason)`` of the rows set aside, in the order they were."""
    with direct(path) as other:
        return list(other.execute("SELECT kind, seq, reason FROM quarantine ORDER BY id"))


def flip_body(path: Path, table: str, seq: int) -> None:
    """Change one character in the middle of a row's body, leaving its crc as it was."""
    with direct(path) as other:
        (body,) = other.execute(f"SELECT body FROM {table} WHERE seq = ?", (seq,)).fetchone()
        middle = len(body) // 2
        if isinstance(body, str):
            changed: str | bytes = body[:middle] + chr(ord(body[middle]) ^ 1) + body[middle + 1 :]
        else:
            changed = body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1 :]
        other.execute(f"UPDATE {table} SET body = ? WHERE seq = ?", (changed, seq))


def rewrite_row(path: Path, seq: int, **columns: Any) -> None:
    """Change a log row's columns (a callable gets the old value) and give it a matching
    crc: intact, but not what was written."""
    with direct(path) as other:
        other.row_factory = sqlite3.Row
        row = dict(other.execute("SELECT * FROM log WHERE seq = ?", (seq,)).fetchone())
        for name, value in columns.items():
            row[name] = value(row[name]) if callable(value) else value
        body = row["body"]
        data = body.encode() if isinstance(body, str) else body
        row["crc"] = row_crc(
            seq,
            row["at"],
            row["command"],
            row["contact_id"],
            row["agent_id"],
            row["queue"],
            row["version"],
            data,
        )
        names = ", ".join(f"{name} = :{name}" for name in row)
        other.execute(f"UPDATE log SET {names} WHERE seq = :seq", row)


@pytest.fixture
def ten(tmp_path: Path) -> Path:
    """A closed log holding records 1 to 10, written in three batches."""
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 3))
        opened.append(records(4, 9))
        opened.append([record(10)])
    return path


def test_a_damaged_last_record_is_set_aside_and_the_log_goes_on(ten: Path) -> None:
    flip_body(ten, "log", 10)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
        assert recovered.records == tuple(records(1, 9))
        assert recovered.problem == (
            f"record 10 in {ten} is damaged (checksum mismatch); 9 good records recovered, "
            "1 (record 10) set aside in table quarantine"
        )
        assert quarantine(ten) == [("record", 10, "damaged (checksum mismatch)")]
        # Appending goes on from the good prefix, reusing seq 10.
        opened.append(records(10, 11))
        assert opened.load() == Recovered(records=tuple(records(1, 11)))
    with SQLiteStorage(ten) as reopened:
        assert reopened.load() == Recovered(records=tuple(records(1, 11)))
    assert len(quarantine(ten)) == 1


def test_a_damaged_middle_record_sets_aside_everything_from_it(ten: Path) -> None:
    with direct(ten) as other:
        original = {row[0]: row for row in other.execute("SELECT * FROM log WHERE seq >= 4")}
    flip_body(ten, "log", 4)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 3))
    assert recovered.last_seq == 3
    assert recovered.problem is not None
    assert recovered.problem.startswith(f"record 4 in {ten} is damaged (checksum mismatch)")
    assert "3 good records recovered, 7 (records 4..10) set aside in table quarantine" in (
        recovered.problem
    )
    assert log_seqs(ten) == [1, 2, 3]
    assert quarantine(ten) == [("record", 4, "damaged (checksum mismatch)")] + [
        ("record", seq, "follows damaged record 4") for seq in range(5, 11)
    ]
    # Set aside, not deleted: the good records after the damage are kept column for column.
    with direct(ten) as other:
        kept = {
            row[0]: row
            for row in other.execute(
                "SELECT seq, at, command, contact_id, agent_id, queue, version, crc, body"
                " FROM quarantine WHERE seq > 4"
            )
        }
    assert kept == {seq: row for seq, row in original.items() if seq > 4}


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"body": "not json at all"}, r"the body does not decode: JSON is malformed"),
        (
            {"body": '{"command": {"contact": 5}, "events": []}'},
            r"the body does not decode: Expected `object`, got `int` - at `\$.command.contact`",
        ),
        (
            {"body": lambda body: body[:-1] + ',"x":1}'},
            r"the body does not decode: Object contains unknown field `x`",
        ),
        (
            {"command": "launch_missiles"},
            r"unknown command 'launch_missiles'",
        ),
        (
            {"contact_id": "someone else"},
            r"columns disagree with the body: \(contact_id, agent_id, queue\) are "
            r"\('someone else', None, 'sales'\), the body says \('c6', None, 'sales'\)",
        ),
        ({"version": 1}, rf"version 1 in a format-{FORMAT} log"),
        ({"at": "noon"}, r"at or command is of the wrong type"),
        ({"body": b"{}"}, r"body is a bytes, not text"),
    ],
    ids=[
        "not-json",
        "wrong-type",
        "unknown-field",
        "command",
        "columns",
        "old-version",
        "at",
        "blob",
    ],
)
def test_an_intact_row_that_is_not_a_record_is_damaged(
    ten: Path, columns: dict[str, Any], reason: str
) -> None:
    rewrite_row(ten, 6, **columns)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 5))
    assert recovered.problem is not None
    assert re.search(rf"record 6 in {re.escape(str(ten))} is damaged \({reason}", recovered.problem)
    assert [seq for _, seq, _ in quarantine(ten)] == [6, 7, 8, 9, 10]


def test_a_body_with_a_value_its_constructor_refuses_is_damaged(ten: Path) -> None:
    with direct(ten) as other:
        (body,) = other.execute("SELECT body FROM log WHERE seq = 6").fetchone()
    # A skill level of 11: well-formed JSON, but no Contact can hold it.
    rewrite_row(ten, 6, body=body.replace('"requirements":{}', '"requirements":{"en":11}'))
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 5))
    assert recovered.problem is not None
    assert "record 6" in recovered.problem
    assert "holds a value that is refused" in recovered.problem


class RunsCode:
    """Under plain pickle, loading this runs ``os.system`` (it never must here)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("crc", ["matching", "stale"])
def test_a_pickle_planted_in_the_log_never_runs(ten: Path, tmp_path: Path, crc: str) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(RunsCode(marker), protocol=5)
    # The exploit works under plain pickle (shown on a copy of it, in a subprocess).
    subprocess.run(
        [sys.executable, "-c", "import pickle, sys; pickle.loads(sys.stdin.buffer.read())"],
        input=payload,
        check=True,
    )
    assert marker.exists()
    marker.unlink()
    if crc == "matching":
        rewrite_row(ten, 7, body=payload)
    else:
        with direct(ten) as other:
            other.execute("UPDATE log SET body = ? WHERE seq = 7", (payload,))
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert not marker.exists()
    assert recovered.records == tuple(records(1, 6))
    assert recovered.problem is not None
    assert recovered.problem.startswith(f"record 7 in {ten} is damaged (")
    assert quarantine(ten)[0][:2] == ("record", 7)
    with direct(ten) as other:
        assert other.execute("SELECT body FROM quarantine WHERE seq = 7").fetchone() == (payload,)


def test_a_gap_in_seq_ends_the_good_prefix(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("DELETE FROM log WHERE seq = 5")
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 4))
    assert recovered.problem == (
        f"record 5 in {ten} is missing (the log jumps from record 4 to 6); 4 good records "
        "recovered, 5 (records 6..10) set aside in table quarantine"
    )
    assert [seq for _, seq, _ in quarantine(ten)] == [6, 7, 8, 9, 10]


@pytest.mark.parametrize("column", ["body", "contact_id", "command"])
def test_a_row_whose_text_is_not_utf8_is_damaged_and_named(ten: Path, column: str) -> None:
    # A flipped byte in a file easily leaves a text column that is not UTF-8:
    # that row is damaged, not the whole log unreadable.
    with direct(ten) as other:
        other.execute(
            f"UPDATE log SET {column} = CAST(CAST({column} AS BLOB) || x'ff' AS TEXT) WHERE seq = 8"
        )
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
        assert recovered.records == tuple(records(1, 7))
        assert recovered.problem is not None
        assert recovered.problem.startswith(f"record 8 in {ten} is damaged (")
        assert [seq for _, seq, _ in quarantine(ten)] == [8, 9, 10]
        opened.append(records(8, 8))
    with SQLiteStorage(ten) as reopened:
        assert reopened.load() == Recovered(records=tuple(records(1, 8)))


def test_a_snapshot_whose_text_is_not_utf8_is_damaged(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b'{"state": 4}')
        opened.snapshot(6, b'{"state": 6}')
    with direct(ten) as other:
        other.execute(
            "UPDATE snapshots SET body = CAST(CAST(body AS BLOB) || x'ff' AS TEXT) WHERE seq = 6"
        )
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.snapshot) == (4, b'{"state": 4}')
    assert recovered.records == tuple(records(5, 10))
    assert quarantine(ten)[0][:2] == ("snapshot", 6)


def test_a_meta_value_that_is_not_utf8_is_refused_at_open(ten: Path) -> None:
    with direct(ten) as other:
        other.execute("UPDATE meta SET value = CAST(x'ff33' AS TEXT) WHERE key = 'format'")
    with pytest.raises(StorageError, match=f"cannot open {ten}: Could not decode"):
        SQLiteStorage(ten)


def test_a_seq_that_appears_twice_ends_the_good_prefix_before_it(ten: Path) -> None:
    # Only a log table rebuilt without its key can hold it: which row is the
    # record cannot be told, so both are set aside, and the records loaded are
    # exactly those left in the table (appends go on from there).
    with direct(ten) as other:
        other.execute("CREATE TABLE copy AS SELECT * FROM log")
        other.execute("INSERT INTO copy SELECT * FROM log WHERE seq = 6")
        other.execute("DROP TABLE log")
        other.execute("ALTER TABLE copy RENAME TO log")
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
        assert recovered.records == tuple(records(1, 5))
        assert recovered.problem == (
            f"record 6 in {ten} appears more than once; 5 good records recovered, "
            "6 (records 6..10) set aside in table quarantine"
        )
        assert log_seqs(ten) == [1, 2, 3, 4, 5]
        assert [seq for _, seq, _ in quarantine(ten)] == [6, 6, 7, 8, 9, 10]
        assert opened.load() == Recovered(records=tuple(records(1, 5)))


def test_a_row_in_a_newer_format_is_refused_and_nothing_changes(ten: Path) -> None:
    flip_body(ten, "log", 9)  # damage after it is not set aside either
    rewrite_row(ten, 7, version=NEWER)
    with SQLiteStorage(ten) as opened, pytest.raises(StorageError) as raised:
        opened.load()
    message = str(raised.value)
    assert f"record 7 in {ten} is in format {NEWER}, written by a newer ccroute" in message
    assert f"this release reads format {READS}" in message
    assert "nothing was changed" in message
    assert log_seqs(ten) == list(range(1, 11))
    assert quarantine(ten) == []


def test_a_snapshot_in_a_newer_format_is_refused(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(5, b"five")
    with direct(ten) as other:
        other.execute(
            "UPDATE snapshots SET version = ?, crc = ? WHERE seq = 5",
            (NEWER, snapshot_crc(5, NEWER, b"five")),
        )
    with SQLiteStorage(ten) as opened, pytest.raises(StorageError, match=f"in format {NEWER}"):
        opened.load()
    assert snapshot_seqs(ten) == [5]


def test_a_second_load_after_recovery_reports_nothing(ten: Path) -> None:
    flip_body(ten, "log", 8)
    with SQLiteStorage(ten) as opened:
        assert opened.load().problem is not None
        assert opened.load() == Recovered(records=tuple(records(1, 7)))


def test_damage_after_the_snapshot_counts_records_after_it(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(6, b"six")
    flip_body(ten, "log", 9)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.records) == (6, tuple(records(7, 8)))
    assert recovered.problem is not None
    assert "2 good records recovered after the snapshot at record 6" in recovered.problem


def test_damage_before_the_snapshot_is_not_read(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(6, b"six")
    flip_body(ten, "log", 3)
    with SQLiteStorage(ten) as opened:
        assert opened.load() == Recovered(6, b"six", tuple(records(7, 10)))


def test_a_damaged_latest_snapshot_falls_back_to_the_previous_one(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b"state after four")
        opened.snapshot(8, b"state after eight")
    flip_body(ten, "snapshots", 8)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
        assert recovered.snapshot_seq == 4
        assert recovered.snapshot == b"state after four"
        assert recovered.records == tuple(records(5, 10))
        assert recovered.problem == (
            f"the snapshot after record 8 in {ten} is damaged (checksum mismatch); it was set "
            "aside in table quarantine and the snapshot after record 4 is used instead"
        )
        # The log goes on from its last record, and snapshots from the one in use.
        opened.append([record(11)])
        opened.snapshot(9, b"nine")
    assert quarantine(ten) == [("snapshot", 8, "damaged snapshot (checksum mismatch)")]
    assert snapshot_seqs(ten) == [9, 4]


def test_a_snapshot_moved_to_another_seq_is_damaged(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b"state after four")
    # The checksum covers the seq: the bytes of one state cannot pass for another's.
    with direct(ten) as other:
        other.execute("UPDATE snapshots SET seq = 9 WHERE seq = 4")
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.records) == (0, tuple(records(1, 10)))
    assert quarantine(ten) == [("snapshot", 9, "damaged snapshot (checksum mismatch)")]


def test_when_every_snapshot_is_damaged_the_whole_log_is_replayed(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b"state after four")
        opened.snapshot(8, b"state after eight")
    flip_body(ten, "snapshots", 8)
    flip_body(ten, "snapshots", 4)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.snapshot) == (0, None)
    assert recovered.records == tuple(records(1, 10))
    assert recovered.problem is not None
    assert "snapshot after record 8" in recovered.problem
    assert "snapshot after record 4" in recovered.problem
    assert "they were set aside in table quarantine and no good snapshot is left" in (
        recovered.problem
    )
    assert "replayed from its first record" in recovered.problem


def copy_with_torn_wal(path: Path, destination: Path, cut: int) -> Path:
    """Copy a live database and its WAL as a crash would leave them, the WAL cut short."""
    destination.mkdir()
    copy = destination / path.name
    shutil.copyfile(path, copy)
    wal = path.with_name(path.name + "-wal")
    wal_copy = copy.with_name(copy.name + "-wal")
    shutil.copyfile(wal, wal_copy)
    size = wal_copy.stat().st_size
    assert size > cut, "the WAL should still hold the appends (no checkpoint yet)"
    with wal_copy.open("r+b") as handle:
        handle.truncate(size - cut)
    return copy


@pytest.mark.parametrize("cut", [100, 2000])
def test_a_wal_torn_mid_frame_recovers_the_committed_prefix(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "live" / "centre.db"
    path.parent.mkdir()
    appended = records(1, 10)
    with SQLiteStorage(path) as live:
        # One commit per record, so the last frames of the WAL are the last commit.
        for one in appended:
            live.append([one])
        copy = copy_with_torn_wal(path, tmp_path / "crashed", cut)
    with SQLiteStorage(copy) as opened:
        recovered = opened.load()
        # SQLite drops the torn final commit itself; everything before it is intact.
        assert recovered.records == tuple(appended[:9])
        assert recovered.problem is None
        opened.append([record(10)])
    with SQLiteStorage(copy) as reopened:
        assert reopened.load().records == tuple(appended)


def test_a_wal_cut_in_half_recovers_a_committed_prefix(tmp_path: Path) -> None:
    path = tmp_path / "live" / "centre.db"
    path.parent.mkdir()
    appended = records(1, 60)
    with SQLiteStorage(path) as live:
        for first in range(1, 61, 3):
            live.append(appended[first - 1 : first + 2])
        wal_size = path.with_name("centre.db-wal").stat().st_size
        copy = copy_with_torn_wal(path, tmp_path / "crashed", wal_size // 2 + 7)
    with SQLiteStorage(copy) as opened:
        recovered = opened.load()
    count = len(recovered.records)
    assert 0 < count < 60
    assert count % 3 == 0, "a batch is one commit: all of it or none"
    assert recovered.records == tuple(appended[:count])
    assert recovered.problem is None


def test_the_log_never_goes_back_behind_its_latest_snapshot(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(10, b"ten")
    # Rows before a snapshot are never needed again; a person may have removed them.
    with direct(ten) as other:
        other.execute("DELETE FROM log WHERE seq > 8")
    with SQLiteStorage(ten) as opened:
        with pytest.raises(StorageError, match="must be 11"):
            opened.append([record(9)])
        assert opened.load() == Recovered(10, b"ten", ())
        opened.append([record(11)])
        assert opened.load().records == (record(11),)


# -- migrating format-1 (pickle) logs ------------------------------------------
#
# tests/golden/v1 holds two logs written by the pickle writers of format 1
# (see make_v1.py there): one by each revision that wrote it.


@pytest.mark.parametrize("fixture", ["v1-names.db", "v1-commands.db"])
def test_a_format_1_log_migrates_to_format_2_and_replays(tmp_path: Path, fixture: str) -> None:
    source = tmp_path / fixture
    shutil.copyfile(V1 / fixture, source)
    before = source.read_bytes()
    target = tmp_path / "new.db"
    migration = migrate_v1(source, target)
    assert (migration.records, migration.set_aside, migration.snapshots) == (34, 0, 2)
    assert migration.problem is None
    assert str(migration) == (
        f"{source} -> {target}: 34 records migrated to format {FORMAT}, 0 set aside, "
        "2 format-1 snapshots not carried over"
    )
    assert source.read_bytes() == before
    assert not Path(f"{target}.partial").exists()
    with SQLiteStorage(target) as opened:
        recovered = opened.load()
    assert recovered.problem is None
    assert recovered.snapshot is None
    names = [r.name for r in recovered.records]
    assert names[:8] == [
        "add_channel",
        "add_queues",
        "add_queue",
        "add_agent",
        "add_agent",
        "set_presence",
        "set_capacity",
        "submit",
    ]
    assert {"note", "tick", "transfer", "request_callback", "abandon", "remove_agent"} <= set(names)
    submit = recovered.records[7]
    assert submit.at == 1_700_000_001.5
    assert submit.command == Submit(
        Contact(
            "c1",
            "voice",
            "sales",
            requirements={"en": 5},
            priority_seconds=10.0,
            customer_id="cust-1",
        )
    )
    assert isinstance(submit.command, Submit)
    assert dict(submit.command.contact.attributes) == {
        "ivr_path": "1-3",
        "tags": ["new", "web"],
        "score": 0.25,
    }
    (transfer,) = [r for r in recovered.records if r.name == "transfer"]
    assert transfer.command == Transfer("c3", queue="sales", requirements={"en": 2}, keep_key=False)

    # A service started on it replays every record to the events that were logged.
    async def start() -> tuple[int, list[str], str | None]:
        service = Service(path=target, load_entrypoints=False, clock=ManualClock(1_700_000_100.0))
        async with service:
            return service.durable_seq, service.router.contact_ids, service.recovery_problem

    assert anyio.run(start) == (34, ["c3", "c5"], None)


def v1_row(path: Path, seq: int, data: bytes) -> None:
    """Put ``data`` in a format-1 row with a matching crc (as format 1 computed it)."""
    import zlib

    with direct(path) as other:
        other.execute(
            "UPDATE log SET data = ?, crc = ? WHERE seq = ?", (data, zlib.crc32(data), seq)
        )


def test_migration_never_runs_a_planted_pickle_and_sets_the_row_aside(tmp_path: Path) -> None:
    source = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-names.db", source)
    marker = tmp_path / "pwned"
    v1_row(source, 20, pickle.dumps(RunsCode(marker), protocol=5))
    migration = migrate_v1(source, tmp_path / "new.db")
    assert not marker.exists()
    assert (migration.records, migration.set_aside) == (19, 15)
    assert migration.problem is not None
    assert "damaged record 20" in migration.problem
    assert "global posix.system is not allowed in a ccroute log" in migration.problem
    reasons = quarantine(tmp_path / "new.db")
    assert reasons[0][:2] == ("record", 20)
    assert [seq for _, seq, _ in reasons] == list(range(20, 35))
    assert reasons[1][2] == "follows damaged record 20"
    with SQLiteStorage(tmp_path / "new.db") as opened:
        assert [r.seq for r in opened.load().records] == list(range(1, 20))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\x05garbage", "does not decode: UnpicklingError"),
        (pickle.dumps((1.0, "launch", (), {}, ()), protocol=5), "command 'launch'"),
        (pickle.dumps((1.0, "accept", ("c1",), {}, ()), protocol=5), "call that is refused"),
        (pickle.dumps(["not", "a", "record"], protocol=5), "does not decode into a log record"),
    ],
    ids=["garbage", "command", "arguments", "shape"],
)
def test_migration_sets_aside_rows_that_are_not_records(
    tmp_path: Path, data: bytes, reason: str
) -> None:
    source = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-names.db", source)
    v1_row(source, 30, data)
    migration = migrate_v1(source, tmp_path / "new.db")
    assert (migration.records, migration.set_aside) == (29, 5)
    assert migration.problem is not None
    assert reason in migration.problem


def test_migration_checks_the_format_1_checksum(tmp_path: Path) -> None:
    source = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-names.db", source)
    with direct(source) as other:
        other.execute("UPDATE log SET crc = crc + 1 WHERE seq = 34")
    migration = migrate_v1(source, tmp_path / "new.db")
    assert (migration.records, migration.set_aside) == (33, 1)
    assert migration.problem is not None
    assert "damaged record 34" in migration.problem
    assert "checksum mismatch" in migration.problem


def test_migration_refuses_an_existing_target_and_a_log_that_is_not_format_1(
    tmp_path: Path,
) -> None:
    source = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-names.db", source)
    (tmp_path / "taken.db").write_bytes(b"mine")
    with pytest.raises(StorageError, match=r"taken\.db: it exists"):
        migrate_v1(source, tmp_path / "taken.db")
    assert (tmp_path / "taken.db").read_bytes() == b"mine"
    with SQLiteStorage(tmp_path / "v2.db") as opened:
        opened.append(records(1, 2))
    with pytest.raises(StorageError, match=f"in format '{FORMAT}', not 1"):
        migrate_v1(tmp_path / "v2.db", tmp_path / "new.db")
    assert not (tmp_path / "new.db").exists()


def test_migration_from_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "old.db"
    shutil.copyfile(V1 / "v1-commands.db", source)
    done = subprocess.run(
        [sys.executable, "-m", "ccroute.storage_sqlite", "migrate", str(source), "new.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"34 records migrated to format {FORMAT}" in done.stdout
    again = subprocess.run(
        [sys.executable, "-m", "ccroute.storage_sqlite", "migrate", str(source), "new.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert again.returncode == 1
    assert "it exists" in again.stderr


def test_the_lock_file_names_its_owner_and_stays(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path) as opened:
        opened.append(records(1, 2))
        assert Path(f"{path}.lock").read_text() == f"{os.getpid()}\n"
    # Left in place: removing it could let two owners lock two different files.
    assert Path(f"{path}.lock").exists()
    with SQLiteStorage(path) as again:
        assert again.load().last_seq == 2
