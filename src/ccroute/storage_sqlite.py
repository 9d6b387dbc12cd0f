"""The durable default store: an event log and snapshots in one SQLite file.

:class:`SQLiteStorage` keeps the log on the standard library's :mod:`sqlite3`
in WAL journal mode, in log format 3 (JSON; see :mod:`ccroute.codec` and
docs/log-format.md, which has the schema and examples of reading a log with
the ``sqlite3`` command line). One database file holds four tables:

``meta``
    ``key``/``value`` rows naming the file a ccroute log (``magic``), its
    ``format`` version (``2``), ``pruned_through``, the last seq retention
    removed (``0``: none), and ``committed_through``, the commit mark: the
    last seq an append committed, updated in the same transaction, which
    :meth:`~SQLiteStorage.load` compares with what the file holds (a shorter
    log lost acknowledged records: refused unless ``accept_loss``); the
    SQLite header's application id says "ccrl". A database without them is
    refused, so a store never writes into someone else's file.
``log``
    one row per :class:`~ccroute.storage.LogRecord`, seq consecutive:
    ``seq INTEGER PRIMARY KEY, at REAL, command TEXT, contact_id TEXT,
    agent_id TEXT, queue TEXT, version INTEGER, crc INTEGER, body TEXT``.
    ``command`` is the command's name; ``contact_id``, ``agent_id`` and
    ``queue`` are what the command names (:func:`ccroute.codec.key_columns`);
    ``body`` is ``{"command": {...}, "events": [...]}`` in JSON; ``crc`` is a
    CRC-32 of the other columns and the body (:func:`ccroute.codec.row_crc`).
``snapshots``
    ``seq INTEGER PRIMARY KEY, version INTEGER, crc INTEGER, body``: the
    router's state after record ``seq`` (:meth:`Router.snapshot
    <ccroute.Router.snapshot>` bytes, kept as given: as TEXT when they are
    UTF-8, else as a BLOB), the latest ``keep_snapshots`` kept.
``quarantine``
    rows :meth:`SQLiteStorage.load` set aside because they were damaged, with
    every column they had, the ``reason`` and ``set_aside_at`` (UTC). Nothing
    is deleted from it: a person can inspect these rows with any SQLite tool.

Reading a row builds nothing but ccroute's own values through their
constructors: a log cannot make its reader run code.

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

One store at a time owns a file: it holds an exclusive lock
(:func:`fcntl.flock`) on ``<path>.lock`` while open, so a second store, in
this process or another, is refused at open with the owner's pid. The
operating system drops the lock when the owner dies, even by ``SIGKILL``.
Readers (the ``sqlite3`` command line, backups) do not take it.

Logs in format 1 (pickles, before this release) are not opened; migrate them
to a new file with :func:`migrate_v1` (``python -m ccroute.storage_sqlite
migrate OLD NEW``), which reads them with an unpickler restricted to
ccroute's own values.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import pickle
import sqlite3
import sys
import threading
import urllib.parse
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final, Literal, get_args

import attrs

from . import codec
from .commands import COMMANDS, Command, Note, Tick
from .errors import CCRouteError, InputError, InvalidValueError, StorageError
from .events import Event
from .storage import (
    DEFAULT_RETENTION,
    LogRecord,
    Recovered,
    check_batch,
    check_retention,
    check_snapshot,
    damaged_snapshots_note,
    encode_batch,
    retention_gap,
    snapshot_damage,
)

__all__ = ["Migration", "SQLiteStorage", "SyncMode", "migrate_v1"]

#: The accepted values of ``synchronous``.
SyncMode = Literal["FULL", "NORMAL", "OFF"]
_SYNC_MODES: Final[tuple[str, ...]] = get_args(SyncMode)

# "ccrl" in the SQLite header (PRAGMA application_id), so `file` and other
# tools can tell a ccroute log from other SQLite databases.
_APPLICATION_ID: Final = 0x6363726C
_MAGIC: Final = "ccroute event log"
_FORMAT: Final = codec.FORMAT
_READS: Final = ", ".join(map(str, codec.READABLE_FORMATS))

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE log (seq INTEGER PRIMARY KEY, at REAL NOT NULL, command TEXT NOT NULL,"
    " contact_id TEXT, agent_id TEXT, queue TEXT, version INTEGER NOT NULL,"
    " crc INTEGER NOT NULL, body TEXT NOT NULL)",
    # No declared type: the body is TEXT when the state is UTF-8 (JSON), else a BLOB.
    "CREATE TABLE snapshots (seq INTEGER PRIMARY KEY, version INTEGER NOT NULL,"
    " crc INTEGER NOT NULL, body NOT NULL)",
    "CREATE TABLE quarantine (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, seq INTEGER,"
    " at, command, contact_id, agent_id, queue, version, crc, body,"
    " reason TEXT NOT NULL, set_aside_at TEXT NOT NULL)",
)
_TABLES: Final = frozenset({"meta", "log", "snapshots", "quarantine"})
_LOG_COLUMNS: Final = "seq, at, command, contact_id, agent_id, queue, version, crc, body"
# The log's columns from the third on, as a load checks that their text is UTF-8.
_TEXT_COLUMNS: Final = ("command", "contact_id", "agent_id", "queue", "version", "crc", "body")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _snapshot_body(data: bytes) -> str | bytes:
    """The snapshot as stored: text when it is UTF-8 without NULs (JSON), else the bytes."""
    if b"\0" not in data:
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode("utf-8")
    return data


class _Refused(Exception):
    """The log cannot be loaded by this release; nothing is to change."""


class _NotText(bytes):
    """A TEXT value whose bytes are not UTF-8, as :meth:`SQLiteStorage.load`
    reads it: damage in one row (a flipped byte), which that row's checks
    report, where sqlite3's own decoding would fail the whole query."""


