"""ccroute: embeddable contact-centre routing.

Every waiting contact from every channel in one universal queue, matched to the
best available agent by skills, capacity and policy, by a deterministic router
that performs no I/O. Start with :class:`Router`.
"""

from __future__ import annotations

from ._queue import IMPLEMENTATION
from .clock import Clock, ManualClock, MonotonicClock
from .errors import (
    CCRouteError,
    ClockError,
    DuplicateIdError,
    InputError,
    InvalidStateError,
    InvalidValueError,
    UnknownIdError,
    UsageError,
)
from .events import (
    Abandoned,
    Accepted,
    AgentAdded,
    AgentRemoved,
    CallbackRequested,
    Completed,
    Event,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    PreferenceExpired,
    PresenceChanged,
    Queued,
    Refused,
    Rejected,
    StepApplied,
    Transferred,
    WrapUpEnded,
)
from .lifecycle import ContactState
from .model import (
    BUILTIN_CHANNELS,
    MAX_LEVEL,
    MIN_LEVEL,
    Agent,
    Channel,
    ChannelKind,
    Contact,
    Presence,
    QueueConfig,
    RoutingStep,
    Strategy,
)
from .router import Observer, Router
from .views import AgentStatus, AgentView, ContactView, TickResult

__version__ = "0.1.0"

__all__ = [
    "BUILTIN_CHANNELS",
    "IMPLEMENTATION",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "Abandoned",
    "Accepted",
    "Agent",
    "AgentAdded",
    "AgentRemoved",
    "AgentStatus",
    "AgentView",
    "CCRouteError",
    "CallbackRequested",
    "Channel",
    "ChannelKind",
    "Clock",
    "ClockError",
    "Completed",
    "Contact",
    "ContactState",
    "ContactView",
    "DuplicateIdError",
    "Event",
    "InputError",
    "InvalidStateError",
    "InvalidValueError",
    "ManualClock",
    "MonotonicClock",
    "Observer",
    "OfferRescinded",
    "OfferTimedOut",
    "Offered",
    "PreferenceExpired",
    "Presence",
    "PresenceChanged",
    "QueueConfig",
    "Queued",
    "Refused",
    "Rejected",
    "Router",
    "RoutingStep",
    "StepApplied",
    "Strategy",
    "TickResult",
    "Transferred",
    "UnknownIdError",
    "UsageError",
    "WrapUpEnded",
    "__version__",
]
