"""SIGKILL a service whose custom strategies misbehave: it restarts in the state it acknowledged.

``tests/strategy_crash_driver.py`` runs a :class:`~ccroute.Service` on
SQLite whose queues choose agents with the strategies of
tests/misbehaving.py (raising now and then, random, reading the clock,
keeping state; two queues ring several agents), one call at a time, and
prints, after every acknowledged call, the last durable record and a digest
of the state (views, waiting order, every offer's holders, counters,
``strategy_failures``). The test kills it at seeded moments; a new process
(with new strategies, which answer differently) starts on the same file.
After each kill, on copies of the database:

1. the log only grows: what an earlier kill left is a prefix of what a
   later one leaves, and every acknowledged record is in it;
2. acknowledged means recovered: the log cut just after the last call a
   start acknowledged (and after a few earlier ones) recovers, from its
   snapshots and from its whole length, to the very digest the driver
   printed when that call returned;
3. the restarted driver's recovered state is the full log's, and it goes
   on making calls and offers.

On asyncio and trio; the run ends with a clean restart that finishes.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest
from kill_harness import first_line, running
from misbehaving import MisbehavingStrategies
from strategy_crash_driver import digest

from ccroute import ManualClock, Service, SQLiteStorage
from ccroute.storage import LogRecord

pytestmark = pytest.mark.anyio

DRIVER = Path(__file__).resolve().parent / "strategy_crash_driver.py"
KILLS = 4
FINAL_OPS = 60
START_TIMEOUT = 30.0
DRIVER_LIFETIME = 30.0
RUN_TIMEOUT = 150.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass(frozen=True)
class Ack:
    seq: int
    digest: str
    offers: int
    failures: int


@dataclass
class Output:
    ready: tuple[int, str] | None = None
    acks: list[Ack] = field(default_factory=list)
    done: bool = False


def parse(text: str) -> Output:
    """The driver's lines; a last line cut short by the kill is ignored."""
    out = Output()
    for line in text.split("\n")[:-1]:
        kind, *rest = line.split(" ")
        if kind == "ready":
            out.ready = (int(rest[0]), rest[1])
        elif kind == "ack":
            out.acks.append(Ack(int(rest[0]), rest[1], int(rest[2]), int(rest[3])))
        elif kind == "done":
            out.done = True
        else:
            raise AssertionError(f"unexpected driver output line: {line!r}")
    return out


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a database and its WAL (the killed driver holds no lock)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def cut(path: Path, seq: int | None, snapshots: bool) -> None:
    """Leave the log as it was when record ``seq`` was the last (all: ``None``),
    with or without its snapshots: its commit mark too, or the store would
    rightly refuse the file as having lost acknowledged records."""
    with closing(sqlite3.connect(path)) as db, db:
        if seq is not None:
            db.execute("DELETE FROM log WHERE seq > ?", (seq,))
            db.execute("DELETE FROM snapshots WHERE seq > ?", (seq,))
            db.execute(
                "UPDATE meta SET value = ? WHERE key = 'committed_through'"
                " AND CAST(value AS INTEGER) > ?",
                (str(seq), seq),
            )
        if not snapshots:
            db.execute("DELETE FROM snapshots")


async def recovered(db: Path, workdir: Path, seq: int | None, snapshots: bool) -> tuple[int, str]:
    """The last record and the digest a service starting on a copy of ``db``
    (cut at ``seq``) recovers; its clock held at 0, so no timer runs."""
    path = copy_db(db, workdir / "recover.db")
    cut(path, seq, snapshots)
    service = Service(
        path=path,
        load_entrypoints=False,
        clock=ManualClock(0.0),
        plugins=[MisbehavingStrategies()],
    )
    async with service:
        assert service.recovery_problem is None, service.recovery_problem
        return service.durable_seq, digest(service.router)


def log_of(db: Path, workdir: Path) -> tuple[LogRecord, ...]:
    """Every record of the log, snapshots apart."""
    path = copy_db(db, workdir / "full.db")
    cut(path, None, snapshots=False)
    store = SQLiteStorage(path)
    try:
        found = store.load()
    finally:
        store.close()
    assert found.problem is None, found.problem
    return found.records


async def test_sigkill_with_misbehaving_strategies_recovers_what_was_acknowledged(
    anyio_backend: str, tmp_path: Path
) -> None:
    rng = random.Random(f"strategy-crash:{anyio_backend}")
    db = tmp_path / "centre.db"
    records: tuple[LogRecord, ...] = ()
    expected: tuple[int, str] = (0, "")  # what the next start must recover
    offers = failures = checked = 0
    with anyio.fail_after(RUN_TIMEOUT):
        for start in range(KILLS + 1):
            final = start == KILLS
            command = [sys.executable, str(DRIVER), str(db), "1", str(start * 1_000_000)]
            command += ["--backend", anyio_backend, "--max-seconds", str(DRIVER_LIFETIME)]
            if final:
                command += ["--ops", str(FINAL_OPS)]
            with running(command, tmp_path, start) as (proc, out, err):
                await first_line(proc, out, err, START_TIMEOUT)
                if final:
                    deadline = time.monotonic() + START_TIMEOUT
                    while proc.poll() is None:
                        assert time.monotonic() < deadline, "the last driver did not finish"
                        await anyio.sleep(0.01)
                    assert proc.returncode == 0, err.read_text()
                else:
                    await anyio.sleep(rng.uniform(0.4, 1.2))
                    assert proc.poll() is None, f"the driver died by itself:\n{err.read_text()}"
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
            output = parse(out.read_text())
            assert output.done == final, err.read_text()
            # 3. The restart recovered the state the log held after the last kill.
            assert output.ready is not None
            if start:
                assert output.ready == expected, "the restarted driver recovered another state"
            # It goes on: calls acknowledged, offers made by strategies it asked.
            assert len(output.acks) >= (FINAL_OPS if final else 5), err.read_text()
            offers += sum(a.offers for a in output.acks)
            failures = max([failures, *(a.failures for a in output.acks)])
            # 1. The log only grows; every acknowledged record is in it.
            now = log_of(db, tmp_path)
            assert now[: len(records)] == records, "records durable before were lost or changed"
            records = now
            assert all(a.seq <= len(records) for a in output.acks)
            # 2. Acknowledged means recovered, from snapshots or the whole log:
            # the last acknowledged call of this start and two earlier ones.
            for ack in {output.acks[-1], *rng.sample(output.acks, 2)}:
                for snapshots in (True, False):
                    assert await recovered(db, tmp_path, ack.seq, snapshots) == (
                        ack.seq,
                        ack.digest,
                    ), f"start {start}: the log cut at {ack.seq} recovers another state"
                    checked += 1
            expected = await recovered(db, tmp_path, None, True)
            assert expected == await recovered(db, tmp_path, None, False)
            assert expected[0] == len(records)
    # The checks bit: offers made among several agents, strategies that failed.
    assert offers > 50 and failures > 0 and checked >= 4 * (KILLS + 1)
