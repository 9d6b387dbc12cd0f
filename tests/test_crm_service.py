"""The built-in CRM in a running service, on asyncio and trio: the history every
finished contact leaves, enrichment rules in the CRM step, the screen pop,
dispositions through the service, and what a restart keeps (SQLite)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ccroute import (
    Agent,
    Contact,
    HistoryRecord,
    InvalidValueError,
    ManualClock,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    ServiceError,
    StorageError,
    hookimpl,
)
from ccroute.commands import Complete, EndWrapUp
from ccroute.hooktypes import HistoryTransfer

pytestmark = pytest.mark.anyio

DAY = 86_400.0
RULES = {
    "rules": [
        {"name": "vip", "kind": "tier", "values": {"gold": {"priority_seconds": 300}}},
        {"name": "lang", "kind": "language", "skills": {"fr": "french"}},
        {"name": "case", "kind": "open_case", "max_wait": 60},
        {"name": "sticky", "kind": "last_agent", "within_days": 7, "max_wait": 45},
    ]
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Desk:
    """The agents' side: takes every offer and keeps what it was shown."""

    def __init__(self) -> None:
        self.offers: list[OfferDelivery] = []

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.offers.append(delivery)
        return True

    def shown(self, contact_id: str) -> OfferDelivery:
        return next(d for d in self.offers if d.offer.contact_id == contact_id)


class Ivr:
    """A flow that keeps its answers where the IVR step keeps them."""

    class Flow:
        async def run(self, contact: Contact) -> Contact:
            answers = {"intent": {"name": "billing", "confidence": 0.9}, "account": "4711"}
            return attrs.evolve(contact, attributes={**contact.attributes, "ivr": answers})

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> Any:
        return self.Flow()


async def centre(service: Service, wrap_up: float | None = 0.0) -> None:
    codes = ("sale", "no-sale")
    await service.add_queues(
        [
            QueueConfig("support", wrap_up=wrap_up, dispositions=codes, offer_timeout=None),
            QueueConfig("billing", wrap_up=wrap_up, dispositions=codes, offer_timeout=None),
            QueueConfig("short", max_wait=10, overflow="billing", offer_timeout=None),
            QueueConfig("full", max_size=0),
        ]
    )
    skills = {"ann": {}, "bob": {}, "cat": {"french": 5}}
    for agent, levels in skills.items():
        await service.add_agent(
            Agent(agent, skills=levels, queues=("support", "billing", "short")), Presence.NOT_READY
        )


def crm_service(clock: ManualClock, *plugins: object, **crm: Any) -> Service:
    return Service(
        clock=clock,
        plugins=[Desk(), *plugins],
        settings={"crm": {"rules": RULES, **crm}},
        load_entrypoints=False,
    )


def desk_of(service: Service) -> Desk:
    return next(p for p in service._plugins if isinstance(p, Desk))  # the test's own plugin


async def history(service: Service, customer: str) -> list[HistoryRecord]:
    await service.drain()
    return service.crm.store.history(customer)


# ------------------------------------------------------------------- history


async def test_an_answered_contact_leaves_its_times_agent_code_and_ivr_answers(
    anyio_backend: str,
) -> None:
    clock = ManualClock(1000.0)
    async with crm_service(clock, Ivr()) as service:
        await centre(service, wrap_up=None)
        await service.inbound(Contact("c1", "voice", "support", customer_id="alice"))
        clock.advance(5)
        await service.set_presence("bob", Presence.AVAILABLE)
        clock.advance(2)
        await service.accept("c1", "bob")
        clock.advance(60)
        await service.complete("c1", "no-sale")
        clock.advance(10)
        await service.end_wrap_up("c1", "sale")
        (record,) = await history(service, "alice")
    assert (record.outcome, record.agent_id, record.queue, record.channel) == (
        "completed",
        "bob",
        "support",
        "voice",
    )
    assert (record.queued_at, record.answered_at, record.completed_at, record.ended_at) == (
        1000.0,
        1007.0,
        1067.0,
        1077.0,
    )
    assert record.disposition == "sale"
    assert record.ivr == {"intent": {"name": "billing", "confidence": 0.9}, "account": "4711"}
    assert record.transfers == ()


