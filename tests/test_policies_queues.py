"""Queue policies: each public complaint, reproduced, and shown not to happen.

The rules are docs/policies/max-wait.md, admission.md, rejoin.md, fairness.md
and custom-strategy.md.

Max wait, overflow and skip-if-no-agent; admission; rejoin; cross-queue
fairness (queue weight, agent queue delays); custom agent strategies and the
reasons every offer carries. The first test of each section is the example of
its page in docs/policies/ (plain public API, no harness), and ``test_docs_show_the_examples`` keeps page and test in sync.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from pathlib import Path

import pytest

from ccroute import (
    Accepted,
    Admission,
    Agent,
    AgentView,
    Contact,
    ContactState,
    ContactView,
    InvalidValueError,
    ManualClock,
    NotEligible,
    Offered,
    OfferReason,
    OfferTimedOut,
    Overflowed,
    Presence,
    PresenceChanged,
    QueueConfig,
    Queued,
    Refused,
    Rejected,
    Rejoined,
    Router,
    RoutingStep,
    StepApplied,
    Strategy,
    TimedOut,
    Transferred,
    UnknownIdError,
)
from ccroute.testing import RouterHarness, snapshot

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")

DOCS = Path(__file__).resolve().parent.parent / "docs" / "policies"


def waiting(h: RouterHarness, queue: str | None = None) -> list[str]:
    return [c.id for c in h.router.waiting(queue)]


# ============================================= 5. max wait, overflow, no agent


def test_max_wait_moves_an_unstaffed_queue_to_its_backup() -> None:
    # Complaint: "callers waited forever in a queue nobody staffs".
    clock = ManualClock()
    router = Router(clock)
    router.add_queues(
        [
            QueueConfig("billing", max_wait=120, overflow="general"),
            QueueConfig("general"),
        ]
    )
    router.submit(Contact("early", "voice", "billing"))  # nobody staffs billing
    clock.advance(30)
    router.submit(Contact("later", "voice", "general"))
    clock.advance(90)
    events = router.tick().events
    assert events == [Overflowed(120.0, "early", "billing", "general", 120.0, "max wait", True)]
    # It kept its place in line: ahead of the contact that reached general after it.
    assert [c.id for c in router.waiting("general")] == ["early", "later"]
    assert router.contact("early").entered_at == 120.0  # its wait in general starts now
    router.add_agent(Agent("gina", queues={"general"}), Presence.AVAILABLE)
    assert router.agent("gina").offered == {"early"}


def test_overflow_without_keeping_the_key_goes_to_the_back() -> None:
    h = RouterHarness()
    h.queue("backup")
    h.queue("q", max_wait=60, overflow="backup", overflow_keep_key=False)
    h.submit("old")
    h.clock.advance(10)
    h.submit("newer", queue="backup")
    events = h.advance(50)
    assert events == [Overflowed(60.0, "old", "q", "backup", 60.0, "max wait", False)]
    assert waiting(h, "backup") == ["newer", "old"]


def test_overflowed_contact_starts_afresh_in_the_new_queue() -> None:
    # Requirements go back to those submitted, steps and max wait restart.
    h = RouterHarness()
    h.queue("backup", max_wait=100, steps=[RoutingStep(after=50, requirements={"fr": 2})])
    h.queue(
        "q",
        max_wait=60,
        overflow="backup",
        steps=[RoutingStep(after=10, requirements={"fr": None})],
    )
    h.submit("c", requirements={"fr": 6})
    h.advance(10)
    assert h.router.contact("c").requirements == {}
    events = h.advance(50)
    assert isinstance(events[0], Overflowed)
    view = h.router.contact("c")
    assert (view.queue, view.requirements, view.steps_applied) == ("backup", {"fr": 6}, 0)
    events = h.advance(50)  # t = 110: the backup queue's step, 50 s after entering it
    assert [(type(e), e.at) for e in events] == [(StepApplied, 110.0)]
    events = h.advance(49)
    assert events == []
    events = h.advance(1)  # t = 160: backup's max wait, counted from entering it
    assert events == [TimedOut(160.0, "c", "backup", "voice", 100.0, "max wait")]


def test_max_wait_without_overflow_times_out_and_the_contact_is_gone() -> None:
    h = RouterHarness()
    h.queue("q", max_wait=60)
    h.submit("c")
    assert h.advance(59) == []
    events = h.advance(1)
    assert events == [TimedOut(60.0, "c", "q", "voice", 60.0, "max wait")]
    with pytest.raises(UnknownIdError, match="unknown contact 'c'"):
        h.router.contact("c")
    assert h.router.timed_out == 1
    assert h.router.queue_size("q") == 0 and len(h.router) == 0
    assert h.router.next_due() is None


def test_offered_at_max_wait_the_offer_runs_on_and_accept_cancels_it() -> None:
    h = RouterHarness()
    h.queue("q", max_wait=60, offer_timeout=None)
    h.agent("a", queues={"q"})
    h.submit("c")
    assert h.offers() == [("c", "a")]
    assert h.advance(100) == []  # max wait passed during the offer: nothing happens
    assert h.router.contact("c").state is ContactState.OFFERED
    events = h.router.accept("c", "a")
    assert events == [Accepted(100.0, "c", "a", "q", "voice", 100.0)]
    assert h.advance(1000) == []
    assert h.router.contact("c").state is ContactState.IN_SERVICE


def test_rejected_after_max_wait_it_expires_at_once() -> None:
    h = RouterHarness()
    h.queue("q", max_wait=60, offer_timeout=None)
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.submit("c")
    h.clock.advance(70)
    events = h.router.reject("c", "a")
    assert events == [
        Rejected(70.0, "c", "a"),
        TimedOut(70.0, "c", "q", "voice", 70.0, "max wait"),
    ]
    assert h.router.contact_ids == []
    assert h.router.agent("a").offered == frozenset()


def test_offer_withdrawn_after_max_wait_expires_at_once() -> None:
    h = RouterHarness()
    h.queue("q", max_wait=60, offer_timeout=None)
    h.agent("a", queues={"q"})
    h.submit("c")
    h.clock.advance(70)
    events = h.router.set_presence("a", Presence.OFFLINE)
    assert events[-1] == TimedOut(70.0, "c", "q", "voice", 70.0, "max wait")
    assert h.router.contact_ids == []


def test_offer_timing_out_after_max_wait_overflows_at_once() -> None:
    h = RouterHarness()
    h.queue("backup")
    h.queue("q", max_wait=20, offer_timeout=30, overflow="backup")
    h.agent("a", queues={"q"})
    h.submit("c")
    events = h.advance(30)
    assert [type(e) for e in events] == [OfferTimedOut, PresenceChanged, Overflowed]
    assert events[2] == Overflowed(30.0, "c", "q", "backup", 30.0, "max wait", True)
    assert waiting(h, "backup") == ["c"]


def test_contact_max_wait_overrides_the_queue_in_every_queue() -> None:
    h = RouterHarness()
    h.queue("backup")  # no max wait of its own
    h.queue("q", max_wait=300, overflow="backup")
    h.submit("hurried", max_wait=20)
    h.submit("patient", max_wait=600)
    h.submit("plain")
    events = h.advance(20)
    assert events == [Overflowed(20.0, "hurried", "q", "backup", 20.0, "max wait", True)]
    events = h.advance(20)  # 20 s in backup, which has no limit: the contact's own applies
    assert events == [TimedOut(40.0, "hurried", "backup", "voice", 20.0, "max wait")]
    events = h.advance(260)
    assert events == [Overflowed(300.0, "plain", "q", "backup", 300.0, "max wait", True)]
    assert waiting(h, "q") == ["patient"]
    events = h.advance(300)
    assert events == [Overflowed(600.0, "patient", "q", "backup", 600.0, "max wait", True)]


def test_overflow_target_full_times_out() -> None:
    h = RouterHarness()
    h.queue("backup", max_size=1)
    h.queue("q", max_wait=60, overflow="backup")
    h.submit("there", queue="backup")
    h.submit("c")
    events = h.advance(60)
    assert events == [TimedOut(60.0, "c", "q", "voice", 60.0, "overflow queue full")]
    assert waiting(h) == ["there"]


def test_skip_if_no_agent_applies_steps_at_once_until_someone_can_take_it() -> None:
    h = RouterHarness()
    h.queue(
        "q",
        skip_if_no_agent=True,
        steps=[
            RoutingStep(after=30, requirements={"fr": 1}),
            RoutingStep(after=60, requirements={"fr": None}),
        ],
    )
    h.agent("en", queues={"q"}, skills={"en": 5})
    events = h.submit("c", requirements={"fr": 5, "en": 1})
    assert [(type(e), e.at) for e in events] == [
        (Queued, 0.0),
        (StepApplied, 0.0),
        (StepApplied, 0.0),
        (Offered, 0.0),
    ]
    assert h.offers() == [("c", "en")]
    assert events[-1].reason is not None and events[-1].reason.step == 2


def test_skip_if_no_agent_with_no_step_left_overflows_or_times_out_at_once() -> None:
    h = RouterHarness()
    h.queue("backup")
    h.queue(
        "q",
        skip_if_no_agent=True,
        overflow="backup",
        steps=[RoutingStep(after=30, requirements={"x": 1})],
    )
    h.queue("alone", skip_if_no_agent=True)
    events = h.submit("c")
    assert [type(e) for e in events] == [Queued, StepApplied, Overflowed]
    assert events[2] == Overflowed(0.0, "c", "q", "backup", 0.0, "no agent", True)
    events = h.submit("d", queue="alone")
    assert events == [
        Queued(0.0, "d", "alone", "voice"),
        TimedOut(0.0, "d", "alone", "voice", 0.0, "no agent"),
    ]
    assert h.router.submitted == 2 and h.router.timed_out == 1


def test_skip_if_no_agent_counts_busy_and_not_ready_agents() -> None:
    # Load and readiness are ignored: someone qualified is logged in, so it waits.
    h = RouterHarness()
    h.queue("q", skip_if_no_agent=True, max_wait=600)
    h.agent("a", queues={"q"}, presence=Presence.NOT_READY)
    assert h.submit("c") == [Queued(0.0, "c", "q", "voice")]
    assert h.advance(100) == []
    assert waiting(h) == ["c"]


@pytest.mark.parametrize("how", ["log off", "remove", "capacity 0", "exclusion"])
def test_last_qualified_agent_leaving_skips_waiting_contacts_at_once(how: str) -> None:
    h = RouterHarness()
    h.queue("backup")
    h.queue("q", skip_if_no_agent=True, overflow="backup")
    h.agent("a", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("outsider", presence=Presence.NOT_READY)  # logged in, not a member
    h.agent("b", queues={"backup"}, presence=Presence.NOT_READY)
    h.submit("c1", customer_id="cust")
    h.submit("c2", customer_id="cust")
    assert waiting(h, "q") == ["c1", "c2"]
    h.clock.advance(5)
    if how == "log off":
        events = h.router.set_presence("a", Presence.OFFLINE)
    elif how == "remove":
        events = h.router.remove_agent("a")
    elif how == "capacity 0":
        events = h.router.set_capacity("a", "voice", 0)
    else:
        events = h.router.add_exclusion("cust", "a")
    overflowed = [e for e in events if isinstance(e, Overflowed)]
    assert overflowed == [
        Overflowed(5.0, "c1", "q", "backup", 5.0, "no agent", True),
        Overflowed(5.0, "c2", "q", "backup", 5.0, "no agent", True),
    ]
    assert waiting(h, "backup") == ["c1", "c2"]


@pytest.mark.parametrize("how", ["wait over", "declined"])
def test_skip_if_no_agent_when_a_reservation_for_an_outsider_ends(how: str) -> None:
    # While it waits for its preferred agent (logged in, not a member of the
    # queue) the contact is held for that agent. Once the reservation ends no
    # logged-in agent could ever take it, so it must not wait for ever.
    h = RouterHarness()
    h.queue("q", skip_if_no_agent=True)
    presence = Presence.NOT_READY if how == "wait over" else Presence.AVAILABLE
    h.agent("pref", presence=presence)
    h.submit("c", preferred_agent="pref", preferred_wait=30)
    events = h.advance(30) if how == "wait over" else h.router.reject("c", "pref")
    at = h.router.now
    assert events[-1] == TimedOut(at, "c", "q", "voice", at, "no agent")
    assert h.router.contact_ids == []


def test_overflow_cycle_of_unstaffed_queues_ends_in_timed_out() -> None:
    h = RouterHarness()
    h.router.add_queues(
        [
            QueueConfig("A", overflow="B", skip_if_no_agent=True),
            QueueConfig("B", overflow="A", skip_if_no_agent=True),
        ]
    )
    events = h.submit("c", queue="A")
    assert events == [
        Queued(0.0, "c", "A", "voice"),
        Overflowed(0.0, "c", "A", "B", 0.0, "no agent", True),
        TimedOut(0.0, "c", "B", "voice", 0.0, "no agent"),
    ]
    assert h.router.contact_ids == []


def test_max_wait_cycle_between_staffed_but_busy_queues_keeps_going() -> None:
    # Only the no-agent skip stops a cycle: a max wait cycle moves on each time.
    h = RouterHarness()
    h.router.add_queues(
        [QueueConfig("A", max_wait=10, overflow="B"), QueueConfig("B", max_wait=10, overflow="A")]
    )
    h.submit("c", queue="A")
    events = h.advance(25)
    assert [(e.from_queue, e.to_queue, e.at) for e in events if isinstance(e, Overflowed)] == [
        ("A", "B", 10.0),
        ("B", "A", 20.0),
    ]
    assert h.router.contact("c").queue == "A"


# ================================================================ 6. admission


def test_admission_refuses_a_contact_nobody_could_answer() -> None:
    # Complaint: "callers were queued at night with no agent logged in".
    router = Router(ManualClock())
    router.add_queue(QueueConfig("support", admission=Admission.LOGGED_IN))
    events = router.submit(Contact("c1", "voice", "support"))
    assert events == [Refused(0.0, "c1", "support", "voice", "no agent logged in")]
    assert router.contact_ids == []
    # Someone logs in, even on a break: contacts are admitted and wait for them.
    router.add_agent(Agent("ann", queues={"support"}), Presence.NOT_READY)
    events = router.submit(Contact("c2", "voice", "support"))
    assert events == [Queued(0.0, "c2", "support", "voice")]


def test_max_size_refuses_with_queue_full() -> None:
    h = RouterHarness()
    h.queue("q", max_size=2)
    h.submit("c1")
    h.submit("c2")
    assert h.submit("c3") == [Refused(0.0, "c3", "q", "voice", "queue full")]
    assert waiting(h) == ["c1", "c2"]
    assert h.router.submitted == 2


def test_logged_in_admission_counts_only_members_of_the_queue() -> None:
    h = RouterHarness()
    h.queue("other")
    h.queue("q", admission=Admission.LOGGED_IN)
    h.agent("elsewhere", queues={"other"})
    assert h.submit("c") == [Refused(0.0, "c", "q", "voice", "no agent logged in")]
    h.agent("member", queues={"q"}, presence=Presence.OFFLINE)
    assert h.submit("c") == [Refused(0.0, "c", "q", "voice", "no agent logged in")]
    h.router.set_presence("member", Presence.NOT_READY)
    assert h.submit("c") == [Queued(0.0, "c", "q", "voice")]


def test_eligible_admission_needs_a_logged_in_agent_with_the_skills() -> None:
    h = RouterHarness()
    h.queue("q", admission=Admission.ELIGIBLE)
    h.agent("en", queues={"q"}, skills={"en": 9})
    events = h.submit("c1", requirements={"fr": 3})
    assert events == [Refused(0.0, "c1", "q", "voice", "no eligible agent")]
    h.agent("fr", queues={"q"}, skills={"fr": 2})  # level too low
    assert h.submit("c1", requirements={"fr": 3})[0].reason == "no eligible agent"
    h.agent("fr5", queues={"q"}, skills={"fr": 5})
    h.submit("first", requirements={"fr": 3})
    h.router.accept("first", "fr5")  # the only French speaker is now busy
    assert h.submit("second", requirements={"fr": 3}) == [Queued(0.0, "second", "q", "voice")]
    assert waiting(h) == ["second"]


def test_eligible_admission_ignores_excluded_agents() -> None:
    h = RouterHarness()
    h.queue("q", admission=Admission.ELIGIBLE)
    h.agent("a", queues={"q"})
    events = h.submit("c", excluded_agents={"a"})
    assert events == [Refused(0.0, "c", "q", "voice", "no eligible agent")]


def test_transfers_ignore_admission_and_size() -> None:
    h = RouterHarness()
    h.queue("q")
    h.queue("closed", admission=Admission.LOGGED_IN, max_size=0)
    h.submit("c")
    events = h.router.transfer("c", queue="closed")
    assert events == [Transferred(0.0, "c", "q", "closed", None, None, True)]
    assert waiting(h, "closed") == ["c"]


# =================================================================== 7. rejoin


def test_rejoin_gives_a_returning_caller_their_place_back() -> None:
    # Complaint: "I was first in line, my call dropped, and I had to start over".
    clock = ManualClock()
    router = Router(clock)
    router.add_queue(QueueConfig("sales", rejoin_window=300))
    router.submit(Contact("call-1", "voice", "sales", customer_id="alice"))
    clock.advance(10)
    router.submit(Contact("bob", "voice", "sales", customer_id="bob"))
    router.submit(Contact("carol", "voice", "sales", customer_id="carol"))
    assert router.position("call-1") == 1
    clock.advance(50)
    router.abandon("call-1")  # the line dropped at position 1 of 3
    clock.advance(60)
    events = router.submit(Contact("call-2", "voice", "sales", customer_id="alice"))
    assert events == [
        Queued(120.0, "call-2", "sales", "voice"),
        Rejoined(120.0, "call-2", "call-1", "sales"),
    ]
    assert router.position("call-2") == 1
    assert [c.id for c in router.waiting("sales")] == ["call-2", "bob", "carol"]


def test_rejoin_after_the_window_goes_to_the_back() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=120)
    h.submit("call-1", customer_id="alice")
    h.submit("bob", customer_id="bob")
    h.clock.advance(30)
    h.router.abandon("call-1")
    h.clock.advance(121)
    events = h.submit("call-2", customer_id="alice")
    assert events == [Queued(151.0, "call-2", "q", "voice")]
    assert waiting(h) == ["bob", "call-2"]


def test_rejoin_applies_only_to_the_same_queue() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=120)
    h.queue("other", rejoin_window=120)
    h.submit("call-1", customer_id="alice")
    h.submit("olga", queue="other")
    h.router.abandon("call-1")
    events = h.submit("call-2", queue="other", customer_id="alice")
    assert not any(isinstance(e, Rejoined) for e in events)
    assert waiting(h, "other") == ["olga", "call-2"]
    # The place in q is still kept for alice.
    h.submit("bob")
    events = h.submit("call-3", customer_id="alice")
    assert events[-1] == Rejoined(0.0, "call-3", "call-1", "q")
    assert waiting(h, "q") == ["call-3", "bob"]


def test_rejoin_is_used_once() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=120)
    h.submit("call-1", customer_id="alice")
    h.submit("bob")
    h.router.abandon("call-1")
    h.clock.advance(1)
    assert h.submit("call-2", customer_id="alice")[-1] == Rejoined(1.0, "call-2", "call-1", "q")
    events = h.submit("call-3", customer_id="alice")  # a second contact: no place to take
    assert events == [Queued(1.0, "call-3", "q", "voice")]
    assert waiting(h) == ["call-2", "bob", "call-3"]


def test_rejoined_contact_abandoned_again_keeps_the_place_again() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=120)
    h.submit("call-1", customer_id="alice")
    h.submit("bob")
    h.router.abandon("call-1")
    h.submit("call-2", customer_id="alice")
    h.clock.advance(100)
    h.router.abandon("call-2")
    h.clock.advance(100)  # 200 s after the first abandon, 100 after the second
    assert h.submit("call-3", customer_id="alice")[-1] == Rejoined(200.0, "call-3", "call-2", "q")
    assert waiting(h) == ["call-3", "bob"]


def test_rejoin_after_abandoning_while_offered() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=120)
    h.agent("a", queues={"q"})
    h.submit("call-1", customer_id="alice")  # offered to a at once
    h.submit("bob")
    h.submit("carol")
    h.router.abandon("call-1")  # a takes bob instead
    assert h.offers()[-1] == ("bob", "a")
    h.submit("call-2", customer_id="alice")
    assert waiting(h) == ["call-2", "carol"]
    assert isinstance(h.events[-1], Rejoined)


def test_no_rejoin_without_a_customer_id_or_a_window() -> None:
    h = RouterHarness()
    h.queue("q")  # no rejoin window
    h.submit("call-1", customer_id="alice")
    h.submit("bob")
    h.router.abandon("call-1")
    h.submit("call-2", customer_id="alice")
    assert waiting(h) == ["bob", "call-2"]
    assert not any(isinstance(e, Rejoined) for e in h.events)


# ================================================================= 8. fairness


def test_queue_delay_lets_the_home_team_answer_first() -> None:
    # Complaint: "the support agents who help out in sales took sales calls even
    # when the sales team was free".
    clock = ManualClock()
    router = Router(clock)
    router.add_queue(QueueConfig("sales", offer_timeout=None))
    router.add_agent(Agent("helper", queues={"sales"}, queue_delays={"sales": 30}))
    router.add_agent(Agent("seller", queues={"sales"}))
    router.set_presence("helper", Presence.AVAILABLE)  # idle longer than seller
    clock.advance(5)
    router.set_presence("seller", Presence.AVAILABLE)
    events = router.submit(Contact("s1", "voice", "sales"))
    assert [(e.contact_id, e.agent_id) for e in events if isinstance(e, Offered)] == [
        ("s1", "seller")
    ]
    assert events[-1].reason.held_back == ("queue delay",)
    router.submit(Contact("s2", "voice", "sales"))  # seller is busy: s2 waits
    why = router.explain("s2")
    assert why.eligible == ()
    assert [(v.agent_id, v.reasons) for v in why.not_eligible] == [
        ("helper", (NotEligible.QUEUE_DELAY,)),
        ("seller", (NotEligible.NO_CAPACITY,)),
    ]
    assert why.held_back == (NotEligible.QUEUE_DELAY,)
    clock.advance(29)
    assert router.tick().events == []
    clock.advance(1)  # s2 has waited 30 s in sales: the helper may take it now
    events = router.tick().events
    assert [(e.contact_id, e.agent_id, e.at) for e in events if isinstance(e, Offered)] == [
        ("s2", "helper", 35.0)
    ]


def test_agent_in_two_queues_gets_the_longest_waiting_across_both() -> None:
    h = RouterHarness()
    h.queue("sales")
    h.queue("support")
    h.submit("s1", queue="sales")
    h.clock.advance(5)
    h.submit("p1", queue="support")
    h.clock.advance(5)
    h.submit("s2", queue="sales")
    h.agent("a", queues={"sales", "support"})
    for contact_id in ("s1", "p1"):
        h.router.accept(contact_id, "a")
        h.router.complete(contact_id)
    assert h.offers() == [("s1", "a"), ("p1", "a"), ("s2", "a")]


def test_queue_priority_seconds_gives_a_head_start_in_seconds() -> None:
    h = RouterHarness()
    h.queue("sales")
    h.queue("support", priority_seconds=60)
    h.submit("sale", queue="sales")  # key 0
    h.clock.advance(30)
    h.submit("ticket", queue="support")  # 30 s newer, key 30 - 60 = -30
    h.clock.advance(40)
    h.submit("late-ticket", queue="support")  # 70 - 60 = 10: behind "sale"
    assert h.router.contact("ticket").key < h.router.contact("sale").key
    assert waiting(h) == ["ticket", "sale", "late-ticket"]
    h.agent("a", queues={"sales", "support"})
    assert h.offers() == [("ticket", "a")]


def test_queue_priority_adds_to_the_contacts_own_priority() -> None:
    h = RouterHarness()
    h.queue("sales")
    h.queue("support", priority_seconds=60)
    h.clock.advance(100)
    h.submit("vip-sale", queue="sales", priority_seconds=50)  # 100 - 50 = 50
    h.submit("vip-ticket", queue="support", priority_seconds=50)  # 100 - 110 = -10
    h.clock.advance(5)
    h.submit("ticket", queue="support")  # 105 - 60 = 45
    assert waiting(h) == ["vip-ticket", "ticket", "vip-sale"]


def test_queue_delay_applies_only_to_its_queue_and_counts_from_entering_it() -> None:
    h = RouterHarness()
    h.queue("support")
    h.queue("sales", max_wait=20, overflow="support")
    h.agent("helper", queues={"sales", "support"}, queue_delays={"sales": 30})
    h.submit("ticket", queue="support")
    assert h.offers() == [("ticket", "helper")]  # no delay on support
    h.router.accept("ticket", "helper")
    h.router.complete("ticket")
    h.submit("sale", queue="sales")
    assert h.offers() == [("ticket", "helper")]
    explanation = h.router.explain("sale")
    assert explanation.not_eligible[0].reasons == (NotEligible.QUEUE_DELAY,)
    events = h.advance(20)  # overflows to support before the delay passes
    assert isinstance(events[0], Overflowed)
    assert h.offers(events) == [("sale", "helper")]


def test_queue_delay_of_an_agent_logging_in_later_counts_from_the_contacts_arrival() -> None:
    h = RouterHarness()
    h.queue("sales")
    h.submit("s", queue="sales")
    h.clock.advance(10)
    h.agent("helper", queues={"sales"}, queue_delays={"sales": 30})
    assert h.offers() == []
    explanation = h.router.explain_agent("helper")
    assert [(v.contact_id, v.reasons) for v in explanation.contacts] == [
        ("s", (NotEligible.QUEUE_DELAY,))
    ]
    assert h.advance(19) == []
    events = h.advance(1)  # 30 s after the contact queued, 20 after the agent came
    assert [type(e) for e in events] == [Offered]
    assert (events[0].contact_id, events[0].agent_id, events[0].at) == ("s", "helper", 30.0)
    assert events[0].reason.held_back == ()


def test_queue_delays_ending_at_one_instant_route_in_key_order() -> None:
    # Both delays end at 7; the later-set timer belongs to the contact with the
    # smaller key, and the helper, free for one call, must take that one.
    h = RouterHarness()
    h.queue("support")
    h.agent("helper", queues={"support"}, queue_delays={"support": 5})
    h.submit("older", queue="support")
    h.submit("newer", queue="support")
    h.clock.advance(2)
    h.router.transfer("newer", queue="support", keep_key=False)  # delay timer at 7
    h.router.transfer("older", queue="support", keep_key=True)  # delay timer at 7, set later
    assert waiting(h, "support") == ["older", "newer"]
    assert h.offers() == []
    events = h.advance(5)
    assert [(e.contact_id, e.agent_id, e.at) for e in events if isinstance(e, Offered)] == [
        ("older", "helper", 7.0)
    ]
    assert waiting(h, "support") == ["newer"]


def test_queue_delay_ending_with_the_max_wait_offers_before_the_overflow() -> None:
    # At 22.5 both contacts have waited 20 s in sales: the helper's delay ends
    # and their maximum wait passes. The delay ends first, so the helper takes
    # the contact first in line (c4) in sales; c5 overflows. Before, c4 overflowed
    # first (a new key) and was offered to the helper while c5, ahead of it in
    # line and no longer delayed, waited.
    h = RouterHarness()
    h.router.add_queues(
        [
            QueueConfig("sales", max_wait=20, overflow="support", overflow_keep_key=False),
            QueueConfig("support"),
        ]
    )
    h.agent("a1", queues={"sales"})
    h.submit("c1", queue="sales")
    assert h.offers() == [("c1", "a1")]
    h.clock.advance(1)
    h.agent("a3", queues={"sales", "support"}, queue_delays={"sales": 20})
    h.clock.advance(1.5)
    h.submit("c4", queue="sales")
    h.submit("c5", queue="sales")
    events = h.advance(20)
    assert [
        (type(e).__name__, e.contact_id, getattr(e, "agent_id", None), e.at) for e in events
    ] == [("Offered", "c4", "a3", 22.5), ("Overflowed", "c5", None, 22.5)]
    assert events[0].queue == "sales"
    assert h.router.contact("c4").state is ContactState.OFFERED
    assert waiting(h) == ["c5"]
    assert h.router.contact("c5").queue == "support"
    # c4's maximum wait passed while it was offered: it keeps the offer.
    h.router.accept("c4", "a3")
    assert h.router.contact("c4").state is ContactState.IN_SERVICE


def test_negative_queue_delay_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"agent 'helper'.*'sales'"):
        Agent("helper", queues={"sales"}, queue_delays={"sales": -5})


# ========================================================== 9. custom strategy


class ByLanguage:
    """Score an agent by its level in the language the customer speaks."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        return agent.skills.get(contact.attributes["language"], 0)


