"""Contact-centre metrics computed from the router's event stream alone.

This module is the single home of every figure docs/metrics.md
defines. A :class:`MetricsCollector` consumes the events a
:class:`~ccroute.Router` emits (register it with
``router.observe(collector.observe)`` or :meth:`MetricsCollector.attach`)
and keeps running sums, so each event costs amortised O(1) time whatever the
length of the run. :meth:`MetricsCollector.report` returns frozen values:

* :class:`GroupStats` per queue, per channel and in total (offered, answered,
  abandoned, short abandons, timed out, service level in every
  :class:`ServiceLevelVariant`, ASA, longest current wait, abandon rate, AHT,
  refused, rejoined);
* :class:`AgentStats` per agent and :class:`TeamStats` for all agents or any
  set of them (logged-in, available, handling time, occupancy, utilisation).

Definitions (see ``docs/metrics.md`` for the full discussion):

* An *entry* is one contact entering one group. A contact enters the total
  and its channel once, when it is queued (its channel is the one it was queued
  on, even if it later becomes a callback). It enters a queue when it is queued
  there or transferred (or overflowed) there from a *different* queue. Each
  entry has at most one outcome: answered (its first acceptance in the entry),
  abandoned (the customer left before being answered in the entry), timed out
  (the router let it go unanswered after its maximum wait) or, for queues only,
  transferred out (moved to another queue before being answered in this one).
  An entry with no outcome yet is *in flight*.
* A wait is measured from the start of the entry: from the time the contact
  entered the queue for queue figures, from its arrival for channel and total
  figures. It equals the event's ``wait`` except after a transfer before the
  first answer (total, channel) or within the same queue (queue).
* "Within the threshold" means ``wait <= T``; a short abandon is an abandon
  with ``wait < short_abandon_threshold`` (strictly).
* Every ratio whose denominator is zero is ``None``.

Everything here is deterministic and pure: no I/O, no clock reads; time comes
from the events and from the ``now`` given to :meth:`MetricsCollector.report`.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from ._values import finite_float, show
from .errors import InvalidValueError, UnknownIdError
from .events import (
    Abandoned,
    Accepted,
    AgentAdded,
    AgentRemoved,
    CallbackUnanswered,
    Completed,
    Event,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    PresenceChanged,
    Queued,
    Refused,
    Rejected,
    Rejoined,
    TimedOut,
    Transferred,
    WrapUpEnded,
)
from .model import Presence

if TYPE_CHECKING:
    from .router import Router

__all__ = [
    "DEFAULT_SERVICE_LEVEL_THRESHOLD",
    "DEFAULT_SHORT_ABANDON_THRESHOLD",
    "AgentStats",
    "GroupStats",
    "MetricsCollector",
    "MetricsReport",
    "ServiceLevelVariant",
    "TeamStats",
    "TotalsCollector",
]

#: Service-level threshold ``T`` (seconds) used when none is given.
DEFAULT_SERVICE_LEVEL_THRESHOLD = 20.0
#: An abandon after less than this many seconds of waiting is a short abandon.
DEFAULT_SHORT_ABANDON_THRESHOLD = 5.0


def _ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is zero."""
    if denominator == 0:
        return None
    return numerator / denominator


def _check_threshold(value: float, what: str) -> float:
    number = finite_float(value)  # an int beyond float range is not finite either
    if number is None or number < 0:
        raise InvalidValueError(f"{what} must be a finite number >= 0, got {show(value)}")
    return number


# ====================================================================== values


class ServiceLevelVariant(enum.Enum):
    """The named ways of computing a service level; ``T`` is the group's threshold.

    All variants count an answer as met when its wait is ``<= T``. They differ
    in how abandons enter the fraction. A timed-out contact (the router let it
    go after its maximum wait) always counts as missed wherever it is counted.
    """

    #: ``answered within T / (offered - short abandons)``: short abandons are
    #: excluded, every other abandon (and every timed-out contact) counts as
    #: missed. ccroute's default (docs/metrics.md).
    DEFAULT = "default"
    #: ``answered within T / answered``: abandons are ignored altogether.
    ANSWERED = "answered"
    #: ``answered within T / (answered + abandoned + timed out)``: contacts
    #: still waiting or transferred out are left out.
    ANSWERED_AND_ABANDONED = "answered-and-abandoned"
    #: ``(answered within T + abandoned within T) / offered``: an abandon
    #: within T counts as met (the caller gave up before the promise was broken).
    ABANDONS_MET = "abandons-met"
    #: ``answered within T / offered``: every abandon counts as missed.
    ANSWERED_WITHIN_OVER_OFFERED = "answered-within-over-offered"