async def test_abandoned_refused_and_overflowed_contacts_are_in_the_history(
    anyio_backend: str,
) -> None:
    clock = ManualClock(0.0)
    async with crm_service(clock) as service:
        await centre(service)
        await service.submit(Contact("gone", "voice", "support", customer_id="alice"))
        clock.advance(3)
        await service.abandon("gone")
        clock.advance(1)
        await service.submit(Contact("refused", "chat", "full", customer_id="alice"))
        await service.submit(Contact("late", "voice", "short", customer_id="alice"))
        clock.advance(10)
        await service.tick()
        await service.set_presence("ann", Presence.AVAILABLE)
        await service.accept("late", "ann")
        await service.complete("late", "sale")
        records = await history(service, "alice")
    late, refused, gone = records
    assert (refused.outcome, refused.queue, refused.channel, refused.ended_at) == (
        "refused",
        "full",
        "chat",
        4.0,
    )
    assert (gone.contact_id, gone.outcome, gone.agent_id, gone.answered_at) == (
        "gone",
        "abandoned",
        None,
        None,
    )
    assert gone.ended_at == 3.0
    assert (late.outcome, late.queue, late.agent_id, late.disposition) == (
        "completed",
        "billing",
        "ann",
        "sale",
    )
    assert late.transfers == (HistoryTransfer(14.0, "overflow", "short", "billing"),)


async def test_a_transferred_contact_keeps_its_path(anyio_backend: str) -> None:
    clock = ManualClock(0.0)
    async with crm_service(clock) as service:
        await centre(service)
        await service.set_presence("ann", Presence.AVAILABLE)
        await service.submit(Contact("c1", "chat", "support", customer_id="alice"))
        await service.accept("c1", "ann")
        clock.advance(30)
        await service.set_presence("bob", Presence.AVAILABLE)
        await service.transfer("c1", queue="billing", agent="bob")
        await service.accept("c1", "bob")
        clock.advance(30)
        await service.complete("c1", "sale")
        (record,) = await history(service, "alice")
    assert record.transfers == (
        HistoryTransfer(30.0, "transfer", "support", "billing", "ann", "bob"),
    )
    assert (record.queue, record.agent_id, record.answered_at) == ("billing", "bob", 30.0)


# --------------------------------------------------------- rules in the service


async def test_the_rules_route_inbound_contacts(anyio_backend: str) -> None:
    clock = ManualClock(10 * DAY)
    async with crm_service(clock) as service:
        await centre(service)
        store = service.crm.store
        store.put_profile("vip", {"tier": "gold"})
        store.put_profile("pierre", {"language": "fr"})
        store.put_profile("case", {"open_case": {"owner": "bob", "status": "open"}})
        # tier: the VIP who comes last is served first
        await service.inbound(Contact("regular", "voice", "support", customer_id="nobody"))
        clock.advance(60)
        await service.inbound(Contact("gold", "voice", "support", customer_id="vip"))
        await service.set_presence("ann", Presence.AVAILABLE)
        assert service.router.contact("gold").agent_id == "ann"
        assert service.router.contact("regular").agent_id is None
        # language: only cat speaks French
        await service.set_presence("bob", Presence.AVAILABLE)
        assert service.router.contact("regular").agent_id == "bob"
        await service.set_presence("cat", Presence.AVAILABLE)
        await service.inbound(Contact("fr", "chat", "support", customer_id="pierre"))
        assert service.router.contact("fr").agent_id == "cat"
        # open case: the owner (bob, busy) is waited for
        await service.inbound(Contact("k", "voice", "billing", customer_id="case"))
        view = service.router.contact("k")
        assert (view.agent_id, view.reserved_for) == (None, "bob")
        await service.accept("regular", "bob")
        await service.complete("regular")
        assert service.router.contact("k").agent_id == "bob"


