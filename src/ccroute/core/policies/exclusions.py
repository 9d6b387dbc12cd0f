"""Exclusions: agents never offered a contact, not even as a last resort.

The rule, as docs/policies/exclusions.md states it: a contact is never
offered to an agent its own ``excluded_agents`` name, nor to one its
customer's exclusions (``Router.add_exclusion``) name. An exclusion added
while the customer has live contacts applies to them at once; one removed
frees them, except where the contact's own exclusions still name the agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...model import Contact
    from ..router import _AgentRec, _ContactRec

__all__ = ["Exclusions"]


class Exclusions:
    """Holds the customers' exclusions and indexes the live contacts they cover.

    ``by_customer`` is state (the snapshot's ``exclusions``); the indexes
    (``customer_contacts``, ``excluding``) are rebuilt from the contacts.

    :param contacts: the router's live contacts by id (read, never changed).
    :param agents: the router's agents by id (read, never changed).
    """

    __slots__ = ("_agents", "_contacts", "by_customer", "customer_contacts", "excluding")

    def __init__(
        self, contacts: Mapping[str, _ContactRec], agents: Mapping[str, _AgentRec]
    ) -> None:
        #: customer id -> agents excluded for its contacts
        self.by_customer: dict[str, set[str]] = {}
        #: customer id -> its live contacts
        self.customer_contacts: dict[str, set[str]] = {}
        #: agent id -> live contacts that exclude it
        self.excluding: dict[str, set[str]] = {}
        self._contacts = contacts
        self._agents = agents

    # ---------------------------------------------------------------- questions

    def excluded(self, contact: Contact) -> frozenset[str] | set[str]:
        """Agent ids never to be offered this contact (its own and its customer's)."""
        own = contact.excluded_agents
        customer = contact.customer_id
        if customer is None:
            return own
        by_customer = self.by_customer.get(customer)
        return own | by_customer if by_customer else own

    def barred_agents(self, rec: _ContactRec) -> set[int]:
        """Handles of the known agents excluded for this contact."""
        agents = self._agents
        return {agents[a].handle for a in self.excluded(rec.spec) if a in agents}

    def barred_contacts(self, agent_id: str) -> Iterable[str]:
        """Ids of the live contacts that exclude this agent."""
        return self.excluding.get(agent_id, ())

    def of_customer(self, customer_id: str) -> set[str] | None:
        """The agents excluded for a customer by ``add_exclusion``, if any."""
        return self.by_customer.get(customer_id)

    # ------------------------------------------------------------ notifications

    def contact_added(self, rec: _ContactRec) -> frozenset[str] | set[str]:
        """A contact became live: index it; return the agents it excludes."""
        customer = rec.spec.customer_id
        if customer is not None:
            self.customer_contacts.setdefault(customer, set()).add(rec.spec.id)
        excluded = self.excluded(rec.spec)
        for agent_id in excluded:
            self.excluding.setdefault(agent_id, set()).add(rec.spec.id)
        return excluded

    def contact_dropped(self, rec: _ContactRec) -> None:
        """A contact finished: forget it."""
        contact_id = rec.spec.id
        customer = rec.spec.customer_id
        if customer is not None:
            contacts = self.customer_contacts.get(customer)
            if contacts is not None:
                contacts.discard(contact_id)
                if not contacts:
                    del self.customer_contacts[customer]
            for agent_id in self.by_customer.get(customer, ()):
                self._unexclude(agent_id, contact_id)
        for agent_id in rec.spec.excluded_agents:
            self._unexclude(agent_id, contact_id)

    def add(self, customer_id: str, agent_id: str) -> list[str] | None:
        """Exclude an agent for a customer: the ids of the customer's live
        contacts it now covers, in id order (``None``: it was excluded already)."""
        excluded = self.by_customer.setdefault(customer_id, set())
        if agent_id in excluded:
            return None
        excluded.add(agent_id)
        contact_ids = sorted(self.customer_contacts.get(customer_id, ()))
        if contact_ids:
            self.excluding.setdefault(agent_id, set()).update(contact_ids)
        return contact_ids

    def remove(self, customer_id: str, agent_id: str) -> list[_ContactRec]:
        """Lift a customer's exclusion (it exists): the customer's live contacts
        it freed (their own exclusions do not name the agent), in id order."""
        excluded = self.by_customer[customer_id]
        excluded.discard(agent_id)
        if not excluded:
            del self.by_customer[customer_id]
        freed = []
        excluding = self.excluding.get(agent_id, set())
        for contact_id in sorted(self.customer_contacts.get(customer_id, ())):
            rec = self._contacts[contact_id]
            if agent_id not in rec.spec.excluded_agents:
                excluding.discard(contact_id)
                freed.append(rec)
        if not excluding:
            self.excluding.pop(agent_id, None)
        return freed

    def _unexclude(self, agent_id: str, contact_id: str) -> None:
        excluding = self.excluding.get(agent_id)
        if excluding is not None:
            excluding.discard(contact_id)
            if not excluding:
                del self.excluding[agent_id]
