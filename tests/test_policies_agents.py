"""Routing policies that concern agents: channel blocking and reservation, ramp-up,
ring-all and exclusions (docs/policies/blocking.md, ramp-up.md, ring-all.md, exclusions.md).

Each policy has a ``test_example_*`` test that reproduces the public complaint
the policy answers and shows it cannot happen now. It is the example of the
policy's page in docs/policies/ (plain public API, no harness), and
``test_docs_show_the_examples`` keeps page and test in sync.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ccroute import (
    Abandoned,
    Accepted,
    Agent,
    AgentStatus,
    Channel,
    ChannelKind,
    Contact,
    ContactState,
    Event,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    NotEligible,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    PreferenceExpired,
    Presence,
    PresenceChanged,
    QueueConfig,
    RampUp,
    RampUpEnded,
    Rejected,
    Router,
    RoutingPolicy,
    RoutingStep,
    UnknownIdError,
)
from ccroute.testing import RouterHarness, assert_work_conserving, offers, snapshot

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")

DOCS = Path(__file__).resolve().parent.parent / "docs" / "policies"


def reasons_of(router: Router, contact_id: str) -> dict[str, tuple[NotEligible, ...]]:
    """Agent id -> reasons it cannot take the contact now (Router.explain)."""
    return {v.agent_id: v.reasons for v in router.explain(contact_id).not_eligible}


def held_back(event: Event) -> tuple[str, ...]:
    assert isinstance(event, Offered) and event.reason is not None
    return event.reason.held_back


EXCLUSIVE_VOICE = (
    Channel("voice", ChannelKind.SYNCHRONOUS, 1, 100, exclusive=True),
    Channel("chat", ChannelKind.SEMI_SYNCHRONOUS, 3, 33),
)

# =================================================== 1. blocking and reservation


def test_example_chat_backlog_no_longer_locks_agents_out_of_voice() -> None:
    # Complaint: "a chat backlog locked multi-chat agents out of voice".
    def run(policy: RoutingPolicy | None) -> list[tuple[str, str]]:
        router = Router(ManualClock(), policy=policy)
        router.add_queue(QueueConfig("support"))
        # Chat costs 33 units, voice 100: with her 3 chats open, a call does not fit.
        ana = Agent("ana", queues={"support"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
        router.add_agent(ana, Presence.AVAILABLE)
        for i in range(1, 10):
            router.submit(Contact(f"chat{i}", "chat", "support"))
        router.submit(Contact("call", "voice", "support"))  # behind a long chat backlog
        for i in range(1, 4):
            router.accept(f"chat{i}", "ana")
        offered = []
        for i in range(1, 4):
            offered += offers(router.complete(f"chat{i}"))
        return offered

    # Before: each chat that ends makes room for the next chat, never for the call.
    assert run(None) == [("chat4", "ana"), ("chat5", "ana"), ("chat6", "ana")]
    # Now: while the call waits, ana gets no new chats, and the call is hers
    # as soon as her chats are done.
    assert run(RoutingPolicy(reserve_for={"voice"})) == [("call", "ana")]


@pytest.mark.parametrize("setup", ["unit budget", "exclusive voice"])
@pytest.mark.parametrize("reserve", [False, True], ids=["no policy", "reserve voice"])
def test_reservation_drains_a_multichat_agent_for_the_waiting_call(
    setup: str, reserve: bool
) -> None:
    policy = RoutingPolicy(reserve_for={"voice"}) if reserve else None
    if setup == "unit budget":
        h = RouterHarness(policy=policy)
        agent = {"capacity": {"chat": 3, "voice": 1}, "unit_budget": 100}
    else:
        h = RouterHarness(policy=policy, channels=EXCLUSIVE_VOICE)
        agent = {"capacity": {"chat": 3, "voice": 1}}
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, **agent)
    for i in range(1, 21):
        h.submit(f"chat{i}", channel="chat")
        h.clock.advance(1)
    h.submit("call")
    for i in range(1, 4):
        h.router.accept(f"chat{i}", "ana")
    assert_work_conserving(h.router)
    got: list[tuple[str, str]] = []
    done = 0
    # Ana finishes one chat after another (and accepts what she is offered).
    while done < 12 and h.router.contact("call").state is ContactState.WAITING:
        done += 1
        h.clock.advance(60)
        events = h.router.complete(f"chat{done}")
        got += offers(events)
        for contact_id, _agent in offers(events):
            h.router.accept(contact_id, "ana")
        assert_work_conserving(h.router)
    if reserve:
        # Three chats end, then the call is offered; no chat in between.
        assert done == 3
        assert got == [("call", "ana")]
        assert h.router.agent("ana").in_service == {"call"}
    else:
        # The backlog keeps her in chats: twelve chats ended, the call still waits.
        assert done == 12
        assert got == [(f"chat{i}", "ana") for i in range(4, 16)]
        assert h.router.contact("call").state is ContactState.WAITING


def test_reservation_keeps_free_only_agents_who_could_take_the_call() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("chats", offer_timeout=None)
    h.queue("calls", offer_timeout=None)
    busy = {"capacity": {"chat": 3, "voice": 1}, "unit_budget": 100}
    both = {"chats", "calls"}
    h.agent("ana", queues=both, skills={"fr": 5}, **busy)  # could take the call: kept free
    h.agent("bob", queues={"chats"}, skills={"fr": 5}, **busy)  # not a member of "calls"
    h.agent("cy", queues=both, skills={"fr": 5}, capacity={"chat": 3})  # no voice capacity
    h.agent("dee", queues=both, skills={"fr": 2}, **busy)  # level too low
    h.agent("eve", queues=both, skills={"fr": 5}, **busy)  # excluded for this customer
    h.router.add_exclusion("cust", "eve")
    for agent_id in ("ana", "bob", "cy", "dee", "eve"):
        h.submit(f"first-{agent_id}", channel="chat", queue="chats")
    assert len(offers(h.events)) == 5
    for contact_id, agent_id in offers(h.events):
        h.router.accept(contact_id, agent_id)
    # Everyone holds one chat (33 units): nobody has 100 units left for the call.
    h.submit("call", queue="calls", requirements={"fr": 5}, customer_id="cust")
    assert h.router.contact("call").state is ContactState.WAITING
    # More chats arrive: bob, cy, dee and eve fill up, ana gets none.
    h.events.clear()
    for i in range(10):
        h.submit(f"more{i}", channel="chat", queue="chats")
    takers = [a for _c, a in offers(h.events)]
    assert sorted(takers) == ["bob", "bob", "cy", "cy", "dee", "dee", "eve", "eve"]
    assert h.router.agent("ana").load == {"chat": 1}
    waiting = [c.id for c in h.router.waiting(queue="chats")]
    assert waiting, "the test needs chats left waiting"
    for contact_id in waiting:
        assert reasons_of(h.router, contact_id)["ana"] == (NotEligible.RESERVED_CHANNEL,)
    assert_work_conserving(h.router)


def test_reservation_requires_the_skill_level_of_the_call() -> None:
    # dee in the test above lacks the level; here ana has it and is kept free,
    # while the same agent without the level would not be.
    for level, kept_free in ((5, True), (4, False)):
        h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
        h.queue("q", offer_timeout=None)
        h.agent(
            "ana",
            queues={"q"},
            skills={"fr": level},
            capacity={"chat": 3, "voice": 1},
            unit_budget=100,
        )
        h.submit("chat1", channel="chat")
        h.submit("call", requirements={"fr": 5})
        events = h.submit("chat2", channel="chat")
        assert offers(events) == ([] if kept_free else [("chat2", "ana")]), level


def test_reservation_lifts_when_the_call_stops_waiting() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    for agent_id in ("ana", "bob"):
        h.agent(agent_id, queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.submit("a1", channel="chat")
    h.submit("b1", channel="chat")
    assert offers(h.events) == [("a1", "ana"), ("b1", "bob")]
    h.submit("call")
    h.submit("chat2", channel="chat")
    h.submit("chat3", channel="chat")
    assert offers(h.events)[2:] == []  # both kept free for the call
    events = h.router.abandon("call")
    assert isinstance(events[0], Abandoned)
    # Every available agent is routed again, in agent-id order.
    assert offers(events) == [("chat2", "ana"), ("chat3", "ana")]
    assert_work_conserving(h.router)


def test_reservation_lifts_when_the_call_is_offered_elsewhere() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None, wrap_up=0)
    h.agent("bob", queues={"q"}, capacity={"voice": 1})
    h.clock.advance(1)
    h.agent("ana", queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.submit("vip-call")  # bob (idle longer) takes it
    h.submit("chat1", channel="chat")  # ana
    assert offers(h.events) == [("vip-call", "bob"), ("chat1", "ana")]
    h.submit("call")  # nobody free for voice: ana is kept free
    h.submit("chat2", channel="chat")
    assert offers(h.events)[2:] == []
    h.router.accept("vip-call", "bob")
    events = h.router.complete("vip-call")  # bob takes the call: ana may chat again
    # bob is routed first (he freed up), the call leaves the queue, then ana is routed again.
    assert offers(events) == [("call", "bob"), ("chat2", "ana")]
    assert_work_conserving(h.router)


def kept_free_harness(**ana: object) -> RouterHarness:
    """ana holds a chat (33 of 100 units) while a call waits that only she could take."""
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100, **ana)
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)  # could take the call later
    h.submit("chat1", channel="chat")
    h.submit("call", customer_id="cust")
    h.submit("chat2", channel="chat")
    return h


def test_reservation_lifts_when_the_agent_loses_voice_capacity() -> None:
    h = kept_free_harness()
    assert offers(h.events) == [("chat1", "ana")]
    events = h.router.set_capacity("ana", "voice", 0)
    assert offers(events) == [("chat2", "ana")]
    assert_work_conserving(h.router)


def test_reservation_lifts_when_the_agent_is_excluded_for_the_call() -> None:
    h = kept_free_harness()
    events = h.router.add_exclusion("cust", "ana")
    assert offers(events) == [("chat2", "ana")]
    assert_work_conserving(h.router)


def test_reservation_does_not_keep_free_an_agent_barred_by_a_rejection() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)  # could take the call
    h.submit("call")
    assert offers(h.router.reject("call", "ana")) == []  # barred: bob could take it
    # ana is not kept free for a call she may not be offered.
    assert offers(h.submit("chat1", channel="chat")) == [("chat1", "ana")]
    assert offers(h.submit("chat2", channel="chat")) == [("chat2", "ana")]
    assert_work_conserving(h.router)


def test_reservation_waits_for_the_agents_queue_delay() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent(
        "ana",
        queues={"q"},
        capacity={"chat": 3, "voice": 1},
        unit_budget=100,
        queue_delays={"q": 30},
    )
    h.submit("chat1", channel="chat")  # delayed 30 s for ana too
    h.advance(30)
    assert offers(h.events) == [("chat1", "ana")]
    h.submit("call")
    h.submit("chat2", channel="chat")
    h.advance(10)
    # The call has waited 10 s of ana's 30: she is not kept free yet; chat2 is
    # held back by the same delay.
    assert offers(h.events)[1:] == []
    assert reasons_of(h.router, "chat2") == {"ana": (NotEligible.QUEUE_DELAY,)}
    h.submit("chat3", channel="chat")
    events = h.advance(20)  # 30 s for the call: now she is kept free
    assert offers(events) == []
    assert reasons_of(h.router, "chat2") == {"ana": (NotEligible.RESERVED_CHANNEL,)}
    assert_work_conserving(h.router)


def test_reservation_lifts_when_set_capacity_lets_someone_take_the_call() -> None:
    # The call leaves the queue during set_capacity: ana, kept free for it, is
    # routed again before the call returns (docs/routing.md, work conservation).
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.agent("bob", queues={"q"}, capacity={"voice": 0})
    h.submit("chat0", channel="chat")  # ana: 33 of 100 units, the call does not fit
    h.submit("call")  # waits; ana is kept free for it
    h.submit("chat1", channel="chat")  # waits: ana is kept free
    assert offers(h.events) == [("chat0", "ana")]
    events = h.router.set_capacity("bob", "voice", 1)
    assert offers(events) == [("call", "bob"), ("chat1", "ana")]
    assert_work_conserving(h.router)


def test_reservation_lifts_when_add_exclusion_lets_someone_take_the_call() -> None:
    # Excluding dan lifts the rejection bars he upheld; the call goes to bob
    # during add_exclusion, and ana, no longer kept free, takes chat1.
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.agent("bob", queues={"q"}, capacity={"voice": 1})
    h.agent("dan", queues={"q"}, capacity={"voice": 1, "chat": 3}, presence=Presence.NOT_READY)
    h.submit("call", customer_id="k")
    h.router.reject("call", "ana")
    h.router.reject("call", "bob")  # both barred: dan could take it
    h.submit("chat0", channel="chat")
    h.router.accept("chat0", "ana")  # 33 of ana's 100 units: the call no longer fits
    h.submit("chat1", channel="chat", customer_id="k", priority_seconds=100)
    assert offers(h.router.reject("chat1", "ana")) == []  # barred: dan could take it
    events = h.router.add_exclusion("k", "dan")
    assert offers(events) == [("call", "bob"), ("chat1", "ana")]
    assert_work_conserving(h.router)


def test_reservation_for_a_preferred_agent_keeps_only_that_agent_free() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    for agent_id in ("ana", "bob"):
        h.agent(agent_id, queues={"q"}, capacity={"chat": 3, "voice": 1}, unit_budget=100)
    h.submit("a1", channel="chat")
    h.submit("b1", channel="chat")
    h.submit("call", preferred_agent="bob", preferred_wait=60)
    h.events.clear()
    for i in range(4):
        h.submit(f"chat{i}", channel="chat")
    # bob is the only one who may take the call: only bob is kept free.
    assert {a for _c, a in offers(h.events)} == {"ana"}
    assert reasons_of(h.router, "chat3")["bob"] == (NotEligible.RESERVED_CHANNEL,)
    assert_work_conserving(h.router)


def test_example_agent_on_voice_gets_no_new_chats() -> None:
    # Complaint: "an agent on voice got new chats".
    clock = ManualClock()
    router = Router(clock, policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    router.add_queue(QueueConfig("support", wrap_up=30, offer_timeout=None))
    # Voice is not exclusive and ana has no unit budget: only the matrix
    # keeps chats away from her while she is on a call.
    ana = Agent("ana", queues={"support"}, capacity={"voice": 1, "chat": 3})
    router.add_agent(ana, Presence.AVAILABLE)
    assert offers(router.submit(Contact("call", "voice", "support"))) == [("call", "ana")]
    assert offers(router.submit(Contact("chat", "chat", "support"))) == []  # call offered
    router.accept("call", "ana")
    clock.advance(120)
    assert offers(router.complete("call")) == []  # 30 s of wrap-up: still voice work
    clock.advance(29)
    assert offers(router.tick().events) == []
    clock.advance(1)
    assert offers(router.tick().events) == [("chat", "ana")]  # wrap-up over


def test_without_a_matrix_the_agent_on_voice_gets_chats() -> None:
    h = RouterHarness()
    h.queue("support", wrap_up=30, offer_timeout=None)
    h.agent("ana", queues={"support"}, capacity={"voice": 1, "chat": 3})
    h.submit("call", queue="support")
    assert offers(h.submit("chat", channel="chat", queue="support")) == [("chat", "ana")]


def test_blocking_applies_when_the_agent_frees_up_too() -> None:
    # Agent-side routing: ana finishes a chat while on a call; the waiting chat stays away.
    h = RouterHarness(policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    h.queue("q", offer_timeout=None, wrap_up=0)
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 2})
    h.submit("chat1", channel="chat")
    h.submit("call")  # chat does not block voice
    assert offers(h.events) == [("chat1", "ana"), ("call", "ana")]
    h.router.accept("chat1", "ana")
    h.router.accept("call", "ana")
    h.submit("chat2", channel="chat")
    h.submit("chat3", channel="chat")
    assert offers(h.router.complete("chat1")) == []
    assert reasons_of(h.router, "chat2") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}
    assert_work_conserving(h.router)
    assert offers(h.router.complete("call")) == [("chat2", "ana"), ("chat3", "ana")]


@pytest.mark.parametrize("how", ["preferred agent", "transfer to agent"])
def test_blocking_applies_to_a_contact_reserved_for_the_agent(how: str) -> None:
    h = RouterHarness(policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    h.queue("q", offer_timeout=None, wrap_up=0)
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 3})
    h.agent("bob", queues={"q"}, capacity={"chat": 3})
    h.submit("chat0", channel="chat")  # ana (chat does not block voice)
    h.submit("call")
    h.router.accept("chat0", "ana")
    h.router.accept("call", "ana")
    if how == "preferred agent":
        events = h.submit("chat", channel="chat", preferred_agent="ana", preferred_wait=300)
    else:
        h.submit("chat", channel="chat")  # bob
        h.router.accept("chat", "bob")
        events = h.router.transfer("chat", agent="ana")
    assert offers(events) == []
    assert h.router.contact("chat").reserved_for == "ana"
    assert reasons_of(h.router, "chat")["ana"] == (NotEligible.BLOCKED_CHANNEL,)
    assert_work_conserving(h.router)
    # Agent-side routing too: ana frees a chat slot while still on the call.
    assert offers(h.router.complete("chat0")) == []
    events = h.router.complete("call")
    assert offers(events) == [("chat", "ana")]


def test_blocking_leaves_other_agents_alone_and_names_itself_in_the_offer() -> None:
    h = RouterHarness(policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 3})
    h.clock.advance(1)
    h.agent("bob", queues={"q"}, capacity={"chat": 3})
    h.submit("call")
    (event,) = [e for e in h.submit("chat", channel="chat") if isinstance(e, Offered)]
    # ana has been idle longer, but she holds voice work: bob gets it.
    assert (event.contact_id, event.agent_id) == ("chat", "bob")
    assert held_back(event) == (NotEligible.BLOCKED_CHANNEL.value,)
    assert event.reason is not None and event.reason.eligible == 1


def test_queue_matrix_adds_to_the_router_matrix() -> None:
    h = RouterHarness(policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    h.queue("support", offer_timeout=None, wrap_up=0)
    h.queue("sales", offer_timeout=None, wrap_up=0, blocking={"voice": {"email"}})
    h.agent("ana", queues={"support", "sales"}, capacity={"voice": 1, "chat": 3, "email": 3})
    h.submit("call", queue="support")
    assert offers(h.events) == [("call", "ana")]
    h.router.accept("call", "ana")
    events = []
    for queue in ("support", "sales"):
        events += h.submit(f"{queue}-chat", channel="chat", queue=queue)
        events += h.submit(f"{queue}-email", channel="email", queue=queue)
    # Router-wide: no chats from any queue. Sales adds: no sales emails.
    assert offers(events) == [("support-email", "ana")]
    assert reasons_of(h.router, "support-chat") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}
    assert reasons_of(h.router, "sales-chat") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}
    assert reasons_of(h.router, "sales-email") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}
    assert_work_conserving(h.router)
    # Agent-side routing on a call: ana finishes the support email; the queue
    # matrix still keeps the sales email away.
    h.router.accept("support-email", "ana")
    assert offers(h.router.complete("support-email")) == []
    events = h.router.complete("call")
    assert sorted(offers(events)) == [
        ("sales-chat", "ana"),
        ("sales-email", "ana"),
        ("support-chat", "ana"),
    ]


def test_queue_matrix_added_later_sees_work_already_held() -> None:
    h = RouterHarness()  # no matrix anywhere yet
    h.queue("support", offer_timeout=None)
    h.agent("ana", queues={"support"}, capacity={"voice": 1, "chat": 3})
    h.submit("call", queue="support")
    assert offers(h.events) == [("call", "ana")]
    # A queue with a matrix arrives later; its chats widen to support at once.
    h.queue(
        "sales",
        offer_timeout=None,
        blocking={"voice": {"chat"}},
        steps=[RoutingStep(after=0, queues={"support"})],
    )
    assert offers(h.submit("sales-chat", channel="chat", queue="sales")) == []
    assert reasons_of(h.router, "sales-chat") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}
    assert offers(h.submit("support-chat", channel="chat", queue="support")) == [
        ("support-chat", "ana")
    ]


def test_queue_matrix_does_not_block_other_queues() -> None:
    h = RouterHarness()
    h.queue("support", offer_timeout=None)
    h.queue("sales", offer_timeout=None, blocking={"voice": {"chat"}})
    h.agent("ana", queues={"support", "sales"}, capacity={"voice": 1, "chat": 3})
    h.submit("call", queue="support")
    events = h.submit("sales-chat", channel="chat", queue="sales")
    events += h.submit("support-chat", channel="chat", queue="support")
    assert offers(events) == [("support-chat", "ana")]
    assert reasons_of(h.router, "sales-chat") == {"ana": (NotEligible.BLOCKED_CHANNEL,)}


# ================================================================ 2. ramp-up


def test_example_ramp_up_after_a_break() -> None:
    # Complaint: "back from a break, an agent got three chats at once".
    clock = ManualClock()
    router = Router(clock, policy=RoutingPolicy(ramp_up=RampUp(seconds=300, accepted=None)))
    router.add_queue(QueueConfig("chat", offer_timeout=None))
    router.add_agent(Agent("ana", queues={"chat"}, capacity={"chat": 3}), Presence.NOT_READY)
    for i in range(1, 6):
        router.submit(Contact(f"chat{i}", "chat", "chat"))
    # Back from her break with 5 chats waiting: one offer, not three.
    assert offers(router.set_presence("ana", Presence.AVAILABLE)) == [("chat1", "ana")]
    clock.advance(20)
    # Answering it brings the next one: never two unanswered at once.
    assert offers(router.accept("chat1", "ana")) == [("chat2", "ana")]
    assert router.agent("ana").offered == {"chat2"}
    # 300 s after she came back the ramp is over: she is filled to capacity.
    clock.advance(280)
    events = router.tick().events
    assert events[0] == RampUpEnded(300.0, "ana", "time")
    assert offers(events) == [("chat3", "ana")]
    assert router.agent("ana").offered == {"chat2", "chat3"}


def ramp_harness(ramp: RampUp, capacity: int = 3, **queue_kwargs: object) -> RouterHarness:
    h = RouterHarness(policy=RoutingPolicy(ramp_up=ramp))
    h.queue("q", **{"offer_timeout": None, **queue_kwargs})
    h.agent("ana", queues={"q"}, capacity={"chat": capacity}, presence=Presence.NOT_READY)
    return h


def test_ramp_up_ends_after_the_accepted_limit() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=2), capacity=4)
    for i in range(1, 8):
        h.submit(f"c{i}", channel="chat")
    assert offers(h.router.set_presence("ana", Presence.AVAILABLE)) == [("c1", "ana")]
    h.clock.advance(10)
    assert offers(h.router.accept("c1", "ana")) == [("c2", "ana")]
    h.clock.advance(10)
    events = h.router.accept("c2", "ana")
    assert events[1] == RampUpEnded(20.0, "ana", "accepted")
    # The ramp is over: she fills her remaining two slots at once.
    assert offers(events) == [("c3", "ana"), ("c4", "ana")]
    assert [type(e) for e in events] == [Accepted, RampUpEnded, Offered, Offered]
    # The ramp's timer is gone: no second RampUpEnded at 300 s.
    h.clock.advance(400)
    assert h.router.tick().events == []


def test_ramping_agent_never_holds_two_unanswered_offers() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=None))
    h.agent("bob", queues={"q"}, capacity={"chat": 1}, presence=Presence.NOT_READY)
    h.router.set_presence("ana", Presence.AVAILABLE)
    for i in range(1, 6):
        h.submit(f"c{i}", channel="chat")  # contact-side routing while ana holds one offer
        assert len(h.router.agent("ana").offered) <= 1
    assert offers(h.events) == [("c1", "ana")]
    assert reasons_of(h.router, "c2") == {
        "ana": (NotEligible.RAMPING_UP,),
        "bob": (NotEligible.NOT_READY,),
    }
    # bob comes back (and ramps too): c2 goes to him.
    events = h.router.set_presence("bob", Presence.AVAILABLE)
    assert offers(events) == [("c2", "bob")]
    # A reject frees ana's one offer: she gets the next contact, not two.
    events = h.router.reject("c1", "ana")
    assert offers(events) == [("c3", "ana")]
    assert h.router.agent("ana").offered == {"c3"}
    assert_work_conserving(h.router)


def test_ramp_up_applies_to_ring_all_too() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=None), ring=2)
    h.agent("bob", queues={"q"}, capacity={"chat": 3}, presence=Presence.NOT_READY)
    h.router.set_presence("ana", Presence.AVAILABLE)
    h.router.set_presence("bob", Presence.AVAILABLE)
    events = h.submit("c1", channel="chat")
    assert offers(events) == [("c1", "ana"), ("c1", "bob")]
    events = h.submit("c2", channel="chat")
    assert offers(events) == []  # both ramping with an offer open
    assert reasons_of(h.router, "c2") == {
        "ana": (NotEligible.RAMPING_UP,),
        "bob": (NotEligible.RAMPING_UP,),
    }
    events = h.router.accept("c1", "bob")
    # ana's ring is withdrawn; both may take one more.
    assert [type(e) for e in events][:2] == [Accepted, OfferRescinded]
    assert offers(events) == [("c2", "bob")]
    assert_work_conserving(h.router)


def test_going_not_ready_cancels_the_ramp_silently_and_coming_back_restarts_it() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=None))
    for i in range(1, 8):
        h.submit(f"c{i}", channel="chat")
    h.router.set_presence("ana", Presence.AVAILABLE)  # ramp until 300
    h.router.accept("c1", "ana")  # c2 offered
    h.clock.advance(100)
    events = h.router.set_presence("ana", Presence.NOT_READY)  # c2 stays offered
    assert not any(isinstance(e, RampUpEnded) for e in events)
    h.clock.advance(100)
    events = h.router.set_presence("ana", Presence.AVAILABLE)  # a new ramp, until 500
    assert offers(events) == []  # c2 still offered to her: she holds one
    # The first ramp's deadline passes: nothing happens.
    h.clock.advance(100)
    assert h.router.tick().events == []
    assert h.router.agent("ana").offered == {"c2"}
    events = h.router.accept("c2", "ana")
    assert offers(events) == [("c3", "ana")]
    # At 500 the new ramp ends.
    h.clock.advance(200)
    events = h.router.tick().events
    assert events[0] == RampUpEnded(500.0, "ana", "time")
    assert offers(events) == []  # c1, c2 in service and c3 offered: full
    assert h.router.agent("ana").load == {"chat": 3}


def test_an_agent_back_with_several_offers_open_does_not_ramp() -> None:
    # A ramping agent never holds more than one unanswered offer (issue 4): one
    # who kept several open through a short break was not away from them.
    h = ramp_harness(RampUp(seconds=10, accepted=None), wrap_up=0)
    for i in range(6):
        h.submit(f"c{i}", channel="chat")
    h.router.set_presence("ana", Presence.AVAILABLE)  # c0
    h.router.accept("c0", "ana")  # c1
    events = h.advance(10)  # the ramp ends: c2 fills her third slot
    assert offers(events) == [("c2", "ana")]
    h.router.set_presence("ana", Presence.NOT_READY)  # going not-ready keeps open offers
    h.router.complete("c0")  # a free slot, but she is not ready
    events = h.router.set_presence("ana", Presence.AVAILABLE)  # no ramp: two offers open
    assert offers(events) == [("c3", "ana")]
    assert h.router.agent("ana").offered == {"c1", "c2", "c3"}


def test_an_agent_back_with_one_offer_open_ramps() -> None:
    h = ramp_harness(RampUp(seconds=10, accepted=None), wrap_up=0)
    for i in range(4):
        h.submit(f"c{i}", channel="chat")
    h.router.set_presence("ana", Presence.AVAILABLE)  # c0, ramping
    h.router.set_presence("ana", Presence.NOT_READY)  # c0 stays offered
    events = h.router.set_presence("ana", Presence.AVAILABLE)  # a new ramp
    assert offers(events) == []  # she holds one unanswered offer already
    assert offers(h.router.accept("c0", "ana")) == [("c1", "ana")]


def test_logging_off_cancels_the_ramp_and_logging_in_starts_one() -> None:
    h = ramp_harness(RampUp(seconds=60, accepted=None))
    h.router.set_presence("ana", Presence.AVAILABLE)
    events = h.router.set_presence("ana", Presence.OFFLINE)
    assert not any(isinstance(e, RampUpEnded) for e in events)
    h.clock.advance(30)
    for i in range(1, 4):
        h.submit(f"c{i}", channel="chat")
    assert offers(h.router.set_presence("ana", Presence.AVAILABLE)) == [("c1", "ana")]
    h.clock.advance(30)  # the first ramp would have ended at 60
    assert h.router.tick().events == []
    h.clock.advance(30)
    events = h.router.tick().events
    assert events[0] == RampUpEnded(90.0, "ana", "time")
    assert offers(events) == [("c2", "ana"), ("c3", "ana")]


def test_an_agent_added_available_ramps() -> None:
    h = RouterHarness(policy=RoutingPolicy(ramp_up=RampUp(seconds=60, accepted=None)))
    h.queue("q", offer_timeout=None)
    for i in range(1, 4):
        h.submit(f"c{i}", channel="chat")
    assert offers(h.agent("ana", queues={"q"}, capacity={"chat": 3})) == [("c1", "ana")]


def test_rona_then_back_starts_a_new_ramp() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=3), capacity=6, offer_timeout=10)
    for i in range(1, 8):
        h.submit(f"c{i}", channel="chat")
    h.router.set_presence("ana", Presence.AVAILABLE)
    h.clock.advance(5)
    assert offers(h.router.accept("c1", "ana")) == [("c2", "ana")]  # times out at 15
    events = h.advance(10)
    assert [type(e) for e in events] == [OfferTimedOut, PresenceChanged]
    assert events[1].reason == "rona"
    h.clock.advance(100)
    # Back from RONA: a new ramp, one offer at a time again ...
    assert offers(h.router.set_presence("ana", Presence.AVAILABLE)) == [("c2", "ana")]
    assert offers(h.router.accept("c2", "ana")) == [("c3", "ana")]
    # ... with a fresh count: c1, c2, c3 make three, but only two in this ramp.
    events = h.router.accept("c3", "ana")
    assert not any(isinstance(e, RampUpEnded) for e in events)
    assert offers(events) == [("c4", "ana")]
    events = h.router.accept("c4", "ana")
    assert events[1] == RampUpEnded(115.0, "ana", "accepted")
    assert offers(events) == [("c5", "ana"), ("c6", "ana")]


def test_no_ramp_without_the_policy() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"chat": 3}, presence=Presence.NOT_READY)
    for i in range(1, 5):
        h.submit(f"c{i}", channel="chat")
    events = h.router.set_presence("ana", Presence.AVAILABLE)
    assert offers(events) == [("c1", "ana"), ("c2", "ana"), ("c3", "ana")]


# ================================================================ 3. ring-all


def test_example_ring_all() -> None:
    # Complaint: "a caller waited while one phone after another rang out".
    def ring(n: int) -> tuple[ManualClock, Router]:
        clock = ManualClock()
        router = Router(clock)
        router.add_queue(QueueConfig("sales", ring=n, offer_timeout=30))
        for agent_id in ("ana", "bob", "cy"):
            router.add_agent(Agent(agent_id, queues={"sales"}), Presence.AVAILABLE)
        return clock, router

    # Before: one phone at a time; each agent who does not answer costs 30 s.
    clock, router = ring(1)
    assert offers(router.submit(Contact("call", "voice", "sales"))) == [("call", "ana")]
    clock.advance(30)
    assert offers(router.tick().events) == [("call", "bob")]
    # Now: three phones ring at once, with one deadline.
    clock, router = ring(3)
    events = router.submit(Contact("call", "voice", "sales"))
    assert offers(events) == [("call", "ana"), ("call", "bob"), ("call", "cy")]
    assert {e.timeout_at for e in events if isinstance(e, Offered)} == {30.0}
    # bob declines: the others still ring.
    assert router.reject("call", "bob") == [Rejected(0.0, "call", "bob")]
    assert router.explain("call").agents == ("ana", "cy")
    # cy answers first: ana's phone stops ringing.
    events = router.accept("call", "cy")
    assert events[1:] == [OfferRescinded(0.0, "call", "ana", "answered by cy")]
    assert router.agent("ana").offered == frozenset()


def ring_harness(
    ring: int = 3, agents: tuple[str, ...] = ("ana", "bob", "cy"), **kw: object
) -> RouterHarness:
    h = RouterHarness()
    h.queue("q", ring=ring, **kw)
    for agent_id in agents:
        h.agent(agent_id, queues={"q"})
    return h


def test_ring_all_offers_one_per_agent_with_the_same_deadline() -> None:
    h = ring_harness(agents=("ana", "bob", "cy", "dee"), offer_timeout=15)
    h.clock.advance(3)
    events = h.submit("c")
    offered = [e for e in events if isinstance(e, Offered)]
    assert [e.agent_id for e in offered] == ["ana", "bob", "cy"]  # longest idle, then by id
    assert {e.timeout_at for e in offered} == {18.0}
    view = h.router.contact("c")
    assert view.state is ContactState.OFFERED and view.agent_id == "ana"
    assert h.router.explain("c").agents == ("ana", "bob", "cy")
    assert h.router.agent("dee").offered == frozenset()
    for agent_id in ("ana", "bob", "cy"):
        assert h.router.agent(agent_id).status is AgentStatus.BUSY


def test_ring_all_first_accept_wins() -> None:
    h = ring_harness()
    h.submit("c")
    h.clock.advance(4)
    events = h.router.accept("c", "bob")
    assert events == [
        Accepted(4.0, "c", "bob", "q", "voice", 4.0),
        OfferRescinded(4.0, "c", "ana", "answered by bob"),
        OfferRescinded(4.0, "c", "cy", "answered by bob"),
    ]
    assert h.router.explain("c").agents == ("bob",)
    assert h.router.agent("ana").load == {} and h.router.agent("cy").load == {}
    with pytest.raises(InvalidStateError):
        h.router.accept("c", "ana")


def test_ring_all_reject_by_one_holder_leaves_the_others() -> None:
    h = ring_harness()
    h.submit("c")
    events = h.router.reject("c", "ana")
    assert events == [Rejected(0.0, "c", "ana")]
    view = h.router.contact("c")
    assert view.state is ContactState.OFFERED
    assert view.agent_id == "bob"  # the first remaining holder
    assert h.router.explain("c").agents == ("bob", "cy")
    assert h.router.agent("ana").offered == frozenset()
    with pytest.raises(InvalidStateError):
        h.router.accept("c", "ana")
    assert h.router.reject("c", "cy") == [Rejected(0.0, "c", "cy")]
    assert h.router.explain("c").agents == ("bob",)
    assert h.router.contact("c").rejected_by == {"ana", "cy"}
    assert_work_conserving(h.router)


def test_ring_all_timeout_of_every_holder() -> None:
    h = ring_harness(offer_timeout=20)
    h.agent("dee", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    events = h.advance(20)
    assert events[:3] == [
        OfferTimedOut(20.0, "c", "ana"),
        OfferTimedOut(20.0, "c", "bob"),
        OfferTimedOut(20.0, "c", "cy"),
    ]
    assert [(type(e), e.agent_id) for e in events[3:]] == [
        (PresenceChanged, "ana"),
        (PresenceChanged, "bob"),
        (PresenceChanged, "cy"),
    ]
    view = h.router.contact("c")
    assert view.state is ContactState.WAITING
    assert view.rejected_by == {"ana", "bob", "cy"}
    assert all(h.router.agent(a).load == {} for a in ("ana", "bob", "cy"))
    # dee comes back and gets it (single agent-side offer).
    assert offers(h.router.set_presence("dee", Presence.AVAILABLE)) == [("c", "dee")]


def test_ring_all_holder_logging_off_is_rescinded_alone() -> None:
    h = ring_harness()
    h.submit("c")
    events = h.router.set_presence("bob", Presence.OFFLINE)
    assert [e for e in events if isinstance(e, OfferRescinded)] == [
        OfferRescinded(0.0, "c", "bob", "agent logged off")
    ]
    assert h.router.explain("c").agents == ("ana", "cy")
    assert h.router.contact("c").state is ContactState.OFFERED


def test_ring_all_abandon_frees_every_holder() -> None:
    h = ring_harness()
    h.submit("c")
    h.clock.advance(2)
    events = h.router.abandon("c")
    assert events == [Abandoned(2.0, "c", "q", "voice", 2.0, "ana")]
    for agent_id in ("ana", "bob", "cy"):
        assert h.router.agent(agent_id).status is AgentStatus.IDLE


def test_ring_all_with_capacity_one_never_holds_two_offers() -> None:
    h = RouterHarness()
    h.queue("q", ring=3, offer_timeout=None)
    for agent_id in ("ana", "bob", "cy"):
        h.agent(agent_id, queues={"q"}, capacity={"chat": 1})
    for i in range(1, 5):
        h.submit(f"c{i}", channel="chat")
        for agent_id in ("ana", "bob", "cy"):
            assert len(h.router.agent(agent_id).offered) <= 1
    assert offers(h.events) == [("c1", "ana"), ("c1", "bob"), ("c1", "cy")]
    assert reasons_of(h.router, "c2") == {
        a: (NotEligible.NO_CAPACITY,) for a in ("ana", "bob", "cy")
    }
    events = h.router.reject("c1", "ana")
    # ana is free again: she takes the next waiting contact, a single offer.
    assert offers(events) == [("c2", "ana")]
    events = h.router.accept("c1", "bob")
    # cy's ring of c1 is withdrawn; she takes c3 (agent-side: one offer).
    assert offers(events) == [("c3", "cy")]
    for agent_id in ("ana", "bob", "cy"):
        view = h.router.agent(agent_id)
        assert len(view.offered) + len(view.in_service) == 1
    assert_work_conserving(h.router)


def test_ring_all_agent_side_routing_makes_a_single_offer() -> None:
    h = ring_harness(agents=())
    h.agent("ana", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    assert offers(h.router.set_presence("ana", Presence.AVAILABLE)) == [("c", "ana")]
    assert offers(h.router.set_presence("bob", Presence.AVAILABLE)) == []
    assert h.router.explain("c").agents == ("ana",)


def test_ring_all_preferred_agent_rings_only_the_target() -> None:
    h = ring_harness()
    events = h.submit("c", preferred_agent="cy", preferred_wait=30)
    assert offers(events) == [("c", "cy")]
    # A direct transfer to an agent rings only that agent too.
    h.router.accept("c", "cy")
    events = h.router.transfer("c", agent="bob")
    assert offers(events) == [("c", "bob")]


def test_ring_all_transfer_withdraws_every_offer() -> None:
    h = RouterHarness()
    h.queue("q", ring=3)
    h.queue("other")
    for agent_id in ("ana", "bob", "cy"):
        h.agent(agent_id, queues={"q"})
    h.submit("c")
    h.router.transfer("c", queue="other")
    assert h.router.contact("c").state is ContactState.WAITING
    for agent_id in ("ana", "bob", "cy"):
        assert h.router.agent(agent_id).offered == frozenset()


def test_ring_all_with_fewer_eligible_agents_than_ring() -> None:
    h = ring_harness(ring=5, agents=("ana", "bob"))
    assert offers(h.submit("c")) == [("c", "ana"), ("c", "bob")]


# ============================================================== 4. exclusions


def test_example_excluded_agent_is_never_offered() -> None:
    # Complaint: "the last-resort rule sent a customer to the agent they were barred from".
    router = Router(ManualClock())
    router.add_queue(QueueConfig("care"))
    router.add_agent(Agent("ana", queues={"care"}), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues={"care"}), Presence.AVAILABLE)
    router.add_exclusion("cust-42", "ana")  # this customer must never reach ana
    call = Contact("call", "voice", "care", customer_id="cust-42")
    assert offers(router.submit(call)) == [("call", "bob")]
    # bob declines. Nobody else can take it, so "not again unless no one else
    # can" brings it back to bob: ana does not count as someone else.
    assert offers(router.reject("call", "bob")) == [("call", "bob")]
    # bob logs off: ana is the only agent left, idle, and still not offered.
    assert offers(router.set_presence("bob", Presence.OFFLINE)) == []
    assert router.contact("call").state is ContactState.WAITING
    verdict = router.explain("call").not_eligible
    assert [(v.agent_id, v.reasons) for v in verdict] == [("ana", (NotEligible.EXCLUDED,))]
    # Lifting the exclusion lets it route.
    assert offers(router.remove_exclusion("cust-42", "ana")) == [("call", "ana")]


def test_contact_exclusion_with_the_only_agent_logged_in() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=10)
    h.agent("ana", queues={"q"})
    assert offers(h.submit("c", excluded_agents={"ana"})) == []
    h.advance(1000)
    assert offers(h.events) == []
    assert reasons_of(h.router, "c") == {"ana": (NotEligible.EXCLUDED,)}
    assert h.router.explain("c").held_back == (NotEligible.EXCLUDED,)
    # Other contacts still reach her.
    assert offers(h.submit("d")) == [("d", "ana")]


def test_exclusion_beats_the_last_resort_after_the_agent_rejected() -> None:
    # ana rejects while bob (not ready) could take it: barred. Then the customer
    # excludes ana and bob logs off. The bar would lift ("no one else can take
    # it"), but the exclusion does not: ana is never offered it again.
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"})
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c", customer_id="cust")
    assert offers(h.router.reject("c", "ana")) == []
    h.router.add_exclusion("cust", "ana")
    seen = len(h.events)
    h.router.set_presence("bob", Presence.OFFLINE)
    h.advance(3600)
    assert offers(h.events[seen:]) == []
    assert h.router.contact("c").state is ContactState.WAITING
    assert NotEligible.EXCLUDED in reasons_of(h.router, "c")["ana"]
    assert h.router.explain_agent("ana").eligible == ()


def test_exclusion_with_other_rejecters_keeps_them_on_last_resort() -> None:
    # bob and cy rejected; ana is excluded and is the only other agent. Both
    # rejecters' bars lift (no one *else* can take it); ana is never offered.
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("bob", queues={"q"})
    h.agent("cy", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("ana", queues={"q"})
    h.submit("c", excluded_agents={"ana"})
    assert offers(h.events) == [("c", "bob")]
    assert offers(h.router.reject("c", "bob")) == []  # cy could take it
    events = h.router.set_presence("cy", Presence.AVAILABLE)
    assert offers(events) == [("c", "cy")]
    # cy rejects too: nobody but the rejecters (and ana) is left, so the bars
    # lift; cy, freed by the rejection, is routed first and takes it back.
    events = h.router.reject("c", "cy")
    assert offers(events) == [("c", "cy")]
    assert "ana" not in [a for _c, a in offers(h.events)]


def test_add_exclusion_rescinds_an_open_offer() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"})
    h.submit("c", customer_id="cust")
    assert offers(h.events) == [("c", "ana")]
    events = h.router.add_exclusion("cust", "ana")
    assert events == [OfferRescinded(0.0, "c", "ana", "excluded")]
    assert h.router.contact("c").state is ContactState.WAITING
    assert h.router.exclusions("cust") == {"ana"}
    assert h.router.add_exclusion("cust", "ana") == []  # adding it again does nothing
    events = h.agent("bob", queues={"q"})
    assert offers(events) == [("c", "bob")]


def test_add_exclusion_moves_the_offer_to_someone_else_at_once() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"})
    h.clock.advance(1)
    h.agent("bob", queues={"q"})
    h.submit("c", customer_id="cust")
    events = h.router.add_exclusion("cust", "ana")
    assert events[0] == OfferRescinded(1.0, "c", "ana", "excluded")
    assert offers(events) == [("c", "bob")]
    assert_work_conserving(h.router)


def test_add_exclusion_lets_the_agent_a_rerouted_call_freed_take_the_earliest_email() -> None:
    # Found by the stateful test: add_exclusion returns a customer's email e1,
    # call v and email e2 (in key order). bob is kept free for v while it
    # waits, so e1 passes him by; v then goes to bob, which lifts the
    # reservation. bob must take e1, the earlier email, before e2 is matched
    # to him (he has room for one email).
    router = Router(ManualClock(), policy=RoutingPolicy(reserve_for={"voice"}))
    router.add_queue(QueueConfig("q", offer_timeout=None))
    router.add_agent(Agent("ana", queues={"q"}), Presence.AVAILABLE)
    bob = Agent("bob", queues={"q"}, capacity={"voice": 1, "email": 1})
    router.add_agent(bob, Presence.NOT_READY)
    for contact_id, channel in (("e1", "email"), ("v", "voice"), ("e2", "email")):
        router.submit(Contact(contact_id, channel, "q", customer_id="cust"))
    assert router.agent("ana").offered == {"e1", "v", "e2"}
    assert router.set_presence("bob", Presence.AVAILABLE)[1:] == []
    events = router.add_exclusion("cust", "ana")
    assert offers(events) == [("v", "bob"), ("e1", "bob")]
    assert router.contact("e2").state is ContactState.WAITING
    assert_work_conserving(router)


def test_an_agent_no_longer_the_last_resort_is_released_from_the_reservation() -> None:
    # Found by the reference test: ana rejected call v and, once carl could
    # no longer take voice, was its last resort, so she was kept free for it
    # and chat c waited. A newly added (not-ready) bob can take v: the
    # rejection bar applies to ana again, she is no longer kept free, and c
    # must go to her in that same call, not wait for an unrelated change.
    router = Router(ManualClock(), policy=RoutingPolicy(reserve_for={"voice"}))
    router.add_queue(QueueConfig("q", offer_timeout=None, wrap_up=None))
    router.add_agent(Agent("ana", queues={"q"}, unit_budget=150), Presence.AVAILABLE)
    router.add_agent(Agent("carl", queues={"q"}), Presence.NOT_READY)
    router.submit(Contact("v", "voice", "q"))
    router.submit(Contact("w", "voice", "q"))
    router.request_callback("w")
    assert offers(router.reject("v", "ana")) == [("w", "ana")]
    router.accept("w", "ana")
    router.complete("w")
    router.set_capacity("carl", "voice", 0)
    router.submit(Contact("c", "chat", "q"))
    assert NotEligible.RESERVED_CHANNEL in _reasons_of(router, "c", "ana")
    events = router.add_agent(Agent("bob", queues={"q"}), Presence.NOT_READY)
    assert offers(events) == [("c", "ana")]
    assert_work_conserving(router)


def _reasons_of(router: Router, contact_id: str, agent_id: str) -> set[NotEligible]:
    for verdict in router.explain(contact_id).not_eligible:
        if verdict.agent_id == agent_id:
            return set(verdict.reasons)
    return set()


@pytest.mark.parametrize("excluded", ["ana", "bob"])
def test_add_exclusion_withdraws_only_that_holders_ring(excluded: str) -> None:
    h = ring_harness()
    h.submit("c", customer_id="cust")
    events = h.router.add_exclusion("cust", excluded)
    assert events == [OfferRescinded(0.0, "c", excluded, "excluded")]
    rest = tuple(a for a in ("ana", "bob", "cy") if a != excluded)
    assert h.router.explain("c").agents == rest
    assert h.router.contact("c").agent_id == rest[0]
    assert h.router.agent(excluded).offered == frozenset()
    events = h.router.accept("c", "cy")
    assert [e for e in events if isinstance(e, OfferRescinded)] == [
        OfferRescinded(0.0, "c", rest[0], "answered by cy")
    ]


def test_an_agent_may_be_excluded_before_it_exists() -> None:
    h = RouterHarness()
    h.queue("q")
    h.router.add_exclusion("cust", "zed")
    h.submit("c", customer_id="cust")
    assert offers(h.agent("zed", queues={"q"})) == []
    assert reasons_of(h.router, "c") == {"zed": (NotEligible.EXCLUDED,)}


def test_add_exclusion_leaves_a_contact_in_service_alone() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ana", queues={"q"})
    h.submit("c", customer_id="cust")
    h.router.accept("c", "ana")
    assert h.router.add_exclusion("cust", "ana") == []
    assert h.router.agent("ana").in_service == {"c"}


def test_customer_exclusion_covers_later_contacts_and_is_never_rung() -> None:
    h = ring_harness()
    h.router.add_exclusion("cust", "ana")
    events = h.submit("c", customer_id="cust")
    assert offers(events) == [("c", "bob"), ("c", "cy")]
    event = next(e for e in events if isinstance(e, Offered))
    assert held_back(event) == (NotEligible.EXCLUDED.value,)
    # Another customer's contact is offered to ana as usual.
    assert offers(h.submit("d", customer_id="other"))[0] == ("d", "ana")


def test_remove_exclusion() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ana", queues={"q"})
    h.router.add_exclusion("cust", "ana")
    h.submit("c", customer_id="cust")
    h.submit("own", customer_id="cust", excluded_agents={"ana"})
    events = h.router.remove_exclusion("cust", "ana")
    # The customer's exclusion is gone; the contact's own one stays.
    assert offers(events) == [("c", "ana")]
    assert h.router.exclusions("cust") == frozenset()
    h.router.accept("c", "ana")
    h.router.complete("c")
    assert h.router.contact("own").state is ContactState.WAITING
    assert reasons_of(h.router, "own") == {"ana": (NotEligible.EXCLUDED,)}
    with pytest.raises(UnknownIdError, match="cust/ana"):
        h.router.remove_exclusion("cust", "ana")


def test_add_exclusion_lapses_a_reservation() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ana", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("bob", queues={"q"})
    h.submit("c", customer_id="cust", preferred_agent="ana", preferred_wait=300)
    assert h.router.contact("c").reserved_for == "ana"
    events = h.router.add_exclusion("cust", "ana")
    assert events[0] == PreferenceExpired(0.0, "c", "ana", "excluded")
    assert offers(events) == [("c", "bob")]


def test_excluded_preferred_agent_lapses_at_submit() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ana", queues={"q"})
    h.agent("bob", queues={"q"})
    events = h.submit("c", preferred_agent="ana", preferred_wait=300, excluded_agents={"ana"})
    assert events[1] == PreferenceExpired(0.0, "c", "ana", "excluded")
    assert offers(events) == [("c", "bob")]


@pytest.mark.parametrize("state", ["waiting", "offered", "in service"])
@pytest.mark.parametrize("how", ["customer", "contact"])
def test_transfer_to_an_excluded_agent_changes_nothing(state: str, how: str) -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=60)
    h.agent("ana", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)
    if how == "customer":
        h.router.add_exclusion("cust", "ana")
        h.submit("c", customer_id="cust")
    else:
        h.submit("c", customer_id="cust", excluded_agents={"ana"})
    if state != "waiting":
        h.router.set_presence("bob", Presence.AVAILABLE)
    if state == "in service":
        h.router.accept("c", "bob")
    h.clock.advance(5)
    h.router.tick()
    before = snapshot(h.router)
    before_bytes = h.router.snapshot()
    seen = len(h.events)
    with pytest.raises(InvalidStateError, match=r"'ana'.*excluded"):
        h.router.transfer("c", agent="ana")
    assert snapshot(h.router) == before
    assert h.router.snapshot() == before_bytes
    assert len(h.events) == seen


def test_policies_survive_snapshot_and_restore() -> None:
    policy = RoutingPolicy(
        blocking={"voice": {"chat"}}, reserve_for={"voice"}, ramp_up=RampUp(seconds=100)
    )
    h = RouterHarness(policy=policy)
    h.queue("q", offer_timeout=None)
    h.router.add_exclusion("cust", "bob")
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 3})
    h.agent("bob", queues={"q"}, capacity={"voice": 1, "chat": 3}, presence=Presence.NOT_READY)
    for i in range(1, 4):
        h.submit(f"chat{i}", channel="chat")  # ana ramps: chat1 only
    h.submit("call", customer_id="cust")  # for ana (bob is excluded), who is busy
    h.clock.advance(40)
    restored = Router.restore(h.router.snapshot(), ManualClock(40.0))
    for router in (h.router, restored):
        assert reasons_of(router, "chat2") == {
            "ana": (NotEligible.RAMPING_UP, NotEligible.RESERVED_CHANNEL),
            "bob": (NotEligible.NOT_READY,),
        }
        assert reasons_of(router, "call")["bob"] == (NotEligible.NOT_READY, NotEligible.EXCLUDED)
        assert router.exclusions("cust") == {"bob"}
        router.clock.advance(60)  # type: ignore[attr-defined]
        events = router.tick().events
        # The ramp ends at 100 s; kept free for the call, she gets it and no chat.
        assert events[0] == RampUpEnded(100.0, "ana", "time")
        assert offers(events) == [("call", "ana")]
        assert router.explain_agent("ana").eligible == ()


# ============================================================ explanations


def test_explain_names_the_blocked_channel_for_the_agent_on_voice() -> None:
    h = RouterHarness(policy=RoutingPolicy(blocking={"voice": {"chat"}}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 3})
    h.agent("bob", queues={"q"}, capacity={"chat": 3}, presence=Presence.NOT_READY)
    h.submit("call")
    h.submit("chat", channel="chat")
    explanation = h.router.explain("chat")
    assert explanation.eligible == ()
    assert reasons_of(h.router, "chat") == {
        "ana": (NotEligible.BLOCKED_CHANNEL,),
        "bob": (NotEligible.NOT_READY,),
    }
    assert explanation.held_back == (NotEligible.BLOCKED_CHANNEL,)
    text = str(explanation)
    assert "ana: blocked channel" in text and "held back by: blocked channel" in text
    agent = h.router.explain_agent("ana")
    assert agent.eligible == ()
    assert [(v.contact_id, v.reasons) for v in agent.contacts] == [
        ("chat", (NotEligible.BLOCKED_CHANNEL,))
    ]
    assert "chat: blocked channel" in str(agent)


def test_explain_names_the_reserved_channel_only_for_agents_kept_free() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=None)
    h.agent("ana", queues={"q"}, capacity={"voice": 1, "chat": 3}, unit_budget=100)
    h.clock.advance(1)
    h.agent("bob", queues={"q"}, capacity={"chat": 1})
    h.submit("chat1", channel="chat")  # ana (idle longer)
    h.submit("call")  # does not fit next to ana's chat
    events = h.submit("chat2", channel="chat")
    (event,) = [e for e in events if isinstance(e, Offered)]
    assert (event.contact_id, event.agent_id) == ("chat2", "bob")
    assert held_back(event) == (NotEligible.RESERVED_CHANNEL.value,)
    h.submit("chat3", channel="chat")
    assert reasons_of(h.router, "chat3") == {
        "ana": (NotEligible.RESERVED_CHANNEL,),
        "bob": (NotEligible.NO_CAPACITY,),
    }
    assert h.router.explain("chat3").held_back == (NotEligible.RESERVED_CHANNEL,)
    # The call itself: ana simply has no room yet.
    assert reasons_of(h.router, "call")["ana"] == (NotEligible.NO_CAPACITY,)
    assert NotEligible.RESERVED_CHANNEL not in reasons_of(h.router, "call").get("bob", ())
    contacts = {v.contact_id: v.reasons for v in h.router.explain_agent("ana").contacts}
    assert contacts["chat3"] == (NotEligible.RESERVED_CHANNEL,)
    assert "kept free for a reserved channel" in str(h.router.explain("chat3"))
    assert_work_conserving(h.router)


def test_explain_names_ramping_up() -> None:
    h = ramp_harness(RampUp(seconds=300, accepted=None))
    h.agent("bob", queues={"q"}, capacity={"chat": 3}, presence=Presence.NOT_READY)
    h.submit("c1", channel="chat")
    h.submit("c2", channel="chat")
    h.router.set_presence("ana", Presence.AVAILABLE)
    assert reasons_of(h.router, "c2") == {
        "ana": (NotEligible.RAMPING_UP,),
        "bob": (NotEligible.NOT_READY,),
    }
    assert h.router.explain("c2").held_back == (NotEligible.RAMPING_UP,)
    agent = h.router.explain_agent("ana")
    assert agent.reasons == (NotEligible.RAMPING_UP,)
    assert [(v.contact_id, v.reasons) for v in agent.contacts] == [
        ("c2", (NotEligible.RAMPING_UP,))
    ]
    assert "ramping up" in str(agent) and "ana: ramping up" in str(h.router.explain("c2"))
    # bob comes back too: c2 goes to him, and the offer names ana's ramp.
    events = h.router.set_presence("bob", Presence.AVAILABLE)
    (event,) = [e for e in events if isinstance(e, Offered)]
    assert (event.contact_id, event.agent_id) == ("c2", "bob")
    assert held_back(event) == (NotEligible.RAMPING_UP.value,)


def test_explain_names_the_exclusion_for_that_agent_only() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ana", queues={"q"})
    h.agent("bob", queues={"q"}, presence=Presence.NOT_READY)
    h.router.add_exclusion("cust", "ana")
    h.submit("c", customer_id="cust")
    explanation = h.router.explain("c")
    assert explanation.eligible == ()
    assert reasons_of(h.router, "c") == {
        "ana": (NotEligible.EXCLUDED,),
        "bob": (NotEligible.NOT_READY,),
    }
    assert explanation.held_back == (NotEligible.EXCLUDED,)
    assert "ana: excluded" in str(explanation)
    agent = h.router.explain_agent("ana")
    assert agent.reasons == ()
    assert [(v.contact_id, v.reasons) for v in agent.contacts] == [("c", (NotEligible.EXCLUDED,))]
    assert "c: excluded" in str(agent)


def test_explain_an_offered_ring_lists_every_holder() -> None:
    h = ring_harness()
    h.submit("c")
    explanation = h.router.explain("c")
    assert explanation.state is ContactState.OFFERED
    assert explanation.agents == ("ana", "bob", "cy")
    assert "held by: ana, bob, cy" in str(explanation)


# ============================================================== validation


def test_ring_must_be_a_positive_integer() -> None:
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(InvalidValueError, match=r"queue 'sales'.*ring"):
            QueueConfig("sales", ring=bad)  # type: ignore[arg-type]


def test_ramp_up_needs_a_limit_and_sane_values() -> None:
    with pytest.raises(InvalidValueError, match="neither"):
        RampUp(seconds=None, accepted=None)
    with pytest.raises(InvalidValueError, match=r"seconds.*-5"):
        RampUp(seconds=-5)
    with pytest.raises(InvalidValueError, match=r"accepted.*0"):
        RampUp(accepted=0)
    with pytest.raises(InvalidValueError, match="ramp_up"):
        RoutingPolicy(ramp_up=300)  # type: ignore[arg-type]
    assert RampUp(seconds=None, accepted=2).accepted == 2


@pytest.mark.parametrize(
    "blocking", [{"voice": {"fax"}}, {"fax": {"chat"}}], ids=["blocked", "holding"]
)
def test_unknown_channel_in_the_router_matrix(blocking: dict[str, set[str]]) -> None:
    with pytest.raises(UnknownIdError, match="unknown channel 'fax'"):
        Router(ManualClock(), policy=RoutingPolicy(blocking=blocking))


def test_unknown_reserved_channel() -> None:
    with pytest.raises(UnknownIdError, match="unknown channel 'fax'"):
        Router(ManualClock(), policy=RoutingPolicy(reserve_for={"fax"}))


def test_unknown_channel_in_a_queue_matrix_adds_nothing() -> None:
    router = Router(ManualClock())
    with pytest.raises(UnknownIdError, match="unknown channel 'fax'"):
        router.add_queue(QueueConfig("sales", blocking={"voice": {"chat", "fax"}}))
    assert router.queues == []


def test_bad_policy_values() -> None:
    with pytest.raises(InvalidValueError, match="RoutingPolicy"):
        Router(ManualClock(), policy={"reserve_for": {"voice"}})  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="blocking channel"):
        RoutingPolicy(blocking={"": {"chat"}})
    router = Router(ManualClock())
    with pytest.raises(InvalidValueError, match="customer id"):
        router.add_exclusion("", "ana")
    with pytest.raises(InvalidValueError, match="agent id"):
        router.add_exclusion("cust", "")
    with pytest.raises(InvalidValueError, match=r"contact 'c'.*excluded agent"):
        Contact("c", "voice", "q", excluded_agents={""})


# ===================================================================== docs

EXAMPLES: dict[str, tuple[Callable[..., object], ...]] = {
    "blocking.md": (
        test_example_chat_backlog_no_longer_locks_agents_out_of_voice,
        test_example_agent_on_voice_gets_no_new_chats,
    ),
    "ramp-up.md": (test_example_ramp_up_after_a_break,),
    "ring-all.md": (test_example_ring_all,),
    "exclusions.md": (test_example_excluded_agent_is_never_offered,),
}


@pytest.mark.parametrize("page", sorted(EXAMPLES))
def test_docs_show_the_examples(page: str) -> None:
    text = (DOCS / page).read_text()
    # The examples' helper is the public one, imported as the tests import it.
    assert "from ccroute.testing import offers\n" in text, page
    for obj in EXAMPLES[page]:
        source = textwrap.dedent(inspect.getsource(obj))
        assert source in text, f"docs/policies/{page} no longer shows {obj.__name__} as tested"
