"""Failover test support: node processes under load, killed, and a checker.

For the engines' failover tests and benchmarks (the reference
:class:`~ccroute.cluster_sqlite.SQLiteEngine`, PostgreSQL, Redis):

- a **workload**: :class:`CallDriver` makes seeded, pseudo-random calls that
  are valid in the router's state (submit, accept, reject, complete,
  transfer, presence...) on a running service, with queues whose timers
  fire by themselves, and prints one flushed line per acknowledged call
  (tests/crash_driver.py drives a single SQLite service with it);
- a **node process**: ``python -m ccroute.testing_cluster node ...`` runs a
  :class:`~ccroute.cluster.Node` on an engine named as ``module:factory``
  with JSON settings, and drives every partition it leads;
- a **checker**: :func:`check_failover` takes what the processes printed
  and the engine's final logs and verifies that every acknowledged call is
  in its partition's log exactly as acknowledged (and only once), that each
  log replays cleanly (:func:`ccroute.service.replay`), and that no contact
  was ever offered while an offer of it was open;
- a **harness**: :class:`Cluster` starts the node processes and
  :func:`run_failover` kills the leader at random (``SIGKILL``), pauses one
  (``SIGSTOP``) until another node took over and resumes it, and checks.

The node process command line::

    python -m ccroute.testing_cluster node --engine MODULE:FACTORY
        --settings JSON --partitions p1,p2 --name NAME --index N --seed S
        [--ttl 2.0] [--tasks 2] [--pace 0.005] [--max-seconds 120]
        [--snapshot-every 25] [--backend asyncio|trio]

``FACTORY(**settings)`` returns an engine, or an awaitable of one. Lines on
stdout (each flushed):

``ready NAME``
    the node runs (leases come later);
``lead PARTITION TOKEN warm|cold SECONDS DURABLE_SEQ``
    the node leads the partition, its service took ``SECONDS`` to start;
``ack PARTITION TOKEN OP TASK JSON``
    a call returned: durable. ``JSON`` holds the command and the events it
    returned in the log's own encoding (:func:`decode_ack`);
``refused PARTITION TOKEN OP COMMAND ERROR``
    the router refused a call (nothing was logged);
``failed PARTITION TOKEN OP COMMAND ERROR``
    the call was not acknowledged (the lease was lost: ``FencedError``,
    ``ServiceError``...);
``lose PARTITION TOKEN REASON`` / ``release PARTITION TOKEN stopped``
    the node stopped leading (see :class:`~ccroute.cluster.NodeEvent`).

Importing :mod:`ccroute` does not import this module; it imports no test
framework.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Final

import anyio
import anyio.lowlevel
import attrs
import msgspec

from .clock import ManualClock
from .cluster import Engine, Node, NodeEvent
from .codec import decode_command, decode_events, encode_command, encode_events
from .commands import COMMANDS, Command, Note
from .errors import (
    CCRouteError,
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    UnknownIdError,
)
from .events import (
    Abandoned,
    Accepted,
    Event,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Rejected,
    TimedOut,
    Transferred,
)
from .hooktypes import AgentStrategy
from .lifecycle import ContactState
from .model import Agent, Contact, Presence, QueueConfig
from .router import Router
from .service import Service, replay
from .storage import AsyncStorage, LogRecord

__all__ = [
    "AGENTS",
    "QUEUES",
    "REFUSALS",
    "CallDriver",
    "Cluster",
    "FailoverReport",
    "FailoverRun",
    "NodeOutput",
    "check_failover",
    "decode_ack",
    "encode_ack",
    "open_engine",
    "parse_output",
    "read_log",
    "run_failover",
]

# -- the workload ------------------------------------------------------------------

#: What a refused call raises: the router said no, nothing was logged.
REFUSALS: Final = (DuplicateIdError, InvalidStateError, InvalidValueError, UnknownIdError)

QUEUES: Final = (
    # No timers: offers wait for an answer, wrap-up waits for end_wrap_up.
    QueueConfig("sales", offer_timeout=None, wrap_up=None),
    # Timers the service fires by itself: offer timeouts (with RONA) and wrap-ups.
    QueueConfig("support", offer_timeout=0.3, wrap_up=0.2, rona_not_ready=True),
    # A small queue, so some submits are refused ("queue full") yet logged.
    QueueConfig("vip", offer_timeout=None, wrap_up=0.0, max_size=2),
)
AGENTS: Final = (
    Agent("a1", queues=("sales", "support")),
    Agent("a2", queues=("sales",)),
    Agent("a3", queues=("support", "vip")),
    Agent("a4", queues=("sales", "support", "vip")),
    Agent("a5", queues=("support",)),
)
CHANNELS: Final = ("voice", "chat", "email")
#: Agents who never answer an offer (their offers time out) nor end a wrap-up
#: of the timed queue, so the service's timers fire often.
SILENT_AGENTS: Final = frozenset({"a5"})
TIMED_QUEUE: Final = "support"
QUEUE_NAMES: Final = tuple(q.name for q in QUEUES)
#: Live contacts above which new submits become rare, so the state stays small.
LIVE_TARGET: Final = 30


def encode_call(command: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Command:
    """A service call as the command the service logs for it."""
    return COMMANDS[command](*args, **kwargs)


def encode_ack(command: Command, events: Sequence[Event]) -> str:
    """The JSON of an ``ack`` line: the call and its events in the log's encoding."""
    fields = encode_command(command).decode()
    logged = encode_events(events).decode()
    return f'{{"command":{json.dumps(command.name)},"fields":{fields},"events":{logged}}}'


