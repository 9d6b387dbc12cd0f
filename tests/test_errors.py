"""Bad input raises a clear CCRouteError, names the id, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ccroute import (
    Agent,
    CCRouteError,
    Channel,
    ChannelKind,
    ClockError,
    Contact,
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    RoutingStep,
    UnknownIdError,
    UsageError,
)
from ccroute.testing import RouterHarness, check_queue, snapshot

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")


@pytest.fixture
def busy() -> RouterHarness:
    """A router with something in every state."""
    h = RouterHarness()
    h.queue("q", wrap_up=30, offer_timeout=20)
    h.agent("a", queues={"q"}, skills={"en": 5}, capacity={"voice": 1, "chat": 2})
    h.agent("b", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("off", queues={"q"}, presence=Presence.OFFLINE)
    h.submit("served", channel="chat")
    h.router.accept("served", "a")
    h.submit("wrapping", channel="chat")
    h.router.accept("wrapping", "a")
    h.router.complete("wrapping")
    h.submit("ringing")
    h.submit("waiting")
    h.clock.advance(3)
    return h


def r(h: RouterHarness) -> Any:
    return h.router


CASES: list[tuple[str, type[CCRouteError], str, Callable[[RouterHarness], object]]] = [
    (
        "unknown agent",
        UnknownIdError,
        "unknown agent 'nobody'",
        lambda h: r(h).set_presence("nobody", Presence.AVAILABLE),
    ),
    (
        "unknown contact",
        UnknownIdError,
        "unknown contact 'nothing'",
        lambda h: r(h).abandon("nothing"),
    ),
    (
        "unknown queue on submit",
        UnknownIdError,
        "unknown queue 'nope'",
        lambda h: r(h).submit(Contact("x", "voice", "nope")),
    ),
    (
        "unknown channel on submit",
        UnknownIdError,
        "unknown channel 'pigeon'",
        lambda h: r(h).submit(Contact("x", "pigeon", "q")),
    ),
    (
        "unknown queue on agent",
        UnknownIdError,
        "unknown queue 'nope'",
        lambda h: r(h).add_agent(Agent("z", queues={"nope"})),
    ),
    (
        "unknown channel in capacity",
        UnknownIdError,
        "unknown channel 'fax'",
        lambda h: r(h).add_agent(Agent("z", capacity={"fax": 1})),
    ),
    (
        "unknown transfer queue",
        UnknownIdError,
        "unknown queue 'gone'",
        lambda h: r(h).transfer("waiting", queue="gone"),
    ),
    (
        "unknown transfer agent",
        UnknownIdError,
        "unknown agent 'ghost'",
        lambda h: r(h).transfer("waiting", agent="ghost"),
    ),
    (
        "duplicate contact",
        DuplicateIdError,
        "duplicate contact id 'waiting'",
        lambda h: r(h).submit(Contact("waiting", "voice", "q")),
    ),
    (
        "duplicate agent",
        DuplicateIdError,
        "duplicate agent id 'a'",
        lambda h: r(h).add_agent(Agent("a")),
    ),
    (
        "duplicate queue",
        DuplicateIdError,
        "duplicate queue id 'q'",
        lambda h: r(h).add_queue(QueueConfig("q")),
    ),
    (
        "duplicate channel",
        DuplicateIdError,
        "duplicate channel id 'voice'",
        lambda h: r(h).add_channel(Channel("voice", ChannelKind.SYNCHRONOUS)),
    ),
    (
        "accept not offered",
        InvalidStateError,
        "cannot accept contact 'waiting': it is waiting",
        lambda h: r(h).accept("waiting", "a"),
    ),
    (
        "accept by other agent",
        InvalidStateError,
        "offered to 'a'",
        lambda h: r(h).accept("ringing", "b"),
    ),
    (
        "reject in service",
        InvalidStateError,
        "cannot reject contact 'served': it is in-service",
        lambda h: r(h).reject("served", "a"),
    ),
    (
        "complete waiting",
        InvalidStateError,
        "cannot complete contact 'waiting'",
        lambda h: r(h).complete("waiting"),
    ),
    (
        "end wrap-up in service",
        InvalidStateError,
        "cannot end wrap-up contact 'served'",
        lambda h: r(h).end_wrap_up("served"),
    ),
    (
        "abandon answered",
        InvalidStateError,
        "cannot abandon contact 'served': it is in-service",
        lambda h: r(h).abandon("served"),
    ),
    (
        "transfer in wrap-up",
        InvalidStateError,
        "cannot transfer contact 'wrapping'",
        lambda h: r(h).transfer("wrapping", queue="q"),
    ),
    (
        "callback while offered",
        InvalidStateError,
        "cannot request callback contact 'ringing'",
        lambda h: r(h).request_callback("ringing"),
    ),
    (
        "log off in service",
        InvalidStateError,
        r"agent 'a' has 1 contact\(s\) in service \(served\)",
        lambda h: r(h).set_presence("a", Presence.OFFLINE),
    ),
    (
        "remove in service",
        InvalidStateError,
        r"agent 'a' has 1 contact\(s\) in service",
        lambda h: r(h).remove_agent("a"),
    ),
    (
        "capacity below load",
        InvalidStateError,
        "holds 2 chat contacts",
        lambda h: r(h).set_capacity("a", "chat", 1),
    ),
    (
        "negative capacity",
        InvalidValueError,
        "must be an integer >= 0, got -1",
        lambda h: r(h).set_capacity("a", "chat", -1),
    ),
    (
        "transfer level out of range",
        InvalidValueError,
        "level of skill 'en' must be an integer in 1..10",
        lambda h: r(h).transfer("waiting", requirements={"en": 11}),
    ),
    (
        "transfer to offline agent",
        InvalidStateError,
        "to agent 'off': the agent is offline",
        lambda h: r(h).transfer("waiting", agent="off"),
    ),
    (
        "position of non-waiting",
        InvalidStateError,
        "contact 'ringing' is offered, expected waiting",
        lambda h: r(h).position("ringing"),
    ),
    (
        "bad presence",
        InvalidValueError,
        "presence must be a Presence",
        lambda h: r(h).set_presence("a", "available"),
    ),
    (
        "submit non-contact",
        InvalidValueError,
        "submit expects a Contact",
        lambda h: r(h).submit("c"),
    ),
]


@pytest.mark.parametrize(("name", "error", "message", "call"), CASES, ids=[c[0] for c in CASES])
def test_bad_call_raises_and_changes_nothing(
    busy: RouterHarness,
    name: str,
    error: type[CCRouteError],
    message: str,
    call: Callable[[RouterHarness], object],
) -> None:
    busy.router.tick()  # apply anything due, so only the call itself could change state
    before = snapshot(busy.router)
    seen = len(busy.events)
    with pytest.raises(error, match=message) as info:
        call(busy)
    assert isinstance(info.value, CCRouteError)
    assert isinstance(info.value, UsageError)
    assert snapshot(busy.router) == before
    assert len(busy.events) == seen
    check_queue(busy.router)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Agent("a", skills={"en": 11}), "skill level 11 is outside 1..10"),
        (lambda: Agent("a", skills={"en": 0}), "skill level 0 is outside 1..10"),
        (lambda: Agent("a", skills={"en": 2.5}), "skill level must be an integer"),
        (lambda: Agent("a", capacity={"voice": -1}), "must be an integer >= 0, got -1"),
        (lambda: Agent("a", unit_budget=-5), "unit budget must be an integer >= 0"),
        (lambda: Agent(""), "agent id must be a non-empty string"),
        (lambda: Agent("a", skills=[("en", 2), ("en", 3)]), "skill 'en' is listed twice"),
        (lambda: Contact("c", "voice", "q", requirements={"en": 0}), "skill level 0 is outside"),
        (lambda: Contact("c", "voice", "q", priority_seconds=float("nan")), "priority_seconds"),
        (lambda: Contact("c", "", "q"), "channel must be a non-empty string"),
        (
            lambda: QueueConfig("q", service_level_target=1.5),
            "service level target must be in 0..1",
        ),
        (lambda: QueueConfig("q", offer_timeout=0), "offer timeout must be > 0"),
        (lambda: QueueConfig("q", wrap_up=-1), "wrap-up must be at least 0"),
        (lambda: QueueConfig("q", max_size=-1), "max_size must be >= 0"),
        (
            lambda: QueueConfig("q", steps=[RoutingStep(10), RoutingStep(5)]),
            "strictly increasing 'after'",
        ),
        (lambda: RoutingStep(-1), "must be at least 0"),
        (lambda: RoutingStep(1, requirements={"x": 12}), "outside 1..10"),
        (lambda: Channel("c", ChannelKind.ASYNCHRONOUS, -1), "default capacity must be >= 0"),
    ],
)
def test_bad_values_are_refused_when_built(make: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        make()


def test_unknown_id_error_is_a_key_error_with_a_clear_message() -> None:
    h = RouterHarness()
    with pytest.raises(KeyError) as info:
        h.router.agent("x")
    assert str(info.value) == "unknown agent 'x'"


def test_manual_clock_refuses_to_go_back() -> None:
    clock = ManualClock(5)
    with pytest.raises(ClockError):
        clock.set(4)
    with pytest.raises(ClockError):
        clock.advance(-1)
    assert clock.now() == 5.0


def test_step_naming_unknown_queue_is_refused() -> None:
    h = RouterHarness()
    with pytest.raises(UnknownIdError, match="unknown queue 'later'"):
        h.router.add_queue(QueueConfig("q", steps=[RoutingStep(5, queues={"later"})]))
    assert h.router.queues == []