def _text(data: bytes) -> str | bytes:
    """The text factory of a load: UTF-8 text as ``str``, anything else as
    :class:`_NotText`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _NotText(data)


# -- the single-owner lock -------------------------------------------------------


class _OwnerLock:
    """An exclusive :func:`fcntl.flock` on ``<path>.lock``, held while a store is open.

    The lock belongs to the open file description, so a second store in the
    same process is refused as one in another process is, and the operating
    system drops it when the process dies. The file holds the owner's pid, for
    the message a second opener gets; it is left in place when the store closes
    (removing it could let two owners lock two different files).
    """

    def __init__(self, path: str) -> None:
        self.path = f"{path}.lock"
        self._fd: int | None = None
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no lock (see docs/log-format.md)
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise StorageError(f"cannot open the lock file {self.path}: {error}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = self._owner(fd)
            os.close(fd)
            if owner == os.getpid():
                who = f"another store in this process (pid {owner})"
            elif owner is not None:
                who = f"another process (pid {owner})"
            else:
                who = "another process"
            raise StorageError(
                f"{path} is in use by {who}: one store at a time owns a log "
                f"(lock file {self.path}); close the other store first"
            ) from None
        except OSError as error:
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {error}") from error
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    @staticmethod
    def _owner(fd: int) -> int | None:
        try:
            return int(os.pread(fd, 32, 0).decode("ascii").strip())
        except (OSError, ValueError, UnicodeDecodeError):
            return None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock


# -- the store -----------------------------------------------------------------


class SQLiteStorage:
    """The durable store: an event log and snapshots in one SQLite database (WAL mode).

    Opening creates the file (and its tables) when it does not exist, and
    otherwise checks that it is a ccroute log in a format this release reads,
    then takes the single-owner lock. Call :meth:`load` before the first
    :meth:`append`: it is what sets damaged records aside, so the log goes on
    from its last good record.

    Calls may come from any thread (the service runs them in worker threads)
    but are served one at a time.

    :param path: the database file (``-wal``, ``-shm`` and ``.lock`` files
        appear beside it).
    :param synchronous: ``"FULL"`` (every append survives a power loss),
        ``"NORMAL"`` (survives a crash of the process, even ``SIGKILL``, but the
        last commits may be lost on a power loss in WAL mode) or ``"OFF"``
        (neither; for tests).
    :param keep_snapshots: how many of the latest snapshots to keep (at least
        1); with 2 or more a damaged latest snapshot falls back to an older one.
    :param retention: seconds of audit trail to keep, by the records' ``at``,
        counted back from the log's last record (default
        :data:`~ccroute.storage.DEFAULT_RETENTION`, 30 days; ``None`` keeps
        every record). When a snapshot is stored, the records that every kept
        snapshot covers and that are older than this are deleted, so the log
        stops growing; the file keeps its size and reuses the space.
    :param accept_loss: whether :meth:`load` accepts a lost tail: the log
        holds fewer records than its commit mark says were committed
        (acknowledged records deleted, or the log table put back from an
        older copy while the mark stayed). A whole file put back from an
        older copy carries its older mark and cannot be told from a log that
        never had more (docs/log-format.md, "A lost tail"). By default such a log is refused with
        :class:`~ccroute.errors.StorageError` naming the file, the record the
        mark promises and the last one found; with ``True`` the loss is
        recorded in table ``quarantine`` (kind ``lost``) and in
        ``Recovered.problem``, and the log goes on from what it holds. Meant
        for the one start after an operator decided to accept the loss.
    :raises InvalidValueError: an argument is out of range; nothing was touched.
    :raises StorageError: the file cannot be opened, is not a ccroute log, is
        in a format this release does not read (format 1: see
        :func:`~ccroute.storage_sqlite.migrate_v1`; a newer one: upgrade ccroute), or another store
        owns it (the message names the path and the owner's pid).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: SyncMode = "FULL",
        keep_snapshots: int = 2,
        retention: float | None = DEFAULT_RETENTION,
        accept_loss: bool = False,
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
        self._retention = check_retention(retention)
        if not isinstance(accept_loss, bool):
            raise InvalidValueError(f"accept_loss must be True or False, not {accept_loss!r}")
        self._accept_loss = accept_loss
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
        # The commit mark (meta.committed_through) and, when the log holds less
        # than it promises, what was lost: load() refuses it (or, with
        # accept_loss, records it) and append() refuses to write past it.
        self._mark = 0
        self._lost: str | None = None
        self._owner: _OwnerLock | None = None
        self._older_format = False
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
            if self._owner is not None:
                self._owner.release()
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

    @property
    def retention(self) -> float | None:
        """Seconds of records kept behind the snapshots (``None``: every record)."""
        return self._retention

    @property
    def accept_loss(self) -> bool:
        """Whether :meth:`load` accepts a log shorter than its commit mark."""
        return self._accept_loss

    def __repr__(self) -> str:
        state = " (closed)" if self._connection is None else ""
        return (
            f"SQLiteStorage({self._path!r}, synchronous={self._synchronous!r}, "
            f"keep_snapshots={self._keep_snapshots}, retention={self._retention!r}"
            f"{', accept_loss=True' if self._accept_loss else ''}){state}"
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
                        [
                            ("magic", _MAGIC),
                            ("format", str(_FORMAT)),
                            ("pruned_through", "0"),
                            ("committed_through", "0"),
                        ],
                    )
                    connection.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                else:
                    self._check_ours(connection, application_id, tables)
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
            # Ours, and in a format we read: now take it, before changing anything else.
            self._owner = _OwnerLock(self._path)
            if self._older_format:
                # An older format this release reads: its rows stay as they are
                # (each names its version) and new rows are written in this
                # format, so the file says so, and a release that reads only the
                # older one refuses it.
                connection.execute(
                    "UPDATE meta SET value = ? WHERE key = 'format'", (str(_FORMAT),)
                )
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
            # Errors of the sqlite3 module's own (a text that is not UTF-8)
            # carry no SQLite error code.
            if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB:
                raise self._not_ours("not an SQLite database") from error
            raise StorageError(f"cannot open {self._path}: {error}") from error
        self._snapshot_seq = last_snapshot or 0
        self._last_seq = max(last_log or 0, self._snapshot_seq)
        try:
            self._mark = self._read_mark(connection)
        except sqlite3.Error as error:
            raise StorageError(f"cannot open {self._path}: {error}") from error
        self._lost = self._loss(self._last_seq)

    def _read_mark(self, connection: sqlite3.Connection) -> int:
        """The commit mark: the last seq an append committed (added, at what the
        file holds now, to a file written before there was a mark)."""
        row = connection.execute(
            "SELECT value FROM meta WHERE key = 'committed_through'"
        ).fetchone()
        if row is None:
            # A file from before the mark: nothing tells what it held before,
            # so the mark starts at what it holds.
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('committed_through', ?)",
                (str(self._last_seq),),
            )
            return self._last_seq
        value = row[0]
        if not isinstance(value, str) or not value.isdigit():
            raise StorageError(
                f"{self._path} is a damaged ccroute log: its meta committed_through is "
                f"{value!r}, not a record number; it was left untouched (set it to the "
                "seq of the last record you know was committed)"
            )
        return int(value)

    def _loss(self, found: int) -> str | None:
        """What the log lost, when it holds less than the commit mark promises."""
        if self._mark <= found:
            return None
        first = found + 1
        span = f"record {first}" if first == self._mark else f"records {first}..{self._mark}"
        return (
            f"{self._path} has lost acknowledged records: its commit mark says record "
            f"{self._mark} was committed, but the last record found is {found} ({span} "
            "missing: deleted, or the log put back from an older copy)"
        )

    def _refuse_loss(self, lost: str) -> _Refused:
        return _Refused(
            f"{lost}; restore the file from a backup, or accept the loss for one start with "
            "SQLiteStorage(path, accept_loss=True) (the service's built-in store: "
            'settings["accept_loss"] = True)'
        )

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
        found = meta.get("format")
        if found == "1":
            raise StorageError(
                f"{self._path} is a ccroute log in format 1 (pickles), which this release "
                f"does not read (it reads format {_READS}); it was left untouched. Stop the "
                f"service that wrote it and migrate it to a new file: python -m "
                f"ccroute.storage_sqlite migrate {self._path} NEW.db (it loads only "
                "ccroute's own values, never code), then open NEW.db"
            )
        readable = {str(version) for version in codec.READABLE_FORMATS}
        if found not in readable:
            newer = isinstance(found, str) and found.isdigit() and int(found) > _FORMAT
            raise StorageError(
                f"{self._path} is a ccroute log in format {found!r}"
                + (", written by a newer ccroute" if newer else "")
                + f"; this release reads format {_READS}; it was left untouched"
            )
        missing = _TABLES - tables
        if missing:
            raise StorageError(
                f"{self._path} is a damaged ccroute log: table(s) {', '.join(sorted(missing))} "
                "are missing; it was left untouched"
            )
        self._older_format = found != str(_FORMAT)

    def _check_open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StorageError(f"the store {self._path} is closed")
        return self._connection

    # -- the Storage protocol ----------------------------------------------------

    def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log in one transaction: all of them or, when this raises, none.

        On return they are durable as ``synchronous`` says. The cost is one
        commit (one sync with ``"FULL"``) per call plus encoding each record
        (a few microseconds; see :func:`ccroute.codec.encode_row`), so
        batching records is what makes appends fast.

        :raises InvalidValueError: an item is not a well-formed
            :class:`~ccroute.storage.LogRecord`, or holds a value the log cannot
            hold (see :mod:`ccroute.codec`); the message names the record.
        :raises StorageError: the first seq is not the one after the log's
            last, or the seqs skip (the message names them); the database
            failed (disk full, I/O error); or the store is closed.
        """
        with self._lock:
            connection = self._check_open()
            if self._lost is not None:
                # Written past a lost tail, the loss could no longer be seen.
                raise StorageError(f"{self._refuse_loss(self._lost)}; nothing was appended")
            batch = check_batch(records, self._last_seq, self._path)
            if not batch:
                return
            rows = encode_batch(batch, records)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.executemany(
                        f"INSERT INTO log ({_LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    # The commit mark, in the same transaction: what a later
                    # load must find (docs/log-format.md, "A lost tail").
                    connection.execute(
                        "UPDATE meta SET value = ? WHERE key = 'committed_through'",
                        (str(batch[-1].seq),),
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
            self._last_seq = self._mark = batch[-1].seq

    def snapshot(self, seq: int, state: bytes) -> None:
        """Store the router's state after record ``seq``, keep only the latest
        ``keep_snapshots``, and apply the retention: one transaction.

        A snapshot at the seq of an existing one replaces it. Retention
        deletes the records that the oldest kept snapshot covers and whose
        ``at`` is more than ``retention`` seconds before the last record's,
        so every kept snapshot can still be used with the records after it.
        Cost: writing the state, plus deleting the records retention drops.

        :raises InvalidValueError: ``seq`` is beyond the log's last record or
            before the latest snapshot, or ``state`` is not bytes.
        :raises StorageError: the database failed (nothing changed), or the
            store is closed.
        """
        with self._lock:
            connection = self._check_open()
            data = check_snapshot(seq, state, self._last_seq, self._snapshot_seq)
            crc = codec.snapshot_crc(seq, _FORMAT, data)
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    connection.execute(
                        "INSERT OR REPLACE INTO snapshots (seq, version, crc, body)"
                        " VALUES (?, ?, ?, ?)",
                        (seq, _FORMAT, crc, _snapshot_body(data)),
                    )
                    connection.execute(
                        "DELETE FROM snapshots WHERE seq NOT IN"
                        " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                        (self._keep_snapshots,),
                    )
                    if self._retention is not None:
                        self._prune(connection, self._retention)
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

    def _prune(self, connection: sqlite3.Connection, retention: float) -> None:
        """Delete the records every kept snapshot covers that are older than ``retention``."""
        (oldest,) = connection.execute("SELECT min(seq) FROM snapshots").fetchone()
        last = connection.execute("SELECT at FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        if oldest is None or last is None:
            return
        (through,) = connection.execute(
            "SELECT max(seq) FROM log WHERE seq <= ? AND at < ?", (oldest, last[0] - retention)
        ).fetchone()
        if through is None:
            return
        # A prefix: the log stays one run of consecutive seqs.
        connection.execute("DELETE FROM log WHERE seq <= ?", (through,))
        connection.execute(
            "UPDATE meta SET value = CAST(max(CAST(value AS INTEGER), ?) AS TEXT)"
            " WHERE key = 'pruned_through'",
            (through,),
        )

    def load(self) -> Recovered:
        """Read the latest good snapshot and the good records after it.

        A snapshot whose checksum fails is set aside in table ``quarantine``
        and the previous one is used. Records after the snapshot are read in
        order; the first one that is damaged (its checksum fails, its body
        does not decode or holds a value its constructor refuses, its key
        columns disagree with its body) or that follows a gap in seq ends the
        good prefix: it and every later record move to ``quarantine`` (in one
        transaction), and ``Recovered.problem`` says what
        was found, with the seq and the path. Later appends continue from the
        good prefix.

        Cost: O(records after the snapshot), each checked and decoded through
        the constructors (about 1.3 times a pickle load of the same records;
        benchmarks/README.md); they are all held in memory.

        :raises StorageError: the database failed; a row is in a newer format
            than this release reads; retention removed records that no good
            snapshot covers any more (restore the file from a backup); or the
            store is closed. Nothing was changed then.
        """
        with self._lock:
            connection = self._check_open()
            # A flipped byte can leave a row's text not UTF-8: that row is
            # damaged (set aside, named), not the whole log unreadable.
            connection.text_factory = _text
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
            except _Refused as error:
                raise StorageError(f"{error}; nothing was changed") from error
            finally:
                connection.text_factory = str
            self._snapshot_seq = recovered.snapshot_seq
            self._last_seq = self._mark = recovered.last_seq
            self._lost = None
            return recovered

    def close(self) -> None:
        """Close the database (SQLite checkpoints the WAL) and release the lock.

        Closing twice does nothing. Later calls raise
        :class:`~ccroute.errors.StorageError`.
        """
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.close()
            except sqlite3.Error as error:
                raise StorageError(f"cannot close {self._path}: {error}") from error
            finally:
                if self._owner is not None:
                    self._owner.release()

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

    def _newer(self, what: str, version: int) -> _Refused:
        return _Refused(
            f"{what} in {self._path} is in format {version}, written by a newer ccroute; "
            f"this release reads format {_READS}"
        )

    def _load(self, connection: sqlite3.Connection) -> Recovered:
        problems = []
        snapshot_seq, snapshot, note = self._load_snapshot(connection)
        if note is not None:
            problems.append(note)
        (pruned,) = connection.execute(
            "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'pruned_through'"
        ).fetchone() or (0,)
        if pruned and snapshot_seq < pruned:
            good = None if snapshot is None else snapshot_seq
            raise _Refused(
                retention_gap(self._path, pruned, good, note, "restore the file from a backup")
            )
        # Damaged rows are still rows here (set aside below, and said): what
        # is compared with the mark is what the file holds at all.
        (held,) = connection.execute("SELECT max(seq) FROM log").fetchone()
        self._mark = self._read_mark(connection)
        lost = self._loss(max(held or 0, snapshot_seq))
        if lost is not None:
            if not self._accept_loss:
                raise self._refuse_loss(lost)
            self._record_loss(connection, max(held or 0, snapshot_seq) + 1, lost)
            problems.append(f"{lost}; the loss was accepted (accept_loss=True)")
        records, note = self._load_records(connection, snapshot_seq)
        if note is not None:
            problems.append(note)
        last = records[-1].seq if records else snapshot_seq
        if last != self._mark:
            # Where the log goes on from: the good prefix (damage set aside, a
            # loss accepted), or further (records an older release appended).
            connection.execute(
                "UPDATE meta SET value = ? WHERE key = 'committed_through'", (str(last),)
            )
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
            version, crc, body = connection.execute(
                "SELECT version, crc, body FROM snapshots WHERE seq = ?", (seq,)
            ).fetchone()
            if type(version) is int and version > _FORMAT:
                raise self._newer(f"the snapshot after record {seq}", version)
            data = body.encode() if isinstance(body, str) else body
            reason = snapshot_damage(seq, version, crc, data if isinstance(data, bytes) else None)
            if reason is None:
                break
            connection.execute(
                "INSERT INTO quarantine (kind, seq, version, crc, body, reason, set_aside_at)"
                " SELECT 'snapshot', seq, version, crc, body, ?, ? FROM snapshots WHERE seq = ?",
                (f"damaged snapshot ({reason})", _now(), seq),
            )
            connection.execute("DELETE FROM snapshots WHERE seq = ?", (seq,))
            damaged.append(f"the snapshot after record {seq} in {self._path} is damaged ({reason})")
        else:
            seq, data = 0, None
        if not damaged:
            return seq, data, None
        used = None if data is None else seq
        return seq, data, damaged_snapshots_note(damaged, used, "set aside in table quarantine")

    def _load_records(
        self, connection: sqlite3.Connection, snapshot_seq: int
    ) -> tuple[list[LogRecord], str | None]:
        records: list[LogRecord] = []
        keep = records.append
        decode = codec.decode_row
        expected = snapshot_seq + 1
        cursor = connection.execute(
            f"SELECT {_LOG_COLUMNS} FROM log WHERE seq > ? ORDER BY seq", (snapshot_seq,)
        )
        try:
            for row in cursor:
                seq = row[0]
                if type(seq) is int and snapshot_seq < seq < expected:
                    # Two rows with one seq (a table rebuilt without its key):
                    # which is the record is unknowable, so neither is.
                    what = f"record {seq} in {self._path} appears more than once"
                    first_reason = f"seq {seq} appears more than once"
                    later_reason = f"follows record {seq}, which appears more than once"
                    del records[seq - snapshot_seq - 1 :]
                    break
                if seq != expected:
                    what = (
                        f"record {expected} in {self._path} is missing "
                        f"(the log jumps from record {expected - 1} to {seq})"
                    )
                    first_reason = later_reason = f"follows missing record {expected}"
                    break
                try:
                    for name, value in zip(_TEXT_COLUMNS, row[2:], strict=False):
                        if isinstance(value, _NotText):
                            raise InputError(f"its {name} is not UTF-8 text")
                    keep(decode(row))
                except codec.NewerFormatError as error:
                    raise self._newer(f"record {seq}", error.version) from None
                except InputError as error:
                    what = f"record {seq} in {self._path} is damaged ({error})"
                    first_reason = f"damaged ({error})"
                    later_reason = f"follows damaged record {seq}"
                    break
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

    def _record_loss(self, connection: sqlite3.Connection, first: int, lost: str) -> None:
        """Keep a row in quarantine (kind ``lost``) saying which records were lost,
        and that the loss was accepted: the only trace they leave."""
        connection.execute(
            "INSERT INTO quarantine (kind, seq, reason, set_aside_at) VALUES ('lost', ?, ?, ?)",
            (first, f"{lost}; accepted (accept_loss=True)", _now()),
        )

    def _set_aside(
        self, connection: sqlite3.Connection, first: int, first_reason: str, later_reason: str
    ) -> tuple[int, int]:
        """Move log rows from seq ``first`` on to quarantine; return how many and the last seq."""
        (last,) = connection.execute("SELECT max(seq) FROM log").fetchone()
        moved = connection.execute(
            f"INSERT INTO quarantine (kind, {_LOG_COLUMNS}, reason, set_aside_at)"
            f" SELECT 'record', {_LOG_COLUMNS}, CASE WHEN seq = ? THEN ? ELSE ? END, ?"
            " FROM log WHERE seq >= ? ORDER BY seq",
            (first, first_reason, later_reason, _now(), first),
        ).rowcount
        connection.execute("DELETE FROM log WHERE seq >= ?", (first,))
        return moved, int(last)

    def _quarantine_v1(self, rows: Sequence[tuple[int, Any, Any, str]]) -> None:
        """Keep format-1 rows :func:`migrate_v1` could not carry: ``(seq, crc, data, reason)``."""
        connection = self._check_open()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany(
                "INSERT INTO quarantine (kind, seq, version, crc, body, reason, set_aside_at)"
                " VALUES ('record', ?, 1, ?, ?, ?, ?)",
                [(seq, crc, data, reason, _now()) for seq, crc, data, reason in rows],
            )
            connection.execute("COMMIT")
        except BaseException:
            _rollback(connection)
            raise


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (e.g. after SQLITE_FULL); a second
    # ROLLBACK would then fail and hide the original error.
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


# -- migrating format 1 ------------------------------------------------------------


def _v1_globals() -> dict[str, frozenset[str]]:
    """What a format-1 pickle may name: ccroute's values, their enums, plain containers."""
    from . import events, model

    return {
        "ccroute.model": frozenset(
            {
                "Admission",
                "Agent",
                "Channel",
                "ChannelKind",
                "Contact",
                "Presence",
                "QueueConfig",
                "RoutingStep",
                "Strategy",
                "_ReadOnlyMapping",
            }
        )
        & frozenset(vars(model)),
        "ccroute.events": frozenset(cls.__name__ for cls in codec.EVENT_TAGS.values())
        | {events.OfferReason.__name__},
        "ccroute.commands": frozenset(cls.__name__ for cls in COMMANDS.values()),
        "builtins": frozenset({"frozenset", "set", "tuple", "list", "dict"}),
    }


