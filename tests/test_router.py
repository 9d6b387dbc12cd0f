"""Example-based tests of the Router: every rule of docs/routing.md."""

from __future__ import annotations

import pytest

from ccroute import (
    Abandoned,
    Accepted,
    AgentStatus,
    CallbackRequested,
    Channel,
    ChannelKind,
    Completed,
    ContactState,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    PreferenceExpired,
    Presence,
    PresenceChanged,
    Queued,
    Refused,
    Rejected,
    RoutingStep,
    StepApplied,
    Strategy,
    Transferred,
    WrapUpEnded,
)
from ccroute.testing import RouterHarness

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")


def harness(strategy: Strategy = Strategy.LONGEST_IDLE, **queue_kwargs: object) -> RouterHarness:
    h = RouterHarness()
    h.queue("q", strategy=strategy, **queue_kwargs)
    return h


# ------------------------------------------------------------------ ordering


def test_fifo_within_equal_priority() -> None:
    h = harness()
    for i in range(3):
        h.submit(f"c{i}")
        h.clock.advance(1)
    h.agent("a", queues={"q"})
    assert h.offers() == [("c0", "a")]
    assert [c.id for c in h.router.waiting()] == ["c1", "c2"]


def test_priority_seconds_is_a_head_start_and_nothing_starves() -> None:
    h = harness()
    h.submit("old")  # queued at 0
    h.clock.advance(10)
    h.submit("vip", priority_seconds=30)  # effective time 10 - 30 = -20: ahead of "old"
    h.clock.advance(50)
    h.submit("late_vip", priority_seconds=30)  # 60 - 30 = 30: behind "old" (0)
    assert [c.id for c in h.router.waiting()] == ["vip", "old", "late_vip"]


def test_tier_beats_any_priority() -> None:
    h = harness()
    h.submit("vip", priority_seconds=10_000)
    h.clock.advance(5)
    h.submit("emergency", tier=1)
    assert [c.id for c in h.router.waiting()] == ["emergency", "vip"]


def test_freed_agent_gets_smallest_key_across_channels_and_queues() -> None:
    h = harness()
    h.queue("sales")
    h.submit("email1", channel="email", queue="sales")
    h.clock.advance(1)
    h.submit("voice1", channel="voice")
    h.agent("a", queues={"q", "sales"})
    # email1 came first; after it, the agent still has voice capacity.
    assert h.offers() == [("email1", "a"), ("voice1", "a")]


def test_queue_membership_is_required() -> None:
    h = harness()
    h.queue("other")
    h.agent("a", queues={"other"})
    assert h.submit("c") == [h.events[-1]]
    assert h.router.contact("c").state is ContactState.WAITING


def test_skill_levels_are_minimums() -> None:
    h = harness()
    h.agent("low", queues={"q"}, skills={"fr": 3})
    h.submit("c", requirements={"fr": 4})
    assert h.offers() == []
    h.agent("high", queues={"q"}, skills={"fr": 4})
    assert h.offers() == [("c", "high")]


# ----------------------------------------------------------------- strategies


def test_longest_idle_prefers_agents_without_work_then_earliest_idle() -> None:
    h = harness(Strategy.LONGEST_IDLE)
    h.agent("b", queues={"q"})
    h.clock.advance(5)
    h.agent("a", queues={"q"})
    h.submit("c1")
    assert h.offers()[-1] == ("c1", "b")  # idle since 0, "a" since 5


def test_longest_idle_ranks_busy_multichat_agent_after_idle_one() -> None:
    h = harness(Strategy.LONGEST_IDLE)
    h.agent("a", queues={"q"})  # idle since 0
    h.submit("chat1", channel="chat")
    assert h.offers()[-1] == ("chat1", "a")
    h.clock.advance(10)
    h.agent("b", queues={"q"})  # idle since 10, but holds nothing
    h.submit("chat2", channel="chat")
    assert h.offers()[-1] == ("chat2", "b")


def test_most_skilled_sums_levels_over_required_skills() -> None:
    h = harness(Strategy.MOST_SKILLED)
    h.agent("a", queues={"q"}, skills={"en": 9, "billing": 2})  # 11
    h.agent("b", queues={"q"}, skills={"en": 6, "billing": 6})  # 12
    h.agent("c", queues={"q"}, skills={"en": 10, "billing": 1, "fr": 10})  # 11
    h.submit("x", requirements={"en": 1, "billing": 1})
    assert h.offers() == [("x", "b")]


