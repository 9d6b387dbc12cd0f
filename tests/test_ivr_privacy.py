"""Sensitive answers: raw only in the arguments of the action that needs them.

Never in a prompt, a routing decision, a callback decision, a resolution, the
contact's attributes, a repr, or the session once it has ended; masked
(``************1111``) where the answer is recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import hypothesis.strategies as st
from hypothesis import given, settings
from ivr_helpers import contact, make_flow, session

from ccroute.ivr import (
    IVR_KEY,
    ActionRequest,
    FixedFlowContext,
    FlowSession,
    Prompt,
    Step,
    load_flow,
    mask,
)

with (Path(__file__).resolve().parent.parent / "examples" / "flows" / "inbound.toml").open(
    "rb"
) as f:
    FLOW = load_flow(f)
CARD = "4111111111111111"


def visible(step: Step) -> str:
    """Everything a step shows: its repr, its fields' reprs, its contact's attributes as JSON."""
    parts = [repr(step), str(step)]
    for field in attrs.fields(type(step)):
        if field.name != "arguments":
            parts.append(repr(getattr(step, field.name)))
    found = getattr(step, "contact", None)
    if found is not None:
        parts.append(json.dumps(dict(found.attributes), default=str))
        parts.append(repr(found))
    if isinstance(step, ActionRequest):
        parts.append(repr(step.masked_arguments))
    return "\n".join(parts)


def session_state(s: FlowSession) -> str:
    """Every private field of a session, as text."""
    return "\n".join(repr(getattr(s, name)) for name in FlowSession.__slots__) + repr(s)


def run_balance_call(resolve: bool) -> tuple[list[Step], FlowSession, list[ActionRequest]]:
    s = FlowSession(FLOW, FixedFlowContext(waits={"billing": 600.0}))
    steps: list[Step] = [s.start(contact(customer_id="k1"), now=0)]
    requests: list[ActionRequest] = []
    for answer in ["1", "my balance", "4111 1111 1111 1111"]:
        steps.append(s.input(answer, now=len(steps)))
    request = steps[-1]
    assert isinstance(request, ActionRequest)
    requests.append(request)
    result: dict[str, Any] = {"resolved": True} if resolve else {"message": "You owe 3."}
    steps.append(s.action_result(result, now=10))
    if not resolve:
        steps.append(s.input("agent", now=11))  # to billing: the callback offer
        steps.append(s.input("yes", now=12))
    assert steps[-1].final
    return steps, s, requests


def test_the_action_gets_the_raw_number_and_shows_it_masked() -> None:
    _, _, (request,) = run_balance_call(resolve=True)
    assert request.arguments["account"] == CARD
    assert request.sensitive == frozenset({"account"})
    assert request.masked_arguments == {"account": "************1111", "customer": "k1"}
    assert CARD not in repr(request)
    assert "************1111" in repr(request)


def test_the_number_appears_in_no_step_and_no_attribute() -> None:
    for resolve in (True, False):
        steps, s, _ = run_balance_call(resolve)
        for step in steps:
            assert CARD not in visible(step), step
        final = steps[-1]
        assert final.contact.attributes[IVR_KEY]["answers"] == {"account": "************1111"}  # type: ignore[attr-defined]
        assert final.contact.attributes[IVR_KEY]["sensitive"] == ["account"]  # type: ignore[attr-defined]
        # Once ended, the session keeps no raw value anywhere, not even privately.
        assert CARD not in session_state(s)
        assert s.answers == {"account": "************1111"}


def test_while_the_call_goes_on_the_session_shows_only_the_mask() -> None:
    s = FlowSession(FLOW, FixedFlowContext())
    s.start(contact(), now=0)
    s.input("1", now=1)
    s.input("2", now=2)
    s.input(CARD, now=3)
    assert s.answers == {"account": "************1111"}
    assert CARD not in repr(s)


def test_a_prompt_after_a_sensitive_answer_never_repeats_it() -> None:
    flow = make_flow(
        {
            "pin": {
                "kind": "collect",
                "prompt": "PIN?",
                "field": "pin",
                "sensitive": True,
                "validators": [{"kind": "length", "min": 4, "max": 4}],
                "next": "m",
            },
            "m": {
                "kind": "menu",
                "prompt": "1 for an agent.",
                "options": [{"digit": "1", "next": "t"}],
            },
            "t": {"kind": "transfer"},
        }
    )
    s = session(flow)
    s.start(contact(), now=0)
    step = s.input("9876", now=1)
    assert isinstance(step, Prompt) and "9876" not in visible(step)
    final = s.input("1", now=2)
    assert "9876" not in visible(final)
    assert final.contact.attributes[IVR_KEY]["answers"] == {"pin": "****"}  # type: ignore[attr-defined]


def test_a_non_sensitive_answer_is_recorded_as_given() -> None:
    flow = make_flow(
        {
            "order": {"kind": "collect", "prompt": "Order?", "field": "order", "next": "t"},
            "t": {"kind": "transfer"},
        }
    )
    s = session(flow)
    s.start(contact(), now=0)
    final = s.input("12345678", now=1)
    assert final.contact.attributes[IVR_KEY]["answers"] == {"order": "12345678"}  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=8, max_size=19),
    st.sampled_from(["resolve", "route", "fail", "abandon", "timeout"]),
)
def test_any_sensitive_value_stays_inside_the_action(secret: str, ending: str) -> None:
    flow = make_flow(
        {
            "c": {
                "kind": "collect",
                "prompt": "Number?",
                "field": "n",
                "sensitive": True,
                "next": "a",
            },
            "a": {
                "kind": "action",
                "action": "check",
                "arguments": {"n": "answer.n"},
                "next": "t",
                "rules": [{"fact": "answer.n", "op": "eq", "value": "x", "next": "t"}],
            },
            "t": {"kind": "transfer"},
        }
    )
    s = session(flow)
    steps: list[Step] = [s.start(contact(), now=0), s.input(secret, now=1)]
    request = steps[-1]
    assert isinstance(request, ActionRequest) and request.arguments == {"n": secret}
    if ending == "resolve":
        steps.append(s.action_result({"resolved": True}, now=2))
    elif ending == "route":
        steps.append(s.action_result({}, now=2))
    elif ending == "fail":
        steps.append(s.action_result(None, now=2))
    elif ending == "abandon":
        steps.append(s.abandon(now=2))
    else:
        due = s.tick(now=1e6)
        assert due is not None
        steps.append(due)
    assert steps[-1].final
    for step in steps:
        assert secret not in visible(step)
    assert secret not in session_state(s)
    record = steps[-1].contact.attributes[IVR_KEY]  # type: ignore[attr-defined]
    assert record["answers"] == {"n": mask(secret)}
