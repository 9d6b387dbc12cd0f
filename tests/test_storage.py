"""Stores keep what was appended, give it back in order, and set damage aside.

The shared behaviour runs against both built-in stores (fixture ids
``memory`` and ``sqlite``); the SQLite store's durability, file checks and
recovery from damage are tested on real database files, damaged with direct
SQL or by truncating a copied WAL file.
"""

from __future__ import annotations

import pickle
import re
import shutil
import sqlite3
import tempfile
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import (
    Contact,
    InvalidValueError,
    LogRecord,
    MemoryStorage,
    Offered,
    Queued,
    Recovered,
    Rejected,
    SQLiteStorage,
    Storage,
)
from ccroute.errors import StorageError

STORE_KINDS = ["memory", "sqlite"]


def open_store(kind: str, directory: Path) -> Storage:
    """A fresh store of ``kind``; an SQLite one lives in ``directory``."""
    if kind == "memory":
        return MemoryStorage()
    return SQLiteStorage(directory / "centre.db")


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


def record(seq: int, **changes: Any) -> LogRecord:
    """A submit record as the service logs it: the call and the events it caused."""
    at = 10.0 * seq
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "command": "submit",
        "args": (f"c{seq}",),
        "kwargs": {"priority": seq % 3, "note": None},
        "events": (
            Queued(at=at, contact_id=f"c{seq}", queue="sales", channel="voice"),
            Offered(
                at=at,
                contact_id=f"c{seq}",
                agent_id="a1",
                queue="sales",
                channel="voice",
                timeout_at=at + 20.0,
            ),
        ),
    }
    fields.update(changes)
    return LogRecord(**fields)


def records(first: int, last: int) -> list[LogRecord]:
    """Records ``first`` to ``last`` inclusive."""
    return [record(seq) for seq in range(first, last + 1)]


# -- shared behaviour ----------------------------------------------------------


def test_both_stores_satisfy_the_protocol(store: Storage) -> None:
    assert isinstance(store, Storage)


def test_an_empty_store_loads_nothing(store: Storage) -> None:
    recovered = store.load()
    assert recovered == Recovered()
    assert recovered.last_seq == 0


def test_appended_records_load_back_equal_events_included(store: Storage) -> None:
    store.append(records(1, 3))
    store.append([record(4)])
    store.append(records(5, 12))
    recovered = store.load()
    assert recovered.records == tuple(records(1, 12))
    assert recovered.records[0].events[1] == record(1).events[1]
    assert recovered.problem is None
    assert recovered.last_seq == 12


def test_an_empty_batch_changes_nothing(store: Storage) -> None:
    store.append([])
    store.append(records(1, 2))
    store.append(())
    assert store.load().records == tuple(records(1, 2))


def test_a_record_carrying_a_contact_loads_back(store: Storage) -> None:
    contact = Contact(
        "c1", "voice", "sales", requirements={"en": 3}, attributes={"vip": True, "tags": ["x"]}
    )
    store.append([record(1, args=(contact,), kwargs={})])
    (loaded,) = store.load().records
    assert loaded.args == (contact,)
    # Contact equality ignores attributes; they must survive too.
    assert dict(loaded.args[0].attributes) == {"vip": True, "tags": ["x"]}


@pytest.mark.parametrize("first", [0, 2, 5])
def test_the_first_record_of_an_empty_log_must_be_1(store: Storage, first: int) -> None:
    with pytest.raises(StorageError, match=rf"record {first}\b.*next record must be 1"):
        store.append([record(first)])
    assert store.load().records == ()


@pytest.mark.parametrize("first", [3, 5, 100])
def test_a_batch_must_continue_the_log(store: Storage, first: int) -> None:
    store.append(records(1, 3))
    with pytest.raises(StorageError, match=rf"record {first}\b.*ends at record 3.*must be 4"):
        store.append([record(first)])
    assert store.load().records == tuple(records(1, 3))


