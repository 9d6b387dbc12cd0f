"""Crash recovery: a service killed with SIGKILL loses nothing it acknowledged.

``tests/crash_driver.py`` runs a :class:`~ccroute.Service` on SQLite
(``synchronous=FULL``) in a subprocess, four tasks calling it concurrently so
group commit batches several calls per transaction, and prints an ``ack``
line for every call once it returned. Each test below kills the driver with
``SIGKILL`` at seeded random moments (:data:`KILLS_PER_RUN` times; 24 kills
over the four parametrised runs), and after every kill checks, on copies of
the database so the next restart sees exactly what the kill left:

1. acknowledged means durable: every ``ack`` line matches a log record with
   the same command, arguments and events (the events carry the call's
   time, so a record cannot stand in for another call's), in the order each
   task made its calls; and every acknowledged contact is live or ended in
   the log;
2. recovery is exact: a fresh :class:`~ccroute.Router` replaying *every*
   logged record from the first (snapshots ignored) ends in the same
   observable state (``helpers.snapshot``) as a new ``Service`` recovering
   from the latest snapshot plus the records after it;
3. the log only grows: what an earlier kill left is a prefix of what a
   later one leaves.

The driver is then restarted on the same database: the digest of the state
it recovered must equal the full replay's, and its calls must go on being
acknowledged. Each run ends with a restart that finishes cleanly, and the
checks once more. The test process uses the service on the backend of the
``anyio_backend`` fixture and the driver runs on the same one.

A second test runs the driver's ``--rich`` workload (runtime changes,
scheduled callbacks, contacts through an IVR flow and a CRM) with a snapshot
every five records, and kills one driver while it starts.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from crash_driver import decode_ack, state_digest
from kill_harness import first_line, running

from ccroute import (
    Abandoned,
    ManualClock,
    Refused,
    Router,
    Service,
    SQLiteStorage,
    WrapUpEnded,
)
from ccroute.commands import Command, Note, Submit
from ccroute.events import Event
from ccroute.storage import LogRecord
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio

DRIVER = Path(__file__).resolve().parent / "crash_driver.py"
#: Kills per test run; four runs (two seeds on each backend) make 24 kills.
KILLS_PER_RUN = 6
SEEDS = (1, 2)
#: Acknowledgements the last, clean restart of a run makes before it stops.
FINAL_OPS = 120
#: Seconds to wait for a driver to start or finish (generous: the machine is shared).
START_TIMEOUT = 30.0
#: Seconds a driver may run at all, so an orphan cannot outlive the test for long.
DRIVER_LIFETIME = 30.0
#: The whole of one run, as a backstop against a hang.
RUN_TIMEOUT = 120.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# ----------------------------------------------------------- driver output


@dataclass(frozen=True)
class Ack:
    """One acknowledged call, as the driver printed it."""

    op: int
    task: int
    command: Command
    events: tuple[Event, ...]
    start: int  # the driver start (START_INDEX) it came from
    after: int  # the last log record when that start was ready: this call came later


@dataclass
class Output:
    """What one driver start printed before it died or stopped."""

    ready_seq: int | None = None
    ready_digest: str | None = None
    acks: list[Ack] = field(default_factory=list)
    refused: int = 0
    done: bool = False


def parse_output(text: str, start: int) -> Output:
    """Parse the driver's stdout; a last line cut short by the kill is ignored."""
    out = Output()
    lines = text.split("\n")
    for line in lines[:-1]:  # the piece after the last newline is incomplete
        kind, _, rest = line.partition(" ")
        if kind == "ready":
            seq, digest = rest.split(" ")
            out.ready_seq, out.ready_digest = int(seq), digest
        elif kind == "ack":
            op, task, payload = rest.split(" ", 2)
            command, events = decode_ack(payload)
            out.acks.append(
                Ack(
                    int(op),
                    int(task),
                    command,
                    events,
                    start,
                    -1 if out.ready_seq is None else out.ready_seq,
                )
            )
        elif kind == "refused":
            out.refused += 1
        elif kind == "done":
            out.done = True
        else:
            raise AssertionError(f"unexpected driver output line: {line!r}")
    return out


