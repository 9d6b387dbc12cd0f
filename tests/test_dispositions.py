"""Wrap-up dispositions: a code from the queue's list, checked before anything
changes, carried by Completed/WrapUpEnded, kept in snapshots, counted in metrics."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute import (
    Agent,
    Completed,
    Contact,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    Router,
    WrapUpEnded,
)
from ccroute.metrics import MetricsCollector
from ccroute.testing import of_type, snapshot

pytestmark = pytest.mark.usefixtures("queue_factory")

CODES = ("sale", "no-sale", "callback")


def centre(wrap_up: float | None = None, required: bool = False) -> tuple[Router, ManualClock]:
    clock = ManualClock()
    router = Router(clock)
    router.add_queue(
        QueueConfig("sales", wrap_up=wrap_up, dispositions=CODES, disposition_required=required)
    )
    router.add_queue(QueueConfig("plain", wrap_up=wrap_up))
    router.add_agent(Agent("ann", queues={"sales", "plain"}), Presence.AVAILABLE)
    return router, clock


def in_service(router: Router, contact_id: str = "c1", queue: str = "sales") -> None:
    router.submit(Contact(contact_id, "voice", queue))
    router.accept(contact_id, "ann")


def test_a_code_given_at_complete_reaches_both_events() -> None:
    router, clock = centre(wrap_up=30.0)
    in_service(router)
    clock.advance(60)
    completed = of_type(router.complete("c1", "sale"), Completed)
    assert [e.disposition for e in completed] == ["sale"]
    clock.advance(30)
    ended = of_type(router.tick().events, WrapUpEnded)
    assert [(e.contact_id, e.disposition) for e in ended] == [("c1", "sale")]


def test_a_code_given_at_end_of_wrap_up_replaces_the_one_given_at_complete() -> None:
    router, _ = centre(wrap_up=None)
    in_service(router)
    router.complete("c1", "sale")
    ended = of_type(router.end_wrap_up("c1", "callback"), WrapUpEnded)
    assert ended[0].disposition == "callback"


def test_no_code_is_none_everywhere() -> None:
    router, _ = centre(wrap_up=0.0)
    in_service(router)
    events = router.complete("c1")
    assert of_type(events, Completed)[0].disposition is None
    assert of_type(events, WrapUpEnded)[0].disposition is None


@pytest.mark.parametrize("code", ["bogus", "", "SALE", 7])
def test_an_unknown_code_is_refused_naming_it_the_queue_and_the_contact(code: object) -> None:
    router, clock = centre(wrap_up=None)
    in_service(router)
    clock.advance(5)
    before = snapshot(router)
    with pytest.raises(InvalidValueError) as refused:
        router.complete("c1", code)  # type: ignore[arg-type]
    message = str(refused.value)
    assert repr(code) in message and "'sales'" in message and "'c1'" in message
    assert snapshot(router) == before
    router.complete("c1", "sale")
    before = snapshot(router)
    with pytest.raises(InvalidValueError, match="unknown disposition"):
        router.end_wrap_up("c1", code)  # type: ignore[arg-type]
    assert snapshot(router) == before


def test_a_queue_without_codes_refuses_every_code() -> None:
    router, _ = centre(wrap_up=0.0)
    in_service(router, queue="plain")
    before = snapshot(router)
    with pytest.raises(InvalidValueError, match=r"'plain' \(its codes: none\)"):
        router.complete("c1", "sale")
    assert snapshot(router) == before
    router.complete("c1")


def test_a_required_code_must_come_before_the_work_ends() -> None:
    router, _ = centre(wrap_up=None, required=True)
    in_service(router)
    # Wrap-up follows: the code may still come at its end.
    router.complete("c1")
    before = snapshot(router)
    with pytest.raises(InvalidStateError, match="requires a disposition"):
        router.end_wrap_up("c1")
    assert snapshot(router) == before
    assert of_type(router.end_wrap_up("c1", "no-sale"), WrapUpEnded)[0].disposition == "no-sale"


def test_a_required_code_given_at_complete_is_enough() -> None:
    router, _ = centre(wrap_up=None, required=True)
    in_service(router)
    router.complete("c1", "sale")
    assert of_type(router.end_wrap_up("c1"), WrapUpEnded)[0].disposition == "sale"


def test_without_wrap_up_complete_must_carry_a_required_code() -> None:
    router, _ = centre(wrap_up=0.0, required=True)
    in_service(router)
    before = snapshot(router)
    with pytest.raises(InvalidStateError, match=r"'c1'.*'sales' requires a disposition"):
        router.complete("c1")
    assert snapshot(router) == before
    assert of_type(router.complete("c1", "sale"), WrapUpEnded)[0].disposition == "sale"


def test_a_timer_ends_a_wrap_up_without_a_required_code() -> None:
    # A timer cannot be refused: the contact ends without a code.
    router, clock = centre(wrap_up=10.0, required=True)
    in_service(router)
    router.complete("c1")
    clock.advance(10)
    assert of_type(router.tick().events, WrapUpEnded)[0].disposition is None


def test_the_code_survives_a_snapshot_during_wrap_up() -> None:
    router, _ = centre(wrap_up=None)
    in_service(router)
    router.complete("c1", "callback")
    restored = Router.restore(router.snapshot())
    assert of_type(restored.end_wrap_up("c1"), WrapUpEnded)[0].disposition == "callback"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dispositions": ("a", "a")}, "code 'a' is listed twice"),
        ({"dispositions": "sale"}, "dispositions must be a sequence"),
        ({"dispositions": ("ok", "")}, "dispositions: code"),
        ({"dispositions": (), "disposition_required": True}, "needs a list of dispositions"),
        ({"dispositions": ("a",), "disposition_required": "yes"}, "disposition_required"),
    ],
)
def test_queue_config_refuses_bad_codes(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as refused:
        QueueConfig("sales", **kwargs)  # type: ignore[arg-type]
    assert "'sales'" in str(refused.value)


def test_metrics_count_handled_contacts_per_code_in_queue_channel_and_total() -> None:
    router, clock = centre(wrap_up=0.0)
    collector = MetricsCollector.attach(router)
    for i, code in enumerate(["sale", "sale", "no-sale", None]):
        in_service(router, f"c{i}")
        clock.advance(1)
        router.complete(f"c{i}", code)
    report = router.now
    stats = collector.report(report)
    expected = {"no-sale": 1, "sale": 2}
    assert dict(stats.queues["sales"].dispositions) == expected
    assert dict(stats.channels["voice"].dispositions) == expected
    assert dict(stats.total.dispositions) == expected
    assert stats.total.handled == 4
    # Carried by the collector's saved state (a service snapshot).
    again = MetricsCollector.from_state(collector.state())
    assert dict(again.report(report).total.dispositions) == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from((*CODES, None)), max_size=12))
def test_the_counts_add_up_to_the_coded_contacts(codes: list[str | None]) -> None:
    router, clock = centre(wrap_up=None)
    collector = MetricsCollector.attach(router)
    for i, code in enumerate(codes):
        in_service(router, f"c{i}")
        router.complete(f"c{i}", code if i % 2 else None)
        clock.advance(1)
        router.end_wrap_up(f"c{i}", None if i % 2 else code)
    counts = collector.report(router.now).total.dispositions
    assert sum(counts.values()) == sum(code is not None for code in codes)
    for code in CODES:
        assert counts.get(code, 0) == codes.count(code)
