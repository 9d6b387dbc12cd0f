"""Fixtures of the PostgreSQL plugin's tests (named apart from the main suite's
conftest so both suites run in one session).

One private server for the whole session (:func:`pg_server`, about a second
to start); each test gets its own partition names, so tests do not see each
other's logs. A missing PostgreSQL fails the tests, naming the package.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator

import pytest

from ccroute_postgres import PostgresEngine
from ccroute_postgres.testing import TemporaryServer

_names = itertools.count(1)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio."""
    return str(request.param)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TemporaryServer]:
    """A PostgreSQL server on 127.0.0.1 for the session (stopped at the end)."""
    server = TemporaryServer()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def dsn(pg_server: TemporaryServer) -> str:
    """The server's connection string (started again if a test stopped it)."""
    pg_server.start()
    return pg_server.dsn


def fresh_partition(prefix: str = "p") -> str:
    """A partition name no other test in this session uses."""
    return f"{prefix}-{os.getpid()}-{next(_names)}"


@pytest.fixture
def partition() -> str:
    """A partition of this test's own."""
    return fresh_partition()


@pytest.fixture
async def engine(dsn: str) -> AsyncIterator[PostgresEngine]:
    """An engine on the session's server, closed after the test."""
    engine = PostgresEngine(dsn)
    try:
        yield engine
    finally:
        await engine.close()
