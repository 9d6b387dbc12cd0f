"""The facts a condition can test, and its comparison operators.

A test names a fact (``profile.tier``), an operator (``eq``) and a value.
The facts:

=====================  ===========================================================
``attribute.<name>``   the contact's attribute, as the flow has set it so far
``answer.<name>``      a collected answer (raw, sensitive ones too: it is only compared)
``profile.<field>``    the customer's profile field (``FlowContext.profile``)
``contact.<field>``    ``channel``, ``queue`` (as set so far), ``customer_id``,
                       ``priority_seconds``, ``tier``
``intent``             the intent a menu took (``None`` before), ``confidence`` its confidence
``open``               whether the queue set so far is open (``FlowContext.is_open``);
                       ``open.<queue>`` for another queue
``wait``               the queue's estimated wait in seconds (``FlowContext.estimated_wait``;
                       missing when unknown); ``wait.<queue>`` for another queue
``stats.<figure>``     the queue's ``waiting``, ``offered``, ``logged_in``,
                       ``available`` or ``scheduled`` (``FlowContext.queue_stats``);
                       ``stats.<queue>.<figure>`` for another queue
``result.<field>``     a field of the last self-service action's result
``elapsed``            seconds since the session started
=====================  ===========================================================

Operators: ``eq``, ``ne``, ``lt``, ``le``, ``gt``, ``ge`` (ordering compares
numbers with numbers and strings with strings, anything else is false),
``in`` and ``not_in`` (the value is a list), ``matches`` (a regular
expression searched in a string fact), ``exists`` and ``missing`` (no value).
A missing fact (no such answer, an unknown wait, a queue the context does
not know) satisfies ``missing`` and nothing else: a branch never follows a
fact nobody knows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["FACT_PREFIXES", "MISSING", "OPERATORS", "QUEUE_FIGURES", "check_fact", "holds"]


class _Missing:
    """The value of a fact nobody knows."""

    def __repr__(self) -> str:
        return "MISSING"


#: The value of a fact nobody knows (distinct from ``None``, which a profile may hold).
MISSING: Any = _Missing()

#: The figures ``stats.`` facts read from :class:`~ccroute.QueueStats`.
QUEUE_FIGURES = ("waiting", "offered", "logged_in", "available", "scheduled")

#: Facts by their first part, and whether a second part (a name) is required,
#: optional or not allowed.
FACT_PREFIXES: Mapping[str, str] = {
    "attribute": "required",
    "answer": "required",
    "profile": "required",
    "contact": "required",
    "result": "required",
    "intent": "none",
    "confidence": "none",
    "elapsed": "none",
    "open": "optional",
    "wait": "optional",
    "stats": "required",
}

CONTACT_FIELDS = ("channel", "queue", "customer_id", "priority_seconds", "tier")


def check_fact(fact: str) -> str | None:
    """Why ``fact`` is not a fact a test may name, or ``None`` when it is."""
    head, dot, rest = fact.partition(".")
    arity = FACT_PREFIXES.get(head)
    if arity is None:
        return f"unknown fact {fact!r} (facts start with one of {', '.join(FACT_PREFIXES)})"
    if arity == "none" and dot:
        return f"fact {head!r} takes no name, got {fact!r}"
    if arity == "required" and not rest:
        return f"fact {head!r} needs a name ({head}.<name>), got {fact!r}"
    if head == "contact" and rest not in CONTACT_FIELDS:
        return f"fact {fact!r}: contact facts are {', '.join(CONTACT_FIELDS)}"
    if head == "stats":
        figure = rest.rpartition(".")[2]
        if figure not in QUEUE_FIGURES:
            return f"fact {fact!r} must end in one of {', '.join(QUEUE_FIGURES)}"
    return None


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(fact: Any, value: Any) -> bool:
        if (_number(fact) and _number(value)) or (isinstance(fact, str) and isinstance(value, str)):
            return op(fact, value)
        return False

    return compare


def _matches(fact: Any, value: Any) -> bool:
    return isinstance(fact, str) and re.search(value, fact) is not None


def _equal(fact: Any, value: Any) -> bool:
    # True == 1 in Python; a flow comparing a flag with 1 should not hold.
    same_kind = type(fact) is type(value) or (_number(fact) and _number(value))
    return same_kind and bool(fact == value)


#: Operator name to its comparison of (fact, value); ``exists``/``missing`` are handled apart.
OPERATORS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": _equal,
    "ne": lambda f, v: not _equal(f, v),
    "lt": _ordered(lambda f, v: f < v),
    "le": _ordered(lambda f, v: f <= v),
    "gt": _ordered(lambda f, v: f > v),
    "ge": _ordered(lambda f, v: f >= v),
    "in": lambda f, v: any(_equal(f, x) for x in v),
    "not_in": lambda f, v: not any(_equal(f, x) for x in v),
    "matches": _matches,
    "exists": lambda f, v: True,
    "missing": lambda f, v: False,
}


def holds(op: str, fact: Any, value: Any) -> bool:
    """Whether ``fact op value`` holds (a :data:`MISSING` fact satisfies only ``missing``)."""
    if fact is MISSING:
        return op == "missing"
    return OPERATORS[op](fact, value)
