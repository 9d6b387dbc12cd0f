"""ccroute: embeddable contact-centre routing.

Every waiting contact from every channel in one universal queue, matched to the
best available agent by skills, capacity and policy, by a deterministic router
that performs no I/O. Start with :class:`Router`.
"""

from __future__ import annotations

from ._queue import IMPLEMENTATION
from .clock import Clock, ManualClock, MonotonicClock, WallClock
from .errors import (
    CCRouteError,
    ClockError,
    DuplicateIdError,
    InputError,
    InvalidStateError,
    InvalidValueError,
    PluginError,
    ServiceError,
    StorageError,
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
    CustomerEnriched,
    Event,
    FlowFinished,
    HistoryRecorded,
    OfferDelivered,
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
from .hookspecs import hookimpl
from .hooktypes import AgentStrategy, CustomerUpdate, HistoryRecord, IvrFlow, OfferDelivery
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
from .service import Service
from .storage import LogRecord, MemoryStorage, Recovered, Storage
from .storage_sqlite import SQLiteStorage
from .views import AgentStatus, AgentView, ContactView, TickResult

__version__ = "0.1.0"

__all__ = [
    "Abandoned",
    "Accepted",
    "Agent",
    "AgentAdded",
    "AgentRemoved",
    "AgentStatus",
    "AgentStrategy",
    "AgentView",
    "BUILTIN_CHANNELS",
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
    "CustomerEnriched",
    "CustomerUpdate",
    "DuplicateIdError",
    "Event",
    "FlowFinished",
    "HistoryRecord",
    "HistoryRecorded",
    "IMPLEMENTATION",
    "InputError",
    "InvalidStateError",
    "InvalidValueError",
    "IvrFlow",
    "LogRecord",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "ManualClock",
    "MemoryStorage",
    "MonotonicClock",
    "Observer",
    "OfferDelivered",
    "OfferDelivery",
    "OfferRescinded",
    "OfferTimedOut",
    "Offered",
    "PluginError",
    "PreferenceExpired",
    "Presence",
    "PresenceChanged",
    "QueueConfig",
    "Queued",
    "Recovered",
    "Refused",
    "Rejected",
    "Router",
    "RoutingStep",
    "SQLiteStorage",
    "Service",
    "ServiceError",
    "StepApplied",
    "Storage",
    "StorageError",
    "Strategy",
    "TickResult",
    "Transferred",
    "UnknownIdError",
    "UsageError",
    "WallClock",
    "WrapUpEnded",
    "__version__",
    "hookimpl",
]
