"""The estimated wait (docs/estimated-wait.md), through the router's public API on
both queue twins: what it counts (wrap-up, concurrency, shared agents, not-ready
agents, routing steps), its invariants, its validation, snapshots, and a
statistical check against a small seeded simulation."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from implementations import IMPLEMENTATIONS

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    InputError,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    Router,
    RoutingStep,
    UnknownIdError,
)
from ccroute.sim import AgentGroup, ArrivalStream, Scenario, Simulation
from ccroute.sim import Distribution as Dist
from ccroute.testing import RouterHarness, using_queue

pytestmark = pytest.mark.usefixtures("queue_factory")

property_settings = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def busy(
    h: RouterHarness,
    agents: int,
    *,
    talk: float = 100.0,
    queue: str = "q",
    channel: str = "voice",
    prefix: str = "seed",
    finish: bool = True,
) -> None:
    """Submit ``agents`` contacts to ``queue``, all answered at once; with
    ``finish``, ``talk`` seconds later they complete (the router learns the
    handle time), else the agents stay busy with them."""
    for i in range(agents):
        h.submit(f"{prefix}-{i}", channel, queue)
    for contact_id, agent_id in h.offers():
        if contact_id.startswith(prefix) and h.router.contact(contact_id).state.value == "offered":
            h.router.accept(contact_id, agent_id)
    if not finish:
        return
    h.advance(talk)
    for i in range(agents):
        contact_id = f"{prefix}-{i}"
        if h.router.contact(contact_id).state.value == "in-service":
            h.router.complete(contact_id)
    h.advance(0)


def staffed(agents: int, **queue: Any) -> RouterHarness:
    """A queue of ``agents`` voice agents, every one busy, 100 s handle time learned."""
    h = RouterHarness()
    h.queue("q", offer_timeout=None, **queue)
    for i in range(agents):
        h.agent(f"a{i}", queues=("q",))
    busy(h, agents)
    busy(h, agents, prefix="busy", finish=False)  # every agent holds a new contact
    return h


def fill(h: RouterHarness, n: int, prefix: str = "w", queue: str = "q", **spec: Any) -> list[str]:
    ids = [f"{prefix}{i}" for i in range(n)]
    for contact_id in ids:
        h.submit(contact_id, queue=queue, **spec)
    return ids


# ============================================================ the method


def test_no_estimate_before_the_router_has_learned_a_handle_time() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("a", queues=("q",))
    h.submit("first")
    h.router.accept("first", "a")
    h.submit("second")
    assert h.router.estimated_wait("second") is None
    assert h.router.handle_time("q", "voice") is None
    h.advance(80)
    h.router.complete("first")  # wrap-up 0: the second is offered at once
    assert h.router.handle_time("q", "voice") == 80.0
    assert h.router.estimated_wait("second") == 0.0  # offered


def test_the_textbook_case_is_position_times_handle_time_over_agents() -> None:
    h = staffed(4)
    waiting = fill(h, 6)
    assert h.router.handle_time("q", "voice") == 100.0
    estimates = [h.router.estimated_wait(c) for c in waiting]
    assert estimates == pytest.approx([p * 100.0 / 4 for p in range(1, 7)])
    # a contact about to join waits behind all six
    assert h.router.estimate_wait("q", "voice") == pytest.approx(7 * 100.0 / 4)
    # or, with a head start of more than their wait, ahead of all of them
    assert h.router.estimate_wait("q", "voice", priority_seconds=3600) == pytest.approx(25.0)
    assert h.router.estimate_wait("q", "voice", position=3) == pytest.approx(75.0)


def test_zero_while_an_agent_who_could_take_it_has_room() -> None:
    h = staffed(2)
    h.agent("idle", queues=("q",))
    # an idle agent: the next contact waits not at all
    assert h.router.estimate_wait("q", "voice") == 0.0
    # and an offered contact is 0 too
    h.submit("c")
    assert h.router.contact("c").state.value == "offered"
    assert h.router.estimated_wait("c") == 0.0


def test_wrap_up_counts_in_the_handle_time() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None, wrap_up=60)
    h.agent("a", queues=("q",))
    busy(h, 1, talk=120.0)
    h.advance(60)  # the wrap-up ends
    assert h.router.handle_time("q", "voice") == 180.0
    busy(h, 1, talk=120.0, prefix="again")  # now in wrap-up, still holding the slot
    h.submit("w")
    assert h.router.estimated_wait("w") == pytest.approx(180.0)


def test_concurrency_an_agent_with_three_chats_frees_slots_three_times_as_often() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("a", queues=("q",), capacity={"chat": 3})
    busy(h, 3, talk=300.0, channel="chat")
    busy(h, 3, talk=300.0, channel="chat", prefix="busy", finish=False)
    h.submit("w0", "chat")
    h.submit("w1", "chat")
    assert h.router.estimated_wait("w0") == pytest.approx(100.0)
    assert h.router.estimated_wait("w1") == pytest.approx(200.0)


def test_contacts_of_a_shared_agents_other_queue_that_are_ahead_count() -> None:
    h = RouterHarness()
    for name in ("sales", "service"):
        h.queue(name, offer_timeout=None)
    h.agent("both", queues=("sales", "service"))
    busy(h, 1, queue="sales")
    busy(h, 1, queue="sales", prefix="busy", finish=False)
    h.submit("service-1", queue="service")
    h.submit("sales-1", queue="sales")
    h.submit("service-2", queue="service")
    # one agent, handle 100 s: the sales contact is second in line, whatever the queue
    assert h.router.estimated_wait("sales-1") == pytest.approx(200.0)
    assert h.router.estimated_wait("service-2") == pytest.approx(300.0)


def test_contacts_ahead_that_agents_outside_the_pool_take_count_less() -> None:
    h = RouterHarness()
    for name in ("sales", "service"):
        h.queue(name, offer_timeout=None)
    h.agent("both", queues=("sales", "service"))
    h.agent("service-only", queues=("service",))
    busy(h, 2, queue="service")
    busy(h, 2, queue="service", prefix="busy", finish=False)
    for i in range(4):
        h.submit(f"service-{i}", queue="service")
    h.submit("sales", queue="sales")
    # the sales contact's pool is "both"; the service-only agent drains the
    # service line too, so the four ahead weigh less than four
    estimate = h.router.estimated_wait("sales")
    assert estimate is not None
    assert 100.0 < estimate < 500.0
    # a sales contact with no service contacts ahead waits one handle time
    h2 = RouterHarness()
    for name in ("sales", "service"):
        h2.queue(name, offer_timeout=None)
    h2.agent("both", queues=("sales", "service"))
    busy(h2, 1, queue="service")
    busy(h2, 1, queue="service", prefix="busy", finish=False)
    h2.submit("sales", queue="sales")
    assert h2.router.estimated_wait("sales") == pytest.approx(100.0)


def test_contacts_ahead_that_no_agent_of_the_pool_could_take_do_not_count() -> None:
    h = staffed(2)
    h.queue("other", offer_timeout=None)
    h.agent("other-agent", queues=("other",), presence=Presence.NOT_READY)
    fill(h, 3, prefix="o", queue="other")
    h.submit("mine")
    assert h.router.estimated_wait("mine") == pytest.approx(50.0)


def test_not_ready_agents_are_not_counted() -> None:
    h = staffed(4)
    waiting = fill(h, 4)
    before = h.router.estimated_wait(waiting[-1])
    h.router.set_presence("a0", Presence.NOT_READY)
    after = h.router.estimated_wait(waiting[-1])
    assert before == pytest.approx(100.0)
    assert after == pytest.approx(4 * 100.0 / 3)
    # members logged in but never ready change nothing
    h.agent("away", queues=("q",), presence=Presence.NOT_READY)
    assert h.router.estimated_wait(waiting[-1]) == after


def test_a_routing_step_that_widens_the_pool_to_an_idle_agent_ends_the_wait() -> None:
    h = RouterHarness()
    h.queue("backup", offer_timeout=None)
    h.queue("q", offer_timeout=None, steps=(RoutingStep(30, queues=frozenset({"backup"})),))
    h.agent("a", queues=("q",))
    h.agent("b", queues=("backup",))
    busy(h, 1)
    busy(h, 1, prefix="busy", finish=False)
    h.submit("w0")
    h.submit("w1")
    # w0 is next for "a" (100 s); at 30 s the idle backup agent may take it
    assert h.router.estimated_wait("w0") == pytest.approx(30.0)
    h.advance(10)
    assert h.router.estimated_wait("w1") == pytest.approx(20.0)


def test_a_routing_step_that_widens_the_pool_to_busy_agents_shortens_the_rest() -> None:
    h = RouterHarness()
    h.queue("backup", offer_timeout=None)
    h.queue("q", offer_timeout=None, steps=(RoutingStep(50, queues=frozenset({"backup"})),))
    h.agent("a", queues=("q",))
    h.agent("b", queues=("backup",))
    busy(h, 1)
    busy(h, 1, prefix="busy", finish=False)
    busy(h, 1, queue="backup", prefix="backup")
    busy(h, 1, queue="backup", prefix="backup-busy", finish=False)
    ids = fill(h, 4)
    # the last: 4 slots of "a" alone would take 400 s; after 50 s (half a slot
    # served), "a" and "b" serve the remaining 3.5 slots at twice the rate
    assert h.router.estimated_wait(ids[-1]) == pytest.approx(50.0 + 3.5 * 100.0 / 2)


def test_a_contact_reserved_for_an_agent_waits_for_that_agent_only() -> None:
    h = staffed(3)
    h.submit("mine", preferred_agent="a1", preferred_wait=600)
    assert h.router.estimated_wait("mine") == pytest.approx(100.0)


def test_an_unknown_handle_time_falls_back_to_the_channel_then_every_channel() -> None:
    h = staffed(1)
    h.queue("new", offer_timeout=None)
    assert h.router.handle_time("new", "voice") == 100.0
    assert h.router.handle_time("new", "chat") == 100.0


def test_contacts_ahead_that_abandon_shorten_the_wait() -> None:
    h = staffed(1)
    ids = fill(h, 5)
    before = h.router.estimated_wait(ids[-1])
    assert before == pytest.approx(500.0)
    # customers of this queue abandon after 100 s on average: one in two
    # contacts that left did, after waiting 100 s each
    for i in range(2):
        h.submit(f"gone-{i}")
    h.advance(100)
    h.router.abandon("gone-0")
    h.router.abandon("gone-1")
    (learned,) = h.router.state().abandonment
    assert (learned.queue, learned.channel) == ("q", "voice")
    assert learned.waited == pytest.approx(200.0, rel=0.01)
    after = h.router.estimated_wait(ids[-1])
    assert after is not None and 100.0 < after < before
    # the next in line has nobody ahead to abandon: one handle time still
    assert h.router.estimated_wait(ids[0]) == pytest.approx(100.0)


def test_abandonment_is_learned_from_waits_answered_and_abandoned() -> None:
    from ccroute.core.estimated_wait import PATIENCE_WINDOW, Patience

    patience = Patience()
    assert patience.rate("q", "voice") == 0.0
    patience.left("q", "voice", 30.0, True)
    patience.left("q", "voice", 90.0, False)
    keep = 1 - 1 / PATIENCE_WINDOW
    assert patience.rate("q", "voice") == pytest.approx(keep / (30 * keep + 90))
    assert patience.rate("q", "chat") == 0.0


# ============================================================ properties


@st.composite
def centres(draw: st.DrawFn) -> RouterHarness:
    """A router with two queues, some agents (some shared, some not ready), a
    learned handle time and contacts waiting."""
    h = RouterHarness(seed=draw(st.integers(0, 5)))
    h.queue("q", offer_timeout=None, wrap_up=draw(st.sampled_from([0, 10, None])))
    h.queue("r", offer_timeout=None)
    n = draw(st.integers(1, 4))
    for i in range(n):
        queues = draw(st.sampled_from([("q",), ("r",), ("q", "r")]))
        skills = {"x": draw(st.integers(1, 9))}
        chat = draw(st.sampled_from([0, 1, 3]))
        h.agent(f"a{i}", queues=queues, skills=skills, capacity={"voice": 1, "chat": chat})
    if draw(st.integers(0, 4)):  # mostly: a handle time learned first
        for i, queue in enumerate(("q", "r")):
            h.submit(f"seed-{i}", "voice", queue)
            view = h.router.contact(f"seed-{i}")
            if view.agent_id is not None:
                h.router.accept(f"seed-{i}", view.agent_id)
                h.advance(draw(st.sampled_from([20, 90])))
                h.router.complete(f"seed-{i}")
                if f"seed-{i}" in h.router.contact_ids:
                    h.router.end_wrap_up(f"seed-{i}")
            else:
                h.router.abandon(f"seed-{i}")
    for i in range(draw(st.integers(0, 20))):
        queue = draw(st.sampled_from(["q", "r"]))
        channel = draw(st.sampled_from(["voice", "chat"]))
        level = draw(st.sampled_from([None, None, 1, 5]))
        reqs = {} if level is None else {"x": level}
        h.submit(
            f"c{i}",
            channel,
            queue,
            requirements=reqs,
            priority_seconds=draw(st.sampled_from([0, 30])),
        )
        h.advance(draw(st.sampled_from([0, 1, 7])))
        live = set(h.router.contact_ids)
        for contact_id, agent_id in h.offers():
            if (
                contact_id in live
                and h.router.contact(contact_id).state.value == "offered"
                and h.router.contact(contact_id).agent_id == agent_id
                and draw(st.booleans())
            ):
                h.router.accept(contact_id, agent_id)
        for contact_id in list(h.router.contact_ids):
            if h.router.contact(contact_id).state.value == "in-service" and draw(st.booleans()):
                h.router.complete(contact_id)
        if draw(st.booleans()):
            agent = f"a{draw(st.integers(0, n - 1))}"
            h.router.set_presence(
                agent, draw(st.sampled_from([Presence.AVAILABLE, Presence.NOT_READY]))
            )
    return h


@property_settings
@given(h=centres())
def test_every_estimate_is_none_or_a_finite_number_at_least_0_and_changes_nothing(
    h: RouterHarness,
) -> None:
    state = h.router.snapshot()
    for contact_id in h.router.contact_ids:
        view = h.router.contact(contact_id)
        if view.state.value not in ("waiting", "offered"):
            with pytest.raises(InvalidStateError):
                h.router.estimated_wait(contact_id)
            continue
        estimate = h.router.estimated_wait(contact_id)
        assert estimate is None or (math.isfinite(estimate) and estimate >= 0)
        if view.state.value == "offered":
            assert estimate == 0.0
    for queue in ("q", "r"):
        for channel in ("voice", "chat"):
            estimate = h.router.estimate_wait(queue, channel)
            assert estimate is None or (math.isfinite(estimate) and estimate >= 0)
    assert h.router.snapshot() == state


@property_settings
@given(h=centres())
def test_the_estimate_grows_with_the_place_in_line(h: RouterHarness) -> None:
    """Within a queue, among contacts alike (channel, requirements), a later
    place never has a shorter estimate."""
    groups: dict[tuple[object, ...], list[tuple[object, float | None]]] = {}
    for view in h.router.waiting():
        alike = (view.queue, view.channel, tuple(sorted(view.requirements.items())))
        groups.setdefault(alike, []).append((view.key, h.router.estimated_wait(view.id)))
    for members in groups.values():
        estimates = [e for _key, e in sorted(members, key=lambda m: m[0])]  # type: ignore[arg-type, return-value]
        if any(e is None for e in estimates):
            assert all(e is None for e in estimates)
            continue
        assert estimates == sorted(estimates)  # type: ignore[type-var]


@property_settings
@given(h=centres(), data=st.data())
def test_an_agent_going_not_ready_never_shortens_a_wait(
    h: RouterHarness, data: st.DataObject
) -> None:
    ready = [a for a in h.router.agent_ids if h.router.agent(a).presence is Presence.AVAILABLE]
    waiting = [v.id for v in h.router.waiting()]
    if not ready or not waiting:
        return
    agent = data.draw(st.sampled_from(ready))
    # an agent going not-ready routes nothing: the waits can only grow
    before = {c: h.router.estimated_wait(c) for c in waiting}
    h.router.set_presence(agent, Presence.NOT_READY)
    for contact_id, estimate in before.items():
        after = h.router.estimated_wait(contact_id)
        if estimate is not None and after is not None:
            assert after >= estimate - 1e-9
        elif estimate is None:
            assert after is None


@property_settings
@given(h=centres())
def test_a_restored_router_estimates_the_same(h: RouterHarness) -> None:
    restored = Router.restore(h.router.snapshot(), ManualClock(h.clock.now()))
    assert restored.state() == h.router.state()
    for view in h.router.waiting():
        assert restored.estimated_wait(view.id) == h.router.estimated_wait(view.id)
    for queue in ("q", "r"):
        for channel in ("voice", "chat"):
            assert restored.handle_time(queue, channel) == h.router.handle_time(queue, channel)
            assert restored.estimate_wait(queue, channel) == h.router.estimate_wait(queue, channel)


@pytest.mark.parametrize("observer_reads", [False, True])
@property_settings
@given(h=centres(), data=st.data())
def test_estimates_kept_between_calls_are_never_stale(
    observer_reads: bool, h: RouterHarness, data: st.DataObject
) -> None:
    """The estimator keeps agent pools until the router changes: after any
    call, its answers are those of a router rebuilt from scratch. With
    ``observer_reads``, an observer asks for every waiting contact's estimate
    at each batch of events, so pools are also worked out in the middle of
    a call (after due timers ran, before the call's own change)."""
    router = h.router
    agents = list(router.agent_ids)
    if observer_reads:
        router.observe(lambda _batch: [router.estimated_wait(v.id) for v in router.waiting()])

    def check() -> None:
        fresh = Router.restore(router.snapshot(), ManualClock(h.clock.now()))
        for view in router.waiting():
            assert router.estimated_wait(view.id) == fresh.estimated_wait(view.id)
        assert router.estimate_wait("q", "voice") == fresh.estimate_wait("q", "voice")

    check()
    for step in range(12):
        live = [c for c in router.contact_ids]
        action = data.draw(
            st.sampled_from(["submit", "presence", "capacity", "agent", "work", "time"])
        )
        try:
            if action == "submit":
                h.submit(f"n{step}", data.draw(st.sampled_from(["voice", "chat"])), "q")
            elif action == "presence":
                router.set_presence(
                    data.draw(st.sampled_from(agents)),
                    data.draw(st.sampled_from([Presence.AVAILABLE, Presence.NOT_READY])),
                )
            elif action == "capacity":
                router.set_capacity(
                    data.draw(st.sampled_from(agents)), "chat", data.draw(st.integers(0, 3))
                )
            elif action == "agent":
                agent = router.agent(data.draw(st.sampled_from(agents)))
                router.update_agent(
                    Agent(agent.id, queues=("q", "r"), skills={"x": data.draw(st.integers(1, 9))})
                )
            elif action == "work" and live:
                contact_id = data.draw(st.sampled_from(live))
                view = router.contact(contact_id)
                if view.state.value == "offered" and view.agent_id is not None:
                    router.accept(contact_id, view.agent_id)
                elif view.state.value == "in-service":
                    router.complete(contact_id)
                elif view.state.value == "wrap-up":
                    router.end_wrap_up(contact_id)
                elif view.state.value == "waiting":
                    router.abandon(contact_id)
            elif data.draw(st.booleans()):
                h.advance(data.draw(st.sampled_from([1, 30])))
            else:
                # no tick: the next call runs the timers that fell due first
                h.clock.advance(data.draw(st.sampled_from([1, 30])))
        except CCRouteError:
            pass  # refused: it changed nothing
        check()


def test_an_estimate_read_by_an_observer_within_a_call_is_not_kept_past_it() -> None:
    """An observer that asks for estimates while a call runs due timers sees
    the router before the call's own change; the next estimate after the
    call must see that change too."""
    h = RouterHarness()
    h.queue("q", offer_timeout=None, wrap_up=10)
    for i in range(3):
        h.agent(f"a{i}", queues=("q",))
    busy(h, 3)  # a handle time learned
    h.advance(10)  # the wrap-ups end
    busy(h, 3, prefix="busy", finish=False)  # every agent holds a contact
    waiting = fill(h, 3)
    h.router.observe(
        lambda _batch: [
            h.router.estimated_wait(c)
            for c in h.router.contact_ids
            if h.router.contact(c).state.value == "waiting"
        ]
    )
    h.router.complete("busy-0")  # a0 wraps up for 10 s
    h.clock.advance(30)  # no tick: the wrap-up ends inside the next call
    before = h.router.estimated_wait(waiting[-1])
    h.router.set_presence("a1", Presence.NOT_READY)  # the wrap-up's end runs first
    fresh = Router.restore(h.router.snapshot(), ManualClock(h.clock.now()))
    for contact_id in waiting[1:]:
        assert h.router.estimated_wait(contact_id) == fresh.estimated_wait(contact_id)
    assert h.router.estimated_wait(waiting[-1]) != before


# ============================================================ durability


def test_learned_handle_times_are_in_the_state_document() -> None:
    h = staffed(2)
    (learned,) = h.router.state().handle_times
    assert (learned.queue, learned.channel, learned.count, learned.mean) == ("q", "voice", 2, 100.0)
    doc = json.loads(h.router.snapshot())
    assert doc["handle_times"] == [{"queue": "q", "channel": "voice", "count": 2, "mean": 100.0}]


def test_a_document_without_handle_times_reads_and_learns_afresh() -> None:
    h = staffed(2)
    doc = json.loads(h.router.snapshot())
    del doc["handle_times"]
    del doc["abandonment"]
    restored = Router.restore(json.dumps(doc).encode(), ManualClock(h.clock.now()))
    assert restored.handle_time("q", "voice") is None
    assert restored.state().handle_times == ()
    assert restored.state().abandonment == ()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"queue": "nope", "channel": "voice", "count": 1, "mean": 1.0}, "unknown 'nope'"),
        ({"queue": "q", "channel": "fax", "count": 1, "mean": 1.0}, "unknown 'fax'"),
        ({"queue": "q", "channel": "voice", "count": 0, "mean": 1.0}, "count is 0"),
        ({"queue": "q", "channel": "voice", "count": 1, "mean": -1.0}, "mean -1.0"),
        ({"queue": "q", "channel": "voice", "count": 1, "mean": "1"}, "must be a number"),
        ({"queue": "q", "channel": "voice", "count": 1}, "no field 'mean'"),
    ],
)
def test_a_bad_handle_time_record_is_refused_naming_it(
    record: dict[str, Any], message: str
) -> None:
    h = staffed(1)
    doc = json.loads(h.router.snapshot())
    doc["handle_times"] = [record]
    with pytest.raises(InputError, match=message):
        Router.restore(json.dumps(doc).encode(), ManualClock(h.clock.now()))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"queue": "nope", "channel": "voice", "abandoned": 1.0, "waited": 1.0}, "unknown 'nope'"),
        ({"queue": "q", "channel": "voice", "abandoned": -1.0, "waited": 1.0}, "abandoned -1.0"),
        ({"queue": "q", "channel": "voice", "abandoned": 1.0, "waited": -5.0}, "waited -5.0"),
        ({"queue": "q", "channel": "voice", "abandoned": 1.0}, "no field 'waited'"),
    ],
)
def test_a_bad_abandonment_record_is_refused_naming_it(
    record: dict[str, Any], message: str
) -> None:
    h = staffed(1)
    doc = json.loads(h.router.snapshot())
    doc["abandonment"] = [record]
    with pytest.raises(InputError, match=message):
        Router.restore(json.dumps(doc).encode(), ManualClock(h.clock.now()))


