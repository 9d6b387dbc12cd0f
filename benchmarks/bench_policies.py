"""What routing policies and offer reasons cost: contacts routed per second, side by side.

Every configuration runs the same seeded workload (benchmarks/workloads.py:
submit, accept, complete, near 90% load) on the compiled queue; rounds are
interleaved so the machine's noise falls on all of them alike, and the table
gives medians and the ratio to the first row.

    .venv/bin/python benchmarks/bench_policies.py [--agents 200] [--contacts 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from tables import print_table
from workloads import build, route

from ccroute import RampUp, RoutingPolicy

SKILLS = 12

#: name -> (Router options, QueueConfig options)
CONFIGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "no policies, offer_reasons=False": ({"offer_reasons": False}, {}),
    "no policies, offer reasons (default)": ({}, {}),
    "blocking voice->chat,email": (
        {"policy": RoutingPolicy(blocking={"voice": {"chat", "email"}})},
        {},
    ),
    "ramp-up 60 s / 3 accepted": ({"policy": RoutingPolicy(ramp_up=RampUp(60.0, 3))}, {}),
    "ring 2": ({}, {"ring": 2}),
    "max wait 600 s + rejoin window": ({}, {"max_wait": 600.0, "rejoin_window": 60.0}),
    "voice reservation": ({"policy": RoutingPolicy(reserve_for={"voice"})}, {}),
}


def one_round(name: str, agents: int, contacts: int) -> float:
    router_options, queue_options = CONFIGS[name]
    router, clock, rng = build(
        agents, SKILLS, router_options=router_options, queue_options=queue_options
    )
    start = time.perf_counter()
    route(router, clock, rng, contacts, SKILLS)
    return contacts / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for _ in range(args.rounds):
        for name in CONFIGS:
            rates[name].append(one_round(name, args.agents, args.contacts))
    base = statistics.median(rates[next(iter(CONFIGS))])
    rows = []
    for name, values in rates.items():
        median = statistics.median(values)
        rows.append([name, f"{median:,.0f}", f"{median / base:.2f}"])
    print(f"{args.agents} agents, {args.contacts} contacts, median of {args.rounds} rounds")
    print_table(["configuration", "contacts/s", "ratio"], rows)


if __name__ == "__main__":
    main()
