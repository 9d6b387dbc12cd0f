"""The service on both anyio backends: the inbound pipeline, durability, timers,
shutdown and resume, storage failure, and plugin faults while routing.

Crash recovery under SIGKILL is in tests/test_crash.py; the hook caller's
isolation, case by case, in tests/test_plugins.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ccroute import (
    Accepted,
    Agent,
    CCRouteError,
    Contact,
    CustomerEnriched,
    CustomerUpdate,
    Event,
    FlowFinished,
    HistoryRecord,
    HistoryRecorded,
    InvalidStateError,
    ManualClock,
    MemoryStorage,
    OfferDelivered,
    OfferDelivery,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    Presence,
    QueueConfig,
    Queued,
    RoutingPolicy,
    Service,
    ServiceError,
    StorageError,
    TimedOut,
    UnknownIdError,
    hookimpl,
)
from ccroute.storage import LogRecord
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Desk:
    """The agents' and customers' side, as an application plugin sees it."""

    def __init__(self) -> None:
        self.offers: list[OfferDelivery] = []
        self.updates: list[CustomerUpdate] = []
        self.history: list[HistoryRecord] = []
        self.batches: list[list[Event]] = []
        self.offered = anyio.Event()
        self.recorded = anyio.Event()

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.offers.append(delivery)
        self.offered.set()
        return True

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.history.append(record)
        self.recorded.set()

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> None:
        self.batches.append(list(events))

    def events(self) -> list[Event]:
        return [e for batch in self.batches for e in batch]


class Ivr:
    """Sends billing words to the billing queue; answers "opening hours" itself."""

    class Flow:
        async def run(self, contact: Contact) -> Contact | None:
            subject = str(contact.attributes.get("subject", ""))
            if "opening hours" in subject:
                return None
            if "invoice" in subject:
                return attrs.evolve(contact, queue="billing")
            return contact

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> Any:
        return self.Flow()


class Crm:
    """Knows one VIP, who gets a head start and the agent who served them last."""

    profiles: Mapping[str, Mapping[str, Any]] = {"vip": {"tier": "gold", "last_agent": "bob"}}

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return self.profiles.get(customer_id)

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
        if profile.get("tier") != "gold":
            return None
        return attrs.evolve(
            contact,
            priority_seconds=60.0,
            preferred_agent=profile["last_agent"],
            preferred_wait=30.0,
        )


async def centre(service: Service) -> None:
    await service.add_queues([QueueConfig("support", wrap_up=0), QueueConfig("billing", wrap_up=0)])
    await service.add_agent(Agent("alice", queues=("support", "billing")), Presence.AVAILABLE)
    await service.add_agent(Agent("bob", queues=("support", "billing")), Presence.AVAILABLE)


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.005)


async def test_inbound_pipeline_from_ivr_to_history(anyio_backend: str) -> None:
    desk = Desk()
    async with Service(plugins=[desk, Ivr(), Crm()], load_entrypoints=False) as service:
        await centre(service)
        # alice has been idle longest, but the VIP goes to bob, their last agent
        events = await service.inbound(
            Contact("m1", "voice", "support", customer_id="vip", attributes={"subject": "invoice"})
        )
        enriched = next(e for e in events if isinstance(e, CustomerEnriched))
        assert (enriched.profile_found, enriched.changed) == (True, True)
        flow = next(e for e in events if isinstance(e, FlowFinished))
        assert flow.outcome == "routed"
        view = service.router.contact("m1")
        assert (view.queue, view.agent_id) == ("billing", "bob")
        await wait_for(lambda: any(d.offer.contact_id == "m1" for d in desk.offers))
        delivery = next(d for d in desk.offers if d.offer.contact_id == "m1")
        # the offer reaches bob's side with the CRM profile beside it
        assert delivery.agent.id == "bob"
        assert delivery.profile == {"tier": "gold", "last_agent": "bob"}
        # without the CRM, the same customer goes to alice
        await service.inbound(Contact("m2", "voice", "support", customer_id="nobody"))
        assert service.router.contact("m2").agent_id == "alice"
        agent = delivery.offer.agent_id
        await service.accept("m1", agent)
        await service.complete("m1")
        await wait_for(lambda: any(r.contact_id == "m1" for r in desk.history))
        record = next(r for r in desk.history if r.contact_id == "m1")
        assert (record.outcome, record.agent_id, record.customer_id, record.queue) == (
            "completed",
            agent,
            "vip",
            "billing",
        )
        kinds = [(u.kind, u.reason) for u in desk.updates if u.contact_id == "m1"]
        assert kinds == [("queued", None), ("answered", None), ("closed", "completed")]
        await wait_for(
            lambda: any(
                isinstance(e, HistoryRecorded) and e.contact_id == "m1"
                for r in service_log(service)
                for e in r.events
            )
        )
        seen = desk.events()
        assert any(isinstance(e, FlowFinished) for e in seen)
        assert any(isinstance(e, OfferDelivered) and e.delivered for e in seen)


def service_log(service: Service) -> list[LogRecord]:
    storage = service._storage  # the test looks at what is durable
    assert isinstance(storage, MemoryStorage)
    return list(storage.load().records)


async def test_self_service_never_reaches_an_agent(anyio_backend: str) -> None:
    desk = Desk()
    async with Service(plugins=[desk, Ivr()], load_entrypoints=False) as service:
        await centre(service)
        events = await service.inbound(
            Contact(
                "h1", "chat", "support", customer_id="c", attributes={"subject": "opening hours?"}
            )
        )
        assert [type(e) for e in events] == [FlowFinished]
        assert events[0].outcome == "self-service"  # type: ignore[attr-defined]
        assert "h1" not in service.router.contact_ids
        await wait_for(lambda: bool(desk.history))
        assert desk.history[0].outcome == "self-service"
        assert [u.reason for u in desk.updates] == ["self-service"]


class CountingStore(MemoryStorage):
    """A memory store that counts commits and can be told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.commits = 0
        self.fail = False

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.fail:
            raise OSError("disk full")
        super().append(records)
        self.commits += 1


