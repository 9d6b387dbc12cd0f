"""Flows run live in the service: the driver between channel adapters and :class:`~ccroute.ivr.FlowSession`.

A :class:`~ccroute.ivr.FlowSession` is sans-I/O: something has to say its
prompts, take the customer's answers, run its timers and its self-service
actions, and act on its last step. In the service that is
:class:`LiveFlows` (``service.flows``), one per run of the service. A
channel adapter starts a :class:`LiveSession` for an inbound contact with
:meth:`LiveFlows.start`, passing a ``send`` callable through which the
driver hands it each :class:`FlowOutput` (a prompt to say, a message, an
in-queue announcement, the end), and feeds it the customer's answers with
:meth:`LiveSession.input` (or :meth:`LiveSession.hangup`). The driver:

- looks the customer's CRM profile up first (the ``ccroute_crm_lookup``
  hook), so that conditions read it, and routes with the same profile;
- runs each prompt's time-out and the flow's time limit on the service's
  clock, in a task of the service (:meth:`~ccroute.Service.start_soon`); a
  session lives as long as the customer takes, bounded by the flow's own
  time limit, never by the hook timeout;
- asks the ``ccroute_predict_intent`` hook about text answers to menus that
  take intents (when no plugin predicts, the flow's keyword matcher
  decides) and runs action requests through the ``ccroute_self_service``
  hook (each call within the action's timeout and the service's hook
  timeout, isolated and counted in ``Service.hook_failures``; a failure is
  the node's ``on_error`` or the fallback);
- acts on the last step: a routing decision goes through the service's
  inbound pipeline (CRM enrichment, then routing; a
  :class:`~ccroute.FlowFinished` note names the flow and its outcome), a
  callback decision is routed and then turned into a callback
  (:meth:`~ccroute.Service.request_callback`) so the customer keeps their
  place, a resolution is logged and told to the customer side and the CRM
  history (:meth:`~ccroute.Service.resolve`);
- plays the in-queue treatment of an ``announce`` node: the message with
  the contact's position and estimated wait at once and then every period
  while it waits, and its exit digit turns the contact into a callback.

The driver logs through the service's logger (``ccroute.service``).
Sensitive answers reach only the ``ccroute_self_service`` hook: the driver
never logs an answer, never passes one to another hook, and the contact it
routes carries them masked (docs/ivr-flows.md).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs

from ..errors import (
    CCRouteError,
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    ServiceError,
    StorageError,
    UnknownIdError,
)
from ..events import Event, FlowAdvanced, FlowFinished, FlowStarted
from ..lifecycle import ContactState
from ..model import Contact
from ..plugins import _cancel_requested, _is_cancellation
from .context import RouterFlowContext
from .nodes import Flow, Treatment
from .session import IVR_KEY, FlowSession
from .steps import (
    ActionRequest,
    CallbackDecision,
    FinalStep,
    Prompt,
    Resolution,
    RoutingDecision,
    Step,
)

if TYPE_CHECKING:
    from ..plugins import Hooks
    from ..service import Service

__all__ = [
    "RECOVERED",
    "FlowOutput",
    "FlowOutputKind",
    "FlowResult",
    "LiveFlows",
    "LiveSession",
    "Send",
]

#: What a :class:`FlowOutput` asks of the adapter: ``"prompt"`` (say ``text``
#: and take the customer's answer: ``prompt`` says how), ``"message"`` (say
#: ``text``, no answer expected), ``"announcement"`` (the in-queue treatment,
#: ``text`` rendered with the position and estimated wait), ``"exit"`` (the
#: customer pressed the treatment's exit digit: ``outcome`` is the exit,
#: ``"callback"`` or ``"message"``) and ``"ended"`` (the flow is over:
#: ``outcome`` says how).
FlowOutputKind = Literal["prompt", "message", "announcement", "exit", "ended"]

# A contact in these states is still in line (ringing counts): hanging up abandons it.
_HOLDING = (ContactState.WAITING, ContactState.OFFERED)

# DTMF input: the intent hook is not asked about digits (a menu takes them as options).
_DTMF = re.compile(r"[0-9*#]+")

#: The fallback reason of a caller a crash left in a flow, routed at the next start.
RECOVERED = "recovered"


@attrs.frozen(slots=True, kw_only=True)
class FlowOutput:
    """One thing the driver hands the channel adapter for a contact (see :data:`FlowOutputKind`).

    :param contact_id: the contact it is for.
    :param kind: what it asks of the adapter.
    :param text: what to say or show (``None`` for ``"exit"`` and ``"ended"``).
    :param prompt: for ``"prompt"``, the session's :class:`~ccroute.ivr.Prompt`
        (``expects``, ``sensitive``: never echo or record the answer,
        ``choices``, ``timeout``, ``attempt``).
    :param outcome: for ``"ended"``, the flow's outcome (``"routed"``,
        ``"fallback"``, ``"callback"``, or a resolution's outcome such as
        ``"self-service"``, ``"closed"``, ``"abandoned"``); for ``"exit"``,
        the treatment's exit.
    """

    contact_id: str
    kind: FlowOutputKind
    text: str | None = None
    prompt: Prompt | None = None
    outcome: str | None = None


#: The adapter's callable that takes each :class:`FlowOutput` of a session,
#: plain or ``async``. It runs in the session's task with the service's hook
#: timeout; one that raises or overruns is logged and counted in
#: :attr:`LiveFlows.send_failures`, and the session goes on.
Send = Callable[[FlowOutput], Awaitable[None] | None]


@attrs.frozen(slots=True, kw_only=True)
class FlowResult:
    """How a live session ended, once the service acted on its last step.

    :param contact_id: the contact.
    :param flow: the flow's name.
    :param outcome: ``"routed"`` (a transfer node), ``"fallback"`` (the flow's
        fallback, or a decision the router refused), ``"callback"``, or the
        resolution's outcome (``"self-service"``, ``"closed"``,
        ``"abandoned"``, an end node's own).
    :param step: the session's final step (its contact's answers are masked).
    :param events: the durable events of acting on it (the
        :class:`~ccroute.FlowFinished` note first).
    """

    contact_id: str
    flow: str
    outcome: str
    step: FinalStep
    events: tuple[Event, ...]


def _estimated_wait(service: Service, contact_id: str) -> float | None:
    """The estimated wait of ``contact_id``, waiting in its queue: the one place
    the driver's announcements take it from
    (:meth:`Router.estimated_wait <ccroute.Router.estimated_wait>`)."""
    return service.router.estimated_wait(contact_id)


def _queue_is_open(service: Service, queue: str) -> bool:
    """Whether ``queue`` is within its business hours now (the service's time,
    which runs ahead of the router's between calls): the one place the
    driver asks (:meth:`Router.is_open <ccroute.Router.is_open>`).

    :raises UnknownIdError: for an unknown queue.
    """
    return service.router.is_open(queue, service.now)


class LiveFlows:
    """The flows run live in a service: ``service.flows`` (see the module docs).

    Made by the service (one per run); sessions still in a flow when the
    service stops end in their flow's fallback, routed durably before the
    service stops taking calls (:meth:`aclose`).

    :param service: the running service.
    :param hooks: its hook caller (isolation, timeouts, failure counts).
    """

    def __init__(self, service: Service, hooks: Hooks) -> None:
        self._service = service
        self._hooks = hooks
        self._sessions: dict[str, LiveSession] = {}
        self._closing = False
        #: Opening hours, ``queue -> open now``, when the application keeps its
        #: own; ``None`` (default): the router's (``_queue_is_open``).
        self.hours: Callable[[str], bool] | None = None
        #: Calls of an adapter's ``send`` that raised or overran the hook timeout.
        self.send_failures = 0
        #: Callers a crash left in a flow, routed when this run started
        #: (:meth:`recover`): contact id -> ``"fallback"`` (waiting in the
        #: flow's fallback queue, or refused by it like any contact) or
        #: ``"lost"`` (the router refused the contact: its id was taken).
        self.recovered: dict[str, str] = {}

    @property
    def service(self) -> Service:
        """The service the flows run in."""
        return self._service

    @property
    def sessions(self) -> Mapping[str, LiveSession]:
        """The live sessions by contact id: in a flow, or queued with a treatment."""
        return dict(self._sessions)

    async def start(self, flow: Flow, contact: Contact, send: Send | None = None) -> LiveSession:
        """Start ``flow`` for an inbound ``contact``: the session, with its first
        prompt sent (or already ended, for a flow that needs no input).

        The customer's CRM profile is looked up first (``ccroute_crm_lookup``).
        Then ``send`` gets each :class:`FlowOutput` of the session, until the
        ``"ended"`` one (and the announcements of a treatment after it).

        :raises InvalidValueError: ``flow``, ``contact`` or ``send`` is of the wrong type.
        :raises InvalidStateError: a session of this contact id is live, or
            the router knows the contact already.
        :raises UnknownIdError: the flow's fallback queue is unknown to the
            router (the flow could not end safely).
        :raises ServiceError: the service is not running.
        """
        if not isinstance(flow, Flow):
            raise InvalidValueError(f"flow must be a Flow, got {type(flow).__name__}")
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"contact must be a Contact, got {type(contact).__name__}")
        if send is not None and not callable(send):
            raise InvalidValueError(f"send must be callable or None, got {send!r:.80}")
        service = self._service
        if not service.running or self._closing:
            raise ServiceError("the service is not running: no flow can start")
        router = service.router
        if contact.id in self._sessions:
            raise InvalidStateError(f"contact {contact.id!r} is in a flow already")
        try:
            router.contact(contact.id)
        except UnknownIdError:
            pass
        else:
            raise InvalidStateError(f"contact {contact.id!r} is known to the router already")
        router.queue_config(flow.fallback.queue)  # UnknownIdError names it
        profile: dict[str, Any] = {}
        if contact.customer_id is not None:
            profile = await self._hooks.crm_lookup(contact.customer_id)
        live = LiveSession(self, flow, contact, profile, send)
        if contact.id in self._sessions:  # another start won the race during the lookup
            raise InvalidStateError(f"contact {contact.id!r} is in a flow already")
        self._sessions[contact.id] = live
        try:
            async with live._lock:
                step = live._session.start(contact, now=service.now)
                await live._advance(step)
        except BaseException:
            live._forget()
            raise
        if live.running:
            service.start_soon(live._run)
        return live

    async def recover(self, pending: list[FlowStarted]) -> None:
        """Route the callers a crash left in a flow (called by the service as it
        starts, before it returns): each goes through the inbound pipeline
        (CRM lookup and enrichment, then routing) as its last ``FlowStarted``
        / ``FlowAdvanced`` note says: the flow's fallback queue, with what the
        flow had set and collected (masked) and ``ivr.fallback`` ``"recovered"``,
        logged with a :class:`~ccroute.FlowFinished` note (outcome
        ``"fallback"``). Its place in line starts now. A contact the router
        refuses (its id was taken meanwhile) is logged as ``"lost"``. Each
        ends its session in the log, so a later restart routes none twice.
        Concurrent, each CRM call bounded by the hook timeout.

        :raises InvalidValueError: ``pending`` is not a list of
            :class:`~ccroute.FlowStarted` notes; nothing is routed.
        """
        if not isinstance(pending, list) or not all(isinstance(n, FlowStarted) for n in pending):
            raise InvalidValueError(
                f"recover takes a list of FlowStarted notes, got {pending!r:.80}"
            )
        service = self._service
        failures: list[CCRouteError] = []

        async def route(note: FlowStarted) -> None:
            contact = note.contact
            done = FlowFinished(service.now, contact.id, note.flow, "fallback")
            try:
                routed = await self._route_recovered(contact, done, failures)
            except (
                DuplicateIdError,
                UnknownIdError,
                InvalidValueError,
                InvalidStateError,
            ) as error:
                # The router refused the contact itself; a failing store or a
                # stopped service (ServiceError, StorageError) fails the start.
                self._hooks.logger.error(
                    "flow %r: the caller of contact %r could not be routed after the restart (%s)",
                    note.flow,
                    contact.id,
                    error,
                )
                lost = FlowFinished(service.now, contact.id, note.flow, "lost")
                if await self._route_recovered(None, lost, failures):
                    self.recovered[contact.id] = "lost"
                return
            if routed:
                self.recovered[contact.id] = "fallback"

        self._hooks.logger.warning(
            "%d caller(s) were in a flow when the service last stopped without ending them: "
            "routed to their flows' fallback queues",
            len(pending),
        )
        async with anyio.create_task_group() as tg:
            for note in pending:
                tg.start_soon(route, note)
        if failures:
            # The service failed (its store, a halt): the start fails with that
            # error itself, and whatever was not routed is routed next time.
            raise failures[0]

    async def _route_recovered(
        self, contact: Contact | None, note: FlowFinished, failures: list[CCRouteError]
    ) -> bool:
        """Route a recovered caller (``contact``) or log only ``note``; a failure
        of the service itself (not a refusal of the router's) is kept in
        ``failures`` for :meth:`recover` to raise once every task ended.
        Whether it was done."""
        service = self._service
        try:
            if contact is None:
                await service.note_flow(note)
            else:
                await service.inbound(contact, flow=note)
        except (ServiceError, StorageError) as error:
            failures.append(error)
            return False
        return True

    async def tick(self) -> None:
        """Apply what fell due in every live session now: prompt time-outs, time
        limits, announcements. The sessions' own tasks do it by themselves at
        real time; with a manual clock, call this after advancing it (as
        :meth:`Service.tick <ccroute.Service.tick>`)."""
        for live in list(self._sessions.values()):
            await live._tick()

    async def aclose(self) -> None:
        """End every session still in a flow in its flow's fallback (reason
        ``"service stopping"``), routed durably; stop announcing. Called by
        :meth:`Service.stop <ccroute.Service.stop>` while it still takes calls;
        no session starts afterwards."""
        self._closing = True
        for live in list(self._sessions.values()):
            try:
                await live._stop()
            except CCRouteError:
                self._hooks.logger.exception(
                    "ending the flow of contact %r at stop failed", live.contact_id
                )

    # ------------------------------------------------------------- internals

    def _context(self, contact: Contact, profile: Mapping[str, Any]) -> RouterFlowContext:
        service = self._service

        def profiles(customer_id: str | None) -> Mapping[str, Any]:
            return profile if customer_id == contact.customer_id else {}

        def is_open(queue: str) -> bool:
            service.router.queue_config(queue)  # unknown queue: the fact is missing
            hours = self.hours
            return hours(queue) if hours is not None else _queue_is_open(service, queue)

        # Estimates: the router's for the contact as the flow would route it.
        return RouterFlowContext(service.router, profiles=profiles, is_open=is_open)

    async def _send(self, send: Send | None, output: FlowOutput) -> None:
        """Hand ``output`` to the adapter, isolated: its failure is counted, never raised."""
        if send is None:
            return
        try:
            with anyio.fail_after(self._hooks.timeout):
                result = send(output)
                if inspect.isawaitable(result):
                    await result
        except BaseException as error:
            # As a hook's: every BaseException the adapter's code raises
            # (SystemExit, GeneratorExit …) is its failure; only a real
            # cancellation of the caller passes.
            if _is_cancellation(error) and _cancel_requested():
                raise
            self.send_failures += 1
            # The output's kind only: a prompt's answer is never in an output,
            # but the adapter's error is its own to describe.
            self._hooks.logger.warning(
                "sending a %s to the adapter for contact %r failed: %r",
                output.kind,
                output.contact_id,
                error,
            )


class LiveSession:
    """One customer in a flow run live (made by :meth:`LiveFlows.start`).

    Feed it the customer's answers with :meth:`input`; :meth:`hangup` when
    they leave; :meth:`wait` for the :class:`FlowResult`. Calls on one
    session run one at a time, in order.
    """

    def __init__(
        self,
        flows: LiveFlows,
        flow: Flow,
        contact: Contact,
        profile: Mapping[str, Any],
        send: Send | None,
    ) -> None:
        self._flows = flows
        self._flow = flow
        self._contact = contact
        self._profile = profile
        self._send_fn = send
        self._session = FlowSession(flow, flows._context(contact, profile))
        self._lock = anyio.Lock()
        self._wake = anyio.Event()
        self._ended = anyio.Event()
        self._result: FlowResult | None = None
        # The in-queue treatment being played, and when it is next due.
        self._treatment: Treatment | None = None
        self._announce_at = math.inf
        # Routed with the customer on the line (not a callback): hanging up abandons.
        self._on_hold = False
        self._gone = False
        # What the log holds of the session (None: nothing yet): what a
        # restart after a crash would route, with its attributes.
        self._logged: tuple[Contact, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        """Contact, flow and state; never an answer."""
        state = "in flow" if not self._session.finished else "ended"
        if self._treatment is not None:
            state = "queued with a treatment"
        return f"<LiveSession contact={self.contact_id!r} flow={self._flow.name!r} {state}>"

    # ---------------------------------------------------------------- reading

    @property
    def contact_id(self) -> str:
        """The contact's id."""
        return self._contact.id

    @property
    def flow(self) -> Flow:
        """The flow it runs."""
        return self._flow

    @property
    def profile(self) -> Mapping[str, Any]:
        """The CRM profile looked up at start (empty when none)."""
        return self._profile

    @property
    def step(self) -> Step | None:
        """The session's last step."""
        return self._session.step

    @property
    def result(self) -> FlowResult | None:
        """How it ended (``None`` while in the flow)."""
        return self._result

    @property
    def running(self) -> bool:
        """Whether it still has something to do: in the flow, or playing a treatment."""
        return not self._gone

    async def wait(self) -> FlowResult:
        """Wait until the flow has ended and the service acted on it."""
        await self._ended.wait()
        if self._result is None:
            raise InvalidStateError(
                f"the flow of contact {self.contact_id!r} ended without a result: "
                f"acting on its last step failed"
            )
        return self._result

    # ---------------------------------------------------------------- driving

    async def input(self, value: str) -> Step | None:
        """The customer's answer (digits or text): the session's next step.

        While the contact waits in the queue with a treatment, its exit digit
        turns the contact into a callback (``exit = "callback"``) or tells the
        adapter (``"exit"`` output; ``"message"``: the adapter records one),
        and other input is ignored (``None``).

        :raises InvalidStateError: the flow has ended (and no treatment plays),
            or the session waits for an action, not input.
        """
        if not isinstance(value, str):
            raise InvalidValueError(f"input must be a string, got {type(value).__name__}")
        async with self._lock:
            session = self._session
            if session.finished:
                await self._exit(value)
                return None
            step = session.step
            intent = None
            if (
                isinstance(step, Prompt)
                and step.intents
                and not step.sensitive
                and value.strip()
                and not _DTMF.fullmatch(value.strip())
            ):
                intent = await self._flows._hooks.predict_intent(value, step.intents, self._contact)
            now = self._flows.service.now
            return await self._advance(session.input(value, now=now, intent=intent))

    async def hangup(self) -> FlowResult | None:
        """The customer left: in the flow, it ends ``"abandoned"`` (logged, told to
        the customer side and the history); queued, the contact abandons the
        queue. Returns the flow's result (``None`` if it never ended)."""
        async with self._lock:
            service = self._flows.service
            if not self._session.finished:
                await self._advance(self._session.abandon(now=service.now))
            elif self._on_hold and self._in_queue() in _HOLDING:
                # Answered or gone meanwhile: nothing to abandon.
                with contextlib.suppress(CCRouteError):
                    await service.abandon(self.contact_id)
            self._on_hold = False
            self._treatment = None
            self._forget()
        return self._result

    # -------------------------------------------------------------- internals

    async def _advance(self, step: Step) -> Step:
        """Carry ``step`` out: say prompts, run actions, act on the last step;
        return the step that waits for the customer, or the last one."""
        service = self._flows.service
        hooks = self._flows._hooks
        while isinstance(step, ActionRequest):
            result = await hooks.self_service(
                step.action, step.arguments, self._contact, timeout=step.timeout
            )
            step = self._session.action_result(result, now=service.now)
        if isinstance(step, Prompt):
            # Durable before the caller hears it: a crash from here on routes
            # the caller with what the flow has so far.
            await self._log_progress(step)
            await self._say(
                FlowOutput(contact_id=self.contact_id, kind="prompt", text=step.text, prompt=step)
            )
        else:
            assert isinstance(step, FinalStep)
            await self._finish(step)
        self._wake.set()
        return step

    async def _log_progress(self, step: Prompt) -> None:
        """Log where the caller would go after a crash (``FlowStarted`` the first
        time, then ``FlowAdvanced`` when it changed), and wait until durable."""
        contact = self._session.fallback_contact(RECOVERED)
        seen = (contact, dict(contact.attributes))
        if self._logged == seen:
            return  # a retry: nothing a recovery routes has changed
        service = self._flows.service
        note: FlowStarted | FlowAdvanced
        if self._logged is None:
            note = FlowStarted(service.now, self.contact_id, self._flow.name, contact)
        else:
            note = FlowAdvanced(service.now, self.contact_id, step.node, contact)
        await service.note_flow(note)
        self._logged = seen

    async def _say(self, output: FlowOutput) -> None:
        await self._flows._send(self._send_fn, output)

    async def _finish(self, step: FinalStep) -> None:
        """Act on the last step, durably; then tell the adapter it ended."""
        service = self._flows.service
        if step.message is not None:
            await self._say(
                FlowOutput(contact_id=self.contact_id, kind="message", text=step.message)
            )
        name = self._flow.name
        contact = step.contact
        events: list[Event]
        try:
            if isinstance(step, Resolution):
                outcome = step.outcome
                events = await service.resolve(
                    contact, FlowFinished(service.now, contact.id, name, outcome)
                )
            else:
                outcome = "callback" if isinstance(step, CallbackDecision) else "routed"
                if isinstance(step, RoutingDecision) and step.fallback:
                    outcome = "fallback"
                events, outcome = await self._route(contact, outcome)
                if isinstance(step, CallbackDecision):
                    if self._waiting():
                        events += await service.request_callback(contact.id)
                    else:
                        self._on_hold = True  # an agent took it at once
                else:
                    assert isinstance(step, RoutingDecision)
                    self._on_hold = True
                    if step.treatment is not None and self._waiting():
                        self._treatment = step.treatment
                        self._announce_at = service.now
            self._result = FlowResult(
                contact_id=contact.id, flow=name, outcome=outcome, step=step, events=tuple(events)
            )
        finally:
            self._ended.set()
            if self._treatment is None:
                self._forget()
        await self._say(FlowOutput(contact_id=self.contact_id, kind="ended", outcome=outcome))
        if self._treatment is not None:
            await self._announce()

    async def _route(self, contact: Contact, outcome: str) -> tuple[list[Event], str]:
        """Route ``contact`` through the inbound pipeline; a decision the router
        refuses (a queue it does not know) goes to the flow's fallback."""
        service = self._flows.service
        name = self._flow.name

        def note(outcome: str) -> FlowFinished:
            return FlowFinished(service.now, contact.id, name, outcome)

        profile = self._profile if contact.customer_id is not None else None
        try:
            return await service.inbound(contact, flow=note(outcome), profile=profile), outcome
        except (UnknownIdError, InvalidValueError) as error:
            fallback = self._flow.fallback
            if contact.queue == fallback.queue and dict(contact.requirements) == dict(
                fallback.requirements
            ):
                raise
            self._flows._hooks.logger.warning(
                "flow %r: the router refused contact %r (%s); it goes to the fallback queue %r",
                name,
                contact.id,
                error,
                fallback.queue,
            )
            record = dict(contact.attributes.get(IVR_KEY) or {})
            record["fallback"] = f"refused: {error}"
            again = attrs.evolve(
                contact,
                queue=fallback.queue,
                requirements=dict(fallback.requirements),
                attributes={**contact.attributes, IVR_KEY: record},
            )
            return await service.inbound(again, flow=note("fallback"), profile=profile), "fallback"

    def _waiting(self) -> bool:
        try:
            view = self._flows.service.router.contact(self.contact_id)
        except UnknownIdError:
            return False
        return view.state is ContactState.WAITING

    def _in_queue(self) -> ContactState | None:
        try:
            return self._flows.service.router.contact(self.contact_id).state
        except UnknownIdError:
            return None

    async def _announce(self) -> None:
        """Play the treatment if it is due: position and estimated wait, while the
        contact waits; stop once it is answered or gone."""
        treatment = self._treatment
        if treatment is None:
            return
        service = self._flows.service
        now = service.now
        if now < self._announce_at:
            return
        state = self._in_queue()
        if state not in _HOLDING:
            self._treatment = None
            self._forget()
            return
        # Offered: ringing now; announced again if it comes back to the queue.
        self._announce_at = now + treatment.period
        if state is not ContactState.WAITING:
            return
        position = service.router.position(self.contact_id)
        wait = _estimated_wait(service, self.contact_id)
        await self._say(
            FlowOutput(
                contact_id=self.contact_id,
                kind="announcement",
                text=treatment.render(position, wait),
            )
        )

    async def _exit(self, value: str) -> None:
        """Input while queued: the treatment's exit digit, or nothing."""
        treatment = self._treatment
        if treatment is None:
            raise InvalidStateError(f"the flow of contact {self.contact_id!r} has ended")
        if treatment.exit_digit is None or value.strip() != treatment.exit_digit:
            return
        if treatment.exit == "callback":
            if not self._waiting():
                return  # ringing or answered: too late to leave the line
            await self._flows.service.request_callback(self.contact_id)
            self._on_hold = False
        self._treatment = None
        self._forget()
        await self._say(FlowOutput(contact_id=self.contact_id, kind="exit", outcome=treatment.exit))

    def _next_due(self) -> float | None:
        if not self._session.finished:
            return self._session.next_due
        if self._treatment is not None:
            return self._announce_at
        return None

    async def _tick(self) -> None:
        """Apply what is due now (under the session's lock)."""
        async with self._lock:
            if self._gone:
                return
            if not self._session.finished:
                step = self._session.tick(now=self._flows.service.now)
                if step is not None:
                    await self._advance(step)
            elif self._treatment is not None:
                await self._announce()
        self._wake.set()

    async def _run(self) -> None:
        """The session's timers: wake when the next time-out, time limit or
        announcement falls due (or something changed), and apply it."""
        service = self._flows.service
        while self.running:
            due = self._next_due()
            if due is None:
                return
            self._wake = anyio.Event()
            delay = due - service.now
            if delay > 0:
                with anyio.move_on_after(delay):
                    await self._wake.wait()
                continue
            await self._tick()

    async def _stop(self) -> None:
        """The service is stopping: a session in the flow takes its fallback."""
        async with self._lock:
            self._treatment = None
            if not self._session.finished and not self._gone:
                step = self._session.fall_back("service stopping", now=self._flows.service.now)
                await self._advance(step)
            self._forget()

    def _forget(self) -> None:
        """Nothing more to do: out of the live sessions, its task ends."""
        self._gone = True
        self._wake.set()  # the timer task sees it and ends now
        if self._flows._sessions.get(self.contact_id) is self:
            del self._flows._sessions[self.contact_id]