@attrs.frozen(slots=True)
class GroupStats:
    """The figures of one group of contacts: a queue, a channel, or the total.

    Counts are numbers of entries (see the module documentation): per queue a
    contact transferred between queues is offered once in each queue it
    entered; per channel and in total each contact is offered once.

    Balance: ``offered == answered + abandoned + timed_out + transferred_out + in_flight``.
    """

    #: Queue or channel name; ``None`` for the total.
    name: str | None
    #: Service-level threshold ``T`` in seconds used for this group.
    threshold: float
    #: Abandons with a wait strictly below this are short abandons.
    short_abandon_threshold: float
    #: Entries into the group (``Queued``, plus, per queue, ``Transferred`` or
    #: ``Overflowed`` from another queue).
    offered: int = 0
    #: Entries answered: the first ``Accepted`` in the entry.
    answered: int = 0
    #: Answered entries whose wait was ``<= threshold``.
    answered_within: int = 0
    #: Entries abandoned before being answered, short abandons included.
    abandoned: int = 0
    #: Abandoned entries whose wait was ``<= threshold``.
    abandoned_within: int = 0
    #: Abandoned entries whose wait was ``< short_abandon_threshold`` (a subset
    #: of ``abandoned``).
    short_abandons: int = 0
    #: Entries that left unanswered after their maximum wait (``TimedOut``);
    #: not abandons: the router, not the customer, ended them.
    timed_out: int = 0
    #: Queue entries that moved to another queue (``Transferred`` or
    #: ``Overflowed``) before being answered in this one (always 0 for channels
    #: and the total).
    transferred_out: int = 0
    #: Entries without an outcome yet: waiting or offered, not yet answered.
    in_flight: int = 0
    #: Contacts refused at submission (``Refused``); not part of ``offered``.
    refused: int = 0
    #: Entries of returning customers who regained the place of the contact
    #: they abandoned (``Rejoined``; a subset of ``offered``).
    rejoined: int = 0
    #: Sum of the waits of the answered entries, in seconds.
    total_answer_wait: float = 0.0
    #: Contacts whose wrap-up ended in this group (the queue, and the channel the
    #: contact was queued on, at ``WrapUpEnded``).
    handled: int = 0
    #: Sum of ``Completed.handle_time`` over the handled contacts.
    total_handle_time: float = 0.0
    #: Sum of ``WrapUpEnded.wrap_time`` over the handled contacts.
    total_wrap_time: float = 0.0
    #: ``now - entry time`` of the oldest in-flight entry; ``None`` when there is none.
    longest_current_wait: float | None = None
    #: Handled contacts per wrap-up code (``WrapUpEnded.disposition``), counted
    #: where ``handled`` counts them; a contact that ended without a code is
    #: not in it.
    dispositions: Mapping[str, int] = attrs.field(factory=dict, hash=False)

    @property
    def asa(self) -> float | None:
        """Average speed of answer: ``total_answer_wait / answered``."""
        return _ratio(self.total_answer_wait, self.answered)

    @property
    def aht(self) -> float | None:
        """Average handle time: ``(total_handle_time + total_wrap_time) / handled``.

        Only contacts whose wrap-up has ended count, in numerator and denominator.
        In-service time that ended with a transfer is not part of it (the
        handle time of a contact runs from its last acceptance).
        """
        return _ratio(self.total_handle_time + self.total_wrap_time, self.handled)

    @property
    def abandon_rate(self) -> float | None:
        """``abandoned / offered`` (short abandons included in both)."""
        return _ratio(self.abandoned, self.offered)

    @property
    def short_abandon_rate(self) -> float | None:
        """``short_abandons / offered``."""
        return _ratio(self.short_abandons, self.offered)

    @property
    def timed_out_rate(self) -> float | None:
        """``timed_out / offered``."""
        return _ratio(self.timed_out, self.offered)

    def service_level(
        self,
        variant: ServiceLevelVariant = ServiceLevelVariant.DEFAULT,
        *,
        exclude_in_flight: bool = False,
    ) -> float | None:
        """The service level under ``variant``, in 0..1, or ``None`` if undefined.

        With ``N = offered`` (or ``offered - in_flight`` when ``exclude_in_flight``):

        * ``DEFAULT``: ``answered_within / (N - short_abandons)``
        * ``ANSWERED``: ``answered_within / answered``
        * ``ANSWERED_AND_ABANDONED``: ``answered_within / (answered + abandoned + timed_out)``
        * ``ABANDONS_MET``: ``(answered_within + abandoned_within) / N``
        * ``ANSWERED_WITHIN_OVER_OFFERED``: ``answered_within / N``

        By default contacts still waiting count as offered but neither answered
        nor abandoned, so they lower the offered-based variants while they wait;
        ``exclude_in_flight=True`` leaves them out until they have an outcome.
        Timed-out contacts are in ``N`` and never met.
        """
        offered = self.offered - self.in_flight if exclude_in_flight else self.offered
        if variant is ServiceLevelVariant.DEFAULT:
            return _ratio(self.answered_within, offered - self.short_abandons)
        if variant is ServiceLevelVariant.ANSWERED:
            return _ratio(self.answered_within, self.answered)
        if variant is ServiceLevelVariant.ANSWERED_AND_ABANDONED:
            return _ratio(self.answered_within, self.answered + self.abandoned + self.timed_out)
        if variant is ServiceLevelVariant.ABANDONS_MET:
            return _ratio(self.answered_within + self.abandoned_within, offered)
        if variant is ServiceLevelVariant.ANSWERED_WITHIN_OVER_OFFERED:
            return _ratio(self.answered_within, offered)
        raise InvalidValueError(f"unknown service level variant {variant!r}")

    def service_levels(
        self, *, exclude_in_flight: bool = False
    ) -> dict[ServiceLevelVariant, float | None]:
        """Every variant's :meth:`service_level`, keyed by variant."""
        return {
            v: self.service_level(v, exclude_in_flight=exclude_in_flight)
            for v in ServiceLevelVariant
        }


