"""The estimated wait through the service, on both anyio backends: the customer's
``queued`` update carries :meth:`Router.estimated_wait`, repeated every
``wait_update_every`` seconds while the contact waits (docs/estimated-wait.md)."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from ccroute import (
    Agent,
    Contact,
    CustomerUpdate,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    Service,
    hookimpl,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Customers:
    """Hears every customer update."""

    def __init__(self) -> None:
        self.updates: list[CustomerUpdate] = []

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    def queued(self, contact_id: str) -> list[tuple[float, int | None, float | None]]:
        return [
            (u.at, u.position, u.estimated_wait)
            for u in self.updates
            if u.contact_id == contact_id and u.kind == "queued"
        ]


async def one_busy_agent(service: Service, clock: ManualClock) -> None:
    """One agent, a 60 s handle time learned, busy with c1; c2 and c3 waiting."""
    await service.add_queue(QueueConfig("q", offer_timeout=None))
    await service.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
    await service.submit(Contact("c0", "voice", "q"))
    await service.accept("c0", "a")
    clock.advance(60)
    await service.complete("c0")
    await service.submit(Contact("c1", "voice", "q"))
    await service.accept("c1", "a")
    await service.submit(Contact("c2", "voice", "q"))
    await service.submit(Contact("c3", "voice", "q"))
    await service.drain()


async def test_the_queued_update_carries_the_routers_estimate(anyio_backend: str) -> None:
    clock = ManualClock(0.0)
    customers = Customers()
    async with Service(clock=clock, plugins=[customers], load_entrypoints=False) as service:
        await one_busy_agent(service, clock)
        assert service.router.handle_time("q", "voice") == 60.0
        assert customers.queued("c2") == [(60.0, 1, 60.0)]
        assert customers.queued("c3") == [(60.0, 2, 120.0)]
        assert service.estimated_wait("c3") == service.router.estimated_wait("c3") == 120.0
        # a contact answered at once hears no estimate, as before
        assert customers.queued("c1") == [(60.0, None, None)]
        # without wait_update_every, nothing more while they wait
        clock.advance(300)
        await service.tick()
        await service.drain()
        assert len(customers.queued("c3")) == 1


async def test_waiting_customers_hear_again_every_period(anyio_backend: str) -> None:
    clock = ManualClock(0.0)
    customers = Customers()
    async with Service(
        clock=clock, plugins=[customers], load_entrypoints=False, wait_update_every=30
    ) as service:
        await one_busy_agent(service, clock)
        clock.advance(30)
        await service.tick()
        await service.drain()
        assert customers.queued("c3") == [(60.0, 2, 120.0), (90.0, 2, 120.0)]
        # c1 ends after 30 s (the handle time learned is now (60 + 30) / 2)
        # and c2 is answered: c3 is next, one handle time to go
        await service.complete("c1")
        await service.accept("c2", "a")
        assert service.router.handle_time("q", "voice") == 45.0
        clock.advance(30)
        await service.tick()
        await service.drain()
        assert customers.queued("c3")[-1] == (120.0, 1, 45.0)
        # c2 was answered: no more queued updates for it
        assert [at for at, _p, _e in customers.queued("c2")] == [60.0, 90.0]
        # nor for c3 once it has gone
        await service.abandon("c3")
        clock.advance(90)
        await service.tick()
        await service.drain()
        assert len(customers.queued("c3")) == 3


async def test_the_periodic_updates_also_go_out_on_their_own(anyio_backend: str) -> None:
    """On the service's own timer, not only from tick()."""
    customers = Customers()
    async with Service(
        plugins=[customers], load_entrypoints=False, wait_update_every=0.05
    ) as service:
        await service.add_queue(QueueConfig("q", offer_timeout=None))
        await service.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
        await service.submit(Contact("busy", "voice", "q"))
        await service.submit(Contact("waits", "voice", "q"))
        for _ in range(200):
            await service.drain()
            if len(customers.queued("waits")) >= 3:
                break
            await anyio.sleep(0.01)
        assert len(customers.queued("waits")) >= 3
        # no handle time learned yet: the position, and no estimate
        assert {(p, e) for _at, p, e in customers.queued("waits")} == {(1, None)}


@pytest.mark.parametrize("period", [0, -5, math.nan, math.inf, "30", True])
def test_a_bad_period_is_refused_when_the_service_is_made(period: object) -> None:
    with pytest.raises(InvalidValueError, match="wait_update_every"):
        Service(wait_update_every=period)  # type: ignore[arg-type]


async def test_the_queue_and_position_form_is_deprecated_and_asks_the_router(
    anyio_backend: str,
) -> None:
    clock = ManualClock(0.0)
    async with Service(clock=clock, load_entrypoints=False) as service:
        await one_busy_agent(service, clock)
        with pytest.warns(DeprecationWarning, match="estimated_wait"):
            estimate = service.estimated_wait("q", 3)
        assert estimate == service.router.estimate_wait("q", "voice", position=3) == 180.0


@pytest.mark.parametrize("replay_all", [False, True])
async def test_a_restarted_service_estimates_as_before(
    anyio_backend: str, tmp_path: Path, replay_all: bool
) -> None:
    """From the snapshot's learned figures, or learned again by replaying the log."""
    path = tmp_path / "centre.db"
    clock = ManualClock(0.0)
    async with Service(path=path, clock=clock, load_entrypoints=False, snapshot_every=3) as service:
        await one_busy_agent(service, clock)
        await service.submit(Contact("gone", "voice", "q"))
        clock.advance(40)
        await service.abandon("gone")
        before = [service.estimated_wait(c) for c in ("c2", "c3")]
        learned = (service.router.state().handle_times, service.router.state().abandonment)
    # one abandon learned: c3 counts on c2 perhaps abandoning before its turn
    assert before[0] == 60.0 and before[1] is not None and 60.0 < before[1] < 120.0
    assert learned[1]
    if replay_all:
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("DELETE FROM snapshots")
    async with Service(path=path, clock=clock, load_entrypoints=False) as again:
        assert [again.estimated_wait(c) for c in ("c2", "c3")] == before
        assert (again.router.state().handle_times, again.router.state().abandonment) == learned


async def test_after_a_restart_waiting_customers_keep_hearing(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    clock = ManualClock(0.0)
    async with Service(path=path, clock=clock, load_entrypoints=False) as service:
        await one_busy_agent(service, clock)
    customers = Customers()
    async with Service(
        path=path,
        clock=clock,
        plugins=[customers],
        load_entrypoints=False,
        wait_update_every=20,
    ) as again:
        clock.advance(20)
        await again.tick()
        await again.drain()
        assert customers.queued("c2") == [(80.0, 1, 60.0)]
        assert customers.queued("c3") == [(80.0, 2, 120.0)]
