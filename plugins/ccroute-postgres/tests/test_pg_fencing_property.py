"""A hypothesis property of leases and fencing on PostgreSQL: whatever the order
of takeovers, lapses, releases and appends by three nodes, an append succeeds
exactly when its store's token is the partition's latest, the log holds
exactly the appends that succeeded, in order, and tokens only grow."""

from __future__ import annotations

from collections.abc import Iterator

import anyio.from_thread
import psycopg
import pytest
from ccroute.errors import FencedError
from ccroute.testing_cluster import read_log
from ccroute.testing_storage import record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pg_testing import fresh_partition

from ccroute_postgres import PostgresEngine, PostgresStorage
from ccroute_postgres.testing import TemporaryServer

NODES = ("a", "b", "c")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("acquire"), st.sampled_from(NODES)),
        st.tuples(st.just("append"), st.sampled_from(NODES)),
        st.tuples(st.just("release"), st.sampled_from(NODES)),
        st.tuples(st.just("lapse"), st.just("")),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def portal() -> Iterator[anyio.from_thread.BlockingPortal]:
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        yield portal


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=steps)
def test_an_append_succeeds_exactly_under_the_latest_token(
    pg_server: TemporaryServer,
    portal: anyio.from_thread.BlockingPortal,
    steps: list[tuple[str, str]],
) -> None:
    pg_server.start()
    portal.call(check_steps, pg_server.dsn, steps)


async def check_steps(dsn: str, steps: list[tuple[str, str]]) -> None:
    partition = fresh_partition("prop")
    engine = PostgresEngine(dsn, retention=None)
    stores: dict[str, PostgresStorage] = {}
    latest = 0  # the partition's latest token (0: none yet)
    holder: str | None = None  # whose lease is live, by the model
    appended = 0
    try:
        for action, node in steps:
            if action == "acquire":
                token = await engine.acquire(partition, node, 60)
                if holder is None:
                    assert token is not None and token > latest
                    latest, holder = token, node
                    stores[node] = engine.storage(partition, token)
                else:
                    assert token is None
            elif action == "append" and node in stores:
                store = stores[node]
                try:
                    await store.append([record(appended + 1)])
                except FencedError:
                    assert store.token != latest
                else:
                    assert store.token == latest
                    appended += 1
            elif action == "release" and node in stores:
                await engine.release(partition, node, stores[node].token or 0)
                if holder == node and stores[node].token == latest:
                    holder = None
            elif action == "lapse":
                with psycopg.connect(dsn, autocommit=True) as connection:
                    connection.execute(
                        "UPDATE ccroute_partitions SET expires_at = clock_timestamp()"
                        " - interval '1 s' WHERE partition = %s",
                        (partition,),
                    )
                holder = None
        log = await read_log(engine, partition)
        assert log == [record(seq) for seq in range(1, appended + 1)]
    finally:
        await engine.close()