class _Ack(msgspec.Struct):
    command: str
    fields: msgspec.Raw
    events: msgspec.Raw


def decode_ack(text: str) -> tuple[Command, tuple[Event, ...]]:
    """Undo :func:`encode_ack`: the command and events, decoded as the log decodes them
    (nothing in them can run code)."""
    ack = msgspec.json.decode(text, type=_Ack)
    return decode_command(ack.command, bytes(ack.fields)), decode_events(bytes(ack.events))


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class CallDriver:
    """Chooses and makes calls on a running service, printing each outcome.

    :param service: the running service.
    :param seed: seeds the choice of calls (with ``start_index`` and the task).
    :param start_index: op ids count up from here (contact ids are ``c<op>``),
        so give each driver start a fresh range.
    :param ops: stop after this many acknowledgements (``None``: never).
    :param tag: written after the line's kind (``ack TAG op ...``): the
        node process puts the partition and the token there.
    :param emit: writes one line (default: stdout, flushed).
    """

    def __init__(
        self,
        service: Service,
        seed: int,
        start_index: int,
        ops: int | None = None,
        *,
        tag: str = "",
        emit: Callable[[str], None] = _print,
    ) -> None:
        self.service = service
        self.seed = seed
        self.next_op = start_index
        self.acks = 0
        self.ops = ops
        self.finished = anyio.Event()
        self._tag = f"{tag} " if tag else ""
        self._emit = emit

    def _op_id(self) -> int:
        self.next_op += 1
        return self.next_op

    async def call(
        self,
        task: int,
        command: str,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        op: int | None = None,
    ) -> bool:
        """Make one call; print ``ack`` once it returned, ``refused`` when the
        router said no. Any other error (the service stopped) propagates."""
        op = self._op_id() if op is None else op
        kwargs = kwargs or {}
        method: Callable[..., Awaitable[list[Event]]] = getattr(self.service, command)
        try:
            events = await method(*args, **kwargs)
        except REFUSALS as error:
            self._emit(f"refused {self._tag}{op} {task} {command} {type(error).__name__}")
            return False
        payload = encode_ack(encode_call(command, args, kwargs), events)
        self._emit(f"ack {self._tag}{op} {task} {payload}")
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

    async def worker(self, task: int, seconds: float, pace: float = 0.0) -> None:
        """Make calls until ``ops`` acknowledgements or ``seconds`` passed,
        sleeping ``pace`` seconds between two calls (0: only yield)."""
        rng = random.Random(f"{self.seed}:{self.next_op}:{task}")
        deadline = time.monotonic() + seconds
        while not self.finished.is_set() and time.monotonic() < deadline:
            command, args, kwargs, op = self.choose(rng)
            await self.call(task, command, args, kwargs, op)
            # Always yield, so the other tasks' calls join this batch.
            if pace:
                await anyio.sleep(pace)
            else:
                await anyio.lowlevel.checkpoint()
        self.finished.set()


