"""The service: a Router run live on asyncio or trio, with plugins and durable storage.

:class:`Service` is the shell around the pure core (see docs/service.md):

- it owns the router's clock and timers: it reads the real clock, moves the
  router's :class:`~ccroute.ManualClock` to that time for each call, and
  wakes when the next offer timeout, wrap-up end, routing step or
  preferred-agent wait falls due;
- it serialises every state change through the router, one call at a time
  (a call runs to completion without yielding to the event loop);
- it logs every call that changed state (the call, its time and its events)
  to the store, committing the records of concurrent calls together (group
  commit), and returns to the caller only once its records are durable;
- once durable, it hands the events to the plugins, each kind of work on
  its own lane so that a slow plugin holds up only its own work: observers
  in log order on one lane, every offer delivery on its own, customer
  updates and CRM history in log order per contact;
- on start it recovers: the latest snapshot plus the records after it
  rebuild the router exactly, because the router is deterministic, and the
  service's own bookkeeping with it (CRM profiles, answer times, handle
  times, and the metrics of :attr:`Service.metrics`);
- it runs the inbound pipeline for adapters: IVR flow, CRM lookup and
  enrichment, then routing; and flows as data run live for them
  (:attr:`Service.flows`, :mod:`ccroute.ivr.live`).

Every hook call goes through :class:`~ccroute.plugins.Hooks`, which isolates
plugin faults; background tasks started with :meth:`Service.start_soon` are
isolated the same way.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import warnings
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from . import codec
from ._values import check_json, copy_json, finite_float, show
from ._wait_updates import WaitUpdates, check_period
from .clock import Clock, ManualClock, WallClock
from .codec import EncodedRecords, PreparedCommand, prepare_command
from .commands import (
    Abandon,
    Accept,
    AddAgent,
    AddChannel,
    AddExclusion,
    AddQueue,
    AddQueues,
    CallbackUnansweredCall,
    Command,
    Complete,
    EndWrapUp,
    Note,
    Reject,
    RemoveAgent,
    RemoveExclusion,
    RequestCallback,
    ScheduleCallback,
    SetCapacity,
    SetPresence,
    Submit,
    Tick,
    Transfer,
    UpdateAgent,
    UpdateContact,
    UpdateQueue,
)
from .crm.plugin import BuiltinCRM, crm_from_settings
from .errors import (
    CCRouteError,
    FencedError,
    InputError,
    InvalidValueError,
    ServiceError,
    StorageError,
    UnknownIdError,
)
from .events import (
    Abandoned,
    Accepted,
    CallbackClosed,
    CallbackRequested,
    CallbackScheduled,
    Completed,
    ContactUpdated,
    CustomerEnriched,
    Event,
    FlowAdvanced,
    FlowFinished,
    FlowStarted,
    HistoryRecorded,
    OfferDelivered,
    Offered,
    Overflowed,
    Queued,
    Refused,
    TimedOut,
    Transferred,
    WrapUpEnded,
)
from .hooktypes import (
    CustomerUpdate,
    HistoryRecord,
    HistoryTransfer,
    OfferDelivery,
    Outcome,
    UpdateKind,
)
from .lifecycle import ContactState
from .masking import Masking, MaskingFilter, masking_for
from .metrics import MetricsCollector
from .model import Agent, Channel, Contact, Presence, QueueConfig
from .plugins import (
    Hooks,
    _call_plain,
    _cancel_requested,
    _hook_nesting,
    _is_cancellation,
    _RaisedInThread,
    log_plugins,
    make_plugin_manager,
)
from .policies import RoutingPolicy
from .router import Observer, Router
from .router_view import ReadOnlyRouter
from .storage import AsyncStorage, LogRecord, Recovered, Storage, is_async_storage

if TYPE_CHECKING:
    from .ivr.live import LiveFlows

__all__ = ["Service"]

log = logging.getLogger("ccroute.service")

T = TypeVar("T")

_SYNC_MODES: Final = ("FULL", "NORMAL", "OFF")

#: Plugin work items (offer deliveries, per-contact lanes of customer updates
#: and CRM history) in flight at once, by default: see ``hook_concurrency``.
DEFAULT_HOOK_CONCURRENCY: Final = 256
#: Completed contacts per queue the estimated wait averages over.
HANDLE_TIME_WINDOW: Final = 100
#: Seconds :meth:`Service.stop` waits for the store: for its last writes (the
#: records not yet durable, then the notes and the snapshot), then to close.
_CLOSE_SECONDS: Final = 10.0
#: An idle worker of the plugin pool ends after this many seconds.
_IDLE_WORKER_SECONDS: Final = 30.0
#: How a service snapshot begins: one JSON document, ``{"service_snapshot": 1,
#: "service_length": N, "service": <N bytes: the bookkeeping>, "router":
#: <Router.snapshot()>}``. A snapshot that does not begin so is a bare router
#: snapshot (an older service's, or another tool's).
_SNAPSHOT_HEAD: Final = re.compile(rb'\{"service_snapshot":1,"service_length":(\d+),"service":')
_SNAPSHOT_ROUTER: Final = b',"router":'


class _Batch:
    """The callers of one group commit wait on it: done once its records are
    durable, or failed (``error``)."""

    __slots__ = ("done", "error")

    def __init__(self, event: Callable[[], anyio.Event] = anyio.Event) -> None:
        self.done = event()
        self.error: BaseException | None = None

    async def wait(self) -> None:
        await self.done.wait()
        if self.error is not None:
            raise _store_failed(self.error) from self.error


def _store_failed(error: BaseException) -> CCRouteError:
    """The error a caller whose call was not made durable gets: a
    :class:`FencedError` when the store was fenced off, so a node can tell,
    and a :class:`ServiceError` after :meth:`Service.halt`."""
    if isinstance(error, ServiceError):
        return ServiceError(str(error))
    if isinstance(error, FencedError):
        return FencedError(
            f"the store refused the write: {error}", partition=error.partition, token=error.token
        )
    return StorageError(f"the store failed: {error}")


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
    if storage is not None:
        # Refuses a store that is neither, naming the methods.
        is_async_storage(storage)
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


# ------------------------------------------------------------- bookkeeping


@attrs.define(slots=True, eq=False)
class _Live:
    """What the service keeps of a live contact: what its customer updates and
    its CRM history need after the router has forgotten it."""

    customer_id: str | None
    attributes: Mapping[str, Any]
    arrived_at: float
    channel: str
    #: (time, agent) of its last acceptance, if any.
    answered: tuple[float, str] | None = None
    #: When it was last completed (wrap-up began), if it was.
    completed_at: float | None = None
    #: Its transfers and overflows so far, in order (for the CRM history).
    transfers: list[HistoryTransfer] | None = None


class _Book:
    """The service's bookkeeping beside the router, a function of the log alone.

    Folded from the durable records in log order (and from the records
    replayed at start), and carried by the service's snapshots (as JSON next
    to the router's state), so that after a restart it is what it was: each
    live contact's arrival, answer and customer, its CRM profile (logged in
    :class:`~ccroute.CustomerEnriched`), the recent handle times of each
    queue (the estimated wait's input), and the metrics.
    """

    def __init__(self, metrics: bool) -> None:
        self.contacts: dict[str, _Live] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self.handle_times: dict[str, deque[float]] = {}
        self.metrics = MetricsCollector() if metrics else None
        # Flows run live and not finished, by contact: the flow's start with
        # the contact as of its last progress (what a restart routes).
        self.flows: dict[str, FlowStarted] = {}

    def observe(self, record: LogRecord) -> None:
        """Feed the metrics a router call's record (notes are not router events)."""
        metrics = self.metrics
        if metrics is None:
            return
        command = record.command
        if isinstance(command, (AddQueue, AddQueues)):
            # As MetricsCollector.attach does: each queue's own threshold.
            configs = (command.config,) if isinstance(command, AddQueue) else command.configs
            thresholds = dict(metrics.thresholds)
            for config in configs:
                thresholds.setdefault(config.name, config.service_level_threshold)
            metrics.thresholds = MappingProxyType(thresholds)
        if record.events and not isinstance(command, Note):
            metrics.observe(list(record.events))

    def handled(self, queue: str, seconds: float) -> None:
        window = self.handle_times.get(queue)
        if window is None:
            window = self.handle_times[queue] = deque(maxlen=HANDLE_TIME_WINDOW)
        window.append(seconds)

    def mean_handle_time(self, queue: str) -> float | None:
        window = self.handle_times.get(queue)
        # fsum: the same numbers give the same mean before and after a restart
        return math.fsum(window) / len(window) if window else None

    def export(self) -> dict[str, Any]:
        """The bookkeeping the router's state does not hold, as JSON data."""
        return {
            "profiles": dict(self.profiles),
            "answered": {
                contact_id: list(live.answered)
                for contact_id, live in self.contacts.items()
                if live.answered is not None
            },
            "handle_times": {queue: list(times) for queue, times in self.handle_times.items()},
            "metrics": None if self.metrics is None else self.metrics.state(),
            # What the CRM history of a live contact needs and the router forgets.
            "completed": {
                contact_id: live.completed_at
                for contact_id, live in self.contacts.items()
                if live.completed_at is not None
            },
            "transfers": {
                contact_id: [attrs.astuple(t) for t in live.transfers]
                for contact_id, live in self.contacts.items()
                if live.transfers
            },
            # In the log format (the note as it was logged, its contact as of
            # the last progress), read back through the constructors.
            "flows": json.loads(codec.encode_events(self.flows.values())),
        }

    def load(self, router: Router, saved: Mapping[str, Any]) -> None:
        """Start from a restored router and what :meth:`export` saved with it."""
        self.contacts.clear()
        self.profiles = {str(k): dict(v) for k, v in dict(saved.get("profiles", {})).items()}
        answered = dict(saved.get("answered", {}))
        completed = dict(saved.get("completed", {}))
        transfers = dict(saved.get("transfers", {}))
        self.handle_times = {
            str(queue): deque((float(t) for t in times), maxlen=HANDLE_TIME_WINDOW)
            for queue, times in dict(saved.get("handle_times", {})).items()
        }
        flows = saved.get("flows", [])
        try:
            started = codec.decode_events(json.dumps(flows)) if flows else ()
        except InputError as error:
            raise StorageError(f"the service snapshot's live flows are damaged: {error}") from None
        self.flows = {}
        for note in started:
            if not isinstance(note, FlowStarted):
                raise StorageError(
                    f"the service snapshot's live flows hold a {type(note).__name__}"
                )
            self.flows[note.contact_id] = note
        if self.metrics is not None:
            saved_metrics = saved.get("metrics")
            if saved_metrics is not None:
                self.metrics = MetricsCollector.from_state(saved_metrics)
            else:
                # A snapshot without metrics (an older service's): they start here.
                self.metrics = MetricsCollector(
                    {q: router.queue_config(q).service_level_threshold for q in router.queues}
                )
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            kept = answered.get(contact_id)
            if kept is not None:
                at, agent = kept
                answer: tuple[float, str] | None = (float(at), str(agent))
            elif view.answered_at is not None and view.agent_id is not None:
                answer = (view.answered_at, view.agent_id)
            else:
                answer = None
            done = completed.get(contact_id)
            moves = [HistoryTransfer(*t) for t in transfers.get(contact_id, ())]
            self.contacts[contact_id] = _Live(
                view.customer_id,
                view.attributes,
                view.arrived_at,
                view.channel,
                answer,
                None if done is None else float(done),
                moves or None,
            )


def _moved(live: _Live, transfer: HistoryTransfer) -> None:
    if live.transfers is None:
        live.transfers = []
    live.transfers.append(transfer)


def _frame(router_state: bytes, book: Mapping[str, Any]) -> bytes:
    """A service snapshot: the router's snapshot and the bookkeeping beside it, as
    one JSON document (the router's own document nested as it is), so that SQL
    reads it too: ``json_extract(body, '$.router.now')``."""
    extras = json.dumps(book, allow_nan=False, separators=(",", ":")).encode()
    head = b'{"service_snapshot":1,"service_length":%d,"service":' % len(extras)
    return b"".join((head, extras, _SNAPSHOT_ROUTER, router_state, b"}"))


def _unframe(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """The router's snapshot and the bookkeeping of a service snapshot (none in
    a bare router snapshot). Only the bookkeeping is parsed here; the router's
    part goes to :meth:`Router.restore` as the bytes it wrote."""
    head = _SNAPSHOT_HEAD.match(data)
    if head is None:
        return data, {}
    start = head.end()
    end = start + int(head.group(1))
    try:
        extras = json.loads(data[start:end])
        if not isinstance(extras, dict):
            raise ValueError("the bookkeeping is not an object")
        if not data.startswith(_SNAPSHOT_ROUTER, end) or not data.endswith(b"}"):
            raise ValueError("no router state after the bookkeeping")
    except ValueError as error:
        raise StorageError(f"the service snapshot is damaged: {error}") from error
    return data[end + len(_SNAPSHOT_ROUTER) : -1], extras


# ------------------------------------------------------------- plugin work


def _event_type() -> Callable[[], anyio.Event]:
    """The running backend's own event class: making one skips anyio's lookup of
    the backend, which the service would otherwise pay several times a call."""
    return type(anyio.Event())


_Job = Callable[[], Awaitable[None]]


class _Pool:
    """Runs plugin work in worker tasks: at most ``limit`` jobs at once, the
    rest waiting in order.

    One worker at a time is on its way to the queue: a worker taking a job
    while others wait behind it first wakes (or starts) another, so a job
    that suspends (a plugin that hangs) holds up only its own worker, not the
    jobs behind it, while jobs that finish without suspending (most offer
    deliveries) run one after another in one worker, without a task switch
    each. Workers wait for more work when the queue is empty; in a steady
    state no task is created per job.
    """

    def __init__(self, tg: anyio.abc.TaskGroup, limit: int) -> None:
        self._tg = tg
        self._limit = limit
        self._event = _event_type()
        self._queue: deque[_Job] = deque()
        self._idle: list[anyio.Event] = []
        self._workers = 0
        self._busy = 0
        # Workers woken (or started) that have not reached the queue yet.
        self._waking = 0

    @property
    def pending(self) -> int:
        """Jobs waiting or running."""
        return len(self._queue) + self._busy

    def submit(self, job: _Job) -> None:
        self._queue.append(job)
        if not self._waking:
            self._wake_one()

    def _wake_one(self) -> None:
        """Send one more worker to the queue, if the limit allows."""
        if self._idle:
            self._waking += 1
            self._idle.pop().set()
        elif self._workers < self._limit:
            self._waking += 1
            self._workers += 1
            self._tg.start_soon(self._work)

    async def _work(self) -> None:
        self._waking -= 1
        # Started maybe from inside a hook call (a nested inbound): its jobs are not.
        _hook_nesting.set(0)
        try:
            while True:
                while self._queue:
                    job = self._queue.popleft()
                    if self._queue and not self._waking:
                        # Should this job suspend, the next one is not held up.
                        self._wake_one()
                    self._busy += 1
                    try:
                        await job()
                    except Exception:
                        # The service's own code: hooks isolate the plugins' faults.
                        log.exception("plugin work failed")
                    finally:
                        self._busy -= 1
                wake = self._event()
                self._idle.append(wake)
                await wake.wait()
                self._waking -= 1
        finally:
            self._workers -= 1


class Service:
    """Runs a :class:`~ccroute.Router` live: timers, plugins, durable storage.

    Use it as an async context manager (on asyncio or trio, through anyio)::

        async with Service(path="centre.db") as service:
            await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
            await service.submit(Contact("c1", "voice", "support"))

    :param storage: the store to log to (the application closes it): a
        :class:`~ccroute.storage.Storage`, called from a worker thread, or an
        :class:`~ccroute.storage.AsyncStorage`, awaited on the service's own
        event loop (one call at a time either way); when omitted, the
        ``ccroute_storage`` hook provides one (the built-in default: SQLite
        at ``path``, or memory) and the service closes it on stop.
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
    :param metrics: whether the service keeps :attr:`metrics` (about 1.5 us
        per event).
    :param hook_concurrency: how many pieces of plugin work (an offer
        delivery, or a contact's customer updates and CRM history, in order)
        may be in flight at once; more wait their turn, in order. Each holds
        at most one hook call at a time, so plugins that hang can hold up new
        work only once this many calls hang at once (each for at most
        ``hook_timeout``).
    :param wait_update_every: seconds between the ``queued`` customer
        updates of a waiting contact (its position and
        :meth:`Router.estimated_wait <ccroute.Router.estimated_wait>` again);
        ``None`` (the default) sends one only when it enters a queue. See
        docs/estimated-wait.md.
    :param masking: the rules that mask sensitive data (card numbers, SSNs,
        sensitive field names) before anything is logged, stored, shown in
        an offer or handed to a plugin; when omitted, ``settings["masking"]``
        (a :class:`~ccroute.Masking`, or a table for
        :meth:`Masking.from_settings <ccroute.Masking.from_settings>`), else
        the default rules. ``Masking(enabled=False)`` (or ``{"enabled":
        false}``) switches masking off. See docs/masking.md.
    """

    def __init__(
        self,
        *,
        storage: Storage | AsyncStorage | None = None,
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
        metrics: bool = True,
        hook_concurrency: int = DEFAULT_HOOK_CONCURRENCY,
        wait_update_every: float | None = None,
        masking: Masking | None = None,
    ) -> None:
        _check_arguments(storage, path, settings, plugins, clock, seed, load_entrypoints)
        period = check_period(wait_update_every)
        self._masking = masking_for(masking, settings)
        self._log_filter: MaskingFilter | None = None
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
        timeout = finite_float(hook_timeout)  # an int beyond float range is not finite either
        if timeout is None or not timeout > 0:
            raise InvalidValueError(
                f"hook_timeout must be a positive number, got {show(hook_timeout)}"
            )
        if (
            isinstance(hook_concurrency, bool)
            or not isinstance(hook_concurrency, int)
            or hook_concurrency < 1
        ):
            raise InvalidValueError(
                f"hook_concurrency must be an integer >= 1, got {hook_concurrency!r}"
            )
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
        self._hook_timeout = timeout
        self._snapshot_every = snapshot_every
        self._hook_concurrency = hook_concurrency
        # customers due another "queued" update (None: only on queue entry)
        self._wait_updates = None if period is None else WaitUpdates(period)
        self._wake_wait_updates = anyio.Event()
        self._hooks: Hooks | None = None
        # The flows run live (Service.flows), made when first asked for.
        self._flows: LiveFlows | None = None
        self._router: Router | None = None
        # What everyone outside the service reads: the router's queries only.
        self._view: ReadOnlyRouter | None = None
        self._rclock = ManualClock()
        self._storage: Storage | AsyncStorage | None = None
        self._async_storage = False
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._token: Any = None
        self._running = False
        self._halting = False
        self._failure: BaseException | None = None
        self._failure_why = ""
        # Store calls come one at a time (the Storage protocol promises it).
        self._write = anyio.Lock()
        self._seq = 0
        self._durable_seq = 0
        self._snapshot_seq = 0
        # Records logged and not yet written, and the batch their callers wait on.
        self._pending = EncodedRecords()
        self._batch = _Batch()
        # The batch being written now, if any.
        self._inflight: _Batch | None = None
        # The service's own notes (offer deliveries, history), logged by the writer.
        self._notes: list[tuple[Callable[..., Event], tuple[Any, ...]]] = []
        self._wake_writer = anyio.Event()
        self._wake_timer = anyio.Event()
        self._timer_due = math.inf
        if not isinstance(metrics, bool):
            raise InvalidValueError(f"metrics must be True or False, got {metrics!r}")
        self._metrics = metrics
        self._book = _Book(metrics)
        self._pool: _Pool | None = None
        # Per contact: its customer updates and CRM history, in log order.
        self._lanes: dict[str, deque[_Job]] = {}
        # The latest durable offer of each (contact, agent), while being delivered.
        self._offers: dict[tuple[str, str], Offered] = {}
        self._observe_send: MemoryObjectSendStream[tuple[tuple[Event, ...], int]] | None = None
        self._observed_seq = 0
        # Which hooks anyone implements (the service skips work nobody reads).
        self._want_offers = self._want_updates = self._want_history = False
        self._want_crm_history = False
        self.task_failures: Counter[str] = Counter()
        """Background tasks (:meth:`start_soon`) that raised, by task name."""
        self.recovery_problem: str | None = None
        """What was wrong with the log at the last start (``None``: nothing)."""
        self._crm: BuiltinCRM | None = None
        # The agent strategies of a warm copy (_warm_load), looked up once.
        self._warm_strategies: dict[str, Any] | None = None

    # ================================================================ lifecycle

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Load plugins, recover from storage, start timers and channel adapters.

        Offers open when the service last stopped are delivered again, with
        their CRM profiles, before this returns.

        Call :meth:`stop` from the same task (``async with`` does both).
        """
        if self._running or self._stack is not None:
            raise ServiceError("the service is already running")
        stack = AsyncExitStack()
        self._filter_log(True)
        try:
            self._crm = crm_from_settings(self.settings, self._clock)
            builtins = () if self._crm is None else ((self._crm.plugin_name, self._crm),)
            pm = make_plugin_manager(
                self._plugins, load_entrypoints=self._load_entrypoints, builtins=builtins
            )
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
            self._async_storage = is_async_storage(storage)
            self._storage = storage
            self._token = anyio.lowlevel.current_token()
            await self._recover(await hooks.agent_strategies())
            self._want_offers = hooks.has("ccroute_deliver_offer")
            if not self._want_offers:
                log.warning(
                    "no plugin delivers offers (ccroute_deliver_offer): offers stay "
                    "open until they time out unless the application answers them"
                )
            self._want_updates = hooks.has("ccroute_customer_update")
            self._want_history = hooks.has("ccroute_crm_record")
            self._want_crm_history = hooks.has("ccroute_crm_history")
            for channel in await hooks.channels():
                if channel.name not in {c.name for c in self._live.channels}:
                    self._call(AddChannel(channel))
            self._tg = tg = await stack.enter_async_context(anyio.create_task_group())
            self._pool = _Pool(tg, self._hook_concurrency)
            self._observed_seq = self._durable_seq
            if hooks.has("ccroute_events"):
                send, receive = anyio.create_memory_object_stream[tuple[tuple[Event, ...], int]](
                    math.inf
                )
                self._observe_send = send
                tg.start_soon(self._observer, receive)
            self._running = True
            tg.start_soon(self._writer)
            tg.start_soon(self._timer)
            if self._wait_updates is not None and self._want_updates:
                # contacts still waiting from before a restart hear again too
                now = self._clock.now()
                for view in self._live.waiting():
                    self._wait_updates.schedule(view.id, now)
                tg.start_soon(self._wait_update_loop)
            self._stack = stack
            await self.flush()
            await hooks.start_channel(self)
            await self._redeliver_open_offers()
            if self._book.flows:
                # Callers a crash left in a flow: routed now, durably.
                await self.flows.recover(list(self._book.flows.values()))
        except BaseException:
            self._running = False
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
            await stack.aclose()
            self._stack = None
            self._tg = None
            with anyio.CancelScope(shield=True):
                await self._close_storage()
            self._close_crm()
            self._filter_log(False)
            raise

    async def stop(self) -> None:
        """Stop accepting calls, make everything durable (with a final snapshot),
        let plugins finish the work already durable (for up to twice the hook
        timeout), stop the channel adapters, and close the store.

        After a storage failure (:attr:`failure`) nothing more is written: no
        flush, no final snapshot.
        """
        if self._stack is None:
            return
        if self._flows is not None and self._failure is None:
            # Callers still in a flow go on to its fallback while calls are taken.
            with anyio.move_on_after(self._hook_timeout * 2):
                await self._flows.aclose()
        self._running = False
        try:
            if self._failure is None:
                try:
                    with anyio.move_on_after(_CLOSE_SECONDS) as writing:
                        await self.flush()
                except StorageError:
                    if self._failure is None:
                        raise
                    # The store failed on this last write (a fenced store, a
                    # full disk): logged, and the callers got the error.
                if writing.cancelled_caught:
                    self._store_hung("the records not yet durable")
            # Let observers and adapters see what was already durable
            # (not after a halt: the work of a node that lost its lease is dropped).
            if not self._halting:
                with anyio.move_on_after(self._hook_timeout * 2):
                    await self._settle()
            if self._failure is None:
                with anyio.move_on_after(_CLOSE_SECONDS) as writing:
                    await self.flush()  # the notes of that work
                    await self._take_snapshot()
                if writing.cancelled_caught:
                    self._store_hung("the last notes and snapshot")
            if self._observe_send is not None:
                self._observe_send.close()
            assert self._hooks is not None
            with anyio.move_on_after(self._hook_timeout * 2):
                await self._hooks.stop_channel(self)
        finally:
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
            stack, self._stack = self._stack, None
            await stack.aclose()
            self._tg = None
            self._pool = None
            self._observe_send = None
            self._lanes.clear()
            self._offers.clear()
            self._flows = None
            with anyio.CancelScope(shield=True):
                await self._close_storage()
            self._close_crm()
            self._filter_log(False)

    async def halt(self) -> None:
        """Stop at once and write nothing more: for a node that lost its lease
        (:mod:`ccroute.cluster`), whose store must not be written to again.

        Calls waiting for their records to be durable fail with
        :class:`~ccroute.ServiceError` (they were not acknowledged), the
        records not yet written are dropped, and there is no final snapshot;
        plugin work already queued is cancelled, the channel adapters are
        stopped and the store is closed, as :meth:`stop` does. Bounded: the
        adapters get twice the hook timeout, the store's close
        ten seconds. Call it from the task that started the service, as
        :meth:`stop`.
        """
        if self._stack is None:
            return
        self._stop_taking_calls(ServiceError("the service was halted"), "a halt")
        error = self._failure
        assert error is not None
        for batch in (self._inflight, self._batch):
            if batch is not None and not batch.done.is_set():
                batch.error = error
                batch.done.set()
        self._pending = EncodedRecords()
        self._notes.clear()
        self._halting = True
        try:
            await self.stop()
        finally:
            self._halting = False

    def _store_hung(self, what: str) -> None:
        """The store did not finish writing ``what`` in time while stopping: stop
        as after a failed write (callers still waiting hear that their calls were
        not acknowledged; whatever the store still does is not waited for)."""
        error = StorageError(
            f"the store {self._storage!r} did not finish writing {what} "
            f"within {_CLOSE_SECONDS:g} s of the service stopping"
        )
        self._stop_taking_calls(error, "a store that hung")
        for batch in (self._inflight, self._batch):
            if batch is not None and not batch.done.is_set():
                batch.error = error
                batch.done.set()

    def _close_crm(self) -> None:
        crm, self._crm = self._crm, None
        if crm is not None:
            try:
                crm.close()
            except Exception:
                log.exception("closing the CRM store failed")

    def _filter_log(self, on: bool) -> None:
        """Mask the service's log lines (a plugin's junk, an exception's text)
        while it runs, unless masking is off."""
        if on and self._masking.enabled and self._log_filter is None:
            self._log_filter = MaskingFilter(self._masking)
            log.addFilter(self._log_filter)
        elif not on and self._log_filter is not None:
            log.removeFilter(self._log_filter)
            self._log_filter = None

    async def _close_storage(self) -> None:
        # A store the application passed in is the application's to close.
        storage, self._storage = self._storage, None
        if storage is not None and storage is not self._given_storage:
            try:
                with anyio.fail_after(_CLOSE_SECONDS):
                    await self._store_call(storage.close)
            except Exception:
                log.exception("closing the store failed")

    async def _store_call(self, method: Callable[..., Any], /, *args: Any) -> Any:
        """Call a method of the store: awaited here for an
        :class:`~ccroute.storage.AsyncStorage`, in a worker thread otherwise.

        A store is plugin code: a ``BaseException`` it raises (``SystemExit``,
        ``KeyboardInterrupt``, a class of its own; never a real cancellation
        of the service) is its failure, a :class:`StorageError`, so that the
        service stops taking calls and its callers hear of it, as after any
        other failed write, instead of the exception tearing down the
        service's task group while callers wait for their commit.
        """
        try:
            if self._async_storage:
                return await method(*args)
            # Carried back as an Exception (see _call_plain): on asyncio a
            # GeneratorExit delivered to this task would close it instead.
            # Abandoned when cancelled (a stop giving up on a store that hangs):
            # the thread runs on, the service does not wait for it.
            return await anyio.to_thread.run_sync(
                _call_plain, method, args, None, abandon_on_cancel=True
            )
        except _RaisedInThread as carried:
            error: BaseException = carried.error
        except Exception:
            raise
        except BaseException as raised:
            if _is_cancellation(raised) and _cancel_requested():
                raise
            error = raised
        name = getattr(method, "__name__", "a method")
        raise StorageError(f"the store's {name} raised {type(error).__name__}: {error}") from error

    # ============================================================ properties

    @property
    def router(self) -> ReadOnlyRouter:
        """The router, read-only: its views, figures, explanations and counters
        (:class:`~ccroute.router_view.ReadOnlyRouter`), never its commands.

        Change the service through its command coroutines, which are logged
        (``await service.submit(contact)`` …): asking this view for a command
        (``service.router.submit``) raises :class:`~ccroute.errors.ReadOnlyError`.
        Plugins get the same view. Cost: a query through it costs what the
        router's own does (docs/service.md, "Isolation").

        :raises ServiceError: the service has not started.
        """
        view = self._view
        if view is None:
            raise ServiceError("the service has not started")
        return view

    @property
    def _live(self) -> Router:
        """The router itself, for the service's own calls (logged) and reads."""
        if self._router is None:
            raise ServiceError("the service has not started")
        return self._router

    def observe_router(self, observer: Observer) -> None:
        """Hand ``observer`` every batch of events as the router makes it
        (:meth:`Router.observe <ccroute.Router.observe>`), before it is durable.

        For the application that runs the service; plugins implement
        ``ccroute_events`` instead, which gets each batch once it is durable.
        An observer that raises an exception is counted in
        ``router.observer_failures`` and never stops the call. Observers are
        the running router's: a restart starts without them.

        :raises ServiceError: the service has not started.
        :raises InvalidValueError: ``observer`` is not callable.
        """
        self._live.observe(observer)

    def unobserve_router(self, observer: Observer) -> None:
        """Stop handing events to an observer :meth:`observe_router` registered.

        :raises UnknownIdError: ``observer`` is not registered.
        """
        self._live.unobserve(observer)

    @property
    def running(self) -> bool:
        """Whether the service takes calls."""
        return self._running

    @property
    def crm(self) -> BuiltinCRM:
        """The built-in CRM that ``settings["crm"]`` turned on (docs/crm.md), while
        the service runs: its ``store`` holds the profiles and the history.

        :raises ServiceError: the service is not running, or has no built-in CRM.
        """
        if self._crm is None:
            raise ServiceError(
                'no built-in CRM: turn it on with settings={"crm": ...} (and start the service)'
            )
        return self._crm

    @property
    def now(self) -> float:
        """The service's time now, in router clock seconds: its clock, never
        behind the router's."""
        return self._time()

    @property
    def flows(self) -> LiveFlows:
        """The IVR and chatbot flows run live for channel adapters
        (:class:`~ccroute.ivr.live.LiveFlows`, docs/ivr-flows.md): one per run
        of the service. Sessions still in a flow when the service stops end in
        their flow's fallback (routed, durably) before it stops taking calls.

        :raises ServiceError: the service is not running.
        """
        if self._flows is None:
            self._check_running()
            from .ivr.live import LiveFlows

            assert self._hooks is not None
            self._flows = LiveFlows(self, self._hooks)
        return self._flows

    @property
    def hook_failures(self) -> Counter[tuple[str, str, str]]:
        """Plugin failures by (hook, plugin, kind), kind being raised, junk or
        timeout: one count per failed call."""
        return Counter() if self._hooks is None else self._hooks.failures

    @property
    def failure(self) -> BaseException | None:
        """Why the service stopped taking calls (a storage failure, a
        :class:`~ccroute.errors.FencedError`, a halt), or ``None``."""
        return self._failure

    @property
    def storage(self) -> Storage | AsyncStorage:
        """The store the service logs to (while it runs); call it only through the service."""
        if self._storage is None:
            raise ServiceError("the service is not running")
        return self._storage

    @property
    def durable_seq(self) -> int:
        """The seq of the last log record known to be durable."""
        return self._durable_seq

    @property
    def metrics(self) -> MetricsCollector:
        """The centre's figures since its log began: a
        :class:`~ccroute.metrics.MetricsCollector` fed every durable router event
        in log order, and carried by the service's snapshots, so that after a
        restart it shows what it showed before. Read it with
        ``service.metrics.report(service.router.now)``; never feed it.

        Each queue's service-level threshold is its ``QueueConfig``'s.

        :raises ServiceError: with ``Service(metrics=False)``.
        """
        if self._book.metrics is None:
            raise ServiceError("this service keeps no metrics (Service(metrics=False))")
        return self._book.metrics

    @property
    def masking(self) -> Masking:
        """The rules that mask sensitive data before anything is logged, stored or
        handed to a plugin (docs/masking.md); a channel adapter masks with them
        what it keeps or shows of its own (a chat transcript)."""
        return self._masking

    def mean_handle_time(self, queue: str) -> float | None:
        """Mean handle time of the last ``HANDLE_TIME_WINDOW`` contacts completed
        in ``queue`` (``None`` before the first). Survives restarts."""
        return self._book.mean_handle_time(queue)

    def estimated_wait(self, contact_id: str, position: int | None = None) -> float | None:
        """Seconds a waiting contact has still to wait:
        :meth:`Router.estimated_wait <ccroute.Router.estimated_wait>` (what the
        customer's ``queued`` updates carry; docs/estimated-wait.md).

        Deprecated: ``estimated_wait(queue, position)``, the form before the
        router estimated, is :meth:`Router.estimate_wait
        <ccroute.Router.estimate_wait>` for a voice contact (the router's first
        channel without voice) at ``position`` in ``queue``; it warns with
        :class:`DeprecationWarning`.
        """
        if position is None:
            return self._live.estimated_wait(contact_id)
        warnings.warn(
            "Service.estimated_wait(queue, position) is deprecated: use "
            "Service.estimated_wait(contact_id) or Router.estimate_wait(queue, channel, "
            "position=...)",
            DeprecationWarning,
            stacklevel=2,
        )
        router = self._live
        channels = [c.name for c in router.channels]
        channel = "voice" if "voice" in channels else channels[0]
        return router.estimate_wait(contact_id, channel, position=position)

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any) -> None:
        """Run ``fn(*args)`` in the service's task group (cancelled when it stops).

        For channel adapters' long-running listeners. The task is isolated
        like a hook: whatever it raises (any exception, ``SystemExit`` and
        the like included; never a real cancellation) is logged and counted
        in :attr:`task_failures` under the task's name, and the service goes
        on without it.
        """
        if self._tg is None:
            raise ServiceError("the service is not running")
        name = getattr(fn, "__qualname__", None) or repr(fn)
        self._tg.start_soon(self._guarded_task, name, fn, args, name=name)

    async def _guarded_task(
        self, name: str, fn: Callable[..., Coroutine[Any, Any, Any]], args: tuple[Any, ...]
    ) -> None:
        _hook_nesting.set(0)  # a task of its own, even when a hook started it
        try:
            await fn(*args)
        except BaseException as error:
            if _is_cancellation(error) and _cancel_requested():
                raise  # the service is stopping
            self.task_failures[name] += 1
            log.error("background task %s failed; the service goes on", name, exc_info=error)

    def run_from_thread(self, fn: Callable[..., Coroutine[Any, Any, T]], /, *args: Any) -> T:
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

    async def complete(self, contact_id: str, disposition: str | None = None) -> list[Event]:
        """:meth:`Router.complete`, durably (with its wrap-up code, if any)."""
        return await self._apply(Complete(contact_id, disposition))

    async def end_wrap_up(self, contact_id: str, disposition: str | None = None) -> list[Event]:
        """:meth:`Router.end_wrap_up`, durably (with its wrap-up code, if any)."""
        return await self._apply(EndWrapUp(contact_id, disposition))

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

    async def schedule_callback(self, contact: Contact, at: float) -> list[Event]:
        """:meth:`Router.schedule_callback`, durably (``at`` in router time: Unix
        seconds on the service's wall clock)."""
        return await self._apply(ScheduleCallback(contact, at))

    async def callback_unanswered(self, contact_id: str) -> list[Event]:
        """:meth:`Router.callback_unanswered`, durably."""
        return await self._apply(CallbackUnansweredCall(contact_id))

    async def add_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.add_exclusion`, durably."""
        return await self._apply(AddExclusion(customer_id, agent_id))

    async def remove_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """:meth:`Router.remove_exclusion`, durably."""
        return await self._apply(RemoveExclusion(customer_id, agent_id))

    async def update_queue(self, config: QueueConfig) -> list[Event]:
        """:meth:`Router.update_queue`, durably."""
        return await self._apply(UpdateQueue(config))

    async def update_agent(self, agent: Agent) -> list[Event]:
        """:meth:`Router.update_agent`, durably."""
        return await self._apply(UpdateAgent(agent))

    async def update_contact(
        self,
        contact_id: str,
        *,
        priority_seconds: float | None = None,
        tier: int | None = None,
        requirements: Mapping[str, int] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> list[Event]:
        """:meth:`Router.update_contact`, durably (``None`` leaves a part unchanged)."""
        return await self._apply(
            UpdateContact(contact_id, priority_seconds, tier, requirements, attributes)
        )

    async def tick(self) -> list[Event]:
        """Apply the timers that fell due now, and send the periodic customer
        updates due (the service also does both by itself)."""
        events = await self._apply(Tick())
        self._send_wait_updates()
        return events

    async def inbound(
        self,
        contact: Contact,
        *,
        flow: FlowFinished | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> list[Event]:
        """Take a contact from a channel adapter through the pipeline:
        IVR flow, CRM lookup and enrichment, then routing.

        ``flow``: the contact has been through a flow its caller ran (the
        live flows of :attr:`flows`): no ``ccroute_ivr_flow`` hook; this note
        is logged (at the call's time) instead. ``profile``: the CRM profile
        its caller looked up already: no ``ccroute_crm_lookup`` call.

        Returns the events of the whole pipeline, durable on return. A contact
        the IVR resolved ends with :class:`~ccroute.FlowFinished` (outcome
        ``self-service``) and never reaches the router. A flow or an
        enrichment that returns a contact the router cannot route (an unknown
        queue or channel) is junk: it is counted, and the contact goes on as
        it was before that step.
        """
        self._check_running()
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"inbound expects a Contact, got {contact!r}")
        _check_flow_note(contact, flow)
        if profile is not None:
            if not isinstance(profile, Mapping):
                raise InvalidValueError(f"profile must be a mapping, got {profile!r:.80}")
            check_json(profile, "profile")
        # Masked before any hook sees it (and again after each hook that may add data).
        contact = self._masking.contact(contact)
        hooks = self._hooks
        assert hooks is not None
        notes: list[Event] = []
        at = self._time()
        choice = None if flow is not None else await hooks.ivr_flow(contact)
        if flow is not None:
            notes.append(attrs.evolve(flow, at=at))
        if choice is not None:
            result, failed = await hooks.run_flow_outcome(choice, contact, self._usable(contact))
            if result is None:
                notes.append(FlowFinished(at, contact.id, choice.plugin, "self-service"))
                await self._log_notes(notes)
                if self._want_updates or self._want_history:
                    self._lane(contact.id, functools.partial(self._self_served, contact, at))
                return notes
            outcome = "default" if failed else "routed"
            notes.append(FlowFinished(at, contact.id, choice.plugin, outcome))
            contact = self._masking.contact(result)
        if contact.customer_id is not None:
            if profile is None:
                profile = await hooks.crm_lookup(contact.customer_id)
            else:
                profile = copy_json(profile)
            profile = self._masking.value(profile)
            enriched = await hooks.crm_enrich(contact, profile, self._usable(contact))
            notes.append(
                CustomerEnriched(
                    at,
                    contact.id,
                    contact.customer_id,
                    bool(profile),
                    enriched != contact,
                    profile,
                )
            )
            contact = enriched
        # The notes go in the log just before the submit, in the same commit;
        # a refused submit logs neither.
        events = await self._apply(Submit(contact), notes=notes)
        return notes + events

    async def resolve(self, contact: Contact, flow: FlowFinished) -> list[Event]:
        """A contact a flow its caller ran (:attr:`flows`) ended without an agent:
        log the ``flow`` note (at the call's time), then tell the customer side
        (a ``closed`` update, reason the flow's outcome) and the CRM history
        (outcome ``abandoned`` for an ``abandoned`` flow, else
        ``self-service``), as :meth:`inbound` does for a contact its IVR
        resolved. The contact never reaches the router. Returns the note,
        durable on return.
        """
        self._check_running()
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"resolve expects a Contact, got {contact!r}")
        if flow is None:
            raise InvalidValueError("resolve needs the flow's FlowFinished note")
        _check_flow_note(contact, flow)
        # Its history and the customer's update carry its attributes: masked.
        contact = self._masking.contact(contact)
        at = self._time()
        notes: list[Event] = [attrs.evolve(flow, at=at)]
        await self._log_notes(notes)
        if self._want_updates or self._want_history:
            self._lane(contact.id, functools.partial(self._self_served, contact, at, flow.outcome))
        return notes

    async def note_flow(self, note: FlowStarted | FlowAdvanced | FlowFinished) -> list[Event]:
        """Log a flow's progress note (at the call's time, masked) and wait until
        it is durable: what :attr:`flows` logs as a caller starts a flow and
        moves on in it, so that a restart after a crash routes every caller
        still in a flow (docs/ivr-flows.md, "After a crash"). Returns the note
        as logged.

        :raises InvalidValueError: ``note`` is not one of these notes, or one
            of its fields is of the wrong type (a ``contact`` that is not the
            :class:`~ccroute.Contact` of ``contact_id``); nothing is logged.
        :raises ServiceError: the service is not running.
        """
        _check_flow_progress(note)
        return await self._log_notes([note])

    def _usable(self, before: Contact) -> Callable[[Contact], str | None]:
        """What makes a hook's contact unroutable: a queue or channel the router
        does not know (unless the contact had it before the hook: then it is
        the adapter's mistake, reported by the router)."""
        router = self._live

        def problem(contact: Contact) -> str | None:
            if contact.queue != before.queue:
                try:
                    router.queue_config(contact.queue)
                except UnknownIdError:
                    return f"unknown queue {contact.queue!r}"
            if contact.channel != before.channel and contact.channel not in {
                c.name for c in router.channels
            }:
                return f"unknown channel {contact.channel!r}"
            return None

        return problem

    async def flush(self) -> None:
        """Wait until every record logged so far (and every note of plugin work
        done so far) is durable."""
        if self._pending or self._notes:
            batch = self._batch
            self._wake_writer.set()
            await batch.wait()
        elif self._inflight is not None:
            await self._inflight.wait()
        elif self._failure is not None and self._seq != self._durable_seq:
            raise _store_failed(self._failure) from self._failure

    async def drain(self) -> None:
        """Wait until the plugins have done everything durable so far asks of them:
        observers have seen every durable batch (and the history, when they
        asked for it), every offer delivery, customer update and CRM record
        has run, and their notes are durable.

        Useful in tests and before a planned shutdown; the service never needs it.
        """
        await self.flush()
        await self._settle()
        await self.flush()

    async def _settle(self) -> None:
        target = self._durable_seq
        while (self._observe_send is not None and self._observed_seq < target) or (
            self._pool is not None and self._pool.pending
        ):
            await anyio.sleep(0.002)

    # ================================================================ internals

    def _check_running(self) -> None:
        if self._failure is not None:
            raise ServiceError(
                f"the service stopped taking calls after {self._failure_why}: {self._failure}"
            )
        if not self._running:
            raise ServiceError("the service is not running (use 'async with Service(...)')")

    def _time(self) -> float:
        return max(self._clock.now(), self._rclock.now())

    async def _apply(self, command: Command, *, notes: Sequence[Event] = ()) -> list[Event]:
        """Run one router call at the current time, log it, and wait until it is durable."""
        self._check_running()
        events, batch = self._call(command, notes)
        if batch is not None:
            # _Batch.wait, inline: one coroutine less for every call.
            await batch.done.wait()
            if batch.error is not None:
                raise _store_failed(batch.error) from batch.error
        return events

    def _call(
        self, command: Command, notes: Sequence[Event] = ()
    ) -> tuple[list[Event], _Batch | None]:
        """Run one router call and log it; return its events and the commit to wait on.

        Synchronous, so no other call runs meanwhile: the router is never
        called concurrently and the records' order is the calls' order. A
        refused call (:class:`~ccroute.CCRouteError`) changed nothing and logs
        nothing; anything else escaping the router leaves it in a state the
        log may not hold, so the service stops taking calls (a restart
        recovers what was acknowledged).
        """
        router = self._live
        prepared = None
        premasked: Contact | None = None
        vouched = False
        if self._masking.enabled:
            # Nothing raw reaches the log, the router or the plugins.
            command = self._masking.fields_of(command)
            notes = [self._masking.fields_of(note) for note in notes]
            kind = type(command)
            if kind is Submit or kind is ScheduleCallback:
                premasked = command.contact  # type: ignore[attr-defined]
        if type(command) is not Tick:
            # A value the log cannot hold (a lone surrogate in an id, say) is
            # refused here, before the router changes: refused later, it
            # would leave the router ahead of its log and stop the service.
            # The JSON made here goes into the record: the command is encoded once.
            prepared = prepare_command(command)
        at = self._time()
        self._rclock.set(at)
        logged = False
        try:
            due = router.next_due()
            if due is not None and due <= at and type(command) is not Tick:
                # Timers first, as their own record: a call that is then
                # refused has still moved the router on.
                ticked = router.tick().events
                if ticked:
                    self._log_call(at, Tick(), tuple(ticked))
                    logged = True
            # Masked just now under the router's own rules: the router takes
            # this very object as it is, in this call only (docs/masking.md).
            vouched = router._vouch(premasked, self._masking)
            events = command.apply(router)
        except CCRouteError:
            if logged:
                self._wake_writer.set()
            raise
        except BaseException as error:
            self._stop_taking_calls(error, "a failure in the middle of a router call")
            raise
        finally:
            if vouched:
                router._unvouch()
        if notes:
            # At the call's time, after the due timers: the log's events stay
            # in time order, so an observer (a MetricsCollector) can take them.
            self._log_call(at, Note(), tuple(attrs.evolve(n, at=at) for n in notes))
        # Some calls change state without an event (adding a queue, a
        # capacity): every call is logged but a tick that did nothing.
        if events or type(command) is not Tick:
            self._log_call(at, command, tuple(events), prepared)
            logged = True
        if logged:
            self._wake_writer.set()
        due = router.next_due()
        if due is not None and due < self._timer_due:
            self._wake_timer.set()
        return events, (self._batch if logged else None)

    def _record(
        self,
        at: float,
        command: Command,
        events: tuple[Event, ...],
        prepared: PreparedCommand | None = None,
    ) -> None:
        """Log a record with the next commit, encoded now (in the log format, checked).

        :raises InvalidValueError: the log cannot hold it; nothing was logged.
        """
        record = LogRecord(self._seq + 1, at, command, events)
        self._pending.add(record, prepared)
        self._seq = record.seq

    def _log_call(
        self,
        at: float,
        command: Command,
        events: tuple[Event, ...],
        prepared: PreparedCommand | None = None,
    ) -> None:
        """:meth:`_record` for a call the router has made: a record the log
        cannot hold (an event of a value JSON cannot give back) leaves the
        router ahead of its log, so the service stops taking calls, as after a
        failed write; the records logged before still become durable."""
        try:
            self._record(at, command, events, prepared)
        except Exception as error:
            self._stop_taking_calls(error, "a record the log cannot hold")
            self._wake_writer.set()
            raise StorageError(f"the record of this call cannot be logged: {error}") from error

    def _note(self, kind: Callable[..., Event], *args: Any) -> None:
        """Log one of the service's own notes, ``kind(at, *args)``, with the next
        commit (no waiting); ``at`` is the time it is logged at."""
        if self._failure is None and self._tg is not None:
            self._notes.append((kind, args))
            self._wake_writer.set()

    def _note_time(self) -> float:
        """The time to log notes at now: timers due by then are applied (and
        logged) first, and later calls come after, so the log's events stay in
        time order."""
        at = self._time()
        due = self._live.next_due()
        if due is not None and due <= at:
            self._call(Tick())
            # The tick read the clock again: the notes come at or after it.
            at = self._time()
        self._rclock.set(at)
        return at

    def _flush_notes(self) -> None:
        notes, self._notes = self._notes, []
        at = self._note_time()
        mask = self._masking.fields_of
        self._record(at, Note(), tuple(mask(kind(at, *args)) for kind, args in notes))

    async def _log_notes(self, events: Sequence[Event]) -> list[Event]:
        """Log notes as one record now (at this time) and wait until they are
        durable; return them as logged."""
        self._check_running()
        at = self._note_time()
        mask = self._masking.fields_of
        logged = tuple(mask(attrs.evolve(n, at=at)) for n in events)
        self._record(at, Note(), logged)
        batch = self._batch
        self._wake_writer.set()
        await batch.wait()
        return list(logged)

    def _stop_taking_calls(self, error: BaseException, why: str) -> None:
        log.error("the service stops taking calls after %s: %r", why, error)
        if self._failure is None:
            self._failure = error
            self._failure_why = why
        self._running = False

    # --------------------------------------------------------------- writer

    async def _writer(self) -> None:
        """Group commit: every record logged while the last write ran goes in the next."""
        storage = self._storage
        assert storage is not None
        router = self._live
        event = _event_type()
        while True:
            await self._wake_writer.wait()
            self._wake_writer = event()
            if self._notes:
                try:
                    self._flush_notes()
                except Exception:
                    log.exception("logging the service's notes failed")
            if not self._pending:
                continue
            batch, self._pending = self._pending, EncodedRecords()
            waiters, self._batch = self._batch, _Batch(event)
            last = batch[-1].seq
            # The router's snapshot covers exactly the records of this batch:
            # taken now, before any later call changes it.
            state = router.snapshot() if last - self._snapshot_seq >= self._snapshot_every else None
            self._inflight = waiters
            try:
                async with self._write:
                    await self._store_call(storage.append, batch)
            except Exception as error:
                # The router is ahead of the log now: stop, and let a restart
                # recover what was acknowledged.
                self._stop_taking_calls(error, "a storage failure")
                for failed in (waiters, self._batch):
                    failed.error = error
                    failed.done.set()
                return
            finally:
                self._inflight = None
            self._durable_seq = last
            try:
                self._durable(batch)
            except Exception:
                # A bug of the service's own: the log is right, the plugins miss out.
                log.exception("handing records %d..%d to the plugins failed", batch[0].seq, last)
            finally:
                waiters.done.set()
            if state is not None:
                # The bookkeeping has just taken in this batch: it matches too.
                await self._store_snapshot(last, _frame(state, self._book.export()))

    async def _store_snapshot(self, seq: int, data: bytes) -> None:
        assert self._storage is not None
        try:
            async with self._write:
                await self._store_call(self._storage.snapshot, seq, data)
        except FencedError as error:
            # Another node leads now: nothing more may be written.
            self._stop_taking_calls(error, "a fenced store")
            return
        except Exception:
            # The log holds everything: a later snapshot (or a longer replay) will do.
            log.exception("storing a snapshot after record %d failed", seq)
            return
        self._snapshot_seq = seq

    async def _take_snapshot(self) -> None:
        # Only when everything up to here is durable (and taken in by the
        # bookkeeping), so the snapshot never runs ahead of the log.
        if self._pending or self._seq != self._durable_seq or self._seq == self._snapshot_seq:
            return
        await self._store_snapshot(self._seq, _frame(self._live.snapshot(), self._book.export()))

    # ------------------------------------------------- after a commit: plugins

    def _durable(self, batch: Sequence[LogRecord]) -> None:
        """Take a durable batch in: bookkeeping, then the plugins' work, queued.

        Nothing here waits: observers get the batch on their lane, each offer
        delivery is a job of its own, customer updates and CRM history join
        their contact's lane.
        """
        self._fold(batch, dispatch=True)
        if self._observe_send is not None:
            events = tuple(e for record in batch for e in record.events)
            self._observe_send.send_nowait((events, batch[-1].seq))

    def _fold(self, records: Iterable[LogRecord], *, dispatch: bool) -> None:
        """Keep the bookkeeping up to date with ``records`` (and, with ``dispatch``,
        queue what they ask of the plugins)."""
        book = self._book
        contacts = book.contacts
        updates = dispatch and self._want_updates
        history = dispatch and self._want_history
        for record in records:
            try:
                book.observe(record)
            except Exception:
                log.exception("the metrics could not take in record %d", record.seq)
            for e in record.events:
                if isinstance(e, Offered):
                    if dispatch:
                        self._offer(e)
                elif isinstance(e, Queued):
                    # A scheduled callback entering its queue is known since it was held.
                    live = contacts.get(e.contact_id) or self._arrival(record, e.at, e.channel)
                    contacts[e.contact_id] = live
                    if updates:
                        self._queued(e.contact_id, e.queue, e.at, live)
                        self._schedule_wait_update(e.contact_id, e.at)
                elif isinstance(e, Accepted):
                    found = contacts.get(e.contact_id)
                    if found is not None:
                        found.answered = (e.at, e.agent_id)
                    if updates:
                        self._update("answered", e, found, agent_id=e.agent_id)
                elif isinstance(e, Completed):
                    book.handled(e.queue, e.handle_time)
                    found = contacts.get(e.contact_id)
                    if found is not None:
                        found.completed_at = e.at
                    if updates:
                        self._update("closed", e, contacts.get(e.contact_id), reason="completed")
                elif isinstance(e, WrapUpEnded):
                    self._end(e, "completed", history)
                elif isinstance(e, Abandoned):
                    self._end(e, "abandoned", history, closed="abandoned" if updates else None)
                elif isinstance(e, TimedOut):
                    closed = f"timed out: {e.reason}" if updates else None
                    self._end(e, "timed-out", history, closed=closed)
                elif isinstance(e, Refused):
                    contacts[e.contact_id] = self._arrival(record, e.at, e.channel)
                    closed = f"refused: {e.reason}" if updates else None
                    self._end(e, "refused", history, closed=closed)
                elif isinstance(e, Overflowed):
                    # Waiting again, in the overflow queue: a new position and estimate.
                    found = contacts.get(e.contact_id)
                    if found is not None:
                        _moved(found, HistoryTransfer(e.at, "overflow", e.from_queue, e.to_queue))
                    if updates and found is not None:
                        self._queued(e.contact_id, e.to_queue, e.at, found)
                        self._schedule_wait_update(e.contact_id, e.at)
                elif isinstance(e, Transferred):
                    found = contacts.get(e.contact_id)
                    if found is not None:
                        _moved(
                            found,
                            HistoryTransfer(
                                e.at,
                                "transfer",
                                e.from_queue,
                                e.to_queue,
                                e.from_agent,
                                e.to_agent,
                            ),
                        )
                elif isinstance(e, CustomerEnriched):
                    if e.profile:
                        # Its own copy: the event also goes back to inbound's caller.
                        book.profiles[e.contact_id] = copy_json(e.profile)
                elif isinstance(e, FlowStarted):
                    # Only what note_flow logs (a log made by hand may hold others).
                    if e.contact.id == e.contact_id:
                        book.flows[e.contact_id] = e
                elif isinstance(e, FlowAdvanced):
                    started = book.flows.get(e.contact_id)
                    if started is not None and e.contact.id == e.contact_id:
                        book.flows[e.contact_id] = attrs.evolve(started, contact=e.contact)
                elif isinstance(e, FlowFinished):
                    book.flows.pop(e.contact_id, None)
                elif isinstance(e, CallbackScheduled):
                    found = contacts.get(e.contact_id)
                    if found is None:
                        found = contacts[e.contact_id] = self._arrival(record, e.at, e.channel)
                    found.answered = None
                    if updates:
                        self._update(
                            "scheduled", e, found, reason=e.reason, wait=max(0.0, e.due - e.at)
                        )
                elif isinstance(e, CallbackClosed):
                    outcome: Outcome = "unreached" if e.reason == "unreached" else "cancelled"
                    closed = f"callback {e.reason}" if updates else None
                    self._end(e, outcome, history, closed=closed)
                elif isinstance(e, CallbackRequested):
                    found = contacts.get(e.contact_id)
                    if found is not None:
                        found.channel = e.channel
                elif isinstance(e, ContactUpdated):
                    # New attributes reach the customer updates and the history.
                    found = contacts.get(e.contact_id)
                    command = record.command
                    if (
                        found is not None
                        and isinstance(command, UpdateContact)
                        and command.attributes is not None
                    ):
                        found.attributes = command.attributes

    @staticmethod
    def _arrival(record: LogRecord, at: float, channel: str) -> _Live:
        """A contact the router took in (or refused) at ``at``, from its submit."""
        command = record.command
        if isinstance(command, (Submit, ScheduleCallback)):
            return _Live(command.contact.customer_id, command.contact.attributes, at, channel)
        return _Live(None, {}, at, channel)

    def _end(
        self,
        e: WrapUpEnded | Abandoned | TimedOut | Refused | CallbackClosed,
        outcome: Outcome,
        history: bool,
        *,
        closed: str | None = None,
    ) -> None:
        """A contact left: forget it, and queue its closing update and history."""
        contact_id = e.contact_id
        live = self._book.contacts.pop(contact_id, None)
        self._book.profiles.pop(contact_id, None)
        if closed is not None:
            self._update("closed", e, live, reason=closed)
        if history:
            record = HistoryRecord(
                contact_id=contact_id,
                customer_id=None if live is None else live.customer_id,
                channel=e.channel,
                queue=e.queue,
                outcome=outcome,
                arrived_at=e.at if live is None else live.arrived_at,
                ended_at=e.at,
                answered_at=None if live is None or live.answered is None else live.answered[0],
                agent_id=None if live is None or live.answered is None else live.answered[1],
                attributes={} if live is None else live.attributes,
                completed_at=None if live is None else live.completed_at,
                disposition=e.disposition if isinstance(e, WrapUpEnded) else None,
                transfers=() if live is None or not live.transfers else tuple(live.transfers),
            )
            self._lane(contact_id, functools.partial(self._record_history, record))

    # ------------------------------------------------------------ observers

    async def _observer(
        self, receive: MemoryObjectReceiveStream[tuple[tuple[Event, ...], int]]
    ) -> None:
        """Hand durable batches to the observers, one at a time, in log order."""
        hooks = self._hooks
        assert hooks is not None
        async with receive:
            async for events, seq in receive:
                try:
                    await hooks.events(events)
                finally:
                    self._observed_seq = seq

    # -------------------------------------------------------- offer delivery

    def _offer(self, offer: Offered) -> None:
        if not self._want_offers:
            # No adapter at all (said once, at start): the note says it all.
            self._note(OfferDelivered, offer.contact_id, offer.agent_id, False)
            return
        self._offers[(offer.contact_id, offer.agent_id)] = offer
        assert self._pool is not None
        self._pool.submit(functools.partial(self._deliver, offer))

    async def _deliver(self, offer: Offered, *, again: bool = False) -> None:
        """Show one offer on the agent's side, unless it is no longer open; note it."""
        hooks = self._hooks
        assert hooks is not None
        key = (offer.contact_id, offer.agent_id)
        delivered = False
        try:
            if again or self._offers.get(key) is offer:
                delivery = self._delivery(offer)
                customer = None if delivery is None else delivery.contact.customer_id
                if customer is not None and self._want_crm_history:
                    history = await hooks.crm_history(customer)
                    # Looked up while the offer may have been answered: ask again.
                    delivery = self._delivery(offer)
                    if delivery is not None:
                        delivery = attrs.evolve(delivery, history=history)
                if delivery is not None:
                    delivered = await hooks.deliver_offer(delivery)
                    if not delivered:
                        self._undelivered(offer)
        finally:
            if self._offers.get(key) is offer:
                del self._offers[key]
            self._note(OfferDelivered, offer.contact_id, offer.agent_id, delivered)

    def _delivery(self, offer: Offered) -> OfferDelivery | None:
        """What the adapter is shown, or ``None`` when the offer is no longer open
        (answered, withdrawn, timed out, the contact or agent gone)."""
        router = self._live
        try:
            contact = router.contact(offer.contact_id)
            agent = router.agent(offer.agent_id)
        except UnknownIdError:
            return None
        # The agent's own view: with ring-all several agents hold one contact's
        # offer, and the contact's ``agent_id`` names only one of them.
        if contact.state is not ContactState.OFFERED or offer.contact_id not in agent.offered:
            return None
        profile = copy_json(self._book.profiles.get(offer.contact_id, {}))
        return OfferDelivery(offer, contact, agent, profile)

    @staticmethod
    def _undelivered(offer: Offered) -> None:
        log.warning(
            "no channel adapter delivered the offer of contact %r to agent %r (%s)",
            offer.contact_id,
            offer.agent_id,
            offer.channel,
        )

    async def _redeliver_open_offers(self) -> None:
        """Offers open when the service last stopped reach the agents' side again
        (concurrently, each with its own timeout), with their CRM profiles."""
        router = self._live
        holders: dict[str, list[str]] = {}  # a ringing contact has several
        for agent_id in router.agent_ids:
            for contact_id in router.agent(agent_id).offered:
                holders.setdefault(contact_id, []).append(agent_id)
        offers: list[Offered] = []
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            if view.state is ContactState.OFFERED:
                offers.extend(
                    Offered(router.now, contact_id, agent_id, view.queue, view.channel, None)
                    for agent_id in holders.get(contact_id, ())
                )
        if not offers or not self._want_offers:
            return
        async with anyio.create_task_group() as tg:
            for offer in offers:
                tg.start_soon(functools.partial(self._deliver, offer, again=True))

    # ------------------------------------------- customer updates and history

    def _lane(self, contact_id: str, job: _Job) -> None:
        """Queue ``job`` on the contact's lane: its jobs run one at a time, in order."""
        lane = self._lanes.get(contact_id)
        if lane is not None:
            lane.append(job)
            return
        self._lanes[contact_id] = deque([job])
        assert self._pool is not None
        self._pool.submit(functools.partial(self._run_lane, contact_id))

    async def _run_lane(self, contact_id: str) -> None:
        lane = self._lanes[contact_id]
        try:
            while lane:
                try:
                    await lane[0]()
                except Exception:
                    # The service's own code (hooks isolate the plugins): the
                    # contact's later jobs still run.
                    log.exception("plugin work for contact %r failed", contact_id)
                finally:
                    lane.popleft()
        finally:
            # Cancelled (the service stopping): what is left is dropped.
            if self._lanes.get(contact_id) is lane:
                del self._lanes[contact_id]

    def _update(
        self,
        kind: UpdateKind,
        e: Accepted
        | Completed
        | WrapUpEnded
        | Abandoned
        | TimedOut
        | Refused
        | CallbackScheduled
        | CallbackClosed,
        live: _Live | None,
        *,
        agent_id: str | None = None,
        reason: str | None = None,
        wait: float | None = None,
    ) -> None:
        update = self._customer_update(
            kind, e.contact_id, e.at, live, agent_id, reason, estimated_wait=wait
        )
        self._lane(e.contact_id, functools.partial(self._send_update, update))

    def _queued(self, contact_id: str, queue: str, at: float, live: _Live) -> None:
        # The position is read when the update goes out.
        self._lane(contact_id, functools.partial(self._send_queued, contact_id, queue, at, live))

    @staticmethod
    def _customer_update(
        kind: UpdateKind,
        contact_id: str,
        at: float,
        live: _Live | None,
        agent_id: str | None = None,
        reason: str | None = None,
        position: int | None = None,
        estimated_wait: float | None = None,
    ) -> CustomerUpdate:
        return CustomerUpdate(
            kind=kind,
            contact_id=contact_id,
            channel="" if live is None else live.channel,
            customer_id=None if live is None else live.customer_id,
            at=at,
            position=position,
            estimated_wait=estimated_wait,
            agent_id=agent_id,
            reason=reason,
            attributes={} if live is None else live.attributes,
        )

    async def _send_update(self, update: CustomerUpdate) -> None:
        assert self._hooks is not None
        await self._hooks.customer_update(update)

    async def _send_queued(self, contact_id: str, queue: str, at: float, live: _Live) -> None:
        router = self._live
        position = estimate = None
        try:
            view = router.contact(contact_id)
            if view.state is ContactState.WAITING and view.queue == queue:
                position = router.position(contact_id)
                estimate = router.estimated_wait(contact_id)
        except UnknownIdError:
            pass  # gone already
        await self._send_update(
            self._customer_update("queued", contact_id, at, live, None, None, position, estimate)
        )

    async def _record_history(self, record: HistoryRecord) -> None:
        assert self._hooks is not None
        await self._hooks.crm_record(record)
        self._note(HistoryRecorded, record.contact_id, record.outcome)

    async def _self_served(
        self, contact: Contact, at: float, outcome: str = "self-service"
    ) -> None:
        live = _Live(contact.customer_id, contact.attributes, at, contact.channel)
        if self._want_updates:
            await self._send_update(
                self._customer_update("closed", contact.id, at, live, reason=outcome)
            )
        if self._want_history:
            await self._record_history(
                HistoryRecord(
                    contact_id=contact.id,
                    customer_id=contact.customer_id,
                    channel=contact.channel,
                    queue=contact.queue,
                    outcome="abandoned" if outcome == "abandoned" else "self-service",
                    arrived_at=at,
                    ended_at=at,
                    attributes=contact.attributes,
                )
            )

    # ------------------------------------------------- periodic wait updates

    def _schedule_wait_update(self, contact_id: str, at: float) -> None:
        updates = self._wait_updates
        if updates is not None:
            first = updates.next_due()
            updates.schedule(contact_id, at)
            if updates.next_due() < first:
                self._wake_wait_updates.set()

    def _send_wait_updates(self) -> None:
        """Send the ``queued`` updates due now to the contacts still waiting."""
        updates = self._wait_updates
        if updates is None or not self._want_updates:
            return
        router = self._live
        for due, contact_id in updates.due(self._clock.now()):
            live = self._book.contacts.get(contact_id)
            if live is None:
                continue
            try:
                view = router.contact(contact_id)
            except UnknownIdError:
                continue  # gone: no more updates
            if view.state is ContactState.WAITING:
                self._queued(contact_id, view.queue, due, live)
                updates.schedule(contact_id, due)

    async def _wait_update_loop(self) -> None:
        """Wake when the next periodic ``queued`` update falls due, and send it."""
        assert self._wait_updates is not None
        while True:
            self._wake_wait_updates = anyio.Event()
            delay = self._wait_updates.next_due() - self._clock.now()
            if delay > 0:
                with anyio.move_on_after(delay):
                    await self._wake_wait_updates.wait()
                continue
            self._send_wait_updates()

    # ---------------------------------------------------------------- timer

    async def _timer(self) -> None:
        """Wake when the router's next timer falls due, and apply it."""
        router = self._live
        while True:
            self._wake_timer = anyio.Event()
            due = router.next_due()
            if due is None:
                self._timer_due = math.inf
                await self._wake_timer.wait()
                continue
            self._timer_due = due
            delay = due - self._clock.now()
            if delay > 0:
                with anyio.move_on_after(delay):
                    await self._wake_timer.wait()
                continue
            self._timer_due = math.inf
            try:
                await self._apply(Tick())
            except ServiceError:
                return  # stopping, or the service failed
            except Exception:
                log.exception("applying due timers failed")
                return

    # ------------------------------------------------------------- recovery

    async def _recover(self, strategies: Mapping[str, Any]) -> None:
        """Rebuild the router and the bookkeeping from the latest snapshot and the
        records after it."""
        assert self._storage is not None
        recovered = await self._store_call(self._storage.load)
        _check_recovered(recovered, self._storage)
        self._rebuild(recovered, strategies)

    def _rebuild(self, recovered: Recovered, strategies: Mapping[str, Any]) -> None:
        """Rebuild the router and the bookkeeping from what a store loaded."""
        self.recovery_problem = recovered.problem
        if recovered.problem is not None:
            log.error("recovering from storage: %s", recovered.problem)
        book = self._book = _Book(self._metrics)
        where = self._storage if self._storage is not None else self._given_storage
        if recovered.snapshot is not None:
            try:
                state, saved = _unframe(recovered.snapshot)
                router = Router.restore(state, strategies=strategies, masking=self._masking)
                book.load(router, saved)
            except Exception as error:
                # Its checksum held, so the store wrote it so: a snapshot
                # its writer got wrong, or one forged. Name it, and the log.
                raise StorageError(
                    f"recovering from {where!r}: the snapshot after record "
                    f"{recovered.snapshot_seq} cannot be restored: {error}{self._strategy_hint()}"
                ) from error
            clock = router.clock
            assert isinstance(clock, ManualClock)
            self._rclock = clock
            # A snapshot written without masking (or under fewer rules) holds raw profiles.
            book.profiles = {k: self._masking.value(v) for k, v in book.profiles.items()}
        else:
            self._rclock = ManualClock()
            router = Router(
                self._rclock,
                seed=self._seed,
                strategies=strategies,
                policy=self._policy,
                masking=self._masking,
            )
        try:
            records = map(self._masking.log_record, recovered.records)
            replay(router, self._rclock, records, self._fold)
        except StorageError as error:
            # Name the log: the person reading this has to find the file.
            raise StorageError(
                f"recovering from {where!r}: {error}{self._strategy_hint()}"
            ) from error
        self._router = router
        self._view = ReadOnlyRouter(router)
        self._seq = self._durable_seq = recovered.last_seq
        self._snapshot_seq = recovered.snapshot_seq
        self._failure = None
        self._pending, self._notes, self._batch = EncodedRecords(), [], _Batch()

    def _strategy_hint(self) -> str:
        """Why a recovery may have failed, when a plugin's strategies are missing."""
        failed = (
            None if self._hooks is None else self._hooks.last_errors.get("ccroute_agent_strategies")
        )
        if failed is None and not (
            self._hooks is not None
            and any(hook == "ccroute_agent_strategies" for hook, _p, _k in self._hooks.failures)
        ):
            return ""
        why = "" if failed is None else f": {failed!r}"
        return (
            " (a ccroute_agent_strategies hook failed at this start"
            f"{why}; its strategies are missing)"
        )

    # ============================================ a warm copy, for ccroute.cluster
    #
    # A standby node keeps a Service that is never started as a warm copy of
    # the leader's: rebuilt once from the log, then fed the records as the
    # leader appends them. At takeover, _warm_state() is the snapshot the
    # node's new Service starts from, so it replays only what it has not seen.

    async def _warm_load(self, recovered: Recovered) -> None:
        """Rebuild this (never started) service's router and bookkeeping from
        ``recovered``, with the agent strategies its plugins give."""
        if self._stack is not None:
            raise ServiceError("a running service is not a warm copy")
        if self._warm_strategies is None:
            pm = make_plugin_manager(self._plugins, load_entrypoints=self._load_entrypoints)
            hooks = Hooks(pm, timeout=self._hook_timeout, logger=log)
            self._warm_strategies = await hooks.agent_strategies()
        self._rebuild(recovered, self._warm_strategies)

    def _warm_apply(self, records: Sequence[LogRecord]) -> bool:
        """Take in records the leader appended after :attr:`durable_seq`;
        ``False`` (nothing taken) when the first is not the next one.

        :raises StorageError: a record replays to other events (the copy is
            of no use then: load again).
        """
        if not records:
            return True
        if records[0].seq != self._seq + 1:
            return False
        replay(self._live, self._rclock, map(self._masking.log_record, records), self._fold)
        self._seq = self._durable_seq = records[-1].seq
        return True

    def _warm_state(self) -> Recovered:
        """The warm copy as a store would load it: a snapshot of everything taken in."""
        state = _frame(self._live.snapshot(), self._book.export())
        return Recovered(snapshot_seq=self._seq, snapshot=state)


def _check_flow_progress(note: object) -> None:
    """Refuse a note :meth:`Service.note_flow` cannot log as it should."""
    if not isinstance(note, (FlowStarted, FlowAdvanced, FlowFinished)):
        raise InvalidValueError(
            f"note_flow takes FlowStarted, FlowAdvanced or FlowFinished, got {note!r:.80}"
        )
    kind = type(note).__name__
    if not isinstance(note.contact_id, str) or not note.contact_id:
        raise InvalidValueError(f"{kind}: contact_id must be a non-empty string")
    name = (
        "flow"
        if isinstance(note, FlowStarted)
        else "node"
        if isinstance(note, FlowAdvanced)
        else "outcome"
    )
    text = getattr(note, name)
    if not isinstance(text, str) or not text:
        raise InvalidValueError(
            f"{kind} of contact {note.contact_id!r}: {name} must be a non-empty string"
        )
    if isinstance(note, FlowFinished) and note.flow is not None and not isinstance(note.flow, str):
        raise InvalidValueError(f"FlowFinished of contact {note.contact_id!r}: flow must be a str")
    if isinstance(note, (FlowStarted, FlowAdvanced)):
        contact = note.contact
        if not isinstance(contact, Contact):
            raise InvalidValueError(
                f"{kind} of contact {note.contact_id!r}: contact must be a Contact, "
                f"got {type(contact).__name__}"
            )
        if contact.id != note.contact_id:
            raise InvalidValueError(
                f"{kind} of contact {note.contact_id!r} holds the contact {contact.id!r}"
            )


def _check_recovered(recovered: object, store: object) -> None:
    """Refuse what a store's ``load`` returned unless it is a :class:`Recovered`
    the service can start from: a snapshot's bytes (or none, at seq 0) and
    :class:`LogRecord` values numbered on from the snapshot. A store is plugin
    code; what it returns is checked as a hook's result is."""
    problem = None
    if not isinstance(recovered, Recovered):
        problem = f"{_short(recovered)}, not a Recovered"
    else:
        seq = recovered.snapshot_seq
        snapshot = recovered.snapshot
        if type(seq) is not int or seq < 0:
            problem = f"a snapshot_seq of {_short(seq)}"
        elif (snapshot is None and seq != 0) or not isinstance(snapshot, bytes | None):
            problem = f"a snapshot of {_short(snapshot)} after record {seq}"
        elif recovered.problem is not None and not isinstance(recovered.problem, str):
            problem = f"a problem of {_short(recovered.problem)}"
        else:
            for expected, record in enumerate(recovered.records, seq + 1):
                if not isinstance(record, LogRecord):
                    problem = f"{_short(record)} where record {expected} was due"
                    break
                if record.seq != expected:
                    problem = f"record {_short(record.seq)} where record {expected} was due"
                    break
    if problem is not None:
        raise StorageError(f"the store {store!r} loaded {problem}: it cannot be recovered from")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_flow_note(contact: Contact, flow: object) -> None:
    """Refuse a flow note that is not a :class:`~ccroute.FlowFinished` of ``contact``."""
    if flow is None:
        return
    if not isinstance(flow, FlowFinished):
        raise InvalidValueError(f"flow must be a FlowFinished note, got {flow!r:.80}")
    if flow.contact_id != contact.id:
        raise InvalidValueError(
            f"the flow note is of contact {flow.contact_id!r}, not of {contact.id!r}"
        )


def replay(
    router: Router,
    clock: ManualClock,
    records: Iterable[LogRecord],
    fold: Callable[..., None] | None = None,
) -> None:
    """Apply logged calls to ``router`` at their logged times, checking each gives
    the events that were logged (a divergence means the log does not belong to
    this router or this version of ccroute: :class:`StorageError`).

    A custom agent strategy is not asked again: each of its decisions takes
    the agent the record's offer went to, when that agent may take the
    contact at that point (``Router._follow``), so a strategy that raises now
    and then, keeps state, draws random numbers or reads the time replays as
    it ran. Everything else is decided again and must agree with the log.

    ``fold(records, dispatch=False)``, when given, takes in each record (notes
    included) once the router has.
    """
    for record in records:
        if not isinstance(record.command, Note):
            clock.set(max(record.at, clock.now()))
            router._follow(record.events)
            try:
                events = record.command.apply(router)
            except CCRouteError as error:
                raise StorageError(
                    f"log record {record.seq} ({record.name}) cannot be replayed: {error}"
                ) from error
            finally:
                router._unfollow()
            if tuple(events) != record.events:
                raise StorageError(
                    f"log record {record.seq} ({record.name}) replays to different events: "
                    f"logged {list(record.events)}, got {events}"
                )
        if fold is not None:
            fold((record,), dispatch=False)
