"""The service: a Router run live on asyncio or trio, with plugins and durable storage.

:class:`Service` is the shell around the pure core (see docs/service.md):

- it owns the router's clock and timers: it reads the real clock, moves the
  router's :class:`~ccroute.ManualClock` to that time for each call, and
  wakes when the next offer timeout, wrap-up end, routing step or
  preferred-agent wait falls due;
- it serialises every state change through the router, one call at a time;
- it logs every call that changed state (the call, its time and its events)
  to the store, committing the records of concurrent calls together (group
  commit), and returns to the caller only once its records are durable;
- once durable, it hands the events to the plugins: observers, offer
  delivery through the channel adapters, customer updates, CRM history;
- on start it recovers: the latest snapshot plus the records after it
  rebuild the router exactly, because the router is deterministic;
- it runs the inbound pipeline for adapters: IVR flow, CRM lookup and
  enrichment, then routing.

Every hook call goes through :class:`~ccroute.plugins.Hooks`, which isolates
plugin faults.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any, Final, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .clock import Clock, ManualClock, WallClock
from .commands import (
    Abandon,
    Accept,
    AddAgent,
    AddChannel,
    AddExclusion,
    AddQueue,
    AddQueues,
    Command,
    Complete,
    EndWrapUp,
    Note,
    Reject,
    RemoveAgent,
    RemoveExclusion,
    RequestCallback,
    SetCapacity,
    SetPresence,
    Submit,
    Tick,
    Transfer,
)
from .errors import CCRouteError, InvalidValueError, ServiceError, StorageError
from .events import (
    Abandoned,
    Accepted,
    Completed,
    CustomerEnriched,
    Event,
    FlowFinished,
    HistoryRecorded,
    OfferDelivered,
    Offered,
    Overflowed,
    Queued,
    Refused,
    TimedOut,
    WrapUpEnded,
)
from .hooktypes import CustomerUpdate, HistoryRecord, OfferDelivery, Outcome
from .lifecycle import ContactState
from .model import Agent, Channel, Contact, Presence, QueueConfig
from .plugins import Hooks, log_plugins, make_plugin_manager
from .policies import RoutingPolicy
from .router import Router
from .storage import LogRecord, Storage

__all__ = ["Service"]

log = logging.getLogger("ccroute.service")

T = TypeVar("T")

_SYNC_MODES: Final = ("FULL", "NORMAL", "OFF")


class _Ticket:
    """Wakes a caller once the records it is waiting for are durable (or failed)."""

    __slots__ = ("error", "event")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.error: BaseException | None = None


def _check_arguments(
    storage: object,
    path: object,
    settings: object,
    plugins: object,
    clock: object,
    seed: object,
    load_entrypoints: object,
) -> None:
    """Refuse a wrong :class:`Service` argument when it is given, not at start."""
    if storage is not None and not isinstance(storage, Storage):
        raise InvalidValueError(
            f"storage must be a store (load, append, snapshot, close), not {storage!r}"
        )
    if path is not None and not isinstance(path, str | os.PathLike):
        raise InvalidValueError(f"path must be a str or a path, not {path!r}")
    if storage is not None and path is not None:
        raise InvalidValueError("give either storage or path, not both")
    if settings is not None and not isinstance(settings, Mapping):
        raise InvalidValueError(f"settings must be a mapping, not {type(settings).__name__}")
    if settings is not None and not all(isinstance(key, str) for key in settings):
        raise InvalidValueError("settings keys must be strings")
    if isinstance(plugins, str | bytes) or not isinstance(plugins, Iterable):
        raise InvalidValueError(f"plugins must be an iterable of plugin objects, not {plugins!r}")
    if clock is not None and not callable(getattr(clock, "now", None)):
        raise InvalidValueError(f"clock must have a now() method, not {clock!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidValueError(f"seed must be an int, not {seed!r}")
    if not isinstance(load_entrypoints, bool):
        raise InvalidValueError(f"load_entrypoints must be a bool, not {load_entrypoints!r}")


class Service:
    """Runs a :class:`~ccroute.Router` live: timers, plugins, durable storage.

    Use it as an async context manager (on asyncio or trio, through anyio)::

        async with Service(path="centre.db") as service:
            await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
            await service.submit(Contact("c1", "voice", "support"))

    :param storage: the store to log to (the application closes it); when
        omitted, the ``ccroute_storage`` hook provides one (the built-in
        default: SQLite at ``path``, or memory) and the service closes it on stop.
    :param path: SQLite database for the built-in store (sets
        ``settings["path"]``).
    :param sync: SQLite synchronous mode, ``"FULL"`` (default: an acknowledged
        call survives power loss), ``"NORMAL"`` (survives a process crash) or
        ``"OFF"`` (tests); sets ``settings["sync"]``.
    :param settings: free-form configuration that plugins read (an adapter
        reads its own key, e.g. ``settings["email"]``).
    :param plugins: plugin objects of the application; they take precedence
        over third-party and built-in plugins.
    :param load_entrypoints: whether to load third-party plugins from the
        ``ccroute`` entry-point group (``CCROUTE_LOAD_PLUGINS`` narrows it).
    :param clock: the real clock (:class:`~ccroute.WallClock` by default);
        the router reads a manual clock the service sets from it.
    :param seed: seed of the router's random strategy (for a new router).
    :param policy: the router-wide :class:`~ccroute.RoutingPolicy` (for a new
        router; a router restored from a snapshot keeps the policy it was
        built with). The log records calls, not the policy: replaying a log
        without a snapshot under another policy is a divergence
        (:class:`~ccroute.StorageError`).
    :param hook_timeout: seconds each hook implementation may take.
    :param snapshot_every: take a snapshot after this many log records.
    """

    def __init__(
        self,
        *,
        storage: Storage | None = None,
        path: str | os.PathLike[str] | None = None,
        sync: str = "FULL",
        settings: Mapping[str, Any] | None = None,
        plugins: Iterable[object] = (),
        load_entrypoints: bool = True,
        clock: Clock | None = None,
        seed: int = 0,
        policy: RoutingPolicy | None = None,
        hook_timeout: float = 5.0,
        snapshot_every: int = 10_000,
    ) -> None:
        _check_arguments(storage, path, settings, plugins, clock, seed, load_entrypoints)
        if sync not in _SYNC_MODES:
            raise InvalidValueError(f"sync must be one of {', '.join(_SYNC_MODES)}, got {sync!r}")
        if (
            isinstance(snapshot_every, bool)
            or not isinstance(snapshot_every, int)
            or snapshot_every < 1
        ):
            raise InvalidValueError(
                f"snapshot_every must be an integer >= 1, got {snapshot_every!r}"
            )
        if (
            isinstance(hook_timeout, bool)
            or not isinstance(hook_timeout, int | float)
            or not hook_timeout > 0
            or not math.isfinite(hook_timeout)
        ):
            raise InvalidValueError(f"hook_timeout must be a positive number, got {hook_timeout!r}")
        if policy is not None and not isinstance(policy, RoutingPolicy):
            raise InvalidValueError(f"policy must be a RoutingPolicy or None, got {policy!r}")
        merged = dict(settings or {})
        if path is not None:
            merged["path"] = os.fspath(path)
        merged.setdefault("sync", sync)
        self.settings: Mapping[str, Any] = merged
        """The application's settings, as plugins see them."""
        self._given_storage = storage
        self._plugins = list(plugins)
        self._load_entrypoints = load_entrypoints
        self._clock: Clock = clock if clock is not None else WallClock()
        self._seed = seed
        self._policy = policy
        self._hook_timeout = hook_timeout
        self._snapshot_every = snapshot_every
        self._hooks: Hooks | None = None
        self._router: Router | None = None
        self._rclock = ManualClock()
        self._storage: Storage | None = None
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._token: Any = None
        self._running = False
        self._failure: BaseException | None = None
        self._state = anyio.Lock()
        self._write = anyio.Lock()
        self._seq = 0
        self._durable_seq = 0
        self._snapshot_seq = 0
        self._pending: list[LogRecord] = []
        self._tickets: list[_Ticket] = []
        self._wake_writer = anyio.Event()
        self._wake_timer = anyio.Event()
        self._dispatch_send: MemoryObjectSendStream[list[LogRecord]] | None = None
        # Per live contact: what the CRM history and offer context need after
        # the router has forgotten the contact.
        self._profiles: dict[str, Mapping[str, Any]] = {}
        self._answered: dict[str, tuple[float, str]] = {}
        self._contacts: dict[str, Contact] = {}
        self._arrived: dict[str, float] = {}
        self._handle_times: dict[str, tuple[int, float]] = {}
        self.recovery_problem: str | None = None
        """What was wrong with the log at the last start (``None``: nothing)."""

    # ================================================================ lifecycle

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Load plugins, recover from storage, start timers and channel adapters.

        Call :meth:`stop` from the same task (``async with`` does both).
        """
        if self._running or self._stack is not None:
            raise ServiceError("the service is already running")
        stack = AsyncExitStack()
        try:
            pm = make_plugin_manager(self._plugins, load_entrypoints=self._load_entrypoints)
            log_plugins(pm)
            hooks = self._hooks = Hooks(pm, timeout=self._hook_timeout, logger=log)
            storage = self._given_storage
            if storage is None:
                storage = await hooks.storage(self.settings)
            if storage is None:
                error = hooks.last_errors.get("ccroute_storage")
                if isinstance(error, CCRouteError):
                    # The store itself refused (a damaged or foreign file, a
                    # log another service holds): that is the user's answer.
                    raise error
                why = "" if error is None else f" (the last one raised {error!r})"
                raise ServiceError(f"no store: no ccroute_storage hook provided one{why}")
            self._storage = storage
            self._token = anyio.lowlevel.current_token()
            await self._recover(await hooks.agent_strategies())
            for channel in await hooks.channels():
                if channel.name not in {c.name for c in self.router.channels}:
                    await self._apply(AddChannel(channel), wait=False)
            self._tg = await stack.enter_async_context(anyio.create_task_group())
            send, receive = anyio.create_memory_object_stream[list[LogRecord]](math.inf)
            self._dispatch_send = send
            self._running = True
            self._tg.start_soon(self._writer)
            self._tg.start_soon(self._dispatcher, receive)
            self._tg.start_soon(self._timer)
            self._stack = stack
            await self.flush()
            await hooks.start_channel(self)
            await self._redeliver_open_offers()
        except BaseException:
            self._running = False
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
            await stack.aclose()
            self._stack = None
            self._close_storage()
            raise

    async def stop(self) -> None:
        """Stop accepting calls, make everything durable (with a final snapshot),
        stop the channel adapters, and close the store."""
        if self._stack is None:
            return
        self._running = False
        try:
            async with self._state:
                pass  # the call in progress, if any, has finished
            if self._failure is None:
                await self.flush()
                await self._take_snapshot()
            # Let observers and adapters see what was already durable.
            if self._dispatch_send is not None:
                await self._dispatch_send.aclose()
            with anyio.move_on_after(self._hook_timeout * 2):
                while self._dispatching:
                    await anyio.sleep(0.01)
            assert self._hooks is not None
            await self._hooks.stop_channel(self)
        finally:
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
            stack, self._stack = self._stack, None
            await stack.aclose()
            self._tg = None
            self._close_storage()

    def _close_storage(self) -> None:
        # A store the application passed in is the application's to close.
        if self._storage is not None and self._storage is not self._given_storage:
            try:
                self._storage.close()
            except Exception:
                log.exception("closing the store failed")
        self._storage = None

    # ============================================================ properties

    @property
    def router(self) -> Router:
        """The router (read its views; change it only through the service)."""
        if self._router is None:
            raise ServiceError("the service has not started")
        return self._router

    @property
    def running(self) -> bool:
        """Whether the service takes calls."""
        return self._running

    @property
    def hook_failures(self) -> Counter[tuple[str, str, str]]:
        """Plugin failures by (hook, plugin, kind), kind being raised, junk or timeout."""
        return Counter() if self._hooks is None else self._hooks.failures

    @property
    def durable_seq(self) -> int:
        """The seq of the last log record known to be durable."""
        return self._durable_seq

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run ``fn(*args)`` in the service's task group (cancelled when it stops).

        For channel adapters' long-running listeners.
        """
        if self._tg is None:
            raise ServiceError("the service is not running")
        self._tg.start_soon(fn, *args)

    def run_from_thread(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Call the service's async ``fn(*args)`` from a foreign thread (an adapter's
        server thread) and return its result."""
        if self._token is None:
            raise ServiceError("the service is not running")
        return anyio.from_thread.run(fn, *args, token=self._token)

    # ================================================================ operations

    async def add_channel(self, channel: Channel) -> list[Event]:
        """:meth:`Router.add_channel`, durably."""
        return await self._apply(AddChannel(channel))

    async def add_queue(self, config: QueueConfig) -> list[Event]:
        """:meth:`Router.add_queue`, durably."""
        return await self._apply(AddQueue(config))

    async def add_queues(self, configs: Iterable[QueueConfig]) -> list[Event]:
        """:meth:`Router.add_queues`, durably."""
        return await self._apply(AddQueues(tuple(configs)))

    async def add_agent(self, agent: Agent, presence: Presence = Presence.OFFLINE) -> list[Event]:
        """:meth:`Router.add_agent`, durably."""
        return await self._apply(AddAgent(agent, presence))

    async def remove_agent(self, agent_id: str) -> list[Event]:
        """:meth:`Router.remove_agent`, durably."""
        return await self._apply(RemoveAgent(agent_id))

    async def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None = None
    ) -> list[Event]:
        """:meth:`Router.set_presence`, durably."""
        return await self._apply(SetPresence(agent_id, presence, reason))

    async def set_capacity(self, agent_id: str, channel: str, capacity: int) -> list[Event]:
        """:meth:`Router.set_capacity`, durably."""
        return await self._apply(SetCapacity(agent_id, channel, capacity))

    async def submit(self, contact: Contact) -> list[Event]:
        """:meth:`Router.submit`, durably (no IVR or CRM: see :meth:`inbound`)."""
        return await self._apply(Submit(contact))

    async def accept(self, contact_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.accept`, durably."""
        return await self._apply(Accept(contact_id, agent_id))

    async def reject(self, contact_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.reject`, durably."""
        return await self._apply(Reject(contact_id, agent_id))

    async def complete(self, contact_id: str) -> list[Event]:
        """:meth:`Router.complete`, durably."""
        return await self._apply(Complete(contact_id))

    async def end_wrap_up(self, contact_id: str) -> list[Event]:
        """:meth:`Router.end_wrap_up`, durably."""
        return await self._apply(EndWrapUp(contact_id))

    async def abandon(self, contact_id: str) -> list[Event]:
        """:meth:`Router.abandon`, durably."""
        return await self._apply(Abandon(contact_id))

    async def transfer(
        self,
        contact_id: str,
        *,
        queue: str | None = None,
        requirements: Mapping[str, int] | None = None,
        agent: str | None = None,
        keep_key: bool = True,
    ) -> list[Event]:
        """:meth:`Router.transfer`, durably."""
        return await self._apply(
            Transfer(
                contact_id,
                queue=queue,
                requirements=None if requirements is None else dict(requirements),
                agent=agent,
                keep_key=keep_key,
            )
        )

    async def request_callback(self, contact_id: str, channel: str = "callback") -> list[Event]:
        """:meth:`Router.request_callback`, durably."""
        return await self._apply(RequestCallback(contact_id, channel))

    async def add_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.add_exclusion`, durably."""
        return await self._apply(AddExclusion(customer_id, agent_id))

    async def remove_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.remove_exclusion`, durably."""
        return await self._apply(RemoveExclusion(customer_id, agent_id))

    async def tick(self) -> list[Event]:
        """Apply the timers that fell due now (the service also does this by itself)."""
        return await self._apply(Tick())

    async def inbound(self, contact: Contact) -> list[Event]:
        """Take a contact from a channel adapter through the pipeline:
        IVR flow, CRM lookup and enrichment, then routing.

        Returns the events of the whole pipeline, durable on return. A contact
        the IVR resolved ends with :class:`~ccroute.FlowFinished` (outcome
        ``self-service``) and never reaches the router.
        """
        self._check_running()
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"inbound expects a Contact, got {contact!r}")
        hooks = self._hooks
        assert hooks is not None
        notes: list[Event] = []
        at = self._time()
        choice = await hooks.ivr_flow(contact)
        if choice is not None:
            flow_name = choice.plugin
            failures = hooks.total_failures
            result = await hooks.run_flow(choice, contact)
            if result is None:
                notes.append(FlowFinished(at, contact.id, flow_name, "self-service"))
                await self._note(notes, wait=True)
                await self._self_served(contact, at)
                return notes
            outcome = "default" if hooks.total_failures > failures else "routed"
            notes.append(FlowFinished(at, contact.id, flow_name, outcome))
            contact = result
        profile: Mapping[str, Any] = {}
        if contact.customer_id is not None:
            profile = await hooks.crm_lookup(contact.customer_id)
            enriched = await hooks.crm_enrich(contact, profile)
            notes.append(
                CustomerEnriched(
                    at, contact.id, contact.customer_id, bool(profile), enriched != contact
                )
            )
            contact = enriched
        self._profiles[contact.id] = profile
        try:
            events = await self._apply(Submit(contact), notes=notes)
        except BaseException:
            self._profiles.pop(contact.id, None)
            raise
        return notes + events

    async def flush(self) -> None:
        """Wait until every record logged so far is durable."""
        if self._seq == self._durable_seq:
            return
        ticket = _Ticket()
        self._tickets.append(ticket)
        self._wake_writer.set()
        await ticket.event.wait()
        if ticket.error is not None:
            raise StorageError(f"the store failed: {ticket.error}") from ticket.error

    # ================================================================ internals

    def _check_running(self) -> None:
        if self._failure is not None:
            raise ServiceError(
                f"the service stopped taking calls after a storage failure: {self._failure}"
            )
        if not self._running:
            raise ServiceError("the service is not running (use 'async with Service(...)')")

    def _time(self) -> float:
        return max(self._clock.now(), self._rclock.now())

    async def _apply(
        self,
        command: Command,
        *,
        notes: Sequence[Event] = (),
        wait: bool = True,
    ) -> list[Event]:
        """Run one router call at the current time, log it, and wait until it is durable."""
        if wait:
            self._check_running()
        router = self.router
        async with self._state:
            if wait:
                self._check_running()
            at = self._time()
            self._rclock.set(at)
            records: list[LogRecord] = []
            due = router.next_due()
            if due is not None and due <= at and not isinstance(command, Tick):
                # Timers first, as their own record: a call that is then
                # refused has still moved the router on.
                ticked = router.tick().events
                if ticked:
                    records.append(self._record(at, Tick(), tuple(ticked)))
                    self._remember(ticked)
            try:
                events = command.apply(router)
            except BaseException:
                if records:
                    self._log(records)
                raise
            finally:
                self._wake_timer.set()
            if notes:
                records.append(self._record(at, Note(), tuple(notes)))
            # Some calls change state without an event (adding a queue, a
            # capacity): every call is logged but a tick that did nothing.
            if events or not isinstance(command, Tick):
                records.append(self._record(at, command, tuple(events)))
                self._remember(events)
            ticket = self._log(records) if records else None
        if ticket is not None and wait:
            await ticket.event.wait()
            if ticket.error is not None:
                raise StorageError(f"the store failed: {ticket.error}") from ticket.error
        return events

    def _record(self, at: float, command: Command, events: tuple[Event, ...]) -> LogRecord:
        self._seq += 1
        return LogRecord(self._seq, at, command, events)

    def _log(self, records: list[LogRecord]) -> _Ticket:
        self._pending.extend(records)
        ticket = _Ticket()
        self._tickets.append(ticket)
        self._wake_writer.set()
        return ticket

    async def _note(self, events: Sequence[Event], *, wait: bool) -> None:
        async with self._state:
            ticket = self._log([self._record(self._time(), Note(), tuple(events))])
        if wait:
            await ticket.event.wait()
            if ticket.error is not None:
                raise StorageError(f"the store failed: {ticket.error}") from ticket.error

    def _remember(self, events: Sequence[Event]) -> None:
        """Keep what history records and offers need after the router forgets a contact."""
        router = self.router
        for e in events:
            if isinstance(e, Queued) and e.contact_id not in self._arrived:
                self._arrived[e.contact_id] = e.at
                view = router.contact(e.contact_id)
                self._contacts[e.contact_id] = Contact(
                    e.contact_id,
                    e.channel,
                    e.queue,
                    customer_id=view.customer_id,
                    attributes=view.attributes,
                )
            elif isinstance(e, Accepted):
                self._answered[e.contact_id] = (e.at, e.agent_id)
            elif isinstance(e, Completed):
                count, total = self._handle_times.get(e.queue, (0, 0.0))
                self._handle_times[e.queue] = (count + 1, total + e.handle_time)

    # --------------------------------------------------------------- writer

    async def _writer(self) -> None:
        """Group commit: every record logged while the last write ran goes in the next."""
        assert self._storage is not None
        storage = self._storage
        while True:
            await self._wake_writer.wait()
            self._wake_writer = anyio.Event()
            snap: tuple[int, bytes] | None = None
            if self._seq - self._snapshot_seq >= self._snapshot_every:
                async with self._state:
                    # The snapshot covers exactly the records this batch makes
                    # durable, so it never runs ahead of the log.
                    batch, self._pending = self._pending, []
                    tickets, self._tickets = self._tickets, []
                    snap = (self._seq, self.router.snapshot())
            else:
                batch, self._pending = self._pending, []
                tickets, self._tickets = self._tickets, []
            try:
                async with self._write:
                    if batch:
                        await anyio.to_thread.run_sync(storage.append, batch)
                    if snap is not None:
                        await anyio.to_thread.run_sync(storage.snapshot, *snap)
            except Exception as exc:
                # The router is ahead of the log now: stop, and let a restart
                # recover what was acknowledged.
                log.error("the store failed; the service stops taking calls: %s", exc)
                self._failure = exc
                self._running = False
                for ticket in tickets:
                    ticket.error = exc
                    ticket.event.set()
                for ticket in self._tickets:
                    ticket.error = exc
                    ticket.event.set()
                return
            if batch:
                self._durable_seq = batch[-1].seq
            if snap is not None:
                self._snapshot_seq = snap[0]
            for ticket in tickets:
                ticket.event.set()
            if batch and self._dispatch_send is not None:
                self._dispatch_send.send_nowait(batch)

    async def _take_snapshot(self) -> None:
        assert self._storage is not None
        async with self._state:
            # Only when everything up to here is durable, so the snapshot
            # never runs ahead of the log.
            if self._seq != self._durable_seq or self._seq == self._snapshot_seq:
                return
            data = self.router.snapshot()
            seq = self._seq
        async with self._write:
            await anyio.to_thread.run_sync(self._storage.snapshot, seq, data)
        self._snapshot_seq = seq

    # ----------------------------------------------------------- dispatcher

    _dispatching = False

    async def _dispatcher(self, receive: MemoryObjectReceiveStream[list[LogRecord]]) -> None:
        """Hand durable events to the plugins, in log order."""
        async with receive:
            async for batch in receive:
                self._dispatching = True
                try:
                    await self._dispatch(batch)
                except Exception:
                    log.exception("dispatching events failed")
                finally:
                    self._dispatching = False

    async def _dispatch(self, batch: list[LogRecord]) -> None:
        hooks = self._hooks
        assert hooks is not None
        events = [e for r in batch for e in r.events]
        await hooks.events(events)
        notes: list[Event] = []
        for e in events:
            if isinstance(e, Offered):
                delivered = await self._deliver(e)
                notes.append(OfferDelivered(e.at, e.contact_id, e.agent_id, delivered))
            elif isinstance(e, Queued):
                await hooks.customer_update(self._queued_update(e.contact_id, e.queue, e.at))
            elif isinstance(e, Overflowed):
                # Waiting again, in the overflow queue: a new position and estimate.
                await hooks.customer_update(self._queued_update(e.contact_id, e.to_queue, e.at))
            elif isinstance(e, Accepted):
                await hooks.customer_update(
                    self._update("answered", e.contact_id, e.at, agent_id=e.agent_id)
                )
            elif isinstance(e, Completed):
                await hooks.customer_update(
                    self._update("closed", e.contact_id, e.at, reason="completed")
                )
            elif isinstance(e, Abandoned):
                await hooks.customer_update(
                    self._update("closed", e.contact_id, e.at, reason="abandoned")
                )
                notes.append(await self._record_history(e.contact_id, "abandoned", e.at))
            elif isinstance(e, TimedOut):
                # It waited its maximum and left unanswered: closed, like a refusal.
                await hooks.customer_update(
                    self._update("closed", e.contact_id, e.at, reason=f"timed out: {e.reason}")
                )
                notes.append(await self._record_history(e.contact_id, "timed-out", e.at))
            elif isinstance(e, Refused):
                contact = Contact(e.contact_id, e.channel, e.queue)
                self._contacts.setdefault(e.contact_id, contact)
                self._arrived.setdefault(e.contact_id, e.at)
                await hooks.customer_update(
                    self._update("closed", e.contact_id, e.at, reason=f"refused: {e.reason}")
                )
                notes.append(await self._record_history(e.contact_id, "refused", e.at))
            elif isinstance(e, WrapUpEnded):
                notes.append(await self._record_history(e.contact_id, "completed", e.at))
        if notes and self._running:
            await self._note(notes, wait=False)

    async def _deliver(self, offer: Offered) -> bool:
        assert self._hooks is not None
        router = self.router
        try:
            contact = router.contact(offer.contact_id)
            agent = router.agent(offer.agent_id)
        except KeyError:
            return False  # gone already (abandoned, agent removed)
        # The agent's own view: with ring-all several agents hold one contact's
        # offer, and the contact's ``agent_id`` names only one of them.
        if contact.state is not ContactState.OFFERED or offer.contact_id not in agent.offered:
            return False  # answered, withdrawn or timed out meanwhile
        delivery = OfferDelivery(offer, contact, agent, self._profiles.get(offer.contact_id, {}))
        delivered = await self._hooks.deliver_offer(delivery)
        if not delivered:
            log.warning(
                "no channel adapter delivered the offer of contact %r to agent %r (%s)",
                offer.contact_id,
                offer.agent_id,
                offer.channel,
            )
        return delivered

    async def _redeliver_open_offers(self) -> None:
        """Offers open when the service last stopped reach the agents' side again."""
        router = self.router
        holders: dict[str, list[str]] = {}  # a ringing contact has several
        for agent_id in router.agent_ids:
            for contact_id in router.agent(agent_id).offered:
                holders.setdefault(contact_id, []).append(agent_id)
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            if view.state is not ContactState.OFFERED:
                continue
            for agent_id in holders.get(contact_id, ()):
                offer = Offered(router.now, contact_id, agent_id, view.queue, view.channel, None)
                await self._deliver(offer)

    def _update(
        self,
        kind: Any,
        contact_id: str,
        at: float,
        *,
        agent_id: str | None = None,
        reason: str | None = None,
        position: int | None = None,
        estimated_wait: float | None = None,
    ) -> CustomerUpdate:
        contact = self._contacts.get(contact_id)
        return CustomerUpdate(
            kind=kind,
            contact_id=contact_id,
            channel="" if contact is None else contact.channel,
            customer_id=None if contact is None else contact.customer_id,
            at=at,
            position=position,
            estimated_wait=estimated_wait,
            agent_id=agent_id,
            reason=reason,
            attributes={} if contact is None else contact.attributes,
        )

    def _queued_update(self, contact_id: str, queue: str, at: float) -> CustomerUpdate:
        router = self.router
        position = None
        estimate = None
        try:
            if router.contact(contact_id).state is ContactState.WAITING:
                position = router.position(contact_id)
        except KeyError:
            pass
        if position is not None:
            estimate = self._estimate_wait(queue, position)
        return self._update("queued", contact_id, at, position=position, estimated_wait=estimate)

    def _estimate_wait(self, queue: str, position: int) -> float | None:
        """Position times the queue's mean handle time, shared by its logged-in agents.

        ``None`` until the queue has completed a contact or while no agent of
        it is logged in: an estimate from nothing would mislead the customer.
        """
        count, total = self._handle_times.get(queue, (0, 0.0))
        router = self.router
        agents = sum(
            1
            for a in router.agent_ids
            if queue in router.agent(a).queues and router.agent(a).presence is not Presence.OFFLINE
        )
        if not count or not agents:
            return None
        return position * (total / count) / agents

    async def _record_history(self, contact_id: str, outcome: Outcome, at: float) -> Event:
        assert self._hooks is not None
        contact = self._contacts.pop(contact_id, None)
        arrived = self._arrived.pop(contact_id, at)
        answered = self._answered.pop(contact_id, None)
        self._profiles.pop(contact_id, None)
        record = HistoryRecord(
            contact_id=contact_id,
            customer_id=None if contact is None else contact.customer_id,
            channel="" if contact is None else contact.channel,
            queue="" if contact is None else contact.queue,
            outcome=outcome,
            arrived_at=arrived,
            ended_at=at,
            answered_at=None if answered is None else answered[0],
            agent_id=None if answered is None else answered[1],
            attributes={} if contact is None else contact.attributes,
        )
        await self._hooks.crm_record(record)
        return HistoryRecorded(at, contact_id, outcome)

    async def _self_served(self, contact: Contact, at: float) -> None:
        assert self._hooks is not None
        self._contacts[contact.id] = contact
        self._arrived[contact.id] = at
        await self._hooks.customer_update(
            self._update("closed", contact.id, at, reason="self-service")
        )
        note = await self._record_history(contact.id, "self-service", at)
        await self._note([note], wait=False)

    # ---------------------------------------------------------------- timer

    async def _timer(self) -> None:
        """Wake when the router's next timer falls due, and apply it."""
        while True:
            self._wake_timer = anyio.Event()
            due = self.router.next_due()
            if due is None:
                await self._wake_timer.wait()
                continue
            delay = due - self._clock.now()
            if delay > 0:
                with anyio.move_on_after(delay):
                    await self._wake_timer.wait()
                continue
            try:
                await self._apply(Tick())
            except ServiceError:
                return  # stopping, or the store failed
            except Exception:
                log.exception("applying due timers failed")
                return

    # ------------------------------------------------------------- recovery

    async def _recover(self, strategies: Mapping[str, Any]) -> None:
        """Rebuild the router from the latest snapshot and the records after it."""
        assert self._storage is not None
        recovered = await anyio.to_thread.run_sync(self._storage.load)
        self.recovery_problem = recovered.problem
        if recovered.problem is not None:
            log.error("recovering from storage: %s", recovered.problem)
        if recovered.snapshot is not None:
            router = Router.restore(recovered.snapshot, strategies=strategies)
            clock = router.clock
            assert isinstance(clock, ManualClock)
            self._rclock = clock
        else:
            self._rclock = ManualClock()
            router = Router(
                self._rclock, seed=self._seed, strategies=strategies, policy=self._policy
            )
        try:
            replay(router, self._rclock, recovered.records)
        except StorageError as error:
            # Name the log: the person reading this has to find the file.
            raise StorageError(f"recovering from {self._storage!r}: {error}") from error
        self._router = router
        self._seq = self._durable_seq = recovered.last_seq
        self._snapshot_seq = recovered.snapshot_seq
        self._failure = None
        self._pending, self._tickets = [], []
        # What history and customer updates need for contacts still live.
        self._contacts.clear()
        self._arrived.clear()
        self._answered.clear()
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            self._contacts[contact_id] = Contact(
                contact_id,
                view.channel,
                view.queue,
                customer_id=view.customer_id,
                attributes=view.attributes,
            )
            self._arrived[contact_id] = view.arrived_at
            if view.agent_id is not None and view.state is not ContactState.OFFERED:
                self._answered[contact_id] = (view.entered_at, view.agent_id)


def replay(router: Router, clock: ManualClock, records: Iterable[LogRecord]) -> None:
    """Apply logged calls to ``router`` at their logged times, checking each gives
    the events that were logged (a divergence means the log does not belong to
    this router or this version of ccroute: :class:`StorageError`)."""
    for record in records:
        if isinstance(record.command, Note):
            continue
        clock.set(max(record.at, clock.now()))
        try:
            events = record.command.apply(router)
        except CCRouteError as error:
            raise StorageError(
                f"log record {record.seq} ({record.name}) cannot be replayed: {error}"
            ) from error
        if tuple(events) != record.events:
            raise StorageError(
                f"log record {record.seq} ({record.name}) replays to different events: "
                f"logged {list(record.events)}, got {events}"
            )
