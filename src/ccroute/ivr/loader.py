"""Reading a flow from TOML, JSON or a mapping, checking every field.

:func:`parse_flow` is the one place a flow's data is checked: each field's
type and range, each node's unknown fields (a typo is refused, not
ignored), patterns that do not compile, placeholders a template cannot
fill, queue names, skills, priorities and attributes exactly as a
:class:`~ccroute.Contact` takes them. Each refusal is a
:class:`~ccroute.FlowError` naming the node and the field. The graph checks
follow when the :class:`~ccroute.ivr.Flow` is made
(:mod:`ccroute.ivr.checks`). Nothing read can run code: TOML and JSON are
parsed as data, and patterns are only compiled. The library opens no file:
:func:`load_flow` reads a file the caller opened, as :func:`tomllib.load` does.
"""

from __future__ import annotations

import json
import math
import re
import string
import tomllib
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol

from .._values import MAX_ID_LENGTH, MAX_SECONDS
from ..errors import FlowError, InvalidValueError
from ..model import Contact
from .conditions import OPERATORS, check_fact
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
)
from .validators import Length, Luhn, Pattern, Validator

__all__ = ["Readable", "load_flow", "loads_flow", "parse_flow"]

#: The most retries a node may allow (a caller asked more than this is lost anyway).
MAX_RETRIES = 20
#: The most prompts and action requests a flow may allow a session.
MAX_STEPS = 10_000
#: What the callback prompt and the announce message may fill in.
PLACEHOLDERS = frozenset({"position", "wait", "minutes"})
_DTMF_KEY = re.compile(r"[0-9*#]")


