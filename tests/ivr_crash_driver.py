"""Run callers through a flow on a durable :class:`~ccroute.Service`, to be killed.

Run as a script (tests/test_ivr_crash.py starts it and ``SIGKILL`` s it)::

    python tests/ivr_crash_driver.py DB START [--backend asyncio|trio]
        [--callers 6] [--seed 0] [--max-seconds 20]

It opens ``Service(path=DB)`` (SQLite, ``synchronous=FULL``), declares the
queues, prints ``ready <json>`` once started (the JSON: what the service
recovered, ``service.flows.recovered``), then runs ``--callers`` callers at
once, with seeded pauses between their answers, through the flow of
:func:`flow`: the language, a card number (sensitive, Luhn-checked), and a
topic menu, which one caller in three answers (it is then routed to
``billing``) and the others leave waiting. Contact ids are ``s<START>-<n>``.

Every line on stdout is flushed as it is written:

``started <contact>``
    :meth:`LiveFlows.start <ccroute.ivr.live.LiveFlows.start>` returned:
    the caller's ``FlowStarted`` note is durable.
``ack <contact> <node>``
    an answer was taken and the call returned with the next step (``node``:
    the node that produced it); it is durable.

The driver then sleeps until ``--max-seconds`` have passed since it started
(so an orphan ends by itself) and stops cleanly; the test kills it first.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ivr_helpers import make_flow

from ccroute import Contact, QueueConfig, Service
from ccroute.ivr import Flow

CARD = "4111111111111111"


def flow() -> Flow:
    """Language, a sensitive card number, then a topic menu that waits for the caller."""
    return make_flow(
        {
            "lang": {
                "kind": "menu",
                "prompt": "1 for English",
                "options": [{"digit": "1", "next": "english"}],
            },
            "english": {
                "kind": "set",
                "requirements": {"english": 2},
                "attributes": {"language": "en"},
                "next": "account",
            },
            "account": {
                "kind": "collect",
                "prompt": "Your card number?",
                "field": "account",
                "sensitive": True,
                "validators": [{"kind": "luhn"}],
                "next": "topic",
            },
            "topic": {
                "kind": "menu",
                "prompt": "1 for billing",
                "options": [{"digit": "1", "next": "billing"}],
            },
            "billing": {"kind": "transfer", "queue": "billing"},
        },
        name="crash",
        time_limit=3600,
        input_timeout=600,
        fallback={"queue": "general"},
    )


def emit(line: str) -> None:
    """Print one line at once (the test reads the file as the driver runs)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def caller(service: Service, the_flow: Flow, contact_id: str, rng: random.Random) -> None:
    """One caller: start, choose English, give the card; one in three picks a topic."""
    await anyio.sleep(rng.uniform(0.0, 0.3))
    contact = Contact(contact_id, "voice", "general", attributes={"note": f"card {CARD}"})
    live = await service.flows.start(the_flow, contact)
    emit(f"started {contact_id}")
    answers = ["1", CARD] + (["1"] if rng.random() < 1 / 3 else [])
    for answer in answers:
        await anyio.sleep(rng.uniform(0.0, 0.15))
        step = await live.input(answer)
        assert step is not None
        emit(f"ack {contact_id} {step.node}")


async def run(args: argparse.Namespace) -> None:
    """Start the service, report recovery, run the callers, then wait to be killed."""
    began = time.monotonic()
    service = Service(path=args.db, load_entrypoints=False, sync="FULL", hook_timeout=2.0)
    async with service:
        await service.add_queues([QueueConfig("general"), QueueConfig("billing")])
        emit(f"ready {json.dumps(service.flows.recovered, sort_keys=True)}")
        the_flow = flow()
        rng = random.Random(args.seed)
        async with anyio.create_task_group() as tg:
            for n in range(args.callers):
                tg.start_soon(
                    caller, service, the_flow, f"s{args.start}-{n}", random.Random(rng.random())
                )
        await anyio.sleep(max(0.0, args.max_seconds - (time.monotonic() - began)))


def main() -> None:
    """Parse the command line and run the driver."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db")
    parser.add_argument("start", type=int)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--callers", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=20.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    main()
