"""Several nodes, one shared engine: a leader per partition, fenced by a lease.

A *partition* is one independent router (a tenant, a site) with its own log.
Many nodes share one :class:`Engine` (a PostgreSQL database, a Redis server):
for each partition exactly one node holds the lease and runs the partition's
:class:`~ccroute.Service`; the others follow its log and keep a warm copy, and
take over when the lease lapses. Every lease comes with a *fencing token*,
strictly greater than every token handed out before for that partition, and
the engine checks it atomically with every write: a former leader that was
paused, partitioned or slow can never append once another node has taken the
lease (:class:`~ccroute.errors.FencedError`). See docs/high-availability.md.

This module holds the contract an engine implements; the engines are plugin
distributions (``ccroute-postgres``, ``ccroute-redis``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .storage import AsyncStorage, LogRecord

__all__ = ["Engine"]


@runtime_checkable
class Engine(Protocol):
    """A shared store of partitions' logs and leases, used by many nodes at once.

    Times are the engine's own (the database server's clock, Redis' expiry),
    never the nodes': a lease lapses ``ttl`` seconds after it was last taken
    or renewed, as the engine measures it.
    """

    async def acquire(self, partition: str, node: str, ttl: float) -> int | None:
        """Take ``partition``'s lease for ``node`` if it is free or has lapsed.

        Returns a new fencing token, strictly greater than every token handed
        out before for ``partition``, or ``None`` when another node holds a
        lease that has not lapsed. A node that still holds the lease gets
        ``None`` too: it renews instead.
        """
        ...

    async def renew(self, partition: str, node: str, token: int, ttl: float) -> bool:
        """Extend the lease ``token`` to ``ttl`` seconds from now.

        ``False`` when the lease is no longer ``node``'s under ``token`` (it
        lapsed and another node took it): the caller has lost the partition.
        A lapsed lease nobody took yet may be renewed.
        """
        ...

    async def release(self, partition: str, node: str, token: int) -> None:
        """Give the lease up at once (a clean stop), if it is still ``token``."""
        ...

    def storage(self, partition: str, token: int | None) -> AsyncStorage:
        """The partition's log and snapshots.

        With a token, :meth:`AsyncStorage.append <ccroute.storage.AsyncStorage.append>` and
        :meth:`AsyncStorage.snapshot <ccroute.storage.AsyncStorage.snapshot>` check, atomically with the write, that
        ``token`` is still the partition's latest, and raise
        :class:`~ccroute.errors.FencedError` (storing nothing) when it is not.
        With ``None`` the store is for reading: writes raise
        :class:`~ccroute.errors.FencedError`.
        """
        ...

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        """The partition's records after ``seq``, in order, waiting up to
        ``wait`` seconds for one when there is none yet (``()`` then).

        How a standby follows the leader (PostgreSQL's LISTEN/NOTIFY, a
        blocking read of a Redis stream). When the records right after
        ``seq`` are gone (dropped by retention after a snapshot), the first
        record returned is not ``seq + 1``: the follower loads again.
        """
        ...

    async def close(self) -> None:
        """Release connections. Closing twice does nothing."""
        ...