class _V1Unpickler(pickle.Unpickler):
    """An unpickler that finds only the globals of :func:`_v1_globals` ("Restricting
    Globals" in the :mod:`pickle` docs): anything else, ``os.system`` included,
    is refused before it is looked up, so a crafted row cannot run code."""

    _allowed: Final = _v1_globals()

    def find_class(self, module: str, name: str) -> Any:
        if name not in self._allowed.get(module, ()):
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a ccroute log")
        return getattr(importlib.import_module(module), name)


def _rebuild(value: Any) -> Any:
    """``value`` built again through the constructors of its attrs values.

    The unpickler made them without running their validators (it restores
    their fields), and a field added since format 1 is missing: it gets the
    constructor's default.
    """
    kind = type(value)
    if attrs.has(kind):
        fields = {}
        for field in attrs.fields(kind):
            try:
                fields[field.alias] = _rebuild(getattr(value, field.name))
            except AttributeError:
                continue
        return kind(**fields)
    if kind is tuple or kind is list:
        return kind(_rebuild(item) for item in value)
    if kind is frozenset or kind is set:
        return frozenset(_rebuild(item) for item in value)
    if isinstance(value, Mapping):
        return {key: _rebuild(item) for key, item in value.items()}
    return value


def _read_v1(data: bytes, seq: int) -> LogRecord:
    """A format-1 row's record, checked by a round trip through format 2.

    :raises InputError: the pickle is refused or is not a record.
    """
    try:
        fields = _V1Unpickler(io.BytesIO(data)).load()
    except Exception as error:
        raise InputError(f"does not decode: {type(error).__name__}: {error}") from None
    if not isinstance(fields, tuple) or len(fields) not in (3, 5):
        raise InputError("does not decode into a log record")
    try:
        if len(fields) == 5:
            # eec6e78 and before: (at, method name, args, kwargs, events)
            at, name, args, kwargs, events = fields
            cls = COMMANDS.get(name) if isinstance(name, str) else None
            if cls is None or not isinstance(args, tuple) or not isinstance(kwargs, dict):
                raise InputError(f"does not decode into a log record (command {name!r})")
            if cls is Tick or cls is Note:
                args, kwargs = (), {}
            command: Any = cls(*_rebuild(args), **_rebuild(kwargs))
        else:
            # 61c948b: (at, Command, events)
            at, command, events = fields
            command = _rebuild(command)
        events = _rebuild(events)
    except (CCRouteError, TypeError, ValueError) as error:
        raise InputError(f"holds a call that is refused: {error}") from None
    if not isinstance(command, Command) or not isinstance(events, tuple):
        raise InputError("does not decode into a log record")
    if not all(isinstance(e, Event) for e in events):
        raise InputError("does not decode into a log record (events)")
    if isinstance(at, bool) or not isinstance(at, int | float):
        raise InputError("does not decode into a log record (at)")
    # Checked as format 2 will read it back: a value it cannot hold is refused now.
    try:
        return codec.decode_row(codec.encode_row(LogRecord(seq, float(at), command, events)))
    except (CCRouteError, TypeError, ValueError) as error:
        raise InputError(f"holds a value format 2 refuses: {error}") from None


