"""The argument checks of the universal queue's interface, shared by both twins.

Both twins (:mod:`ccroute._queue_py` and the compiled ``_fastqueue``) check
every argument of every public method before changing anything, with the
rules below, and refuse with the same :class:`~ccroute.CCRouteError`
subclass and message: a wrong type or a value out of range is an
:class:`~ccroute.InvalidValueError`, an unknown handle an
:class:`~ccroute.UnknownIdError`, and a call the state does not allow (a
handle already in use, releasing a slot nobody holds) an
:class:`~ccroute.InvalidStateError`. The
compiled twin checks its hot paths in C with the same rules and calls these
functions to raise, so the messages are the same too.

Ranges (they fit the compiled twin's C types):

* agent and contact handles: integers in ``0..MAX_HANDLE``;
* channel, queue, skill and signature handles: integers in ``0..MAX_INDEX``;
* skill levels: an agent's ``1..MAX_LEVEL``, a requirement's ``0..MAX_LEVEL``
  (0: any agent qualifies);
* capacities, unit costs, budgets (``-1``: none) and handled counts:
  ``0..MAX_COUNT``;
* times: any finite ``int`` or ``float``, kept as a float;
* a key: a tuple ``(int, time, int)``, its integers in the signed 64-bit range;
* flags: ``bool``; agent ids and ``rr_after``: strings.

Each check returns the value it accepted as a plain ``int``, ``float`` or
``str`` (collections rebuilt of plain values), read through the built-in
types' own slots (:func:`~ccroute._values.exact_int`), and both twins keep
only what the checks return: an ``int`` subclass that lies in its
comparisons or hashes oddly is refused or kept as the number it holds, never
checked as one value and stored as another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, NoReturn

from ._values import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_LEVEL,
    exact_int,
    finite_float,
    int_in,
    plain_str,
    show,
)
from .errors import InvalidStateError, InvalidValueError, UnknownIdError

#: Largest agent or contact handle.
MAX_HANDLE: Final = 2**62 - 1
#: Largest channel, queue, skill or signature handle (a C ``int``).
MAX_INDEX: Final = 2**31 - 1
#: A key's integers are C ``long long``.
MIN_KEY_INT: Final = -(2**63)
MAX_KEY_INT: Final = 2**63 - 1
#: The most contacts one agent may be counted as having handled (exact as a double).
MAX_HANDLED: Final = 2**53
#: Strategy codes best_agent knows (see ccroute._codes); 5 is RANDOM.
STRATEGY_CODES: Final = range(6)
RANDOM: Final = 5


def fail(what: str, expected: str, value: object) -> NoReturn:
    """Raise ``InvalidValueError("<what> must be <expected>, got <value>")``."""
    raise InvalidValueError(f"{what} must be {expected}, got {show(value)}")


def unknown(kind: str, value: object) -> NoReturn:
    """Raise ``UnknownIdError`` for a handle in range that names nothing."""
    raise UnknownIdError(kind, value)


#: ``value`` as a plain int when it is an integer in ``low..high``, else ``None``.
integer = int_in


def handle(value: object, kind: str) -> int:
    """An agent or contact handle: an integer in 0..MAX_HANDLE."""
    number = integer(value, 0, MAX_HANDLE)
    if number is None:
        fail(f"{kind} handle", f"an integer in 0..{MAX_HANDLE}", value)
    return number


def target(value: object) -> int:
    """An agent handle or -1 (none)."""
    number = integer(value, -1, MAX_HANDLE)
    if number is None:
        fail("target agent handle", f"-1 or an integer in 0..{MAX_HANDLE}", value)
    return number


def index(value: object, kind: str) -> int:
    """A channel, queue, skill or signature handle: an integer in 0..MAX_INDEX."""
    number = integer(value, 0, MAX_INDEX)
    if number is None:
        fail(f"{kind} handle", f"an integer in 0..{MAX_INDEX}", value)
    return number


def known_index(value: object, kind: str, size: int) -> int:
    """A handle below ``size`` (refused as unknown when in range but not below it)."""
    number = index(value, kind)
    if number >= size:
        unknown(f"{kind} handle", number)
    return number


def count(value: object, what: str, low: int = 0) -> int:
    """An integer in ``low..MAX_COUNT``."""
    number = integer(value, low, MAX_COUNT)
    if number is None:
        fail(what, f"an integer in {low}..{MAX_COUNT}", value)
    return number


def budget(value: object) -> int:
    """A unit budget: -1 (none) or an integer in 0..MAX_COUNT."""
    number = integer(value, -1, MAX_COUNT)
    if number is None:
        fail("budget", f"-1 or an integer in 0..{MAX_COUNT}", value)
    return number


def level(value: object, what: str, low: int = 0) -> int:
    """A skill level: an integer in ``low..MAX_LEVEL``."""
    number = integer(value, low, MAX_LEVEL)
    if number is None:
        fail(what, f"an integer in {low}..{MAX_LEVEL}", value)
    return number


def flag(value: object, what: str) -> bool:
    """``True`` or ``False``."""
    if not isinstance(value, bool):
        fail(what, "True or False", value)
    return value


def time(value: object, what: str = "time") -> float:
    """A finite number of seconds, as a plain float."""
    number = finite_float(value)
    if number is None:
        fail(what, "a finite number", value)
    return number


def agent_id(value: object) -> str:
    """An agent id: a non-empty string of at most MAX_ID_LENGTH characters, as a plain str."""
    text = plain_str(value)
    if type(text) is not str or not text or len(text) > MAX_ID_LENGTH:
        fail("agent id", f"a non-empty string of at most {MAX_ID_LENGTH} characters", value)
    return text


def rr_after(value: object) -> str | None:
    """The id round robin starts after: ``None`` or a string."""
    if value is None:
        return None
    if not isinstance(value, str):
        fail("rr_after", "None or an agent id string", value)
    return plain_str(value)  # type: ignore[no-any-return]


def strategy(value: object) -> int:
    """A strategy code (0..5); best_agent serves RANDOM only for a target agent."""
    number = integer(value, STRATEGY_CODES.start, STRATEGY_CODES.stop - 1)
    if number is None:
        fail("strategy", "a strategy code in 0..5", value)
    return number


def random_refused() -> NoReturn:
    """best_agent does not pick at random (the router draws from eligible_agents)."""
    raise InvalidValueError("random strategy picks from eligible_agents()")


def _items(value: object, what: str) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        fail(what, "a collection", value)
    try:
        return list(value)
    except Exception:  # an iterable that fails to iterate
        fail(what, "a collection", value)


def handle_set(value: object, what: str) -> frozenset[int] | set[int]:
    """Handles to skip (barred contacts or agents, excluded agents, blocked channels):
    integers, any value (those that name nothing are ignored); a set of plain
    ints is kept as is, anything else rebuilt as a frozenset of plain ints."""
    if isinstance(value, (set, frozenset)) and all(type(item) is int for item in value):
        return value
    out = []
    for item in _items(value, what):
        number = exact_int(item)
        if number is None:
            fail(f"{what} item", "an integer", item)
        out.append(number)
    return frozenset(out)


def _pair(item: object, what: str, expected: str, shown: object) -> tuple[object, object]:
    # tuple's own length and items: a tuple subclass cannot change them
    if not isinstance(item, tuple) or tuple.__len__(item) != 2:
        fail(what, expected, shown)
    return tuple.__getitem__(item, 0), tuple.__getitem__(item, 1)


def skills(value: object) -> dict[int, int]:
    """An agent's skills: skill handle to level (1..MAX_LEVEL)."""
    pairs = _items(value.items() if isinstance(value, Mapping) else value, "skills")
    out: dict[int, int] = {}
    for pair in pairs:
        s, lv = _pair(pair, "skills", "a mapping of skill handle to level", value)
        out[index(s, "skill")] = level(lv, f"level of skill {show(s)}", low=1)
    return out


