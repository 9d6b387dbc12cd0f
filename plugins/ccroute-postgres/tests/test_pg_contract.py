"""The storage contract every ccroute store passes (ccroute.testing_storage),
run against PostgreSQL: a sole owner's store and an engine's store under a
lease, each on asyncio and trio."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import anyio.from_thread
import pytest
from ccroute.storage import DEFAULT_RETENTION, AsyncStorage
from ccroute.testing_storage import AsyncStorageContract
from pg_testing import fresh_partition

from ccroute_postgres import PostgresEngine, PostgresStorage
from ccroute_postgres.testing import TemporaryServer


class SoleContract(AsyncStorageContract):
    """A store from :meth:`PostgresStorage.open`; reopening opens the partition again."""

    @pytest.fixture
    def make_async_store(self, pg_server: TemporaryServer) -> Callable[..., object]:
        pg_server.start()

        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            return PostgresStorage.open(pg_server.dsn, fresh_partition("sole"), retention=retention)

        return make

    @pytest.fixture
    def reopen_async_store(self, pg_server: TemporaryServer) -> Callable[..., object]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, PostgresStorage)
            return PostgresStorage.open(pg_server.dsn, store.partition, retention=None)

        return reopen


class TestSoleStorageOnAsyncio(SoleContract):
    backend = "asyncio"


class TestSoleStorageOnTrio(SoleContract):
    backend = "trio"


class TestEngineStorage(AsyncStorageContract):
    """A store from :meth:`PostgresEngine.storage` under a fresh lease; reopening
    takes the lease again on a new engine, as a new leader does."""

    backend = "trio"

    @pytest.fixture
    def engines(self, portal: anyio.from_thread.BlockingPortal) -> Iterator[list[PostgresEngine]]:
        made: list[PostgresEngine] = []
        yield made
        for engine in made:
            portal.call(engine.close)

    @pytest.fixture
    def make_async_store(
        self, pg_server: TemporaryServer, engines: list[PostgresEngine]
    ) -> Callable[..., object]:
        pg_server.start()

        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            engine = PostgresEngine(pg_server.dsn, retention=retention)
            engines.append(engine)
            partition = fresh_partition("engine")
            token = await engine.acquire(partition, "node-1", 60)
            assert token is not None
            return engine.storage(partition, token)

        return make

    @pytest.fixture
    def reopen_async_store(
        self, pg_server: TemporaryServer, engines: list[PostgresEngine]
    ) -> Callable[..., object]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, PostgresStorage) and store.token is not None
            engine = PostgresEngine(pg_server.dsn, retention=None)
            engines.append(engine)
            await engines[0].release(store.partition, "node-1", store.token)
            token = await engine.acquire(store.partition, "node-2", 60)
            assert token is not None
            return engine.storage(store.partition, token)

        return reopen