def test_seqs_in_a_batch_must_be_consecutive(store: Storage) -> None:
    store.append(records(1, 3))
    with pytest.raises(StorageError, match=r"record 7 follows record 5"):
        store.append([record(4), record(5), record(7)])
    assert store.load().records == tuple(records(1, 3))
    store.append(records(4, 5))
    assert store.load().last_seq == 5


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not a record", r"item 1 of the batch is a str, not a LogRecord"),
        (record(3, args=["a", "list"]), r"record 3: args must be a tuple"),
        (record(3, kwargs={1: "x"}), r"record 3: kwargs keys must be strings"),
        (record(3, events=(Queued(1.0, "c", "q", "voice"), "x")), r"record 3: events must be"),
        (record(3, at="soon"), r"record 3: at must be a number"),
        (record(3, command=""), r"record 3: command must be a non-empty string"),
        (attrs.evolve(record(3), seq="3"), r"item 1 .*seq must be an int"),  # type: ignore[arg-type]
    ],
    ids=["not-a-record", "args", "kwargs", "events", "at", "command", "seq"],
)
def test_append_is_all_or_nothing(store: Storage, bad: Any, message: str) -> None:
    store.append([record(1)])
    with pytest.raises(InvalidValueError, match=message):
        store.append([record(2), bad, record(4)])
    # Neither record 2 (before the bad item) nor anything else was kept...
    assert store.load().records == (record(1),)
    # ...and the log still goes on from record 1.
    store.append(records(2, 3))
    assert store.load().last_seq == 3


@pytest.mark.parametrize("batch", [record(1), None, 1])
def test_a_batch_must_be_a_sequence_of_records(store: Storage, batch: Any) -> None:
    with pytest.raises(InvalidValueError, match="sequence of LogRecord"):
        store.append(batch)
    assert store.load().records == ()


def test_load_returns_the_snapshot_and_the_records_after_it(store: Storage) -> None:
    store.append(records(1, 5))
    store.snapshot(3, b"state after 3")
    recovered = store.load()
    assert recovered.snapshot_seq == 3
    assert recovered.snapshot == b"state after 3"
    assert recovered.records == tuple(records(4, 5))
    assert recovered.last_seq == 5
    store.append(records(6, 7))
    assert store.load().records == tuple(records(4, 7))


def test_a_snapshot_at_the_end_of_the_log_leaves_no_tail(store: Storage) -> None:
    store.append(records(1, 4))
    store.snapshot(4, bytearray(b"four"))  # type: ignore[arg-type]
    recovered = store.load()
    assert (recovered.snapshot_seq, recovered.snapshot, recovered.records) == (4, b"four", ())
    assert recovered.last_seq == 4
    store.append([record(5)])
    assert store.load().records == (record(5),)


def test_a_snapshot_of_the_empty_log_is_allowed(store: Storage) -> None:
    store.snapshot(0, b"empty router")
    assert store.load() == Recovered(snapshot_seq=0, snapshot=b"empty router")
    store.append([record(1)])
    assert store.load().records == (record(1),)


def test_the_latest_snapshot_wins(store: Storage) -> None:
    store.append(records(1, 2))
    for seq in (1, 2, 2):
        store.snapshot(seq, f"after {seq}".encode())
    store.append(records(3, 6))
    store.snapshot(5, b"after 5")
    recovered = store.load()
    assert (recovered.snapshot_seq, recovered.snapshot) == (5, b"after 5")
    assert recovered.records == (record(6),)


@pytest.mark.parametrize(
    ("seq", "state", "message"),
    [
        (6, b"s", r"log ends at record 5; a snapshot after record 6"),
        (2, b"s", r"record 2 is before the latest snapshot \(after record 3\)"),
        (4, "text", r"state must be bytes, not str"),
        ("4", b"s", r"seq must be an int"),
    ],
)
def test_bad_snapshots_are_refused_and_change_nothing(
    store: Storage, seq: Any, state: Any, message: str
) -> None:
    store.append(records(1, 5))
    store.snapshot(3, b"three")
    before = store.load()
    with pytest.raises(InvalidValueError, match=message):
        store.snapshot(seq, state)
    assert store.load() == before


def test_close_is_idempotent_and_final(store: Storage) -> None:
    store.append(records(1, 2))
    store.close()
    store.close()
    with pytest.raises(StorageError, match="closed"):
        store.load()
    with pytest.raises(StorageError, match="closed"):
        store.append([record(3)])
    with pytest.raises(StorageError, match="closed"):
        store.snapshot(2, b"s")


