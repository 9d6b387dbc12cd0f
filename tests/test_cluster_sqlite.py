"""The reference engine passes the engine and storage contracts, on asyncio and trio.

:class:`~ccroute.cluster_sqlite.SQLiteEngine` is the executable
specification of :class:`~ccroute.cluster.Engine`; the same contract tests
(:mod:`ccroute.testing_engine`) run against the PostgreSQL and Redis plugins.
Below them, what is particular to the SQLite file: several processes share
it, and it refuses a file that is not one of its own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import pytest

from ccroute import InvalidValueError, SQLiteStorage, StorageError
from ccroute.cluster import Engine
from ccroute.cluster_sqlite import SQLiteEngine
from ccroute.errors import FencedError
from ccroute.storage import DEFAULT_RETENTION
from ccroute.testing_engine import EngineContract, EngineStorageContract, MakeEngine
from ccroute.testing_storage import record, records


@pytest.fixture
def make_engine(tmp_path: Path) -> MakeEngine:
    """Engines on one shared file, as the node processes of one machine open it."""
    path = tmp_path / "cluster.db"

    def make(*, retention: float | None = DEFAULT_RETENTION) -> Awaitable[Engine]:
        async def opened() -> Engine:
            return SQLiteEngine(path, synchronous="OFF", retention=retention, poll=0.01)

        return opened()

    return make


class TestSQLiteEngine(EngineContract):
    @pytest.fixture(params=["asyncio", "trio"])
    def anyio_backend(self, request: pytest.FixtureRequest) -> str:
        return str(request.param)


class TestSQLiteEnginePartitionStore(EngineStorageContract):
    pass


class TestSQLiteEnginePartitionStoreOnTrio(EngineStorageContract):
    backend = "trio"


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_another_process_is_fenced_once_the_lease_moved(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "cluster.db"
    engine = SQLiteEngine(path, synchronous="OFF")
    try:
        old = await engine.acquire("p1", "here", 0.2)
        assert old is not None
        await engine.storage("p1", old).append(records(1, 2))
        script = textwrap.dedent(
            f"""
            import anyio, time
            from ccroute.cluster_sqlite import SQLiteEngine
            from ccroute.testing_storage import record
            async def main():
                engine = SQLiteEngine({str(path)!r}, synchronous="OFF")
                time.sleep(0.4)
                token = await engine.acquire("p1", "there", 30.0)
                store = engine.storage("p1", token)
                await store.append([record(3)])
                print(token)
                await engine.close()
            anyio.run(main)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert int(done.stdout) > old
        with pytest.raises(FencedError, match=rf"token {old} is stale"):
            await engine.storage("p1", old).append([record(4)])
        assert (await engine.storage("p1", None).load()).records == tuple(records(1, 3))
        assert not await engine.renew("p1", "here", old, 5.0)
    finally:
        await engine.close()


def test_a_file_that_is_not_a_cluster_file_is_refused(tmp_path: Path) -> None:
    with SQLiteStorage(tmp_path / "log.db") as store:
        store.append([record(1)])
    with pytest.raises(StorageError, match="not a ccroute cluster file"):
        SQLiteEngine(tmp_path / "log.db")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"synchronous": "full"}, "synchronous"),
        ({"keep_snapshots": 0}, "keep_snapshots"),
        ({"poll": 0}, "poll"),
        ({"retention": -1}, "retention"),
    ],
)
def test_bad_options_are_refused_before_touching_the_disk(
    tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        SQLiteEngine(tmp_path / "cluster.db", **options)
    assert list(tmp_path.iterdir()) == []
