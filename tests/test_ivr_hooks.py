"""The IVR hooks, called through pluggy as a driver would, feeding a session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ivr_helpers import contact, make_flow, session

from ccroute import Contact, hookimpl
from ccroute.ivr import ActionRequest, IntentPrediction, Prompt, Resolution, RoutingDecision
from ccroute.plugins import make_plugin_manager

FLOW = make_flow(
    {
        "menu": {
            "kind": "menu",
            "prompt": "How can I help?",
            "threshold": 0.8,
            "options": [
                {"digit": "1", "intent": "balance", "next": "account"},
                {"digit": "2", "intent": "agent", "next": "agent"},
            ],
        },
        "account": {
            "kind": "collect",
            "prompt": "Card number?",
            "field": "card",
            "sensitive": True,
            "validators": [{"kind": "luhn"}],
            "next": "balance",
        },
        "balance": {
            "kind": "action",
            "action": "balance",
            "arguments": {"card": "answer.card"},
            "next": "agent",
        },
        "agent": {"kind": "transfer", "queue": "general"},
    }
)


class Nlu:
    """An intent plugin: sure about balances, clueless otherwise."""

    @hookimpl
    def ccroute_predict_intent(
        self, text: str, intents: Sequence[str], contact: Contact
    ) -> IntentPrediction | None:
        if "money" in text and "balance" in intents:
            return IntentPrediction("balance", 0.93)
        return None


class Bank:
    """A self-service plugin that runs only its own action."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def ccroute_self_service(
        self, action: str, arguments: Mapping[str, Any], contact: Contact
    ) -> Mapping[str, Any] | None:
        if action != "balance":
            return None
        self.seen.append((contact.id, dict(arguments)))
        return {"resolved": True, "message": "You have 20 euros."}


class Other:
    @hookimpl
    def ccroute_self_service(self, action: str) -> Mapping[str, Any] | None:
        return None  # not its action: the next plugin is asked


def test_a_driver_feeds_the_hooks_results_to_the_session() -> None:
    bank = Bank()
    pm = make_plugin_manager([Nlu(), bank, Other()], load_entrypoints=False)
    caller = contact(id="c7")
    s = session(FLOW)
    step = s.start(caller, now=0)
    answers = iter(["how much money do I have", "4111111111111111"])
    while not step.final:
        if isinstance(step, Prompt):
            text = next(answers)
            predicted = None
            if step.intents:
                predicted = pm.hook.ccroute_predict_intent(
                    text=text, intents=list(step.intents), contact=caller
                )
            step = s.input(text, now=1, intent=predicted)
        else:
            assert isinstance(step, ActionRequest)
            result = pm.hook.ccroute_self_service(
                action=step.action, arguments=step.arguments, contact=caller
            )
            step = s.action_result(result, now=2)
    assert isinstance(step, Resolution)
    assert (step.outcome, step.message) == ("self-service", "You have 20 euros.")
    assert bank.seen == [("c7", {"card": "4111111111111111"})]
    assert s.intent == IntentPrediction("balance", 0.93)


def test_without_a_prediction_the_default_matcher_decides() -> None:
    pm = make_plugin_manager([Nlu()], load_entrypoints=False)
    s = session(FLOW)
    s.start(contact(), now=0)
    predicted = pm.hook.ccroute_predict_intent(
        text="let me speak to someone", intents=["balance", "agent"], contact=contact()
    )
    assert predicted is None
    # No [intents] patterns and no prediction: no match, the menu asks again.
    step = s.input("let me speak to someone", now=1, intent=predicted)
    assert isinstance(step, Prompt) and step.attempt == 2
    assert isinstance(s.input("2", now=2), RoutingDecision)


def test_no_plugin_running_the_action_is_a_failure() -> None:
    pm = make_plugin_manager([Other()], load_entrypoints=False)
    s = session(FLOW)
    s.start(contact(), now=0)
    s.input("1", now=1)
    request = s.input("4111111111111111", now=2)
    assert isinstance(request, ActionRequest)
    result = pm.hook.ccroute_self_service(
        action=request.action, arguments=request.arguments, contact=contact()
    )
    assert result is None
    step = s.action_result(result, now=3)
    assert isinstance(step, RoutingDecision) and step.reason == "action 'balance' failed"
