"""What a session returns: the next step for whoever drives it.

Two steps wait for the driver: a :class:`Prompt` (say something, take
input, call :meth:`FlowSession.input <ccroute.ivr.FlowSession.input>`) and
an :class:`ActionRequest` (run a self-service action, call
:meth:`FlowSession.action_result <ccroute.ivr.FlowSession.action_result>`).
Three end the session (``final`` is true): a :class:`RoutingDecision` (route
this contact), a :class:`CallbackDecision` (queue it as a callback) and a
:class:`Resolution` (resolved without an agent, or abandoned).

No step holds a raw sensitive answer but an :class:`ActionRequest`'s
``arguments``, which its ``repr`` masks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import attrs

from ..model import Contact
from .masking import mask
from .nodes import Expect, Treatment

__all__ = [
    "ActionRequest",
    "CallbackDecision",
    "FinalStep",
    "Prompt",
    "Resolution",
    "RoutingDecision",
    "Step",
]


@attrs.frozen(slots=True, kw_only=True)
class Step:
    """What every step has: the node that produced it."""

    #: Whether the session is over after this step.
    final: ClassVar[bool] = False

    node: str


@attrs.frozen(slots=True, kw_only=True)
class Prompt(Step):
    """Say or show ``text`` and take the customer's input.

    :param text: what to say or show (a retry's text starts with the node's
        no-match or invalid-input message).
    :param expects: ``"digits"`` (DTMF), ``"text"`` (speech as text, chat) or ``"any"``.
    :param sensitive: the input is sensitive: do not echo, log or record it.
    :param timeout: seconds to wait for input; after that call
        :meth:`~ccroute.ivr.FlowSession.tick` (``FlowSession.next_due``).
    :param attempt: 1 for the first time the node asks, 2 for the first retry, …
    :param choices: the digits the node takes (a menu's options, a callback
        offer's answers), for adapters that show buttons.
    :param intents: the intents the node would take: a driver with an
        intent hook predicts among these and passes the result to ``input``.
    """

    text: str
    expects: Expect
    sensitive: bool = False
    timeout: float
    attempt: int = 1
    choices: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()


def _masked_arguments(arguments: Mapping[str, Any], sensitive: frozenset[str]) -> dict[str, Any]:
    return {
        name: mask(value) if name in sensitive and isinstance(value, str) else value
        for name, value in arguments.items()
    }


@attrs.frozen(slots=True, kw_only=True, repr=False)
class ActionRequest(Step):
    """Run self-service action ``action`` with ``arguments`` and feed its result back.

    ``arguments`` hold raw values, sensitive answers included: this is the
    one place they leave the session. Hand them to the action only (the
    ``ccroute_self_service`` hook); ``repr`` and :attr:`masked_arguments`
    mask them.

    :param action: the action's name (the flow's ``action`` field).
    :param arguments: argument name to raw value.
    :param sensitive: the names of the arguments that are sensitive.
    :param timeout: seconds the driver should give the action.
    """

    action: str
    arguments: Mapping[str, Any] = attrs.field(eq=False)
    sensitive: frozenset[str] = frozenset()
    timeout: float

    @property
    def masked_arguments(self) -> dict[str, Any]:
        """``arguments`` with the sensitive ones masked, fit to log or show."""
        return _masked_arguments(self.arguments, self.sensitive)

    def __repr__(self) -> str:
        """The request with its sensitive arguments masked."""
        return (
            f"ActionRequest(node={self.node!r}, action={self.action!r}, "
            f"arguments={self.masked_arguments!r}, timeout={self.timeout!r})"
        )


@attrs.frozen(slots=True, kw_only=True)
class FinalStep(Step):
    """What the steps that end a session have.

    :param contact: the contact as the flow leaves it: queue, requirements,
        priority, tier, preferred agent and attributes set by the flow, with
        the session's record under ``attributes["ivr"]`` (answers masked; see
        docs/ivr-flows.md).
    :param message: a last thing to say or show, if any.
    """

    final: ClassVar[bool] = True

    contact: Contact
    message: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class RoutingDecision(FinalStep):
    """Route ``contact`` (submit it to the router).

    :param treatment: what to play while it waits (position, estimated wait,
        period, exit digit), from an announce node; ``None`` without one.
    :param fallback: the session could not go on and took the flow's
        fallback (``reason`` says why).
    :param reason: why the fallback was taken (``"retries exhausted at
        'menu'"``, ``"time limit"``, ``"step limit"``, ``"action 'x'
        failed"``), ``None`` for a transfer node.
    """

    treatment: Treatment | None = None
    fallback: bool = False
    reason: str | None = None


@attrs.frozen(slots=True, kw_only=True)
class CallbackDecision(FinalStep):
    """The customer took a callback: queue ``contact`` as a callback request
    (it keeps its place without holding; ``Service.request_callback``).

    :param estimated_wait: the estimated wait that made the node offer it.
    """

    estimated_wait: float | None = None


@attrs.frozen(slots=True, kw_only=True)
class Resolution(FinalStep):
    """The session ended without an agent.

    :param outcome: an end node's outcome, a self-service result's
        ``outcome`` (default ``"self-service"``), or ``"abandoned"`` when the
        customer left (:meth:`~ccroute.ivr.FlowSession.abandon`).
    """

    outcome: str