def test_most_skilled_ties_break_by_agent_id() -> None:
    h = harness(Strategy.MOST_SKILLED)
    for agent_id in ("m", "k", "z"):
        h.agent(agent_id, queues={"q"}, skills={"en": 5})
    h.submit("x", requirements={"en": 1})
    assert h.offers() == [("x", "k")]


def test_least_occupied_uses_share_of_capacity() -> None:
    h = harness(Strategy.LEAST_OCCUPIED)
    h.agent("a", queues={"q"}, capacity={"chat": 2})
    h.agent("b", queues={"q"}, capacity={"chat": 4})
    h.submit("c1", channel="chat")  # tie at 0: "a"
    h.submit("c2", channel="chat")  # a 1/2, b 0/4 -> b
    h.submit("c3", channel="chat")  # a 1/2, b 1/4 -> b
    h.submit("c4", channel="chat")  # a 1/2, b 2/4 -> tie -> a
    assert h.offers() == [("c1", "a"), ("c2", "b"), ("c3", "b"), ("c4", "a")]


def test_least_occupied_with_unit_budget() -> None:
    h = harness(Strategy.LEAST_OCCUPIED)
    h.agent("a", queues={"q"}, unit_budget=100)
    h.agent("b", queues={"q"}, unit_budget=200)
    h.submit("e1", channel="email")  # 20 units each way; tie -> a (0.2)
    h.submit("e2", channel="email")  # a 0.2, b 0 -> b (0.1)
    h.submit("e3", channel="email")  # a 0.2, b 0.1 -> b (0.2)
    h.submit("e4", channel="email")  # a 0.2, b 0.2 -> a
    assert [a for _c, a in h.offers()] == ["a", "b", "b", "a"]


def test_round_robin_rotates_in_id_order_and_wraps() -> None:
    h = harness(Strategy.ROUND_ROBIN, wrap_up=0)
    for agent_id in ("a", "b", "c"):
        h.agent(agent_id, queues={"q"}, capacity={"chat": 5})
    for i in range(5):
        h.submit(f"x{i}", channel="chat")
    assert [a for _c, a in h.offers()] == ["a", "b", "c", "a", "b"]


def test_fewest_handled() -> None:
    h = harness(Strategy.FEWEST_HANDLED, wrap_up=0)
    h.agent("a", queues={"q"})
    h.submit("x")
    h.router.accept("x", "a")
    h.router.complete("x")
    h.agent("b", queues={"q"})
    h.clock.advance(100)  # "a" is now idle much longer than "b" — irrelevant here
    h.submit("y")
    assert h.offers()[-1] == ("y", "b")


def test_random_is_seeded_and_picks_only_eligible_agents() -> None:
    def run(seed: int) -> list[str]:
        h = RouterHarness(seed=seed)
        h.queue("q", strategy=Strategy.RANDOM)
        for i in range(10):
            h.agent(f"a{i}", queues={"q"}, skills={"x": 1 + i % 2}, capacity={"email": 50})
        for i in range(40):
            h.submit(f"c{i}", channel="email", requirements={"x": 2})
        return [a for _c, a in h.offers()]

    first = run(7)
    assert first == run(7)
    assert set(first) <= {f"a{i}" for i in range(1, 10, 2)}
    assert len(set(first)) > 1
    assert first != run(8)


# ------------------------------------------------------------------ capacity


def test_per_channel_capacity_and_never_over_capacity() -> None:
    h = harness()
    h.agent("a", queues={"q"}, capacity={"chat": 2, "voice": 1})
    for i in range(4):
        h.submit(f"chat{i}", channel="chat")
    h.submit("call", channel="voice")
    view = h.router.agent("a")
    assert view.load == {"chat": 2, "voice": 1}
    assert len(h.router.waiting()) == 2


def test_unit_budget_shared_across_channels() -> None:
    h = harness()
    h.agent("a", queues={"q"}, unit_budget=100)  # chat costs 33, email 20, voice 100
    h.submit("chat1", channel="chat")
    h.submit("chat2", channel="chat")
    h.submit("call", channel="voice")  # 66 + 100 > 100: waits
    h.submit("mail", channel="email")  # 66 + 20 <= 100
    assert h.offers() == [("chat1", "a"), ("chat2", "a"), ("mail", "a")]
    assert h.router.agent("a").units_used == 86


