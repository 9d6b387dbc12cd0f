"""Write the format-1 (pickle) fixtures the migration tests read. NOT run by the tests.

Format 1 was written by two revisions, and both shapes may be found on disk:

``v1-names.db``
    by ccroute ``eec6e78`` (the last revision before commands became values):
    each row's ``data`` is a pickle of ``(at, command name, args, kwargs, events)``.
``v1-commands.db``
    by ccroute ``61c948b``: a pickle of ``(at, Command, events)``.

Run it with the old code on the path, once per revision, from the repository root::

    mkdir -p /tmp/v1a /tmp/v1b
    git archive eec6e78 src | tar -x -C /tmp/v1a
    git archive 61c948b src | tar -x -C /tmp/v1b
    CCROUTE_PURE_PYTHON=1 PYTHONPATH=/tmp/v1a/src .venv/bin/python tests/golden/v1/make_v1.py \
        tests/golden/v1/v1-names.db
    CCROUTE_PURE_PYTHON=1 PYTHONPATH=/tmp/v1b/src .venv/bin/python tests/golden/v1/make_v1.py \
        tests/golden/v1/v1-commands.db

The script drives a real :class:`ccroute.Service` on a manual clock through
every call the service logs (and its IVR, CRM and delivery notes), with a
snapshot every 10 records, so the file is what a running service of that
revision left behind. The files are committed; never regenerate them (they
stand for logs already on disk).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

import ccroute
from ccroute import (
    Agent,
    Channel,
    ChannelKind,
    Contact,
    ManualClock,
    Presence,
    QueueConfig,
    RoutingStep,
    Service,
    Strategy,
    hookimpl,
)


class Desk:
    """Shows every offer to the agents and knows one customer."""

    @hookimpl
    def ccroute_deliver_offer(self, delivery: Any) -> bool:
        return True

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return {"tier": "gold"} if customer_id == "cust-1" else None


async def main(path: Path) -> None:
    clock = ManualClock(1_700_000_000.0)
    service = Service(
        path=path, plugins=[Desk()], load_entrypoints=False, clock=clock, snapshot_every=10
    )
    async with service:
        await service.add_channel(Channel("whatsapp", ChannelKind.SEMI_SYNCHRONOUS, 2, 25))
        await service.add_queues(
            [
                QueueConfig(
                    "sales",
                    Strategy.MOST_SKILLED,
                    offer_timeout=20.0,
                    wrap_up=5.0,
                    steps=(RoutingStep(30.0, {"fr": None}, {"support"}),),
                ),
                QueueConfig("support", offer_timeout=None, wrap_up=None, max_size=5),
            ]
        )
        await service.add_queue(QueueConfig("vip", blocking={"voice": {"chat"}}, max_size=0))
        await service.add_agent(
            Agent("ann", skills={"en": 8, "fr": 4}, queues=("sales", "support")),
            Presence.AVAILABLE,
        )
        await service.add_agent(
            Agent("bob", skills={"en": 5}, queues=("sales",), capacity={"voice": 1, "chat": 2})
        )
        await service.set_presence("bob", Presence.AVAILABLE, "login")
        await service.set_capacity("bob", "chat", 3)
        clock.advance(1.5)
        await service.submit(
            Contact(
                "c1",
                "voice",
                "sales",
                requirements={"en": 5},
                priority_seconds=10.0,
                customer_id="cust-1",
                attributes={"ivr_path": "1-3", "tags": ["new", "web"], "score": 0.25},
            )
        )
        await service.inbound(Contact("c2", "chat", "sales", customer_id="cust-1"))
        clock.advance(2.0)
        offered = service.router.contact("c1").agent_id
        assert offered is not None
        await service.accept("c1", offered)
        other = service.router.contact("c2").agent_id
        assert other is not None
        await service.reject("c2", other)
        clock.advance(3.0)
        await service.complete("c1")
        clock.advance(5.0)
        await service.tick()
        await service.submit(Contact("c3", "email", "support"))
        await service.submit(Contact("c4", "voice", "vip"))  # refused: the queue holds none
        await service.add_exclusion("cust-9", "ann")
        await service.remove_exclusion("cust-9", "ann")
        holder = service.router.contact("c3").agent_id
        if holder is not None:
            await service.accept("c3", holder)
        await service.transfer("c3", queue="sales", requirements={"en": 2}, keep_key=False)
        await service.set_presence("ann", Presence.NOT_READY, "break")
        await service.submit(Contact("c5", "voice", "support"))  # waits: nobody is ready
        await service.request_callback("c5", "callback")
        await service.abandon("c2")
        clock.advance(25.0)  # timers fall due: the next call logs a tick record first
        await service.remove_agent("bob")
        await anyio.sleep(0.2)  # let delivery and history notes reach the log
    print(f"{path}: ccroute {ccroute.__file__}")


if __name__ == "__main__":
    target = Path(sys.argv[1])
    if target.exists():
        raise SystemExit(f"{target} exists; fixtures are never regenerated")
    anyio.run(main, target)
