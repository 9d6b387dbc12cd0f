"""Properties of flows and sessions, on random flows, inputs and timings.

Every session of a valid flow ends (in a routing decision, a callback
decision or a resolution) within its step budget and as soon as its time
limit passes, whatever the customer does; it only follows the flow's
references. Every invalid flow is refused at load with the node named.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from ccroute import Contact, FlowError, QueueStats
from ccroute.ivr import (
    IVR_KEY,
    ActionRequest,
    CallbackDecision,
    FixedFlowContext,
    FlowSession,
    Prompt,
    Resolution,
    RoutingDecision,
    parse_flow,
)

KINDS = ("menu", "collect", "condition", "set", "action", "callback", "transfer", "announce", "end")
TERMINAL = ("transfer", "end")
AUTOMATIC = ("condition", "set", "announce")
TESTS = [
    {"fact": "profile.tier", "op": "eq", "value": "gold"},
    {"fact": "open", "op": "eq", "value": True},
    {"fact": "open.night", "op": "eq", "value": False},
    {"fact": "wait", "op": "gt", "value": 120},
    {"fact": "wait", "op": "missing"},
    {"fact": "stats.waiting", "op": "ge", "value": 2},
    {"fact": "answer.f0", "op": "exists"},
    {"fact": "attribute.a", "op": "eq", "value": 1},
    {"fact": "intent", "op": "eq", "value": "billing"},
    {"fact": "result.ok", "op": "eq", "value": True},
    {"fact": "elapsed", "op": "gt", "value": 30},
]
WORDS = ["billing", "sales", "agent", "yes", "no", "help"]


@st.composite
def valid_flows(draw: st.DrawFn) -> dict[str, Any]:
    """A valid flow's data: every node's first way on leads forward (so a terminal
    node is always reachable), automatic nodes only lead forward (no loop without
    input), other references go anywhere (loops with exits); unreachable nodes
    are dropped."""
    n = draw(st.integers(2, 10))
    # The start never ends the flow at once: a one-node flow tests little.
    kinds = [draw(st.sampled_from([k for k in KINDS if k not in TERMINAL]))]
    kinds += [draw(st.sampled_from(KINDS)) for _ in range(n - 2)]
    kinds.append(draw(st.sampled_from(TERMINAL)))
    ids = [f"n{i}" for i in range(n)]

    def forward(i: int) -> str:
        # Mostly the next node, so that most nodes stay reachable.
        return ids[i + 1] if draw(st.booleans()) else ids[draw(st.integers(i + 1, n - 1))]

    def anywhere(i: int) -> str:
        return ids[draw(st.integers(0, n - 1))] if kinds[i] not in AUTOMATIC else forward(i)

    def maybe(value: Any) -> Any:
        return value if draw(st.booleans()) else None

    def interaction(i: int) -> dict[str, Any]:
        return {
            "retries": draw(st.integers(0, 3)),
            "timeout": maybe(draw(st.sampled_from([1, 5, 30]))),
            "no_match": maybe(anywhere(i)),
        }

    def rules(i: int, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        count = draw(st.integers(0, 2))
        return [{**draw(st.sampled_from(facts)), "next": anywhere(i)} for _ in range(count)]

    nodes: dict[str, dict[str, Any]] = {}
    for i, kind in enumerate(kinds):
        node: dict[str, Any] = {"kind": kind}
        if kind == "menu":
            digits = draw(
                st.lists(st.sampled_from("0123456789*#"), min_size=1, max_size=4, unique=True)
            )
            options = []
            for k, digit in enumerate(digits):
                option: dict[str, Any] = {
                    "digit": digit,
                    "next": forward(i) if k == 0 else anywhere(i),
                }
                if draw(st.booleans()):
                    option["keywords"] = [draw(st.sampled_from(WORDS))]
                if draw(st.booleans()):
                    option["intent"] = draw(st.sampled_from(["billing", "sales"]))
                options.append(option)
            node |= {
                "prompt": f"menu {i}",
                "options": options,
                "threshold": draw(st.sampled_from([0.0, 0.6, 1.0])),
            }
            node |= interaction(i)
        elif kind == "collect":
            validators = draw(
                st.lists(
                    st.sampled_from(
                        [
                            {"kind": "luhn"},
                            {"kind": "length", "min": 4, "max": 16},
                            {"kind": "pattern", "pattern": r"\d+"},
                        ]
                    ),
                    max_size=2,
                )
            )
            node |= {
                "prompt": f"collect {i}",
                "field": f"f{i}",
                "expects": draw(st.sampled_from(["digits", "text"])),
                "validators": validators,
                "sensitive": draw(st.booleans()),
                "next": forward(i),
            }
            node |= interaction(i)
        elif kind == "condition":
            node |= {"rules": rules(i, TESTS), "otherwise": forward(i)}
        elif kind == "set":
            node |= {
                "queue": maybe(draw(st.sampled_from(["billing", "sales"]))),
                "requirements": draw(st.sampled_from([{}, {"english": 1}, {"billing": 4}])),
                "priority_seconds": maybe(draw(st.sampled_from([0, 60, -30]))),
                "tier": maybe(draw(st.integers(0, 2))),
                "attributes": draw(st.sampled_from([{}, {"a": 1}, {"a": 2, "b": "x"}])),
                "next": forward(i),
            }
        elif kind == "action":
            node |= {
                "action": f"act{i}",
                "arguments": draw(
                    st.sampled_from([{}, {"x": "answer.f0"}, {"c": "contact.customer_id"}])
                ),
                "rules": rules(i, [{"fact": "result.ok", "op": "eq", "value": True}]),
                "on_error": maybe(anywhere(i)),
                "timeout": maybe(draw(st.sampled_from([1, 10]))),
                "next": forward(i),
            }
        elif kind == "callback":
            node |= {
                "prompt": "About {minutes} minutes.",
                "above": maybe(draw(st.sampled_from([0, 100, 500]))),
                "next": forward(i),
            }
            node |= interaction(i)
        elif kind == "transfer":
            node |= {
                "queue": maybe(draw(st.sampled_from(["billing", "sales"]))),
                "agent": maybe("ann"),
            }
        elif kind == "announce":
            node |= {
                "message": "Number {position}.",
                "period": 30,
                "exit_digit": maybe("9"),
                "next": forward(i),
            }
        nodes[ids[i]] = {k: v for k, v in node.items() if v is not None}
    reachable = _reachable(nodes)
    return {
        "name": "random",
        "start": "n0",
        "time_limit": draw(st.sampled_from([30, 120, 600])),
        "input_timeout": draw(st.sampled_from([2, 10])),
        "max_steps": draw(st.integers(1, 25)),
        "fallback": {"queue": "general"},
        "intents": {"billing": ["bill"], "sales": ["buy", "sale"]},
        "nodes": {k: v for k, v in nodes.items() if k in reachable},
    }


def _targets(node: dict[str, Any]) -> list[str]:
    found = [node[f] for f in ("next", "otherwise", "no_match", "on_error") if f in node]
    found += [o["next"] for o in node.get("options", [])]
    found += [r["next"] for r in node.get("rules", [])]
    return found


def _reachable(nodes: dict[str, dict[str, Any]]) -> set[str]:
    seen, todo = {"n0"}, ["n0"]
    while todo:
        for target in _targets(nodes[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


contexts = st.builds(
    FixedFlowContext,
    profiles=st.sampled_from([{}, {"k": {"tier": "gold"}}, {"k": {"tier": "silver"}}]),
    closed=st.sampled_from([set(), {"general"}, {"night", "billing"}]),
    waits=st.sampled_from([{}, {"general": 50.0}, {"general": 700.0, "billing": 200.0}]),
    stats=st.sampled_from([{}, {"general": QueueStats("general", 3, 0, 2, 0)}]),
)
answers = st.one_of(
    st.sampled_from(
        ["1", "2", "0", "9", "#", "4111111111111111", "1234", "", *WORDS, "I want to buy"]
    ),
    st.text(max_size=12),
)
results = st.sampled_from(
    [None, {}, {"resolved": True}, {"ok": True}, {"ok": False, "message": "m"}]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_flows(), contexts, st.data())
def test_every_session_ends_within_its_budget(
    data: dict[str, Any], context: FixedFlowContext, draws: st.DataObject
) -> None:
    flow = parse_flow(data)
    edges = {(a, b) for a, node in flow.nodes.items() for _, b in node.edges()}
    session = FlowSession(flow, context)
    start = draws.draw(st.floats(0, 1e6, allow_nan=False))
    now = start
    step = session.start(Contact("c", "voice", "general", customer_id="k"), now=now)
    calls = 1
    while not step.final:
        assert calls <= flow.max_steps, "more steps than the flow allows"
        assert session.next_due is not None and session.next_due <= start + flow.time_limit
        move = draws.draw(st.sampled_from(["answer", "answer", "answer", "silence", "late"]))
        if move == "silence":
            now = max(now, session.next_due)
            follow = session.tick(now=now)
            assert follow is not None  # something was due
            step = follow
        else:
            gap = draws.draw(st.floats(0, 40, allow_nan=False))
            if move == "late":
                gap += flow.time_limit
            now += gap
            if isinstance(step, Prompt):
                step = session.input(draws.draw(answers), now=now)
            else:
                assert isinstance(step, ActionRequest)
                step = session.action_result(draws.draw(results), now=now)
            if now >= start + flow.time_limit:
                assert isinstance(step, RoutingDecision) and step.reason == "time limit"
        calls += 1
    assert session.finished and session.next_due is None
    assert isinstance(step, (RoutingDecision, CallbackDecision, Resolution))
    assert step.contact.id == "c"
    record = step.contact.attributes[IVR_KEY]
    path = record["path"]
    assert path[0] == flow.start
    # The session only ever follows the flow's references.
    assert all((a, b) in edges for a, b in itertools.pairwise(path))
    kind = flow.nodes[step.node].KIND
    if isinstance(step, RoutingDecision):
        if step.fallback:
            assert step.contact.queue == "general" and record["fallback"] == step.reason
        else:
            assert kind == "transfer" and record["fallback"] is None
    elif isinstance(step, CallbackDecision):
        assert kind == "callback"
    else:
        assert kind in ("end", "action")


@settings(max_examples=100, deadline=None)
@given(valid_flows(), st.floats(0, 1e6, allow_nan=False))
def test_a_silent_caller_ends_by_the_time_limit(data: dict[str, Any], start: float) -> None:
    flow = parse_flow(data)
    session = FlowSession(flow, FixedFlowContext())
    step = session.start(Contact("c", "chat", "general"), now=start)
    ticks = 0
    while not step.final:
        due = session.next_due
        assert due is not None and due <= start + flow.time_limit
        follow = session.tick(now=due)
        assert follow is not None
        step = follow
        ticks += 1
    assert ticks <= flow.max_steps
    assert session.step is step and session.tick(now=start + 2e6) is None


# ------------------------------------------------------------ invalid flows

MUTATIONS = (
    "unknown reference",
    "dead end",
    "unreachable",
    "loop without exit",
    "loop without input",
)


def _entry(data: dict[str, Any], first: str) -> None:
    """Put a menu in front of the flow leading to the old start and to ``first``."""
    data["nodes"] = {
        "entry": {
            "kind": "menu",
            "prompt": "entry",
            "options": [{"digit": "1", "next": data["start"]}, {"digit": "2", "next": first}],
        },
        **data["nodes"],
    }
    data["start"] = "entry"


@settings(max_examples=300, deadline=None)
@given(valid_flows(), st.sampled_from(MUTATIONS), st.data())
def test_an_invalid_flow_is_refused_naming_the_node(
    data: dict[str, Any], mutation: str, draws: st.DataObject
) -> None:
    parse_flow(data)  # valid before the mutation
    bad = copy.deepcopy(data)
    nodes = bad["nodes"]
    if mutation == "unknown reference":
        with_refs = [k for k, v in nodes.items() if _targets(v)]
        if not with_refs:
            nodes["n0"] = {"kind": "set", "next": "ghost"}
            expected = "n0"
        else:
            expected = draws.draw(st.sampled_from(with_refs))
            node = nodes[expected]
            fields = [f for f in ("next", "otherwise", "no_match", "on_error") if f in node]
            fields += [f"options.{i}" for i in range(len(node.get("options", [])))]
            fields += [f"rules.{i}" for i in range(len(node.get("rules", [])))]
            field = draws.draw(st.sampled_from(fields))
            if "." in field:
                name, index = field.split(".")
                node[name][int(index)]["next"] = "ghost"
            else:
                node[field] = "ghost"
        words = "unknown node 'ghost'"
    elif mutation == "dead end":
        candidates = [k for k, v in nodes.items() if v["kind"] not in TERMINAL]
        if not candidates:
            nodes["n0"] = {"kind": "set"}
            expected = "n0"
        else:
            expected = draws.draw(st.sampled_from(candidates))
            node = nodes[expected]
            if node["kind"] == "menu":
                node["options"] = []
            elif node["kind"] == "condition":
                del node["otherwise"]
            else:
                del node["next"]
        words = "dead end"
    elif mutation == "unreachable":
        nodes["orphan"] = {"kind": "end"}
        expected, words = "orphan", "unreachable"
    elif mutation == "loop without exit":
        nodes["trap_a"] = {
            "kind": "menu",
            "prompt": "a",
            "options": [{"digit": "1", "next": "trap_b"}],
        }
        nodes["trap_b"] = {"kind": "collect", "prompt": "b", "field": "b", "next": "trap_a"}
        _entry(bad, "trap_a")
        expected, words = "trap_a", "loop without exit"
    else:
        nodes["auto_a"] = {"kind": "set", "attributes": {"a": 1}, "next": "auto_b"}
        nodes["auto_b"] = {
            "kind": "condition",
            "rules": [{"fact": "attribute.a", "op": "eq", "value": 2, "next": "n0"}],
            "otherwise": "auto_a",
        }
        _entry(bad, "auto_a")
        expected, words = "auto_a", "loop that takes no input"
    try:
        parse_flow(bad)
    except FlowError as error:
        assert words in str(error), str(error)
        assert f"node {expected!r}" in str(error)
        assert error.node == expected
    else:
        raise AssertionError(f"{mutation} was accepted")
