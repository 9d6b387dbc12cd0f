"""After a restart, everything a user sees is as before, on both anyio backends:
the metrics, the history's answer times, the CRM profile beside a re-delivered
offer, the estimated wait; and a service driven at random (accepted and refused
calls, plugins that raise, return junk or hang, a store that dies) always
starts again from its own log in the state it acknowledged.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    CustomerUpdate,
    Event,
    HistoryRecord,
    ManualClock,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    ServiceError,
    SQLiteStorage,
    StorageError,
    hookimpl,
)
from ccroute.lifecycle import ContactState
from ccroute.metrics import MetricsCollector
from ccroute.storage import LogRecord, Recovered
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Desk:
    """Shows offers, hears customer updates, keeps the CRM history; a wallboard
    fed by ccroute_events."""

    profiles: Mapping[str, Mapping[str, Any]] = {"vip": {"tier": "gold", "tags": ["a", "b"]}}

    def __init__(self) -> None:
        self.offers: list[OfferDelivery] = []
        self.updates: list[CustomerUpdate] = []
        self.history: list[HistoryRecord] = []
        self.wallboard = MetricsCollector({"sales": 30.0, "support": 10.0})

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.offers.append(delivery)
        return True

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.history.append(record)

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return self.profiles.get(customer_id)

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> None:
        self.wallboard.observe(list(events))


QUEUES = [
    QueueConfig("support", offer_timeout=20, wrap_up=5, service_level_threshold=10.0),
    QueueConfig("sales", offer_timeout=None, wrap_up=0, max_wait=60, service_level_threshold=30.0),
]


async def centre(service: Service) -> None:
    await service.add_queues(QUEUES)
    for name in ("ann", "bob"):
        await service.add_agent(Agent(name, queues=("support", "sales")), Presence.AVAILABLE)


def drop_snapshots(path: Path) -> None:
    """Delete every snapshot: the next start replays the whole log."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM snapshots")