def test_custom_strategy_picks_the_agent_it_scores_highest() -> None:
    # Complaint: "we could not route on our own rule without forking the router".
    router = Router(ManualClock(), strategies={"by-language": ByLanguage()})
    router.add_queue(QueueConfig("help", strategy="by-language"))
    router.add_agent(Agent("ana", queues={"help"}, skills={"fr": 3, "en": 9}), Presence.AVAILABLE)
    router.add_agent(Agent("bea", queues={"help"}, skills={"fr": 8}), Presence.AVAILABLE)
    router.add_agent(Agent("cyd", queues={"help"}, skills={"en": 10}), Presence.AVAILABLE)
    events = router.submit(Contact("c1", "voice", "help", attributes={"language": "fr"}))
    offer = events[-1]
    assert (offer.contact_id, offer.agent_id) == ("c1", "bea")
    assert offer.reason == OfferReason(
        strategy="by-language",
        trigger="contact",
        eligible=3,
        score=8.0,
        runner_up=3.0,
        step=0,
        held_back=(),
    )
    events = router.submit(Contact("c2", "voice", "help", attributes={"language": "en"}))
    assert (events[-1].agent_id, events[-1].reason.score, events[-1].reason.runner_up) == (
        "cyd",
        10.0,
        9.0,
    )
    assert router.strategy_failures == 0