def test_exclusive_channel_excludes_other_work() -> None:
    h = RouterHarness(
        channels=[
            Channel("voice", ChannelKind.SYNCHRONOUS, 1, 100, exclusive=True),
            Channel("chat", ChannelKind.SEMI_SYNCHRONOUS, 3, 33),
        ]
    )
    h.queue("q")
    h.agent("a", queues={"q"})
    h.submit("chat1", channel="chat")
    h.submit("call", channel="voice")  # agent holds a chat: the call waits
    assert h.offers() == [("chat1", "a")]
    h.router.accept("chat1", "a")
    h.router.complete("chat1")  # wrap-up 0: the call is offered
    assert h.offers()[-1] == ("call", "a")
    h.submit("chat2", channel="chat")  # holding the call: no chat
    assert h.offers()[-1] == ("call", "a")


def test_set_capacity_below_load_is_refused_and_raising_it_routes() -> None:
    h = harness()
    h.agent("a", queues={"q"}, capacity={"chat": 1})
    h.submit("c1", channel="chat")
    h.submit("c2", channel="chat")
    events = h.router.set_capacity("a", "chat", 2)
    assert [(e.contact_id, e.agent_id) for e in events if isinstance(e, Offered)] == [("c2", "a")]


# ------------------------------------------------------------ offers and RONA


def test_offer_timeout_returns_contact_to_its_place_and_agent_goes_not_ready() -> None:
    h = harness(offer_timeout=10)
    h.agent("a", queues={"q"})
    h.submit("first")
    h.submit("second")
    events = h.advance(10)
    assert [type(e) for e in events] == [OfferTimedOut, PresenceChanged]
    assert events[1].reason == "rona"
    assert h.router.agent("a").presence is Presence.NOT_READY
    assert [c.id for c in h.router.waiting()] == ["first", "second"]
    # Back from not-ready: offered again (it is the only agent who could take it).
    events = h.router.set_presence("a", Presence.AVAILABLE)
    assert h.offers(events) == [("first", "a")]


def test_offer_timeout_without_rona_goes_to_someone_else() -> None:
    h = harness(offer_timeout=10, rona_not_ready=False)
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    h.router.set_presence("b", Presence.AVAILABLE)  # b gets nothing: c is offered to a
    events = h.advance(10)
    assert h.offers(events) == [("c", "b")]
    assert h.router.agent("a").presence is Presence.AVAILABLE


def test_rejected_contact_not_reoffered_while_someone_else_can_take_it() -> None:
    h = harness()
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)  # logged in, can take it later
    h.submit("c")
    assert h.offers() == [("c", "a")]
    events = h.router.reject("c", "a")
    assert isinstance(events[0], Rejected)
    assert h.offers(events) == []  # "a" is free but barred; "b" is not ready
    assert h.router.contact("c").state is ContactState.WAITING
    events = h.router.set_presence("b", Presence.AVAILABLE)
    assert h.offers(events) == [("c", "b")]


def test_rejected_contact_reoffered_when_no_one_else_can_take_it() -> None:
    h = harness()
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    h.router.reject("c", "a")
    # "b" logs off: no one else could take it, so the bar on "a" lifts.
    events = h.router.set_presence("b", Presence.OFFLINE)
    assert h.offers(events) == [("c", "a")]


def test_accept_reject_by_wrong_agent_is_refused() -> None:
    from ccroute import InvalidStateError

    h = harness()
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    with pytest.raises(InvalidStateError, match="offered to 'a'"):
        h.router.accept("c", "b")


# ---------------------------------------------------------- completion, wrap-up


def test_complete_starts_wrap_up_and_agent_is_free_after_it() -> None:
    h = harness(wrap_up=15)
    h.agent("a", queues={"q"})
    h.submit("c1")
    h.submit("c2")
    h.clock.advance(2)
    assert isinstance(h.router.accept("c1", "a")[0], Accepted)
    h.clock.advance(100)
    events = h.router.complete("c1")
    assert events == [Completed(102.0, "c1", "a", "q", "voice", 100.0)]
    assert h.router.agent("a").status is AgentStatus.WRAP_UP
    assert h.router.next_due() == 117.0
    events = h.advance(15)
    assert events[0] == WrapUpEnded(117.0, "c1", "a", "q", "voice", 15.0)
    assert h.offers(events) == [("c2", "a")]


