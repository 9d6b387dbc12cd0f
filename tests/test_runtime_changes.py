"""Idempotent set-up and runtime changes (docs/runtime-changes.md).

Declaring a channel, queue or agent again as it is held does nothing; with
other settings it raises and names the update command. ``update_queue``,
``update_agent`` and ``update_contact`` change what is held without removing
anything, and route what became routable. Router tests run against both
queue implementations; the service tests run the same set-up code across a
restart on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ccroute import (
    Accepted,
    Agent,
    AgentUpdated,
    CCRouteError,
    Channel,
    ChannelKind,
    Contact,
    ContactState,
    ContactUpdated,
    DuplicateIdError,
    Event,
    HistoryRecord,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    MemoryStorage,
    Offered,
    Presence,
    QueueConfig,
    QueueUpdated,
    Router,
    RoutingStep,
    Service,
    StepApplied,
    Strategy,
    TimedOut,
    UnknownIdError,
    hookimpl,
)
from ccroute.commands import UpdateAgent, UpdateContact, UpdateQueue
from ccroute.storage import LogRecord
from ccroute.testing import RouterHarness, check_queue, offers, snapshot

pytestmark = pytest.mark.usefixtures("queue_factory")


# ------------------------------------------------------------ set-up again

QUEUES = [
    QueueConfig("support", strategy=Strategy.MOST_SKILLED, offer_timeout=20, wrap_up=10),
    QueueConfig("sales", max_wait=60, overflow="support"),
]
ANN = Agent("ann", skills={"en": 9}, queues={"support"}, capacity={"voice": 1, "chat": 2})
BOB = Agent("bob", skills={"en": 5, "fr": 7}, queues={"support", "sales"})
FAX = Channel("fax", ChannelKind.ASYNCHRONOUS, default_capacity=2, unit_cost=10)


def set_up(router: Router) -> list[Event]:
    """Set-up code as an application runs it at every start."""
    events = router.add_channel(FAX)
    events += router.add_queues(QUEUES)
    events += router.add_agent(ANN, Presence.AVAILABLE)
    events += router.add_agent(BOB, Presence.AVAILABLE)
    return events


def test_running_the_set_up_again_changes_nothing() -> None:
    h = RouterHarness()
    set_up(h.router)
    h.submit("c1", queue="support")  # offered to ann, with a 20 s timeout
    h.submit("c2", channel="chat", queue="sales")
    h.router.set_presence("bob", Presence.NOT_READY, "break")
    h.clock.advance(25)  # the offer's timeout is due, and not yet applied
    before, seen = snapshot(h.router), len(h.events)
    assert set_up(h.router) == []
    # the same declarations one by one, and a built-in channel
    assert h.router.add_queue(QUEUES[0]) == []
    assert h.router.add_agent(BOB) == []  # bob keeps his break: presence is his own
    assert h.router.add_agent(ANN, Presence.NOT_READY) == []
    assert h.router.add_channel(Channel("voice", ChannelKind.SYNCHRONOUS, 1, 100)) == []
    # nothing changed, not even the due timer, and observers saw nothing
    assert snapshot(h.router) == before
    assert len(h.events) == seen
    assert h.router.agent("bob").presence is Presence.NOT_READY
    check_queue(h.router)


def test_a_no_op_declaration_runs_no_timer_and_keeps_the_time() -> None:
    h = RouterHarness()
    set_up(h.router)
    h.submit("c1", queue="support")
    h.clock.advance(25)
    before = snapshot(h.router)
    assert set_up(h.router) == []
    assert snapshot(h.router) == before
    assert h.router.now == 0.0 and h.router.next_due() == 20.0
    check_queue(h.router)


def test_add_queues_adds_the_new_queues_beside_those_held() -> None:
    router = Router(ManualClock())
    router.add_queues(QUEUES)
    router.add_queues([*QUEUES, QueueConfig("billing", overflow="sales")])
    assert router.queues == ["support", "sales", "billing"]
    assert router.queue_config("billing").overflow == "sales"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda r: r.add_agent(Agent("ann", skills={"en": 9}, queues={"support"})),
            "duplicate agent id 'ann': an agent with this id already exists; it has other "
            "settings: change them with update_agent",
        ),
        (
            lambda r: r.add_queue(QueueConfig("support")),
            "duplicate queue id 'support': a queue with this id already exists; it has other "
            "settings: change them with update_queue",
        ),
        (
            lambda r: r.add_queues([QUEUES[1], QueueConfig("billing"), QueueConfig("support")]),
            "duplicate queue id 'support': a queue with this id already exists",
        ),
        (
            lambda r: r.add_queues([QueueConfig("new"), QueueConfig("new")]),
            "duplicate queue id 'new': a queue with this id already exists; the call names it",
        ),
        (
            lambda r: r.add_channel(Channel("fax", ChannelKind.ASYNCHRONOUS)),
            "duplicate channel id 'fax': a channel with this id already exists; it has other "
            "settings, and a channel cannot be changed",
        ),
    ],
)
def test_other_settings_under_a_known_id_raise_and_name_the_update(
    call: Callable[[Router], Any], message: str
) -> None:
    h = RouterHarness()
    set_up(h.router)
    h.submit("c1", queue="support")
    h.clock.advance(25)
    before = snapshot(h.router)
    with pytest.raises(DuplicateIdError) as caught:
        call(h.router)
    assert str(caught.value).startswith(message)
    assert snapshot(h.router) == before  # the time and the due timer included


def test_an_agent_with_other_capacities_is_another_declaration() -> None:
    # Agent equality leaves capacities out; a declaration does not.
    router = Router(ManualClock())
    set_up(router)
    with pytest.raises(DuplicateIdError, match="update_agent"):
        router.add_agent(Agent("ann", skills={"en": 9}, queues={"support"}, capacity={"voice": 1}))
    with pytest.raises(DuplicateIdError):
        router.add_agent(
            Agent("bob", skills={"en": 5, "fr": 7}, queues={"support", "sales"}, capacity={})
        )


def test_a_redeclaration_with_a_bad_presence_is_refused() -> None:
    router = Router(ManualClock())
    set_up(router)
    with pytest.raises(InvalidValueError, match="presence"):
        router.add_agent(ANN, "available")  # type: ignore[arg-type]


# ------------------------------------------------------------ update_agent


def test_an_agent_gaining_a_skill_is_offered_a_waiting_contact_at_once() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, skills={"en": 5})
    h.submit("c1", requirements={"fr": 4})
    assert h.router.contact("c1").state is ContactState.WAITING
    h.clock.advance(5)
    events = h.router.update_agent(Agent("ann", queues={"q"}, skills={"en": 5, "fr": 4}))
    assert events[0] == AgentUpdated(5.0, "ann", ("skills",))
    assert offers(events) == [("c1", "ann")]
    view = h.router.agent("ann")
    assert view.skills == {"en": 5, "fr": 4} and view.presence is Presence.AVAILABLE
    check_queue(h.router)


def test_an_agent_losing_capacity_keeps_its_work_and_gets_no_new_offers() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, capacity={"chat": 3})
    for i in (1, 2):
        h.submit(f"chat{i}", channel="chat")
    h.router.accept("chat1", "ann")  # chat2 stays offered
    before = snapshot(h.router)
    with pytest.raises(InvalidStateError, match="holds 2 chat contacts; capacity cannot go"):
        h.router.update_agent(Agent("ann", queues={"q"}, capacity={"chat": 1}))
    with pytest.raises(InvalidStateError, match="uses 66 units"):
        h.router.update_agent(Agent("ann", queues={"q"}, capacity={"chat": 3}, unit_budget=50))
    assert snapshot(h.router) == before
    events = h.router.update_agent(Agent("ann", queues={"q"}, capacity={"chat": 2}))
    assert events == [AgentUpdated(0.0, "ann", ("capacity",))]
    view = h.router.agent("ann")
    assert view.in_service == {"chat1"} and view.offered == {"chat2"}
    assert view.capacity["chat"] == 2 and view.load == {"chat": 2}
    assert offers(h.submit("chat3", channel="chat")) == []
    h.router.accept("chat2", "ann")
    h.router.update_agent(Agent("ann", queues={"q"}, capacity={"chat": 2}, unit_budget=66))
    assert offers(h.router.complete("chat1")) == [("chat3", "ann")]
    check_queue(h.router)


def test_an_agent_leaving_a_queue_keeps_its_open_offer_and_gets_no_new_one() -> None:
    h = RouterHarness()
    h.queue("sales", offer_timeout=None)
    h.queue("support", offer_timeout=None)
    h.agent("ann", queues={"sales", "support"}, capacity={"voice": 1, "chat": 2})
    h.submit("s1", queue="sales")
    events = h.router.update_agent(
        Agent("ann", queues={"support"}, capacity={"voice": 1, "chat": 2})
    )
    assert events == [AgentUpdated(0.0, "ann", ("queues",))]
    assert h.router.agent("ann").offered == {"s1"}
    assert offers(h.submit("s2", channel="chat", queue="sales")) == []
    assert offers(h.submit("t1", channel="chat", queue="support")) == [("t1", "ann")]
    # it may still answer the offer it kept
    assert isinstance(h.router.accept("s1", "ann")[0], Accepted)
    # a rejected offer does not come back to a non-member
    h.router.reject("t1", "ann")
    assert h.router.queue_stats("sales").logged_in == 0
    assert h.router.queue_stats("support").logged_in == 1
    check_queue(h.router)


def test_an_agent_update_keeps_presence_idle_time_and_reservations() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, capacity={"voice": 1})
    h.agent("bob", queues={"q"}, capacity={"voice": 1})
    h.submit("busy")  # ann (idle longest, by id) takes it
    h.submit("mine", preferred_agent="ann", preferred_wait=60)  # waits for ann
    h.router.set_presence("bob", Presence.NOT_READY)
    before = h.router.agent("ann")
    h.clock.advance(3)
    h.router.update_agent(Agent("ann", skills={"en": 3}, queues={"q"}, capacity={"voice": 1}))
    after = h.router.agent("ann")
    assert (after.presence, after.idle_since, after.offered) == (
        before.presence,
        before.idle_since,
        before.offered,
    )
    assert h.router.contact("mine").reserved_for == "ann"
    h.router.accept("busy", "ann")
    assert offers(h.router.complete("busy")) == [("mine", "ann")]
    check_queue(h.router)


def test_queue_delays_change_with_the_agent() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("helper", queues={"q"}, capacity={"voice": 1})
    h.router.update_agent(
        Agent("helper", queues={"q"}, capacity={"voice": 1}, queue_delays={"q": 30})
    )
    h.submit("c1")
    assert h.router.contact("c1").state is ContactState.WAITING
    h.clock.advance(10)
    # a shorter delay, already over: it is offered at once
    events = h.router.update_agent(
        Agent("helper", queues={"q"}, capacity={"voice": 1}, queue_delays={"q": 5})
    )
    assert offers(events) == [("c1", "helper")]
    h.router.reject("c1", "helper")
    h.submit("c2")
    h.clock.advance(20)
    assert offers(h.router.tick().events) == []  # the old 30 s delay is gone, 5 s has passed
    check_queue(h.router)


# ------------------------------------------------------------ update_queue


def test_a_queue_strategy_change_decides_the_next_choice() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, skills={"en": 3})  # idle longest
    h.clock.advance(1)
    h.agent("bob", queues={"q"}, skills={"en": 9})
    assert offers(h.submit("c1", requirements={"en": 1})) == [("c1", "ann")]
    h.router.abandon("c1")
    events = h.router.update_queue(
        QueueConfig("q", strategy=Strategy.MOST_SKILLED, offer_timeout=None)
    )
    assert events == [QueueUpdated(1.0, "q", ("strategy",))]
    assert offers(h.submit("c2", requirements={"en": 1})) == [("c2", "bob")]
    assert h.router.queue_config("q").strategy is Strategy.MOST_SKILLED


def test_new_steps_are_re_evaluated_from_each_contacts_entry() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, skills={"en": 5})
    h.submit("early", requirements={"fr": 5})
    h.clock.advance(20)
    h.submit("late", requirements={"fr": 5})
    h.clock.advance(10)  # early waited 30 s, late 10 s
    steps = [RoutingStep(15, requirements={"fr": None})]
    events = h.router.update_queue(QueueConfig("q", offer_timeout=None, steps=steps))
    # early is past the step: its requirement is gone at once, with no StepApplied
    assert events[0] == QueueUpdated(30.0, "q", ("steps",))
    assert offers(events) == [("early", "ann")]
    assert not [e for e in events if isinstance(e, StepApplied)]
    assert h.router.contact("early").steps_applied == 1
    # late gets it 15 s after its own entry
    view = h.router.contact("late")
    assert view.steps_applied == 0 and view.requirements == {"fr": 5}
    assert h.router.next_due() == 35.0
    h.clock.advance(5)
    assert [type(e) for e in h.router.tick().events] == [StepApplied]
    assert h.router.contact("late").requirements == {}
    check_queue(h.router)


def test_steps_removed_give_back_the_requirements_of_entry() -> None:
    h = RouterHarness()
    h.router.add_queues(
        [
            QueueConfig(
                "q",
                offer_timeout=None,
                steps=[RoutingStep(0, requirements={"en": 2}, queues={"q2"})],
            ),
            QueueConfig("q2"),
        ]
    )
    h.submit("c1", requirements={"fr": 5})
    assert h.router.contact("c1").queues == {"q", "q2"}
    h.router.update_queue(QueueConfig("q", offer_timeout=None))
    view = h.router.contact("c1")
    assert view.requirements == {"fr": 5}
    assert view.queues == {"q"} and view.steps_applied == 0
    check_queue(h.router)


def test_a_new_max_wait_counts_from_entry() -> None:
    h = RouterHarness()
    h.queue("q")
    h.queue("backup", offer_timeout=None)
    h.submit("old")
    h.clock.advance(40)
    h.submit("new")
    h.clock.advance(10)
    events = h.router.update_queue(QueueConfig("q", max_wait=30))
    assert events == [
        QueueUpdated(50.0, "q", ("max_wait",)),
        TimedOut(50.0, "old", "q", "voice", 50.0, "max wait"),
    ]
    h.clock.advance(20)
    assert h.router.tick().events == [TimedOut(70.0, "new", "q", "voice", 30.0, "max wait")]


def test_a_longer_max_wait_lets_an_offered_contact_stay() -> None:
    h = RouterHarness()
    h.queue("q", max_wait=10, offer_timeout=None)
    h.agent("ann", queues={"q"})
    h.submit("c1")
    h.clock.advance(15)  # its maximum wait passed while it was offered
    h.router.tick()
    h.router.update_queue(QueueConfig("q", max_wait=100, offer_timeout=None))
    events = h.router.reject("c1", "ann")
    # no longer overdue: back in line (and offered again, nobody else can take it)
    assert not [e for e in events if isinstance(e, TimedOut)]
    assert h.router.contact("c1").queue == "q"


def test_removing_a_blocking_matrix_routes_what_it_kept() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None, blocking={"voice": {"chat"}})
    h.agent("ann", queues={"q"}, capacity={"voice": 1, "chat": 2})
    h.submit("call")
    assert offers(h.submit("chat", channel="chat")) == []
    events = h.router.update_queue(QueueConfig("q", offer_timeout=None))
    assert offers(events) == [("chat", "ann")]
    events = h.router.update_queue(
        QueueConfig("q", offer_timeout=None, blocking={"voice": {"email"}})
    )
    assert offers(events) == []
    assert offers(h.submit("mail", channel="email")) == []
    check_queue(h.router)


def test_turning_on_skip_if_no_agent_moves_the_contacts_nobody_can_take() -> None:
    h = RouterHarness()
    h.queue("q")
    h.queue("backup")
    h.submit("c1")
    events = h.router.update_queue(QueueConfig("q", skip_if_no_agent=True, overflow="backup"))
    assert [type(e).__name__ for e in events] == ["QueueUpdated", "Overflowed"]
    assert h.router.contact("c1").queue == "backup"


def test_open_offers_keep_their_deadline_and_new_ones_get_the_new_timeout() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=30)
    h.agent("ann", queues={"q"})
    h.agent("bob", queues={"q"})
    [first] = [e for e in h.submit("c1") if isinstance(e, Offered)]
    h.router.update_queue(QueueConfig("q", offer_timeout=5))
    [second] = [e for e in h.submit("c2") if isinstance(e, Offered)]
    assert (first.timeout_at, second.timeout_at) == (30.0, 5.0)


# ---------------------------------------------------------- update_contact


def test_a_priority_change_moves_a_contact_in_line() -> None:
    h = RouterHarness()
    h.queue("q")
    for i, at in enumerate((0, 10, 20)):
        h.clock.set(at)
        h.submit(f"c{i}", priority_seconds=5)
    assert [v.id for v in h.router.waiting("q")] == ["c0", "c1", "c2"]
    key = h.router.contact("c2").key
    events = h.router.update_contact("c2", priority_seconds=30)
    assert events == [ContactUpdated(20.0, "c2", ("priority_seconds",))]
    # queued at 20 with a 30 s head start: as if it had arrived at -10
    assert h.router.contact("c2").key == (0, -10.0, key[2])
    assert [v.id for v in h.router.waiting("q")] == ["c2", "c0", "c1"]
    assert h.router.position("c2") == 1
    h.router.update_contact("c2", tier=1, priority_seconds=5)
    assert h.router.contact("c2").key == (-1, 15.0, key[2])
    h.router.update_contact("c2", tier=0)
    assert h.router.contact("c2").key == key  # back where it was, among equals too
    assert [v.id for v in h.router.waiting("q")] == ["c0", "c1", "c2"]
    check_queue(h.router)


def test_a_freed_agent_takes_the_contact_whose_priority_rose() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"})
    h.submit("busy")
    h.submit("first")
    h.submit("vip")
    h.router.update_contact("vip", priority_seconds=60)
    h.router.accept("busy", "ann")
    assert offers(h.router.complete("busy")) == [("vip", "ann")]


def test_a_requirements_change_makes_a_contact_routable_at_once() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, skills={"en": 4})
    h.submit("c1", requirements={"en": 8})
    h.clock.advance(3)
    events = h.router.update_contact("c1", requirements={"en": 4})
    assert events[0] == ContactUpdated(3.0, "c1", ("requirements",))
    assert offers(events) == [("c1", "ann")]
    assert h.router.contact("c1").requirements == {"en": 4}
    check_queue(h.router)


def test_new_requirements_keep_the_steps_already_applied() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None, steps=[RoutingStep(10, requirements={"en": None})])
    h.submit("c1", requirements={"en": 8, "fr": 3})
    h.clock.advance(10)
    h.router.tick()
    h.router.update_contact("c1", requirements={"en": 9, "de": 2})
    assert h.router.contact("c1").requirements == {"de": 2}
    # a transfer falls back to the new requirements
    h.router.transfer("c1")
    assert h.router.contact("c1").requirements == {"en": 9, "de": 2}


def test_attributes_are_replaced_in_any_live_state() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"})
    h.submit("c1", attributes={"subject": "help", "lang": "en"})
    h.router.accept("c1", "ann")
    events = h.router.update_contact("c1", attributes={"subject": "refund"})
    assert events == [ContactUpdated(0.0, "c1", ("attributes",))]
    assert dict(h.router.contact("c1").attributes) == {"subject": "refund"}
    # an offered contact keeps its offer when its priority or requirements change
    h.submit("c2", requirements={"en": 1})
    assert h.router.update_contact("c2", priority_seconds=10, requirements={"fr": 9}) == [
        ContactUpdated(0.0, "c2", ("requirements", "priority_seconds"))
    ]


def test_an_update_that_changes_nothing_is_a_no_op() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=20)
    h.agent("ann", queues={"q"}, skills={"en": 5})
    h.submit("c1", priority_seconds=5, requirements={"en": 2}, attributes={"a": 1})
    h.clock.advance(25)
    before = snapshot(h.router)
    assert h.router.update_queue(QueueConfig("q", offer_timeout=20)) == []
    assert h.router.update_agent(Agent("ann", queues={"q"}, skills={"en": 5})) == []
    assert h.router.update_contact("c1") == []
    assert (
        h.router.update_contact(
            "c1", priority_seconds=5, requirements={"en": 2}, attributes={"a": 1}, tier=0
        )
        == []
    )
    assert snapshot(h.router) == before


BAD_UPDATES: list[tuple[str, type[CCRouteError], Callable[[Router], object]]] = [
    ("unknown queue", UnknownIdError, lambda r: r.update_queue(QueueConfig("nowhere"))),
    (
        "unknown overflow",
        UnknownIdError,
        lambda r: r.update_queue(QueueConfig("q", overflow="nowhere")),
    ),
    (
        "unknown step queue",
        UnknownIdError,
        lambda r: r.update_queue(QueueConfig("q", steps=[RoutingStep(5, queues={"x"})])),
    ),
    (
        "unknown blocking channel",
        UnknownIdError,
        lambda r: r.update_queue(QueueConfig("q", blocking={"fax": {"voice"}})),
    ),
    (
        "unknown strategy",
        UnknownIdError,
        lambda r: r.update_queue(QueueConfig("q", strategy="by-mood")),
    ),
    ("not a config", InvalidValueError, lambda r: r.update_queue("q")),  # type: ignore[arg-type]
    ("unknown agent", UnknownIdError, lambda r: r.update_agent(Agent("nobody"))),
    (
        "agent in unknown queue",
        UnknownIdError,
        lambda r: r.update_agent(Agent("ann", queues={"x"})),
    ),
    (
        "agent on unknown channel",
        UnknownIdError,
        lambda r: r.update_agent(Agent("ann", queues={"q"}, capacity={"fax": 1})),
    ),
    (
        "agent delay in unknown queue",
        UnknownIdError,
        lambda r: r.update_agent(Agent("ann", queues={"q"}, queue_delays={"x": 3})),
    ),
    ("not an agent", InvalidValueError, lambda r: r.update_agent({"id": "ann"})),  # type: ignore[arg-type]
    ("unknown contact", UnknownIdError, lambda r: r.update_contact("nobody", tier=1)),
    ("bad level", InvalidValueError, lambda r: r.update_contact("c1", requirements={"en": 11})),
    ("bad skill", InvalidValueError, lambda r: r.update_contact("c1", requirements={"": 1})),
    (
        "bad requirements",
        InvalidValueError,
        lambda r: r.update_contact("c1", requirements=[("en", 1, 2)]),  # type: ignore[arg-type]
    ),
    (
        "infinite priority",
        InvalidValueError,
        lambda r: r.update_contact("c1", priority_seconds=float("inf")),
    ),
    ("bad tier", InvalidValueError, lambda r: r.update_contact("c1", tier=1.5)),  # type: ignore[arg-type]
    ("bool tier", InvalidValueError, lambda r: r.update_contact("c1", tier=True)),
    (
        "attributes not JSON",
        InvalidValueError,
        lambda r: r.update_contact("c1", attributes={"when": object()}),
    ),
    (
        "attributes not a mapping",
        InvalidValueError,
        lambda r: r.update_contact("c1", attributes=[1]),  # type: ignore[arg-type]
    ),
]


@pytest.mark.parametrize(
    ("error", "call"), [c[1:] for c in BAD_UPDATES], ids=[c[0] for c in BAD_UPDATES]
)
def test_a_bad_update_raises_and_changes_nothing(
    error: type[CCRouteError], call: Callable[[Router], object]
) -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=20)
    h.agent("ann", queues={"q"}, skills={"en": 5})
    h.submit("c1")
    h.submit("c2")
    h.clock.advance(25)  # c1's offer timeout is due
    before, seen = snapshot(h.router), len(h.events)
    with pytest.raises(error):
        call(h.router)
    assert snapshot(h.router) == before
    assert len(h.events) == seen
    check_queue(h.router)


# ---------------------------------------------------------- replay, restart


def run_updates(router: Router, clock: ManualClock) -> list[Event]:
    """A day with every kind of runtime change, as logged calls."""
    events = set_up(router)
    events += router.submit(Contact("c1", "voice", "support", requirements={"fr": 5}))
    events += router.submit(Contact("c2", "chat", "sales"))
    events += router.submit(Contact("c3", "voice", "sales", priority_seconds=5))
    clock.advance(10)
    events += router.update_agent(
        Agent("ann", skills={"en": 9, "fr": 6}, queues={"support", "sales"}, capacity={"voice": 1})
    )
    events += router.update_queue(
        QueueConfig("sales", strategy=Strategy.MOST_SKILLED, max_wait=30, overflow="support")
    )
    events += router.update_contact("c3", priority_seconds=40, attributes={"note": "vip"})
    clock.advance(30)
    events += router.tick().events
    return events


def test_updates_replay_to_the_same_events_and_survive_a_snapshot() -> None:
    clock = ManualClock()
    router = Router(clock)
    events = run_updates(router, clock)
    assert any(isinstance(e, AgentUpdated) for e in events)
    again_clock = ManualClock()
    again = Router(again_clock)
    assert run_updates(again, again_clock) == events
    restored = Router.restore(router.snapshot(), ManualClock(router.now))
    assert snapshot(restored) == snapshot(router)
    check_queue(restored)
    restored.clock.advance(100)  # type: ignore[attr-defined]
    router.clock.advance(100)  # type: ignore[attr-defined]
    assert restored.tick() == router.tick()


def test_update_commands_are_values_that_apply_to_the_router() -> None:
    router = Router(ManualClock())
    set_up(router)
    router.submit(Contact("c1", "voice", "support"))
    assert UpdateContact("c1", requirements={"en": 2}) == UpdateContact(
        "c1", None, None, (("en", 2),), None
    )
    assert UpdateContact("c1", attributes={"a": 1}).apply(router) == [
        ContactUpdated(0.0, "c1", ("attributes",))
    ]
    assert UpdateQueue(QUEUES[0]).apply(router) == []
    assert UpdateAgent(BOB).apply(router) == []
    with pytest.raises(InvalidValueError):
        UpdateContact("c1", attributes=[1]).apply(router)  # type: ignore[arg-type]


# ---------------------------------------------------------------- service


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class KeepingStore(MemoryStorage):
    """A memory store that also remembers every record appended."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[LogRecord] = []

    def append(self, records: Any) -> None:
        super().append(records)
        self.log.extend(records)