@attrs.frozen(slots=True, kw_only=True)
class _TimeAccount:
    """Time and counts kept alike for one agent and for a team of agents."""

    #: Time not logged off (handling, available or not ready).
    logged_in_time: float = 0.0
    #: Time available and not handling.
    available_time: float = 0.0
    #: Time not ready and not handling (breaks, RONA).
    not_ready_time: float = 0.0
    #: Time holding at least one contact in service or wrap-up.
    handling_time: float = 0.0
    #: ``Offered`` events to the agent(s).
    offers: int = 0
    #: ``Accepted`` events by the agent(s).
    accepted: int = 0
    #: ``Rejected`` events by the agent(s).
    rejected: int = 0
    #: ``OfferTimedOut`` events of the agent(s).
    timed_out: int = 0
    #: ``OfferRescinded`` events of the agent(s): offers the router withdrew
    #: (another agent of a ring answered, the agent logged off, ...); neither
    #: rejections nor time-outs.
    rescinded: int = 0
    #: ``WrapUpEnded`` events of the agent(s) (contacts finished).
    handled: int = 0

    @property
    def occupancy(self) -> float | None:
        """``handling_time / (handling_time + available_time)`` (summed over a team)."""
        return _ratio(self.handling_time, self.handling_time + self.available_time)

    @property
    def utilisation(self) -> float | None:
        """``handling_time / logged_in_time`` (summed over a team)."""
        return _ratio(self.handling_time, self.logged_in_time)


@attrs.frozen(slots=True)
class AgentStats(_TimeAccount):
    """Time accounting of one agent, in seconds, up to the report's ``now``.

    At every instant an agent is in exactly one of: *handling* (it holds at
    least one contact in service or in wrap-up, whatever its presence),
    *available* (presence AVAILABLE and not handling; an unanswered offer
    counts as available), *not ready* (presence NOT_READY and not handling),
    or logged off (presence OFFLINE and not handling).
    ``logged_in_time == handling_time + available_time + not_ready_time``.
    """

    agent_id: str


@attrs.frozen(slots=True)
class TeamStats(_TimeAccount):
    """Sums of :class:`AgentStats` over a set of agents (a team, or everyone).

    Occupancy and utilisation are pooled: sums over the agents, then the ratio.
    """

    agent_ids: frozenset[str]

    @classmethod
    def of(cls, agents: Iterable[AgentStats]) -> TeamStats:
        """Sum the given agents' figures."""
        members = list(agents)
        return cls(
            agent_ids=frozenset(a.agent_id for a in members),
            logged_in_time=math.fsum(a.logged_in_time for a in members),
            available_time=math.fsum(a.available_time for a in members),
            not_ready_time=math.fsum(a.not_ready_time for a in members),
            handling_time=math.fsum(a.handling_time for a in members),
            offers=sum(a.offers for a in members),
            accepted=sum(a.accepted for a in members),
            rejected=sum(a.rejected for a in members),
            timed_out=sum(a.timed_out for a in members),
            rescinded=sum(a.rescinded for a in members),
            handled=sum(a.handled for a in members),
        )


@attrs.frozen(slots=True)
class MetricsReport:
    """Every figure at time ``now``: per queue, per channel, in total, per agent."""

    #: The time the report was taken at.
    now: float
    #: All contacts.
    total: GroupStats
    #: Queue name to its figures, in name order.
    queues: Mapping[str, GroupStats]
    #: Channel name to its figures, in name order.
    channels: Mapping[str, GroupStats]
    #: Agent id to its figures, in id order (agents removed from the router stay).
    agents: Mapping[str, AgentStats]
    #: All agents together.
    team: TeamStats

    def team_of(self, agent_ids: Iterable[str]) -> TeamStats:
        """The figures of the team made of ``agent_ids``.

        Raises :class:`~ccroute.UnknownIdError` for an agent the events never named.
        """
        members = []
        for agent_id in sorted(set(agent_ids)):
            stats = self.agents.get(agent_id)
            if stats is None:
                raise UnknownIdError("agent", agent_id)
            members.append(stats)
        return TeamStats.of(members)


