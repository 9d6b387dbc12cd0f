"""PostgreSQL beside SQLite: durable appends with group commit, and recovery time.

    .venv/bin/python benchmarks/bench_postgres.py [--records N] [--rounds R]
        [--seconds S] [--dir DIR] [--kills K] [--ttl T] [--tables 1,2,3]
        [--json PATH]

Starts a private PostgreSQL server (Debian's ``postgresql`` package; see
:mod:`ccroute_postgres.testing`) on 127.0.0.1 with ``fsync`` and
``synchronous_commit`` on, its data directory under the system's temporary
directory, and SQLite files under ``--dir`` (default the same), so both
engines sync to the same disk. Every figure is the median of ``--rounds``
rounds (default 3), rounds interleaved (round 1 of every case, then round
2 ...), each round on a fresh log (a new partition, a new SQLite file).

Table 1, durable appends: records as the service logs them (a ``submit``
that caused a ``Queued`` and an ``Offered`` event, offer reason included:
:func:`ccroute.testing_storage.record`), already encoded as the service
hands them over (:class:`ccroute.codec.EncodedRecords`), appended in batches
of 1, 10, 100 and 1000, one call per batch: one commit, the group commit.
PostgreSQL: :class:`~ccroute_postgres.PostgresStorage` under a lease (the
fencing check is in every append) on asyncio; SQLite:
:class:`~ccroute.SQLiteStorage` with ``synchronous="FULL"`` (every commit
synced, as PostgreSQL's are). Each round appends for about ``--seconds``
seconds (default 1) of time inside ``append``. Figures: records and events
per second.

Table 2, recovery: a partition of ``--records`` such records (default
1,000,000, two events each; built untimed in batches of 5000, the same
batches in an SQLite log beside it), then ``load()`` timed on a new store
of each engine: (a) the whole log replayed from its first
record (no snapshot: every record read, checked and decoded), (b) a
snapshot after all but the last 1000 records plus that tail, as a leader
that snapshots recovers. The snapshot is 1 MB of JSON-like bytes, the size
of a router with a few thousand contacts. Figures: seconds. The router's
own replay of the decoded records is not included (see bench_service.py).

Table 3, takeover: ``--kills`` (default 20) times, the leader of a
partition is killed with ``SIGKILL`` at a random moment while three node
processes (``python -m ccroute.testing_cluster node``, the harness of
:mod:`ccroute.testing_cluster`) route seeded calls on two partitions, and a
fresh node replaces it; the figure is the time from the kill to the new
leader's first acknowledged call, with a lease of ``--ttl`` seconds (default
1.0; a takeover waits for the lease to lapse by the database's clock). The
harness then checks every acknowledged call is in the log once and the log
replays. Figures: median and worst seconds, and the new leaders' own start
time (lease granted to service running, from the warm copy). ``--kills 0``
skips it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from ccroute_postgres import PostgresEngine
from ccroute_postgres.testing import temporary_server

from ccroute.codec import EncodedRecords
from ccroute.storage_sqlite import SQLiteStorage
from ccroute.testing_storage import record

BATCHES = (1, 10, 100, 1000)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument(
        "--tables",
        type=lambda text: {int(part) for part in text.split(",")},
        default={1, 2, 3},
        help="which tables to measure, e.g. 1,3 (default all)",
    )
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def encoded(first: int, count: int) -> EncodedRecords:
    batch = EncodedRecords()
    for seq in range(first, first + count):
        batch.add(record(seq))
    return batch


async def timed_appends(
    append: Callable[[EncodedRecords], Awaitable[None]], batch_size: int, seconds: float
) -> float:
    """Records per second appended in batches of ``batch_size`` for ``seconds`` of append time."""
    # Encoded before timing: the service encodes each record as its call runs.
    batches = [
        encoded(1 + i * batch_size, batch_size) for i in range(max(3, int(2000 / batch_size)))
    ]
    spent = 0.0
    done = 0
    gc.collect()
    gc.disable()
    try:
        for batch in batches:
            started = time.perf_counter()
            await append(batch)
            spent += time.perf_counter() - started
            done += len(batch)
            if spent >= seconds:
                break
    finally:
        gc.enable()
    return done / spent


async def postgres_round(
    engine: PostgresEngine, batch_size: int, seconds: float, name: str
) -> float:
    token = await engine.acquire(name, "bench", 600)
    assert token is not None
    store = engine.storage(name, token)
    await store.load()
    try:
        return await timed_appends(store.append, batch_size, seconds)
    finally:
        await store.close()


async def sqlite_round(directory: Path, batch_size: int, seconds: float, name: str) -> float:
    store = SQLiteStorage(directory / f"{name}.db", synchronous="FULL")
    store.load()

    async def append(batch: EncodedRecords) -> None:
        # As the service runs a synchronous store: in a worker thread.
        await asyncio.to_thread(store.append, batch)

    try:
        return await timed_appends(append, batch_size, seconds)
    finally:
        store.close()


async def build_log(
    engine: PostgresEngine, partition: str, count: int, sqlite: SQLiteStorage
) -> None:
    """The same records in both logs, each batch encoded once."""
    token = await engine.acquire(partition, "builder", 3600)
    assert token is not None
    store = engine.storage(partition, token)
    await store.load()
    sqlite.load()
    seq = 1
    while seq <= count:
        size = min(5000, count - seq + 1)
        batch = encoded(seq, size)
        await store.append(batch)
        sqlite.append(batch)
        seq += size
    await store.close()
    await engine.release(partition, "builder", token)


def timed_sqlite_load(path: Path) -> tuple[float, int]:
    store = SQLiteStorage(path, synchronous="FULL", retention=None)
    try:
        gc.collect()
        started = time.perf_counter()
        recovered = store.load()
        return time.perf_counter() - started, len(recovered.records)
    finally:
        store.close()


async def timed_load(engine: PostgresEngine, partition: str) -> tuple[float, int]:
    store = engine.storage(partition, None)
    gc.collect()
    started = time.perf_counter()
    recovered = await store.load()
    elapsed = time.perf_counter() - started
    await store.close()
    return elapsed, len(recovered.records)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "appends": {},
        "recovery": {},
    }
    with temporary_server() as server:
        engine = PostgresEngine(server.dsn, retention=None)
        try:
            if 1 in args.tables:
                results["appends"] = await table_appends(engine, args)
            if 2 in args.tables and args.records:
                results["recovery"] = await table_recovery(engine, args)
        finally:
            await engine.close()
        if 3 in args.tables and args.kills:
            results["takeover"] = await takeover(server.dsn, args.kills, args.ttl)
    return results


async def table_appends(engine: PostgresEngine, args: argparse.Namespace) -> dict[int, Any]:
    samples: dict[tuple[str, int], list[float]] = {}
    for round_ in range(args.rounds):
        for batch_size in BATCHES:
            name = f"r{round_}-b{batch_size}"
            pg = await postgres_round(engine, batch_size, args.seconds, name)
            with tempfile.TemporaryDirectory(dir=args.dir) as directory:
                lite = await sqlite_round(Path(directory), batch_size, args.seconds, name)
            samples.setdefault(("postgres", batch_size), []).append(pg)
            samples.setdefault(("sqlite", batch_size), []).append(lite)
    print("Table 1: durable appends (records/s; events/s = 2 x records/s), median of", args.rounds)
    print(f"{'batch':>6} {'PostgreSQL':>12} {'SQLite FULL':>12} {'ratio':>6}")
    figures = {}
    for batch_size in BATCHES:
        pg = statistics.median(samples["postgres", batch_size])
        lite = statistics.median(samples["sqlite", batch_size])
        figures[batch_size] = {"postgres": pg, "sqlite": lite}
        print(f"{batch_size:>6} {pg:>12,.0f} {lite:>12,.0f} {pg / lite:>6.2f}")
    return figures


async def table_recovery(engine: PostgresEngine, args: argparse.Namespace) -> dict[str, Any]:
    partition = "recovery"
    tail = min(1000, args.records)
    state = (b'{"contacts": [' + b'{"id": "c", "queue": "sales"}, ' * 34_000)[: 1 << 20]
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        path = Path(directory) / "recovery.db"
        # Built without syncs (as bench_storage.py does); loads are timed as in use.
        sqlite = SQLiteStorage(path, synchronous="OFF", retention=None)
        started = time.perf_counter()
        await build_log(engine, partition, args.records, sqlite)
        sqlite.close()
        print(f"\nbuilt {args.records:,} records twice in {time.perf_counter() - started:.1f} s")
        full: dict[str, list[float]] = {"postgres": [], "sqlite": []}
        for _ in range(args.rounds):
            elapsed, count = await timed_load(engine, partition)
            assert count == args.records
            full["postgres"].append(elapsed)
            elapsed, count = timed_sqlite_load(path)
            assert count == args.records
            full["sqlite"].append(elapsed)
        # A snapshot after all but the last 1000 records, as a leader keeps one.
        token = await engine.acquire(partition, "snapshotter", 3600)
        assert token is not None
        store = engine.storage(partition, token)
        await store.load()
        await store.snapshot(args.records - tail, state)
        await store.close()
        sqlite = SQLiteStorage(path, synchronous="FULL", retention=None)
        sqlite.load()
        sqlite.snapshot(args.records - tail, state)
        sqlite.close()
        snap: dict[str, list[float]] = {"postgres": [], "sqlite": []}
        for _ in range(args.rounds):
            elapsed, count = await timed_load(engine, partition)
            assert count == tail
            snap["postgres"].append(elapsed)
            elapsed, count = timed_sqlite_load(path)
            assert count == tail
            snap["sqlite"].append(elapsed)
    figures = {
        "records": args.records,
        "tail": tail,
        **{f"full_replay_s_{k}": statistics.median(v) for k, v in full.items()},
        **{f"snapshot_and_tail_s_{k}": statistics.median(v) for k, v in snap.items()},
    }
    print(
        f"Table 2: recovery of {args.records:,} records ({2 * args.records:,} events), "
        f"load() seconds, median of {args.rounds}"
    )
    print(f"{'':36} {'PostgreSQL':>10} {'SQLite':>10}")
    print(
        f"{'full replay from record 1':36} {figures['full_replay_s_postgres']:>10.2f} "
        f"{figures['full_replay_s_sqlite']:>10.2f}"
    )
    print(
        f"{f'1 MB snapshot + {tail} records tail':36} "
        f"{figures['snapshot_and_tail_s_postgres']:>10.3f} {figures['snapshot_and_tail_s_sqlite']:>10.3f}"
    )
    return figures


async def takeover(dsn: str, kills: int, ttl: float) -> dict[str, Any]:
    from ccroute.testing_cluster import run_failover

    started = time.perf_counter()
    run = await run_failover(
        "ccroute_postgres:PostgresEngine",
        {"dsn": dsn, "retention": None},
        partitions=("takeover-east", "takeover-west"),
        nodes=3,
        kills=kills,
        pause=False,
        ttl=ttl,
        seed=2026,
        load_seconds=0.5,
    )
    figures = {
        "kills": len(run.takeovers),
        "ttl": ttl,
        "median_s": statistics.median(run.takeovers),
        "worst_s": max(run.takeovers),
        "lead_median_s": statistics.median(run.lead_seconds),
        "warm": run.warm,
        "leads": len(run.lead_seconds),
        "acks": run.report.acks,
    }
    print(
        f"Table 3: takeover after SIGKILL, {len(run.takeovers)} kills, lease {ttl} s "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(
        f"  kill to the new leader's first ack: median {figures['median_s']:.3f} s, worst {figures['worst_s']:.3f} s"
    )
    print(
        f"  new leader's start (lease granted to service running): median "
        f"{figures['lead_median_s'] * 1000:.1f} ms; {run.warm} of {len(run.lead_seconds)} from the warm copy"
    )
    print(
        f"  checked: {run.report.acks} acknowledged calls in the logs, {run.report.records} records"
    )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
