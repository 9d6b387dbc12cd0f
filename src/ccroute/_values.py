"""Bounds on the values ccroute accepts, and the checks that enforce them.

One place defines what a valid id, level, count, duration and JSON value
is, so that the model (:mod:`ccroute.model`), the router and both twins of
the universal queue accept exactly the same values. The bounds are chosen so
that every value fits the compiled twin's C types (``int`` for capacities,
unit costs and budgets, ``long long`` for keys and handles, ``double`` for
times) and so that both twins compute the same answers from them: see
docs/errors.md, "Bounds".

Every refusal is an :class:`~ccroute.InvalidValueError` whose message says
whose value it is (``where``) and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, NoReturn

from .errors import InvalidValueError

__all__ = [
    "copy_json",
    "exact_float",
    "exact_int",
    "exact_real",
    "finite_float",
    "int_in",
    "is_text",
    "check_text",
    "plain_number",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT",
    "MAX_LEVEL",
    "MAX_SECONDS",
    "MAX_TIER",
    "MIN_JSON_INT",
    "MIN_LEVEL",
    "JsonFault",
]

#: Lowest skill proficiency an agent can have or a contact can require.
MIN_LEVEL: Final = 1
#: Highest skill proficiency.
MAX_LEVEL: Final = 10
#: Longest id (agent, contact, queue, channel, skill, customer, strategy) or
#: presence reason, in characters.
MAX_ID_LENGTH: Final = 1_000
#: Largest capacity, unit cost, unit budget, queue size limit, ring size and
#: ramp-up count: the largest C ``int`` (2**31 - 1).
MAX_COUNT: Final = 2**31 - 1
#: Tiers run from ``-MAX_TIER`` to ``MAX_TIER``.
MAX_TIER: Final = 2**31 - 1
#: Longest duration in seconds (about 31.7 years): waits, time-outs, wrap-up,
#: delays, windows, routing-step times; ``priority_seconds`` lies within
#: ``±MAX_SECONDS``. Adding one to any finite clock reading stays finite.
MAX_SECONDS: Final = 1e9
#: Integers in contact attributes fit a signed 64-bit integer.
MIN_JSON_INT: Final = -(2**63)
MAX_JSON_INT: Final = 2**63 - 1
#: Deepest nesting of lists and objects in contact attributes.
MAX_JSON_DEPTH: Final = 32

_SHOW = 60


def show(value: object) -> str:
    """``repr(value)``, cut short: a refusal must not print a megabyte."""
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails is still refused by name
        text = f"<{type(value).__name__} object>"
    return text if len(text) <= _SHOW else f"{text[: _SHOW - 5]}…{text[-4:]}"


def fail(where: str, expected: str, value: object) -> NoReturn:
    """Raise the refusal: ``"<where> must be <expected>, got <value>"``."""
    raise InvalidValueError(f"{where} must be {expected}, got {show(value)}")


def is_int(value: object) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def exact_int(value: object) -> int | None:
    """``value`` as a plain ``int`` if it is an ``int`` that is not a ``bool``, else ``None``.

    An ``int`` subclass is read through ``int``'s own slot, so a subclass that
    overrides comparison, hashing, ``__int__`` or ``__index__`` cannot pass a
    bounds check as one number and reach a C type (the compiled queue twin's)
    or a dict key as another.
    """
    if type(value) is int:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__index__(value)
    return None


def exact_float(value: object) -> float | None:
    """``value`` as a plain ``float`` if it is an ``int`` or ``float`` that is not a
    ``bool``, else ``None`` (an int too large for a float gives an infinity).

    Read through ``float``'s and ``int``'s own slots, as :func:`exact_int`,
    so an overridden ``__float__`` cannot change the number.
    """
    if type(value) is float:
        return value
    if isinstance(value, float):
        return float.__float__(value)
    number = exact_int(value)
    if number is None:
        return None
    try:
        return int.__float__(number)
    except OverflowError:
        return math.inf if number > 0 else -math.inf


def exact_real(value: object) -> int | float | None:
    """``value`` as a plain ``int`` or ``float`` (:func:`exact_int`, :func:`exact_float`)
    if it is one that is not a ``bool``, else ``None``; an int stays an int, so
    one beyond the float range compares as out of bounds instead of overflowing."""
    number = exact_int(value)
    if number is not None:
        return number
    return float.__float__(value) if isinstance(value, float) else None


def finite_float(value: object) -> float | None:
    """``value`` as a plain finite ``float`` (:func:`exact_float`), else ``None``."""
    number = exact_float(value)
    return number if number is not None and math.isfinite(number) else None


def int_in(value: object, low: int, high: int) -> int | None:
    """``value`` as a plain ``int`` (:func:`exact_int`) when it is one in ``low..high``, else ``None``."""
    number = exact_int(value)
    if number is None or not low <= number <= high:
        return None
    return number


def plain_number(value: Any) -> Any:
    """An ``int`` or ``float`` subclass (an ``IntEnum`` member …) as the plain
    number it holds (:func:`exact_real`); a ``bool`` or anything else as is.

    The model's converter for numeric fields: a value that is kept is a plain
    number, which the log and the snapshot write as JSON and both queue twins
    read alike, and a validator then checks the number itself.
    """
    kind = type(value)
    if kind is int or kind is float or kind is bool or not isinstance(value, (int, float)):
        return value
    return exact_real(value)


def is_real(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_text(value: str) -> bool:
    """Whether ``value`` can be written as UTF-8, as JSON, the log, the snapshot
    and SQLite write every string: it holds no lone surrogate (``"\\ud800"``,
    which Python strings allow). O(1) for ASCII, O(n) otherwise."""
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(value: str, where: str) -> None:
    """Refuse a string :func:`is_text` refuses, naming ``where``."""
    if not is_text(value):
        fail(where, "text without lone surrogates (it is written as UTF-8)", value)


def check_id(value: object, where: str) -> str:
    """A non-empty string of at most :data:`MAX_ID_LENGTH` characters that
    :func:`is_text` accepts."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        fail(where, f"a non-empty string of at most {MAX_ID_LENGTH} characters", value)
    check_text(value, where)
    return value


def plain_str(value: Any) -> Any:
    """A ``str`` subclass (a ``StrEnum`` member …) as a plain ``str``; anything else as is.

    Ids are compared and ordered as plain strings everywhere, in both twins.
    """
    if isinstance(value, str) and type(value) is not str:
        return str.__str__(value)
    return value


def check_int(value: object, where: str, low: int, high: int) -> int:
    """An integer (not a bool) in ``low..high``, as a plain int."""
    number = int_in(value, low, high)
    if number is None:
        fail(where, f"an integer in {low}..{high}", value)
    return number


def check_seconds(
    value: object,
    where: str,
    *,
    positive: bool = False,
    signed: bool = False,
) -> float:
    """A finite number of seconds in ``0..MAX_SECONDS`` (``> 0`` if ``positive``;
    ``-MAX_SECONDS..MAX_SECONDS`` if ``signed``), as a plain int or float."""
    low = -MAX_SECONDS if signed else 0.0
    # An int is compared as an int (one beyond float range is simply out of bounds).
    number = exact_real(value)
    if (
        number is None
        or not low <= number <= MAX_SECONDS  # NaN fails this too
        or (positive and number <= 0)
    ):
        if signed:
            fail(where, f"a finite number of seconds within ±{MAX_SECONDS:g}", value)
        bound = "> 0" if positive else "at least 0"
        fail(where, f"{bound} and at most {MAX_SECONDS:g} (finite seconds)", value)
    return number


def check_bool(value: object, where: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        fail(where, "True or False", value)
    return value


# ------------------------------------------------------------------ JSON values
#
# The one rule for "a JSON value" (contact attributes; the log and the
# snapshot write them): the model refuses what breaks it when a contact is
# made, and the log codec (ccroute.codec) and the snapshot refuse by the same
# rule what was changed since, each with its own words. Types are exact: a
# str subclass (an enum member …), an int or float subclass, a list or dict
# subclass would come back from JSON as the plain type, another value.

#: A part of a value that breaks the rule: the path to it (list indexes and
#: dict keys, outermost first), what is wrong, and the part itself.
JsonFault = tuple[tuple[int | str, ...], str, object]

#: What is wrong, in a :data:`JsonFault`.
FAULT_INT: Final = "int"  # an int beyond MIN_JSON_INT..MAX_JSON_INT
FAULT_FLOAT: Final = "float"  # a float that is not finite
FAULT_KEY: Final = "key"  # a dict key that is not a str (the part is the key)
FAULT_DEPTH: Final = "depth"  # a list or dict nested MAX_JSON_DEPTH deep
FAULT_SUBCLASS: Final = "subclass"  # a subclass of a JSON type (an enum member …)
FAULT_TEXT: Final = "text"  # a str (or a dict key) with a lone surrogate: not UTF-8
FAULT_TYPE: Final = "type"  # anything else (bytes, a set, a datetime …)

_JSON_TYPES: Final = (str, int, float, list, tuple, dict)


def json_fault(value: object, depth: int = 0) -> JsonFault | None:
    """The first part of ``value`` that is not a JSON value, or ``None``.

    A JSON value is ``None``, a ``bool``, a ``str``, an ``int`` in
    ``MIN_JSON_INT..MAX_JSON_INT``, a finite ``float``, or a ``list`` or
    ``tuple`` of JSON values, or a ``dict`` of ``str`` keys to JSON values,
    lists and dicts nested less than ``MAX_JSON_DEPTH`` deep (``depth``:
    how deep ``value`` already is). Every type is exact: a subclass would come
    back from JSON as another value. Parts are looked at in order, a dict's
    key before its value.
    """
    kind = type(value)
    if kind is str:
        return None if is_text(value) else ((), FAULT_TEXT, value)  # type: ignore[arg-type]
    if kind is bool or value is None:
        return None
    if kind is int:
        if MIN_JSON_INT <= value <= MAX_JSON_INT:  # type: ignore[operator]
            return None
        return ((), FAULT_INT, value)
    if kind is float:
        return None if math.isfinite(value) else ((), FAULT_FLOAT, value)  # type: ignore[arg-type]
    if kind is list or kind is tuple or kind is dict:
        if depth >= MAX_JSON_DEPTH:
            return ((), FAULT_DEPTH, value)
        depth += 1
        if kind is dict:
            for key, item in value.items():  # type: ignore[attr-defined]
                if type(key) is not str:
                    return ((), FAULT_KEY, key)
                if not is_text(key):
                    return ((), FAULT_TEXT, key)
                fault = json_fault(item, depth)
                if fault is not None:
                    return ((key, *fault[0]), fault[1], fault[2])
            return None
        for index, item in enumerate(value):  # type: ignore[arg-type]
            fault = json_fault(item, depth)
            if fault is not None:
                return ((index, *fault[0]), fault[1], fault[2])
        return None
    if isinstance(value, _JSON_TYPES):
        return ((), FAULT_SUBCLASS, value)
    return ((), FAULT_TYPE, value)


def is_json(value: object, depth: int = 0) -> bool:
    """Whether ``value`` is a JSON value at ``depth``: :func:`json_fault` finds nothing."""
    return json_fault(value, depth) is None


def json_path(where: str, path: tuple[int | str, ...]) -> str:
    """``where`` and a :data:`JsonFault`'s path: ``attributes['tags'][2]``."""
    return where + "".join(f"[{step}]" if type(step) is int else f"[{show(step)}]" for step in path)


def check_json(value: object, where: str, depth: int = 0) -> None:
    """Refuse a value that is not a JSON value (:func:`json_fault`), naming the
    path to the bad part, e.g. ``attributes['tags'][2]``."""
    fault = json_fault(value, depth)
    if fault is None:
        return
    path, what, part = fault
    at = json_path(where, path)
    if what == FAULT_INT:
        fail(at, "an integer within a signed 64-bit range", part)
    if what == FAULT_FLOAT:
        fail(at, "a finite number", part)
    if what == FAULT_KEY:
        fail(f"{at}: key {show(part)}", "a string", part)
    if what == FAULT_DEPTH:
        raise InvalidValueError(f"{at}: JSON values may nest at most {MAX_JSON_DEPTH} deep")
    if what == FAULT_TEXT:
        fail(at, "text without lone surrogates (it is written as UTF-8)", part)
    if what == FAULT_SUBCLASS:
        base = next(t for t in _JSON_TYPES if isinstance(part, t)).__name__
        fail(
            at,
            f"a plain {base}, not a {type(part).__name__} (JSON gives back a plain {base})",
            part,
        )
    fail(
        at,
        "a JSON value (str, int, finite float, bool, None, list, dict with string keys)",
        part,
    )


def copy_json(value: Any) -> Any:
    """A deep copy of the dicts and lists in a JSON value (other values as they are).

    Every hook call that is handed a profile gets its own copy, so a plugin
    that changes what it was given changes nothing anyone else sees. A
    mapping becomes a ``dict``, a tuple a ``list``.
    """
    if isinstance(value, Mapping):
        return {key: copy_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy_json(item) for item in value]
    return value
