"""The values ccroute's hooks exchange with plugins.

Everything here is plain data (frozen attrs classes) or a small protocol: one a
plugin implements (:class:`AgentStrategy`, :class:`IvrFlow`), or one that says
what a plugin may do with the service (:class:`ServiceHandle`, with
:class:`RouterView` for reading the router). The hooks themselves are declared
in :mod:`ccroute.hookspecs`.

This module imports neither the service nor pluggy nor anyio: plugins and
their type checkers depend on these names, never on :mod:`ccroute.service`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

import attrs

from .crm.context import ivr_answers, predicted_intent
from .events import Event, Offered
from .model import Channel, Contact, Presence, QueueConfig
from .views import AgentView, ChannelStats, ContactView, QueueStats

if TYPE_CHECKING:
    from collections import Counter

    from .explain import AgentExplanation, ContactExplanation
    from .ivr.live import LiveFlows
    from .masking import Masking
    from .metrics import MetricsCollector

__all__ = [
    "AgentStrategy",
    "CustomerUpdate",
    "HistoryRecord",
    "HistoryTransfer",
    "IvrFlow",
    "OfferDelivery",
    "RouterView",
    "ServiceHandle",
]

_T = TypeVar("_T")


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
    """An offer on its way to the agent's side, with the context to show there
    (the "screen pop", docs/crm.md).

    :param offer: the :class:`~ccroute.Offered` event.
    :param contact: the contact as the router holds it at the offer.
    :param agent: the agent it is offered to.
    :param profile: what the CRM knew of the customer (empty without a CRM).
    :param history: the customer's recent finished contacts, newest first
        (``ccroute_crm_history``; empty without a customer or a history).
    """

    offer: Offered
    contact: ContactView
    agent: AgentView
    profile: Mapping[str, Any] = attrs.field(factory=dict)
    history: Sequence[HistoryRecord] = ()

    @property
    def channel(self) -> str:
        """The contact's channel: the adapter of this channel delivers the offer."""
        return self.offer.channel

    @property
    def ivr(self) -> Mapping[str, Any]:
        """The answers the IVR flow collected (the contact's ``attributes["ivr"]``)."""
        return ivr_answers(self.contact.attributes)

    @property
    def intent(self) -> str | None:
        """The intent the IVR predicted, or ``None`` (see :func:`ccroute.crm.predicted_intent`)."""
        return predicted_intent(self.contact.attributes)


#: What a :class:`CustomerUpdate` tells the customer side.
UpdateKind = Literal["queued", "answered", "closed", "scheduled"]


@attrs.frozen(slots=True)
class CustomerUpdate:
    """What the customer side of a contact should hear.

    ``queued``: the contact waits, at ``position`` (1 = next) with about
    ``estimated_wait`` seconds to go (``None`` while no estimate is possible).
    ``answered``: ``agent_id`` took it. ``closed``: it left the centre;
    ``reason`` says how (``completed``, ``abandoned``, ``refused: …``,
    ``timed out: …``, ``self-service``, ``callback unreached``, ``callback
    cancelled``). ``scheduled``: it is a callback held until ``estimated_wait``
    seconds from ``at``; ``reason`` says why (``requested``, ``closed``, ``retry``).
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
Outcome = Literal[
    "completed", "abandoned", "refused", "self-service", "timed-out", "unreached", "cancelled"
]

#: How a contact moved between queues or agents.
TransferKind = Literal["transfer", "overflow"]


@attrs.frozen(slots=True)
class HistoryTransfer:
    """One move of a contact on its way (a :class:`~ccroute.Transferred` or an
    :class:`~ccroute.Overflowed` event), as the CRM history keeps it."""

    at: float
    kind: TransferKind
    from_queue: str
    to_queue: str
    from_agent: str | None = None
    to_agent: str | None = None


@attrs.frozen(slots=True)
class HistoryRecord:
    """A finished contact, as the CRM history keeps it (docs/crm.md, "History").

    Times are router clock times: ``arrived_at`` when it was queued (or
    refused, or resolved by self-service), ``answered_at`` when an agent
    accepted it last, ``completed_at`` when the conversation ended (wrap-up
    began), ``ended_at`` when it left (wrap-up over, abandoned, refused,
    timed out). ``answered_at``, ``completed_at`` and ``agent_id`` are
    ``None`` for a contact no agent answered. ``queue`` is the queue it ended
    in; ``transfers`` the moves that brought it there, in order;
    ``disposition`` the wrap-up code (:class:`~ccroute.WrapUpEnded`).
    ``attributes`` are the contact's, the IVR's answers included.
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
    completed_at: float | None = None
    disposition: str | None = None
    transfers: tuple[HistoryTransfer, ...] = ()

    @property
    def queued_at(self) -> float:
        """When the contact was queued: ``arrived_at``."""
        return self.arrived_at

    @property
    def ivr(self) -> Mapping[str, Any]:
        """The answers the IVR flow collected (``attributes["ivr"]``; empty when none)."""
        return ivr_answers(self.attributes)


