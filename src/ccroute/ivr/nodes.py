"""The parts of a flow: its nodes, their options and rules, the fallback, the flow itself.

Everything here is a frozen value, built by :func:`ccroute.ivr.parse_flow`
(and :func:`~ccroute.ivr.load_flow`, :func:`~ccroute.ivr.loads_flow`),
which checks every field and names the node and field it refuses. A
:class:`Flow` checks its graph when it is made (:mod:`ccroute.ivr.checks`).
The format, node by node, is docs/ivr-flows.md.

Each node kind says which of its fields lead on (``edges()``), whether it
ends the flow (``terminal``) and whether it passes on without input or an
outside step (``automatic``): the load-time checks read only these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import attrs

from .validators import Validator

__all__ = [
    "ActionNode",
    "AnnounceNode",
    "CallbackNode",
    "CollectNode",
    "ConditionNode",
    "EndNode",
    "Expect",
    "Fallback",
    "Flow",
    "MenuNode",
    "Node",
    "Option",
    "Rule",
    "SetNode",
    "Test",
    "TransferNode",
    "Treatment",
    "fill",
]

#: What input a prompt expects: DTMF digits only, text (speech as text, or
#: chat) only, or either.
Expect = Literal["digits", "text", "any"]


@attrs.frozen(slots=True, kw_only=True)
class Option:
    """One way out of a menu: a DTMF digit, keywords, or a predicted intent.

    :param next: the node it leads to.
    :param digit: the key that picks it (``"0"``-``"9"``, ``"*"``, ``"#"``).
    :param keywords: words or phrases that pick it when found in a text
        answer (case-insensitive, whole words).
    :param intent: the intent that picks it when predicted with at least the
        menu's threshold.
    """

    next: str
    digit: str | None = None
    keywords: tuple[str, ...] = ()
    intent: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class Test:
    """One comparison of a fact (``profile.tier``, ``wait.billing``, …) with a value.

    The facts and operators are listed in :mod:`ccroute.ivr.conditions`.
    """

    fact: str
    op: str
    value: Any = None


@attrs.frozen(slots=True, kw_only=True)
class Rule:
    """A branch of a condition or action node: its tests and where it leads.

    :param tests: the comparisons; all must hold (``mode="all"``) or one
        (``mode="any"``).
    :param next: the node it leads to when they hold.
    """

    tests: tuple[Test, ...]
    next: str
    mode: Literal["all", "any"] = "all"


@attrs.frozen(slots=True, kw_only=True)
class Node:
    """What every node has: its id (the key it has under ``[nodes]``)."""

    #: The kind's name in a flow file (``kind = "menu"``).
    KIND: ClassVar[str] = ""
    #: Whether the node ends the flow (a routing decision, callback or resolution).
    terminal: ClassVar[bool] = False
    #: Whether the node passes on at once, without input or an outside step.
    automatic: ClassVar[bool] = False

    id: str

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``(field, target node)`` for every way on the node names explicitly."""
        return ()


def _optional(field: str, target: str | None) -> tuple[tuple[str, str], ...]:
    return () if target is None else ((field, target),)


@attrs.frozen(slots=True, kw_only=True)
class MenuNode(Node):
    """Say ``prompt``, take a digit or text, go where the matching option leads.

    Options match in this order: a digit equal to the input, a keyword found
    in it, a predicted intent at or above ``threshold``; among options of one
    kind, the first declared wins. Nothing matched (or no input within
    ``timeout``) uses a retry, prefixed by ``no_match_prompt``; after
    ``retries`` retries the session goes to ``no_match``, or to the flow's
    fallback when it is not set.
    """

    KIND: ClassVar[str] = "menu"

    prompt: str
    options: tuple[Option, ...]
    expects: Expect = "any"
    threshold: float = 0.7
    retries: int = 2
    timeout: float | None = None
    no_match_prompt: str | None = None
    no_match: str | None = None

    def edges(self) -> tuple[tuple[str, str], ...]:
        """Every option's ``next``, then ``no_match``."""
        found = tuple((f"options[{i}].next", o.next) for i, o in enumerate(self.options))
        return found + _optional("no_match", self.no_match)


