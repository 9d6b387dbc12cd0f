"""The router's read-side figures against brute force, on both queue twins: a
waiting contact's position in its queue (O(log n)), and the per-queue and
per-channel counts of waiting contacts and of agents logged in and available,
through random calls that move contacts between queues, change their
requirements, presence and capacities, and restore from snapshots.
"""

from __future__ import annotations

import random

import pytest

from ccroute import (
    Agent,
    CCRouteError,
    Channel,
    ChannelKind,
    Contact,
    Presence,
    QueueConfig,
    Router,
    RoutingStep,
)
from ccroute.lifecycle import ContactState
from ccroute.testing import RouterHarness

pytestmark = pytest.mark.usefixtures("queue_factory")

QUEUES = ("q1", "q2", "q3")
CHANNELS = ("voice", "chat", "email")


def check(router: Router) -> None:
    """Every figure equals what counting everything again gives."""
    views = [router.contact(c) for c in router.contact_ids]
    for view in views:
        if view.state is ContactState.WAITING:
            ahead = sum(
                1
                for other in views
                if other.state is ContactState.WAITING
                and other.queue == view.queue
                and other.key < view.key
            )
            assert router.position(view.id) == ahead + 1
        if view.state in (ContactState.IN_SERVICE, ContactState.WRAP_UP):
            assert view.answered_at is not None
        else:
            assert view.answered_at is None
    agents = [router.agent(a) for a in router.agent_ids]
    for queue in router.queues:
        stats = router.queue_stats(queue)
        members = [a for a in agents if queue in a.queues]
        assert (
            stats.name,
            stats.waiting,
            stats.offered,
            stats.logged_in,
            stats.available,
            stats.scheduled,
        ) == (
            queue,
            sum(1 for v in views if v.queue == queue and v.state is ContactState.WAITING),
            sum(1 for v in views if v.queue == queue and v.state is ContactState.OFFERED),
            sum(1 for a in members if a.presence is not Presence.OFFLINE),
            sum(1 for a in members if a.presence is Presence.AVAILABLE),
            sum(1 for v in views if v.queue == queue and v.state is ContactState.SCHEDULED),
        )
    for channel in router.channels:
        stats = router.channel_stats(channel.name)
        able = [a for a in agents if a.capacity.get(channel.name, 0) > 0]
        assert (stats.logged_in, stats.available) == (
            sum(1 for a in able if a.presence is not Presence.OFFLINE),
            sum(1 for a in able if a.presence is Presence.AVAILABLE),
        )


@pytest.mark.parametrize("seed", range(6))
def test_positions_and_counts_agree_with_counting_everything(seed: int) -> None:
    rng = random.Random(seed)
    h = RouterHarness(seed=seed)
    steps = (RoutingStep(after=20, queues=frozenset({"q3"})),)
    h.router.add_queues(
        [
            QueueConfig(
                "q1", offer_timeout=15, wrap_up=5, steps=steps, callback_retries=(10.0, 30.0)
            ),
            QueueConfig("q2", max_wait=40, overflow="q3", offer_timeout=None),
            QueueConfig("q3", wrap_up=0),
        ]
    )
    for i in range(6):
        h.router.add_agent(
            Agent(
                f"a{i}",
                skills={"en": rng.randint(1, 9)},
                queues=frozenset(rng.sample(QUEUES, rng.randint(1, 3))),
                capacity={"voice": 1, "chat": rng.randint(0, 2), "email": rng.randint(0, 3)},
            ),
            rng.choice(list(Presence)),
        )
    # Read some figures at once (built early), others only later (built late).
    if seed % 2:
        check(h.router)
    n = 0
    for _ in range(400):
        router = h.router
        ids = router.contact_ids
        roll = rng.random()
        try:
            if roll < 0.3:
                n += 1
                router.submit(
                    Contact(
                        f"c{n}",
                        rng.choice(CHANNELS),
                        rng.choice(QUEUES),
                        requirements={"en": rng.randint(1, 9)},
                        priority_seconds=rng.choice([0.0, 5.0, 30.0]),
                        tier=rng.choice([0, 0, 1]),
                    )
                )
            elif roll < 0.4 and ids:
                c = rng.choice(ids)
                router.accept(c, router.contact(c).agent_id or "a0")
            elif roll < 0.45 and ids:
                c = rng.choice(ids)
                router.reject(c, router.contact(c).agent_id or "a0")
            elif roll < 0.5 and ids:
                router.complete(rng.choice(ids))
            elif roll < 0.55 and ids:
                router.abandon(rng.choice(ids))
            elif roll < 0.6 and ids:
                router.transfer(
                    rng.choice(ids), queue=rng.choice(QUEUES), keep_key=rng.random() < 0.5
                )
            elif roll < 0.7:
                router.set_presence(f"a{rng.randrange(6)}", rng.choice(list(Presence)))
            elif roll < 0.77:
                router.set_capacity(f"a{rng.randrange(6)}", rng.choice(CHANNELS), rng.randint(0, 3))
            elif roll < 0.8 and ids:
                router.request_callback(rng.choice(ids))
            elif roll < 0.81:
                name = f"fax{n}"
                router.add_channel(Channel(name, ChannelKind.ASYNCHRONOUS))
            elif roll < 0.83:
                # A restored router builds its figures again from its state.
                clock = h.clock
                h.router = Router.restore(router.snapshot(), clock)
            elif roll < 0.87:
                # Callbacks held for later: counted as scheduled, not waiting.
                n += 1
                router.schedule_callback(
                    Contact(f"c{n}", rng.choice(CHANNELS), rng.choice(QUEUES)),
                    router.now + rng.choice([0.0, 5.0, 30.0, 90.0]),
                )
            elif roll < 0.92 and ids:
                # An unanswered call back is scheduled again (q1), or closed unreached.
                answered = [c for c in ids if router.contact(c).state is ContactState.IN_SERVICE]
                if answered:
                    router.callback_unanswered(rng.choice(answered))
            else:
                h.advance(rng.choice([1.0, 7.0, 21.0]))
        except CCRouteError:
            pass
        if rng.random() < 0.3:
            check(h.router)
    check(h.router)
