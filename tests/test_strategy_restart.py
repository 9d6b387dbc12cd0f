"""A service whose custom strategies misbehave always starts again from its log.

The plugin's strategies (tests/misbehaving.py) raise now and then, keep
state of their own, draw random numbers and read the clock; a restarted
process gets new ones, which answer differently. The service is driven at
random, its SQLite log copied at moments when everything was acknowledged
(as a crash would leave it), then stopped; a service starting on each copy
and on the stopped log, from its snapshots and from the whole log, must show
exactly what was acknowledged (agents, contacts, the waiting order, open
offers, counters and ``strategy_failures``, the bookkeeping) and go on
routing. On asyncio and trio. The SIGKILL loop is tests/test_strategy_crash.py.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from misbehaving import MOVES, MisbehavingStrategies, Patterned

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    ManualClock,
    MemoryStorage,
    Offered,
    Presence,
    QueueConfig,
    Service,
    Strategy,
    hookimpl,
)
from ccroute.lifecycle import ContactState
from ccroute.storage import LogRecord
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


QUEUES = [
    QueueConfig("flaky", strategy="flaky", offer_timeout=20.0, wrap_up=3.0),
    QueueConfig("dice", strategy="dice", ring=2, offer_timeout=15.0, wrap_up=None),
    QueueConfig("stopwatch", strategy="stopwatch", offer_timeout=None, wrap_up=0.0),
    QueueConfig("tally", strategy="tally", ring=3, offer_timeout=10.0, wrap_up=0.0),
    QueueConfig("junk", strategy="junk", offer_timeout=12.0, wrap_up=2.0),
    QueueConfig("plain", strategy=Strategy.MOST_SKILLED, offer_timeout=None, wrap_up=0.0),
]
NAMES = [q.name for q in QUEUES]
AGENTS = [
    Agent(f"a{i}", skills={"en": i}, queues=NAMES[i % 3 :: 1] + NAMES[:1], capacity={"chat": 2})
    for i in range(1, 7)
]


async def centre(service: Service) -> None:
    await service.add_queues(QUEUES)
    for agent in AGENTS:
        await service.add_agent(agent, Presence.AVAILABLE)


def state_of(service: Service) -> dict[str, Any]:
    """What a user sees of the service: the router's views, its counters,
    its failures and the service's bookkeeping (metrics apart: their time)."""
    router = service.router
    book = service._book.export()
    del book["metrics"]
    return {
        **snapshot(router),
        "strategy_failures": router.strategy_failures,
        "offers": {c: router.explain(c).agents for c in router.contact_ids},
        "book": book,
    }


def same(recovered: dict[str, Any], acknowledged: dict[str, Any]) -> None:
    # A restart's router is at the time of its last record (a tick that did
    # nothing is not logged), its clock is the restart's own.
    assert recovered == {**acknowledged, "now": recovered["now"]}


async def step(
    service: Service,
    clock: ManualClock,
    rng: random.Random,
    n: int,
    names: Sequence[str] = NAMES,
) -> bool:
    """One call chosen at random among queues ``names``; whether it was taken."""
    router = service.router
    by_state: dict[ContactState, list[str]] = {s: [] for s in ContactState}
    for contact_id in router.contact_ids:
        by_state[router.contact(contact_id).state].append(contact_id)
    offered = by_state[ContactState.OFFERED]
    roll = rng.random()
    if roll < 0.35 and len(by_state[ContactState.WAITING]) > 4:
        roll = 0.35 + rng.random() * 0.65
    try:
        if roll < 0.35:
            contact = Contact(f"c{n}", rng.choice(["voice", "chat"]), rng.choice(names))
            await service.submit(contact)
        elif roll < 0.5 and offered:
            contact_id = rng.choice(offered)
            await service.accept(contact_id, rng.choice(router.explain(contact_id).agents))
        elif roll < 0.58 and offered:
            contact_id = rng.choice(offered)
            await service.reject(contact_id, rng.choice(router.explain(contact_id).agents))
        elif roll < 0.7 and by_state[ContactState.IN_SERVICE]:
            await service.complete(rng.choice(by_state[ContactState.IN_SERVICE]))
        elif roll < 0.75 and by_state[ContactState.WRAP_UP]:
            await service.end_wrap_up(rng.choice(by_state[ContactState.WRAP_UP]))
        elif roll < 0.83:
            presence = rng.choice([Presence.AVAILABLE] * 3 + [Presence.NOT_READY])
            await service.set_presence(rng.choice(AGENTS).id, presence)
        elif roll < 0.87 and router.contact_ids:
            await service.abandon(rng.choice(router.contact_ids))
        elif roll < 0.9 and by_state[ContactState.WAITING]:
            await service.transfer(rng.choice(by_state[ContactState.WAITING]), queue=names[-1])
        else:
            clock.advance(rng.choice([1.0, 4.0, 11.0, 20.0]))
            await service.tick()
    except CCRouteError:
        return False
    return True


def copy_of(path: Path, to: Path) -> Path:
    """A consistent copy of a live SQLite log (the backup API), without its owner's lock."""
    with closing(sqlite3.connect(path)) as src, closing(sqlite3.connect(to)) as dst:
        src.backup(dst)
    return to


def drop_snapshots(path: Path) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM snapshots")