class _Table:
    """One table of the flow's data, read field by field; unread fields are refused."""

    def __init__(self, data: object, node: str | None, prefix: str = "") -> None:
        self.node = node
        self.prefix = prefix
        if not isinstance(data, Mapping):
            raise FlowError(
                f"must be a table, got {type(data).__name__}", node=node, field=prefix or None
            )
        self.data: Mapping[str, Any] = data
        self.read: set[str] = set()

    def fail(self, name: str, message: str) -> FlowError:
        return FlowError(message, node=self.node, field=f"{self.prefix}{name}")

    def get(self, name: str) -> Any:
        self.read.add(name)
        return self.data.get(name)

    def has(self, name: str) -> bool:
        return name in self.data

    def text(self, name: str, *, required: bool = False, default: str | None = None) -> Any:
        value = self.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return default
        if not isinstance(value, str) or not value:
            raise self.fail(name, f"must be a non-empty string, got {value!r:.60}")
        if len(value) > 100_000:
            raise self.fail(name, "is longer than 100000 characters")
        return value

    def ident(self, name: str, *, required: bool = False) -> Any:
        value = self.text(name, required=required)
        if value is not None and len(value) > MAX_ID_LENGTH:
            raise self.fail(name, f"must be at most {MAX_ID_LENGTH} characters")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> Any:
        value = self.get(name)
        if value is None:
            return default
        if value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}, got {value!r:.60}")
        return value

    def number(
        self,
        name: str,
        *,
        required: bool = False,
        default: float | None = None,
        low: float = 0.0,
        high: float = MAX_SECONDS,
        positive: bool = False,
    ) -> Any:
        value = self.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return default
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if (
            not ok
            or not math.isfinite(value)
            or not low <= value <= high
            or (positive and value <= 0)
        ):
            bound = f"above {low:g}" if positive else f"at least {low:g}"
            raise self.fail(
                name, f"must be a number {bound} and at most {high:g}, got {value!r:.60}"
            )
        return float(value)

    def integer(self, name: str, *, default: int | None, low: int, high: int) -> Any:
        value = self.get(name)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(name, f"must be an integer in {low}..{high}, got {value!r:.60}")
        return value

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(name, f"must be true or false, got {value!r:.60}")
        return value

    def texts(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(name)
        if value is None:
            return default
        if isinstance(value, str) or not isinstance(value, list):
            raise self.fail(name, f"must be a list of strings, got {value!r:.60}")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.fail(f"{name}[{index}]", f"must be a non-empty string, got {item!r:.60}")
        return tuple(value)

    def tables(self, name: str, *, required: bool = False) -> Iterator[_Table]:
        value = self.get(name)
        if value is None:
            if required:
                raise self.fail(name, "is required")
            return
        if not isinstance(value, list):
            raise self.fail(name, f"must be a list of tables, got {type(value).__name__}")
        for index, item in enumerate(value):
            yield _Table(item, self.node, f"{self.prefix}{name}[{index}].")

    def done(self) -> None:
        unknown = [name for name in self.data if name not in self.read]
        if unknown:
            raise self.fail(unknown[0], "is not a field here (misspelt?)")


def _probe(table: _Table, name: str, **fields: Any) -> None:
    """Check values as a :class:`~ccroute.Contact` would take them (one rule, one place)."""
    try:
        Contact("probe", "probe", fields.pop("queue", "probe"), **fields)
    except InvalidValueError as error:
        raise table.fail(name, str(error).replace("contact 'probe': ", "")) from None


def _template(table: _Table, name: str, *, required: bool) -> Any:
    value = table.text(name, required=required)
    if value is None:
        return None
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as error:
        raise table.fail(name, f"is not a valid template: {error}") from None
    for _, field, spec, conversion in parts:
        if field is not None and (spec or conversion):
            raise table.fail(name, f"placeholder {{{field}}} takes no format spec or conversion")
    fields = {field for _, field, _, _ in parts if field is not None}
    unknown = sorted(fields - PLACEHOLDERS)
    if unknown:
        raise table.fail(
            name, f"unknown placeholder {{{unknown[0]}}} (use {', '.join(sorted(PLACEHOLDERS))})"
        )
    return value


def _regex(table: _Table, name: str, pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as error:
        raise table.fail(name, f"is not a valid regular expression: {error}") from None


def _queue(table: _Table, name: str) -> Any:
    queue = table.ident(name)
    if queue is not None:
        _probe(table, name, queue=queue)
    return queue


def _requirements(table: _Table, name: str) -> dict[str, int]:
    value = table.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise table.fail(name, f"must be a table of skill = level, got {value!r:.60}")
    _probe(table, name, requirements=value)
    return dict(value)


def _test(table: _Table) -> Test:
    fact = table.text("fact", required=True)
    reason = check_fact(fact)
    if reason is not None:
        raise table.fail("fact", reason)
    op = table.text("op", required=True)
    if op not in OPERATORS:
        raise table.fail("op", f"unknown operator {op!r}; one of {', '.join(OPERATORS)}")
    value = table.get("value")
    if op in ("exists", "missing"):
        if value is not None:
            raise table.fail("value", f"operator {op!r} takes no value")
    elif value is None:
        raise table.fail("value", f"operator {op!r} needs a value")
    elif op in ("in", "not_in") and not isinstance(value, list):
        raise table.fail("value", f"operator {op!r} needs a list, got {value!r:.60}")
    elif op == "matches":
        if not isinstance(value, str):
            raise table.fail("value", f"operator 'matches' needs a pattern, got {value!r:.60}")
        _regex(table, "value", value)
    table.done()
    return Test(fact=fact, op=op, value=value)


def _rules(table: _Table, name: str) -> tuple[Rule, ...]:
    rules = []
    for rule in table.tables(name):
        target = rule.ident("next", required=True)
        modes = [m for m in ("fact", "all", "any") if rule.has(m)]
        if len(modes) != 1:
            raise rule.fail("fact", "a rule has one test (fact, op, value) or a list: all or any")
        if modes[0] == "fact":
            tests: tuple[Test, ...] = (_test(_Subset(rule, ("fact", "op", "value"))),)
            mode: Literal["all", "any"] = "all"
        else:
            mode = "all" if modes[0] == "all" else "any"
            tests = tuple(_test(t) for t in rule.tables(mode, required=True))
            if not tests:
                raise rule.fail(mode, "needs at least one test")
        rule.done()
        rules.append(Rule(tests=tests, next=target, mode=mode))
    return tuple(rules)


class _Subset(_Table):
    """The fields of a table that belong to an inline test (the rest are the rule's)."""

    def __init__(self, parent: _Table, names: tuple[str, ...]) -> None:
        super().__init__({k: v for k, v in parent.data.items() if k in names}, parent.node)
        self.prefix = parent.prefix
        parent.read.update(names)


def _validators(table: _Table) -> tuple[Validator, ...]:
    found: list[Validator] = []
    for item in table.tables("validators"):
        kind = item.choice("kind", ("length", "pattern", "luhn"), "")
        if kind == "":
            raise item.fail("kind", "is required (length, pattern or luhn)")
        if kind == "length":
            low = item.integer("min", default=None, low=0, high=100_000)
            high = item.integer("max", default=None, low=0, high=100_000)
            if low is None and high is None:
                raise item.fail("min", "a length check needs min, max or both")
            if low is not None and high is not None and low > high:
                raise item.fail("max", f"must be at least min ({low}), got {high}")
            found.append(Length(low, high))
        elif kind == "pattern":
            pattern = item.text("pattern", required=True)
            _regex(item, "pattern", pattern)
            found.append(Pattern(pattern))
        else:
            found.append(Luhn())
        item.done()
    return tuple(found)


def _interaction(table: _Table) -> dict[str, Any]:
    """The fields every node that takes input has."""
    return {
        "retries": table.integer("retries", default=2, low=0, high=MAX_RETRIES),
        "timeout": table.number("timeout", positive=True),
        "no_match": table.ident("no_match"),
    }


def _menu(node_id: str, table: _Table) -> MenuNode:
    options = []
    digits: dict[str, int] = {}
    for index, item in enumerate(table.tables("options", required=True)):
        digit = item.text("digit")
        if digit is not None:
            if not _DTMF_KEY.fullmatch(digit):
                raise item.fail("digit", f"must be one key: 0-9, * or #, got {digit!r:.60}")
            if digit in digits:
                raise item.fail("digit", f"{digit!r} is already options[{digits[digit]}]'s")
            digits[digit] = index
        keywords = item.texts("keywords")
        intent = item.ident("intent")
        if digit is None and not keywords and intent is None:
            raise item.fail("digit", "an option needs a digit, keywords or an intent")
        options.append(
            Option(
                next=item.ident("next", required=True),
                digit=digit,
                keywords=keywords,
                intent=intent,
            )
        )
        item.done()
    return MenuNode(
        id=node_id,
        prompt=table.text("prompt", required=True),
        options=tuple(options),
        expects=table.choice("expects", ("digits", "text", "any"), "any"),
        threshold=table.number("threshold", default=0.7, high=1.0),
        no_match_prompt=table.text("no_match_prompt"),
        **_interaction(table),
    )


def _collect(node_id: str, table: _Table) -> CollectNode:
    return CollectNode(
        id=node_id,
        prompt=table.text("prompt", required=True),
        field=table.ident("field", required=True),
        next=table.ident("next"),
        expects=table.choice("expects", ("digits", "text"), "digits"),
        validators=_validators(table),
        sensitive=table.flag("sensitive"),
        invalid_prompt=table.text("invalid_prompt"),
        **_interaction(table),
    )


def _condition(node_id: str, table: _Table) -> ConditionNode:
    return ConditionNode(
        id=node_id, rules=_rules(table, "rules"), otherwise=table.ident("otherwise")
    )


def _set(node_id: str, table: _Table) -> SetNode:
    priority = table.get("priority_seconds")
    tier = table.get("tier")
    if priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, (int, float)):
            raise table.fail("priority_seconds", f"must be a number, got {priority!r:.60}")
        _probe(table, "priority_seconds", priority_seconds=priority)
    if tier is not None:
        _probe(table, "tier", tier=tier)
    attributes = table.get("attributes")
    if attributes is not None:
        if not isinstance(attributes, Mapping):
            raise table.fail("attributes", f"must be a table, got {attributes!r:.60}")
        if "ivr" in attributes:
            raise table.fail("attributes", "'ivr' is the session's own record (docs/ivr-flows.md)")
        _probe(table, "attributes", attributes=attributes)
    return SetNode(
        id=node_id,
        next=table.ident("next"),
        queue=_queue(table, "queue"),
        requirements=_requirements(table, "requirements"),
        clear_requirements=table.flag("clear_requirements"),
        priority_seconds=None if priority is None else float(priority),
        tier=tier,
        attributes=dict(attributes or {}),
    )


def _action(node_id: str, table: _Table) -> ActionNode:
    arguments = table.get("arguments")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, Mapping):
        raise table.fail("arguments", f"must be a table of name = fact, got {arguments!r:.60}")
    for name, fact in arguments.items():
        if not isinstance(fact, str):
            raise table.fail(f"arguments.{name}", f"must name a fact, got {fact!r:.60}")
        reason = check_fact(fact)
        if reason is not None:
            raise table.fail(f"arguments.{name}", reason)
    return ActionNode(
        id=node_id,
        action=table.ident("action", required=True),
        next=table.ident("next"),
        arguments=dict(arguments),
        rules=_rules(table, "rules"),
        on_error=table.ident("on_error"),
        timeout=table.number("timeout", positive=True),
    )


