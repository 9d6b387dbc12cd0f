"""The values ccroute's hooks exchange with plugins.

Everything here is plain data (frozen attrs classes) or a small protocol a
plugin implements. The hooks themselves are declared in
:mod:`ccroute.hookspecs`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import attrs

from .events import Offered
from .model import Contact
from .views import AgentView, ContactView

__all__ = [
    "AgentStrategy",
    "CustomerUpdate",
    "HistoryRecord",
    "IvrFlow",
    "OfferDelivery",
]


@runtime_checkable
class AgentStrategy(Protocol):
    """A routing strategy written in Python: a score per eligible agent.

    The router asks it only when a contact is routed and more than one agent
    is eligible: the agent with the highest score gets the offer, ties going
    to the smaller agent id. It must be deterministic (same views, same
    score) so that a router rebuilt from its log makes the same decisions.
    """

    def score(self, contact: ContactView, agent: AgentView) -> float:
        """The score of ``agent`` for ``contact``; higher wins."""
        ...


@runtime_checkable
class IvrFlow(Protocol):
    """An IVR or chatbot flow that runs before a contact is routed."""

    def run(self, contact: Contact) -> Contact | Awaitable[Contact | None] | None:
        """Run the flow for ``contact`` (plain or ``async def``).

        Return the contact to route (the same one, or one with another queue,
        requirements or priority; the id must not change), or ``None`` when
        the flow resolved the request itself (self-service: no agent needed).
        """
        ...


@attrs.frozen(slots=True)
class OfferDelivery:
    """An offer on its way to the agent's side, with the context to show there.

    :param offer: the :class:`~ccroute.Offered` event.
    :param contact: the contact as the router holds it at the offer.
    :param agent: the agent it is offered to.
    :param profile: what the CRM knew of the customer (empty without a CRM).
    """

    offer: Offered
    contact: ContactView
    agent: AgentView
    profile: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def channel(self) -> str:
        """The contact's channel: the adapter of this channel delivers the offer."""
        return self.offer.channel


#: What a :class:`CustomerUpdate` tells the customer side.
UpdateKind = Literal["queued", "answered", "closed"]


@attrs.frozen(slots=True)
class CustomerUpdate:
    """What the customer side of a contact should hear.

    ``queued``: the contact waits, at ``position`` (1 = next) with about
    ``estimated_wait`` seconds to go (``None`` while no estimate is possible).
    ``answered``: ``agent_id`` took it. ``closed``: it left the centre;
    ``reason`` says how (``completed``, ``abandoned``, ``refused: …``,
    ``timed out: …``, ``self-service``).
    """

    kind: UpdateKind
    contact_id: str
    channel: str
    customer_id: str | None
    at: float
    position: int | None = None
    estimated_wait: float | None = None
    agent_id: str | None = None
    reason: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


#: How a contact ended, as recorded in the CRM history.
Outcome = Literal["completed", "abandoned", "refused", "self-service", "timed-out"]


@attrs.frozen(slots=True)
class HistoryRecord:
    """A finished contact, as the CRM history keeps it.

    Times are router clock times; ``answered_at`` and ``agent_id`` are
    ``None`` for a contact no agent answered.
    """

    contact_id: str
    customer_id: str | None
    channel: str
    queue: str
    outcome: Outcome
    arrived_at: float
    ended_at: float
    answered_at: float | None = None
    agent_id: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
