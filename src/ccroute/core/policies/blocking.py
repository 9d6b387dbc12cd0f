"""The channel-blocking matrix: work on one channel blocks new offers on others.

The rule, as docs/policies/blocking.md ("Blocking matrix") states it: an
agent holds work on a channel while a contact of that channel is offered to
it, in service or in wrap-up. An agent holding work on channel *H* is offered
nothing on the channels of ``RoutingPolicy.blocking[H]``; for a contact of
queue *Q*, the channels of *Q*'s own ``blocking[H]`` are blocked as well
(a queue's matrix adds to the router's, for its own contacts only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

#: A blocking matrix as the policy values hold it: (holding channel, blocked channels) pairs.
Matrix = tuple[tuple[str, frozenset[str]], ...]

if TYPE_CHECKING:
    from ..router import _AgentRec, _ContactRec

__all__ = ["ChannelBlocking", "Matrix"]


class ChannelBlocking:
    """The blocking matrices, and which agents hold work on which channel.

    Built when the first matrix is given (the router's, or a queue's), from
    the work the agents hold then; kept up to date from there on. Rebuilt on
    restore from the policy, the queues' settings and the agents' work.

    :param matrix: the router-wide matrix (``RoutingPolicy.blocking``).
    :param agents: the router's agents by id (read, never changed).
    :param contacts: the router's live contacts by id (read, never changed).
    :param channel_ids: channel name -> the queue's channel id.
    :param queue_waiting: queue -> ids of its waiting contacts, kept by the
        router for every queue with a matrix of its own.
    """

    __slots__ = (
        "_agents",
        "_channel_ids",
        "_contacts",
        "_queue_waiting",
        "holding",
        "matrix",
        "queue_matrices",
    )

    def __init__(
        self,
        matrix: Matrix,
        agents: Mapping[str, _AgentRec],
        contacts: Mapping[str, _ContactRec],
        channel_ids: Mapping[str, int],
        queue_waiting: Mapping[str, set[str]],
    ) -> None:
        #: holding channel -> channels its work blocks, router-wide
        self.matrix: dict[str, frozenset[str]] = dict(matrix)
        #: queue -> its own matrix
        self.queue_matrices: dict[str, dict[str, frozenset[str]]] = {}
        #: channel -> ids of the agents holding work on it
        self.holding: dict[str, set[str]] = {}
        self._agents = agents
        self._contacts = contacts
        self._channel_ids = channel_ids
        self._queue_waiting = queue_waiting
        for agent in agents.values():
            for channel, n in agent.load.items():
                if n:
                    self.holding.setdefault(channel, set()).add(agent.spec.id)

    # ------------------------------------------------------------ notifications

    def took(self, agent_id: str, channel: str) -> None:
        """The agent holds work on ``channel`` now (it held none there)."""
        self.holding.setdefault(channel, set()).add(agent_id)

    def freed(self, agent_id: str, channel: str) -> None:
        """The agent holds no more work on ``channel``."""
        self.holding[channel].discard(agent_id)

    def set_queue_matrix(self, queue: str, matrix: Matrix) -> None:
        """A queue's own matrix (empty: it has none any more)."""
        if matrix:
            self.queue_matrices[queue] = dict(matrix)
        else:
            self.queue_matrices.pop(queue, None)

    # ---------------------------------------------------------------- questions

    def blockers(self, rec: _ContactRec) -> list[str]:
        """Channels whose work blocks this contact's channel (router-wide and its queue's)."""
        channel = rec.channel
        found = [c for c, blocked in self.matrix.items() if channel in blocked]
        own = self.queue_matrices.get(rec.queue)
        if own:
            found.extend(c for c, blocked in own.items() if channel in blocked)
        return found

    def barred_agents(self, rec: _ContactRec) -> set[int]:
        """Handles of the agents whose work blocks this contact's channel."""
        blocked: set[int] = set()
        agents, holding = self._agents, self.holding
        for channel in self.blockers(rec):
            blocked.update(agents[a].handle for a in holding.get(channel, ()))
        return blocked

    def barred_contacts(self, agent: _AgentRec) -> set[int]:
        """Handles of the waiting contacts a queue's own matrix keeps from the
        agent (the router-wide matrix blocks whole channels:
        :meth:`blocked_channels`)."""
        barred: set[int] = set()
        contacts = self._contacts
        for queue, matrix in self.queue_matrices.items():
            blocked: set[str] = set()
            for holding, channels in matrix.items():
                if agent.load.get(holding):
                    blocked |= channels
            if blocked:
                for contact_id in self._queue_waiting[queue]:
                    rec = contacts[contact_id]
                    if rec.channel in blocked:
                        barred.add(rec.handle)
        return barred

    def blocked_channels(self, agent: _AgentRec) -> set[int]:
        """Channel ids on which the router-wide matrix blocks new work for the agent."""
        blocked: set[int] = set()
        channel_ids = self._channel_ids
        for holding, channels in self.matrix.items():
            if agent.load.get(holding):
                blocked.update(channel_ids[c] for c in channels)
        return blocked
