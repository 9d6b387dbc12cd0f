"""The rejection bar: a contact is not offered again to an agent who declined it.

The rule, as docs/routing.md ("Eligibility", 5) states it: an agent who
rejected a contact or let its offer time out is not offered it again while
some other logged-in agent (available or not-ready) who has not rejected it
could take it; an excluded agent is no one. When nobody else could, the bar
lifts. The bar ends when the contact is answered, leaves, or is transferred
or overflows (it then waits afresh).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...lifecycle import ContactState

if TYPE_CHECKING:
    from ..._queue_protocol import QueueBackend
    from ..router import _AgentRec, _ContactRec

__all__ = ["RejectionBar"]


class RejectionBar:
    """Who declined which contact, and whom that bars.

    The state is on the records (a contact's ``rejected_by``, an agent's
    ``rejected``, both in the snapshot); this object keeps the waiting
    contacts someone declined (``waiting``), which a change that leaves
    fewer agents to take them must look at again.

    :param agents: the router's agents by id (read, never changed).
    :param contacts: the router's live contacts by id (read, never changed).
    :param queue: the universal queue, asked whether anyone else could take a contact.
    """

    __slots__ = ("_agents", "_contacts", "_queue", "waiting")

    def __init__(
        self,
        agents: Mapping[str, _AgentRec],
        contacts: Mapping[str, _ContactRec],
        queue: QueueBackend,
    ) -> None:
        #: Ids of the waiting contacts someone declined.
        self.waiting: set[str] = set()
        self._agents = agents
        self._contacts = contacts
        self._queue = queue

    # ---------------------------------------------------------------- questions

    def barred_agents(self, rec: _ContactRec, excluded: set[int]) -> set[int]:
        """Handles of the agents who declined this contact, while someone else
        could take it (``excluded``: handles of the agents excluded for it)."""
        if not rec.rejected_by:
            return set()
        agents = self._agents
        handles = {agents[a].handle for a in rec.rejected_by if a in agents}
        if handles and self._queue.any_logged_in(rec.sig, handles | excluded):
            return handles
        return set()

    def barred_contacts(
        self, agent: _AgentRec, excluded: Callable[[_ContactRec], set[int]]
    ) -> set[int]:
        """Handles of the waiting contacts the bar keeps from this agent: the
        same answer as :meth:`barred_agents`, asked contact by contact."""
        barred: set[int] = set()
        contacts = self._contacts
        for contact_id in agent.rejected:
            rec = contacts[contact_id]
            if rec.state is ContactState.WAITING and agent.handle in self.barred_agents(
                rec, excluded(rec)
            ):
                barred.add(rec.handle)
        return barred

    # ------------------------------------------------------------ notifications

    def declined(self, rec: _ContactRec, agent: _AgentRec) -> None:
        """The agent rejected the contact or let its offer time out."""
        if rec.rejected_by is None:
            rec.rejected_by = set()
        rec.rejected_by.add(agent.spec.id)
        agent.rejected.add(rec.spec.id)

    def forget(self, rec: _ContactRec) -> None:
        """The contact was answered, left, or waits afresh: its bars end."""
        agents = self._agents
        for agent_id in rec.rejected_by or ():
            agent = agents.get(agent_id)
            if agent is not None:
                agent.rejected.discard(rec.spec.id)
        rec.rejected_by = None
        self.waiting.discard(rec.spec.id)
