"""A partition's store on Redis keeps what was appended, refuses what SQLite refuses,
sets damage aside, applies retention, and refuses a partition it does not read."""

from __future__ import annotations

import anyio
import pytest
from ccroute import InvalidValueError, LogRecord, Recovered
from ccroute.codec import FORMAT
from ccroute.commands import Tick
from ccroute.errors import FencedError, StorageError
from ccroute.storage import AsyncStorage
from ccroute.testing_storage import record, records
from redis_testing import direct, rewrite_entry

from ccroute_redis import RedisEngine, RedisStorage
from ccroute_redis.testing import RedisServer

pytestmark = pytest.mark.anyio


async def leader(engine: RedisEngine, partition: str = "p") -> RedisStorage:
    token = await engine.acquire(partition, "n1", 30)
    assert token is not None
    store = engine.storage(partition, token)
    assert (await store.load()) == Recovered()
    return store


async def test_the_store_is_an_async_storage(engine: RedisEngine) -> None:
    assert isinstance(engine.storage("p", None), AsyncStorage)


async def test_records_and_snapshots_load_back_equal(engine: RedisEngine) -> None:
    store = await leader(engine)
    await store.append(records(1, 3))
    await store.snapshot(2, b'{"state": 2}')
    await store.append(records(4, 5))
    again = engine.storage("p", None)
    loaded = await again.load()
    assert loaded.snapshot_seq == 2 and loaded.snapshot == b'{"state": 2}'
    assert list(loaded.records) == records(3, 5)
    assert loaded.problem is None


async def test_a_batch_must_continue_the_log_and_nothing_is_stored_otherwise(
    engine: RedisEngine,
) -> None:
    store = await leader(engine)
    await store.append(records(1, 2))
    with pytest.raises(StorageError, match="next record must be 3"):
        await store.append(records(4, 5))
    with pytest.raises(StorageError, match="must be consecutive"):
        await store.append([record(3), record(5)])
    with pytest.raises(InvalidValueError, match="record 4"):
        await store.append([record(3), record(4, at=float("nan"))])
    assert list((await engine.storage("p", None).load()).records) == records(1, 2)


async def test_a_read_only_store_reads_but_never_writes(engine: RedisEngine) -> None:
    store = await leader(engine)
    await store.append(records(1, 2))
    reader = engine.storage("p", None)
    assert len((await reader.load()).records) == 2
    with pytest.raises(FencedError, match="read-only") as caught:
        await reader.append(records(3, 3))
    assert caught.value.partition == "p"
    with pytest.raises(FencedError, match="read-only"):
        await reader.snapshot(2, b"s")
    assert len((await reader.load()).records) == 2


async def test_a_stale_token_is_refused_and_stores_nothing(engine: RedisEngine) -> None:
    old = await leader(engine)
    await old.append(records(1, 2))
    await engine.release("p", "n1", old.token or 0)
    new_token = await engine.acquire("p", "n2", 30)
    assert new_token is not None and new_token > (old.token or 0)
    with pytest.raises(FencedError, match="stale") as caught:
        await old.append(records(3, 4))
    assert caught.value.token == old.token
    with pytest.raises(FencedError):
        await old.snapshot(2, b"late")
    new = engine.storage("p", new_token)
    loaded = await new.load()
    assert list(loaded.records) == records(1, 2) and loaded.snapshot is None
    await new.append(records(3, 3))


async def test_the_latest_snapshots_are_kept(redis_server: RedisServer, prefix: str) -> None:
    engine = RedisEngine(redis_server.url, prefix=prefix, keep_snapshots=2, retention=None)
    try:
        store = await leader(engine)
        await store.append(records(1, 6))
        for seq in (2, 4, 6):
            await store.snapshot(seq, f"s{seq}".encode())
        client = direct(redis_server)
        kept = [int(m) for m in client.zrange(engine.keys("p").snapshots, 0, -1)]
        assert kept == [4, 6]
        assert not client.exists(engine.keys("p").snapshot(2))
        with pytest.raises(InvalidValueError, match="only move forward"):
            await store.snapshot(5, b"back")
        with pytest.raises(InvalidValueError, match="log ends at record 6"):
            await store.snapshot(7, b"ahead")
    finally:
        await engine.close()