async def test_acknowledged_means_durable_and_concurrent_calls_share_commits(
    anyio_backend: str,
) -> None:
    store = CountingStore()
    async with Service(storage=store, load_entrypoints=False) as service:
        await centre(service)
        commits = store.commits

        async def submit(i: int) -> None:
            await service.submit(Contact(f"c{i}", "email", "support"))
            # acknowledged: the call's record is in the store now
            assert any(
                r.name == "submit" and r.command.contact.id == f"c{i}" for r in store.load().records
            )

        async with anyio.create_task_group() as tg:
            for i in range(50):
                tg.start_soon(submit, i)
        assert store.commits - commits < 50, "concurrent calls were not committed together"
        assert service.durable_seq == store.load().last_seq


async def test_a_refused_call_logs_nothing_and_changes_nothing(anyio_backend: str) -> None:
    store = CountingStore()
    # a manual clock: time standing still, so "nothing changed" includes the time
    async with Service(storage=store, clock=ManualClock(5.0), load_entrypoints=False) as service:
        await centre(service)
        before, seq = snapshot(service.router), service.durable_seq
        with pytest.raises(UnknownIdError, match="unknown contact 'nope'"):
            await service.accept("nope", "alice")
        await service.submit(Contact("w", "voice", "support"))
        before, seq = snapshot(service.router), service.durable_seq
        with pytest.raises(InvalidStateError):
            await service.complete("w")
    assert snapshot(service.router) == before
    # stopping adds the history notes of nothing: the refused call left no record
    assert not any(r.name == "accept" for r in store.load().records)
    assert seq <= store.load().last_seq
    with pytest.raises(ServiceError, match="not running"):
        await service.submit(Contact("late", "voice", "support"))


async def test_timers_fire_on_their_own(anyio_backend: str) -> None:
    desk = Desk()
    async with Service(plugins=[desk], load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=0.1))
        await service.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
        await service.submit(Contact("c", "voice", "q"))
        await wait_for(lambda: any(isinstance(e, OfferTimedOut) for e in desk.events()))
        assert service.router.agent("a").presence is Presence.NOT_READY