# ================================================================ accumulators


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _Entry:
    """One contact's stay in one group; ``open`` until it has an outcome."""

    at: float
    open: bool = True


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _Acc:
    """Running sums of one group; ``live`` holds its open entries oldest first."""

    threshold: float
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    short_abandons: int = 0
    timed_out: int = 0
    transferred_out: int = 0
    refused: int = 0
    rejoined: int = 0
    answer_wait: float = 0.0
    handled: int = 0
    handle_time: float = 0.0
    wrap_time: float = 0.0
    live: deque[_Entry] = attrs.Factory(deque)
    dispositions: dict[str, int] = attrs.Factory(dict)

    def enter(self, entry: _Entry) -> None:
        self.offered += 1
        self.live.append(entry)

    def prune(self) -> None:
        # Entries are appended in time order, so once closed heads are gone
        # the head is the oldest open entry. Each entry is popped once.
        live = self.live
        while live and not live[0].open:
            live.popleft()

    # The outcomes below close an entry, then prune (inlined: they run for
    # every contact in each of its groups).

    def answer(self, wait: float) -> None:
        self.answered += 1
        self.answer_wait += wait
        if wait <= self.threshold:
            self.answered_within += 1
        live = self.live
        while live and not live[0].open:
            live.popleft()

    def abandon(self, wait: float, short: float) -> None:
        self.abandoned += 1
        if wait <= self.threshold:
            self.abandoned_within += 1
        if wait < short:
            self.short_abandons += 1
        live = self.live
        while live and not live[0].open:
            live.popleft()

    def time_out(self) -> None:
        self.timed_out += 1
        live = self.live
        while live and not live[0].open:
            live.popleft()

    def finish(self, handle_time: float, wrap_time: float) -> None:
        self.handled += 1
        self.handle_time += handle_time
        self.wrap_time += wrap_time

    def stats(self, name: str | None, short: float, now: float) -> GroupStats:
        self.prune()
        in_flight = (
            self.offered - self.answered - self.abandoned - self.timed_out - self.transferred_out
        )
        return GroupStats(
            name=name,
            threshold=self.threshold,
            short_abandon_threshold=short,
            offered=self.offered,
            answered=self.answered,
            answered_within=self.answered_within,
            abandoned=self.abandoned,
            abandoned_within=self.abandoned_within,
            short_abandons=self.short_abandons,
            timed_out=self.timed_out,
            transferred_out=self.transferred_out,
            in_flight=in_flight,
            refused=self.refused,
            rejoined=self.rejoined,
            total_answer_wait=self.answer_wait,
            handled=self.handled,
            total_handle_time=self.handle_time,
            total_wrap_time=self.wrap_time,
            longest_current_wait=now - self.live[0].at if self.live else None,
            dispositions=MappingProxyType(dict(sorted(self.dispositions.items()))),
        )


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _Track:
    """What the collector remembers about one live contact."""

    channel: str
    queue: str
    #: The contact's entry into the total and its channel (starts at arrival).
    first: _Entry
    #: The contact's entry into its current queue.
    entry: _Entry
    handle_time: float = 0.0


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class _AgentAcc:
    """Running time accounting of one agent since ``since``."""

    agent_id: str
    presence: Presence
    since: float
    held: set[str] = attrs.Factory(set)
    logged_in: float = 0.0
    available: float = 0.0
    not_ready: float = 0.0
    handling: float = 0.0
    offers: int = 0
    accepted: int = 0
    rejected: int = 0
    timed_out: int = 0
    rescinded: int = 0
    handled: int = 0

    def stats(self, now: float) -> AgentStats:
        handling, available, not_ready, logged_in = (
            self.handling,
            self.available,
            self.not_ready,
            self.logged_in,
        )
        dt = now - self.since
        if dt > 0:
            if self.held:
                handling += dt
                logged_in += dt
            elif self.presence is Presence.AVAILABLE:
                available += dt
                logged_in += dt
            elif self.presence is Presence.NOT_READY:
                not_ready += dt
                logged_in += dt
        return AgentStats(
            agent_id=self.agent_id,
            logged_in_time=logged_in,
            available_time=available,
            not_ready_time=not_ready,
            handling_time=handling,
            offers=self.offers,
            accepted=self.accepted,
            rejected=self.rejected,
            timed_out=self.timed_out,
            rescinded=self.rescinded,
            handled=self.handled,
        )


# =================================================================== collector


_V = TypeVar("_V")


