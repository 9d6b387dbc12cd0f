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
import random
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ccroute import (
    Agent,
    Contact,
    ContactState,
    Presence,
    QueueConfig,
    Router,
    Service,
    WallClock,
)
from ccroute.codec import decode_command, decode_events, encode_command, encode_events
from ccroute.commands import COMMANDS, Command
from ccroute.errors import (
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    UnknownIdError,
)
from ccroute.events import Event
from ccroute.testing import snapshot

#: What a refused call raises: the router said no, nothing was logged.
REFUSALS = (DuplicateIdError, InvalidStateError, InvalidValueError, UnknownIdError)

QUEUES = (
    # No timers: offers wait for an answer, wrap-up waits for end_wrap_up.
    QueueConfig("sales", offer_timeout=None, wrap_up=None),
    # Timers the service fires by itself: offer timeouts (with RONA) and wrap-ups.
    QueueConfig("support", offer_timeout=0.3, wrap_up=0.2, rona_not_ready=True),
    # A small queue, so some submits are refused ("queue full") yet logged.
    QueueConfig("vip", offer_timeout=None, wrap_up=0.0, max_size=2),
)
AGENTS = (
    Agent("a1", queues=("sales", "support")),
    Agent("a2", queues=("sales",)),
    Agent("a3", queues=("support", "vip")),
    Agent("a4", queues=("sales", "support", "vip")),
    Agent("a5", queues=("support",)),
)
CHANNELS = ("voice", "chat", "email")
#: Agents who never answer an offer (their offers time out) nor end a wrap-up
#: of the timed queue, so the service's timers fire often.
SILENT_AGENTS = frozenset({"a5"})
TIMED_QUEUE = "support"
QUEUE_NAMES = tuple(q.name for q in QUEUES)

#: Live contacts above which new submits become rare, so the state stays small.
LIVE_TARGET = 30


# -------------------------------------------------------------- encodings