def test_two_records_of_one_queue_and_channel_are_refused() -> None:
    h = staffed(1)
    doc = json.loads(h.router.snapshot())
    doc["handle_times"] = doc["handle_times"] * 2
    with pytest.raises(InputError, match="listed twice"):
        Router.restore(json.dumps(doc).encode(), ManualClock(h.clock.now()))


def test_learning_is_a_running_mean_then_exponentially_weighted() -> None:
    from ccroute.core.estimated_wait import HANDLE_TIME_WINDOW, HandleTimes

    learned = HandleTimes()
    for seconds in (10.0, 20.0, 30.0):
        learned.learn("q", "voice", seconds)
    assert learned.mean("q", "voice") == 20.0
    for _ in range(10 * HANDLE_TIME_WINDOW):
        learned.learn("q", "voice", 100.0)
    mean = learned.mean("q", "voice")
    assert mean is not None and 99.0 < mean < 100.0
    learned.learn("q", "voice", 100.0 + HANDLE_TIME_WINDOW)
    # one new figure moves it by 1/window of the difference
    assert learned.mean("q", "voice") == pytest.approx(
        mean + (100.0 + HANDLE_TIME_WINDOW - mean) / HANDLE_TIME_WINDOW
    )


# ============================================================ validation


def test_bad_questions_are_refused_and_change_nothing() -> None:
    h = staffed(2)
    fill(h, 2)
    state = h.router.snapshot()
    with pytest.raises(UnknownIdError, match="nobody"):
        h.router.estimated_wait("nobody")
    with pytest.raises(InvalidStateError, match="busy-0"):
        h.router.estimated_wait("busy-0")  # in service
    with pytest.raises(UnknownIdError, match="nope"):
        h.router.estimate_wait("nope", "voice")
    with pytest.raises(UnknownIdError, match="fax"):
        h.router.estimate_wait("q", "fax")
    with pytest.raises(UnknownIdError, match="nope"):
        h.router.handle_time("nope", "voice")
    for bad in (
        {"requirements": {"x": 0}},
        {"requirements": {"": 1}},
        {"requirements": 5},
        {"priority_seconds": math.nan},
        {"priority_seconds": "1"},
        {"tier": 1.5},
        {"tier": 2**40},
        {"position": 0},
        {"position": True},
    ):
        with pytest.raises(InvalidValueError):
            h.router.estimate_wait("q", "voice", **bad)
    assert h.router.snapshot() == state