def test_manual_wrap_up_end() -> None:
    h = harness(wrap_up=None)
    h.agent("a", queues={"q"})
    h.submit("c1")
    h.router.accept("c1", "a")
    h.router.complete("c1")
    assert h.router.next_due() is None
    h.clock.advance(1000)
    events = h.router.end_wrap_up("c1")
    assert isinstance(events[0], WrapUpEnded) and events[0].wrap_time == 1000.0


def test_tick_applies_timers_at_their_due_time() -> None:
    h = harness(offer_timeout=5, rona_not_ready=False)
    h.agent("a", queues={"q"})
    h.submit("c")
    events = h.advance(12)  # due at 5, then re-offered at 5, due again at 10
    assert [(type(e).__name__, e.at) for e in events] == [
        ("OfferTimedOut", 5.0),
        ("Offered", 5.0),
        ("OfferTimedOut", 10.0),
        ("Offered", 10.0),
    ]
    assert h.router.tick().next_due == 15.0


# ------------------------------------------------------------------- steps


def test_routing_step_relaxes_level_and_keeps_key() -> None:
    h = harness(steps=[RoutingStep(after=30, requirements={"fr": 2})])
    h.agent("a", queues={"q"}, skills={"fr": 3})
    h.submit("c", requirements={"fr": 5})
    key = h.router.contact("c").key
    assert h.offers() == []
    assert h.router.next_due() == 30.0
    events = h.advance(30)
    assert isinstance(events[0], StepApplied)
    assert events[0].requirements == (("fr", 2),)
    assert h.offers(events) == [("c", "a")]
    assert h.router.contact("c").key == key


def test_routing_step_drops_and_adds_skills() -> None:
    h = harness(steps=[RoutingStep(after=10, requirements={"fr": None, "senior": 1})])
    h.agent("a", queues={"q"}, skills={"senior": 4})
    h.submit("c", requirements={"fr": 5})
    events = h.advance(10)
    assert events[0].requirements == (("senior", 1),)
    assert h.offers(events) == [("c", "a")]


def test_routing_step_widens_to_more_queues() -> None:
    h = RouterHarness()
    h.queue("overflow")
    h.queue("q", steps=[RoutingStep(after=20, queues={"overflow"})])
    h.agent("b", queues={"overflow"})
    h.submit("c")
    assert h.offers() == []
    events = h.advance(20)
    assert events[0].queues == frozenset({"q", "overflow"})
    assert h.offers(events) == [("c", "b")]


def test_steps_apply_in_order_and_at_zero_immediately() -> None:
    h = harness(
        steps=[
            RoutingStep(after=0, requirements={"x": 8}),
            RoutingStep(after=10, requirements={"x": 4}),
            RoutingStep(after=20, requirements={"x": 1}),
        ]
    )
    events = h.submit("c", requirements={"x": 10})
    assert [type(e) for e in events] == [Queued, StepApplied]
    assert h.router.contact("c").requirements == {"x": 8}
    h.advance(25)
    assert h.router.contact("c").requirements == {"x": 1}
    assert h.router.contact("c").steps_applied == 3


def test_relaxed_contact_overtakes_nothing_it_should_not() -> None:
    # Two contacts become eligible for the same agent; the older key wins.
    h = harness(steps=[RoutingStep(after=10, requirements={"x": 1})])
    h.agent("a", queues={"q"}, skills={"x": 2}, presence=Presence.NOT_READY)
    h.submit("old", requirements={"x": 5})
    h.clock.advance(5)
    h.submit("new", requirements={"x": 2})
    h.advance(10)  # "old" relaxed at 10, "new" at 15
    events = h.router.set_presence("a", Presence.AVAILABLE)
    assert h.offers(events) == [("old", "a")]


# ------------------------------------------------------------ preferred agent


