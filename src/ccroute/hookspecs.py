"""The hooks ccroute calls, declared for pluggy.

A plugin is any object (usually a module) with functions named after these
hooks and marked with :data:`ccroute.hookimpl`; it need implement only the
hooks it cares about, and only the arguments it wants (pluggy passes them by
name). Each hook's docstring says who calls it, when, with what, and what its
result means. "Collected" hooks call every implementation and use every
result; "first result" hooks stop at the first implementation that returns
something other than ``None`` (the last registered plugin is asked first, see
docs/plugins.md).

Every hook the service calls may be a plain function or ``async def``. Plain
functions run in a worker thread so that one that hangs cannot stall routing;
each call has the service's hook timeout. An implementation that raises,
returns a value of the wrong type or runs past its timeout is isolated: the
service logs it, counts it in :attr:`ccroute.Service.hook_failures`, and goes
on with the fallback the hook documents.

Channel adapters get the service as a :class:`~ccroute.hooktypes.ServiceHandle`,
the narrow protocol of what an adapter may do; this module never imports
:mod:`ccroute.service` (nor does :mod:`ccroute.plugins`), so there is no import
cycle between the service and its hooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from .events import Event
from .hooktypes import (
    AgentStrategy,
    CustomerUpdate,
    HistoryRecord,
    IvrFlow,
    OfferDelivery,
    ServiceHandle,
)
from .ivr.intent import IntentPrediction
from .model import Channel, Contact

if TYPE_CHECKING:
    from .storage import AsyncStorage, Storage

__all__ = ["PROJECT", "hookimpl", "hookspec"]

#: The pluggy project name, and the entry-point group third-party plugins use.
PROJECT = "ccroute"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Marks a plugin's function as the implementation of the ccroute hook of the same name.
hookimpl = pluggy.HookimplMarker(PROJECT)


# ------------------------------------------------------------------ providing


@hookspec
def ccroute_channels() -> Iterable[Channel]:
    """Channels this plugin adds to the router (a social network, video, …).

    Called once when the service starts, before storage is recovered.
    Collected: every :class:`~ccroute.Channel` returned is added unless a
    channel of that name is known already (the first one wins, in hook call
    order). Fallback: a result that is not an iterable of channels is ignored.
    """


@hookspec
def ccroute_agent_strategies() -> Mapping[str, AgentStrategy]:
    """Agent strategies written in Python, by the name queues select them with.

    Called once when the service starts. Collected: a queue whose
    :attr:`~ccroute.QueueConfig.strategy` is one of these names routes with
    that strategy's :meth:`~ccroute.AgentStrategy.score`. The first plugin
    (in hook call order) to provide a name wins. Fallback: a result that is not
    a mapping of names to objects with a ``score`` method is ignored, and a
    strategy that raises while routing falls back to longest idle.
    """


@hookspec(firstresult=True)
def ccroute_storage(settings: Mapping[str, Any]) -> Storage | AsyncStorage | None:
    """Provide the store the service logs to and recovers from.

    Called once when the service starts, unless the application passed a
    store itself. ``settings`` is the mapping the application gave the
    service. First result: the built-in default returns a
    :class:`~ccroute.SQLiteStorage` when ``settings`` has a ``"path"`` and a
    :class:`~ccroute.MemoryStorage` otherwise, so a plugin registered later
    (a Redis store, say) takes precedence. The store may be a
    :class:`~ccroute.storage.AsyncStorage` (its methods coroutines, awaited
    on the service's event loop). Fallback: a result that is not a
    store is a failure and the next implementation is asked.
    """


# ------------------------------------------------------------ channel adapters


@hookspec
def ccroute_start_channel(service: ServiceHandle) -> None:
    """Start a channel adapter: begin taking inbound contacts.

    Called once when the service starts, after storage is recovered and before
    :meth:`~ccroute.Service.start` returns. ``service`` is a
    :class:`~ccroute.hooktypes.ServiceHandle`: an adapter submits what it
    receives with ``await service.inbound(contact)`` (IVR, CRM and routing
    follow), reads its configuration from ``service.settings`` and the
    router's state from ``service.router`` (read-only: its commands raise
    :class:`~ccroute.errors.ReadOnlyError`), and answers for agents with the
    handle's commands (``accept``, ``reject``, ``complete``, …). A
    long-running listener starts in the background with
    :meth:`~ccroute.hooktypes.ServiceHandle.start_soon` rather than blocking
    this hook, which has the hook timeout. An adapter that opens a network
    listener should do so only when the application's settings enable it.
    Collected. Fallback: an adapter that fails to start is logged and
    counted; the service runs without it.
    """


@hookspec
def ccroute_stop_channel(service: ServiceHandle) -> None:
    """Stop a channel adapter (close listeners, finish sending).

    Called once when the service stops, after it stopped accepting calls and
    flushed storage. Collected. Fallback: a failure is logged and counted;
    shutdown goes on.
    """


@hookspec(firstresult=True)
def ccroute_deliver_offer(delivery: OfferDelivery) -> bool | None:
    """Show an offer to the agent, with the contact and the customer's profile.

    Called by the service for every :class:`~ccroute.Offered` event, once the
    offer is durable. An adapter handles the offers of its own channel
    (``delivery.channel``) and returns ``True``; it returns ``None`` for
    others. First result. The agent's answer comes back as
    :meth:`~ccroute.Service.accept` or :meth:`~ccroute.Service.reject`.
    Fallback: when no adapter delivers it, the offer stays open until its
    timeout (the router's redirect on no answer) and the miss is logged.
    """


@hookspec
def ccroute_customer_update(update: CustomerUpdate) -> None:
    """Tell the customer side what happened: queued (with position and estimated
    wait), answered, or closed.

    Called by the service once the change is durable: ``queued`` when a
    contact starts waiting, ``answered`` when an agent accepts it, ``closed``
    when it completes, is abandoned, is refused or was resolved by self-service.
    Collected. An adapter ignores updates of other channels. Fallback: a
    failure is logged and counted; routing is not affected.
    """


# ------------------------------------------------------------------------ IVR


@hookspec(firstresult=True)
def ccroute_ivr_flow(contact: Contact) -> IvrFlow | None:
    """Choose the IVR or chatbot flow an inbound contact goes through.

    Called by :meth:`~ccroute.Service.inbound` for each contact an adapter
    receives, before CRM enrichment. First result: the flow's
    :meth:`~ccroute.IvrFlow.run` then decides the queue, requirements and
    priority, or resolves the request (self-service). Fallback (no flow, or a
    choice or a run that fails, returns junk or times out): the default flow,
    which routes the contact as the adapter submitted it.
    """


@hookspec(firstresult=True)
def ccroute_predict_intent(
    text: str, intents: Sequence[str], contact: Contact
) -> IntentPrediction | None:
    """Predict what a customer's words in an IVR or chatbot flow are about.

    Called by the driver of a :class:`~ccroute.ivr.FlowSession` (the
    service) when the session's :class:`~ccroute.ivr.Prompt` offers intents
    (``prompt.intents``, a menu with intent options) and the customer answered
    with text (speech as text, a chat message), before the answer is fed to
    the session. ``text`` is the answer, ``intents`` the names the menu takes,
    ``contact`` the contact as the adapter submitted it. First result: an
    :class:`~ccroute.ivr.IntentPrediction` (one of ``intents``, with a
    confidence in 0..1) passed to :meth:`FlowSession.input
    <ccroute.ivr.FlowSession.input>` as ``intent=``; the menu takes it at or
    above its threshold. ``None``: no idea, the next plugin is asked.
    Fallback (no prediction, or a failure): the session's default
    :class:`~ccroute.ivr.KeywordIntentMatcher`, from the flow's ``[intents]``.
    """


@hookspec(firstresult=True)
def ccroute_self_service(
    action: str, arguments: Mapping[str, Any], contact: Contact
) -> Mapping[str, Any] | None:
    """Run a self-service action of an IVR flow (a balance check, an order status, …).

    Called by the driver of a :class:`~ccroute.ivr.FlowSession` (the
    service) when the session returns an :class:`~ccroute.ivr.ActionRequest`:
    ``action`` is its name, ``arguments`` its raw arguments (sensitive
    answers unmasked: this is the one hook that sees them; never log them),
    ``contact`` the contact as the adapter submitted it. First result: a
    mapping of JSON values fed to :meth:`FlowSession.action_result
    <ccroute.ivr.FlowSession.action_result>`. ``resolved = true`` resolves the
    contact without an agent (``outcome``, default ``"self-service"``;
    ``message``: what to tell the customer); otherwise its fields are the
    facts ``result.<field>`` the action node's rules branch on, and its
    ``message`` is said before the next prompt. ``None``: not this plugin's
    action, the next plugin is asked. Fallback (no plugin runs the action, or
    it fails or times out): the node's ``on_error``, or the flow's fallback.
    """


# ------------------------------------------------------------------------ CRM


@hookspec(firstresult=True)
def ccroute_crm_lookup(customer_id: str) -> Mapping[str, Any] | None:
    """Look up a customer's profile (name, tier, language, last agent, …).

    Called by :meth:`~ccroute.Service.inbound` for a contact with a
    ``customer_id``, after the IVR. First result: the profile is passed to
    :func:`ccroute_crm_enrich` and shown with the agent's offer. Fallback: no
    CRM data (an empty profile). The built-in CRM (``settings["crm"]``,
    docs/crm.md) answers with its stored profile after every other plugin.
    """


@hookspec(firstresult=True)
def ccroute_crm_enrich(contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
    """Enrich a contact from the customer's profile (VIP to priority, language to
    skill, last agent to a preferred agent).

    Called right after :func:`ccroute_crm_lookup` with the profile it found
    (empty when none). First result: the returned contact (same id) is the one
    routed. Fallback: the contact unchanged; a contact with another id is junk.
    The built-in CRM's enrichment rules (docs/crm.md) are asked after every
    other plugin: a plugin that returns a contact takes precedence over them.
    """


@hookspec(firstresult=True)
def ccroute_crm_history(customer_id: str) -> Sequence[HistoryRecord] | None:
    """The customer's recent finished contacts, newest first, for the screen pop.

    Called by the service before it delivers an offer of a contact with a
    ``customer_id``; the records go to the adapter in
    :attr:`OfferDelivery.history <ccroute.OfferDelivery.history>`. The
    implementation decides how many (the built-in CRM: its
    ``history_limit``). First result. Fallback: no history (an empty tuple);
    a result that is not a sequence of :class:`~ccroute.HistoryRecord` is junk.
    """


@hookspec
def ccroute_crm_record(record: HistoryRecord) -> None:
    """Record a finished contact in the customer's history.

    Called by the service once a contact's end is durable: its wrap-up ended,
    it was abandoned, refused or timed out in the queue, or self-service
    resolved it. Collected.
    Fallback: a failure is logged and counted; the record is not retried.
    """


# ------------------------------------------------------------------ observers


@hookspec
def ccroute_events(events: Sequence[Event]) -> None:
    """Observe every batch of router events, in order, once they are durable.

    Called by the service after each group commit with the events of the
    calls it made durable (a tuple: read it, do not change it). Observers see
    the batches made durable while they run; figures that must survive a
    restart come from :attr:`ccroute.Service.metrics`, which the service
    rebuilds from its log. Collected. Fallback: a failure is logged and
    counted; later batches are still delivered.
    """
