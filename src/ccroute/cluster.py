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

import math
from collections.abc import Sequence
from typing import Final, Protocol, runtime_checkable

from .errors import InvalidValueError
from .storage import AsyncStorage, LogRecord

__all__ = [
    "MAX_NAME_LENGTH",
    "Engine",
    "check_name",
    "check_read",
    "check_token",
    "check_ttl",
]

#: The longest partition or node name an engine takes (characters).
MAX_NAME_LENGTH: Final = 200


@runtime_checkable
class Engine(Protocol):
    """A shared store of partitions' logs and leases, used by many nodes at once.

    Times are the engine's own (the database server's clock, Redis' expiry),
    never the nodes': a lease lapses ``ttl`` seconds after it was last taken
    or renewed, as the engine measures it.

    Every method refuses bad arguments with
    :class:`~ccroute.errors.InvalidValueError` before touching the engine,
    through the checks below (:func:`check_name`, :func:`check_ttl`,
    :func:`check_token`, :func:`check_read`), so every engine refuses the same
    calls. A failure of the engine itself (a lost connection) is a
    :class:`~ccroute.errors.StorageError`. The contract is tested by
    :class:`ccroute.testing_engine.EngineContract`.
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

        With a token, :meth:`AsyncStorage.append` and
        :meth:`AsyncStorage.snapshot` check, atomically with the write, that
        ``token`` is still the partition's latest, and raise
        :class:`~ccroute.errors.FencedError` (storing nothing) when it is not.
        With ``None`` the store is for reading: writes raise
        :class:`~ccroute.errors.FencedError`.

        Closing the store does not close the engine. Not a coroutine: it
        opens nothing (the store uses the engine's connections).
        """
        ...

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        """The partition's records after ``seq``, in order, waiting up to
        ``wait`` seconds for one when there is none yet (``()`` then).

        How a standby follows the leader (PostgreSQL's LISTEN/NOTIFY, a
        blocking read of a Redis stream). An engine may return fewer than
        all of them (a page); the caller asks again after the last. When the
        records right after ``seq`` are gone (dropped by retention after a
        snapshot), the first record returned is not ``seq + 1``: the follower
        loads again.
        """
        ...

    async def close(self) -> None:
        """Release connections. Closing twice does nothing."""
        ...


# -- the checks every engine makes (one rule in one place) ---------------------


def check_name(value: object, what: str) -> str:
    """``value`` if it is a partition or node name: a non-empty str of at most
    :data:`MAX_NAME_LENGTH` characters without control characters.

    :param what: ``"partition"`` or ``"node"``, for the message.
    :raises InvalidValueError: it is not.
    """
    if not isinstance(value, str):
        raise InvalidValueError(f"{what} must be a str, not {type(value).__name__}")
    if not value or len(value) > MAX_NAME_LENGTH:
        raise InvalidValueError(
            f"{what} must be 1 to {MAX_NAME_LENGTH} characters, not {len(value)}: {value!r:.60}"
        )
    if not value.isprintable():
        raise InvalidValueError(f"{what} {value!r:.60} holds a control character")
    return value


def check_ttl(ttl: object) -> float:
    """``ttl`` as a float if it is a finite number of seconds > 0.

    :raises InvalidValueError: it is not.
    """
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not math.isfinite(ttl)
        or ttl <= 0
    ):
        raise InvalidValueError(f"ttl must be a finite number of seconds > 0, not {ttl!r}")
    return float(ttl)


def check_token(token: object, *, optional: bool = False) -> int | None:
    """``token`` if it is a fencing token (an int >= 1), or ``None`` when
    ``optional`` allows it.

    :raises InvalidValueError: it is not.
    """
    if token is None and optional:
        return None
    if isinstance(token, bool) or not isinstance(token, int) or token < 1:
        raise InvalidValueError(f"a fencing token is an int >= 1, not {token!r}")
    return token


def check_read(seq: object, wait: object) -> tuple[int, float]:
    """``(seq, wait)`` for :meth:`Engine.read_after` if ``seq`` is an int >= 0
    and ``wait`` a finite number of seconds >= 0.

    :raises InvalidValueError: one is not.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise InvalidValueError(f"seq must be an int >= 0, not {seq!r}")
    if (
        isinstance(wait, bool)
        or not isinstance(wait, int | float)
        or not math.isfinite(wait)
        or wait < 0
    ):
        raise InvalidValueError(f"wait must be a finite number of seconds >= 0, not {wait!r}")
    return seq, float(wait)
