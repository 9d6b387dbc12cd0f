"""Memory the router holds per waiting contact, with a realistic number of requirement sets.

    .venv/bin/python benchmarks/memory_per_contact.py compiled|pure [--tracemalloc]

1,000 agents (all offline, so nothing is offered), 4 queues, 50 requirement
sets; 100,000 ``Contact`` objects are made first, then submitted, and the
resident set growth (or, with ``--tracemalloc``, the traced Python bytes)
is divided by the number of waiting contacts. compare_queue.py's table 3
measures the harder case where nearly every contact brings new requirements.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tracemalloc

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router, Strategy, _queue_py

CONTACTS = 100_000


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    impl = sys.argv[1]
    if impl == "compiled":
        from ccroute._fastqueue import UniversalQueue  # type: ignore[import-not-found]
    else:
        UniversalQueue = _queue_py.UniversalQueue
    rng = random.Random(1)
    clock = ManualClock()
    router = Router(clock, queue_backend=UniversalQueue())
    queues = ("sales", "support", "billing", "retention")
    for name in queues:
        router.add_queue(QueueConfig(name, Strategy.LONGEST_IDLE))
    for i in range(1_000):
        skills = {f"s{s}": rng.randint(3, 10) for s in rng.sample(range(20), 5)}
        capacity = {"voice": 1, "chat": 2, "email": 3}
        agent = Agent(f"agent{i:05d}", skills=skills, queues=set(queues), capacity=capacity)
        router.add_agent(agent, Presence.OFFLINE)
    sets = [
        {f"s{s}": rng.randint(1, 5) for s in rng.sample(range(20), rng.randint(1, 2))}
        for _ in range(50)
    ]
    contacts = [
        Contact(
            f"c{i}",
            rng.choice(("voice", "chat", "email")),
            rng.choice(queues),
            requirements=rng.choice(sets),
        )
        for i in range(CONTACTS)
    ]
    gc.collect()
    tracing = "--tracemalloc" in sys.argv
    if tracing:
        tracemalloc.start()
    before = rss()
    for contact in contacts:
        clock.advance(0.01)
        router.submit(contact)
    gc.collect()
    assert len(router) == CONTACTS
    if tracing:
        traced, _peak = tracemalloc.get_traced_memory()
        print(f"{impl}: {traced / CONTACTS:,.0f} traced bytes per waiting contact")
    else:
        print(f"{impl}: {(rss() - before) / CONTACTS:,.0f} B RSS growth per waiting contact")


if __name__ == "__main__":
    main()
