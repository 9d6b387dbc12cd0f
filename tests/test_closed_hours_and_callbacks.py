"""Business hours and scheduled callbacks through the Router (docs/business-hours.md),
on both queue twins: what a closed queue does with an arrival (refuse, hold,
accept), callbacks held until their time and entering with their priority,
unanswered calls retried then closed, cancellation, snapshots, refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from ccroute import (
    BusinessHours,
    CallbackClosed,
    CallbackScheduled,
    CallbackUnanswered,
    Contact,
    ContactState,
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Offered,
    QueueConfig,
    Queued,
    Refused,
    Router,
    UnknownIdError,
    WhenClosed,
)
from ccroute.testing import RouterHarness, assert_work_conserving, of_type, offers, snapshot

pytestmark = pytest.mark.usefixtures("queue_factory")

#: Monday 7 December 2026, 00:00 UTC: router time 0 in these tests.
MONDAY = dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0
NINE = 9 * HOUR
FIVE_PM = 17 * HOUR
WEEKDAYS = BusinessHours("UTC", dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "09:00-17:00"))


def centre(when_closed: WhenClosed = WhenClosed.REFUSE, **config: object) -> RouterHarness:
    """A queue "q" open 09:00-17:00 on weekdays, an agent who is not ready."""
    h = RouterHarness(epoch=MONDAY)
    h.queue("q", calendar=WEEKDAYS, when_closed=when_closed, **config)
    return h


def ready(h: RouterHarness, agent_id: str = "a") -> None:
    h.agent(agent_id, queues={"q"})


# ================================================================ is_open


def test_a_queue_without_a_calendar_is_always_open() -> None:
    router = Router(ManualClock(3 * HOUR), epoch=MONDAY)
    router.add_queue(QueueConfig("q"))
    assert router.is_open("q") and router.next_open("q") == 3 * HOUR


def test_is_open_follows_the_calendar_in_wall_time() -> None:
    h = centre()
    assert not h.router.is_open("q") and h.router.next_open("q") == NINE
    h.advance(NINE)
    assert h.router.is_open("q") and h.router.next_open("q") == NINE
    h.advance(8 * HOUR)
    assert not h.router.is_open("q")
    # Friday evening: the next opening is Monday 09:00
    h.advance(4 * 24 * HOUR)
    assert h.router.next_open("q") == 7 * 24 * HOUR + NINE
    with pytest.raises(UnknownIdError):
        h.router.is_open("nope")


def test_the_epoch_is_refused_unless_finite_and_kept_by_a_snapshot() -> None:
    for bad in (float("nan"), float("inf"), "monday", None):
        with pytest.raises(InvalidValueError, match="epoch"):
            Router(epoch=bad)  # type: ignore[arg-type]
    h = centre()
    again = Router.restore(h.router.snapshot())
    assert again.epoch == MONDAY and not again.is_open("q")


# ========================================================== closed behaviour


def test_a_closed_queue_that_refuses_refuses_with_reason_closed() -> None:
    h = centre(WhenClosed.REFUSE)
    ready(h)
    events = h.submit("c1")
    assert events == [Refused(0.0, "c1", "q", "voice", "closed")]
    assert h.router.contact_ids == [] and h.router.submitted == 0
    h.advance(NINE)
    assert offers(h.submit("c2")) == [("c2", "a")]


def test_a_closed_queue_that_holds_keeps_the_contact_until_it_opens() -> None:
    h = centre(WhenClosed.HOLD)
    ready(h)
    h.advance(2 * HOUR)
    events = h.submit("early", priority_seconds=0)
    assert events == [CallbackScheduled(2 * HOUR, "early", "q", "voice", NINE, 1, "closed")]
    held = h.router.contact("early")
    assert held.state is ContactState.SCHEDULED and held.callback_due == NINE
    # held: not waiting, not counted, offered to no one, though an agent is free
    assert h.router.queue_size("q") == 0 and len(h.router) == 0
    assert h.router.queue_stats("q").waiting == 0 and h.router.waiting() == []
    assert h.router.submitted == 1
    h.advance(HOUR)
    h.submit("vip", priority_seconds=600)
    h.submit("later")
    h.router.set_presence("a", h.router.agent("a").presence)  # no-op
    # at 09:00 all three enter, in key order; the agent takes the VIP (its head start)
    events = h.advance(NINE - 3 * HOUR)
    assert [e.contact_id for e in of_type(events, Queued)] == ["vip", "early", "later"]
    assert {e.at for e in of_type(events, Queued)} == {NINE}
    assert offers(events) == [("vip", "a")]
    assert [c.id for c in h.router.waiting("q")] == ["early", "later"]
    assert h.router.contact("early").entered_at == NINE
    assert_work_conserving(h.router)


def test_a_closed_queue_that_accepts_queues_as_usual() -> None:
    h = centre(WhenClosed.ACCEPT)
    ready(h)
    assert offers(h.submit("night")) == [("night", "a")]
    assert not h.router.is_open("q")
    assert h.router.explain("night").queue_open is False


def test_contacts_waiting_when_the_queue_closes_stay_and_are_served() -> None:
    h = centre(WhenClosed.REFUSE)
    h.advance(FIVE_PM - 60)
    h.submit("late")
    h.advance(120)  # closed now
    assert not h.router.is_open("q")
    assert h.router.contact("late").state is ContactState.WAITING
    explanation = h.router.explain("late")
    assert explanation.queue_open is False and "is closed now" in str(explanation)
    ready(h)
    assert h.offers()[-1] == ("late", "a")
    assert of_type(h.submit("after"), Refused)


def test_hold_refuses_when_the_calendar_never_opens_again() -> None:
    h = RouterHarness(epoch=MONDAY)
    h.queue("q", calendar=BusinessHours("UTC"), when_closed=WhenClosed.HOLD)
    assert h.submit("c") == [Refused(0.0, "c", "q", "voice", "closed")]


# ======================================================= scheduled callbacks


def test_a_scheduled_callback_enters_at_its_time_with_its_priority() -> None:
    h = centre()
    h.advance(NINE)
    h.submit("w1")  # waits from 09:00, no agent yet
    events = h.router.schedule_callback(
        Contact("cb", "callback", "q", priority_seconds=1800), NINE + 600
    )
    assert events == [CallbackScheduled(NINE, "cb", "q", "callback", NINE + 600, 1, "requested")]
    assert h.router.explain("cb").callback_due == NINE + 600
    h.advance(300)
    assert h.router.contact("cb").state is ContactState.SCHEDULED
    events = h.advance(300)
    assert of_type(events, Queued) == [Queued(NINE + 600, "cb", "q", "callback")]
    # it entered at 09:10 with a 30-minute head start: ahead of w1 (09:00)
    assert [c.id for c in h.router.waiting("q")] == ["cb", "w1"]
    h.agent("a", queues={"q"}, capacity={"voice": 1, "callback": 1})
    h.agent("b", queues={"q"}, capacity={"voice": 1, "callback": 1})
    assert h.offers() == [("cb", "a"), ("w1", "a")]


def test_a_callback_outside_business_hours_is_refused_and_changes_nothing() -> None:
    h = centre()
    h.advance(NINE)
    before = snapshot(h.router)
    with pytest.raises(InvalidValueError) as info:
        h.router.schedule_callback(Contact("cb", "callback", "q"), FIVE_PM + 60)
    assert "queue 'q' is closed then" in str(info.value)
    assert f"next opens at {24 * HOUR + NINE:g}" in str(info.value)
    for at in (NINE - 1, float("nan"), float("inf"), 10**400, NINE + 2e9, "10:00", None):
        with pytest.raises(InvalidValueError, match="at must be a finite router time"):
            h.router.schedule_callback(Contact("cb", "callback", "q"), at)  # type: ignore[arg-type]
    with pytest.raises(UnknownIdError):
        h.router.schedule_callback(Contact("cb", "callback", "nope"), NINE + 60)
    h.submit("dup")
    with pytest.raises(DuplicateIdError):
        h.router.schedule_callback(Contact("dup", "callback", "q"), NINE + 60)
    assert snapshot(h.router)["contacts"].keys() == {"dup"}
    assert before["now"] == h.router.now and h.router.next_due() is None


def test_without_a_calendar_a_callback_may_be_scheduled_at_any_time() -> None:
    h = RouterHarness()
    h.queue("q")
    h.router.schedule_callback(Contact("cb", "callback", "q"), 5.0)
    assert h.advance(5.0)[0] == Queued(5.0, "cb", "q", "callback")


def test_an_unanswered_callback_is_retried_on_schedule_then_closed() -> None:
    h = centre(callback_retries=(60, 300))
    h.advance(NINE)
    ready(h)
    h.router.schedule_callback(Contact("cb", "callback", "q", customer_id="k"), NINE + 10)
    h.advance(10)
    h.router.accept("cb", "a")
    events = h.router.callback_unanswered("cb")
    now = NINE + 10
    assert events == [
        CallbackUnanswered(now, "cb", "a", "q", "callback", 1),
        CallbackScheduled(now, "cb", "q", "callback", now + 60, 2, "retry"),
    ]
    # the agent is free at once, without wrap-up
    assert h.router.agent("a").status.value == "idle"
    assert h.router.contact("cb").state is ContactState.SCHEDULED
    events = h.advance(60)
    assert offers(events) == [("cb", "a")]
    h.router.accept("cb", "a")
    assert of_type(h.router.callback_unanswered("cb"), CallbackScheduled)[0].due == now + 360
    h.advance(300)
    h.router.accept("cb", "a")
    events = h.router.callback_unanswered("cb")
    assert events[-1] == CallbackClosed(now + 360, "cb", "q", "callback", 3, "unreached")
    assert "cb" not in h.router.contact_ids
    assert (h.router.submitted, h.router.unreached) == (1, 1)
    # nothing is left to fire
    assert h.router.next_due() is None


def test_a_retry_that_falls_after_closing_waits_for_the_next_opening() -> None:
    h = centre(callback_retries=(2 * HOUR,))
    h.advance(FIVE_PM - 30 * 60)
    ready(h)
    h.submit("cb", channel="callback")
    h.advance(1)
    h.router.accept("cb", "a")
    events = h.router.callback_unanswered("cb")
    # 16:30 + 2 h is after closing: Tuesday 09:00
    assert of_type(events, CallbackScheduled)[0].due == 24 * HOUR + NINE


def test_a_queue_without_retries_closes_the_callback_at_the_first_miss() -> None:
    h = centre()
    h.advance(NINE)
    ready(h)
    h.submit("c")
    h.router.accept("c", "a")
    assert of_type(h.router.callback_unanswered("c"), CallbackClosed)[0].attempts == 1


def test_callback_unanswered_is_refused_unless_in_service_and_changes_nothing() -> None:
    h = centre()
    h.advance(NINE)
    h.submit("w")
    before = snapshot(h.router)
    with pytest.raises(InvalidStateError, match="it is waiting, expected one of: in-service"):
        h.router.callback_unanswered("w")
    with pytest.raises(UnknownIdError):
        h.router.callback_unanswered("nobody")
    assert snapshot(h.router) == before


def test_cancelling_a_scheduled_callback_ends_it_and_its_timer() -> None:
    h = centre(WhenClosed.HOLD)
    h.submit("c")
    events = h.router.abandon("c")
    assert events == [CallbackClosed(0.0, "c", "q", "voice", 0, "cancelled")]
    assert h.router.contact_ids == [] and h.router.abandoned == 1
    ready(h)
    assert not of_type(h.advance(NINE), Queued)
    # a cancelled callback's id is free again
    h.submit("c")
    assert h.offers()[-1] == ("c", "a")


def test_a_scheduled_callback_changes_priority_and_cannot_be_moved_or_offered() -> None:
    h = centre(WhenClosed.HOLD)
    h.submit("a1")
    h.submit("b1")
    h.router.update_contact("b1", priority_seconds=60)
    with pytest.raises(InvalidStateError):
        h.router.transfer("a1", queue="q")
    with pytest.raises(InvalidStateError):
        h.router.request_callback("a1")
    with pytest.raises(InvalidStateError):
        h.router.position("a1")
    h.advance(NINE)
    assert [c.id for c in h.router.waiting("q")] == ["b1", "a1"]


def test_a_calendar_changed_by_update_queue_defers_a_callback_to_its_next_opening() -> None:
    h = centre()
    h.advance(NINE)
    h.router.schedule_callback(Contact("cb", "callback", "q"), NINE + HOUR)
    afternoons = BusinessHours("UTC", dict.fromkeys(("mon", "tue"), "13:00-17:00"))
    config = h.router.queue_config("q")
    h.router.update_queue(QueueConfig("q", calendar=afternoons, when_closed=config.when_closed))
    events = h.advance(HOUR)
    assert events == [CallbackScheduled(NINE + HOUR, "cb", "q", "callback", 13 * HOUR, 1, "closed")]
    assert of_type(h.advance(3 * HOUR), Queued)[0].at == 13 * HOUR


def test_a_calendar_added_by_update_queue_applies_to_arrivals() -> None:
    h = RouterHarness(epoch=MONDAY)
    h.queue("q")
    h.submit("before")
    h.router.update_queue(QueueConfig("q", calendar=WEEKDAYS))
    assert of_type(h.submit("after"), Refused)[0].reason == "closed"
    assert h.router.contact("before").state is ContactState.WAITING


# ================================================================ snapshots


def test_a_restored_router_keeps_scheduled_callbacks_and_their_attempts() -> None:
    h = centre(WhenClosed.HOLD, callback_retries=(60, 60), offer_timeout=None)
    h.submit("held", priority_seconds=30)
    h.advance(NINE)
    h.router.schedule_callback(Contact("later", "callback", "q"), NINE + 600)
    ready(h)
    h.router.accept("held", "a")
    h.router.callback_unanswered("held")  # attempt 2 at 09:01
    data = h.router.snapshot()
    clock = ManualClock(h.router.now)
    again = Router.restore(data, clock)
    assert again.snapshot() == data
    assert snapshot(again) == snapshot(h.router)
    assert again.contact("held").callback_due == NINE + 60
    # the same future on both
    h.clock.advance(700)
    clock.advance(700)
    assert again.tick().events == h.router.tick().events
    again.accept("held", "a")
    h.router.accept("held", "a")
    assert again.callback_unanswered("held") == h.router.callback_unanswered("held")


def test_a_snapshot_with_a_scheduled_contact_but_no_timer_is_refused() -> None:
    import json

    from ccroute import InputError

    h = centre(WhenClosed.HOLD)
    h.submit("held")
    doc = json.loads(h.router.snapshot())
    doc["timers"] = []
    with pytest.raises(InputError, match="scheduled, no timer"):
        Router.restore(json.dumps(doc).encode())
    doc = json.loads(h.router.snapshot())
    doc["contacts"][0]["state"] = "waiting"
    with pytest.raises(InputError, match="callback timer"):
        Router.restore(json.dumps(doc).encode())


def test_a_document_written_before_epoch_and_attempts_still_reads() -> None:
    import json

    h = RouterHarness()
    h.queue("q")
    h.submit("c")
    doc = json.loads(h.router.snapshot())
    del doc["epoch"]
    del doc["unreached"]
    for contact in doc["contacts"]:
        del contact["attempts"]
    again = Router.restore(json.dumps(doc).encode())
    assert again.epoch == 0.0 and again.contact("c").state is ContactState.WAITING


def test_offers_of_entering_callbacks_carry_no_surprise() -> None:
    h = centre(WhenClosed.HOLD)
    ready(h)
    h.submit("c")
    (offer,) = of_type(h.advance(NINE), Offered)
    assert offer.reason is not None and offer.reason.trigger == "contact"


def test_metrics_count_each_attempt_as_an_entry_and_free_the_agent_at_once() -> None:
    from ccroute.metrics import MetricsCollector

    h = centre(callback_retries=(60,), offer_timeout=None)
    metrics = MetricsCollector.attach(h.router)
    h.advance(NINE)
    ready(h)
    h.router.schedule_callback(Contact("cb", "callback", "q"), NINE + 10)
    h.submit("w")  # open now: queued, offered to "a" at once
    h.router.accept("w", "a")
    h.router.complete("w")
    h.advance(10)
    h.router.accept("cb", "a")
    h.advance(5)
    h.router.callback_unanswered("cb")
    h.advance(30)
    report = metrics.report(h.router.now)
    queue = report.queues["q"]
    # the callback's first attempt: offered and answered, not handled
    assert (queue.offered, queue.answered, queue.handled) == (2, 2, 1)
    # the agent handled for 5 s, then was free: no handling time since
    assert report.agents["a"].handling_time == 5.0
    h.advance(60)
    assert metrics.report(h.router.now).queues["q"].offered == 3