async def test_the_last_agent_within_seven_days_is_preferred(anyio_backend: str) -> None:
    clock = ManualClock(10 * DAY)
    async with crm_service(clock) as service:
        await centre(service)
        await service.set_presence("cat", Presence.AVAILABLE)
        await service.inbound(Contact("first", "voice", "support", customer_id="alice"))
        await service.accept("first", "cat")
        await service.complete("first")
        await service.drain()  # the history is written
        await service.set_presence("cat", Presence.NOT_READY)
        await service.set_presence("ann", Presence.AVAILABLE)
        clock.advance(6 * DAY)
        await service.inbound(Contact("second", "voice", "support", customer_id="alice"))
        view = service.router.contact("second")
        assert (view.agent_id, view.reserved_for) == (None, "cat")
        clock.advance(20)
        await service.set_presence("cat", Presence.AVAILABLE)
        assert service.router.contact("second").agent_id == "cat"
        await service.accept("second", "cat")
        await service.complete("second")
        await service.drain()
        # Eight days later the last agent is too old: whoever is free takes it.
        await service.set_presence("cat", Presence.NOT_READY)
        clock.advance(8 * DAY)
        await service.inbound(Contact("third", "voice", "support", customer_id="alice"))
        assert service.router.contact("third").agent_id == "ann"


class ExternalCrm:
    """An external CRM: its profile wins; its own enrichment only for 'mine'."""

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return {"tier": "gold", "source": "external"}

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
        if contact.customer_id != "mine":
            return None
        return attrs.evolve(contact, priority_seconds=1.0)


async def test_an_external_crm_answers_first_and_its_enrichment_takes_precedence(
    anyio_backend: str,
) -> None:
    clock = ManualClock(0.0)
    async with crm_service(clock, ExternalCrm()) as service:
        await centre(service)
        service.crm.store.put_profile("alice", {"tier": "bronze"})
        await service.inbound(Contact("a", "voice", "support", customer_id="alice"))
        await service.inbound(Contact("m", "voice", "support", customer_id="mine"))
        await service.set_presence("ann", Presence.AVAILABLE)
        await service.set_presence("bob", Presence.AVAILABLE)
        # the external profile (gold) went through the built-in rules ...
        assert service.router.contact("a").key[1] == -300.0
        # ... unless the external CRM enriched the contact itself
        assert service.router.contact("m").key[1] == -1.0
        await service.drain()
        assert desk_of(service).shown("a").profile == {"tier": "gold", "source": "external"}


# -------------------------------------------------------------- screen pop


async def test_the_offer_carries_profile_history_ivr_answers_and_intent(
    anyio_backend: str,
) -> None:
    clock = ManualClock(0.0)
    async with crm_service(clock, Ivr(), history_limit=2) as service:
        await centre(service)
        service.crm.store.put_profile("alice", {"name": "Alice", "tier": "silver"})
        await service.set_presence("ann", Presence.AVAILABLE)
        for i in range(3):
            await service.inbound(Contact(f"old{i}", "chat", "support", customer_id="alice"))
            await service.drain()  # the offer is shown before it is answered
            await service.accept(f"old{i}", "ann")
            clock.advance(10)
            await service.complete(f"old{i}", "sale")
            await service.drain()
        await service.inbound(Contact("now", "voice", "support", customer_id="alice"))
        await service.drain()
        shown = desk_of(service).shown("now")
    assert shown.profile == {"name": "Alice", "tier": "silver"}
    assert [r.contact_id for r in shown.history] == ["old2", "old1"]
    assert shown.history[0].disposition == "sale"
    assert shown.ivr["account"] == "4711"
    assert shown.intent == "billing"
    assert desk_of(service).shown("old0").history == ()
    assert [r.contact_id for r in desk_of(service).shown("old2").history] == ["old1", "old0"]


# ------------------------------------------------------------- dispositions


async def test_the_service_logs_codes_and_refuses_unknown_ones(anyio_backend: str) -> None:
    clock = ManualClock(0.0)
    async with crm_service(clock) as service:
        await centre(service, wrap_up=None)
        await service.set_presence("ann", Presence.AVAILABLE)
        await service.submit(Contact("c1", "voice", "support"))
        await service.accept("c1", "ann")
        seq = service.durable_seq
        with pytest.raises(InvalidValueError, match=r"unknown disposition 'won'.*'support'"):
            await service.complete("c1", "won")
        assert service.durable_seq == seq
        await service.complete("c1", "no-sale")
        await service.end_wrap_up("c1", "sale")
        commands = [r.command for r in service.storage.load().records]
        assert Complete("c1", "no-sale") in commands
        assert EndWrapUp("c1", "sale") in commands
        assert dict(service.metrics.report(service.router.now).total.dispositions) == {"sale": 1}