# ------------------------------------------------------------- the service side


class RouterView(Protocol):
    """What a plugin may read of the service's router: its views, never its commands.

    ``service.router`` is a :class:`~ccroute.router_view.ReadOnlyRouter`
    (a :class:`~ccroute.Router` has all of this too): its queries are the
    live router's, and asking it for a command raises
    :class:`~ccroute.errors.ReadOnlyError`. A plugin that changes state goes
    through the :class:`ServiceHandle`'s commands, which are logged.

    A protocol for type checkers (``isinstance`` does not take it).
    """

    @property
    def now(self) -> float:
        """The time of the router's last call."""
        ...

    @property
    def queues(self) -> Sequence[str]:
        """Names of the known queues, in the order they were added."""
        ...

    @property
    def channels(self) -> Sequence[Channel]:
        """The known channels, in the order they were added."""
        ...

    @property
    def agent_ids(self) -> Sequence[str]:
        """Ids of every agent, in the order they were added."""
        ...

    @property
    def contact_ids(self) -> Sequence[str]:
        """Ids of every live contact (waiting, offered, in service, in wrap-up)."""
        ...

    def queue_config(self, name: str) -> QueueConfig:
        """The configuration of queue ``name``."""
        ...

    def contact(self, contact_id: str) -> ContactView:
        """A snapshot of a live contact (finished contacts are forgotten: they raise)."""
        ...

    def agent(self, agent_id: str) -> AgentView:
        """A snapshot of an agent."""
        ...

    def waiting(self, queue: str | None = None) -> Sequence[ContactView]:
        """Waiting contacts in routing order, optionally of one queue."""
        ...

    def position(self, contact_id: str) -> int:
        """1-based place of a waiting contact among the waiting contacts of its queue."""
        ...

    def queue_size(self, queue: str) -> int:
        """Number of contacts waiting (not offered) in ``queue``."""
        ...

    def queue_stats(self, queue: str) -> QueueStats:
        """Contacts waiting and offered, members logged in and available, in ``queue``."""
        ...

    def is_open(self, queue: str, at: float | None = None) -> bool:
        """Whether ``queue`` is within its business hours at router time ``at``."""
        ...

    def channel_stats(self, channel: str) -> ChannelStats:
        """Agents logged in and available with capacity on ``channel``."""
        ...

    def exclusions(self, customer_id: str) -> frozenset[str]:
        """Agents excluded for ``customer_id``."""
        ...

    def next_due(self) -> float | None:
        """Clock time of the next scheduled timer, or ``None``."""
        ...

    def next_open(self, queue: str) -> float | None:
        """When ``queue`` next opens, in router time (``now`` while it is open), or
        ``None`` if it never opens again."""
        ...

    def estimated_wait(self, contact_id: str) -> float | None:
        """Seconds a waiting contact has still to wait, or ``None`` (docs/estimated-wait.md)."""
        ...

    def estimate_wait(
        self,
        queue: str,
        channel: str,
        requirements: Mapping[str, int] | None = None,
        *,
        priority_seconds: float = 0.0,
        tier: int = 0,
        position: int | None = None,
    ) -> float | None:
        """Seconds a contact submitted now to ``queue`` on ``channel`` would wait."""
        ...

    def handle_time(self, queue: str, channel: str) -> float | None:
        """The handle time the router has learned for ``queue`` on ``channel`` (or ``None``)."""
        ...

    @property
    def submitted(self) -> int:
        """Contacts admitted since the router's log began."""
        ...

    @property
    def completed(self) -> int:
        """Contacts whose wrap-up ended."""
        ...

    @property
    def abandoned(self) -> int:
        """Contacts abandoned before being answered."""
        ...

    @property
    def timed_out(self) -> int:
        """Contacts that left with :class:`~ccroute.TimedOut`."""
        ...

    @property
    def strategy_failures(self) -> int:
        """Decisions where a custom strategy failed and longest idle chose instead."""
        ...

    def __len__(self) -> int:
        """Number of waiting contacts."""
        ...

    def explain(self, contact_id: str) -> ContactExplanation:
        """Why a contact is where it is (see docs/explain.md)."""
        ...

    def explain_agent(self, agent_id: str) -> AgentExplanation:
        """Why an agent has no (further) offer (see docs/explain.md)."""
        ...


