"""The PostgreSQL engine's own behaviour: fencing, leases by the server's
clock, LISTEN/NOTIFY, reconnecting, damaged rows, bad arguments."""

from __future__ import annotations

import time

import anyio
import psycopg
import pytest
from ccroute.commands import Tick
from ccroute.errors import FencedError, InvalidValueError, StorageError
from ccroute.storage import LogRecord
from pg_testing import fresh_partition

from ccroute_postgres import PostgresEngine, PostgresStorage
from ccroute_postgres.testing import TemporaryServer

pytestmark = pytest.mark.anyio


def ticks(first: int, last: int) -> list[LogRecord]:
    return [LogRecord(seq, float(seq), Tick()) for seq in range(first, last + 1)]


def admin(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn, autocommit=True)


def log_seqs(dsn: str, partition: str) -> list[int]:
    with admin(dsn) as connection:
        rows = connection.execute(
            "SELECT seq FROM ccroute_log WHERE partition = %s ORDER BY seq", (partition,)
        ).fetchall()
    return [int(row[0]) for row in rows]


async def lead(
    engine: PostgresEngine, partition: str, node: str, ttl: float = 30.0
) -> PostgresStorage:
    token = await engine.acquire(partition, node, ttl)
    assert token is not None
    store = engine.storage(partition, token)
    await store.load()
    return store


# -- fencing ---------------------------------------------------------------------