# ============================================================ both twins, a simulation


def small_centre(load: float = 0.85) -> Scenario:
    """Six agents in two groups over two queues, one shared group, and wrap-up."""
    return Scenario(
        start=0.0,
        end=6 * 3600.0,
        interval=6 * 3600.0,
        queues=(
            QueueConfig("a", offer_timeout=None, wrap_up=20),
            QueueConfig("b", offer_timeout=None),
        ),
        agents=(
            AgentGroup("a", 2, (), frozenset({"a"}), {"voice": 1}),
            AgentGroup("b", 2, (), frozenset({"b"}), {"voice": 1}),
            AgentGroup("ab", 2, (), frozenset({"a", "b"}), {"voice": 1}),
        ),
        arrivals=(
            ArrivalStream("a", "a", "voice", (), (load * 3 / 200,), Dist("exponential", 180)),
            ArrivalStream("b", "b", "voice", (), (load * 3 / 200,), Dist("exponential", 200)),
        ),
        seed=7,
    )


def test_the_simulator_records_the_routers_estimates_and_the_actual_waits() -> None:
    result = Simulation(small_centre(), record_waits=True).run()
    assert result.waits is not None
    waited = [
        w
        for w in result.waits
        if w.queued_at >= 3600
        and w.position is not None
        and w.wait is not None
        and w.estimate is not None
    ]
    assert len(waited) > 150
    actual = math.fsum(w.wait for w in waited if w.wait is not None) / len(waited)
    estimate = math.fsum(w.estimate for w in waited if w.estimate is not None) / len(waited)
    mae = math.fsum(
        abs(w.estimate - w.wait) for w in waited if w.estimate is not None and w.wait is not None
    ) / len(waited)
    # generous bounds: one seeded run, individual waits of exponential service
    assert abs(estimate - actual) / actual < 0.3
    assert mae / actual < 0.6
    # contacts offered at once are recorded with an estimate of 0
    at_once = [w for w in result.waits if w.position is None and w.wait is not None]
    assert at_once and all(w.estimate == 0.0 for w in at_once)


