"""The PostgreSQL engine of a ccroute cluster: :class:`PostgresEngine`.

It implements :class:`ccroute.cluster.Engine`: partitions' logs and
snapshots (:class:`~ccroute_postgres.PostgresStorage`), leases with fencing
tokens, and following a log with ``LISTEN``/``NOTIFY``.

A lease is a row of ``ccroute_partitions``: the node holding it, its fencing
token, and when it lapses, ``expires_at``, by the database server's clock
(``clock_timestamp()``), never a node's. Tokens come from one sequence, so
each is greater than every token handed out before. Taking a lease updates
the row under its lock (``FOR UPDATE``), and every append and snapshot
checks the token under a share lock of the same row in the same statement
or transaction: a takeover and a write are ordered one way or the other,
and a write under a stale token stores nothing (docs/postgres.md, "Leases
and fencing", says why a row rather than an advisory lock).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Sequence
from typing import Any, Final

import attrs
import psycopg
from ccroute import codec
from ccroute.cluster import check_name, check_read, check_token, check_ttl
from ccroute.errors import InputError, InvalidValueError, StorageError
from ccroute.storage import DEFAULT_RETENTION, LogRecord, check_retention

from ._link import Link, check_dsn, check_seconds, run
from .storage import CHANNEL, PostgresStorage

__all__ = ["Lease", "PostgresEngine"]

_LOG_COLUMNS: Final = "seq, at, command, contact_id, agent_id, queue, version, crc, body"
# Taking a lease waits this long at most for an append in flight to commit.
_LOCK_WAIT: Final = "2s"


@attrs.frozen
class Lease:
    """A partition's lease as the database holds it (:meth:`PostgresEngine.lease`).

    :param node: the node that holds (or held) it.
    :param token: its fencing token.
    :param remaining: seconds until it lapses, by the server's clock (<= 0:
        lapsed; ``inf``: a sole owner's, :meth:`PostgresStorage.open
        <ccroute_postgres.PostgresStorage.open>`).
    """

    node: str | None
    token: int
    remaining: float


def _check_node(node: object) -> str:
    if not isinstance(node, str) or not node or len(node) > 200:
        raise InvalidValueError(
            f"node must be a non-empty str of at most 200 characters, not {node!r}"
        )
    return node


def _check_token(token: object) -> int:
    if isinstance(token, bool) or not isinstance(token, int):
        raise InvalidValueError(f"token must be an int, not {token!r}")
    return token


class PostgresEngine:
    """Partitions' logs, snapshots and leases in one PostgreSQL database.

    Nothing is contacted until the first call, which creates ccroute's
    tables when the database has none (``ccroute_*``; see
    docs/postgres.md) and checks the server is durable (``fsync`` and
    ``full_page_writes`` on; every session sets ``synchronous_commit = on``).

    :param dsn: a libpq connection string or URI (``"host=db user=ccroute
        dbname=ccroute"``, ``"postgresql://ccroute@db/ccroute"``); the role
        needs to create tables in the database the first time, and to read
        and write them after.
    :param retention: seconds of records kept behind the snapshots (as
        :class:`~ccroute.SQLiteStorage`; ``None`` keeps every record).
    :param keep_snapshots: how many of a partition's latest snapshots to keep (>= 1).
    :param connect_timeout: seconds to wait for a connection.
    :param check_durability: refuse a server running with ``fsync`` or
        ``full_page_writes`` off (``False`` only for throw-away databases).
    :param follow_batch: at most this many records per :meth:`read_after`.
    :raises InvalidValueError: an argument is malformed; nothing was contacted.
    """

    def __init__(
        self,
        dsn: str,
        *,
        retention: float | None = DEFAULT_RETENTION,
        keep_snapshots: int = 2,
        connect_timeout: float = 10.0,
        check_durability: bool = True,
        follow_batch: int = 10_000,
    ) -> None:
        self._dsn = check_dsn(dsn)
        self._retention = check_retention(retention)
        if isinstance(keep_snapshots, bool) or not isinstance(keep_snapshots, int):
            raise InvalidValueError(
                f"keep_snapshots must be an int, not {type(keep_snapshots).__name__}"
            )
        if keep_snapshots < 1:
            raise InvalidValueError(f"keep_snapshots must be at least 1, not {keep_snapshots}")
        self._keep_snapshots = keep_snapshots
        self._connect_timeout = check_seconds(connect_timeout, "connect_timeout")
        if not isinstance(check_durability, bool):
            raise InvalidValueError(f"check_durability must be a bool, not {check_durability!r}")
        self._check_durability = check_durability
        if isinstance(follow_batch, bool) or not isinstance(follow_batch, int) or follow_batch < 1:
            raise InvalidValueError(f"follow_batch must be an int >= 1, not {follow_batch!r}")
        self._follow_batch = follow_batch
        self._leases = self._link()
        self._followers: dict[str, Link] = {}
        self._stores: weakref.WeakSet[PostgresStorage] = weakref.WeakSet()
        self._closed = False

    def _link(self, listen: bool = False) -> Link:
        return Link(
            self._dsn,
            connect_timeout=self._connect_timeout,
            check_durability=self._check_durability,
            on_connect=_listen if listen else None,
        )

    @property
    def dsn(self) -> str:
        """The connection string."""
        return self._dsn

    @property
    def retention(self) -> float | None:
        """Seconds of records kept behind the snapshots (``None``: every record)."""
        return self._retention

    @property
    def keep_snapshots(self) -> int:
        """How many of a partition's latest snapshots are kept."""
        return self._keep_snapshots

    @property
    def connect_timeout(self) -> float:
        """Seconds to wait for a connection."""
        return self._connect_timeout

    @property
    def check_durability(self) -> bool:
        """Whether a server without ``fsync`` or ``full_page_writes`` is refused."""
        return self._check_durability

    def __repr__(self) -> str:
        state = " (closed)" if self._closed else ""
        return f"PostgresEngine({self._leases.where}){state}"

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"the engine on {self._leases.where} is closed")

    def _on_leases(self, what: str, work: Any) -> Any:
        """Run ``work(connection)`` on the lease connection, once more on a new
        connection when the old one broke (lease calls may be repeated: taking
        a lease twice gives ``None`` the second time, and the lease lapses)."""
        with self._leases.lock:
            for attempt in (1, 2):
                try:
                    return work(self._leases.connection())
                except psycopg.OperationalError as error:
                    self._leases.drop()
                    if attempt == 2:
                        raise StorageError(
                            f"cannot {what} on {self._leases.where}: {error}"
                        ) from error
                except psycopg.Error as error:
                    raise StorageError(f"cannot {what} on {self._leases.where}: {error}") from error
        raise AssertionError("unreachable")

    # -- leases ------------------------------------------------------------------

    async def acquire(self, partition: str, node: str, ttl: float) -> int | None:
        """Take ``partition``'s lease for ``node`` if it is free or has lapsed
        (by the server's clock): a new fencing token, else ``None``.

        ``None`` too when an append under the current lease is in flight for
        longer than two seconds (its lease is evidently alive). Cost: one
        short transaction.

        :raises InvalidValueError: a malformed argument (nothing was contacted).
        :raises StorageError: the server failed or cannot be reached.
        """
        check_name(partition, "partition")
        check_name(node, "node")
        seconds = check_ttl(ttl)
        self._check_open()

        def work(connection: psycopg.Connection[Any]) -> int | None:
            try:
                with connection.transaction():
                    connection.execute(f"SET LOCAL lock_timeout = '{_LOCK_WAIT}'")
                    connection.execute(
                        "INSERT INTO ccroute_partitions (partition) VALUES (%s)"
                        " ON CONFLICT DO NOTHING",
                        (partition,),
                    )
                    row = connection.execute(
                        "UPDATE ccroute_partitions SET node = %s,"
                        " token = nextval('ccroute_fencing_tokens'),"
                        " expires_at = clock_timestamp() + make_interval(secs => %s)"
                        " WHERE partition = %s AND expires_at <= clock_timestamp()"
                        " RETURNING token",
                        (node, seconds, partition),
                    ).fetchone()
            except psycopg.errors.LockNotAvailable:
                return None
            return None if row is None else int(row[0])

        result: int | None = await run(
            lambda: self._on_leases(f"take the lease of {partition!r}", work)
        )
        return result

    async def renew(self, partition: str, node: str, token: int, ttl: float) -> bool:
        """Extend the lease ``token`` to ``ttl`` seconds from now (server clock).

        ``False`` when it is no longer ``node``'s under ``token``. Cost: one statement.

        :raises InvalidValueError: a malformed argument.
        :raises StorageError: the server failed or cannot be reached.
        """
        check_name(partition, "partition")
        check_name(node, "node")
        check_token(token)
        seconds = check_ttl(ttl)
        self._check_open()

        def work(connection: psycopg.Connection[Any]) -> bool:
            cursor = connection.execute(
                "UPDATE ccroute_partitions"
                " SET expires_at = clock_timestamp() + make_interval(secs => %s)"
                " WHERE partition = %s AND node = %s AND token = %s"
                " AND expires_at <> 'infinity'",
                (seconds, partition, node, token),
            )
            return cursor.rowcount == 1

        result: bool = await run(lambda: self._on_leases(f"renew the lease of {partition!r}", work))
        return result

    async def release(self, partition: str, node: str, token: int) -> None:
        """Let the lease ``token`` lapse now, if it is still ``node``'s (a clean stop).

        :raises InvalidValueError: a malformed argument.
        :raises StorageError: the server failed or cannot be reached.
        """
        check_name(partition, "partition")
        check_name(node, "node")
        check_token(token)
        self._check_open()

        def work(connection: psycopg.Connection[Any]) -> None:
            connection.execute(
                "UPDATE ccroute_partitions SET expires_at = '-infinity'"
                " WHERE partition = %s AND node = %s AND token = %s",
                (partition, node, token),
            )

        await run(lambda: self._on_leases(f"release the lease of {partition!r}", work))

    async def lease(self, partition: str) -> Lease | None:
        """The partition's lease as the database holds it, or ``None`` when it never had one."""
        check_name(partition, "partition")
        self._check_open()

        def work(connection: psycopg.Connection[Any]) -> Lease | None:
            row = connection.execute(
                "SELECT node, token, CASE WHEN expires_at = 'infinity' THEN 'Infinity'::float8"
                " ELSE extract(epoch FROM expires_at - clock_timestamp())::float8 END"
                " FROM ccroute_partitions WHERE partition = %s",
                (partition,),
            ).fetchone()
            if row is None or row[1] == 0:
                return None
            return Lease(node=row[0], token=int(row[1]), remaining=float(row[2]))

        result: Lease | None = await run(
            lambda: self._on_leases(f"read the lease of {partition!r}", work)
        )
        return result

    # -- logs --------------------------------------------------------------------

    def storage(self, partition: str, token: int | None) -> PostgresStorage:
        """The partition's log and snapshots, writes fenced by ``token``
        (``None``: for reading; writes raise :class:`~ccroute.errors.FencedError`).

        The store has its own connection, made at its first call; the engine
        closes it when it closes.

        :raises InvalidValueError: a malformed partition or token.
        """
        self._check_open()
        store = PostgresStorage(self, partition, token)
        self._stores.add(store)
        return store

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        """The partition's records after ``seq`` in order (at most ``follow_batch``),
        waiting up to ``wait`` seconds for a ``NOTIFY`` from an append when there
        is none yet (``()`` then).

        Each followed partition has a connection that ``LISTEN`` s; the
        rows are decoded with the codec's checks.

        :raises InvalidValueError: a malformed argument.
        :raises StorageError: the server failed, or a record is damaged
            (the leader's next load sets it aside).
        """
        check_name(partition, "partition")
        seq, seconds = check_read(seq, wait)
        self._check_open()
        link = self._followers.get(partition)
        if link is None:
            link = self._followers[partition] = self._link(listen=True)
        deadline = time.monotonic() + seconds
        result: Sequence[LogRecord] = await run(
            lambda: self._follow(link, partition, seq, deadline)
        )
        return result

    def _follow(self, link: Link, partition: str, seq: int, deadline: float) -> Sequence[LogRecord]:
        where = f"partition {partition!r} in {link.where}"
        with link.lock:
            for attempt in (1, 2):
                try:
                    return self._follow_once(link.connection(), partition, seq, deadline, where)
                except psycopg.OperationalError as error:
                    link.drop()
                    if attempt == 2:
                        raise StorageError(f"cannot read {where}: {error}") from error
                except psycopg.Error as error:
                    raise StorageError(f"cannot read {where}: {error}") from error
        raise AssertionError("unreachable")

    def _follow_once(
        self,
        connection: psycopg.Connection[Any],
        partition: str,
        seq: int,
        deadline: float,
        where: str,
    ) -> Sequence[LogRecord]:
        while True:
            # LISTEN was issued when the connection was made, before this
            # query: an append committed after it is notified, not missed.
            rows = connection.execute(
                f"SELECT {_LOG_COLUMNS} FROM ccroute_log WHERE partition = %s AND seq > %s"
                " ORDER BY seq LIMIT %s",
                (partition, seq, self._follow_batch),
            ).fetchall()
            if rows:
                try:
                    return tuple(codec.decode_row(row) for row in rows)
                except InputError as error:
                    raise StorageError(
                        f"a record of {where} after {seq} is damaged: {error}"
                    ) from error
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ()
            for notify in connection.notifies(timeout=remaining):
                if notify.payload == partition:
                    break

    async def close(self) -> None:
        """Close every connection, the stores' too. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        links = [self._leases, *self._followers.values()]
        self._followers.clear()
        stores = list(self._stores)
        for store in stores:
            await store.close()
        for link in links:
            await run(link.close)


def _listen(connection: psycopg.Connection[Any]) -> None:
    connection.execute(f"LISTEN {CHANNEL}")
