"""Each node kind's behaviour, driven through sessions as a channel adapter would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from ivr_helpers import contact, make_flow, session

from ccroute import (
    Agent,
    ClockError,
    Contact,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Presence,
    QueueConfig,
    QueueStats,
    Router,
)
from ccroute.ivr import (
    IVR_KEY,
    ActionRequest,
    CallbackDecision,
    FixedFlowContext,
    FlowContext,
    IntentPrediction,
    Prompt,
    Resolution,
    RouterFlowContext,
    RoutingDecision,
    Treatment,
)

TRANSFER = {"kind": "transfer"}


def menu_flow(**menu: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "menu",
        "prompt": "Billing or sales?",
        "no_match_prompt": "Sorry.",
        "options": [
            {"digit": "1", "keywords": ["billing", "pay a bill"], "intent": "billing", "next": "b"},
            {"digit": "2", "keywords": ["sales"], "intent": "sales", "next": "s"},
            {"digit": "0", "next": "help"},
        ],
    }
    fields.update(menu)
    return make_flow(
        {
            "main": fields,
            "b": {"kind": "transfer", "queue": "billing"},
            "s": {"kind": "transfer", "queue": "sales"},
            "help": {"kind": "transfer", "queue": "help"},
        },
        intents={"billing": ["invoice", r"\bbill"], "sales": ["buy", "price"]},
    )


def routed_to(step: object) -> str:
    assert isinstance(step, RoutingDecision), step
    return step.contact.queue


# ------------------------------------------------------------------- menu


@pytest.mark.parametrize(
    ("answer", "queue"),
    [
        ("1", "billing"),
        (" 2 ", "sales"),
        ("I want to talk about BILLING", "billing"),
        ("I'd like to pay a bill", "billing"),
        ("sales please", "sales"),
        ("my invoice is wrong", "billing"),  # the default matcher's patterns
        ("what is the price", "sales"),
    ],
)
def test_a_menu_takes_a_digit_a_keyword_or_an_intent(answer: str, queue: str) -> None:
    s = session(menu_flow(no_match="help"))
    first = s.start(contact(), now=0)
    assert isinstance(first, Prompt)
    assert first.text == "Billing or sales?"
    assert first.choices == ("1", "2", "0")
    assert first.intents == ("billing", "sales")
    assert routed_to(s.input(answer, now=1)) == queue


def test_keywords_match_whole_words_only() -> None:
    s = session(menu_flow(no_match="help", retries=0))
    s.start(contact(), now=0)
    # "salesforce" contains "sales" but is not the word.
    assert routed_to(s.input("salesforce", now=1)) == "help"


def test_a_menu_records_the_intent_it_took() -> None:
    s = session(menu_flow())
    s.start(contact(), now=0)
    step = s.input("question about my invoice", now=1)
    assert isinstance(step, RoutingDecision)
    assert s.intent == IntentPrediction("billing", 1.0)
    record = step.contact.attributes[IVR_KEY]
    assert (record["intent"], record["confidence"]) == ("billing", 1.0)


def test_an_intent_below_the_threshold_is_no_match() -> None:
    # Both intents' patterns match: 0.5 each, below 0.7.
    s = session(menu_flow())
    s.start(contact(), now=0)
    step = s.input("buy something and a bill", now=1)
    assert isinstance(step, Prompt)
    assert step.attempt == 2
    assert step.text == "Sorry. Billing or sales?"


def test_a_prediction_given_by_the_driver_wins_over_the_default_matcher() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []

    def never(text: str, intents: Sequence[str]) -> IntentPrediction | None:
        calls.append((text, tuple(intents)))
        return None

    s = session(menu_flow(), predict_intent=never)
    s.start(contact(), now=0)
    step = s.input("I need help with my account", now=1, intent=IntentPrediction("sales", 0.9))
    assert routed_to(step) == "sales"
    assert calls == []
    assert s.intent == IntentPrediction("sales", 0.9)


def test_the_session_predictor_is_asked_with_the_menus_intents() -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []

    def predictor(text: str, intents: Sequence[str]) -> IntentPrediction | None:
        calls.append((text, tuple(intents)))
        return IntentPrediction("billing", 0.8)

    s = session(menu_flow(), predict_intent=predictor)
    s.start(contact(), now=0)
    assert routed_to(s.input("something vague", now=1)) == "billing"
    assert calls == [("something vague", ("billing", "sales"))]
    # Digits never go to the predictor.
    s2 = session(menu_flow(no_match="help", retries=0), predict_intent=predictor)
    s2.start(contact(), now=0)
    assert routed_to(s2.input("7", now=1)) == "help"
    assert len(calls) == 1


def test_a_menu_retries_then_goes_to_no_match() -> None:
    s = session(menu_flow(no_match="help", retries=2))
    s.start(contact(), now=0)
    for attempt in (2, 3):
        step = s.input("banana", now=attempt)
        assert isinstance(step, Prompt) and step.attempt == attempt
    assert routed_to(s.input("", now=5)) == "help"
    assert s.path == ("main", "help")


def test_a_menu_without_no_match_ends_in_the_fallback() -> None:
    s = session(menu_flow(retries=1))
    s.start(contact(), now=0)
    s.input("banana", now=1)
    step = s.input("banana", now=2)
    assert isinstance(step, RoutingDecision)
    assert step.fallback and step.reason == "retries exhausted at 'main'"
    assert step.contact.queue == "general"
    assert step.contact.attributes[IVR_KEY]["fallback"] == "retries exhausted at 'main'"


def test_no_input_within_the_timeout_is_a_retry() -> None:
    s = session(menu_flow(timeout=5, retries=1, no_match="help"))
    first = s.start(contact(), now=10)
    assert isinstance(first, Prompt) and first.timeout == 5
    assert s.next_due == 15
    assert s.tick(now=14.9) is None
    again = s.tick(now=15)
    assert isinstance(again, Prompt) and again.attempt == 2
    assert s.next_due == 20
    assert routed_to(s.tick(now=21)) == "help"
    assert s.next_due is None
    assert s.tick(now=30) is None


# ---------------------------------------------------------------- collect


def collect_flow(**collect: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "collect",
        "prompt": "Card number?",
        "field": "card",
        "invalid_prompt": "Not valid.",
        "no_match": "x",
        "validators": [{"kind": "length", "min": 13, "max": 19}, {"kind": "luhn"}],
        "next": "t",
    }
    fields.update(collect)
    return make_flow({"c": fields, "t": TRANSFER, "x": {"kind": "transfer", "queue": "x"}})


def test_collect_normalises_digits_and_keeps_the_answer() -> None:
    s = session(collect_flow())
    s.start(contact(), now=0)
    step = s.input("4111 1111-1111 1111#", now=1)
    assert isinstance(step, RoutingDecision) and not step.fallback
    assert step.contact.attributes[IVR_KEY]["answers"] == {"card": "4111111111111111"}


@pytest.mark.parametrize("bad", ["4111111111111112", "411111", "4111x11111111111", "   "])
def test_collect_refuses_what_fails_a_validator_and_asks_again(bad: str) -> None:
    s = session(collect_flow(retries=1, no_match="x"))
    s.start(contact(), now=0)
    step = s.input(bad, now=1)
    assert isinstance(step, Prompt)
    assert (step.text, step.attempt) == ("Not valid. Card number?", 2)
    assert routed_to(s.input(bad, now=2)) == "x"
    assert s.answers == {}


def test_collect_text_with_a_pattern() -> None:
    s = session(
        collect_flow(
            expects="text",
            field="order",
            validators=[{"kind": "pattern", "pattern": r"[A-Z]{2}-\d{4}"}],
        )
    )
    first = s.start(contact(), now=0)
    assert isinstance(first, Prompt) and first.expects == "text" and not first.sensitive
    assert isinstance(s.input("ab-1234", now=1), Prompt)
    step = s.input("  AB-1234 ", now=2)
    assert isinstance(step, RoutingDecision)
    assert step.contact.attributes[IVR_KEY]["answers"] == {"order": "AB-1234"}


def test_a_sensitive_collect_says_so_in_its_prompt() -> None:
    s = session(collect_flow(sensitive=True))
    first = s.start(contact(), now=0)
    assert isinstance(first, Prompt) and first.sensitive and first.expects == "digits"


# -------------------------------------------------------------- condition


def condition_flow(*rules: dict[str, Any]) -> Any:
    return make_flow(
        {
            "c": {"kind": "condition", "rules": list(rules), "otherwise": "no"},
            "yes": {"kind": "transfer", "queue": "yes"},
            "no": {"kind": "transfer", "queue": "no"},
        }
    )


def decide(rule: dict[str, Any], context: FlowContext | None = None, **contact_fields: Any) -> str:
    s = session(condition_flow({**rule, "next": "yes"}), context)
    return routed_to(s.start(contact(**contact_fields), now=0))


CTX = FixedFlowContext(
    profiles={"k1": {"tier": "gold", "age": 42, "vip": True}},
    closed={"night"},
    waits={"general": 400.0, "billing": 20.0},
    stats={"general": QueueStats("general", waiting=7, offered=1, logged_in=3, available=0)},
)


@pytest.mark.parametrize(
    ("rule", "answer"),
    [
        ({"fact": "profile.tier", "op": "eq", "value": "gold"}, "yes"),
        ({"fact": "profile.tier", "op": "ne", "value": "gold"}, "no"),
        ({"fact": "profile.tier", "op": "in", "value": ["gold", "platinum"]}, "yes"),
        ({"fact": "profile.tier", "op": "not_in", "value": ["silver"]}, "yes"),
        ({"fact": "profile.age", "op": "ge", "value": 42}, "yes"),
        ({"fact": "profile.age", "op": "gt", "value": 42}, "no"),
        ({"fact": "profile.age", "op": "lt", "value": "50"}, "no"),  # number vs string
        ({"fact": "profile.vip", "op": "eq", "value": 1}, "no"),  # a flag is not 1
        ({"fact": "profile.vip", "op": "eq", "value": True}, "yes"),
        ({"fact": "profile.tier", "op": "matches", "value": "^go"}, "yes"),
        ({"fact": "profile.missing", "op": "missing"}, "yes"),
        ({"fact": "profile.missing", "op": "ne", "value": "x"}, "no"),
        ({"fact": "profile.tier", "op": "exists"}, "yes"),
        ({"fact": "open", "op": "eq", "value": True}, "yes"),
        ({"fact": "open.night", "op": "eq", "value": False}, "yes"),
        ({"fact": "wait", "op": "gt", "value": 300}, "yes"),
        ({"fact": "wait.billing", "op": "gt", "value": 300}, "no"),
        ({"fact": "wait.sales", "op": "missing"}, "yes"),
        ({"fact": "wait.sales", "op": "lt", "value": 1e9}, "no"),
        ({"fact": "stats.waiting", "op": "ge", "value": 5}, "yes"),
        ({"fact": "stats.general.available", "op": "eq", "value": 0}, "yes"),
        ({"fact": "stats.other.logged_in", "op": "eq", "value": 0}, "yes"),
        ({"fact": "contact.channel", "op": "eq", "value": "voice"}, "yes"),
        ({"fact": "contact.customer_id", "op": "eq", "value": "k1"}, "yes"),
        ({"fact": "attribute.lang", "op": "eq", "value": "fr"}, "yes"),
        ({"fact": "elapsed", "op": "eq", "value": 0}, "yes"),
        ({"fact": "intent", "op": "missing"}, "yes"),
        (
            {
                "all": [
                    {"fact": "profile.tier", "op": "eq", "value": "gold"},
                    {"fact": "open", "op": "eq", "value": False},
                ]
            },
            "no",
        ),
        (
            {
                "any": [
                    {"fact": "profile.tier", "op": "eq", "value": "silver"},
                    {"fact": "open", "op": "eq", "value": True},
                ]
            },
            "yes",
        ),
    ],
)
def test_a_condition_branches_on_facts(rule: dict[str, Any], answer: str) -> None:
    assert decide(rule, CTX, customer_id="k1", attributes={"lang": "fr"}) == answer


def test_the_first_rule_that_holds_wins() -> None:
    flow = condition_flow(
        {"fact": "profile.tier", "op": "exists", "next": "no"},
        {"fact": "profile.tier", "op": "eq", "value": "gold", "next": "yes"},
    )
    s = session(flow, CTX)
    assert routed_to(s.start(contact(customer_id="k1"), now=0)) == "no"


@pytest.mark.usefixtures("queue_factory")
def test_conditions_on_a_real_router_and_an_unknown_queue() -> None:
    router = Router(ManualClock(50.0))
    router.add_queue(QueueConfig("general"))
    router.add_agent(Agent("ann", queues={"general"}), Presence.AVAILABLE)
    ctx = RouterFlowContext(router, is_open=lambda q: q != "general", estimated_wait=lambda q: 9.0)
    assert ctx.now == router.now
    rule = {"fact": "stats.general.available", "op": "eq", "value": 1}
    assert decide(rule, ctx) == "yes"
    assert decide({"fact": "open", "op": "eq", "value": False}, ctx) == "yes"
    assert decide({"fact": "wait", "op": "eq", "value": 9.0}, ctx) == "yes"
    # The router raises UnknownIdError for the queue: the fact is missing, not an error.
    assert decide({"fact": "stats.nope.waiting", "op": "missing"}, ctx) == "yes"
    assert decide({"fact": "stats.nope.waiting", "op": "ge", "value": 0}, ctx) == "no"


# -------------------------------------------------------------------- set


def test_set_changes_queue_requirements_priority_tier_and_attributes() -> None:
    flow = make_flow(
        {
            "lang": {
                "kind": "set",
                "requirements": {"french": 2},
                "attributes": {"language": "fr"},
                "next": "vip",
            },
            "vip": {
                "kind": "set",
                "queue": "billing",
                "requirements": {"billing": 3, "french": 4},
                "priority_seconds": 90,
                "tier": 2,
                "attributes": {"vip": True},
                "next": "t",
            },
            "t": TRANSFER,
        }
    )
    s = session(flow)
    step = s.start(contact(requirements={"voice": 1}, attributes={"source": "web"}), now=0)
    assert isinstance(step, RoutingDecision) and not step.fallback
    c = step.contact
    assert (c.queue, c.priority_seconds, c.tier) == ("billing", 90.0, 2)
    assert dict(c.requirements) == {"voice": 1, "french": 4, "billing": 3}
    assert {k: v for k, v in c.attributes.items() if k != IVR_KEY} == {
        "source": "web",
        "language": "fr",
        "vip": True,
    }
    assert c.attributes[IVR_KEY]["path"] == ["lang", "vip", "t"]


def test_set_can_clear_requirements() -> None:
    flow = make_flow(
        {
            "s": {"kind": "set", "clear_requirements": True, "requirements": {"x": 1}, "next": "t"},
            "t": TRANSFER,
        }
    )
    step = session(flow).start(contact(requirements={"voice": 1}), now=0)
    assert isinstance(step, RoutingDecision)
    assert dict(step.contact.requirements) == {"x": 1}


def test_fallback_contact_is_what_fall_back_would_route_and_changes_nothing() -> None:
    flow = make_flow(
        {
            "s": {"kind": "set", "priority_seconds": 30, "attributes": {"vip": True}, "next": "a"},
            "a": {
                "kind": "collect",
                "prompt": "card?",
                "field": "card",
                "sensitive": True,
                "next": "m",
            },
            "m": {"kind": "menu", "prompt": "?", "options": [{"digit": "1", "next": "t"}]},
            "t": TRANSFER,
        },
        fallback={"queue": "general", "requirements": {"english": 1}},
    )
    s = session(flow)
    with pytest.raises(InvalidStateError, match="has not started"):
        s.fallback_contact("recovered")
    s.start(contact(queue="sales"), now=0)
    s.input("4111111111111111", now=1)
    with pytest.raises(InvalidValueError, match="fallback reason"):
        s.fallback_contact("")
    before = (s.step, s.path, s.answers, s.next_due)
    lost = s.fallback_contact("recovered")
    assert (s.step, s.path, s.answers, s.next_due) == before  # read-only
    assert (lost.queue, dict(lost.requirements), lost.priority_seconds) == (
        "general",
        {"english": 1},
        30,
    )
    record = lost.attributes[IVR_KEY]
    assert record["answers"] == {"card": "************1111"}  # masked
    assert record["fallback"] == "recovered" and record["path"] == ["s", "a", "m"]
    assert lost.attributes["vip"] is True
    step = s.fall_back("recovered", now=2)
    assert step.contact == lost and dict(step.contact.attributes) == dict(lost.attributes)


def test_the_fallback_keeps_priority_and_attributes_but_takes_its_queue_and_skills() -> None:
    flow = make_flow(
        {
            "s": {
                "kind": "set",
                "queue": "billing",
                "requirements": {"billing": 5},
                "priority_seconds": 30,
                "attributes": {"vip": True},
                "next": "m",
            },
            "m": {
                "kind": "menu",
                "prompt": "?",
                "retries": 0,
                "options": [{"digit": "1", "next": "t"}],
            },
            "t": TRANSFER,
        },
        fallback={"queue": "general", "requirements": {"english": 1}, "message": "Hold on."},
    )
    s = session(flow)
    s.start(contact(), now=0)
    step = s.input("9", now=1)
    assert isinstance(step, RoutingDecision) and step.fallback
    assert step.message == "Hold on."
    assert (step.contact.queue, dict(step.contact.requirements)) == ("general", {"english": 1})
    assert step.contact.priority_seconds == 30
    assert step.contact.attributes["vip"] is True


# ----------------------------------------------------------------- action


def action_flow(**action: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "action",
        "action": "balance",
        "arguments": {"account": "answer.acct", "who": "contact.customer_id", "x": "answer.none"},
        "rules": [{"fact": "result.overdue", "op": "eq", "value": True, "next": "agent"}],
        "next": "more",
    }
    fields.update(action)
    return make_flow(
        {
            "acct": {"kind": "collect", "prompt": "Account?", "field": "acct", "next": "run"},
            "run": fields,
            "more": {
                "kind": "menu",
                "prompt": "Anything else?",
                "options": [{"digit": "1", "next": "agent"}, {"digit": "0", "next": "sorry"}],
            },
            "agent": {"kind": "transfer", "queue": "billing"},
            "sorry": {"kind": "transfer", "queue": "sorry"},
        }
    )


def to_action(flow: Any, **kwargs: Any) -> Any:
    s = session(flow, **kwargs)
    s.start(contact(customer_id="k1"), now=0)
    request = s.input("1234", now=1)
    assert isinstance(request, ActionRequest)
    return s, request


def test_an_action_request_carries_its_arguments() -> None:
    s, request = to_action(action_flow(timeout=4))
    assert request.action == "balance"
    assert dict(request.arguments) == {"account": "1234", "who": "k1"}  # a missing fact is left out
    assert request.timeout == 4
    assert s.next_due == 5
    with pytest.raises(InvalidStateError, match="waits for an action result"):
        s.input("1", now=2)


def test_an_action_result_can_resolve_the_contact() -> None:
    s, _ = to_action(action_flow())
    step = s.action_result(
        {"resolved": True, "outcome": "balance given", "message": "You owe 0."}, now=2
    )
    assert isinstance(step, Resolution)
    assert (step.outcome, step.message) == ("balance given", "You owe 0.")
    assert s.finished
    s2, _ = to_action(action_flow())
    step2 = s2.action_result({"resolved": True}, now=2)
    assert isinstance(step2, Resolution) and step2.outcome == "self-service"


def test_an_action_result_branches_on_its_fields() -> None:
    s, _ = to_action(action_flow())
    assert routed_to(s.action_result({"overdue": True}, now=2)) == "billing"
    s2, _ = to_action(action_flow())
    step = s2.action_result({"overdue": False, "message": "Your balance is 3.20."}, now=2)
    assert isinstance(step, Prompt)
    assert step.text == "Your balance is 3.20. Anything else?"


@pytest.mark.parametrize("on_error", [None, "sorry"])
def test_a_failed_action_goes_to_on_error_or_the_fallback(on_error: str | None) -> None:
    flow = action_flow(**({} if on_error is None else {"on_error": on_error}))
    s, _ = to_action(flow)
    step = s.action_result(None, now=2)
    assert isinstance(step, RoutingDecision)
    if on_error is None:
        assert step.fallback and step.reason == "action 'balance' failed"
        assert step.contact.queue == "general"
    else:
        assert not step.fallback and step.contact.queue == "sorry"


def test_an_action_that_times_out_has_failed() -> None:
    s, _ = to_action(action_flow(timeout=3, on_error="sorry"))
    assert s.tick(now=3.5) is None
    assert routed_to(s.tick(now=4)) == "sorry"


def test_an_action_result_must_be_a_mapping() -> None:
    s, request = to_action(action_flow())
    with pytest.raises(InvalidValueError, match="mapping"):
        s.action_result(["resolved"], now=2)
    assert s.step is request  # nothing changed


# --------------------------------------------------------------- callback


def callback_flow(**node: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "callback",
        "prompt": "About {minutes} minutes ({wait} s). 1 for a callback, 2 to hold.",
        "above": 300,
        "message": "We will call you.",
        "accept": ["1", "yes", "call me"],
        "decline": ["2", "no"],
        "next": "t",
    }
    fields.update(node)
    return make_flow({"cb": fields, "t": {"kind": "transfer", "queue": "general"}})


def test_a_long_wait_offers_a_callback_and_accepting_ends_in_a_callback_decision() -> None:
    s = session(callback_flow(), FixedFlowContext(waits={"general": 301}))
    prompt = s.start(contact(), now=0)
    assert isinstance(prompt, Prompt)
    assert prompt.text == "About 6 minutes (301 s). 1 for a callback, 2 to hold."
    assert prompt.choices == ("1", "2")
    step = s.input("yes please, call me", now=1)
    assert isinstance(step, CallbackDecision)
    assert step.estimated_wait == 301 and step.message == "We will call you."
    assert step.contact.queue == "general"


def test_declining_the_callback_goes_on() -> None:
    s = session(callback_flow(), FixedFlowContext(waits={"general": 900}))
    s.start(contact(), now=0)
    step = s.input("2", now=1)
    assert isinstance(step, RoutingDecision) and not step.fallback


@pytest.mark.parametrize("wait", [None, 0.0, 300.0])
def test_no_callback_is_offered_for_a_short_or_unknown_wait(wait: float | None) -> None:
    ctx = FixedFlowContext(waits={} if wait is None else {"general": wait})
    step = session(callback_flow(), ctx).start(contact(), now=0)
    assert isinstance(step, RoutingDecision) and step.node == "t"


def test_a_callback_without_a_limit_is_always_offered_and_can_name_its_queue() -> None:
    flow = callback_flow(above=None, queue="other", prompt="Closed. 1 for a callback.")
    del flow  # "above" cannot be None in data: leave it out instead
    data_flow = make_flow(
        {
            "cb": {
                "kind": "callback",
                "prompt": "Closed. 1 for a callback.",
                "queue": "other",
                "next": "t",
            },
            "t": TRANSFER,
        }
    )
    s = session(data_flow)
    assert isinstance(s.start(contact(), now=0), Prompt)
    step = s.input("1", now=1)
    assert isinstance(step, CallbackDecision) and step.estimated_wait is None


# --------------------------------------------------- transfer, announce, end


def test_transfer_to_an_agent_reserves_the_contact_for_them() -> None:
    flow = make_flow(
        {
            "t": {
                "kind": "transfer",
                "queue": "vip",
                "agent": "ann",
                "agent_wait": 45,
                "message": "Connecting.",
            }
        }
    )
    step = session(flow).start(contact(), now=0)
    assert isinstance(step, RoutingDecision)
    assert step.message == "Connecting."
    assert (step.contact.queue, step.contact.preferred_agent, step.contact.preferred_wait) == (
        "vip",
        "ann",
        45.0,
    )


def test_announce_sets_the_treatment_the_routing_decision_carries() -> None:
    flow = make_flow(
        {
            "a": {
                "kind": "announce",
                "message": "You are number {position}; about {minutes} min.",
                "period": 45,
                "exit_digit": "9",
                "exit": "message",
                "next": "t",
            },
            "t": TRANSFER,
        }
    )
    step = session(flow).start(contact(), now=0)
    assert isinstance(step, RoutingDecision)
    treatment = step.treatment
    assert treatment == Treatment(
        message="You are number {position}; about {minutes} min.",
        period=45,
        exit_digit="9",
        exit="message",
    )
    assert treatment.render(3, 130) == "You are number 3; about 3 min."
    assert treatment.render(None, None) == "You are number unknown; about unknown min."


def test_end_resolves_with_its_outcome() -> None:
    flow = make_flow({"e": {"kind": "end", "outcome": "closed", "message": "Goodbye."}})
    step = session(flow).start(contact(), now=0)
    assert isinstance(step, Resolution)
    assert (step.outcome, step.message, step.node) == ("closed", "Goodbye.", "e")


# ------------------------------------------------------- limits and misuse


def test_input_after_the_time_limit_ends_in_the_fallback() -> None:
    s = session(menu_flow(timeout=1000), FixedFlowContext())
    s.start(contact(), now=100)
    assert s.next_due == 400  # the time limit (300 s) comes before the prompt's timeout
    step = s.input("1", now=400)
    assert isinstance(step, RoutingDecision)
    assert step.fallback and step.reason == "time limit"


def test_tick_at_the_time_limit_ends_in_the_fallback() -> None:
    s = session(menu_flow(timeout=1000))
    s.start(contact(), now=0)
    assert s.tick(now=299.9) is None
    step = s.tick(now=300)
    assert isinstance(step, RoutingDecision) and step.reason == "time limit"


def test_the_step_limit_ends_in_the_fallback() -> None:
    flow = make_flow(
        {
            "m": {
                "kind": "menu",
                "prompt": "?",
                "options": [{"digit": "1", "next": "m"}, {"digit": "2", "next": "t"}],
            },
            "t": TRANSFER,
        },
        max_steps=3,
    )
    s = session(flow)
    s.start(contact(), now=0)
    assert isinstance(s.input("1", now=1), Prompt)
    assert isinstance(s.input("1", now=2), Prompt)
    step = s.input("1", now=3)
    assert isinstance(step, RoutingDecision) and step.reason == "step limit"


def test_time_comes_from_the_context_when_not_given() -> None:
    ctx = FixedFlowContext(now=50.0)
    s = session(menu_flow(timeout=5), ctx)
    s.start(contact())
    assert s.next_due == 55
    ctx.now = 56.0
    step = s.tick()
    assert isinstance(step, Prompt) and step.attempt == 2


def test_time_going_backwards_is_refused_and_changes_nothing() -> None:
    s = session(menu_flow())
    s.start(contact(), now=10)
    with pytest.raises(ClockError, match="backwards"):
        s.input("1", now=9)
    with pytest.raises(ClockError, match="finite"):
        s.input("1", now=float("nan"))
    assert isinstance(s.step, Prompt)
    assert routed_to(s.input("1", now=10)) == "billing"


def test_calls_out_of_order_are_refused() -> None:
    s = session(menu_flow())
    with pytest.raises(InvalidStateError, match="start"):
        s.input("1", now=0)
    assert s.tick(now=0) is None
    with pytest.raises(InvalidStateError):
        s.abandon(now=0)
    s.start(contact(), now=0)
    with pytest.raises(InvalidStateError, match="started already"):
        s.start(contact(), now=0)
    with pytest.raises(InvalidStateError, match="waits for input"):
        s.action_result({}, now=0)
    with pytest.raises(InvalidValueError, match="string"):
        s.input(1, now=0)
    s.input("1", now=1)
    with pytest.raises(InvalidStateError, match="finished"):
        s.input("1", now=2)


def test_abandon_ends_the_session() -> None:
    s = session(menu_flow())
    s.start(contact(), now=0)
    step = s.abandon(now=3)
    assert isinstance(step, Resolution) and step.outcome == "abandoned"
    assert s.finished and s.next_due is None


class BrokenProfiles(FixedFlowContext):
    """A context whose CRM is down (a bug, not a CCRouteError): the call must change nothing."""

    def profile(self, customer_id: str | None) -> dict[str, Any]:
        raise RuntimeError("CRM down")


def test_a_call_that_raises_changes_nothing() -> None:
    flow = make_flow(
        {
            "m": {"kind": "menu", "prompt": "?", "options": [{"digit": "1", "next": "s"}]},
            "s": {"kind": "set", "queue": "vip", "attributes": {"x": 1}, "next": "c"},
            "c": {
                "kind": "condition",
                "rules": [{"fact": "profile.tier", "op": "eq", "value": "gold", "next": "t"}],
                "otherwise": "t",
            },
            "t": TRANSFER,
        }
    )
    s = session(flow, BrokenProfiles())
    prompt = s.start(contact(), now=0)
    with pytest.raises(RuntimeError, match="CRM down"):
        s.input("1", now=5)
    assert s.step is prompt and s.path == ("m",) and s.node == "m"
    assert s.next_due == 10  # the prompt's deadline, from the start at 0
    with pytest.raises(RuntimeError):
        s.input("1", now=4)  # time did not move to 5


@pytest.mark.usefixtures("queue_factory")
def test_a_router_context_estimates_the_wait_of_the_contact_as_the_flow_would_route_it() -> None:
    clock = ManualClock()
    router = Router(clock)
    router.add_queue(QueueConfig("billing", wrap_up=0))
    router.add_agent(Agent("ann", skills={"billing": 5}, queues={"billing"}), Presence.AVAILABLE)
    router.add_agent(Agent("bob", queues={"billing"}), Presence.AVAILABLE)
    billing = {"billing": 1}
    # Ann, the only one with the skill, takes 300 s a call and is busy now.
    router.submit(Contact("c0", "voice", "billing", requirements=billing))
    router.accept("c0", "ann")
    clock.advance(300)
    router.complete("c0")
    router.submit(Contact("c1", "voice", "billing", requirements=billing))
    router.accept("c1", "ann")
    ctx = RouterFlowContext(router)
    needs_ann = ctx.estimated_wait(
        "billing", Contact("new", "voice", "billing", requirements=billing)
    )
    assert needs_ann is not None and needs_ann > 0
    # Without the skill requirement Bob, who is free, takes it at once.
    assert ctx.estimated_wait("billing", Contact("new", "voice", "billing")) == 0
    # And a flow's wait condition asks with the requirements its set nodes chose.
    flow = make_flow(
        {
            "start": {"kind": "set", "requirements": billing, "next": "check"},
            "check": {
                "kind": "condition",
                "rules": [{"fact": "wait", "op": "gt", "value": 60, "next": "long"}],
                "otherwise": "short",
            },
            "long": {"kind": "end", "outcome": "long"},
            "short": {"kind": "end", "outcome": "short"},
        }
    )
    step = session(flow, ctx).start(contact(queue="billing"), now=clock.now())
    assert isinstance(step, Resolution) and step.outcome == "long"


@pytest.mark.usefixtures("queue_factory")
def test_a_router_context_defaults_to_no_profile_open_queues_and_an_unknown_wait() -> None:
    router = Router(ManualClock(7.0))
    router.add_queue(QueueConfig("general"))
    ctx = RouterFlowContext(router)
    assert (ctx.now, dict(ctx.profile("k1")), ctx.is_open("general")) == (7.0, {}, True)
    assert ctx.estimated_wait("general") is None
    assert ctx.queue_stats("general") == router.queue_stats("general")
    profiles = {"k1": {"tier": "gold"}}
    ctx2 = RouterFlowContext(router, profiles=lambda c: profiles.get(c or "", {}))
    assert (
        decide({"fact": "profile.tier", "op": "eq", "value": "gold"}, ctx2, customer_id="k1")
        == "yes"
    )
