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

This module holds the contract an engine implements, the checks every engine
makes of its arguments, and :class:`Node`, which runs one node's share of
the partitions on an engine. The engines are plugin distributions
(``ccroute-postgres``, ``ccroute-redis``); :mod:`ccroute.cluster_sqlite` is
the reference engine, for one machine.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, Protocol, runtime_checkable

import anyio
import anyio.abc
import attrs

from .errors import FencedError, InvalidValueError, ServiceError, StorageError
from .storage import AsyncStorage, LogRecord, Recovered

if TYPE_CHECKING:
    from .service import Service

__all__ = [
    "MAX_NAME_LENGTH",
    "Engine",
    "MakeService",
    "Node",
    "NodeEvent",
    "NodeEventKind",
    "check_name",
    "check_read",
    "check_token",
    "check_ttl",
]

log = logging.getLogger("ccroute.cluster")

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

        With a token, :meth:`AsyncStorage.append <ccroute.storage.AsyncStorage.append>` and
        :meth:`AsyncStorage.snapshot <ccroute.storage.AsyncStorage.snapshot>` check, atomically with the write, that
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


# -- a node: leads the partitions it can, follows the others -------------------

#: What happened to a partition on a node (a :class:`NodeEvent`'s ``kind``).
NodeEventKind = Literal["lead", "lose", "release"]


@attrs.frozen(slots=True)
class NodeEvent:
    """A change in what a :class:`Node` leads.

    :param kind: ``"lead"`` (it took the lease and its service runs),
        ``"lose"`` (it lost the lease or its store failed: the service was
        halted, writing nothing more) or ``"release"`` (a clean stop: the
        service stopped with a final snapshot and the lease was given up).
    :param partition: the partition.
    :param token: the fencing token of the lease.
    :param reason: why, in a few words (``"renew refused"``, ``"lapsed"``,
        ``"fenced"``, ``"store failed"``, ``"service failed"``, ``"start
        failed"``, ``"stopped"``; for a lead, ``"warm"`` or ``"cold"``: whether
        the service started from the warm copy).
    :param at: the node's monotonic clock (``time.monotonic()``) when it happened.
    :param seconds: for a lead, from the lease being granted to the service
        taking calls (the node's share of a takeover); else ``None``.
    """

    kind: NodeEventKind
    partition: str
    token: int
    reason: str
    at: float
    seconds: float | None = None


#: Makes a partition's service: ``make_service(partition, storage)``. The
#: node calls it for the leader's service (``storage`` fenced by the lease)
#: and for the warm copy a standby keeps (never started).
MakeService = Callable[[str, AsyncStorage], "Service"]


def _default_service(partition: str, storage: AsyncStorage) -> Service:
    from .service import Service

    return Service(storage=storage)


