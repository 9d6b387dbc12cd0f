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

``--rich`` adds to the calls the runtime changes (``update_queue``,
``update_agent``, ``update_contact``), scheduled callbacks and contacts taken
in through :meth:`~ccroute.Service.inbound`, with an IVR flow and a CRM
(plugins of this module) that reroute some, give VIPs a head start and
resolve others themselves: the log then also holds the service's notes. An
``inbound`` call is acknowledged as the ``submit`` it made (the contact as
routed, the router's events); a resolved one is not printed.

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
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ccroute import Contact, CustomerEnriched, FlowFinished, Router, Service, WallClock, hookimpl
from ccroute.commands import Submit
from ccroute.lifecycle import ContactState
from ccroute.testing import snapshot

# The workload (queues, agents, the calls and their ack lines) is shared with
# the failover harness of ccroute.testing_cluster.
from ccroute.testing_cluster import (
    AGENTS,
    CHANNELS,
    QUEUE_NAMES,
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


def routed(contact: Contact) -> Contact:
    """The contact as :class:`Front` routes it: billing words to sales, VIPs ahead."""
    if contact.attributes.get("topic") == "money":
        contact = attrs.evolve(contact, queue="sales")
    if contact.customer_id == "vip":
        contact = attrs.evolve(contact, priority_seconds=30.0)
    return contact


class Front:
    """An IVR flow and a CRM in front of the router (``--rich``), and an adapter
    that takes every offer, so the log holds the service's notes too."""

    __name__ = "front"

    class Flow:
        async def run(self, contact: Contact) -> Contact | None:
            if contact.attributes.get("topic") == "hours":
                return None  # answered by the flow itself
            if contact.attributes.get("topic") == "money":
                return attrs.evolve(contact, queue="sales")
            return contact

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> Flow:
        return self.Flow()

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> dict[str, Any] | None:
        return {"tier": "gold"} if customer_id == "vip" else None

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
        return attrs.evolve(contact, priority_seconds=30.0) if profile.get("tier") else None

    @hookimpl
    async def ccroute_deliver_offer(self) -> bool:
        return True


class RichDriver(Driver):
    """The shared workload, plus runtime changes, scheduled callbacks and inbound contacts."""

    def choose(self, rng: random.Random) -> tuple[str, tuple[Any, ...], dict[str, Any], int]:
        draw = rng.random()
        if draw < 0.6:
            return super().choose(rng)
        router = self.service.router
        op = self._op_id()
        if draw < 0.75:
            contact = Contact(
                f"c{op}",
                rng.choice(CHANNELS),
                rng.choice(QUEUE_NAMES),
                customer_id=rng.choice([None, "vip", "regular"]),
                attributes={"topic": rng.choice(["money", "tech", "hours"]), "tags": ["web"]},
            )
            return "inbound", (contact,), {}, op
        if draw < 0.8:
            queue = attrs.evolve(rng.choice(QUEUES), priority_seconds=float(rng.randint(0, 5)))
            return "update_queue", (queue,), {}, op
        if draw < 0.85:
            agent = attrs.evolve(rng.choice(AGENTS), skills={"en": rng.randint(1, 9)})
            return "update_agent", (agent,), {}, op
        waiting = [c for c in router.contact_ids if router.contact(c).state is ContactState.WAITING]
        if draw < 0.92 and waiting:
            kwargs = {"priority_seconds": float(rng.randint(0, 20)), "attributes": {"n": op}}
            return "update_contact", (rng.choice(waiting),), kwargs, op
        callback = Contact(f"c{op}", "voice", rng.choice(["sales", "support"]))
        return "schedule_callback", (callback, self.service.now + rng.uniform(0.05, 0.8)), {}, op

    async def call(
        self,
        task: int,
        command: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        op: int | None = None,
    ) -> bool:
        if command != "inbound":
            return await super().call(task, command, args, kwargs, op)
        op = self._op_id() if op is None else op
        try:
            events = await self.service.inbound(args[0])
        except REFUSALS as error:
            self._emit(f"refused {op} {task} inbound {type(error).__name__}")
            return False
        if any(isinstance(e, FlowFinished) and e.outcome == "self-service" for e in events):
            return True  # never reached the router: nothing of its to check
        made = [e for e in events if not isinstance(e, FlowFinished | CustomerEnriched)]
        self._emit(f"ack {op} {task} {encode_ack(Submit(routed(args[0])), made)}")
        self.acks += 1
        if self.ops is not None and self.acks >= self.ops:
            self.finished.set()
        return True


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
        plugins=[Front()] if args.rich else [],
    )
    async with service:
        if service.recovery_problem is not None:
            print(f"recovery problem: {service.recovery_problem}", file=sys.stderr, flush=True)
        kind = RichDriver if args.rich else Driver
        driver = kind(service, args.seed, args.start_index, args.ops)
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
    parser.add_argument(
        "--rich",
        action="store_true",
        help="add runtime changes, scheduled callbacks and inbound contacts (IVR, CRM)",
    )
    args = parser.parse_args(argv)
    # Offers reach no adapter here; the service's warning about each is noise.
    logging.basicConfig(level=logging.ERROR)
    anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    main()
