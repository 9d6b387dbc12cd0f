"""The durable service: throughput with group commit, recovery time, and crash kills.

    .venv/bin/python benchmarks/bench_service.py [--quick] [--rounds R]
        [--seconds S] [--clients 1,8,64,256] [--events N] [--kills N]
        [--backend asyncio|trio] [--dir DIR] [--json PATH]

Everything is local: SQLite files in a fresh temporary directory (under
``--dir``, default the system's: say where the disk is), WAL journal mode,
``synchronous=FULL`` unless said otherwise. Figures are medians of
``--rounds`` rounds (default 3), each on a fresh database; timed sections use
``time.perf_counter``.

Table 1, raw sqlite3, for reference: rows of 100 random bytes into a table
shaped as the store's log, committing 1, 10 or 100 rows per transaction
(``BEGIN IMMEDIATE``, ``executemany``, ``COMMIT``) for about ``--seconds``
seconds. Figure: rows per second. A commit costs one sync, so rows per
second at 1 row per transaction is the disk's sync rate.

Table 2, the service: :class:`~ccroute.Service` on
:class:`~ccroute.SQLiteStorage` (``FULL``, group commit, a snapshot every
10,000 records as by default) with K concurrent client tasks for about
``--seconds`` seconds. Each client takes contacts through their life, one
call at a time, each call returning once durable: ``submit`` (events
``Queued``, ``Offered``), ``accept`` (``Accepted``) and ``complete``
(``Completed``, ``WrapUpEnded``), on a queue of 64 agents with room for 320
contacts, so every contact is offered at once. A channel adapter that
accepts every delivery in the event loop stands in for a real one. The
store is wrapped to count appends: *records/s* includes the service's own
note records (offer deliveries), *batch* is records per ``append`` (one
transaction, one sync: the group commit). *events/s* counts the router
events the calls returned. *CPU us/call* is the process's CPU time
(``time.process_time``, every thread: the event loop, the writer, SQLite)
per call, and *events/CPU s* the events per second of it: on a shared
machine, where the wall-clock rates are mostly the share of a core the run
got, these are the figures that compare.

Table 3, recovery: a log of ``--events`` router events (default 1,000,000)
built in-process from a :class:`~ccroute.Router` driven through the same
lifecycle at ~1,000 live contacts and 200 agents, appended in batches of
10,000 records with a snapshot after each batch, as the service takes them,
and a worst-case tail of 9,999 records after the last snapshot. Timed:
``Service(path=...)`` start until it takes calls (open the file, load the
snapshot and the tail, restore, replay), and the same from a copy whose
snapshots were deleted (full replay of every record). The operating system's
page cache is warm. The recovered states of both are checked equal.

Table 4, kills (``--kills N``, off by default): ``tests/crash_driver.py`` is
started, killed with ``SIGKILL`` at a seeded random moment and checked as
``tests/test_crash.py`` checks it (every acknowledged call in the log, full
replay equal to snapshot-plus-tail recovery, the restarted driver recovers
the same state), N times, in runs of 10 kills on one database each ending
with a clean restart. Figures: pass/fail counts and the recovery time
(``Service.start`` on the killed database).

The full run takes a few minutes; ``--quick`` well under one. Run nothing
else meanwhile: the machine's cores are shared by the event loop, the
writer thread and SQLite.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import types
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import anyio

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))

import test_crash  # noqa: E402  (the crash test's checks, reused as they are)
from bench_storage import raw_round  # noqa: E402  (the same reference measurement)
from helpers import snapshot  # noqa: E402

import ccroute  # noqa: E402
from ccroute import (  # noqa: E402
    Agent,
    Contact,
    LogRecord,
    ManualClock,
    Offered,
    Presence,
    QueueConfig,
    Router,
    Service,
    SQLiteStorage,
)
from ccroute.commands import COMMANDS  # noqa: E402
from ccroute.events import Event  # noqa: E402
from ccroute.hookspecs import hookimpl  # noqa: E402
from ccroute.storage import Recovered  # noqa: E402

RAW_ROWS_PER_COMMIT = (1, 10, 100)
SNAPSHOT_EVERY = 10_000  # the service's default
SERVICE_AGENTS = 64
KILLS_PER_DB = 10


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ------------------------------------------------------------ 1: raw sqlite3


def raw_sqlite(directory: Path, rows_per_commit: int, seconds: float) -> float:
    """Rows per second committing ``rows_per_commit`` 100-byte rows per transaction,
    measured as bench_storage.py measures it (a fresh database each round)."""
    return raw_round(directory, rows_per_commit, seconds, f"raw-{rows_per_commit}-{next(_RAW_DBS)}")


_RAW_DBS = itertools.count()


# ------------------------------------------------------------- 2: the service


class CountingStorage:
    """A store that counts what passes through to the real one (the group commits)."""

    def __init__(self, inner: SQLiteStorage) -> None:
        self.inner = inner
        self.appends = 0
        self.records = 0
        self.snapshots = 0

    def load(self) -> Recovered:
        return self.inner.load()

    def append(self, records: Sequence[LogRecord]) -> None:
        self.inner.append(records)
        self.appends += 1
        self.records += len(records)

    def snapshot(self, seq: int, state: bytes) -> None:
        self.inner.snapshot(seq, state)
        self.snapshots += 1

    def close(self) -> None:
        self.inner.close()


async def _deliver_offer(delivery: Any) -> bool:
    return True


#: A channel adapter that takes every offer at once, in the event loop.
NULL_ADAPTER = types.SimpleNamespace(
    __name__="bench-null-adapter", ccroute_deliver_offer=hookimpl(_deliver_offer)
)


async def service_round(directory: Path, clients: int, seconds: float) -> dict[str, float]:
    """Drive a fresh durable service with ``clients`` concurrent tasks; return rates."""
    path = directory / f"service-{clients}.db"
    store = CountingStorage(SQLiteStorage(path, synchronous="FULL"))
    service = Service(storage=store, load_entrypoints=False, plugins=[NULL_ADAPTER])
    calls = events = 0
    async with service:
        await service.add_queue(QueueConfig("q", offer_timeout=None, wrap_up=0.0))
        for i in range(SERVICE_AGENTS):
            await service.add_agent(Agent(f"a{i}", queues=("q",)), Presence.AVAILABLE)
        await service.flush()
        appends0, records0 = store.appends, store.records
        cpu_started = time.process_time()  # every thread of the process: the writer's too
        started = time.perf_counter()
        deadline = started + seconds

        async def client(k: int) -> None:
            nonlocal calls, events
            n = 0
            while time.perf_counter() < deadline:
                contact_id = f"k{k}-{n}"
                n += 1
                got = await service.submit(Contact(contact_id, "task", "q"))
                agent = next(
                    (
                        e.agent_id
                        for e in got
                        if isinstance(e, Offered) and e.contact_id == contact_id
                    ),
                    None,
                )
                if agent is None:  # no room: not expected with these numbers
                    got += await service.abandon(contact_id)
                    calls += 2
                else:
                    got += await service.accept(contact_id, agent)
                    got += await service.complete(contact_id)
                    calls += 3
                events += len(got)

        async with anyio.create_task_group() as tg:
            for k in range(clients):
                tg.start_soon(client, k)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        appends, records = store.appends - appends0, store.records - records0
    store.close()  # the application's store: the service leaves it open
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return {
        "calls_per_s": calls / elapsed,
        "records_per_s": records / elapsed,
        "events_per_s": events / elapsed,
        "commits_per_s": appends / elapsed,
        "mean_batch": records / appends if appends else 0.0,
        "mean_latency_ms": 1000 * elapsed * clients / calls if calls else 0.0,
        "cpu_us_per_call": 1e6 * cpu / calls if calls else 0.0,
        "events_per_cpu_s": events / cpu if cpu else 0.0,
    }


# ------------------------------------------------------------- 3: recovery


def build_log(path: Path, target_events: int) -> dict[str, Any]:
    """Write a log of at least ``target_events`` router events, as the service would.

    Built with ``synchronous=OFF`` (the file is the same; only the build is
    faster); snapshots after every 10,000 records; a tail of 9,999 records.
    """
    clock = ManualClock(1_000_000.0)
    router = Router(clock, seed=0)
    store = SQLiteStorage(path, synchronous="OFF")
    store.load()
    seq = events = 0
    pending: list[LogRecord] = []
    snapshot_bytes = 0

    def call(command: str, *args: Any) -> list[Event]:
        nonlocal seq, events, snapshot_bytes
        logged = COMMANDS[command](*args)
        got = logged.apply(router)
        # As the service does: every call is logged (this workload never ticks).
        seq += 1
        events += len(got)
        pending.append(LogRecord(seq, clock.now(), logged, tuple(got)))
        if len(pending) == SNAPSHOT_EVERY:
            store.append(pending)
            pending.clear()
            data = router.snapshot()
            snapshot_bytes = len(data)
            store.snapshot(seq, data)
        return got

    queues = ("sales", "support", "billing")
    call("add_queues", tuple(QueueConfig(q, offer_timeout=None, wrap_up=0.0) for q in queues))
    for i in range(200):
        agent = Agent(f"a{i}", queues=(queues[i % 3], queues[(i + 1) % 3]))
        call("add_agent", agent, Presence.AVAILABLE)
    rng = random.Random(1)
    offered: deque[tuple[str, str]] = deque()
    in_service: deque[str] = deque()
    n = 0
    # ~1,000 live contacts: 200 agents busy (offered or in service), the rest waiting.
    while events < target_events or seq % SNAPSHOT_EVERY != SNAPSHOT_EVERY - 1:
        clock.advance(0.05)
        choice = rng.random()
        live = len(router.contact_ids)
        if (choice < 0.4 and live < 1_000) or (not offered and not in_service):
            n += 1
            contact = Contact(f"c{n}", rng.choice(("voice", "chat", "email")), rng.choice(queues))
            got = call("submit", contact)
        elif choice < 0.7 and offered:
            contact_id, agent_id = offered.popleft()
            got = call("accept", contact_id, agent_id)
            in_service.append(contact_id)
        elif in_service:
            got = call("complete", in_service.popleft())
        else:
            continue
        offered.extend((e.contact_id, e.agent_id) for e in got if isinstance(e, Offered))
    store.append(pending)
    tail = len(pending)
    store.close()
    return {
        "records": seq,
        "events": events,
        "tail_records": tail,
        "live_contacts": len(router.contact_ids),
        "snapshot_bytes": snapshot_bytes,
        "file_bytes": path.stat().st_size,
    }


async def time_start(path: Path) -> tuple[float, dict[str, Any], int]:
    """Seconds for ``Service(path=...)`` to start; the recovered state and its last seq."""
    service = Service(path=path, load_entrypoints=False)
    started = time.perf_counter()
    await service.start()
    try:
        seconds = time.perf_counter() - started
        return seconds, snapshot(service.router), service.durable_seq
    finally:
        await service.stop()


def time_load(path: Path) -> float:
    """Seconds to open the store and load the latest snapshot and the tail (no replay)."""
    started = time.perf_counter()
    store = SQLiteStorage(path)
    try:
        store.load()
    finally:
        store.close()
    return time.perf_counter() - started


def reset_snapshots(path: Path, keep_upto: int) -> None:
    """Drop snapshots after record ``keep_upto`` (the one each service stop adds)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("DELETE FROM snapshots WHERE seq > ?", (keep_upto,))


