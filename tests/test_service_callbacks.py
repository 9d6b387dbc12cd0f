"""Scheduled callbacks and closed hours on the live service (docs/business-hours.md):
logged, kept across a restart (from a snapshot and from the log alone), told
to the customer side and recorded in the CRM history with their outcome."""

from __future__ import annotations

import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ccroute import (
    Agent,
    BusinessHours,
    CallbackClosed,
    Contact,
    ContactState,
    CustomerUpdate,
    HistoryRecord,
    ManualClock,
    Presence,
    QueueConfig,
    Refused,
    Service,
    WhenClosed,
    hookimpl,
)
from ccroute.testing import of_type

pytestmark = pytest.mark.anyio

MONDAY = dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp()
HOUR = 3600.0
WEEKDAYS = BusinessHours("UTC", dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "09:00-17:00"))
QUEUES = [
    QueueConfig(
        "support",
        calendar=WEEKDAYS,
        when_closed=WhenClosed.HOLD,
        callback_retries=(600,),
        offer_timeout=None,
    ),
    QueueConfig("sales", calendar=WEEKDAYS),
]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Desk:
    def __init__(self) -> None:
        self.updates: list[CustomerUpdate] = []
        self.history: list[HistoryRecord] = []

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.history.append(record)


def drop_snapshots(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM snapshots")


async def test_a_held_callback_survives_restarts_then_closes_unreached(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    clock = ManualClock(MONDAY + 8 * HOUR)  # the service reads Unix time: epoch 0
    desk = Desk()
    async with Service(path=path, clock=clock, plugins=[desk], load_entrypoints=False) as service:
        await service.add_queues(QUEUES)
        await service.add_agent(Agent("ann", queues={"support"}), Presence.AVAILABLE)
        events = await service.submit(Contact("night", "voice", "sales"))
        assert of_type(events, Refused)[0].reason == "closed"
        await service.submit(Contact("early", "voice", "support", customer_id="k1"))
        await service.schedule_callback(
            Contact("appt", "callback", "support", customer_id="k2"), MONDAY + 10 * HOUR
        )
        await service.drain()
        assert not service.router.is_open("support")
        # Held for later: scheduled, not waiting.
        stats = service.router.queue_stats("support")
        assert (stats.scheduled, stats.waiting) == (2, 0)
        assert service.router.queue_stats("sales").scheduled == 0
        scheduled = [u for u in desk.updates if u.kind == "scheduled"]
        assert [(u.contact_id, u.reason, u.estimated_wait) for u in scheduled] == [
            ("early", "closed", HOUR),
            ("appt", "requested", 2 * HOUR),
        ]
        assert [(u.contact_id, u.reason) for u in desk.updates if u.kind == "closed"] == [
            ("night", "refused: closed")
        ]

    for replay_all in (False, True):
        if replay_all:
            drop_snapshots(path)
        async with Service(path=path, clock=clock, load_entrypoints=False) as again:
            assert again.router.contact("early").state is ContactState.SCHEDULED
            assert again.router.contact("appt").callback_due == MONDAY + 10 * HOUR
            # The count is the router's, from the snapshot or from the log alone.
            assert again.router.queue_stats("support").scheduled == 2

    desk = Desk()
    async with Service(path=path, clock=clock, plugins=[desk], load_entrypoints=False) as service:
        clock.set(MONDAY + 9 * HOUR)
        await service.tick()
        assert service.router.contact("early").state is ContactState.OFFERED
        assert service.router.queue_stats("support").scheduled == 1  # "early" entered
        await service.accept("early", "ann")
        await service.callback_unanswered("early")
        assert service.router.contact("early").callback_due == MONDAY + 9 * HOUR + 600
        assert service.router.queue_stats("support").scheduled == 2  # held again
        clock.advance(600)
        await service.tick()
        await service.accept("early", "ann")
        events = await service.callback_unanswered("early")
        assert of_type(events, CallbackClosed)[0].reason == "unreached"
        await service.abandon("appt")  # the customer cancels
        assert service.router.queue_stats("support").scheduled == 0
        await service.drain()
        outcomes = {r.contact_id: (r.outcome, r.customer_id) for r in desk.history}
        assert outcomes == {"early": ("unreached", "k1"), "appt": ("cancelled", "k2")}
        closed = {u.contact_id: u.reason for u in desk.updates if u.kind == "closed"}
        assert closed == {"early": "callback unreached", "appt": "callback cancelled"}
        assert service.router.contact_ids == []
