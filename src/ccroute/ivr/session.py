"""One customer's way through a flow: :class:`FlowSession`, a sans-I/O state machine.

The driver (the service, a chat adapter, a test) calls :meth:`~FlowSession.start`
with the contact, then answers each step: :meth:`~FlowSession.input` for a
:class:`~ccroute.ivr.Prompt`, :meth:`~FlowSession.action_result` for an
:class:`~ccroute.ivr.ActionRequest`, and :meth:`~FlowSession.tick` when
:attr:`~FlowSession.next_due` passes with no answer. Each call returns the
next step, until a final one: a routing decision, a callback decision or a
resolution. Time comes in with each call (``now=``) or from the context's
``now``; the session never reads a clock, never sleeps and does no I/O.

Bounds, so that no session is ever stuck: the flow's ``time_limit`` (from
``start``), its ``max_steps`` (prompts and action requests), each node's
retries, and the no-input timeout of every prompt. Passing any of them
ends in the flow's fallback (a :class:`~ccroute.ivr.RoutingDecision` with
``fallback=True``) or the node's ``no_match`` / ``on_error``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import operator
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ..crm.context import IVR_KEY
from ..errors import CCRouteError, ClockError, InvalidStateError, InvalidValueError
from ..model import Contact
from .conditions import MISSING, holds
from .context import FlowContext
from .intent import IntentPrediction, IntentPredictor, KeywordIntentMatcher
from .masking import mask
from .nodes import (
    ActionNode,
    AnnounceNode,
    CallbackNode,
    CollectNode,
    ConditionNode,
    EndNode,
    Flow,
    MenuNode,
    Node,
    Option,
    Rule,
    SetNode,
    TransferNode,
    Treatment,
    fill,
)
from .steps import (
    ActionRequest,
    CallbackDecision,
    Prompt,
    Resolution,
    RoutingDecision,
    Step,
)

__all__ = ["IVR_KEY", "FlowSession"]


_DTMF = re.compile(r"[0-9*#]+")
_DIGIT_SEPARATORS = re.compile(r"[\s\-]+")


#: The session's fields a call changes (the flow, context and predictor never change).
_STATE = (
    "_answers",
    "_attempt",
    "_attributes",
    "_contact",
    "_deadline",
    "_intent",
    "_last",
    "_node",
    "_path",
    "_pending",
    "_preferred",
    "_priority",
    "_queue",
    "_requirements",
    "_result",
    "_sensitive",
    "_started",
    "_step",
    "_steps",
    "_tier",
    "_treatment",
)


#: The containers among them, which a call changes in place.
_CONTAINERS = ("_answers", "_attributes", "_path", "_requirements", "_sensitive")
_read_state = operator.attrgetter(*_STATE)
_read_containers = operator.attrgetter(*_CONTAINERS)


def _found(word: str, text: str) -> bool:
    """Whether ``word`` (a word or phrase) occurs in ``text`` as whole words, ignoring case."""
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


class FlowSession:
    """One customer's session in a :class:`~ccroute.ivr.Flow` (see the module docs).

    :param flow: the flow, already checked.
    :param context: where conditions, callback offers and the default time
        come from.
    :param predict_intent: the intent predictor used when ``input`` is given
        no prediction; default: the flow's :class:`KeywordIntentMatcher`.

    Every call costs O(nodes passed through + tests evaluated) plus what the
    context and the predictor cost. A call that raises changes nothing.
    """

    __slots__ = (
        *_STATE,
        "_context",
        "_flow",
        "_predict",
    )

    def __init__(
        self,
        flow: Flow,
        context: FlowContext,
        *,
        predict_intent: IntentPredictor | None = None,
    ) -> None:
        """Make a session that has not started (see the class docs)."""
        if not isinstance(flow, Flow):
            raise InvalidValueError(f"flow must be a Flow, got {type(flow).__name__}")
        self._flow = flow
        self._context = context
        self._predict: IntentPredictor = predict_intent or KeywordIntentMatcher(flow.intents)
        self._contact: Contact | None = None
        self._queue = ""
        self._requirements: dict[str, int] = {}
        self._priority = 0.0
        self._tier = 0
        self._attributes: dict[str, Any] = {}
        self._preferred: tuple[str | None, float] = (None, 0.0)
        self._answers: dict[str, str] = {}
        self._sensitive: set[str] = set()
        self._intent: IntentPrediction | None = None
        self._path: list[str] = []
        self._treatment: Treatment | None = None
        self._result: Mapping[str, Any] = {}
        self._node = flow.start
        self._attempt = 1
        self._started = 0.0
        self._last = -math.inf
        self._deadline = math.inf
        self._steps = 0
        self._step: Step | None = None
        self._pending: str | None = None

    def __repr__(self) -> str:
        """Flow, node and state; never an answer."""
        state = "new" if self._step is None else ("finished" if self._step.final else "waiting")
        return f"<FlowSession flow={self._flow.name!r} node={self._node!r} {state}>"

    # ------------------------------------------------------------------ reading

    @property
    def flow(self) -> Flow:
        """The flow this session runs."""
        return self._flow

    @property
    def step(self) -> Step | None:
        """The last step returned (``None`` before :meth:`start`)."""
        return self._step

    @property
    def finished(self) -> bool:
        """Whether the last step was final."""
        return self._step is not None and self._step.final

    @property
    def node(self) -> str:
        """The node the session is at (the one that produced the last step)."""
        return self._node

    @property
    def path(self) -> tuple[str, ...]:
        """Every node entered, in order (a node entered again appears again)."""
        return tuple(self._path)

    @property
    def answers(self) -> dict[str, str]:
        """The answers collected so far, sensitive ones masked."""
        return {name: self._shown(name) for name in self._answers}

    @property
    def intent(self) -> IntentPrediction | None:
        """The intent a menu took, if any."""
        return self._intent

    @property
    def next_due(self) -> float | None:
        """When to call :meth:`tick` if no answer comes: the step's timeout or the
        flow's time limit, whichever is first (``None`` when not waiting)."""
        if self._step is None or self._step.final:
            return None
        return min(self._deadline, self._started + self._flow.time_limit)

    # ------------------------------------------------------------------ driving

    def start(self, contact: Contact, *, now: float | None = None) -> Step:
        """Start the session for ``contact`` (as the adapter received it): the first step.

        :raises InvalidStateError: the session has started already.
        :raises ClockError: ``now`` is not a finite number.
        """
        if self._step is not None:
            raise InvalidStateError(f"flow {self._flow.name!r}: the session has started already")
        if not isinstance(contact, Contact):
            raise InvalidValueError(f"contact must be a Contact, got {type(contact).__name__}")
        with self._atomic():
            at = self._time(now)
            self._contact = contact
            self._queue = contact.queue
            self._requirements = dict(contact.requirements)
            self._priority = contact.priority_seconds
            self._tier = contact.tier
            self._attributes = dict(contact.attributes)
            self._preferred = (contact.preferred_agent, contact.preferred_wait)
            self._started = at
            return self._enter(self._flow.start, at)

    def input(
        self, value: str, *, now: float | None = None, intent: IntentPrediction | None = None
    ) -> Step:
        """The customer's answer to the current :class:`~ccroute.ivr.Prompt`: the next step.

        ``value`` is DTMF digits or text (speech as text, a chat message).
        ``intent`` is a prediction made outside the session (the
        ``ccroute_predict_intent`` hook); without it a menu asks the
        session's predictor. Input after the time limit ends in the fallback.

        :raises InvalidStateError: the session is not waiting for input.
        :raises ClockError: time went backwards.
        """
        prompt = self._waiting(Prompt, "input")
        if not isinstance(value, str):
            raise InvalidValueError(f"input must be a string, got {type(value).__name__}")
        if intent is not None and not isinstance(intent, IntentPrediction):
            raise InvalidValueError(
                f"intent must be an IntentPrediction or None, got {type(intent).__name__}"
            )
        with self._atomic():
            at = self._time(now)
            late = self._over_time(at)
            if late is not None:
                return late
            node = self._flow.nodes[prompt.node]
            if isinstance(node, MenuNode):
                return self._menu_input(node, value, intent, at)
            if isinstance(node, CollectNode):
                return self._collect_input(node, value, at)
            assert isinstance(node, CallbackNode)
            return self._callback_input(node, value, at)

    def action_result(self, result: Mapping[str, Any] | None, *, now: float | None = None) -> Step:
        """The result of the requested self-service action: the next step.

        ``None`` means it failed (raised, timed out, no plugin runs it).
        A mapping with ``resolved`` true ends the session in a
        :class:`~ccroute.ivr.Resolution` (``outcome``, default
        ``"self-service"``; ``message``); any other mapping is kept as the
        facts ``result.<field>`` for the node's rules (its ``message`` is
        said before the next prompt).

        :raises InvalidStateError: the session is not waiting for an action.
        """
        request = self._waiting(ActionRequest, "an action result")
        if result is not None and not (
            isinstance(result, Mapping) and all(isinstance(k, str) for k in result)
        ):
            raise InvalidValueError(
                f"an action result must be a mapping with string keys or None, got {result!r:.80}"
            )
        with self._atomic():
            at = self._time(now)
            late = self._over_time(at)
            if late is not None:
                return late
            node = self._flow.nodes[request.node]
            assert isinstance(node, ActionNode)
            if result is None:
                return self._action_failed(node, at)
            message = result.get("message")
            if result.get("resolved") is True:
                outcome = result.get("outcome")
                return self._resolve(
                    node.id,
                    outcome if isinstance(outcome, str) and outcome else "self-service",
                    message if isinstance(message, str) else None,
                )
            self._result = dict(result)
            if isinstance(message, str) and message:
                self._say(message)
            target = self._first_rule(node.rules)
            return self._enter(target if target is not None else self._next(node), at)

    def tick(self, now: float | None = None) -> Step | None:
        """Tell the session the time: the next step if something fell due, else ``None``.

        Past the time limit: the fallback. Past a prompt's timeout: the node
        asks again (a retry) or gives up. Past an action's timeout: the
        action failed. Nothing due, not started or finished: ``None``.
        """
        with self._atomic():
            at = self._time(now)
            if self._step is None or self._step.final:
                return None
            late = self._over_time(at)
            if late is not None:
                return late
            if at < self._deadline:
                return None
            node = self._flow.nodes[self._node]
            if isinstance(node, ActionNode):
                return self._action_failed(node, at)
            return self._retry(node, at)

    def abandon(self, *, now: float | None = None) -> Resolution:
        """The customer left (hung up, closed the chat): a resolution ``"abandoned"``.

        :raises InvalidStateError: the session has not started or is finished.
        """
        if self._step is None or self._step.final:
            raise InvalidStateError(f"flow {self._flow.name!r}: no session in progress to abandon")
        with self._atomic():
            self._time(now)
            return self._resolve(self._node, "abandoned", None)

    def fall_back(self, reason: str, *, now: float | None = None) -> RoutingDecision:
        """End the session in the flow's fallback now, for ``reason`` (its driver
        is stopping, say): a :class:`~ccroute.ivr.RoutingDecision` with
        ``fallback`` true, as when a bound is passed.

        :raises InvalidStateError: the session has not started or is finished.
        """
        if self._step is None or self._step.final:
            raise InvalidStateError(f"flow {self._flow.name!r}: no session in progress to end")
        if not isinstance(reason, str) or not reason:
            raise InvalidValueError(f"a fallback reason must be a non-empty string, got {reason!r}")
        with self._atomic():
            self._time(now)
            step = self._fallback(reason)
            assert isinstance(step, RoutingDecision)
            return step

    def fallback_contact(self, reason: str) -> Contact:
        """The contact :meth:`fall_back` would route now for ``reason``, without
        ending the session: the flow's fallback queue and requirements, with
        what the flow has set so far and its ``ivr`` record (sensitive answers
        masked). What a driver logs so that a session lost in a crash can
        still be routed (the service's ``FlowStarted`` and ``FlowAdvanced``
        notes). Read-only; cost O(answers + path).

        :raises InvalidStateError: the session has not started.
        """
        if self._contact is None:
            raise InvalidStateError(f"flow {self._flow.name!r}: the session has not started")
        if not isinstance(reason, str) or not reason:
            raise InvalidValueError(f"a fallback reason must be a non-empty string, got {reason!r}")
        return self._fallback_contact(reason)

    # ----------------------------------------------------------------- internal

    @contextlib.contextmanager
    def _atomic(self) -> Iterator[None]:
        """Put the session back as it was if the call raises (a context or a
        predictor that fails): a call happens whole or not at all."""
        state = _read_state(self)
        containers = [copy.copy(c) for c in _read_containers(self)]
        try:
            yield
        except BaseException:
            for name, value in zip(_STATE, state, strict=True):
                setattr(self, name, value)
            for name, value in zip(_CONTAINERS, containers, strict=True):
                setattr(self, name, value)
            raise

    def _waiting(self, kind: type[Step], what: str) -> Any:
        step = self._step
        if step is None:
            raise InvalidStateError(f"flow {self._flow.name!r}: call start() before {what}")
        if step.final:
            raise InvalidStateError(f"flow {self._flow.name!r}: the session is finished")
        if not isinstance(step, kind):
            raise InvalidStateError(
                f"flow {self._flow.name!r}: node {self._node!r} waits for "
                f"{'input' if isinstance(step, Prompt) else 'an action result'}, not {what}"
            )
        return step

    def _time(self, now: float | None) -> float:
        at = self._context.now if now is None else now
        if not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at):
            raise ClockError(f"flow {self._flow.name!r}: time must be a finite number, got {at!r}")
        if at < self._last:
            raise ClockError(
                f"flow {self._flow.name!r}: time went backwards from {self._last} to {at}"
            )
        self._last = float(at)
        return float(at)

    def _over_time(self, at: float) -> Step | None:
        if at >= self._started + self._flow.time_limit:
            return self._fallback("time limit")
        return None

    def _emit(self, step: Step) -> Step:
        self._step = step
        if step.final:
            # Raw sensitive values leave the session only in action requests.
            self._answers = {name: self._shown(name) for name in self._answers}
        return step

    def _say(self, text: str) -> None:
        self._pending = text if self._pending is None else f"{self._pending} {text}"

    def _said(self, text: str | None) -> str | None:
        pending, self._pending = self._pending, None
        if pending is None:
            return text
        return pending if text is None else f"{pending} {text}"

    def _shown(self, name: str) -> str:
        value = self._answers[name]
        return mask(value) if name in self._sensitive else value

    @staticmethod
    def _next(node: Node) -> str:
        target = node.otherwise if isinstance(node, ConditionNode) else getattr(node, "next", None)
        assert isinstance(target, str)  # the load-time checks refuse dead ends
        return target

    def _enter(self, node_id: str, at: float) -> Step:
        """Pass through automatic nodes from ``node_id`` to the next step."""
        # The checks refuse cycles of automatic nodes, so this passes each at most once.
        for _ in range(len(self._flow.nodes) + 1):
            node = self._flow.nodes[node_id]
            self._node = node_id
            self._attempt = 1
            self._path.append(node_id)
            if isinstance(node, ConditionNode):
                target = self._first_rule(node.rules)
                node_id = target if target is not None else self._next(node)
            elif isinstance(node, SetNode):
                self._apply(node)
                node_id = self._next(node)
            elif isinstance(node, AnnounceNode):
                self._treatment = node.treatment
                node_id = self._next(node)
            elif isinstance(node, CallbackNode) and not self._wait_is_long(node):
                node_id = self._next(node)
            elif isinstance(node, TransferNode):
                return self._transfer(node)
            elif isinstance(node, EndNode):
                return self._resolve(node.id, node.outcome, node.message)
            else:
                return self._ask(node, at)
        # Unreachable after the load-time checks; never leave a caller stuck all the same.
        return self._fallback("loop without input")

    def _ask(self, node: Node, at: float, retry_text: str | None = None) -> Step:
        """Issue the prompt or action request of an interactive node."""
        if self._steps >= self._flow.max_steps:
            return self._fallback("step limit")
        self._steps += 1
        if isinstance(node, ActionNode):
            timeout = node.timeout if node.timeout is not None else self._flow.input_timeout
            self._deadline = at + timeout
            arguments, sensitive = self._arguments(node)
            return self._emit(
                ActionRequest(
                    node=node.id,
                    action=node.action,
                    arguments=arguments,
                    sensitive=sensitive,
                    timeout=timeout,
                )
            )
        assert isinstance(node, (MenuNode, CollectNode, CallbackNode))
        timeout = node.timeout if node.timeout is not None else self._flow.input_timeout
        self._deadline = at + timeout
        text = node.prompt
        choices: tuple[str, ...] = ()
        intents: tuple[str, ...] = ()
        if isinstance(node, MenuNode):
            choices = tuple(o.digit for o in node.options if o.digit is not None)
            intents = tuple(dict.fromkeys(o.intent for o in node.options if o.intent))
        elif isinstance(node, CallbackNode):
            wait = self._fact("wait" if node.queue is None else f"wait.{node.queue}")
            text = fill(text, position=None, estimated_wait=None if wait is MISSING else wait)
            choices = tuple(a for a in (*node.accept, *node.decline) if _DTMF.fullmatch(a))
        if retry_text:
            text = f"{retry_text} {text}"
        said = self._said(text)
        assert said is not None
        return self._emit(
            Prompt(
                node=node.id,
                text=said,
                expects=node.expects,
                sensitive=isinstance(node, CollectNode) and node.sensitive,
                timeout=timeout,
                attempt=self._attempt,
                choices=choices,
                intents=intents,
            )
        )

    def _retry(self, node: Node, at: float) -> Step:
        """A no-match, an invalid value or no input: ask again, or give up."""
        assert isinstance(node, (MenuNode, CollectNode, CallbackNode))
        if self._attempt > node.retries:
            if node.no_match is not None:
                return self._enter(node.no_match, at)
            return self._fallback(f"retries exhausted at {node.id!r}")
        self._attempt += 1
        text = node.invalid_prompt if isinstance(node, CollectNode) else node.no_match_prompt
        return self._ask(node, at, text)

    def _menu_input(
        self, node: MenuNode, value: str, intent: IntentPrediction | None, at: float
    ) -> Step:
        text = value.strip()
        chosen: Option | None = None
        confidence = 1.0
        if text:
            chosen = next((o for o in node.options if o.digit == text), None)
            if chosen is None:
                chosen = next(
                    (o for o in node.options if any(_found(k, text) for k in o.keywords)), None
                )
            intents = tuple(dict.fromkeys(o.intent for o in node.options if o.intent))
            if chosen is None and intents and not _DTMF.fullmatch(text):
                predicted = intent if intent is not None else self._predict(text, intents)
                if predicted is not None and predicted.confidence >= node.threshold:
                    chosen = next((o for o in node.options if o.intent == predicted.intent), None)
                    confidence = predicted.confidence
        if chosen is None:
            return self._retry(node, at)
        if chosen.intent is not None:
            self._intent = IntentPrediction(chosen.intent, confidence)
        return self._enter(chosen.next, at)

    def _collect_input(self, node: CollectNode, value: str, at: float) -> Step:
        if node.expects == "digits":
            text = _DIGIT_SEPARATORS.sub("", value).removesuffix("#")
            valid = text.isascii() and text.isdigit()
        else:
            text = value.strip()
            valid = bool(text)
        if not valid or any(v.check(text) is not None for v in node.validators):
            return self._retry(node, at)
        self._answers[node.field] = text
        if node.sensitive:
            self._sensitive.add(node.field)
        else:
            self._sensitive.discard(node.field)
        return self._enter(self._next(node), at)

    def _callback_input(self, node: CallbackNode, value: str, at: float) -> Step:
        text = value.strip()

        def said(answers: tuple[str, ...]) -> bool:
            return bool(text) and any(a == text or _found(a, text) for a in answers)

        if said(node.accept):
            wait = self._fact("wait" if node.queue is None else f"wait.{node.queue}")
            return self._emit(
                CallbackDecision(
                    node=node.id,
                    contact=self._decided(None),
                    message=self._said(node.message),
                    estimated_wait=None if wait is MISSING else wait,
                )
            )
        if said(node.decline):
            return self._enter(self._next(node), at)
        return self._retry(node, at)

    def _action_failed(self, node: ActionNode, at: float) -> Step:
        if node.on_error is not None:
            return self._enter(node.on_error, at)
        return self._fallback(f"action {node.action!r} failed")

    def _wait_is_long(self, node: CallbackNode) -> bool:
        if node.above is None:
            return True
        wait = self._fact("wait" if node.queue is None else f"wait.{node.queue}")
        return wait is not MISSING and holds("gt", wait, node.above)

    def _apply(self, node: SetNode) -> None:
        if node.queue is not None:
            self._queue = node.queue
        if node.clear_requirements:
            self._requirements = {}
        self._requirements.update(node.requirements)
        if node.priority_seconds is not None:
            self._priority = node.priority_seconds
        if node.tier is not None:
            self._tier = node.tier
        self._attributes.update(node.attributes)

    def _arguments(self, node: ActionNode) -> tuple[dict[str, Any], frozenset[str]]:
        arguments: dict[str, Any] = {}
        sensitive: set[str] = set()
        for name, fact in node.arguments.items():
            value = self._fact(fact)
            if value is MISSING:
                continue
            arguments[name] = value
            head, _, rest = fact.partition(".")
            if head == "answer" and rest in self._sensitive:
                sensitive.add(name)
        return arguments, frozenset(sensitive)

    # ------------------------------------------------------------------- facts

    def _first_rule(self, rules: tuple[Rule, ...]) -> str | None:
        for rule in rules:
            results = (holds(t.op, self._fact(t.fact), t.value) for t in rule.tests)
            if all(results) if rule.mode == "all" else any(results):
                return rule.next
        return None

    def _fact(self, fact: str) -> Any:
        """The value of ``fact`` now, or :data:`MISSING` (see :mod:`ccroute.ivr.conditions`)."""
        head, _, rest = fact.partition(".")
        context = self._context
        try:
            if head == "answer":
                return self._answers.get(rest, MISSING)
            if head == "attribute":
                return self._attributes.get(rest, MISSING)
            if head == "profile":
                customer = self._contact.customer_id if self._contact is not None else None
                return context.profile(customer).get(rest, MISSING)
            if head == "contact":
                return self._contact_fact(rest)
            if head == "result":
                return self._result.get(rest, MISSING)
            if head == "intent":
                return MISSING if self._intent is None else self._intent.intent
            if head == "confidence":
                return MISSING if self._intent is None else self._intent.confidence
            if head == "elapsed":
                return self._last - self._started
            if head == "open":
                return bool(context.is_open(rest or self._queue))
            if head == "wait":
                wait = context.estimated_wait(rest or self._queue, self._prospect(rest))
                return MISSING if wait is None else wait
            if head == "stats":
                queue, _, figure = rest.rpartition(".")
                return getattr(context.queue_stats(queue or self._queue), figure)
        except CCRouteError:
            # A queue the context does not know: nobody knows the fact.
            return MISSING
        return MISSING

    def _contact_fact(self, name: str) -> Any:
        contact = self._contact
        assert contact is not None
        values = {
            "channel": contact.channel,
            "queue": self._queue,
            "customer_id": contact.customer_id,
            "priority_seconds": self._priority,
            "tier": self._tier,
        }
        value = values.get(name, MISSING)
        return MISSING if value is None else value

    # ------------------------------------------------------------------ endings

    def _record(self, reason: str | None) -> dict[str, Any]:
        intent = self._intent
        return {
            "flow": self._flow.name,
            "answers": {name: self._shown(name) for name in self._answers},
            "sensitive": sorted(self._sensitive),
            "intent": None if intent is None else intent.intent,
            "confidence": None if intent is None else intent.confidence,
            "path": list(self._path),
            "fallback": reason,
        }

    def _decided(
        self,
        reason: str | None,
        *,
        queue: str | None = None,
        requirements: Mapping[str, int] | None = None,
        preferred: tuple[str | None, float] | None = None,
    ) -> Contact:
        contact = self._contact
        assert contact is not None
        agent, wait = self._preferred if preferred is None else preferred
        return attrs.evolve(
            contact,
            queue=self._queue if queue is None else queue,
            requirements=self._requirements if requirements is None else requirements,
            priority_seconds=self._priority,
            tier=self._tier,
            attributes={**self._attributes, IVR_KEY: self._record(reason)},
            preferred_agent=agent,
            preferred_wait=wait,
        )

    def _prospect(self, queue: str) -> Contact:
        """The caller's contact as the flow would route it to ``queue`` now, for
        an estimate: the requirements set so far are for the flow's own queue."""
        contact = self._contact
        assert contact is not None
        if not queue or queue == self._queue:
            return attrs.evolve(
                contact,
                queue=self._queue,
                requirements=self._requirements,
                priority_seconds=self._priority,
                tier=self._tier,
            )
        return attrs.evolve(
            contact, queue=queue, requirements={}, priority_seconds=self._priority, tier=self._tier
        )

    def _transfer(self, node: TransferNode) -> Step:
        if node.queue is not None:
            self._queue = node.queue
        preferred = None if node.agent is None else (node.agent, node.agent_wait)
        return self._emit(
            RoutingDecision(
                node=node.id,
                contact=self._decided(None, preferred=preferred),
                message=self._said(node.message),
                treatment=self._treatment,
            )
        )

    def _resolve(self, node_id: str, outcome: str, message: str | None) -> Resolution:
        step = Resolution(
            node=node_id,
            contact=self._decided(None),
            message=self._said(message),
            outcome=outcome,
        )
        self._emit(step)
        return step

    def _fallback_contact(self, reason: str) -> Contact:
        fallback = self._flow.fallback
        return self._decided(reason, queue=fallback.queue, requirements=fallback.requirements)

    def _fallback(self, reason: str) -> Step:
        return self._emit(
            RoutingDecision(
                node=self._node,
                contact=self._fallback_contact(reason),
                message=self._said(self._flow.fallback.message),
                treatment=self._treatment,
                fallback=True,
                reason=reason,
            )
        )
