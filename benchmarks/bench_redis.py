"""ccroute on Redis beside SQLite: durable appends, the service's group commit,
takeover after a SIGKILL, and recovery of a long log.

    .venv/bin/python benchmarks/bench_redis.py [--seconds S] [--rounds R]
        [--kills K] [--ttl T] [--events N] [--json PATH] [--quick]

Needs Debian's ``redis-server`` (a private server is started on a free
loopback port in a temporary directory, ``appendonly yes``, ``appendfsync
always``: every write on disk before Redis answers) and the ``ccroute-redis``
plugin. SQLite runs in the same process on the same disk, ``synchronous=FULL``
(every commit synced), so the two compare on one machine state. Rounds are
interleaved (round 1 of every case, then round 2 ...), figures are medians.

Table 1, ``append``: records as the service logs them (a ``submit`` of a
contact that caused a ``Queued`` and an ``Offered`` event), appended in
batches of 1, 10, 100 and 1000 records, one call per batch: one commit for
SQLite, one Lua script (one round trip, one fsync of the AOF) for Redis. Each
round appends for about ``--seconds`` seconds. Figures: events per second.

Table 2, the service: 64 tasks submit email contacts to a queue without
agents (each call logs a record with one event) through one
:class:`~ccroute.Service`, for ``--seconds`` seconds; the service batches the
records of concurrent calls into one append (group commit). Figures:
acknowledged calls (durable events) per second, and records per append.

Table 3, takeover: ``--kills`` times (default 20), a leader process takes
the partition's lease (``--ttl`` seconds, renewed every third of it) and
appends a record every 5 ms; after a random 0.2 to 0.8 s it is killed with
SIGKILL, and a standby in this process, trying ``acquire`` every 10 ms, takes
the lease and loads the partition. Figure: seconds from the kill to a loaded
store that accepts appends (median and worst); it is bounded by the ttl,
which is what an operator tunes.

Table 3b, takeover of a routing node: the same with
:class:`ccroute.cluster.Node` processes doing real calls (the failover
harness of :mod:`ccroute.testing_cluster`: 3 nodes, ``--kills`` SIGKILLs of
the leader at random under load, then a SIGSTOP, every acknowledged call
checked against the log). Figure: seconds from the kill to the new leader's
first acknowledged call (median and worst), and how many leads started from
a warm copy.

Table 4, recovery: a partition of ``--events`` events (default 1,000,000:
500,000 submit records of two events each), built untimed, loaded by a
fresh store (every record read, checksummed and decoded through the
constructors), beside an SQLite log of the same records. Figures: seconds
and events per second.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from ccroute import Contact, QueueConfig, Service, SQLiteStorage
from ccroute.storage import LogRecord
from ccroute.testing_storage import record

try:
    from ccroute_redis import RedisEngine, SingleNodeStorage
    from ccroute_redis.testing import temporary_server
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("bench_redis needs the plugin: pip install -e plugins/ccroute-redis")

PARTITION = "bench"


def _median(values: list[float]) -> float:
    return statistics.median(values)


# -- table 1: append ------------------------------------------------------------


def _bench_append(
    url: str, directory: Path, seconds: float, rounds: int, batches: list[int]
) -> dict[str, Any]:
    """Events per second appended, per (store, batch size)."""
    results: dict[str, list[float]] = {}
    template = [record(seq) for seq in range(1, 1001)]
    for round_ in range(rounds):
        for batch in batches:
            # SQLite, FULL
            path = directory / f"append-{round_}-{batch}.db"
            store = SQLiteStorage(path, synchronous="FULL", retention=None)
            store.load()
            seq, spent, done = 1, 0.0, 0
            while spent < seconds:
                recs = [_renumber(template[i % 1000], seq + i) for i in range(batch)]
                started = time.perf_counter()
                store.append(recs)
                spent += time.perf_counter() - started
                seq += batch
                done += batch
            store.close()
            results.setdefault(f"sqlite/{batch}", []).append(2 * done / spent)

            # Redis, appendfsync always
            async def redis_round(batch: int = batch, round_: int = round_) -> float:
                engine = RedisEngine(url, prefix=f"a{round_}b{batch}", retention=None)
                try:
                    token = await engine.acquire(PARTITION, "bench", 600)
                    assert token is not None
                    store = engine.storage(PARTITION, token)
                    await store.load()
                    seq, spent, done = 1, 0.0, 0
                    while spent < seconds:
                        recs = [_renumber(template[i % 1000], seq + i) for i in range(batch)]
                        started = time.perf_counter()
                        await store.append(recs)
                        spent += time.perf_counter() - started
                        seq += batch
                        done += batch
                    return 2 * done / spent
                finally:
                    await engine.close()

            results.setdefault(f"redis/{batch}", []).append(anyio.run(redis_round))
    return {key: _median(values) for key, values in results.items()}


def _renumber(one: LogRecord, seq: int) -> LogRecord:
    return LogRecord(seq, one.at + seq, one.command, tuple(e for e in one.events))


# -- table 2: the service ---------------------------------------------------------


async def _service_rate(storage: Any, seconds: float, tasks: int = 64) -> tuple[float, float]:
    """(acknowledged calls per second, records per append) of one service run."""
    async with Service(storage=storage, load_entrypoints=False, snapshot_every=10**9) as service:
        await service.add_queue(QueueConfig("support", wrap_up=0))
        start_seq = service.durable_seq
        appends_before = _append_count(storage)
        done = 0
        deadline = time.perf_counter() + seconds

        async def submitter(worker: int) -> None:
            nonlocal done
            n = 0
            while time.perf_counter() < deadline:
                await service.submit(Contact(f"w{worker}-{n}", "email", "support"))
                n += 1
                done += 1

        started = time.perf_counter()
        async with anyio.create_task_group() as group:
            for worker in range(tasks):
                group.start_soon(submitter, worker)
        elapsed = time.perf_counter() - started
        records = service.durable_seq - start_seq
        appends = _append_count(storage) - appends_before
    return done / elapsed, records / max(appends, 1)


_APPENDS: dict[int, int] = {}


def _append_count(storage: Any) -> int:
    return _APPENDS.get(id(storage), 0)


class _Counting:
    """Counts a store's appends (how many records each group commit carried)."""

    @staticmethod
    def wrap(storage: Any) -> Any:
        append = storage.append
        if asyncio.iscoroutinefunction(append):

            async def counted_async(records: Any) -> None:
                await append(records)
                _APPENDS[id(storage)] = _APPENDS.get(id(storage), 0) + 1

            storage.append = counted_async
        else:

            def counted(records: Any) -> None:
                append(records)
                _APPENDS[id(storage)] = _APPENDS.get(id(storage), 0) + 1

            storage.append = counted
        return storage