# ---------------------------------------------------------------- restarts


async def test_a_restart_keeps_profiles_history_and_live_contacts_paths(
    anyio_backend: str, tmp_path: Path
) -> None:
    log = tmp_path / "centre.db"
    clock = ManualClock(0.0)

    def make() -> Service:
        return Service(
            path=log, sync="OFF", clock=clock, settings={"crm": True}, load_entrypoints=False
        )

    async with make() as service:
        await centre(service, wrap_up=None)
        service.crm.store.put_profile("alice", {"tier": "gold"})
        await service.set_presence("ann", Presence.AVAILABLE)
        await service.submit(Contact("done", "voice", "support", customer_id="alice"))
        await service.accept("done", "ann")
        await service.complete("done")
        await service.end_wrap_up("done", "sale")
        # one contact is still in wrap-up at the stop, after a transfer
        await service.submit(Contact("live", "voice", "support", customer_id="alice"))
        await service.accept("live", "ann")
        clock.advance(5)
        await service.transfer("live", queue="billing")
        await service.accept("live", "ann")
        clock.advance(5)
        await service.complete("live", "no-sale")
    assert (tmp_path / "centre-crm.db").exists()
    clock.advance(100)
    async with make() as service:
        assert service.crm.store.profile("alice") == {"tier": "gold"}
        await service.end_wrap_up("live")
        records = await history(service, "alice")
    assert [(r.contact_id, r.disposition) for r in records] == [
        ("live", "no-sale"),
        ("done", "sale"),
    ]
    live = records[0]
    assert live.transfers == (HistoryTransfer(5.0, "transfer", "support", "billing", "ann", None),)
    assert (live.completed_at, live.ended_at) == (10.0, 110.0)


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("crm", "message"),
    [
        ("yes", r'settings\["crm"\] must be true or a mapping'),
        ({"stor": "memory"}, "unknown key 'stor'"),
        ({"store": "redis"}, '"sqlite" or "memory"'),
        ({"store": "sqlite"}, 'needs a "path"'),
        ({"rules": [{"kind": "tier", "values": {}}]}, r"rule 'tier#0' \(tier\): field 'values'"),
        ({"history_limit": 0}, "history limit"),
    ],
)
async def test_bad_crm_settings_stop_the_start_with_a_clear_error(
    anyio_backend: str, crm: Any, message: str
) -> None:
    service = Service(settings={"crm": crm}, load_entrypoints=False)
    with pytest.raises(InvalidValueError, match=message):
        await service.start()
    assert not service.running


async def test_without_settings_there_is_no_builtin_crm(anyio_backend: str) -> None:
    async with Service(load_entrypoints=False) as service:
        with pytest.raises(ServiceError, match="no built-in CRM"):
            service.crm  # noqa: B018


async def test_a_foreign_crm_file_stops_the_start(anyio_backend: str, tmp_path: Path) -> None:
    (tmp_path / "foreign.db").write_bytes(b"x" * 4096)
    service = Service(
        settings={"crm": {"path": str(tmp_path / "foreign.db")}}, load_entrypoints=False
    )
    with pytest.raises(StorageError):
        await service.start()
    await anyio.sleep(0)


class SelfService:
    """Resolves every contact itself (a balance check)."""

    class Flow:
        async def run(self, contact: Contact) -> None:
            return None

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> Any:
        return self.Flow()


async def test_a_contact_the_ivr_resolved_is_in_the_history(anyio_backend: str) -> None:
    clock = ManualClock(50.0)
    async with crm_service(clock, SelfService()) as service:
        await centre(service)
        attributes = {"ivr": {"intent": "balance", "account": "4711"}}
        await service.inbound(
            Contact("s1", "chat", "support", customer_id="alice", attributes=attributes)
        )
        (record,) = await history(service, "alice")
    assert (record.outcome, record.agent_id, record.arrived_at, record.ended_at) == (
        "self-service",
        None,
        50.0,
        50.0,
    )
    assert record.ivr == {"intent": "balance", "account": "4711"}