@attrs.frozen
class Migration:
    """What :func:`migrate_v1` did.

    :param records: records carried over to the new log.
    :param set_aside: format-1 rows put in the new log's ``quarantine`` table
        (a damaged one and every one after it).
    :param snapshots: format-1 snapshots not carried over (they are pickles;
        the new log is replayed from its first record until the service takes
        a snapshot).
    :param problem: what was wrong with the old log, or ``None``.
    """

    source: str
    target: str
    records: int
    set_aside: int
    snapshots: int
    problem: str | None

    def __str__(self) -> str:
        text = (
            f"{self.source} -> {self.target}: {_plural(self.records, 'record')} migrated to "
            f"format {_FORMAT}, {self.set_aside} set aside, "
            f"{_plural(self.snapshots, 'format-1 snapshot')} not carried over"
        )
        return text if self.problem is None else f"{text}; {self.problem}"


def migrate_v1(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    synchronous: SyncMode = "FULL",
) -> Migration:
    """Write the format-1 (pickle) log ``source`` as a new format-2 log ``target``.

    ``source`` is only read (stop the service that writes it first). Its rows
    are unpickled by an unpickler that loads nothing but ccroute's model
    values, events and commands, their enums and plain containers (never
    code: a row naming anything else is refused), then rebuilt through their
    constructors. The good prefix of the log becomes ``target``; the first row
    that is damaged or refused and every row after it go to ``target``'s
    ``quarantine`` table, as :meth:`SQLiteStorage.load` would set them aside.
    Format-1 snapshots are pickles of the router and are not carried over:
    the new log replays from its first record, which format-1 logs keep.
    ``target`` appears only once complete (it is written beside, as
    ``<target>.partial``, and renamed).

    Cost: per record, an unpickling, an append and a decode.

    :raises StorageError: ``target`` exists, or ``source`` is not a format-1
        ccroute log or cannot be read. Neither file was changed then.
    """
    source_path, target_path = os.fspath(source), os.fspath(target)
    if not isinstance(source_path, str) or not isinstance(target_path, str):
        raise InvalidValueError("migrate_v1 takes str paths")
    if os.path.exists(target_path):
        raise StorageError(f"cannot migrate to {target_path}: it exists")
    if not os.path.isfile(source_path):
        raise StorageError(f"cannot migrate {source_path}: no such file")
    partial = f"{target_path}.partial"
    for suffix in ("", "-wal", "-shm", ".lock"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(partial + suffix)
    try:
        old = sqlite3.connect(f"file:{urllib.parse.quote(source_path)}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise StorageError(f"cannot open {source_path}: {error}") from error
    try:
        try:
            (application_id,) = old.execute("PRAGMA application_id").fetchone()
            meta = dict(old.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as error:
            raise StorageError(f"{source_path} is not a format-1 ccroute log: {error}") from None
        if application_id != _APPLICATION_ID or meta.get("magic") != _MAGIC:
            raise StorageError(f"{source_path} is not a ccroute log")
        if meta.get("format") != "1":
            raise StorageError(
                f"{source_path} is a ccroute log in format {meta.get('format')!r}, not 1"
            )
        (snapshots,) = old.execute("SELECT count(*) FROM snapshots").fetchone()
        store = SQLiteStorage(partial, synchronous=synchronous, retention=None)
        try:
            store.load()
            migrated, aside, problem = _copy_v1(old, store, source_path)
        finally:
            store.close()
    except sqlite3.Error as error:
        raise StorageError(f"cannot migrate {source_path}: {error}") from error
    finally:
        old.close()
    os.replace(partial, target_path)
    with contextlib.suppress(FileNotFoundError):
        os.remove(f"{partial}.lock")
    return Migration(source_path, target_path, migrated, aside, snapshots, problem)


def _copy_v1(
    old: sqlite3.Connection, store: SQLiteStorage, source: str
) -> tuple[int, int, str | None]:
    batch: list[LogRecord] = []
    migrated = 0
    expected = 1
    damage: str | None = None
    aside: list[tuple[int, Any, Any, str]] = []
    for seq, crc, data in old.execute("SELECT seq, crc, data FROM log ORDER BY seq"):
        if damage is not None:
            aside.append((seq, crc, data, f"follows {damage}"))
            continue
        if seq != expected:
            damage = f"missing record {expected}"
            aside.append((seq, crc, data, f"follows {damage}"))
            continue
        try:
            if not isinstance(data, bytes) or zlib.crc32(data) != crc:
                raise InputError("checksum mismatch")
            batch.append(_read_v1(data, seq))
        except InputError as error:
            damage = f"damaged record {seq}"
            aside.append((seq, crc, data, f"damaged ({error})"))
            continue
        expected += 1
        if len(batch) == 1000:
            store.append(batch)
            migrated += len(batch)
            batch = []
    if batch:
        store.append(batch)
        migrated += len(batch)
    if aside:
        store._quarantine_v1(aside)
    problem = None
    if damage is not None:
        first = aside[0][0]
        span = f"record {first}" if len(aside) == 1 else f"records {first}..{aside[-1][0]}"
        problem = (
            f"{damage} in {source} ({aside[0][3]}); {_plural(migrated, 'good record')} "
            f"migrated, {len(aside)} ({span}) set aside in table quarantine"
        )
    return migrated, len(aside), problem


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ccroute.storage_sqlite migrate OLD NEW``: migrate a format-1 log."""
    parser = argparse.ArgumentParser(
        prog="python -m ccroute.storage_sqlite",
        description="Migrate a format-1 (pickle) ccroute log to a new format-2 (JSON) file.",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    migrate = sub.add_parser("migrate", help="write OLD (format 1) as NEW (format 2)")
    migrate.add_argument("old")
    migrate.add_argument("new")
    args = parser.parse_args(argv)
    try:
        result = migrate_v1(args.old, args.new)
    except CCRouteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
