"""Workloads shared by the benchmarks: a seeded contact-centre run through the public API."""

from __future__ import annotations

import heapq
import random
from typing import Any

from ccroute import Agent, Contact, ManualClock, Offered, Presence, QueueConfig, Router, Strategy

CHANNELS = ("voice", "chat", "email")


def build(
    agents: int,
    skills: int,
    seed: int = 1,
    *,
    queue: Any = None,
    presence: Presence = Presence.AVAILABLE,
    wrap_up: float | None = 0,
    router_options: dict[str, Any] | None = None,
    queue_options: dict[str, Any] | None = None,
) -> tuple[Router, ManualClock, random.Random]:
    """A router with ``agents`` agents over ``skills`` skills (3 to 6 each), 4 queues, 3 channels.

    ``queue`` is an implementation of the universal queue to use instead of the
    default one; ``wrap_up`` is the queues' wrap-up (None: until ``end_wrap_up``);
    ``router_options`` and ``queue_options`` are passed on to :class:`Router`
    and every :class:`QueueConfig` (policies).
    """
    rng = random.Random(seed)
    clock = ManualClock()
    router = Router(clock, seed=seed, queue_backend=queue, **(router_options or {}))
    queues = ("sales", "support", "billing", "retention")
    strategies = (
        Strategy.LONGEST_IDLE,
        Strategy.MOST_SKILLED,
        Strategy.LEAST_OCCUPIED,
        Strategy.FEWEST_HANDLED,
    )
    for name, strategy in zip(queues, strategies, strict=True):
        router.add_queue(
            QueueConfig(
                name, strategy, offer_timeout=None, wrap_up=wrap_up, **(queue_options or {})
            )
        )
    for i in range(agents):
        chosen = rng.sample(range(skills), rng.randint(3, 6))
        router.add_agent(
            Agent(
                f"agent{i:05d}",
                skills={f"s{s}": rng.randint(3, 10) for s in chosen},
                queues=set(rng.sample(queues, rng.randint(1, 4))),
                capacity={"voice": 1, "chat": rng.randint(1, 3), "email": 3},
            ),
            presence,
        )
    return router, clock, rng


def route(
    router: Router,
    clock: ManualClock,
    rng: random.Random,
    contacts: int,
    skills: int,
    load: float = 0.9,
) -> int:
    """Submit ``contacts`` contacts; each offer is accepted and completed after a random time.

    Arrivals are paced so the centre runs near ``load``. Returns the number completed.
    """
    agents = len(router.agent_ids)
    mean_handle = 60.0
    rate = load * agents * 1.5 / mean_handle  # ~1.5 contacts in parallel per agent
    pending: list[tuple[float, int, str, str]] = []
    # with ring-all one contact has several offers: the first accept wins
    answered: set[str] = set()
    seq = 0
    t = 0.0
    for i in range(contacts):
        t += rng.expovariate(rate)
        while pending and pending[0][0] <= t:
            when, _s, what, contact_id = heapq.heappop(pending)
            if what and contact_id in answered:
                continue
            answered.add(contact_id)
            clock.set(when)
            events = router.accept(contact_id, what) if what else router.complete(contact_id)
            for event in events:
                if isinstance(event, Offered):
                    seq += 1
                    heapq.heappush(pending, (clock.now(), seq, event.agent_id, event.contact_id))
            if what:
                seq += 1
                heapq.heappush(
                    pending, (clock.now() + rng.expovariate(1 / mean_handle), seq, "", contact_id)
                )
        clock.set(t)
        requirements = {
            f"s{s}": rng.randint(1, 5) for s in rng.sample(range(skills), rng.randint(1, 2))
        }
        events = router.submit(
            Contact(
                f"c{i}",
                rng.choice(CHANNELS),
                rng.choice(("sales", "support", "billing", "retention")),
                requirements=requirements,
                priority_seconds=rng.choice((0, 0, 0, 30)),
            )
        )
        for event in events:
            if isinstance(event, Offered):
                seq += 1
                heapq.heappush(pending, (clock.now(), seq, event.agent_id, event.contact_id))
    return router.completed