# -- the node process ------------------------------------------------------------------


async def open_engine(spec: str, settings: Mapping[str, Any]) -> Engine:
    """``FACTORY(**settings)`` of ``spec`` (``"module:factory"``), awaited when
    it returns an awaitable.

    :raises InvalidValueError: ``spec`` is not ``module:factory``, or what the
        factory made is not an :class:`~ccroute.cluster.Engine`.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise InvalidValueError(f"an engine is named as module:factory, not {spec!r}")
    factory = getattr(importlib.import_module(module_name), attribute)
    made = factory(**settings)
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Engine):
        raise InvalidValueError(f"{spec} made {made!r:.80}, not an Engine")
    return made


async def _drive(service: Service, event: NodeEvent, leads: int, args: argparse.Namespace) -> None:
    """Drive a service this node leads until it stops taking calls."""
    tag = f"{event.partition} {event.token}"
    start = args.index * 10**9 + leads * 10**6
    driver = CallDriver(service, args.seed, start, tag=tag)

    async def work(task: int) -> None:
        try:
            if task == 0:
                await driver.setup()
            else:
                await driver.worker(task, args.max_seconds, args.pace)
        except CCRouteError as error:
            # Not acknowledged: the lease was lost (or the store failed).
            _print(f"failed {tag} {driver.next_op} {task} {type(error).__name__}")

    await work(0)
    if service.running:
        async with anyio.create_task_group() as tg:
            for task in range(1, args.tasks + 1):
                tg.start_soon(work, task)


async def _node_main(args: argparse.Namespace) -> None:
    engine = await open_engine(args.engine, json.loads(args.settings))
    partitions = [p for p in args.partitions.split(",") if p]
    leads = 0
    tasks: list[tuple[Service, NodeEvent, int]] = []
    wake = anyio.Event()

    def make_service(partition: str, storage: AsyncStorage) -> Service:
        return Service(
            storage=storage,
            load_entrypoints=False,
            seed=0,
            hook_timeout=2.0,
            snapshot_every=args.snapshot_every,
        )

    def on_event(event: NodeEvent) -> None:
        nonlocal leads, wake
        if event.kind == "lead":
            service = node.leading[event.partition]
            _print(
                f"lead {event.partition} {event.token} {event.reason} "
                f"{event.seconds:.6f} {service.durable_seq}"
            )
            leads += 1
            tasks.append((service, event, leads))
            wake.set()
        else:
            _print(f"{event.kind} {event.partition} {event.token} {event.reason}")

    node = Node(
        engine,
        partitions,
        name=args.name,
        ttl=args.ttl,
        make_service=make_service,
        on_event=on_event,
    )
    try:
        with anyio.move_on_after(args.max_seconds):
            async with node, anyio.create_task_group() as tg:
                _print(f"ready {node.name}")
                while True:
                    await wake.wait()
                    wake = anyio.Event()
                    while tasks:
                        tg.start_soon(_drive, *tasks.pop(0), args)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await engine.close()


def _main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ccroute.testing_cluster")
    commands = parser.add_subparsers(dest="what", required=True)
    node = commands.add_parser("node", help="run a node under load (see the module's notes)")
    node.add_argument("--engine", required=True, help="module:factory")
    node.add_argument("--settings", default="{}", help="the factory's keyword arguments, JSON")
    node.add_argument("--partitions", required=True, help="comma-separated")
    node.add_argument("--name", required=True)
    node.add_argument("--index", type=int, default=0, help="this process's number (op ids)")
    node.add_argument("--seed", type=int, default=0)
    node.add_argument("--ttl", type=float, default=2.0)
    node.add_argument("--tasks", type=int, default=2)
    node.add_argument("--pace", type=float, default=0.005)
    node.add_argument("--max-seconds", type=float, default=120.0)
    node.add_argument("--snapshot-every", type=int, default=25)
    node.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    anyio.run(_node_main, args, backend=args.backend)


# -- what the processes printed ----------------------------------------------------------


@attrs.frozen(slots=True)
class Acked:
    """One acknowledged call, as a node process printed it."""

    process: int
    partition: str
    token: int
    op: int
    command: Command
    events: tuple[Event, ...]


@attrs.define(slots=True)
class NodeOutput:
    """What one node process printed: its leads, acks and losses, in order,
    each line with the time (the reader's ``time.monotonic()``) it was read."""

    process: int
    acks: list[Acked] = attrs.Factory(list)
    #: (partition, token, warm|cold, seconds to start, read at)
    leads: list[tuple[str, int, str, float, float]] = attrs.Factory(list)
    #: (kind, partition, token, reason, read at): lose and release lines.
    losses: list[tuple[str, str, int, str, float]] = attrs.Factory(list)
    #: (partition, token, error class) of calls that were not acknowledged.
    failed: list[tuple[str, int, str]] = attrs.Factory(list)
    refused: int = 0
    ready: bool = False


def parse_output(process: int, lines: Iterable[tuple[float, str]]) -> NodeOutput:
    """Parse a node process's ``(read at, line)`` pairs (see the module's notes).

    :raises ValueError: a line is not one the node process writes.
    """
    out = NodeOutput(process)
    for at, line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "ack":
            partition, token, op, _task, payload = rest.split(" ", 4)
            command, events = decode_ack(payload)
            out.acks.append(Acked(process, partition, int(token), int(op), command, events))
        elif kind == "lead":
            partition, token, how, seconds, _seq = rest.split(" ")
            out.leads.append((partition, int(token), how, float(seconds), at))
        elif kind in ("lose", "release"):
            partition, token, reason = rest.split(" ", 2)
            out.losses.append((kind, partition, int(token), reason, at))
        elif kind == "failed":
            partition, token, _op, _task, error = rest.split(" ")
            out.failed.append((partition, int(token), error))
        elif kind == "refused":
            out.refused += 1
        elif kind == "ready":
            out.ready = True
        else:
            raise ValueError(f"process {process} printed an unexpected line: {line!r:.200}")
    return out


async def read_log(engine: Engine, partition: str) -> list[LogRecord]:
    """Every record of ``partition``'s log, from the first (the engine must
    keep them all: run the harness with ``retention`` ``None``)."""
    records: list[LogRecord] = []
    while True:
        page = await engine.read_after(partition, len(records), 0.0)
        if not page:
            return records
        if page[0].seq != len(records) + 1:
            raise AssertionError(
                f"partition {partition!r}: record {len(records) + 1} is gone (retention?)"
            )
        records.extend(page)


# Events after which a contact has no open offer any more.
_OFFER_ENDS: Final = (
    Accepted,
    Abandoned,
    TimedOut,
    Transferred,
)
# Events that end one agent's offer of a contact (others may hold it: ring-all).
_ONE_OFFER_ENDS: Final = (Rejected, OfferTimedOut, OfferRescinded)


@attrs.frozen(slots=True)
class FailoverReport:
    """What :func:`check_failover` verified, in numbers."""

    acks: int
    records: dict[str, int]
    offers: int
    leads: int


def _key(command: Command, events: Sequence[Event]) -> str:
    return encode_ack(command, events)


def check_failover(
    outputs: Sequence[NodeOutput],
    logs: Mapping[str, Sequence[LogRecord]],
    *,
    strategies: Mapping[str, AgentStrategy] | None = None,
) -> FailoverReport:
    """Check the failover guarantees against the final logs.

    - every acknowledged call is in its partition's log with the events it
      was acknowledged with, and no record was acknowledged twice;
    - each log replays cleanly on a fresh router (same events), given the
      custom agent strategies its queues name (``strategies``; as in a
      service's recovery, their logged choices are taken, not asked again);
    - no contact was offered while an offer of it was open, and no offer
      was made twice.

    :raises AssertionError: a guarantee was broken (the message says which
        call, record or contact).
    """
    acked: dict[str, Counter[str]] = {p: Counter() for p in logs}
    for out in outputs:
        for ack in out.acks:
            if ack.partition not in logs:
                raise AssertionError(f"an ack of unknown partition {ack.partition!r}")
            acked[ack.partition][_key(ack.command, ack.events)] += 1
    offers = 0
    for partition, records in logs.items():
        logged: Counter[str] = Counter(
            _key(r.command, r.events) for r in records if not isinstance(r.command, Note)
        )
        for key, count in acked[partition].items():
            if logged[key] < count:
                raise AssertionError(
                    f"partition {partition!r}: an acknowledged call is "
                    + ("not in the log" if not logged[key] else "acknowledged more often than")
                    + f" ({count} acks, {logged[key]} records): {key:.300}"
                )
        for index, record in enumerate(records, start=1):
            if record.seq != index:
                raise AssertionError(f"partition {partition!r}: record {index} is missing")
        clock = ManualClock()
        router = Router(clock, seed=0, strategies=strategies)
        replay(router, clock, records)
        # contact -> (the record that rang it, the agents holding its offer):
        # ring-all offers one contact to several agents in one record.
        open_offers: dict[str, tuple[int, set[str]]] = {}
        made: set[tuple[str, str, float]] = set()
        for record in records:
            for event in record.events:
                if isinstance(event, Offered):
                    offers += 1
                    rang, holders = open_offers.get(event.contact_id, (record.seq, set()))
                    if holders and rang != record.seq:
                        raise AssertionError(
                            f"partition {partition!r}, record {record.seq}: contact "
                            f"{event.contact_id!r} offered to {event.agent_id!r} while its "
                            f"offer to {min(holders)!r} was open"
                        )
                    offer = (event.contact_id, event.agent_id, event.at)
                    if offer in made:
                        raise AssertionError(
                            f"partition {partition!r}, record {record.seq}: the offer of "
                            f"{event.contact_id!r} to {event.agent_id!r} was made twice"
                        )
                    made.add(offer)
                    open_offers[event.contact_id] = (rang, holders | {event.agent_id})
                elif isinstance(event, _ONE_OFFER_ENDS):
                    # One holder's offer ends; a ring-all contact stays offered to the others.
                    rang, holders = open_offers.get(event.contact_id, (0, set()))
                    holders.discard(event.agent_id)
                    if not holders:
                        open_offers.pop(event.contact_id, None)
                elif isinstance(event, _OFFER_ENDS):
                    open_offers.pop(getattr(event, "contact_id", ""), None)
    return FailoverReport(
        acks=sum(sum(c.values()) for c in acked.values()),
        records={p: len(r) for p, r in logs.items()},
        offers=offers,
        leads=sum(len(o.leads) for o in outputs),
    )


# -- the harness ---------------------------------------------------------------------------


class _Process:
    """A node process and the lines it printed, read by a thread as they come."""

    def __init__(self, index: int, command: list[str], env: Mapping[str, str]) -> None:
        self.index = index
        self.lines: list[tuple[float, str]] = []
        self.stderr: list[str] = []
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], out: bool) -> None:
        for line in stream:
            if out:
                if line.endswith("\n"):  # a line cut short by a kill is not one
                    self.lines.append((time.monotonic(), line[:-1]))
            else:
                self.stderr.append(line)

    def signal(self, number: int) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, number)

    def finish(self, timeout: float = 10.0) -> None:
        """Kill it (if it still runs) and collect the rest of its output."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)


class Cluster:
    """Node processes on one engine, for failover tests and benchmarks.

    :param engine: ``"module:factory"`` of the engine.
    :param settings: the factory's keyword arguments (JSON data).
    :param partitions: the partitions every node may lead.
    :param ttl: the nodes' lease time, in seconds.
    :param seed: seeds the workload.
    :param options: more ``--name value`` options for the node processes
        (``tasks``, ``pace``, ``max_seconds``, ``snapshot_every``).
    """

    def __init__(
        self,
        engine: str,
        settings: Mapping[str, Any],
        partitions: Sequence[str],
        *,
        ttl: float = 1.0,
        seed: int = 0,
        **options: Any,
    ) -> None:
        self.engine = engine
        self.settings = dict(settings)
        self.partitions = tuple(partitions)
        self.ttl = ttl
        self.seed = seed
        self.options = options
        self.processes: list[_Process] = []

    def start_node(self) -> _Process:
        """Start one more node process (its index is its position)."""
        index = len(self.processes)
        command = [
            sys.executable,
            "-m",
            "ccroute.testing_cluster",
            "node",
            "--engine",
            self.engine,
            "--settings",
            json.dumps(self.settings),
            "--partitions",
            ",".join(self.partitions),
            "--name",
            f"node-{index}",
            "--index",
            str(index + 1),
            "--seed",
            str(self.seed),
            "--ttl",
            str(self.ttl),
        ]
        for name, value in self.options.items():
            command += [f"--{name.replace('_', '-')}", str(value)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        process = _Process(index, command, env)
        self.processes.append(process)
        return process

    def leader(self, partition: str) -> tuple[_Process, int] | None:
        """The live process that leads ``partition`` last (by what it printed), and its token."""
        best: tuple[_Process, int] | None = None
        for process in self.processes:
            if process.proc.poll() is not None:
                continue
            out = parse_output(process.index, list(process.lines))
            held: dict[str, int] = {}
            for p, token, *_ in out.leads:
                held[p] = token
            for _kind, p, token, *_ in out.losses:
                if held.get(p) == token:
                    del held[p]
            mine = held.get(partition)
            if mine is not None and (best is None or mine > best[1]):
                best = (process, mine)
        return best

    def wait_leader(
        self, partition: str, timeout: float, *, newer_than: int = 0
    ) -> tuple[_Process, int]:
        """Wait until a live process leads ``partition`` under a token above ``newer_than``.

        :raises AssertionError: none did within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.leader(partition)
            if found is not None and found[1] > newer_than:
                return found
            time.sleep(0.01)
        raise AssertionError(
            f"no node led {partition!r} (token > {newer_than}) within {timeout} s; stderr: "
            + " | ".join("".join(p.stderr)[-500:] for p in self.processes)
        )

    def acks_since(self, process: _Process, since: float) -> int:
        """How many ``ack`` lines ``process`` printed that were read after ``since``."""
        return sum(1 for at, line in list(process.lines) if at > since and line.startswith("ack"))

    def outputs(self) -> list[NodeOutput]:
        """What every process printed, parsed."""
        return [parse_output(p.index, list(p.lines)) for p in self.processes]

    def close(self) -> None:
        """Kill every process left."""
        for process in self.processes:
            process.finish()


