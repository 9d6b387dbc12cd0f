"""The private test server: it fails loudly, naming the Debian package, when
PostgreSQL is not installed, and it is durable and on loopback only."""

from __future__ import annotations

import psycopg
import pytest
from ccroute.errors import StorageError

import ccroute_postgres.testing as pg_testing_module
from ccroute_postgres.testing import TemporaryServer, find_binaries


def test_missing_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg_testing_module.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(pg_testing_module.shutil, "which", lambda name: None)
    with pytest.raises(StorageError, match=r"install the Debian package 'postgresql'"):
        find_binaries()


def test_the_server_is_durable_and_on_loopback(pg_server: TemporaryServer) -> None:
    pg_server.start()
    with psycopg.connect(pg_server.dsn) as connection:
        settings = dict(
            connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('fsync', 'synchronous_commit', 'full_page_writes', 'listen_addresses')"
            ).fetchall()
        )
    assert settings == {
        "fsync": "on",
        "synchronous_commit": "on",
        "full_page_writes": "on",
        "listen_addresses": "127.0.0.1",
    }
