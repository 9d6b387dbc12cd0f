"""The storage contract ccroute's own stores pass (ccroute.testing_storage), run on
Redis: a leader's partition store and the single-node store, on asyncio and trio."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

import pytest
from ccroute.storage import DEFAULT_RETENTION, AsyncStorage
from ccroute.testing_storage import AsyncStorageContract

from ccroute_redis import RedisEngine, RedisStorage, SingleNodeStorage
from ccroute_redis.testing import RedisServer


class _LeaderStore(AsyncStorageContract):
    """A partition store under a fresh lease, on an engine per store (its retention)."""

    @pytest.fixture
    def engines(self) -> Iterator[list[RedisEngine]]:
        made: list[RedisEngine] = []
        yield made
        for engine in made:
            engine.close_sync()

    @pytest.fixture
    def make_async_store(
        self, redis_server: RedisServer, prefix: str, engines: list[RedisEngine]
    ) -> Callable[..., Awaitable[AsyncStorage]]:
        count = iter(range(1000))

        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            engine = RedisEngine(redis_server.url, prefix=prefix, retention=retention)
            engines.append(engine)
            partition = f"p{next(count)}"
            token = await engine.acquire(partition, "n1", 60)
            assert token is not None
            return engine.storage(partition, token)

        return make

    @pytest.fixture
    def reopen_async_store(self) -> Callable[[AsyncStorage], Awaitable[AsyncStorage]]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, RedisStorage)
            return store._engine.storage(store.partition, store.token)

        return reopen


class TestLeaderStoreOnAsyncio(_LeaderStore):
    backend = "asyncio"


class TestLeaderStoreOnTrio(_LeaderStore):
    backend = "trio"


class _SingleNodeStore(AsyncStorageContract):
    """The store the ccroute_storage hook gives: it holds its own lease."""

    @pytest.fixture
    def make_async_store(
        self, redis_server: RedisServer, prefix: str
    ) -> Callable[..., Awaitable[AsyncStorage]]:
        count = iter(range(1000))

        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            return SingleNodeStorage(
                redis_server.url, f"s{next(count)}", prefix=prefix, retention=retention
            )

        return make

    @pytest.fixture
    def reopen_async_store(
        self, redis_server: RedisServer, prefix: str
    ) -> Callable[[AsyncStorage], Awaitable[AsyncStorage]]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, SingleNodeStorage)
            return SingleNodeStorage(
                redis_server.url,
                store.partition,
                prefix=prefix,
                retention=store.engine.retention,
            )

        return reopen


class TestSingleNodeStoreOnAsyncio(_SingleNodeStore):
    backend = "asyncio"


class TestSingleNodeStoreOnTrio(_SingleNodeStore):
    backend = "trio"
