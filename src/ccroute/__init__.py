"""ccroute: embeddable contact-centre routing.

Every waiting contact from every channel in one universal queue, matched to the
best available agent by skills, capacity and policy, by a deterministic router
that performs no I/O. Start with :class:`Router`.

Importing ccroute loads the core only (the router and its values). The
service, the hook marker and the stores are imported the first time they are
used (:data:`Service`, :data:`hookimpl`, :data:`SQLiteStorage`, ...), so a
program that only routes or simulates never loads anyio, pluggy or sqlite3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_exports as _lazy_exports
from ._queue import IMPLEMENTATION
from ._queue_protocol import QueueBackend
from .business_hours import BusinessHours, WhenClosed
from .clock import Clock, ManualClock, MonotonicClock, WallClock
from .crm.rules import EnrichmentRules
from .crm.store import CRMStore, LastServed, MemoryCRM
from .errors import (
    CCRouteError,
    ClockError,
    DuplicateIdError,
    FencedError,
    FlowError,
    InputError,
    InvalidStateError,
    InvalidValueError,
    PluginError,
    ReadOnlyError,
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
    AgentUpdated,
    CallbackClosed,
    CallbackClosedReason,
    CallbackRequested,
    CallbackScheduled,
    CallbackScheduleReason,
    CallbackUnanswered,
    Completed,
    ContactUpdated,
    CustomerEnriched,
    Event,
    FlowAdvanced,
    FlowFinished,
    FlowStarted,
    HistoryRecorded,
    OfferDelivered,
    Offered,
    OfferReason,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    OverflowReason,
    PreferenceExpired,
    PreferenceExpiryReason,
    PresenceChanged,
    Queued,
    QueueUpdated,
    RampUpEnded,
    RampUpEndReason,
    RefusalReason,
    Refused,
    Rejected,
    Rejoined,
    StepApplied,
    TimedOut,
    TimeoutReason,
    Transferred,
    WrapUpEnded,
)
from .explain import (
    AgentExplanation,
    AgentVerdict,
    ContactExplanation,
    ContactVerdict,
    NotEligible,
)
from .hooktypes import (
    AgentStrategy,
    CustomerUpdate,
    HistoryRecord,
    HistoryTransfer,
    IvrFlow,
    OfferDelivery,
    RouterView,
    ServiceHandle,
)
from .lifecycle import ContactState
from .masking import Masking
from .model import (
    BUILTIN_CHANNELS,
    MAX_LEVEL,
    MIN_LEVEL,
    Admission,
    Agent,
    Channel,
    ChannelKind,
    Contact,
    Presence,
    QueueConfig,
    RoutingStep,
    Strategy,
)
from .policies import RampUp, RoutingPolicy
from .router import Observer, Router
from .views import AgentStatus, AgentView, ChannelStats, ContactView, QueueStats, TickResult

if TYPE_CHECKING:
    # Imported on first use (see __getattr__); here for type checkers.
    from .cluster import Node
    from .hookspecs import hookimpl
    from .service import Service
    from .storage import LogRecord, MemoryStorage, Recovered, Storage
    from .storage_sqlite import SQLiteStorage

__version__ = "0.1.0"

#: Public names imported on first use, by the module that defines them.
_LAZY: dict[str, str] = {
    "hookimpl": ".hookspecs",
    "Node": ".cluster",
    "Service": ".service",
    "LogRecord": ".storage",
    "MemoryStorage": ".storage",
    "Recovered": ".storage",
    "Storage": ".storage",
    "SQLiteStorage": ".storage_sqlite",
}

_getattr, __dir__ = _lazy_exports(__name__, globals(), _LAZY)

if not TYPE_CHECKING:  # type checkers see the imports above, and no catch-all attribute
    __getattr__ = _getattr


__all__ = [
    "Abandoned",
    "Accepted",
    "Admission",
    "Agent",
    "AgentAdded",
    "AgentExplanation",
    "AgentRemoved",
    "AgentUpdated",
    "AgentStatus",
    "AgentStrategy",
    "AgentVerdict",
    "AgentView",
    "BUILTIN_CHANNELS",
    "CCRouteError",
    "BusinessHours",
    "CallbackClosed",
    "CallbackClosedReason",
    "CRMStore",
    "CallbackRequested",
    "CallbackScheduleReason",
    "CallbackScheduled",
    "CallbackUnanswered",
    "Channel",
    "ChannelKind",
    "ChannelStats",
    "Clock",
    "ClockError",
    "Completed",
    "Contact",
    "ContactExplanation",
    "ContactState",
    "ContactUpdated",
    "ContactVerdict",
    "ContactView",
    "CustomerEnriched",
    "CustomerUpdate",
    "DuplicateIdError",
    "FencedError",
    "EnrichmentRules",
    "Event",
    "FlowError",
    "FlowAdvanced",
    "FlowFinished",
    "FlowStarted",
    "HistoryRecord",
    "HistoryRecorded",
    "HistoryTransfer",
    "IMPLEMENTATION",
    "InputError",
    "InvalidStateError",
    "InvalidValueError",
    "IvrFlow",
    "LastServed",
    "LogRecord",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "ManualClock",
    "Masking",
    "MemoryCRM",
    "MemoryStorage",
    "MonotonicClock",
    "Node",
    "NotEligible",
    "Observer",
    "OfferDelivered",
    "OfferDelivery",
    "OfferReason",
    "OfferRescinded",
    "OfferTimedOut",
    "Offered",
    "OverflowReason",
    "Overflowed",
    "PluginError",
    "ReadOnlyError",
    "PreferenceExpired",
    "PreferenceExpiryReason",
    "Presence",
    "PresenceChanged",
    "QueueBackend",
    "QueueConfig",
    "QueueStats",
    "QueueUpdated",
    "Queued",
    "RampUp",
    "RampUpEndReason",
    "RampUpEnded",
    "Recovered",
    "RefusalReason",
    "Refused",
    "Rejected",
    "Rejoined",
    "Router",
    "RouterView",
    "RoutingPolicy",
    "RoutingStep",
    "SQLiteStorage",
    "Service",
    "ServiceError",
    "ServiceHandle",
    "StepApplied",
    "Storage",
    "StorageError",
    "Strategy",
    "TickResult",
    "TimedOut",
    "TimeoutReason",
    "Transferred",
    "UnknownIdError",
    "UsageError",
    "WallClock",
    "WhenClosed",
    "WrapUpEnded",
    "hookimpl",
    "__version__",
]
