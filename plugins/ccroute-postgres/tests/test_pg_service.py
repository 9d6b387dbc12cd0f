"""A ccroute Service on PostgreSQL through the ``ccroute_storage`` hook, on asyncio and trio."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from ccroute import Agent, Contact, Presence, QueueConfig
from ccroute.errors import InvalidValueError, StorageError
from ccroute.service import Service
from ccroute.storage import MemoryStorage
from pg_testing import fresh_partition

import ccroute_postgres.plugin
from ccroute_postgres import PostgresStorage
from ccroute_postgres.plugin import storage_from_settings

pytestmark = pytest.mark.anyio


def service(postgres: Any) -> Service:
    settings = {} if postgres is None else {"postgres": postgres}
    return Service(settings=settings, plugins=[ccroute_postgres.plugin], load_entrypoints=False)


async def test_the_service_logs_to_postgres_and_recovers_from_it(dsn: str) -> None:
    settings = {"dsn": dsn, "partition": fresh_partition("svc")}
    async with service(settings) as first:
        assert isinstance(first.storage, PostgresStorage)
        await first.add_queue(QueueConfig("support"))
        await first.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
        await first.submit(Contact("c1", "voice", queue="support"))
        await first.submit(Contact("c2", "voice", queue="support"))
        await first.accept("c1", "alice")
        before = first.router.snapshot()
    async with service(settings) as second:
        assert second.router.snapshot() == before
        assert [view.id for view in second.router.waiting()] == ["c2"]
        assert second.recovery_problem is None


async def test_a_second_service_on_the_same_partition_is_refused(dsn: str) -> None:
    settings = {"dsn": dsn, "partition": fresh_partition("svc")}
    async with service(settings) as first:
        await first.add_queue(QueueConfig("support"))
        with pytest.raises(StorageError, match="in use by another store"):
            async with service(settings):
                pass
        # The first one is unharmed.
        await first.submit(Contact("c1", "voice", queue="support"))


async def test_without_postgres_settings_the_default_store_stays(
    anyio_backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ccroute_postgres.plugin"):
        async with service(None) as plain:
            assert isinstance(plain.storage, MemoryStorage)
    assert any("installed but not enabled" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("postgres", "message"),
    [
        ("host=x", 'settings\\["postgres"\\] must be a table'),
        ({}, 'needs "dsn"'),
        ({"dsn": "host=x", "partiton": "a"}, "unknown key\\(s\\) partiton"),
        ({"dsn": 7}, "dsn must be a libpq connection string"),
        ({"dsn": "host=x", "partition": ""}, "partition must be 1 to 200 characters"),
        ({"dsn": "host=x", "keep_snapshots": 0}, "keep_snapshots must be at least 1"),
    ],
)
def test_bad_settings_are_refused_naming_the_key(postgres: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        storage_from_settings({"postgres": postgres})


async def test_a_service_with_bad_settings_fails_to_start_rather_than_run_in_memory(
    anyio_backend: str,
) -> None:
    with pytest.raises(StorageError, match="unknown key\\(s\\) partiton"):
        async with service({"dsn": "host=127.0.0.1", "partiton": "a"}):
            pass
