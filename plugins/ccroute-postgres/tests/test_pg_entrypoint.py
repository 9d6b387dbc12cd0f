"""The distribution exposes its plugin through the ``ccroute`` entry point, and
the plugin provides a store only when the settings name PostgreSQL."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import pytest
from ccroute.service import Service
from ccroute.storage import MemoryStorage
from pg_testing import fresh_partition

import ccroute_postgres.plugin
from ccroute_postgres import PostgresStorage

pytestmark = pytest.mark.anyio

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_entry_point_is_declared_as_the_plugin_module() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["name"] == "ccroute-postgres"
    assert project["entry-points"]["ccroute"] == {"postgres": "ccroute_postgres.plugin"}
    assert callable(ccroute_postgres.plugin.ccroute_storage)


def _installed() -> bool:
    try:
        importlib.metadata.distribution("ccroute-postgres")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason="ccroute-postgres is not installed (pip install -e)")
async def test_the_installed_plugin_takes_over_only_when_configured(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    [entry] = [
        ep for ep in importlib.metadata.entry_points(group="ccroute") if ep.name == "postgres"
    ]
    assert entry.load() is ccroute_postgres.plugin
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "ccroute-postgres")
    async with Service() as plain:
        assert isinstance(plain.storage, MemoryStorage)
    settings = {"postgres": {"dsn": dsn, "partition": fresh_partition("entry")}}
    async with Service(settings=settings) as configured:
        assert isinstance(configured.storage, PostgresStorage)
