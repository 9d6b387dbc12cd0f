"""Reasons carried by events are closed sets, typed as Literals.

Each event field annotated with a ``Literal`` alias (``TimeoutReason``,
``RefusalReason`` …) lists every value the router can give it: a focused
scenario per value makes the router emit it, and the values seen must be
exactly the alias's (``typing.get_args``), so a new reason cannot be emitted
without being added to the type, nor a value kept in the type that nothing
emits. The log format writes those strings as they are and, as format 2
always has, reads any string there. The random scenarios
of tests/test_stateful.py check every event they see with
:func:`assert_known_reasons`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable

import attrs
import pytest

import ccroute
from ccroute import (
    Admission,
    BusinessHours,
    CallbackClosed,
    CallbackClosedReason,
    CallbackScheduled,
    CallbackScheduleReason,
    Contact,
    InputError,
    Overflowed,
    OverflowReason,
    PreferenceExpired,
    PreferenceExpiryReason,
    Presence,
    RampUp,
    RampUpEnded,
    RampUpEndReason,
    RefusalReason,
    Refused,
    RoutingPolicy,
    TimedOut,
    TimeoutReason,
    WhenClosed,
    codec,
)
from ccroute import events as events_module
from ccroute.events import Event
from ccroute.testing import RouterHarness

pytestmark = pytest.mark.usefixtures("queue_factory")

ALIASES: dict[tuple[type[Event], str], object] = {
    (Refused, "reason"): RefusalReason,
    (TimedOut, "reason"): TimeoutReason,
    (Overflowed, "reason"): OverflowReason,
    (RampUpEnded, "reason"): RampUpEndReason,
    (PreferenceExpired, "reason"): PreferenceExpiryReason,
    (CallbackScheduled, "reason"): CallbackScheduleReason,
    (CallbackClosed, "reason"): CallbackClosedReason,
}


def literal_fields() -> dict[tuple[type[Event], str], tuple[str, ...]]:
    """Every event field annotated with a Literal, and its values."""
    found = {}
    for name in events_module.__all__:
        cls = getattr(events_module, name)
        if isinstance(cls, type) and issubclass(cls, Event):
            for field, hint in typing.get_type_hints(cls).items():
                if typing.get_origin(hint) is typing.Literal:
                    found[cls, field] = typing.get_args(hint)
    return found


LITERAL_FIELDS = literal_fields()


def assert_known_reasons(events: Iterable[object]) -> None:
    """Every Literal-typed field of these events holds one of its Literal's values."""
    for e in events:
        for (cls, field), allowed in LITERAL_FIELDS.items():
            if type(e) is cls:
                value = getattr(e, field)
                assert value in allowed, f"{cls.__name__}.{field} = {value!r}, not in {allowed}"


# ----------------------------------------------------------------- the aliases


def test_the_closed_reasons_are_the_exported_aliases() -> None:
    assert {key: typing.get_args(alias) for key, alias in ALIASES.items()} == LITERAL_FIELDS
    for alias in ALIASES.values():
        name = next(n for n in ccroute.__all__ if getattr(ccroute, n) is alias)
        assert getattr(events_module, name) is alias


# ---------------------------------------------------- a scenario per reason


def refused_queue_full(h: RouterHarness) -> None:
    h.queue("q", max_size=1)
    h.submit("c1")
    h.submit("c2")


def refused_no_agent_logged_in(h: RouterHarness) -> None:
    h.queue("q", admission=Admission.LOGGED_IN)
    h.submit("c1")


def refused_no_eligible_agent(h: RouterHarness) -> None:
    h.queue("q", admission=Admission.ELIGIBLE)
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.submit("c1", requirements={"fr": 1})


def timed_out_max_wait(h: RouterHarness) -> None:
    h.queue("q", max_wait=10)
    h.submit("c1")
    h.advance(10)


def timed_out_no_agent(h: RouterHarness) -> None:
    h.queue("q", skip_if_no_agent=True)
    h.submit("c1")


def timed_out_overflow_queue_full(h: RouterHarness) -> None:
    h.queue("o", max_size=1)
    h.queue("q", max_wait=10, overflow="o")
    h.submit("c0", queue="o")
    h.submit("c1")
    h.advance(10)


def overflowed_max_wait(h: RouterHarness) -> None:
    h.queue("o")
    h.queue("q", max_wait=10, overflow="o")
    h.submit("c1")
    h.advance(10)


def overflowed_no_agent(h: RouterHarness) -> None:
    h.queue("o")
    h.queue("q", skip_if_no_agent=True, overflow="o")
    h.submit("c1")


