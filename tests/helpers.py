"""Test helpers: a harness that drives a Router with a manual clock, and state snapshots."""

from __future__ import annotations

from typing import Any

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router
from ccroute.events import Event


def snapshot(router: Router) -> dict[str, Any]:
    """Everything observable about a router, for "nothing changed" assertions."""
    return {
        "agents": {a: router.agent(a) for a in router.agent_ids},
        "contacts": {c: router.contact(c) for c in router.contact_ids},
        "waiting": [c.id for c in router.waiting()],
        "sizes": {q: router.queue_size(q) for q in router.queues},
        "next_due": router.next_due(),
        "counts": (router.submitted, router.completed, router.abandoned, len(router)),
        "now": router.now,
    }


class RouterHarness:
    """A router, its manual clock, and every event it produced (as h11's ConnectionPair)."""

    def __init__(self, **kwargs: Any) -> None:
        self.clock = ManualClock()
        self.router = Router(self.clock, **kwargs)
        self.events: list[Event] = []
        self.router.observe(self.events.extend)

    def queue(self, name: str, **kwargs: Any) -> None:
        self.router.add_queue(QueueConfig(name, **kwargs))

    def agent(
        self, agent_id: str, presence: Presence = Presence.AVAILABLE, **kwargs: Any
    ) -> list[Event]:
        return self.router.add_agent(Agent(agent_id, **kwargs), presence)

    def submit(
        self, contact_id: str, channel: str = "voice", queue: str = "q", **kwargs: Any
    ) -> list[Event]:
        return self.router.submit(Contact(contact_id, channel, queue, **kwargs))

    def advance(self, seconds: float) -> list[Event]:
        self.clock.advance(seconds)
        return self.router.tick().events

    def offers(self, events: list[Event] | None = None) -> list[tuple[str, str]]:
        from ccroute import Offered

        return [
            (e.contact_id, e.agent_id)
            for e in (self.events if events is None else events)
            if isinstance(e, Offered)
        ]
