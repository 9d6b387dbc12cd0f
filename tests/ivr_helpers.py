"""Small builders for the IVR tests: a flow's data from its nodes, a session on it."""

from __future__ import annotations

from typing import Any

from ccroute import Contact
from ccroute.ivr import FixedFlowContext, Flow, FlowSession, parse_flow

__all__ = ["contact", "flow_data", "make_flow", "session"]


def flow_data(
    nodes: dict[str, dict[str, Any]], start: str | None = None, **top: Any
) -> dict[str, Any]:
    """A flow's data: ``nodes``, starting at the first node unless ``start`` says otherwise."""
    data: dict[str, Any] = {
        "name": "test",
        "start": start if start is not None else next(iter(nodes)),
        "time_limit": 300,
        "fallback": {"queue": "general"},
        "nodes": nodes,
    }
    data.update(top)
    return data


def make_flow(nodes: dict[str, dict[str, Any]], start: str | None = None, **top: Any) -> Flow:
    """The checked flow of :func:`flow_data`."""
    return parse_flow(flow_data(nodes, start, **top))


def contact(**fields: Any) -> Contact:
    """A voice contact ``c1`` for queue ``general`` (fields override)."""
    values: dict[str, Any] = {"id": "c1", "channel": "voice", "queue": "general"}
    values.update(fields)
    return Contact(**values)


def session(flow: Flow, context: FixedFlowContext | None = None, **kwargs: Any) -> FlowSession:
    """A session on ``flow`` with a fixed context (open, no waits, no profiles by default)."""
    return FlowSession(flow, context if context is not None else FixedFlowContext(), **kwargs)