@attrs.frozen(slots=True, kw_only=True)
class CollectNode(Node):
    """Say ``prompt``, take digits or text, check it, keep it as answer ``field``.

    Digits input drops spaces, dashes and a trailing ``#``; text is stripped.
    A value that fails a validator (or no input within ``timeout``) uses a
    retry, prefixed by ``invalid_prompt``; after ``retries`` retries the
    session goes to ``no_match``, or to the flow's fallback. A ``sensitive``
    answer is masked everywhere but in the arguments of the action that
    asks for it (see :func:`~ccroute.ivr.mask`).
    """

    KIND: ClassVar[str] = "collect"

    prompt: str
    field: str
    next: str | None
    expects: Literal["digits", "text"] = "digits"
    validators: tuple[Validator, ...] = ()
    sensitive: bool = False
    retries: int = 2
    timeout: float | None = None
    invalid_prompt: str | None = None
    no_match: str | None = None

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``next``, then ``no_match``."""
        return _optional("next", self.next) + _optional("no_match", self.no_match)


@attrs.frozen(slots=True, kw_only=True)
class ConditionNode(Node):
    """Go where the first rule whose tests hold leads, else to ``otherwise``."""

    KIND: ClassVar[str] = "condition"
    automatic: ClassVar[bool] = True

    rules: tuple[Rule, ...]
    otherwise: str | None

    def edges(self) -> tuple[tuple[str, str], ...]:
        """Every rule's ``next``, then ``otherwise``."""
        found = tuple((f"rules[{i}].next", r.next) for i, r in enumerate(self.rules))
        return found + _optional("otherwise", self.otherwise)


@attrs.frozen(slots=True, kw_only=True)
class SetNode(Node):
    """Change what will be routed: queue, requirements, priority, tier, attributes.

    ``requirements`` are merged into those set so far (a skill given again
    takes the new level) unless ``clear_requirements`` drops them first;
    ``attributes`` are merged into the contact's.
    """

    KIND: ClassVar[str] = "set"
    automatic: ClassVar[bool] = True

    next: str | None
    queue: str | None = None
    requirements: Mapping[str, int] = attrs.field(factory=dict)
    clear_requirements: bool = False
    priority_seconds: float | None = None
    tier: int | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``next``."""
        return _optional("next", self.next)


@attrs.frozen(slots=True, kw_only=True)
class ActionNode(Node):
    """Ask the caller of the session to run the self-service action ``action``.

    The session returns an :class:`~ccroute.ivr.ActionRequest` with
    ``arguments`` resolved from facts (``{account = "answer.account"}``:
    raw values, sensitive ones included). The result fed back with
    :meth:`~ccroute.ivr.FlowSession.action_result` resolves the contact when
    it holds ``resolved = true``; otherwise the first rule whose tests hold
    (on facts ``result.<field>``) leads on, else ``next``. No result (the
    action failed or no plugin runs it) goes to ``on_error``, or to the
    flow's fallback.
    """

    KIND: ClassVar[str] = "action"

    action: str
    next: str | None
    arguments: Mapping[str, str] = attrs.field(factory=dict)
    rules: tuple[Rule, ...] = ()
    on_error: str | None = None
    timeout: float | None = None

    def edges(self) -> tuple[tuple[str, str], ...]:
        """Every rule's ``next``, then ``next`` and ``on_error``."""
        found = tuple((f"rules[{i}].next", r.next) for i, r in enumerate(self.rules))
        return found + _optional("next", self.next) + _optional("on_error", self.on_error)