@contextmanager
def driver(
    db: Path,
    seed: int,
    start: int,
    backend: str,
    workdir: Path,
    ops: int | None = None,
    extra: tuple[str, ...] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """Start the driver (:func:`kill_harness.running`)."""
    command = [sys.executable, str(DRIVER), str(db), str(seed), str(start), "--backend", backend]
    command += ["--max-seconds", str(DRIVER_LIFETIME)]
    if ops is not None:
        command += ["--ops", str(ops)]
    command += extra
    with running(command, workdir, start) as started:
        yield started


async def wait_ready(proc: subprocess.Popen[bytes], out: Path, err: Path) -> None:
    """Wait for the driver's ``ready`` line (it has recovered and takes calls)."""
    await first_line(proc, out, err, START_TIMEOUT)


# ----------------------------------------------------------------- checking


def copy_db(src: Path, dst: Path) -> Path:
    """Copy a database and its WAL (the killed driver holds no lock, so this is consistent)."""
    for suffix in ("", "-wal"):
        if Path(f"{src}{suffix}").exists():
            shutil.copyfile(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def full_log(db: Path, workdir: Path) -> tuple[LogRecord, ...]:
    """Every record of the log from seq 1: load a copy whose snapshots were deleted."""
    path = copy_db(db, workdir / "full.db")
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("DELETE FROM snapshots")
    store = SQLiteStorage(path)
    try:
        recovered = store.load()
    finally:
        store.close()
    assert recovered.problem is None, recovered.problem
    assert recovered.snapshot is None
    assert [r.seq for r in recovered.records] == list(range(1, len(recovered.records) + 1))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return recovered.records


def replay_all(records: tuple[LogRecord, ...]) -> Router:
    """A fresh router fed every logged call through the public API, at its logged time.

    Written here rather than taken from the service, so a bug in the
    service's own replay cannot hide itself. Each call must give the logged
    events again.
    """
    clock = ManualClock()
    router = Router(clock, seed=0)
    for record in records:
        if isinstance(record.command, Note):
            continue  # the service's own notes (offer deliveries ...): not router calls
        clock.set(max(record.at, clock.now()))
        events = tuple(record.command.apply(router))
        assert events == record.events, f"record {record.seq} ({record.name}) replays differently"

    return router


@dataclass
class Recovery:
    """What a service starting on the database rebuilt."""

    state: dict[str, Any]
    digest: str
    durable_seq: int
    snapshot_seq: int
    seconds: float  # Service.start(): loading the store, restoring and replaying


async def recover(db: Path, workdir: Path) -> Recovery:
    """Start a service on a copy of the database and take its router's state.

    Its clock is held at 0, so no recovered timer fires before the state is
    taken: what is compared is the recovery alone.
    """
    path = copy_db(db, workdir / "recover.db")
    with closing(sqlite3.connect(path)) as connection:
        (snapshot_seq,) = connection.execute(
            "SELECT coalesce(max(seq), 0) FROM snapshots"
        ).fetchone()
    service = Service(path=path, load_entrypoints=False, clock=ManualClock(0.0))
    started = time.perf_counter()
    await service.start()
    try:
        seconds = time.perf_counter() - started
        assert service.recovery_problem is None, service.recovery_problem
        result = Recovery(
            snapshot(service.router),
            state_digest(service.router),
            service.durable_seq,
            snapshot_seq,
            seconds,
        )
    finally:
        await service.stop()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return result


def check_acks(acks: list[Ack], records: tuple[LogRecord, ...]) -> None:
    """Every acknowledged call is in the log, and each task's calls are in its order.

    A call's events carry its time, so a call with events matches one record.
    A call without events (adding a queue, a capacity that changed nothing
    routable) is logged too, and identical ones are interchangeable: each
    takes the first unclaimed identical record after the previous call of its
    task, in the order the acks were printed, never one from before its own
    driver start (an identical call the kill cut short may be durable there).
    """
    by_events: dict[tuple[str, tuple[Event, ...]], list[LogRecord]] = {}
    for record in records:
        by_events.setdefault((record.name, record.events), []).append(record)
    last_seq: dict[tuple[int, int], int] = {}
    used: set[int] = set()
    for ack in acks:
        assert ack.after >= 0, f"op {ack.op} was acknowledged before its driver was ready"
        key = (ack.start, ack.task)
        previous = last_seq.get(key, ack.after)
        same = [
            r
            for r in by_events.get((ack.command.name, ack.events), [])
            if r.command == ack.command and r.seq not in used
        ]
        assert same, f"acknowledged call lost: op {ack.op} (driver start {ack.start}) {ack}"
        later = [r for r in same if r.seq > previous]
        assert later, (
            f"op {ack.op} of task {key} ({ack.command.name}) is logged only at "
            f"{[r.seq for r in same]}, not after the task's previous call at {previous}"
        )
        used.add(later[0].seq)
        last_seq[key] = later[0].seq


def check_contacts(acks: list[Ack], records: tuple[LogRecord, ...], router: Router) -> None:
    """Every acknowledged submit's contact is live, or the log says how it ended."""
    ended = {
        e.contact_id
        for r in records
        for e in r.events
        if isinstance(e, Abandoned | WrapUpEnded | Refused)
    }
    live = set(router.contact_ids)
    for ack in acks:
        if isinstance(ack.command, Submit):
            contact_id = ack.command.contact.id
            assert contact_id in live or contact_id in ended, f"contact {contact_id} vanished"


@dataclass
class Stats:
    """What a run exercised, to show the checks were not vacuous."""

    kills: int = 0
    acks: int = 0
    with_tail_after_snapshot: int = 0
    ticks: int = 0
    records: int = 0
    recovery_seconds: list[float] = field(default_factory=list)


async def verify(
    db: Path, workdir: Path, acks: list[Ack], previous: tuple[LogRecord, ...], stats: Stats
) -> tuple[tuple[LogRecord, ...], str]:
    """Check the database after a kill; return its full log and the expected digest."""
    records = full_log(db, workdir)
    assert records[: len(previous)] == previous, "records durable before were lost or changed"
    check_acks(acks, records)
    expected = replay_all(records)
    check_contacts(acks, records, expected)
    recovered = await recover(db, workdir)
    assert recovered.durable_seq == (records[-1].seq if records else 0)
    assert recovered.state == snapshot(expected), (
        "snapshot + tail recovery differs from full replay"
    )
    digest = state_digest(expected)
    assert recovered.digest == digest
    stats.recovery_seconds.append(recovered.seconds)
    if recovered.snapshot_seq and recovered.durable_seq > recovered.snapshot_seq:
        stats.with_tail_after_snapshot += 1
    stats.ticks = sum(r.name == "tick" for r in records)
    stats.records = len(records)
    return records, digest


# --------------------------------------------------------------------- test


@pytest.mark.parametrize("seed", SEEDS)
async def test_sigkill_loses_nothing_acknowledged(
    anyio_backend: str, seed: int, tmp_path: Path
) -> None:
    """Six kills at seeded moments and a clean last restart, all on one database."""
    rng = random.Random(f"crash:{anyio_backend}:{seed}")
    db = tmp_path / "centre.db"
    acks: list[Ack] = []
    records: tuple[LogRecord, ...] = ()
    digest: str | None = None  # of the state the next start must recover
    stats = Stats()
    with anyio.fail_after(RUN_TIMEOUT):
        for kill in range(KILLS_PER_RUN + 1):
            start = kill * 1_000_000
            final = kill == KILLS_PER_RUN
            with driver(
                db, seed, start, anyio_backend, tmp_path, ops=FINAL_OPS if final else None
            ) as (proc, out, err):
                await wait_ready(proc, out, err)
                if final:
                    deadline = time.monotonic() + START_TIMEOUT
                    while proc.poll() is None:
                        assert time.monotonic() < deadline, "the last driver did not finish"
                        await anyio.sleep(0.01)
                    assert proc.returncode == 0, err.read_text()
                else:
                    # A seeded moment: early ones land in set-up or the first batches.
                    await anyio.sleep(rng.uniform(0.02, 0.6))
                    assert proc.poll() is None, f"the driver died by itself:\n{err.read_text()}"
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
                    assert proc.returncode == -signal.SIGKILL
                    stats.kills += 1
            output = parse_output(out.read_text(), start)
            assert output.done == final, err.read_text()
            # The restart recovered exactly what the full replay after the last kill gave.
            assert output.ready_seq == (records[-1].seq if records else 0)
            if digest is not None:
                assert output.ready_digest == digest, "the restarted driver recovered another state"
            # The router goes on: the restarted driver's calls are acknowledged.
            if final:
                assert len(output.acks) >= FINAL_OPS
            acks += output.acks
            stats.acks += len(output.acks)
            records, digest = await verify(db, tmp_path, acks, records, stats)
    assert stats.kills == KILLS_PER_RUN
    # The checks bit on something: many calls, timers, snapshot-plus-tail recoveries.
    assert stats.acks > FINAL_OPS, stats
    assert stats.ticks > 0, stats
    assert stats.with_tail_after_snapshot > 0, stats


#: Kills of the rich workload's run; one of them lands while the driver starts.
RICH_KILLS = 3


async def test_sigkill_with_runtime_changes_callbacks_flows_and_frequent_snapshots(
    anyio_backend: str, tmp_path: Path
) -> None:
    """The driver's ``--rich`` calls (runtime changes, scheduled callbacks,
    contacts through an IVR flow and a CRM, whose notes are logged too), a
    snapshot every five records so kills land in snapshot writes, one kill
    while a driver starts (recovering, before its ready line), then a clean
    last restart; the checks of the test above after each."""
    rng = random.Random(f"rich:{anyio_backend}")
    db = tmp_path / "centre.db"
    acks: list[Ack] = []
    records: tuple[LogRecord, ...] = ()
    stats = Stats()
    extra = ("--rich", "--snapshot-every", "5")
    with anyio.fail_after(RUN_TIMEOUT):
        for kill in range(RICH_KILLS + 1):
            start = kill * 1_000_000
            final = kill == RICH_KILLS
            ops = FINAL_OPS // 2 if final else None
            with driver(db, 7, start, anyio_backend, tmp_path, ops, extra) as (proc, out, err):
                if kill == 1:
                    # While it starts: mostly before or during recovery (if it
                    # was quicker, after its first calls: checked all the same).
                    await anyio.sleep(rng.uniform(0.0, 0.3))
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
                    stats.kills += 1
                elif final:
                    await wait_ready(proc, out, err)
                    deadline = time.monotonic() + START_TIMEOUT
                    while proc.poll() is None:
                        assert time.monotonic() < deadline, "the last driver did not finish"
                        await anyio.sleep(0.01)
                    assert proc.returncode == 0, err.read_text()
                else:
                    await wait_ready(proc, out, err)
                    await anyio.sleep(rng.uniform(0.3, 0.8))
                    assert proc.poll() is None, f"the driver died by itself:\n{err.read_text()}"
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
                    stats.kills += 1
            assert "recovery problem" not in err.read_text()
            output = parse_output(out.read_text(), start)
            if output.ready_seq is not None:
                assert output.ready_seq == (records[-1].seq if records else 0)
            assert output.done == final, err.read_text()
            acks += output.acks
            stats.acks += len(output.acks)
            records, _digest = await verify(db, tmp_path, acks, records, stats)
    names = {r.name for r in records}
    # The checks bit on what this run is for.
    assert {"update_queue", "update_agent", "schedule_callback", "note"} <= names, names
    assert any(isinstance(r.command, Submit) and r.command.contact.customer_id for r in records)
    assert stats.kills == RICH_KILLS and stats.acks > FINAL_OPS // 2, stats
