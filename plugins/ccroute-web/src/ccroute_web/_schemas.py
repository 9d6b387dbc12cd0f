"""The JSON values of the API: request bodies (validated by msgspec on the way in)
and answers (encoded by msgspec on the way out). The OpenAPI document is made
from these same types, so it cannot drift from what the handlers do.

Request types forbid unknown fields: a typo is a 422 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "AcceptBody",
    "AgentFigures",
    "AgentState",
    "AgentStatsOut",
    "AgentsByState",
    "ChatIn",
    "ContactOut",
    "Conversation",
    "DispositionBody",
    "ErrorOut",
    "HealthOut",
    "HistoryItem",
    "LoginBody",
    "Me",
    "Message",
    "NewContact",
    "Offer",
    "Ok",
    "Period",
    "PresenceBody",
    "QueueAgents",
    "QueueBoard",
    "TextBody",
    "Wallboard",
]

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\s/]+$")]
_Skill = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
_Level = Annotated[int, msgspec.Meta(ge=1, le=10)]


class _In(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A request body."""


# ------------------------------------------------------------------ requests


class LoginBody(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/login``."""

    user: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class AcceptBody(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A body with nothing to say (``{}``): accept, reject, logout."""


class PresenceBody(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/agent/presence``: ``reason`` only with ``not-ready``."""

    presence: Literal["available", "not-ready", "offline"]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class TextBody(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/agent/contacts/{id}/messages``; the length limit is the setting's."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=100_000)]


class DispositionBody(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``complete`` and ``wrap-up``: a wrap-up code of the queue, or none."""

    disposition: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class NewContact(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``POST /api/contacts`` (the webhook): a contact from another system."""

    channel: _Id
    queue: _Id
    id: _Id | None = None
    requirements: dict[_Skill, _Level] = msgspec.field(default_factory=dict)
    priority_seconds: Annotated[float, msgspec.Meta(ge=-86_400, le=86_400)] = 0.0
    customer_id: _Id | None = None
    attributes: dict[Annotated[str, msgspec.Meta(max_length=100)], Any] = msgspec.field(
        default_factory=dict
    )


class ChatIn(_In, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A customer's frame on ``/ws/chat``."""

    type: Literal["message", "leave"]
    text: Annotated[str, msgspec.Meta(max_length=100_000)] | None = None
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


# ------------------------------------------------------------------- answers


class _Out(msgspec.Struct, frozen=True, kw_only=True):
    """An answer."""


class ErrorOut(_Out, frozen=True, kw_only=True):
    """Every refusal: what was wrong, the field at fault (or null), the HTTP status."""

    error: str
    field: str | None
    status: int


class Ok(_Out, frozen=True, kw_only=True):
    """Done; nothing more to say."""

    ok: bool = True


class HealthOut(_Out, frozen=True, kw_only=True):
    """``GET /healthz``."""

    running: bool
    durable_seq: int | None


class Me(_Out, frozen=True, kw_only=True):
    """The user logged in."""

    user: str
    role: Literal["agent", "supervisor", "integration"]
    name: str
    agent_id: str | None


class Message(_Out, frozen=True, kw_only=True):
    """One message of a conversation."""

    seq: int
    sender: Literal["customer", "agent", "bot", "system"] = msgspec.field(name="from")
    text: str
    at: float
    agent: str | None = None


class HistoryItem(_Out, frozen=True, kw_only=True):
    """One of the customer's past contacts (the screen pop)."""

    contact_id: str
    channel: str
    queue: str
    outcome: str
    arrived_at: float
    ended_at: float
    agent_id: str | None
    disposition: str | None


class Offer(_Out, frozen=True, kw_only=True):
    """An offer on the desktop, with its screen pop (masked by the service)."""

    contact_id: str
    channel: str
    queue: str
    offered_at: float
    expires_at: float | None
    customer_id: str | None
    customer_name: str | None = None
    attributes: dict[str, Any]
    intent: str | None
    ivr: dict[str, Any]
    profile: dict[str, Any]
    history: list[HistoryItem]
    transcript: list[Message]


class Conversation(_Out, frozen=True, kw_only=True):
    """A contact an agent holds (in service or wrap-up), or one just ended."""

    contact_id: str
    channel: str
    queue: str
    state: Literal["in-service", "wrap-up", "ended"]
    customer_id: str | None
    customer_name: str | None
    accepted_at: float | None
    customer_connected: bool
    attributes: dict[str, Any]
    dispositions: list[str]
    disposition_required: bool
    transcript: list[Message]
    #: The screen pop of the offer it was accepted from (empty when unknown).
    intent: str | None = None
    ivr: dict[str, Any] = msgspec.field(default_factory=dict)
    profile: dict[str, Any] = msgspec.field(default_factory=dict)
    history: list[HistoryItem] = msgspec.field(default_factory=list)


class AgentState(_Out, frozen=True, kw_only=True):
    """What the desktop shows of its agent."""

    agent_id: str
    name: str
    presence: Literal["offline", "available", "not-ready"]
    status: Literal["offline", "not-ready", "idle", "busy", "wrap-up"]
    reason: str | None
    capacity: dict[str, int]
    load: dict[str, int]
    offers: list[Offer]
    contacts: list[Conversation]


class AgentFigures(_Out, frozen=True, kw_only=True):
    """An agent's figures over a period (docs/metrics.md, "Agent figures")."""

    offers: int
    accepted: int
    rejected: int
    timed_out: int
    handled: int
    aht: float | None
    handling_time: float
    available_time: float
    not_ready_time: float
    logged_in_time: float
    occupancy: float | None
    utilisation: float | None


class AgentStatsOut(_Out, frozen=True, kw_only=True):
    """``GET /api/agent/stats``: today and since the log began."""

    agent_id: str
    today: AgentFigures
    total: AgentFigures


class Period(_Out, frozen=True, kw_only=True):
    """A queue's (or the centre's) figures over a period: today or this interval."""

    start: float
    offered: int
    answered: int
    abandoned: int
    short_abandons: int
    timed_out: int
    handled: int
    service_level: float | None
    asa: float | None
    aht: float | None


class QueueAgents(_Out, frozen=True, kw_only=True):
    """A queue's members now (kept by the router, O(1) to read)."""

    logged_in: int
    available: int


class QueueBoard(_Out, frozen=True, kw_only=True):
    """One queue on the wallboard."""

    name: str
    waiting: int
    ringing: int
    #: Callbacks held for later (``QueueStats.scheduled``): not waiting yet.
    scheduled: int
    longest_wait: float | None
    threshold: float
    target: float
    agents: QueueAgents
    today: Period
    interval: Period


class AgentsByState(_Out, frozen=True, kw_only=True):
    """Agents by what they do now."""

    offline: int
    not_ready: int = msgspec.field(name="not-ready")
    idle: int
    busy: int
    wrap_up: int = msgspec.field(name="wrap-up")


class CentreTotals(_Out, frozen=True, kw_only=True):
    """The whole centre, today and this interval."""

    today: Period
    interval: Period


class Wallboard(_Out, frozen=True, kw_only=True):
    """``GET /api/wallboard`` and each push of ``/ws/wallboard``."""

    at: float
    queues: list[QueueBoard]
    agents: AgentsByState
    total: CentreTotals


class ContactOut(_Out, frozen=True, kw_only=True):
    """``POST /api/contacts``: the new contact's id and where it stands."""

    contact_id: str
    state: str
    position: int | None = None


__all__ += ["CentreTotals"]