def _callback(node_id: str, table: _Table) -> CallbackNode:
    accept = table.texts("accept", ("1", "yes"))
    decline = table.texts("decline", ("2", "no"))
    both = set(accept) & set(decline)
    if both:
        raise table.fail("decline", f"{sorted(both)[0]!r} is also an accept answer")
    interaction = _interaction(table)
    return CallbackNode(
        id=node_id,
        prompt=_template(table, "prompt", required=True),
        next=table.ident("next"),
        above=table.number("above"),
        queue=_queue(table, "queue"),
        accept=accept,
        decline=decline,
        message=table.text("message"),
        expects=table.choice("expects", ("digits", "text", "any"), "any"),
        no_match_prompt=table.text("no_match_prompt"),
        **interaction,
    )


def _transfer(node_id: str, table: _Table) -> TransferNode:
    agent = table.ident("agent")
    wait = table.number("agent_wait", default=0.0)
    if agent is not None:
        _probe(table, "agent", preferred_agent=agent, preferred_wait=wait)
    elif table.has("agent_wait"):
        raise table.fail("agent_wait", "needs an agent")
    return TransferNode(
        id=node_id,
        queue=_queue(table, "queue"),
        agent=agent,
        agent_wait=wait,
        message=table.text("message"),
    )


def _announce(node_id: str, table: _Table) -> AnnounceNode:
    digit = table.text("exit_digit")
    if digit is not None and not _DTMF_KEY.fullmatch(digit):
        raise table.fail("exit_digit", f"must be one key: 0-9, * or #, got {digit!r:.60}")
    return AnnounceNode(
        id=node_id,
        next=table.ident("next"),
        treatment=Treatment(
            message=_template(table, "message", required=True),
            period=table.number("period", required=True, positive=True),
            exit_digit=digit,
            exit=table.choice("exit", ("callback", "message"), "callback"),
        ),
    )


