"""IVR and chatbot flows: flows as data, and sans-I/O sessions that run them.

A flow (TOML, JSON or a mapping; docs/ivr-flows.md) is loaded and checked
with :func:`load_flow`, :func:`loads_flow` or :func:`parse_flow`, which
refuse a bad one with a :class:`~ccroute.FlowError` naming the node and the
field. A :class:`FlowSession` runs one customer through it: ``start``,
``input``, ``action_result`` and ``tick`` each return the next
:class:`Step` (a :class:`Prompt`, an :class:`ActionRequest`, or a final
:class:`RoutingDecision`, :class:`CallbackDecision` or :class:`Resolution`).
The session does no I/O and reads no clock: outside facts come from a
:class:`FlowContext`.

The modules: :mod:`~ccroute.ivr.nodes` (the flow's parts),
:mod:`~ccroute.ivr.loader` (reading and field checks),
:mod:`~ccroute.ivr.checks` (graph checks), :mod:`~ccroute.ivr.conditions`
(facts and operators), :mod:`~ccroute.ivr.validators` (length, pattern,
Luhn), :mod:`~ccroute.ivr.masking`, :mod:`~ccroute.ivr.intent`,
:mod:`~ccroute.ivr.context`, :mod:`~ccroute.ivr.steps` and
:mod:`~ccroute.ivr.session`.
"""

from __future__ import annotations

from ..errors import FlowError
from .context import FixedFlowContext, FlowContext, RouterFlowContext
from .intent import IntentPrediction, IntentPredictor, KeywordIntentMatcher
from .loader import Readable, load_flow, loads_flow, parse_flow
from .masking import mask
from .nodes import (
    ActionNode,
    AnnounceNode,
    CallbackNode,
    CollectNode,
    ConditionNode,
    EndNode,
    Fallback,
    Flow,
    MenuNode,
    Node,
    Option,
    Rule,
    SetNode,
    Test,
    TransferNode,
    Treatment,
    fill,
)
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
from .validators import Length, Luhn, Pattern, Validator, luhn_valid

__all__ = [
    "IVR_KEY",
    "ActionNode",
    "ActionRequest",
    "AnnounceNode",
    "CallbackDecision",
    "CallbackNode",
    "CollectNode",
    "ConditionNode",
    "EndNode",
    "Fallback",
    "FinalStep",
    "FixedFlowContext",
    "Flow",
    "FlowContext",
    "FlowError",
    "FlowSession",
    "IntentPrediction",
    "IntentPredictor",
    "KeywordIntentMatcher",
    "Length",
    "Luhn",
    "MenuNode",
    "Node",
    "Option",
    "Pattern",
    "Prompt",
    "Readable",
    "Resolution",
    "RouterFlowContext",
    "RoutingDecision",
    "Rule",
    "SetNode",
    "Step",
    "Test",
    "TransferNode",
    "Treatment",
    "Validator",
    "load_flow",
    "loads_flow",
    "luhn_valid",
    "fill",
    "mask",
    "parse_flow",
]