class Node:
    """Runs one node's share of the partitions on a shared :class:`Engine`.

    For each partition the node tries to take the lease. With it (a fencing
    token), it starts the partition's :class:`~ccroute.Service` on
    ``engine.storage(partition, token)`` and renews the lease every
    ``ttl / 3``. It stops acting at once, halting the service without writing
    anything more (:meth:`Service.halt <ccroute.Service.halt>`: no final
    snapshot), when a renew is refused, when the store says it is fenced
    (:class:`~ccroute.errors.FencedError`) or fails, or when by its own
    monotonic clock ``ttl - margin`` seconds passed since the last renew that
    succeeded (counted from when that renew was *sent*), which is before the
    engine can hand the lease to another node. It then follows the partition
    again.

    Without the lease the node is a standby: it follows the partition's log
    (:meth:`Engine.read_after`) into a warm copy (a service that is never
    started, fed every record), and tries to take the lease every
    ``ttl / 4``. When it does, the new service starts from the warm copy's
    state, as from a snapshot, and replays only what the copy had not seen.

    Use it as an async context manager; leaving it stops every service it
    leads (with a final snapshot) and releases their leases::

        async with Node(engine, ["site-1", "site-2"], name="node-a") as node:
            service = await node.wait_leading("site-1")
            await service.submit(contact)

    :param engine: the shared engine (the caller closes it).
    :param partitions: the partitions this node may lead.
    :param name: the node's name in the leases (default: host, pid and a
        random suffix).
    :param ttl: the lease time in seconds. A takeover after a node dies takes
        about ``ttl`` plus ``ttl / 4``.
    :param margin: seconds before the lease lapses (by the node's clock) at
        which the node stops acting; default ``ttl / 5``. It covers the
        difference between the node's and the engine's clock rates and the
        time the node takes to halt.
    :param make_service: makes a partition's service (see
        :data:`MakeService`); default ``Service(storage=storage)``.
    :param on_event: called with each :class:`NodeEvent` (an exception it
        raises is logged and ignored).
    :param warm: whether a standby keeps a warm copy (else a takeover loads
        and replays from the latest snapshot).
    :param op_timeout: seconds an engine call may take (default ``ttl / 3``);
        loading a partition may take ``load_timeout``.
    :param load_timeout: seconds loading a partition (a standby's first
        load, a cold start) may take.
    :raises InvalidValueError: an argument is out of range.
    """

    def __init__(
        self,
        engine: Engine,
        partitions: Iterable[str],
        *,
        name: str | None = None,
        ttl: float = 10.0,
        margin: float | None = None,
        make_service: MakeService | None = None,
        on_event: Callable[[NodeEvent], None] | None = None,
        warm: bool = True,
        op_timeout: float | None = None,
        load_timeout: float = 300.0,
    ) -> None:
        if not isinstance(engine, Engine):
            raise InvalidValueError(f"engine must be an Engine, not {engine!r:.80}")
        if isinstance(partitions, str):
            raise InvalidValueError("partitions must be an iterable of names, not one str")
        names = [check_name(p, "partition") for p in partitions]
        if len(set(names)) != len(names):
            raise InvalidValueError(f"partitions are named twice: {sorted(names)}")
        self._ttl = check_ttl(ttl)
        self._margin = self._ttl / 5 if margin is None else check_ttl(margin)
        if self._margin >= self._ttl * 2 / 3:
            raise InvalidValueError(
                f"margin must be less than two thirds of ttl ({self._ttl}), not {margin!r}"
            )
        self._op_timeout = self._ttl / 3 if op_timeout is None else check_ttl(op_timeout)
        self._load_timeout = check_ttl(load_timeout)
        if not isinstance(warm, bool):
            raise InvalidValueError(f"warm must be True or False, not {warm!r}")
        if name is None:
            name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._name = check_name(name, "node")
        self._engine = engine
        self._partitions = tuple(names)
        self._make_service = make_service if make_service is not None else _default_service
        self._on_event = on_event
        self._warm = warm
        self._leading: dict[str, Service] = {}
        self._tokens: dict[str, int] = {}
        self._waiters: dict[str, anyio.Event] = {}
        self._wake: dict[str, anyio.Event] = {}
        self.events: list[NodeEvent] = []
        """Every :class:`NodeEvent` so far, in order."""
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopping = False
        self._finished: anyio.Event | None = None

    # -- what it does --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The node's name in the leases."""
        return self._name

    @property
    def partitions(self) -> tuple[str, ...]:
        """The partitions this node may lead."""
        return self._partitions

    @property
    def ttl(self) -> float:
        """The lease time, in seconds."""
        return self._ttl

    @property
    def leading(self) -> Mapping[str, Service]:
        """The partitions this node leads now, each with its running service
        (a read-only view: it changes as leases come and go)."""
        return MappingProxyType(self._leading)

    def token(self, partition: str) -> int | None:
        """The fencing token of ``partition``'s lease while this node leads it."""
        return self._tokens.get(partition)

    async def wait_leading(self, partition: str) -> Service:
        """Wait until this node leads ``partition``; its running service.

        Bound it with ``anyio.fail_after`` where waiting forever is wrong.

        :raises InvalidValueError: the node does not run ``partition``.
        """
        if partition not in self._partitions:
            raise InvalidValueError(f"node {self._name!r} does not run partition {partition!r}")
        while True:
            service = self._leading.get(partition)
            if service is not None:
                return service
            waiter = self._waiters.setdefault(partition, anyio.Event())
            await waiter.wait()

    # -- lifecycle -----------------------------------------------------------------

    async def __aenter__(self) -> Node:
        if self._stack is not None:
            raise ServiceError(f"node {self._name!r} is already running")
        stack = AsyncExitStack()
        tg = await stack.enter_async_context(anyio.create_task_group())
        await tg.start(self._run)
        self._stack = stack
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def run(self) -> None:
        """Follow and lead until :meth:`stop` is called (from any task).

        ``async with node:`` runs this in the background; call it yourself to
        run the node in a task group of your own::

            async with anyio.create_task_group() as tg:
                tg.start_soon(node.run)
                ...
                await node.stop()
        """
        await self._run()

    async def _run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        if self._finished is not None:
            raise ServiceError(f"node {self._name!r} is already running")
        self._stopping = False
        self._finished = finished = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for partition in self._partitions:
                    self._wake[partition] = anyio.Event()
                    tg.start_soon(self._run_partition, partition, name=f"partition {partition}")
                task_status.started()
        finally:
            self._tg = None
            self._finished = None
            finished.set()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop every service this node leads (with a final snapshot) and
        release its leases; stop following. Returns once the node stopped.

        :param timeout: seconds to wait for the services to stop (default
            ``2 * ttl``); after it the node cancels them.
        """
        finished = self._finished
        if finished is None:
            return
        self._stopping = True
        for wake in self._wake.values():
            wake.set()
        with anyio.move_on_after(2 * self._ttl if timeout is None else timeout):
            await finished.wait()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        await finished.wait()

    # -- per partition ---------------------------------------------------------------

    def _emit(self, event: NodeEvent) -> None:
        self.events.append(event)
        level = logging.INFO if event.kind != "lose" else logging.WARNING
        log.log(
            level,
            "node %s: %s partition %s (token %d): %s",
            self._name,
            event.kind,
            event.partition,
            event.token,
            event.reason,
        )
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("node %s: on_event raised; ignored", self._name)

    async def _run_partition(self, partition: str) -> None:
        copy: Service | None = None
        retry = self._ttl / 4
        next_try = 0.0
        while not self._stopping:
            now = time.monotonic()
            if now >= next_try:
                next_try = now + retry
                sent = time.monotonic()
                token = await self._acquire(partition)
                if token is not None:
                    try:
                        await self._lead(partition, token, sent, copy)
                    except Exception:
                        # A bug, not the engine's nor the service's (those are
                        # handled): the partition must not stay dead for it.
                        log.exception("node %s: leading %s failed", self._name, partition)
                        await self._release(partition, token)
                    self._fresh_wake(partition)
                    copy = None
                    next_try = time.monotonic() + retry
                    continue
            copy = await self._follow(partition, copy, max(0.0, next_try - time.monotonic()))

    def _fresh_wake(self, partition: str) -> None:
        # A stop sets the partition's event and then never wants it unset.
        if not self._stopping:
            self._wake[partition] = anyio.Event()

    async def _acquire(self, partition: str) -> int | None:
        try:
            with anyio.fail_after(self._op_timeout):
                return await self._engine.acquire(partition, self._name, self._ttl)
        except (TimeoutError, StorageError) as error:
            log.warning("node %s: taking the lease of %s failed: %r", self._name, partition, error)
            return None

    async def _follow(self, partition: str, copy: Service | None, wait: float) -> Service | None:
        """Keep the warm copy up to date for about ``wait`` seconds; the copy
        (``None`` when there is none or it became useless: load again)."""
        wake = self._wake[partition]
        if not self._warm:
            with anyio.move_on_after(wait):
                await wake.wait()
            return None
        try:
            if copy is None:
                reader = self._engine.storage(partition, None)
                copy = self._make_service(partition, reader)
                with anyio.fail_after(self._load_timeout):
                    await copy._warm_load(await reader.load())
            with anyio.fail_after(wait + self._op_timeout):
                found = await self._engine.read_after(partition, copy.durable_seq, wait)
            if not copy._warm_apply(found):
                log.info("node %s: the log of %s moved past the warm copy", self._name, partition)
                return None
            return copy
        except Exception as error:
            log.warning("node %s: following %s failed: %r", self._name, partition, error)
            with anyio.move_on_after(min(wait, 1.0)):
                await wake.wait()
            return None

    async def _catch_up(self, partition: str, copy: Service) -> Recovered | None:
        """The warm copy's state with every record there is taken in, or
        ``None`` when it cannot be used (the service then loads cold)."""
        try:
            with anyio.fail_after(self._load_timeout):
                while True:
                    found = await self._engine.read_after(partition, copy.durable_seq, 0.0)
                    if not found:
                        return copy._warm_state()
                    if not copy._warm_apply(found):
                        return None
        except Exception as error:
            log.warning(
                "node %s: the warm copy of %s is of no use: %r", self._name, partition, error
            )
            return None

    async def _lead(self, partition: str, token: int, sent: float, copy: Service | None) -> None:
        granted = time.monotonic()
        lease = _Lease(token, sent)
        self._fresh_wake(partition)
        start_scope = anyio.CancelScope()

        def lose(reason: str) -> None:
            if lease.lost is None:
                lease.lost = reason
                if not lease.started:
                    start_scope.cancel()
                self._wake[partition].set()

        store = _Watched(self._engine.storage(partition, token), None, lose)
        async with anyio.create_task_group() as tg:
            # Renewing from the start: catching up and starting take time.
            tg.start_soon(self._renew, partition, lease, lose)
            # Cancelled only until the service runs (a lease lost then ends
            # the start); once it runs, a loss halts it instead.
            with start_scope:
                try:
                    if copy is not None:
                        store.warm = await self._catch_up(partition, copy)
                    warm = store.warm is not None
                    service = self._make_service(partition, store)
                    await service.start()
                except Exception as error:
                    log.error("node %s: starting %s failed: %r", self._name, partition, error)
                    lose("start failed")
                else:
                    lease.started = True
                    await self._serve(partition, lease, service, granted, warm)
            if lease.lost is None and not lease.started:
                lose("start failed")
            tg.cancel_scope.cancel()
        reason = lease.lost
        if reason is not None:
            # Said as soon as the node stopped acting; the release may hang.
            self._emit(NodeEvent("lose", partition, token, reason, time.monotonic()))
        with anyio.move_on_after(self._op_timeout):
            await store.close()
        await self._release(partition, token)
        if reason is None:
            self._emit(NodeEvent("release", partition, token, "stopped", time.monotonic()))

    async def _serve(
        self, partition: str, lease: _Lease, service: Service, granted: float, warm: bool
    ) -> None:
        """Run the started service until the lease is lost or the node stops."""
        token = lease.token
        self._leading[partition] = service
        self._tokens[partition] = token
        waiter = self._waiters.pop(partition, None)
        if waiter is not None:
            waiter.set()
        now = time.monotonic()
        self._emit(
            NodeEvent("lead", partition, token, "warm" if warm else "cold", now, now - granted)
        )
        try:
            while lease.lost is None and not self._stopping:
                with anyio.move_on_after(0.25):
                    await self._wake[partition].wait()
                if service.failure is not None and lease.lost is None:
                    lease.lost = "service failed"
            if lease.lost is None:
                # A clean stop: the lease is still ours while the service
                # writes its last records and snapshot.
                await service.stop()
            else:
                await service.halt()
        finally:
            self._leading.pop(partition, None)
            self._tokens.pop(partition, None)

    async def _release(self, partition: str, token: int) -> None:
        # Harmless when the lease is already another's: release checks the token.
        try:
            with anyio.fail_after(self._op_timeout):
                await self._engine.release(partition, self._name, token)
        except Exception as error:
            log.warning("node %s: releasing %s failed: %r", self._name, partition, error)

    async def _renew(self, partition: str, lease: _Lease, lose: Callable[[str], None]) -> None:
        """Renew every ttl/3; lose the partition when a renew is refused or,
        by this node's clock, the lease is about to lapse."""
        every = self._ttl / 3
        while lease.lost is None:
            deadline = lease.renewed + self._ttl - self._margin
            now = time.monotonic()
            due = max(lease.renewed + every, lease.tried + every / 4)
            if now < min(due, deadline):
                await anyio.sleep(min(due, deadline) - now)
            sent = time.monotonic()
            if sent >= deadline:
                lose("lapsed")
                return
            lease.tried = sent
            ok = None
            with anyio.move_on_after(min(self._op_timeout, deadline - sent)):
                try:
                    ok = await self._engine.renew(partition, self._name, lease.token, self._ttl)
                except Exception as error:
                    log.warning("node %s: renewing %s failed: %r", self._name, partition, error)
            if ok is False:
                lose("renew refused")
                return
            if ok:
                lease.renewed = sent


