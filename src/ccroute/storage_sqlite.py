"""The durable default store: an event log and snapshots in one SQLite file.

:class:`SQLiteStorage` keeps the log on the standard library's :mod:`sqlite3`
in WAL journal mode. One database file holds four tables:

``meta``
    ``key``/``value`` rows naming the file a ccroute log (``magic``) and its
    ``format`` version; the SQLite header's application id says the same. A
    database without them is refused, so a store never writes into someone
    else's file.
``log``
    ``seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, data BLOB NOT NULL``: one
    row per :class:`~ccroute.storage.LogRecord`, seq consecutive from 1.
``snapshots``
    ``seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, data BLOB NOT NULL``: the
    router's state after record ``seq``, the latest ``keep_snapshots`` kept.
``quarantine``
    rows :meth:`SQLiteStorage.load` set aside because they were damaged
    (``kind`` ``"record"`` or ``"snapshot"``, ``seq``, ``crc``, ``data``,
    ``reason``, ``set_aside_at`` in UTC). Nothing is ever deleted: a person can
    inspect these rows with any SQLite tool.

A record's ``data`` is ``(at, command, args, kwargs, events)`` pickled with
protocol 5 (fast, and any picklable argument can be logged), and ``crc`` is
:func:`zlib.crc32` of ``data``; a snapshot's ``data`` is the state bytes as
given, with their crc32.

.. warning::
   The log holds pickles, and loading a pickle can run arbitrary code. Only
   open logs you trust, as with any pickle-based cache: a file written by your
   own service, in a directory only it can write to.

Durability is the ``synchronous`` setting (SQLite's ``PRAGMA synchronous``):

``"FULL"`` (the default)
    every append survives a power loss once it returns.
``"NORMAL"``
    every append survives a crash of the process (even ``SIGKILL``), but in
    WAL mode the last commits before a power loss or an operating-system crash
    may be lost. Several times faster per commit.
``"OFF"``
    neither: for tests and throw-away simulations.

The service batches the records of concurrent calls into one
:meth:`~SQLiteStorage.append`, which writes them in a single transaction: one
sync per batch (group commit), and all of the batch or none of it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import threading
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Literal, get_args

from .errors import InvalidValueError, StorageError
from .storage import (
    LogRecord,
    Recovered,
    _check_batch,
    _check_snapshot,
    _record_shape_problem,
)

__all__ = ["SQLiteStorage", "SyncMode"]

#: The accepted values of ``synchronous``.
SyncMode = Literal["FULL", "NORMAL", "OFF"]
_SYNC_MODES: Final[tuple[str, ...]] = get_args(SyncMode)

# "ccrl" in the SQLite header (PRAGMA application_id), so `file` and other
# tools can tell a ccroute log from other SQLite databases.
_APPLICATION_ID: Final = 0x6363726C
_MAGIC: Final = "ccroute event log"
_FORMAT_VERSION: Final = 1

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE log (seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, crc INTEGER NOT NULL, data BLOB NOT NULL)",
    "CREATE TABLE quarantine (id INTEGER PRIMARY KEY, kind TEXT NOT NULL,"
    " seq INTEGER NOT NULL, crc INTEGER, data BLOB, reason TEXT NOT NULL,"
    " set_aside_at TEXT NOT NULL)",
)
_TABLES: Final = frozenset({"meta", "log", "snapshots", "quarantine"})


# -- encoding ------------------------------------------------------------------


def _encode(batch: Sequence[LogRecord]) -> list[tuple[int, int, bytes]]:
    """``(seq, crc, data)`` rows for a checked batch."""
    rows = []
    dumps = pickle.dumps
    for record in batch:
        try:
            data = dumps(
                (record.at, record.command, record.events), protocol=5
            )
        except Exception as error:
            raise InvalidValueError(
                f"append: record {record.seq} cannot be stored, its values do not "
                f"pickle: {type(error).__name__}: {error}"
            ) from error
        rows.append((record.seq, zlib.crc32(data), data))
    return rows


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Unreadable(Exception):
    """A record's bytes are intact but this program cannot rebuild its objects."""


