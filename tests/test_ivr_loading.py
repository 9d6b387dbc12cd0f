"""Loading flows: every refusal is a FlowError naming the node and the field."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from ivr_helpers import flow_data, make_flow

from ccroute import FlowError, InputError
from ccroute.ivr import (
    CollectNode,
    Flow,
    Length,
    Luhn,
    MenuNode,
    Pattern,
    TransferNode,
    load_flow,
    loads_flow,
    parse_flow,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "flows" / "inbound.toml"


def menu(*targets: str, **fields: Any) -> dict[str, Any]:
    options = [{"digit": str(i + 1), "next": t} for i, t in enumerate(targets)]
    return {"kind": "menu", "prompt": "Choose.", "options": options, **fields}


def good() -> dict[str, Any]:
    """A small valid flow touching every node kind."""
    return flow_data(
        {
            "main": menu("account", "vip", "cb"),
            "account": {
                "kind": "collect",
                "prompt": "Account?",
                "field": "account",
                "sensitive": True,
                "validators": [{"kind": "length", "min": 16, "max": 16}, {"kind": "luhn"}],
                "next": "check",
            },
            "check": {
                "kind": "action",
                "action": "balance",
                "arguments": {"account": "answer.account"},
                "next": "bye",
                "rules": [{"fact": "result.overdue", "op": "eq", "value": True, "next": "queue"}],
            },
            "vip": {
                "kind": "condition",
                "rules": [{"fact": "profile.tier", "op": "eq", "value": "gold", "next": "fast"}],
                "otherwise": "queue",
            },
            "fast": {"kind": "set", "priority_seconds": 60, "tier": 1, "next": "queue"},
            "cb": {"kind": "callback", "prompt": "Wait {minutes} min?", "above": 60, "next": "ann"},
            "ann": {
                "kind": "announce",
                "message": "You are {position}.",
                "period": 30,
                "next": "queue",
            },
            "queue": {"kind": "transfer", "queue": "billing"},
            "bye": {"kind": "end", "outcome": "self-service"},
        }
    )


def refused(data: dict[str, Any]) -> FlowError:
    with pytest.raises(FlowError) as caught:
        parse_flow(data)
    return caught.value


def test_a_good_flow_loads_with_its_nodes_in_order() -> None:
    flow = parse_flow(good())
    assert isinstance(flow, Flow)
    assert list(flow.nodes) == [
        "main",
        "account",
        "check",
        "vip",
        "fast",
        "cb",
        "ann",
        "queue",
        "bye",
    ]
    account = flow.nodes["account"]
    assert isinstance(account, CollectNode) and account.sensitive
    assert account.validators == (Length(16, 16), Luhn())
    assert isinstance(flow.nodes["main"], MenuNode)
    assert isinstance(flow.nodes["queue"], TransferNode)
    assert flow.fallback.queue == "general"


def test_toml_json_and_a_mapping_give_the_same_flow(tmp_path: Path) -> None:
    data = good()
    as_json = json.dumps(data)
    (tmp_path / "f.json").write_text(as_json)
    with (tmp_path / "f.json").open() as text_file:
        from_text_file = load_flow(text_file, "json")
    assert loads_flow(as_json, "json") == parse_flow(data) == from_text_file


def test_the_example_inbound_flow_loads() -> None:
    with EXAMPLE.open("rb") as file:
        flow = load_flow(file)
    assert flow.name == "inbound"
    assert flow.fallback.queue == "general"
    assert {"language", "intent", "account", "balance", "vip", "wait_check", "closed"} <= set(
        flow.nodes
    )


def test_flow_error_is_an_input_error_with_node_and_field() -> None:
    data = good()
    data["nodes"]["main"]["promt"] = "typo"
    error = refused(data)
    assert isinstance(error, InputError)
    assert (error.node, error.field) == ("main", "promt")
    assert str(error) == "flow: node 'main', field 'promt': is not a field here (misspelt?)"


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split("/")
    target: Any = data
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is _DELETE:
        del target[keys[-1]]
    elif isinstance(target, list):
        target[int(keys[-1])] = value
    else:
        target[keys[-1]] = value


_DELETE = object()

# (change: path in the data, new value), node named, field named, words in the message
FIELD_CASES: list[tuple[str, Any, str | None, str | None, str]] = [
    ("nodes/main/kind", "menuu", "main", "kind", "unknown node kind 'menuu'"),
    ("nodes/main/prompt", _DELETE, "main", "prompt", "is required"),
    ("nodes/main/prompt", 5, "main", "prompt", "must be a non-empty string"),
    ("nodes/main/options/0/digit", "12", "main", "options[0].digit", "one key"),
    ("nodes/main/options/1/digit", "1", "main", "options[1].digit", "already options[0]'s"),
    ("nodes/main/options/0", {"next": "account"}, "main", "options[0].digit", "needs a digit"),
    ("nodes/main/options/0/colour", "red", "main", "options[0].colour", "not a field"),
    ("nodes/main/retries", -1, "main", "retries", "integer in 0..20"),
    ("nodes/main/retries", True, "main", "retries", "integer in 0..20"),
    ("nodes/main/threshold", 1.5, "main", "threshold", "at most 1"),
    ("nodes/main/timeout", 0, "main", "timeout", "above 0"),
    ("nodes/main/expects", "voice", "main", "expects", "one of digits, text, any"),
    ("nodes/account/validators/0/kind", "size", "account", "validators[0].kind", "one of"),
    ("nodes/account/validators/0/min", 20, "account", "validators[0].max", "at least min"),
    (
        "nodes/account/validators/1",
        {"kind": "pattern", "pattern": "[0-9"},
        "account",
        "validators[1].pattern",
        "not a valid regular expression",
    ),
    ("nodes/account/sensitive", "yes", "account", "sensitive", "true or false"),
    ("nodes/account/field", _DELETE, "account", "field", "is required"),
    (
        "nodes/check/arguments/account",
        "answers.account",
        "check",
        "arguments.account",
        "unknown fact",
    ),
    ("nodes/check/action", _DELETE, "check", "action", "is required"),
    ("nodes/check/rules/0/op", "equals", "check", "rules[0].op", "unknown operator 'equals'"),
    ("nodes/vip/rules/0/fact", "profile", "vip", "rules[0].fact", "needs a name"),
    ("nodes/vip/rules/0/fact", "stats.general.queued", "vip", "rules[0].fact", "must end in"),
    ("nodes/vip/rules/0/fact", "contact.email", "vip", "rules[0].fact", "contact facts are"),
    ("nodes/vip/rules/0/op", "in", "vip", "rules[0].value", "needs a list"),
    ("nodes/vip/rules/0/op", "exists", "vip", "rules[0].value", "takes no value"),
    ("nodes/vip/rules/0/value", _DELETE, "vip", "rules[0].value", "needs a value"),
    ("nodes/vip/rules/0/all", [], "vip", "rules[0].fact", "one test"),
    ("nodes/fast/priority_seconds", float("nan"), "fast", "priority_seconds", "priority"),
    ("nodes/fast/tier", 1.5, "fast", "tier", "tier"),
    ("nodes/fast/requirements", {"billing": 11}, "fast", "requirements", "billing"),
    ("nodes/fast/queue", "", "fast", "queue", "non-empty string"),
    (
        "nodes/fast/attributes",
        {"when": datetime.date(2026, 1, 1)},
        "fast",
        "attributes",
        "attributes",
    ),
    ("nodes/fast/attributes", {"ivr": 1}, "fast", "attributes", "session's own record"),
    ("nodes/cb/prompt", "Wait {hours} h?", "cb", "prompt", "unknown placeholder {hours}"),
    ("nodes/cb/prompt", "Wait {", "cb", "prompt", "not a valid template"),
    ("nodes/cb/prompt", "Wait {wait:.1f} s", "cb", "prompt", "no format spec"),
    ("nodes/ann/message", "At {position!r}", "ann", "message", "no format spec"),
    ("nodes/ann/message", "At {position[0]}", "ann", "message", "unknown placeholder"),
    ("nodes/main/kind", _DELETE, "main", "kind", "is required: one of menu"),
    ("nodes/cb/accept", ["1", "2"], "cb", "decline", "'2' is also an accept answer"),
    ("nodes/cb/above", -5, "cb", "above", "at least 0"),
    ("nodes/ann/period", 0, "ann", "period", "above 0"),
    ("nodes/ann/exit_digit", "99", "ann", "exit_digit", "one key"),
    ("nodes/ann/exit", "hangup", "ann", "exit", "one of callback, message"),
    ("nodes/queue/agent_wait", 30, "queue", "agent_wait", "needs an agent"),
    ("start", _DELETE, None, "start", "is required"),
    ("time_limit", -1, None, "time_limit", "above 0"),
    ("max_steps", 0, None, "max_steps", "integer in 1..10000"),
    ("fallback", _DELETE, None, "fallback", "is required"),
    ("fallback/queue", _DELETE, None, "fallback.queue", "is required"),
    ("fallback/requirements", {"x": 0}, None, "fallback.requirements", "x"),
    ("intents", {"billing": ["(bill"]}, None, "intents.billing[0]", "regular expression"),
    ("intents", {"billing": "bill"}, None, "intents.billing", "list of strings"),
    ("nodes", {}, None, "nodes", "is required"),
    ("colour", "red", None, "colour", "not a field"),
]


@pytest.mark.parametrize(
    ("path", "value", "node", "field", "words"),
    FIELD_CASES,
    ids=[f"{c[0]}={c[1]!r:.20}" for c in FIELD_CASES],
)
def test_a_bad_field_is_refused_naming_node_and_field(
    path: str, value: Any, node: str | None, field: str | None, words: str
) -> None:
    data = copy.deepcopy(good())
    _set(data, path, value)
    error = refused(data)
    assert (error.node, error.field) == (node, field), str(error)
    assert words in str(error)
    if node is not None:
        assert f"node {node!r}" in str(error)


# --------------------------------------------------------------- the graph


def test_an_unknown_reference_names_the_node_and_field() -> None:
    for path, field in [
        ("nodes/main/options/2/next", "options[2].next"),
        ("nodes/vip/otherwise", "otherwise"),
        ("nodes/check/rules/0/next", "rules[0].next"),
        ("nodes/check/on_error", "on_error"),
        ("nodes/main/no_match", "no_match"),
    ]:
        data = good()
        _set(data, path, "nowhere")
        error = refused(data)
        node = path.split("/")[1]
        assert (error.node, error.field) == (node, field)
        assert "unknown node 'nowhere'" in str(error)


def test_an_unknown_start_is_refused() -> None:
    error = refused(good() | {"start": "nowhere"})
    assert (error.node, error.field) == (None, "start")
    assert "unknown node 'nowhere'" in str(error)


@pytest.mark.parametrize(
    ("node", "remove", "field"),
    [
        ("account", "next", "next"),
        ("check", "next", "next"),
        ("vip", "otherwise", "otherwise"),
        ("fast", "next", "next"),
        ("cb", "next", "next"),
        ("ann", "next", "next"),
    ],
)
def test_a_dead_end_is_refused(node: str, remove: str, field: str) -> None:
    data = good()
    del data["nodes"][node][remove]
    error = refused(data)
    assert (error.node, error.field) == (node, field)
    assert "dead end" in str(error)


def test_a_menu_without_options_is_a_dead_end() -> None:
    data = good()
    data["nodes"]["main"]["options"] = []
    error = refused(data)
    assert (error.node, error.field) == ("main", "options")
    assert "dead end" in str(error)


def test_unreachable_nodes_are_refused_and_all_named() -> None:
    data = good()
    data["nodes"]["orphan"] = {"kind": "end"}
    data["nodes"]["orphan2"] = {"kind": "transfer", "queue": "x"}
    error = refused(data)
    assert error.node == "orphan"
    assert "unreachable" in str(error) and "'orphan2'" in str(error)


def test_a_loop_without_exit_is_refused() -> None:
    # main -> spin (a menu whose only options lead back): nothing ends from there.
    data = flow_data(
        {
            "main": menu("spin", "out"),
            "spin": menu("again"),
            "again": menu("spin"),
            "out": {"kind": "transfer"},
        }
    )
    error = refused(data)
    assert error.node == "spin"
    assert "loop without exit" in str(error)


def test_a_loop_with_an_exit_is_fine() -> None:
    # "Press 9 to hear the menu again" is a loop, with a way out.
    flow = make_flow(
        {
            "main": menu("sales", "main"),
            "sales": {"kind": "transfer", "queue": "sales"},
        }
    )
    assert flow.nodes["main"].edges() == (("options[0].next", "sales"), ("options[1].next", "main"))


def test_a_loop_that_takes_no_input_is_refused() -> None:
    data = flow_data(
        {
            "main": menu("a", "out"),
            "a": {
                "kind": "condition",
                "rules": [{"fact": "attribute.x", "op": "eq", "value": 1, "next": "out"}],
                "otherwise": "b",
            },
            "b": {"kind": "set", "attributes": {"y": 1}, "next": "a"},
            "out": {"kind": "transfer"},
        }
    )
    error = refused(data)
    assert error.node == "a"
    assert "loop that takes no input" in str(error)


def test_a_loop_through_a_callback_offer_that_may_pass_silently_is_refused() -> None:
    # With a short wait the offer passes on without a word: set -> offer -> set spins.
    data = flow_data(
        {
            "main": menu("offer", "out"),
            "offer": {"kind": "callback", "prompt": "?", "above": 60, "next": "again"},
            "again": {"kind": "set", "attributes": {"x": 1}, "next": "offer"},
            "out": {"kind": "transfer"},
        }
    )
    error = refused(data)
    assert error.node == "offer"
    assert "loop that takes no input" in str(error)
    # Without a wait limit the offer always asks: the same loop takes input.
    del data["nodes"]["offer"]["above"]
    parse_flow(data)


def test_a_flow_built_by_hand_is_checked_too() -> None:
    flow = parse_flow(good())
    nodes = dict(flow.nodes)
    nodes["main"] = MenuNode(id="main", prompt="x", options=())
    with pytest.raises(FlowError, match="dead end"):
        Flow(name="x", start="main", nodes=nodes, fallback=flow.fallback, time_limit=10)


# ------------------------------------------------------------- the files


def test_malformed_toml_and_json_are_flow_errors(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="not valid TOML"):
        loads_flow("start = ")
    with pytest.raises(FlowError, match="not valid JSON"):
        loads_flow("{", "json")
    with pytest.raises(FlowError, match="a flow is a table"):
        loads_flow("[1, 2]", "json")
    (tmp_path / "latin1.toml").write_bytes('name = "caf\xe9"'.encode("latin-1"))
    with (
        (tmp_path / "latin1.toml").open("rb") as file,
        pytest.raises(FlowError, match=r"latin1\.toml: not UTF-8 text"),
    ):
        load_flow(file)


def test_a_node_that_is_not_a_table_is_refused() -> None:
    data = good()
    data["nodes"]["bye"] = "end"
    error = refused(data)
    assert error.node == "bye"
    assert "must be a table" in str(error)


def test_patterns_are_compiled_never_run_as_code() -> None:
    flow = make_flow(
        {
            "c": {
                "kind": "collect",
                "prompt": "x",
                "field": "f",
                "expects": "text",
                "validators": [{"kind": "pattern", "pattern": "__import__('os')"}],
                "next": "t",
            },
            "t": {"kind": "transfer"},
        }
    )
    node = flow.nodes["c"]
    assert isinstance(node, CollectNode)
    assert node.validators == (Pattern("__import__('os')"),)