async def test_retention_drops_covered_records_older_than_it(
    redis_server: RedisServer, prefix: str
) -> None:
    engine = RedisEngine(redis_server.url, prefix=prefix, keep_snapshots=1, retention=25.0)
    try:
        store = await leader(engine)
        # at = 10 * seq: records 1..10 at 10..100
        await store.append(records(1, 10))
        await store.snapshot(8, b"s8")
        client = direct(redis_server)
        ids = [int(entry[0].split(b"-")[0]) for entry in client.xrange(engine.keys("p").log)]
        # cutoff 100 - 25 = 75: records 1..7 are older and covered by the snapshot
        assert ids == [8, 9, 10]
        loaded = await engine.storage("p", None).load()
        assert loaded.snapshot_seq == 8 and [r.seq for r in loaded.records] == [9, 10]
    finally:
        await engine.close()


async def test_retention_none_keeps_every_record(redis_server: RedisServer, prefix: str) -> None:
    engine = RedisEngine(redis_server.url, prefix=prefix, retention=None)
    try:
        store = await leader(engine)
        await store.append(records(1, 5))
        await store.snapshot(5, b"s")
        assert direct(redis_server).xlen(engine.keys("p").log) == 5
    finally:
        await engine.close()


async def test_a_damaged_record_and_those_after_it_are_set_aside(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 5))
    client = direct(redis_server)
    keys = engine.keys("p")
    # Flip the body of record 3 behind the engine's back: its checksum fails.
    body = client.xrange(keys.log, "3-0", "3-0")[0][1][b"body"]
    rewrite_entry(client, keys.log, 3, body=body.replace(b"c3", b"cX"))
    token = await engine.acquire("p", "n2", 30)
    assert token is None  # n1 still holds it: reload as n1
    again = engine.storage("p", store.token)
    loaded = await again.load()
    assert [r.seq for r in loaded.records] == [1, 2]
    assert loaded.problem is not None
    assert "record 3" in loaded.problem and "checksum mismatch" in loaded.problem
    assert "records 3..5" in loaded.problem and "quarantine" in loaded.problem
    aside = client.xrange(keys.quarantine)
    assert [e[1][b"id"] for e in aside] == [b"3-0", b"4-0", b"5-0"]
    assert aside[0][1][b"reason"].startswith(b"damaged (checksum mismatch")
    assert aside[1][1][b"reason"] == b"follows damaged record 3"
    # The log goes on from the good prefix.
    await again.append(records(3, 4))
    assert [r.seq for r in (await engine.storage("p", None).load()).records] == [1, 2, 3, 4]


async def test_a_read_only_load_reports_damage_and_moves_nothing(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 3))
    client = direct(redis_server)
    keys = engine.keys("p")
    client.xdel(keys.log, "2-0")
    loaded = await engine.storage("p", None).load()
    assert [r.seq for r in loaded.records] == [1]
    assert loaded.problem is not None and "record 2" in loaded.problem
    assert "read-only" in loaded.problem
    assert client.xlen(keys.log) == 2 and client.xlen(keys.quarantine) == 0


async def test_a_damaged_snapshot_falls_back_to_the_one_before(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 4))
    await store.snapshot(2, b"s2")
    await store.snapshot(4, b"s4")
    client = direct(redis_server)
    keys = engine.keys("p")
    client.hset(keys.snapshot(4), "body", b"s4 but damaged")
    loaded = await engine.storage("p", store.token).load()
    assert loaded.snapshot_seq == 2 and loaded.snapshot == b"s2"
    assert [r.seq for r in loaded.records] == [3, 4]
    assert loaded.problem is not None and "snapshot after record 4" in loaded.problem
    assert [e[1][b"kind"] for e in client.xrange(keys.quarantine)] == [b"snapshot"]