def test_preferred_agent_wait_then_anyone() -> None:
    h = harness()
    h.agent("pref", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("other", queues={"q"})
    h.submit("c", preferred_agent="pref", preferred_wait=30)
    assert h.offers() == []
    assert h.router.contact("c").reserved_for == "pref"
    events = h.advance(30)
    assert events[0] == PreferenceExpired(30.0, "c", "pref", "wait over")
    assert h.offers(events) == [("c", "other")]


def test_preferred_agent_gets_it_when_free() -> None:
    h = harness()
    h.agent("pref", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("other", queues={"q"})
    h.submit("c", preferred_agent="pref", preferred_wait=30)
    h.clock.advance(5)
    events = h.router.set_presence("pref", Presence.AVAILABLE)
    assert h.offers(events) == [("c", "pref")]


def test_preferred_agent_not_logged_in_lapses_at_once() -> None:
    h = harness()
    h.agent("other", queues={"q"})
    events = h.submit("c", preferred_agent="ghost", preferred_wait=30)
    assert events[1] == PreferenceExpired(0.0, "c", "ghost", "not logged in")
    assert h.offers(events) == [("c", "other")]


def test_preferred_agent_logging_off_releases_the_contact() -> None:
    h = harness()
    h.agent("pref", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("other", queues={"q"})
    h.submit("c", preferred_agent="pref", preferred_wait=300)
    events = h.router.set_presence("pref", Presence.OFFLINE)
    assert PreferenceExpired(0.0, "c", "pref", "agent logged off") in events
    assert h.offers(events) == [("c", "other")]


# ---------------------------------------------------------- abandon, transfer


def test_abandon_waiting_and_offered() -> None:
    h = harness()
    h.agent("a", queues={"q"})
    h.submit("c1")
    h.submit("c2")
    h.clock.advance(7)
    events = h.router.abandon("c2")
    assert events == [Abandoned(7.0, "c2", "q", "voice", 7.0, None)]
    events = h.router.abandon("c1")  # offered to "a"
    assert events == [Abandoned(7.0, "c1", "q", "voice", 7.0, "a")]
    assert h.router.agent("a").status is AgentStatus.IDLE
    assert h.router.abandoned == 2 and h.router.contact_ids == []


def test_transfer_in_service_to_queue_keeps_key_and_frees_agent() -> None:
    h = RouterHarness()
    h.queue("q")
    h.queue("billing")
    h.agent("a", queues={"q"})
    h.agent("b", queues={"billing"}, presence=Presence.NOT_READY)
    h.submit("c")
    h.clock.advance(1)
    h.submit("d")
    h.router.accept("c", "a")
    key = h.router.contact("c").key
    events = h.router.transfer("c", queue="billing")
    assert events[0] == Transferred(1.0, "c", "q", "billing", "a", None, True)
    assert h.offers(events) == [("d", "a")]  # the freed agent takes the next contact
    view = h.router.contact("c")
    assert (view.queue, view.state, view.key) == ("billing", ContactState.WAITING, key)


def test_transfer_resetting_key_goes_to_the_back() -> None:
    h = harness()
    h.submit("c")
    h.clock.advance(5)
    h.submit("d")
    h.clock.advance(5)
    h.router.transfer("c", keep_key=False)
    assert [c.id for c in h.router.waiting()] == ["d", "c"]


def test_transfer_to_skill_set() -> None:
    h = harness()
    h.agent("a", queues={"q"}, skills={"tech": 9})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    h.router.accept("c", "a")
    events = h.router.transfer("c", requirements={"tech": 8})
    # "a" is freed and is the only one with the skill.
    assert h.offers(events) == [("c", "a")]


def test_transfer_to_agent_reserves_for_that_agent_only() -> None:
    h = harness()
    h.agent("a", queues={"q"})
    h.agent("specialist", presence=Presence.NOT_READY)  # not even a member
    h.submit("c")
    h.router.accept("c", "a")
    events = h.router.transfer("c", agent="specialist")
    assert h.offers(events) == []
    events = h.router.set_presence("specialist", Presence.AVAILABLE)
    assert h.offers(events) == [("c", "specialist")]


def test_callback_keeps_its_place() -> None:
    h = harness()
    h.submit("c1")
    h.clock.advance(1)
    h.submit("c2")
    events = h.router.request_callback("c1")
    assert events == [CallbackRequested(1.0, "c1", "callback")]
    assert [(c.id, c.channel) for c in h.router.waiting()] == [("c1", "callback"), ("c2", "voice")]
    h.agent("a", queues={"q"})  # callback and voice capacity 1 each: both offered, c1 first
    assert h.offers() == [("c1", "a"), ("c2", "a")]


# ------------------------------------------------------------- presence


def test_logging_off_rescinds_offers_and_ends_wrap_up() -> None:
    h = harness(wrap_up=60)
    h.agent("a", queues={"q"}, capacity={"chat": 2})
    h.submit("c1", channel="chat")
    h.submit("c2", channel="chat")
    h.router.accept("c1", "a")
    h.router.complete("c1")
    events = h.router.set_presence("a", Presence.OFFLINE)
    kinds = [type(e) for e in events]
    assert kinds == [PresenceChanged, WrapUpEnded, OfferRescinded]
    assert h.router.contact("c2").state is ContactState.WAITING


def test_cannot_log_off_with_contacts_in_service() -> None:
    from ccroute import InvalidStateError

    h = harness()
    h.agent("a", queues={"q"})
    h.submit("c")
    h.router.accept("c", "a")
    with pytest.raises(InvalidStateError, match="in service"):
        h.router.set_presence("a", Presence.OFFLINE)
    with pytest.raises(InvalidStateError, match="in service"):
        h.router.remove_agent("a")


def test_queue_size_limit_refuses_with_an_event() -> None:
    h = harness(max_size=1)
    h.submit("c1")
    events = h.submit("c2")
    assert events == [Refused(0.0, "c2", "q", "voice", "queue full")]
    assert h.router.contact_ids == ["c1"]
    assert h.router.submitted == 1


def test_views() -> None:
    h = harness()
    h.submit("c1")
    h.submit("c2")
    assert h.router.position("c2") == 2
    assert h.router.queue_size("q") == 2
    assert len(h.router) == 2
    h.agent("a", queues={"q"})
    assert h.router.queue_size("q") == 1
    assert h.router.agent("a").offered == frozenset({"c1"})


def test_observers_see_exactly_what_calls_return() -> None:
    h = harness(offer_timeout=5)
    returned = []
    returned += h.agent("a", queues={"q"})
    returned += h.submit("c")
    h.clock.advance(6)
    returned += h.router.submit(__import__("ccroute").Contact("d", "voice", "q"))
    assert returned == h.events
    h.router.unobserve(h.events.extend)


def test_same_calls_give_same_events() -> None:
    def run() -> list[object]:
        h = harness(Strategy.RANDOM, offer_timeout=5, wrap_up=3)
        for i in range(5):
            h.agent(f"a{i}", queues={"q"}, capacity={"chat": 2})
        for i in range(20):
            h.submit(f"c{i}", channel="chat")
            h.advance(1.5)
        return h.events

    assert run() == run()


def test_clock_going_backwards_is_refused() -> None:
    from ccroute import ClockError, Contact, Router

    class Backwards:
        def __init__(self) -> None:
            self.t = 10.0

        def now(self) -> float:
            return self.t

    clock = Backwards()
    router = Router(clock)
    router.add_queue(__import__("ccroute").QueueConfig("q"))
    clock.t = 5.0
    with pytest.raises(ClockError, match=r"backwards from 10\.0 to 5\.0"):
        router.submit(Contact("c", "voice", "q"))
    clock.t = 10.0
    assert router.contact_ids == []


def test_ended_contacts_are_forgotten_and_counted() -> None:
    from ccroute import UnknownIdError

    h = harness()
    h.agent("a", queues={"q"})
    h.submit("c")
    h.router.accept("c", "a")
    h.router.complete("c")
    assert h.router.completed == 1
    with pytest.raises(UnknownIdError, match="unknown contact 'c'"):
        h.router.contact("c")
    h.submit("c")  # the id may be used again
    assert h.router.contact("c").state is ContactState.OFFERED


def test_status_derivation() -> None:
    h = harness()
    h.agent("a", queues={"q"}, presence=Presence.NOT_READY)
    assert h.router.agent("a").status is AgentStatus.NOT_READY
    h.router.set_presence("a", Presence.AVAILABLE)
    assert h.router.agent("a").status is AgentStatus.IDLE
    h.submit("c")
    assert h.router.agent("a").status is AgentStatus.BUSY
    h.router.set_presence("a", Presence.OFFLINE)
    assert h.router.agent("a").status is AgentStatus.OFFLINE
