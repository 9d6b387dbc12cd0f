"""One partition's log and snapshots in PostgreSQL: :class:`PostgresStorage`.

The store implements :class:`ccroute.storage.AsyncStorage`, the same
contract as :class:`~ccroute.SQLiteStorage`, on the tables of
:mod:`ccroute_postgres._schema`. Rows are ccroute's log format
(:mod:`ccroute.codec`): a record is encoded once (the service hands an
:class:`~ccroute.codec.EncodedRecords` batch whose rows are written as
they are) and decoded with the codec's checks (types, format version,
checksum, key columns), so nothing read back can run code.

Every write is fenced: an append is one transaction that writes the whole
batch (``COPY``, or a pipelined ``INSERT`` for a few rows; group commit: one
WAL flush per batch), then locks the
partition's lease row (``FOR SHARE``) until the commit, checks that the
store's token is still the partition's and notifies the followers
(``NOTIFY ccroute_log``), or rolls back and stores nothing. A takeover updates the same
row (``FOR UPDATE``), so it is ordered strictly before or after every
append: an append racing a takeover either commits before the new leader
loads the log, or is refused with :class:`~ccroute.errors.FencedError`.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
import psycopg
from ccroute import codec
from ccroute.cluster import check_name, check_token
from ccroute.errors import FencedError, InputError, StorageError
from ccroute.storage import (
    DEFAULT_RETENTION,
    LogRecord,
    Recovered,
    check_batch,
    check_snapshot,
    damaged_snapshots_note,
    encode_batch,
    retention_gap,
    snapshot_damage,
)

from ._link import Link, run
from ._schema import LOCK_CLASS

if TYPE_CHECKING:
    from .engine import PostgresEngine

__all__ = ["PostgresStorage"]

#: The channel the followers LISTEN on; the payload is the partition.
CHANNEL: Final = "ccroute_log"
_READS: Final = ", ".join(map(str, codec.READABLE_FORMATS))
_LOG_COLUMNS: Final = "seq, at, command, contact_id, agent_id, queue, version, crc, body"

_COPY: Final = (
    "COPY ccroute_log (partition, seq, at, command, contact_id, agent_id, queue, version, crc,"
    " body) FROM STDIN"
)
_INSERT: Final = (
    "INSERT INTO ccroute_log (partition, seq, at, command, contact_id, agent_id, queue, version,"
    " crc, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
# Batches of up to this many rows are inserted in pipeline mode, larger ones by COPY.
_PIPELINED: Final = 64
# At the end of the append's transaction: the share lock on the lease row is
# held from here to the commit, so a takeover (which updates the row) is
# ordered before this check (then the token differs: roll back) or after the
# commit. The notification is delivered only if the transaction commits.
_FENCE: Final = (
    "SELECT token = %(token)s, pg_notify('ccroute_log', %(partition)s)"
    " FROM ccroute_partitions WHERE partition = %(partition)s FOR SHARE"
)


class _Stale(Exception):
    """The token was not the partition's: the append's transaction rolls back."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# Records read per query while loading.
_PAGE: Final = 5000


class _Refused(Exception):
    """The log cannot be loaded by this release; nothing is to change."""