def test_calls_may_come_from_another_thread(store: Storage) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            store.append(records(1, 3))
            store.snapshot(2, b"two")
        except BaseException as error:  # reported below, on the test's thread
            errors.append(error)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert errors == []
    assert store.load().records == (record(3),)


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


def test_sqlite_refuses_a_log_in_another_format(tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    SQLiteStorage(path).close()
    with direct(path) as other:
        other.execute("UPDATE meta SET value = '2' WHERE key = 'format'")
    with pytest.raises(StorageError, match=r"ccroute log in format '2'.*reads format 1"):
        SQLiteStorage(path)


def test_sqlite_refuses_a_database_claiming_our_id_without_our_tables(tmp_path: Path) -> None:
    path = tmp_path / "impostor.db"
    with direct(path) as other:
        other.execute("PRAGMA application_id = 0x6363726C")
        other.execute("CREATE TABLE t (x)")
    with pytest.raises(StorageError, match="no meta table"):
        SQLiteStorage(path)


def test_sqlite_refuses_values_that_do_not_pickle(tmp_path: Path) -> None:
    with SQLiteStorage(tmp_path / "centre.db") as opened:
        opened.append([record(1)])
        with pytest.raises(InvalidValueError, match=r"record 3 cannot be stored.*pickle"):
            opened.append([record(2), record(3, kwargs={"callback": lambda: None})])
        assert opened.load().records == (record(1),)


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


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_sqlite_keeps_the_latest_snapshots_only(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "centre.db"
    with SQLiteStorage(path, keep_snapshots=keep) as opened:
        opened.append(records(1, 6))
        for seq in range(1, 7):
            opened.snapshot(seq, bytes([seq]))
        assert opened.keep_snapshots == keep
    assert snapshot_seqs(path) == list(range(6, 6 - keep, -1))


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


def flip_byte(path: Path, table: str, seq: int) -> None:
    """Damage one byte in the middle of a row's data, leaving its crc as it was."""
    with direct(path) as other:
        (data,) = other.execute(f"SELECT data FROM {table} WHERE seq = ?", (seq,)).fetchone()
        damaged = bytearray(data)
        damaged[len(damaged) // 2] ^= 0x5A
        other.execute(f"UPDATE {table} SET data = ? WHERE seq = ?", (bytes(damaged), seq))


def replace_data(path: Path, seq: int, data: bytes) -> None:
    """Put other bytes in a log row with a matching crc: intact, but not what was written."""
    with direct(path) as other:
        other.execute(
            "UPDATE log SET data = ?, crc = ? WHERE seq = ?", (data, zlib.crc32(data), seq)
        )


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
    flip_byte(ten, "log", 10)
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
        original = dict(other.execute("SELECT seq, data FROM log WHERE seq >= 4"))
    flip_byte(ten, "log", 4)
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
    # Set aside, not deleted: the good records after the damage are kept byte for byte.
    with direct(ten) as other:
        kept = dict(other.execute("SELECT seq, data FROM quarantine WHERE seq > 4"))
    assert kept == {seq: data for seq, data in original.items() if seq > 4}


def test_a_record_that_does_not_unpickle_is_damaged(ten: Path) -> None:
    replace_data(ten, 6, b"\x80\x05not a pickle at all")
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 5))
    assert recovered.problem is not None
    assert f"record 6 in {ten} is damaged (does not decode: UnpicklingError" in recovered.problem


def test_a_pickle_that_is_not_a_log_record_is_damaged(ten: Path) -> None:
    replace_data(ten, 6, pickle.dumps((1.0, "submit", ["args"], {}, ()), protocol=5))
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert recovered.records == tuple(records(1, 5))
    assert recovered.problem is not None
    assert "record 6" in recovered.problem
    assert "does not decode into a log record: args must be a tuple" in recovered.problem


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


def test_an_intact_record_written_by_code_not_installed_here_is_refused(ten: Path) -> None:
    # A pickle that names a module this process cannot import: the bytes are good.
    replace_data(ten, 7, b"\x80\x05cno_such_ccroute_plugin\nThing\n)R.")
    with SQLiteStorage(ten) as opened, pytest.raises(StorageError) as raised:
        opened.load()
    message = str(raised.value)
    assert f"record 7 in {ten} is intact but cannot be read" in message
    assert "no_such_ccroute_plugin" in message
    assert "nothing was changed" in message
    assert log_seqs(ten) == list(range(1, 11))
    assert quarantine(ten) == []


def test_a_second_load_after_recovery_reports_nothing(ten: Path) -> None:
    flip_byte(ten, "log", 8)
    with SQLiteStorage(ten) as opened:
        assert opened.load().problem is not None
        assert opened.load() == Recovered(records=tuple(records(1, 7)))


def test_damage_after_the_snapshot_counts_records_after_it(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(6, b"six")
    flip_byte(ten, "log", 9)
    with SQLiteStorage(ten) as opened:
        recovered = opened.load()
    assert (recovered.snapshot_seq, recovered.records) == (6, tuple(records(7, 8)))
    assert recovered.problem is not None
    assert "2 good records recovered after the snapshot at record 6" in recovered.problem


def test_damage_before_the_snapshot_is_not_read(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(6, b"six")
    flip_byte(ten, "log", 3)
    with SQLiteStorage(ten) as opened:
        assert opened.load() == Recovered(6, b"six", tuple(records(7, 10)))


def test_a_damaged_latest_snapshot_falls_back_to_the_previous_one(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b"state after four")
        opened.snapshot(8, b"state after eight")
    flip_byte(ten, "snapshots", 8)
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


def test_when_every_snapshot_is_damaged_the_whole_log_is_replayed(ten: Path) -> None:
    with SQLiteStorage(ten) as opened:
        opened.snapshot(4, b"state after four")
        opened.snapshot(8, b"state after eight")
    flip_byte(ten, "snapshots", 8)
    flip_byte(ten, "snapshots", 4)
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


# -- the property: what was appended is what comes back ------------------------

_ids = st.text(alphabet="abcxyz0123", min_size=1, max_size=6)
_times = st.floats(min_value=0, max_value=1e7, allow_nan=False)
_values = st.none() | st.booleans() | st.integers() | _times | st.text(max_size=6)
_events = st.one_of(
    st.builds(Queued, at=_times, contact_id=_ids, queue=_ids, channel=_ids),
    st.builds(
        Offered,
        at=_times,
        contact_id=_ids,
        agent_id=_ids,
        queue=_ids,
        channel=_ids,
        timeout_at=st.none() | _times,
    ),
    st.builds(Rejected, at=_times, contact_id=_ids, agent_id=_ids),
)
# (at, command, args, kwargs, events); the seq is given when the batch is appended.
_fields = st.tuples(
    _times,
    st.sampled_from(["submit", "accept", "tick", "set_presence"]),
    st.lists(_values, max_size=3).map(tuple),
    st.dictionaries(st.text(max_size=4), _values, max_size=3),
    st.lists(_events, max_size=3).map(tuple),
)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(_fields, max_size=6)),
        # A snapshot ``back`` records before the end of the log (not before the latest one).
        st.tuples(st.just("snapshot"), st.integers(0, 4), st.binary(max_size=24)),
    ),
    max_size=10,
)


