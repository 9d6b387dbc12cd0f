"""The model's own constructors against the ones attrs would generate.

``Contact`` and ``Agent`` have an ``__init__`` of their own that converts and
checks the common values inline (``ccroute.model``, "fast paths"). Here each
is compared with a twin class attrs builds from the very same fields
(converters, validators, defaults), so with attrs' generated ``__init__``:
for every input both accept a value with the same fields (equal, of the same
types) and repr, or both refuse it with the same exception class and message.
"""

from __future__ import annotations

import enum
import math
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute import Agent, Contact
from ccroute.model import MAX_ID_LENGTH, MAX_SECONDS, MAX_TIER


def attrs_twin(cls: type) -> type:
    """``cls`` as attrs would build it from its fields, named alike (messages name the class)."""
    fields = {
        f.name: attrs.field(
            default=f.default,
            converter=f.converter,
            validator=f.validator,
            eq=f.eq,
            hash=f.hash,
        )
        for f in attrs.fields(cls)
    }
    twin: type = attrs.make_class(cls.__name__, fields, frozen=True, slots=True)
    return twin


TWINS = {Contact: attrs_twin(Contact), Agent: attrs_twin(Agent)}


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    FIVE = 5


class Name(str):
    pass


class Weird:
    """A value whose comparisons raise: converters and validators must cope alike."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("no comparing")

    __hash__ = object.__hash__


IDS = st.one_of(
    st.sampled_from(
        ["c1", "voice", "", "x" * MAX_ID_LENGTH, "x" * (MAX_ID_LENGTH + 1), Colour.RED, Name("n")]
    ),
    st.sampled_from([None, 5, 1.5, b"a", [], True]),
    st.text(max_size=3),
)
NUMBERS = st.one_of(
    st.sampled_from(
        [0, 0.0, 1, -1, 30.0, MAX_SECONDS, -MAX_SECONDS, MAX_SECONDS * 2, MAX_TIER, MAX_TIER + 1]
    ),
    st.sampled_from([math.nan, math.inf, -math.inf, True, None, "3", Level.FIVE, 2**63]),
    st.floats(allow_nan=True),
    st.integers(),
)
LEVEL = st.one_of(st.integers(-1, 12), st.sampled_from([True, 5.0, None, "5", Level.FIVE]))
NAME = st.one_of(st.sampled_from(["en", "billing", "", Colour.RED, 3, None]), st.text(max_size=2))
PAIRS = st.one_of(
    st.dictionaries(NAME.filter(lambda n: n.__hash__ is not None), LEVEL, max_size=3),
    st.lists(st.tuples(NAME, LEVEL), max_size=3).map(tuple),
    st.lists(st.tuples(NAME, LEVEL), max_size=3),
    st.sampled_from([(), {}, "en", 5, None, (("en",),), Weird(), [("en", 5, 1)], {"en": [5]}]),
)
JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.sampled_from([Colour.RED, Level.FIVE, b"x", {1, 2}, Name("n"), object()]),
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=2), st.integers(0, 2)), inner, max_size=3),
    ),
    max_leaves=8,
)
ATTRIBUTES = st.one_of(
    st.dictionaries(st.one_of(st.text(max_size=3), st.sampled_from([1, Colour.RED])), JSON),
    st.sampled_from([None, {}, 5, "a", [("a", 1)], Weird()]),
)
NAMES = st.one_of(
    st.frozensets(IDS.filter(lambda n: n.__hash__ is not None), max_size=3),
    st.sets(st.sampled_from(["a1", "a2", "", Colour.RED, 5]), max_size=3),
    st.lists(st.sampled_from(["a1", "a2", "", Colour.RED, 5, None]), max_size=3),
    st.sampled_from([frozenset(), "a1", 5, None, [["a1"]], ("a1", "a1")]),
)


def outcome(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The value's fields (values and types) and repr, or the refusal's class and
    message. (attrs salts a hash with the class: equal fields of the same types
    give the same hash.)"""
    try:
        value = cls(*args, **kwargs)
    except Exception as error:  # compared, whatever it is
        return ("refused", type(error), str(error))
    fields = tuple(
        (f.name, type(getattr(value, f.name)), getattr(value, f.name)) for f in attrs.fields(cls)
    )
    return ("made", fields, repr(value))


def same(cls: type, *args: Any, **kwargs: Any) -> None:
    assert outcome(cls, args, kwargs) == outcome(TWINS[cls], args, kwargs)


@settings(max_examples=400)
@given(
    ids=st.tuples(IDS, IDS, IDS),
    requirements=PAIRS,
    numbers=st.tuples(NUMBERS, NUMBERS, NUMBERS, NUMBERS),
    people=st.tuples(IDS, IDS),
    attributes=ATTRIBUTES,
    excluded=NAMES,
    leave_out=st.sets(st.integers(3, 11)),
)
def test_contact_accepts_and_refuses_as_attrs_would(
    ids: tuple[Any, Any, Any],
    requirements: Any,
    numbers: tuple[Any, Any, Any, Any],
    people: tuple[Any, Any],
    attributes: Any,
    excluded: Any,
    leave_out: set[int],
) -> None:
    values = {
        "requirements": requirements,
        "priority_seconds": numbers[0],
        "tier": numbers[1],
        "customer_id": people[0],
        "attributes": attributes,
        "preferred_agent": people[1],
        "preferred_wait": numbers[2],
        "excluded_agents": excluded,
        "max_wait": numbers[3],
    }
    names = [f.name for f in attrs.fields(Contact)]
    kwargs = {k: v for k, v in values.items() if names.index(k) not in leave_out}
    same(Contact, *ids, **kwargs)


@settings(max_examples=300)
@given(
    id=IDS,
    skills=PAIRS,
    queues=NAMES,
    capacity=st.one_of(
        st.none(), st.dictionaries(IDS.filter(lambda n: n.__hash__ is not None), NUMBERS)
    ),
    budget=NUMBERS,
    delays=st.one_of(
        st.dictionaries(NAME.filter(lambda n: n.__hash__ is not None), NUMBERS, max_size=3),
        st.lists(st.tuples(NAME, NUMBERS), max_size=3).map(tuple),
    ),
)
def test_agent_accepts_and_refuses_as_attrs_would(
    id: Any, skills: Any, queues: Any, capacity: Any, budget: Any, delays: Any
) -> None:
    same(Agent, id, skills, queues, capacity, budget, delays)
    same(Agent, id, skills)


def nested(depth: int) -> list[Any]:
    """A list ``depth`` lists deep."""
    value: list[Any] = [1]
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    "attributes",
    [
        {"a": Colour.RED},
        {"a": [1, {"b": math.nan}]},
        {"a": 2**63},
        {"a": {1: "x"}},
        {Colour.RED: 1},
        {"deep": nested(32)},
        {"deep": nested(31)},
    ],
)
def test_contact_attributes_are_checked_as_attrs_would(attributes: dict[Any, Any]) -> None:
    same(Contact, "c1", "voice", "q", attributes=attributes)


def test_a_frozen_mapping_of_attributes_is_kept_and_still_checked() -> None:
    first = Contact("c1", "voice", "q", attributes={"tags": ["a"]})
    again = Contact("c2", "voice", "q", attributes=first.attributes)
    assert again.attributes is first.attributes
    first.attributes["tags"].append(math.inf)  # a list in them changed since
    same(Contact, "c3", "voice", "q", attributes=first.attributes)


def test_validators_disabled_are_disabled_for_the_fast_constructors_too() -> None:
    with attrs.validators.disabled():
        assert Contact("", "voice", "q", tier=-(2**40)).tier == -(2**40)