class PostgresStorage:
    """A partition's event log and snapshots in PostgreSQL (an
    :class:`~ccroute.storage.AsyncStorage`).

    Get one from :meth:`PostgresEngine.storage
    <ccroute_postgres.PostgresEngine.storage>` (a node leading a partition
    under a fencing token), or from :meth:`open` for one process that owns a
    partition alone, with no leases to renew. Each store has its own
    connection, made at the first call and again after it broke (a server
    restart, a dropped connection): an append whose commit was in doubt is
    resolved before it returns or raises, so an acknowledged append is never
    lost and never stored twice.

    Costs: an append is one statement and one commit (one WAL flush) for the
    whole batch, plus encoding records the service did not already encode;
    a load reads and decodes every record after the latest good snapshot.
    """

    def __init__(
        self,
        engine: PostgresEngine,
        partition: str,
        token: int | None,
        *,
        sole: str | None = None,
    ) -> None:
        self._engine = engine
        self._partition = check_name(partition, "partition")
        self._token = check_token(token, optional=True)
        # The node name of a sole owner (open()): it takes the partition at load.
        self._sole = sole
        self._link = Link(
            engine.dsn,
            connect_timeout=engine.connect_timeout,
            check_durability=engine.check_durability,
            on_connect=self._lock_sole if sole is not None else None,
        )
        self._last_seq = 0
        self._snapshot_seq = 0
        # Whether _last_seq and _snapshot_seq were read from the database (a
        # leader may append without loading: a Node hands its service a warm copy).
        self._positioned = False
        # After a failed append whose outcome could not be learned: load first.
        self._in_doubt: str | None = None
        # A sole owner made its engine (open()) and closes it.
        self._owns_engine = False

    @classmethod
    def open(
        cls,
        dsn: str,
        partition: str = "default",
        *,
        retention: float | None = DEFAULT_RETENTION,
        keep_snapshots: int = 2,
        connect_timeout: float = 10.0,
        check_durability: bool = True,
    ) -> PostgresStorage:
        """A store for one process that owns ``partition`` alone (no Node, no leases).

        Nothing is contacted until :meth:`load`, which takes the partition:
        it holds a PostgreSQL advisory lock while its connection lives (a
        second store opening the partition is refused, naming the owner;
        the server drops the lock when the owner dies) and takes the
        partition's lease for good, with a new fencing token, so a store
        left over from before is fenced off. Do not run :class:`ccroute.cluster`
        nodes on a partition a sole store uses. :meth:`close` closes the
        connection the store made itself.

        :raises InvalidValueError: an argument is malformed (nothing was contacted).
        """
        from .engine import PostgresEngine

        engine = PostgresEngine(
            dsn,
            retention=retention,
            keep_snapshots=keep_snapshots,
            connect_timeout=connect_timeout,
            check_durability=check_durability,
        )
        node = f"sole:{socket.gethostname()}:{os.getpid()}"
        store = cls(engine, partition, None, sole=node)
        store._owns_engine = True
        return store

    @property
    def partition(self) -> str:
        """The partition whose log this is."""
        return self._partition

    @property
    def token(self) -> int | None:
        """The fencing token writes are checked against (``None``: read-only, or a
        sole owner before its :meth:`load`)."""
        return self._token

    def __repr__(self) -> str:
        state = " (closed)" if self._link.closed else ""
        return (
            f"PostgresStorage({self._link.where}, partition={self._partition!r}, "
            f"token={self._token!r}){state}"
        )

    @property
    def _where(self) -> str:
        return f"partition {self._partition!r} in {self._link.where}"

    # -- fencing -----------------------------------------------------------------

    def _fenced(self, what: str) -> FencedError:
        if self._token is None:
            return FencedError(
                f"cannot {what} in {self._where}: this store is for reading (it holds no "
                "lease); nothing was stored",
                partition=self._partition,
                token=0,
            )
        return FencedError(
            f"cannot {what} in {self._where}: fencing token {self._token} is no longer the "
            "partition's (another node took its lease); nothing was stored",
            partition=self._partition,
            token=self._token,
        )

    def _check_lease(self, connection: psycopg.Connection[Any], what: str) -> None:
        """In a transaction: lock the lease row (share) and check the token is still ours."""
        row = connection.execute(
            "SELECT token FROM ccroute_partitions WHERE partition = %s FOR SHARE",
            (self._partition,),
        ).fetchone()
        if row is None or row[0] != self._token:
            raise self._fenced(what)

    def _is_ours(self, connection: psycopg.Connection[Any]) -> bool:
        """Whether the token is still the partition's (a read, no lock)."""
        row = connection.execute(
            "SELECT token FROM ccroute_partitions WHERE partition = %s", (self._partition,)
        ).fetchone()
        return row is not None and row[0] == self._token

    def _still_ours(self) -> bool:
        """Whether the token is still the partition's (one query; errors: assume so)."""
        with self._link.lock:
            try:
                return self._is_ours(self._link.connection())
            except (psycopg.Error, StorageError):
                return True

    def _lock_sole(self, connection: psycopg.Connection[Any]) -> None:
        """On each new connection of a sole owner: hold the partition's advisory lock."""
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, self._partition)
        ).fetchone()
        if row is not None and row[0]:
            return
        holder = connection.execute(
            "SELECT node FROM ccroute_partitions WHERE partition = %s", (self._partition,)
        ).fetchone()
        who = f" (its lease names {holder[0]})" if holder and holder[0] else ""
        if self._token is not None:
            raise self._fenced("reconnect")
        raise StorageError(
            f"{self._where} is in use by another store{who}: one store at a time owns a "
            "partition; close the other first"
        )

    def _take_sole(self, connection: psycopg.Connection[Any]) -> None:
        """Take the partition's lease for good with a new token (the advisory lock is held)."""
        assert self._sole is not None
        with connection.transaction():
            connection.execute(
                "INSERT INTO ccroute_partitions (partition) VALUES (%s) ON CONFLICT DO NOTHING",
                (self._partition,),
            )
            node, live = connection.execute(
                "SELECT node, expires_at > clock_timestamp() AND expires_at <> 'infinity'"
                " FROM ccroute_partitions WHERE partition = %s FOR UPDATE",
                (self._partition,),
            ).fetchone() or (None, False)
            if live:
                raise StorageError(
                    f"{self._where} is led by node {node!r} of a cluster (its lease has not "
                    "lapsed): a sole store cannot open it"
                )
            row = connection.execute(
                "UPDATE ccroute_partitions SET node = %s,"
                " token = nextval('ccroute_fencing_tokens'), expires_at = 'infinity'"
                " WHERE partition = %s RETURNING token",
                (self._sole, self._partition),
            ).fetchone()
            assert row is not None
            self._token = int(row[0])

    def _check_open(self) -> None:
        if self._link.closed:
            raise StorageError(f"the store of {self._where} is closed")

    async def _open_sole(self) -> None:
        """Before a write: a sole owner writing before its first :meth:`load`
        takes the partition now; any store learns where the log ends if it
        has not loaded it."""
        if self._positioned or self._link.closed:
            return
        if self._sole is None and self._token is None:
            return  # read-only: the write is refused anyway
        await run(self._position)

    def _position(self) -> None:
        with self._link.lock:
            try:
                connection = self._link.connection()
                if self._sole is not None and self._token is None:
                    self._take_sole(connection)
                row = connection.execute(
                    "SELECT (SELECT max(seq) FROM ccroute_log WHERE partition = %(p)s),"
                    " (SELECT max(seq) FROM ccroute_snapshots WHERE partition = %(p)s)",
                    {"p": self._partition},
                ).fetchone()
            except psycopg.Error as error:
                raise StorageError(f"cannot open {self._where}: {error}") from error
        last_log, last_snapshot = row if row is not None else (None, None)
        self._snapshot_seq = int(last_snapshot or 0)
        self._last_seq = max(int(last_log or 0), self._snapshot_seq)
        self._positioned = True

    # -- load --------------------------------------------------------------------

    async def load(self) -> Recovered:
        """Read the latest good snapshot and the good records after it.

        As :meth:`SQLiteStorage.load <ccroute.SQLiteStorage.load>`: a
        damaged snapshot (checksum, version) is set aside in
        ``ccroute_quarantine`` and the one before is used; the first damaged
        record (checksum, body, key columns) or one after a gap ends the good
        prefix, and it and every later record are set aside in one
        transaction; :attr:`~ccroute.storage.Recovered.problem` says what was
        found. A read-only store (no token) sets nothing aside: it reports.
        A fenced store raises :class:`~ccroute.errors.FencedError` before
        changing anything.

        Cost: O(records after the snapshot), each checked and decoded; they
        are read from a server-side cursor and all held in memory.

        :raises StorageError: the server failed or cannot be reached; a row is
            in a newer format than this release reads; retention removed
            records no good snapshot covers. Nothing was changed then.
        """
        self._check_open()
        return await run(self._load_sync)

    def _load_sync(self) -> Recovered:
        with self._link.lock:
            try:
                return self._load_once()
            except psycopg.OperationalError:
                # The connection broke (a restart): a load changes nothing it
                # has not committed, so once more on a new connection.
                self._link.drop()
                try:
                    return self._load_once()
                except psycopg.Error as error:
                    raise StorageError(f"cannot load {self._where}: {error}") from error
            except psycopg.Error as error:
                raise StorageError(f"cannot load {self._where}: {error}") from error
            except _Refused as error:
                raise StorageError(f"{error}; nothing was changed") from error

    def _load_once(self) -> Recovered:
        connection = self._link.connection()
        if self._sole is not None and self._token is None:
            self._take_sole(connection)
        writable = self._token is not None
        if writable and not self._is_ours(connection):
            raise self._fenced("load")
        # Read in autocommit, page by page, not in one long transaction: decoding
        # a long log takes a while, and a session idle in a transaction is ended
        # (idle_in_transaction_session_timeout). Only the leader writes the log,
        # and a leader loads before it appends; what a load sets aside is moved
        # in a short transaction fenced by the token.
        recovered = self._load(connection, writable)
        self._snapshot_seq = recovered.snapshot_seq
        self._last_seq = recovered.last_seq
        self._positioned = True
        self._in_doubt = None
        return recovered

    def _newer(self, what: str, version: int) -> _Refused:
        return _Refused(
            f"{what} of {self._where} is in format {version}, written by a newer ccroute; "
            f"this release reads format {_READS}"
        )

    def _load(self, connection: psycopg.Connection[Any], writable: bool) -> Recovered:
        problems = []
        snapshot_seq, snapshot, note = self._load_snapshot(connection, writable)
        if note is not None:
            problems.append(note)
        row = connection.execute(
            "SELECT pruned_through FROM ccroute_partitions WHERE partition = %s",
            (self._partition,),
        ).fetchone()
        pruned = int(row[0]) if row is not None else 0
        if pruned and snapshot_seq < pruned:
            good = None if snapshot is None else snapshot_seq
            remedy = "restore the database from a backup"
            raise _Refused(retention_gap(self._where, pruned, good, note, remedy))
        records, note = self._load_records(connection, snapshot_seq, writable)
        if note is not None:
            problems.append(note)
        return Recovered(
            snapshot_seq=snapshot_seq,
            snapshot=snapshot,
            records=tuple(records),
            problem="; ".join(problems) or None,
        )

    def _load_snapshot(
        self, connection: psycopg.Connection[Any], writable: bool
    ) -> tuple[int, bytes | None, str | None]:
        damaged = []
        seqs = [
            int(row[0])
            for row in connection.execute(
                "SELECT seq FROM ccroute_snapshots WHERE partition = %s ORDER BY seq DESC",
                (self._partition,),
            )
        ]
        data: bytes | None = None
        for seq in seqs:
            # One snapshot's bytes at a time: they may be large, and the latest is usually good.
            version, crc, body = connection.execute(
                "SELECT version, crc, body FROM ccroute_snapshots WHERE partition = %s"
                " AND seq = %s",
                (self._partition, seq),
            ).fetchone() or (None, None, None)
            if type(version) is int and version > codec.FORMAT:
                raise self._newer(f"the snapshot after record {seq}", version)
            data = bytes(body) if body is not None else None
            reason = snapshot_damage(seq, version, crc, data)
            if reason is None:
                break
            data = None
            if writable:
                with connection.transaction():
                    self._check_lease(connection, "set a damaged snapshot aside")
                    connection.execute(
                        "INSERT INTO ccroute_quarantine (partition, kind, seq, version, crc,"
                        " state, reason) SELECT partition, 'snapshot', seq, version, crc, body, %s"
                        " FROM ccroute_snapshots WHERE partition = %s AND seq = %s",
                        (f"damaged snapshot ({reason})", self._partition, seq),
                    )
                    connection.execute(
                        "DELETE FROM ccroute_snapshots WHERE partition = %s AND seq = %s",
                        (self._partition, seq),
                    )
            damaged.append(
                f"the snapshot after record {seq} of {self._where} is damaged ({reason})"
            )
        else:
            seq = 0
        if not damaged:
            return seq, data, None
        kept = "set aside in table ccroute_quarantine" if writable else "left in place (read-only)"
        return seq, data, damaged_snapshots_note(damaged, None if data is None else seq, kept)

    def _load_records(
        self, connection: psycopg.Connection[Any], snapshot_seq: int, writable: bool
    ) -> tuple[list[LogRecord], str | None]:
        records: list[LogRecord] = []
        keep = records.append
        decode = codec.decode_row
        expected = snapshot_seq + 1
        seq = snapshot_seq
        done = False
        while not done:
            # Keyset pages: each its own short statement.
            page = connection.execute(
                f"SELECT {_LOG_COLUMNS} FROM ccroute_log WHERE partition = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (self._partition, seq, _PAGE),
            ).fetchall()
            if not page:
                return records, None
            for row in page:
                seq = row[0]
                if seq != expected:
                    what = (
                        f"record {expected} of {self._where} is missing "
                        f"(the log jumps from record {expected - 1} to {seq})"
                    )
                    first_reason = later_reason = f"follows missing record {expected}"
                    done = True
                    break
                try:
                    keep(decode(row))
                except codec.NewerFormatError as error:
                    raise self._newer(f"record {seq}", error.version) from None
                except InputError as error:
                    what = f"record {seq} of {self._where} is damaged ({error})"
                    first_reason = f"damaged ({error})"
                    later_reason = f"follows damaged record {seq}"
                    done = True
                    break
                expected += 1
        recovered = _plural(len(records), "good record") + " recovered"
        if snapshot_seq:
            recovered += f" after the snapshot at record {snapshot_seq}"
        if not writable:
            return records, f"{what}; {recovered} (read-only: nothing was set aside)"
        with connection.transaction():
            self._check_lease(connection, "set damaged records aside")
            moved, last = self._set_aside(connection, seq, first_reason, later_reason)
        span = f"record {seq}" if moved == 1 else f"records {seq}..{last}"
        return (
            records,
            f"{what}; {recovered}, {moved} ({span}) set aside in table ccroute_quarantine",
        )

    def _set_aside(
        self,
        connection: psycopg.Connection[Any],
        first: int,
        first_reason: str,
        later_reason: str,
    ) -> tuple[int, int]:
        """Move log rows from seq ``first`` on to quarantine; return how many and the last seq."""
        row = connection.execute(
            "SELECT max(seq) FROM ccroute_log WHERE partition = %s", (self._partition,)
        ).fetchone()
        last = int(row[0]) if row is not None and row[0] is not None else first
        cursor = connection.execute(
            f"INSERT INTO ccroute_quarantine (partition, kind, {_LOG_COLUMNS}, reason)"
            f" SELECT partition, 'record', {_LOG_COLUMNS},"
            " CASE WHEN seq = %s THEN %s ELSE %s END"
            " FROM ccroute_log WHERE partition = %s AND seq >= %s ORDER BY seq",
            (first, first_reason, later_reason, self._partition, first),
        )
        moved = cursor.rowcount
        connection.execute(
            "DELETE FROM ccroute_log WHERE partition = %s AND seq >= %s", (self._partition, first)
        )
        return moved, last

    # -- append ------------------------------------------------------------------

    async def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log in one transaction and one commit: all or none.

        On return they are durable (``synchronous_commit = on``) and the
        followers are notified. The store's token is checked in the same
        transaction, under a share lock of the partition's lease row held
        until the commit.

        :raises InvalidValueError: an item is not a well-formed record, or
            holds a value the log cannot hold (nothing was contacted).
        :raises FencedError: the token is no longer the partition's (or the
            store is read-only); nothing was stored.
        :raises StorageError: the seqs do not continue the log (the message
            names them); the server failed and the batch is known not stored;
            or the outcome could not be learned (the server is unreachable):
            then the store refuses to append until :meth:`load`.
        """
        self._check_open()
        await self._open_sole()
        try:
            batch = check_batch(records, self._last_seq, self._where)
        except StorageError:
            # A fenced store's view of the log is stale: say it is fenced,
            # which is the reason, rather than that its seqs are off.
            if self._token is not None and not await run(self._still_ours):
                raise self._fenced("append") from None
            raise
        if self._token is None:
            raise self._fenced(f"append records {batch[0].seq}.." if batch else "append")
        if self._in_doubt is not None:
            raise StorageError(
                f"cannot append to {self._where}: {self._in_doubt}; load the store again first"
            )
        if not batch:
            return
        rows = encode_batch(batch, records)
        try:
            await run(lambda: self._append_sync(rows))
        except anyio.get_cancelled_exc_class():
            # The thread goes on and may commit: what the log holds is unknown here.
            self._in_doubt = (
                f"the append of records {batch[0].seq}..{batch[-1].seq} was cancelled while "
                "it ran; it may have been stored"
            )
            raise
        self._last_seq = batch[-1].seq

    def _append_sync(self, rows: Sequence[codec.Row]) -> None:
        what = f"append records {rows[0].seq}..{rows[-1].seq}"
        with self._link.lock:
            connection = self._link.connection()
            try:
                self._insert(connection, rows)
            except _Stale:
                raise self._fenced(what) from None
            except psycopg.errors.UniqueViolation as error:
                raise StorageError(
                    f"cannot {what} to {self._where}: record {rows[0].seq} or a later one is "
                    "already in the log (another writer under this token?); none of them was "
                    "stored"
                ) from error
            except psycopg.OperationalError as error:
                # Lost the connection during the transaction: it may have committed.
                self._resolve(rows, what, error)
            except psycopg.Error as error:
                raise StorageError(
                    f"cannot {what} to {self._where}: {error}; none of them was stored"
                ) from error

    def _insert(self, connection: psycopg.Connection[Any], rows: Sequence[codec.Row]) -> None:
        """One transaction: the rows (a pipelined ``INSERT`` for a few, ``COPY`` for
        many), then the fence (see :data:`_FENCE`).

        :raises _Stale: the token is not the partition's (rolled back).
        """
        partition = self._partition
        params = {"token": self._token, "partition": partition}
        if len(rows) <= _PIPELINED:
            # Few rows: every statement sent at once (pipeline mode), about
            # two round trips instead of five.
            with connection.pipeline(), connection.transaction():
                connection.cursor().executemany(_INSERT, [(partition, *row) for row in rows])
                fence = connection.execute(_FENCE, params).fetchone()
                if fence is None or not fence[0]:
                    raise _Stale
            return
        with connection.transaction():
            with connection.cursor().copy(_COPY) as copy:
                for row in rows:
                    copy.write_row((partition, *row))
            fence = connection.execute(_FENCE, params).fetchone()
            if fence is None or not fence[0]:
                raise _Stale

    def _resolve(self, rows: Sequence[codec.Row], what: str, cause: psycopg.Error) -> None:
        """Learn whether an append whose connection broke committed; if not, do it once more.

        The old server process is ended first (``pg_terminate_backend``
        waits for it), so its transaction has committed or never will; then
        the rows are looked up by seq and checksum.
        """
        old_pid = self._link.backend_pid
        self._link.drop()
        try:
            connection = self._link.connection()
            if old_pid is not None:
                connection.execute(
                    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid = %s",
                    (old_pid,),
                )
            found = connection.execute(
                "SELECT seq, crc FROM ccroute_log WHERE partition = %s AND seq BETWEEN %s AND %s"
                " ORDER BY seq",
                (self._partition, rows[0].seq, rows[-1].seq),
            ).fetchall()
            if [(row.seq, row.crc) for row in rows] == [(s, c) for s, c in found]:
                return  # it had committed
            if found:
                raise StorageError(f"other rows hold the seqs {rows[0].seq}..{rows[-1].seq}")
            self._insert(connection, rows)
        except _Stale:
            raise self._fenced(what) from None
        except (StorageError, psycopg.Error) as error:
            self._in_doubt = f"the outcome of '{what}' is unknown ({cause}; then {error})"
            self._link.drop()
            raise StorageError(f"cannot {what} to {self._where}: {self._in_doubt}") from error

    # -- snapshot ----------------------------------------------------------------

    async def snapshot(self, seq: int, state: bytes) -> None:
        """Store the router's state after record ``seq``, keep the latest
        ``keep_snapshots`` and apply the retention: one fenced transaction.

        Retention deletes the records that the oldest kept snapshot covers
        and whose ``at`` is more than ``retention`` seconds before the last
        record's, as the SQLite store does.

        :raises InvalidValueError: ``seq`` is beyond the log's last record or
            before the latest snapshot, or ``state`` is not bytes.
        :raises FencedError: the token is no longer the partition's; nothing changed.
        :raises StorageError: the server failed; nothing changed.
        """
        self._check_open()
        await self._open_sole()
        data = check_snapshot(seq, state, self._last_seq, self._snapshot_seq)
        if self._token is None:
            raise self._fenced(f"store the snapshot after record {seq}")
        crc = codec.snapshot_crc(seq, codec.FORMAT, data)
        await run(lambda: self._snapshot_sync(seq, crc, data))
        self._snapshot_seq = seq

    def _snapshot_sync(self, seq: int, crc: int, data: bytes) -> None:
        what = f"store the snapshot after record {seq}"
        with self._link.lock:
            for attempt in (1, 2):
                connection = self._link.connection()
                try:
                    with connection.transaction():
                        self._check_lease(connection, what)
                        self._write_snapshot(connection, seq, crc, data)
                    return
                except psycopg.OperationalError as error:
                    # Writing a snapshot again is harmless (same seq, same bytes).
                    self._link.drop()
                    if attempt == 2:
                        raise StorageError(
                            f"cannot {what} in {self._where}: {error}; nothing was changed"
                        ) from error
                except psycopg.Error as error:
                    raise StorageError(
                        f"cannot {what} in {self._where}: {error}; nothing was changed"
                    ) from error

    def _write_snapshot(
        self, connection: psycopg.Connection[Any], seq: int, crc: int, data: bytes
    ) -> None:
        partition = self._partition
        connection.execute(
            "INSERT INTO ccroute_snapshots (partition, seq, version, crc, body)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (partition, seq) DO UPDATE"
            " SET version = EXCLUDED.version, crc = EXCLUDED.crc, body = EXCLUDED.body",
            (partition, seq, codec.FORMAT, crc, data),
        )
        connection.execute(
            "DELETE FROM ccroute_snapshots WHERE partition = %s AND seq NOT IN"
            " (SELECT seq FROM ccroute_snapshots WHERE partition = %s ORDER BY seq DESC LIMIT %s)",
            (partition, partition, self._engine.keep_snapshots),
        )
        retention = self._engine.retention
        if retention is None:
            return
        # The records every kept snapshot covers that are older than the retention:
        # a prefix, so the log stays one run of consecutive seqs.
        row = connection.execute(
            "SELECT max(l.seq) FROM ccroute_log AS l WHERE l.partition = %(p)s"
            " AND l.seq <= (SELECT min(seq) FROM ccroute_snapshots WHERE partition = %(p)s)"
            " AND l.at < (SELECT at FROM ccroute_log WHERE partition = %(p)s"
            "             ORDER BY seq DESC LIMIT 1) - %(r)s",
            {"p": partition, "r": retention},
        ).fetchone()
        through = row[0] if row is not None else None
        if through is None:
            return
        connection.execute(
            "DELETE FROM ccroute_log WHERE partition = %s AND seq <= %s", (partition, through)
        )
        connection.execute(
            "UPDATE ccroute_partitions SET pruned_through = greatest(pruned_through, %s)"
            " WHERE partition = %s",
            (through, partition),
        )

    # -- close -------------------------------------------------------------------

    def _release_sole(self) -> None:
        """A sole owner's clean stop: its lease lapses at once (best effort)."""
        # Should this fail, the lease stays; the next sole owner takes it over anyway.
        with self._link.lock, contextlib.suppress(psycopg.Error, StorageError):
            connection = self._link.connection()
            connection.execute(
                "UPDATE ccroute_partitions SET expires_at = '-infinity'"
                " WHERE partition = %s AND token = %s",
                (self._partition, self._token),
            )
            # Now, not when the server notices the connection closed: a store
            # opened right after this one closed must find the lock free.
            connection.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, self._partition)
            )

    async def close(self) -> None:
        """Close the store's connection (a sole owner's lock goes with it). Closing
        twice does nothing; later calls raise :class:`~ccroute.errors.StorageError`."""
        if self._link.closed:
            return
        if self._sole is not None and self._token is not None:
            await run(self._release_sole)
        await run(self._link.close)
        if self._owns_engine:
            await self._engine.close()
