"""Differential tests: the real universal queue against a brute-force reference.

The same scripted operations run through two routers, the default one and one
built with ``queue_backend=ReferenceQueue()`` (tests/reference.py: every decision a
full scan over agents or contacts, written from the routing semantics). After
every call both must return the same events, or raise the same
:class:`ccroute.CCRouteError` with the same message.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import ReferenceQueue

from ccroute import (
    BUILTIN_CHANNELS,
    Abandoned,
    Accepted,
    Agent,
    AgentRemoved,
    CCRouteError,
    Channel,
    ChannelKind,
    Completed,
    Contact,
    ContactState,
    ManualClock,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Presence,
    PresenceChanged,
    QueueConfig,
    Queued,
    Rejected,
    Router,
    RoutingStep,
    Strategy,
    Transferred,
    WrapUpEnded,
)
from ccroute.errors import InvalidStateError
from ccroute.events import Event
from ccroute.testing import check_queue, queue_entries

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")

# ---------------------------------------------------------------- the pair


class Raised:
    """What a call that raised returns in a differential comparison."""

    def __init__(self, exc: CCRouteError) -> None:
        self.type = type(exc)
        self.message = str(exc)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Raised):
            return NotImplemented
        return (self.type, self.message) == (other.type, other.message)

    def __hash__(self) -> int:
        return hash((self.type, self.message))

    def __repr__(self) -> str:
        return f"Raised({self.type.__name__}: {self.message})"


def _invoke(router: Router, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return getattr(router, method)(*args, **kwargs)
    except CCRouteError as exc:
        return Raised(exc)


class Pair:
    """The default router and, optionally, one on the reference queue, driven in lockstep.

    Each router has its own :class:`ManualClock`; :meth:`advance` moves both.
    :meth:`call` runs one public method on both and asserts the results are
    equal (events compare by value; errors by type and message).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        reference: bool = True,
        channels: Sequence[Channel] = BUILTIN_CHANNELS,
    ) -> None:
        self.clock = ManualClock()
        self.real = Router(self.clock, seed=seed, channels=channels)
        self.ref_clock: ManualClock | None = None
        self.ref: Router | None = None
        if reference:
            self.ref_clock = ManualClock()
            self.ref = Router(
                self.ref_clock, seed=seed, channels=channels, queue_backend=ReferenceQueue()
            )
        self.calls = 0
        self.history: list[str] = []

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``method`` on both routers; return the (equal) events, TickResult or Raised."""
        self.calls += 1
        if self.ref is not None:
            self.history.append(f"{method}{args}{kwargs or ''}")
            del self.history[:-30]
        got = _invoke(self.real, method, args, kwargs)
        if self.ref is not None:
            want = _invoke(self.ref, method, args, kwargs)
            if method == "tick" and not isinstance(got, Raised):
                same = (got.events, got.next_due) == (want.events, want.next_due)
            else:
                same = got == want
            if not same:
                recent = "\n  ".join(self.history[-10:])
                raise AssertionError(
                    f"divergence at call #{self.calls} {method}{args}{kwargs}\n"
                    f"real:      {got!r}\nreference: {want!r}\nlast calls:\n  {recent}"
                )
        return got

    def advance(self, seconds: float) -> Any:
        self.clock.advance(seconds)
        if self.ref_clock is not None:
            self.ref_clock.advance(seconds)
        return self.call("tick")

    def check(self) -> None:
        check_queue(self.real)
        if self.ref is not None:
            check_queue(self.ref)

    def compare_state(self) -> None:
        """Every observable view of the two routers is the same."""
        if self.ref is None:
            return
        a, b = self.real, self.ref
        assert a.agent_ids == b.agent_ids
        assert [a.agent(i) for i in a.agent_ids] == [b.agent(i) for i in b.agent_ids]
        assert a.contact_ids == b.contact_ids
        assert [a.contact(c) for c in a.contact_ids] == [b.contact(c) for c in b.contact_ids]
        assert [c.id for c in a.waiting()] == [c.id for c in b.waiting()]
        assert (a.submitted, a.completed, a.abandoned, len(a), a.next_due()) == (
            b.submitted,
            b.completed,
            b.abandoned,
            len(b),
            b.next_due(),
        )
        assert queue_entries(a) == queue_entries(b)


def events_of(result: Any) -> list[Event]:
    if isinstance(result, Raised):
        return []
    if isinstance(result, list):
        return result
    return list(result.events)


class Tracker:
    """Where every live contact is, followed from the events alone."""

    def __init__(self) -> None:
        self.waiting: dict[str, None] = {}
        self.offered: dict[str, str] = {}
        self.in_service: dict[str, str] = {}
        self.wrap_up: dict[str, str] = {}

    def apply(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, Queued):
                self.waiting[e.contact_id] = None
            elif isinstance(e, Offered):
                del self.waiting[e.contact_id]
                self.offered[e.contact_id] = e.agent_id
            elif isinstance(e, Accepted):
                self.in_service[e.contact_id] = self.offered.pop(e.contact_id)
            elif isinstance(e, (Rejected, OfferTimedOut, OfferRescinded)):
                del self.offered[e.contact_id]
                self.waiting[e.contact_id] = None
            elif isinstance(e, Completed):
                self.wrap_up[e.contact_id] = self.in_service.pop(e.contact_id)
            elif isinstance(e, WrapUpEnded):
                del self.wrap_up[e.contact_id]
            elif isinstance(e, Abandoned):
                self.waiting.pop(e.contact_id, None)
                self.offered.pop(e.contact_id, None)
            elif isinstance(e, Transferred):
                for where in (self.waiting, self.offered, self.in_service):
                    where.pop(e.contact_id, None)  # type: ignore[attr-defined]
                self.waiting[e.contact_id] = None

    def live(self) -> list[str]:
        return sorted([*self.waiting, *self.offered, *self.in_service, *self.wrap_up])

    def matches(self, router: Router) -> None:
        states = {c: router.contact(c).state for c in router.contact_ids}
        for state, where in (
            (ContactState.WAITING, self.waiting),
            (ContactState.OFFERED, self.offered),
            (ContactState.IN_SERVICE, self.in_service),
            (ContactState.WRAP_UP, self.wrap_up),
        ):
            assert {c for c, s in states.items() if s is state} == set(where), state


def test_pair_sees_a_divergence() -> None:
    """The harness itself: a queue that picks a different agent is caught."""

    class Wrong(ReferenceQueue):
        def best_agent(
            self,
            g: int,
            strategy: int,
            target: int = -1,
            rr_after: str | None = None,
            barred: Any = (),
        ) -> int:
            found = self.eligible_agents(g, target, barred)
            return found[-1] if found else -1

    pair = Pair()
    assert pair.ref is not None
    pair.ref = Router(pair.ref_clock, queue_backend=Wrong())
    pair.call("add_queue", QueueConfig("q"))
    pair.call("add_agent", Agent("a", queues={"q"}), Presence.AVAILABLE)
    pair.call("add_agent", Agent("b", queues={"q"}), Presence.AVAILABLE)
    with pytest.raises(AssertionError, match="divergence"):
        pair.call("submit", Contact("c", "voice", "q"))


def test_reference_agrees_on_a_small_script() -> None:
    pair = Pair()
    pair.call("add_queue", QueueConfig("sales", strategy=Strategy.MOST_SKILLED))
    pair.call(
        "add_queue",
        QueueConfig(
            "support",
            strategy=Strategy.ROUND_ROBIN,
            wrap_up=None,
            steps=[RoutingStep(5, {"fr": None}, {"sales"})],
        ),
    )
    pair.call(
        "add_agent", Agent("a10", skills={"en": 5}, queues={"sales", "support"}), Presence.AVAILABLE
    )
    pair.call(
        "add_agent",
        Agent("a9", skills={"en": 7, "fr": 2}, queues={"sales"}, unit_budget=100),
        Presence.AVAILABLE,
    )
    pair.call("submit", Contact("c1", "voice", "sales", requirements={"en": 3}))
    pair.call("submit", Contact("c2", "chat", "support", requirements={"fr": 4}))
    pair.call("accept", "c1", "a9")
    pair.advance(6)
    pair.call("submit", Contact("c3", "email", "sales", priority_seconds=30))
    pair.call("reject", "c2", "a10")
    pair.call("set_presence", "a9", Presence.OFFLINE)
    pair.call("complete", "c1")
    pair.call("set_presence", "a9", Presence.OFFLINE)
    pair.call("transfer", "c3", agent="a10")
    pair.call("request_callback", "c2")
    pair.call("set_capacity", "a10", "callback", 1)
    pair.advance(40)
    pair.call("remove_agent", "a10")
    pair.compare_state()
    pair.check()


#: The built-in channels, but a voice call excludes other work.
EXCLUSIVE_VOICE = tuple(
    Channel(c.name, c.kind, c.default_capacity, c.unit_cost, exclusive=c.name == "voice")
    for c in BUILTIN_CHANNELS
)
#: A channel added while the router runs (agents added earlier get capacity 0 on it).
PHONE = Channel("phone", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=60, exclusive=True)


# ------------------------------------------------------ hypothesis scenario

SKILLS = ["en", "fr", "billing", "tech", "vip"]
CHANNELS = ["voice", "chat", "email"]
ALL_CHANNELS = [*CHANNELS, "callback", "phone"]
QUEUE_NAMES = ["q0", "q1", "q2", "q3"]
PRESENCES = [Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE]

levels = st.integers(1, 10)
skill_sets = st.dictionaries(st.sampled_from(SKILLS), levels, min_size=1, max_size=5)
requirement_sets = st.one_of(
    st.just({}), st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 7), max_size=2)
)


@st.composite
def queue_configs(draw: st.DrawFn, n: int) -> list[QueueConfig]:
    configs = []
    for i in range(n):
        name = QUEUE_NAMES[i]
        afters = sorted(draw(st.sets(st.sampled_from([0.0, 3.0, 10.0, 25.0]), max_size=2)))
        steps = [
            RoutingStep(
                after=after,
                requirements=draw(
                    st.dictionaries(
                        st.sampled_from(SKILLS), st.one_of(st.none(), levels), max_size=2
                    )
                ),
                queues=draw(st.sets(st.sampled_from(QUEUE_NAMES[: i + 1]), max_size=2)),
            )
            for after in afters
        ]
        configs.append(
            QueueConfig(
                name,
                strategy=draw(st.sampled_from(list(Strategy))),
                steps=steps,
                max_size=draw(st.sampled_from([None, None, None, 3])),
                offer_timeout=draw(st.sampled_from([None, 10.0, 30.0])),
                wrap_up=draw(st.sampled_from([0.0, 0.0, 5.0, None])),
                rona_not_ready=draw(st.booleans()),
            )
        )
    return configs


@st.composite
def agent_specs(
    draw: st.DrawFn, agent_id: str, n_queues: int, channels: Sequence[str] = CHANNELS
) -> Agent:
    capacity = draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(channels), st.integers(0, 3), min_size=1),
        )
    )
    return Agent(
        agent_id,
        skills=draw(skill_sets),
        queues=draw(
            st.sets(st.sampled_from(QUEUE_NAMES[:n_queues]), min_size=1, max_size=n_queues)
        ),
        capacity=capacity,
        unit_budget=draw(st.sampled_from([None, None, 0, 50, 100, 150])),
    )


index = st.integers(0, 50)


@st.composite
def operations(draw: st.DrawFn, n_queues: int) -> tuple[Any, ...]:
    kind = draw(
        st.sampled_from(
            [
                "submit",
                "submit",
                "submit",
                "submit",
                "accept",
                "accept",
                "accept",
                "reject",
                "complete",
                "complete",
                "end_wrap_up",
                "abandon",
                "transfer",
                "callback",
                "presence",
                "presence",
                "capacity",
                "add_agent",
                "remove_agent",
                "advance",
                "advance",
                "add_channel",
            ]
        )
    )
    queue_index = st.integers(0, n_queues - 1)
    if kind == "submit":
        return (
            kind,
            draw(st.sampled_from([*CHANNELS, *CHANNELS, "phone"])),
            draw(queue_index),
            draw(requirement_sets),
            draw(st.sampled_from([0.0, 0.0, 5.0, 30.0])),
            draw(st.sampled_from([0, 0, 0, 1])),
            draw(st.one_of(st.none(), index)),
            draw(st.sampled_from([0.0, 5.0, 20.0])),
        )
    if kind in ("accept", "reject"):
        return (kind, draw(index), draw(st.sampled_from([False, False, False, True])))
    if kind in ("complete", "end_wrap_up", "abandon", "callback"):
        return (kind, draw(index), draw(st.sampled_from([False, False, False, True])))
    if kind == "transfer":
        return (
            kind,
            draw(index),
            draw(st.one_of(st.none(), queue_index)),
            draw(
                st.one_of(
                    st.none(),
                    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 11), max_size=2),
                )
            ),
            draw(st.one_of(st.none(), index)),
            draw(st.booleans()),
        )
    if kind == "presence":
        return (kind, draw(index), draw(st.sampled_from(PRESENCES)))
    if kind == "capacity":
        return (kind, draw(index), draw(st.sampled_from(ALL_CHANNELS)), draw(st.integers(0, 3)))
    if kind == "add_agent":
        spec = draw(agent_specs("new", n_queues, [*CHANNELS, *CHANNELS, "phone"]))
        return (kind, spec, draw(st.sampled_from(PRESENCES)))
    if kind == "remove_agent":
        return (kind, draw(index))
    if kind == "add_channel":
        return (kind,)
    return ("advance", draw(st.sampled_from([0.0, 1.0, 4.0, 11.0, 31.0])))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Any, ...]:
    n_queues = draw(st.integers(2, 4))
    configs = draw(queue_configs(n_queues))
    n_agents = draw(st.integers(1, 10))
    agents = [
        (
            draw(agent_specs(f"a{i}", n_queues)),
            draw(st.sampled_from([Presence.AVAILABLE, Presence.AVAILABLE, Presence.NOT_READY])),
        )
        for i in range(1, n_agents + 1)
    ]
    ops = draw(st.lists(operations(n_queues), min_size=20, max_size=100))
    channels = EXCLUSIVE_VOICE if draw(st.booleans()) else BUILTIN_CHANNELS
    return configs, agents, ops, draw(st.integers(0, 2**16)), channels


def _pick(items: list[str], i: int) -> str | None:
    return items[i % len(items)] if items else None


def run_ops(
    pair: Pair,
    configs: list[QueueConfig],
    agents: list[tuple[Agent, Presence]],
    ops: list[tuple[Any, ...]],
) -> None:
    tracker = Tracker()

    def call(method: str, *args: Any, **kwargs: Any) -> None:
        tracker.apply(events_of(pair.call(method, *args, **kwargs)))
        pair.check()

    for config in configs:
        call("add_queue", config)
    for spec, presence in agents:
        call("add_agent", spec, presence)
    added = 0
    submitted = 0
    for op in ops:
        kind = op[0]
        agent_ids = pair.real.agent_ids
        if kind == "submit":
            _, channel, q, reqs, prio, tier, pref, wait = op
            preferred = None if pref is None else (_pick(agent_ids, pref) or "ghost")
            if pref is not None and pref % 7 == 6:
                preferred = "ghost"  # an unknown preferred agent
            submitted += 1
            call(
                "submit",
                Contact(
                    f"c{submitted}",
                    channel,
                    configs[q].name,
                    requirements=reqs,
                    priority_seconds=prio,
                    tier=tier,
                    preferred_agent=preferred,
                    preferred_wait=wait,
                ),
            )
        elif kind in ("accept", "reject"):
            _, i, wrong = op
            cid = _pick(sorted(tracker.offered), i)
            if cid is None:
                continue
            agent = tracker.offered[cid]
            if wrong:
                agent = _pick(agent_ids, i + 1) or agent
            call(kind, cid, agent)
        elif kind in ("complete", "end_wrap_up", "abandon", "callback"):
            _, i, anything = op
            pool = {
                "complete": tracker.in_service,
                "end_wrap_up": tracker.wrap_up,
                "abandon": {**tracker.waiting, **tracker.offered},
                "callback": tracker.waiting,
            }[kind]
            cid = _pick(tracker.live() if anything else sorted(pool), i)
            if cid is None:
                continue
            if kind == "callback":
                call("request_callback", cid)
            else:
                call(kind, cid)
        elif kind == "transfer":
            _, i, q, reqs, a, keep_key = op
            cid = _pick(tracker.live(), i)
            if cid is None:
                continue
            call(
                "transfer",
                cid,
                queue=None if q is None else configs[q].name,
                requirements=reqs,
                agent=None if a is None else _pick(agent_ids, a),
                keep_key=keep_key,
            )
        elif kind == "presence":
            _, i, presence = op
            agent_id = _pick(agent_ids, i)
            if agent_id is not None:
                call("set_presence", agent_id, presence)
        elif kind == "capacity":
            _, i, channel, cap = op
            agent_id = _pick(agent_ids, i)
            if agent_id is not None:
                call("set_capacity", agent_id, channel, cap)
        elif kind == "add_agent":
            _, spec, presence = op
            added += 1
            call(
                "add_agent",
                Agent(
                    f"n{added}",
                    skills=spec.skills,
                    queues=spec.queues,
                    capacity=spec.capacity,
                    unit_budget=spec.unit_budget,
                ),
                presence,
            )
        elif kind == "remove_agent":
            agent_id = _pick(agent_ids, op[1])
            if agent_id is not None:
                call("remove_agent", agent_id)
        elif kind == "add_channel":
            call("add_channel", PHONE)  # a second time does nothing (the same channel)
        else:
            pair.clock.advance(op[1])
            assert pair.ref_clock is not None
            pair.ref_clock.advance(op[1])
            call("tick")
    # Let every timer run out, then compare everything observable.
    for _ in range(4):
        pair.clock.advance(50)
        assert pair.ref_clock is not None
        pair.ref_clock.advance(50)
        call("tick")
    tracker.matches(pair.real)
    pair.compare_state()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_reference_agrees_on_random_scenarios(scenario: tuple[Any, ...]) -> None:
    configs, agents, ops, seed, channels = scenario
    run_ops(Pair(seed=seed, channels=channels), configs, agents, ops)


# -------------------------------------------------------- large scripted runs

BIG_SKILLS = [f"s{i}" for i in range(8)]


def scripted_run(
    pair: Pair,
    n_agents: int,
    n_contacts: int,
    seed: int,
    *,
    load: float = 1.0,
    teams: int | None = None,
    strategy: Strategy | None = None,
    on_call: Callable[[], None] | None = None,
) -> Tracker:
    """A contact-centre day: arrivals, answers, rejections, RONA, abandons, transfers, churn.

    Choices come from ``random.Random(seed)`` and from the events of the real
    router, so both routers of a pair see exactly the same calls. Arrivals are
    paced so that ``load`` contacts per agent would be in service if all were
    answered at once (voice, chat and email in the ratio 5:3:2, 90 s average
    holding time). With ``teams``, agents are drawn from that many team
    templates (skills, queues, capacities, budget), as in a real contact
    centre; without, every agent has its own random profile. The six queues
    use the six strategies, or all use ``strategy``.
    """
    rng = random.Random(seed)
    tracker = Tracker()
    pending: list[tuple[str, str]] = []  # offers to answer: (contact, agent)
    finish: list[tuple[float, int, str]] = []  # (time, seq, contact): complete or end wrap-up
    patience: list[tuple[float, int, str]] = []  # (time, seq, contact): abandon if not answered
    comeback: list[tuple[float, int, str]] = []  # (time, seq, agent): back from a break
    gone: set[str] = set()  # removed agents
    seq = 0
    strategies = list(Strategy)
    queues = [f"q{i}" for i in range(6)]

    def call(method: str, *args: Any, **kwargs: Any) -> Any:
        result = pair.call(method, *args, **kwargs)
        if isinstance(result, Raised):
            # The script only asks for what the state allows, except logging
            # off an agent that may have a contact in service and lowering a
            # capacity below what the agent holds.
            allowed = ("set_presence", "remove_agent", "set_capacity")
            assert method in allowed, (method, args, result)
            assert result.type is InvalidStateError, result
        events = events_of(result)
        tracker.apply(events)
        nonlocal seq
        for e in events:
            if isinstance(e, Offered):
                pending.append((e.contact_id, e.agent_id))
            elif isinstance(e, PresenceChanged) and e.new is not Presence.AVAILABLE:
                seq += 1
                heapq.heappush(comeback, (e.at + rng.uniform(10.0, 120.0), seq, e.agent_id))
            elif isinstance(e, AgentRemoved):
                gone.add(e.agent_id)
        if on_call is not None:
            on_call()
        return result

    for i, name in enumerate(queues):
        steps = []
        if i % 2 == 1:
            steps = [
                RoutingStep(20.0, {BIG_SKILLS[i]: 1}),
                RoutingStep(60.0, {BIG_SKILLS[i]: None}, {queues[i - 1]}),
            ]
        call(
            "add_queue",
            QueueConfig(
                name,
                strategy=strategy or strategies[i],
                steps=steps,
                offer_timeout=15.0,
                wrap_up=[0.0, 5.0, None][i % 3],
                rona_not_ready=i % 2 == 1,
            ),
        )

    def agent_spec(agent_id: str) -> Agent:
        if templates:
            template = rng.choice(templates)
            return Agent(
                agent_id,
                skills=template.skills,
                queues=template.queues,
                capacity=template.capacity,
                unit_budget=template.unit_budget,
            )
        return new_spec(agent_id)

    def new_spec(agent_id: str) -> Agent:
        skills = {s: rng.randint(1, 10) for s in rng.sample(BIG_SKILLS, rng.randint(1, 4))}
        capacity = {"voice": 1, "chat": rng.randint(0, 3), "email": rng.randint(0, 5)}
        if rng.random() < 0.1:
            capacity["callback"] = 1
        return Agent(
            agent_id,
            skills=skills,
            queues=set(rng.sample(queues, rng.randint(1, 3))),
            capacity=capacity,
            unit_budget=100 if rng.random() < 0.3 else None,
        )

    templates = [new_spec("team") for _ in range(teams or 0)]
    for i in range(n_agents):
        call(
            "add_agent",
            agent_spec(f"a{i}"),
            Presence.AVAILABLE if rng.random() < 0.9 else Presence.NOT_READY,
        )
    extra_agents = 0
    # 90 s average holding time; ``load`` contacts held per agent on average
    # if every contact were answered at once.
    mean_gap = 90.0 / (n_agents * load)

    def answer_offers() -> None:
        nonlocal seq
        while pending:
            cid, agent = pending.pop(0)
            if tracker.offered.get(cid) != agent:
                continue
            r = rng.random()
            if r < 0.85:
                call("accept", cid, agent)
                seq += 1
                heapq.heappush(finish, (pair.clock.now() + rng.expovariate(1 / 90), seq, cid))
            elif r < 0.93:
                call("reject", cid, agent)
            # otherwise let it time out (RONA)

    for k in range(n_contacts):
        gap = rng.expovariate(1 / mean_gap)
        pair.clock.advance(gap)
        if pair.ref_clock is not None:
            pair.ref_clock.advance(gap)
        call("tick")
        now = pair.clock.now()
        answer_offers()
        while finish and finish[0][0] <= now:
            _t, _s, cid = heapq.heappop(finish)
            if cid in tracker.in_service:
                call("complete", cid)
                if cid in tracker.wrap_up:
                    seq += 1
                    heapq.heappush(finish, (now + 3.0, seq, cid))
            elif cid in tracker.wrap_up:
                call("end_wrap_up", cid)
            answer_offers()
        while comeback and comeback[0][0] <= now:
            _t, _s, agent = heapq.heappop(comeback)
            if agent not in gone:
                call("set_presence", agent, Presence.AVAILABLE)
                answer_offers()
        while patience and patience[0][0] <= now:
            _t, _s, cid = heapq.heappop(patience)
            if cid in tracker.waiting or cid in tracker.offered:
                call("abandon", cid)
                answer_offers()
        r = rng.random()
        channel = "voice" if r < 0.5 else "chat" if r < 0.8 else "email"
        reqs = {s: rng.randint(1, 6) for s in rng.sample(BIG_SKILLS, rng.randint(0, 2))}
        preferred = None
        if rng.random() < 0.03:
            preferred = f"a{rng.randrange(n_agents)}"
        cid = f"c{k}"
        call(
            "submit",
            Contact(
                cid,
                channel,
                rng.choice(queues),
                requirements=reqs,
                priority_seconds=rng.choice([0.0, 0.0, 0.0, 15.0, 60.0]),
                tier=1 if rng.random() < 0.01 else 0,
                preferred_agent=preferred,
                preferred_wait=10.0,
            ),
        )
        if channel == "voice" and rng.random() < 0.5:
            seq += 1
            heapq.heappush(patience, (now + rng.expovariate(1 / 120), seq, cid))
        answer_offers()
        # Occasional disturbances, each on a random agent or contact.
        r = rng.random()
        if r < 0.01:
            agent = f"a{rng.randrange(n_agents)}"
            call(
                "set_presence",
                agent,
                rng.choice(
                    [Presence.AVAILABLE, Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE]
                ),
            )
        elif r < 0.015:
            agent = f"a{rng.randrange(n_agents)}"
            on = rng.choice(["chat", "email", "callback"])
            call("set_capacity", agent, on, rng.randint(0, 4))
        elif r < 0.025 and tracker.waiting:
            victim = next(iter(tracker.waiting))
            how = rng.random()
            if how < 0.4:
                call("transfer", victim, queue=rng.choice(queues), keep_key=rng.random() < 0.5)
            elif how < 0.7:
                call("transfer", victim, requirements={rng.choice(BIG_SKILLS): rng.randint(1, 5)})
            else:
                call("transfer", victim, agent=f"a{rng.randrange(n_agents)}")
        elif r < 0.03 and tracker.in_service:
            victim = next(iter(tracker.in_service))
            call("transfer", victim, queue=rng.choice(queues))
        elif r < 0.033 and tracker.waiting:
            call("request_callback", next(iter(tracker.waiting)))
        elif r < 0.035:
            extra_agents += 1
            call("add_agent", agent_spec(f"x{extra_agents}"), Presence.AVAILABLE)
        elif r < 0.036 and extra_agents:
            agent = f"x{rng.randint(1, extra_agents)}"
            if agent not in gone:
                call("remove_agent", agent)
        answer_offers()
    return tracker


@pytest.mark.parametrize("strategy", list(Strategy), ids=lambda s: s.value)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reference_agrees_per_strategy(strategy: Strategy, seed: int) -> None:
    """A small busy centre where every queue uses one strategy: many close choices."""
    pair = Pair(seed=seed, channels=EXCLUSIVE_VOICE if seed % 2 else BUILTIN_CHANNELS)
    tracker = scripted_run(
        pair, n_agents=12, n_contacts=600, seed=seed, load=1.5, strategy=strategy
    )
    tracker.matches(pair.real)
    pair.compare_state()
    pair.check()


def _summary(router: Router, tracker: Tracker) -> str:
    return (
        f"submitted {router.submitted}, completed {router.completed}, "
        f"abandoned {router.abandoned}, waiting {len(tracker.waiting)}, "
        f"offered {len(tracker.offered)}, in service {len(tracker.in_service)}, "
        f"wrap-up {len(tracker.wrap_up)}"
    )


def _conserved(router: Router) -> None:
    states = [router.contact(c).state for c in router.contact_ids]
    live = {s: states.count(s) for s in ContactState}
    assert live[ContactState.COMPLETED] == live[ContactState.ABANDONED] == 0
    assert router.submitted == (
        live[ContactState.WAITING]
        + live[ContactState.OFFERED]
        + live[ContactState.IN_SERVICE]
        + live[ContactState.WRAP_UP]
        + router.completed
        + router.abandoned
    )
    assert len(router) == live[ContactState.WAITING]


def test_reference_agrees_at_scale() -> None:
    """1,000 agents and 10,000 contacts through both routers, compared at every call."""
    pair = Pair(seed=7, channels=EXCLUSIVE_VOICE)
    started, cpu = time.perf_counter(), time.process_time()
    # Overloaded (load 2): a queue of several hundred builds up, so agents
    # freeing up scan long queues, and contacts are abandoned.
    tracker = scripted_run(pair, n_agents=1_000, n_contacts=10_000, seed=7, load=2.0)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    tracker.matches(pair.real)
    pair.compare_state()
    pair.check()
    _conserved(pair.real)
    print(
        f"\n{pair.calls} calls compared in {elapsed:.1f} s ({cpu:.1f} s CPU);",
        _summary(pair.real, tracker),
    )
    assert pair.real.completed > 5_000


@pytest.mark.slow
def test_conservation_at_large_scale() -> None:
    """10,000 agents in 100 teams and 100,000 contacts through the real router only."""
    pair = Pair(seed=11, reference=False, channels=EXCLUSIVE_VOICE)
    started, cpu = time.perf_counter(), time.process_time()
    tracker = scripted_run(pair, n_agents=10_000, n_contacts=100_000, seed=11, load=1.5, teams=100)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    tracker.matches(pair.real)
    _conserved(pair.real)
    assert pair.real.submitted == 100_000
    assert pair.real.completed > 50_000 and pair.real.abandoned > 0
    pair.check()
    print(
        f"\n{pair.calls} calls in {elapsed:.1f} s ({cpu:.1f} s CPU);", _summary(pair.real, tracker)
    )


# ------------------------------------------------ the queue interface itself


def test_best_contact_skips_barred_reserved_contact() -> None:
    from ccroute._queue_py import UniversalQueue

    answers = []
    for q in (UniversalQueue(), ReferenceQueue()):
        q.add_channel(0, 0, False)
        q.add_agent(0, "a", {}, [0], [1], -1, 0.0)
        q.set_logged_in(0, True)
        q.set_available(0, True, 0.0)
        g = q.signature(0, [], [0])
        q.insert(7, (0, 0.0, 0), g, 0)  # contact 7, reserved for agent 0
        answers.append(q.best_contact(0, {7}))
    assert answers == [-1, -1]