async def test_a_stale_token_can_neither_append_nor_snapshot(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    old = await lead(engine, partition, "a", ttl=0.2)
    await old.append(ticks(1, 2))
    await anyio.sleep(0.3)
    new = await lead(engine, partition, "b")
    assert new.token is not None and old.token is not None and new.token > old.token
    with pytest.raises(FencedError) as refused:
        await old.append(ticks(3, 3))
    assert refused.value.partition == partition and refused.value.token == old.token
    with pytest.raises(FencedError):
        await old.snapshot(2, b"{}")
    assert log_seqs(dsn, partition) == [1, 2]
    with admin(dsn) as connection:
        assert connection.execute(
            "SELECT count(*) FROM ccroute_snapshots WHERE partition = %s", (partition,)
        ).fetchone() == (0,)
    # The new leader goes on from the old one's last acknowledged record.
    await new.append(ticks(3, 4))
    assert log_seqs(dsn, partition) == [1, 2, 3, 4]


async def test_appends_racing_a_takeover_are_stored_before_it_or_refused(
    engine: PostgresEngine, dsn: str
) -> None:
    for _round in range(3):
        await race_a_takeover(engine, dsn, fresh_partition("race"))


async def race_a_takeover(engine: PostgresEngine, dsn: str, partition: str) -> None:
    """A leader appends one record at a time while another node takes its lease."""
    old = await lead(engine, partition, "a", ttl=0.3)
    acknowledged: list[int] = []
    refused: list[int] = []
    loaded_last: list[int] = []

    async def write() -> None:
        seq = 1
        while True:
            try:
                await old.append(ticks(seq, seq))
            except FencedError:
                refused.append(seq)
                return
            acknowledged.append(seq)
            seq += 1

    async def take_over() -> None:
        other = PostgresEngine(dsn)
        try:
            token = None
            with anyio.fail_after(10):
                while token is None:
                    token = await other.acquire(partition, "b", 30)
                    await anyio.sleep(0.01)
            recovered = await other.storage(partition, token).load()
            loaded_last.append(recovered.last_seq)
        finally:
            await other.close()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(write)
            group.start_soon(take_over)
    # Every acknowledged append is in what the new leader loaded; the first
    # append after the takeover was refused and stored nothing.
    assert acknowledged == list(range(1, len(acknowledged) + 1))
    assert loaded_last == [len(acknowledged)]
    assert refused == [len(acknowledged) + 1]
    assert log_seqs(dsn, partition) == acknowledged


async def test_a_read_only_store_refuses_writes(engine: PostgresEngine, partition: str) -> None:
    leader = await lead(engine, partition, "a")
    await leader.append(ticks(1, 1))
    reader = engine.storage(partition, None)
    recovered = await reader.load()
    assert [record.seq for record in recovered.records] == [1]
    with pytest.raises(FencedError, match="for reading"):
        await reader.append(ticks(2, 2))


# -- leases ----------------------------------------------------------------------


async def test_lease_lapses_by_the_servers_clock(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    token = await engine.acquire(partition, "a", 60)
    assert token is not None
    assert await engine.acquire(partition, "b", 60) is None
    assert await engine.acquire(partition, "a", 60) is None  # the holder renews instead
    lease = await engine.lease(partition)
    assert lease is not None and lease.node == "a" and lease.token == token
    assert 50 < lease.remaining <= 60
    # The node's clock never enters: move the server's expiry into the past.
    with admin(dsn) as connection:
        connection.execute(
            "UPDATE ccroute_partitions SET expires_at = clock_timestamp() - interval '1 ms'"
            " WHERE partition = %s",
            (partition,),
        )
    # Lapsed, nobody took it yet: the holder may still renew it...
    assert await engine.renew(partition, "a", token, 60)
    with admin(dsn) as connection:
        connection.execute(
            "UPDATE ccroute_partitions SET expires_at = clock_timestamp() - interval '1 ms'"
            " WHERE partition = %s",
            (partition,),
        )
    newer = await engine.acquire(partition, "b", 60)
    assert newer is not None and newer > token
    # ...but not once another node took it.
    assert not await engine.renew(partition, "a", token, 60)
    await engine.release(partition, "a", token)  # not a's any more: nothing happens
    assert await engine.acquire(partition, "c", 60) is None
    await engine.release(partition, "b", newer)
    third = await engine.acquire(partition, "c", 60)
    assert third is not None and third > newer


async def test_a_short_lease_lapses_on_its_own(engine: PostgresEngine, partition: str) -> None:
    token = await engine.acquire(partition, "a", 0.3)
    assert token is not None
    assert await engine.acquire(partition, "b", 0.3) is None
    await anyio.sleep(0.4)
    newer = await engine.acquire(partition, "b", 0.3)
    assert newer is not None and newer > token
    lease = await engine.lease(partition)
    assert lease is not None and lease.node == "b"


# -- following -------------------------------------------------------------------


async def test_read_after_wakes_on_notify_and_waits_at_most_wait(
    engine: PostgresEngine, partition: str
) -> None:
    leader = await lead(engine, partition, "a")
    started = time.monotonic()
    assert await engine.read_after(partition, 0, 0.3) == ()
    assert 0.25 <= time.monotonic() - started < 2.0

    async def append_later() -> None:
        await anyio.sleep(0.3)
        await leader.append(ticks(1, 2))

    async with anyio.create_task_group() as group:
        group.start_soon(append_later)
        started = time.monotonic()
        records = await engine.read_after(partition, 0, 10)
        waited = time.monotonic() - started
    assert [record.seq for record in records] == [1, 2]
    assert waited < 3, f"woken {waited:.2f} s after a wait of 10 s: no NOTIFY?"
    assert [r.seq for r in await engine.read_after(partition, 1, 0)] == [2]
    # An append to another partition does not end the wait with nothing new.
    other = await lead(engine, fresh_partition(), "a")
    await other.append(ticks(1, 1))
    assert await engine.read_after(partition, 2, 0.2) == ()


# -- reconnecting ----------------------------------------------------------------


async def test_a_dropped_connection_is_made_again(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    store = await lead(engine, partition, "a")
    await store.append(ticks(1, 1))
    with admin(dsn) as connection:
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
    await store.append(ticks(2, 2))
    assert [r.seq for r in (await store.load()).records] == [1, 2]


@pytest.mark.parametrize("size", [2, 100], ids=["pipelined", "copied"])
async def test_an_append_cut_off_mid_statement_is_resolved_and_stored_once(
    engine: PostgresEngine, partition: str, dsn: str, size: int
) -> None:
    store = await lead(engine, partition, "a")
    await store.append(ticks(1, 1))
    blocker = psycopg.connect(dsn)
    # Hold the lease row so the append waits inside its statement...
    blocker.execute(
        "SELECT 1 FROM ccroute_partitions WHERE partition = %s FOR UPDATE", (partition,)
    )

    async def cut() -> None:
        await anyio.sleep(0.3)
        with admin(dsn) as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND query LIKE '%%ccroute_log%%'"
            )
        await anyio.sleep(0.2)
        blocker.commit()

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(cut)
            await store.append(ticks(2, size + 1))  # ...then its connection is cut
    blocker.close()
    assert log_seqs(dsn, partition) == list(range(1, size + 2))


async def test_acknowledged_records_survive_a_server_crash(anyio_backend: str) -> None:
    server = TemporaryServer()
    try:
        server.start()
        engine = PostgresEngine(server.dsn)
        try:
            store = await lead(engine, "crash", "a")
            await store.append(ticks(1, 50))
            await store.snapshot(50, b'{"state": 50}')
            await store.append(ticks(51, 60))
            # An immediate shutdown: no checkpoint, the WAL is replayed at start.
            server.stop(fast=False)
            with pytest.raises(StorageError, match=r"127\.0\.0\.1"):
                await store.append(ticks(61, 61))
            server.start()
            recovered = await store.load()
            assert recovered.snapshot_seq == 50 and recovered.snapshot == b'{"state": 50}'
            assert [r.seq for r in recovered.records] == list(range(51, 61))
            await store.append(ticks(61, 62))  # and the store goes on
            assert (await engine.lease("crash")) is not None
        finally:
            await engine.close()
    finally:
        server.cleanup()


# -- damage and versions ---------------------------------------------------------


async def test_a_damaged_record_is_set_aside_with_the_rest(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    store = await lead(engine, partition, "a")
    await store.append(ticks(1, 4))
    with admin(dsn) as connection:
        connection.execute(
            "UPDATE ccroute_log SET at = 99 WHERE partition = %s AND seq = 3", (partition,)
        )
    recovered = await store.load()
    assert [r.seq for r in recovered.records] == [1, 2]
    assert recovered.problem is not None and "record 3" in recovered.problem
    assert "checksum mismatch" in recovered.problem and "records 3..4" in recovered.problem
    with admin(dsn) as connection:
        aside = connection.execute(
            "SELECT seq, reason FROM ccroute_quarantine WHERE partition = %s ORDER BY seq",
            (partition,),
        ).fetchall()
    assert [row[0] for row in aside] == [3, 4]
    assert "follows damaged record 3" in aside[1][1]
    await store.append(ticks(3, 3))  # the log goes on from its good prefix
    assert log_seqs(dsn, partition) == [1, 2, 3]


async def test_a_record_in_a_newer_format_is_refused_and_nothing_changes(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    store = await lead(engine, partition, "a")
    await store.append(ticks(1, 2))
    with admin(dsn) as connection:
        connection.execute(
            "UPDATE ccroute_log SET version = 99 WHERE partition = %s AND seq = 2", (partition,)
        )
    with pytest.raises(StorageError, match="format 99, written by a newer ccroute"):
        await store.load()
    assert log_seqs(dsn, partition) == [1, 2]


async def test_a_newer_or_foreign_schema_is_refused(dsn: str, anyio_backend: str) -> None:
    name = f"schema_{anyio_backend}_{time.monotonic_ns()}"
    with admin(dsn) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    other = dsn.replace("dbname=postgres", f"dbname={name}")
    engine = PostgresEngine(other)
    try:
        assert await engine.acquire("p", "a", 1) is not None  # creates the tables
    finally:
        await engine.close()
    with admin(other) as connection:
        connection.execute("UPDATE ccroute_schema SET version = 7")
    engine = PostgresEngine(other)
    try:
        with pytest.raises(StorageError, match="layout version 7, written by a newer"):
            await engine.acquire("p", "a", 1)
    finally:
        await engine.close()
    with admin(other) as connection:
        connection.execute("UPDATE ccroute_schema SET magic = 'somebody else'")
    engine = PostgresEngine(other)
    try:
        with pytest.raises(StorageError, match="is not a ccroute log"):
            await engine.acquire("p", "a", 1)
    finally:
        await engine.close()


# -- bad arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dsn": 5}, "dsn must be a libpq connection string"),
        ({"dsn": "host=x port"}, "dsn is not a valid libpq connection string"),
        ({"dsn": "", "retention": -1}, "retention must be"),
        ({"dsn": "", "keep_snapshots": 0}, "keep_snapshots must be at least 1"),
        ({"dsn": "", "connect_timeout": float("nan")}, "connect_timeout must be"),
        ({"dsn": "", "follow_batch": 0}, "follow_batch"),
    ],
)
def test_bad_engine_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        PostgresEngine(**kwargs)  # type: ignore[arg-type]


async def test_bad_call_arguments_are_refused(engine: PostgresEngine) -> None:
    with pytest.raises(InvalidValueError, match="ttl must be"):
        await engine.acquire("p", "a", 0)
    with pytest.raises(InvalidValueError, match="partition must be"):
        await engine.acquire("", "a", 1)
    with pytest.raises(InvalidValueError, match="node must be"):
        await engine.acquire("p", "", 1)
    with pytest.raises(InvalidValueError, match="a fencing token is an int"):
        await engine.renew("p", "a", "1", 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="wait must be"):
        await engine.read_after("p", 0, -1)
    with pytest.raises(InvalidValueError, match="a fencing token is an int"):
        engine.storage("p", 1.5)  # type: ignore[arg-type]


async def test_an_unreachable_server_is_named(anyio_backend: str) -> None:
    engine = PostgresEngine("host=127.0.0.1 port=1 user=postgres", connect_timeout=2)
    try:
        with pytest.raises(StorageError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1/"):
            await engine.acquire("p", "a", 1)
    finally:
        await engine.close()


async def test_a_damaged_snapshot_is_set_aside_and_the_previous_one_used(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    store = await lead(engine, partition, "a")
    await store.append(ticks(1, 4))
    await store.snapshot(2, b'{"at": 2}')
    await store.snapshot(4, b'{"at": 4}')
    with admin(dsn) as connection:
        connection.execute(
            "UPDATE ccroute_snapshots SET body = 'garbage' WHERE partition = %s AND seq = 4",
            (partition,),
        )
    recovered = await store.load()
    assert (recovered.snapshot_seq, recovered.snapshot) == (2, b'{"at": 2}')
    assert [r.seq for r in recovered.records] == [3, 4]
    assert recovered.problem is not None
    assert "snapshot after record 4" in recovered.problem
    assert "checksum mismatch" in recovered.problem
    with admin(dsn) as connection:
        kinds = connection.execute(
            "SELECT kind, seq, state FROM ccroute_quarantine WHERE partition = %s", (partition,)
        ).fetchall()
    assert kinds == [("snapshot", 4, b"garbage")]


async def test_a_new_leader_may_append_without_loading(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    """A Node hands its service a warm copy, so the store's first call may be an append."""
    first = await lead(engine, partition, "a", ttl=0.2)
    await first.append(ticks(1, 3))
    await first.snapshot(3, b"{}")
    await anyio.sleep(0.3)
    token = await engine.acquire(partition, "b", 30)
    assert token is not None
    second = engine.storage(partition, token)
    with pytest.raises(StorageError, match="the log ends at record 3"):
        await second.append(ticks(5, 5))
    await second.append(ticks(4, 4))
    assert log_seqs(dsn, partition) == [1, 2, 3, 4]


async def test_a_sole_store_refuses_a_partition_a_cluster_node_leads(
    engine: PostgresEngine, partition: str, dsn: str
) -> None:
    token = await engine.acquire(partition, "node-a", 30)
    assert token is not None
    sole = PostgresStorage.open(dsn, partition)
    try:
        with pytest.raises(StorageError, match="led by node 'node-a' of a cluster"):
            await sole.load()
    finally:
        await sole.close()
    # The node's lease is untouched.
    lease = await engine.lease(partition)
    assert lease is not None and (lease.node, lease.token) == ("node-a", token)
