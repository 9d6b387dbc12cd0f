"""Shared helpers of the Redis plugin's tests: one private server per session,
a fresh key prefix (so a fresh set of partitions) per test, both anyio backends
(records come from ccroute.testing_storage, as the storage contract makes them).

Named apart from the main suite's conftest so both suites run in one session.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from ccroute_redis import RedisEngine
from ccroute_redis.testing import RedisServer, temporary_server

#: Every wait in these tests is bounded by this many seconds.
TIMEOUT = 15.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server for the whole session (appendonly yes, appendfsync always).

    Fails (does not skip) when redis-server is missing, naming the Debian package.
    """
    with temporary_server() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A key prefix no other test uses: each test sees empty partitions."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def engine(redis_server: RedisServer, prefix: str) -> AsyncIterator[RedisEngine]:
    """An engine on the session's server under this test's prefix, closed after it."""
    opened = RedisEngine(redis_server.url, prefix=prefix)
    yield opened
    await opened.close()


def direct(server: RedisServer) -> redis.Redis:
    """A plain (synchronous) client of ``server``, to look at or damage data behind
    the engine's back, as an operator or a bug could."""
    return redis.Redis.from_url(server.url)


def rewrite_entry(client: redis.Redis, log: str, seq: int, **fields: bytes | None) -> None:
    """Change fields of the log entry of record ``seq`` in place (``None`` removes
    one), by writing the stream again: as damage on disk or a bad hand edit would."""
    entries = client.xrange(log)
    client.delete(log)
    for entry_id, values in entries:
        if entry_id == f"{seq}-0".encode():
            values = dict(values)
            for name, value in fields.items():
                if value is None:
                    values.pop(name.encode(), None)
                else:
                    values[name.encode()] = value
        client.xadd(log, values, id=entry_id)
