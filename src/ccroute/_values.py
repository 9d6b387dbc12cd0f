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
from typing import Any, Final, NoReturn

from .errors import InvalidValueError

__all__ = [
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_JSON_INT",
    "MAX_LEVEL",
    "MAX_SECONDS",
    "MAX_TIER",
    "MIN_JSON_INT",
    "MIN_LEVEL",
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


def is_real(value: object) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_id(value: object, where: str) -> str:
    """A non-empty string of at most :data:`MAX_ID_LENGTH` characters."""
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        fail(where, f"a non-empty string of at most {MAX_ID_LENGTH} characters", value)
    return value


def plain_str(value: Any) -> Any:
    """A ``str`` subclass (a ``StrEnum`` member …) as a plain ``str``; anything else as is.

    Ids are compared and ordered as plain strings everywhere, in both twins.
    """
    if isinstance(value, str) and type(value) is not str:
        return str.__str__(value)
    return value


def check_int(value: object, where: str, low: int, high: int) -> int:
    """An integer (not a bool) in ``low..high``."""
    if not is_int(value) or not low <= value <= high:  # type: ignore[operator]
        fail(where, f"an integer in {low}..{high}", value)
    return value  # type: ignore[return-value]


def check_seconds(
    value: object,
    where: str,
    *,
    positive: bool = False,
    signed: bool = False,
) -> float:
    """A finite number of seconds in ``0..MAX_SECONDS`` (``> 0`` if ``positive``;
    ``-MAX_SECONDS..MAX_SECONDS`` if ``signed``)."""
    low = -MAX_SECONDS if signed else 0.0
    # Compared as given (an int beyond float range is simply out of bounds).
    if (
        not is_real(value)
        or (isinstance(value, float) and not math.isfinite(value))
        or not low <= value <= MAX_SECONDS  # type: ignore[operator]
        or (positive and value <= 0)  # type: ignore[operator]
    ):
        if signed:
            fail(where, f"a finite number of seconds within ±{MAX_SECONDS:g}", value)
        bound = "> 0" if positive else "at least 0"
        fail(where, f"{bound} and at most {MAX_SECONDS:g} (finite seconds)", value)
    return value  # type: ignore[return-value]


def check_bool(value: object, where: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        fail(where, "True or False", value)
    return value


def is_json_scalar(value: object) -> bool:
    """``True`` for a JSON scalar of an exact type (``str``, ``bool``, ``None``, a
    64-bit ``int``, a finite ``float``): the common attribute value, checked
    without building the path :func:`check_json` names in its refusal."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return MIN_JSON_INT <= value <= MAX_JSON_INT  # type: ignore[operator]
    if kind is float:
        return math.isfinite(value)  # type: ignore[arg-type]
    return False


def is_json(value: object, depth: int = 0) -> bool:
    """``True`` if :func:`check_json` accepts ``value`` at ``depth`` and every
    part of it is of an exact JSON type; ``False`` sends the caller to
    :func:`check_json` for the verdict and the message."""
    if is_json_scalar(value):
        return True
    kind = type(value)
    if kind is list or kind is tuple:
        if depth >= MAX_JSON_DEPTH:
            return False
        depth += 1
        return all(is_json(item, depth) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        if depth >= MAX_JSON_DEPTH:
            return False
        depth += 1
        return all(
            type(key) is str and is_json(item, depth)
            for key, item in value.items()  # type: ignore[attr-defined]
        )
    return False


def check_json(value: object, where: str, depth: int = 0) -> None:
    """A JSON value: ``str``, ``int`` in ``MIN_JSON_INT..MAX_JSON_INT``, finite
    ``float``, ``bool``, ``None``, a list (or tuple) of JSON values, or a dict
    with string keys and JSON values, nested at most :data:`MAX_JSON_DEPTH` deep.

    The refusal names the path to the bad value, e.g. ``attributes['tags'][2]``.
    """
    if value is None or isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not MIN_JSON_INT <= value <= MAX_JSON_INT:
            fail(where, "an integer within a signed 64-bit range", value)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            fail(where, "a finite number", value)
        return
    if isinstance(value, (list, tuple, dict)):
        if depth >= MAX_JSON_DEPTH:
            raise InvalidValueError(f"{where}: JSON values may nest at most {MAX_JSON_DEPTH} deep")
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    fail(f"{where}: key {show(key)}", "a string", key)
                check_json(item, f"{where}[{show(key)}]", depth + 1)
            return
        for i, item in enumerate(value):
            check_json(item, f"{where}[{i}]", depth + 1)
        return
    fail(
        where,
        "a JSON value (str, int, finite float, bool, None, list, dict with string keys)",
        value,
    )
