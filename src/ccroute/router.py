"""The Router: a deterministic, sans-I/O state machine that routes contacts to agents.

The router holds the universal queue, the agents and their work, and the
timers the routing rules need. It performs no I/O and never reads the wall
clock: time comes from the clock object it is given. Every public call

1. reads the clock (a clock that went backwards raises :class:`ClockError`),
2. applies every timer that fell due since the last call, at its due time
   (exactly as :meth:`Router.tick` would; those events are handed to
   observers at once),
3. validates its arguments and raises, changing nothing further, if they
   are wrong,
4. applies the change, routes whatever the change made routable, and
5. returns the events it caused (timer events first), which observers also receive.

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
import pickle
import random
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from . import _codes
from ._codes import LONGEST_IDLE, NONE, RANDOM, Key, contact_key
from ._queue import UniversalQueue
from .clock import Clock, ManualClock
from .errors import (
    ClockError,
    DuplicateIdError,
    InputError,
    InvalidStateError,
    InvalidValueError,
    UnknownIdError,
)
from .events import (
    Abandoned,
    Accepted,
    AgentAdded,
    AgentRemoved,
    CallbackRequested,
    Completed,
    Event,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    PreferenceExpired,
    PresenceChanged,
    Queued,
    Refused,
    Rejected,
    StepApplied,
    Transferred,
    WrapUpEnded,
)
from .lifecycle import ContactAction, ContactState, check_presence_change, contact_transition
from .model import (
    BUILTIN_CHANNELS,
    MAX_LEVEL,
    MIN_LEVEL,
    Agent,
    Channel,
    Contact,
    Presence,
    QueueConfig,
)
from .views import AgentStatus, AgentView, ContactView, TickResult

if TYPE_CHECKING:
    from .hooktypes import AgentStrategy

__all__ = ["Observer", "Router"]

#: An observer receives every non-empty batch of events, in order.
Observer = Callable[[list[Event]], None]

_OFFER: Final = 0
_WRAP: Final = 1
_STEP: Final = 2
_PREFERENCE: Final = 3

# A queue whose strategy is a custom AgentStrategy, scored in Python.
_CUSTOM: Final = -2
# Bumped when the snapshot layout changes; an old snapshot is refused, not misread.
_SNAPSHOT_FORMAT: Final = 1
# Attributes a snapshot leaves out: the clock and observers belong to the
# embedding program, strategies are code, and the queue is rebuilt.
_TRANSIENT: Final = frozenset({"_clock", "_q", "_observers", "_strategies"})
_COUNTERS: Final = ("_seq", "_timer_seq", "_agent_handles", "_contact_handles")

_S = ContactState
# Contacts that never gained queues through a routing step share this one.
_NO_QUEUES: frozenset[str] = frozenset()
_A = ContactAction

# The records below are internal and assigned on every routing step: attrs'
# on-setattr hooks (validators, converters) would cost more than the routing.


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _ContactRec:
    spec: Contact
    handle: int
    state: ContactState
    queue: str
    channel: str
    base: dict[str, int]
    requirements: dict[str, int]
    extra_queues: frozenset[str]
    key: Key
    arrived_at: float
    entered_at: float
    sig: int = NONE
    steps_applied: int = 0
    agent: str | None = None
    target: str | None = None
    # None until someone rejects it: most contacts never are, and an empty
    # set per waiting contact costs 216 bytes.
    rejected_by: set[str] | None = None
    tokens: list[int] = attrs.Factory(lambda: [0, 0, 0, 0])
    accepted_at: float = 0.0
    completed_at: float = 0.0
    live: bool = True


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _AgentRec:
    spec: Agent
    handle: int
    capacity: dict[str, int]
    presence: Presence = Presence.OFFLINE
    offered: set[str] = attrs.Factory(set)
    in_service: set[str] = attrs.Factory(set)
    wrap_up: set[str] = attrs.Factory(set)
    # waiting or offered contacts this agent rejected or let time out
    rejected: set[str] = attrs.Factory(set)
    # waiting contacts reserved for this agent
    reserved: set[str] = attrs.Factory(set)
    load: dict[str, int] = attrs.Factory(dict)
    idle_since: float = 0.0
    handled: int = 0


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _QueueRec:
    config: QueueConfig
    handle: int
    strategy: int
    custom: str | None = None
    last_agent: str | None = None
    waiting: int = 0
    # waiting plus offered: what the size limit counts
    present: int = 0


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

    Every mutating method returns the list of events it caused. See the
    module documentation for the order in which a call does things.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        seed: int = 0,
        channels: Iterable[Channel] = BUILTIN_CHANNELS,
        strategies: Mapping[str, AgentStrategy] | None = None,
        _queue: Any = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else ManualClock()
        self._now = self._clock.now()
        self._rng = random.Random(seed)
        self._q: Any = _queue if _queue is not None else UniversalQueue()
        self._observers: list[Observer] = []
        self._channels: dict[str, Channel] = {}
        self._channel_ids: dict[str, int] = {}
        self._queues: dict[str, _QueueRec] = {}
        self._skills: dict[str, int] = {}
        self._agents: dict[str, _AgentRec] = {}
        self._agent_by_handle: dict[int, _AgentRec] = {}
        self._contacts: dict[str, _ContactRec] = {}
        self._contact_by_handle: dict[int, _ContactRec] = {}
        # waiting contacts that someone rejected: re-examined when agents log off
        self._rejected_waiting: set[str] = set()
        self._timers: list[tuple[float, int, int, _ContactRec, int]] = []
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
        self._strategies: dict[str, AgentStrategy] = {}
        for name, strategy in (strategies or {}).items():
            self._check_strategy(name, strategy)
            self._strategies[name] = strategy
        for channel in channels:
            self._add_channel(channel)

    # ================================================================ observers

    def observe(self, observer: Observer) -> None:
        """Hand every future batch of events to ``observer`` (after the call's own work)."""
        self._observers.append(observer)

    def unobserve(self, observer: Observer) -> None:
        """Stop handing events to ``observer``; unknown observers raise :class:`UnknownIdError`."""
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
        """Make a channel known. Agents added earlier get capacity 0 on it."""
        now, events = self._begin()
        if not isinstance(channel, Channel):
            raise InvalidValueError(f"add_channel expects a Channel, got {channel!r}")
        if channel.name in self._channels:
            raise DuplicateIdError("channel", channel.name)
        self._add_channel(channel)
        return self._finish(now, events)

    def add_queue(self, config: QueueConfig) -> list[Event]:
        """Make a queue known, with its routing policy.

        Queues its routing steps widen to must be known already (or use
        :meth:`add_queues` for queues that refer to each other).
        """
        return self.add_queues([config])

    def add_queues(self, configs: Iterable[QueueConfig]) -> list[Event]:
        """Make several queues known at once; their routing steps may refer to each other.

        Either every queue is added or, on an error, none.
        """
        now, events = self._begin()
        configs = list(configs)
        names = set(self._queues)
        for config in configs:
            if not isinstance(config, QueueConfig):
                raise InvalidValueError(f"add_queue expects a QueueConfig, got {config!r}")
            if config.name in names:
                raise DuplicateIdError("queue", config.name)
            names.add(config.name)
        for config in configs:
            for step in config.steps:
                for name in sorted(step.queues - names):
                    raise UnknownIdError("queue", name)
        for config in configs:
            if isinstance(config.strategy, str) and config.strategy not in self._strategies:
                raise UnknownIdError("strategy", config.strategy)
        for config in configs:
            if isinstance(config.strategy, str):
                rec = _QueueRec(config, len(self._queues), _CUSTOM, config.strategy)
            else:
                rec = _QueueRec(config, len(self._queues), _codes.STRATEGY_CODES[config.strategy])
            self._queues[config.name] = rec
        return self._finish(now, events)

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

        Raises :class:`DuplicateIdError` for a known id, :class:`UnknownIdError`
        for an unknown queue or channel in the agent's settings.
        """
        now, events = self._begin()
        if not isinstance(agent, Agent):
            raise InvalidValueError(f"add_agent expects an Agent, got {agent!r}")
        if agent.id in self._agents:
            raise DuplicateIdError("agent", agent.id)
        for name in agent.queues:
            self._queue(name)
        if agent.capacity is None:
            capacity = {name: ch.default_capacity for name, ch in self._channels.items()}
        else:
            for name in agent.capacity:
                self._channel(name)
            capacity = {name: agent.capacity.get(name, 0) for name in self._channels}
        if not isinstance(presence, Presence):
            raise InvalidValueError(f"presence must be a Presence, got {presence!r}")
        handle = next(self._agent_handles)
        rec = _AgentRec(agent, handle, capacity, idle_since=now)
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
        events.append(AgentAdded(now, agent.id))
        if presence is not Presence.OFFLINE:
            self._set_presence(rec, presence, None, now, events)
        return self._finish(now, events)

    def remove_agent(self, agent_id: str) -> list[Event]:
        """Log the agent off (as :meth:`set_presence` would) and forget it.

        Refused with :class:`InvalidStateError` while the agent has contacts in service.
        """
        now, events = self._begin()
        rec = self._agent(agent_id)
        self._check_can_log_off(rec)
        if rec.presence is not Presence.OFFLINE:
            self._set_presence(rec, Presence.OFFLINE, "removed", now, events)
        self._q.remove_agent(rec.handle)
        del self._agents[agent_id]
        del self._agent_by_handle[rec.handle]
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
        now, events = self._begin()
        rec = self._agent(agent_id)
        if not isinstance(presence, Presence):
            raise InvalidValueError(f"presence must be a Presence, got {presence!r}")
        if check_presence_change(agent_id, rec.presence, presence):
            if presence is Presence.OFFLINE:
                self._check_can_log_off(rec)
            self._set_presence(rec, presence, reason, now, events)
        return self._finish(now, events)

    def set_capacity(self, agent_id: str, channel: str, capacity: int) -> list[Event]:
        """Set how many contacts of ``channel`` the agent may hold at once.

        Refused with :class:`InvalidStateError` below what the agent holds now.
        """
        now, events = self._begin()
        rec = self._agent(agent_id)
        ch = self._channel(channel)
        if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
            raise InvalidValueError(
                f"agent {agent_id!r}: capacity for {channel!r} must be an integer >= 0, got {capacity!r}"
            )
        if capacity < rec.load[channel]:
            raise InvalidStateError(
                f"agent {agent_id!r} holds {rec.load[channel]} {channel} contacts; "
                f"capacity cannot go below that (asked for {capacity})"
            )
        old = rec.capacity[channel]
        rec.capacity[channel] = capacity
        self._q.set_capacity(rec.handle, ch, capacity)
        if capacity < old:
            self._reroute_rejected(now, events)
        else:
            self._route_agent(rec, now, events)
        return self._finish(now, events)

    # ================================================================ contacts

    def submit(self, contact: Contact) -> list[Event]:
        """Admit a contact: queue it and offer it to an agent if one is eligible.

        A contact arriving at a full queue gets a :class:`Refused` event and is
        not kept. Raises :class:`DuplicateIdError` if a live contact has the
        same id, :class:`UnknownIdError` for an unknown queue or channel.
        """
        now, events = self._begin()
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"submit expects a Contact, got {contact!r}")
        if contact.id in self._contacts:
            raise DuplicateIdError("contact", contact.id)
        queue = self._queue(contact.queue)
        self._channel(contact.channel)
        config = queue.config
        if config.max_size is not None and queue.present >= config.max_size:
            events.append(Refused(now, contact.id, contact.queue, contact.channel, "queue full"))
            return self._finish(now, events)
        # Contacts with the same requirements share one dict: it is never
        # changed in place (a routing step copies before changing).
        base = self._requirement_dicts.get(contact.requirements)
        if base is None:
            base = self._requirement_dicts[contact.requirements] = dict(contact.requirements)
        rec = _ContactRec(
            spec=contact,
            handle=next(self._contact_handles),
            state=_S.WAITING,
            queue=contact.queue,
            channel=contact.channel,
            base=base,
            # shared with base until a routing step changes it (copy on write)
            requirements=base,
            extra_queues=_NO_QUEUES,
            key=contact_key(contact.tier, now, contact.priority_seconds, next(self._seq)),
            arrived_at=now,
            entered_at=now,
        )
        self._contacts[contact.id] = rec
        self._contact_by_handle[rec.handle] = rec
        self.submitted += 1
        queue.present += 1
        events.append(Queued(now, contact.id, contact.queue, contact.channel))
        if contact.preferred_agent is not None and contact.preferred_wait > 0:
            preferred = self._agents.get(contact.preferred_agent)
            if preferred is not None and preferred.presence is not Presence.OFFLINE:
                self._reserve(rec, preferred, now + contact.preferred_wait)
            else:
                events.append(
                    PreferenceExpired(now, contact.id, contact.preferred_agent, "not logged in")
                )
        self._enqueue(rec)
        self._schedule_step(rec)
        self._route_contact(rec, now, events)
        return self._finish(now, events)

    def accept(self, contact_id: str, agent_id: str) -> list[Event]:
        """The agent accepts the contact offered to it: the contact is answered."""
        now, events = self._begin()
        rec = self._contact(contact_id)
        agent = self._agent(agent_id)
        self._check_offered_to(rec, agent, _A.ACCEPT)
        rec.state = contact_transition(contact_id, rec.state, _A.ACCEPT)
        rec.tokens[_OFFER] += 1
        rec.tokens[_STEP] += 1
        self._unreserve(rec)
        self._forget_rejections(rec)
        agent.offered.discard(contact_id)
        agent.in_service.add(contact_id)
        agent.handled += 1
        self._q.count_handled(agent.handle)
        self._queues[rec.queue].present -= 1
        rec.accepted_at = now
        events.append(
            Accepted(now, contact_id, agent_id, rec.queue, rec.channel, now - rec.entered_at)
        )
        return self._finish(now, events)

    def reject(self, contact_id: str, agent_id: str) -> list[Event]:
        """The agent declines the offer; the contact goes back to its place.

        The contact is not offered to this agent again while another logged-in
        agent who has not rejected it could take it.
        """
        now, events = self._begin()
        rec = self._contact(contact_id)
        agent = self._agent(agent_id)
        self._check_offered_to(rec, agent, _A.REJECT)
        rec.state = contact_transition(contact_id, rec.state, _A.REJECT)
        events.append(Rejected(now, contact_id, agent_id))
        self._return_offer(rec, agent, now, events, declined=True)
        return self._finish(now, events)

    def complete(self, contact_id: str) -> list[Event]:
        """The agent finished the contact; wrap-up begins (and may end at once)."""
        now, events = self._begin()
        rec = self._contact(contact_id)
        rec_state = contact_transition(contact_id, rec.state, _A.COMPLETE)
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        rec.state = rec_state
        rec.completed_at = now
        agent.in_service.discard(contact_id)
        agent.wrap_up.add(contact_id)
        events.append(
            Completed(now, contact_id, agent.spec.id, rec.queue, rec.channel, now - rec.accepted_at)
        )
        wrap = self._queues[rec.queue].config.wrap_up
        if wrap == 0:
            self._end_wrap_up(rec, now, events)
        elif wrap is not None:
            self._schedule(now + wrap, _WRAP, rec)
        return self._finish(now, events)

    def end_wrap_up(self, contact_id: str) -> list[Event]:
        """End a contact's wrap-up now (the agent pressed "ready")."""
        now, events = self._begin()
        rec = self._contact(contact_id)
        contact_transition(contact_id, rec.state, _A.END_WRAP_UP)
        self._end_wrap_up(rec, now, events)
        return self._finish(now, events)

    def abandon(self, contact_id: str) -> list[Event]:
        """The customer left before being answered (waiting or while offered)."""
        now, events = self._begin()
        rec = self._contact(contact_id)
        was = rec.state
        rec.state = contact_transition(contact_id, rec.state, _A.ABANDON)
        agent = None
        if was is _S.OFFERED:
            assert rec.agent is not None
            agent = self._agents[rec.agent]
            agent.offered.discard(contact_id)
            self._release(agent, rec.channel, now)
        else:
            self._dequeue(rec)
        self._queues[rec.queue].present -= 1
        self._unreserve(rec)
        self._forget_rejections(rec)
        self._drop(rec)
        self.abandoned += 1
        events.append(
            Abandoned(
                now,
                contact_id,
                rec.queue,
                rec.channel,
                now - rec.entered_at,
                None if agent is None else agent.spec.id,
            )
        )
        if agent is not None:
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
            direct transfer); skills and queue membership are not checked.
        :param keep_key: keep its place in line (default) or queue it as if it
            arrived now, with its priority and tier.

        Allowed while waiting, offered (the offer is withdrawn) or in service
        (the agent's slot is freed without wrap-up).
        """
        now, events = self._begin()
        rec = self._contact(contact_id)
        contact_transition(contact_id, rec.state, _A.TRANSFER)
        to_queue = self._queue(queue) if queue is not None else self._queues[rec.queue]
        base = self._check_requirements(requirements, f"transfer of contact {contact_id!r}")
        target = None
        if agent is not None:
            target = self._agent(agent)
            if target.presence is Presence.OFFLINE:
                raise InvalidStateError(
                    f"cannot transfer contact {contact_id!r} to agent {agent!r}: the agent is offline"
                )
        was = rec.state
        from_queue = rec.queue
        from_agent = None
        if was is _S.WAITING:
            self._dequeue(rec)
        else:
            assert rec.agent is not None
            from_agent = self._agents[rec.agent]
            if was is _S.OFFERED:
                from_agent.offered.discard(contact_id)
            else:
                from_agent.in_service.discard(contact_id)
            self._release(from_agent, rec.channel, now)
            rec.agent = None
        if was is not _S.IN_SERVICE:
            self._queues[from_queue].present -= 1
        rec.state = _S.WAITING
        for i in (_OFFER, _STEP, _PREFERENCE):
            rec.tokens[i] += 1
        self._unreserve(rec)
        self._forget_rejections(rec)
        rec.queue = to_queue.config.name
        to_queue.present += 1
        rec.base = base if base is not None else dict(rec.spec.requirements)
        rec.requirements = rec.base
        rec.extra_queues = _NO_QUEUES
        rec.steps_applied = 0
        rec.entered_at = now
        if not keep_key:
            rec.key = contact_key(rec.spec.tier, now, rec.spec.priority_seconds, next(self._seq))
        if target is not None:
            self._reserve(rec, target, math.inf)
        events.append(
            Transferred(
                now,
                contact_id,
                from_queue,
                rec.queue,
                None if from_agent is None else from_agent.spec.id,
                None if target is None else target.spec.id,
                keep_key,
            )
        )
        self._enqueue(rec)
        self._schedule_step(rec)
        if from_agent is not None:
            self._route_agent(from_agent, now, events)
        if rec.state is _S.WAITING:
            self._route_contact(rec, now, events)
        return self._finish(now, events)

    def request_callback(self, contact_id: str, channel: str = "callback") -> list[Event]:
        """Turn a waiting contact into a callback on ``channel``: it keeps its place in line
        while the customer hangs up, and the agent who takes it calls back."""
        now, events = self._begin()
        rec = self._contact(contact_id)
        self._channel(channel)
        contact_transition(contact_id, rec.state, _A.REQUEST_CALLBACK)
        self._dequeue(rec)
        rec.channel = channel
        self._enqueue(rec)
        events.append(CallbackRequested(now, contact_id, channel))
        self._route_contact(rec, now, events)
        return self._finish(now, events)

    def tick(self) -> TickResult:
        """Apply every timer that fell due, and say when the next one falls due."""
        now, events = self._begin()
        self._finish(now, events)
        return TickResult(events, self.next_due())

    def next_due(self) -> float | None:
        """Clock time of the next scheduled timer, or ``None``. Cost: amortised O(log n)."""
        timers = self._timers
        while timers and not self._timer_live(timers[0]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    # ============================================================ persistence

    def snapshot(self) -> bytes:
        """The router's whole state as bytes, for :meth:`restore` in this or another process.

        Everything that decides future routing is kept: waiting contacts with
        their keys, agents with presence, load and idle times, open offers
        and their deadlines, wrap-ups, routing-step positions, rejection bars,
        reservations, counters and the random generator. Left out: the clock,
        the observers and the custom strategies (code, given again to
        :meth:`restore`). The bytes are a pickle: restore only snapshots you made.
        Cost: O(state).
        """
        # Dead timers belong to finished contacts: no need to carry them.
        self._timers = [t for t in self._timers if self._timer_live(t)]
        heapq.heapify(self._timers)
        counters = {}
        for name in _COUNTERS:
            # Reading a counter consumes a value: put an equal counter back.
            counters[name] = next(getattr(self, name))
            setattr(self, name, itertools.count(counters[name]))
        state = {
            k: v for k, v in self.__dict__.items() if k not in _TRANSIENT and k not in counters
        }
        return pickle.dumps((_SNAPSHOT_FORMAT, state, counters), protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def restore(
        cls,
        data: bytes,
        clock: Clock | None = None,
        *,
        strategies: Mapping[str, AgentStrategy] | None = None,
        _queue: Any = None,
    ) -> Router:
        """Rebuild a router from :meth:`snapshot` bytes.

        :param clock: the clock the rebuilt router reads; it must not be
            behind the snapshot's time (a :class:`ManualClock` at that time
            when omitted).
        :param strategies: the custom strategies the snapshot's queues name.

        Raises :class:`InputError` for bytes that are not a snapshot,
        :class:`UnknownIdError` for a strategy a queue names but that is not
        given, and :class:`ClockError` for a clock behind the snapshot.
        """
        try:
            fmt, state, counters = pickle.loads(data)
        except Exception as exc:
            raise InputError(f"not a ccroute router snapshot: {exc}") from exc
        if fmt != _SNAPSHOT_FORMAT:
            raise InputError(
                f"router snapshot format {fmt!r} is not supported (expected {_SNAPSHOT_FORMAT})"
            )
        router = cls.__new__(cls)
        router.__dict__.update(state)
        for name, value in counters.items():
            setattr(router, name, itertools.count(value))
        router._clock = clock if clock is not None else ManualClock(router._now)
        now = router._clock.now()
        if not now >= router._now:
            raise ClockError(f"the clock reads {now!r}, behind the snapshot's time {router._now}")
        router._observers = []
        router._strategies = {}
        for name, strategy in (strategies or {}).items():
            cls._check_strategy(name, strategy)
            router._strategies[name] = strategy
        for queue in router._queues.values():
            if queue.custom is not None and queue.custom not in router._strategies:
                raise UnknownIdError("strategy", queue.custom)
        router._q = _queue if _queue is not None else UniversalQueue()
        router._rebuild_queue()
        return router

    def _rebuild_queue(self) -> None:
        """Load the universal queue from the router's records (after :meth:`restore`)."""
        q = self._q
        for name, ch in self._channel_ids.items():
            channel = self._channels[name]
            q.add_channel(ch, channel.unit_cost, channel.exclusive)
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
        """1-based place of a waiting contact among the waiting contacts of its queue. Cost: O(n)."""
        rec = self._contact(contact_id)
        if rec.state is not _S.WAITING:
            raise InvalidStateError(
                f"contact {contact_id!r} is {rec.state.value}, expected waiting"
            )
        return 1 + sum(
            1
            for r in self._contacts.values()
            if r.state is _S.WAITING and r.queue == rec.queue and r.key < rec.key
        )

    def queue_size(self, queue: str) -> int:
        """Number of contacts waiting (not offered) in ``queue``. Cost: O(1)."""
        return self._queue(queue).waiting

    def __len__(self) -> int:
        """Number of waiting contacts in the universal queue. Cost: O(1)."""
        return len(self._q)

    # ============================================================== internals

    def _begin(self) -> tuple[float, list[Event]]:
        now = self._clock.now()
        if not now >= self._now:
            raise ClockError(f"the clock went backwards from {self._now} to {now!r}")
        events: list[Event] = []
        self._run_due(now, events)
        self._now = now
        if events:
            self._notify(events)
        self._notified = len(events)
        return now, events

    def _finish(self, now: float, events: list[Event]) -> list[Event]:
        # Routing can schedule timers that are already due (a step at 0 s).
        self._run_due(now, events)
        fresh = events[self._notified :]
        if fresh:
            self._notify(fresh)
        self._notified = 0
        return events

    def _notify(self, batch: list[Event]) -> None:
        for observer in self._observers:
            observer(batch)

    def _add_channel(self, channel: Channel) -> None:
        ch = len(self._channel_ids)
        self._channels[channel.name] = channel
        self._channel_ids[channel.name] = ch
        self._q.add_channel(ch, channel.unit_cost, channel.exclusive)
        for rec in self._agents.values():
            rec.capacity[channel.name] = 0
            rec.load[channel.name] = 0

    def _agent(self, agent_id: str) -> _AgentRec:
        try:
            return self._agents[agent_id]
        except (KeyError, TypeError):
            raise UnknownIdError("agent", agent_id) from None

    def _contact(self, contact_id: str) -> _ContactRec:
        try:
            return self._contacts[contact_id]
        except (KeyError, TypeError):
            raise UnknownIdError("contact", contact_id) from None

    def _queue(self, name: str) -> _QueueRec:
        try:
            return self._queues[name]
        except (KeyError, TypeError):
            raise UnknownIdError("queue", name) from None

    def _channel(self, name: str) -> int:
        try:
            return self._channel_ids[name]
        except (KeyError, TypeError):
            raise UnknownIdError("channel", name) from None

    def _skill(self, name: str) -> int:
        sid = self._skills.get(name)
        if sid is None:
            sid = self._skills[name] = len(self._skills)
        return sid

    @staticmethod
    def _check_requirements(value: Mapping[str, int] | None, where: str) -> dict[str, int] | None:
        if value is None:
            return None
        out: dict[str, int] = {}
        for name, level in dict(value).items():
            if not isinstance(name, str) or not name:
                raise InvalidValueError(f"{where}: skill name must be a non-empty string")
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

    def _check_offered_to(self, rec: _ContactRec, agent: _AgentRec, action: ContactAction) -> None:
        contact_transition(rec.spec.id, rec.state, action)
        if rec.agent != agent.spec.id:
            raise InvalidStateError(
                f"cannot {action.value} contact {rec.spec.id!r} as agent {agent.spec.id!r}: "
                f"it is offered to {rec.agent!r}"
            )

    def _check_can_log_off(self, rec: _AgentRec) -> None:
        if rec.in_service:
            raise InvalidStateError(
                f"agent {rec.spec.id!r} has {len(rec.in_service)} contact(s) in service "
                f"({', '.join(sorted(rec.in_service))}); complete or transfer them before logging off"
            )

    # ---------------------------------------------------------------- timers

    def _schedule(self, due: float, kind: int, rec: _ContactRec) -> None:
        rec.tokens[kind] += 1
        heapq.heappush(self._timers, (due, next(self._timer_seq), kind, rec, rec.tokens[kind]))

    @staticmethod
    def _timer_live(timer: tuple[float, int, int, _ContactRec, int]) -> bool:
        _due, _seq, kind, rec, token = timer
        return rec.live and rec.tokens[kind] == token

    def _run_due(self, now: float, events: list[Event]) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            timer = heapq.heappop(timers)
            if not self._timer_live(timer):
                continue
            due, _seq, kind, rec, _token = timer
            self._now = max(self._now, due)
            at = self._now
            if kind == _OFFER:
                self._time_out_offer(rec, at, events)
            elif kind == _WRAP:
                self._end_wrap_up(rec, at, events)
            elif kind == _STEP:
                self._apply_step(rec, at, events)
            else:
                self._expire_preference(rec, at, events)

    def _schedule_step(self, rec: _ContactRec) -> None:
        steps = self._queues[rec.queue].config.steps
        if rec.steps_applied < len(steps):
            self._schedule(rec.entered_at + steps[rec.steps_applied].after, _STEP, rec)

    def _apply_step(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        rec.state = contact_transition(rec.spec.id, rec.state, _A.APPLY_STEP)
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
        else:
            self._schedule_step(rec)

    def _time_out_offer(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        rec.state = contact_transition(rec.spec.id, rec.state, _A.TIME_OUT)
        events.append(OfferTimedOut(now, rec.spec.id, agent.spec.id))
        if self._queues[rec.queue].config.rona_not_ready and agent.presence is Presence.AVAILABLE:
            self._set_presence(agent, Presence.NOT_READY, "rona", now, events)
        self._return_offer(rec, agent, now, events, declined=True)

    def _expire_preference(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        if rec.target is None:
            return
        self._lapse_reservation(rec, "wait over", now, events)
        if rec.state is _S.WAITING:
            self._route_contact(rec, now, events)

    # ---------------------------------------------------------- queue moves

    def _signature(self, rec: _ContactRec) -> int:
        queues = [self._queues[rec.queue].handle]
        queues.extend(self._queues[q].handle for q in rec.extra_queues)
        return int(
            self._q.signature(
                self._channel_ids[rec.channel],
                [(self._skill(s), level) for s, level in rec.requirements.items()],
                queues,
            )
        )

    def _enqueue(self, rec: _ContactRec) -> None:
        rec.sig = self._signature(rec)
        target = NONE if rec.target is None else self._agents[rec.target].handle
        self._q.insert(rec.handle, rec.key, rec.sig, target)
        self._queues[rec.queue].waiting += 1
        if rec.rejected_by:
            self._rejected_waiting.add(rec.spec.id)

    def _dequeue(self, rec: _ContactRec) -> None:
        self._q.remove(rec.handle)
        self._queues[rec.queue].waiting -= 1
        self._rejected_waiting.discard(rec.spec.id)

    def _drop(self, rec: _ContactRec) -> None:
        rec.live = False
        del self._contacts[rec.spec.id]
        del self._contact_by_handle[rec.handle]

    def _reserve(self, rec: _ContactRec, agent: _AgentRec, until: float) -> None:
        rec.target = agent.spec.id
        agent.reserved.add(rec.spec.id)
        if math.isfinite(until):
            self._schedule(until, _PREFERENCE, rec)

    def _unreserve(self, rec: _ContactRec) -> None:
        if rec.target is not None:
            self._agents[rec.target].reserved.discard(rec.spec.id)
            rec.target = None
            rec.tokens[_PREFERENCE] += 1

    def _lapse_reservation(
        self, rec: _ContactRec, reason: str, now: float, events: list[Event]
    ) -> None:
        """End a reservation for one agent; a waiting contact is re-indexed for everyone."""
        assert rec.target is not None
        target = rec.target
        waiting = rec.state is _S.WAITING
        if waiting:
            self._dequeue(rec)
        self._unreserve(rec)
        if waiting:
            self._enqueue(rec)
        events.append(PreferenceExpired(now, rec.spec.id, target, reason))

    def _forget_rejections(self, rec: _ContactRec) -> None:
        for agent_id in rec.rejected_by or ():
            agent = self._agents.get(agent_id)
            if agent is not None:
                agent.rejected.discard(rec.spec.id)
        rec.rejected_by = None
        self._rejected_waiting.discard(rec.spec.id)

    def _release(self, agent: _AgentRec, channel: str, now: float) -> None:
        agent.load[channel] -= 1
        agent.idle_since = now
        self._q.release(agent.handle, self._channel_ids[channel], now)

    def _return_offer(
        self,
        rec: _ContactRec,
        agent: _AgentRec,
        now: float,
        events: list[Event],
        *,
        declined: bool,
        route: bool = True,
    ) -> None:
        """Put an offered contact back in its place and free the agent's slot."""
        rec.tokens[_OFFER] += 1
        agent.offered.discard(rec.spec.id)
        rec.agent = None
        self._release(agent, rec.channel, now)
        if declined:
            if rec.rejected_by is None:
                rec.rejected_by = set()
            rec.rejected_by.add(agent.spec.id)
            agent.rejected.add(rec.spec.id)
            if rec.target == agent.spec.id:
                # The agent it was reserved for said no: anyone may take it now.
                self._unreserve(rec)
                events.append(PreferenceExpired(now, rec.spec.id, agent.spec.id, "declined"))
        self._enqueue(rec)
        if route:
            self._route_agent(agent, now, events)
            if rec.state is _S.WAITING:
                self._route_contact(rec, now, events)

    def _end_wrap_up(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        rec.state = contact_transition(rec.spec.id, rec.state, _A.END_WRAP_UP)
        rec.tokens[_WRAP] += 1
        assert rec.agent is not None
        agent = self._agents[rec.agent]
        agent.wrap_up.discard(rec.spec.id)
        self._release(agent, rec.channel, now)
        self._drop(rec)
        self.completed += 1
        events.append(
            WrapUpEnded(
                now, rec.spec.id, agent.spec.id, rec.queue, rec.channel, now - rec.completed_at
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
        events.append(PresenceChanged(now, rec.spec.id, old, presence, reason))
        q = self._q
        if presence is Presence.AVAILABLE:
            q.set_logged_in(rec.handle, True)
            rec.idle_since = now
            q.set_available(rec.handle, True, now)
            self._route_agent(rec, now, events)
            return
        q.set_available(rec.handle, False, now)
        if presence is Presence.NOT_READY:
            q.set_logged_in(rec.handle, True)
            return
        q.set_logged_in(rec.handle, False)
        for contact_id in sorted(rec.wrap_up):
            self._end_wrap_up(self._contacts[contact_id], now, events)
        # Everything the agent gave up goes back first, then is routed in key
        # order, so no contact overtakes one that was ahead of it.
        returned = [self._contacts[c] for c in sorted(rec.reserved)]
        for contact in returned:
            self._lapse_reservation(contact, "agent logged off", now, events)
        for contact_id in sorted(rec.offered):
            contact = self._contacts[contact_id]
            contact.state = contact_transition(contact_id, contact.state, _A.RESCIND)
            events.append(OfferRescinded(now, contact_id, rec.spec.id, "agent logged off"))
            self._return_offer(contact, rec, now, events, declined=False, route=False)
            returned.append(contact)
        # One fewer logged-in agent may also lift rejection bars: those
        # contacts join the same pass.
        returned.extend(self._contacts[c] for c in self._rejected_waiting)
        self._route_in_key_order(returned, now, events)

    def _reroute_rejected(self, now: float, events: list[Event]) -> None:
        # Fewer qualified agents may lift a rejection bar ("unless no one else
        # can take it"), so contacts someone rejected get another look.
        self._route_in_key_order([self._contacts[c] for c in self._rejected_waiting], now, events)

    def _route_in_key_order(self, recs: list[_ContactRec], now: float, events: list[Event]) -> None:
        for rec in sorted(set(recs), key=lambda r: r.key):
            if rec.state is _S.WAITING:
                self._route_contact(rec, now, events)

    # ------------------------------------------------------------- routing

    def _barred_agents(self, rec: _ContactRec) -> set[int]:
        """Handles of agents who may not get this contact because they rejected it."""
        if not rec.rejected_by:
            return set()
        handles = {self._agents[a].handle for a in rec.rejected_by if a in self._agents}
        if handles and self._q.any_logged_in(rec.sig, handles):
            return handles
        return set()

    def _barred_contacts(self, agent: _AgentRec) -> set[int]:
        if not agent.rejected:
            return set()
        barred = set()
        for contact_id in agent.rejected:
            rec = self._contacts[contact_id]
            if rec.state is _S.WAITING and agent.handle in self._barred_agents(rec):
                barred.add(rec.handle)
        return barred

    def _route_contact(self, rec: _ContactRec, now: float, events: list[Event]) -> None:
        """Offer a waiting contact to the best eligible agent, if any."""
        queue = self._queues[rec.queue]
        barred = self._barred_agents(rec)
        target = NONE if rec.target is None else self._agents[rec.target].handle
        if queue.strategy == _CUSTOM:
            a = self._custom_choice(rec, queue, target, barred)
            if a == NONE:
                return
        elif queue.strategy == RANDOM and target == NONE:
            eligible = self._q.eligible_agents(rec.sig, NONE, barred)
            if not eligible:
                return
            a = eligible[self._rng.randrange(len(eligible))]
        else:
            a = self._q.best_agent(rec.sig, queue.strategy, target, queue.last_agent, barred)
            if a == NONE:
                return
        self._offer(rec, self._agent_by_handle[a], now, events)

    def _custom_choice(
        self, rec: _ContactRec, queue: _QueueRec, target: int, barred: set[int]
    ) -> int:
        """The eligible agent a custom strategy scores highest (ties: smaller id)."""
        eligible = self._q.eligible_agents(rec.sig, target, barred)
        if len(eligible) <= 1:
            return eligible[0] if eligible else NONE
        assert queue.custom is not None
        strategy = self._strategies[queue.custom]
        contact = self.contact(rec.spec.id)
        best: tuple[float, str] | None = None
        chosen = NONE
        try:
            for a in eligible:
                agent = self._agent_by_handle[a]
                score = strategy.score(contact, self.agent(agent.spec.id))
                if isinstance(score, bool) or not isinstance(score, int | float):
                    raise TypeError(f"score must be a number, got {score!r}")
                if not math.isfinite(score):
                    raise ValueError(f"score must be finite, got {score!r}")
                # highest score first, then the smaller agent id
                if (
                    best is None
                    or score > best[0]
                    or (score == best[0] and agent.spec.id < best[1])
                ):
                    best = (score, agent.spec.id)
                    chosen = a
        except Exception:
            # A strategy is plugin code: its failure must not stop routing.
            self.strategy_failures += 1
            return int(self._q.best_agent(rec.sig, LONGEST_IDLE, target, queue.last_agent, barred))
        return chosen

    def _route_agent(self, agent: _AgentRec, now: float, events: list[Event]) -> None:
        """Offer the agent the best contacts it may take, while it has room."""
        if agent.presence is not Presence.AVAILABLE:
            return
        while True:
            c = self._q.best_contact(agent.handle, self._barred_contacts(agent))
            if c == NONE:
                return
            self._offer(self._contact_by_handle[c], agent, now, events)

    def _offer(self, rec: _ContactRec, agent: _AgentRec, now: float, events: list[Event]) -> None:
        rec.state = contact_transition(rec.spec.id, rec.state, _A.OFFER)
        self._dequeue(rec)
        rec.agent = agent.spec.id
        agent.offered.add(rec.spec.id)
        agent.load[rec.channel] += 1
        self._q.occupy(agent.handle, self._channel_ids[rec.channel])
        queue = self._queues[rec.queue]
        queue.last_agent = agent.spec.id
        timeout = queue.config.offer_timeout
        timeout_at = None if timeout is None else now + timeout
        if timeout_at is not None:
            self._schedule(timeout_at, _OFFER, rec)
        events.append(Offered(now, rec.spec.id, agent.spec.id, rec.queue, rec.channel, timeout_at))