def _end(node_id: str, table: _Table) -> EndNode:
    return EndNode(
        id=node_id,
        outcome=table.ident("outcome") or "resolved",
        message=table.text("message"),
    )


_READERS = {
    "menu": _menu,
    "collect": _collect,
    "condition": _condition,
    "set": _set,
    "action": _action,
    "callback": _callback,
    "transfer": _transfer,
    "announce": _announce,
    "end": _end,
}


def _node(node_id: object, data: object) -> Node:
    if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_ID_LENGTH:
        raise FlowError(f"node ids must be non-empty strings, got {node_id!r:.60}", field="nodes")
    table = _Table(data, node_id)
    kind = table.get("kind")
    if kind is None:
        raise table.fail("kind", f"is required: one of {', '.join(_READERS)}")
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise table.fail("kind", f"unknown node kind {kind!r:.60}; one of {', '.join(_READERS)}")
    node = reader(node_id, table)
    table.done()
    return node


def parse_flow(data: Mapping[str, Any]) -> Flow:
    """A checked :class:`~ccroute.ivr.Flow` from its data (a parsed TOML or JSON document).

    The format is docs/ivr-flows.md. Cost: O(size of the data).

    :raises FlowError: a field is refused, or the graph breaks a load-time
        rule; the error's ``node`` and ``field`` say where.
    """
    top = _Table(data, None)
    name = top.ident("name") or "flow"
    start = top.ident("start", required=True)
    time_limit = top.number("time_limit", required=True, positive=True)
    input_timeout = top.number("input_timeout", default=10.0, positive=True)
    max_steps = top.integer("max_steps", default=100, low=1, high=MAX_STEPS)
    fallback_table = _Table(top.get("fallback"), None, "fallback.") if top.has("fallback") else None
    if fallback_table is None:
        raise top.fail("fallback", "is required: a table with at least a queue")
    fallback = Fallback(
        queue=_queue(fallback_table, "queue") or _missing(fallback_table, "queue"),
        requirements=_requirements(fallback_table, "requirements"),
        message=fallback_table.text("message"),
    )
    fallback_table.done()
    intents: dict[str, tuple[str, ...]] = {}
    if top.has("intents"):
        intents_table = _Table(top.get("intents"), None, "intents.")
        for intent in intents_table.data:
            patterns = intents_table.texts(intent)
            for index, pattern in enumerate(patterns):
                _regex(intents_table, f"{intent}[{index}]", pattern)
            intents[intent] = patterns
    raw_nodes = top.get("nodes")
    if not isinstance(raw_nodes, Mapping) or not raw_nodes:
        raise top.fail("nodes", "is required: a table of node id to node")
    nodes = {node_id: _node(node_id, node) for node_id, node in raw_nodes.items()}
    top.done()
    return Flow(
        name=name,
        start=start,
        nodes=nodes,
        fallback=fallback,
        time_limit=time_limit,
        input_timeout=input_timeout,
        max_steps=max_steps,
        intents=intents,
    )


