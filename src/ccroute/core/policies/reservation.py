"""Channel reservation: agents who could take a waiting call are kept free for it.

The rule, as docs/policies/blocking.md ("Reservation") states it: while a
contact on a channel of ``RoutingPolicy.reserve_for`` waits, every agent who
could take it if it were free (logged in, capacity on its channel, a member
with the skills it requires or the one agent it is reserved for, and no
exclusion, rejection bar or queue delay in the way) is *kept free*: it is
offered nothing on channels outside ``reserve_for``. When the reservation
lifts, the agents it kept free are routed again before the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from ...model import Presence

if TYPE_CHECKING:
    from ..router import _AgentRec, _ContactRec

__all__ = ["ChannelReservation", "fits"]


def fits(rec: _ContactRec, agent: _AgentRec) -> bool:
    """Whether the agent is a member with the skills the contact requires."""
    if agent.spec.queues.isdisjoint(rec.extra_queues) and rec.queue not in agent.spec.queues:
        return False
    levels = agent.levels
    return all(levels.get(s, 0) >= level for s, level in rec.requirements.items())


class ChannelReservation:
    """Keeps agents free for waiting contacts on reserved channels.

    Owns the waiting reserved-channel contacts, the agents routing kept free
    since they were last routed for it (``held``, in the router's snapshot
    as ``kept_free``) and whether a lift is due (``lift_pending``).

    :param channels: the reserved channels (``RoutingPolicy.reserve_for``).
    :param contacts: the router's live contacts by id (read, never changed).
    :param agents: the router's agents by id (read, never changed).
    :param by_handle: the same agents by handle.
    :param bars: the agents other policies bar from a contact (exclusions,
        rejection bars, queue delays): those are not kept free for it.
    :param timed: whether the answer depends on the time too (queue delays
        are configured).
    """

    __slots__ = (
        "_agents",
        "_bars",
        "_by_handle",
        "_cache",
        "_contacts",
        "_timed",
        "_version",
        "channels",
        "held",
        "lift_pending",
        "waiting",
    )

    def __init__(
        self,
        channels: frozenset[str],
        contacts: Mapping[str, _ContactRec],
        agents: Mapping[str, _AgentRec],
        by_handle: Mapping[int, _AgentRec],
        bars: Callable[[_ContactRec, float], set[int]],
        timed: Callable[[], bool],
    ) -> None:
        self.channels = channels
        #: Ids of the waiting contacts on reserved channels.
        self.waiting: set[str] = set()
        #: Handles of the agents routing kept free, routed again at the lift.
        self.held: set[int] = set()
        #: A reserved-channel contact stopped waiting, or something the
        #: answer depends on changed: look again before the call returns.
        self.lift_pending = False
        self._contacts = contacts
        self._agents = agents
        self._by_handle = by_handle
        self._bars = bars
        self._timed = timed
        # The answer of kept_free, valid while nothing it depends on changes:
        # every such change reaches this object as a notification below.
        self._version = 0
        self._cache: tuple[tuple[int, float], set[int]] | None = None

    # ------------------------------------------------------------ notifications

    def enqueued(self, contact_id: str) -> None:
        """A contact on a reserved channel waits."""
        self.waiting.add(contact_id)
        self._version += 1

    def dequeued(self, contact_id: str) -> None:
        """A contact on a reserved channel stopped waiting: the agents it kept
        free may take other work."""
        self.waiting.discard(contact_id)
        self._version += 1
        self.lift_pending = True

    def changed(self) -> None:
        """Something the answer depends on changed (an agent, its presence or
        capacity, an exclusion, a queue's settings)."""
        self._version += 1

    def recheck(self) -> None:
        """A change may have ended the reason an agent is kept free: look
        again before the call returns."""
        if self.waiting:
            self.lift_pending = True

    def hold(self, handles: Iterable[int]) -> None:
        """Routing kept these agents free: route them again when that ends."""
        self.held.update(handles)

    # ---------------------------------------------------------------- questions

    def kept_free(self, now: float) -> set[int]:
        """Handles of the agents kept free now (the caller must not change the set).

        Changes nothing the router's decisions read. Cost: O(reserved
        contacts x agents), once per change of what it depends on.
        """
        key = (self._version, now if self._timed() else 0.0)
        cache = self._cache
        if cache is None or cache[0] != key:
            cache = self._cache = (key, self._compute(now))
        return cache[1]

    def barred_agents(self, channel: str, now: float) -> set[int]:
        """Handles of the agents kept from a waiting contact on ``channel``
        (empty for a contact on a reserved channel)."""
        if self.waiting and channel not in self.channels:
            return self.kept_free(now)
        return set()

    def blocked_channels(
        self, agent: _AgentRec, channel_ids: Mapping[str, int], now: float
    ) -> list[int]:
        """The channels (ids) on which the agent is offered nothing new now."""
        if self.waiting and agent.handle in self.kept_free(now):
            reserved = self.channels
            return [ch for name, ch in channel_ids.items() if name not in reserved]
        return []

    def lifted(self, now: float) -> list[_AgentRec]:
        """When a lift is due: the agents kept free before and not any more,
        in agent-id order, for the router to route again; ``held`` becomes
        those kept free now."""
        if not self.lift_pending:
            return []
        self.lift_pending = False
        if not self.held:
            return []
        kept = self.kept_free(now) if self.waiting else set()
        released = self.held - kept
        self.held = set(kept)
        agents = (self._by_handle.get(h) for h in released)
        return sorted((a for a in agents if a is not None), key=lambda r: r.spec.id)

    def _compute(self, now: float) -> set[int]:
        kept: set[int] = set()
        contacts, agents = self._contacts, self._agents
        for contact_id in self.waiting:
            rec = contacts[contact_id]
            barred = self._bars(rec, now)
            # a contact reserved for one agent keeps that agent free, no other
            candidates: Iterable[_AgentRec] = (
                (agents[rec.target],) if rec.target is not None else agents.values()
            )
            for agent in candidates:
                if (
                    agent.handle in kept
                    or agent.handle in barred
                    or agent.presence is Presence.OFFLINE
                    or agent.capacity.get(rec.channel, 0) <= 0
                    or (rec.target is None and not fits(rec, agent))
                ):
                    continue
                kept.add(agent.handle)
        return kept
