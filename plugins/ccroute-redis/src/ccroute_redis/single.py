"""One service on Redis, without a cluster: a store that holds its partition's lease itself."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from ccroute.errors import InvalidValueError, StorageError
from ccroute.storage import LogRecord, Recovered

from ._keys import check_partition
from .engine import RedisEngine, _check_seconds
from .storage import RedisStorage

__all__ = ["SingleNodeStorage"]

log = logging.getLogger("ccroute_redis")


class SingleNodeStorage:
    """A partition's log on Redis for one service (an
    :class:`~ccroute.storage.AsyncStorage`), with the single-owner rule.

    :meth:`load` takes the partition's lease (waiting up to ``wait`` seconds
    for a lease left by a crashed owner to lapse) and a background task
    renews it every ``lease_ttl / 3`` seconds; every write is fenced by its
    token, as a cluster leader's are. A second service on the same partition
    is refused at :meth:`load` with the holder's name, as a second
    :class:`~ccroute.SQLiteStorage` on one file is. :meth:`close` releases
    the lease and, when this store made the engine, closes it.

    :param engine: a :class:`RedisEngine`, or the URL to make one from
        (``engine_options`` are passed to it).
    :param partition: the partition's name (``"default"``).
    :param node: this owner's name in the lease (default: host, pid and a
        random part).
    :param lease_ttl: seconds the lease lasts without renewal (10): how long
        a crashed owner's partition stays locked.
    :param wait: seconds :meth:`load` waits for another owner's lease to
        lapse (default ``lease_ttl + 1``, so a restart after a crash succeeds).
    :raises InvalidValueError: an argument is out of range.
    """

    def __init__(
        self,
        engine: RedisEngine | str,
        partition: str = "default",
        *,
        node: str | None = None,
        lease_ttl: float = 10.0,
        wait: float | None = None,
        **engine_options: Any,
    ) -> None:
        check_partition(partition)
        self._lease_ttl = _check_seconds("lease_ttl", lease_ttl)
        self._wait = (
            self._lease_ttl + 1 if wait is None else _check_seconds("wait", wait, positive=False)
        )
        if node is None:
            node = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        if isinstance(engine, RedisEngine):
            if engine_options:
                raise InvalidValueError("engine options are for a URL, not for an engine given")
            self._engine, self._owns_engine = engine, False
        else:
            self._engine, self._owns_engine = RedisEngine(engine, **engine_options), True
        self._partition = partition
        self._node = node
        self._token: int | None = None
        self._store: RedisStorage | None = None
        self._renewer: Any = None
        self._closed = False

    @property
    def engine(self) -> RedisEngine:
        """The engine the store runs on."""
        return self._engine

    @property
    def partition(self) -> str:
        """The partition's name."""
        return self._partition

    @property
    def node(self) -> str:
        """This owner's name in the lease."""
        return self._node

    @property
    def token(self) -> int | None:
        """The lease's fencing token, once :meth:`load` took it."""
        return self._token

    def __repr__(self) -> str:
        return f"SingleNodeStorage({self._engine.where}, partition={self._partition!r}, node={self._node!r})"

    async def load(self) -> Recovered:
        """Take the partition's lease, then load as :meth:`RedisStorage.load`.

        :raises StorageError: another owner holds the lease and it did not
            lapse within ``wait`` seconds (the message names it), Redis cannot
            be reached, or its settings are refused.
        """
        if self._closed:
            raise StorageError(f"the store of partition {self._partition!r} is closed")
        if self._store is None:
            await self._take_lease()
        assert self._store is not None
        return await self._store.load()

    async def _take_lease(self) -> None:
        engine, partition = self._engine, self._partition
        token: int | None = None
        with anyio.move_on_after(self._wait):
            while True:
                token = await engine.acquire(partition, self._node, self._lease_ttl)
                if token is not None:
                    break
                await anyio.sleep(min(0.2, self._lease_ttl / 10))
        if token is None:
            holder = await engine.holder(partition)
            who = f"node {holder[1]!r} (token {holder[0]})" if holder else "another node"
            raise StorageError(
                f"partition {partition!r} in {engine.where} is in use by {who}: one store at a "
                f"time owns a partition; its lease did not lapse within {self._wait:g} s"
            )
        self._token = token
        self._store = engine.storage(partition, token)
        self._renewer = engine._loop().submit(self._renew(token))

    async def _renew(self, token: int) -> None:
        """Renew the lease every third of its ttl (on the engine's private loop)."""
        while True:
            await asyncio.sleep(self._lease_ttl / 3)
            try:
                kept = await self._engine.renew(self._partition, self._node, token, self._lease_ttl)
            except StorageError as error:
                log.warning("cannot renew the lease of partition %r: %s", self._partition, error)
                continue
            if not kept:
                log.error(
                    "partition %r: the lease (token %d) was taken by another node; "
                    "every write from this store is now refused",
                    self._partition,
                    token,
                )
                return

    async def _writer(self) -> RedisStorage:
        if self._closed:
            raise StorageError(f"the store of partition {self._partition!r} is closed")
        if self._store is None:
            # A write before load (as SQLiteStorage allows): take the lease now.
            await self._take_lease()
        assert self._store is not None
        return self._store

    async def append(self, records: Sequence[LogRecord]) -> None:
        """As :meth:`RedisStorage.append`, under this store's lease (taken now if
        :meth:`load` did not take it yet)."""
        await (await self._writer()).append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        """As :meth:`RedisStorage.snapshot`, under this store's lease."""
        await (await self._writer()).snapshot(seq, state)

    async def close(self) -> None:
        """Stop renewing, release the lease, and close the engine this store made.
        Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._renewer is not None:
            self._renewer.cancel()
        try:
            if self._token is not None:
                await self._engine.release(self._partition, self._node, self._token)
        except StorageError as error:
            log.warning("cannot release the lease of partition %r: %s", self._partition, error)
        finally:
            if self._store is not None:
                await self._store.close()
            if self._owns_engine:
                await self._engine.close()
