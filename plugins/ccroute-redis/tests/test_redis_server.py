"""What the engine asks of the Redis server, how it follows a log, and how it
rides out a dropped connection or a restart of Redis."""

from __future__ import annotations

import logging

import anyio
import pytest
from ccroute import InvalidValueError
from ccroute.errors import StorageError
from ccroute.testing_storage import records
from redis_testing import direct, rewrite_entry

from ccroute_redis import RedisEngine, RedisSettingsError
from ccroute_redis.testing import RedisServer, RedisServerMissing, temporary_server

pytestmark = pytest.mark.anyio


async def test_the_check_reports_the_server(engine: RedisEngine) -> None:
    info = await engine.check()
    assert info.version >= (6, 2)
    assert (info.appendonly, info.appendfsync, info.maxmemory_policy) == (
        True,
        "always",
        "noeviction",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--appendonly", "no"], "appendonly 'no'.*Set appendonly yes"),
        (["--appendfsync", "no"], "appendfsync 'no'"),
        (["--appendfsync", "everysec"], "appendfsync 'everysec'.*fsync='everysec'"),
        (
            ["--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru"],
            "maxmemory-policy 'allkeys-lru'.*noeviction",
        ),
    ],
)
async def test_settings_that_could_lose_acknowledged_calls_are_refused(
    extra: list[str], message: str
) -> None:
    with temporary_server(extra=extra) as server:
        engine = RedisEngine(server.url)
        try:
            with pytest.raises(RedisSettingsError, match=message):
                await engine.acquire("p", "n1", 1)
            # Nothing was written.
            assert direct(server).dbsize() == 0
        finally:
            await engine.close()


async def test_everysec_is_accepted_when_asked_for_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="ccroute_redis")
    with temporary_server(appendfsync="everysec") as server:
        engine = RedisEngine(server.url, fsync="everysec")
        try:
            assert (await engine.check()).appendfsync == "everysec"
        finally:
            await engine.close()
    assert any("last second of acknowledged calls" in r.getMessage() for r in caplog.records)


async def test_a_server_that_refuses_config_get_is_refused_unless_told(prefix: str) -> None:
    with temporary_server(extra=["--rename-command", "CONFIG", ""]) as server:
        engine = RedisEngine(server.url, prefix=prefix)
        try:
            with pytest.raises(StorageError, match=r"refuses CONFIG GET.*check_server=False"):
                await engine.check()
        finally:
            await engine.close()
        trusting = RedisEngine(server.url, prefix=prefix, check_server=False)
        try:
            assert (await trusting.check()).appendfsync is None
            assert await trusting.acquire("p", "n1", 1) is not None
        finally:
            await trusting.close()


