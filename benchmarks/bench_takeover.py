"""Takeover on the reference engine: a warm standby beside a cold start, and failover.

    .venv/bin/python benchmarks/bench_takeover.py [--tails 1000,10000] [--rounds R]
        [--kills K] [--ttl T] [--dir DIR]

Table 1, the new leader's share of a takeover: one
:class:`~ccroute.cluster.Node` leads partition ``p1`` of a
:class:`~ccroute.cluster_sqlite.SQLiteEngine` (``synchronous=NORMAL``) and
makes ``TAIL`` calls (the workload of :mod:`ccroute.testing_cluster`, ten
tasks) with no snapshot in between (``snapshot_every`` above the tail), so
a cold start replays all of them; a second node follows. The first node's
store fails (its service stops taking calls and is halted: nothing more
written, no final snapshot, as if it died) and the node releases the lease at once (so the lease time is not
part of the figure); the second node takes over. Figure: seconds from the lease being
granted to the new service taking calls (:attr:`NodeEvent.seconds`), with
the standby's warm copy (it replays only what it had not seen, and starts
from the copy's state as from a snapshot) and without (``warm=False``:
load and replay the whole tail). Median of ``--rounds`` rounds (default 3).

Table 2, failover under load (``--kills``, default 6; 0 skips it): three
node processes (:func:`ccroute.testing_cluster.run_failover`) with
``--ttl`` (default 1.0 s); the leader is ``SIGKILL``\\ed at random moments.
Figures: seconds from each kill to the new leader's first acknowledged call
(median and worst), and the checker's counts.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import anyio

from ccroute import CCRouteError, Contact, Service
from ccroute.cluster import Node
from ccroute.cluster_sqlite import SQLiteEngine
from ccroute.errors import StorageError
from ccroute.storage import AsyncStorage, LogRecord, Recovered
from ccroute.testing_cluster import CallDriver, run_failover


class Breakable:
    """A partition's store that can be made to fail (the leader's disk or link dies)."""

    def __init__(self, store: AsyncStorage) -> None:
        self.store = store
        self.broken = False

    async def load(self) -> Recovered:
        return await self.store.load()

    async def append(self, records: Sequence[LogRecord]) -> None:
        if self.broken:
            raise StorageError("the leader's link to the engine broke")
        await self.store.append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        if self.broken:
            raise StorageError("the leader's link to the engine broke")
        await self.store.snapshot(seq, state)

    async def close(self) -> None:
        await self.store.close()


async def one_takeover(directory: Path, tail: int, warm: bool) -> float:
    """Seconds the second node took from being granted the lease to running."""
    path = directory / f"takeover-{tail}-{warm}-{time.monotonic_ns()}.db"
    stores: list[Breakable] = []

    def make(partition: str, storage: AsyncStorage) -> Service:
        store = Breakable(storage)
        stores.append(store)
        return Service(storage=store, load_entrypoints=False, snapshot_every=tail * 10)

    engines = [SQLiteEngine(path, synchronous="NORMAL", poll=0.01) for _ in range(2)]
    first = Node(engines[0], ["p1"], name="first", ttl=5.0, make_service=make)
    second = Node(engines[1], ["p1"], name="second", ttl=5.0, make_service=make, warm=warm)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            service = await first.wait_leading("p1")
            tg.start_soon(second.run)
            driver = CallDriver(service, 1, 0, ops=tail, emit=lambda line: None)
            await driver.setup()
            async with anyio.create_task_group() as work:
                for task in range(1, 11):
                    work.start_soon(driver.worker, task, 600.0)
            # Let the standby catch up, as it does between two calls.
            await anyio.sleep(1.0)
            # The leader fails without a final snapshot (a clean stop would
            # write one and leave a cold start nothing to replay); its node
            # lets the lease go at once, so the lease time is not measured.
            for store in stores:
                store.broken = True
            with contextlib.suppress(CCRouteError):
                await service.submit(Contact("last", "email", "sales"))
            with anyio.fail_after(120):
                await second.wait_leading("p1")
            (lead,) = [e for e in second.events if e.kind == "lead"]
            assert lead.reason == ("warm" if warm else "cold"), lead
            await second.stop()
            await first.stop()
            assert lead.seconds is not None
            return lead.seconds
    finally:
        for engine in engines:
            await engine.close()


async def main(args: argparse.Namespace) -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    directory = Path(args.dir or tempfile.mkdtemp(prefix="ccroute-takeover-"))
    tails = [int(t) for t in args.tails.split(",")]
    print("\nTable 1: the new leader's share of a takeover (lease granted -> taking calls)")
    print(f"{'tail records':>12} | {'warm standby (s)':>16} | {'cold start (s)':>14}")
    for tail in tails:
        figures: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for warm in (True, False):
                figures[warm].append(await one_takeover(directory, tail, warm))
        warm_s = statistics.median(figures[True])
        cold_s = statistics.median(figures[False])
        print(f"{tail:>12} | {warm_s:>16.4f} | {cold_s:>14.4f}")
    if args.kills:
        print(f"\nTable 2: failover under load, 3 node processes, ttl {args.ttl} s")
        run = await run_failover(
            "ccroute.cluster_sqlite:SQLiteEngine",
            {
                "path": str(directory / "failover.db"),
                "synchronous": "NORMAL",
                "retention": None,
                "poll": 0.01,
            },
            partitions=("p1",),
            nodes=3,
            kills=args.kills,
            pause=False,
            ttl=args.ttl,
            seed=11,
            load_seconds=0.5,
        )
        print(
            f"kills {len(run.takeovers)}: kill -> first ack of the new leader: median "
            f"{statistics.median(run.takeovers):.3f} s, worst {max(run.takeovers):.3f} s; "
            f"new leader's start: median {statistics.median(run.lead_seconds):.4f} s "
            f"({run.warm} of {len(run.lead_seconds)} leads warm); checked "
            f"{run.report.acks} acks, {run.report.records['p1']} records, "
            f"{run.report.offers} offers"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tails", default="1000,10000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--ttl", type=float, default=1.0)
    parser.add_argument("--dir", default=None)
    # Offers reach no adapter here; the service's warning about it is noise.
    logging.basicConfig(level=logging.ERROR)
    # The leaders' failures are the benchmark's doing: not worth a line each.
    logging.getLogger("ccroute.service").setLevel(logging.CRITICAL)
    anyio.run(main, parser.parse_args())