@attrs.frozen(slots=True, kw_only=True)
class CallbackNode(Node):
    """Offer a callback when the estimated wait of ``queue`` exceeds ``above`` seconds
    (or always, when ``above`` is not set: a closed-hours offer).

    With ``above`` set, when the wait is unknown or not above it the session
    goes on to ``next`` without a word. Otherwise it says ``prompt`` (``{wait}``:
    seconds, ``{minutes}``: minutes rounded up) and takes the answer: one of
    ``accept`` ends the flow in a :class:`~ccroute.ivr.CallbackDecision`, one
    of ``decline`` goes to ``next``; anything else uses a retry, and after
    ``retries`` the session goes to ``no_match`` or the flow's fallback.
    """

    KIND: ClassVar[str] = "callback"
    terminal: ClassVar[bool] = True

    prompt: str
    next: str | None
    above: float | None = None
    queue: str | None = None
    accept: tuple[str, ...] = ("1", "yes")
    decline: tuple[str, ...] = ("2", "no")
    message: str | None = None
    expects: Expect = "any"
    retries: int = 2
    timeout: float | None = None
    no_match_prompt: str | None = None
    no_match: str | None = None

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``next``, then ``no_match``."""
        return _optional("next", self.next) + _optional("no_match", self.no_match)


@attrs.frozen(slots=True, kw_only=True)
class TransferNode(Node):
    """End the flow in a routing decision: to ``queue`` (or the queue set so far),
    optionally reserved for ``agent`` for ``agent_wait`` seconds."""

    KIND: ClassVar[str] = "transfer"
    terminal: ClassVar[bool] = True

    queue: str | None = None
    agent: str | None = None
    agent_wait: float = 0.0
    message: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class Treatment:
    """What a caller hears while queued, for whoever runs the queue side.

    ``message`` is said every ``period`` seconds; ``{position}``,
    ``{wait}`` (seconds) and ``{minutes}`` are filled in by :meth:`render`.
    Pressing ``exit_digit`` (when set) leaves the queue for ``exit``
    (``"callback"``: keep the place and be called back; ``"message"``:
    leave a message).
    """

    message: str
    period: float
    exit_digit: str | None = None
    exit: Literal["callback", "message"] = "callback"

    def render(self, position: int | None, estimated_wait: float | None) -> str:
        """The message with position and wait filled in (see :func:`fill`)."""
        return fill(self.message, position=position, estimated_wait=estimated_wait)


def fill(template: str, *, position: int | None, estimated_wait: float | None) -> str:
    """``template`` with ``{position}``, ``{wait}`` (seconds) and ``{minutes}``
    (rounded up) filled in; ``"unknown"`` for what is not known.

    The loader accepts only these placeholders, without format specs, in the
    templates it fills (a callback offer's prompt, an announcement).
    """
    unknown = "unknown"
    return template.format_map(
        {
            "position": unknown if position is None else position,
            "wait": unknown if estimated_wait is None else round(estimated_wait),
            "minutes": unknown if estimated_wait is None else -int(-estimated_wait // 60),
        }
    )


@attrs.frozen(slots=True, kw_only=True)
class AnnounceNode(Node):
    """Set the queue treatment (see :class:`Treatment`) the routing decision carries."""

    KIND: ClassVar[str] = "announce"
    automatic: ClassVar[bool] = True

    next: str | None
    treatment: Treatment

    def edges(self) -> tuple[tuple[str, str], ...]:
        """``next``."""
        return _optional("next", self.next)


@attrs.frozen(slots=True, kw_only=True)
class EndNode(Node):
    """End the flow resolved, without an agent, with ``outcome`` and a last ``message``."""

    KIND: ClassVar[str] = "end"
    terminal: ClassVar[bool] = True

    outcome: str = "resolved"
    message: str | None = None


#: Node kind name to class: the loader's table.
NODE_KINDS: Mapping[str, type[Node]] = {
    cls.KIND: cls
    for cls in (
        MenuNode,
        CollectNode,
        ConditionNode,
        SetNode,
        ActionNode,
        CallbackNode,
        TransferNode,
        AnnounceNode,
        EndNode,
    )
}


@attrs.frozen(slots=True, kw_only=True)
class Fallback:
    """Where a session goes when it cannot go on: retries exhausted, the time
    limit or the step limit passed, an action failed.

    The routing decision keeps the priority, tier and attributes the flow set,
    and takes this ``queue`` and these ``requirements`` (those set so far were
    meant for another queue).
    """

    queue: str
    requirements: Mapping[str, int] = attrs.field(factory=dict)
    message: str | None = None


def _check_graph(flow: Flow, attribute: object, value: object) -> None:
    from .checks import check_flow

    check_flow(flow)


@attrs.frozen(slots=True, kw_only=True)
class Flow:
    """An IVR or chatbot flow: its nodes, where it starts, its fallback, its limits.

    Made by :func:`~ccroute.ivr.parse_flow` from data; the graph is checked
    when it is made (``check_flow``: unknown
    references, dead ends, unreachable nodes, loops without exit).

    :param name: the flow's name (recorded in the contact's ``ivr`` attribute).
    :param start: the first node.
    :param nodes: node id to node, in the order declared.
    :param fallback: where a session that cannot go on is routed.
    :param time_limit: seconds from ``start`` after which the session ends in
        the fallback.
    :param input_timeout: seconds a prompt waits for input when its node sets
        no ``timeout``.
    :param max_steps: prompts and action requests a session may return before
        it ends in the fallback (a bound even without a clock).
    :param intents: intent name to regular expressions, for the default
        :class:`~ccroute.ivr.KeywordIntentMatcher`.
    """

    name: str
    start: str
    nodes: Mapping[str, Node]
    fallback: Fallback
    time_limit: float
    input_timeout: float = 10.0
    max_steps: int = 100
    intents: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, validator=_check_graph)