def _frozen(items: Mapping[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(dict(sorted(items.items())))


def _thresholds(value: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(
        {str(k): _check_threshold(v, f"threshold of queue {k!r}") for k, v in dict(value).items()}
    )


def _default_threshold(value: float) -> float:
    return _check_threshold(value, "default threshold")


def _short_threshold(value: float) -> float:
    return _check_threshold(value, "short abandon threshold")


@attrs.define(slots=True, eq=False, on_setattr=attrs.setters.NO_OP)
class MetricsCollector:
    """Consumes router events and reports every metric; O(1) amortised per event.

    :param thresholds: queue name to its service-level threshold ``T`` in
        seconds (normally ``QueueConfig.service_level_threshold``); queues not
        listed use ``default_threshold``.
    :param default_threshold: ``T`` for unlisted queues, channels and the total.
    :param short_abandon_threshold: abandons after less than this many seconds
        are short abandons.

    Register it before the first contact is submitted: events about contacts
    the collector never saw queued are ignored for contact figures (they still
    count for agents). Events must be fed in the order the router emits them;
    an event older than the previous one raises :class:`~ccroute.InvalidValueError`.
    """

    thresholds: Mapping[str, float] = attrs.field(factory=dict, converter=_thresholds)
    default_threshold: float = attrs.field(
        default=DEFAULT_SERVICE_LEVEL_THRESHOLD, converter=_default_threshold
    )
    short_abandon_threshold: float = attrs.field(
        default=DEFAULT_SHORT_ABANDON_THRESHOLD, converter=_short_threshold
    )
    _total: _Acc = attrs.field(init=False)
    _queues: dict[str, _Acc] = attrs.field(init=False, factory=dict)
    _channels: dict[str, _Acc] = attrs.field(init=False, factory=dict)
    _contacts: dict[str, _Track] = attrs.field(init=False, factory=dict)
    _agents: dict[str, _AgentAcc] = attrs.field(init=False, factory=dict)
    _last_at: float = attrs.field(init=False, default=-math.inf)

    _HANDLERS: ClassVar[dict[type[Event], Callable[[MetricsCollector, Any], None]]]

    def __attrs_post_init__(self) -> None:
        self._total = _Acc(self.default_threshold)

    @classmethod
    def attach(
        cls,
        router: Router,
        *,
        default_threshold: float = DEFAULT_SERVICE_LEVEL_THRESHOLD,
        short_abandon_threshold: float = DEFAULT_SHORT_ABANDON_THRESHOLD,
    ) -> MetricsCollector:
        """Build a collector with the thresholds of ``router``'s queues and register it.

        Queues added to the router later use ``default_threshold``.
        """
        collector = cls(
            {q: router.queue_config(q).service_level_threshold for q in router.queues},
            default_threshold,
            short_abandon_threshold,
        )
        router.observe(collector.observe)
        return collector

    # ------------------------------------------------------------------ input

    def observe(self, events: list[Event]) -> None:
        """Consume a batch of events in order (usable as a router observer)."""
        handlers = self._HANDLERS
        last = self._last_at
        for event in events:
            at = event.at
            if at < last:
                raise InvalidValueError(
                    f"events out of order: {type(event).__name__} at {at} after an event at {last}"
                )
            last = self._last_at = at
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event)

    def _queue(self, name: str) -> _Acc:
        acc = self._queues.get(name)
        if acc is None:
            acc = self._queues[name] = _Acc(self.thresholds.get(name, self.default_threshold))
        return acc

    def _channel(self, name: str) -> _Acc:
        acc = self._channels.get(name)
        if acc is None:
            acc = self._channels[name] = _Acc(self.default_threshold)
        return acc

    def _agent(self, agent_id: str, at: float, presence: Presence = Presence.OFFLINE) -> _AgentAcc:
        """The agent's record, its time accounted up to ``at`` (created if new)."""
        rec = self._agents.get(agent_id)
        if rec is None:
            rec = self._agents[agent_id] = _AgentAcc(agent_id, presence, at)
            return rec
        # Time since the last event goes to the state the agent was in.
        dt = at - rec.since
        rec.since = at
        if dt > 0:
            if rec.held:
                rec.handling += dt
            elif rec.presence is Presence.AVAILABLE:
                rec.available += dt
            elif rec.presence is Presence.NOT_READY:
                rec.not_ready += dt
            else:
                return rec
            rec.logged_in += dt
        return rec

    def _on_queued(self, e: Queued) -> None:
        # _Acc.enter inlined: every contact comes through here
        first = _Entry(e.at)
        entry = _Entry(e.at)
        self._contacts[e.contact_id] = _Track(e.channel, e.queue, first, entry)
        queue = self._queues.get(e.queue) or self._queue(e.queue)
        queue.offered += 1
        queue.live.append(entry)
        channel = self._channels.get(e.channel) or self._channel(e.channel)
        channel.offered += 1
        channel.live.append(first)
        total = self._total
        total.offered += 1
        total.live.append(first)

    def _on_refused(self, e: Refused) -> None:
        self._queue(e.queue).refused += 1
        self._channel(e.channel).refused += 1
        self._total.refused += 1

    def _on_offered(self, e: Offered) -> None:
        # A ring offers one contact to several agents at once: each Offered
        # counts for its agent only; the contact's figures wait for its outcome.
        self._agent(e.agent_id, e.at).offers += 1

    def _on_rejected(self, e: Rejected) -> None:
        self._agent(e.agent_id, e.at).rejected += 1

    def _on_offer_timed_out(self, e: OfferTimedOut) -> None:
        self._agent(e.agent_id, e.at).timed_out += 1

    def _on_rescinded(self, e: OfferRescinded) -> None:
        self._agent(e.agent_id, e.at).rescinded += 1

    def _on_accepted(self, e: Accepted) -> None:
        agent = self._agent(e.agent_id, e.at)
        agent.accepted += 1
        agent.held.add(e.contact_id)
        track = self._contacts.get(e.contact_id)
        if track is None:
            return
        entry = track.entry
        if entry.open:
            entry.open = False
            (self._queues.get(track.queue) or self._queue(track.queue)).answer(e.at - entry.at)
        first = track.first
        if first.open:
            first.open = False
            wait = e.at - first.at
            (self._channels.get(track.channel) or self._channel(track.channel)).answer(wait)
            self._total.answer(wait)

    def _on_abandoned(self, e: Abandoned) -> None:
        track = self._contacts.pop(e.contact_id, None)
        if track is None:
            return
        short = self.short_abandon_threshold
        entry = track.entry
        if entry.open:
            entry.open = False
            self._queue(track.queue).abandon(e.at - entry.at, short)
        first = track.first
        if first.open:
            first.open = False
            wait = e.at - first.at
            self._channel(track.channel).abandon(wait, short)
            self._total.abandon(wait, short)

    def _on_timed_out(self, e: TimedOut) -> None:
        track = self._contacts.pop(e.contact_id, None)
        if track is None:
            return
        entry = track.entry
        if entry.open:
            entry.open = False
            self._queue(track.queue).time_out()
        first = track.first
        if first.open:
            first.open = False
            self._channel(track.channel).time_out()
            self._total.time_out()

    def _on_transferred(self, e: Transferred) -> None:
        if e.from_agent is not None:
            self._agent(e.from_agent, e.at).held.discard(e.contact_id)
        self._move(e.contact_id, e.to_queue, e.at)

    def _on_overflowed(self, e: Overflowed) -> None:
        # A transfer to another queue by the router: nobody held the contact.
        self._move(e.contact_id, e.to_queue, e.at)

    def _move(self, contact_id: str, to_queue: str, at: float) -> None:
        """The contact left its queue for ``to_queue``: a new queue entry if it differs."""
        track = self._contacts.get(contact_id)
        if track is None or to_queue == track.queue:
            return
        old = self._queue(track.queue)
        if track.entry.open:
            track.entry.open = False
            old.transferred_out += 1
            old.prune()
        track.queue = to_queue
        track.entry = _Entry(at)
        self._queue(to_queue).enter(track.entry)

    def _on_rejoined(self, e: Rejoined) -> None:
        track = self._contacts.get(e.contact_id)
        if track is None:
            return
        self._queue(e.queue).rejoined += 1
        self._channel(track.channel).rejoined += 1
        self._total.rejoined += 1

    def _on_completed(self, e: Completed) -> None:
        track = self._contacts.get(e.contact_id)
        if track is not None:
            track.handle_time = e.handle_time

    def _on_wrap_up_ended(self, e: WrapUpEnded) -> None:
        agent = self._agent(e.agent_id, e.at)
        agent.held.discard(e.contact_id)
        agent.handled += 1
        track = self._contacts.pop(e.contact_id, None)
        if track is None:
            return
        handle, wrap, code = track.handle_time, e.wrap_time, e.disposition
        # _Acc.finish inlined: every handled contact comes through here
        for acc in (
            self._queues.get(track.queue) or self._queue(track.queue),
            self._channels.get(track.channel) or self._channel(track.channel),
            self._total,
        ):
            acc.handled += 1
            acc.handle_time += handle
            acc.wrap_time += wrap
            if code is not None:
                acc.dispositions[code] = acc.dispositions.get(code, 0) + 1

    def _on_callback_unanswered(self, e: CallbackUnanswered) -> None:
        # The agent's call found nobody: the agent is free, and the contact's
        # entry ends answered but not handled; a retry enters afresh (Queued).
        self._agent(e.agent_id, e.at).held.discard(e.contact_id)
        self._contacts.pop(e.contact_id, None)

    def _on_presence(self, e: PresenceChanged) -> None:
        self._agent(e.agent_id, e.at, e.old).presence = e.new

    def _on_agent_added(self, e: AgentAdded) -> None:
        self._agent(e.agent_id, e.at)

    def _on_agent_removed(self, e: AgentRemoved) -> None:
        self._agent(e.agent_id, e.at).presence = Presence.OFFLINE

    # ------------------------------------------------------------------ state

    def state(self) -> dict[str, Any]:
        """Everything the collector has taken in, as JSON data (for a service
        snapshot): :meth:`from_state` rebuilds an equal collector. Cost: O(state).
        """
        refs: dict[int, int] = {}
        entries: list[list[Any]] = []

        def ref(entry: _Entry) -> int:
            index = refs.get(id(entry))
            if index is None:
                index = refs[id(entry)] = len(entries)
                entries.append([entry.at, entry.open])
            return index

        def acc(value: _Acc) -> dict[str, Any]:
            sums = [getattr(value, name) for name in _ACC_SUMS]
            return {
                "threshold": value.threshold,
                "sums": sums,
                "live": [ref(e) for e in value.live],
                "dispositions": dict(value.dispositions),
            }

        def agent(value: _AgentAcc) -> dict[str, Any]:
            return {
                "presence": value.presence.value,
                "since": value.since,
                "held": sorted(value.held),
                "sums": [getattr(value, name) for name in _AGENT_SUMS],
            }

        return {
            "format": _STATE_FORMAT,
            "thresholds": dict(self.thresholds),
            "default_threshold": self.default_threshold,
            "short_abandon_threshold": self.short_abandon_threshold,
            "last_at": None if self._last_at == -math.inf else self._last_at,
            "total": acc(self._total),
            "queues": {name: acc(value) for name, value in self._queues.items()},
            "channels": {name: acc(value) for name, value in self._channels.items()},
            "contacts": {
                contact_id: [t.channel, t.queue, ref(t.first), ref(t.entry), t.handle_time]
                for contact_id, t in self._contacts.items()
            },
            "agents": {agent_id: agent(value) for agent_id, value in self._agents.items()},
            "entries": entries,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> MetricsCollector:
        """A collector as :meth:`state` described it, ready to take in more events.

        :raises InvalidValueError: ``state`` is not such a description.
        """
        try:
            if state["format"] != _STATE_FORMAT:
                raise ValueError(f"format {state['format']!r}, expected {_STATE_FORMAT}")
            collector = cls(
                state["thresholds"], state["default_threshold"], state["short_abandon_threshold"]
            )
            entries = [_Entry(float(at), bool(is_open)) for at, is_open in state["entries"]]

            def acc(data: Mapping[str, Any]) -> _Acc:
                value = _Acc(float(data["threshold"]))
                for name, number in zip(_ACC_SUMS, data["sums"], strict=True):
                    setattr(value, name, number)
                value.live.extend(entries[i] for i in data["live"])
                # Absent from a state saved before dispositions were counted.
                value.dispositions = {
                    str(code): int(n) for code, n in data.get("dispositions", {}).items()
                }
                return value

            def agent(agent_id: str, data: Mapping[str, Any]) -> _AgentAcc:
                value = _AgentAcc(agent_id, Presence(data["presence"]), float(data["since"]))
                value.held = set(data["held"])
                for name, number in zip(_AGENT_SUMS, data["sums"], strict=True):
                    setattr(value, name, number)
                return value

            last_at = state["last_at"]
            collector._last_at = -math.inf if last_at is None else float(last_at)
            collector._total = acc(state["total"])
            collector._queues = {str(k): acc(v) for k, v in state["queues"].items()}
            collector._channels = {str(k): acc(v) for k, v in state["channels"].items()}
            collector._contacts = {
                str(k): _Track(channel, queue, entries[first], entries[entry], float(handle))
                for k, (channel, queue, first, entry, handle) in state["contacts"].items()
            }
            collector._agents = {str(k): agent(str(k), v) for k, v in state["agents"].items()}
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise InvalidValueError(f"not a metrics collector's state: {error!r}") from error
        return collector

    # ----------------------------------------------------------------- output

    def report(self, now: float) -> MetricsReport:
        """Every figure as of ``now``, which must not precede the last event seen.

        Open intervals (agents' current state, contacts still waiting) are
        counted up to ``now``. Cost: O(queues + channels + agents). The
        collector keeps collecting afterwards.
        """
        at = finite_float(now)
        if at is None or at < self._last_at:
            raise InvalidValueError(
                f"report time must be a finite number not before the last event "
                f"({self._last_at}), got {show(now)}"
            )
        now = at
        short = self.short_abandon_threshold
        agents = {a: rec.stats(now) for a, rec in self._agents.items()}
        return MetricsReport(
            now=now,
            total=self._total.stats(None, short, now),
            queues=_frozen({q: acc.stats(q, short, now) for q, acc in self._queues.items()}),
            channels=_frozen({c: acc.stats(c, short, now) for c, acc in self._channels.items()}),
            agents=_frozen(agents),
            team=TeamStats.of(agents[a] for a in sorted(agents)),
        )


_STATE_FORMAT = 1
# The running sums of a group and of an agent, in the order MetricsCollector.state lists them.
_ACC_SUMS = tuple(
    f.name for f in attrs.fields(_Acc) if f.name not in ("threshold", "live", "dispositions")
)
_AGENT_SUMS = tuple(
    f.name
    for f in attrs.fields(_AgentAcc)
    if f.name not in ("agent_id", "presence", "since", "held")
)

MetricsCollector._HANDLERS = {
    Queued: MetricsCollector._on_queued,
    Refused: MetricsCollector._on_refused,
    Offered: MetricsCollector._on_offered,
    Rejected: MetricsCollector._on_rejected,
    OfferTimedOut: MetricsCollector._on_offer_timed_out,
    OfferRescinded: MetricsCollector._on_rescinded,
    Accepted: MetricsCollector._on_accepted,
    Abandoned: MetricsCollector._on_abandoned,
    TimedOut: MetricsCollector._on_timed_out,
    Transferred: MetricsCollector._on_transferred,
    Overflowed: MetricsCollector._on_overflowed,
    Rejoined: MetricsCollector._on_rejoined,
    Completed: MetricsCollector._on_completed,
    WrapUpEnded: MetricsCollector._on_wrap_up_ended,
    PresenceChanged: MetricsCollector._on_presence,
    AgentAdded: MetricsCollector._on_agent_added,
    AgentRemoved: MetricsCollector._on_agent_removed,
    CallbackUnanswered: MetricsCollector._on_callback_unanswered,
}


class TotalsCollector:
    """The ``total`` of a :class:`MetricsCollector` and nothing else, at a fraction
    of its cost: no queue, channel or agent figures.

    For figures taken over a subset of the contacts (those that arrived in one
    interval, or after a warm-up), where only the total is reported: feed it
    every event of those contacts, in order, with :meth:`take`. Its
    :meth:`total` equals ``MetricsCollector.report(now).total`` fed the same
    events (the same rules: a contact counts once, from its arrival, whatever
    its transfers). O(1) amortised per e.
    """

    __slots__ = ("_contacts", "_short", "_total")

    #: The event classes :meth:`take` counts; it ignores every other, so a
    #: caller may leave those out.
    TAKES: ClassVar[frozenset[type[Event]]] = frozenset(
        (Queued, Accepted, Completed, WrapUpEnded, Abandoned, TimedOut, Refused, Rejoined)
    )

    def __init__(
        self,
        default_threshold: float = DEFAULT_SERVICE_LEVEL_THRESHOLD,
        short_abandon_threshold: float = DEFAULT_SHORT_ABANDON_THRESHOLD,
    ) -> None:
        self._total = _Acc(_default_threshold(default_threshold))
        self._short = _short_threshold(short_abandon_threshold)
        # contact id to [its entry into the total, its handle time]
        self._contacts: dict[str, list[Any]] = {}

    def take(self, event: Event) -> None:
        """Take one event (events of other kinds than the contact's are ignored)."""
        kind = type(event)
        # dispatched on the exact class, so every field below exists; the
        # _Acc methods are inlined (two calls of this per event and contact in
        # a simulation)
        e: Any = event
        if kind is Queued:
            first = _Entry(e.at)
            self._contacts[e.contact_id] = [first, 0.0]
            total = self._total
            total.offered += 1
            total.live.append(first)
        elif kind is Accepted:
            track = self._contacts.get(e.contact_id)
            if track is not None:
                first = track[0]
                if first.open:
                    first.open = False
                    self._total.answer(e.at - first.at)
        elif kind is Completed:
            track = self._contacts.get(e.contact_id)
            if track is not None:
                track[1] = e.handle_time
        elif kind is WrapUpEnded:
            track = self._contacts.pop(e.contact_id, None)
            if track is not None:
                total = self._total
                total.handled += 1
                total.handle_time += track[1]
                total.wrap_time += e.wrap_time
                code = e.disposition
                if code is not None:
                    total.dispositions[code] = total.dispositions.get(code, 0) + 1
        elif kind is Abandoned or kind is TimedOut:
            track = self._contacts.pop(e.contact_id, None)
            if track is not None and track[0].open:
                track[0].open = False
                if kind is Abandoned:
                    self._total.abandon(e.at - track[0].at, self._short)
                else:
                    self._total.time_out()
        elif kind is Refused:
            self._total.refused += 1
        elif kind is Rejoined and e.contact_id in self._contacts:
            self._total.rejoined += 1

    def observe(self, events: Iterable[Event]) -> None:
        """Take a batch of events in order (usable as a router observer)."""
        for event in events:
            self.take(event)

    def total(self, now: float) -> GroupStats:
        """The total as of ``now`` (not before the last event taken)."""
        return self._total.stats(None, self._short, float(now))
