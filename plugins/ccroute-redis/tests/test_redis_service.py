"""The service on Redis, on asyncio and trio: what it acknowledged survives a restart
of the service and of Redis, one service at a time owns a partition, and the
``ccroute`` entry point provides the store only when the settings ask for it."""

from __future__ import annotations

import importlib.metadata
import logging

import anyio
import pytest
from ccroute import Agent, Contact, Presence, QueueConfig, Service
from ccroute.errors import FencedError, ServiceError, StorageError
from redis_testing import direct

import ccroute_redis.plugin
from ccroute_redis import RedisEngine, SingleNodeStorage
from ccroute_redis.testing import RedisServer, temporary_server

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _only_this_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this distribution's plugins, whatever else is installed."""
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "ccroute-redis")


async def centre(service: Service) -> None:
    await service.add_queue(QueueConfig("support", wrap_up=0))
    await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)


async def test_acknowledged_calls_survive_a_restart_of_the_service(
    redis_server: RedisServer, prefix: str
) -> None:
    settings = {"redis": {"url": redis_server.url, "prefix": prefix, "partition": "site-1"}}
    with anyio.fail_after(20):
        async with Service(settings=settings, snapshot_every=5) as service:
            assert isinstance(service.storage, SingleNodeStorage)
            await centre(service)
            for i in range(12):
                await service.submit(Contact(f"c{i}", "email", "support"))
            durable = service.durable_seq
        # The lease was released on stop: the next service starts at once.
        async with Service(settings=settings) as again:
            assert again.durable_seq == durable
            assert set(again.router.contact_ids) >= {f"c{i}" for i in range(12)}
            assert again.router.contact("c0").agent_id == "alice"


async def test_a_second_service_on_the_same_partition_is_refused(
    redis_server: RedisServer, prefix: str
) -> None:
    settings = {
        "redis": {"url": redis_server.url, "prefix": prefix, "partition": "p", "lease_ttl": 30}
    }
    with anyio.fail_after(20):
        async with Service(settings=settings) as first:
            await centre(first)
            second = SingleNodeStorage(redis_server.url, "p", prefix=prefix, lease_ttl=30, wait=0.3)
            with pytest.raises(
                StorageError, match=r"partition 'p' .* in use by node .*ccroute|in use by node"
            ):
                await second.load()
            await second.close()
            # The first one goes on working.
            await first.submit(Contact("c1", "voice", "support"))


async def test_acknowledged_calls_survive_redis_being_killed(prefix: str) -> None:
    """With appendfsync always, what the service acknowledged is on disk: a
    SIGKILL of Redis (no shutdown, no flush) and a restart lose none of it."""
    with temporary_server() as server:
        settings = {"redis": {"url": server.url, "prefix": prefix, "partition": "p"}}
        with anyio.fail_after(30):
            service = Service(settings=settings)
            await service.start()
            try:
                await centre(service)
                for i in range(20):
                    await service.submit(Contact(f"c{i}", "email", "support"))
                durable = service.durable_seq
                server.restart(crash=True)
                # The connection was dropped; the next write reconnects.
                await service.submit(Contact("after", "email", "support"))
                durable_after = service.durable_seq
            finally:
                await service.stop()
            assert durable_after == durable + 1
            async with Service(settings=settings) as again:
                assert again.durable_seq == durable_after
                assert {f"c{i}" for i in range(20)} | {"after"} <= set(again.router.contact_ids)


async def test_a_service_whose_lease_is_taken_stops_writing(
    redis_server: RedisServer, prefix: str
) -> None:
    settings = {"redis": {"url": redis_server.url, "prefix": prefix, "partition": "p"}}
    with anyio.fail_after(20):
        service = Service(settings=settings)
        await service.start()
        try:
            await centre(service)
            await service.submit(Contact("kept", "voice", "support"))
            # Another node takes the partition (as after a pause past the ttl).
            direct(redis_server).delete(f"{prefix}:{{p}}:lease")
            thief = RedisEngine(redis_server.url, prefix=prefix)
            assert await thief.acquire("p", "thief", 30) is not None
            # The first write after the theft is fenced: this call's, or a
            # background record's (a tick, the service's notes) just before it,
            # after which the service takes no call. Either way nothing is stored.
            with pytest.raises((FencedError, ServiceError), match="stale"):
                await service.submit(Contact("lost", "voice", "support"))
            assert isinstance(service.failure, FencedError)
            await thief.close()
        finally:
            await service.stop()
        reader = RedisEngine(redis_server.url, prefix=prefix)
        try:
            loaded = await reader.storage("p", None).load()
        finally:
            await reader.close()
        ids = [r.command.contact.id for r in loaded.records if r.name == "submit"]  # type: ignore[attr-defined]
        assert ids == ["kept"]


# -- the entry point --------------------------------------------------------------


def test_the_distribution_exposes_the_plugin_through_the_entry_point() -> None:
    (entry,) = [e for e in importlib.metadata.entry_points(group="ccroute") if e.name == "redis"]
    assert entry.load() is ccroute_redis.plugin


async def test_without_redis_settings_the_default_store_is_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert ccroute_redis.plugin.ccroute_storage({}) is None
    async with Service() as service:
        assert type(service.storage).__name__ == "MemoryStorage"


@pytest.mark.parametrize(
    ("redis_settings", "message"),
    [
        ("redis://x", "must be a mapping"),
        ({"partition": "p"}, "need a 'url'"),
        ({"url": "redis://127.0.0.1:1/0", "colour": "red"}, "unknown key.*'colour'"),
        ({"url": "http://x"}, "url must be a redis://"),
        ({"url": "redis://127.0.0.1:1/0", "partition": ""}, "partition must be"),
        ({"url": "redis://127.0.0.1:1/0", "fsync": "never"}, "fsync must be"),
        ({"url": "redis://127.0.0.1:1/0", "lease_ttl": -1}, "lease_ttl must be"),
    ],
)
async def test_bad_redis_settings_stop_the_service_instead_of_falling_back(
    redis_settings: object, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    service = Service(settings={"redis": redis_settings})
    with pytest.raises(StorageError, match=message):
        await service.start()
    await service.stop()


async def test_redis_settings_that_lose_data_stop_the_service(prefix: str) -> None:
    with temporary_server(appendfsync="everysec") as server:
        service = Service(settings={"redis": {"url": server.url, "prefix": prefix}})
        with pytest.raises(StorageError, match="appendfsync 'everysec'"):
            await service.start()
        await service.stop()
