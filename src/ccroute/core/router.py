"""The Router: a deterministic, sans-I/O state machine that routes contacts to agents.

The router holds the universal queue, the agents and their work, and the
timers the routing rules need. It performs no I/O and never reads the wall
clock: time comes from the clock object it is given. Every public call

1. reads the clock (a clock that fails, reads no finite number or went
   backwards raises :class:`ClockError`),
2. checks all its arguments (types, ranges, ids, states) against the router
   as it stands and raises, changing nothing at all (not even
   :attr:`Router.now`), if they are wrong,
3. applies every timer that fell due since the last call, at its due time
   (exactly as :meth:`Router.tick` would; those events are handed to
   observers at once), and if any did, checks the call again: a timer may
   have changed what it needs,
4. applies the change, routes whatever the change made routable, and
5. returns the events it caused (timer events first), which observers also
   receive, each as a list of its own; an observer that raises is counted in
   :attr:`Router.observer_failures` and never makes the call raise.

Routing order (see docs/routing.md): a contact that becomes routable (it
arrived, came back, was transferred, had its requirements relaxed) is offered
at once to the best eligible agent under its queue's strategy; an agent that
gains capacity is offered, repeatedly while it has room, the waiting contact
with the smallest key it is eligible for. When one call does both (a
rejection, a transfer out of an agent's hands), the agent is routed first, so
that it takes the most deserving contact it can, and then the contact.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
from sortedcontainers import SortedList

from .. import _codes
from .._codes import (
    LONGEST_IDLE,
    NONE,
    RANDOM,
    Key,
    contact_key,
)
from .._queue import new_queue
from .._queue_protocol import QueueBackend, check_backend
from .._snapshot_read import check_references
from .._values import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_SECONDS,
    MAX_TIER,
    check_bool,
    check_id,
    check_int,
    check_seconds,
    check_text,
    exact_int,
    exact_real,
    fail,
    finite_float,
    is_int,
    show,
)
from ..business_hours import WhenClosed
from ..clock import Clock, ManualClock
from ..errors import (
    CCRouteError,
    ClockError,
    DuplicateIdError,
    InputError,
    InvalidStateError,
    InvalidValueError,
    UnknownIdError,
)
from ..events import (
    Abandoned,
    AgentAdded,
    AgentRemoved,
    AgentUpdated,
    CallbackClosed,
    CallbackRequested,
    CallbackScheduled,
    CallbackScheduleReason,
    CallbackUnanswered,
    ContactUpdated,
    Event,
    Offered,
    OfferReason,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    OverflowReason,
    PreferenceExpired,
    PreferenceExpiryReason,
    PresenceChanged,
    QueueUpdated,
    RampUpEnded,
    RampUpEndReason,
    Refused,
    Rejected,
    Rejoined,
    StepApplied,
    TimedOut,
    Transferred,
    _build_accepted,
    _build_completed,
    _build_offered,
    _build_queued,
    _build_wrap_up_ended,
)
from ..explain import (
    HOLD_BACKS,
    AgentExplanation,
    AgentVerdict,
    ContactExplanation,
    ContactVerdict,
    NotEligible,
)
from ..lifecycle import (
    TIMERS_ENDED,
    ContactAction,
    ContactState,
    check_presence_change,
    contact_transition,
)
from ..masking import Masking, masking_for
from ..model import (
    BUILTIN_CHANNELS,
    MAX_LEVEL,
    MIN_LEVEL,
    Agent,
    Channel,
    Contact,
    Presence,
    QueueConfig,
    RoutingStep,
)
from ..policies import RoutingPolicy
from ..snapshot import FORMAT as SNAPSHOT_FORMAT
from ..snapshot import (
    AbandonmentRecord,
    AgentRecord,
    ContactRecord,
    Exclusion,
    HandleTimeRecord,
    QueueRecord,
    RandomState,
    RejoinRecord,
    RouterState,
    TimerKind,
    TimerRecord,
)
from ..views import AgentStatus, AgentView, ChannelStats, ContactView, QueueStats, TickResult
from .dispositions import check_disposition
from .estimated_wait import HandleTimes, Patience, WaitEstimator
from .policies import (
    AdmissionRules,
    ChannelBlocking,
    ChannelReservation,
    Exclusions,
    OpeningHours,
    PreferredAgents,
    QueueDelays,
    RampingUp,
    RejectionBar,
    Rejoins,
    WaitLimits,
)

if TYPE_CHECKING:
    import inspect

    from ..hooktypes import AgentStrategy

__all__ = ["Observer", "Router"]

#: An observer receives every non-empty batch of events, in order, each time
#: as a new list of its own (changing it changes nothing for anyone else).
Observer = Callable[[list[Event]], None]

_T = TypeVar("_T")

_INF: Final = math.inf


def _nothing() -> None:
    """The check of a call that has nothing to check (:meth:`Router._begin`)."""


_OFFER: Final = 0
_WRAP: Final = 1
_STEP: Final = 2
_PREFERENCE: Final = 3
_MAXWAIT: Final = 4
_DELAY: Final = 5
# An agent's timer (its records carry tokens too).
_RAMP: Final = 6
_CALLBACK: Final = 7
_TOKENS: Final = 8

# A queue whose strategy is a custom AgentStrategy, scored in Python.
_CUSTOM: Final = -2
# Timer codes as a state document names them (ccroute.lifecycle.TimerKind).
_TIMER_KINDS: Final = (
    TimerKind.OFFER,
    TimerKind.WRAP_UP,
    TimerKind.STEP,
    TimerKind.PREFERENCE,
    TimerKind.MAX_WAIT,
    TimerKind.DELAY,
    TimerKind.RAMP_UP,
    TimerKind.CALLBACK,
)
_TIMER_CODES: Final = {kind: code for code, kind in enumerate(_TIMER_KINDS)}
# lifecycle.TIMERS_ENDED as timer codes, keyed by the action's identity (an
# Enum hashes in Python); a final state ends every timer, by forgetting the
# contact, so it needs no codes.
_ENDED_CODES: Final[dict[int, tuple[int, ...]]] = {
    id(action): tuple(sorted(_TIMER_CODES[kind] for kind in TIMERS_ENDED.get(action, ())))
    for action in ContactAction
}

_S = ContactState
# The key of a scheduled callback until its entry is timed (at once).
_NO_KEY: Final = (0, 0.0, 0)
# States in which a contact has been answered (ContactView.answered_at).
_ANSWERED: Final = frozenset({ContactState.IN_SERVICE, ContactState.WRAP_UP})
# Contacts that never gained queues through a routing step share this one.
_NO_QUEUES: frozenset[str] = frozenset()
_A = ContactAction

# The records below are internal and assigned on every routing step. They are
# plain classes, not attrs ones: router.pxd declares them as typed extension
# types, so that the compiled build of this module (setup.py) reads and writes
# their fields as C struct members; interpreted, ``__slots__`` keeps them small.


class _ContactRec:
    """A contact the router holds, with its routing state."""

    __slots__ = (
        "accepted_at",
        "agent",
        "also",
        "arrived_at",
        "attempts",
        "base",
        "channel",
        "completed_at",
        "disposition",
        "due",
        "entered_at",
        "extra_queues",
        "fled",
        "handle",
        "key",
        "live",
        "overdue",
        "queue",
        "rejected_by",
        "requirements",
        "sig",
        "spec",
        "state",
        "steps_applied",
        "target",
        "timeout_at",
        "tokens",
    )

    def __init__(
        self,
        spec: Contact,
        handle: int,
        state: ContactState,
        queue: str,
        channel: str,
        base: dict[str, int],
        requirements: dict[str, int],
        extra_queues: frozenset[str],
        key: Key,
        arrived_at: float,
        entered_at: float,
        steps_applied: int = 0,
        agent: str | None = None,
        target: str | None = None,
        rejected_by: set[str] | None = None,
        accepted_at: float = 0.0,
        completed_at: float = 0.0,
        also: list[str] | None = None,
        timeout_at: float | None = None,
        overdue: bool = False,
        fled: tuple[float, frozenset[str]] | None = None,
        attempts: int = 0,
    ) -> None:
        self.spec = spec
        self.handle = handle
        self.state = state
        self.queue = queue
        self.channel = channel
        self.base = base
        self.requirements = requirements
        self.extra_queues = extra_queues
        self.key = key
        self.arrived_at = arrived_at
        self.entered_at = entered_at
        self.sig: int = NONE
        self.steps_applied = steps_applied
        self.agent = agent
        self.target = target
        # None until someone rejects it: most contacts never are, and an empty
        # set per waiting contact costs 216 bytes.
        self.rejected_by = rejected_by
        self.tokens: list[int] = [0] * _TOKENS
        self.accepted_at = accepted_at
        self.completed_at = completed_at
        self.live = True
        # ring-all: agents besides ``agent`` holding an offer of this contact
        self.also = also
        self.timeout_at = timeout_at
        # its maximum wait passed while it was offered: it leaves when it returns
        self.overdue = overdue
        # (time, queues) it left at that time because no agent could take it:
        # stops an overflow cycle between unstaffed queues
        self.fled = fled
        # a scheduled callback: when it enters its queue (None otherwise), and
        # the calls made for it that went unanswered
        self.due: float | None = None
        self.attempts = attempts
        # the wrap-up code given at completion, carried to WrapUpEnded
        self.disposition: str | None = None


class _AgentRec:
    """An agent the router holds, with its work and its state."""

    __slots__ = (
        "capacity",
        "handle",
        "handled",
        "idle_since",
        "in_service",
        "levels",
        "live",
        "load",
        "offered",
        "presence",
        "ramp_left",
        "ramping",
        "rejected",
        "reserved",
        "spec",
        "tokens",
        "wrap_up",
    )

    def __init__(
        self,
        spec: Agent,
        handle: int,
        capacity: dict[str, int],
        presence: Presence = Presence.OFFLINE,
        idle_since: float = 0.0,
        handled: int = 0,
        levels: dict[str, int] | None = None,
        ramping: bool = False,
        ramp_left: int | None = None,
    ) -> None:
        self.spec = spec
        self.handle = handle
        self.capacity = capacity
        self.presence = presence
        self.offered: set[str] = set()
        self.in_service: set[str] = set()
        self.wrap_up: set[str] = set()
        # waiting or offered contacts this agent rejected or let time out
        self.rejected: set[str] = set()
        # waiting contacts reserved for this agent
        self.reserved: set[str] = set()
        self.load: dict[str, int] = {}
        self.idle_since = idle_since
        self.handled = handled
        self.tokens: list[int] = [0] * _TOKENS
        self.live = True
        # the agent's skills as a dict, for the policies' Python checks
        self.levels: dict[str, int] = {} if levels is None else levels
        self.ramping = ramping
        # contacts still to accept before the ramp ends (None: no such limit)
        self.ramp_left = ramp_left


@attrs.define(slots=True, eq=False)
class _Counts:
    """Agents available per queue, and logged in and available per channel."""

    queue_available: dict[str, int] = attrs.Factory(dict)
    channel_logged_in: dict[str, int] = attrs.Factory(dict)
    channel_available: dict[str, int] = attrs.Factory(dict)

    def add(self, channel: str, logged: int, available: int) -> None:
        self.channel_logged_in[channel] = self.channel_logged_in.get(channel, 0) + logged
        self.channel_available[channel] = self.channel_available.get(channel, 0) + available


class _QueueRec:
    """A queue the router holds, with its counts."""

    __slots__ = (
        "config",
        "custom",
        "handle",
        "last_agent",
        "logged_in",
        "present",
        "scheduled",
        "strategy",
        "waiting",
    )

    def __init__(
        self, config: QueueConfig, handle: int, strategy: int, custom: str | None = None
    ) -> None:
        self.config = config
        self.handle = handle
        self.strategy = strategy
        self.custom = custom
        self.last_agent: str | None = None
        self.waiting = 0
        # waiting plus offered: what the size limit counts
        self.present = 0
        # members not offline: what the LOGGED_IN admission rule reads
        self.logged_in = 0
        # callbacks held for later (state scheduled): counted apart from present
        self.scheduled = 0


class _InitSignature:
    """``Router.__signature__``: what :func:`inspect.signature` gives for the
    class, in both builds.

    The compiled build's ``__init__`` is a slot of the extension type, which
    has no signature to read; the class then answers with the source's
    (imported when first asked, never by routing). A class whose ``__init__``
    is Python (the source's, a subclass's) answers with that one.
    """

    def __get__(self, instance: object, owner: type) -> inspect.Signature:
        import inspect

        init = owner.__init__  # type: ignore[misc]
        if not inspect.isfunction(init):
            from ccroute.core import router as source

            init = source.Router.__init__
        signature = inspect.signature(init)
        return signature.replace(parameters=tuple(signature.parameters.values())[1:])


def _finite(value: object) -> bool:
    """Whether ``value`` is a score a live decision could have logged: a finite float."""
    return type(value) is float and math.isfinite(value)


class Router:
    """Routes contacts from every channel to the best available agent.

    :param clock: where time comes from; a :class:`~ccroute.ManualClock` at 0
        when omitted.
    :param seed: seed of the generator used by the random strategy.
    :param channels: the channels known from the start (the built-in ones by
        default); more can be added with :meth:`add_channel`.
    :param strategies: custom agent strategies (see
        :class:`~ccroute.AgentStrategy`) by the name a queue's
        ``strategy`` selects them with.
    :param policy: the router-wide policies (channel blocking, channel
        reservation, ramp-up); see docs/policies/.
    :param offer_reasons: whether each :class:`~ccroute.Offered` event
        carries an :class:`~ccroute.OfferReason`. Working it out costs
        O(eligible agents) per offer; simulations and benchmarks that do not
        read it can turn it off.
    :param queue_backend: a new, empty universal queue to route with, in
        place of the one this installation uses (``ccroute.IMPLEMENTATION``):
        an instance of either twin, or a reference matcher in tests. Anything
        that implements :class:`~ccroute.QueueBackend` will do.
    :param epoch: the Unix time of the router's time zero, which queues'
        business-hours calendars are read in: wall time is ``epoch + now``.
        0 (the default) for a router on a wall clock
        (:class:`~ccroute.WallClock` reads Unix time); a simulation that
        starts at 0 gives its start date-time (docs/business-hours.md).
    :param masking: the rules that mask sensitive data in contacts'
        attributes where they enter (:meth:`submit`, :meth:`update_contact`,
        :meth:`restore`), so that events, views and snapshots never hold
        the raw value: :class:`~ccroute.Masking` (card numbers, SSNs and
        sensitive field names) by default; ``Masking(enabled=False)``
        switches it off. Routing reads no attributes, so masking changes
        no decision. See docs/masking.md.

    Every mutating method returns the list of events it caused. See the
    module documentation for the order in which a call does things.
    """

    # The compiled build's __init__ is a C slot that inspect cannot read.
    __signature__ = _InitSignature()

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        channels: Iterable[Channel] = BUILTIN_CHANNELS,
        strategies: Mapping[str, AgentStrategy] | None = None,
        policy: RoutingPolicy | None = None,
        offer_reasons: bool = True,
        queue_backend: QueueBackend | None = None,
        epoch: float = 0.0,
        masking: Masking | None = None,
    ) -> None:
        # Everything is checked before anything is built or handed to the queue.
        epoch_seconds = finite_float(epoch)
        if epoch_seconds is None:
            raise InvalidValueError(
                f"epoch must be a finite number (Unix seconds), got {show(epoch)}"
            )
        masking = masking_for(masking, None)
        if policy is None:
            policy = RoutingPolicy()
        elif not isinstance(policy, RoutingPolicy):
            raise InvalidValueError(f"policy must be a RoutingPolicy, got {show(policy)}")
        if clock is None:
            clock = ManualClock()
        elif not callable(getattr(clock, "now", None)):
            raise InvalidValueError(
                f"clock must be a Clock (an object with a now() method), got {show(clock)}"
            )
        if not is_int(seed):
            raise InvalidValueError(f"seed must be an integer, got {show(seed)}")
        check_bool(offer_reasons, "offer_reasons")
        if queue_backend is not None:
            queue_backend = check_backend(queue_backend)
        channels = self._check_channels(channels)
        strategies = self._check_strategies(strategies)
        names = {channel.name for channel in channels}
        for holding, blocked in policy.blocking:
            for name in (holding, *sorted(blocked)):
                if name not in names:
                    raise UnknownIdError("channel", name)
        for name in sorted(policy.reserve_for):
            if name not in names:
                raise UnknownIdError("channel", name)
        self._clock: Clock = clock
        self._now = 0.0
        self._now = self._read_clock(first=True)
        self._rng = random.Random(seed)
        self._q: QueueBackend = queue_backend if queue_backend is not None else new_queue()
        self._observers: list[Observer] = []
        self._channels: dict[str, Channel] = {}
        self._channel_ids: dict[str, int] = {}
        self._queues: dict[str, _QueueRec] = {}
        self._skills: dict[str, int] = {}
        # (channel, queue, extra queues, requirements) -> the queue's signature
        # id. Queues, channels and skills are never renumbered and the queue
        # interns a signature for good, so an entry never goes stale.
        self._signatures: dict[tuple[Any, ...], int] = {}
        self._agents: dict[str, _AgentRec] = {}
        self._agent_by_handle: dict[int, _AgentRec] = {}
        self._contacts: dict[str, _ContactRec] = {}
        self._contact_by_handle: dict[int, _ContactRec] = {}
        # Goes up before anything can change (see _start): the estimated wait
        # keeps its agent pools while it stays the same (docs/estimated-wait.md).
        self._changes = 0
        self._timers: list[tuple[float, int, int, Any, int]] = []
        self._seq = itertools.count()
        self._timer_seq = itertools.count()
        self._agent_handles = itertools.count()
        self._contact_handles = itertools.count()
        self._requirement_dicts: dict[tuple[tuple[str, int], ...], dict[str, int]] = {}
        self._notified = 0
        self.submitted = 0
        """Contacts admitted since the router started."""
        self.completed = 0
        """Contacts whose wrap-up ended."""
        self.abandoned = 0
        """Contacts abandoned before being answered."""
        self.strategy_failures = 0
        """Decisions where a custom strategy raised or gave a score that is not a
        finite number, so longest idle chose instead."""
        self._strategies: dict[str, AgentStrategy] = strategies
        for channel in channels:
            self._add_channel(channel)
        self._policy = policy
        self._offer_reasons = offer_reasons
        # sensitive data masking (docs/masking.md); None when switched off
        self._masking: Masking | None = masking if masking.enabled else None
        # The one contact object a caller masked already under these very rules,
        # for the one call it makes now (Router._vouch: the service's calls);
        # None otherwise, so every other contact is masked here.
        self._premasked: Contact | None = None
        # The events of the logged call being replayed (Router._follow: the
        # service's replay), whose offers give custom strategies' choices;
        # None otherwise, so every live call asks the strategy.
        self._followed: Sequence[Event] | None = None
        self._check_channel_names(policy.blocking, "routing policy blocking")
        for name in sorted(policy.reserve_for):
            self._channel(name)
        # queue -> waiting contact ids, for queues with their own blocking or delays
        self._queue_waiting: dict[str, set[str]] = {}
        # blocking matrices (docs/policies/blocking.md); None until one is given
        self._blocking: ChannelBlocking | None = None
        if policy.blocking:
            self._block_channels()
        # channel reservation (docs/policies/blocking.md); None when not configured
        self._reservation: ChannelReservation | None = None
        if policy.reserve_for:
            self._reserve_channels()
        # ramp-up (docs/policies/ramp-up.md); None when not configured
        self._ramp_up = RampingUp(policy.ramp_up) if policy.ramp_up is not None else None
        # the rejection bar (docs/routing.md) and exclusions (docs/policies/exclusions.md)
        self._rejections = RejectionBar(self._agents, self._contacts, self._q)
        self._exclusions = Exclusions(self._contacts, self._agents)
        # contacts reserved for one agent (docs/routing.md, "Preferred agent")
        self._preferred = PreferredAgents(self._agents)
        # agents' queue delays (docs/policies/fairness.md); None until one is given
        self._queue_delays: QueueDelays | None = None
        # size limits and admission rules (docs/policies/admission.md); None
        # until a queue has one
        self._admission: AdmissionRules | None = None
        # maximum wait, overflow and skip-if-no-agent (docs/policies/max-wait.md);
        # None until a queue or a contact ends waits
        self._waits: WaitLimits | None = None
        # places kept for customers who abandoned (docs/policies/rejoin.md)
        self._rejoins = Rejoins()
        # queues' business hours (docs/business-hours.md); None until a queue
        # has a calendar
        self._epoch = epoch_seconds
        self._hours: OpeningHours | None = None
        self.timed_out = 0
        """Contacts that left with :class:`~ccroute.TimedOut`."""
        self.unreached = 0
        """Callbacks closed unreached (:class:`~ccroute.CallbackClosed`, reason
        ``"unreached"``): with the live contacts, :attr:`completed`,
        :attr:`abandoned` and :attr:`timed_out`, they add up to :attr:`submitted`."""
        # Read-side figures (position, queue_stats, channel_stats): derived,
        # never in a snapshot, built on first use and kept up to date after.
        # queue -> keys of its waiting contacts, in order
        self._ranks: dict[str, SortedList] = {}
        self._counts: _Counts | None = None
        # the estimated wait (docs/estimated-wait.md): handle times learned
        # from completions and abandonment from waits (both in the snapshot),
        # and the estimator reading them
        self._handle_times = HandleTimes()
        self._patience = Patience()
        self._estimator = WaitEstimator(
            self._agents,
            self._contacts,
            self._queues,
            self._q,
            self._channel_ids,
            self._handle_times,
            self._patience,
            lambda: self._changes,
        )

    # ================================================================ observers

    #: Observer calls that raised (an :class:`Exception`) since the router was
    #: made. A failing observer never makes a router call raise: the call's
    #: change is complete before observers run, the exception is counted here
    #: and kept in :attr:`last_observer_error`, and the other observers still
    #: get the batch.
    observer_failures: int = 0
    #: The exception the last failing observer raised, or ``None``.
    last_observer_error: Exception | None = None

    def observe(self, observer: Observer) -> None:
        """Hand every future batch of events to ``observer``.

        Observers run in the order they were added, once the change a batch
        reports is complete; each gets the batch as a new list of its own. An
        observer that raises is isolated: see :attr:`observer_failures`.
        """
        if not callable(observer):
            raise InvalidValueError(f"an observer must be callable, got {show(observer)}")
        self._observers.append(observer)

    def unobserve(self, observer: Observer) -> None:
        """Stop handing events to ``observer``; unknown observers raise :class:`UnknownIdError`,
        anything that is not callable (so never an observer) :class:`InvalidValueError`."""
        if not callable(observer):
            raise InvalidValueError(f"an observer must be callable, got {show(observer)}")
        try:
            self._observers.remove(observer)
        except ValueError:
            raise UnknownIdError("observer", repr(observer)) from None

    # ============================================================ configuration

    @property
    def clock(self) -> Clock:
        """The clock this router reads."""
        return self._clock

    @property
    def now(self) -> float:
        """The time of the router's last call (it only moves forward)."""
        return self._now

    def add_channel(self, channel: Channel) -> list[Event]:
        """Make a channel known. Agents added earlier get capacity 0 on it.

        Declaring again a channel equal to the one known by its name does
        nothing (``[]``, not even due timers run), so set-up code may run at
        every start; another channel under a known name raises
        :class:`DuplicateIdError` (a channel cannot be changed).
        """
        if isinstance(channel, Channel) and self._channels.get(channel.name) == channel:
            return []
        now, events, _ = self._start(lambda: self._check_channel(channel))
        self._add_channel(channel)
        return self._finish(now, events)

    def add_queue(self, config: QueueConfig) -> list[Event]:
        """Make a queue known, with its routing policy.

        Queues its routing steps widen to must be known already (or use
        :meth:`add_queues` for queues that refer to each other). Declaring
        again a queue equal to the one held does nothing (``[]``); other
        settings under a known name raise :class:`DuplicateIdError` (change
        them with :meth:`update_queue`).
        """
        return self.add_queues([config])

    def add_queues(self, configs: Iterable[QueueConfig]) -> list[Event]:
        """Make several queues known at once; their routing steps and overflow
        targets may refer to each other.

        Either every queue is added or, on an error, none. A config equal to
        the one held under its name is skipped, so set-up code may run at
        every start; when every one is, the call does nothing (``[]``, not
        even due timers run). Other settings under a known name raise
        :class:`DuplicateIdError` (change them with :meth:`update_queue`).
        """
        if isinstance(configs, (str, bytes, Mapping)) or not isinstance(configs, Iterable):
            raise InvalidValueError(f"add_queues expects QueueConfig values, got {show(configs)}")
        try:
            given = list(configs)
        except Exception:  # an iterable that fails while it is read
            raise InvalidValueError(
                f"add_queues expects QueueConfig values, got {show(configs)}"
            ) from None
        configs = [c for c in given if not self._redeclared_queue(c)]
        if given and not configs:
            return []
        now, events, _ = self._start(lambda: self._check_queues(configs))
        for config in configs:
            if isinstance(config.strategy, str):
                rec = _QueueRec(config, len(self._queues), _CUSTOM, config.strategy)
            else:
                rec = _QueueRec(config, len(self._queues), _codes.STRATEGY_CODES[config.strategy])
            self._queues[config.name] = rec
            if config.blocking:
                self._block_channels().set_queue_matrix(config.name, config.blocking)
                self._index_queue(config.name)
            if self._waits is not None or WaitLimits.needed(config):
                self._wait_limits().queue_set(None, config)
            if self._admission is None and AdmissionRules.needed(config):
                self._admit()
            if self._hours is None and OpeningHours.needed(config):
                self._hours = OpeningHours(self._epoch)
        return self._finish(now, events)

    @property
    def epoch(self) -> float:
        """The Unix time of the router's time zero (business hours read ``epoch + now``)."""
        return self._epoch

    def is_open(self, queue: str, at: float | None = None) -> bool:
        """Whether ``queue`` is open by its calendar at router time ``at``
        (default: the router's time, :attr:`now`; a live service passes its own
        time, which runs ahead of the router's between calls); ``True`` for a
        queue without one. Cost: O(1) without a calendar, else
        :meth:`BusinessHours.is_open <ccroute.BusinessHours.is_open>`'s.

        :raises UnknownIdError: for an unknown queue.
        :raises InvalidValueError: for an ``at`` that is not a finite number.
        """
        rec = self._queue(queue)
        when = self._now
        if at is not None:
            # Any finite time: a service asks at its own (Unix) time.
            at_seconds = finite_float(at)
            if at_seconds is None:
                fail("is_open: 'at'", "a finite number (router time)", at)
            when = at_seconds
        hours = self._hours
        return hours is None or hours.is_open(rec.config, when)

    def next_open(self, queue: str) -> float | None:
        """The router time at which ``queue`` next opens (:attr:`now` while it is
        open, or always without a calendar), or ``None`` if it never opens again."""
        rec = self._queue(queue)
        hours = self._hours
        return self._now if hours is None else hours.next_open(rec.config, self._now)

    @property
    def policy(self) -> RoutingPolicy:
        """The router-wide policies this router was built with."""
        return self._policy

    @property
    def strategies(self) -> dict[str, AgentStrategy]:
        """The custom strategies this router knows, by name."""
        return dict(self._strategies)

    @staticmethod
    def _check_strategy(name: str, strategy: object) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"a strategy name must be a non-empty string, got {name!r}")
        if not callable(getattr(strategy, "score", None)):
            raise InvalidValueError(
                f"strategy {name!r} must have a score(contact, agent) method, got {strategy!r}"
            )

    def _redeclared_queue(self, config: object) -> bool:
        """Whether ``config`` declares a queue held with exactly these settings."""
        if not isinstance(config, QueueConfig):
            return False
        held = self._queues.get(config.name)
        return held is not None and held.config == config

    def queue_config(self, name: str) -> QueueConfig:
        """The configuration of queue ``name``."""
        return self._queue(name).config

    @property
    def queues(self) -> list[str]:
        """Names of the known queues, in the order they were added."""
        return list(self._queues)

    @property
    def channels(self) -> list[Channel]:
        """The known channels, in the order they were added."""
        return list(self._channels.values())

    # ================================================================== agents

    def add_agent(self, agent: Agent, presence: Presence = Presence.OFFLINE) -> list[Event]:
        """Add an agent, offline unless ``presence`` says otherwise.

        Declaring again an agent equal to the one held (capacities included)
        does nothing (``[]``, not even due timers run), whatever ``presence``
        says: it is the presence a *new* agent starts in, and an agent's
        presence is its own to change (:meth:`set_presence`), so set-up code
        may run at every start without logging anyone in or out. Raises
        :class:`DuplicateIdError` for a known id with other settings (change
        them with :meth:`update_agent`), :class:`UnknownIdError` for an
        unknown queue or channel in the agent's settings.
        """
        if self._redeclared_agent(agent, presence):
            return []
        now, events, _ = self._start(lambda: self._check_agent(agent, presence))
        if agent.capacity is None:
            capacity = {name: ch.default_capacity for name, ch in self._channels.items()}
        else:
            capacity = {name: agent.capacity.get(name, 0) for name in self._channels}
        handle = next(self._agent_handles)
        rec = _AgentRec(agent, handle, capacity, idle_since=now, levels=dict(agent.skills))
        rec.load = dict.fromkeys(self._channels, 0)
        self._q.add_agent(
            handle,
            agent.id,
            {self._skill(name): level for name, level in agent.skills},
            [self._queues[name].handle for name in agent.queues],
            [capacity[name] for name in self._channels],
            -1 if agent.unit_budget is None else agent.unit_budget,
            now,
        )
        self._agents[agent.id] = rec
        self._agent_by_handle[handle] = rec
        if self._reservation is not None:
            self._reservation.changed()
        for name, delay in agent.queue_delays:
            if delay > 0:
                self._delay_queues().add(name, agent.id, delay)
                self._index_queue(name)
                # Contacts in the queue learn of the new delay: each needs a
                # timer for it (an offered one may come back before it passes).
                for contact in sorted(self._contacts.values(), key=lambda r: r.handle):
                    if contact.queue == name and contact.state in (_S.WAITING, _S.OFFERED):
                        self._schedule_delay(contact, now)
        events.append(AgentAdded(now, agent.id))
        if presence is not Presence.OFFLINE:
            self._set_presence(rec, presence, None, now, events)
        return self._finish(now, events)

    def remove_agent(self, agent_id: str) -> list[Event]:
        """Log the agent off (as :meth:`set_presence` would) and forget it.

        Refused with :class:`InvalidStateError` while the agent has contacts in service.
        """
        now, events, rec = self._start(lambda: self._check_can_log_off(self._agent(agent_id)))
        if rec.presence is not Presence.OFFLINE:
            self._set_presence(rec, Presence.OFFLINE, "removed", now, events)
        self._q.remove_agent(rec.handle)
        del self._agents[agent_id]
        del self._agent_by_handle[rec.handle]
        rec.live = False
        if self._reservation is not None:
            self._reservation.changed()
        queue_delays = self._queue_delays
        if queue_delays is not None:
            for name, _delay in rec.spec.queue_delays:
                queue_delays.remove(name, agent_id)
        events.append(AgentRemoved(now, agent_id))
        return self._finish(now, events)

    def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None = None
    ) -> list[Event]:
        """Change an agent's presence (log in, take a break, log off).

        Going offline ends the agent's wrap-ups, withdraws its open offers (the
        contacts go back to their places) and releases contacts waiting for it
        as their preferred agent. It is refused with :class:`InvalidStateError`
        while the agent has contacts in service. Setting the current presence
        again does nothing.
        """
        now, events, (rec, change) = self._start(self._check_presence, agent_id, presence, reason)
        if change:
            self._set_presence(rec, presence, reason, now, events)
        return self._finish(now, events)

    def set_capacity(self, agent_id: str, channel: str, capacity: int) -> list[Event]:
        """Set how many contacts of ``channel`` the agent may hold at once.

        Refused with :class:`InvalidStateError` below what the agent holds now.
        """
        now, events, (rec, ch, capacity) = self._start(
            lambda: self._check_capacity(agent_id, channel, capacity)
        )
        old = rec.capacity[channel]
        rec.capacity[channel] = capacity
        self._count_capacity(rec, channel, old, capacity)
        reservation = self._reservation
        if reservation is not None:
            reservation.changed()
        self._q.set_capacity(rec.handle, ch, capacity)
        if capacity < old:
            self._reroute_rejected(now, events)
            if capacity == 0:
                self._recheck_staffing(now, events)
        else:
            self._route_agent(rec, now, events)
        # Capacity on a reserved channel decides whom a waiting contact there keeps free.
        if reservation is not None:
            reservation.recheck()
        return self._finish(now, events)

    # ================================================================ contacts

    def submit(self, contact: Contact) -> list[Event]:
        """Admit a contact: queue it and offer it to an agent if one is eligible.

        A contact the queue does not admit (full, or its admission rule
        refuses it) gets a :class:`Refused` event with the reason and is not
        kept. Raises :class:`DuplicateIdError` if a live contact has the same
        id, :class:`UnknownIdError` for an unknown queue or channel. Its
        attributes are masked first (``masking``).
        """
        contact = self._masked(contact)
        now, events, queue = self._start(self._check_submit, contact)
        config = queue.config
        hours = self._hours
        if hours is not None:
            closed = hours.closed(config, now)
            if closed is not None and closed is not WhenClosed.ACCEPT:
                due = hours.next_open(config, now) if closed is WhenClosed.HOLD else None
                if due is None:
                    events.append(
                        Refused(now, contact.id, contact.queue, contact.channel, "closed")
                    )
                else:
                    self._hold(contact, queue, due, "closed", now, events)
                return self._finish(now, events)
        admission = self._admission
        if admission is not None:
            refusal = admission.refusal(contact, queue)
            if refusal is not None:
                events.append(Refused(now, contact.id, contact.queue, contact.channel, refusal))
                return self._finish(now, events)
        rejoined = self._rejoins.take(contact, config, now)
        key = self._new_key(contact, queue, now) if rejoined is None else rejoined[0]
        rec = self._take_in(contact, _S.WAITING, key, now)
        queue.present += 1
        events.append(_build_queued(now, contact.id, contact.queue, contact.channel))
        if rejoined is not None:
            events.append(Rejoined(now, contact.id, rejoined[1], contact.queue))
        excluded = self._exclusions.contact_added(rec)
        if contact.preferred_agent is not None and contact.preferred_wait > 0:
            due, lapsed = self._preferred.prefer(rec, excluded, now)
            if lapsed is not None:
                events.append(PreferenceExpired(now, contact.id, contact.preferred_agent, lapsed))
            elif due is not None:
                self._schedule(due, _PREFERENCE, rec)
        self._enqueue(rec)
        self._schedule_entry_timers(rec, now)
        self._route_contact(rec, now, events)
        self._check_staffed(rec, now, events)
        return self._finish(now, events)

    def accept(self, contact_id: str, agent_id: str) -> list[Event]:
        """The agent accepts the contact offered to it: the contact is answered.

        When the contact was offered to several agents at once (ring-all),
        the other offers are withdrawn with :class:`OfferRescinded`.
        """
        now, events, (rec, agent, after) = self._start(
            self._check_offered_to, contact_id, agent_id, _A.ACCEPT
        )
        # Only a ring-all offer has other holders (no list to build otherwise).
        others = [a for a in self._holders(rec) if a != agent_id] if rec.also else ()
        self._move(rec, _A.ACCEPT, after)
        rec.agent = agent_id
        rec.also = None
        rec.overdue = False
        self._unreserve(rec)
        self._rejections.forget(rec)
        agent.offered.discard(contact_id)
        agent.in_service.add(contact_id)
        agent.handled += 1
        self._q.count_handled(agent.handle)
        self._queues[rec.queue].present -= 1
        rec.accepted_at = now
        self._patience.left(rec.queue, rec.channel, now - rec.entered_at, False)
        events.append(
            _build_accepted(now, contact_id, agent_id, rec.queue, rec.channel, now - rec.entered_at)
        )
        released = []
        for other_id in others:
            other = self._agents[other_id]
            other.offered.discard(contact_id)
            self._release(other, rec.channel, now)
            events.append(OfferRescinded(now, contact_id, other_id, f"answered by {agent_id}"))
            released.append(other)
        if agent.ramping:
            assert self._ramp_up is not None
            if self._ramp_up.accepted(agent):
                self._end_ramp(agent, "accepted", now, events)
            else:
                # Its one offer is answered: a ramping agent may take the next.
                self._route_agent(agent, now, events)
        for other in released:
            self._route_agent(other, now, events)
        return self._finish(now, events)

    def reject(self, contact_id: str, agent_id: str) -> list[Event]:
        """The agent declines the offer; the contact goes back to its place.

        The contact is not offered to this agent again while another logged-in
        agent who has not rejected it could take it. When other agents still
        hold an offer of it (ring-all), it stays offered to them.
        """
        now, events, (rec, agent, after) = self._start(
            self._check_offered_to, contact_id, agent_id, _A.REJECT
        )
        if rec.also:
            events.append(Rejected(now, contact_id, agent_id))
            self._withdraw(rec, agent, now, declined=True)
            self._route_agent(agent, now, events)
            return self._finish(now, events)
        self._move(rec, _A.REJECT, after)
        events.append(Rejected(now, contact_id, agent_id))
        self._return_offer(rec, [agent], now, events, declined=True)
        return self._finish(now, events)

    def complete(self, contact_id: str, disposition: str | None = None) -> list[Event]:
        """The agent finished the contact; wrap-up begins (and may end at once).

        ``disposition`` is a wrap-up code from the queue's
        ``QueueConfig.dispositions`` (docs/crm.md); an unknown
        one is refused with :class:`~ccroute.InvalidValueError` and changes
        nothing.
        """
        now, events, (rec, after, code) = self._start(
            self._check_wrap_up, contact_id, _A.COMPLETE, disposition
        )
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        self._move(rec, _A.COMPLETE, after)
        rec.completed_at = now
        rec.disposition = code
        agent.in_service.discard(contact_id)
        agent.wrap_up.add(contact_id)
        events.append(
            _build_completed(
                now, contact_id, agent.spec.id, rec.queue, rec.channel, now - rec.accepted_at, code
            )
        )
        wrap = self._queues[rec.queue].config.wrap_up
        if wrap == 0:
            self._end_wrap_up(rec, now, events)
        elif wrap is not None:
            self._schedule(now + wrap, _WRAP, rec)
        return self._finish(now, events)

    def end_wrap_up(self, contact_id: str, disposition: str | None = None) -> list[Event]:
        """End a contact's wrap-up now (the agent pressed "ready").

        ``disposition`` (a code of the queue's list) replaces the one given
        with :meth:`complete`, if any.
        """
        now, events, (rec, after, code) = self._start(
            self._check_wrap_up, contact_id, _A.END_WRAP_UP, disposition
        )
        rec.disposition = code
        self._end_wrap_up(rec, now, events, after)
        return self._finish(now, events)

    def abandon(self, contact_id: str) -> list[Event]:
        """The customer left before being answered (waiting or while offered).

        With a rejoin window on its queue, the contact's place is kept for
        the customer for that long (see docs/policies/rejoin.md). A
        scheduled callback not yet due is cancelled: it ends with
        :class:`~ccroute.CallbackClosed` (reason ``"cancelled"``), not
        :class:`~ccroute.Abandoned` (it never waited, so no abandon rate
        counts it); :attr:`abandoned` counts it.
        """
        now, events, (rec, after) = self._start(self._check_abandon, contact_id)
        was = rec.state
        if was is _S.SCHEDULED:
            # A callback cancelled before its time: it never waited (no
            # Abandoned event, no abandon in the metrics), but it is abandoned.
            self._leave(rec, _A.CANCEL_CALLBACK, after)
            self._queues[rec.queue].scheduled -= 1
            self.abandoned += 1
            events.append(
                CallbackClosed(now, contact_id, rec.queue, rec.channel, rec.attempts, "cancelled")
            )
            return self._finish(now, events)
        holders: list[_AgentRec] = []
        if was is _S.OFFERED:
            holders = [self._agents[a] for a in self._holders(rec)]
            for agent in holders:
                agent.offered.discard(contact_id)
                self._release(agent, rec.channel, now)
        else:
            self._dequeue(rec)
        self._queues[rec.queue].present -= 1
        self._rejoins.keep(
            rec.spec.customer_id,
            rec.queue,
            self._queues[rec.queue].config.rejoin_window,
            rec.key,
            contact_id,
            now,
        )
        self._leave(rec, _A.ABANDON, after)
        self.abandoned += 1
        self._patience.left(rec.queue, rec.channel, now - rec.entered_at, True)
        events.append(
            Abandoned(
                now,
                contact_id,
                rec.queue,
                rec.channel,
                now - rec.entered_at,
                holders[0].spec.id if holders else None,
            )
        )
        for agent in holders:
            self._route_agent(agent, now, events)
        return self._finish(now, events)

    def transfer(
        self,
        contact_id: str,
        *,
        queue: str | None = None,
        requirements: Mapping[str, int] | None = None,
        agent: str | None = None,
        keep_key: bool = True,
    ) -> list[Event]:
        """Move a contact to another queue, skill set or agent; it waits again there.

        :param queue: the queue it moves to (default: its current queue).
        :param requirements: the requirements that now apply (default: those it
            was submitted with); routing steps start again from now.
        :param agent: reserve the contact for this logged-in agent only (a
            direct transfer); skills and queue membership are not checked,
            exclusions are (an excluded agent is refused).
        :param keep_key: keep its place in line (default) or queue it as if it
            arrived now, with its priority and tier.

        Allowed while waiting, offered (every offer is withdrawn) or in
        service (the agent's slot is freed without wrap-up). A transfer is an
        explicit instruction: the target queue's size limit and admission
        rule do not apply. Its maximum wait starts again.
        """
        now, events, (rec, after, to_queue, base, target) = self._start(
            lambda: self._check_transfer(contact_id, queue, requirements, agent, keep_key)
        )
        was = rec.state
        from_queue = rec.queue
        from_agents: list[_AgentRec] = []
        if was is _S.WAITING:
            self._dequeue(rec)
        else:
            from_agents = [self._agents[a] for a in self._holders(rec)]
            for holder in from_agents:
                if was is _S.OFFERED:
                    holder.offered.discard(contact_id)
                else:
                    holder.in_service.discard(contact_id)
                self._release(holder, rec.channel, now)
            rec.agent = None
            rec.also = None
        if was is not _S.IN_SERVICE:
            self._queues[from_queue].present -= 1
        self._move(rec, _A.TRANSFER, after)
        self._requeue(
            rec,
            to_queue,
            base if base is not None else dict(rec.spec.requirements),
            keep_key,
            now,
        )
        if target is not None:
            # a transfer to an agent: reserved with no time limit
            self._preferred.reserve(rec, target, math.inf)
        events.append(
            Transferred(
                now,
                contact_id,
                from_queue,
                rec.queue,
                from_agents[0].spec.id if from_agents else None,
                None if target is None else target.spec.id,
                keep_key,
            )
        )
        self._enqueue(rec)
        self._schedule_entry_timers(rec, now)
        for holder in from_agents:
            self._route_agent(holder, now, events)
        if rec.state is _S.WAITING:
            self._route_contact(rec, now, events)
            self._check_staffed(rec, now, events)
        return self._finish(now, events)

    def request_callback(self, contact_id: str, channel: str = "callback") -> list[Event]:
        """Turn a waiting contact into a callback on ``channel``: it keeps its place in line
        while the customer hangs up, and the agent who takes it calls back."""
        now, events, (rec, after) = self._start(lambda: self._check_callback(contact_id, channel))
        self._move(rec, _A.REQUEST_CALLBACK, after)
        self._dequeue(rec)
        rec.channel = channel
        self._enqueue(rec)
        events.append(CallbackRequested(now, contact_id, channel))
        self._route_contact(rec, now, events)
        self._check_staffed(rec, now, events)
        return self._finish(now, events)

    def schedule_callback(self, contact: Contact, at: float) -> list[Event]:
        """Hold ``contact`` as a callback until router time ``at``, when it
        enters its queue as if submitted then, with its priority and tier.

        Held, it is not in the queue, not counted as waiting and offered to
        no one (its state is ``scheduled``); :meth:`abandon` cancels it. Its
        queue's admission rules and size limit do not apply when it enters (an
        appointment, like a transfer). Raises, changing nothing:
        :class:`InvalidValueError` for an ``at`` that is not a number from
        the router's time to ``MAX_SECONDS`` later, or that falls when the queue's
        calendar is closed (the message gives the next opening); and what
        :meth:`submit` raises for the contact. Events:
        :class:`~ccroute.CallbackScheduled` (reason ``"requested"``), later
        :class:`~ccroute.Queued` at ``at``. Its attributes are masked first
        (``masking``), as :meth:`submit`'s are. Cost: O(log n).
        """
        contact = self._masked(contact)
        now, events, (queue, due) = self._start(self._check_schedule, contact, at)
        self._hold(contact, queue, due, "requested", now, events)
        return self._finish(now, events)

    def callback_unanswered(self, contact_id: str) -> list[Event]:
        """The agent serving ``contact_id`` called the customer back and nobody answered.

        The agent is freed at once (no wrap-up) and routed. The contact is
        held again for its queue's next ``callback_retries`` delay (moved to
        the next opening if its calendar is closed then), and enters the
        queue again with its priority, as a new attempt; when no retry is
        left it ends, ``unreached``. Events: :class:`~ccroute.CallbackUnanswered`,
        then :class:`~ccroute.CallbackScheduled` (reason ``"retry"``) or
        :class:`~ccroute.CallbackClosed` (reason ``"unreached"``). Allowed
        for a contact in service only (:class:`InvalidStateError` otherwise).
        """
        now, events, (rec, after) = self._start(self._check_action, contact_id, _A.RETRY_CALLBACK)
        queue = self._queues[rec.queue]
        config = queue.config
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        agent.in_service.discard(contact_id)
        self._release(agent, rec.channel, now)
        rec.agent = None
        rec.attempts += 1
        events.append(
            CallbackUnanswered(now, contact_id, agent.spec.id, rec.queue, rec.channel, rec.attempts)
        )
        due: float | None = None
        if rec.attempts <= len(config.callback_retries):
            due = now + config.callback_retries[rec.attempts - 1]
            hours = self._hours
            if hours is not None:
                due = hours.entry_time(config, due)
        if due is None:
            self._leave(rec, _A.CLOSE_UNREACHED)
            self.unreached += 1
            events.append(
                CallbackClosed(now, contact_id, rec.queue, rec.channel, rec.attempts, "unreached")
            )
        else:
            self._move(rec, _A.RETRY_CALLBACK, after)
            queue.scheduled += 1
            self._time_callback(rec, queue, due, "retry", now, events)
        self._route_agent(agent, now, events)
        return self._finish(now, events)

    def add_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """Never offer this customer's contacts to this agent, not even as a last resort.

        Applies at once to the customer's live contacts: an open offer to the
        agent is withdrawn (:class:`OfferRescinded`, reason ``"excluded"``)
        and a reservation for the agent lapses; a contact the agent already
        serves is left alone. The agent need not exist yet. Adding an
        exclusion that exists does nothing.
        """
        now, events, _ = self._start(lambda: self._check_exclusion_ids(customer_id, agent_id))
        # All the customer's contacts at once: routing the agent below must
        # not offer it the next one.
        contact_ids = self._exclusions.add(customer_id, agent_id)
        if contact_ids is None:
            return self._finish(now, events)
        reservation = self._reservation
        if reservation is not None:
            reservation.changed()
        returned = []
        for contact_id in contact_ids:
            rec = self._contacts[contact_id]
            if rec.target == agent_id:
                self._lapse_reservation(rec, "excluded", now, events)
                returned.append(rec)
            if rec.state is _S.OFFERED and agent_id in self._holders(rec):
                agent = self._agents[agent_id]
                events.append(OfferRescinded(now, contact_id, agent_id, "excluded"))
                if rec.also:
                    self._withdraw(rec, agent, now, declined=False)
                else:
                    self._move(rec, _A.RESCIND)
                    self._return_offer(rec, [agent], now, events, declined=False, route=False)
                    returned.append(rec)
                self._route_agent(agent, now, events)
        self._route_in_key_order(returned, now, events)
        self._reroute_rejected(now, events)
        self._recheck_staffing(now, events)
        # An excluded agent no longer waits for this customer's reserved-channel contact.
        if reservation is not None:
            reservation.recheck()
        return self._finish(now, events)

    def remove_exclusion(self, customer_id: str, agent_id: str) -> list[Event]:
        """Lift an exclusion made with :meth:`add_exclusion`; the pair may be offered again.

        Raises :class:`UnknownIdError` for a pair that is not excluded. A
        contact's own ``excluded_agents`` stay in force.
        """
        now, events, _ = self._start(lambda: self._check_exclusion(customer_id, agent_id))
        freed = self._exclusions.remove(customer_id, agent_id)
        if self._reservation is not None:
            self._reservation.changed()
        agent = self._agents.get(agent_id)
        if agent is not None:
            self._route_agent(agent, now, events)
        self._route_in_key_order(freed, now, events)
        return self._finish(now, events)

    def exclusions(self, customer_id: str) -> frozenset[str]:
        """Agents excluded for ``customer_id`` by :meth:`add_exclusion`."""
        check_id(customer_id, "customer id")
        return frozenset(self._exclusions.of_customer(customer_id) or ())

    def tick(self) -> TickResult:
        """Apply every timer that fell due, and say when the next one falls due."""
        now, events, _ = self._start(_nothing)
        self._finish(now, events)
        return TickResult(events, self.next_due())

    def next_due(self) -> float | None:
        """Clock time of the next scheduled timer, or ``None``. Cost: amortised O(log n)."""
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    # ========================================================= runtime changes
    # Set-up is idempotent (add_channel, add_queue(s) and add_agent accept a
    # declaration equal to the one held and do nothing); the update_* calls
    # below change what is held, without removing anything (docs/runtime-changes.md).

    def update_queue(self, config: QueueConfig) -> list[Event]:
        """Give a known queue new settings, keeping the contacts in it.

        Waiting contacts keep their places (keys: a new ``priority_seconds``
        applies to keys made from now on). Open offers keep their deadlines,
        contacts in wrap-up their ends, kept rejoin places their expiry. A
        new ``max_wait`` counts from each contact's entry into the queue (one
        already past it leaves now, or when its open offer comes back); new
        ``steps`` are re-evaluated from each waiting or offered contact's
        entry (its requirements become those of the steps due by now, with no
        :class:`StepApplied` event, and the next step is timed from its
        entry). Contacts that became routable are offered, in key order.
        ``max_size`` and ``admission`` apply to arrivals only, and so do
        ``calendar`` and ``when_closed``: contacts in the queue stay, and
        callbacks already scheduled keep their times (one that falls due
        while the queue is closed waits for its next opening).

        A config equal to the queue's is a no-op (``[]``, not even due
        timers run). Its first event, after those of due timers, is
        :class:`QueueUpdated`. Raises :class:`UnknownIdError` for an unknown
        queue, or one its steps or overflow name, or an unknown channel or
        strategy. Cost: O(contacts in the queue) to find them, plus their
        routing when the steps or the blocking matrix changed.
        """
        if isinstance(config, QueueConfig):
            held = self._queues.get(config.name)
            if held is not None and held.config == config:
                return []
        now, events, rec = self._start(lambda: self._check_update_queue(config))
        old = rec.config
        name = config.name
        changed = _changed(old, config)
        rec.config = config
        if isinstance(config.strategy, str):
            rec.strategy, rec.custom = _CUSTOM, config.strategy
        else:
            rec.strategy, rec.custom = _codes.STRATEGY_CODES[config.strategy], None
        if config.blocking != old.blocking:
            if config.blocking:
                self._block_channels().set_queue_matrix(name, config.blocking)
                self._index_queue(name)
            elif self._blocking is not None:
                self._blocking.set_queue_matrix(name, ())
        if self._waits is not None or WaitLimits.needed(config):
            self._wait_limits().queue_set(old, config)
        if self._admission is None and AdmissionRules.needed(config):
            self._admit()
        if self._hours is None and OpeningHours.needed(config):
            self._hours = OpeningHours(self._epoch)
        events.append(QueueUpdated(now, name, changed))
        members = sorted(
            (r for r in self._contacts.values() if r.queue == name and r.state in _IN_LINE),
            key=lambda r: r.key,
        )
        if config.steps != old.steps:
            for contact in members:
                self._restep(contact, now)
        if config.max_wait != old.max_wait:
            for contact in members:
                if contact.spec.max_wait is None:
                    self._time_max_wait(contact)
        # Who is kept free for a reserved channel depends on the requirements.
        reservation = self._reservation
        if reservation is not None:
            reservation.changed()
            reservation.recheck()
        # A maximum wait that is over now ends before anything is routed.
        self._run_due(now, events)
        members = [r for r in members if r.live and r.queue == name]
        if "steps" in changed or "blocking" in changed:
            self._route_in_key_order(members, now, events)
        if "steps" in changed or "skip_if_no_agent" in changed:
            for contact in members:
                self._check_staffed(contact, now, events)
        return self._finish(now, events)

    def update_agent(self, agent: Agent) -> list[Event]:
        """Give a known agent new skills, queues, capacities, unit budget or
        queue delays, without logging it off.

        Its presence, ramp-up, idle time, handled count, open offers,
        contacts in service and in wrap-up, rejection bars and the contacts
        reserved for it all stay. Capacities and the unit budget may go down
        to what it holds (offers included), not below: it keeps its work and
        is offered nothing more until some of it ends. An agent that leaves a
        queue keeps its open offers of that queue's contacts (it may answer
        them) and gets no new ones. It is then routed at once (a skill gained
        brings a waiting contact), and so are the contacts whose rejection
        bar or staffing the change affects.

        An agent equal to the one held (capacities included) is a no-op
        (``[]``, not even due timers run). Its first event, after those of
        due timers, is :class:`AgentUpdated`. Raises :class:`UnknownIdError`
        for an unknown agent, or a queue or channel its settings name, and
        :class:`InvalidStateError` for a capacity or unit budget below what
        it holds. Cost: O(load + contacts reserved for it) to re-index it in
        the universal queue (plus O(signatures) for a skill set not seen
        before), O(contacts) when its queue delays change, plus the routing.
        """
        if isinstance(agent, Agent):
            held = self._agents.get(agent.id)
            if held is not None and _same_agent(held.spec, agent):
                return []
        now, events, rec = self._start(lambda: self._check_update_agent(agent))
        old = rec.spec
        changed = _changed(old, agent)
        if rec.presence is not Presence.OFFLINE:
            for name in old.queues - agent.queues:
                self._queues[name].logged_in -= 1
            for name in agent.queues - old.queues:
                self._queues[name].logged_in += 1
        rec.spec = agent
        rec.levels = dict(agent.skills)
        if agent.capacity is None:
            rec.capacity = {name: ch.default_capacity for name, ch in self._channels.items()}
        else:
            rec.capacity = {name: agent.capacity.get(name, 0) for name in self._channels}
        self._forget_counts()
        if {"skills", "queues", "capacity", "unit_budget"} & set(changed):
            self._reindex_agent(rec)
        if "queue_delays" in changed:
            self._redelay(rec, old, now)
        reservation = self._reservation
        if reservation is not None:
            reservation.changed()
        events.append(AgentUpdated(now, agent.id, changed))
        self._route_agent(rec, now, events)
        # It may no longer count as "someone else" who could take a rejected
        # contact, nor staff a skip-if-no-agent queue, nor be kept free.
        self._reroute_rejected(now, events)
        self._recheck_staffing(now, events)
        if reservation is not None:
            reservation.recheck()
        return self._finish(now, events)

    def update_contact(
        self,
        contact_id: str,
        *,
        priority_seconds: float | None = None,
        tier: int | None = None,
        requirements: Mapping[str, int] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> list[Event]:
        """Change a live contact's priority, tier, requirements or attributes.

        Each argument left ``None`` leaves that part unchanged (none takes
        ``None`` as a value); ``attributes`` replaces the attributes as a
        whole. Allowed in every live state; what routing reads applies
        whenever the contact waits (now, or when an offer comes back, or
        after a transfer).

        - ``priority_seconds`` / ``tier``: the contact keeps its place in
          line unless one of them changes; then its key is recomputed from
          its original queued time: ``(-tier, t + old priority - new
          priority, sequence)`` for the key ``(-old tier, t, sequence)`` it
          had, so it moves exactly as if it had been queued with the new
          values, and keeps its sequence number (its place among equals).
        - ``requirements``: the requirements it waits with in its current
          queue, before routing steps (and those a transfer or an overflow
          falls back to). The steps already applied are applied again on
          top; a waiting contact is re-indexed and offered at once if an
          agent can now take it.

        An update that changes nothing is a no-op (``[]``, not even due
        timers run). Its first event, after those of due timers, is
        :class:`ContactUpdated`. Raises :class:`UnknownIdError` for an
        unknown contact and :class:`InvalidValueError` for a value a
        :class:`Contact` would refuse. Cost: O(log n), plus routing the
        contact when its requirements change.
        """

        def check() -> tuple[_ContactRec, Contact, tuple[str, ...]]:
            return self._check_update_contact(
                contact_id, priority_seconds, tier, requirements, attributes
            )

        if not check()[2]:
            return []
        now, events, (rec, spec, changed) = self._start(check)
        old = rec.spec
        waiting = rec.state is _S.WAITING
        rekey = "priority_seconds" in changed or "tier" in changed
        restep = "requirements" in changed
        if waiting and (rekey or restep):
            self._dequeue(rec)
        rec.spec = spec
        if rekey:
            # The time the key was made, less the new head start; same sequence.
            rec.key = contact_key(
                spec.tier, rec.key[1] + old.priority_seconds, spec.priority_seconds, rec.key[2]
            )
        if restep:
            base = self._requirement_dicts.get(spec.requirements)
            if base is None:
                base = self._requirement_dicts[spec.requirements] = dict(spec.requirements)
            rec.base = base
            steps = self._queues[rec.queue].config.steps[: rec.steps_applied]
            rec.requirements = _stepped(base, steps)
        events.append(ContactUpdated(now, contact_id, changed))
        if waiting and (rekey or restep):
            self._enqueue(rec)
            if restep:
                self._route_contact(rec, now, events)
                self._check_staffed(rec, now, events)
        return self._finish(now, events)

    def _check_update_queue(self, config: object) -> _QueueRec:
        if not isinstance(config, QueueConfig):
            raise InvalidValueError(f"update_queue expects a QueueConfig, got {show(config)}")
        rec = self._queue(config.name)
        for step in config.steps:
            for name in sorted(step.queues - self._queues.keys()):
                raise UnknownIdError("queue", name)
        if config.overflow is not None and config.overflow not in self._queues:
            raise UnknownIdError("queue", config.overflow)
        self._check_channel_names(config.blocking, f"queue {config.name!r} blocking")
        if isinstance(config.strategy, str) and config.strategy not in self._strategies:
            raise UnknownIdError("strategy", config.strategy)
        return rec

    def _check_update_agent(self, agent: object) -> _AgentRec:
        if not isinstance(agent, Agent):
            raise InvalidValueError(f"update_agent expects an Agent, got {show(agent)}")
        rec = self._agent(agent.id)
        for name in sorted(agent.queues):
            self._queue(name)
        for name, _delay in agent.queue_delays:
            self._queue(name)
        if agent.capacity is not None:
            for name in agent.capacity:
                self._channel(name)
        for name, channel in self._channels.items():
            held = rec.load[name]
            if agent.capacity is None:
                capacity = channel.default_capacity
            else:
                capacity = agent.capacity.get(name, 0)
            if capacity < held:
                raise InvalidStateError(
                    f"agent {agent.id!r} holds {held} {name} contacts; capacity cannot go "
                    f"below that (asked for {capacity})"
                )
        units = sum(n * self._channels[name].unit_cost for name, n in rec.load.items())
        if agent.unit_budget is not None and agent.unit_budget < units:
            raise InvalidStateError(
                f"agent {agent.id!r} uses {units} units; its unit budget cannot go below that "
                f"(asked for {agent.unit_budget})"
            )
        return rec

    def _check_update_contact(
        self,
        contact_id: str,
        priority_seconds: object,
        tier: object,
        requirements: object,
        attributes: object,
    ) -> tuple[_ContactRec, Contact, tuple[str, ...]]:
        rec = self._contact(contact_id)
        given: dict[str, Any] = {}
        if priority_seconds is not None:
            given["priority_seconds"] = priority_seconds
        if tier is not None:
            given["tier"] = tier
        if requirements is not None:
            levels = self._check_requirements(
                requirements,  # type: ignore[arg-type]
                f"update of contact {contact_id!r}",
            )
            given["requirements"] = levels
        if attributes is not None:
            given["attributes"] = attributes
        try:
            spec = attrs.evolve(rec.spec, **given)
        except CCRouteError:
            raise
        except (TypeError, ValueError) as exc:
            raise InvalidValueError(f"contact {contact_id!r}: {exc}") from None
        if attributes is not None and self._masking is not None:
            spec = self._masking.contact(spec)  # checked first: masking takes JSON values
        return rec, spec, _changed(rec.spec, spec)

    def _redeclared_agent(self, agent: object, presence: object) -> bool:
        """Whether ``add_agent(agent, presence)`` declares an agent held as it is."""
        if not isinstance(agent, Agent):
            return False
        held = self._agents.get(agent.id)
        if held is None or not _same_agent(held.spec, agent):
            return False
        if not isinstance(presence, Presence):
            raise InvalidValueError(f"presence must be a Presence, got {show(presence)}")
        return True

    def _reindex_agent(self, rec: _AgentRec) -> None:
        """Give the universal queue the agent's new skills, queues, capacities and
        budget. Both twins remove an agent that holds nothing and add one under
        a given handle, so the agent's slots are released, it is removed and
        added again under its own handle, and its load, handled count,
        presence and idle time are put back; the contacts reserved for it are
        taken out and put back around the move. Cost: O(load + reserved
        contacts · log n), plus O(signatures) for a profile not seen before.
        """
        q = self._q
        handle, spec = rec.handle, rec.spec
        reserved = sorted(
            (c for c in (self._contacts[i] for i in rec.reserved) if c.state is _S.WAITING),
            key=lambda c: c.handle,
        )
        for contact in reserved:
            q.remove(contact.handle)
        for name, n in rec.load.items():
            for _ in range(n):
                q.release(handle, self._channel_ids[name], rec.idle_since)
        q.remove_agent(handle)
        q.add_agent(
            handle,
            spec.id,
            {self._skill(name): level for name, level in spec.skills},
            [self._queues[name].handle for name in spec.queues],
            [rec.capacity[name] for name in self._channels],
            -1 if spec.unit_budget is None else spec.unit_budget,
            rec.idle_since,
        )
        for name, n in rec.load.items():
            for _ in range(n):
                q.occupy(handle, self._channel_ids[name])
        if rec.handled:
            q.count_handled(handle, rec.handled)
        if rec.presence is not Presence.OFFLINE:
            q.set_logged_in(handle, True)
        if rec.presence is Presence.AVAILABLE:
            q.set_available(handle, True, rec.idle_since)
        for contact in reserved:
            q.insert(contact.handle, contact.key, contact.sig, handle)

    def _redelay(self, rec: _AgentRec, old: Agent, now: float) -> None:
        """Follow a change of the agent's queue delays: the index of delays, and the
        delay timers of the contacts in the queues concerned."""
        agent_id = rec.spec.id
        before = {name: d for name, d in old.queue_delays if d > 0}
        after = {name: d for name, d in rec.spec.queue_delays if d > 0}
        for name in sorted(before.keys() | after.keys()):
            if before.get(name) == after.get(name):
                continue
            if name in after:
                self._delay_queues().add(name, agent_id, after[name])
                self._index_queue(name)
            else:
                self._delay_queues().remove(name, agent_id)
            for contact in sorted(self._contacts.values(), key=lambda r: r.handle):
                if contact.queue == name and contact.state in _IN_LINE:
                    self._schedule_delay(contact, now)

    def _restep(self, rec: _ContactRec, now: float) -> None:
        """Re-evaluate a waiting or offered contact's routing steps (new ones in its
        queue) from its entry: the steps due by now apply, the next is timed."""
        steps = self._queues[rec.queue].config.steps
        waited = now - rec.entered_at
        n = 0
        while n < len(steps) and steps[n].after <= waited:
            n += 1
        waiting = rec.state is _S.WAITING
        if waiting:
            self._dequeue(rec)
        rec.requirements = _stepped(rec.base, steps[:n])
        extra: frozenset[str] = frozenset().union(*(s.queues for s in steps[:n]))
        extra -= {rec.queue}
        rec.extra_queues = extra if extra else _NO_QUEUES
        rec.steps_applied = n
        rec.tokens[_STEP] += 1
        self._schedule_step(rec)
        if waiting:
            self._enqueue(rec)

    def _time_max_wait(self, rec: _ContactRec) -> None:
        """Time a contact's maximum wait (its queue's, changed) from its entry."""
        rec.overdue = False
        due = self._wait_limits().due(rec)
        if due is None:
            rec.tokens[_MAXWAIT] += 1
        else:
            self._schedule(due, _MAXWAIT, rec)

    # ============================================================ persistence

    def state(self) -> RouterState:
        """The router's whole state as a :class:`~ccroute.snapshot.RouterState`
        document, for :meth:`restore` (see docs/snapshot.md).

        Everything that decides future routing is kept: waiting contacts with
        their keys, agents with presence, capacity and idle times, open offers
        and their deadlines, wrap-ups, routing-step positions, rejection bars,
        reservations, policies and their state, pending timers, counters and
        the random generator. Left out: the clock, the observers and the
        custom strategies (code, given again to :meth:`restore`). Changes
        nothing. Cost: O(state).
        """
        version, internal, gauss_next = self._rng.getstate()
        timers = sorted(
            (t for t in self._timers if self._timer_live(t)), key=lambda t: (t[0], t[1])
        )
        agents = self._agent_by_handle
        reservation = self._reservation
        held = reservation.held if reservation is not None else set()
        return RouterState(
            format=SNAPSHOT_FORMAT,
            now=self._now,
            seq=self._peek("_seq"),
            submitted=self.submitted,
            completed=self.completed,
            abandoned=self.abandoned,
            timed_out=self.timed_out,
            unreached=self.unreached,
            strategy_failures=self.strategy_failures,
            offer_reasons=self._offer_reasons,
            random=RandomState(version, tuple(internal), gauss_next),
            policy=self._policy,
            channels=tuple(self._channels.values()),
            skills=tuple(self._skills),
            queues=tuple(
                QueueRecord(r.config, r.custom is not None, r.last_agent)
                for r in self._queues.values()
            ),
            agents=tuple(self._agent_record(r) for r in self._agents.values()),
            contacts=tuple(self._contact_record(r) for r in self._contacts.values()),
            timers=tuple(
                TimerRecord(due, _TIMER_KINDS[kind], agent=rec.spec.id)
                if kind == _RAMP
                else TimerRecord(due, _TIMER_KINDS[kind], contact=rec.spec.id)
                for due, _seq, kind, rec, _token in timers
            ),
            exclusions=tuple(
                Exclusion(customer, tuple(sorted(agent_ids)))
                for customer, agent_ids in sorted(self._exclusions.by_customer.items())
                if agent_ids
            ),
            rejoins=tuple(
                RejoinRecord(customer, queue, key, until, contact_id)
                for (customer, queue), (key, until, contact_id) in sorted(
                    self._rejoins.places.items()
                )
            ),
            # Handles of agents removed since are dropped: a lift skips them.
            kept_free=tuple(sorted(agents[h].spec.id for h in held if h in agents)),
            lift_pending=reservation is not None and reservation.lift_pending,
            epoch=self._epoch,
            handle_times=tuple(HandleTimeRecord(*r) for r in self._handle_times.records()),
            abandonment=tuple(AbandonmentRecord(*r) for r in self._patience.records()),
        )

    def snapshot(self) -> bytes:
        """The router's whole state as bytes, for :meth:`restore` in this or another process.

        The bytes are :meth:`state` written as JSON
        (:meth:`RouterState.to_bytes <ccroute.snapshot.RouterState.to_bytes>`): no pickle, nothing
        in them can make the reader run code. Contact attributes must be
        JSON values (str, int, float, bool, ``None``, lists and dicts with
        string keys); others raise :class:`InvalidValueError`. Equal states
        give equal bytes. Cost: O(state).
        """
        return self.state().to_bytes()

    @classmethod
    def restore(
        cls,
        data: bytes | RouterState,
        clock: Clock | None = None,
        *,
        strategies: Mapping[str, AgentStrategy] | None = None,
        queue_backend: QueueBackend | None = None,
        masking: Masking | None = None,
    ) -> Router:
        """Rebuild a router from :meth:`snapshot` bytes or a :meth:`state` document.

        :param clock: the clock the rebuilt router reads; it must not be
            behind the snapshot's time (a :class:`ManualClock` at that time
            when omitted).
        :param strategies: the custom strategies the snapshot's queues name.
        :param queue_backend: a new, empty queue to route with, as for
            :class:`Router`.
        :param masking: the masking rules, as for :class:`Router` (they are
            not part of the state); the restored contacts' attributes are
            masked by them.

        Raises :class:`InputError` for bytes that are not a snapshot, a
        snapshot of a format this release does not read, a field of the
        wrong type and records that do not fit together;
        :class:`UnknownIdError` for a strategy a queue names but that is not
        given; and :class:`ClockError` for a clock behind the snapshot.
        Cost: O(state).
        """
        state = data if isinstance(data, RouterState) else RouterState.from_bytes(data)
        try:
            check_references(state)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            # A RouterState built in Python is not type-checked field by field.
            raise InputError(f"not a well-formed router state: {exc!r}") from exc
        for record in state.queues:
            name = record.config.strategy
            if isinstance(name, str) and name not in (strategies or {}):
                raise UnknownIdError("strategy", name)
        router = cls(
            clock if clock is not None else ManualClock(state.now),
            channels=state.channels,
            strategies=strategies,
            policy=state.policy,
            offer_reasons=state.offer_reasons,
            queue_backend=queue_backend,
            epoch=state.epoch,
            masking=masking,
        )
        now = router._now
        if not now >= state.now:
            raise ClockError(f"the clock reads {now!r}, behind the snapshot's time {state.now}")
        try:
            router._load(state)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
            raise InputError(f"router snapshot does not load: {exc!r}") from exc
        if router._masking is not None:
            # A snapshot taken without masking (or under fewer rules) holds raw values.
            for rec in router._contacts.values():
                rec.spec = router._masking.contact(rec.spec)
        return router

    def _masked(self, contact: Contact) -> Contact:
        """A contact given to :meth:`submit` or :meth:`schedule_callback`, masked
        by the router's rules: the one place it masks a contact it takes in,
        unless it is the object its caller vouched for (:meth:`_vouch`)."""
        masking = self._masking
        if masking is None or contact is self._premasked:
            return contact
        return masking.contact(contact)

    def _vouch(self, contact: Contact | None, masking: Masking) -> bool:
        """For the caller's next call only: ``contact`` (this very object) was
        masked by ``masking`` already, so the router need not mask it again.

        Taken only when ``masking`` is the router's own rules (the same object:
        the service builds and restores its router with its rules), so a
        contact masked under other or fewer rules is masked here as ever.
        Internal to ccroute: the service calls it just before a synchronous
        call and :meth:`_unvouch` right after, so nothing can change the
        contact in between (its nested values are not read-only). Returns
        whether it was taken."""
        if contact is None or masking is not self._masking:
            return False
        self._premasked = contact
        return True

    def _unvouch(self) -> None:
        """End what :meth:`_vouch` vouched for."""
        self._premasked = None

    def _follow(self, events: Sequence[Event]) -> None:
        """For the caller's next call only: ``events`` are the events that call
        gave when it was first made (a log record's), and each decision of a
        custom strategy takes the agent that call's offer went to, instead of
        asking the strategy again (:meth:`_logged_choice`).

        A custom strategy is plugin code and may not answer twice alike (it
        raises now and then, keeps state, draws random numbers, reads the
        time); the log says what it chose. The choice is taken only when it
        is one this router can make (the contact's offer, to an agent
        eligible now); built-in strategies, and everything else, decide as
        ever, so a log that does not belong to this router still replays to
        other events. Internal to ccroute: the service's replay calls it just
        before applying a logged command and :meth:`_unfollow` right after.
        A live call never follows anything."""
        self._followed = events

    def _unfollow(self) -> None:
        """End what :meth:`_follow` began."""
        self._followed = None

    def _peek(self, name: str) -> int:
        """The value an ``itertools.count`` attribute gives next, leaving it as it was."""
        value: int = next(getattr(self, name))
        # Reading a counter consumes a value: put an equal counter back.
        setattr(self, name, itertools.count(value))
        return value

    @staticmethod
    def _agent_record(rec: _AgentRec) -> AgentRecord:
        return AgentRecord(
            spec=rec.spec,
            presence=rec.presence,
            capacity=tuple(rec.capacity.items()),
            idle_since=rec.idle_since,
            handled=rec.handled,
            rejected=tuple(sorted(rec.rejected)),
            ramping=rec.ramping,
            ramp_left=rec.ramp_left,
        )

    @staticmethod
    def _contact_record(rec: _ContactRec) -> ContactRecord:
        return ContactRecord(
            spec=rec.spec,
            state=rec.state,
            queue=rec.queue,
            channel=rec.channel,
            base=tuple(rec.base.items()),
            requirements=tuple(rec.requirements.items()),
            extra_queues=tuple(sorted(rec.extra_queues)),
            key=rec.key,
            arrived_at=rec.arrived_at,
            entered_at=rec.entered_at,
            steps_applied=rec.steps_applied,
            agent=rec.agent,
            also=tuple(rec.also or ()),
            target=rec.target,
            rejected_by=tuple(sorted(rec.rejected_by or ())),
            accepted_at=rec.accepted_at,
            completed_at=rec.completed_at,
            timeout_at=rec.timeout_at,
            overdue=rec.overdue,
            fled=None if rec.fled is None else (rec.fled[0], tuple(sorted(rec.fled[1]))),
            attempts=rec.attempts,
            disposition=rec.disposition,
        )

    def _load(self, state: RouterState) -> None:
        """Fill a router fresh from ``__init__`` (channels, policy and strategies
        set) with a checked state document, rebuilding every index and cache.

        Handles are the positions of agents and contacts in the document
        (their order of addition), so the handles' order, all that routing
        reads of them, is the original's.
        """
        self._now = state.now
        rng = state.random
        self._rng.setstate((rng.version, tuple(rng.internal), rng.gauss_next))
        self._seq = itertools.count(state.seq)
        self.submitted = state.submitted
        self.completed = state.completed
        self.abandoned = state.abandoned
        self.timed_out = state.timed_out
        self.unreached = state.unreached
        self.strategy_failures = state.strategy_failures
        self._skills = {name: i for i, name in enumerate(state.skills)}
        queue_blocks: dict[str, tuple[tuple[str, frozenset[str]], ...]] = {}
        for handle, record in enumerate(state.queues):
            config = record.config
            if isinstance(config.strategy, str):
                queue = _QueueRec(config, handle, _CUSTOM, config.strategy)
            else:
                queue = _QueueRec(config, handle, _codes.STRATEGY_CODES[config.strategy])
            queue.last_agent = record.last_agent
            self._queues[config.name] = queue
            if config.blocking:
                queue_blocks[config.name] = config.blocking
            if self._waits is not None or WaitLimits.needed(config):
                self._wait_limits().queue_set(None, config)
            if self._admission is None and AdmissionRules.needed(config):
                self._admit()
            if self._hours is None and OpeningHours.needed(config):
                self._hours = OpeningHours(self._epoch)
        self._exclusions.by_customer = {
            e.customer: set(e.agents) for e in state.exclusions if e.agents
        }
        for handle, a in enumerate(state.agents):
            self._load_agent(handle, a)
        self._agent_handles = itertools.count(len(state.agents))
        for handle, c in enumerate(state.contacts):
            self._load_contact(handle, c)
        self._contact_handles = itertools.count(len(state.contacts))
        delayed = self._queue_delays.by_queue if self._queue_delays is not None else {}
        for name in [*queue_blocks, *delayed]:
            self._index_queue(name)
        # Which agents hold work on which channel, while any blocking matrix exists.
        self._blocking = None
        if self._policy.blocking or queue_blocks:
            blocking = self._block_channels()
            for name, matrix in queue_blocks.items():
                blocking.set_queue_matrix(name, matrix)
        # Timers: each live one's token is its record's (0); order kept by the
        # position in the document, which lists them in firing order.
        timers: list[tuple[float, int, int, Any, int]] = []
        for n, timer in enumerate(state.timers):
            kind = _TIMER_CODES[timer.kind]
            rec: _ContactRec | _AgentRec
            if kind == _RAMP:
                assert timer.agent is not None
                rec = self._agents[timer.agent]
            else:
                assert timer.contact is not None
                rec = self._contacts[timer.contact]
                if kind == _CALLBACK:
                    rec.due = timer.due
            timers.append((timer.due, n, kind, rec, rec.tokens[kind]))
        heapq.heapify(timers)
        self._timers = timers
        self._timer_seq = itertools.count(len(timers))
        self._rejoins.load((r.customer, r.queue, r.key, r.until, r.contact) for r in state.rejoins)
        self._handle_times.load((r.queue, r.channel, r.count, r.mean) for r in state.handle_times)
        self._patience.load((r.queue, r.channel, r.abandoned, r.waited) for r in state.abandonment)
        if state.kept_free or state.lift_pending:
            # A document may carry these without reserved channels: kept, so
            # that the lift they call for happens as it would have.
            reservation = self._reservation or self._reserve_channels()
            reservation.held = {self._agents[a].handle for a in state.kept_free}
            reservation.lift_pending = state.lift_pending
        self._rebuild_queue()

    def _load_agent(self, handle: int, a: AgentRecord) -> None:
        spec = a.spec
        given = dict(a.capacity)
        rec = _AgentRec(
            spec,
            handle,
            {name: given[name] for name in self._channels},
            presence=a.presence,
            idle_since=a.idle_since,
            handled=a.handled,
            levels=dict(spec.skills),
            ramping=a.ramping,
            ramp_left=a.ramp_left,
        )
        rec.rejected = set(a.rejected)
        # what it holds is counted from the contacts (_load_contact)
        rec.load = dict.fromkeys(self._channels, 0)
        self._agents[spec.id] = rec
        self._agent_by_handle[handle] = rec
        if rec.ramping:
            if self._ramp_up is None:
                # A document may hold ramping agents without the policy: they ramp out.
                self._ramp_up = RampingUp(None)
            self._ramp_up.loaded(rec)
        for name, delay in spec.queue_delays:
            if delay > 0:
                self._delay_queues().add(name, spec.id, delay)
        if rec.presence is not Presence.OFFLINE:
            for name in spec.queues:
                self._queues[name].logged_in += 1

    def _load_contact(self, handle: int, c: ContactRecord) -> None:
        spec = c.spec
        base = dict(c.base)
        if c.base == spec.requirements:
            # Shared with the contacts submitted with the same requirements (as submit does).
            base = self._requirement_dicts.setdefault(spec.requirements, base)
        # Copy on write: shared with base until a routing step changes it.
        requirements = base if c.requirements == c.base else dict(c.requirements)
        rec = _ContactRec(
            spec=spec,
            handle=handle,
            state=c.state,
            queue=c.queue,
            channel=c.channel,
            base=base,
            requirements=requirements,
            extra_queues=frozenset(c.extra_queues) if c.extra_queues else _NO_QUEUES,
            key=c.key,
            arrived_at=c.arrived_at,
            entered_at=c.entered_at,
            steps_applied=c.steps_applied,
            agent=c.agent,
            target=c.target,
            rejected_by=set(c.rejected_by) if c.rejected_by else None,
            accepted_at=c.accepted_at,
            completed_at=c.completed_at,
            also=list(c.also) if c.also else None,
            timeout_at=c.timeout_at,
            overdue=c.overdue,
            fled=None if c.fled is None else (c.fled[0], frozenset(c.fled[1])),
            attempts=c.attempts,
        )
        rec.disposition = c.disposition
        self._contacts[spec.id] = rec
        self._contact_by_handle[handle] = rec
        queue = self._queues[rec.queue]
        contact_id = spec.id
        if rec.state is _S.WAITING:
            queue.waiting += 1
            queue.present += 1
            if rec.rejected_by:
                self._rejections.waiting.add(contact_id)
            reservation = self._reservation
            if reservation is not None and rec.channel in reservation.channels:
                reservation.waiting.add(contact_id)
        else:
            if rec.state is _S.OFFERED:
                queue.present += 1
            elif rec.state is _S.SCHEDULED:
                queue.scheduled += 1
            for agent_id in self._holders(rec):
                agent = self._agents[agent_id]
                if rec.state is _S.OFFERED:
                    agent.offered.add(contact_id)
                elif rec.state is _S.IN_SERVICE:
                    agent.in_service.add(contact_id)
                else:
                    agent.wrap_up.add(contact_id)
                agent.load[rec.channel] += 1
        self._preferred.loaded(rec)
        self._exclusions.contact_added(rec)

    def _rebuild_queue(self) -> None:
        """Load the universal queue from the router's records (after :meth:`restore`;
        the channels are in it already)."""
        q = self._q
        for rec in sorted(self._agents.values(), key=lambda r: r.handle):
            agent = rec.spec
            q.add_agent(
                rec.handle,
                agent.id,
                {self._skills[name]: level for name, level in agent.skills},
                [self._queues[name].handle for name in agent.queues],
                [rec.capacity[name] for name in self._channels],
                -1 if agent.unit_budget is None else agent.unit_budget,
                rec.idle_since,
            )
            for channel_name, n in rec.load.items():
                for _ in range(n):
                    q.occupy(rec.handle, self._channel_ids[channel_name])
            if rec.handled:
                q.count_handled(rec.handle, rec.handled)
            if rec.presence is not Presence.OFFLINE:
                q.set_logged_in(rec.handle, True)
            if rec.presence is Presence.AVAILABLE:
                q.set_available(rec.handle, True, rec.idle_since)
        for crec in sorted(self._contacts.values(), key=lambda r: r.handle):
            if crec.state is _S.WAITING:
                crec.sig = self._signature(crec)
                target = NONE if crec.target is None else self._agents[crec.target].handle
                q.insert(crec.handle, crec.key, crec.sig, target)
            else:
                crec.sig = NONE

    # ================================================================== views

    def contact(self, contact_id: str) -> ContactView:
        """A snapshot of a live contact. Finished contacts are forgotten: they raise."""
        rec = self._contact(contact_id)
        return ContactView(
            id=contact_id,
            state=rec.state,
            queue=rec.queue,
            channel=rec.channel,
            requirements=dict(rec.requirements),
            queues=rec.extra_queues | {rec.queue},
            key=rec.key,
            arrived_at=rec.arrived_at,
            entered_at=rec.entered_at,
            steps_applied=rec.steps_applied,
            agent_id=rec.agent,
            reserved_for=rec.target,
            rejected_by=frozenset(rec.rejected_by or ()),
            customer_id=rec.spec.customer_id,
            attributes=rec.spec.attributes,
            answered_at=rec.accepted_at if rec.state in _ANSWERED else None,
            callback_due=rec.due,
        )

    def agent(self, agent_id: str) -> AgentView:
        """A snapshot of an agent."""
        rec = self._agent(agent_id)
        if rec.presence is Presence.OFFLINE:
            status = AgentStatus.OFFLINE
        elif rec.offered or rec.in_service:
            status = AgentStatus.BUSY
        elif rec.wrap_up:
            status = AgentStatus.WRAP_UP
        elif rec.presence is Presence.AVAILABLE:
            status = AgentStatus.IDLE
        else:
            status = AgentStatus.NOT_READY
        return AgentView(
            id=agent_id,
            presence=rec.presence,
            status=status,
            skills=dict(rec.spec.skills),
            queues=rec.spec.queues,
            capacity=dict(rec.capacity),
            unit_budget=rec.spec.unit_budget,
            load={k: v for k, v in rec.load.items() if v},
            units_used=sum(n * self._channels[ch].unit_cost for ch, n in rec.load.items()),
            offered=frozenset(rec.offered),
            in_service=frozenset(rec.in_service),
            wrap_up=frozenset(rec.wrap_up),
            idle_since=rec.idle_since,
            handled=rec.handled,
        )

    @property
    def agent_ids(self) -> list[str]:
        """Ids of every agent, in the order they were added."""
        return list(self._agents)

    @property
    def contact_ids(self) -> list[str]:
        """Ids of every live contact (waiting, offered, in service, in wrap-up)."""
        return list(self._contacts)

    def waiting(self, queue: str | None = None) -> list[ContactView]:
        """Waiting contacts in routing order (smallest key first), optionally of one queue.

        Cost: O(n log n).
        """
        if queue is not None:
            self._queue(queue)
        recs = [
            r
            for r in self._contacts.values()
            if r.state is _S.WAITING and (queue is None or r.queue == queue)
        ]
        recs.sort(key=lambda r: r.key)
        return [self.contact(r.spec.id) for r in recs]

    def position(self, contact_id: str) -> int:
        """1-based place of a waiting contact among the waiting contacts of its queue.

        Cost: O(log n); the first call for a queue indexes its waiting contacts
        (O(n log n)), which are kept in order from then on.
        """
        rec = self._contact(contact_id)
        if rec.state is not _S.WAITING:
            raise InvalidStateError(
                f"contact {contact_id!r} is {rec.state.value}, expected waiting"
            )
        ranks = self._ranks.get(rec.queue)
        if ranks is None:
            ranks = self._ranks[rec.queue] = SortedList(
                r.key
                for r in self._contacts.values()
                if r.state is _S.WAITING and r.queue == rec.queue
            )
        return int(ranks.bisect_left(rec.key)) + 1

    def estimated_wait(self, contact_id: str) -> float | None:
        """Seconds a waiting contact has still to wait, as of :attr:`now`
        (docs/estimated-wait.md): 0 once it is offered, or while an agent who
        could take it has room; ``None`` while no estimate is possible (no
        handle time learned on its channel yet, or no agent could ever take
        it). Changes nothing.

        Raises :class:`UnknownIdError` for an unknown contact and
        :class:`InvalidStateError` for one already answered.
        Cost: O(C + S x A) for C live contacts, S distinct requirement sets
        among the contacts ahead and A agents, once more per routing step
        still to come.
        """
        rec = self._contact(contact_id)
        if rec.state is not _S.WAITING and rec.state is not _S.OFFERED:
            raise InvalidStateError(
                f"contact {contact_id!r} is {rec.state.value}, expected waiting or offered"
            )
        return self._estimator.for_contact(rec, self._now)

    def estimate_wait(
        self,
        queue: str,
        channel: str,
        requirements: Mapping[str, int] | None = None,
        *,
        priority_seconds: float = 0.0,
        tier: int = 0,
        position: int | None = None,
    ) -> float | None:
        """Seconds a contact submitted now to ``queue`` on ``channel`` (with these
        ``requirements``, ``priority_seconds`` and ``tier``) would wait, before it
        is submitted: for an IVR's condition or a callback offer. It would sort
        behind every contact waiting with the same key; otherwise as
        :meth:`estimated_wait` (0 when an agent who could take it has room now).
        With ``position`` (1 = next), the contacts waiting are not looked at:
        ``position - 1`` contacts like it are ahead of it. Changes nothing.

        Raises :class:`UnknownIdError` for an unknown queue or channel and
        :class:`InvalidValueError` for bad requirements, priority, tier or
        position. Cost: as :meth:`estimated_wait` (O(A) with ``position``).
        """
        self._queue(queue)
        self._channel(channel)
        reqs = self._check_requirements(requirements, f"estimate for queue {queue!r}") or {}
        check_seconds(priority_seconds, "estimate: priority_seconds", signed=True)
        check_int(tier, "estimate: tier", -MAX_TIER, MAX_TIER)
        if position is not None:
            check_int(position, "estimate: position", 1, MAX_COUNT)
        key = (-tier, self._now - priority_seconds, math.inf)
        ahead = None if position is None else position - 1
        return self._estimator.for_prospect(queue, channel, reqs, key, self._now, ahead)

    def handle_time(self, queue: str, channel: str) -> float | None:
        """The handle time (acceptance to the end of wrap-up) the router has
        learned for ``queue`` on ``channel``, in seconds: the estimated wait's
        input (docs/estimated-wait.md). Before the queue's first completion on
        that channel, the channel's over all queues, then every channel's;
        ``None`` before the router's first completion. Kept in snapshots.
        Cost: O(1) (O(queues x channels) for a fallback).
        """
        self._queue(queue)
        self._channel(channel)
        return self._handle_times.mean(queue, channel)

    def queue_size(self, queue: str) -> int:
        """Number of contacts waiting (not offered) in ``queue``. Cost: O(1)."""
        return self._queue(queue).waiting

    def queue_stats(self, queue: str) -> QueueStats:
        """Contacts waiting and offered, members logged in and available, and
        callbacks scheduled for later (:meth:`schedule_callback`, a closed
        queue holding callers, a retry), in ``queue``.

        Cost: O(1) (the first call of :meth:`queue_stats` or
        :meth:`channel_stats` counts the agents once, O(agents)).
        """
        rec = self._queue(queue)
        return QueueStats(
            name=queue,
            waiting=rec.waiting,
            offered=rec.present - rec.waiting,
            logged_in=rec.logged_in,
            available=self._agent_counts().queue_available.get(queue, 0),
            scheduled=rec.scheduled,
        )

    def channel_stats(self, channel: str) -> ChannelStats:
        """Agents logged in and available with capacity on ``channel``.

        Cost: O(1) (after a first count of the agents, as for :meth:`queue_stats`).
        """
        self._channel(channel)
        counts = self._agent_counts()
        return ChannelStats(
            name=channel,
            logged_in=counts.channel_logged_in.get(channel, 0),
            available=counts.channel_available.get(channel, 0),
        )

    def _agent_counts(self) -> _Counts:
        counts = self._counts
        if counts is None:
            counts = self._counts = _Counts()
            for rec in self._agents.values():
                self._count_presence(rec, Presence.OFFLINE, rec.presence)
        return counts

    def _forget_counts(self) -> None:
        """Drop the agent counts; the next read counts again. For a change the
        incremental updates below do not follow (an agent's queues or skills)."""
        self._counts = None

    def _count_presence(self, rec: _AgentRec, old: Presence, new: Presence) -> None:
        counts = self._counts
        if counts is None:
            return
        logged = (new is not Presence.OFFLINE) - (old is not Presence.OFFLINE)
        available = (new is Presence.AVAILABLE) - (old is Presence.AVAILABLE)
        if available:
            by_queue = counts.queue_available
            for name in rec.spec.queues:
                by_queue[name] = by_queue.get(name, 0) + available
        if logged or available:
            for name, capacity in rec.capacity.items():
                if capacity > 0:
                    counts.add(name, logged, available)

    def _count_capacity(self, rec: _AgentRec, channel: str, old: int, new: int) -> None:
        step = (new > 0) - (old > 0)
        if self._counts is not None and step and rec.presence is not Presence.OFFLINE:
            self._counts.add(channel, step, step if rec.presence is Presence.AVAILABLE else 0)

    def __len__(self) -> int:
        """Number of waiting contacts in the universal queue. Cost: O(1)."""
        return len(self._q)

    # ============================================================== internals

    def _read_clock(self, *, first: bool = False) -> float:
        """The clock's reading as a float, refused (changing nothing) unless it is a
        finite number not behind the router's time."""
        try:
            reading = self._clock.now()
        except CCRouteError:
            raise
        except Exception as exc:
            raise ClockError(f"the clock failed: {show(exc)}") from exc
        # the usual reading, a finite float not behind the router, at once
        if (
            type(reading) is float
            and (first or reading >= self._now)
            and -math.inf < reading < math.inf
        ):
            return reading
        return self._check_reading(reading, first=first)

    def _check_reading(self, reading: object, *, first: bool = False) -> float:
        """A reading that is not at once a finite float not behind the router's
        time, as a float, or :class:`ClockError`."""
        now = finite_float(reading)
        if now is None:
            raise ClockError(f"the clock must read a finite number, got {show(reading)}")
        if not first and not now >= self._now:
            raise ClockError(f"the clock went backwards from {self._now} to {now!r}")
        return now

    def _start(self, check: Callable[..., _T], *args: Any) -> tuple[float, list[Event], _T]:
        """Begin a public call: read the clock, check the call, then apply due timers.

        ``check(*args)`` validates the call's arguments against the router as
        it is and returns what the call needs; it changes nothing. A refused
        call therefore leaves everything as it was, the router's time
        included. Only then are the timers that fell due applied (their
        events are a batch of their own, handed to observers at once); if any
        was, the call is checked again, since a timer may have changed what
        it needs (an offer that timed out before the accept).

        The check is a function and its arguments, not a closure, and the
        clock is read here rather than through :meth:`_read_clock`: this runs
        once per public call, and those costs showed in the simulator's
        profile.
        """
        try:
            now = self._clock.now()
        except CCRouteError:
            raise
        except Exception as exc:
            raise ClockError(f"the clock failed: {show(exc)}") from exc
        # The router's time is finite, so ``now >= self._now`` also refuses
        # NaN and minus infinity.
        if not (type(now) is float and now >= self._now and now < _INF):
            now = self._check_reading(now)
        checked = check(*args)
        # The call may change anything from here on. What is kept between
        # calls for queries (the estimated wait's pools) is valid while this
        # count stands; observers are the only readers within a call, so it
        # goes up again after they ran and before the call changes more.
        self._changes += 1
        timers = self._timers
        if not timers or timers[0][0] > now:
            # No timer due (the usual case): nothing ran, nothing to re-check.
            self._now = now
            self._notified = 0
            return now, [], checked
        events: list[Event] = []
        fired = self._run_due(now, events)
        self._now = now
        if events:
            self._notify(events)
            self._changes += 1
        self._notified = len(events)
        if fired:
            checked = check(*args)
        return now, events, checked

    def _begin(self) -> tuple[float, list[Event]]:
        now, events, _ = self._start(_nothing)
        return now, events

    def _finish(self, now: float, events: list[Event]) -> list[Event]:
        # Routing can schedule timers that are already due (a step at 0 s),
        # and a reserved-channel contact that left the queue frees the agents
        # it held: both run before the call returns.
        timers = self._timers
        if timers and timers[0][0] <= now:
            self._run_due(now, events)
        # Any change (an agent added or logged in, a capacity, an exclusion,
        # time passing a queue delay) can end the reason an agent was kept
        # free, not only the reserved contact leaving: look again whenever
        # someone is held.
        reservation = self._reservation
        if reservation is not None:
            if reservation.held:
                reservation.lift_pending = True
            while reservation.lift_pending:
                self._lift_reservations(now, events)
                self._run_due(now, events)
        notified = self._notified
        if len(events) > notified and self._observers:
            # _notify hands each observer a copy, so the whole list needs no
            # slice of its own when none of it went out yet.
            self._notify(events[notified:] if notified else events)
        self._notified = 0
        return events

    def _notify(self, batch: list[Event]) -> None:
        # Each observer gets a list of its own; one that raises is counted and
        # skipped (Exception only: KeyboardInterrupt and the like propagate).
        for observer in tuple(self._observers):
            try:
                observer(list(batch))
            except Exception as exc:
                self.observer_failures += 1
                self.last_observer_error = exc

    def _add_channel(self, channel: Channel) -> None:
        ch = len(self._channel_ids)
        self._channels[channel.name] = channel
        self._channel_ids[channel.name] = ch
        self._q.add_channel(ch, channel.unit_cost, channel.exclusive)
        for rec in self._agents.values():
            rec.capacity[channel.name] = 0
            rec.load[channel.name] = 0

    @staticmethod
    def _unknown(kind: str, value: object) -> CCRouteError:
        """The refusal of an id that is not known: unknown, or not an id at all."""
        if isinstance(value, str):
            return UnknownIdError(kind, value)
        return InvalidValueError(f"{kind} id must be a string, got {show(value)}")

    def _agent(self, agent_id: str) -> _AgentRec:
        found = self._agents.get(agent_id) if isinstance(agent_id, str) else None
        if found is None:
            raise self._unknown("agent", agent_id)
        return found

    def _contact(self, contact_id: str) -> _ContactRec:
        found = self._contacts.get(contact_id) if isinstance(contact_id, str) else None
        if found is None:
            raise self._unknown("contact", contact_id)
        return found

    def _queue(self, name: str) -> _QueueRec:
        found = self._queues.get(name) if isinstance(name, str) else None
        if found is None:
            raise self._unknown("queue", name)
        return found

    def _channel(self, name: str) -> int:
        found = self._channel_ids.get(name) if isinstance(name, str) else None
        if found is None:
            raise self._unknown("channel", name)
        return found

    # ----------------------------------------------------------------- checks
    # Each checks one public call against the router as it stands and returns
    # what the call needs; none changes anything (see _start).

    @staticmethod
    def _check_channels(channels: object) -> list[Channel]:
        if isinstance(channels, (str, bytes, Mapping)) or not isinstance(channels, Iterable):
            raise InvalidValueError(f"channels must be Channel values, got {show(channels)}")
        try:
            out = list(channels)
        except Exception as exc:
            raise InvalidValueError(f"channels could not be read: {show(exc)}") from exc
        names: set[str] = set()
        for channel in out:
            if not isinstance(channel, Channel):
                raise InvalidValueError(f"channels must be Channel values, got {show(channel)}")
            if channel.name in names:
                raise DuplicateIdError("channel", channel.name)
            names.add(channel.name)
        return out

    def _check_strategies(self, strategies: object) -> dict[str, AgentStrategy]:
        if strategies is None:
            return {}
        if not isinstance(strategies, Mapping):
            raise InvalidValueError(
                f"strategies must be a mapping of name to strategy, got {show(strategies)}"
            )
        out: dict[str, AgentStrategy] = {}
        for name, strategy in strategies.items():
            self._check_strategy(name, strategy)
            out[name] = strategy
        return out

    def _check_channel(self, channel: object) -> None:
        if not isinstance(channel, Channel):
            raise InvalidValueError(f"add_channel expects a Channel, got {show(channel)}")
        if channel.name in self._channels:
            raise DuplicateIdError(
                "channel", channel.name, "it has other settings, and a channel cannot be changed"
            )

    def _check_queues(self, configs: list[QueueConfig]) -> None:
        names = set(self._queues)
        for config in configs:
            if not isinstance(config, QueueConfig):
                raise InvalidValueError(f"add_queue expects a QueueConfig, got {show(config)}")
            if config.name in names:
                raise DuplicateIdError(
                    "queue",
                    config.name,
                    "it has other settings: change them with update_queue"
                    if config.name in self._queues
                    else "the call names it twice",
                )
            names.add(config.name)
        for config in configs:
            for step in config.steps:
                for name in sorted(step.queues - names):
                    raise UnknownIdError("queue", name)
            if config.overflow is not None and config.overflow not in names:
                raise UnknownIdError("queue", config.overflow)
            self._check_channel_names(config.blocking, f"queue {config.name!r} blocking")
        for config in configs:
            if isinstance(config.strategy, str) and config.strategy not in self._strategies:
                raise UnknownIdError("strategy", config.strategy)

    def _check_agent(self, agent: object, presence: object) -> None:
        if not isinstance(agent, Agent):
            raise InvalidValueError(f"add_agent expects an Agent, got {show(agent)}")
        if agent.id in self._agents:
            raise DuplicateIdError(
                "agent",
                agent.id,
                "it has other settings: change them with update_agent (and its presence "
                "with set_presence)",
            )
        for name in sorted(agent.queues):
            self._queue(name)
        for name, _delay in agent.queue_delays:
            self._queue(name)
        if agent.capacity is not None:
            for name in agent.capacity:
                self._channel(name)
        if not isinstance(presence, Presence):
            raise InvalidValueError(f"presence must be a Presence, got {show(presence)}")

    def _check_presence(
        self, agent_id: str, presence: object, reason: object
    ) -> tuple[_AgentRec, bool]:
        rec = self._agent(agent_id)
        if not isinstance(presence, Presence):
            raise InvalidValueError(f"presence must be a Presence, got {show(presence)}")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_ID_LENGTH):
            raise InvalidValueError(
                f"agent {agent_id!r}: reason must be None or a string of at most "
                f"{MAX_ID_LENGTH} characters, got {show(reason)}"
            )
        if reason is not None:
            check_text(reason, f"agent {agent_id!r}: reason")
        change = check_presence_change(agent_id, rec.presence, presence)
        if change and presence is Presence.OFFLINE:
            self._check_can_log_off(rec)
        return rec, change

    def _check_capacity(
        self, agent_id: str, channel: str, capacity: object
    ) -> tuple[_AgentRec, int, int]:
        """The agent, the channel's handle and the capacity as a plain int."""
        rec = self._agent(agent_id)
        ch = self._channel(channel)
        number = exact_int(capacity)
        if number is None or number < 0:
            raise InvalidValueError(
                f"agent {agent_id!r}: capacity for {channel!r} must be an integer >= 0, "
                f"got {show(capacity)}"
            )
        if number > MAX_COUNT:
            raise InvalidValueError(
                f"agent {agent_id!r}: capacity for {channel!r} must be an integer <= "
                f"{MAX_COUNT}, got {show(capacity)}"
            )
        if number < rec.load[channel]:
            raise InvalidStateError(
                f"agent {agent_id!r} holds {rec.load[channel]} {channel} contacts; "
                f"capacity cannot go below that (asked for {number})"
            )
        return rec, ch, number

    def _check_submit(self, contact: object) -> _QueueRec:
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"submit expects a Contact, got {show(contact)}")
        if contact.id in self._contacts:
            raise DuplicateIdError("contact", contact.id)
        queue = self._queue(contact.queue)
        self._channel(contact.channel)
        return queue

    def _check_action(
        self, contact_id: str, action: ContactAction
    ) -> tuple[_ContactRec, ContactState]:
        """The contact and the state ``action`` moves it to (the one check of the move)."""
        rec = self._contact(contact_id)
        return rec, contact_transition(contact_id, rec.state, action)

    def _check_wrap_up(
        self, contact_id: str, action: ContactAction, disposition: object
    ) -> tuple[_ContactRec, ContactState, str | None]:
        """:meth:`_check_action`, and the disposition the contact ends with."""
        rec, after = self._check_action(contact_id, action)
        config = self._queues[rec.queue].config
        ends = action is _A.END_WRAP_UP or config.wrap_up == 0
        code = check_disposition(
            config, contact_id, disposition, given=rec.disposition, ends_work=ends
        )
        return rec, after, code

    def _check_transfer(
        self,
        contact_id: str,
        queue: object,
        requirements: object,
        agent: object,
        keep_key: object,
    ) -> tuple[_ContactRec, ContactState, _QueueRec, dict[str, int] | None, _AgentRec | None]:
        rec, after = self._check_action(contact_id, _A.TRANSFER)
        to_queue = self._queue(queue) if queue is not None else self._queues[rec.queue]  # type: ignore[arg-type]
        base = self._check_requirements(requirements, f"transfer of contact {contact_id!r}")  # type: ignore[arg-type]
        target = None
        if agent is not None:
            target = self._agent(agent)  # type: ignore[arg-type]
            if target.presence is Presence.OFFLINE:
                raise InvalidStateError(
                    f"cannot transfer contact {contact_id!r} to agent {agent!r}: the agent is offline"
                )
            if agent in self._exclusions.excluded(rec.spec):
                raise InvalidStateError(
                    f"cannot transfer contact {contact_id!r} to agent {agent!r}: "
                    "the agent is excluded for this contact or its customer"
                )
        check_bool(keep_key, f"transfer of contact {contact_id!r}: keep_key")
        return rec, after, to_queue, base, target

    def _check_abandon(self, contact_id: str) -> tuple[_ContactRec, ContactState]:
        rec = self._contact(contact_id)
        # A scheduled callback is cancelled; anything else is abandoned.
        action = _A.CANCEL_CALLBACK if rec.state is _S.SCHEDULED else _A.ABANDON
        return rec, contact_transition(contact_id, rec.state, action)

    def _check_schedule(self, contact: object, at: object) -> tuple[_QueueRec, float]:
        queue = self._check_submit(contact)
        assert isinstance(contact, Contact)
        now = self._now
        # An int is compared as an int: one beyond float range is simply out of bounds.
        number = exact_real(at)
        if number is None or not now <= number <= now + MAX_SECONDS:
            raise InvalidValueError(
                f"cannot schedule callback {contact.id!r}: at must be a finite router time "
                f"from now ({now:g}) to {MAX_SECONDS:g} s later, got {show(at)}"
            )
        due = float(number)
        hours = self._hours
        if hours is not None:
            hours.check_time(queue.config, contact.id, due)
        return queue, due

    def _check_callback(self, contact_id: str, channel: str) -> tuple[_ContactRec, ContactState]:
        rec = self._contact(contact_id)
        self._channel(channel)
        return rec, contact_transition(contact_id, rec.state, _A.REQUEST_CALLBACK)

    def _check_exclusion(self, customer_id: str, agent_id: str) -> None:
        self._check_exclusion_ids(customer_id, agent_id)
        excluded = self._exclusions.of_customer(customer_id)
        if excluded is None or agent_id not in excluded:
            raise UnknownIdError("exclusion", f"{customer_id}/{agent_id}")

    def _skill(self, name: str) -> int:
        sid = self._skills.get(name)
        if sid is None:
            sid = self._skills[name] = len(self._skills)
        return sid

    @staticmethod
    def _check_requirements(value: Mapping[str, int] | None, where: str) -> dict[str, int] | None:
        if value is None:
            return None
        try:
            items = dict(value).items()
        except Exception:
            raise InvalidValueError(
                f"{where}: requirements must be a mapping of skill name to level, got {show(value)}"
            ) from None
        out: dict[str, int] = {}
        for name, level in items:
            if not isinstance(name, str) or not name or len(name) > MAX_ID_LENGTH:
                raise InvalidValueError(
                    f"{where}: skill name must be a non-empty string of at most "
                    f"{MAX_ID_LENGTH} characters, got {show(name)}"
                )
            check_text(name, f"{where}: skill name")
            if (
                not isinstance(level, int)
                or isinstance(level, bool)
                or not MIN_LEVEL <= level <= MAX_LEVEL
            ):
                raise InvalidValueError(
                    f"{where}: level of skill {name!r} must be an integer in "
                    f"{MIN_LEVEL}..{MAX_LEVEL}, got {level!r}"
                )
            out[name] = level
        return out

    def _check_offered_to(
        self, contact_id: str, agent_id: str, action: ContactAction
    ) -> tuple[_ContactRec, _AgentRec, ContactState]:
        rec = self._contact(contact_id)
        agent = self._agent(agent_id)
        after = contact_transition(rec.spec.id, rec.state, action)
        # the usual case, the one holder, without building the holders' list
        if rec.agent != agent.spec.id and agent.spec.id not in self._holders(rec):
            raise InvalidStateError(
                f"cannot {action.value} contact {rec.spec.id!r} as agent {agent.spec.id!r}: "
                f"it is offered to {', '.join(map(repr, self._holders(rec)))}"
            )
        return rec, agent, after

    def _check_can_log_off(self, rec: _AgentRec) -> _AgentRec:
        if rec.in_service:
            raise InvalidStateError(
                f"agent {rec.spec.id!r} has {len(rec.in_service)} contact(s) in service "
                f"({', '.join(sorted(rec.in_service))}); complete or transfer them before logging off"
            )
        return rec

    # ---------------------------------------------------------------- timers

    def _move(
        self, rec: _ContactRec, action: ContactAction, after: ContactState | None = None
    ) -> None:
        """Apply ``action`` to a contact: its next state and the end of the
        timers the action ends (:data:`~ccroute.lifecycle.TIMERS_ENDED`).

        ``after`` is the state the public call's check found (the move is
        checked once); a move the router makes itself is checked here."""
        rec.state = contact_transition(rec.spec.id, rec.state, action) if after is None else after
        tokens = rec.tokens
        for code in _ENDED_CODES[id(action)]:
            tokens[code] += 1

    def _schedule(self, due: float, kind: int, rec: _ContactRec | _AgentRec) -> None:
        rec.tokens[kind] += 1
        heapq.heappush(self._timers, (due, next(self._timer_seq), kind, rec, rec.tokens[kind]))

    @staticmethod
    def _timer_live(timer: tuple[float, int, int, Any, int]) -> bool:
        _due, _seq, kind, rec, token = timer
        return bool(rec.live and rec.tokens[kind] == token)

    def _run_due(self, now: float, events: list[Event]) -> int:
        """Apply every live timer due at or before ``now``; return how many ran.

        Timers due at the same instant run in the order they were set, except
        that the queue delays ending then run first, in key order: a delay
        only changes eligibility, which holds from that instant on, so those
        contacts are routed before any other timer of the instant routes
        (docs/routing.md, "Time"); and scheduled callbacks due then enter
        in key order (docs/business-hours.md)."""
        timers = self._timers
        ran = 0
        while timers and timers[0][0] <= now:
            due = timers[0][0]
            batch = [heapq.heappop(timers)]
            while timers and timers[0][0] == due:
                batch.append(heapq.heappop(timers))
            if len(batch) > 1:
                delays = sorted((t for t in batch if t[2] == _DELAY), key=lambda t: t[3].key)
                if delays:
                    batch = delays + [t for t in batch if t[2] != _DELAY]
                # Callbacks entering at one instant enter in key order, each
                # routed as it enters: the most deserving takes a free agent.
                entering = sorted((t for t in batch if t[2] == _CALLBACK), key=lambda t: t[3].key)
                if len(entering) > 1:
                    ordered = iter(entering)
                    batch = [next(ordered) if t[2] == _CALLBACK else t for t in batch]
            ran += self._run_batch(batch, events)
        return ran

    def _run_batch(self, batch: list[tuple[float, int, int, Any, int]], events: list[Event]) -> int:
        """Apply the live timers of ``batch`` (all due at one instant), in order."""
        ran = 0
        for timer in batch:
            if not self._timer_live(timer):
                continue
            ran += 1
            due, _seq, kind, rec, _token = timer
            self._now = max(self._now, due)
            _ON_TIMER[kind](self, rec, self._now, events)
        return ran

    def _schedule_step(self, rec: _ContactRec) -> None:
        steps = self._queues[rec.queue].config.steps
        if rec.steps_applied < len(steps):
            self._schedule(rec.entered_at + steps[rec.steps_applied].after, _STEP, rec)

    def _apply_step(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        self._move(rec, _A.APPLY_STEP)
        index = rec.steps_applied
        step = self._queues[rec.queue].config.steps[index]
        if rec.requirements is rec.base:
            rec.requirements = dict(rec.base)
        for name, level in step.requirements:
            if level is None:
                rec.requirements.pop(name, None)
            else:
                rec.requirements[name] = level
        rec.extra_queues = rec.extra_queues | (step.queues - {rec.queue})
        rec.steps_applied += 1
        events.append(
            StepApplied(
                now,
                rec.spec.id,
                rec.queue,
                index,
                tuple(sorted(rec.requirements.items())),
                rec.extra_queues | {rec.queue},
            )
        )
        if rec.state is _S.WAITING:
            self._dequeue(rec)
            self._enqueue(rec)
            self._schedule_step(rec)
            self._route_contact(rec, now, events)
            self._check_staffed(rec, now, events)
        else:
            self._schedule_step(rec)

    def _time_out_offer(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        agents = [self._agents[a] for a in self._holders(rec)]
        self._move(rec, _A.TIME_OUT)
        rona = self._queues[rec.queue].config.rona_not_ready
        for agent in agents:
            events.append(OfferTimedOut(now, rec.spec.id, agent.spec.id))
        for agent in agents:
            if rona and agent.presence is Presence.AVAILABLE:
                self._set_presence(agent, Presence.NOT_READY, "rona", now, events)
        self._return_offer(rec, agents, now, events, declined=True)

    def _expire_preference(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        if rec.target is None:
            return
        self._lapse_reservation(rec, "wait over", now, events)
        if rec.state is _S.WAITING:
            self._route_contact(rec, now, events)
            self._check_staffed(rec, now, events)

    # ---------------------------------------------------------- queue moves

    def _signature(self, rec: _ContactRec) -> int:
        """The queue's signature id for the contact's channel, queues and
        requirements; building the queue's arguments is done once per
        distinct signature, not at every enqueue."""
        key = (rec.channel, rec.queue, rec.extra_queues, *rec.requirements.items())
        sig = self._signatures.get(key)
        if sig is None:
            queues = [self._queues[rec.queue].handle]
            queues.extend(self._queues[q].handle for q in rec.extra_queues)
            sig = self._signatures[key] = int(
                self._q.signature(
                    self._channel_ids[rec.channel],
                    [(self._skill(s), level) for s, level in rec.requirements.items()],
                    queues,
                )
            )
        return sig

    def _enqueue(self, rec: _ContactRec) -> None:
        rec.sig = self._signature(rec)
        target = NONE if rec.target is None else self._agents[rec.target].handle
        self._q.insert(rec.handle, rec.key, rec.sig, target)
        self._queues[rec.queue].waiting += 1
        ranks = self._ranks.get(rec.queue)
        if ranks is not None:
            ranks.add(rec.key)
        if rec.rejected_by:
            self._rejections.waiting.add(rec.spec.id)
        reservation = self._reservation
        if reservation is not None and rec.channel in reservation.channels:
            reservation.enqueued(rec.spec.id)
        waiting = self._queue_waiting.get(rec.queue)
        if waiting is not None:
            waiting.add(rec.spec.id)

    def _dequeue(self, rec: _ContactRec) -> None:
        self._q.remove(rec.handle)
        self._queues[rec.queue].waiting -= 1
        ranks = self._ranks.get(rec.queue)
        if ranks is not None:
            ranks.remove(rec.key)
        if rec.rejected_by:
            # only a waiting contact someone declined is in it
            self._rejections.waiting.discard(rec.spec.id)
        reservation = self._reservation
        if reservation is not None and rec.channel in reservation.channels:
            # The agents this contact kept free may now take other work.
            reservation.dequeued(rec.spec.id)
        waiting = self._queue_waiting.get(rec.queue)
        if waiting is not None:
            waiting.discard(rec.spec.id)

    def _leave(
        self, rec: _ContactRec, action: ContactAction, after: ContactState | None = None
    ) -> None:
        """The contact leaves for good (completed, abandoned or timed out): its
        final move, and the end of its reservation, its rejection bars, its
        timers and the router's memory of it. Its agents and its place in
        the queue are the caller's to free first."""
        self._move(rec, action, after)
        self._unreserve(rec)
        self._rejections.forget(rec)
        rec.live = False  # every timer it had is dead
        del self._contacts[rec.spec.id]
        del self._contact_by_handle[rec.handle]
        if rec.spec.customer_id is not None or rec.spec.excluded_agents:
            self._exclusions.contact_dropped(rec)

    def _unreserve(self, rec: _ContactRec) -> None:
        """End the contact's reservation for one agent, if any, and its timer."""
        if rec.target is not None:
            self._preferred.release(rec)
            rec.tokens[_PREFERENCE] += 1

    def _lapse_reservation(
        self, rec: _ContactRec, reason: PreferenceExpiryReason, now: float, events: list[Event]
    ) -> None:
        """End a reservation for one agent; a waiting contact is re-indexed for everyone."""
        waiting = rec.state is _S.WAITING
        if waiting:
            self._dequeue(rec)
        target = self._preferred.release(rec)
        assert target is not None
        rec.tokens[_PREFERENCE] += 1
        if waiting:
            self._enqueue(rec)
        events.append(PreferenceExpired(now, rec.spec.id, target, reason))

    def _release(self, agent: _AgentRec, channel: str, now: float) -> None:
        agent.load[channel] -= 1
        blocking = self._blocking
        if blocking is not None and agent.load[channel] == 0:
            blocking.freed(agent.spec.id, channel)
        agent.idle_since = now
        self._q.release(agent.handle, self._channel_ids[channel], now)

    def _return_offer(
        self,
        rec: _ContactRec,
        agents: list[_AgentRec],
        now: float,
        events: list[Event],
        *,
        declined: bool,
        route: bool = True,
    ) -> None:
        """Put an offered contact back in its place and free its holders' slots
        (the caller has moved it: reject, time out or rescind)."""
        rec.agent = None
        rec.also = None
        for agent in agents:
            agent.offered.discard(rec.spec.id)
            self._release(agent, rec.channel, now)
            if declined:
                self._rejections.declined(rec, agent)
                if rec.target is not None and self._preferred.declined(rec, agent):
                    # The agent it was reserved for said no: anyone may take it now.
                    rec.tokens[_PREFERENCE] += 1
                    events.append(PreferenceExpired(now, rec.spec.id, agent.spec.id, "declined"))
        self._enqueue(rec)
        if rec.overdue:
            # Its maximum wait passed during the offer: it leaves now (the
            # agents it freed are routed first, below).
            self._expire(rec, "max wait", now, events, route=False)
        if route:
            for agent in agents:
                self._route_agent(agent, now, events)
            if rec.state is _S.WAITING and rec.live:
                self._route_contact(rec, now, events)
                # a reservation that ended may have been its only prospect
                self._check_staffed(rec, now, events)

    def _end_wrap_up(
        self, rec: _ContactRec, now: float, events: list[Event], after: ContactState | None = None
    ) -> None:
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        agent.wrap_up.discard(rec.spec.id)
        self._release(agent, rec.channel, now)
        self._leave(rec, _A.END_WRAP_UP, after)
        self.completed += 1
        self._handle_times.learn(rec.queue, rec.channel, now - rec.accepted_at)
        events.append(
            _build_wrap_up_ended(
                now,
                rec.spec.id,
                agent.spec.id,
                rec.queue,
                rec.channel,
                now - rec.completed_at,
                rec.disposition,
            )
        )
        self._route_agent(agent, now, events)

    # ----------------------------------------------------------- presence

    def _set_presence(
        self,
        rec: _AgentRec,
        presence: Presence,
        reason: str | None,
        now: float,
        events: list[Event],
    ) -> None:
        old = rec.presence
        rec.presence = presence
        self._count_presence(rec, old, presence)
        if self._reservation is not None:
            self._reservation.changed()
        events.append(PresenceChanged(now, rec.spec.id, old, presence, reason))
        if (old is Presence.OFFLINE) != (presence is Presence.OFFLINE):
            step = 1 if old is Presence.OFFLINE else -1
            for name in rec.spec.queues:
                self._queues[name].logged_in += step
        q = self._q
        if presence is Presence.AVAILABLE:
            q.set_logged_in(rec.handle, True)
            rec.idle_since = now
            q.set_available(rec.handle, True, now)
            if self._policy.ramp_up is not None and len(rec.offered) <= 1:
                # An agent who kept several offers open through a short break
                # was not away from them: it does not ramp.
                self._start_ramp(rec, now)
            self._route_agent(rec, now, events)
            return
        if rec.ramping:
            # An absence ends the ramp; coming back starts a new one.
            self._cancel_ramp(rec)
        q.set_available(rec.handle, False, now)
        if presence is Presence.NOT_READY:
            q.set_logged_in(rec.handle, True)
            return
        q.set_logged_in(rec.handle, False)
        for contact_id in sorted(rec.wrap_up):
            self._end_wrap_up(self._contacts[contact_id], now, events)
        # Everything the agent gave up goes back first, then is routed in key
        # order, so no contact overtakes one that was ahead of it.
        returned = [self._contacts[c] for c in self._preferred.reserved_contacts(rec)]
        for contact in returned:
            self._lapse_reservation(contact, "agent logged off", now, events)
        for contact_id in sorted(rec.offered):
            contact = self._contacts[contact_id]
            events.append(OfferRescinded(now, contact_id, rec.spec.id, "agent logged off"))
            if contact.also:
                self._withdraw(contact, rec, now, declined=False)
                continue
            self._move(contact, _A.RESCIND)
            self._return_offer(contact, [rec], now, events, declined=False, route=False)
            returned.append(contact)
        # One fewer logged-in agent may also lift rejection bars: those
        # contacts join the same pass.
        returned.extend(self._contacts[c] for c in self._rejections.waiting)
        self._route_in_key_order(returned, now, events)
        self._recheck_staffing(now, events)

    def _reroute_rejected(self, now: float, events: list[Event]) -> None:
        # Fewer qualified agents may lift a rejection bar ("unless no one else
        # can take it"), so contacts someone rejected get another look.
        self._route_in_key_order([self._contacts[c] for c in self._rejections.waiting], now, events)

    def _route_in_key_order(self, recs: list[_ContactRec], now: float, events: list[Event]) -> None:
        for rec in sorted(set(recs), key=lambda r: r.key):
            if rec.state is _S.WAITING and rec.live:
                self._route_contact(rec, now, events)

    # ------------------------------------------------------------- routing

    def _barred_agents(self, rec: _ContactRec, now: float) -> set[int]:
        """Handles of agents a policy keeps from this contact (see :meth:`_bars`),
        for routing, which remembers whom it kept free for a reserved channel."""
        if (
            not rec.rejected_by
            and self._ramp_up is None
            and self._blocking is None
            and self._reservation is None
            and self._queue_delays is None
            and not self._exclusions.excluded(rec.spec)
        ):
            # No policy that could bar anyone is in play (the usual case):
            # what _bars would find, without building its dict and sets.
            return set()
        bars = self._bars(rec, now)
        if not bars:
            return set()
        kept = bars.get(NotEligible.RESERVED_CHANNEL)
        if kept:
            assert self._reservation is not None
            self._reservation.hold(kept)
        if len(bars) == 1:
            return next(iter(bars.values()))
        return set().union(*bars.values())

    def _barred_contacts(self, agent: _AgentRec, now: float) -> set[int]:
        """Handles of waiting contacts a policy keeps from this agent (the mirror of
        :meth:`_bars`, less the channel-wide blocks :meth:`_blocked_channels` gives)."""
        blocking = self._blocking
        queue_delays = self._queue_delays
        if (
            not agent.rejected
            and blocking is None
            and queue_delays is None
            and not self._exclusions.excluding.get(agent.spec.id)
        ):
            # Nothing bars any contact from this agent (the usual case).
            return set()
        contacts = self._contacts
        barred = self._rejections.barred_contacts(agent, self._exclusions.barred_agents)
        for contact_id in self._exclusions.barred_contacts(agent.spec.id):
            barred.add(contacts[contact_id].handle)
        if blocking is not None:
            barred |= blocking.barred_contacts(agent)
        if queue_delays is not None:
            barred |= queue_delays.barred_contacts(agent, now)
        return barred

    def _route_contact(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        """Offer a waiting contact to the best eligible agent (or agents, ring-all), if any."""
        reservation = self._reservation
        if reservation is not None and reservation.lift_pending:
            # A reserved-channel contact stopped waiting earlier in this call:
            # the agents it kept free go first, each to the smallest-key
            # contact it may take, before a contact is matched to one of them.
            while reservation.lift_pending:
                self._lift_reservations(now, events)
            if rec.state is not _S.WAITING or not rec.live:
                return
        queue = self._queues[rec.queue]
        barred = self._barred_agents(rec, now)
        target = NONE if rec.target is None else self._agents[rec.target].handle
        ring = 1 if target != NONE else queue.config.ring
        extra = False
        for _ in range(ring):
            if queue.strategy == _CUSTOM:
                a, scores = self._custom_choice(rec, queue, target, barred, events)
            else:
                a, scores = self._choose(rec, queue, target, barred)
            if a == NONE:
                return
            reason = None
            if self._offer_reasons:
                reason = self._offer_reason(rec, queue, a, barred, "contact", scores, now)
            self._offer(rec, self._agent_by_handle[a], now, events, reason, extra=extra)
            # The next ring goes to someone else.
            barred = barred | {a}
            extra = True

    def _custom_choice(
        self,
        rec: _ContactRec,
        queue: _QueueRec,
        target: int,
        barred: set[int],
        events: list[Event],
    ) -> tuple[int, dict[int, float] | None]:
        """The eligible agent a custom strategy scores highest (ties: smaller id),
        or, while a logged call is replayed (:meth:`_follow`), the agent it chose
        then. ``events`` are the call's events so far: the offer made here is
        the next one."""
        eligible = self._q.eligible_agents(rec.sig, target, barred)
        if len(eligible) <= 1:
            return (eligible[0] if eligible else NONE), None
        followed = self._followed
        if followed is not None:
            logged = self._logged_choice(
                rec, queue, target, barred, eligible, followed, len(events)
            )
            if logged is not None:
                return logged
        assert queue.custom is not None
        strategy = self._strategies[queue.custom]
        contact = self.contact(rec.spec.id)
        best: tuple[float, str] | None = None
        chosen = NONE
        scores: dict[int, float] = {}
        try:
            for a in eligible:
                agent = self._agent_by_handle[a]
                score = strategy.score(contact, self.agent(agent.spec.id))
                if isinstance(score, bool) or not isinstance(score, int | float):
                    raise TypeError(f"score must be a number, got {score!r}")
                if not math.isfinite(score):
                    raise ValueError(f"score must be finite, got {score!r}")
                scores[a] = float(score)
                # highest score first, then the smaller agent id
                if (
                    best is None
                    or score > best[0]
                    or (score == best[0] and agent.spec.id < best[1])
                ):
                    best = (score, agent.spec.id)
                    chosen = a
        except BaseException:
            # A strategy is plugin code: its failure must not stop routing.
            # BaseException too (SystemExit, KeyboardInterrupt, GeneratorExit,
            # a class of the plugin's own): ``score`` is a plain call, so no
            # cancellation of the caller can arrive inside it, and escaping
            # here would leave the router half-way through a call.
            return self._strategy_failed(rec, queue, target, barred), None
        return chosen, scores

    def _strategy_failed(
        self, rec: _ContactRec, queue: _QueueRec, target: int, barred: set[int]
    ) -> int:
        """Count a custom strategy's failure and give the agent longest idle
        chooses instead, among the same eligible agents."""
        self.strategy_failures += 1
        return int(self._q.best_agent(rec.sig, LONGEST_IDLE, target, queue.last_agent, barred))

    def _logged_choice(
        self,
        rec: _ContactRec,
        queue: _QueueRec,
        target: int,
        barred: set[int],
        eligible: list[int],
        followed: Sequence[Event],
        at: int,
    ) -> tuple[int, dict[int, float] | None] | None:
        """The choice the followed call made here, if this router can make it now.

        That call's offer from this decision is its event at ``at`` (each
        decision's offer is the next event of its call, ring-all's included).
        It is taken when it offers this contact to an agent eligible now:
        with the score and runner-up its reason logged (the plugin's answers,
        which only the log holds); or, when its reason has no score although
        more than one agent was eligible (the strategy failed then), as a
        failure now: counted, and longest idle chooses as it did. ``None``
        otherwise: the strategy is asked as in a live call, and a caller
        comparing the events sees the divergence. A followed call without
        offer reasons (``offer_reasons=False``) does not say whether the
        strategy failed: its agent is taken and no failure is counted."""
        if at >= len(followed):
            return None
        # What a store loaded is plugin data: only a well-formed offer of
        # this contact is taken (exact types, finite scores), anything else
        # leaves the decision to the strategy and the divergence to the caller.
        event = followed[at]
        if type(event) is not Offered:
            return None
        agent_id = event.agent_id
        if type(agent_id) is not str or event.contact_id != rec.spec.id:
            return None
        agent = self._agents.get(agent_id)
        if agent is None or agent.handle not in eligible:
            return None
        reason = event.reason
        if reason is None:
            return agent.handle, None
        if type(reason) is not OfferReason:
            return None
        score, runner_up = reason.score, reason.runner_up
        if score is None:
            return self._strategy_failed(rec, queue, target, barred), None
        if not _finite(score) or not (runner_up is None or _finite(runner_up)):
            return None
        scores = {agent.handle: score}
        if runner_up is not None:
            scores[next(a for a in eligible if a != agent.handle)] = runner_up
        return agent.handle, scores

    def _route_agent(self, agent: _AgentRec, now: float, events: list[Event]) -> None:
        """Offer the agent the best contacts it may take, while it has room."""
        if agent.presence is not Presence.AVAILABLE:
            return
        while True:
            if agent.ramping and RampingUp.holds_back(agent):
                return
            barred = self._barred_contacts(agent, now)
            blocked = self._blocked_channels(agent, now)
            if blocked:
                c = self._q.best_contact(agent.handle, barred, blocked)
            else:
                c = self._q.best_contact(agent.handle, barred)
            if c == NONE:
                return
            rec = self._contact_by_handle[c]
            reason = None
            if self._offer_reasons:
                queue = self._queues[rec.queue]
                reason = self._offer_reason(
                    rec, queue, agent.handle, self._barred_agents(rec, now), "agent", None, now
                )
            self._offer(rec, agent, now, events, reason)

    def _offer(
        self,
        rec: _ContactRec,
        agent: _AgentRec,
        now: float,
        events: list[Event],
        reason: OfferReason | None = None,
        *,
        extra: bool = False,
    ) -> None:
        queue = self._queues[rec.queue]
        if extra:
            # ring-all: one more agent holds the same offer, with its deadline
            rec.also = [*(rec.also or ()), agent.spec.id]
        else:
            self._move(rec, _A.OFFER)
            self._dequeue(rec)
            rec.agent = agent.spec.id
            timeout = queue.config.offer_timeout
            rec.timeout_at = None if timeout is None else now + timeout
            if rec.timeout_at is not None:
                self._schedule(rec.timeout_at, _OFFER, rec)
        agent.offered.add(rec.spec.id)
        agent.load[rec.channel] += 1
        blocking = self._blocking
        if blocking is not None and agent.load[rec.channel] == 1:
            blocking.took(agent.spec.id, rec.channel)
        self._q.occupy(agent.handle, self._channel_ids[rec.channel])
        queue.last_agent = agent.spec.id
        events.append(
            _build_offered(
                now, rec.spec.id, agent.spec.id, rec.queue, rec.channel, rec.timeout_at, reason
            )
        )

    def _withdraw(self, rec: _ContactRec, agent: _AgentRec, now: float, *, declined: bool) -> None:
        """Take one agent's offer of a contact other agents still hold (ring-all)."""
        holders = [a for a in self._holders(rec) if a != agent.spec.id]
        rec.agent = holders[0]
        rec.also = holders[1:] or None
        agent.offered.discard(rec.spec.id)
        self._release(agent, rec.channel, now)
        if declined:
            self._rejections.declined(rec, agent)

    @staticmethod
    def _holders(rec: _ContactRec) -> list[str]:
        """Agents holding an offer of the contact (or serving it)."""
        if rec.agent is None:
            return []
        return [rec.agent, *rec.also] if rec.also else [rec.agent]

    def _bars(self, rec: _ContactRec, now: float) -> dict[NotEligible, set[int]]:
        """Agents each policy keeps from this waiting contact, by policy (handles)."""
        bars: dict[NotEligible, set[int]] = {}
        excluded_handles = self._exclusions.barred_agents(rec)
        if excluded_handles:
            bars[NotEligible.EXCLUDED] = excluded_handles
        rejected = self._rejections.barred_agents(rec, excluded_handles)
        if rejected:
            bars[NotEligible.REJECTED_BEFORE] = rejected
        ramp_up = self._ramp_up
        if ramp_up is not None and ramp_up.ramping:
            ramping = ramp_up.barred_agents()
            if ramping:
                bars[NotEligible.RAMPING_UP] = ramping
        blocking = self._blocking
        if blocking is not None:
            blocked = blocking.barred_agents(rec)
            if blocked:
                bars[NotEligible.BLOCKED_CHANNEL] = blocked
        reservation = self._reservation
        if reservation is not None:
            kept = reservation.barred_agents(rec.channel, now)
            if kept:
                bars[NotEligible.RESERVED_CHANNEL] = kept
        queue_delays = self._queue_delays
        if queue_delays is not None:
            delayed = queue_delays.barred_agents(rec, now)
            if delayed:
                bars[NotEligible.QUEUE_DELAY] = delayed
        return bars

    def _blocked_channels(self, agent: _AgentRec, now: float) -> set[int]:
        """Channels on which the agent takes no new work now, whatever the contact's
        queue; for routing, which remembers whom it kept free for a reserved channel."""
        blocking = self._blocking
        blocked = blocking.blocked_channels(agent) if blocking is not None else set()
        reservation = self._reservation
        if reservation is not None and reservation.waiting:
            reservation.hold(reservation.kept_free(now))
            blocked.update(reservation.blocked_channels(agent, self._channel_ids, now))
        return blocked

    def _choose(
        self, rec: _ContactRec, queue: _QueueRec, target: int, barred: set[int]
    ) -> tuple[int, dict[int, float] | None]:
        """The eligible agent a built-in strategy picks (custom ones: :meth:`_custom_choice`)."""
        if queue.strategy == RANDOM and target == NONE:
            eligible = self._q.eligible_agents(rec.sig, NONE, barred)
            if not eligible:
                return NONE, None
            return eligible[self._rng.randrange(len(eligible))], None
        return (
            int(self._q.best_agent(rec.sig, queue.strategy, target, queue.last_agent, barred)),
            None,
        )

    def _check_channel_names(
        self, blocking: tuple[tuple[str, frozenset[str]], ...], where: str
    ) -> None:
        for holding, blocked in blocking:
            if holding not in self._channel_ids:
                raise UnknownIdError("channel", holding)
            for name in sorted(blocked):
                if name not in self._channel_ids:
                    raise UnknownIdError("channel", name)

    def _block_channels(self) -> ChannelBlocking:
        """The blocking policy, built (from the work agents hold now) when the
        first matrix is given; it then follows their work for good."""
        blocking = self._blocking
        if blocking is None:
            blocking = self._blocking = ChannelBlocking(
                self._policy.blocking,
                self._agents,
                self._contacts,
                self._channel_ids,
                self._queue_waiting,
            )
        return blocking

    def _index_queue(self, name: str) -> None:
        """Keep the set of a queue's waiting contacts (own blocking matrix or agent delays)."""
        if name not in self._queue_waiting:
            self._queue_waiting[name] = {
                r.spec.id
                for r in self._contacts.values()
                if r.state is _S.WAITING and r.queue == name
            }

    def _new_key(self, contact: Contact, queue: _QueueRec, now: float) -> Key:
        head_start = contact.priority_seconds + queue.config.priority_seconds
        return contact_key(contact.tier, now, head_start, next(self._seq))

    def _admit(self) -> None:
        """Build the admission policy, for the first queue that can refuse anyone."""
        self._admission = AdmissionRules(
            self._q, self._channel_ids, self._skill, self._exclusions, self._agents
        )

    @staticmethod
    def _check_exclusion_ids(customer_id: object, agent_id: object) -> None:
        check_id(customer_id, "customer id")
        check_id(agent_id, "agent id")

    # ------------------------------------------------- maximum wait, overflow

    def _schedule_entry_timers(self, rec: _ContactRec, now: float) -> None:
        """Timers that count from entering a queue: steps, maximum wait, agent delays."""
        self._schedule_step(rec)
        waits = self._waits
        if waits is None and rec.spec.max_wait is not None:
            # the first contact with a maximum wait of its own
            waits = self._wait_limits()
        if waits is not None:
            due = waits.due(rec)
            if due is not None:
                self._schedule(due, _MAXWAIT, rec)
        queue_delays = self._queue_delays
        if queue_delays is not None and rec.queue in queue_delays.by_queue:
            self._schedule_delay(rec, now)

    def _schedule_delay(self, rec: _ContactRec, now: float) -> None:
        """Wake the contact when the next agent delay of its queue passes."""
        queue_delays = self._queue_delays
        due = queue_delays.next_due(rec, now) if queue_delays is not None else None
        if due is not None:
            self._schedule(due, _DELAY, rec)
        else:
            rec.tokens[_DELAY] += 1

    def _delay_queues(self) -> QueueDelays:
        """The queue-delay policy, built when the first agent delays a queue."""
        queue_delays = self._queue_delays
        if queue_delays is None:
            queue_delays = self._queue_delays = QueueDelays(
                self._agents, self._contacts, self._queue_waiting
            )
        return queue_delays

    def _delay_over(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        self._schedule_delay(rec, now)
        if rec.state is _S.WAITING:
            self._route_contact(rec, now, events)

    def _wait_limits(self) -> WaitLimits:
        """The maximum-wait policy, built for the first queue or contact that
        ends waits (no queue skipped before it, so it starts counting at 0)."""
        waits = self._waits
        if waits is None:
            waits = self._waits = WaitLimits(self._queues, self._contacts, self._staffed)
        return waits

    def _staffed(self, rec: _ContactRec) -> bool:
        """Whether a logged-in agent not excluded for the contact could ever take
        it (load and readiness aside): the skip rule's question to the queue."""
        return bool(self._q.any_logged_in(rec.sig, self._exclusions.barred_agents(rec)))

    def _max_wait_over(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        if self._wait_limits().wait_over(rec):
            self._expire(rec, "max wait", now, events)

    def _expire(
        self,
        rec: _ContactRec,
        reason: OverflowReason,
        now: float,
        events: list[Event],
        *,
        route: bool = True,
    ) -> None:
        """A waiting contact's wait is over: overflow to the next queue, or time
        out, as the maximum-wait policy decides.

        ``route=False`` leaves an overflowed contact's routing to the caller
        (an agent freed by the same change goes first)."""
        waits = self._wait_limits()
        keep_key = self._queues[rec.queue].config.overflow_keep_key
        wait = now - rec.entered_at
        to_name, outcome = waits.destination(rec, reason, now)
        rec.overdue = False
        # it waited this long without abandoning (the estimated wait's learning)
        self._patience.left(rec.queue, rec.channel, wait, False)
        if to_name is None:
            self._dequeue(rec)
            self._queues[rec.queue].present -= 1
            self._leave(rec, _A.TIME_OUT_QUEUE)
            self.timed_out += 1
            events.append(TimedOut(now, rec.spec.id, rec.queue, rec.channel, wait, outcome))
            return
        from_queue = rec.queue
        waits.overflowed(rec, reason, now)
        self._dequeue(rec)
        self._queues[from_queue].present -= 1
        self._move(rec, _A.OVERFLOW)
        to_queue = self._queues[to_name]
        self._requeue(rec, to_queue, dict(rec.spec.requirements), keep_key, now)
        events.append(Overflowed(now, rec.spec.id, from_queue, to_name, wait, reason, keep_key))
        self._enqueue(rec)
        self._schedule_entry_timers(rec, now)
        if route:
            self._route_contact(rec, now, events)
            self._check_staffed(rec, now, events)

    def _requeue(
        self,
        rec: _ContactRec,
        to_queue: _QueueRec,
        base: dict[str, int],
        keep_key: bool,
        now: float,
    ) -> None:
        """Make a dequeued contact wait afresh in ``to_queue`` (transfer, overflow:
        the caller's move ended the timers of its old wait)."""
        rec.overdue = False
        self._unreserve(rec)
        self._rejections.forget(rec)
        rec.queue = to_queue.config.name
        to_queue.present += 1
        rec.base = base
        rec.requirements = base
        rec.extra_queues = _NO_QUEUES
        rec.steps_applied = 0
        rec.entered_at = now
        if not keep_key:
            rec.key = self._new_key(rec.spec, to_queue, now)

    def _check_staffed(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        """Skip ahead when no logged-in agent could ever take a waiting contact."""
        waits = self._waits
        if waits is None or not waits.skip_queues:
            return
        skip = waits.skip(rec)
        if skip == "step":
            self._apply_step(rec, now, events)
        elif skip == "leave":
            self._expire(rec, "no agent", now, events)

    def _recheck_staffing(self, now: float, events: list[Event]) -> None:
        """After agents left: skip waiting contacts that nobody logged in can take now."""
        waits = self._waits
        if waits is None or not waits.skip_queues:
            return
        for rec in waits.to_recheck():
            self._check_staffed(rec, now, events)

    def _take_in(self, contact: Contact, state: ContactState, key: Key, now: float) -> _ContactRec:
        """A new contact's record, kept and counted as submitted: the one place
        a contact comes in (a submit, or a callback held for later)."""
        # Contacts with the same requirements share one dict: it is never
        # changed in place (a routing step copies before changing).
        base = self._requirement_dicts.get(contact.requirements)
        if base is None:
            base = self._requirement_dicts[contact.requirements] = dict(contact.requirements)
        rec = _ContactRec(
            spec=contact,
            handle=next(self._contact_handles),
            state=state,
            queue=contact.queue,
            channel=contact.channel,
            base=base,
            # shared with base until a routing step changes it (copy on write)
            requirements=base,
            extra_queues=_NO_QUEUES,
            key=key,
            arrived_at=now,
            entered_at=now,
        )
        self._contacts[contact.id] = rec
        self._contact_by_handle[rec.handle] = rec
        self.submitted += 1
        return rec

    # ----------------------------------------------------- scheduled callbacks

    def _hold(
        self,
        contact: Contact,
        queue: _QueueRec,
        due: float,
        reason: CallbackScheduleReason,
        now: float,
        events: list[Event],
    ) -> None:
        """Take a contact in as a callback held until ``due`` (docs/business-hours.md)."""
        rec = self._take_in(contact, _S.SCHEDULED, _NO_KEY, now)
        queue.scheduled += 1
        self._exclusions.contact_added(rec)
        self._time_callback(rec, queue, due, reason, now, events)

    def _time_callback(
        self,
        rec: _ContactRec,
        queue: _QueueRec,
        due: float,
        reason: CallbackScheduleReason,
        now: float,
        events: list[Event],
    ) -> None:
        """Time a scheduled callback's entry; its key is the one it would get
        if submitted at ``due``, so it enters with its priority."""
        rec.due = due
        rec.key = self._new_key(rec.spec, queue, due)
        self._schedule(due, _CALLBACK, rec)
        events.append(
            CallbackScheduled(
                now, rec.spec.id, rec.queue, rec.channel, due, rec.attempts + 1, reason
            )
        )

    def _callback_due(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        """A scheduled callback's time came: it enters its queue, or, the queue
        being closed then (its calendar changed), waits for its next opening."""
        queue = self._queues[rec.queue]
        hours = self._hours
        if hours is not None:
            entry = hours.entry_time(queue.config, now)
            # A calendar that never opens again does not strand it: it enters.
            if entry is not None and entry > now:
                self._move(rec, _A.DEFER_CALLBACK)
                self._time_callback(rec, queue, entry, "closed", now, events)
                return
        self._move(rec, _A.ENTER_QUEUE)
        rec.due = None
        rec.entered_at = now
        queue.scheduled -= 1
        queue.present += 1
        contact = rec.spec
        events.append(_build_queued(now, contact.id, rec.queue, rec.channel))
        if contact.preferred_agent is not None and contact.preferred_wait > 0:
            due, lapsed = self._preferred.prefer(rec, self._exclusions.excluded(contact), now)
            if lapsed is not None:
                events.append(PreferenceExpired(now, contact.id, contact.preferred_agent, lapsed))
            elif due is not None:
                self._schedule(due, _PREFERENCE, rec)
        self._enqueue(rec)
        self._schedule_entry_timers(rec, now)
        self._route_contact(rec, now, events)
        self._check_staffed(rec, now, events)

    # ------------------------------------------------------------- ramp-up

    def _start_ramp(self, agent: _AgentRec, now: float) -> None:
        assert self._ramp_up is not None
        due = self._ramp_up.start(agent, now)
        if due is not None:
            self._schedule(due, _RAMP, agent)

    def _cancel_ramp(self, agent: _AgentRec) -> None:
        assert self._ramp_up is not None
        self._ramp_up.stop(agent)
        agent.tokens[_RAMP] += 1

    def _end_ramp(
        self, agent: _AgentRec, reason: RampUpEndReason, now: float, events: list[Event]
    ) -> None:
        self._cancel_ramp(agent)
        events.append(RampUpEnded(now, agent.spec.id, reason))
        self._route_agent(agent, now, events)

    def _ramp_up_over(self, agent: _AgentRec, now: float, events: list[Event]) -> None:
        self._end_ramp(agent, "time", now, events)

    # ------------------------------------------------------ channel reservation

    def _reserve_channels(self) -> ChannelReservation:
        """Build the channel reservation policy (docs/policies/blocking.md)."""
        reservation = self._reservation = ChannelReservation(
            self._policy.reserve_for,
            self._contacts,
            self._agents,
            self._agent_by_handle,
            self._keep_free_bars,
            lambda: self._queue_delays is not None and bool(self._queue_delays.by_queue),
        )
        return reservation

    def _keep_free_bars(self, rec: _ContactRec, now: float) -> set[int]:
        """Agents not kept free for a reserved-channel contact however they
        could take it: excluded, barred by a rejection, or in a queue delay."""
        excluded = self._exclusions.barred_agents(rec)
        barred = excluded | self._rejections.barred_agents(rec, excluded)
        queue_delays = self._queue_delays
        if queue_delays is not None:
            barred |= queue_delays.barred_agents(rec, now)
        return barred

    def _lift_reservations(self, now: float, events: list[Event]) -> None:
        """Route again the agents a reserved-channel contact kept free, once that
        contact stopped waiting: they may take other work now."""
        assert self._reservation is not None
        for agent in self._reservation.lifted(now):
            self._route_agent(agent, now, events)

    def _mismatch(self, rec: _ContactRec, agent: _AgentRec) -> list[tuple[NotEligible, str]]:
        """Membership and skill reasons the agent cannot take the contact (empty: fits)."""
        found: list[tuple[NotEligible, str]] = []
        if agent.spec.queues.isdisjoint(rec.extra_queues | {rec.queue}):
            found.append((NotEligible.NOT_A_MEMBER, ""))
        levels = agent.levels
        for skill, level in sorted(rec.requirements.items()):
            has = levels.get(skill)
            if has is None:
                found.append((NotEligible.MISSING_SKILL, f"needs {skill}"))
            elif has < level:
                found.append((NotEligible.LEVEL_TOO_LOW, f"needs {skill} >= {level}, has {has}"))
        return found

    # ------------------------------------------------------------- reasons

    def _offer_reason(
        self,
        rec: _ContactRec,
        queue: _QueueRec,
        winner: int,
        barred: set[int],
        trigger: str,
        scores: dict[int, float] | None,
        now: float,
    ) -> OfferReason:
        target = NONE if rec.target is None else self._agents[rec.target].handle
        # The queue backend counts the eligible agents and scores them as it
        # ranks them (_queue_protocol's score functions; in C for the compiled
        # twin): no loop over agents here, no second copy of their state. A
        # custom strategy's scores are the plugin's, so the backend only counts
        # for it (random has no score).
        code = RANDOM if queue.strategy == _CUSTOM else queue.strategy
        eligible, score, runner_up = self._q.offer_figures(
            rec.sig, code, winner, now, target, barred
        )
        if scores is not None:
            others = [s for a, s in scores.items() if a != winner]
            score, runner_up = scores.get(winner), (max(others) if others else None)
        held: list[str] = []
        if barred:
            could = set(self._q.eligible_agents(rec.sig, target, ()))
            held = sorted(
                reason.value
                for reason, handles in self._bars(rec, now).items()
                if not could.isdisjoint(handles)
            )
        strategy = queue.custom if queue.custom is not None else queue.config.strategy
        return OfferReason(
            strategy=strategy if isinstance(strategy, str) else strategy.value,
            trigger=trigger,
            eligible=eligible,
            score=score,
            runner_up=runner_up,
            step=rec.steps_applied,
            held_back=tuple(held),
        )

    # ============================================================ explanations

    def explain(self, contact_id: str) -> ContactExplanation:
        """Why a contact is where it is: who could take it now and why each other
        logged-in agent cannot. Cost: O(agents); nothing when not called."""
        rec = self._contact(contact_id)
        now = self._now
        eligible: list[str] = []
        verdicts: list[AgentVerdict] = []
        held: set[NotEligible] = set()
        if rec.state is _S.WAITING:
            bars = self._bars(rec, now)
            for agent in sorted(self._agents.values(), key=lambda r: r.spec.id):
                if agent.presence is Presence.OFFLINE:
                    continue
                found = self._verdict(rec, agent, bars, now)
                if not found:
                    eligible.append(agent.spec.id)
                    continue
                reasons, detail = self._summarise(found)
                verdicts.append(AgentVerdict(agent.spec.id, reasons, detail))
                policies = [r for r in reasons if r in HOLD_BACKS]
                if len(policies) == len(reasons):
                    # Only policies stand between this agent and the contact.
                    held.update(policies)
        return ContactExplanation(
            contact_id=contact_id,
            state=rec.state,
            queue=rec.queue,
            channel=rec.channel,
            waited=now - rec.entered_at,
            step=rec.steps_applied,
            agents=tuple(self._holders(rec)),
            eligible=tuple(eligible),
            not_eligible=tuple(verdicts),
            held_back=tuple(r for r in NotEligible if r in held),
            queue_open=self.is_open(rec.queue),
            callback_due=rec.due,
        )

    def explain_agent(self, agent_id: str) -> AgentExplanation:
        """Why an agent has no (further) offer: its own state, then, for every
        waiting contact, why it cannot take it. Cost: O(waiting contacts), times
        O(agents) under a channel reservation; nothing when not called."""
        agent = self._agent(agent_id)
        now = self._now
        own: list[NotEligible] = []
        if agent.presence is Presence.NOT_READY:
            own.append(NotEligible.NOT_READY)
        if agent.ramping and RampingUp.holds_back(agent):
            own.append(NotEligible.RAMPING_UP)
        if agent.presence is Presence.AVAILABLE and not any(
            self._q.has_spare(agent.handle, ch) for ch in self._channel_ids.values()
        ):
            own.append(NotEligible.NO_CAPACITY)
        eligible: list[str] = []
        verdicts: list[ContactVerdict] = []
        if agent.presence is not Presence.OFFLINE:
            waiting = sorted(
                (r for r in self._contacts.values() if r.state is _S.WAITING), key=lambda r: r.key
            )
            for rec in waiting:
                found = self._verdict(rec, agent, self._bars(rec, now), now)
                if not found:
                    eligible.append(rec.spec.id)
                    continue
                reasons, detail = self._summarise(found)
                verdicts.append(ContactVerdict(rec.spec.id, reasons, detail))
        return AgentExplanation(
            agent_id=agent_id,
            status=self.agent(agent_id).status,
            reasons=tuple(own),
            eligible=tuple(eligible),
            contacts=tuple(verdicts),
        )

    @staticmethod
    def _summarise(found: list[tuple[NotEligible, str]]) -> tuple[tuple[NotEligible, ...], str]:
        """A verdict's reasons, each once in order, and its details joined."""
        return tuple(dict.fromkeys(r for r, _ in found)), "; ".join(d for _, d in found if d)

    def _verdict(
        self,
        rec: _ContactRec,
        agent: _AgentRec,
        bars: dict[NotEligible, set[int]],
        now: float,
    ) -> list[tuple[NotEligible, str]]:
        """Every reason this logged-in agent cannot be offered this waiting contact now."""
        found: list[tuple[NotEligible, str]] = []
        if rec.target is None:
            found.extend(self._mismatch(rec, agent))
        elif self._preferred.bars(rec, agent):
            found.append((NotEligible.RESERVED_FOR_OTHER, f"reserved for {rec.target}"))
        ch = self._channel_ids[rec.channel]
        if agent.presence is Presence.NOT_READY:
            found.append((NotEligible.NOT_READY, ""))
        elif not self._q.has_spare(agent.handle, ch):
            found.append((NotEligible.NO_CAPACITY, f"no room for {rec.channel}"))
        for reason, handles in bars.items():
            if agent.handle in handles:
                found.append((reason, ""))
        return found


# ------------------------------------------------------------ runtime changes

# States in which a contact is in its queue's line: waiting, or offered (it
# comes back to its place if the offer does).
_IN_LINE: Final = frozenset({ContactState.WAITING, ContactState.OFFERED})


def _changed(old: Any, new: Any) -> tuple[str, ...]:
    """Names of the fields of two values of one attrs class that differ, in
    field order (fields left out of equality, such as capacities, included)."""
    return tuple(
        f.name for f in attrs.fields(type(old)) if getattr(old, f.name) != getattr(new, f.name)
    )


def _same_agent(held: Agent, given: Agent) -> bool:
    """Whether two agent declarations are the same, capacities included (an
    agent's equality leaves them out)."""
    return held == given and held.capacity == given.capacity


def _stepped(base: dict[str, int], steps: Iterable[RoutingStep]) -> dict[str, int]:
    """``base`` with the requirement overrides of ``steps`` applied in order
    (``base`` itself, shared, when there are none)."""
    out = base
    for step in steps:
        if step.requirements and out is base:
            out = dict(base)
        for name, level in step.requirements:
            if level is None:
                out.pop(name, None)
            else:
                out[name] = level
    return out


#: The handler each timer runs when it falls due; what a handler may do to
#: its contact is the timer's row of lifecycle.TIMER_ACTIONS.
_TIMER_HANDLERS: Final[dict[TimerKind, Callable[[Router, Any, float, list[Event]], None]]] = {
    TimerKind.OFFER: Router._time_out_offer,
    TimerKind.WRAP_UP: Router._end_wrap_up,
    TimerKind.STEP: Router._apply_step,
    TimerKind.PREFERENCE: Router._expire_preference,
    TimerKind.MAX_WAIT: Router._max_wait_over,
    TimerKind.DELAY: Router._delay_over,
    TimerKind.RAMP_UP: Router._ramp_up_over,
    TimerKind.CALLBACK: Router._callback_due,
}
# The same by timer code, for the heap's entries.
_ON_TIMER: Final = tuple(_TIMER_HANDLERS[kind] for kind in _TIMER_KINDS)