async def recovery(directory: Path, target_events: int, rounds: int) -> dict[str, Any]:
    """Build the log, then time recovery with snapshots and by full replay."""
    path = directory / "recovery.db"
    started = time.perf_counter()
    built = build_log(path, target_events)
    built["build_seconds"] = time.perf_counter() - started
    full = directory / "full-replay.db"
    shutil.copyfile(path, full)
    last_snapshot = built["records"] - built["tail_records"]
    with_snapshot, load_only, without = [], [], []
    state_snap: dict[str, Any] | None = None
    state_full: dict[str, Any] | None = None
    for _ in range(rounds):
        reset_snapshots(path, last_snapshot)
        load_only.append(time_load(path))
        seconds, state_snap, seq = await time_start(path)
        assert seq == built["records"]
        with_snapshot.append(seconds)
        reset_snapshots(full, 0)
        seconds, state_full, seq = await time_start(full)
        assert seq == built["records"]
        without.append(seconds)
    assert state_snap == state_full, "snapshot + tail recovery differs from full replay"
    for p in (path, full):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{p}{suffix}").unlink(missing_ok=True)
    return {
        **built,
        "load_seconds": median(load_only),
        "start_with_snapshot_seconds": median(with_snapshot),
        "start_full_replay_seconds": median(without),
        "rounds": {"load": load_only, "with_snapshot": with_snapshot, "full_replay": without},
    }


