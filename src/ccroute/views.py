"""Read-only snapshots of router state: what ``Router.contact()`` and ``Router.agent()`` return.

A view is a frozen copy taken at the moment of the call; it does not change
when the router does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from ._codes import Key
from .events import Event
from .lifecycle import ContactState
from .model import Presence

__all__ = ["AgentStatus", "AgentView", "ChannelStats", "ContactView", "QueueStats", "TickResult"]


class AgentStatus(enum.Enum):
    """What an agent is doing, derived from its presence and its work."""

    OFFLINE = "offline"
    #: Logged in, not taking new work, and holding none.
    NOT_READY = "not-ready"
    #: Available and holding no work at all.
    IDLE = "idle"
    #: Holding at least one offered or in-service contact.
    BUSY = "busy"
    #: Holding only contacts in wrap-up.
    WRAP_UP = "wrap-up"


@attrs.frozen(slots=True)
class ContactView:
    """A snapshot of one live contact (finished contacts are forgotten by the router)."""

    id: str
    state: ContactState
    queue: str
    channel: str
    #: The requirements in force now (after routing steps), skill to minimum level.
    requirements: Mapping[str, int]
    #: Every queue whose members may take the contact now (its own queue plus
    #: those added by routing steps).
    queues: frozenset[str]
    #: The static sort key ``(-tier, queued_at - priority_seconds, sequence)``.
    key: Key
    arrived_at: float
    #: When the contact entered its current queue (differs after a transfer).
    entered_at: float
    #: Number of routing steps applied since it entered its current queue.
    steps_applied: int
    #: The agent holding the offer or the contact, if any.
    agent_id: str | None
    #: The only agent who may take the contact now (preferred agent or
    #: transfer target), if any.
    reserved_for: str | None
    #: Agents who rejected the contact or let its offer time out.
    rejected_by: frozenset[str]
    customer_id: str | None
    attributes: Mapping[str, object] = attrs.field(eq=False)
    #: When an agent accepted it, while it is in service or in wrap-up
    #: (``None`` otherwise). Kept by the router, so it survives a snapshot.
    answered_at: float | None = None
    #: When a scheduled callback enters its queue (``None`` unless it is
    #: ``scheduled``; docs/business-hours.md).
    callback_due: float | None = None


@attrs.frozen(slots=True)
class AgentView:
    """A snapshot of one agent's state."""

    id: str
    presence: Presence
    status: AgentStatus
    skills: Mapping[str, int]
    queues: frozenset[str]
    #: Channel to maximum contacts held at once.
    capacity: Mapping[str, int]
    unit_budget: int | None
    #: Channel to contacts held now (offered, in service or in wrap-up).
    load: Mapping[str, int]
    units_used: int
    offered: frozenset[str]
    in_service: frozenset[str]
    wrap_up: frozenset[str]
    #: When the agent last became available or finished a piece of work.
    idle_since: float
    #: Contacts accepted since the agent was added.
    handled: int


@attrs.frozen(slots=True)
class QueueStats:
    """What a queue looks like now: :meth:`Router.queue_stats <ccroute.Router.queue_stats>`.

    Every figure is kept by the router as things change, so reading them costs
    O(1) however many agents and contacts there are.
    """

    name: str
    #: Contacts waiting (not offered).
    waiting: int
    #: Contacts offered to an agent and not yet answered.
    offered: int
    #: Members of the queue who are logged in (available or not ready).
    logged_in: int
    #: Members of the queue who are available.
    available: int
    #: Callbacks held for later (state ``scheduled``): asked for a time
    #: (:meth:`Router.schedule_callback <ccroute.Router.schedule_callback>`),
    #: held while the queue is closed, or due again after an unanswered call.
    #: Not in ``waiting`` until their time comes.
    scheduled: int = 0


@attrs.frozen(slots=True)
class ChannelStats:
    """Agents who can work a channel now: :meth:`Router.channel_stats <ccroute.Router.channel_stats>`.

    An agent counts for a channel while its capacity there is above 0. Kept by
    the router as presence and capacity change: O(1) to read.
    """

    name: str
    #: Agents logged in (available or not ready) with capacity on the channel.
    logged_in: int
    #: Agents available with capacity on the channel.
    available: int


@attrs.frozen(slots=True)
class TickResult:
    """What :meth:`Router.tick` did: the events it caused and when to call it again.

    ``next_due`` is the clock time of the next timer (offer timeout, wrap-up
    end, routing step, preferred-agent wait), or ``None`` if nothing is scheduled.
    """

    events: list[Event]
    next_due: float | None
