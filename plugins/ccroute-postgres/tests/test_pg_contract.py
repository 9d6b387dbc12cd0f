"""The contracts every ccroute store and engine pass, run against PostgreSQL:
the storage contract (ccroute.testing_storage) on a sole owner's store and on
a partition's store under a lease, and the engine contract
(ccroute.testing_engine: leases, fencing, following) on asyncio and trio."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ccroute.storage import DEFAULT_RETENTION, AsyncStorage
from ccroute.testing_engine import EngineContract, EngineStorageContract
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


@pytest.fixture
def make_engine(pg_server: TemporaryServer) -> Callable[..., object]:
    """New engines (nodes) on the session's server."""
    pg_server.start()

    async def make(*, retention: float | None = DEFAULT_RETENTION) -> PostgresEngine:
        return PostgresEngine(pg_server.dsn, retention=retention)

    return make


class TestPostgresEngine(EngineContract):
    """Leases, fencing and following (ccroute.testing_engine), on asyncio."""


class TestPostgresEngineOnTrio(EngineContract):
    """The same on trio (psycopg runs in worker threads: no asyncio needed)."""

    @pytest.fixture
    def anyio_backend(self) -> str:
        return "trio"


class TestPostgresPartitionStore(EngineStorageContract):
    """The storage contract on a partition's store under a live lease."""

    backend = "trio"