@pytest.mark.parametrize("kind", STORE_KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_steps)
def test_reopening_gives_back_the_records_after_the_latest_snapshot(
    kind: str, steps: list[tuple[Any, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "centre.db"
        store: Storage = (
            MemoryStorage() if kind == "memory" else SQLiteStorage(path, synchronous="OFF")
        )
        appended: list[LogRecord] = []
        snapshot: tuple[int, bytes | None] = (0, None)
        for step in steps:
            if step[0] == "append":
                batch = [
                    LogRecord(len(appended) + index, *fields)
                    for index, fields in enumerate(step[1], start=1)
                ]
                store.append(batch)
                appended.extend(batch)
            else:
                _, back, state = step
                seq = max(len(appended) - back, snapshot[0])
                store.snapshot(seq, state)
                snapshot = (seq, state)
        if kind == "sqlite":
            store.close()
            store = SQLiteStorage(path, synchronous="OFF")
        recovered = store.load()
        assert (recovered.snapshot_seq, recovered.snapshot) == snapshot
        assert recovered.records == tuple(appended[snapshot[0] :])
        assert recovered.problem is None
        # The reopened log goes on where it ended.
        store.append([record(len(appended) + 1)])
        assert store.load().records[-1] == record(len(appended) + 1)
        store.close()


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