def test_custom_strategy_ties_go_to_the_smaller_agent_id() -> None:
    class Flat:
        def score(self, contact: ContactView, agent: AgentView) -> float:
            return 1.0

    h = RouterHarness(strategies={"flat": Flat()})
    h.queue("q", strategy="flat")
    for agent_id in ("m", "k", "z"):
        h.agent(agent_id, queues={"q"})
    h.submit("c")
    assert h.offers() == [("c", "k")]


class Raising:
    def score(self, contact: ContactView, agent: AgentView) -> float:
        raise RuntimeError("CRM down")


class NotANumber:
    def score(self, contact: ContactView, agent: AgentView) -> float:
        return math.nan


class Junk:
    def score(self, contact: ContactView, agent: AgentView) -> object:
        return "high"


class _PluginsOwn(BaseException):
    """A BaseException of a plugin's own, neither Exception nor a cancellation."""


class RaisingBase:
    """Plugin code raising what ``except Exception`` does not catch."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc

    def __repr__(self) -> str:
        return f"RaisingBase({self.exc.__name__})"

    def score(self, contact: ContactView, agent: AgentView) -> float:
        raise self.exc("the plugin's own")


@pytest.mark.parametrize(
    "strategy",
    [
        Raising(),
        NotANumber(),
        Junk(),
        *(RaisingBase(e) for e in (SystemExit, KeyboardInterrupt, GeneratorExit, _PluginsOwn)),
    ],
    ids=repr,
)
def test_failing_strategy_falls_back_to_longest_idle_and_is_counted(strategy: object) -> None:
    h = RouterHarness(strategies={"flaky": strategy})
    h.queue("q", strategy="flaky")
    h.agent("b", queues={"q"})  # idle since 0
    h.clock.advance(5)
    h.agent("a", queues={"q"})  # idle since 5
    h.clock.advance(5)
    events = h.submit("c1")
    assert h.offers(events) == [("c1", "b")]
    assert h.router.strategy_failures == 1
    reason = events[-1].reason
    assert (reason.strategy, reason.eligible, reason.score) == ("flaky", 2, None)
    h.submit("c2")  # one eligible agent left: the strategy is not asked
    assert h.offers()[-1] == ("c2", "a")
    assert h.router.strategy_failures == 1


def test_unknown_custom_strategy_is_refused_and_changes_nothing() -> None:
    h = RouterHarness(strategies={"by-language": ByLanguage()})
    before = snapshot(h.router)
    with pytest.raises(UnknownIdError, match="unknown strategy 'by-lang'"):
        h.queue("q", strategy="by-lang")
    assert snapshot(h.router) == before
    with pytest.raises(InvalidValueError, match="'broken'"):
        Router(ManualClock(), strategies={"broken": object()})


def test_builtin_strategies_explain_their_choice() -> None:
    h = RouterHarness()
    h.queue("skilled", strategy=Strategy.MOST_SKILLED)
    h.agent("a", queues={"skilled"}, skills={"en": 9, "billing": 2})  # 11
    h.agent("b", queues={"skilled"}, skills={"en": 6, "billing": 6})  # 12
    h.agent("c", queues={"skilled"}, skills={"en": 10, "billing": 1, "fr": 10})  # 11
    events = h.submit("x", queue="skilled", requirements={"en": 1, "billing": 1})
    assert events[-1].reason == OfferReason("most-skilled", "contact", 3, 12.0, 11.0, 0, ())


def test_longest_idle_scores_seconds_idle() -> None:
    h = RouterHarness()
    h.queue("q", strategy=Strategy.LONGEST_IDLE)
    h.agent("b", queues={"q"})
    h.clock.advance(5)
    h.agent("a", queues={"q"})
    h.clock.advance(5)
    events = h.submit("c")
    assert events[-1].reason == OfferReason("longest-idle", "contact", 2, 10.0, 5.0, 0, ())


@pytest.mark.parametrize("strategy", [Strategy.ROUND_ROBIN, Strategy.RANDOM])
def test_strategies_without_a_score_give_none(strategy: Strategy) -> None:
    h = RouterHarness()
    h.queue("q", strategy=strategy)
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"})
    events = h.submit("c")
    reason = events[-1].reason
    assert (reason.strategy, reason.eligible, reason.score, reason.runner_up) == (
        strategy.value,
        2,
        None,
        None,
    )


def test_least_occupied_and_fewest_handled_scores() -> None:
    h = RouterHarness()
    h.queue("lo", strategy=Strategy.LEAST_OCCUPIED)
    h.queue("fh", strategy=Strategy.FEWEST_HANDLED, wrap_up=0)
    h.agent("a", queues={"lo", "fh"}, capacity={"chat": 4})
    h.agent("b", queues={"lo", "fh"}, capacity={"chat": 2})
    h.submit("c1", channel="chat", queue="lo")  # tie at 1.0: a
    events = h.submit("c2", channel="chat", queue="lo")  # a 1 - 1/4, b 1.0: b
    assert events[-1].reason == OfferReason("least-occupied", "contact", 2, 1.0, 0.75, 0, ())
    for contact_id, agent_id in (("c1", "a"), ("c2", "b")):
        h.router.accept(contact_id, agent_id)
        h.router.complete(contact_id)
    h.router.accept(h.submit("c3", channel="chat", queue="fh")[-1].contact_id, "a")
    events = h.submit("c4", channel="chat", queue="fh")  # a handled 2, b 1
    assert events[-1].reason == OfferReason("fewest-handled", "contact", 2, -1.0, -2.0, 0, ())


def test_offer_reason_counts_the_steps_applied() -> None:
    h = RouterHarness()
    h.queue("q", strategy=Strategy.MOST_SKILLED, steps=[RoutingStep(after=10, requirements={})])
    h.queue("r", strategy=Strategy.MOST_SKILLED, steps=[RoutingStep(after=10, queues={"q"})])
    h.agent("a", queues={"q"}, skills={"en": 4})
    h.submit("c", queue="r", requirements={"en": 2})
    events = h.advance(10)
    assert events[-1].reason == OfferReason("most-skilled", "contact", 1, 4.0, None, 1, ())


# ================================================================ validation


def test_bad_policy_values_are_refused_with_the_id() -> None:
    with pytest.raises(InvalidValueError, match=r"queue 'q'.*max_wait"):
        QueueConfig("q", max_wait=0)
    with pytest.raises(InvalidValueError, match=r"contact 'c'.*max_wait"):
        Contact("c", "voice", "q", max_wait=0)
    with pytest.raises(InvalidValueError, match=r"queue 'q'.*admission"):
        QueueConfig("q", admission="logged-in")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match=r"queue 'q'.*rejoin_window"):
        QueueConfig("q", rejoin_window=-1)
    with pytest.raises(InvalidValueError, match=r"queue 'q'.*priority_seconds"):
        QueueConfig("q", priority_seconds=math.inf)


def test_unknown_overflow_queue_is_refused_and_changes_nothing() -> None:
    h = RouterHarness()
    h.queue("q")
    before = snapshot(h.router)
    with pytest.raises(UnknownIdError, match="unknown queue 'nowhere'"):
        h.queue("billing", max_wait=60, overflow="nowhere")
    with pytest.raises(UnknownIdError, match="unknown queue 'nowhere'"):
        h.router.add_queues([QueueConfig("a"), QueueConfig("b", overflow="nowhere")])
    assert snapshot(h.router) == before
    assert h.router.queues == ["q"]
    # Queues added together may name each other.
    h.router.add_queues([QueueConfig("a", overflow="b"), QueueConfig("b", overflow="a")])
    assert h.router.queues == ["q", "a", "b"]


def test_queue_delay_for_an_unknown_queue_is_refused_and_changes_nothing() -> None:
    h = RouterHarness()
    h.queue("q")
    before = snapshot(h.router)
    with pytest.raises(UnknownIdError, match="unknown queue 'sales'"):
        h.agent("a", queues={"q"}, queue_delays={"sales": 30})
    assert snapshot(h.router) == before


# ===================================================================== docs

EXAMPLES: dict[str, object] = {
    "max-wait.md": test_max_wait_moves_an_unstaffed_queue_to_its_backup,
    "admission.md": test_admission_refuses_a_contact_nobody_could_answer,
    "rejoin.md": test_rejoin_gives_a_returning_caller_their_place_back,
    "fairness.md": test_queue_delay_lets_the_home_team_answer_first,
    "custom-strategy.md": (ByLanguage, test_custom_strategy_picks_the_agent_it_scores_highest),
}


@pytest.mark.parametrize("page", sorted(EXAMPLES))
def test_docs_show_the_examples(page: str) -> None:
    shown = EXAMPLES[page]
    text = (DOCS / page).read_text()
    for obj in shown if isinstance(shown, tuple) else (shown,):
        source = textwrap.dedent(inspect.getsource(obj))
        assert source in text, f"docs/policies/{page} no longer shows {obj.__name__} as tested"