def encode_call(command: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Command:
    """A service call as the command the service logs for it."""
    return COMMANDS[command](*args, **kwargs)


def encode_ack(command: Command, events: list[Event]) -> str:
    """The JSON of an ``ack`` line: the call and its events in the log's encoding."""
    fields = encode_command(command).decode()
    logged = encode_events(events).decode()
    return f'{{"command":{json.dumps(command.name)},"fields":{fields},"events":{logged}}}'


class _Ack(msgspec.Struct):
    command: str
    fields: msgspec.Raw
    events: msgspec.Raw


def decode_ack(text: str) -> tuple[Command, tuple[Event, ...]]:
    """Undo :func:`encode_ack`: the command and events, decoded as the log decodes them."""
    ack = msgspec.json.decode(text, type=_Ack)
    return decode_command(ack.command, bytes(ack.fields)), decode_events(bytes(ack.events))


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


class Driver:
    """Chooses and makes calls on a running service, printing what was acknowledged."""

    def __init__(self, service: Service, seed: int, start_index: int, ops: int | None) -> None:
        self.service = service
        self.seed = seed
        self.next_op = start_index
        self.acks = 0
        self.ops = ops
        self.finished = anyio.Event()

    def _op_id(self) -> int:
        self.next_op += 1
        return self.next_op

    def _emit(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    async def call(
        self,
        task: int,
        command: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        op: int | None = None,
    ) -> bool:
        """Make one call through the service; print ``ack`` once it returned."""
        op = self._op_id() if op is None else op
        kwargs = kwargs or {}
        method: Callable[..., Awaitable[list[Event]]] = getattr(self.service, command)
        try:
            events = await method(*args, **kwargs)
        except REFUSALS as error:
            self._emit(f"refused {op} {task} {command} {type(error).__name__}")
            return False
        payload = encode_ack(encode_call(command, args, kwargs), events)
        self._emit(f"ack {op} {task} {payload}")
        self.acks += 1
        if self.ops is not None and self.acks >= self.ops:
            self.finished.set()
        return True

    async def setup(self) -> None:
        """Add the queues and agents a fresh log lacks (a restart finds them)."""
        router = self.service.router
        missing = [q for q in QUEUES if q.name not in router.queues]
        if missing:
            await self.call(0, "add_queues", (missing,))
        for agent in AGENTS:
            if agent.id not in router.agent_ids:
                await self.call(0, "add_agent", (agent, Presence.AVAILABLE))

    def choose(self, rng: random.Random) -> tuple[str, tuple[Any, ...], dict[str, Any], int]:
        """A call valid in the router's state now (another task may still get there first)."""
        router = self.service.router
        op = self._op_id()
        by_state: dict[ContactState, list[str]] = {s: [] for s in ContactState}
        for contact_id in router.contact_ids:
            view = router.contact(contact_id)
            if view.state is ContactState.OFFERED and view.agent_id in SILENT_AGENTS:
                continue  # left for the offer timeout
            if view.state is ContactState.WRAP_UP and view.queue == TIMED_QUEUE:
                continue  # left for the wrap-up timer
            by_state[view.state].append(contact_id)
        live = len(router.contact_ids)
        options: list[tuple[float, str]] = [
            (6.0 if live < LIVE_TARGET else 0.5, "submit"),
            (1.0, "set_presence"),
            (0.2, "set_capacity"),
        ]
        if by_state[ContactState.OFFERED]:
            options += [(6.0, "accept"), (1.0, "reject")]
        if by_state[ContactState.IN_SERVICE]:
            options.append((4.0, "complete"))
        if by_state[ContactState.WRAP_UP]:
            options.append((3.0, "end_wrap_up"))
        if by_state[ContactState.WAITING] or by_state[ContactState.OFFERED]:
            options.append((1.0, "abandon"))
        if live:
            options.append((0.8, "transfer"))
        if by_state[ContactState.WAITING]:
            options.append((0.3, "request_callback"))
        command = rng.choices([c for _, c in options], [w for w, _ in options])[0]
        if command == "submit":
            contact = Contact(f"c{op}", rng.choice(CHANNELS), rng.choice(QUEUE_NAMES))
            return command, (contact,), {}, op
        if command == "set_presence":
            agent = rng.choice(router.agent_ids)
            presence = rng.choices(list(Presence), [1, 6, 2])[0]
            return command, (agent, presence, f"op{op}"), {}, op
        if command == "set_capacity":
            agent = rng.choice(router.agent_ids)
            return command, (agent, "chat", rng.randint(1, 3)), {}, op
        if command in ("accept", "reject"):
            contact_id = rng.choice(by_state[ContactState.OFFERED])
            agent_id = router.contact(contact_id).agent_id
            return command, (contact_id, agent_id), {}, op
        if command == "complete":
            return command, (rng.choice(by_state[ContactState.IN_SERVICE]),), {}, op
        if command == "end_wrap_up":
            return command, (rng.choice(by_state[ContactState.WRAP_UP]),), {}, op
        if command == "abandon":
            pool = by_state[ContactState.WAITING] + by_state[ContactState.OFFERED]
            return command, (rng.choice(pool),), {}, op
        if command == "transfer":
            pool = [
                c for c in router.contact_ids if router.contact(c).state is not ContactState.WRAP_UP
            ]
            if not pool:
                return "submit", (Contact(f"c{op}", "email", "sales"),), {}, op
            kwargs = {"queue": rng.choice(QUEUE_NAMES), "keep_key": rng.random() < 0.7}
            return command, (rng.choice(pool),), kwargs, op
        assert command == "request_callback"
        return command, (rng.choice(by_state[ContactState.WAITING]), "callback"), {}, op

    async def worker(self, task: int, seconds: float) -> None:
        """Make calls until ``--ops`` acknowledgements or the time limit."""
        rng = random.Random(f"{self.seed}:{self.next_op}:{task}")
        deadline = time.monotonic() + seconds
        while not self.finished.is_set() and time.monotonic() < deadline:
            command, args, kwargs, op = self.choose(rng)
            await self.call(task, command, args, kwargs, op)
            # Always yield, so the other tasks' calls join this batch.
            await anyio.lowlevel.checkpoint()
        self.finished.set()


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