@attrs.define(slots=True)
class _Lease:
    """A lease as its holder reckons it, by its own monotonic clock."""

    token: int
    #: When the last renew that succeeded (or the acquire) was sent.
    renewed: float
    #: When the last renew was tried.
    tried: float = 0.0
    #: Why it was lost, once it was.
    lost: str | None = None
    #: Whether the service started.
    started: bool = False


class _Watched:
    """The leader's store: tells the node when a write fails (fenced or not),
    and gives the warm copy's state to the service's first load."""

    def __init__(
        self, store: AsyncStorage, warm: Recovered | None, lose: Callable[[str], None]
    ) -> None:
        self._store = store
        #: What the first load returns instead of loading (the warm copy's state).
        self.warm = warm
        self._lose = lose

    def __repr__(self) -> str:
        return repr(self._store)

    async def load(self) -> Recovered:
        warm, self.warm = self.warm, None
        if warm is not None:
            return warm
        return await self._store.load()

    async def append(self, records: Sequence[LogRecord]) -> None:
        try:
            await self._store.append(records)
        except FencedError:
            self._lose("fenced")
            raise
        except Exception:
            self._lose("store failed")
            raise

    async def snapshot(self, seq: int, state: bytes) -> None:
        try:
            await self._store.snapshot(seq, state)
        except FencedError:
            self._lose("fenced")
            raise

    async def close(self) -> None:
        await self._store.close()
