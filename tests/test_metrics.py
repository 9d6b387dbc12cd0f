"""Tests of ccroute.metrics: hand-computed figures on scenarios driven through a real Router."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import (
    Abandoned,
    Accepted,
    Agent,
    Completed,
    Contact,
    ContactState,
    Event,
    InvalidValueError,
    ManualClock,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    Presence,
    QueueConfig,
    Queued,
    Rejected,
    Rejoined,
    Router,
    TimedOut,
    UnknownIdError,
    WrapUpEnded,
)
from ccroute.metrics import (
    AgentStats,
    GroupStats,
    MetricsCollector,
    MetricsReport,
    ServiceLevelVariant,
    TeamStats,
)

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")

SL = ServiceLevelVariant


class Scene:
    """A router on a manual clock with a collector attached before anything happens."""

    def __init__(self, *queues: QueueConfig, **collector_kwargs: float) -> None:
        self.clock = ManualClock()
        self.router = Router(self.clock)
        for q in queues:
            self.router.add_queue(q)
        self.metrics = MetricsCollector.attach(self.router, **collector_kwargs)
        self.events: list[Event] = []
        self.router.observe(self.events.extend)

    def at(self, t: float) -> None:
        """Move the clock to ``t`` and apply due timers."""
        self.clock.set(t)
        self.router.tick()

    def agent(self, agent_id: str, queues: set[str], **kwargs: Any) -> None:
        self.router.add_agent(Agent(agent_id, queues=queues, **kwargs), Presence.AVAILABLE)

    def submit(self, contact_id: str, queue: str, channel: str = "voice") -> None:
        self.router.submit(Contact(contact_id, channel, queue))

    def report(self) -> MetricsReport:
        return self.metrics.report(self.clock.now())


def sl_scenario() -> Scene:
    """One queue (T = 20 s, short abandon < 5 s), one agent, seven voice contacts.

    t=0   c1..c5 arrive; c1 is offered to ann, the others wait
    t=3   c3 abandons  (wait 3:  short, within T)
    t=10  ann accepts c1 (wait 10: within T)
    t=12  c4 abandons  (wait 12: within T, not short)
    t=30  c5 abandons  (wait 30: not within T)
    t=40  ann completes c1 (handle 30, no wrap-up); c2 is offered to ann
    t=45  ann accepts c2 (wait 45: not within T)
    t=50  c6 arrives and waits; t=55 c7 arrives and waits
    t=60  ann completes c2 (handle 15); c6 is offered to ann
    t=70  report: c6 (entered 50) and c7 (entered 55) are in flight
    """
    s = Scene(QueueConfig("support", service_level_threshold=20, wrap_up=0, offer_timeout=None))
    s.agent("ann", {"support"})
    for c in ("c1", "c2", "c3", "c4", "c5"):
        s.submit(c, "support")
    s.at(3)
    s.router.abandon("c3")
    s.at(10)
    s.router.accept("c1", "ann")
    s.at(12)
    s.router.abandon("c4")
    s.at(30)
    s.router.abandon("c5")
    s.at(40)
    s.router.complete("c1")
    s.at(45)
    s.router.accept("c2", "ann")
    s.at(50)
    s.submit("c6", "support")
    s.at(55)
    s.submit("c7", "support")
    s.at(60)
    s.router.complete("c2")
    s.at(70)
    assert s.router.contact("c6").state is ContactState.OFFERED
    assert s.router.contact("c7").state is ContactState.WAITING
    return s


# ------------------------------------------------------------ counts and SL


def test_sl_scenario_counts() -> None:
    total = sl_scenario().report().total
    # offered 7; answered c1, c2; abandoned c3, c4, c5; in flight c6, c7
    assert (total.offered, total.answered, total.abandoned, total.in_flight) == (7, 2, 3, 2)
    assert total.answered_within == 1  # c1 (10 s); c2 waited 45 s
    assert total.abandoned_within == 2  # c3 (3 s), c4 (12 s); c5 waited 30 s
    assert total.short_abandons == 1  # c3 (3 s < 5 s)
    assert total.transferred_out == 0
    assert total.refused == 0


def test_sl_default_excludes_short_abandons() -> None:
    total = sl_scenario().report().total
    # answered within / (offered - short) = 1 / (7 - 1)
    assert total.service_level() == pytest.approx(1 / 6)
    assert total.service_level(SL.DEFAULT) == pytest.approx(1 / 6)


def test_sl_answered() -> None:
    # answered within / answered = 1 / 2
    assert sl_scenario().report().total.service_level(SL.ANSWERED) == pytest.approx(0.5)


def test_sl_answered_and_abandoned() -> None:
    # answered within / (answered + abandoned) = 1 / (2 + 3)
    total = sl_scenario().report().total
    assert total.service_level(SL.ANSWERED_AND_ABANDONED) == pytest.approx(0.2)


def test_sl_abandons_met() -> None:
    # (answered within + abandoned within) / offered = (1 + 2) / 7
    total = sl_scenario().report().total
    assert total.service_level(SL.ABANDONS_MET) == pytest.approx(3 / 7)


def test_sl_answered_within_over_offered() -> None:
    # answered within / offered = 1 / 7
    total = sl_scenario().report().total
    assert total.service_level(SL.ANSWERED_WITHIN_OVER_OFFERED) == pytest.approx(1 / 7)


def test_sl_variants_all_differ() -> None:
    levels = sl_scenario().report().total.service_levels()
    assert set(levels) == set(SL)
    values = [v for v in levels.values() if v is not None]
    assert len(values) == len(SL)
    assert len({round(v, 9) for v in values}) == len(SL)


def test_sl_exclude_in_flight() -> None:
    total = sl_scenario().report().total
    # N = offered - in flight = 7 - 2 = 5
    assert total.service_level(SL.DEFAULT, exclude_in_flight=True) == pytest.approx(1 / 4)
    assert total.service_level(SL.ABANDONS_MET, exclude_in_flight=True) == pytest.approx(3 / 5)
    assert total.service_level(
        SL.ANSWERED_WITHIN_OVER_OFFERED, exclude_in_flight=True
    ) == pytest.approx(1 / 5)
    # variants without "offered" in them do not change
    assert total.service_level(SL.ANSWERED, exclude_in_flight=True) == pytest.approx(0.5)


def test_asa_abandon_rate_and_queue_equals_total() -> None:
    report = sl_scenario().report()
    total = report.total
    assert total.asa == pytest.approx((10 + 45) / 2)  # 27.5
    assert total.abandon_rate == pytest.approx(3 / 7)
    assert total.short_abandon_rate == pytest.approx(1 / 7)
    # one queue, one channel: the same figures, with their names
    assert list(report.queues) == ["support"]
    assert list(report.channels) == ["voice"]
    q = report.queues["support"]
    assert q.name == "support" and total.name is None
    assert (q.offered, q.answered, q.abandoned, q.in_flight, q.asa) == (7, 2, 3, 2, 27.5)
    assert q.service_levels() == total.service_levels()


def test_longest_current_wait() -> None:
    s = sl_scenario()
    # c6 entered at 50 (offered to ann, not answered), c7 at 55: the oldest waited 70 - 50
    assert s.report().total.longest_current_wait == pytest.approx(20.0)
    assert s.report().queues["support"].longest_current_wait == pytest.approx(20.0)
    # a report later, without any event in between, measures up to its own `now`
    assert s.metrics.report(80.0).total.longest_current_wait == pytest.approx(30.0)
    s.at(75)
    s.router.accept("c6", "ann")  # c7 (entered 55) is now the oldest
    assert s.report().total.longest_current_wait == pytest.approx(75 - 55)
    s.router.abandon("c7")
    assert s.report().total.longest_current_wait is None  # nothing in flight


def test_short_abandon_threshold_is_strict_and_configurable() -> None:
    def run(**kwargs: float) -> GroupStats:
        s = Scene(QueueConfig("q", offer_timeout=None), **kwargs)
        for c in ("c1", "c2", "c3"):
            s.submit(c, "q")  # no agent yet: all wait
        s.at(2)
        s.router.abandon("c1")  # wait 2
        s.at(5)
        s.router.abandon("c2")  # wait 5: not short with the default 5 s (strictly below)
        s.at(10)
        s.agent("ann", {"q"})
        s.router.accept("c3", "ann")  # wait 10, within 20
        return s.report().total

    default = run()
    assert (default.abandoned, default.short_abandons) == (2, 1)
    # 1 / (3 - 1): c1 left out of the denominator, c2 counts as missed
    assert default.service_level() == pytest.approx(0.5)
    assert default.service_level(SL.ANSWERED_WITHIN_OVER_OFFERED) == pytest.approx(1 / 3)
    assert default.abandon_rate == pytest.approx(2 / 3)  # short abandons stay in the abandon rate
    longer = run(short_abandon_threshold=6.0)
    assert longer.short_abandons == 2
    assert longer.service_level() == pytest.approx(1.0)  # 1 / (3 - 2)


# ------------------------------------------------------------------ AHT


def test_aht_with_wrap_up() -> None:
    s = Scene(QueueConfig("support", service_level_threshold=20, wrap_up=5, offer_timeout=None))
    s.agent("ann", {"support"}, skills={"en": 5})
    s.router.submit(Contact("c1", "voice", "support", requirements={"en": 3}))
    s.at(3)
    s.router.accept("c1", "ann")
    s.at(10)
    s.submit("c2", "support")  # waits: ann holds c1
    s.at(63)
    s.router.complete("c1")  # handle 60, wrap-up until 68
    s.at(68)  # wrap-up ends: c2 offered to ann
    s.at(70)
    s.router.accept("c2", "ann")  # wait 60
    s.at(100)
    s.router.complete("c2")  # handle 30, wrap-up until 105
    s.at(103)
    mid = s.report().total
    # only c1's wrap-up has ended: (60 + 5) / 1; c2 is in neither numerator nor denominator
    assert (mid.handled, mid.total_handle_time, mid.total_wrap_time) == (1, 60.0, 5.0)
    assert mid.aht == pytest.approx(65.0)
    s.at(105)
    end = s.report()
    # ((60 + 5) + (30 + 5)) / 2
    assert end.total.aht == pytest.approx(50.0)
    assert end.queues["support"].aht == pytest.approx(50.0)
    assert end.channels["voice"].aht == pytest.approx(50.0)
    assert end.total.asa == pytest.approx((3 + 60) / 2)
    assert end.agents["ann"].handled == 2


# ------------------------------------------------------------ per channel


def test_per_channel_split() -> None:
    s = Scene(QueueConfig("support", service_level_threshold=20, wrap_up=0, offer_timeout=None))
    s.agent("ann", {"support"}, capacity={"voice": 1})
    s.agent("bob", {"support"}, capacity={"chat": 3})
    s.submit("v1", "support", "voice")  # offered to ann
    s.submit("ch1", "support", "chat")  # offered to bob
    s.submit("ch2", "support", "chat")  # offered to bob
    s.at(5)
    s.router.accept("v1", "ann")  # voice wait 5
    s.at(8)
    s.router.abandon("ch2")  # chat abandon after 8 s
    s.at(25)
    s.router.accept("ch1", "bob")  # chat wait 25 (> 20)
    report = s.report()
    voice, chat = report.channels["voice"], report.channels["chat"]
    assert list(report.channels) == ["chat", "voice"]
    assert (voice.offered, voice.answered, voice.answered_within, voice.abandoned) == (1, 1, 1, 0)
    assert voice.asa == pytest.approx(5.0)
    assert voice.service_level() == pytest.approx(1.0)  # 1 / (1 - 0)
    assert (chat.offered, chat.answered, chat.answered_within, chat.abandoned) == (2, 1, 0, 1)
    assert chat.asa == pytest.approx(25.0)
    assert chat.service_level() == pytest.approx(0.0)  # 0 / (2 - 0)
    assert chat.abandon_rate == pytest.approx(0.5)
    # total = voice + chat: answered within 1 of 3 offered; ASA (5 + 25) / 2
    assert report.total.offered == 3
    assert report.total.service_level() == pytest.approx(1 / 3)
    assert report.total.asa == pytest.approx(15.0)


# --------------------------------------------------- per queue, transfers


def test_per_queue_with_transfer_between_queues() -> None:
    s = Scene(
        QueueConfig("sales", service_level_threshold=20, wrap_up=0, offer_timeout=None),
        QueueConfig("support", service_level_threshold=30, wrap_up=0, offer_timeout=None),
    )
    assert s.metrics.thresholds == {"sales": 20.0, "support": 30.0}
    s.agent("ann", {"sales"})
    s.agent("bob", {"support"})
    s.submit("c1", "sales")  # offered to ann
    s.submit("c2", "sales")  # waits
    s.at(10)
    s.router.accept("c1", "ann")  # sales wait 10
    s.at(15)
    s.router.transfer("c2", queue="support")  # unanswered in sales; offered to bob at 15
    s.at(25)
    s.router.accept("c2", "bob")  # support wait 25 - 15 = 10; total wait 25 - 0 = 25
    s.at(40)
    s.router.transfer("c1", queue="support")  # answered in sales already; waits in support
    s.at(45)
    s.router.complete("c2")  # handle 20; c1 offered to bob
    s.at(50)
    s.router.accept("c1", "bob")  # support wait 50 - 40 = 10; c1 already answered in total
    s.at(80)
    s.router.complete("c1")  # handle 30
    accepted = [e for e in s.events if isinstance(e, Accepted)]
    assert [(e.contact_id, e.queue, e.wait) for e in accepted] == [
        ("c1", "sales", 10.0),
        ("c2", "support", 10.0),
        ("c1", "support", 10.0),
    ]
    report = s.report()
    sales, support, total = report.queues["sales"], report.queues["support"], report.total
    # sales: c1 and c2 entered; c1 answered in 10 s; c2 left for support unanswered
    assert (sales.offered, sales.answered, sales.transferred_out, sales.in_flight) == (2, 1, 1, 0)
    assert sales.asa == pytest.approx(10.0)
    assert sales.handled == 0
    assert sales.service_level() == pytest.approx(1 / 2)  # 1 / (2 - 0)
    # support (T = 30): c2 entered at 15, c1 at 40; both answered after 10 s
    assert (support.offered, support.answered, support.answered_within) == (2, 2, 2)
    assert support.threshold == 30.0
    assert support.asa == pytest.approx(10.0)
    assert support.aht == pytest.approx((20 + 30) / 2)
    # total (T = 20): two contacts, each answered once: c1 after 10 s, c2 after 25 s
    assert (total.offered, total.answered, total.answered_within) == (2, 2, 1)
    assert total.asa == pytest.approx((10 + 25) / 2)
    assert total.service_level() == pytest.approx(0.5)
    assert total.handled == 2
    # the agents: ann lost c1 at the transfer
    assert report.agents["ann"].handling_time == pytest.approx(40 - 10)
    assert report.agents["bob"].handling_time == pytest.approx((45 - 25) + (80 - 50))


def test_transfer_within_the_same_queue_is_not_a_new_entry() -> None:
    s = Scene(QueueConfig("q", wrap_up=0, offer_timeout=None))
    s.submit("c1", "q")
    s.at(5)
    s.router.transfer("c1", requirements={})  # same queue: not offered again
    s.at(12)
    s.agent("ann", {"q"})
    s.router.accept("c1", "ann")
    q = s.report().queues["q"]
    assert (q.offered, q.answered, q.transferred_out) == (1, 1, 0)
    assert q.asa == pytest.approx(12.0)  # from the queue entry at 0, not from the transfer at 5


def test_refused_contacts_are_counted_apart() -> None:
    s = Scene(QueueConfig("q", max_size=0))
    s.submit("c1", "q")
    report = s.report()
    assert (report.total.refused, report.queues["q"].refused) == (1, 1)
    assert report.channels["voice"].refused == 1
    assert report.total.offered == 0
    assert report.total.service_level() is None


# ------------------------------- time-outs, overflow, rejoin, ring offers
#
# Hand-built event lists, in the order the router emits them: no router needed.


def test_timed_out_is_its_own_outcome_and_a_missed_contact() -> None:
    m = MetricsCollector({"q": 20.0}, short_abandon_threshold=5.0)
    m.observe(
        [
            Queued(0.0, "c1", "q", "voice"),
            Queued(0.0, "c2", "q", "voice"),
            Queued(0.0, "c3", "q", "chat"),
            Offered(0.0, "c1", "ann", "q", "voice", None),
            Accepted(5.0, "c1", "ann", "q", "voice", 5.0),  # answered within T
            TimedOut(30.0, "c2", "q", "voice", 30.0, "max wait"),
            Abandoned(40.0, "c3", "q", "chat", 40.0),
            Queued(50.0, "c4", "q", "voice"),
            # a time-out after 2 s is not a short abandon: the router dropped it
            TimedOut(52.0, "c4", "q", "voice", 2.0, "no agent"),
        ]
    )
    report = m.report(60.0)
    q, total, voice = report.queues["q"], report.total, report.channels["voice"]
    for g in (q, total):
        assert (g.offered, g.answered, g.abandoned, g.timed_out, g.in_flight) == (4, 1, 1, 2, 0)
        assert g.short_abandons == 0
        assert g.longest_current_wait is None
        assert g.abandon_rate == pytest.approx(1 / 4)  # time-outs are not abandons
        assert g.timed_out_rate == pytest.approx(2 / 4)
        # DEFAULT: time-outs stay in the denominator, never met
        assert g.service_level() == pytest.approx(1 / 4)
        assert g.service_level(SL.ANSWERED_AND_ABANDONED) == pytest.approx(1 / (1 + 1 + 2))
        assert g.service_level(SL.ABANDONS_MET) == pytest.approx(1 / 4)  # c4 within T: missed
        assert g.service_level(SL.ANSWERED_WITHIN_OVER_OFFERED) == pytest.approx(1 / 4)
        assert g.service_level(SL.ANSWERED) == 1.0
        assert g.service_level(exclude_in_flight=True) == pytest.approx(1 / 4)
        _check_group(g)
    assert (voice.offered, voice.timed_out, voice.abandoned) == (3, 2, 0)
    assert report.channels["chat"].timed_out == 0
    # the contact is forgotten: a late abandon of it changes nothing
    m.observe([Abandoned(70.0, "c2", "q", "voice", 70.0)])
    assert m.report(70.0).total == total


def test_timed_out_while_waiting_lowers_the_service_level_like_a_waiting_contact() -> None:
    # While c1 waits it is in flight; timing out keeps it in the denominator.
    m = MetricsCollector()
    m.observe([Queued(0.0, "c1", "q", "voice"), Queued(0.0, "c2", "q", "voice")])
    m.observe([Offered(1.0, "c2", "ann", "q", "voice", None)])
    m.observe([Accepted(2.0, "c2", "ann", "q", "voice", 2.0)])
    waiting = m.report(10.0).total
    assert waiting.service_level() == pytest.approx(1 / 2)
    assert waiting.service_level(exclude_in_flight=True) == 1.0
    m.observe([TimedOut(60.0, "c1", "q", "voice", 60.0, "max wait")])
    done = m.report(60.0).total
    assert done.service_level() == pytest.approx(1 / 2)
    assert done.service_level(exclude_in_flight=True) == pytest.approx(1 / 2)


def test_overflow_is_counted_like_a_transfer_to_another_queue() -> None:
    m = MetricsCollector({"sales": 20.0, "support": 30.0})
    m.observe(
        [
            Queued(0.0, "c1", "sales", "voice"),
            Queued(0.0, "c2", "sales", "voice"),
            Overflowed(30.0, "c1", "sales", "support", 30.0, "max wait", True),
            Offered(30.0, "c1", "bob", "support", "voice", None),
            Overflowed(31.0, "c2", "sales", "support", 31.0, "no agent", False),
            Accepted(40.0, "c1", "bob", "support", "voice", 10.0),
            TimedOut(91.0, "c2", "support", "voice", 60.0, "max wait"),
            Completed(100.0, "c1", "bob", "support", "voice", 60.0),
            WrapUpEnded(100.0, "c1", "bob", "support", "voice", 0.0),
        ]
    )
    report = m.report(100.0)
    sales, support, total = report.queues["sales"], report.queues["support"], report.total
    assert (sales.offered, sales.answered, sales.transferred_out, sales.in_flight) == (2, 0, 2, 0)
    assert sales.timed_out == 0
    # support: both entered on overflow; c1 answered 10 s after entering, c2 timed out
    assert (support.offered, support.answered, support.timed_out, support.in_flight) == (2, 1, 1, 0)
    assert support.asa == pytest.approx(10.0)
    assert support.answered_within == 1
    assert support.aht == pytest.approx(60.0)
    # total: waits run from arrival; c1 waited 40 s (not within 20), c2 timed out
    assert (total.offered, total.answered, total.timed_out, total.transferred_out) == (2, 1, 1, 0)
    assert total.asa == pytest.approx(40.0)
    assert total.answered_within == 0
    assert total.handled == 1
    for g in (sales, support, total):
        _check_group(g)


def test_rejoined_counts_a_new_entry_and_the_old_abandon_stays() -> None:
    m = MetricsCollector()
    m.observe(
        [
            Queued(0.0, "c1", "q", "voice"),
            Abandoned(10.0, "c1", "q", "voice", 10.0),
            Queued(20.0, "c2", "q", "voice"),
            Rejoined(20.0, "c2", "c1", "q"),
            Offered(20.0, "c2", "ann", "q", "voice", None),
            Accepted(25.0, "c2", "ann", "q", "voice", 5.0),
            Queued(30.0, "c3", "other", "chat"),
        ]
    )
    report = m.report(30.0)
    q, total = report.queues["q"], report.total
    assert (q.offered, q.abandoned, q.answered, q.rejoined) == (2, 1, 1, 1)
    assert q.asa == pytest.approx(5.0)  # from the new contact's arrival
    assert report.channels["voice"].rejoined == 1
    assert report.channels["chat"].rejoined == 0
    assert report.queues["other"].rejoined == 0
    assert (total.offered, total.rejoined) == (3, 1)


def test_ring_offers_one_answer_per_contact_and_rescinds_apart() -> None:
    m = MetricsCollector({"q": 20.0})
    m.observe(
        [
            Queued(0.0, "c1", "q", "voice"),
            # ring-all: c1 offered to three agents at once
            Offered(0.0, "c1", "ann", "q", "voice", 30.0),
            Offered(0.0, "c1", "bob", "q", "voice", 30.0),
            Offered(0.0, "c1", "cid", "q", "voice", 30.0),
        ]
    )
    m.observe([Rejected(2.0, "c1", "bob")])  # the others still hold it
    m.observe(
        [
            Accepted(4.0, "c1", "ann", "q", "voice", 4.0),
            OfferRescinded(4.0, "c1", "cid", "answered by ann"),
        ]
    )
    m.observe(
        [
            Queued(10.0, "c2", "q", "voice"),
            Offered(10.0, "c2", "bob", "q", "voice", 40.0),
            Offered(10.0, "c2", "cid", "q", "voice", 40.0),
        ]
    )
    m.observe(
        [
            OfferTimedOut(40.0, "c2", "bob"),
            OfferTimedOut(40.0, "c2", "cid"),
            Completed(44.0, "c1", "ann", "q", "voice", 40.0),
            WrapUpEnded(44.0, "c1", "ann", "q", "voice", 0.0),
        ]
    )
    report = m.report(50.0)
    q = report.queues["q"]
    assert (q.offered, q.answered, q.answered_within, q.in_flight) == (2, 1, 1, 1)
    assert q.asa == pytest.approx(4.0)
    assert q.longest_current_wait == pytest.approx(40.0)  # c2 since 10
    assert q.aht == pytest.approx(40.0)
    ann, bob, cid = (report.agents[a] for a in ("ann", "bob", "cid"))
    assert (ann.offers, ann.accepted, ann.rejected, ann.timed_out, ann.rescinded) == (1, 1, 0, 0, 0)
    assert (bob.offers, bob.accepted, bob.rejected, bob.timed_out, bob.rescinded) == (2, 0, 1, 1, 0)
    assert (cid.offers, cid.accepted, cid.rejected, cid.timed_out, cid.rescinded) == (2, 0, 0, 1, 1)
    assert report.team.rescinded == 1 and report.team.offers == 5
    # an unanswered offer is not handling: only ann handled, from 4 to 44
    assert ann.handling_time == pytest.approx(40.0)
    assert bob.handling_time == 0.0 and cid.handling_time == 0.0


def test_ring_offer_abandoned_while_ringing() -> None:
    m = MetricsCollector()
    m.observe(
        [
            Queued(0.0, "c1", "q", "voice"),
            Offered(0.0, "c1", "ann", "q", "voice", None),
            Offered(0.0, "c1", "bob", "q", "voice", None),
            # the router names the first holder only; the other offers just end
            Abandoned(3.0, "c1", "q", "voice", 3.0, "ann"),
        ]
    )
    report = m.report(3.0)
    assert (report.total.abandoned, report.total.short_abandons, report.total.in_flight) == (
        1,
        1,
        0,
    )
    for agent in ("ann", "bob"):
        stats = report.agents[agent]
        assert (stats.offers, stats.rejected, stats.timed_out, stats.rescinded) == (1, 0, 0, 0)
        assert stats.handling_time == 0.0


# ----------------------------------------------------------------- agents


def break_scenario() -> Scene:
    """ann takes c1, asks for a break during wrap-up, comes back, logs off; bob idles.

    0-5    ann has an unanswered offer (available)   bob available all along
    5-65   ann in service                             (LONGEST_IDLE tie: ann < bob)
    65-75  ann in wrap-up; at 70 she goes NOT_READY (still handling)
    75-105 ann not ready (break)
    105-125 ann available; 125 ann logs off; report at 130
    """
    s = Scene(QueueConfig("q", wrap_up=10, offer_timeout=None))
    s.agent("ann", {"q"})
    s.agent("bob", {"q"})
    s.submit("c1", "q")
    assert [(e.contact_id, e.agent_id) for e in s.events if isinstance(e, Offered)] == [
        ("c1", "ann")
    ]
    s.at(5)
    s.router.accept("c1", "ann")
    s.at(65)
    s.router.complete("c1")
    s.at(70)
    s.router.set_presence("ann", Presence.NOT_READY, "break")
    s.at(75)  # wrap-up ends
    s.at(105)
    s.router.set_presence("ann", Presence.AVAILABLE)
    s.at(125)
    s.router.set_presence("ann", Presence.OFFLINE)
    s.at(130)
    return s


def test_agent_occupancy_and_utilisation_with_a_break() -> None:
    ann = break_scenario().report().agents["ann"]
    assert ann.handling_time == pytest.approx(70.0)  # 5..75, the last 5 s while not ready
    assert ann.available_time == pytest.approx(25.0)  # 0..5 + 105..125
    assert ann.not_ready_time == pytest.approx(30.0)  # 75..105
    assert ann.logged_in_time == pytest.approx(125.0)  # 0..125
    assert ann.occupancy == pytest.approx(70 / 95)  # handling / (handling + available)
    assert ann.utilisation == pytest.approx(70 / 125)  # handling / logged in
    assert (ann.offers, ann.accepted, ann.handled) == (1, 1, 1)


def test_team_occupancy() -> None:
    report = break_scenario().report()
    bob = report.agents["bob"]
    assert (bob.available_time, bob.handling_time, bob.occupancy) == (130.0, 0.0, 0.0)
    team = report.team
    assert team.agent_ids == {"ann", "bob"}
    # pooled, not averaged: 70 / ((70 + 25) + (0 + 130)) = 70 / 225 (the mean would be 0.368)
    assert team.occupancy == pytest.approx(70 / 225)
    assert team.utilisation == pytest.approx(70 / (125 + 130))
    assert report.team_of(["ann"]).occupancy == pytest.approx(70 / 95)
    assert report.team_of(["ann", "bob"]) == team
    with pytest.raises(UnknownIdError):
        report.team_of(["zoe"])


def test_open_intervals_count_up_to_now() -> None:
    s = break_scenario()
    # bob is still available: 10 s more of availability at 140, nothing more for ann (offline)
    later = s.metrics.report(140.0)
    assert later.agents["bob"].available_time == pytest.approx(140.0)
    assert later.agents["ann"].logged_in_time == pytest.approx(125.0)


def test_transfer_of_a_contact_in_service_frees_the_agent() -> None:
    s = Scene(QueueConfig("q", wrap_up=0, offer_timeout=None), QueueConfig("r", offer_timeout=None))
    s.agent("ann", {"q"})
    s.submit("c1", "q")
    s.at(10)
    s.router.accept("c1", "ann")
    s.at(30)
    s.router.transfer("c1", queue="r")  # nobody in r: it waits
    s.at(50)
    ann = s.report().agents["ann"]
    assert ann.handling_time == pytest.approx(20.0)  # 10..30
    assert ann.available_time == pytest.approx(30.0)  # 0..10 + 30..50


# --------------------------------------------------------- empty and errors


def test_empty_report_gives_none() -> None:
    report = MetricsCollector().report(0.0)
    total = report.total
    assert (total.offered, total.answered, total.abandoned, total.in_flight) == (0, 0, 0, 0)
    assert total.asa is None
    assert total.aht is None
    assert total.abandon_rate is None
    assert total.short_abandon_rate is None
    assert total.longest_current_wait is None
    for exclude in (False, True):
        assert set(total.service_levels(exclude_in_flight=exclude).values()) == {None}
    assert dict(report.queues) == {} and dict(report.channels) == {} and dict(report.agents) == {}
    assert report.team == TeamStats(frozenset())
    assert report.team.occupancy is None and report.team.utilisation is None
    idle = AgentStats("x")
    assert idle.occupancy is None and idle.utilisation is None


def test_agent_with_no_time_yet_gives_none() -> None:
    s = Scene(QueueConfig("q"))
    s.agent("ann", {"q"})
    ann = s.report().agents["ann"]
    assert ann.logged_in_time == 0.0
    assert ann.occupancy is None and ann.utilisation is None


def test_report_before_last_event_is_refused() -> None:
    s = sl_scenario()
    s.metrics.report(60.0)  # the last event happened at 60 (c2 completed, c6 offered)
    with pytest.raises(InvalidValueError):
        s.metrics.report(59.0)
    with pytest.raises(InvalidValueError):
        s.metrics.report(math.nan)
    for bad in (10**400, True, "61"):  # 10**400 raised OverflowError
        with pytest.raises(InvalidValueError, match="report time"):
            s.metrics.report(bad)  # type: ignore[arg-type]


def test_events_out_of_order_are_refused() -> None:
    collector = MetricsCollector()
    collector.observe([Queued(10.0, "c1", "q", "voice")])
    with pytest.raises(InvalidValueError):
        collector.observe([Queued(5.0, "c2", "q", "voice")])


@pytest.mark.parametrize(
    "bad", [-1.0, math.inf, math.nan, pytest.param(10**400, id="10**400"), True, "5"]
)
def test_bad_thresholds_are_refused(bad: float) -> None:
    with pytest.raises(InvalidValueError):
        MetricsCollector({"q": bad})
    with pytest.raises(InvalidValueError):
        MetricsCollector(default_threshold=bad)
    with pytest.raises(InvalidValueError):
        MetricsCollector(short_abandon_threshold=bad)


def test_report_is_a_frozen_value_and_collection_goes_on() -> None:
    s = sl_scenario()
    first = s.report()
    with pytest.raises(AttributeError):
        first.total.offered = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        first.queues["x"] = first.total  # type: ignore[index]
    s.submit("c8", "support")
    assert s.report().total.offered == first.total.offered + 1
    assert first.total.offered == 7


# -------------------------------------------------------------- property


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "submit",
                "submit",
                "accept",
                "accept",
                "complete",
                "abandon",
                "advance",
                "advance",
                "transfer",
                "presence",
                "end_wrap_up",
            ]
        ),
        st.integers(min_value=0, max_value=10**6),
        st.floats(min_value=0.0, max_value=40.0, allow_nan=False),
    ),
    max_size=80,
)


def _pick(items: list[str], n: int) -> str | None:
    return sorted(items)[n % len(items)] if items else None


def _check_group(g: GroupStats) -> None:
    assert min(g.offered, g.answered, g.abandoned, g.timed_out, g.transferred_out, g.in_flight) >= 0
    assert g.answered + g.abandoned + g.timed_out + g.transferred_out + g.in_flight == g.offered
    assert g.answered_within <= g.answered
    assert g.short_abandons <= g.abandoned and g.abandoned_within <= g.abandoned
    for exclude in (False, True):
        for value in g.service_levels(exclude_in_flight=exclude).values():
            assert value is None or 0.0 <= value <= 1.0
    assert g.abandon_rate is None or 0.0 <= g.abandon_rate <= 1.0
    assert (g.longest_current_wait is None) == (g.in_flight == 0)
    assert g.longest_current_wait is None or g.longest_current_wait >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_property_balance_and_bounds(ops: list[tuple[str, int, float]]) -> None:
    s = Scene(
        QueueConfig("a", service_level_threshold=10, wrap_up=3, offer_timeout=15),
        QueueConfig("b", service_level_threshold=20, wrap_up=0, offer_timeout=None),
    )
    router = s.router
    router.add_agent(Agent("ann", queues={"a", "b"}), Presence.AVAILABLE)
    router.add_agent(
        Agent("bob", queues={"b"}, capacity={"voice": 1, "chat": 2}), Presence.AVAILABLE
    )
    answered: set[str] = set()
    router.observe(
        lambda batch: answered.update(e.contact_id for e in batch if isinstance(e, Accepted))
    )
    seq = 0

    def in_state(*states: ContactState) -> list[str]:
        return [c for c in router.contact_ids if router.contact(c).state in states]

    for op, n, x in ops:
        if op == "submit":
            seq += 1
            router.submit(Contact(f"c{seq}", ("voice", "chat")[n % 2], ("a", "b")[n // 2 % 2]))
        elif op == "accept":
            offers = [(c, a) for a in router.agent_ids for c in router.agent(a).offered]
            if offers:
                cid, aid = sorted(offers)[n % len(offers)]
                router.accept(cid, aid)
        elif op == "complete":
            c = _pick(in_state(ContactState.IN_SERVICE), n)
            if c is not None:
                router.complete(c)
        elif op == "end_wrap_up":
            c = _pick(in_state(ContactState.WRAP_UP), n)
            if c is not None:
                router.end_wrap_up(c)
        elif op == "abandon":
            c = _pick(in_state(ContactState.WAITING, ContactState.OFFERED), n)
            if c is not None:
                router.abandon(c)
        elif op == "transfer":
            c = _pick(
                in_state(ContactState.WAITING, ContactState.OFFERED, ContactState.IN_SERVICE), n
            )
            if c is not None:
                router.transfer(c, queue=("a", "b")[n // 7 % 2])
        elif op == "presence":
            agent = ("ann", "bob")[n % 2]
            presence = list(Presence)[n // 2 % 3]
            if presence is Presence.OFFLINE and router.agent(agent).in_service:
                continue
            router.set_presence(agent, presence)
        else:
            s.clock.advance(x)
            router.tick()

    now = s.clock.now()
    report = s.report()
    total = report.total
    _check_group(total)
    assert total.transferred_out == 0
    # answered + abandoned + in flight == offered, and they match the router's own view
    assert total.offered == router.submitted
    assert total.handled == router.completed
    never_answered = [c for c in router.contact_ids if c not in answered]
    assert total.in_flight == len(never_answered)
    if never_answered:
        oldest = min(router.contact(c).arrived_at for c in never_answered)
        assert total.longest_current_wait == pytest.approx(now - oldest)
    for group in (*report.queues.values(), *report.channels.values()):
        _check_group(group)
    for field in ("offered", "answered", "abandoned", "in_flight", "handled", "answered_within"):
        assert sum(getattr(g, field) for g in report.channels.values()) == getattr(total, field)
    assert sum(g.answered for g in report.queues.values()) >= total.answered
    for ag in report.agents.values():
        parts = ag.handling_time + ag.available_time + ag.not_ready_time
        assert parts == pytest.approx(ag.logged_in_time)
        assert ag.logged_in_time <= now + 1e-9
        for ratio in (ag.occupancy, ag.utilisation):
            assert ratio is None or 0.0 <= ratio <= 1.0 + 1e-12
    team = report.team
    assert team.occupancy is None or 0.0 <= team.occupancy <= 1.0 + 1e-12
    # one batch or many: the same figures
    replay = MetricsCollector(s.metrics.thresholds)
    replay.observe(s.events)
    assert replay.report(now) == report


# ------------------------------------------------------------ TotalsCollector


def _recorded_event_batches() -> list[list[list[Any]]]:
    """The events of every recorded router stream (tests/streams), batch by batch."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "streams"))
    from streams_format import Outcome, read_all

    streams = []
    for scenario in read_all():
        batches = []
        for call in scenario.calls:
            if call.call in ("clock", "explain", "explain_agent"):
                continue
            events = Outcome.recorded(call).events
            if events:
                batches.append(list(events))
        streams.append(batches)
    return streams