def _bench_service(url: str, directory: Path, seconds: float, rounds: int) -> dict[str, Any]:
    rates: dict[str, list[float]] = {}
    per_append: dict[str, list[float]] = {}
    for round_ in range(rounds):
        sqlite = _Counting.wrap(
            SQLiteStorage(directory / f"service-{round_}.db", synchronous="FULL")
        )
        rate, size = anyio.run(_service_rate, sqlite, seconds)
        sqlite.close()
        rates.setdefault("sqlite", []).append(rate)
        per_append.setdefault("sqlite", []).append(size)
        redis_store = _Counting.wrap(SingleNodeStorage(url, PARTITION, prefix=f"s{round_}"))

        async def run_redis(store: Any = redis_store) -> tuple[float, float]:
            try:
                return await _service_rate(store, seconds)
            finally:
                await store.close()

        rate, size = anyio.run(run_redis)
        rates.setdefault("redis", []).append(rate)
        per_append.setdefault("redis", []).append(size)
    return {
        key: {"calls_per_s": _median(rates[key]), "records_per_append": _median(per_append[key])}
        for key in rates
    }


# -- table 3: takeover ---------------------------------------------------------------


def leader_main(url: str, prefix: str, ttl: float) -> None:
    """The leader process: take the lease, say so, append a record every 5 ms."""

    async def main() -> None:
        engine = RedisEngine(url, prefix=prefix)
        token = None
        while token is None:
            token = await engine.acquire(PARTITION, f"leader-{os.getpid()}", ttl)
            if token is None:
                await anyio.sleep(0.01)
        store = engine.storage(PARTITION, token)
        seq = (await store.load()).last_seq
        print("leader", token, flush=True)

        async def renew() -> None:
            while True:
                await anyio.sleep(ttl / 3)
                await engine.renew(PARTITION, f"leader-{os.getpid()}", token, ttl)

        async with anyio.create_task_group() as group:
            group.start_soon(renew)
            while True:
                seq += 1
                await store.append([record(seq, at=10.0 * seq)])
                await anyio.sleep(0.005)

    anyio.run(main)


