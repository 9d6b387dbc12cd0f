"""Nodes lead partitions under leases, stop before losing them, and take over warm.

Two or three :class:`~ccroute.cluster.Node` objects share one
:class:`~ccroute.cluster_sqlite.SQLiteEngine` file in one process, each with
an engine of its own (as separate processes have; tests/test_cluster_failover.py
runs real processes). A node is cut off from the engine by
:class:`CutEngine`, whose calls hang while it is cut, as over a broken network.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from misbehaving import MisbehavingStrategies

from ccroute import (
    Agent,
    Contact,
    InvalidValueError,
    Node,
    Offered,
    Presence,
    QueueConfig,
    Service,
)
from ccroute.cluster import Engine, NodeEvent
from ccroute.cluster_sqlite import SQLiteEngine
from ccroute.errors import FencedError, StorageError
from ccroute.lifecycle import ContactState
from ccroute.storage import AsyncStorage, LogRecord
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio

TTL = 1.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Fail the test, rather than hang, after thirty seconds."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        with anyio.fail_after(30):
            await test(*args, **kwargs)

    return run


class CutEngine:
    """An engine whose calls hang while ``cut`` (a node cut off by the network)."""

    def __init__(self, inner: SQLiteEngine) -> None:
        self.inner = inner
        self.cut = False

    async def _gate(self) -> None:
        while self.cut:
            await anyio.sleep(0.01)

    async def acquire(self, partition: str, node: str, ttl: float) -> int | None:
        await self._gate()
        return await self.inner.acquire(partition, node, ttl)

    async def renew(self, partition: str, node: str, token: int, ttl: float) -> bool:
        await self._gate()
        return await self.inner.renew(partition, node, token, ttl)

    async def release(self, partition: str, node: str, token: int) -> None:
        await self._gate()
        await self.inner.release(partition, node, token)

    def storage(self, partition: str, token: int | None) -> AsyncStorage:
        return self.inner.storage(partition, token)

    async def read_after(self, partition: str, seq: int, wait: float) -> Sequence[LogRecord]:
        await self._gate()
        return await self.inner.read_after(partition, seq, wait)

    async def close(self) -> None:
        await self.inner.close()


def make_service(partition: str, storage: AsyncStorage) -> Service:
    return Service(storage=storage, load_entrypoints=False, snapshot_every=50)


@asynccontextmanager
async def cluster(
    path: Path,
    count: int,
    partitions: Sequence[str] = ("p1",),
    make: Callable[[str, AsyncStorage], Service] = make_service,
    **options: Any,
) -> AsyncIterator[tuple[list[Node], list[CutEngine]]]:
    """``count`` nodes on one engine file, started one after the other, each
    making its partitions' services with ``make``."""
    engines = [CutEngine(SQLiteEngine(path, synchronous="OFF", poll=0.01)) for _ in range(count)]
    nodes = [
        Node(
            engine,
            partitions,
            name=f"node-{i}",
            ttl=TTL,
            make_service=make,
            **options,
        )
        for i, engine in enumerate(engines)
    ]
    try:
        async with anyio.create_task_group() as tg:
            for node in nodes:
                tg.start_soon(node.run)
                await anyio.sleep(0.05)
            try:
                yield nodes, engines
            finally:
                for engine in engines:
                    engine.cut = False
                for node in reversed(nodes):
                    await node.stop()
    finally:
        for engine in engines:
            await engine.close()


async def centre(service: Service, contacts: int = 5) -> None:
    await service.add_queue(QueueConfig("support", wrap_up=0))
    await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
    for i in range(contacts):
        await service.submit(Contact(f"c{i}", "email", "support"))


async def leader(nodes: Sequence[Node], partition: str = "p1") -> tuple[Node, Service]:
    """The node that leads ``partition`` (waiting for one to), and its service."""
    while True:
        for node in nodes:
            service = node.leading.get(partition)
            if service is not None:
                return node, service
        await anyio.sleep(0.01)


def kinds(node: Node) -> list[tuple[str, str, str]]:
    return [(e.kind, e.partition, e.reason) for e in node.events]