def _missing(table: _Table, name: str) -> str:
    raise table.fail(name, "is required")


def loads_flow(text: str, format: Literal["toml", "json"] = "toml") -> Flow:
    """A checked flow from TOML or JSON text (see :func:`parse_flow`).

    :raises FlowError: the text is not valid TOML or JSON, or the flow is refused.
    """
    try:
        data = tomllib.loads(text) if format == "toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise FlowError(f"not valid {format.upper()}: {error}") from None
    if not isinstance(data, Mapping):
        raise FlowError(f"a flow is a table, got {type(data).__name__}")
    return parse_flow(data)


class Readable(Protocol):
    """What :func:`load_flow` reads: an open file, binary (UTF-8) or text."""

    def read(self) -> str | bytes:
        """The whole content."""
        ...


def load_flow(file: Readable, format: Literal["toml", "json"] = "toml") -> Flow:
    """A checked flow read from an open file (see :func:`parse_flow`), as
    :func:`tomllib.load` reads one: the caller opens it, so the library does no
    I/O of its own.

    ``with open("examples/flows/inbound.toml", "rb") as file: flow = load_flow(file)``

    :raises FlowError: the content is not UTF-8, not valid TOML or JSON, or
        the flow is refused.
    """
    content = file.read()
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as error:
            name = getattr(file, "name", "the flow")
            raise FlowError(f"{name}: not UTF-8 text: {error}") from None
    return loads_flow(content, format)
