"""Drive a durable :class:`~ccroute.Service` whose custom strategies misbehave, to be killed.

Run as a script (tests/test_strategy_crash.py starts it as a subprocess and
``SIGKILL``\\s it at random moments)::

    python tests/strategy_crash_driver.py DB SEED START_INDEX [--backend asyncio|trio]
        [--ops N] [--max-seconds 30] [--snapshot-every 9]

The service runs on SQLite (``synchronous=FULL``) with the strategies of
tests/misbehaving.py (raising now and then, random, reading the clock,
keeping state; new ones at each start, so they answer differently from the
ones that wrote the log). Every queue names one of them; two ring several
agents at once. Nothing is timed (no offer timeouts, wrap-ups end when
told) and one task makes the calls, one after another: when a call
returns, the router holds exactly what the log holds up to the last durable
record, so the driver can print it.

Every line on stdout is flushed as soon as it is written:

``ready <last_seq> <digest>``
    the service has started (recovered); the digest is :func:`digest` of its
    state, taken before any call.
``ack <last_seq> <digest> <offers> <failures>``
    a call returned (it is durable): the last durable record, the digest of
    the state now, the offers the call made and ``strategy_failures``.
``done <acks>``
    ``--ops`` calls were acknowledged and the service stopped cleanly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crash_driver import GatedClock, canonical
from misbehaving import MisbehavingStrategies

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    Offered,
    Presence,
    QueueConfig,
    Router,
    Service,
)
from ccroute.lifecycle import ContactState
from ccroute.testing import snapshot

QUEUES = (
    QueueConfig("flaky", strategy="flaky", offer_timeout=None, wrap_up=None),
    QueueConfig("dice", strategy="dice", ring=2, offer_timeout=None, wrap_up=None),
    QueueConfig("stopwatch", strategy="stopwatch", offer_timeout=None, wrap_up=None),
    QueueConfig("tally", strategy="tally", ring=3, offer_timeout=None, wrap_up=None),
    QueueConfig("junk", strategy="junk", offer_timeout=None, wrap_up=None),
)
NAMES = tuple(q.name for q in QUEUES)
AGENTS = tuple(
    Agent(f"a{i}", skills={"en": i}, queues=NAMES[i % 2 :: 1 + i % 2], capacity={"chat": 2})
    for i in range(1, 8)
)
#: Live contacts above which submits become rare, so agents often have a choice.
LIVE_TARGET = 10


def digest(router: Router) -> str:
    """SHA-256 of what a user sees: the views, the waiting order, every
    contact's holders (ring-all's too), the counters, ``strategy_failures``."""
    state = {
        **snapshot(router),
        "holders": {c: router.explain(c).agents for c in router.contact_ids},
        "strategy_failures": router.strategy_failures,
    }
    text = json.dumps(canonical(state), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def emit(line: str) -> None:
    print(line, flush=True)


async def call(service: Service, rng: random.Random, op: int) -> list[Any] | None:
    """One call chosen among those that make sense now; its events, or
    ``None`` when the router refused it."""
    router = service.router
    by_state: dict[ContactState, list[str]] = {s: [] for s in ContactState}
    for contact_id in router.contact_ids:
        by_state[router.contact(contact_id).state].append(contact_id)
    offered = by_state[ContactState.OFFERED]
    roll = rng.random()
    if roll < 0.35 and len(router.contact_ids) > LIVE_TARGET:
        roll = 0.35 + rng.random() * 0.65
    try:
        if roll < 0.35:
            channel = rng.choice(["voice", "chat"])
            return await service.submit(Contact(f"c{op}", channel, rng.choice(NAMES)))
        if roll < 0.5 and offered:
            contact_id = rng.choice(offered)
            holder = rng.choice(router.explain(contact_id).agents)
            return await service.accept(contact_id, holder)
        if roll < 0.58 and offered:
            contact_id = rng.choice(offered)
            holder = rng.choice(router.explain(contact_id).agents)
            return await service.reject(contact_id, holder)
        if roll < 0.7 and by_state[ContactState.IN_SERVICE]:
            return await service.complete(rng.choice(by_state[ContactState.IN_SERVICE]))
        if roll < 0.8 and by_state[ContactState.WRAP_UP]:
            return await service.end_wrap_up(rng.choice(by_state[ContactState.WRAP_UP]))
        if roll < 0.9:
            presence = rng.choice([Presence.AVAILABLE] * 3 + [Presence.NOT_READY])
            return await service.set_presence(rng.choice(AGENTS).id, presence)
        if roll < 0.95 and router.contact_ids:
            return await service.abandon(rng.choice(router.contact_ids))
        waiting = by_state[ContactState.WAITING] + offered
        if waiting:
            return await service.transfer(rng.choice(waiting), queue=rng.choice(NAMES))
        return await service.set_presence(rng.choice(AGENTS).id, Presence.AVAILABLE)
    except CCRouteError:
        return None


async def run(args: argparse.Namespace) -> None:
    """Start the service, report recovery, set up, then call it until done or killed."""
    clock = GatedClock()
    service = Service(
        path=args.db,
        load_entrypoints=False,
        sync="FULL",
        clock=clock,
        seed=0,
        snapshot_every=args.snapshot_every,
        plugins=[MisbehavingStrategies()],
    )
    rng = random.Random(f"{args.seed}:{args.start_index}")
    acks = 0
    with anyio.move_on_after(args.max_seconds):
        async with service:
            if service.recovery_problem is not None:
                print(f"recovery problem: {service.recovery_problem}", file=sys.stderr)
            router = service.router
            emit(f"ready {service.durable_seq} {digest(router)}")
            clock.open()
            missing = [q for q in QUEUES if q.name not in router.queues]
            if missing:
                await service.add_queues(missing)
            for agent in AGENTS:
                if agent.id not in router.agent_ids:
                    await service.add_agent(agent, Presence.AVAILABLE)
            op = args.start_index
            while args.ops is None or acks < args.ops:
                op += 1
                events = await call(service, rng, op)
                if events is None:
                    continue
                acks += 1
                offers = sum(isinstance(e, Offered) for e in events)
                emit(
                    f"ack {service.durable_seq} {digest(router)} {offers} "
                    f"{router.strategy_failures}"
                )
    if args.ops is not None and acks >= args.ops:
        emit(f"done {acks}")


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the driver."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("seed", type=int)
    parser.add_argument("start_index", type=int)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--ops", type=int, default=None)
    parser.add_argument("--max-seconds", type=float, default=30.0)
    parser.add_argument("--snapshot-every", type=int, default=9)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    main()
