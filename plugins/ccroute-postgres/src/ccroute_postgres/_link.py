"""One PostgreSQL connection, used from worker threads, made again when it broke.

psycopg's asynchronous connection runs on asyncio only, and ccroute's
service runs on asyncio or trio: so the engine uses psycopg's blocking
connection and runs each call in an anyio worker thread (:func:`run`). A
thread hop costs tens of microseconds, against a millisecond or more for a
durable commit.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable
from typing import Any, Final, TypeVar

import anyio.to_thread
import psycopg
import psycopg.conninfo
from ccroute.errors import InvalidValueError, StorageError

from ._schema import ensure_schema

__all__ = ["Link", "check_dsn", "run"]

T = TypeVar("T")

# Every session: commits durable before they return (whatever the server's
# default), and a session that stops talking in the middle of a transaction
# (a paused node) does not hold its locks for ever.
_SESSION: Final = (
    "SET synchronous_commit = on",
    "SET idle_in_transaction_session_timeout = '2s'",
    "SET statement_timeout = '10s'",
)
# A dead peer is noticed in seconds, not after the kernel's two hours.
_KEEPALIVES: Final = "keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3"


def check_dsn(dsn: object) -> str:
    """``dsn`` if it is a libpq connection string or URI psycopg can parse.

    :raises InvalidValueError: it is not a string, or does not parse (the
        message says why, without the password).
    """
    if not isinstance(dsn, str):
        raise InvalidValueError(
            f"dsn must be a libpq connection string (str), not {type(dsn).__name__}"
        )
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise InvalidValueError(f"dsn is not a valid libpq connection string: {error}") from None
    return dsn


def check_seconds(value: object, name: str) -> float:
    """``value`` as a float, if it is a finite number of seconds > 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidValueError(f"{name} must be a finite number of seconds > 0, not {value!r}")
    return float(value)


class Link:
    """A connection made on first use and again after it broke (autocommit mode).

    Calls come from worker threads; the lock makes them one at a time.
    """

    def __init__(
        self,
        dsn: str,
        *,
        connect_timeout: float,
        check_durability: bool,
        on_connect: Callable[[psycopg.Connection[Any]], None] | None = None,
    ) -> None:
        self.dsn = dsn
        self.lock = threading.RLock()
        self._connect_timeout = connect_timeout
        self._check_durability = check_durability
        self._on_connect = on_connect
        self._connection: psycopg.Connection[Any] | None = None
        self._closed = False
        #: The server process of the last connection (to end it when a commit was in doubt).
        self.backend_pid: int | None = None

    @property
    def where(self) -> str:
        """The server, for messages (host, port and database; never the password)."""
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        except psycopg.ProgrammingError:
            return "PostgreSQL"
        host = info.get("host") or info.get("hostaddr") or "localhost"
        return f"PostgreSQL at {host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"

    def connection(self) -> psycopg.Connection[Any]:
        """The live connection, made (and checked) now if there is none or it broke.

        :raises StorageError: the link is closed, or the server cannot be reached.
        """
        if self._closed:
            raise StorageError(f"the connection to {self.where} is closed")
        connection = self._connection
        if connection is not None and not connection.closed and not connection.broken:
            return connection
        self.drop()
        try:
            # The application's own settings win over the keepalives.
            params = psycopg.conninfo.conninfo_to_dict(self.dsn)
            params["connect_timeout"] = max(1, math.ceil(self._connect_timeout))
            connection = psycopg.connect(
                psycopg.conninfo.make_conninfo(_KEEPALIVES, **params), autocommit=True
            )
        except psycopg.Error as error:
            raise StorageError(f"cannot connect to {self.where}: {error}") from error
        try:
            for statement in _SESSION:
                connection.execute(statement)
            if self._check_durability:
                _check_durability(connection, self.where)
            ensure_schema(connection, self.where)
            if self._on_connect is not None:
                self._on_connect(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.backend_pid = connection.info.backend_pid
        return connection

    def drop(self) -> None:
        """Close the connection (the next call makes a new one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error):
                connection.close()

    def close(self) -> None:
        """Close for good: later calls raise :class:`StorageError`."""
        with self.lock:
            self._closed = True
            self.drop()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed


def _check_durability(connection: psycopg.Connection[Any], where: str) -> None:
    """Refuse a server that can lose a commit it acknowledged on a crash."""
    for setting in ("fsync", "full_page_writes"):
        row = connection.execute(f"SHOW {setting}").fetchone()
        if row is None or row[0] != "on":
            value = None if row is None else row[0]
            raise StorageError(
                f"{where} runs with {setting}={value}: a crash of the server could lose "
                f"records ccroute acknowledged; set {setting} = on in postgresql.conf "
                "(or pass check_durability=False for a throw-away database)"
            )


async def run(function: Callable[[], T]) -> T:
    """Run ``function`` in a worker thread and return what it returned.

    A cancelled caller returns at once (the node's timeouts must work even
    when the network hangs); the thread finishes on its own, bounded by the
    statement timeout and the keepalives, holding its connection's lock
    until it does. A write whose caller was cancelled has an unknown
    outcome: the store says so (it refuses to append until loaded again).
    """
    return await anyio.to_thread.run_sync(function, abandon_on_cancel=True)