async def service_set_up(service: Service) -> list[Event]:
    """The application's start-up code: the same at every start."""
    events = await service.add_channel(FAX)
    events += await service.add_queues(QUEUES)
    events += await service.add_agent(ANN, Presence.AVAILABLE)
    events += await service.add_agent(BOB, Presence.AVAILABLE)
    return events


@pytest.mark.anyio
async def test_the_same_set_up_runs_at_every_start_on_sqlite(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    async with Service(path=path, clock=ManualClock(0.0), load_entrypoints=False) as service:
        await service_set_up(service)
        await service.submit(Contact("c1", "voice", "support"))
        await service.set_presence("bob", Presence.NOT_READY, "break")
        before = snapshot(service.router)
    async with Service(path=path, clock=ManualClock(0.0), load_entrypoints=False) as again:
        assert await service_set_up(again) == []
        assert snapshot(again.router) == before  # bob is still on his break
        with pytest.raises(DuplicateIdError, match="update_queue"):
            await again.add_queue(QueueConfig("support"))
        # the runtime changes, durably
        events = await again.update_agent(
            Agent("bob", skills={"en": 5, "fr": 7}, queues={"support"})
        )
        assert events == [AgentUpdated(0.0, "bob", ("queues",))]
        await again.update_queue(QueueConfig("sales", max_wait=90))
        await again.update_contact("c1", priority_seconds=15, attributes={"note": "x"})
        after = snapshot(again.router)
    async with Service(path=path, clock=ManualClock(0.0), load_entrypoints=False) as third:
        assert snapshot(third.router) == after
        assert third.router.queue_config("sales").max_wait == 90
        # The old declarations no longer match what is held: they raise, and a
        # set-up that declares or else updates makes the held settings its own.
        with pytest.raises(DuplicateIdError, match="update_queue"):
            await service_set_up(third)
        for config in QUEUES:
            try:
                await third.add_queue(config)
            except DuplicateIdError:
                await third.update_queue(config)
        assert third.router.queue_config("sales") == QUEUES[1]


@pytest.mark.anyio
async def test_updates_replay_from_the_log_alone(anyio_backend: str) -> None:
    store = KeepingStore()
    async with Service(storage=store, clock=ManualClock(0.0), load_entrypoints=False) as service:
        await service_set_up(service)
        await service.submit(Contact("c1", "voice", "sales", requirements={"fr": 9}))
        await service.submit(Contact("c2", "chat", "sales"))
        events = await service.update_contact("c1", requirements={"fr": 7}, tier=1)
        assert offers(events) == [("c1", "bob")]
        await service.update_agent(Agent("ann", skills={"en": 9}, queues={"support", "sales"}))
        await service.update_queue(QueueConfig("support", strategy=Strategy.ROUND_ROBIN))
        assert await service.update_contact("c1") == []
        before = snapshot(service.router)
    names = [r.name for r in store.log]
    assert {"update_agent", "update_queue", "update_contact"} <= set(names)
    fresh = MemoryStorage()
    fresh.append(store.log)  # no snapshot: every record replays
    async with Service(storage=fresh, load_entrypoints=False) as again:
        assert again.recovery_problem is None
        assert snapshot(again.router) == {**before, "now": again.router.now}


class History:
    """Keeps the CRM history the service records."""

    def __init__(self) -> None:
        self.records: list[HistoryRecord] = []

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.records.append(record)


@pytest.mark.anyio
async def test_new_attributes_reach_the_crm_history(anyio_backend: str) -> None:
    history = History()
    async with Service(
        clock=ManualClock(0.0), plugins=[history], load_entrypoints=False
    ) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=None))
        await service.add_agent(Agent("ann", queues={"q"}), Presence.AVAILABLE)
        await service.submit(Contact("c1", "voice", "q", attributes={"topic": "help"}))
        await service.update_contact("c1", attributes={"topic": "refund"})
        await service.accept("c1", "ann")
        await service.complete("c1")
        with anyio.fail_after(5):
            while not history.records:
                await anyio.sleep(0.01)
    assert dict(history.records[0].attributes) == {"topic": "refund"}