# ---------------------------------------------------------------- 4: kills


async def kills(directory: Path, count: int, backend: str) -> dict[str, Any]:
    """Kill the crash driver ``count`` times, checking each kill as the crash test does."""
    passed = failed = 0
    failures: list[str] = []
    recovery_seconds: list[float] = []
    ready_seconds: list[float] = []
    acks_total = 0
    rng = random.Random(f"bench-kills:{backend}")
    run = 0
    while passed + failed < count:
        run += 1
        workdir = directory / f"kills-{run}"
        workdir.mkdir()
        db = workdir / "centre.db"
        acks: list[test_crash.Ack] = []
        records: tuple[LogRecord, ...] = ()
        digest: str | None = None
        stats = test_crash.Stats()
        in_run = min(KILLS_PER_DB, count - passed - failed)
        try:
            for kill in range(in_run + 1):
                final = kill == in_run
                start = kill * 1_000_000
                ops = 50 if final else None
                with test_crash.driver(db, run, start, backend, workdir, ops) as (proc, out, err):
                    launched = time.perf_counter()
                    await test_crash.wait_ready(proc, out, err)
                    ready_seconds.append(time.perf_counter() - launched)
                    if final:
                        while proc.poll() is None:
                            await anyio.sleep(0.01)
                        assert proc.returncode == 0, err.read_text()
                    else:
                        await anyio.sleep(rng.uniform(0.02, 0.6))
                        assert proc.poll() is None, err.read_text()
                        os.kill(proc.pid, signal.SIGKILL)
                        proc.wait(timeout=10)
                output = test_crash.parse_output(out.read_text(), start)
                assert output.ready_seq == (records[-1].seq if records else 0)
                assert digest is None or output.ready_digest == digest, (
                    "restart recovered another state"
                )
                acks += output.acks
                acks_total += len(output.acks)
                records, digest = await test_crash.verify(db, workdir, acks, records, stats)
                if not final:
                    passed += 1
        except AssertionError as error:
            # This kill failed; its database is suspect, so the next run starts afresh.
            failed += 1
            failures.append(f"run {run}: {str(error)[:300]}")
        recovery_seconds += stats.recovery_seconds
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "kills": passed + failed,
        "passed": passed,
        "failed": failed,
        "failures": failures,
        "acks": acks_total,
        "recovery_mean_seconds": statistics.fmean(recovery_seconds) if recovery_seconds else None,
        "recovery_max_seconds": max(recovery_seconds, default=None),
        "driver_ready_mean_seconds": statistics.fmean(ready_seconds) if ready_seconds else None,
    }


