"""Failover across real processes on the reference engine: nothing acknowledged is lost.

Three node processes (``python -m ccroute.testing_cluster node``) share one
:class:`~ccroute.cluster_sqlite.SQLiteEngine` file and drive whichever
partition they lead with seeded calls. The leader is ``SIGKILL``\\ed at
random moments (a fresh process replaces each), then one is ``SIGSTOP``\\ed
until another took over and resumed: it must stop acting and never append
with its old token. :func:`ccroute.testing_cluster.check_failover` then
checks every acknowledged call against the final logs, replays them, and
looks for a contact offered twice. The PostgreSQL and Redis plugins run the
same harness on their engines.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import anyio
import attrs
import pytest
from misbehaving import MisbehavingStrategies, fresh_strategies

from ccroute import Agent, Contact, MemoryStorage, Presence, QueueConfig, Service
from ccroute.cluster_sqlite import SQLiteEngine
from ccroute.errors import FencedError, StorageError
from ccroute.storage import LogRecord
from ccroute.testing_cluster import (
    CallDriver,
    check_failover,
    parse_output,
    read_log,
    run_failover,
)
from ccroute.testing_storage import record

pytestmark = pytest.mark.anyio

TTL = 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_killed_and_paused_leaders_lose_nothing_and_are_fenced(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "cluster.db"
    settings = {"path": str(path), "synchronous": "NORMAL", "retention": None, "poll": 0.01}
    with anyio.fail_after(120):
        run = await run_failover(
            "ccroute.cluster_sqlite:SQLiteEngine",
            settings,
            partitions=("east", "west"),
            nodes=3,
            kills=3,
            ttl=TTL,
            seed=7,
            load_seconds=0.8,
        )
    report = run.report
    assert report.acks > 100, report
    assert report.offers > 20, report
    assert report.records["east"] > 50 and report.records["west"] > 50
    # Each kill was followed by a takeover within the lease time and a retry or two.
    assert len(run.takeovers) == 3
    assert max(run.takeovers) < TTL * 3, run.takeovers
    assert run.warm >= 1, "a standby took over from its warm copy"
    # The paused leader stopped acting once resumed, and its token is fenced.
    assert run.stale_token is not None
    assert any(line.startswith("lose ") for line in run.paused), run.paused
    engine = SQLiteEngine(path)
    try:
        log = await read_log(engine, "east")
        with pytest.raises(FencedError):
            await engine.storage("east", run.stale_token).append([record(len(log) + 1)])
        assert len(await read_log(engine, "east")) == len(log)
    finally:
        await engine.close()
    print(
        f"takeover after SIGKILL: median {statistics.median(run.takeovers):.3f} s, "
        f"worst {max(run.takeovers):.3f} s; paused leader saw {run.paused}"
    )


# -- the checker catches what it is there to catch ------------------------------


async def acknowledged_run(seed: int) -> tuple[list[str], list[LogRecord]]:
    """A service driven by the shared workload: its ack lines and its log."""
    store = MemoryStorage(retention=None)
    lines: list[str] = []
    service = Service(storage=store, load_entrypoints=False, seed=0, snapshot_every=10**6)
    async with service:
        driver = CallDriver(service, seed, 0, ops=80, tag="p1 1", emit=lines.append)
        await driver.setup()
        await driver.worker(1, 10.0)
        await service.flush()
        # Before the stop's final snapshot: the whole log.
        recovered = store.load()
    assert recovered.snapshot is None
    return lines, list(recovered.records)


async def test_the_checker_accepts_a_clean_run(anyio_backend: str) -> None:
    lines, log = await acknowledged_run(1)
    outputs = [parse_output(0, [(0.0, line) for line in lines])]
    report = check_failover(outputs, {"p1": log})
    assert report.acks == len(outputs[0].acks) >= 80
    assert report.records == {"p1": len(log)}


async def test_the_checker_replays_a_log_of_misbehaving_custom_strategies(
    anyio_backend: str,
) -> None:
    store = MemoryStorage(retention=None)
    queues = [QueueConfig(q, strategy=q, ring=2) for q in ("dice", "flaky", "tally")]
    async with Service(
        storage=store, load_entrypoints=False, seed=0, plugins=[MisbehavingStrategies()]
    ) as service:
        await service.add_queues(queues)
        for i in range(1, 6):
            agent = Agent(f"a{i}", queues=("dice", "flaky", "tally"), capacity={"chat": 3})
            await service.add_agent(agent, Presence.AVAILABLE)
        for i in range(12):
            await service.submit(Contact(f"c{i}", "chat", queues[i % 3].name))
        log = list(store.load().records)
    # The checker's router is given strategies (of its own: they are not asked).
    report = check_failover([], {"p1": log}, strategies=fresh_strategies())
    assert report.offers >= 12
    with pytest.raises(StorageError, match="cannot be replayed"):
        check_failover([], {"p1": log})  # the strategies the queues name are unknown


async def test_the_checker_finds_a_lost_ack_a_double_ack_and_a_divergent_log(
    anyio_backend: str,
) -> None:
    lines, log = await acknowledged_run(2)
    outputs = [parse_output(0, [(0.0, line) for line in lines])]
    submits = [i for i, r in enumerate(log) if r.name == "submit"]
    # The log lost an acknowledged call (its tail, so the rest still replays).
    with pytest.raises(AssertionError, match="acknowledged call is not in the log"):
        check_failover(outputs, {"p1": log[: submits[-1]]})
    # Two processes acknowledged the same record.
    twice = [outputs[0], parse_output(1, [(0.0, lines[-1])])]
    with pytest.raises(AssertionError, match="acknowledged more often"):
        check_failover(twice, {"p1": log})
    # A record that replays to other events than it logged.
    changed = list(log)
    index = submits[3]
    changed[index] = attrs.evolve(changed[index], events=changed[index].events[:1])
    with pytest.raises(StorageError, match="replays to different events"):
        check_failover([], {"p1": changed})
    with pytest.raises(AssertionError, match="record 5 is missing"):
        check_failover([], {"p1": log[:4] + log[5:]})