@pytest.mark.parametrize("seed", range(2))
async def test_a_service_with_misbehaving_strategies_restarts_from_its_log(
    anyio_backend: str, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    path = tmp_path / "centre.db"
    clock = ManualClock(0.0)
    copies: list[tuple[Path, dict[str, Any]]] = []
    decisions = 0
    with anyio.fail_after(120):
        async with Service(
            path=path,
            clock=clock,
            plugins=[MisbehavingStrategies()],
            load_entrypoints=False,
            snapshot_every=rng.choice([7, 10_000]),
        ) as service:
            await centre(service)
            seen: list[Any] = []
            service.observe_router(seen.extend)
            for n in range(300):
                await step(service, clock, rng, n)
                if n % 75 == 74:
                    # Everything acknowledged: a crash now must give back exactly this.
                    await service.flush()
                    copy = copy_of(path, tmp_path / f"copy-{n}.db")
                    copies.append((copy, state_of(service)))
            await service.drain()
            acknowledged = state_of(service)
            decisions = sum(
                isinstance(e, Offered)
                and e.reason is not None
                and e.reason.trigger == "contact"
                and e.reason.eligible > 1
                and e.reason.strategy != "most-skilled"
                for e in seen
            )
        # The strategies chose often, and failed now and then.
        assert decisions > 30
        assert acknowledged["strategy_failures"] > 0
        for db, state in [(path, acknowledged), *copies]:
            for whole_log in (False, True):
                if whole_log:
                    drop_snapshots(db)
                async with Service(
                    path=db,
                    clock=ManualClock(0.0),
                    plugins=[MisbehavingStrategies()],
                    load_entrypoints=False,
                ) as again:
                    assert again.recovery_problem is None
                    same(state_of(again), state)
        # It goes on routing: new agents on a queue of a misbehaving
        # strategy, a contact offered to one of them.
        async with Service(
            path=path, clock=clock, plugins=[MisbehavingStrategies()], load_entrypoints=False
        ) as again:
            await again.add_queue(QueueConfig("later", strategy="dice", ring=2))
            for agent_id in ("n1", "n2", "n3"):
                await again.add_agent(Agent(agent_id, queues=["later"]), Presence.AVAILABLE)
            events = await again.submit(Contact("next", "voice", "later"))
            assert len([e for e in events if isinstance(e, Offered)]) == 2
            state = state_of(again)
        async with Service(
            path=path, clock=clock, plugins=[MisbehavingStrategies()], load_entrypoints=False
        ) as again:
            same(state_of(again), state)


# ------------------------------------------- any misbehaviour, as a property


class Patterns:
    """A plugin giving one strategy, ``"pattern"``, that makes ``moves`` in turn."""

    __name__ = "pattern-strategy"

    def __init__(self, moves: Sequence[str], seed: int | None) -> None:
        self.moves, self.seed = moves, seed

    @hookimpl
    def ccroute_agent_strategies(self) -> dict[str, Any]:
        return {"pattern": Patterned(self.moves, self.seed)}


class KeepingStore(MemoryStorage):
    """A memory store that also keeps every record and every snapshot."""

    def __init__(self) -> None:
        super().__init__(retention=None)
        self.log: list[LogRecord] = []
        self.snapshots: list[tuple[int, bytes]] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        super().append(records)
        self.log.extend(records)

    def snapshot(self, seq: int, state: bytes) -> None:
        super().snapshot(seq, state)
        self.snapshots.append((seq, state))

    def copy(self, snapshot: tuple[int, bytes] | None) -> MemoryStorage:
        """The whole log, with ``snapshot`` only (``None``: none)."""
        store = MemoryStorage(retention=None)
        store.append(self.log)
        if snapshot is not None:
            store.snapshot(*snapshot)
        return store


async def run_pattern(
    moves: list[str], seed: int, steps: int, every: int, queues: list[QueueConfig]
) -> None:
    clock = ManualClock(0.0)
    store = KeepingStore()
    rng = random.Random(seed)
    async with Service(
        storage=store,
        clock=clock,
        plugins=[Patterns(moves, seed)],
        load_entrypoints=False,
        snapshot_every=every,
    ) as service:
        await service.add_queues(queues)
        for agent in AGENTS:
            await service.add_agent(
                attrs.evolve(agent, queues=[q.name for q in queues]), Presence.AVAILABLE
            )
        for n in range(steps):
            await step(service, clock, rng, n, [q.name for q in queues])
        acknowledged = state_of(service)
    # The whole log; the last snapshot taken while it ran and the tail after
    # it (the one taken at the stop covers everything: nothing to replay).
    stores = [store.copy(None)]
    if len(store.snapshots) > 1:
        stores.append(store.copy(store.snapshots[-2]))
    # New strategies, other moves: a restart must not depend on their answers.
    other = Patterns([*reversed(moves), "random"], seed + 1)
    for storage in stores:
        async with Service(
            storage=storage, clock=ManualClock(0.0), plugins=[other], load_entrypoints=False
        ) as again:
            assert again.recovery_problem is None
            same(state_of(again), acknowledged)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.sampled_from(MOVES), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
    steps=st.integers(10, 80),
    every=st.sampled_from([3, 11, 10_000]),
    ring=st.integers(1, 3),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_any_pattern_of_strategy_misbehaviour_restarts_to_what_was_acknowledged(
    moves: list[str], seed: int, steps: int, every: int, ring: int, backend: str
) -> None:
    """Whatever the strategy does at each call (score, raise, exit, NaN, junk,
    random, the clock), a service restarted from its snapshots and its tail,
    or from its whole log, with a strategy that answers otherwise, shows what
    it acknowledged."""
    queues = [
        QueueConfig("pattern", strategy="pattern", ring=ring, offer_timeout=9.0, wrap_up=1.0),
        QueueConfig("plain", strategy=Strategy.MOST_SKILLED, offer_timeout=None, wrap_up=0.0),
    ]
    anyio.run(run_pattern, moves, seed, steps, every, queues, backend=backend)