# ------------------------------------------------------------------ report


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, right-aligned numbers."""
    cells = [list(header)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def rounds_of(fn: Callable[[], Any], rounds: int) -> list[Any]:
    return [fn() for _ in range(rounds)]


async def table_raw(directory: Path, args: argparse.Namespace) -> dict[int, float]:
    """Table 1: raw sqlite3 rows per second by rows per transaction."""
    raw: dict[int, float] = {}
    for n in RAW_ROWS_PER_COMMIT:
        raw[n] = median(rounds_of(lambda n=n: raw_sqlite(directory, n, args.seconds), args.rounds))
    print(
        table(
            "Table 1: raw sqlite3, WAL, synchronous=FULL, 100-byte rows",
            ["rows/commit", "rows/s", "commits/s"],
            [[n, f"{raw[n]:,.0f}", f"{raw[n] / n:,.0f}"] for n in RAW_ROWS_PER_COMMIT],
        ),
        end="\n\n",
        flush=True,
    )
    return raw


async def table_service(directory: Path, args: argparse.Namespace) -> dict[int, dict[str, float]]:
    """Table 2: the service's throughput by number of concurrent clients."""
    service: dict[int, dict[str, float]] = {}
    for k in args.clients:
        got = [await service_round(directory, k, args.seconds) for _ in range(args.rounds)]
        service[k] = {key: median([g[key] for g in got]) for key in got[0]}
    print(
        table(
            "Table 2: Service on SQLite (FULL, group commit), submit/accept/complete clients",
            [
                "clients",
                "calls/s",
                "records/s",
                "events/s",
                "commits/s",
                "batch",
                "ms/call",
                "CPU us/call",
                "events/CPU s",
            ],
            [
                [
                    k,
                    f"{s['calls_per_s']:,.0f}",
                    f"{s['records_per_s']:,.0f}",
                    f"{s['events_per_s']:,.0f}",
                    f"{s['commits_per_s']:,.0f}",
                    f"{s['mean_batch']:.1f}",
                    f"{s['mean_latency_ms']:.2f}",
                    f"{s['cpu_us_per_call']:.1f}",
                    f"{s['events_per_cpu_s']:,.0f}",
                ]
                for k, s in service.items()
            ],
        ),
        end="\n\n",
        flush=True,
    )
    return service