async def test_a_partition_in_a_newer_format_or_layout_is_refused_untouched(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 1))
    client = direct(redis_server)
    keys = engine.keys("p")
    client.hset(keys.meta, "format", str(FORMAT + 1))
    with pytest.raises(StorageError, match="newer ccroute"):
        await engine.storage("p", store.token).load()
    client.hset(keys.meta, mapping={"format": str(FORMAT), "layout": "2"})
    with pytest.raises(StorageError, match=r"layout '2'.*newer ccroute-redis"):
        await engine.storage("p", store.token).load()
    client.hset(keys.meta, mapping={"layout": "1", "magic": "someone else's"})
    with pytest.raises(StorageError, match="not a ccroute log"):
        await engine.storage("p", store.token).load()
    assert client.xlen(keys.log) == 1


async def test_a_record_in_a_newer_format_is_refused_not_set_aside(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 2))
    client = direct(redis_server)
    keys = engine.keys("p")
    rewrite_entry(client, keys.log, 2, version=str(FORMAT + 1).encode())
    with pytest.raises(
        StorageError, match=rf"record 2 .* format {FORMAT + 1}, written by a newer ccroute"
    ):
        await engine.storage("p", store.token).load()
    assert client.xlen(keys.log) == 2 and client.xlen(keys.quarantine) == 0


async def test_partitions_are_independent(engine: RedisEngine) -> None:
    a, b = await leader(engine, "site-a"), await leader(engine, "site-b")
    await a.append(records(1, 3))
    await b.append([LogRecord(1, 1.0, Tick())])
    assert len((await engine.storage("site-a", None).load()).records) == 3
    assert len((await engine.storage("site-b", None).load()).records) == 1


@pytest.mark.parametrize("partition", ["", "a\nb", "x" * 201, 7])
async def test_bad_partition_names_are_refused(engine: RedisEngine, partition: object) -> None:
    with pytest.raises(InvalidValueError, match="partition"):
        engine.storage(partition, None)  # type: ignore[arg-type]


async def test_a_closed_store_refuses_calls(engine: RedisEngine) -> None:
    store = await leader(engine)
    await store.close()
    await store.close()
    with pytest.raises(StorageError, match="closed"):
        await store.append(records(1, 1))


async def test_concurrent_appends_from_two_tasks_keep_the_log_consecutive(
    engine: RedisEngine,
) -> None:
    store = await leader(engine)
    await store.append(records(1, 1))
    # The service calls a store one call at a time; a second writer racing
    # with the same token gets a clear refusal, never a hole or a duplicate.
    outcomes: list[str] = []

    async def write() -> None:
        try:
            await store.append(records(2, 3))
            outcomes.append("ok")
        except StorageError as error:
            outcomes.append(str(error))

    async with anyio.create_task_group() as group:
        group.start_soon(write)
        group.start_soon(write)
    assert outcomes.count("ok") == 1
    assert [r.seq for r in (await engine.storage("p", None).load()).records] == [1, 2, 3]


async def test_a_damaged_first_record_empties_the_log_and_it_starts_again_at_1(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 2))
    client = direct(redis_server)
    keys = engine.keys("p")
    rewrite_entry(client, keys.log, 1, command=b"no_such_command")
    loaded = await engine.storage("p", store.token).load()
    assert loaded.records == () and loaded.problem is not None
    assert "record 1" in loaded.problem and "records 1..2" in loaded.problem
    again = engine.storage("p", store.token)
    await again.append(records(1, 1))
    assert list((await engine.storage("p", None).load()).records) == records(1, 1)


async def test_a_missing_field_is_damage_not_a_crash(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    store = await leader(engine)
    await store.append(records(1, 3))
    rewrite_entry(direct(redis_server), engine.keys("p").log, 3, body=None)
    loaded = await engine.storage("p", store.token).load()
    assert [r.seq for r in loaded.records] == [1, 2]
    assert loaded.problem is not None and "field 'body' is missing" in loaded.problem