def ramp_up_time(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.router.set_presence("a", Presence.AVAILABLE)
    h.advance(60)


def ramp_up_accepted(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.router.set_presence("a", Presence.AVAILABLE)
    h.submit("c1")
    h.router.accept("c1", "a")


def preference_excluded(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.submit("c1", preferred_agent="a", preferred_wait=30, excluded_agents={"a"})


def preference_not_logged_in(h: RouterHarness) -> None:
    h.queue("q")
    h.submit("c1", preferred_agent="a", preferred_wait=30)


def preference_wait_over(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.submit("c1", preferred_agent="a", preferred_wait=30)
    h.advance(30)


def preference_agent_logged_off(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", Presence.NOT_READY, queues={"q"})
    h.submit("c1", preferred_agent="a", preferred_wait=30)
    h.router.set_presence("a", Presence.OFFLINE)


def preference_declined(h: RouterHarness) -> None:
    h.queue("q")
    h.agent("a", queues={"q"})
    h.agent("b", queues={"q"}, capacity={"voice": 0})
    h.submit("c1", preferred_agent="a", preferred_wait=30)
    h.router.reject("c1", "a")


# Open from 00:01 to 01:00 on the epoch's day (a Thursday, UTC): closed at 0.
MINUTE_ONE = BusinessHours("UTC", {"thu": "00:01-01:00"})


def refused_closed(h: RouterHarness) -> None:
    h.queue("q", calendar=MINUTE_ONE)
    h.submit("c1")


def scheduled_requested(h: RouterHarness) -> None:
    h.queue("q")
    h.router.schedule_callback(Contact("c1", "callback", "q"), 30.0)


def scheduled_closed(h: RouterHarness) -> None:
    h.queue("q", calendar=MINUTE_ONE, when_closed=WhenClosed.HOLD)
    h.submit("c1")


def unanswered(h: RouterHarness, retries: tuple[float, ...]) -> None:
    h.queue("q", callback_retries=retries)
    h.agent("a", queues={"q"})
    h.submit("c1")
    h.router.accept("c1", "a")
    h.router.callback_unanswered("c1")


def scheduled_retry(h: RouterHarness) -> None:
    unanswered(h, (60.0,))


def closed_unreached(h: RouterHarness) -> None:
    unanswered(h, ())


def closed_cancelled(h: RouterHarness) -> None:
    scheduled_requested(h)
    h.router.abandon("c1")


SCENARIOS: dict[tuple[type[Event], str], Callable[[RouterHarness], None]] = {
    (Refused, "closed"): refused_closed,
    (CallbackScheduled, "requested"): scheduled_requested,
    (CallbackScheduled, "closed"): scheduled_closed,
    (CallbackScheduled, "retry"): scheduled_retry,
    (CallbackClosed, "unreached"): closed_unreached,
    (CallbackClosed, "cancelled"): closed_cancelled,
    (Refused, "queue full"): refused_queue_full,
    (Refused, "no agent logged in"): refused_no_agent_logged_in,
    (Refused, "no eligible agent"): refused_no_eligible_agent,
    (TimedOut, "max wait"): timed_out_max_wait,
    (TimedOut, "no agent"): timed_out_no_agent,
    (TimedOut, "overflow queue full"): timed_out_overflow_queue_full,
    (Overflowed, "max wait"): overflowed_max_wait,
    (Overflowed, "no agent"): overflowed_no_agent,
    (RampUpEnded, "time"): ramp_up_time,
    (RampUpEnded, "accepted"): ramp_up_accepted,
    (PreferenceExpired, "excluded"): preference_excluded,
    (PreferenceExpired, "not logged in"): preference_not_logged_in,
    (PreferenceExpired, "wait over"): preference_wait_over,
    (PreferenceExpired, "agent logged off"): preference_agent_logged_off,
    (PreferenceExpired, "declined"): preference_declined,
}


def harness() -> RouterHarness:
    return RouterHarness(policy=RoutingPolicy(ramp_up=RampUp(seconds=60, accepted=1)))


@pytest.mark.parametrize(
    ("cls", "reason"), list(SCENARIOS), ids=[f"{c.__name__}-{r}" for c, r in SCENARIOS]
)
def test_the_router_emits_the_reason(cls: type[Event], reason: str) -> None:
    h = harness()
    SCENARIOS[cls, reason](h)
    assert reason in [getattr(e, "reason", None) for e in h.events if type(e) is cls]
    assert_known_reasons(h.events)


def test_every_value_of_every_closed_reason_has_its_scenario() -> None:
    covered = {(cls, "reason", value) for cls, value in SCENARIOS}
    declared = {(cls, f, v) for (cls, f), values in LITERAL_FIELDS.items() for v in values}
    assert covered == declared


def test_the_scenarios_together_emit_exactly_the_declared_values() -> None:
    seen: dict[tuple[type[Event], str], set[str]] = {key: set() for key in LITERAL_FIELDS}
    for scenario in SCENARIOS.values():
        h = harness()
        scenario(h)
        for e in h.events:
            for cls, field in LITERAL_FIELDS:
                if type(e) is cls:
                    seen[cls, field].add(getattr(e, field))
    assert {k: sorted(v) for k, v in seen.items()} == {
        k: sorted(v) for k, v in LITERAL_FIELDS.items()
    }


# ------------------------------------------------------------------- the log


@pytest.mark.parametrize("key", list(LITERAL_FIELDS), ids=lambda k: f"{k[0].__name__}.{k[1]}")
def test_the_log_keeps_the_declared_values_and_still_reads_other_strings(
    key: tuple[type[Event], str],
) -> None:
    cls, field = key
    sample = next(
        e
        for scenario in SCENARIOS.values()
        for e in (lambda h: (scenario(h), h.events)[1])(harness())
        if type(e) is cls
    )
    for value in LITERAL_FIELDS[key]:
        event = attrs.evolve(sample, **{field: value})
        written = codec.encode_events([event])
        assert f'"{field}":"{value}"'.encode() in written  # the strings of the format
        assert codec.decode_events(written) == (event,)
    # Format 2 reads any string there (tests/golden/v2 holds a PreferenceExpired
    # reason the router never gives), and nothing that is not a string.
    other = attrs.evolve(sample, **{field: "because"})
    assert codec.decode_events(codec.encode_events([other])) == (other,)
    forged = codec.encode_events([sample]).replace(f'"{getattr(sample, field)}"'.encode(), b"42")
    with pytest.raises(InputError, match="Expected `str`"):
        codec.decode_events(forged)
