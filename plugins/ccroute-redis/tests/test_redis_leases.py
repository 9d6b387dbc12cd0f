"""Leases on Redis: one holder at a time, tokens that only grow, expiry by Redis's
clock, and fencing that holds even when a write races a takeover."""

from __future__ import annotations

import anyio
import pytest
from ccroute import InvalidValueError
from ccroute.errors import FencedError, StorageError
from ccroute.testing_storage import records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis_testing import direct

from ccroute_redis import RedisEngine
from ccroute_redis.testing import RedisServer

pytestmark = pytest.mark.anyio


async def test_one_holder_at_a_time_and_tokens_grow(engine: RedisEngine) -> None:
    first = await engine.acquire("p", "n1", 30)
    assert first is not None
    assert await engine.acquire("p", "n2", 30) is None
    assert await engine.acquire("p", "n1", 30) is None  # the holder renews instead
    assert await engine.holder("p") == (first, "n1")
    await engine.release("p", "n1", first)
    assert await engine.holder("p") is None
    second = await engine.acquire("p", "n2", 30)
    assert second is not None and second > first


async def test_a_lease_lapses_after_its_ttl_and_another_node_takes_it(
    engine: RedisEngine,
) -> None:
    token = await engine.acquire("p", "n1", 0.2)
    assert token is not None
    assert await engine.acquire("p", "n2", 0.2) is None
    await anyio.sleep(0.3)
    taken = await engine.acquire("p", "n2", 30)
    assert taken is not None and taken > token
    assert await engine.renew("p", "n1", token, 30) is False


async def test_renewing_keeps_the_lease_past_its_first_ttl(engine: RedisEngine) -> None:
    token = await engine.acquire("p", "n1", 0.3)
    assert token is not None
    for _ in range(4):
        await anyio.sleep(0.15)
        assert await engine.renew("p", "n1", token, 0.3) is True
    assert await engine.acquire("p", "n2", 0.3) is None


async def test_a_lapsed_lease_nobody_took_may_be_renewed(engine: RedisEngine) -> None:
    token = await engine.acquire("p", "n1", 0.1)
    assert token is not None
    await anyio.sleep(0.2)
    assert await engine.renew("p", "n1", token, 30) is True
    assert await engine.holder("p") == (token, "n1")
    store = engine.storage("p", token)
    await store.load()
    await store.append(records(1, 1))


async def test_release_with_a_stale_token_leaves_the_new_holder_alone(
    engine: RedisEngine,
) -> None:
    old = await engine.acquire("p", "n1", 0.1)
    assert old is not None
    await anyio.sleep(0.2)
    new = await engine.acquire("p", "n2", 30)
    assert new is not None
    await engine.release("p", "n1", old)
    assert await engine.holder("p") == (new, "n2")
    assert await engine.renew("p", "n2", new, 30) is True


async def test_a_paused_leader_cannot_write_after_a_takeover(engine: RedisEngine) -> None:
    old = await engine.acquire("p", "n1", 0.2)
    assert old is not None
    store = engine.storage("p", old)
    await store.load()
    await store.append(records(1, 2))
    await anyio.sleep(0.3)  # "paused" past its ttl
    new = await engine.acquire("p", "n2", 30)
    assert new is not None
    with pytest.raises(FencedError, match=f"token {old} is stale.*latest token {new}"):
        await store.append(records(3, 3))
    with pytest.raises(FencedError):
        await store.snapshot(2, b"late")
    loaded = await engine.storage("p", new).load()
    assert [r.seq for r in loaded.records] == [1, 2] and loaded.snapshot is None


async def test_appends_racing_a_takeover_are_whole_or_refused(
    redis_server: RedisServer, prefix: str
) -> None:
    """The old leader appends batch after batch while another node takes the
    lease: every batch is either entirely in the log (before the takeover) or
    entirely refused (after), and the new leader's log continues the last one."""
    writer = RedisEngine(redis_server.url, prefix=prefix)
    taker = RedisEngine(redis_server.url, prefix=prefix)
    try:
        old = await writer.acquire("p", "n1", 0.3)
        assert old is not None
        store = writer.storage("p", old)
        await store.load()
        acknowledged: list[int] = []
        fenced = anyio.Event()

        async def write() -> None:
            seq = 1
            while True:
                try:
                    await store.append(records(seq, seq + 2))
                except FencedError:
                    fenced.set()
                    return
                acknowledged.extend(range(seq, seq + 3))
                seq += 3

        async def take() -> None:
            while (await taker.acquire("p", "n2", 30)) is None:
                await anyio.sleep(0.01)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(write)
                group.start_soon(take)
        assert fenced.is_set() and acknowledged
        loaded = await taker.storage("p", None).load()
        assert [r.seq for r in loaded.records] == acknowledged
    finally:
        await writer.close()
        await taker.close()


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.sampled_from(["acquire-1", "acquire-2", "release-1", "release-2", "expire"]), max_size=12
    )
)
def test_tokens_only_grow_and_only_the_latest_writes(
    redis_server: RedisServer, actions: list[str]
) -> None:
    """Whatever the order of takes, releases and expiries: each new token is
    greater than every earlier one, and a write succeeds exactly when its
    token is the latest handed out."""

    async def run() -> None:
        import uuid

        engine = RedisEngine(redis_server.url, prefix=f"h{uuid.uuid4().hex[:10]}")
        try:
            tokens: dict[str, int] = {}
            issued: list[int] = []
            seq = 0
            for action in actions:
                if action == "expire":
                    direct(redis_server).delete(engine.keys("p").lease)
                    continue
                verb, node = action.split("-")
                if verb == "acquire":
                    token = await engine.acquire("p", f"n{node}", 30)
                    if token is not None:
                        assert all(token > t for t in issued)
                        issued.append(token)
                        tokens[node] = token
                elif node in tokens:
                    await engine.release("p", f"n{node}", tokens[node])
                for name, token in tokens.items():
                    store = engine.storage("p", token)
                    await store.load()
                    if token == max(issued):
                        await store.append(records(seq + 1, seq + 1))
                        seq += 1
                    else:
                        with pytest.raises(FencedError):
                            await store.append(records(seq + 1, seq + 1))
                    del name
        finally:
            await engine.close()

    anyio.run(run)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.acquire("p", "n1", 0), "ttl must be"),
        (lambda e: e.acquire("p", "n1", float("inf")), "ttl must be"),
        (lambda e: e.acquire("p", "", 1), "node must be"),
        (lambda e: e.acquire("p", "a\tb", 1), "node .* control character"),
        (lambda e: e.renew("p", "n1", 0, 1), "fencing token"),
        (lambda e: e.renew("p", "n1", True, 1), "fencing token"),
        (lambda e: e.read_after("p", -1, 0), "seq must be"),
        (lambda e: e.read_after("p", 0, -1), "wait must be"),
    ],
)
async def test_bad_arguments_are_refused(engine: RedisEngine, call: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        await call(engine)  # type: ignore[operator]


async def test_a_closed_engine_refuses_calls(redis_server: RedisServer, prefix: str) -> None:
    engine = RedisEngine(redis_server.url, prefix=prefix)
    await engine.acquire("p", "n1", 1)
    await engine.close()
    await engine.close()
    with pytest.raises(StorageError, match="closed"):
        await engine.acquire("p", "n1", 1)
