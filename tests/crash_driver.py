"""Drive a durable :class:`~ccroute.Service` under a stream of calls, to be killed.

Run as a script (the crash test and ``benchmarks/bench_service.py --kills``
start it as a subprocess and ``SIGKILL`` it at random moments)::

    python tests/crash_driver.py DB SEED START_INDEX [--backend asyncio|trio]
        [--tasks 4] [--ops N] [--max-seconds 60] [--snapshot-every 25]

It opens ``Service(path=DB)`` (SQLite, ``synchronous=FULL``), prints one
``ready`` line once the service has recovered, adds the queues and agents
the first time (a restart finds them in the recovered router and skips
them), then runs ``--tasks`` concurrent tasks, each issuing calls chosen
pseudo-randomly (seeded) among those valid in the router's current state.
Several tasks are in flight at once so the service's group commit puts the
records of more than one call in one transaction.

Every line on stdout is flushed as soon as it is written:

``ready <last_seq> <state digest>``
    the service has started; ``last_seq`` is the last durable log record and
    the digest is :func:`state_digest` of the recovered router, taken before
    any call or timer could change it.
``ack <op-id> <task> <json>``
    a call returned, so the service acknowledged it: its records are durable.
    The JSON holds ``command`` (the command's name), ``fields`` (the call as
    the log writes the command, :func:`ccroute.codec.encode_command`) and
    ``events`` (the events the call returned, as the log writes them,
    :func:`ccroute.codec.encode_events`): exact, so the test compares them
    with ``==``, and nothing in them can run code. Op-ids are ``START_INDEX``
    plus a counter, unique across restarts when each start is given a fresh
    ``START_INDEX``.
``refused <op-id> <task> <command> <error class>``
    the router refused a call (its state moved on between choosing the call
    and making it); nothing was acknowledged.
``done <acks>``
    ``--ops`` acknowledgements were reached and the service stopped cleanly.

The queues mix timer-free routing (offers never time out, wrap-up ends only
when told) with one queue whose offers time out and whose wrap-ups end by
themselves, so the log also holds the service's own ``tick`` records and
snapshots are taken with timers pending. The log, not the calls, is the
source of truth for the expected state: the test rebuilds it by replaying
every logged record.
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import json
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ccroute import Router, Service, WallClock
from ccroute.testing import snapshot

# The workload (queues, agents, the calls and their ack lines) is shared with
# the failover harness of ccroute.testing_cluster.
from ccroute.testing_cluster import (
    AGENTS,
    QUEUES,
    REFUSALS,
    CallDriver,
    decode_ack,
    encode_ack,
)

__all__ = ["AGENTS", "QUEUES", "REFUSALS", "decode_ack", "encode_ack", "state_digest"]


def canonical(value: Any) -> Any:
    """A JSON-able form of a router observable that does not depend on the process.

    Sets and dicts are sorted (string hashing, so their iteration order,
    differs between processes), floats keep their exact ``repr``, and fields
    that views exclude from equality are left out, so equal views give equal
    forms.
    """
    if attrs.has(type(value)):
        return [
            type(value).__name__,
            {f.name: canonical(getattr(value, f.name)) for f in attrs.fields(type(value)) if f.eq},
        ]
    if isinstance(value, enum.Enum):
        return [type(value).__name__, value.name]
    if isinstance(value, Mapping):
        items = [[canonical(k), canonical(v)] for k, v in value.items()]
        return sorted(items, key=lambda kv: json.dumps(kv[0]))
    if isinstance(value, set | frozenset):
        return sorted((canonical(v) for v in value), key=json.dumps)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, float):
        return ["float", repr(value)]
    if value is None or isinstance(value, bool | int | str):
        return value
    raise TypeError(f"no canonical form for {type(value).__name__}: {value!r}")


def state_digest(router: Router) -> str:
    """SHA-256 of :func:`canonical` of ``helpers.snapshot(router)``: equal states, equal digests."""
    text = json.dumps(canonical(snapshot(router)), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------ clock


class GatedClock:
    """The wall clock, held at 0 until :meth:`open` is called.

    While held, every timer of the recovered router looks decades away, so
    the service fires none of them between recovering and the ``ready`` line:
    the digest printed there is of the recovered state alone. The first call
    after :meth:`open` wakes the service's timer task, which then sees the
    real time.
    """

    def __init__(self) -> None:
        self._wall = WallClock()
        self._open = False

    def open(self) -> None:
        """Let real time through from now on."""
        self._open = True

    def now(self) -> float:
        """0.0 while held, then :func:`time.time`."""
        return self._wall.now() if self._open else 0.0


# ----------------------------------------------------------------- driver


class Driver(CallDriver):
    """The shared workload's driver, printing ``ack``/``refused`` lines untagged."""


async def run(args: argparse.Namespace) -> None:
    """Start the service, report recovery, set up, then drive it until done or killed."""
    clock = GatedClock()
    service = Service(
        path=args.db,
        load_entrypoints=False,
        sync="FULL",
        clock=clock,
        seed=0,
        hook_timeout=2.0,
        snapshot_every=args.snapshot_every,
    )
    async with service:
        if service.recovery_problem is not None:
            print(f"recovery problem: {service.recovery_problem}", file=sys.stderr, flush=True)
        driver = Driver(service, args.seed, args.start_index, args.ops)
        driver._emit(f"ready {service.durable_seq} {state_digest(service.router)}")
        clock.open()
        await driver.setup()
        async with anyio.create_task_group() as tg:
            for task in range(1, args.tasks + 1):
                tg.start_soon(driver.worker, task, args.max_seconds)
    # Reached only when not killed: the service stopped cleanly.
    driver._emit(f"done {driver.acks}")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the driver."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("seed", type=int)
    parser.add_argument("start_index", type=int)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--ops", type=int, default=None, help="stop cleanly after this many acks")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=60.0,
        help="stop by itself after this long, so an orphaned driver cannot run on",
    )
    parser.add_argument("--snapshot-every", type=int, default=25)
    args = parser.parse_args(argv)
    # Offers reach no adapter here; the service's warning about each is noise.
    logging.basicConfig(level=logging.ERROR)
    anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    main()