async def test_a_second_start_resumes_from_sqlite(anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    async with Service(path=path, load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=None))
        await service.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
        for i in range(5):
            await service.submit(Contact(f"c{i}", "voice", "q", priority_seconds=i))
        before = snapshot(service.router)
    desk = Desk()
    async with Service(path=path, plugins=[desk], load_entrypoints=False) as again:
        assert snapshot(again.router) == {**before, "now": again.router.now}
        # the open offer reaches the agent's side again
        assert [d.offer.contact_id for d in desk.offers] == ["c0"]
        await again.accept("c0", "a")
        assert again.router.contact("c0").agent_id == "a"


async def test_a_storage_failure_stops_the_service_and_a_restart_recovers(
    anyio_backend: str,
) -> None:
    store = CountingStore()
    async with Service(storage=store, load_entrypoints=False) as service:
        await centre(service)
        await service.submit(Contact("kept", "email", "support"))
        store.fail = True
        with pytest.raises(StorageError, match="disk full"):
            await service.submit(Contact("lost", "email", "support"))
        with pytest.raises(ServiceError, match="storage failure"):
            await service.submit(Contact("refused", "email", "support"))
    store.fail = False
    async with Service(storage=store, load_entrypoints=False) as again:
        assert "kept" in again.router.contact_ids
        assert "lost" not in again.router.contact_ids


class Faulty:
    """Every hook the pipeline calls, failing the way it is told."""

    def __init__(self, hook: str, how: str) -> None:
        self.hook, self.how = hook, how

    async def fail(self) -> Any:
        if self.how == "raise":
            raise RuntimeError("plugin bug")
        if self.how == "hang":
            await anyio.sleep(30)
        return 42  # junk for every hook

    @hookimpl
    async def ccroute_ivr_flow(self, contact: Contact) -> Any:
        return await self.fail() if self.hook == "ivr" else None

    @hookimpl
    async def ccroute_crm_lookup(self, customer_id: str) -> Any:
        return await self.fail() if self.hook == "crm" else None

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> Any:
        return await self.fail() if self.hook == "offer" else None

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> Any:
        return await self.fail() if self.hook == "events" else None

    @hookimpl
    async def ccroute_customer_update(self, update: CustomerUpdate) -> Any:
        return await self.fail() if self.hook == "update" else None


@pytest.mark.parametrize("how", ["raise", "hang", "junk"])
@pytest.mark.parametrize("hook", ["ivr", "crm", "offer", "events", "update"])
async def test_a_failing_plugin_does_not_stop_routing(
    anyio_backend: str, hook: str, how: str
) -> None:
    desk = Desk()
    faulty = Faulty(hook, how)
    with anyio.fail_after(10):
        async with Service(
            plugins=[desk, faulty], load_entrypoints=False, hook_timeout=0.2
        ) as service:
            await centre(service)
            for i in range(2):
                events = await service.inbound(
                    Contact(f"c{i}", "voice", "support", customer_id="x")
                )
                assert any(isinstance(e, Offered) for e in events)
                assert any(isinstance(e, Queued) for e in events)
            await wait_for(lambda: len(desk.offers) == 2 and len(desk.batches) >= 2)
            # Offers are delivered concurrently: c0's may arrive second.
            (first,) = [d for d in desk.offers if d.offer.contact_id == "c0"]
            await service.accept("c0", first.agent.id)
            await service.drain()  # customer updates no longer hold up offers: let them end
            kinds = {kind for (_hook, plugin, kind) in service.hook_failures}
            assert kinds == {"raised" if how == "raise" else "timeout" if how == "hang" else "junk"}
            assert service.hook_failures.total() >= 2


async def test_calls_before_start_are_refused(anyio_backend: str) -> None:
    service = Service(load_entrypoints=False)
    with pytest.raises(ServiceError):
        await service.submit(Contact("c", "voice", "q"))
    with pytest.raises(CCRouteError):
        Service(sync="SOMETIMES")


async def test_a_manual_clock_drives_the_service_deterministically(anyio_backend: str) -> None:
    clock = ManualClock(100.0)
    async with Service(clock=clock, load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=10))
        await service.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
        events = await service.submit(Contact("c", "voice", "q"))
        assert [e.at for e in events] == [100.0, 100.0]
        clock.advance(10)
        assert [type(e) for e in await service.tick()][:1] == [OfferTimedOut]


