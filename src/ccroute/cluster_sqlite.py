"""The reference :class:`~ccroute.cluster.Engine`: leases and logs in one SQLite file.

:class:`SQLiteEngine` is the executable specification of the engine
contract, small enough to read in one sitting, and it works **across
processes on one machine**: any number of node processes open the same file,
so the failover machinery (:class:`~ccroute.cluster.Node`, the harness of
:mod:`ccroute.testing_cluster`) is tested with real processes, ``SIGKILL``
and ``SIGSTOP`` without a database server. It is not for production: a node
on another machine cannot share the file, and a process stopped in the
middle of a write transaction holds SQLite's write lock (every other node
waits for it; the PostgreSQL and Redis engines do not have this limit).

How it keeps the contract:

- a lease is a row of table ``leases`` (partition, node, token, expires);
  taking one is a write transaction that reads the row and, when it is free
  or lapsed, stores ``token + 1``: SQLite's single writer makes that atomic
  across processes, and the token never goes back (a release keeps it);
- every append and snapshot checks, inside its own write transaction, that
  its token is still the partition's: a stale token raises
  :class:`~ccroute.errors.FencedError` and nothing is written;
- records are the rows of :mod:`ccroute.codec` (the same columns, checksum
  and JSON body as :class:`~ccroute.SQLiteStorage`), checked by the same
  functions of :mod:`ccroute.storage`, so the engine accepts and refuses
  exactly what the built-in stores do;
- :meth:`SQLiteEngine.read_after` polls (every ``poll`` seconds).

Times are the machine's wall clock (``time.time()``), shared by its processes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from typing import Final, Literal, TypeVar, get_args

import anyio.to_thread

from . import codec
from .cluster import check_name, check_read, check_token, check_ttl
from .errors import FencedError, InputError, InvalidValueError, StorageError
from .storage import (
    DEFAULT_RETENTION,
    LogRecord,
    Recovered,
    check_batch,
    check_retention,
    check_snapshot,
    encode_batch,
)

__all__ = ["SQLiteEngine"]

T = TypeVar("T")
SyncMode = Literal["FULL", "NORMAL", "OFF"]

_MAGIC: Final = "ccroute cluster engine"
# "ccrc" in the SQLite header: a ccroute cluster file, not a single log.
_APPLICATION_ID: Final = 0x63637263
_FORMAT: Final = codec.FORMAT
_LOG_COLUMNS: Final = "seq, at, command, contact_id, agent_id, queue, version, crc, body"
_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE leases (partition TEXT PRIMARY KEY, node TEXT, token INTEGER NOT NULL,"
    " expires REAL NOT NULL)",
    "CREATE TABLE log (partition TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL,"
    " command TEXT NOT NULL, contact_id TEXT, agent_id TEXT, queue TEXT,"
    " version INTEGER NOT NULL, crc INTEGER NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY (partition, seq)) WITHOUT ROWID",
    "CREATE TABLE snapshots (partition TEXT NOT NULL, seq INTEGER NOT NULL,"
    " version INTEGER NOT NULL, crc INTEGER NOT NULL, body BLOB NOT NULL,"
    " PRIMARY KEY (partition, seq))",
    "CREATE TABLE pruned (partition TEXT PRIMARY KEY, through INTEGER NOT NULL)",
)
#: Records one read_after returns at most (the follower asks again).
_PAGE: Final = 1000


def _rollback(connection: sqlite3.Connection) -> None:
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            connection.execute("ROLLBACK")


class SQLiteEngine:
    """Partitions' leases, logs and snapshots in one SQLite file, shared by
    the node processes of one machine (see the module's notes).

    :param path: the database file (created with its tables when missing).
    :param synchronous: SQLite's durability: ``"FULL"`` (an acknowledged
        call survives a power loss), ``"NORMAL"`` (survives the crash of a
        process) or ``"OFF"`` (tests).
    :param retention: seconds of records kept behind a partition's
        snapshots, by the records' ``at``, as :class:`~ccroute.SQLiteStorage`
        keeps them (``None``: every record).
    :param keep_snapshots: snapshots kept per partition (at least 1).
    :param poll: seconds between two looks at the log while
        :meth:`read_after` waits.
    :raises InvalidValueError: an argument is out of range; nothing was touched.
    :raises StorageError: the file cannot be opened or is not a cluster file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: SyncMode = "FULL",
        retention: float | None = DEFAULT_RETENTION,
        keep_snapshots: int = 2,
        poll: float = 0.02,
    ) -> None:
        if synchronous not in get_args(SyncMode):
            raise InvalidValueError(f"synchronous must be FULL, NORMAL or OFF, not {synchronous!r}")
        if isinstance(keep_snapshots, bool) or not isinstance(keep_snapshots, int):
            raise InvalidValueError(f"keep_snapshots must be an int, not {keep_snapshots!r}")
        if keep_snapshots < 1:
            raise InvalidValueError(f"keep_snapshots must be at least 1, not {keep_snapshots}")
        if isinstance(poll, bool) or not isinstance(poll, int | float) or not 0 < poll <= 10:
            raise InvalidValueError(f"poll must be a number of seconds in (0, 10], not {poll!r}")
        self._retention = check_retention(retention)
        if not isinstance(path, str | os.PathLike):
            raise InvalidValueError(f"path must be a str or a path, not {type(path).__name__}")
        name = os.fspath(path)
        if not isinstance(name, str) or name in ("", ":memory:"):
            raise InvalidValueError(f"path must name a file shared by the nodes, not {name!r}")
        self._path = name
        self._synchronous = synchronous
        self._keep = keep_snapshots
        self._poll = float(poll)
        self._lock = threading.Lock()
        try:
            connection = sqlite3.connect(
                name, isolation_level=None, check_same_thread=False, timeout=30.0
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
    def retention(self) -> float | None:
        """Seconds of records kept behind the snapshots (``None``: every record)."""
        return self._retention

    def __repr__(self) -> str:
        return f"SQLiteEngine({self._path!r})"

    def _open(self, connection: sqlite3.Connection) -> None:
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                application_id = connection.execute("PRAGMA application_id").fetchone()[0]
                tables = {
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                    )
                }
                if application_id == 0 and not tables:
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("magic", _MAGIC), ("format", str(_FORMAT))],
                    )
                    connection.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                elif application_id != _APPLICATION_ID or "meta" not in tables:
                    raise StorageError(
                        f"{self._path} is not a ccroute cluster file (application id "
                        f"{application_id:#x}); it was left untouched"
                    )
                else:
                    meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
                    if meta.get("magic") != _MAGIC or meta.get("format") not in {
                        str(v) for v in codec.READABLE_FORMATS
                    }:
                        raise StorageError(
                            f"{self._path} is a ccroute cluster file in format "
                            f"{meta.get('format')!r}, which this release does not read"
                        )
                connection.execute("COMMIT")
            except BaseException:
                _rollback(connection)
                raise
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        except sqlite3.DatabaseError as error:
            raise StorageError(f"cannot open {self._path}: {error}") from error

    # -- plumbing ------------------------------------------------------------------

    def _run(self, work: Callable[[sqlite3.Connection], T], what: str) -> T:
        """Run ``work`` in one write transaction (on a worker thread)."""
        with self._lock:
            connection = self._connection
            if connection is None:
                raise StorageError(f"the engine {self._path} is closed")
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    result = work(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    _rollback(connection)
                    raise
            except sqlite3.Error as error:
                raise StorageError(f"{what} in {self._path} failed: {error}") from error
            return result

    async def _call(self, work: Callable[[sqlite3.Connection], T], what: str) -> T:
        return await anyio.to_thread.run_sync(self._run, work, what)

    # -- leases --------------------------------------------------------------------

    async def acquire(self, partition: str, node: str, ttl: float) -> int | None:
        """Take the lease if it is free or lapsed: one write transaction.

        Cost: one commit (with ``synchronous="FULL"``, one fsync).
        """
        check_name(partition, "partition")
        check_name(node, "node")
        seconds = check_ttl(ttl)

        def work(connection: sqlite3.Connection) -> int | None:
            now = time.time()
            row = connection.execute(
                "SELECT node, token, expires FROM leases WHERE partition = ?", (partition,)
            ).fetchone()
            if row is not None and row[0] is not None and row[2] > now:
                return None
            token = (row[1] if row is not None else 0) + 1
            connection.execute(
                "INSERT OR REPLACE INTO leases (partition, node, token, expires)"
                " VALUES (?, ?, ?, ?)",
                (partition, node, token, now + seconds),
            )
            return int(token)

        return await self._call(work, f"taking the lease of partition {partition!r}")

    async def renew(self, partition: str, node: str, token: int, ttl: float) -> bool:
        """Extend the lease if it is still ``node``'s under ``token``."""
        check_name(partition, "partition")
        check_name(node, "node")
        check_token(token)
        seconds = check_ttl(ttl)

        def work(connection: sqlite3.Connection) -> bool:
            cursor = connection.execute(
                "UPDATE leases SET expires = ? WHERE partition = ? AND node = ? AND token = ?",
                (time.time() + seconds, partition, node, token),
            )
            return cursor.rowcount == 1

        return await self._call(work, f"renewing the lease of partition {partition!r}")

    async def release(self, partition: str, node: str, token: int) -> None:
        """Free the lease at once if it is still ``token``; the token stays counted."""
        check_name(partition, "partition")
        check_name(node, "node")
        check_token(token)

        def work(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE leases SET node = NULL, expires = 0"
                " WHERE partition = ? AND node = ? AND token = ?",
                (partition, node, token),
            )

        await self._call(work, f"releasing the lease of partition {partition!r}")

    # -- logs ----------------------------------------------------------------------

    def storage(self, partition: str, token: int | None) -> _PartitionStore:
        """The partition's log and snapshots, writing under ``token`` (see
        :meth:`Engine.storage <ccroute.cluster.Engine.storage>`)."""
        check_name(partition, "partition")
        return _PartitionStore(self, partition, check_token(token, optional=True))

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        """Up to 1000 records after ``seq``, polling every ``poll`` seconds for
        up to ``wait`` seconds when there is none yet.

        :raises StorageError: a record there is damaged (the message names it).
        """
        check_name(partition, "partition")
        after, seconds = check_read(seq, wait)
        deadline = time.monotonic() + seconds
        while True:
            found = await anyio.to_thread.run_sync(self._read, partition, after)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return ()
            await anyio.sleep(min(self._poll, left))

    def _read(self, partition: str, after: int) -> tuple[LogRecord, ...]:
        with self._lock:
            connection = self._connection
            if connection is None:
                raise StorageError(f"the engine {self._path} is closed")
            try:
                rows = connection.execute(
                    f"SELECT {_LOG_COLUMNS} FROM log WHERE partition = ? AND seq > ?"
                    " ORDER BY seq LIMIT ?",
                    (partition, after, _PAGE),
                ).fetchall()
            except sqlite3.Error as error:
                raise StorageError(f"reading partition {partition!r}: {error}") from error
        out = []
        for row in rows:
            try:
                out.append(codec.decode_row(row))
            except InputError as error:
                raise StorageError(
                    f"record {row[0]} of partition {partition!r} in {self._path} is damaged "
                    f"({error})"
                ) from None
        return tuple(out)

    async def close(self) -> None:
        """Close the file. Closing twice does nothing."""

        def close() -> None:
            with self._lock:
                connection, self._connection = self._connection, None
                if connection is not None:
                    connection.close()

        await anyio.to_thread.run_sync(close)

    # -- what the partition stores do, in their transactions -----------------------

    def _fence(self, connection: sqlite3.Connection, partition: str, token: int | None) -> None:
        row = connection.execute(
            "SELECT token FROM leases WHERE partition = ?", (partition,)
        ).fetchone()
        current = row[0] if row is not None else 0
        if token is None:
            raise FencedError(
                f"partition {partition!r}: this store has no lease token, it is for reading; "
                "nothing was written",
                partition=partition,
                token=0,
            )
        if token != current:
            raise FencedError(
                f"partition {partition!r}: token {token} is stale (the lease is at token "
                f"{current}: another node took it); nothing was written",
                partition=partition,
                token=token,
            )

    @staticmethod
    def _ends(connection: sqlite3.Connection, partition: str) -> tuple[int, int]:
        """(last seq, latest snapshot seq) of a partition."""
        last_log, last_snapshot, pruned = connection.execute(
            "SELECT (SELECT max(seq) FROM log WHERE partition = ?1),"
            " (SELECT max(seq) FROM snapshots WHERE partition = ?1),"
            " (SELECT through FROM pruned WHERE partition = ?1)",
            (partition,),
        ).fetchone()
        snapshot = last_snapshot or 0
        return max(last_log or 0, snapshot, pruned or 0), snapshot

    def _append(
        self,
        connection: sqlite3.Connection,
        partition: str,
        token: int | None,
        records: Sequence[LogRecord],
    ) -> None:
        self._fence(connection, partition, token)
        last, _ = self._ends(connection, partition)
        batch = check_batch(records, last, f"partition {partition!r}")
        if not batch:
            return
        rows = encode_batch(batch, records)
        connection.executemany(
            f"INSERT INTO log (partition, {_LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(partition, *row) for row in rows],
        )

    def _snapshot(
        self,
        connection: sqlite3.Connection,
        partition: str,
        token: int | None,
        seq: int,
        state: bytes,
    ) -> None:
        self._fence(connection, partition, token)
        last, snapshot_seq = self._ends(connection, partition)
        data = check_snapshot(seq, state, last, snapshot_seq)
        connection.execute(
            "INSERT OR REPLACE INTO snapshots (partition, seq, version, crc, body)"
            " VALUES (?, ?, ?, ?, ?)",
            (partition, seq, _FORMAT, codec.snapshot_crc(seq, _FORMAT, data), data),
        )
        connection.execute(
            "DELETE FROM snapshots WHERE partition = ?1 AND seq NOT IN"
            " (SELECT seq FROM snapshots WHERE partition = ?1 ORDER BY seq DESC LIMIT ?2)",
            (partition, self._keep),
        )
        if self._retention is None:
            return
        # As SQLiteStorage prunes: what every kept snapshot covers, older than the retention.
        oldest, newest_at = connection.execute(
            "SELECT (SELECT min(seq) FROM snapshots WHERE partition = ?1),"
            " (SELECT at FROM log WHERE partition = ?1 ORDER BY seq DESC LIMIT 1)",
            (partition,),
        ).fetchone()
        if oldest is None or newest_at is None:
            return
        (through,) = connection.execute(
            "SELECT max(seq) FROM log WHERE partition = ? AND seq <= ? AND at < ?",
            (partition, oldest, newest_at - self._retention),
        ).fetchone()
        if through is None:
            return
        connection.execute("DELETE FROM log WHERE partition = ? AND seq <= ?", (partition, through))
        connection.execute(
            "INSERT INTO pruned (partition, through) VALUES (?1, ?2) ON CONFLICT (partition)"
            " DO UPDATE SET through = max(through, ?2)",
            (partition, through),
        )

    def _load(self, connection: sqlite3.Connection, partition: str) -> Recovered:
        problems = []
        snapshot_seq, snapshot = 0, None
        for seq, version, crc, body in connection.execute(
            "SELECT seq, version, crc, body FROM snapshots WHERE partition = ? ORDER BY seq DESC",
            (partition,),
        ).fetchall():
            data = bytes(body)
            if version in codec.READABLE_FORMATS and codec.snapshot_crc(seq, version, data) == crc:
                snapshot_seq, snapshot = seq, data
                break
            problems.append(f"the snapshot after record {seq} is damaged")
        (pruned,) = connection.execute(
            "SELECT coalesce((SELECT through FROM pruned WHERE partition = ?), 0)", (partition,)
        ).fetchone()
        if pruned > snapshot_seq:
            raise StorageError(
                f"partition {partition!r} in {self._path} cannot be recovered: retention "
                f"removed records 1..{pruned} and no good snapshot covers them"
            )
        records: list[LogRecord] = []
        expected = snapshot_seq + 1
        for row in connection.execute(
            f"SELECT {_LOG_COLUMNS} FROM log WHERE partition = ? AND seq > ? ORDER BY seq",
            (partition, snapshot_seq),
        ):
            if row[0] != expected:
                problems.append(f"record {expected} is missing")
                break
            try:
                records.append(codec.decode_row(row))
            except InputError as error:
                problems.append(f"record {row[0]} is damaged ({error})")
                break
            expected += 1
        problem = None
        if problems:
            problem = f"partition {partition!r} in {self._path}: " + "; ".join(problems)
        return Recovered(snapshot_seq, snapshot, tuple(records), problem)


class _PartitionStore:
    """One partition's log as an :class:`~ccroute.storage.AsyncStorage`,
    fenced by a token (see :meth:`SQLiteEngine.storage`)."""

    def __init__(self, engine: SQLiteEngine, partition: str, token: int | None) -> None:
        self._engine = engine
        self._partition = partition
        self._token = token
        self._closed = False

    @property
    def partition(self) -> str:
        """The partition."""
        return self._partition

    @property
    def token(self) -> int | None:
        """The fencing token writes are checked against (``None``: reads only)."""
        return self._token

    def __repr__(self) -> str:
        return f"<partition {self._partition!r} of {self._engine!r}, token {self._token}>"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the store of partition {self._partition!r} is closed")

    async def load(self) -> Recovered:
        """The latest good snapshot and the good records after it (damage is
        reported in ``problem``, not set aside: other nodes read the file too).

        Cost: O(records after the snapshot), each checked and decoded.
        """
        self._check_open()
        partition = self._partition
        return await self._engine._call(
            lambda c: self._engine._load(c, partition), f"loading partition {partition!r}"
        )

    async def append(self, records: Sequence[LogRecord]) -> None:
        """Append in one write transaction that first checks the token.

        :raises FencedError: the token is stale (or ``None``); nothing was written.
        :raises InvalidValueError: a record is malformed; nothing was written.
        :raises StorageError: the seqs do not continue the log; the file failed.
        """
        self._check_open()
        partition, token = self._partition, self._token
        await self._engine._call(
            lambda c: self._engine._append(c, partition, token, records),
            f"appending to partition {partition!r}",
        )

    async def snapshot(self, seq: int, state: bytes) -> None:
        """Store a snapshot (and apply the retention) in one write transaction
        that first checks the token.

        :raises FencedError: the token is stale (or ``None``); nothing was written.
        """
        self._check_open()
        partition, token = self._partition, self._token
        await self._engine._call(
            lambda c: self._engine._snapshot(c, partition, token, seq, state),
            f"storing a snapshot of partition {partition!r}",
        )

    async def close(self) -> None:
        """Close this store (not the engine). Closing twice does nothing."""
        self._closed = True
