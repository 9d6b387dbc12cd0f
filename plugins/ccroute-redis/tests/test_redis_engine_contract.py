"""The engine contract every ccroute.cluster.Engine passes (ccroute.testing_engine),
run on Redis: leases, fencing, following, and the storage contract on a
partition's store under a live lease, reopened through a new engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from ccroute.cluster import Engine
from ccroute.storage import DEFAULT_RETENTION
from ccroute.testing_engine import EngineContract, EngineStorageContract

from ccroute_redis import RedisEngine
from ccroute_redis.testing import RedisServer


@pytest.fixture
def make_engine(redis_server: RedisServer, prefix: str) -> Callable[..., Awaitable[Engine]]:
    """A new node's engine on the session's server, under this test's prefix."""

    async def make(*, retention: float | None = DEFAULT_RETENTION) -> Engine:
        return await RedisEngine.connect(redis_server.url, prefix=prefix, retention=retention)

    return make


class TestRedisEngine(EngineContract):
    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestRedisPartitionStore(EngineStorageContract):
    pass


class TestRedisPartitionStoreOnTrio(EngineStorageContract):
    backend = "trio"