@pytest.mark.parametrize("subset", ["every contact", "every other contact"])
def test_totals_collector_agrees_with_the_metrics_collectors_total(subset: str) -> None:
    # Over the recorded streams of both files (every event the router makes:
    # transfers, overflows, rejoins, refusals, time-outs, callbacks,
    # dispositions ...), fed all the events or only those of a subset of the
    # contacts, as the simulator feeds one interval.
    from ccroute.metrics import TotalsCollector

    def chosen(event: Any) -> bool:
        contact_id = getattr(event, "contact_id", None)
        if subset == "every contact" or contact_id is None:
            return subset == "every contact"
        return sum(map(ord, contact_id)) % 2 == 0

    checked = 0
    for batches in _recorded_event_batches():
        full = MetricsCollector({}, short_abandon_threshold=3.0)
        totals = TotalsCollector(short_abandon_threshold=3.0)
        for batch in batches:
            mine = [e for e in batch if chosen(e)]
            full.observe(mine)
            totals.observe(mine)
            if mine:
                now = mine[-1].at
                assert totals.total(now) == full.report(now).total
                checked += 1
    assert checked > 5_000


def test_totals_collector_counts_dispositions_as_the_metrics_collector_does() -> None:
    from ccroute.events import Accepted, Completed, Queued, WrapUpEnded
    from ccroute.metrics import TotalsCollector

    events = [
        Queued(0.0, "c1", "q", "voice"),
        Queued(0.0, "c2", "q", "voice"),
        Accepted(1.0, "c1", "ann", "q", "voice", 1.0),
        Accepted(1.0, "c2", "bob", "q", "voice", 1.0),
        Completed(5.0, "c1", "ann", "q", "voice", 4.0, "sale"),
        Completed(5.0, "c2", "bob", "q", "voice", 4.0),
        WrapUpEnded(6.0, "c1", "ann", "q", "voice", 1.0, "sale"),
        WrapUpEnded(6.0, "c2", "bob", "q", "voice", 1.0, None),
    ]
    totals = TotalsCollector()
    totals.observe(events)
    full = MetricsCollector({})
    full.observe(events)
    assert dict(totals.total(6.0).dispositions) == {"sale": 1}
    assert totals.total(6.0) == full.report(6.0).total