async def test_metrics_history_profiles_and_estimates_are_as_before_a_restart(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    clock = ManualClock(1000.0)
    desk = Desk()
    async with Service(
        path=path, clock=clock, plugins=[desk], load_entrypoints=False, snapshot_every=4
    ) as service:
        await centre(service)
        for i in range(3):  # handle times for the estimate
            await service.submit(Contact(f"w{i}", "voice", "support"))
            agent = service.router.contact(f"w{i}").agent_id
            assert agent is not None
            clock.advance(2)
            await service.accept(f"w{i}", agent)
            clock.advance(30 + i)
            await service.complete(f"w{i}")
            clock.advance(5)
            await service.tick()  # wrap-up ends
        await service.submit(Contact("answered", "voice", "support", customer_id="nobody"))
        agent = service.router.contact("answered").agent_id
        assert agent is not None
        clock.advance(4)
        await service.accept("answered", agent)
        answered_at = clock.now()
        await service.inbound(Contact("vip-call", "voice", "sales", customer_id="vip"))
        await service.submit(Contact("waits", "chat", "sales"))
        await service.submit(Contact("gone", "chat", "sales"))
        clock.advance(3)
        await service.abandon("gone")
        await service.drain()
        now = clock.now()
        before = service.metrics.report(now)
        # the wallboard fed by ccroute_events agrees with the service's own figures
        assert desk.wallboard.report(now) == before
        assert before.total.offered == 7 and before.total.abandoned == 1
        estimate = service.router.estimate_wait("support", "voice", position=1)
        assert estimate is not None and estimate > 0  # learned from the calls above
        assert service.router.contact("vip-call").state is ContactState.OFFERED
        state = snapshot(service.router)

    # The snapshot is one JSON document: the bookkeeping beside the router's state.
    with closing(sqlite3.connect(path)) as db:
        body, now_in_snapshot, profile = db.execute(
            "SELECT body, json_extract(body, '$.router.now'),"
            " json_extract(body, '$.service.profiles.\"vip-call\".tier')"
            " FROM snapshots ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert set(json.loads(body)) == {"service_snapshot", "service_length", "service", "router"}
    assert (now_in_snapshot, profile) == (state["now"], "gold")

    for replay_all in (False, True):
        if replay_all:
            drop_snapshots(path)
        desk = Desk()
        async with Service(path=path, clock=clock, plugins=[desk], load_entrypoints=False) as again:
            assert snapshot(again.router) == {**state, "now": again.router.now}
            assert again.metrics.report(now) == before
            assert again.router.estimate_wait("support", "voice", position=1) == estimate
            # the open offer reaches the agent again, with the CRM profile beside it
            (delivery,) = [d for d in desk.offers if d.offer.contact_id == "vip-call"]
            assert delivery.profile == {"tier": "gold", "tags": ["a", "b"]}
            assert delivery.profile is not Desk.profiles["vip"]
            # the history gets the real answer time, not the queue entry
            if not replay_all:
                await again.complete("answered")
                clock.advance(5)
                await again.tick()
                await again.drain()
                (record,) = [r for r in desk.history if r.contact_id == "answered"]
                assert (record.answered_at, record.agent_id) == (answered_at, agent)
                assert record.arrived_at < answered_at
                state = snapshot(again.router)
                now = clock.now()
                before = again.metrics.report(now)
                estimate = again.router.estimate_wait("support", "voice", position=1)


# ------------------------------------------------------ a service at random


class Chaos:
    """Every hook of the pipeline, misbehaving at random: raising (exceptions and
    other BaseExceptions), returning junk (contacts the router cannot take
    among them) or hanging past the timeout."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    async def act(self, junk: Any) -> Any:
        roll = self.rng.random()
        if roll < 0.15:
            raise RuntimeError("plugin bug")
        if roll < 0.2:
            raise SystemExit(1)
        if roll < 0.3:
            return junk
        if roll < 0.33:
            await anyio.sleep(1)  # past the hook timeout
        return None

    @hookimpl
    async def ccroute_crm_lookup(self, customer_id: str) -> Any:
        return await self.act({"when": object()})  # not JSON: junk

    @hookimpl
    async def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Any:
        return await self.act(attrs.evolve(contact, queue="no-such-queue"))

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> Any:
        return await self.act("yes")

    @hookimpl
    async def ccroute_customer_update(self, update: CustomerUpdate) -> Any:
        return await self.act(42)

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> Any:
        return await self.act(42)

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> Any:
        return await self.act(42)


class DyingStore:
    """A SQLite store whose disk dies when told: appends fail from then on."""

    def __init__(self, path: Path) -> None:
        self.inner = SQLiteStorage(path, synchronous="OFF")
        self.dead = False

    def load(self) -> Recovered:
        return self.inner.load()

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.dead:
            raise OSError("the disk is gone")
        self.inner.append(records)

    def snapshot(self, seq: int, state: bytes) -> None:
        if self.dead:
            raise OSError("the disk is gone")
        self.inner.snapshot(seq, state)

    def close(self) -> None:
        self.inner.close()


def copy_of(path: Path, to: Path) -> Path:
    """A consistent copy of a live SQLite log (the backup API), without its owner's lock."""
    with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(to)) as dst:
        src.backup(dst)
    return to


def bookkeeping(service: Service) -> dict[str, Any]:
    """What the service keeps beside the router, as a user can see it."""
    book = service._book.export()
    del book["metrics"]
    return {**book, "metrics": service.metrics.report(service.router.now)}


class Driver:
    def __init__(self, service: Service, clock: ManualClock, rng: random.Random) -> None:
        self.service, self.clock, self.rng = service, clock, rng
        self.n = 0
        self.refused = self.accepted = 0

    def pick(self, state: ContactState | None = None) -> str:
        router = self.service.router
        ids = [c for c in router.contact_ids if state is None or router.contact(c).state is state]
        return self.rng.choice(ids) if ids else "nobody"

    async def step(self) -> None:
        service, rng, router = self.service, self.rng, self.service.router
        roll = rng.random()
        try:
            if roll < 0.3:
                self.n += 1
                queue = rng.choice(["support", "sales", "sales", "missing"])
                contact = Contact(
                    f"c{self.n}",
                    rng.choice(["voice", "chat", "email"]),
                    queue,
                    customer_id=rng.choice([None, "vip", "regular"]),
                    priority_seconds=rng.choice([0.0, 30.0]),
                )
                if rng.random() < 0.5:
                    await service.inbound(contact)
                else:
                    await service.submit(contact)
            elif roll < 0.45:
                contact_id = self.pick(ContactState.OFFERED)
                holder = router.contact(contact_id).agent_id if contact_id != "nobody" else "ann"
                await service.accept(contact_id, holder or "ann")
            elif roll < 0.5:
                contact_id = self.pick(ContactState.OFFERED)
                holder = router.contact(contact_id).agent_id if contact_id != "nobody" else "ann"
                await service.reject(contact_id, holder or "ann")
            elif roll < 0.6:
                await service.complete(self.pick(rng.choice([ContactState.IN_SERVICE, None])))
            elif roll < 0.65:
                await service.abandon(self.pick())
            elif roll < 0.7:
                await service.transfer(self.pick(), queue=rng.choice(["support", "sales"]))
            elif roll < 0.78:
                agent = rng.choice(["ann", "bob", "cat"])
                presence = rng.choice(list(Presence))
                await service.set_presence(agent, presence)
            elif roll < 0.8:
                await service.end_wrap_up(self.pick(ContactState.WRAP_UP))
            else:
                self.clock.advance(rng.choice([0.5, 3.0, 11.0, 25.0]))
                await service.tick()
            self.accepted += 1
        except CCRouteError:
            self.refused += 1


@pytest.mark.parametrize("seed", range(3))
async def test_a_service_at_random_always_starts_again_from_its_own_log(
    anyio_backend: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "centre.db"
    clock = ManualClock(0.0)
    store = DyingStore(path)
    copies: list[tuple[Path, dict[str, Any], dict[str, Any]]] = []
    desk = Desk()
    service = Service(
        storage=store,
        clock=clock,
        plugins=[desk, Chaos(random.Random(seed + 100))],
        load_entrypoints=False,
        hook_timeout=0.05,
        snapshot_every=rng.choice([3, 17, 10_000]),
    )
    with anyio.fail_after(120):
        await service.start()
        try:
            await centre(service)
            await service.add_agent(Agent("cat", queues=("sales",)), Presence.NOT_READY)
            service.observe_router(lambda batch: 1 / 0)  # a raising router observer
            driver = Driver(service, clock, rng)
            for step in range(160):
                await driver.step()
                if step % 40 == 39:
                    # Everything acknowledged: a crash now must give back exactly this.
                    await service.flush()
                    copy = copy_of(path, tmp_path / f"copy-{step}.db")
                    copies.append((copy, snapshot(service.router), bookkeeping(service)))
            assert driver.accepted > 20 and driver.refused > 5
            await service.flush()
            acknowledged = snapshot(service.router)
            kept = bookkeeping(service)
            # The disk dies: the calls in flight are not acknowledged.
            store.dead = True
            with pytest.raises(StorageError):
                await service.submit(Contact("lost", "voice", "support"))
            with pytest.raises(ServiceError):
                await service.submit(Contact("refused", "voice", "support"))
            assert not service.running
        finally:
            await service.stop()
            store.close()
        assert service.hook_failures.total() > 0

        for db, state, book in [(path, acknowledged, kept), *copies]:
            for replay_all in (False, True):
                if replay_all:
                    drop_snapshots(db)
                async with Service(
                    path=db, clock=ManualClock(0.0), load_entrypoints=False
                ) as again:
                    assert again.recovery_problem is None
                    assert snapshot(again.router) == {**state, "now": again.router.now}
                    got = bookkeeping(again)
                    assert got.pop("metrics").now <= book["metrics"].now
                    assert got == {k: v for k, v in book.items() if k != "metrics"}
                    assert again.metrics.report(book["metrics"].now) == book["metrics"]