async def test_accept_reaches_the_store_before_it_returns(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.db"
    async with Service(path=path, load_entrypoints=False) as service:
        await centre(service)
        await service.submit(Contact("c", "voice", "support"))
        agent = service.router.contact("c").agent_id
        assert agent is not None
        events = await service.accept("c", agent)
        assert any(isinstance(e, Accepted) for e in events)
        # another connection sees it at once: it is on disk (a reader, as the
        # sqlite3 command line is: a second store would be refused, the log has one owner)
        import sqlite3
        from contextlib import closing

        with closing(sqlite3.connect(path)) as other:
            commands = [row[0] for row in other.execute("SELECT command FROM log")]
        assert "accept" in commands


async def test_a_damaged_last_record_is_reported_and_the_good_prefix_recovered(
    anyio_backend: str, tmp_path: Path
) -> None:
    import sqlite3

    path = tmp_path / "centre.db"
    async with Service(path=path, load_entrypoints=False, snapshot_every=1000) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=None))
        for i in range(3):
            await service.submit(Contact(f"c{i}", "voice", "q"))
    # the final snapshot would cover the damage: drop it, then damage the last call
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM snapshots")
        (last,) = db.execute("SELECT max(seq) FROM log").fetchone()  # submit of c2
        db.execute("UPDATE log SET body = substr(body, 1, 20) WHERE seq = ?", (last,))
    async with Service(path=path, load_entrypoints=False) as again:
        assert again.recovery_problem is not None
        assert f"record {last}" in again.recovery_problem
        assert again.router.contact_ids == ["c0", "c1"]
        # and it goes on from there
        await again.submit(Contact("c2", "voice", "q"))
        assert again.router.contact_ids == ["c0", "c1", "c2"]


# ----------------------------------------- routing policies through the service