def requirements(value: object) -> tuple[tuple[int, int], ...]:
    """A signature's requirements: (skill handle, minimum level) pairs, each skill once."""
    out: dict[int, int] = {}
    for pair in _items(value, "requirements"):
        s, lv = _pair(pair, "requirement", "a (skill handle, level) pair", pair)
        skill = index(s, "skill")
        minimum = level(lv, f"level of skill {show(s)}")
        if skill in out:
            raise InvalidValueError(f"skill handle {skill} is required twice")
        out[skill] = minimum
    return tuple(sorted(out.items()))


def queues(value: object) -> frozenset[int]:
    """Queue handles."""
    return frozenset([index(q, "queue") for q in _items(value, "queues")])


def capacity(value: object, channels: int) -> list[int]:
    """One capacity per channel (missing ones are 0)."""
    items = _items(value, "capacity")
    if len(items) > channels:
        fail("capacity", f"at most {channels} values (one per channel)", value)
    return [count(cap, "capacity") for cap in items] + [0] * (channels - len(items))


def key(value: object) -> tuple[int, float, int]:
    """A contact's static key ``(-tier, time, sequence)``."""
    if not isinstance(value, tuple) or tuple.__len__(value) != 3:
        fail("key", "a tuple (int, time, int)", value)
    n, s = (integer(tuple.__getitem__(value, i), MIN_KEY_INT, MAX_KEY_INT) for i in (0, 2))
    if n is None or s is None:
        fail("key", "a tuple (int, time, int) of 64-bit integers", value)
    return (n, time(tuple.__getitem__(value, 1), "key time"), s)


def state(message: str) -> NoReturn:
    """Raise ``InvalidStateError``."""
    raise InvalidStateError(message)


def no_arguments(args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
    """A universal queue takes no constructor arguments."""
    if args or kwargs:
        raise InvalidValueError(
            f"UniversalQueue() takes no arguments, got {show(args)} {show(dict(kwargs))}"
        )


def tuning(value: object, what: str) -> int:
    """``index_min_profiles`` or ``index_scan_limit``: an integer in 0..MAX_COUNT."""
    return count(value, what)