class ServiceHandle(Protocol):
    """What a channel adapter may do with the service: the ``service`` argument of
    ``ccroute_start_channel`` and ``ccroute_stop_channel``.

    :class:`ccroute.Service` is one. A plugin typed against this protocol (not
    against ``Service``) imports nothing of the service, can be tested with a
    small fake, and cannot reach what the service keeps to itself (its store,
    its plugin manager, the router's commands). Every command is logged and
    durable when it returns, exactly as on ``Service``; the router is for
    reading: at run time it is a :class:`~ccroute.router_view.ReadOnlyRouter`,
    which refuses every command (:class:`~ccroute.errors.ReadOnlyError`). A
    protocol for type checkers (``isinstance`` does not take it: ``router``
    raises on a service that has not started).
    """

    @property
    def settings(self) -> Mapping[str, Any]:
        """The application's settings; an adapter reads its own key (``settings["email"]``)."""
        ...

    @property
    def router(self) -> RouterView:
        """The live router, for reading (raises before the service has started)."""
        ...

    @property
    def running(self) -> bool:
        """Whether the service takes calls."""
        ...

    @property
    def now(self) -> float:
        """The service's time now, in router clock seconds (never behind ``router.now``)."""
        ...

    @property
    def metrics(self) -> MetricsCollector:
        """The centre's figures since its log began (read it, never feed it);
        raises :class:`~ccroute.ServiceError` on a service run with ``metrics=False``."""
        ...

    @property
    def masking(self) -> Masking:
        """The service's masking rules: an adapter masks with them what it keeps or shows."""
        ...

    @property
    def durable_seq(self) -> int:
        """The seq of the last log record known to be durable."""
        ...

    @property
    def hook_failures(self) -> Counter[tuple[str, str, str]]:
        """Plugin failures by (hook, plugin, kind)."""
        ...

    @property
    def task_failures(self) -> Counter[str]:
        """Background tasks (:meth:`start_soon`) that raised, by task name."""
        ...

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any) -> None:
        """Run ``fn(*args)`` in the service's task group (a listener; cancelled at stop)."""
        ...

    def run_from_thread(self, fn: Callable[..., Coroutine[Any, Any, _T]], /, *args: Any) -> _T:
        """Call one of these coroutines from a foreign thread (an adapter's server thread)."""
        ...

    async def inbound(self, contact: Contact) -> Sequence[Event]:
        """Take a contact through IVR, CRM and routing (what adapters call)."""
        ...

    @property
    def flows(self) -> LiveFlows:
        """IVR and chatbot flows run live: ``await service.flows.start(flow, contact, send)``."""
        ...

    async def submit(self, contact: Contact) -> Sequence[Event]:
        """Route a contact as it is (no IVR, no CRM)."""
        ...

    async def accept(self, contact_id: str, agent_id: str) -> Sequence[Event]:
        """The agent took the offer."""
        ...

    async def reject(self, contact_id: str, agent_id: str) -> Sequence[Event]:
        """The agent declined the offer."""
        ...

    async def complete(self, contact_id: str, disposition: str | None = None) -> Sequence[Event]:
        """The conversation is over (wrap-up starts), with a wrap-up code or none."""
        ...

    async def end_wrap_up(self, contact_id: str, disposition: str | None = None) -> Sequence[Event]:
        """The agent finished the wrap-up early, with a wrap-up code or none."""
        ...

    async def abandon(self, contact_id: str) -> Sequence[Event]:
        """The customer left."""
        ...

    async def transfer(
        self,
        contact_id: str,
        *,
        queue: str | None = None,
        requirements: Mapping[str, int] | None = None,
        agent: str | None = None,
        keep_key: bool = True,
    ) -> Sequence[Event]:
        """Move a contact to another queue, skill set or agent (:meth:`ccroute.Router.transfer`)."""
        ...

    async def request_callback(self, contact_id: str, channel: str = "callback") -> Sequence[Event]:
        """The customer asked to be called back instead of waiting."""
        ...

    async def set_presence(
        self, agent_id: str, presence: Presence, reason: str | None = None
    ) -> Sequence[Event]:
        """An agent's presence changed (logged in, available, on a break, …)."""
        ...

    async def set_capacity(self, agent_id: str, channel: str, capacity: int) -> Sequence[Event]:
        """An agent's capacity on a channel changed."""
        ...