# -- the store -----------------------------------------------------------------


class SQLiteStorage:
    """The durable store: an event log and snapshots in one SQLite database (WAL mode).

    Opening creates the file (and its tables) when it does not exist, and
    otherwise checks that it is a ccroute log. Call :meth:`load` before the
    first :meth:`append`: it is what sets damaged records aside, so the log
    goes on from its last good record.

    Calls may come from any thread (the service runs them in worker threads)
    but are served one at a time.

    :param path: the database file (``-wal`` and ``-shm`` files appear beside it).
    :param synchronous: ``"FULL"`` (every append survives a power loss),
        ``"NORMAL"`` (survives a crash of the process, even ``SIGKILL``, but the
        last commits may be lost on a power loss in WAL mode) or ``"OFF"``
        (neither; for tests).
    :param keep_snapshots: how many of the latest snapshots to keep (at least
        1); with 2 or more a damaged latest snapshot falls back to an older one.
    :raises InvalidValueError: an argument is out of range; nothing was touched.
    :raises StorageError: the file cannot be opened, or is not a ccroute log
        (the message names the path).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: SyncMode = "FULL",
        keep_snapshots: int = 2,
    ) -> None:
        if synchronous not in _SYNC_MODES:
            raise InvalidValueError(
                f"synchronous must be one of {', '.join(map(repr, _SYNC_MODES))}, "
                f"not {synchronous!r}"
            )
        if isinstance(keep_snapshots, bool) or not isinstance(keep_snapshots, int):
            raise InvalidValueError(
                f"keep_snapshots must be an int, not {type(keep_snapshots).__name__}"
            )
        if keep_snapshots < 1:
            raise InvalidValueError(f"keep_snapshots must be at least 1, not {keep_snapshots}")
        if not isinstance(path, str | os.PathLike):
            raise InvalidValueError(f"path must be a str or a path, not {type(path).__name__}")
        name = os.fspath(path)
        if not isinstance(name, str):
            raise InvalidValueError(f"path must be a str or a str path, not {name!r}")
        if name in ("", ":memory:"):
            # Neither is a file: no WAL, nothing durable. MemoryStorage does that job.
            raise InvalidValueError(
                f"path {name!r} is not a file; use MemoryStorage for a log in memory"
            )
        self._path = name
        self._synchronous: SyncMode = synchronous
        self._keep_snapshots = keep_snapshots
        self._lock = threading.Lock()
        self._last_seq = 0
        self._snapshot_seq = 0
        try:
            connection = sqlite3.connect(
                name, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as error:
            raise StorageError(f"cannot open {name}: {error}") from error
        try:
            self._open(connection)
        except BaseException:
            connection.close()
            raise
        self._connection: sqlite3.Connection | None = connection

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    @property
    def synchronous(self) -> SyncMode:
        """The durability setting: ``"FULL"``, ``"NORMAL"`` or ``"OFF"``."""
        return self._synchronous

    @property
    def keep_snapshots(self) -> int:
        """How many of the latest snapshots are kept."""
        return self._keep_snapshots

    def __repr__(self) -> str:
        state = " (closed)" if self._connection is None else ""
        return (
            f"SQLiteStorage({self._path!r}, synchronous={self._synchronous!r}, "
            f"keep_snapshots={self._keep_snapshots}){state}"
        )

    # -- opening -----------------------------------------------------------------

    def _not_ours(self, why: str) -> StorageError:
        return StorageError(f"{self._path} is not a ccroute log ({why}); it was left untouched")

    def _open(self, connection: sqlite3.Connection) -> None:
        try:
            # The write lock makes "empty, so create the tables" safe against a
            # second process opening the same new file at the same moment.
            connection.execute("BEGIN IMMEDIATE")
            try:
                application_id = connection.execute("PRAGMA application_id").fetchone()[0]
                tables = {
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                    )
                    if not row[0].startswith("sqlite_")
                }
                if application_id == 0 and not tables:
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("magic", _MAGIC), ("format", str(_FORMAT_VERSION))],
                    )
                    connection.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                else:
                    self._check_ours(connection, application_id, tables)
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
            # Only now that the file is known to be ours may its journal mode change.
            mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"cannot use WAL journal mode on {self._path} (got {mode!r})")
            # The value is one of _SYNC_MODES, checked above: safe to format in.
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
            # On macOS fsync() does not reach the platter; F_FULLFSYNC does. No-op elsewhere.
            fullfsync = "ON" if self._synchronous == "FULL" else "OFF"
            connection.execute(f"PRAGMA fullfsync = {fullfsync}")
            connection.execute(f"PRAGMA checkpoint_fullfsync = {fullfsync}")
            last_log, last_snapshot = connection.execute(
                "SELECT (SELECT max(seq) FROM log), (SELECT max(seq) FROM snapshots)"
            ).fetchone()
        except sqlite3.DatabaseError as error:
            if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
                raise self._not_ours("not an SQLite database") from error
            raise StorageError(f"cannot open {self._path}: {error}") from error
        self._snapshot_seq = last_snapshot or 0
        self._last_seq = max(last_log or 0, self._snapshot_seq)

    def _check_ours(
        self, connection: sqlite3.Connection, application_id: int, tables: set[str]
    ) -> None:
        if application_id != _APPLICATION_ID:
            raise self._not_ours(
                f"its SQLite application id is {application_id:#x}, "
                f"a ccroute log's is {_APPLICATION_ID:#x}"
            )
        if "meta" not in tables:
            raise self._not_ours("it has no meta table")
        meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("magic") != _MAGIC:
            raise self._not_ours(f"its meta table says magic={meta.get('magic')!r}")
        if meta.get("format") != str(_FORMAT_VERSION):
            raise StorageError(
                f"{self._path} is a ccroute log in format {meta.get('format')!r}; this "
                f"version of ccroute reads format {_FORMAT_VERSION}; it was left untouched"
            )
        missing = _TABLES - tables
        if missing:
            raise StorageError(
                f"{self._path} is a damaged ccroute log: table(s) {', '.join(sorted(missing))} "
                "are missing; it was left untouched"
            )

    def _check_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StorageError(f"the store {self._path} is closed")
        return self._connection

    # -- the Storage protocol ----------------------------------------------------

    def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log in one transaction: all of them or, when this raises, none.

        On return they are durable as ``synchronous`` says. The cost is one
        commit (one sync with ``"FULL"``) per call plus pickling each record,
        so batching records is what makes appends fast.

        :raises InvalidValueError: an item is not a well-formed
            :class:`~ccroute.storage.LogRecord`, or its values do not pickle.
        :raises StorageError: the first seq is not the one after the log's
            last, or the seqs skip (the message names them); the database
            failed (disk full, I/O error); or the store is closed.
        """
        with self._lock:
            connection = self._check_open()
            batch = _check_batch(records, self._last_seq, self._path)
            if not batch:
                return
            rows = _encode(batch)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(
                        "INSERT INTO log (seq, crc, data) VALUES (?, ?, ?)", rows
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            except sqlite3.Error as error:
                raise StorageError(
                    f"cannot append records {batch[0].seq}..{batch[-1].seq} to {self._path}: "
                    f"{error}; none of them was stored"
                ) from error
            self._last_seq = batch[-1].seq

    def snapshot(self, seq: int, state: bytes) -> None:
        """Store the router's state after record ``seq`` and keep only the latest ``keep_snapshots``.

        A snapshot at the seq of an existing one replaces it.

        :raises InvalidValueError: ``seq`` is beyond the log's last record or
            before the latest snapshot, or ``state`` is not bytes.
        :raises StorageError: the database failed (nothing changed), or the
            store is closed.
        """
        with self._lock:
            connection = self._check_open()
            data = _check_snapshot(seq, state, self._last_seq, self._snapshot_seq)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute(
                        "INSERT OR REPLACE INTO snapshots (seq, crc, data) VALUES (?, ?, ?)",
                        (seq, zlib.crc32(data), data),
                    )
                    connection.execute(
                        "DELETE FROM snapshots WHERE seq NOT IN"
                        " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                        (self._keep_snapshots,),
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            except sqlite3.Error as error:
                raise StorageError(
                    f"cannot store the snapshot after record {seq} in {self._path}: {error}; "
                    "nothing was changed"
                ) from error
            self._snapshot_seq = seq

    def load(self) -> Recovered:
        """Read the latest good snapshot and the good records after it.

        A snapshot whose checksum fails is set aside in table ``quarantine``
        and the previous one is used. Records after the snapshot are read in
        order; the first one whose checksum fails, that does not decode, or
        that follows a gap in seq ends the good prefix: it and every later
        record move to ``quarantine`` (in one transaction), and
        :attr:`~ccroute.storage.Recovered.problem` says what was found, with
        the seq and the path. Later appends continue from the good prefix.

        Cost: O(records after the snapshot); they are all held in memory.

        :raises StorageError: the database failed; a record is intact (its
            checksum is good) but refers to a class this program cannot import,
            so it was written by other code (nothing is set aside: install the
            code that wrote it); or the store is closed.
        """
        with self._lock:
            connection = self._check_open()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    recovered = self._load(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            except sqlite3.Error as error:
                raise StorageError(f"cannot load {self._path}: {error}") from error
            except _Unreadable as error:
                raise StorageError(f"{error}; nothing was changed") from error
            self._snapshot_seq = recovered.snapshot_seq
            self._last_seq = recovered.last_seq
            return recovered

    def close(self) -> None:
        """Close the database (SQLite checkpoints the WAL). Closing twice does nothing.

        Later calls raise :class:`~ccroute.errors.StorageError`.
        """
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.close()
            except sqlite3.Error as error:
                raise StorageError(f"cannot close {self._path}: {error}") from error

    def __enter__(self) -> SQLiteStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- recovery ----------------------------------------------------------------

    def _load(self, connection: sqlite3.Connection) -> Recovered:
        problems = []
        snapshot_seq, snapshot, note = self._load_snapshot(connection)
        if note is not None:
            problems.append(note)
        records, note = self._load_records(connection, snapshot_seq)
        if note is not None:
            problems.append(note)
        return Recovered(
            snapshot_seq=snapshot_seq,
            snapshot=snapshot,
            records=tuple(records),
            problem="; ".join(problems) or None,
        )

    def _load_snapshot(
        self, connection: sqlite3.Connection
    ) -> tuple[int, bytes | None, str | None]:
        damaged = []
        # One snapshot's bytes at a time: they may be large, and the latest is usually good.
        seqs = [row[0] for row in connection.execute("SELECT seq FROM snapshots ORDER BY seq DESC")]
        for seq in seqs:
            crc, data = connection.execute(
                "SELECT crc, data FROM snapshots WHERE seq = ?", (seq,)
            ).fetchone()
            if isinstance(data, bytes) and zlib.crc32(data) == crc:
                break
            reason = "checksum mismatch" if isinstance(data, bytes) else "data is not a blob"
            connection.execute(
                "INSERT INTO quarantine (kind, seq, crc, data, reason, set_aside_at)"
                " SELECT 'snapshot', seq, crc, data, ?, ? FROM snapshots WHERE seq = ?",
                (f"damaged snapshot ({reason})", _now(), seq),
            )
            connection.execute("DELETE FROM snapshots WHERE seq = ?", (seq,))
            damaged.append(f"the snapshot after record {seq} in {self._path} is damaged ({reason})")
        else:
            seq, data = 0, None
        if not damaged:
            return seq, data, None
        if data is None:
            fallback = "no good snapshot is left, so the log is replayed from its first record"
        else:
            fallback = f"the snapshot after record {seq} is used instead"
        moved = "it was" if len(damaged) == 1 else "they were"
        note = f"{'; '.join(damaged)}; {moved} set aside in table quarantine and {fallback}"
        return seq, data, note

    def _load_records(
        self, connection: sqlite3.Connection, snapshot_seq: int
    ) -> tuple[list[LogRecord], str | None]:
        records: list[LogRecord] = []
        keep = records.append
        decode = self._decode
        expected = snapshot_seq + 1
        cursor = connection.execute(
            "SELECT seq, crc, data FROM log WHERE seq > ? ORDER BY seq", (snapshot_seq,)
        )
        try:
            for seq, crc, data in cursor:
                if seq != expected:
                    what = (
                        f"record {expected} in {self._path} is missing "
                        f"(the log jumps from record {expected - 1} to {seq})"
                    )
                    first_reason = later_reason = f"follows missing record {expected}"
                    break
                fields = decode(seq, crc, data)
                if isinstance(fields, str):
                    what = f"record {seq} in {self._path} is damaged ({fields})"
                    first_reason = f"damaged ({fields})"
                    later_reason = f"follows damaged record {seq}"
                    break
                keep(LogRecord(seq, *fields))
                expected += 1
            else:
                return records, None
        finally:
            cursor.close()
        moved, last = self._set_aside(connection, seq, first_reason, later_reason)
        recovered = _plural(len(records), "good record") + " recovered"
        if snapshot_seq:
            recovered += f" after the snapshot at record {snapshot_seq}"
        span = f"record {seq}" if moved == 1 else f"records {seq}..{last}"
        return records, f"{what}; {recovered}, {moved} ({span}) set aside in table quarantine"

    def _decode(self, seq: int, crc: object, data: object) -> tuple[Any, ...] | str:
        """A log row's ``(at, command, args, kwargs, events)``, or why it is damaged."""
        if not isinstance(data, bytes):
            return "data is not a blob"
        if zlib.crc32(data) != crc:
            return "checksum mismatch"
        try:
            fields = pickle.loads(data)
        except (ImportError, AttributeError) as error:
            # The checksum is good, so these bytes are what was written: the code
            # that wrote them is missing here. Setting the record aside would drop
            # acknowledged work, so refuse and let a person install that code.
            raise _Unreadable(
                f"record {seq} in {self._path} is intact but cannot be read by this "
                f"program ({type(error).__name__}: {error}); it was written by code "
                "that is not installed here"
            ) from error
        except Exception as error:
            return f"does not decode: {type(error).__name__}: {error}"
        if not isinstance(fields, tuple) or len(fields) != 3:
            return "does not decode into a log record"
        problem = _record_shape_problem(*fields)
        if problem is not None:
            return f"does not decode into a log record: {problem}"
        return fields

    def _set_aside(
        self, connection: sqlite3.Connection, first: int, first_reason: str, later_reason: str
    ) -> tuple[int, int]:
        """Move log rows from seq ``first`` on to quarantine; return how many and the last seq."""
        (last,) = connection.execute("SELECT max(seq) FROM log").fetchone()
        moved = connection.execute(
            "INSERT INTO quarantine (kind, seq, crc, data, reason, set_aside_at)"
            " SELECT 'record', seq, crc, data, CASE WHEN seq = ? THEN ? ELSE ? END, ?"
            " FROM log WHERE seq >= ? ORDER BY seq",
            (first, first_reason, later_reason, _now(), first),
        ).rowcount
        connection.execute("DELETE FROM log WHERE seq >= ?", (first,))
        return moved, int(last)


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (e.g. after SQLITE_FULL); a second
    # ROLLBACK would then fail and hide the original error.
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")