@bounded
async def test_one_node_leads_and_the_other_follows(anyio_backend: str, tmp_path: Path) -> None:
    async with cluster(tmp_path / "c.db", 2) as (nodes, _):
        first, service = await leader(nodes)
        assert first is nodes[0]
        assert await first.wait_leading("p1") is service
        await centre(service)
        assert first.token("p1") is not None
        await anyio.sleep(TTL * 2)  # several renewals: the lease stays put
        assert dict(nodes[1].leading) == {}
        assert nodes[1].token("p1") is None
        assert first.leading["p1"] is service and service.running
        assert kinds(first) == [("lead", "p1", "cold")]
        assert nodes[1].events == []


@bounded
async def test_a_clean_stop_hands_over_warm_with_nothing_lost(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with cluster(tmp_path / "c.db", 2) as (nodes, _):
        first, service = await leader(nodes)
        await centre(service, contacts=120)
        await service.accept("c0", "alice")
        await anyio.sleep(0.3)  # the standby follows
        before = snapshot(service.router)
        await first.stop()
        assert kinds(first)[-1] == ("release", "p1", "stopped")
        second, again = await leader(nodes)
        assert second is nodes[1]
        assert kinds(second) == [("lead", "p1", "warm")]
        assert snapshot(again.router) == before
        # The lease was released: the takeover did not wait for it to lapse.
        lead = second.events[-1]
        assert lead.seconds is not None and lead.seconds < TTL
        await again.complete("c0")


@bounded
async def test_without_a_warm_copy_the_new_leader_loads_cold(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with cluster(tmp_path / "c.db", 2, warm=False) as (nodes, _):
        first, service = await leader(nodes)
        await centre(service, contacts=20)
        before = snapshot(service.router)
        await first.stop()
        second, again = await leader(nodes)
        assert kinds(second) == [("lead", "p1", "cold")]
        assert snapshot(again.router) == before


@bounded
async def test_a_cut_off_leader_stops_before_another_node_can_lead(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with cluster(tmp_path / "c.db", 2) as (nodes, engines):
        first, service = await leader(nodes)
        await centre(service)
        cut_at = time.monotonic()
        engines[0].cut = True
        second, again = await leader(nodes[1:])
        (lose,) = [e for e in first.events if e.kind == "lose"]
        (lead,) = [e for e in second.events if e.kind == "lead"]
        assert lose.reason == "lapsed"
        # It stopped acting by its own clock, before the lease could be taken...
        assert lose.at < lead.at
        assert lose.at - cut_at < TTL
        assert not service.running and "p1" not in first.leading
        # ...and nothing it knew was lost.
        assert sorted(again.router.contact_ids) == [f"c{i}" for i in range(5)]
        with pytest.raises(Exception, match="halt"):
            await service.submit(Contact("late", "email", "support"))


def misbehaving_service(partition: str, storage: AsyncStorage) -> Service:
    """A service whose custom strategies (tests/misbehaving.py) answer
    differently on every node: random, raising now and then, stateful."""
    return Service(
        storage=storage,
        load_entrypoints=False,
        snapshot_every=25,
        plugins=[MisbehavingStrategies()],
    )


@bounded
async def test_a_standby_takes_over_a_log_its_strategies_would_not_have_written(
    anyio_backend: str, tmp_path: Path
) -> None:
    # The standby's warm copy replays every record the leader logs, with its
    # own strategies: it must take the leader's choices from the log.
    async with cluster(tmp_path / "c.db", 2, make=misbehaving_service) as (nodes, engines):
        _first, service = await leader(nodes)
        queues = ("dice", "flaky", "tally")
        await service.add_queues(
            [
                QueueConfig("dice", strategy="dice", ring=2, offer_timeout=None, wrap_up=0),
                QueueConfig("flaky", strategy="flaky", offer_timeout=None, wrap_up=0),
                QueueConfig("tally", strategy="tally", offer_timeout=None, wrap_up=0),
            ]
        )
        for i in range(1, 7):
            agent = Agent(f"a{i}", skills={"en": i}, queues=queues)
            await service.add_agent(agent, Presence.AVAILABLE)
        router = service.router
        for i in range(60):
            await service.submit(Contact(f"c{i}", "voice", queues[i % 3]))
            for n, contact_id in enumerate(router.contact_ids):
                state = router.contact(contact_id).state
                if state is ContactState.OFFERED:
                    holder = router.explain(contact_id).agents[-1]
                    if (i + n) % 3 == 0:
                        await service.reject(contact_id, holder)
                    else:
                        await service.accept(contact_id, holder)
                elif state is ContactState.IN_SERVICE and (i + n) % 2 == 0:
                    await service.complete(contact_id)
        assert service.router.strategy_failures > 0
        before = {**snapshot(service.router), "failures": service.router.strategy_failures}
        await anyio.sleep(0.3)  # the standby follows
        engines[0].cut = True
        second, again = await leader(nodes[1:])
        assert kinds(second) == [("lead", "p1", "warm")]
        after = {**snapshot(again.router), "failures": again.router.strategy_failures}
        assert after == {**before, "now": after["now"]}
        # The new leader goes on routing, with its own strategies.
        await again.add_agent(Agent("new", queues=("dice",)), Presence.AVAILABLE)
        events = await again.submit(Contact("next", "voice", "dice"))
        assert [e for e in events if isinstance(e, Offered)]


@bounded
async def test_a_leader_whose_lease_was_taken_is_fenced_and_halts(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.db"
    async with cluster(path, 1) as (nodes, _engines):
        first, service = await leader(nodes)
        await centre(service)
        # The offers' delivery notes are written in the background: durable
        # now, so the call below is the first write to meet the fence.
        await service.drain()
        token = first.token("p1")
        assert token is not None
        # Another process frees the lease behind the leader's back and takes it.
        thief = SQLiteEngine(path, synchronous="OFF")
        try:
            await thief.release("p1", first.name, token)
            stolen = await thief.acquire("p1", "thief", 60.0)
            assert stolen is not None and stolen > token
            with pytest.raises(FencedError) as raised:
                await service.submit(Contact("late", "email", "support"))
            assert raised.value.token == token
            with anyio.fail_after(5):
                while "p1" in first.leading:
                    await anyio.sleep(0.01)
            assert ("lose", "p1", "fenced") in kinds(first)
            submitted = {
                r.command.contact.id  # type: ignore[attr-defined]
                for r in (await thief.storage("p1", None).load()).records
                if r.name == "submit"
            }
            assert submitted == {f"c{i}" for i in range(5)}
            await thief.release("p1", "thief", stolen)
            # Free again: the node leads once more, under a newer token.
            again = await first.wait_leading("p1")
            assert first.token("p1") is not None and first.token("p1") > stolen  # type: ignore[operator]
            assert "c4" in again.router.contact_ids
        finally:
            await thief.close()


@bounded
async def test_a_node_leads_several_partitions_and_they_move_when_it_stops(
    anyio_backend: str, tmp_path: Path
) -> None:
    async with cluster(tmp_path / "c.db", 2, partitions=("east", "west")) as (nodes, _):
        east = await nodes[0].wait_leading("east")
        west = await nodes[0].wait_leading("west")
        await centre(east, 2)
        await centre(west, 3)
        assert set(nodes[0].leading) == {"east", "west"}
        await nodes[0].stop()
        with anyio.fail_after(10):
            east2 = await nodes[1].wait_leading("east")
            west2 = await nodes[1].wait_leading("west")
        assert sorted(east2.router.contact_ids) == ["c0", "c1"]
        assert sorted(west2.router.contact_ids) == ["c0", "c1", "c2"]


@bounded
async def test_events_are_reported_to_the_callback_even_when_it_raises(
    anyio_backend: str, tmp_path: Path
) -> None:
    seen: list[NodeEvent] = []

    def listen(event: NodeEvent) -> None:
        seen.append(event)
        raise RuntimeError("listener bug")

    async with cluster(tmp_path / "c.db", 1, on_event=listen) as (nodes, _):
        await nodes[0].wait_leading("p1")
        await nodes[0].stop()
    assert [e.kind for e in seen] == ["lead", "release"]
    assert seen == nodes[0].events


class FailingStore:
    """A partition store whose appends fail (a lost connection), not fenced."""

    def __init__(self, inner: AsyncStorage) -> None:
        self.inner = inner

    async def load(self) -> Any:
        return await self.inner.load()

    async def append(self, records: Sequence[LogRecord]) -> None:
        if any(r.name == "submit" for r in records):
            raise StorageError("connection lost")
        await self.inner.append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        await self.inner.snapshot(seq, state)

    async def close(self) -> None:
        await self.inner.close()


@bounded
async def test_a_failing_store_makes_the_node_let_go_of_the_lease(
    anyio_backend: str, tmp_path: Path
) -> None:
    def failing(partition: str, storage: AsyncStorage) -> Service:
        return make_service(partition, FailingStore(storage))

    engine = SQLiteEngine(tmp_path / "c.db", synchronous="OFF")
    node = Node(engine, ["p1"], name="n", ttl=TTL, make_service=failing)
    try:
        async with node:
            service = await node.wait_leading("p1")
            await service.add_queue(QueueConfig("support"))
            with pytest.raises(StorageError, match="connection lost"):
                await service.submit(Contact("c1", "email", "support"))
            with anyio.fail_after(5):
                while not any(e.kind == "lose" for e in node.events):
                    await anyio.sleep(0.01)
            # The failure came from the store the service was given (make_service
            # wrapped it): the service stopped taking calls, so the node let go.
            assert ("lose", "p1", "service failed") in kinds(node)
            assert "p1" not in node.leading
            with anyio.fail_after(5):
                while (other := await engine.acquire("p1", "other", 30.0)) is None:
                    await anyio.sleep(0.05)
            assert other > 1
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ttl": 0}, "ttl must be"),
        ({"ttl": 3.0, "margin": 2.5}, "margin must be less"),
        ({"partitions": ["a", "a"]}, "named twice"),
        ({"partitions": "abc"}, "not one str"),
        ({"partitions": [""]}, "partition must be"),
        ({"name": ""}, "node must be"),
        ({"warm": "yes"}, "warm must be"),
    ],
)
def test_bad_node_arguments_are_refused(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"partitions": ["p1"], **options}
    engine: Engine = SQLiteEngine(tmp_path / "c.db", synchronous="OFF")
    with pytest.raises(InvalidValueError, match=message):
        Node(engine, **arguments)
    with pytest.raises(InvalidValueError, match="engine must be"):
        Node(object(), ["p1"])  # type: ignore[arg-type]


class FailingEngine(CutEngine):
    """An engine whose partition stores fail their appends (a lost connection)."""

    def storage(self, partition: str, token: int | None) -> AsyncStorage:
        return FailingStore(self.inner.storage(partition, token))


@bounded
async def test_an_engine_store_that_fails_ends_the_lead_as_store_failed(
    anyio_backend: str, tmp_path: Path
) -> None:
    engine = FailingEngine(SQLiteEngine(tmp_path / "c.db", synchronous="OFF"))
    node = Node(engine, ["p1"], name="n", ttl=TTL, make_service=make_service)
    try:
        async with node:
            service = await node.wait_leading("p1")
            await service.add_queue(QueueConfig("support"))
            with pytest.raises(StorageError, match="connection lost"):
                await service.submit(Contact("c1", "email", "support"))
            with anyio.fail_after(5):
                while not any(e.kind == "lose" for e in node.events):
                    await anyio.sleep(0.01)
            assert next(e.reason for e in node.events if e.kind == "lose") == "store failed"
            assert not service.running
    finally:
        await engine.close()


@bounded
async def test_callers_in_a_flow_on_a_cut_off_leader_are_routed_by_the_node_taking_over(
    anyio_backend: str, tmp_path: Path
) -> None:
    from ivr_helpers import make_flow

    flow = make_flow(
        {
            "lang": {
                "kind": "menu",
                "prompt": "1 for English",
                "options": [{"digit": "1", "next": "english"}],
            },
            "english": {"kind": "set", "attributes": {"language": "en"}, "next": "topic"},
            "topic": {
                "kind": "menu",
                "prompt": "1 for support",
                "options": [{"digit": "1", "next": "support"}],
            },
            "support": {"kind": "transfer", "queue": "support"},
        },
        time_limit=600,
        input_timeout=300,
        fallback={"queue": "general"},
    )
    async with cluster(tmp_path / "c.db", 2) as (nodes, engines):
        _, service = await leader(nodes)
        await service.add_queue(QueueConfig("general"))
        await centre(service)
        live = await service.flows.start(flow, Contact("caller", "voice", "general"))
        await live.input("1")  # English: now in the topic menu
        await anyio.sleep(0.3)  # the standby follows
        engines[0].cut = True  # the leader stops acting, its caller still in the flow
        _, again = await leader(nodes[1:])
        assert not service.running
        assert again.flows.recovered == {"caller": "fallback"}
        view = again.router.contact("caller")
        assert view.queue == "general" and view.attributes["language"] == "en"
        assert dict(view.attributes["ivr"])["fallback"] == "recovered"