async def table_recovery(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Table 3: recovery time of a large log, with snapshots and by full replay."""
    rec = await recovery(directory, args.events, args.rounds)
    print(
        table(
            f"Table 3: recovery of a log of {rec['events']:,} events "
            f"({rec['records']:,} records, {rec['file_bytes'] / 1e6:.0f} MB; "
            f"snapshot {rec['snapshot_bytes'] / 1e3:.0f} kB, tail {rec['tail_records']:,} "
            f"records, {rec['live_contacts']} live contacts; built in {rec['build_seconds']:.0f} s)",
            ["what", "seconds"],
            [
                ["store open + load (snapshot + tail)", f"{rec['load_seconds']:.3f}"],
                ["Service start, snapshot + tail", f"{rec['start_with_snapshot_seconds']:.3f}"],
                ["Service start, full replay", f"{rec['start_full_replay_seconds']:.3f}"],
            ],
        ),
        end="\n\n",
        flush=True,
    )
    return rec


async def table_kills(directory: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Table 4: the SIGKILL crash loop."""
    started = time.perf_counter()
    k = await kills(directory, args.kills, args.backend)
    k["seconds"] = time.perf_counter() - started
    mean = k["recovery_mean_seconds"]
    print(
        table(
            f"Table 4: SIGKILL crash loop ({args.backend}, runs of {KILLS_PER_DB} kills)",
            ["kills", "passed", "failed", "acks", "recovery mean s", "max s", "took s"],
            [
                [
                    k["kills"],
                    k["passed"],
                    k["failed"],
                    f"{k['acks']:,}",
                    "-" if mean is None else f"{mean:.4f}",
                    "-" if mean is None else f"{k['recovery_max_seconds']:.4f}",
                    f"{k['seconds']:.0f}",
                ]
            ],
        ),
        flush=True,
    )
    for failure in k["failures"]:
        print("  FAILED", failure)
    return k


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    """Run the chosen tables in a fresh temporary directory, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="bench-service-", dir=args.dir))
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ccroute_queue": ccroute.IMPLEMENTATION,
        "backend": args.backend,
        "directory": str(directory),
        "rounds": args.rounds,
        "seconds": args.seconds,
    }
    try:
        if 1 in args.tables:
            result["raw_sqlite_rows_per_s"] = await table_raw(directory, args)
        if 2 in args.tables:
            result["service"] = await table_service(directory, args)
        if 3 in args.tables:
            result["recovery"] = await table_recovery(directory, args)
        if 4 in args.tables and args.kills:
            result["kills"] = await table_kills(directory, args)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: smaller and fewer")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="per timed case")
    parser.add_argument("--clients", default=None, help="comma-separated, e.g. 1,8,64,256")
    parser.add_argument(
        "--events", type=int, default=None, help="router events in the recovery log"
    )
    parser.add_argument("--kills", type=int, default=0, help="SIGKILL crash loops to run")
    parser.add_argument(
        "--tables", default="1,2,3,4", help="which tables to run, e.g. 2,3 (4 needs --kills)"
    )
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--dir", default=None, help="where the temporary databases go")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    # The crash checks restart services whose open offers reach no adapter:
    # the service warns about each, which here is noise.
    logging.getLogger("ccroute").setLevel(logging.ERROR)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (0.3 if args.quick else 2.0)
    args.clients = [
        int(c) for c in (args.clients or ("1,8,64" if args.quick else "1,8,64,256")).split(",")
    ]
    args.tables = {int(t) for t in args.tables.split(",")}
    args.events = args.events or (50_000 if args.quick else 1_000_000)
    started = time.perf_counter()
    result = anyio.run(main_async, args, backend=args.backend)
    result["total_seconds"] = time.perf_counter() - started
    print(f"\ntotal {result['total_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
