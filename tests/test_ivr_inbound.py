"""The example inbound line (examples/flows/inbound.toml), with scripted callers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from ccroute import Contact
from ccroute.ivr import (
    IVR_KEY,
    ActionRequest,
    CallbackDecision,
    FixedFlowContext,
    FlowSession,
    Prompt,
    Resolution,
    RoutingDecision,
    Step,
    load_flow,
)

with (Path(__file__).resolve().parent.parent / "examples" / "flows" / "inbound.toml").open(
    "rb"
) as f:
    FLOW = load_flow(f)
CARD = "4111111111111111"

Action = Callable[[str, Mapping[str, Any]], Mapping[str, Any] | None]


def balance_ok(action: str, arguments: Mapping[str, Any]) -> Mapping[str, Any] | None:
    assert action == "balance"
    assert arguments["account"] == CARD  # the action, and only it, gets the raw number
    return {"balance": 12.5, "message": "Your balance is 12 euros 50."}


def call(
    answers: list[str],
    context: FixedFlowContext | None = None,
    action: Action = balance_ok,
    customer: str | None = None,
) -> tuple[Step, list[Prompt]]:
    """Run one caller through the flow: ``answers`` in order, one every 3 seconds."""
    context = context if context is not None else FixedFlowContext()
    session = FlowSession(FLOW, context)
    step = session.start(Contact("call-1", "voice", "general", customer_id=customer), now=0)
    prompts: list[Prompt] = []
    now = 0.0
    script = iter(answers)
    while not step.final:
        now += 3
        if isinstance(step, ActionRequest):
            step = session.action_result(action(step.action, step.arguments), now=now)
            continue
        assert isinstance(step, Prompt)
        prompts.append(step)
        answer = next(script, None)
        if answer is not None:
            step = session.input(answer, now=now)
        else:  # silence: the prompt times out
            assert session.next_due is not None
            now = max(now, session.next_due)
            due = session.tick(now=now)
            assert due is not None
            step = due
    assert next(script, None) is None, "the call ended before the script did"
    return step, prompts


def test_out_of_hours_a_caller_can_ask_for_a_callback() -> None:
    closed = FixedFlowContext(closed={"general"})
    step, prompts = call(["yes"], closed)
    assert [p.node for p in prompts] == ["closed"]
    assert isinstance(step, CallbackDecision)
    assert step.contact.queue == "general"
    assert step.message == "Thank you. We will call you back when we open."


def test_out_of_hours_a_caller_can_just_hang_up() -> None:
    step, _ = call(["2"], FixedFlowContext(closed={"general"}))
    assert isinstance(step, Resolution)
    assert (step.outcome, step.message) == ("closed", "Thank you for calling. Goodbye.")


def test_a_vip_speaking_french_about_a_bill_holds_in_the_fast_lane() -> None:
    context = FixedFlowContext(profiles={"k9": {"tier": "gold"}}, waits={"billing": 900.0})
    step, prompts = call(["2", "j'ai une question sur my bill", "hold"], context, customer="k9")
    assert [p.node for p in prompts] == ["language", "intent", "wait_check"]
    assert prompts[2].text.startswith("The wait is about 15 minutes.")
    assert isinstance(step, RoutingDecision) and not step.fallback
    c = step.contact
    assert (c.queue, c.priority_seconds) == ("billing", 120.0)
    assert dict(c.requirements) == {"french": 1, "billing": 3}
    assert c.attributes["language"] == "fr" and c.attributes["vip"] is True
    assert c.attributes[IVR_KEY]["intent"] == "billing"
    assert step.treatment is not None and step.treatment.exit_digit == "9"
    assert step.treatment.render(4, 900) == (
        "You are number 4 in line. Your wait is about 15 minutes. "
        "Press 9 at any time to be called back instead."
    )


def test_a_caller_who_is_not_vip_gets_no_head_start() -> None:
    context = FixedFlowContext(profiles={"k1": {"tier": "silver"}})
    step, _ = call(["1", "my internet is not working"], context, customer="k1")
    assert isinstance(step, RoutingDecision)
    assert (step.contact.queue, step.contact.priority_seconds) == ("technical", 0.0)
    assert "vip" not in step.contact.attributes


def test_a_long_wait_offers_a_callback_the_caller_takes() -> None:
    step, _ = call(["1", "3", "1"], FixedFlowContext(waits={"technical": 301.0}))
    assert isinstance(step, CallbackDecision)
    assert (step.contact.queue, step.estimated_wait) == ("technical", 301.0)


def test_a_balance_check_can_end_in_self_service() -> None:
    step, prompts = call(["1", "what is my balance", "4111 1111 1111 1111", "bye"])
    assert [p.node for p in prompts] == ["language", "intent", "account", "after_balance"]
    assert prompts[2].sensitive
    assert prompts[3].text.startswith("Your balance is 12 euros 50. ")
    assert isinstance(step, Resolution) and step.outcome == "self-service"
    assert step.contact.attributes[IVR_KEY]["answers"] == {"account": "************1111"}


def test_a_balance_action_can_resolve_the_call_by_itself() -> None:
    def resolves(action: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        return {"resolved": True, "outcome": "balance given", "message": "You owe nothing."}

    step, _ = call(["1", "2", CARD], action=resolves)
    assert isinstance(step, Resolution)
    assert (step.outcome, step.message) == ("balance given", "You owe nothing.")


def test_an_overdue_account_goes_to_billing() -> None:
    step, _ = call(["1", "2", CARD], action=lambda a, args: {"overdue": True})
    assert isinstance(step, RoutingDecision) and step.contact.queue == "billing"


def test_when_the_balance_service_is_down_an_agent_helps() -> None:
    step, _ = call(["1", "2", CARD], action=lambda a, args: None)
    assert isinstance(step, RoutingDecision)
    assert (step.contact.queue, step.fallback) == ("billing", False)


def test_an_account_number_failing_the_check_three_times_goes_to_an_agent() -> None:
    step, prompts = call(["1", "2", "4111111111111112", "1234", "4111 1111 1111 1113"])
    assert [p.attempt for p in prompts if p.node == "account"] == [1, 2, 3]
    assert prompts[3].text.startswith("That account number is not valid.")
    assert isinstance(step, RoutingDecision) and step.contact.queue == "billing"
    assert step.contact.attributes[IVR_KEY]["answers"] == {}


def test_a_silent_caller_ends_in_the_general_queue() -> None:
    step, prompts = call([])
    assert [p.node for p in prompts] == ["language"] * 3 + ["intent"] * 3
    assert isinstance(step, RoutingDecision) and step.fallback
    assert step.reason == "retries exhausted at 'intent'"
    assert step.contact.queue == "general"
    assert step.message == "Let me put you through to one of our team."


@pytest.mark.parametrize(
    ("words", "queue"), [("I want to cancel", "retention"), ("4", "retention")]
)
def test_cancelling_goes_to_retention(words: str, queue: str) -> None:
    step, _ = call(["1", words])
    assert isinstance(step, RoutingDecision) and step.contact.queue == queue
