"""Submit latency through the service is flat in the number of agents.

    .venv/bin/python benchmarks/bench_service_latency.py [--quick] [--rounds R]
        [--contacts N] [--agents 10,100,1000] [--backend asyncio|trio]
        [--dir DIR] [--json PATH]

For each team size, a fresh :class:`~ccroute.Service` on a temporary SQLite file
(``synchronous=FULL``, WAL) with the plugins a live centre has: a channel
adapter that shows every offer, a customer side that hears every update
(``queued`` carries the contact's position and estimated wait) and a CRM that
keeps the history; the service keeps its metrics. One queue, every agent
available with room for one voice call.

Two cases, each a run of ``--contacts`` submits made one at a time by one
client, each timed from the call to its return (the call's log record is on
disk: *submit to durable*):

*offered*
    every agent is free: each contact is offered at once (the offer's reasons
    and delivery included), then answered and completed (not timed) so that
    the team is free again;
*waiting*
    every agent holds a call: each contact waits in the queue, and its
    customer update reads its position and the estimated wait (the mean
    handle time of the queue's last completed contacts over its logged-in
    agents).

The team sizes run interleaved, round after round, so that drift of the
machine (other jobs, the disk's cache) spreads over all of them; figures are
medians over every submit of every round. *ratio* divides each figure by the
smallest team's. Target: the 1,000-agent figure within 1.5x the 10-agent one.
*CPU ms* is the process's CPU time per submit (every thread: the event loop,
the plugin work, the store's encoding), median over the rounds: on a disk
whose sync dominates the latency, it shows where the work grows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import print_table

import ccroute
from ccroute import Agent, Contact, Presence, QueueConfig, Service
from ccroute.hookspecs import hookimpl


class Centre:
    """The plugins of a live centre, doing nothing costly themselves."""

    def __init__(self) -> None:
        self.offers = 0
        self.updates = 0
        self.records = 0

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: Any) -> bool:
        self.offers += 1
        return True

    @hookimpl
    async def ccroute_customer_update(self, update: Any) -> None:
        self.updates += 1

    @hookimpl
    async def ccroute_crm_record(self, record: Any) -> None:
        self.records += 1


async def team(service: Service, agents: int) -> None:
    await service.add_queue(QueueConfig("q", offer_timeout=None, wrap_up=0))
    async with anyio.create_task_group() as tg:  # concurrent calls share commits
        for i in range(agents):
            tg.start_soon(
                service.add_agent,
                Agent(f"a{i:04d}", queues=("q",), capacity={"voice": 1}),
                Presence.AVAILABLE,
            )


async def one_round(
    directory: Path, agents: int, contacts: int, tag: str
) -> dict[str, list[float]]:
    """Submit latencies (seconds) of both cases with a team of ``agents``."""
    path = directory / f"latency-{agents}-{tag}.db"
    offered: list[float] = []
    waiting: list[float] = []
    cpu: dict[str, float] = {}
    async with Service(
        path=path, sync="FULL", plugins=[Centre()], load_entrypoints=False
    ) as service:
        await team(service, agents)
        # Offered at once: the team is free for every submit.
        cpu_started = time.process_time()
        for n in range(contacts):
            contact = Contact(f"o{n}", "voice", "q")
            started = time.perf_counter()
            events = await service.submit(contact)
            offered.append(time.perf_counter() - started)
            agent = next(e.agent_id for e in events if type(e).__name__ == "Offered")
            await service.accept(contact.id, agent)
            await service.complete(contact.id)
        # three calls per contact: a third of the CPU time is the submit's
        cpu["offered"] = (time.process_time() - cpu_started) / contacts / 3
        # Every agent busy: each contact waits, with its position and estimate.
        async with anyio.create_task_group() as tg:
            for i in range(agents):
                tg.start_soon(service.submit, Contact(f"busy{i}", "voice", "q"))
        for contact_id in service.router.contact_ids:
            view = service.router.contact(contact_id)
            if view.agent_id is not None:
                await service.accept(contact_id, view.agent_id)
        cpu_started = time.process_time()
        for n in range(contacts):
            started = time.perf_counter()
            await service.submit(Contact(f"w{n}", "voice", "q"))
            waiting.append(time.perf_counter() - started)
        if hasattr(service, "drain"):
            await service.drain()
        else:  # an older service, for comparison
            await anyio.sleep(0.5)
        cpu["waiting"] = (time.process_time() - cpu_started) / contacts
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return {"offered": offered, "waiting": waiting, "cpu": cpu}


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="bench-latency-", dir=args.dir))
    samples: dict[int, dict[str, list[float]]] = {
        n: {"offered": [], "waiting": [], "cpu offered": [], "cpu waiting": []} for n in args.agents
    }
    try:
        for r in range(args.rounds):
            for n in args.agents:
                got = await one_round(directory, n, args.contacts, str(r))
                samples[n]["offered"].extend(got["offered"])
                samples[n]["waiting"].extend(got["waiting"])
                for case, seconds in got["cpu"].items():
                    samples[n][f"cpu {case}"].append(seconds)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    medians = {
        n: {case: statistics.median(values) for case, values in cases.items()}
        for n, cases in samples.items()
    }
    base = medians[args.agents[0]]
    rows = [
        [
            f"{n:,}",
            f"{m['offered'] * 1e3:.2f}",
            f"{m['offered'] / base['offered']:.2f}",
            f"{m['waiting'] * 1e3:.2f}",
            f"{m['waiting'] / base['waiting']:.2f}",
            f"{m['cpu offered'] * 1e3:.2f}",
            f"{m['cpu waiting'] * 1e3:.2f}",
        ]
        for n, m in medians.items()
    ]
    print(
        f"Submit to durable, median ms ({args.rounds} rounds x {args.contacts} submits per case, "
        f"{args.backend}, queue {ccroute.IMPLEMENTATION})\n"
    )
    print_table(
        [
            "agents",
            "offered ms",
            "ratio",
            "waiting ms",
            "ratio",
            "CPU ms offered",
            "CPU ms waiting",
        ],
        rows,
    )
    return {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ccroute_queue": ccroute.IMPLEMENTATION,
        "backend": args.backend,
        "rounds": args.rounds,
        "contacts": args.contacts,
        "median_seconds": {str(n): m for n, m in medians.items()},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer submits and rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--contacts", type=int, default=None, help="submits per case per round")
    parser.add_argument("--agents", default="10,100,1000", help="team sizes, comma-separated")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--dir", default=None, help="where the temporary databases go")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    logging.getLogger("ccroute").setLevel(logging.ERROR)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.contacts = args.contacts or (50 if args.quick else 200)
    args.agents = [int(a) for a in args.agents.split(",")]
    result = anyio.run(main_async, args, backend=args.backend)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