async def test_an_unreachable_server_gives_a_clear_error() -> None:
    from ccroute_redis.testing import free_port

    engine = RedisEngine(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1)
    try:
        with (
            anyio.fail_after(20),
            pytest.raises(StorageError, match=r"cannot reach Redis at 127.0.0.1"),
        ):
            await engine.acquire("p", "n1", 1)
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"url": "http://x"}, "url must be"),
        ({"prefix": "a{b}"}, "prefix must be"),
        ({"fsync": "no"}, "fsync must be"),
        ({"keep_snapshots": 0}, "keep_snapshots must be"),
        ({"retention": -1}, "retention must be"),
        ({"socket_timeout": 0}, "socket_timeout must be"),
    ],
)
def test_bad_engine_options_are_refused_before_connecting(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        RedisEngine(**options)  # type: ignore[arg-type]


def test_the_url_password_never_shows() -> None:
    engine = RedisEngine("redis://:hunter2@127.0.0.1:6390/0")
    try:
        assert "hunter2" not in repr(engine) and "hunter2" not in engine.where
    finally:
        engine.close_sync()


def test_a_missing_server_binary_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("os.path.exists", lambda path: False)
    with (
        pytest.raises(RedisServerMissing, match="apt-get install -y redis-server"),
        temporary_server(),
    ):
        pass


# -- following ------------------------------------------------------------------


async def test_read_after_returns_the_records_after_a_seq(engine: RedisEngine) -> None:
    token = await engine.acquire("p", "n1", 30)
    assert token is not None
    store = engine.storage("p", token)
    await store.load()
    await store.append(records(1, 5))
    assert [r.seq for r in await engine.read_after("p", 2, 0)] == [3, 4, 5]
    assert await engine.read_after("p", 5, 0) == ()
    assert list(await engine.read_after("p", 0, 0)) == records(1, 5)


async def test_a_blocked_read_wakes_up_when_the_leader_appends(engine: RedisEngine) -> None:
    token = await engine.acquire("p", "n1", 30)
    assert token is not None
    store = engine.storage("p", token)
    await store.load()
    got: list[int] = []
    woke_after: list[float] = []

    async def follow() -> None:
        started = anyio.current_time()
        found = await engine.read_after("p", 0, 5.0)
        woke_after.append(anyio.current_time() - started)
        got.extend(r.seq for r in found)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            await anyio.sleep(0.2)
            await store.append(records(1, 2))
    assert got == [1, 2]
    assert 0.15 < woke_after[0] < 2.0


async def test_a_blocked_read_with_nothing_new_returns_nothing_after_its_wait(
    engine: RedisEngine,
) -> None:
    with anyio.fail_after(5):
        started = anyio.current_time()
        assert await engine.read_after("p", 0, 0.3) == ()
        assert anyio.current_time() - started >= 0.25


async def test_a_follower_sees_the_gap_retention_left(
    redis_server: RedisServer, prefix: str
) -> None:
    engine = RedisEngine(redis_server.url, prefix=prefix, keep_snapshots=1, retention=0.0)
    try:
        token = await engine.acquire("p", "n1", 30)
        assert token is not None
        store = engine.storage("p", token)
        await store.load()
        await store.append(records(1, 6))
        await store.snapshot(4, b"s4")
        # Retention 0 drops every record the snapshot covers: 1..4 are gone,
        # so a follower at record 1 gets 5 first and knows to load again.
        assert [r.seq for r in await engine.read_after("p", 1, 0)] == [5, 6]
    finally:
        await engine.close()


async def test_a_follower_is_told_of_a_damaged_entry(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    token = await engine.acquire("p", "n1", 30)
    assert token is not None
    store = engine.storage("p", token)
    await store.load()
    await store.append(records(1, 3))
    rewrite_entry(direct(redis_server), engine.keys("p").log, 2, crc=b"12345")
    assert [r.seq for r in await engine.read_after("p", 0, 0)] == [1]
    with pytest.raises(StorageError, match=r"entry 2-0 after record 1 .* damaged"):
        await engine.read_after("p", 1, 0)


# -- reconnecting -----------------------------------------------------------------


async def test_a_dropped_connection_is_reopened(
    engine: RedisEngine, redis_server: RedisServer
) -> None:
    token = await engine.acquire("p", "n1", 30)
    assert token is not None
    store = engine.storage("p", token)
    await store.load()
    await store.append(records(1, 1))
    client = direct(redis_server)
    for entry in client.client_list():
        if entry.get("name") == "ccroute-redis":
            client.client_kill_filter(_id=entry["id"])
    await store.append(records(2, 2))
    assert [r.seq for r in (await engine.storage("p", None).load()).records] == [1, 2]


async def test_acknowledged_appends_survive_a_crash_of_redis(prefix: str) -> None:
    with temporary_server() as server:
        engine = RedisEngine(server.url, prefix=prefix)
        try:
            token = await engine.acquire("p", "n1", 60)
            assert token is not None
            store = engine.storage("p", token)
            await store.load()
            await store.append(records(1, 10))
            await store.snapshot(5, b"s5")
            server.restart(crash=True)
            # The lease and its token survived too: the leader goes on writing.
            await store.append(records(11, 12))
            loaded = await engine.storage("p", None).load()
            assert loaded.snapshot == b"s5"
            assert [r.seq for r in loaded.records] == list(range(6, 13))
            assert await engine.acquire("p", "n2", 60) is None
        finally:
            await engine.close()


async def test_while_redis_is_down_writes_fail_clearly_and_store_nothing(prefix: str) -> None:
    with temporary_server() as server:
        engine = RedisEngine(server.url, prefix=prefix, socket_timeout=2)
        try:
            token = await engine.acquire("p", "n1", 60)
            assert token is not None
            store = engine.storage("p", token)
            await store.load()
            await store.append(records(1, 2))
            server.stop()
            with anyio.fail_after(30), pytest.raises(StorageError, match="cannot reach"):
                await store.append(records(3, 3))
            server.start()
            await store.append(records(3, 3))
            assert [r.seq for r in (await engine.storage("p", None).load()).records] == [1, 2, 3]
        finally:
            await engine.close()