class KeepingStore(MemoryStorage):
    """A memory store that also remembers every record appended, snapshot or not."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[LogRecord] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        super().append(records)
        self.log.extend(records)


def log_copy(store: KeepingStore) -> MemoryStorage:
    """The same log without its snapshots: a start replays every record."""
    fresh = MemoryStorage()
    fresh.append(store.log)
    return fresh


async def test_exclusions_are_durable_calls_and_replay(anyio_backend: str) -> None:
    store = KeepingStore()
    async with Service(storage=store, clock=ManualClock(0.0), load_entrypoints=False) as service:
        await centre(service)
        # alice has been idle longest, but she may not serve this customer
        assert await service.add_exclusion("cust", "alice") == []
        await service.submit(Contact("c1", "voice", "support", customer_id="cust"))
        assert service.router.contact("c1").agent_id == "bob"
        await service.remove_exclusion("cust", "alice")
        await service.submit(Contact("c2", "voice", "support", customer_id="cust"))
        assert service.router.contact("c2").agent_id == "alice"
        before = snapshot(service.router)
    commands = [r.name for r in store.log]
    assert "add_exclusion" in commands and "remove_exclusion" in commands
    async with Service(storage=log_copy(store), load_entrypoints=False) as again:
        assert again.recovery_problem is None
        assert snapshot(again.router) == {**before, "now": again.router.now}


async def test_the_policy_builds_the_router_and_a_replay_needs_the_same_one(
    anyio_backend: str,
) -> None:
    blocking = RoutingPolicy(blocking={"voice": {"chat"}})
    store = KeepingStore()
    async with Service(
        storage=store, clock=ManualClock(0.0), policy=blocking, load_entrypoints=False
    ) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=None))
        await service.add_agent(
            Agent("a", queues=("q",), capacity={"voice": 1, "chat": 2}), Presence.AVAILABLE
        )
        await service.submit(Contact("v", "voice", "q"))
        # holding voice work, the agent is not offered chats
        assert not any(
            isinstance(e, Offered) for e in await service.submit(Contact("c", "chat", "q"))
        )
        before = snapshot(service.router)
    # the snapshot carries the policy: no keyword needed
    async with Service(storage=store, load_entrypoints=False) as again:
        assert snapshot(again.router) == {**before, "now": again.router.now}
    # without a snapshot the log replays only under the policy it was made with
    async with Service(storage=log_copy(store), policy=blocking, load_entrypoints=False) as again:
        assert snapshot(again.router) == {**before, "now": again.router.now}
    with pytest.raises(StorageError, match="replays to different events"):
        async with Service(storage=log_copy(store), load_entrypoints=False):
            pass
    with pytest.raises(CCRouteError):
        Service(policy={"blocking": {}})  # type: ignore[arg-type]


async def test_a_timed_out_contact_is_closed_and_recorded(anyio_backend: str) -> None:
    desk = Desk()
    clock = ManualClock(0.0)
    async with Service(clock=clock, plugins=[desk], load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q", max_wait=10.0))
        await service.submit(Contact("c", "voice", "q", customer_id="cust"))
        clock.advance(10)
        assert [type(e) for e in await service.tick()] == [TimedOut]
        await wait_for(lambda: any(r.contact_id == "c" for r in desk.history))
        record = next(r for r in desk.history if r.contact_id == "c")
        assert (record.outcome, record.customer_id, record.answered_at) == (
            "timed-out",
            "cust",
            None,
        )
        assert record.ended_at == 10.0
        kinds = [(u.kind, u.reason) for u in desk.updates if u.contact_id == "c"]
        assert kinds == [("queued", None), ("closed", "timed out: max wait")]


async def test_an_overflowed_contact_is_queued_again(anyio_backend: str) -> None:
    desk = Desk()
    clock = ManualClock(0.0)
    async with Service(clock=clock, plugins=[desk], load_entrypoints=False) as service:
        await service.add_queues(
            [QueueConfig("q", max_wait=10.0, overflow="spill"), QueueConfig("spill")]
        )
        await service.submit(Contact("w", "voice", "spill"))
        await service.submit(Contact("c", "voice", "q"))
        # The update reads the position when it is dispatched: let it go out
        # before the overflow moves the contact.
        await wait_for(lambda: any(u.contact_id == "c" for u in desk.updates))
        clock.advance(10)
        assert [type(e) for e in await service.tick()] == [Overflowed]
        assert service.router.contact("c").queue == "spill"
        await wait_for(lambda: len([u for u in desk.updates if u.contact_id == "c"]) == 2)
        updates = [(u.kind, u.position) for u in desk.updates if u.contact_id == "c"]
        # queued in q, then in spill behind the contact already there (it kept its key)
        assert updates == [("queued", 1), ("queued", 2)]


async def test_ring_offers_reach_every_agent_and_again_after_a_restart(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    desk = Desk()
    async with Service(path=path, plugins=[desk], load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q", ring=2, offer_timeout=None))
        for agent in ("alice", "bob", "carol"):
            await service.add_agent(Agent(agent, queues=("q",)), Presence.AVAILABLE)
        await service.submit(Contact("c1", "voice", "q"))
        await wait_for(lambda: len(desk.offers) == 2)
        assert sorted(d.agent.id for d in desk.offers) == ["alice", "bob"]
    desk = Desk()
    async with Service(path=path, plugins=[desk], load_entrypoints=False) as again:
        # both open offers reach the agents' side again
        assert sorted(d.agent.id for d in desk.offers) == ["alice", "bob"]
        events = await again.accept("c1", "bob")
        rescinded = [e for e in events if isinstance(e, OfferRescinded)]
        assert [(e.agent_id, e.reason) for e in rescinded] == [("alice", "answered by bob")]


class Creeping:
    """A real clock as the service sees it: a little later at every reading."""

    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> float:
        self.t += 0.000_01
        return self.t


async def test_notes_logged_when_a_timer_is_due_come_after_its_tick(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The tick of a due timer reads the clock again; the notes logged with it
    # must not be set back before that reading (the router's clock only moves on).
    store = KeepingStore()
    clock = Creeping()
    async with Service(storage=store, load_entrypoints=False, clock=clock) as service:
        await service.add_queue(
            QueueConfig("support", offer_timeout=0.001, wrap_up=0, rona_not_ready=False)
        )
        await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
        for i in range(5):
            await service.submit(Contact(f"c{i}", "email", "support"))
            clock.t += 0.01  # the offer's timeout falls due before the next note
            await service.flush()
    assert "logging the service's notes failed" not in caplog.text
    notes = [e for r in store.log for e in r.events if isinstance(e, OfferDelivered)]
    assert len(notes) >= 3 and not any(n.delivered for n in notes)
    times = [r.at for r in store.log]
    assert times == sorted(times)
