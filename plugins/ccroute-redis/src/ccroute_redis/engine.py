"""The Redis engine: partitions' logs, snapshots and leases on one Redis server.

:class:`RedisEngine` implements :class:`ccroute.cluster.Engine` with
redis-py's asyncio client. Each partition has a handful of keys (see
:mod:`ccroute_redis._scripts` for the layout): its log is a Redis Stream
whose entry ``<seq>-0`` is record ``seq``, in the columns of
:mod:`ccroute.codec`'s rows; snapshots are hashes; the lease is a key taken
with ``SET NX PX`` whose value carries the fencing token, which comes from
``INCR`` on a counter no write ever lowers. Every append and snapshot is a
Lua script that checks the token against the counter and writes in the same
atomic step, so a former leader is refused once a new one holds the lease.

Before the first command the engine checks the server (:func:`check_settings
<ccroute_redis._server.check_settings>`): Redis 6.2 or later,
``appendonly yes`` and ``appendfsync always`` (``everysec`` only when the
application accepts it with ``fsync="everysec"``), and no eviction. See
docs/redis.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import redis.asyncio
import redis.exceptions
from ccroute import codec
from ccroute.cluster import check_name, check_read, check_token, check_ttl
from ccroute.errors import InputError, InvalidValueError, StorageError
from ccroute.storage import DEFAULT_RETENTION, LogRecord, check_retention
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from . import _scripts
from ._keys import Keys, check_partition, row_of, seq_of
from ._loop import LoopThread
from ._server import Fsync, ServerInfo, check_settings, parse_version

if TYPE_CHECKING:
    from .storage import RedisStorage

__all__ = ["RedisEngine", "decode_entry", "open_engine"]

log = logging.getLogger("ccroute_redis")

T = TypeVar("T")

#: How many stream entries one read asks for (load and read_after).
CHUNK: Final = 2000


def _check_seconds(name: str, value: object, *, positive: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (positive and value == 0)
    ):
        what = "> 0" if positive else ">= 0"
        raise InvalidValueError(f"{name} must be a finite number of seconds {what}, not {value!r}")
    return float(value)


class RedisEngine:
    """Many partitions' logs, snapshots and leases on one Redis server
    (:class:`ccroute.cluster.Engine`).

    Nothing connects until the first call, which checks the server's
    version and durability settings once (:meth:`check` does it at once).
    The engine runs redis-py's asyncio client on a private event loop in a
    daemon thread, so its coroutines can be awaited from asyncio or trio
    (:mod:`ccroute_redis._loop`); one engine serves any number of nodes,
    partitions and stores in a process.

    :param url: the server, ``redis://host:port/db`` (``rediss://`` for TLS;
        a password in the URL is used and never shown in messages).
    :param prefix: the first part of every key (``"ccroute"``), so several
        applications can share a database.
    :param fsync: the weakest ``appendfsync`` accepted: ``"always"`` (the
        default: an acknowledged call survives a machine failure) or
        ``"everysec"`` (it survives a crash of Redis, not of its machine: the
        last second may be lost; a warning is logged).
    :param check_server: ``False`` skips the settings check, for a managed
        Redis that refuses ``CONFIG GET`` but guarantees the same (the
        version is still checked).
    :param keep_snapshots: how many of a partition's latest snapshots to keep (>= 1).
    :param retention: seconds of records kept behind the oldest kept
        snapshot, by the records' ``at`` (``None``: every record), as
        :class:`~ccroute.SQLiteStorage` does.
    :param socket_timeout: seconds a command may take before the connection
        is deemed dead (it is retried on a new connection, three times).
    :raises InvalidValueError: an argument is out of range; nothing connected.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "ccroute",
        fsync: Fsync = "always",
        check_server: bool = True,
        keep_snapshots: int = 2,
        retention: float | None = DEFAULT_RETENTION,
        socket_timeout: float = 10.0,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidValueError(
                f"url must be a redis://, rediss:// or unix:// URL, not {url!r}"
            )
        if not isinstance(prefix, str) or not prefix or "{" in prefix or "}" in prefix:
            raise InvalidValueError(
                f"prefix must be a non-empty str without braces, not {prefix!r}"
            )
        if fsync not in ("always", "everysec"):
            raise InvalidValueError(f"fsync must be 'always' or 'everysec', not {fsync!r}")
        if not isinstance(check_server, bool):
            raise InvalidValueError(f"check_server must be a bool, not {check_server!r}")
        if (
            isinstance(keep_snapshots, bool)
            or not isinstance(keep_snapshots, int)
            or keep_snapshots < 1
        ):
            raise InvalidValueError(f"keep_snapshots must be an int >= 1, not {keep_snapshots!r}")
        self._retention = check_retention(retention)
        self._socket_timeout = _check_seconds("socket_timeout", socket_timeout)
        self._url = url
        try:
            pool = redis.asyncio.ConnectionPool.from_url(url)
            kwargs = pool.connection_kwargs
        except (ValueError, redis.exceptions.RedisError) as error:
            raise InvalidValueError(f"url {self._where(url)} is not a Redis URL: {error}") from None
        host, port = kwargs.get("host"), kwargs.get("port")
        self._where_text = f"Redis at {host}:{port}" if host else f"Redis at {kwargs.get('path')}"
        self._prefix = prefix
        self._fsync: Fsync = fsync
        self._check_server = check_server
        self._keep_snapshots = keep_snapshots
        # Started by the first call: an engine never used costs no thread.
        self._loop_thread: LoopThread | None = None
        self._loop_lock = threading.Lock()
        self._client: redis.asyncio.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._info: ServerInfo | None = None
        self._ready_lock: asyncio.Lock | None = None
        self._closed = False

    @classmethod
    async def connect(cls, url: str = "redis://127.0.0.1:6379/0", **options: Any) -> RedisEngine:
        """A new engine (``options`` as for the constructor), connected and its
        server checked (:meth:`check`) before it is returned.

        :raises RedisSettingsError: the server's settings or version are refused.
        :raises StorageError: the server cannot be reached.
        """
        engine = cls(url, **options)
        try:
            await engine.check()
        except BaseException:
            await engine.close()
            raise
        return engine

    @staticmethod
    def _where(url: str) -> str:
        # Never show a password: keep the scheme and what follows the '@'.
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    @property
    def where(self) -> str:
        """The server, for messages: ``"Redis at 127.0.0.1:6379"``."""
        return self._where_text

    @property
    def prefix(self) -> str:
        """The first part of every key."""
        return self._prefix

    @property
    def keep_snapshots(self) -> int:
        """How many of a partition's latest snapshots are kept."""
        return self._keep_snapshots

    @property
    def retention(self) -> float | None:
        """Seconds of records kept behind the snapshots (``None``: every record)."""
        return self._retention

    @property
    def server(self) -> ServerInfo | None:
        """What the check found, once the engine has connected."""
        return self._info

    def __repr__(self) -> str:
        return f"RedisEngine({self._where(self._url)!r}, prefix={self._prefix!r})"

    def keys(self, partition: str) -> Keys:
        """The names of ``partition``'s keys (for operators: ``redis-cli XRANGE <log> - +``).

        :raises InvalidValueError: not a valid partition name.
        """
        return Keys(self._prefix, check_partition(partition))

    # -- running commands ------------------------------------------------------

    async def _call(self, what: str, work: Callable[[redis.asyncio.Redis], Awaitable[T]]) -> T:
        """Run ``work`` with the client on the private loop; Redis errors become StorageError."""

        async def on_loop() -> T:
            client = await self._ready()
            try:
                return await work(client)
            except redis.exceptions.ConnectionError as error:
                raise StorageError(f"cannot reach {self.where} to {what}: {error}") from error
            except redis.exceptions.TimeoutError as error:
                raise StorageError(
                    f"{self.where} did not answer in {self._socket_timeout:g} s to {what}"
                ) from error
            except redis.exceptions.RedisError as error:
                raise StorageError(f"{self.where} refused to {what}: {error}") from error

        if self._closed:
            raise StorageError(f"the Redis engine ({self.where}) is closed")
        return await self._loop().run(on_loop())

    def _loop(self) -> LoopThread:
        """The private event loop the client lives on, started on first use."""
        with self._loop_lock:
            if self._loop_thread is None:
                self._loop_thread = LoopThread("ccroute-redis")
            return self._loop_thread

    async def _ready(self) -> redis.asyncio.Redis:
        """The client, connected and checked (on the private loop)."""
        if self._client is not None and self._info is not None:
            return self._client
        if self._ready_lock is None:
            self._ready_lock = asyncio.Lock()
        async with self._ready_lock:
            if self._client is None:
                self._client = redis.asyncio.Redis.from_url(
                    self._url,
                    socket_timeout=self._socket_timeout,
                    socket_connect_timeout=self._socket_timeout,
                    retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
                    retry_on_error=[
                        redis.exceptions.ConnectionError,
                        redis.exceptions.TimeoutError,
                    ],
                    client_name="ccroute-redis",
                )
                self._scripts = {
                    name: self._client.register_script(getattr(_scripts, name))
                    for name in (
                        "ACQUIRE",
                        "RENEW",
                        "RELEASE",
                        "APPEND",
                        "SNAPSHOT",
                        "SET_ASIDE_RECORDS",
                        "SET_ASIDE_SNAPSHOT",
                    )
                }
            if self._info is None:
                self._info = await self._check(self._client)
        return self._client

    async def _check(self, client: redis.asyncio.Redis) -> ServerInfo:
        try:
            server = await client.info("server")
            version = parse_version(str(server.get("redis_version", "0")))
            if not self._check_server:
                check_settings(
                    self.where, version, {"appendonly": "yes", "appendfsync": "always"}, "always"
                )
                return ServerInfo(version, None, None, None)
            try:
                config: dict[str, str] = {}
                for name in ("appendonly", "appendfsync", "maxmemory", "maxmemory-policy"):
                    found: dict[Any, Any] = await client.config_get(name)
                    for key, value in found.items():
                        config[_text(key)] = _text(value)
            except redis.exceptions.ResponseError as error:
                raise StorageError(
                    f"{self.where} refuses CONFIG GET ({error}), so ccroute-redis cannot check "
                    "that acknowledged calls are durable (appendonly yes, appendfsync always). "
                    "If your provider guarantees them, pass check_server=False"
                ) from error
        except redis.exceptions.ConnectionError as error:
            raise StorageError(f"cannot reach {self.where}: {error}") from error
        except redis.exceptions.AuthenticationError as error:
            raise StorageError(f"{self.where} refused the credentials: {error}") from error
        info = check_settings(self.where, version, config, self._fsync)
        log.info(
            "%s: Redis %s, appendonly yes, appendfsync %s",
            self.where,
            ".".join(map(str, version)),
            info.appendfsync,
        )
        return info

    async def check(self) -> ServerInfo:
        """Connect now and check the server (otherwise the first call does).

        :raises ~ccroute_redis.RedisSettingsError: a durability setting or the
            version is not acceptable (the message says which and how to set it).
        :raises StorageError: the server cannot be reached.
        """

        async def info(client: redis.asyncio.Redis) -> ServerInfo:
            assert self._info is not None
            return self._info

        return await self._call("check its settings", info)

    async def _script(self, name: str, what: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        async def run(client: redis.asyncio.Redis) -> Any:
            return await self._scripts[name](keys=list(keys), args=list(args))

        return await self._call(what, run)

    # -- leases ------------------------------------------------------------------

    async def acquire(self, partition: str, node: str, ttl: float) -> int | None:
        """Take ``partition``'s lease for ``node`` if nobody holds an unexpired one.

        One script: when the lease key is absent, ``INCR`` the fence and
        ``SET lease "<token> <node>" NX PX ttl``. Returns the token, or
        ``None`` (also when ``node`` itself holds it: it renews instead).
        Expiry is Redis's own clock.

        :raises InvalidValueError: a bad partition, node or ttl.
        :raises StorageError: Redis cannot be reached.
        """
        keys = self.keys(partition)
        check_name(node, "node")
        ms = _millis(check_ttl(ttl))
        token = await self._script(
            "ACQUIRE",
            f"take the lease of partition {partition!r}",
            [keys.fence, keys.lease],
            [node, ms],
        )
        return None if token is None else int(token)

    async def renew(self, partition: str, node: str, token: int, ttl: float) -> bool:
        """Extend the lease ``token`` to ``ttl`` seconds from now; ``False`` when it is lost.

        :raises InvalidValueError: a bad partition, node, token or ttl.
        :raises StorageError: Redis cannot be reached.
        """
        keys = self.keys(partition)
        check_name(node, "node")
        check_token(token)
        ms = _millis(check_ttl(ttl))
        renewed = await self._script(
            "RENEW",
            f"renew the lease of partition {partition!r}",
            [keys.fence, keys.lease],
            [token, node, ms],
        )
        return bool(renewed)

    async def release(self, partition: str, node: str, token: int) -> None:
        """Give up the lease at once, if it is still ``node``'s under ``token``.

        :raises StorageError: Redis cannot be reached.
        """
        keys = self.keys(partition)
        check_name(node, "node")
        check_token(token)
        await self._script(
            "RELEASE", f"release the lease of partition {partition!r}", [keys.lease], [token, node]
        )

    async def holder(self, partition: str) -> tuple[int, str] | None:
        """``(token, node)`` of the unexpired lease on ``partition``, or ``None``."""
        keys = self.keys(partition)

        async def get(client: redis.asyncio.Redis) -> Any:
            return await client.get(keys.lease)

        value = await self._call(f"read the lease of partition {partition!r}", get)
        if value is None:
            return None
        token, _, node = _text(value).partition(" ")
        return int(token), node

    # -- stores and followers ------------------------------------------------------

    def storage(self, partition: str, token: int | None) -> RedisStorage:
        """The log and snapshots of ``partition``, writable under ``token``
        (checked atomically with every write) or read-only with ``None``.

        :raises InvalidValueError: a bad partition name or token.
        """
        from .storage import RedisStorage

        keys = self.keys(partition)
        check_token(token, optional=True)
        return RedisStorage(self, keys, token)

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        """The records of ``partition`` after ``seq``, up to 2000, waiting up to
        ``wait`` seconds for one (a blocking ``XREAD``; ``wait`` is cut to
        0.8 ``socket_timeout`` so the reply comes before the connection's timeout).

        A damaged entry ends what is returned; when it is the first one,
        :class:`StorageError` names it (the leader's next load sets it aside).

        :raises InvalidValueError: a bad partition, seq or wait.
        :raises StorageError: Redis cannot be reached, or the next entry is damaged.
        """
        keys = self.keys(partition)
        seq, wait = check_read(seq, wait)
        # The server must answer before the connection's timeout ends.
        block = min(wait, self._socket_timeout * 0.8)
        ms = int(block * 1000)

        async def read(client: redis.asyncio.Redis) -> Any:
            # BLOCK 0 would wait for ever: no BLOCK at all for a wait under 1 ms.
            if ms <= 0:
                return await client.xread({keys.log: f"{seq}-0"}, count=CHUNK)
            return await client.xread({keys.log: f"{seq}-0"}, count=CHUNK, block=ms)

        found = await self._call(f"read partition {partition!r} after record {seq}", read)
        entries = found[0][1] if found else []
        records: list[LogRecord] = []
        for entry_id, fields in entries:
            try:
                records.append(decode_entry(entry_id, fields))
            except InputError as error:
                if records:
                    break
                raise StorageError(
                    f"partition {partition!r}: the entry {_text(entry_id)} after record {seq} "
                    f"in {self.where} is damaged ({error})"
                ) from None
        return tuple(records)

    async def close(self) -> None:
        """Close the connections and stop the private loop. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                await self._loop().run(client.aclose())
            except Exception as error:  # closing a dead connection: nothing left to do
                log.debug("closing the Redis client: %s", error)
        if self._loop_thread is not None:
            self._loop_thread.stop()

    def close_sync(self) -> None:
        """:meth:`close` for code outside any event loop (and ``atexit``)."""
        if self._closed:
            return
        self._closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                self._loop().run_sync(client.aclose(), timeout=5)
            except Exception as error:
                log.debug("closing the Redis client: %s", error)
        if self._loop_thread is not None:
            self._loop_thread.stop()


async def open_engine(url: str = "redis://127.0.0.1:6379/0", **options: Any) -> RedisEngine:
    """:meth:`RedisEngine.connect` as a plain function: the factory a node
    process names (``ccroute_redis.engine:open_engine``, see
    :mod:`ccroute.testing_cluster`), with JSON settings as keywords."""
    return await RedisEngine.connect(url, **options)


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _text(value: bytes | str | int) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def decode_entry(entry_id: bytes, fields: dict[bytes, bytes]) -> LogRecord:
    """The record of one stream entry, checked by :func:`ccroute.codec.decode_row`.

    :raises InputError: the entry is damaged (its id is not ``<seq>-0``, a
        field is missing or wrong, the checksum fails, the body is refused).
    """
    seq = seq_of(entry_id)
    if seq is None:
        raise InputError(f"entry id {_text(entry_id)!r} is not <seq>-0")
    return codec.decode_row(row_of(seq, fields))
