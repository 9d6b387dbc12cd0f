"""The discrete-event simulator: drives the real Router through a contact-centre day.

The simulator is not a model of the router: it *is* the router, driven by a
:class:`~ccroute.ManualClock` and an event heap of what the outside world does
(customers arrive, hang up or ask for a callback; agents start and end shifts,
take breaks, answer offers and finish their work). The router's own timers
(offer time-outs, wrap-up ends, routing steps) are interleaved with that heap
through :meth:`Router.next_due`. Every figure comes from :mod:`ccroute.metrics`,
the same code a live deployment uses.

Everything random comes from one :class:`random.Random` seeded by the scenario
(or the caller), so the same scenario and seed give the same run, event for event.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable
from typing import Any

import attrs

from ..clock import ManualClock
from ..events import (
    Abandoned,
    Accepted,
    CallbackScheduled,
    Completed,
    Event,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    PresenceChanged,
    Queued,
    Refused,
    Rejected,
    TimedOut,
    WrapUpEnded,
)
from ..metrics import (
    DEFAULT_SHORT_ABANDON_THRESHOLD,
    GroupStats,
    MetricsCollector,
    MetricsReport,
    TotalsCollector,
    _Acc,
    _Entry,
)
from ..model import Agent, Contact, Presence, contact_with_id
from ..router import Router
from .breakdown import Breakdown, BreakdownCollector
from .scenario import AgentGroup, Scenario
from .waits import WaitRecord, WaitRecorder

__all__ = ["IntervalStats", "Simulation", "SimulationResult", "simulate"]

# Kinds of things the outside world does, in the order they are applied when
# they fall at the same instant.
_SHIFT_END = 0
_BREAK_START = 1
_SHIFT_START = 2
_BREAK_END = 3
_READY = 4
_FINISH = 5
_ANSWER = 6
_PATIENCE = 7
_CALLBACK = 8
_ARRIVAL = 9
_TRACE = 10
_BOUNDARY = 11

# Events that end one agent's offer of a contact, and those after which the
# contact is gone for the simulator.
_OFFER_ENDED: frozenset[type[Event]] = frozenset((OfferTimedOut, Rejected, OfferRescinded))
# Events after which the contact is gone (refused: it never queued), so its
# patience, callback and answer timers find nothing to do.
_GONE: frozenset[type[Event]] = frozenset((Abandoned, Refused, TimedOut, WrapUpEnded))
_heappush = heapq.heappush
# The events the totals collectors count: the others (Offered, most often) are
# not handed to them at all.
_TOTALS: frozenset[type[Event]] = TotalsCollector.TAKES

#: Seconds an agent stays not-ready after letting an offer time out ("RONA").
RONA_RECOVERY_SECONDS = 30.0


@attrs.frozen(slots=True)
class IntervalStats:
    """Figures of one reporting interval.

    ``stats`` covers the contacts that *arrived* in the interval (the usual
    convention of contact-centre interval reports), whenever they ended;
    ``occupancy`` and ``average_waiting`` are measured over the interval itself.
    """

    start: float
    end: float
    stats: GroupStats
    #: Team occupancy during the interval: handling / (handling + available).
    occupancy: float | None
    #: Time-average number of contacts waiting during the interval.
    average_waiting: float
    #: Agents logged in at the end of the interval (a count at one instant).
    agents_logged_in: int
    #: Time-average number of agents logged in during the interval (breaks included).
    agents_staffed: float = math.nan
    #: Time-average number of agents ready (available: idle or handling) during the interval.
    agents_ready: float = math.nan


@attrs.frozen(slots=True)
class SimulationResult:
    """What a simulated day produced."""

    scenario: str
    seed: int
    #: Every metric of docs/metrics.md, per queue, channel, agent, team and in total,
    #: over the whole day.
    report: MetricsReport
    #: The totals over the contacts that arrived after the warm-up (the same as
    #: ``report.total`` without a warm-up): what validation runs compare.
    measured: GroupStats
    intervals: tuple[IntervalStats, ...]
    #: Arrivals resolved by the IVR (never queued, not offered).
    self_served: int
    #: Answered contacts (after warm-up) that waited at all before being answered.
    answered_after_waiting: int
    #: Contacts still waiting when nothing more could happen (no agent left).
    stranded: int
    #: Router events produced.
    events: int
    #: Clock time when the simulation ended (seconds after midnight).
    end_time: float
    #: The router's events, when the simulation was asked to keep them.
    event_log: tuple[Event, ...] | None = attrs.field(default=None, eq=False, repr=False)
    #: Per interval x queue x channel, against each queue's own threshold, with
    #: the longest waits and the agents staffed per interval (sim/breakdown.py).
    breakdown: Breakdown | None = attrs.field(default=None, eq=False, repr=False)
    #: Each queued contact's estimated and actual wait, in the order they
    #: queued, when the simulation was asked to record them (sim/waits.py).
    waits: tuple[WaitRecord, ...] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def probability_of_waiting(self) -> float | None:
        """Share of answered contacts (after warm-up) that waited before being answered."""
        answered = self.measured.answered
        return self.answered_after_waiting / answered if answered else None


class _AgentSim:
    __slots__ = ("group", "id", "in_shift", "leaving", "on_break", "presence")

    def __init__(self, agent_id: str, group: AgentGroup) -> None:
        self.id = agent_id
        self.group = group
        self.presence = Presence.OFFLINE
        self.in_shift = False
        self.on_break = False
        self.leaving = False


class _ContactSim:
    __slots__ = (
        "answered",
        "callback",
        "counted",
        "entry",
        "handle",
        "handle_time",
        "interval",
        "offers",
        "totals",
    )

    def __init__(
        self, handle: float, interval: int, counted: bool, totals: tuple[_Acc, ...]
    ) -> None:
        self.handle = handle
        self.interval = interval
        self.counted = counted
        self.answered = False
        self.callback = False
        # Agent to the time of its open offer of this contact: a queue that
        # rings several agents at once offers one contact to each of them.
        self.offers: dict[str, float] = {}
        # What a TotalsCollector keeps per contact, kept once here for every
        # totals collector the contact counts in (the sums of its interval's,
        # and of the measured one after the warm-up): its entry into the totals
        # (None until queued, as a collector that has not seen it queued) and
        # its handle time.
        self.totals = totals
        self.entry: _Entry | None = None
        self.handle_time = 0.0


class Simulation:
    """One run of a :class:`Scenario` with a given seed.

    :param scenario: the day to simulate.
    :param seed: overrides the scenario's seed.
    :param keep_events: keep every router event in the result (for tests).
    :param record_waits: record each contact's estimated wait at queue entry
        (:meth:`Router.estimated_wait <ccroute.Router.estimated_wait>`) and its
        actual wait in :attr:`SimulationResult.waits`; costs one estimate per
        contact.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int | None = None,
        keep_events: bool = False,
        record_waits: bool = False,
    ) -> None:
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.clock = ManualClock(scenario.start)
        self.router = Router(
            self.clock, seed=self.seed, policy=scenario.policy, epoch=scenario.epoch
        )
        for channel in scenario.channels:
            self.router.add_channel(channel)
        self.router.add_queues(scenario.queues)
        thresholds = {q.name: q.service_level_threshold for q in scenario.queues}
        self.metrics = MetricsCollector(thresholds)
        # Without a warm-up the measured totals are the day's totals: no second collector.
        # Figures over a subset of the contacts (after the warm-up, by interval
        # of arrival) are totals only: a TotalsCollector each, much cheaper.
        self.measured = TotalsCollector() if scenario.warmup > 0 else None
        self._interval_totals = [TotalsCollector() for _ in range(scenario.intervals)]
        # The engine feeds those collectors' sums itself, in one pass per
        # event for all the collectors a contact counts in, with the updates
        # TotalsCollector.take makes (tests/test_sim_speed_paths.py holds them
        # equal): per interval, the sums a contact arriving in it updates
        # (before and after the warm-up).
        self._short = DEFAULT_SHORT_ABANDON_THRESHOLD
        self._interval_sums = [(t._total,) for t in self._interval_totals]
        self._counted_sums = [
            (self.measured._total, *sums) if self.measured is not None else sums
            for sums in self._interval_sums
        ]
        self._heap: list[tuple[float, int, int, Any]] = []
        # Tie-breaks of the heap: 1, 2, 3 ... in push order.
        self._seq = itertools.count(1)
        self._agents: dict[str, _AgentSim] = {}
        self._contacts: dict[str, _ContactSim] = {}
        self._log: list[Event] | None = [] if keep_events else None
        self._events = 0
        self._self_served = 0
        self._waited = 0
        self._serial = 0
        self._area = 0.0
        self._last_t = scenario.start
        self._interval_index = 0
        self._team_mark = (0.0, 0.0)
        self._intervals: list[IntervalStats] = []
        self._interval_count = scenario.intervals
        self._warm_end = scenario.start + scenario.warmup
        # A contact of an arrival stream is the stream's first contact (built and
        # validated in full) under another id: (stream index, VIP) to that contact.
        self._templates: dict[tuple[int, bool], Contact] = {}
        # The rate of each stream with one rate all day (None for the others).
        self._single_rates = [a.rates[0] if len(a.rates) == 1 else None for a in scenario.arrivals]
        # Each stream's handle time and patience draws (Distribution.sampler).
        self._draws = [
            (a.handle_time.sampler(self.rng), a.patience.sampler(self.rng))
            for a in scenario.arrivals
        ]
        self.breakdown = BreakdownCollector(
            thresholds, scenario.start, scenario.interval, scenario.intervals, scenario.end
        )
        # One observer feeds the breakdown too (after the simulator's own
        # bookkeeping and the metrics, as two observers would): one copy of
        # each batch instead of two.
        self.router.observe(self._on_events)
        self.wait_recorder = WaitRecorder(self.router) if record_waits else None
        self._setup()

    # ------------------------------------------------------------------ setup

    def _push(self, when: float, kind: int, payload: Any) -> None:
        _heappush(self._heap, (when, kind, next(self._seq), payload))

    def _setup(self) -> None:
        sc = self.scenario
        for group in sc.agents:
            for i in range(group.count):
                agent = _AgentSim(f"{group.name}-{i + 1:03d}", group)
                self._agents[agent.id] = agent
                self.router.add_agent(
                    Agent(
                        agent.id,
                        skills=group.skills,
                        queues=group.queues,
                        capacity=group.capacity,
                        unit_budget=group.unit_budget,
                        queue_delays=group.queue_delays,
                    )
                )
                self._push(max(group.shift_start, sc.start), _SHIFT_START, agent)
                if math.isfinite(group.shift_end):
                    self._push(group.shift_end, _SHIFT_END, agent)
                for brk in group.breaks:
                    self._push(brk.start, _BREAK_START, agent)
                    self._push(brk.start + brk.seconds, _BREAK_END, agent)
        for index in range(len(sc.arrivals)):
            first = self._next_arrival(index, sc.start)
            if first is not None:
                self._push(first, _ARRIVAL, index)
        for record in sc.trace:
            if sc.start <= record.arrival < sc.end:
                self._push(record.arrival, _TRACE, record)
        for k in range(1, sc.intervals + 1):
            self._push(min(sc.start + k * sc.interval, sc.end), _BOUNDARY, k - 1)

    def _next_arrival(self, index: int, t: float) -> float | None:
        """Next arrival of a Poisson stream whose rate is constant within each interval."""
        sc = self.scenario
        rates = self.scenario.arrivals[index].rates
        while t < sc.end:
            if len(rates) == 1:
                rate, boundary = rates[0], sc.end
            else:
                k = min(int((t - sc.start) // sc.interval), len(rates) - 1)
                rate, boundary = rates[k], min(sc.start + (k + 1) * sc.interval, sc.end)
            if rate > 0:
                candidate = t + self.rng.expovariate(rate)
                if candidate < boundary:
                    return candidate
            # Memoryless: start afresh at the boundary with the next rate.
            t = boundary
        return None

    # -------------------------------------------------------------------- run

    def run(self, progress: Callable[[float], None] | None = None) -> SimulationResult:
        """Simulate the day and return its figures.

        ``progress``, if given, is called now and then with the share of the
        day done (0..1).
        """
        sc = self.scenario
        router = self.router
        heap = self._heap
        heappop = heapq.heappop
        next_due = router.next_due
        set_clock = self.clock.set
        handle = self._handle
        contacts = self._contacts
        hard_stop = sc.end + 7 * 24 * 3600.0
        span = sc.end - sc.start
        step = 0
        # The clock moves only here, so the last time set is the clock's reading
        # (_advance inlined: it runs for every step).
        last = self._last_t
        while True:
            due = next_due()
            if heap and (due is None or heap[0][0] < due):
                when, kind, _seq, payload = heappop(heap)
                if when > last:
                    self._area += len(router) * (when - last)
                    self._last_t = last = when
                    set_clock(when)
                # Every contact has an answer and a finish: those two are
                # handled here, the rarer kinds by _handle.
                if kind == _FINISH:
                    if payload in contacts:
                        router.complete(payload)
                elif kind == _ANSWER:
                    contact_id, agent_id, offered_at = payload
                    contact = contacts.get(contact_id)
                    # Only the offer the answer was scheduled for: not one that was
                    # rescinded, rejected or timed out meanwhile, nor a later one.
                    if contact is not None and contact.offers.get(agent_id) == offered_at:
                        router.accept(contact_id, agent_id)
                else:
                    handle(kind, payload)
            elif due is not None:
                if due > last:
                    self._area += len(router) * (due - last)
                    self._last_t = last = due
                    set_clock(due)
                router.tick()
            else:
                break
            if last > hard_stop:
                break
            step += 1
            if progress is not None and step % 4096 == 0:
                progress(min(1.0, (self.clock.now() - sc.start) / span))
        if progress is not None:
            progress(1.0)
        now = self.clock.now()
        breakdown = self.breakdown.result(now)
        intervals = tuple(
            attrs.evolve(i, agents_staffed=staffed, agents_ready=ready)
            for i, staffed, ready in zip(
                self._intervals, breakdown.agents_logged_in, breakdown.agents_ready, strict=False
            )
        )
        return SimulationResult(
            scenario=sc.name,
            seed=self.seed,
            report=self.metrics.report(now),
            measured=(
                self.metrics.report(now).total
                if self.measured is None
                else self.measured.total(now)
            ),
            intervals=intervals,
            self_served=self._self_served,
            answered_after_waiting=self._waited,
            stranded=len(router),
            events=self._events,
            end_time=now,
            event_log=None if self._log is None else tuple(self._log),
            breakdown=breakdown,
            waits=None
            if self.wait_recorder is None
            else tuple(self.wait_recorder.records.values()),
        )

    # --------------------------------------------------------------- handlers

    def _handle(self, kind: int, payload: Any) -> None:
        """What the outside world does, but answers and finishes (run handles those)."""
        if kind == _ARRIVAL:
            self._arrive(payload)
        elif kind == _PATIENCE:
            contact = self._contacts.get(payload)
            if contact is not None and not contact.answered and not contact.callback:
                self.router.abandon(payload)
        elif kind == _CALLBACK:
            contact = self._contacts.get(payload)
            if (
                contact is not None
                and not contact.answered
                and not contact.offers
                and not contact.callback
            ):
                contact.callback = True
                self.router.request_callback(payload)
        elif kind == _TRACE:
            self._arrive_traced(payload)
        elif kind == _BOUNDARY:
            self._close_interval(payload)
        else:
            self._agent_event(kind, payload)

    def _register(self, contact_id: str, handle: float, patience: float, arrival: float) -> None:
        sc = self.scenario
        interval = min(int((arrival - sc.start) // sc.interval), self._interval_count - 1)
        counted = arrival >= self._warm_end
        self._contacts[contact_id] = _ContactSim(
            handle,
            interval,
            counted,
            self._counted_sums[interval] if counted else self._interval_sums[interval],
        )
        if math.isfinite(patience):
            _heappush(self._heap, (arrival + patience, _PATIENCE, next(self._seq), contact_id))

    def _arrive(self, index: int) -> None:
        sc = self.scenario
        stream = sc.arrivals[index]
        rng = self.rng
        # run sets the clock and _last_t together
        now = self._last_t
        rate = self._single_rates[index]
        if rate is None:
            following = self._next_arrival(index, now)
        else:
            # _next_arrival of a stream with one rate all day: one draw (the
            # same), and no arrival if it falls after the end
            following = None
            if now < sc.end and rate > 0:
                candidate = now + rng.expovariate(rate)
                if candidate < sc.end:
                    following = candidate
        if following is not None:
            _heappush(self._heap, (following, _ARRIVAL, next(self._seq), index))
        if stream.self_service_share and rng.random() < stream.self_service_share:
            self._self_served += 1
            return
        self._serial += 1
        contact_id = f"{stream.name}-{self._serial}"
        vip = stream.vip_share > 0 and rng.random() < stream.vip_share
        draw_handle, draw_patience = self._draws[index]
        handle = draw_handle()
        patience = draw_patience()
        # _register inlined: every arrival comes here
        interval = min(int((now - sc.start) // sc.interval), self._interval_count - 1)
        counted = now >= self._warm_end
        self._contacts[contact_id] = _ContactSim(
            handle,
            interval,
            counted,
            self._counted_sums[interval] if counted else self._interval_sums[interval],
        )
        if math.isfinite(patience):
            _heappush(self._heap, (now + patience, _PATIENCE, next(self._seq), contact_id))
        if stream.callback_after is not None and rng.random() < stream.callback_share:
            self._push(now + stream.callback_after, _CALLBACK, contact_id)
        template = self._templates.get((index, vip))
        if template is not None:
            # Every field but the id is the template's, already validated.
            contact = contact_with_id(template, contact_id)
        else:
            contact = self._templates[index, vip] = Contact(
                contact_id,
                stream.channel,
                stream.queue,
                requirements=stream.requirements,
                priority_seconds=stream.vip_priority_seconds if vip else 0.0,
                max_wait=stream.max_wait,
            )
        self.router.submit(contact)

    def _arrive_traced(self, record: Any) -> None:
        self._serial += 1
        contact_id = f"trace-{self._serial}"
        now = self.clock.now()
        self._register(contact_id, record.handle_time, record.patience, now)
        self.router.submit(
            Contact(
                contact_id,
                record.channel,
                record.queue,
                requirements=record.requirements,
                priority_seconds=record.priority_seconds,
                customer_id=record.customer_id,
            )
        )

    def _agent_event(self, kind: int, agent: _AgentSim) -> None:
        router = self.router
        if kind == _SHIFT_START:
            agent.in_shift = True
            agent.leaving = False
            if not agent.on_break:
                router.set_presence(agent.id, Presence.AVAILABLE, "start of shift")
        elif kind == _SHIFT_END:
            agent.in_shift = False
            self._log_off(agent)
        elif kind == _BREAK_START:
            agent.on_break = True
            if agent.presence is Presence.AVAILABLE:
                router.set_presence(agent.id, Presence.NOT_READY, "break")
        elif kind == _BREAK_END:
            agent.on_break = False
            if agent.in_shift and agent.presence is Presence.NOT_READY:
                router.set_presence(agent.id, Presence.AVAILABLE, "end of break")
        elif (
            kind == _READY
            and agent.in_shift
            and not agent.on_break
            and agent.presence is Presence.NOT_READY
        ):
            router.set_presence(agent.id, Presence.AVAILABLE, "ready again")
        if agent.leaving:
            self._log_off(agent)

    def _log_off(self, agent: _AgentSim) -> None:
        """End of shift: log off now, or stop taking work and log off when free."""
        if agent.presence is Presence.OFFLINE:
            agent.leaving = False
            return
        if self.router.agent(agent.id).in_service:
            agent.leaving = True
            if agent.presence is Presence.AVAILABLE:
                self.router.set_presence(agent.id, Presence.NOT_READY, "end of shift")
            return
        agent.leaving = False
        self.router.set_presence(agent.id, Presence.OFFLINE, "end of shift")

    # --------------------------------------------------------- router events

    def _on_events(self, events: list[Event]) -> None:
        self._events += len(events)
        if self._log is not None:
            self._log.extend(events)
        contacts = self._contacts
        heap = self._heap
        seq = self._seq
        for event in events:
            kind = type(event)
            # dispatched on the exact class (the router makes no subclasses),
            # so the fields each branch reads exist
            e: Any = event
            if kind is Offered:
                contact_id = e.contact_id
                contact = contacts.get(contact_id)
                if contact is None:
                    continue
                agent_id = e.agent_id
                at = e.at
                contact.offers[agent_id] = at
                group = self._agents[agent_id].group
                if not (
                    group.no_answer_probability and self.rng.random() < group.no_answer_probability
                ):
                    _heappush(
                        heap,
                        (at + group.answer_seconds, _ANSWER, next(seq), (contact_id, agent_id, at)),
                    )
            elif kind in _TOTALS:
                contact = contacts.get(e.contact_id)
                if contact is None:
                    continue
                # TotalsCollector.take, once for all the contact's totals
                # (inlined: each contact comes here four times)
                entry = contact.entry
                if kind is Queued:
                    entry = contact.entry = _Entry(e.at)
                    contact.handle_time = 0.0
                    for acc in contact.totals:
                        acc.offered += 1
                        acc.live.append(entry)
                elif kind is Accepted:
                    if entry is not None and entry.open:
                        entry.open = False
                        wait = e.at - entry.at
                        for acc in contact.totals:
                            acc.answered += 1
                            acc.answer_wait += wait
                            if wait <= acc.threshold:
                                acc.answered_within += 1
                            live = acc.live
                            while live and not live[0].open:
                                live.popleft()
                elif kind is Completed:
                    if entry is not None:
                        contact.handle_time = e.handle_time
                elif kind is WrapUpEnded:
                    if entry is not None:
                        handle_time = contact.handle_time
                        wrap_time = e.wrap_time
                        for acc in contact.totals:
                            acc.handled += 1
                            acc.handle_time += handle_time
                            acc.wrap_time += wrap_time
                elif kind is Abandoned or kind is TimedOut:
                    if entry is not None and entry.open:
                        entry.open = False
                        for acc in contact.totals:
                            if kind is Abandoned:
                                acc.abandon(e.at - entry.at, self._short)
                            else:
                                acc.time_out()
                elif kind is Refused:
                    for acc in contact.totals:
                        acc.refused += 1
                elif entry is not None:  # Rejoined: counted once queued
                    for acc in contact.totals:
                        acc.rejoined += 1
                if kind is Accepted:
                    contact.offers.clear()
                    contact.answered = True
                    if contact.counted and e.wait > 0:
                        self._waited += 1
                    _heappush(heap, (e.at + contact.handle, _FINISH, next(seq), e.contact_id))
                elif kind in _GONE:
                    # Gone (a timed-out contact left unanswered, a refused one never
                    # queued): no later abandon, callback or answer applies to it.
                    del contacts[e.contact_id]
                    if kind is WrapUpEnded:
                        agent = self._agents[e.agent_id]
                        if agent.leaving:
                            self._push(e.at, _SHIFT_END, agent)
            elif kind is CallbackScheduled:
                # Held until its queue opens: the customer is called back, so
                # it no longer abandons (as after a callback request).
                contact = contacts.get(e.contact_id)
                if contact is not None:
                    contact.callback = True
            elif kind is PresenceChanged:
                agent = self._agents[e.agent_id]
                agent.presence = e.new
                if e.reason == "rona":
                    self._push(e.at + RONA_RECOVERY_SECONDS, _READY, agent)
            elif kind in _OFFER_ENDED:
                # One holder's offer ended; with ring-all the others keep theirs.
                contact = contacts.get(e.contact_id)
                if contact is not None:
                    contact.offers.pop(e.agent_id, None)
        self.metrics.observe(events)
        self.breakdown.observe(events)

    def _close_interval(self, index: int) -> None:
        sc = self.scenario
        now = self.clock.now()
        start = sc.start + index * sc.interval
        team = self.metrics.report(now).team
        handling, available = team.handling_time, team.available_time
        d_handling = handling - self._team_mark[0]
        d_available = available - self._team_mark[1]
        self._team_mark = (handling, available)
        busy = d_handling + d_available
        length = now - start
        self._intervals.append(
            IntervalStats(
                start=start,
                end=now,
                stats=self._interval_totals[index].total(now),
                occupancy=d_handling / busy if busy > 0 else None,
                average_waiting=self._area / length if length > 0 else 0.0,
                agents_logged_in=sum(
                    1 for a in self._agents.values() if a.presence is not Presence.OFFLINE
                ),
            )
        )
        self._area = 0.0

    def interval_totals(self, index: int) -> GroupStats:
        """The totals of the contacts that arrived in interval ``index`` (per queue
        and channel: :attr:`SimulationResult.breakdown`)."""
        return self._interval_totals[index].total(self.clock.now())


def simulate(
    scenario: Scenario, *, seed: int | None = None, progress: Callable[[float], None] | None = None
) -> SimulationResult:
    """Run ``scenario`` once and return its figures."""
    return Simulation(scenario, seed=seed).run(progress)
