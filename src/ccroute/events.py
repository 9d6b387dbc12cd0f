"""Events: what the router did, one frozen value per fact.

Every :class:`~ccroute.Router` call returns the list of events it caused, in
the order they happened, and hands the same list to the router's observers.
Events are the only output of the core: metrics, storage and channel adapters
are all built from them. Bad input is never an event; it raises.

Every event carries ``at``, the clock time at which it happened. Waits are in
seconds and measured from the moment the contact entered its current queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import attrs

from .model import Contact, Presence

__all__ = [
    "Abandoned",
    "Accepted",
    "AgentAdded",
    "AgentRemoved",
    "AgentUpdated",
    "CallbackClosed",
    "CallbackClosedReason",
    "CallbackRequested",
    "CallbackScheduleReason",
    "CallbackScheduled",
    "CallbackUnanswered",
    "Completed",
    "ContactUpdated",
    "CustomerEnriched",
    "Event",
    "FlowAdvanced",
    "FlowFinished",
    "FlowStarted",
    "HistoryRecorded",
    "OfferDelivered",
    "OfferRescinded",
    "OfferTimedOut",
    "OfferReason",
    "Offered",
    "OverflowReason",
    "Overflowed",
    "PreferenceExpired",
    "PreferenceExpiryReason",
    "PresenceChanged",
    "QueueUpdated",
    "Queued",
    "RampUpEndReason",
    "RampUpEnded",
    "RefusalReason",
    "Refused",
    "Rejected",
    "Rejoined",
    "StepApplied",
    "TimedOut",
    "TimeoutReason",
    "Transferred",
    "WrapUpEnded",
]

# Reasons an event carries from a closed set. The strings are part of the log
# format (docs/log-format.md): a value is never renamed, a new one is added.

#: Why a submitted contact was refused (:attr:`Refused.reason`): the queue
#: holds its ``max_size``, or its admission rule found no agent logged in or
#: none that could ever take the contact (docs/policies/admission.md), or
#: its calendar is closed and it refuses while closed (docs/business-hours.md).
RefusalReason = Literal["queue full", "no agent logged in", "no eligible agent", "closed"]

#: Why a waiting contact left unanswered (:attr:`TimedOut.reason`): it waited
#: its queue's ``max_wait``, the queue skips when no agent could take it, or
#: its overflow queue was full (docs/policies/max-wait.md).
TimeoutReason = Literal["max wait", "no agent", "overflow queue full"]

#: Why a waiting contact moved to the overflow queue (:attr:`Overflowed.reason`):
#: it waited its queue's ``max_wait``, or no agent could take it.
OverflowReason = Literal["max wait", "no agent"]

#: Why an agent's ramp-up ended (:attr:`RampUpEnded.reason`): its time ran
#: out, or it accepted enough offers (docs/policies/ramp-up.md).
RampUpEndReason = Literal["time", "accepted"]

#: Why a contact stopped waiting for its preferred agent
#: (:attr:`PreferenceExpired.reason`): the agent is excluded for it, was not
#: logged in, declined it or logged off, or the preference's wait is over.
PreferenceExpiryReason = Literal[
    "excluded", "not logged in", "wait over", "agent logged off", "declined"
]


#: Why a callback was scheduled (:attr:`CallbackScheduled.reason`): the
#: customer asked for a time, the queue was closed and holds arrivals until
#: it opens, or a call went unanswered and a retry is due (docs/business-hours.md).
CallbackScheduleReason = Literal["requested", "closed", "retry"]

#: How a scheduled callback ended without being handled
#: (:attr:`CallbackClosed.reason`): its calls went unanswered until its
#: retries ran out, or it was cancelled before its time.
CallbackClosedReason = Literal["unreached", "cancelled"]


@attrs.frozen(slots=True)
class Event:
    """Base class of every event; ``at`` is the clock time it happened."""

    at: float


@attrs.frozen(slots=True)
class Queued(Event):
    """A submitted contact entered a queue and waits for an agent."""

    contact_id: str
    queue: str
    channel: str


@attrs.frozen(slots=True)
class Refused(Event):
    """A submitted contact was not admitted; ``reason`` says why (:data:`RefusalReason`)."""

    contact_id: str
    queue: str
    channel: str
    reason: RefusalReason


@attrs.frozen(slots=True)
class OfferReason:
    """Why a contact was offered to this agent (carried by :class:`~ccroute.Offered`).

    :param strategy: the queue's strategy (its value, or the custom name).
    :param trigger: ``"contact"`` when the contact became routable and was
        matched to an agent, ``"agent"`` when an agent freed up and took the
        most deserving contact it could.
    :param eligible: how many agents could take the contact at that moment
        (the winner included).
    :param score: the winner's score under the strategy (higher wins; see
        docs/explain.md), or ``None`` for strategies without one (round
        robin, random) and for a custom strategy that was not asked (one
        eligible agent, an agent-side decision, or a failure).
    :param runner_up: the best score among the other eligible agents, or ``None``.
    :param step: routing steps applied to the contact so far (0: its
        original requirements).
    :param held_back: policies that kept at least one otherwise eligible
        agent from the contact at that moment (values of
        :class:`~ccroute.NotEligible`), in a stable order.
    """

    strategy: str
    trigger: str
    eligible: int
    score: float | None
    runner_up: float | None
    step: int
    held_back: tuple[str, ...] = ()


@attrs.frozen(slots=True)
class Offered(Event):
    """A contact was offered to (reserved for) an agent.

    ``timeout_at`` is the clock time at which the offer times out, or ``None``;
    ``reason`` says why this agent (``None`` when the router was built with
    ``offer_reasons=False``).
    """

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    timeout_at: float | None
    reason: OfferReason | None = None


@attrs.frozen(slots=True)
class OfferTimedOut(Event):
    """The agent did not answer an offer in time; the contact went back to its place."""

    contact_id: str
    agent_id: str


@attrs.frozen(slots=True)
class Rejected(Event):
    """The agent declined an offer; the contact went back to its place."""

    contact_id: str
    agent_id: str


@attrs.frozen(slots=True)
class OfferRescinded(Event):
    """An offer was withdrawn by the router.

    ``reason`` is ``"agent logged off"``, ``"excluded"`` (the agent was
    excluded for the contact) or ``"answered by <agent id>"`` (another agent
    accepted a contact offered to several): it names an agent, so it is a
    plain string rather than a closed set.
    """

    contact_id: str
    agent_id: str
    reason: str


@attrs.frozen(slots=True)
class Accepted(Event):
    """The agent accepted the offer: the contact is answered and in service."""

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    wait: float


@attrs.frozen(slots=True)
class Completed(Event):
    """The agent finished the contact; wrap-up (after-contact work) begins.

    ``handle_time`` is the time from acceptance to completion; ``disposition``
    the wrap-up code given with :meth:`Router.complete <ccroute.Router.complete>`,
    if any.
    """

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    handle_time: float
    disposition: str | None = None


@attrs.frozen(slots=True)
class WrapUpEnded(Event):
    """Wrap-up of a contact ended; the agent's slot for it is free again.

    ``disposition`` is the contact's wrap-up code in the end: the one given
    with :meth:`Router.end_wrap_up <ccroute.Router.end_wrap_up>`, else the
    one given with ``complete``, else ``None``.
    """

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    wrap_time: float
    disposition: str | None = None


@attrs.frozen(slots=True)
class Abandoned(Event):
    """The customer left before being answered.

    ``agent_id`` is the agent who held the offer at that moment, if any.
    """

    contact_id: str
    queue: str
    channel: str
    wait: float
    agent_id: str | None = None


@attrs.frozen(slots=True)
class TimedOut(Event):
    """A contact waited its maximum and left unanswered (no overflow queue).

    ``reason`` is ``"max wait"``, ``"no agent"`` (the queue skips when no
    agent could take it) or ``"overflow queue full"`` (:data:`TimeoutReason`).
    """

    contact_id: str
    queue: str
    channel: str
    wait: float
    reason: TimeoutReason


@attrs.frozen(slots=True)
class Overflowed(Event):
    """A contact waited its maximum (or no agent could take it) and moved to another queue.

    ``wait`` is the time it spent in ``from_queue``; ``reason`` is ``"max
    wait"`` or ``"no agent"`` (:data:`OverflowReason`); ``keep_key`` says
    whether it kept its place in line.
    """

    contact_id: str
    from_queue: str
    to_queue: str
    wait: float
    reason: OverflowReason
    keep_key: bool


@attrs.frozen(slots=True)
class Rejoined(Event):
    """A returning customer regained the place of the contact they abandoned."""

    contact_id: str
    previous_contact_id: str
    queue: str


@attrs.frozen(slots=True)
class RampUpEnded(Event):
    """An agent's ramp-up after an absence ended; ``reason`` is ``"time"`` or
    ``"accepted"`` (:data:`RampUpEndReason`)."""

    agent_id: str
    reason: RampUpEndReason


@attrs.frozen(slots=True)
class Transferred(Event):
    """A contact moved to another queue, skill set or agent, and waits again.

    ``from_agent`` is the agent who had the contact in service, if any;
    ``to_agent`` is the agent the contact is now reserved for, if any;
    ``kept_key`` says whether the contact kept its place in line.
    """

    contact_id: str
    from_queue: str
    to_queue: str
    from_agent: str | None
    to_agent: str | None
    kept_key: bool


@attrs.frozen(slots=True)
class StepApplied(Event):
    """A routing step changed a waiting contact's requirements (the contact kept its key).

    ``step`` is the index of the step in its queue's ``steps``.
    """

    contact_id: str
    queue: str
    step: int
    requirements: tuple[tuple[str, int], ...]
    queues: frozenset[str]


@attrs.frozen(slots=True)
class PreferenceExpired(Event):
    """A contact stopped waiting for its preferred agent; any eligible agent may take it.

    ``reason`` says why (:data:`PreferenceExpiryReason`).
    """

    contact_id: str
    agent_id: str
    reason: PreferenceExpiryReason


@attrs.frozen(slots=True)
class CallbackRequested(Event):
    """A waiting contact became a callback: it keeps its place, the customer hangs up."""

    contact_id: str
    channel: str


@attrs.frozen(slots=True)
class CallbackScheduled(Event):
    """A callback is held until ``due`` (clock time), when it enters ``queue``.

    Held, it is not in the queue and not counted as waiting. ``attempt`` is
    the call it will be (1 for the first); ``reason`` says why it was
    scheduled (:data:`CallbackScheduleReason`). It is scheduled again, with
    the same attempt, when it falls due while its queue is closed.
    """

    contact_id: str
    queue: str
    channel: str
    due: float
    attempt: int
    reason: CallbackScheduleReason


@attrs.frozen(slots=True)
class CallbackUnanswered(Event):
    """The agent's call for a callback was not answered (the ``attempt``-th call);
    the agent is free again, without wrap-up. A :class:`CallbackScheduled`
    (a retry) or a :class:`CallbackClosed` follows."""

    contact_id: str
    agent_id: str
    queue: str
    channel: str
    attempt: int


@attrs.frozen(slots=True)
class CallbackClosed(Event):
    """A scheduled callback ended without being handled: ``reason``
    (:data:`CallbackClosedReason`) says how, ``attempts`` how many calls were made."""

    contact_id: str
    queue: str
    channel: str
    attempts: int
    reason: CallbackClosedReason


@attrs.frozen(slots=True)
class PresenceChanged(Event):
    """An agent's presence changed; ``reason`` says why (e.g. ``"rona"``, ``"break"``).

    The router gives ``"rona"`` (the agent let an offer time out) and
    ``"removed"``; any other reason is the application's, passed to
    :meth:`~ccroute.Router.set_presence`, so it is an open string (or ``None``).
    """

    agent_id: str
    old: Presence
    new: Presence
    reason: str | None = None


@attrs.frozen(slots=True)
class AgentAdded(Event):
    """An agent was added to the router (offline until its presence changes)."""

    agent_id: str


@attrs.frozen(slots=True)
class AgentRemoved(Event):
    """An agent was removed from the router."""

    agent_id: str


@attrs.frozen(slots=True)
class QueueUpdated(Event):
    """A queue's settings changed (:meth:`~ccroute.Router.update_queue`).

    ``changed`` names the :class:`~ccroute.QueueConfig` fields that differ,
    in the order of the class (``("strategy", "max_wait")``); the new values
    are in :meth:`~ccroute.Router.queue_config`.
    """

    queue: str
    changed: tuple[str, ...]


@attrs.frozen(slots=True)
class AgentUpdated(Event):
    """An agent's skills, queues, capacities, unit budget or queue delays changed
    (:meth:`~ccroute.Router.update_agent`); it kept its presence and its work.

    ``changed`` names the :class:`~ccroute.Agent` fields that differ, in the
    order of the class (``("skills", "capacity")``).
    """

    agent_id: str
    changed: tuple[str, ...]


@attrs.frozen(slots=True)
class ContactUpdated(Event):
    """A live contact's priority, tier, requirements or attributes changed
    (:meth:`~ccroute.Router.update_contact`).

    ``changed`` names the :class:`~ccroute.Contact` fields that differ, in
    the order of the class (``("requirements", "priority_seconds")``).
    """

    contact_id: str
    changed: tuple[str, ...]


# --------------------------------------------------------------------------
# Events of the service's inbound pipeline (ccroute.Service). The router never
# produces these; the service logs them beside the router's own events.


@attrs.frozen(slots=True)
class FlowFinished(Event):
    """The IVR step of an inbound contact ended.

    ``flow`` names the flow's plugin (``None``: no flow chose it, the default
    flow); ``outcome`` is ``"routed"`` (the contact goes on to an agent),
    ``"self-service"`` (the flow resolved it) or ``"default"`` (the flow failed,
    and the contact goes on as the adapter submitted it). For a flow run live
    (:attr:`Service.flows <ccroute.Service.flows>`), ``flow`` is the flow's
    name and ``outcome`` is ``"routed"``, ``"fallback"``, ``"callback"`` or
    the resolution's outcome (``"self-service"``, ``"closed"``,
    ``"abandoned"``, an end node's own).
    """

    contact_id: str
    flow: str | None
    outcome: str


@attrs.frozen(slots=True)
class FlowStarted(Event):
    """A caller began a flow run live (:attr:`Service.flows <ccroute.Service.flows>`),
    logged before the flow's first prompt is said.

    ``flow`` is the flow's name. ``contact`` is where the caller goes should
    the service crash before the flow ends: the flow's fallback queue and
    requirements, with the priority, tier and attributes the flow has set so
    far and its ``ivr`` record (answers, sensitive ones masked; the path;
    ``fallback`` reason ``"recovered"``). A restarted service routes it
    (docs/ivr-flows.md, "After a crash"). Logged masked, as every note.
    """

    contact_id: str
    flow: str
    contact: Contact


@attrs.frozen(slots=True)
class FlowAdvanced(Event):
    """A flow run live moved on (an answer accepted, an action's result, a
    retry): logged before its next prompt is said, when what a recovery
    would route changed. ``node`` is the node that now waits for the caller;
    ``contact`` is as in :class:`FlowStarted`, as of now."""

    contact_id: str
    node: str
    contact: Contact


@attrs.frozen(slots=True)
class CustomerEnriched(Event):
    """The CRM step of an inbound contact ended: whether a profile was found and
    whether enrichment changed the contact.

    ``profile`` is what the CRM knew (JSON data; empty when nothing): it is
    logged so that a restarted service still shows it beside the offer.
    """

    contact_id: str
    customer_id: str
    profile_found: bool
    changed: bool
    profile: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(slots=True)
class OfferDelivered(Event):
    """An offer reached the agent's side through a channel adapter (``delivered``),
    or no adapter took it and it waits for its timeout."""

    contact_id: str
    agent_id: str
    delivered: bool


@attrs.frozen(slots=True)
class HistoryRecorded(Event):
    """A finished contact was handed to the CRM history (``outcome`` as recorded)."""

    contact_id: str
    outcome: str


# ------------------------------------------------------------ fast building

_E = TypeVar("_E")


def _builder(cls: type[_E]) -> Callable[..., _E]:
    """A function that builds a ``cls`` from all its fields, in order: the object
    its ``__init__`` builds, for the router's use only.

    attrs' ``__init__`` of a frozen slotted class sets each field through
    ``object.__setattr__`` by name; the builder makes the instance with
    ``object.__new__`` and stores each field through its slot's descriptor,
    which skips the name lookup. The result is the same: same class, same
    slots, so the same equality, hash, repr and immutability. It takes every
    field (no defaults) and runs no validators or converters, so it is only
    for classes that have none; :func:`_check_builder_fits` refuses others.
    """
    _check_builder_fits(cls)
    names = [field.name for field in attrs.fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        owner = next(klass for klass in cls.__mro__ if name in vars(klass))
        namespace[f"_set_{name}"] = vars(owner)[name].__set__
    body = "".join(f"    _set_{name}(self, {name})\n" for name in names)
    source = f"def build({', '.join(names)}):\n    self = _new(_cls)\n{body}    return self\n"
    # Generated, as attrs generates its __init__: a loop over the fields
    # would cost more than the __setattr__ calls it replaces.
    exec(source, namespace)
    build: Callable[..., _E] = namespace["build"]
    build.__qualname__ = f"{cls.__name__}._build"
    return build


def _check_builder_fits(cls: type) -> None:
    if "__slots__" not in vars(cls) or not attrs.has(cls):
        raise TypeError(f"{cls.__name__} is not a slotted attrs class")
    for field in attrs.fields(cls):
        if field.validator is not None or field.converter is not None:
            raise TypeError(f"{cls.__name__}.{field.name} has a validator or converter")
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        raise TypeError(f"{cls.__name__} has an init hook")


# Builders of the events the router makes for every contact (docs: see
# _builder). Positional, every field given.
_build_queued: Callable[[float, str, str, str], Queued] = _builder(Queued)
_build_offered: Callable[[float, str, str, str, str, float | None, OfferReason | None], Offered] = (
    _builder(Offered)
)
_build_accepted: Callable[[float, str, str, str, str, float], Accepted] = _builder(Accepted)
_build_completed: Callable[[float, str, str, str, str, float, str | None], Completed] = _builder(
    Completed
)
_build_wrap_up_ended: Callable[[float, str, str, str, str, float, str | None], WrapUpEnded] = (
    _builder(WrapUpEnded)
)