@attrs.frozen(slots=True)
class FailoverRun:
    """What :func:`run_failover` measured, and the checker's report.

    :param takeovers: seconds from each ``SIGKILL`` of a leader to the next
        node's first acknowledged call on that partition.
    :param lead_seconds: the new leaders' own start times (lease granted to
        service running), from their ``lead`` lines.
    :param paused: what the paused leader printed when resumed (its
        ``lose`` reasons and the errors of its calls in flight).
    """

    report: FailoverReport
    takeovers: tuple[float, ...]
    lead_seconds: tuple[float, ...]
    warm: int
    paused: tuple[str, ...]
    stale_token: int | None


async def run_failover(
    engine: str,
    settings: Mapping[str, Any],
    *,
    partitions: Sequence[str] = ("p1",),
    nodes: int = 3,
    kills: int = 3,
    pause: bool = True,
    ttl: float = 1.0,
    seed: int = 0,
    load_seconds: float = 1.0,
    **options: Any,
) -> FailoverRun:
    """Run node processes under load, ``SIGKILL`` the leader of the first
    partition ``kills`` times (a fresh node replaces each), then ``SIGSTOP``
    the leader until another took over and resume it (``pause``), then
    check everything with :func:`check_failover` against the engine's logs.

    The engine must keep every record (``retention`` ``None``).

    :raises AssertionError: a guarantee was broken, or a node did not take
        over in time (``4 * ttl`` plus start-up).
    """
    rng = random.Random(seed)
    cluster = Cluster(engine, settings, partitions, ttl=ttl, seed=seed, **options)
    first = partitions[0]
    takeovers: list[float] = []
    paused_lines: list[str] = []
    stale: int | None = None
    try:
        for _ in range(nodes):
            cluster.start_node()
        _, token = cluster.wait_leader(first, 30.0)
        await anyio.sleep(load_seconds)
        for _ in range(kills):
            process, token = cluster.wait_leader(first, 4 * ttl + 10, newer_than=0)
            # At a random moment under load.
            await anyio.sleep(rng.uniform(0.05, 0.4))
            killed_at = time.monotonic()
            process.signal(signal.SIGKILL)
            cluster.start_node()
            new, new_token = cluster.wait_leader(first, 4 * ttl + 10, newer_than=token)
            deadline = time.monotonic() + 4 * ttl + 10
            while time.monotonic() < deadline:
                acked = [
                    at
                    for at, line in list(new.lines)
                    if at > killed_at and line.startswith(f"ack {first} {new_token} ")
                ]
                if acked:
                    takeovers.append(acked[0] - killed_at)
                    break
                await anyio.sleep(0.01)
            else:
                raise AssertionError(f"the new leader of {first!r} acknowledged nothing")
            await anyio.sleep(load_seconds)
        if pause:
            process, stale = cluster.wait_leader(first, 4 * ttl + 10)
            await anyio.sleep(rng.uniform(0.05, 0.3))
            process.signal(signal.SIGSTOP)
            # A process stopped inside a write transaction of an engine that
            # locks (SQLite's one writer) holds everyone up: resume it an
            # instant and stop it again until another node took over.
            for _attempt in range(5):
                try:
                    cluster.wait_leader(first, 4 * ttl + 5, newer_than=stale)
                    break
                except AssertionError:
                    process.signal(signal.SIGCONT)
                    await anyio.sleep(0.01)
                    process.signal(signal.SIGSTOP)
            else:
                raise AssertionError(f"no node took {first!r} over from the paused leader")
            process.signal(signal.SIGCONT)
            await anyio.sleep(ttl + 1.0)
            out = parse_output(process.index, list(process.lines))
            paused_lines = [
                f"{kind} {reason}"
                for kind, p, token, reason, _ in out.losses
                if p == first and token == stale
            ] + [
                f"failed {error}" for p, token, error in out.failed if p == first and token == stale
            ]
            if not any(line.startswith("lose") for line in paused_lines):
                raise AssertionError(
                    f"the paused leader of {first!r} (token {stale}) did not say it lost the "
                    f"lease after it was resumed: {paused_lines}"
                )
        cluster.close()
        outputs = cluster.outputs()
        checker = await open_engine(engine, settings)
        try:
            logs = {p: await read_log(checker, p) for p in partitions}
        finally:
            await checker.close()
        report = check_failover(outputs, logs)
    finally:
        cluster.close()
    leads = [lead for out in outputs for lead in out.leads]
    return FailoverRun(
        report=report,
        takeovers=tuple(takeovers),
        lead_seconds=tuple(lead[3] for lead in leads),
        warm=sum(1 for lead in leads if lead[2] == "warm"),
        paused=tuple(paused_lines),
        stale_token=stale,
    )


if __name__ == "__main__":
    _main()