def _bench_takeover(url: str, kills: int, ttl: float) -> dict[str, Any]:
    times: list[float] = []
    prefix = "takeover"
    engine = RedisEngine(url, prefix=prefix)
    try:
        for _ in range(kills):
            child = subprocess.Popen(
                [sys.executable, __file__, "--leader", url, prefix, str(ttl)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.startswith("leader"), line
            time.sleep(random.uniform(0.2, 0.8))
            child.send_signal(signal.SIGKILL)
            killed = time.perf_counter()
            child.wait()

            async def take_over(killed: float = killed) -> float:
                while True:
                    token = await engine.acquire(PARTITION, "standby", ttl)
                    if token is not None:
                        break
                    await anyio.sleep(0.01)
                store = engine.storage(PARTITION, token)
                recovered = await store.load()
                await store.append([record(recovered.last_seq + 1, at=1e6 + recovered.last_seq)])
                elapsed = time.perf_counter() - killed
                await engine.release(PARTITION, "standby", token)
                return elapsed

            times.append(anyio.run(take_over))
    finally:
        engine.close_sync()
    return {
        "kills": kills,
        "ttl": ttl,
        "median_s": _median(times),
        "worst_s": max(times),
        "best_s": min(times),
    }


def _bench_node_takeover(url: str, kills: int, ttl: float) -> dict[str, Any]:
    from ccroute.testing_cluster import run_failover

    async def run() -> Any:
        return await run_failover(
            "ccroute_redis.engine:open_engine",
            {"url": url, "prefix": "nodes", "retention": None},
            partitions=("east", "west"),
            nodes=3,
            kills=kills,
            ttl=ttl,
            seed=18,
        )

    result = anyio.run(run)
    return {
        "kills": kills,
        "ttl": ttl,
        "median_s": _median(list(result.takeovers)),
        "worst_s": max(result.takeovers),
        "best_s": min(result.takeovers),
        "warm_leads": result.warm,
        "leads": len(result.lead_seconds),
        "acks_checked": result.report.acks,
    }


# -- table 4: recovery ---------------------------------------------------------------


def _bench_recovery(url: str, directory: Path, events: int, rounds: int) -> dict[str, Any]:
    count = events // 2
    template = [record(seq) for seq in range(1, 1001)]
    engine = RedisEngine(url, prefix="recovery", retention=None)
    sqlite_path = directory / "recovery.db"
    sqlite = SQLiteStorage(sqlite_path, synchronous="OFF", retention=None)
    sqlite.load()

    async def build() -> None:
        token = await engine.acquire(PARTITION, "builder", 3600)
        assert token is not None
        store = engine.storage(PARTITION, token)
        await store.load()
        for first in range(1, count + 1, 1000):
            batch = [
                _renumber(template[i % 1000], first + i)
                for i in range(min(1000, count - first + 1))
            ]
            await store.append(batch)
            sqlite.append(batch)
        await engine.release(PARTITION, "builder", token)

    anyio.run(build)
    sqlite.close()
    results: dict[str, list[float]] = {}
    for _ in range(rounds):

        async def load_redis() -> float:
            store = engine.storage(PARTITION, None)
            gc.collect()
            started = time.perf_counter()
            loaded = await store.load()
            elapsed = time.perf_counter() - started
            assert len(loaded.records) == count and loaded.problem is None
            return elapsed

        results.setdefault("redis", []).append(anyio.run(load_redis))
        store = SQLiteStorage(sqlite_path, retention=None)
        gc.collect()
        started = time.perf_counter()
        loaded = store.load()
        results.setdefault("sqlite", []).append(time.perf_counter() - started)
        assert len(loaded.records) == count
        del loaded
        store.close()
    engine.close_sync()
    return {
        key: {"seconds": _median(values), "events_per_s": events / _median(values)}
        for key, values in results.items()
    } | {"events": events, "records": count}


# -- the run ---------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--leader":
        leader_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", default=None, help="where SQLite's files go (say which disk)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.kills, args.events = 0.3, 1, 2, 20_000
    out: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "load_average": os.getloadavg(),
    }
    with temporary_server() as server, tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        report: list[tuple[str, Callable[[], Any]]] = [
            (
                "append",
                lambda: _bench_append(
                    server.url, directory, args.seconds, args.rounds, [1, 10, 100, 1000]
                ),
            ),
            ("service", lambda: _bench_service(server.url, directory, args.seconds, args.rounds)),
            ("takeover", lambda: _bench_takeover(server.url, args.kills, args.ttl)),
            ("node_takeover", lambda: _bench_node_takeover(server.url, args.kills, args.ttl)),
            ("recovery", lambda: _bench_recovery(server.url, directory, args.events, args.rounds)),
        ]
        for name, run in report:
            started = time.perf_counter()
            out[name] = run()
            print(f"-- {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    _print(out)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


def _print(out: dict[str, Any]) -> None:
    print(f"Python {out['python']}, load average {out['load_average'][0]:.2f}")
    print("\nTable 1: append, durable events per second (2 events per record)")
    print("| batch | SQLite FULL | Redis always | Redis / SQLite |")
    print("|---:|---:|---:|---:|")
    append = out["append"]
    for batch in (1, 10, 100, 1000):
        s, r = append[f"sqlite/{batch}"], append[f"redis/{batch}"]
        print(f"| {batch} | {s:,.0f} | {r:,.0f} | {r / s:.2f} |")
    print("\nTable 2: the service, 64 concurrent submitters (1 event per call)")
    print("| store | calls (events) per second | records per append |")
    print("|---|---:|---:|")
    for key, label in (("sqlite", "SQLite FULL"), ("redis", "Redis always (SingleNodeStorage)")):
        v = out["service"][key]
        print(f"| {label} | {v['calls_per_s']:,.0f} | {v['records_per_append']:.1f} |")
    t = out["takeover"]
    print(f"\nTable 3: takeover after SIGKILL, {t['kills']} kills, lease ttl {t['ttl']:g} s")
    print(f"median {t['median_s']:.3f} s, worst {t['worst_s']:.3f} s, best {t['best_s']:.3f} s")
    n = out["node_takeover"]
    print(
        f"\nTable 3b: takeover by a Node under load, {n['kills']} kills, lease ttl {n['ttl']:g} s "
        f"({n['acks_checked']:,} acknowledged calls checked; {n['warm_leads']} of {n['leads']} leads warm)"
    )
    print(f"median {n['median_s']:.3f} s, worst {n['worst_s']:.3f} s, best {n['best_s']:.3f} s")
    rec = out["recovery"]
    print(f"\nTable 4: recovery of {rec['events']:,} events ({rec['records']:,} records)")
    print("| store | seconds | events per second |")
    print("|---|---:|---:|")
    for key, label in (("sqlite", "SQLite"), ("redis", "Redis")):
        v = rec[key]
        print(f"| {label} | {v['seconds']:.2f} | {v['events_per_s']:,.0f} |")


if __name__ == "__main__":
    main()
