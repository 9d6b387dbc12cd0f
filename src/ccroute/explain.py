"""Why the router did what it did: plain, frozen, printable explanations.

An :class:`OfferReason` rides on every :class:`~ccroute.Offered` event. The
other values here are built only when asked for, by
:meth:`Router.explain <ccroute.Router.explain>` and
:meth:`Router.explain_agent <ccroute.Router.explain_agent>`, so explanations
cost nothing while nobody reads them.
"""

from __future__ import annotations

import enum

import attrs

from .events import OfferReason
from .lifecycle import ContactState
from .views import AgentStatus

__all__ = [
    "AgentExplanation",
    "AgentVerdict",
    "ContactExplanation",
    "ContactVerdict",
    "NotEligible",
    "OfferReason",
]


class NotEligible(enum.Enum):
    """One reason an agent cannot be offered a contact now."""

    #: The agent is not a member of any queue that may take the contact.
    NOT_A_MEMBER = "not a member of the queue"
    #: The agent lacks a skill the contact requires.
    MISSING_SKILL = "missing skill"
    #: The agent has the skill, below the level the contact requires.
    LEVEL_TOO_LOW = "level too low"
    #: The agent is logged in but not available (not ready).
    NOT_READY = "not ready"
    #: The agent has no room left for the contact's channel (capacity, unit
    #: budget or an exclusive channel).
    NO_CAPACITY = "no capacity"
    #: Work the agent holds on another channel blocks this one (blocking matrix).
    BLOCKED_CHANNEL = "blocked channel"
    #: The agent is kept free for a waiting contact on a reserved channel.
    RESERVED_CHANNEL = "kept free for a reserved channel"
    #: The agent is ramping up and already holds an unanswered offer.
    RAMPING_UP = "ramping up"
    #: The customer or the contact excludes this agent.
    EXCLUDED = "excluded"
    #: The agent rejected (or let time out) this contact, and someone else can take it.
    REJECTED_BEFORE = "rejected before"
    #: The agent's delay for the contact's queue has not passed yet.
    QUEUE_DELAY = "queue delay"
    #: The contact is reserved for another agent (preferred agent or direct transfer).
    RESERVED_FOR_OTHER = "reserved for another agent"
    #: The agent already holds an offer of this contact (ring-all).
    HOLDS_OFFER = "already offered"


#: Reasons that are policies holding a contact back from an agent who could
#: otherwise take it (the rest are about skills, membership and capacity).
HOLD_BACKS: frozenset[NotEligible] = frozenset(
    {
        NotEligible.BLOCKED_CHANNEL,
        NotEligible.RESERVED_CHANNEL,
        NotEligible.RAMPING_UP,
        NotEligible.EXCLUDED,
        NotEligible.REJECTED_BEFORE,
        NotEligible.QUEUE_DELAY,
        NotEligible.RESERVED_FOR_OTHER,
    }
)


def _line(name: str, reasons: tuple[NotEligible, ...], detail: str) -> str:
    """One verdict as a printed explanation shows it."""
    extra = f" ({detail})" if detail else ""
    return f"  {name}: {', '.join(r.value for r in reasons)}{extra}"


@attrs.frozen(slots=True)
class AgentVerdict:
    """Why one logged-in agent cannot take a contact now (see :meth:`Router.explain`)."""

    agent_id: str
    reasons: tuple[NotEligible, ...]
    #: Human-readable specifics, e.g. ``"needs billing >= 7, has 4"``.
    detail: str = ""


@attrs.frozen(slots=True)
class ContactExplanation:
    """Which agents could take a contact, and why every other logged-in agent cannot.

    For a waiting contact, ``eligible`` is empty after every router call
    (the router is work-conserving): each logged-in agent appears in
    ``not_eligible`` with its reasons, and ``held_back`` names the policies
    among them that hold the contact back from an agent who could otherwise
    take it.
    """

    contact_id: str
    state: ContactState
    queue: str
    channel: str
    #: Seconds waited in the current queue.
    waited: float
    #: Routing steps applied so far.
    step: int
    #: Agents holding an offer of the contact, or the agent serving it.
    agents: tuple[str, ...]
    eligible: tuple[str, ...]
    not_eligible: tuple[AgentVerdict, ...]
    held_back: tuple[NotEligible, ...]
    #: Whether its queue is open now by its calendar (docs/business-hours.md;
    #: always ``True`` without one). A closed queue keeps its contacts.
    queue_open: bool = True
    #: When a scheduled callback enters its queue (``None`` unless scheduled).
    callback_due: float | None = None

    def __str__(self) -> str:
        lines = [
            f"contact {self.contact_id} ({self.channel}, queue {self.queue}) is "
            f"{self.state.value}, waited {self.waited:g} s, step {self.step}"
        ]
        if not self.queue_open:
            lines.append(f"  queue {self.queue} is closed now (business hours)")
        if self.callback_due is not None:
            lines.append(f"  callback due at {self.callback_due:g}")
        if self.agents:
            lines.append(f"  held by: {', '.join(self.agents)}")
        lines.append(f"  eligible now: {', '.join(self.eligible) or 'nobody'}")
        lines.extend(_line(v.agent_id, v.reasons, v.detail) for v in self.not_eligible)
        if self.held_back:
            lines.append(f"  held back by: {', '.join(r.value for r in self.held_back)}")
        return "\n".join(lines)


@attrs.frozen(slots=True)
class ContactVerdict:
    """Why an agent cannot take one waiting contact (see :meth:`Router.explain_agent`)."""

    contact_id: str
    reasons: tuple[NotEligible, ...]
    detail: str = ""


@attrs.frozen(slots=True)
class AgentExplanation:
    """Why an agent has no (further) offer: its own state, then each waiting contact.

    ``reasons`` are about the agent itself (not ready, no capacity left,
    ramping up with an offer open); ``contacts`` gives, for every waiting
    contact, why this agent cannot take it; ``eligible`` lists the waiting
    contacts it could take now (empty after every call: the router is
    work-conserving).
    """

    agent_id: str
    status: AgentStatus
    reasons: tuple[NotEligible, ...]
    eligible: tuple[str, ...]
    contacts: tuple[ContactVerdict, ...]

    def __str__(self) -> str:
        own = ", ".join(r.value for r in self.reasons) or "free"
        lines = [f"agent {self.agent_id} is {self.status.value}: {own}"]
        lines.append(f"  could take now: {', '.join(self.eligible) or 'nothing'}")
        lines.extend(_line(v.contact_id, v.reasons, v.detail) for v in self.contacts)
        return "\n".join(lines)
