"""Queue delays: an agent takes a queue's contacts only once they have waited a while.

The rule, as docs/policies/fairness.md states it: an agent whose
``queue_delays`` give queue *Q* a delay *d* > 0 is not offered a contact of
*Q* until that contact has waited *d* seconds in *Q* (counted from its entry
into the queue). The delay changes nothing but eligibility, and holds from
the instant it ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..router import _AgentRec, _ContactRec

__all__ = ["QueueDelays"]


class QueueDelays:
    """The agents' delays, by queue, and whom they keep from what.

    Rebuilt on restore from the agents' settings. Built when the first agent
    with a delay is added or given one; the router keeps each contact's timer
    at the time :meth:`next_due` gives.

    :param agents: the router's agents by id (read, never changed).
    :param contacts: the router's live contacts by id (read, never changed).
    :param queue_waiting: queue -> ids of its waiting contacts, kept by the
        router for every queue some agent delays.
    """

    __slots__ = ("_agents", "_contacts", "_queue_waiting", "by_queue")

    def __init__(
        self,
        agents: Mapping[str, _AgentRec],
        contacts: Mapping[str, _ContactRec],
        queue_waiting: Mapping[str, set[str]],
    ) -> None:
        #: queue -> agent id -> delay, for the queues some agent delays
        self.by_queue: dict[str, dict[str, float]] = {}
        self._agents = agents
        self._contacts = contacts
        self._queue_waiting = queue_waiting

    # ------------------------------------------------------------ notifications

    def add(self, queue: str, agent_id: str, delay: float) -> None:
        """The agent delays the queue (``delay`` > 0)."""
        self.by_queue.setdefault(queue, {})[agent_id] = delay

    def remove(self, queue: str, agent_id: str) -> None:
        """The agent no longer delays the queue."""
        delays = self.by_queue.get(queue)
        if delays is not None:
            delays.pop(agent_id, None)
            if not delays:
                del self.by_queue[queue]

    # ---------------------------------------------------------------- questions

    def next_due(self, rec: _ContactRec, now: float) -> float | None:
        """When the next delay of the contact's queue that is not over yet ends
        (``None``: none is left)."""
        waited = now - rec.entered_at
        later = [d for d in self.by_queue.get(rec.queue, {}).values() if d > waited]
        return rec.entered_at + min(later) if later else None

    def barred_agents(self, rec: _ContactRec, now: float) -> set[int]:
        """Handles of the agents whose delay for the contact's queue is not over."""
        delays = self.by_queue.get(rec.queue)
        if not delays:
            return set()
        waited = now - rec.entered_at
        agents = self._agents
        return {agents[a].handle for a, d in delays.items() if waited < d}

    def barred_contacts(self, agent: _AgentRec, now: float) -> set[int]:
        """Handles of the waiting contacts the agent's delays keep from it now:
        the same answer as :meth:`barred_agents`, asked from the agent's side."""
        barred: set[int] = set()
        contacts = self._contacts
        for queue, delay in agent.spec.queue_delays:
            if delay > 0:
                for contact_id in self._queue_waiting[queue]:
                    rec = contacts[contact_id]
                    if now - rec.entered_at < delay:
                        barred.add(rec.handle)
        return barred
