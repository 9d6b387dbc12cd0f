"""Failover between node processes on PostgreSQL (the harness of
ccroute.testing_cluster): the leader SIGKILLed at random under load, then one
SIGSTOP'd until another node took over and resumed, which must not append."""

from __future__ import annotations

import statistics

import anyio
import pytest
from ccroute.errors import FencedError
from ccroute.testing_cluster import read_log, run_failover
from ccroute.testing_storage import record
from pg_testing import fresh_partition

from ccroute_postgres import PostgresEngine

pytestmark = pytest.mark.anyio

TTL = 1.0


@pytest.fixture
def anyio_backend() -> str:
    """The harness itself runs on asyncio; the node processes run on ``backend``."""
    return "asyncio"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
async def test_killed_and_paused_leaders_lose_nothing_and_are_fenced(
    dsn: str, backend: str, anyio_backend: str
) -> None:
    east, west = fresh_partition("east"), fresh_partition("west")
    with anyio.fail_after(180):
        run = await run_failover(
            "ccroute_postgres:PostgresEngine",
            {"dsn": dsn, "retention": None},
            partitions=(east, west),
            nodes=3,
            kills=3,
            ttl=TTL,
            seed=11,
            load_seconds=0.8,
            backend=backend,
        )
    report = run.report
    # The checker verified every acknowledged call is in its log once, each log
    # replays cleanly, and no contact was offered twice at once.
    assert report.acks > 100, report
    assert report.offers > 20, report
    assert report.records[east] > 50 and report.records[west] > 50, report
    assert len(run.takeovers) == 3
    assert max(run.takeovers) < TTL * 3, run.takeovers
    assert run.warm >= 1, "a standby took over from its warm copy"
    # The paused leader stopped acting once resumed, and its token is fenced.
    assert run.stale_token is not None
    assert any(line.startswith("lose ") for line in run.paused), run.paused
    engine = PostgresEngine(dsn)
    try:
        log = await read_log(engine, east)
        with pytest.raises(FencedError):
            await engine.storage(east, run.stale_token).append([record(len(log) + 1)])
        assert len(await read_log(engine, east)) == len(log)
    finally:
        await engine.close()
    print(
        f"takeover after SIGKILL ({backend}): median {statistics.median(run.takeovers):.3f} s, "
        f"worst {max(run.takeovers):.3f} s; {report}"
    )