def test_both_twins_give_the_same_estimates() -> None:
    runs: list[list[tuple[str, float | None]]] = []
    for factory in IMPLEMENTATIONS.values():
        assert factory is not None
        with using_queue(factory):
            result = Simulation(small_centre(0.95), record_waits=True).run()
        assert result.waits is not None
        runs.append([(w.contact_id, w.estimate) for w in result.waits])
    assert all(run == runs[0] for run in runs)


def test_recording_estimates_changes_no_routing() -> None:
    plain = Simulation(small_centre(), keep_events=True).run()
    recorded = Simulation(small_centre(), keep_events=True, record_waits=True).run()
    assert plain.event_log == recorded.event_log


def test_an_agent_with_room_answers_zero_before_any_handle_time_is_known() -> None:
    # Bob holds a contact of a queue nothing was learned for; Ann is free. A
    # newcomer Ann can take waits 0, known or not how fast Bob finishes.
    clock = ManualClock()
    router = Router(clock)
    router.add_queues([QueueConfig("sales"), QueueConfig("other")])
    router.add_agent(Agent("bob", queues={"sales", "other"}), Presence.AVAILABLE)
    router.submit(Contact("x", "voice", "other"))
    router.accept("x", "bob")
    router.add_agent(Agent("ann", queues={"sales"}), Presence.AVAILABLE)
    assert router.handle_time("other", "voice") is None
    assert router.estimate_wait("sales", "voice") == 0.0
    # With Ann busy too, the wait needs Bob's handle time, which is unknown.
    router.submit(Contact("y", "voice", "sales"))
    router.accept("y", "ann")
    assert router.estimate_wait("sales", "voice") is None
