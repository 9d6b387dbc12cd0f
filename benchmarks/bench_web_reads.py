"""What the web plugin's reads cost as a centre grows: the wallboard, a /metrics
scrape, an agent's desktop state, and an offer's trip through the channel's hook.

Each figure is measured in one run, side by side for the sizes given::

    PYTHONPATH=src:plugins/ccroute-web/src python benchmarks/bench_web_reads.py

Prints microseconds per call (median of the repeats).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import anyio
from ccroute_web import WebChannel
from ccroute_web._prometheus import registry_of
from ccroute_web._views import agent_state, wallboard
from prometheus_client import generate_latest

from ccroute import Agent, Contact, Presence, QueueConfig, Service

SIZES = ((5, 50, 100), (20, 200, 1_000), (50, 500, 5_000))  # queues, agents, contacts


def _per_call(fn: Callable[[], Any], repeats: int = 7, number: int = 20) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs) * 1e6


async def _measure(queues: int, agents: int, contacts: int) -> dict[str, float]:
    web = WebChannel(chat_queue="q0")
    async with Service(plugins=[web], load_entrypoints=False, sync="OFF") as service:
        await service.add_queues([QueueConfig(f"q{i}") for i in range(queues)])
        for a in range(agents):
            await service.add_agent(
                Agent(f"a{a}", queues=(f"q{a % queues}",), capacity={"chat": 3}),
                Presence.AVAILABLE,
            )
        for c in range(contacts):
            await service.submit(Contact(f"c{c}", "chat", f"q{c % queues}"))
        await service.flush()
        registry = registry_of(web)
        return {
            "wallboard": _per_call(lambda: wallboard(web)),
            "/metrics": _per_call(lambda: generate_latest(registry)),
            "agent state": _per_call(lambda: agent_state(web, "a0"), number=200),
        }


def main() -> None:
    print(
        f"{'queues':>6} {'agents':>6} {'contacts':>8} {'wallboard us':>13} {'/metrics us':>12} {'agent state us':>15}"
    )
    for queues, agents, contacts in SIZES:
        got = anyio.run(_measure, queues, agents, contacts)
        print(
            f"{queues:>6} {agents:>6} {contacts:>8} {got['wallboard']:>13.0f} "
            f"{got['/metrics']:>12.0f} {got['agent state']:>15.1f}"
        )


if __name__ == "__main__":
    main()
