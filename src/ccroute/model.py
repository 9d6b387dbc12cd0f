"""The domain model: channels, contacts, agents, queues and their settings.

These are the values an application hands to the :class:`~ccroute.Router`. They
are frozen attrs classes: once built they never change, and the router keeps
its own mutable state beside them. Validation happens here, so a malformed
value is refused before it reaches the router.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from ._values import (
    MAX_COUNT,
    MAX_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_LEVEL,
    MAX_SECONDS,
    MAX_TIER,
    MIN_LEVEL,
    check_bool,
    check_id,
    check_json,
    check_seconds,
    check_text,
    exact_int,
    exact_real,
    fail,
    int_in,
    is_json,
    is_text,
    plain_number,
    plain_str,
    show,
)
from .business_hours import BusinessHours, WhenClosed
from .errors import InvalidValueError

__all__ = [
    "BUILTIN_CHANNELS",
    "MAX_COUNT",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_LEVEL",
    "MAX_SECONDS",
    "MAX_TIER",
    "MIN_LEVEL",
    "Admission",
    "Agent",
    "Channel",
    "ChannelKind",
    "Contact",
    "Presence",
    "QueueConfig",
    "RoutingStep",
    "Strategy",
]


class ChannelKind(enum.Enum):
    """How a channel's customer waits: on the line, in a session, or not at all."""

    #: The customer is on the line and may hang up (voice, video, callback).
    SYNCHRONOUS = "synchronous"
    #: The customer is in a session and answers within minutes (chat, SMS, social).
    SEMI_SYNCHRONOUS = "semi-synchronous"
    #: The customer does not wait (email, tasks); contacts can wait hours.
    ASYNCHRONOUS = "asynchronous"


class Presence(enum.Enum):
    """What an agent has said about themselves.

    ``BUSY`` and ``WRAP_UP`` are not presences but consequences of work; see
    ``AgentView.status``.
    """

    OFFLINE = "offline"
    AVAILABLE = "available"
    NOT_READY = "not-ready"


class Strategy(enum.Enum):
    """How a queue picks one agent among several eligible ones.

    Ties always break by agent id (string order), so the choice is deterministic.
    """

    #: Agents with no work first, then the one idle the longest: the earliest
    #: moment it became available or finished its last piece of work.
    LONGEST_IDLE = "longest-idle"
    #: Highest sum of proficiency over the contact's required skills.
    MOST_SKILLED = "most-skilled"
    #: Lowest share of capacity in use (units used / unit budget when the agent
    #: has a budget, otherwise contacts held / total channel capacity).
    LEAST_OCCUPIED = "least-occupied"
    #: The eligible agent whose id follows, in string order, the agent this
    #: queue offered to last; wraps around.
    ROUND_ROBIN = "round-robin"
    #: Fewest contacts accepted since the agent was added.
    FEWEST_HANDLED = "fewest-handled"
    #: Uniformly at random among the eligible agents, from the router's seeded
    #: generator.
    RANDOM = "random"


class Admission(enum.Enum):
    """When a queue admits a contact (beyond its size limit).

    A contact that is not admitted gets a :class:`~ccroute.Refused` event
    with the reason; it is never an exception.
    """

    #: Admit every contact while the queue has room.
    ALWAYS = "always"
    #: Refuse a contact while no member of the queue is logged in
    #: (reason ``"no agent logged in"``).
    LOGGED_IN = "logged-in"
    #: Refuse a contact while no logged-in agent could ever take it: a member
    #: of its queue, with its skills at the levels it requires, capacity on its
    #: channel, and not excluded for it (reason ``"no eligible agent"``).
    #: Load and readiness do not count: a busy or not-ready agent still
    #: qualifies.
    ELIGIBLE = "eligible"


# ------------------------------------------------------------------ checks
#
# Converters normalise what they understand (a mapping to sorted pairs, names
# to a frozenset) and pass anything else through unchanged; the validators
# (attrs runs them in field order, after every field is set) then refuse it
# with a message naming the value's owner, e.g. "contact 'c1': tier …".


_OWNERS: Final = {
    "Channel": ("channel", "name"),
    "QueueConfig": ("queue", "name"),
    "Agent": ("agent", "id"),
    "Contact": ("contact", "id"),
}


def _owner(inst: object) -> str:
    """Whose value it is, for messages: ``contact 'c1'``, ``queue 'sales'`` …"""
    kind = _OWNERS.get(type(inst).__name__)
    if kind is None:
        return "routing step"
    return f"{kind[0]} {show(getattr(inst, kind[1], None))}"


def _check_level(level: object, where: str) -> int:
    number = exact_int(level)
    if number is None:
        raise InvalidValueError(f"{where}: skill level must be an integer, got {show(level)}")
    if not MIN_LEVEL <= number <= MAX_LEVEL:
        raise InvalidValueError(
            f"{where}: skill level {number} is outside {MIN_LEVEL}..{MAX_LEVEL}"
        )
    return number


def _check_skill_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_ID_LENGTH:
        raise InvalidValueError(
            f"{where}: skill name must be a non-empty string of at most {MAX_ID_LENGTH} "
            f"characters, got {show(name)}"
        )
    check_text(name, f"{where}: skill name")
    return name


def _check_count(value: object, where: str, low: int = 0) -> int:
    """An integer (not a bool) in ``low..MAX_COUNT``."""
    number = exact_int(value)
    if number is None or number < low:
        fail(where, f"an integer >= {low}", value)
    if number > MAX_COUNT:
        fail(where, f"an integer <= {MAX_COUNT}", value)
    return number


def _pairs(value: Any) -> Any:
    """A mapping or iterable of pairs as a tuple of pairs; anything else unchanged."""
    if type(value) is tuple and not value:
        return value
    if isinstance(value, (str, bytes)):
        return value
    try:
        items = list(value.items() if isinstance(value, Mapping) else value)
    except Exception:
        return value
    if not all(isinstance(item, tuple) and len(item) == 2 for item in items):
        return value
    items = [(plain_str(k), plain_number(v)) for k, v in items]
    try:
        return tuple(sorted(items, key=lambda item: item[0]))
    except TypeError:  # names that are not all strings: refused by the validator
        return tuple(items)


def _skill_levels(
    value: Mapping[str, int] | Iterable[tuple[str, int]],
) -> tuple[tuple[str, int], ...]:
    return _pairs(value)  # type: ignore[no-any-return]


def _overrides(
    value: Mapping[str, int | None] | Iterable[tuple[str, int | None]],
) -> tuple[tuple[str, int | None], ...]:
    return _pairs(value)  # type: ignore[no-any-return]


def _delays(
    value: Mapping[str, float] | Iterable[tuple[str, float]],
) -> tuple[tuple[str, float], ...]:
    return _pairs(value)  # type: ignore[no-any-return]


def _frozen_names(value: Iterable[str]) -> frozenset[str]:
    if type(value) is frozenset and not value:
        return value
    if isinstance(value, str):
        return frozenset((plain_str(value),))
    try:
        return frozenset(plain_str(v) for v in value)
    except Exception:  # not iterable, or unhashable items: refused by the validator
        return value  # type: ignore[return-value]


class _ReadOnlyMapping(Mapping[str, Any]):
    """A read-only view of a private dict.

    Unlike MappingProxyType it pickles, which the format-1 log migration and
    user code that pickles values rely on; ccroute's own durable formats are
    JSON (docs/log-format.md, docs/snapshot.md)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_ReadOnlyMapping], tuple[dict[str, Any]]]:
        return (type(self), (self._data,))


# Read-only and empty: one instance serves every value without attributes.
_NO_ATTRIBUTES = _ReadOnlyMapping({})


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None or (type(value) is dict and not value):
        return _NO_ATTRIBUTES
    if isinstance(value, Mapping):
        try:
            return _ReadOnlyMapping(value)
        except Exception:  # a mapping that cannot be read: refused by the validator
            return value
    return value  # refused by the validator


def _optional_mapping(value: Mapping[str, int] | None) -> Mapping[str, int] | None:
    if value is None or not isinstance(value, Mapping):
        return value
    try:
        return _ReadOnlyMapping({plain_str(k): plain_number(v) for k, v in value.items()})
    except Exception:  # refused by the validator
        return value


def _steps(value: Iterable[RoutingStep]) -> tuple[RoutingStep, ...]:
    if isinstance(value, (str, bytes, Mapping)):
        return value  # type: ignore[return-value]
    try:
        return tuple(value)
    except Exception:  # refused by the validator
        return value  # type: ignore[return-value]


def _blocking(
    value: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]],
) -> tuple[tuple[str, frozenset[str]], ...]:
    pairs = _pairs(value)
    if not isinstance(pairs, tuple) or not all(
        isinstance(pair, tuple) and len(pair) == 2 for pair in pairs
    ):
        return value  # type: ignore[return-value]  # refused by the validator
    return tuple((k, _frozen_names(v)) for k, v in pairs)


def _names_are_ids(value: object, where: str) -> None:
    if not isinstance(value, frozenset):
        fail(where, "a set of non-empty strings", value)
    for name in sorted(value, key=repr):
        check_id(name, f"{where} id")


def _pairs_of(value: tuple[Any, ...], where: str, expected: str) -> tuple[tuple[Any, Any], ...]:
    """The items of a converted mapping, each a pair, or refused: a sequence the
    converter left as it was may hold anything (``(0,)``, ``("text",)`` …)."""
    for item in value:
        if not isinstance(item, tuple) or len(item) != 2:
            fail(where, expected, item)
    return value


def check_blocking(blocking: object, where: str) -> None:
    """Refuse a channel-blocking matrix that is not channel name → channel names."""
    expected = "a mapping of channel name to channel names"
    if not isinstance(blocking, tuple):
        fail(f"{where}: blocking", expected, blocking)
    for holding, blocked in _pairs_of(blocking, f"{where}: blocking", expected):
        check_id(holding, f"{where}: blocking channel id")
        if not isinstance(blocked, frozenset):
            fail(f"{where}: channels blocked by {show(holding)}", "a set of channel names", blocked)
        for name in sorted(blocked, key=repr):
            check_id(name, f"{where}: blocked channel id")


def _skills(required: bool) -> Any:
    """Validator of skills (``required``: a contact's requirements) as sorted pairs."""

    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, tuple) and not value:
            return
        owner = _owner(inst)
        what = "required skill" if required else "skill"
        expected = "a mapping of skill name to level"
        if not isinstance(value, tuple):
            fail(f"{owner}: {attribute.name}", expected, value)
        seen: set[str] = set()
        for name, level in _pairs_of(value, f"{owner}: {attribute.name}", expected):
            _check_skill_name(name, owner)
            _check_level(level, f"{owner} {what} {name!r}")
            if name in seen:
                raise InvalidValueError(f"{owner}: skill {name!r} is listed twice")
            seen.add(name)

    return validate


# The validators below accept the common good value at once and build the
# message (naming the owner) only to refuse: values are made on hot paths.


def _is_id(value: object) -> bool:
    return (
        type(value) is str
        and 0 < len(value) <= MAX_ID_LENGTH
        and (value.isascii() or is_text(value))
    )


def _id(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not _is_id(value):
        kind = _owner(inst).split(" ")[0]
        check_id(value, f"{kind} id")


def _field_id(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not _is_id(value):
        check_id(value, f"{_owner(inst)}: {attribute.name.replace('_', ' ')}")


def _optional_id(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not _is_id(value):
        check_id(value, f"{_owner(inst)}: {attribute.name.replace('_', ' ')}")


def _names(what: str) -> Any:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, frozenset) and all(_is_id(name) for name in value):
            return
        _names_are_ids(value, f"{_owner(inst)}: {what}")

    return validate


def _flag(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not True and value is not False:
        check_bool(value, f"{_owner(inst)}: {attribute.name}")


def _count(low: int = 0, *, optional: bool = False, label: str | None = None) -> Any:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if (value is None and optional) or (type(value) is int and low <= value <= MAX_COUNT):
            return
        _check_count(value, f"{_owner(inst)}: {label or attribute.name}", low)

    return validate


def _seconds(
    *,
    positive: bool = False,
    optional: bool = False,
    signed: bool = False,
    label: str | None = None,
) -> Any:
    low = -MAX_SECONDS if signed else 0.0

    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        if (
            (type(value) is float or type(value) is int)
            and low <= value <= MAX_SECONDS  # NaN fails this
            and not (positive and value <= 0)
        ):
            return
        check_seconds(
            value, f"{_owner(inst)}: {label or attribute.name}", positive=positive, signed=signed
        )

    return validate


def _enum(enum_type: type[enum.Enum]) -> Any:
    def validate(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, enum_type):
            fail(f"{_owner(inst)}: {attribute.name}", f"a {enum_type.__name__}", value)

    return validate


# ------------------------------------------------------------------ fast paths
#
# Contacts are made on every submit and again for every log record read (the
# codec rebuilds them through the constructor), so Contact and Agent have an
# __init__ of their own. A field of its common exact type (a str id, a dict of
# str names to int levels, a dict of JSON scalars) is converted and checked
# inline; anything else goes through the field's attrs converter, as before.
# The inline checks accept only values the validators accept, and convert them
# to what the converters give; when one says no, the attrs validators run, in
# field order, as attrs' generated __init__ runs them, so the refusal is the
# same, word for word.

_put = object.__setattr__


def _fast_levels(value: object) -> tuple[tuple[str, Any], ...] | None:
    """Valid skill levels as the sorted pairs the converter makes, from a dict or
    a tuple of pairs of plain ``str`` names and ``int`` levels with no name
    twice; ``None`` for anything else."""
    kind = type(value)
    if kind is tuple:
        if not value:
            return value  # type: ignore[return-value]
        for item in value:  # type: ignore[attr-defined]
            if type(item) is not tuple or len(item) != 2:
                return None
        items: Any = value
    elif kind is dict:
        items = value.items()  # type: ignore[attr-defined]
    else:
        return None
    for name, level in items:
        if (
            type(name) is not str
            or not 0 < len(name) <= MAX_ID_LENGTH
            or not name.isascii()
            or type(level) is not int
            or not MIN_LEVEL <= level <= MAX_LEVEL
        ):
            return None
    if kind is tuple and len({name for name, _ in items}) != len(items):
        return None  # "listed twice": the validator says so
    # The names differ, so sorting the pairs compares names only: the
    # converter's order (it sorts by name).
    return tuple(sorted(items))


def _fast_attributes(value: object) -> Mapping[str, Any] | None:
    """Valid attributes as the read-only mapping the converter makes, from a dict
    (or an existing read-only mapping, kept as it is) of exact JSON types;
    ``None`` for anything else."""
    kind = type(value)
    if kind is dict:
        if not value:
            return _NO_ATTRIBUTES
        frozen = _ReadOnlyMapping(value)  # type: ignore[arg-type]
    elif kind is _ReadOnlyMapping:
        frozen = value  # type: ignore[assignment]
    else:
        return None
    for key, item in frozen._data.items():
        # (text that is not ASCII is checked on the slow path: UTF-8 must hold it)
        if type(key) is not str or not key.isascii():
            return None
        kind = type(item)
        # Flat ASCII strings, booleans and None, the usual attributes, without a call.
        if kind is str:
            if not item.isascii():
                return None
        elif kind is not bool and item is not None and not is_json(item, 1):
            return None
    return frozen


def _fast_names(value: object) -> frozenset[str] | None:
    """Valid names as the frozenset the converter makes, from a frozenset, set,
    list or tuple of plain ``str`` ids; ``None`` for anything else."""
    kind = type(value)
    if kind is not frozenset and kind is not set and kind is not list and kind is not tuple:
        return None
    for name in value:  # type: ignore[attr-defined]
        if type(name) is not str or not 0 < len(name) <= MAX_ID_LENGTH or not name.isascii():
            return None
    return value if kind is frozenset else frozenset(value)  # type: ignore[return-value,call-overload]


def _fast_capacity(value: object) -> Mapping[str, int] | None:
    """A valid capacity as the read-only mapping the converter makes, from a dict
    of plain ``str`` channel ids to ``int`` counts; ``None`` for anything else."""
    if type(value) is not dict:
        return None
    for channel, cap in value.items():
        if (
            type(channel) is not str
            or not 0 < len(channel) <= MAX_ID_LENGTH
            or not channel.isascii()
            or type(cap) is not int
            or not 0 <= cap <= MAX_COUNT
        ):
            return None
    return _ReadOnlyMapping(value)


def _fast_delays(value: object) -> tuple[tuple[str, Any], ...] | None:
    """Valid queue delays as the sorted pairs the converter makes, from a dict of
    plain ``str`` queue ids to ``float`` or ``int`` seconds; ``None`` for
    anything else."""
    kind = type(value)
    if kind is tuple and not value:
        return value  # type: ignore[return-value]
    if kind is not dict:
        return None
    for name, delay in value.items():  # type: ignore[attr-defined]
        if (
            type(name) is not str
            or not 0 < len(name) <= MAX_ID_LENGTH
            or not name.isascii()
            or (type(delay) is not float and type(delay) is not int)
            or not 0.0 <= delay <= MAX_SECONDS  # NaN fails this
        ):
            return None
    return tuple(sorted(value.items()))  # type: ignore[attr-defined]


def _validate(inst: object) -> None:
    """Run the attrs validators of ``inst``'s fields, in field order, as attrs'
    generated ``__init__`` does (and not while validators are disabled)."""
    if attrs.validators.get_disabled():
        return
    for field in attrs.fields(type(inst)):  # type: ignore[arg-type]
        if field.validator is not None:
            field.validator(inst, field, getattr(inst, field.name))


# ------------------------------------------------------------------ values


@attrs.frozen(slots=True)
class Channel:
    """A medium contacts arrive on (voice, chat, email …) and how agents handle it.

    :param name: unique channel name, e.g. ``"voice"``.
    :param kind: whether the customer waits on the line, in a session, or not at all.
    :param default_capacity: how many contacts of this channel an agent handles at
        once when the agent does not say otherwise (an integer in
        ``0..MAX_COUNT``).
    :param unit_cost: units one contact of this channel takes from an agent's
        shared unit budget (only for agents that have a budget; an integer in
        ``0..MAX_COUNT``).
    :param exclusive: a contact on this channel needs an agent with no other work
        and, while held, keeps every other offer away ("a voice call excludes
        other work").
    """

    name: str = attrs.field(converter=plain_str, validator=_id)
    kind: ChannelKind = attrs.field(validator=_enum(ChannelKind))
    default_capacity: int = attrs.field(default=1, converter=plain_number)
    unit_cost: int = attrs.field(
        default=0, converter=plain_number, validator=_count(label="unit cost")
    )
    exclusive: bool = attrs.field(default=False, validator=_flag)

    @default_capacity.validator
    def _check_default_capacity(self, attribute: attrs.Attribute[int], value: object) -> None:
        if int_in(value, 0, MAX_COUNT) is None:
            fail(
                f"channel {show(self.name)}: default capacity",
                f">= 0 and <= {MAX_COUNT} (an integer)",
                value,
            )


#: Channels every router knows without being told. Costs fit a 100-unit budget:
#: a voice call fills it, a chat takes a third, an email a fifth.
BUILTIN_CHANNELS: tuple[Channel, ...] = (
    Channel("voice", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("video", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("callback", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("chat", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=3, unit_cost=33),
    Channel("sms", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("social", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("email", ChannelKind.ASYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("task", ChannelKind.ASYNCHRONOUS, default_capacity=5, unit_cost=10),
)


@attrs.frozen(slots=True)
class RoutingStep:
    """A change to a waiting contact's requirements once it has waited ``after`` seconds.

    Steps relax (or tighten) requirements as time passes, as TaskRouter
    workflows and bullseye routing do. ``after`` counts from the moment the
    contact entered its current queue. Steps apply in order, each on top of
    the requirements left by the previous one.

    :param after: seconds after queuing when the step applies (``0..MAX_SECONDS``).
    :param requirements: skill overrides: a level sets that skill's minimum
        (adding the skill if the contact did not require it); ``None`` drops
        the skill from the requirements.
    :param queues: further queues whose members may now take the contact.
    """

    after: float = attrs.field(converter=plain_number, validator=_seconds(label="'after'"))
    requirements: tuple[tuple[str, int | None], ...] = attrs.field(default=(), converter=_overrides)
    queues: frozenset[str] = attrs.field(
        default=frozenset(), converter=_frozen_names, validator=_names("queue")
    )

    @requirements.validator
    def _check_requirements(self, attribute: attrs.Attribute[Any], value: object) -> None:
        expected = "a mapping of skill name to level or None"
        if not isinstance(value, tuple):
            fail("routing step: requirements", expected, value)
        seen: set[str] = set()
        for name, level in _pairs_of(value, "routing step: requirements", expected):
            _check_skill_name(name, "routing step")
            if level is not None:
                _check_level(level, f"routing step skill {name!r}")
            if name in seen:
                raise InvalidValueError(f"routing step: skill {name!r} is listed twice")
            seen.add(name)


def _check_steps(inst: QueueConfig, attribute: attrs.Attribute[Any], value: object) -> None:
    where = f"queue {show(inst.name)}"
    if not isinstance(value, tuple):
        fail(f"{where}: steps", "a sequence of RoutingStep values", value)
    previous = -1.0
    for step in value:
        if not isinstance(step, RoutingStep):
            raise InvalidValueError(f"{where}: steps must be RoutingStep values, got {show(step)}")
        if step.after <= previous:
            raise InvalidValueError(
                f"{where}: routing steps must have strictly increasing 'after' "
                f"times, got {step.after} after {previous}"
            )
        previous = step.after


def _check_strategy(inst: QueueConfig, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Strategy) and not (
        isinstance(value, str) and value and len(value) <= MAX_ID_LENGTH and is_text(value)
    ):
        raise InvalidValueError(
            f"queue {show(inst.name)}: strategy must be a Strategy or the name of a custom "
            f"strategy, got {show(value)}"
        )


def _calendar(value: object) -> object:
    # The shape a TOML table or JSON object gives (docs/business-hours.md).
    return BusinessHours.from_mapping(value) if isinstance(value, Mapping) else value


def _check_calendar(inst: QueueConfig, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, BusinessHours):
        fail(f"{_owner(inst)}: calendar", "a BusinessHours, a mapping or None", value)


#: The most retries a queue's callbacks may have.
MAX_CALLBACK_RETRIES: Final = 100


def _retries(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return tuple(plain_number(v) for v in value)
    return value


def _check_retries(inst: QueueConfig, attribute: attrs.Attribute[Any], value: object) -> None:
    where = f"{_owner(inst)}: callback_retries"
    if not isinstance(value, tuple):
        fail(where, "a list of seconds", value)
    if len(value) > MAX_CALLBACK_RETRIES:
        fail(where, f"at most {MAX_CALLBACK_RETRIES} delays", f"{len(value)} delays")
    for i, delay in enumerate(value):
        check_seconds(delay, f"{where}[{i}]", positive=True)


def _codes(value: Any) -> Any:
    # A lone string is refused by the validator, not split into letters.
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return value
    try:
        return tuple(plain_str(v) for v in value)
    except Exception:  # an iterable that fails while it is read: refused by the validator
        return value


def _check_codes(inst: QueueConfig, attribute: attrs.Attribute[Any], value: object) -> None:
    where = f"queue {show(inst.name)}: dispositions"
    if not isinstance(value, tuple):
        fail(where, "a sequence of disposition codes", value)
    seen: set[str] = set()
    for code in value:
        check_id(code, f"{where}: code")
        if code in seen:
            raise InvalidValueError(f"{where}: code {code!r} is listed twice")
        seen.add(code)


@attrs.frozen(slots=True)
class QueueConfig:
    """A line of business (sales, support …) and its routing policy.

    Durations are finite seconds in ``0..MAX_SECONDS``; counts are
    integers up to ``MAX_COUNT``.

    :param name: unique queue name.
    :param strategy: how an agent is chosen among eligible ones: a built-in
        :class:`Strategy`, or the name of a custom strategy (an
        :class:`~ccroute.AgentStrategy` the router was given).
    :param service_level_threshold: seconds within which an answer counts as
        meeting the service level (the "20" of "80/20").
    :param service_level_target: share of contacts to answer within the
        threshold (the "80%" of "80/20"), in 0..1.
    :param steps: routing steps, in increasing order of ``after``.
    :param max_size: most contacts that may wait in the queue; a contact that
        arrives at a full queue is refused with a :class:`~ccroute.Refused` event.
    :param offer_timeout: seconds an agent has to accept an offer; ``None``
        waits for ever.
    :param wrap_up: seconds of after-contact work after :meth:`Router.complete`;
        ``None`` keeps the agent in wrap-up until :meth:`Router.end_wrap_up`.
    :param rona_not_ready: whether an agent who lets an offer time out
        ("redirect on no answer") is made not-ready.
    :param blocking: channel-blocking matrix for this queue's contacts:
        ``{"voice": {"chat"}}`` means an agent holding voice work (offered, in
        service or in wrap-up) is not offered this queue's chats. It adds to
        the router's matrix (:class:`~ccroute.RoutingPolicy`). See
        docs/policies/blocking.md.
    :param ring: offer each contact to up to this many eligible agents at
        once (ring-all); the first to accept wins and the other offers are
        withdrawn with :class:`~ccroute.OfferRescinded`.
    :param max_wait: seconds a contact may wait in this queue (counted from
        entering it, offers included) before it overflows or times out;
        ``None`` waits for ever. A contact's own ``max_wait`` overrides it.
    :param overflow: the queue a contact moves to when its maximum wait is
        over (an :class:`~ccroute.Overflowed` event); ``None`` makes it leave
        with :class:`~ccroute.TimedOut`.
    :param overflow_keep_key: whether an overflowed contact keeps its place
        in line (its key) or queues as if it arrived at the overflow.
    :param skip_if_no_agent: while no logged-in agent could ever take a
        waiting contact (see :attr:`Admission.ELIGIBLE`), apply its next
        routing step at once, and when none is left, overflow or time out at
        once (TaskRouter's ``skip_if``, FreeSWITCH's no-agent-no-wait).
    :param admission: when to refuse a contact beyond the size limit.
    :param rejoin_window: seconds during which a customer who abandoned this
        queue and comes back (a contact with the same ``customer_id`` and
        queue) regains the abandoned contact's place in line; ``None`` never.
    :param priority_seconds: a head start, in seconds of waiting, given to
        every contact of this queue: it shifts the queue against others in
        the order an agent serving several queues sees (cross-queue weight);
        within ``±MAX_SECONDS``.
    :param calendar: the queue's business hours (a :class:`~ccroute.BusinessHours`,
        or the mapping :meth:`~ccroute.BusinessHours.from_mapping` takes);
        ``None``: always open. See docs/business-hours.md.
    :param when_closed: what a contact submitted while the calendar is
        closed meets: :attr:`WhenClosed.REFUSE <ccroute.WhenClosed.REFUSE>`
        (a :class:`~ccroute.Refused` event, reason ``"closed"``), ``HOLD``
        (a scheduled callback that enters when the queue opens) or
        ``ACCEPT`` (queued as usual).
    :param callback_retries: seconds to wait before each new attempt at a
        callback whose call was not answered
        (:meth:`Router.callback_unanswered <ccroute.Router.callback_unanswered>`),
        one per retry; when they run out the callback closes unreached.
    :param dispositions: the wrap-up codes an agent may give a contact of
        this queue (:meth:`Router.complete`, :meth:`Router.end_wrap_up`);
        any other code is refused. See docs/crm.md.
    :param disposition_required: whether the agent must give a code before
        the contact's work ends: ``end_wrap_up`` without one (and none given
        at ``complete``) is refused, and so is ``complete`` without one when
        the wrap-up ends with it (``wrap_up=0``). A wrap-up that a timer or a
        log-off ends goes without. Needs ``dispositions``.
    """

    name: str = attrs.field(converter=plain_str, validator=_id)
    strategy: Strategy | str = attrs.field(
        default=Strategy.LONGEST_IDLE, converter=plain_str, validator=_check_strategy
    )
    service_level_threshold: float = attrs.field(
        default=20.0, converter=plain_number, validator=_seconds(label="service level threshold")
    )
    service_level_target: float = attrs.field(default=0.8, converter=plain_number)
    steps: tuple[RoutingStep, ...] = attrs.field(
        default=(), converter=_steps, validator=_check_steps
    )
    max_size: int | None = attrs.field(default=None, converter=plain_number)
    offer_timeout: float | None = attrs.field(
        default=30.0,
        converter=plain_number,
        validator=_seconds(positive=True, optional=True, label="offer timeout"),
    )
    wrap_up: float | None = attrs.field(
        default=0.0, converter=plain_number, validator=_seconds(optional=True, label="wrap-up")
    )
    rona_not_ready: bool = attrs.field(default=True, validator=_flag)
    blocking: tuple[tuple[str, frozenset[str]], ...] = attrs.field(default=(), converter=_blocking)
    ring: int = attrs.field(default=1, converter=plain_number, validator=_count(1))
    max_wait: float | None = attrs.field(
        default=None, converter=plain_number, validator=_seconds(positive=True, optional=True)
    )
    overflow: str | None = attrs.field(default=None, converter=plain_str, validator=_optional_id)
    overflow_keep_key: bool = attrs.field(default=True, validator=_flag)
    skip_if_no_agent: bool = attrs.field(default=False, validator=_flag)
    admission: Admission = attrs.field(default=Admission.ALWAYS, validator=_enum(Admission))
    rejoin_window: float | None = attrs.field(
        default=None, converter=plain_number, validator=_seconds(optional=True)
    )
    priority_seconds: float = attrs.field(
        default=0.0, converter=plain_number, validator=_seconds(signed=True)
    )
    calendar: BusinessHours | None = attrs.field(
        default=None, converter=_calendar, validator=_check_calendar
    )
    when_closed: WhenClosed = attrs.field(default=WhenClosed.REFUSE, validator=_enum(WhenClosed))
    callback_retries: tuple[float, ...] = attrs.field(
        default=(), converter=_retries, validator=_check_retries
    )
    dispositions: tuple[str, ...] = attrs.field(
        default=(), converter=_codes, validator=_check_codes
    )
    disposition_required: bool = attrs.field(default=False, validator=_flag)

    @disposition_required.validator
    def _check_required(self, attribute: attrs.Attribute[bool], value: object) -> None:
        if value is True and not self.dispositions:
            raise InvalidValueError(
                f"queue {show(self.name)}: disposition_required needs a list of dispositions"
            )

    @service_level_target.validator
    def _check_target(self, attribute: attrs.Attribute[float], value: object) -> None:
        number = exact_real(value)
        if number is None or not 0.0 <= number <= 1.0:
            raise InvalidValueError(
                f"queue {show(self.name)}: service level target must be in 0..1, got {show(value)}"
            )

    @max_size.validator
    def _check_max_size(self, attribute: attrs.Attribute[int | None], value: object) -> None:
        if value is not None and int_in(value, 0, MAX_COUNT) is None:
            raise InvalidValueError(
                f"queue {show(self.name)}: max_size must be >= 0 and <= {MAX_COUNT} "
                f"(an integer) or None, got {show(value)}"
            )

    @blocking.validator
    def _check_blocking(self, attribute: attrs.Attribute[Any], value: object) -> None:
        check_blocking(value, f"queue {show(self.name)}")


def _check_capacity(inst: Agent, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    where = f"agent {show(inst.id)}"
    if not isinstance(value, _ReadOnlyMapping):
        fail(f"{where}: capacity", "a mapping of channel name to capacity, or None", value)
    for channel, cap in value.items():
        check_id(channel, f"{where}: capacity channel id")
        _check_count(cap, f"{where}: capacity for channel {channel!r}")


def _check_delays(inst: Agent, attribute: attrs.Attribute[Any], value: object) -> None:
    where = f"agent {show(inst.id)}"
    expected = "a mapping of queue name to seconds"
    if not isinstance(value, tuple):
        fail(f"{where}: queue_delays", expected, value)
    seen: set[str] = set()
    for name, delay in _pairs_of(value, f"{where}: queue_delays", expected):
        check_id(name, f"{where}: delayed queue id")
        check_seconds(delay, f"{where}: delay for queue {name!r}")
        if name in seen:
            raise InvalidValueError(f"{where}: queue {name!r} is delayed twice")
        seen.add(name)


@attrs.frozen(slots=True, init=False)
class Agent:
    """A person or bot who handles contacts.

    :param id: unique agent id.
    :param skills: skill name to proficiency (1..10).
    :param queues: queues the agent is a member of; it is offered contacts of
        these queues only.
    :param capacity: channel name to how many contacts of that channel the agent
        handles at once (``0..MAX_COUNT``). ``None`` gives the agent every
        channel the router knows at its default capacity; a mapping gives only
        the channels it names.
    :param unit_budget: optional budget of units shared across channels (each
        contact takes its channel's ``unit_cost``; ``0..MAX_COUNT``).
    :param queue_delays: queue name to seconds: a contact of that queue is
        offered to this agent only once it has waited that long in the queue
        (Amazon Connect's routing-profile delay), so other agents get it
        first. The delay is a named hold-back, shown by
        :meth:`Router.explain`.
    """

    id: str = attrs.field(converter=plain_str, validator=_id)
    skills: tuple[tuple[str, int], ...] = attrs.field(
        default=(), converter=_skill_levels, validator=_skills(required=False)
    )
    queues: frozenset[str] = attrs.field(
        default=frozenset(), converter=_frozen_names, validator=_names("queue")
    )
    capacity: Mapping[str, int] | None = attrs.field(
        default=None,
        converter=_optional_mapping,
        validator=_check_capacity,
        eq=False,
        hash=False,
    )
    unit_budget: int | None = attrs.field(
        default=None, converter=plain_number, validator=_count(optional=True, label="unit budget")
    )
    queue_delays: tuple[tuple[str, float], ...] = attrs.field(
        default=(), converter=_delays, validator=_check_delays
    )

    def __init__(
        self,
        id: str,
        skills: Mapping[str, int] | Iterable[tuple[str, int]] = (),
        queues: Iterable[str] = frozenset(),
        capacity: Mapping[str, int] | None = None,
        unit_budget: int | None = None,
        queue_delays: Mapping[str, float] | Iterable[tuple[str, float]] = (),
    ) -> None:
        """Build an agent, converting and checking its fields (see the class docs).

        :raises InvalidValueError: a field is refused; the message names the
            agent and the field.
        """
        # The fields' converters and validators, fused: see "fast paths".
        ok = True
        if type(id) is not str:
            id = plain_str(id)
            ok = False
        elif not (0 < len(id) <= MAX_ID_LENGTH and id.isascii()):
            ok = False
        levels = _fast_levels(skills)
        if levels is None:
            levels = _skill_levels(skills)
            ok = False
        names = _fast_names(queues)
        if names is None:
            names = _frozen_names(queues)
            ok = False
        caps: Any = None
        if capacity is not None:
            caps = _fast_capacity(capacity)
            if caps is None:
                caps = _optional_mapping(capacity)
                ok = False
        if unit_budget is not None and not (
            type(unit_budget) is int and 0 <= unit_budget <= MAX_COUNT
        ):
            unit_budget = plain_number(unit_budget)
            ok = False
        delays = _fast_delays(queue_delays)
        if delays is None:
            delays = _delays(queue_delays)
            ok = False
        _put(self, "id", id)
        _put(self, "skills", levels)
        _put(self, "queues", names)
        _put(self, "capacity", caps)
        _put(self, "unit_budget", unit_budget)
        _put(self, "queue_delays", delays)
        if not ok:
            _validate(self)

    @property
    def skill_levels(self) -> dict[str, int]:
        """The skills as a new dict of name to level."""
        return dict(self.skills)


def _check_tier(inst: Contact, attribute: attrs.Attribute[Any], value: object) -> None:
    if type(value) is int and -MAX_TIER <= value <= MAX_TIER:
        return
    if int_in(value, -MAX_TIER, MAX_TIER) is None:
        fail(f"contact {show(inst.id)}: tier", f"an integer in {-MAX_TIER}..{MAX_TIER}", value)


def _check_attributes(inst: Contact, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, _ReadOnlyMapping) and not value._data:
        return
    where = f"contact {show(inst.id)}: attributes"
    if not isinstance(value, _ReadOnlyMapping):
        fail(where, "a mapping of string keys to JSON values", value)
    check_json(value._data, where)


@attrs.frozen(slots=True, init=False)
class Contact:
    """One customer request on one channel, as the application submits it.

    :param id: unique contact id.
    :param channel: channel name (``"voice"``, ``"chat"`` …).
    :param queue: queue name.
    :param requirements: skill name to the minimum level an agent needs.
    :param priority_seconds: a head start in seconds of waiting: the contact is
        ordered as if it had arrived this much earlier (within ``±MAX_SECONDS``).
    :param tier: a strict class above priority (emergencies): a higher tier is
        always served first (an integer within ``±MAX_TIER``).
    :param customer_id: the customer's id, for CRM and exclusions, or ``None``.
    :param attributes: free-form data carried along and shown to the agent:
        JSON values only (strings, 64-bit integers, finite floats, booleans,
        ``None``, lists, and dicts with string keys, at most
        ``MAX_JSON_DEPTH`` deep), so that every store can log them. The
        types are exact: a subclass (an enum member …) would come back from a
        log or snapshot as the plain type, so it is refused.
    :param preferred_agent: an agent to wait for (sticky or last-agent routing).
    :param preferred_wait: seconds to wait for the preferred agent before any
        eligible agent may take the contact.
    :param excluded_agents: agents who must never be offered this contact,
        not even as a last resort (see also :meth:`Router.add_exclusion` for
        exclusions per customer).
    :param max_wait: seconds this contact may wait in a queue before it
        overflows or times out; overrides the queue's ``max_wait``.
    """

    id: str = attrs.field(converter=plain_str, validator=_id)
    channel: str = attrs.field(converter=plain_str, validator=_field_id)
    queue: str = attrs.field(converter=plain_str, validator=_field_id)
    requirements: tuple[tuple[str, int], ...] = attrs.field(
        default=(), converter=_skill_levels, validator=_skills(required=True)
    )
    priority_seconds: float = attrs.field(
        default=0.0, converter=plain_number, validator=_seconds(signed=True)
    )
    tier: int = attrs.field(default=0, converter=plain_number, validator=_check_tier)
    customer_id: str | None = attrs.field(default=None, converter=plain_str, validator=_optional_id)
    attributes: Mapping[str, Any] = attrs.field(
        factory=dict,
        converter=_frozen_mapping,
        validator=_check_attributes,
        eq=False,
        hash=False,
    )
    preferred_agent: str | None = attrs.field(
        default=None, converter=plain_str, validator=_optional_id
    )
    preferred_wait: float = attrs.field(default=0.0, converter=plain_number, validator=_seconds())
    excluded_agents: frozenset[str] = attrs.field(
        default=frozenset(), converter=_frozen_names, validator=_names("excluded agent")
    )
    max_wait: float | None = attrs.field(
        default=None, converter=plain_number, validator=_seconds(positive=True, optional=True)
    )

    def __init__(
        self,
        id: str,
        channel: str,
        queue: str,
        requirements: Mapping[str, int] | Iterable[tuple[str, int]] = (),
        priority_seconds: float = 0.0,
        tier: int = 0,
        customer_id: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        preferred_agent: str | None = None,
        preferred_wait: float = 0.0,
        excluded_agents: Iterable[str] = frozenset(),
        max_wait: float | None = None,
    ) -> None:
        """Build a contact, converting and checking its fields (see the class docs).

        :raises InvalidValueError: a field is refused; the message names the
            contact and the field.
        """
        # The fields' converters and validators, fused: see "fast paths".
        ok = True
        if type(id) is not str:
            id = plain_str(id)
            ok = False
        elif not (0 < len(id) <= MAX_ID_LENGTH and id.isascii()):
            ok = False
        if type(channel) is not str:
            channel = plain_str(channel)
            ok = False
        elif not (0 < len(channel) <= MAX_ID_LENGTH and channel.isascii()):
            ok = False
        if type(queue) is not str:
            queue = plain_str(queue)
            ok = False
        elif not (0 < len(queue) <= MAX_ID_LENGTH and queue.isascii()):
            ok = False
        levels = _fast_levels(requirements)
        if levels is None:
            levels = _skill_levels(requirements)
            ok = False
        if ok and not (
            (type(priority_seconds) is float or type(priority_seconds) is int)
            and -MAX_SECONDS <= priority_seconds <= MAX_SECONDS  # NaN fails this
            and type(tier) is int
            and -MAX_TIER <= tier <= MAX_TIER
            and (customer_id is None or (type(customer_id) is str and _is_id(customer_id)))
            and (
                preferred_agent is None
                or (type(preferred_agent) is str and _is_id(preferred_agent))
            )
            and (type(preferred_wait) is float or type(preferred_wait) is int)
            and 0.0 <= preferred_wait <= MAX_SECONDS
            and (
                max_wait is None
                or (
                    (type(max_wait) is float or type(max_wait) is int)
                    and 0 < max_wait <= MAX_SECONDS
                )
            )
        ):
            ok = False
        if not ok:
            # the numbers' converter (plain_number: as is for a plain int or float)
            priority_seconds = plain_number(priority_seconds)
            tier = plain_number(tier)
            preferred_wait = plain_number(preferred_wait)
            max_wait = plain_number(max_wait)
        # customer_id and preferred_agent: the converter is plain_str (as is for a str).
        if type(customer_id) is not str:
            customer_id = plain_str(customer_id)
        if type(preferred_agent) is not str:
            preferred_agent = plain_str(preferred_agent)
        # None, or attrs' NOTHING as its generated __init__ took it: the factory's {}.
        if attributes is None or attributes is attrs.NOTHING:  # type: ignore[comparison-overlap]
            frozen: Any = _NO_ATTRIBUTES
        else:
            frozen = _fast_attributes(attributes)
            if frozen is None:
                frozen = _frozen_mapping(attributes)
                ok = False
        names = _fast_names(excluded_agents)
        if names is None:
            names = _frozen_names(excluded_agents)
            ok = False
        _put(self, "id", id)
        _put(self, "channel", channel)
        _put(self, "queue", queue)
        _put(self, "requirements", levels)
        _put(self, "priority_seconds", priority_seconds)
        _put(self, "tier", tier)
        _put(self, "customer_id", customer_id)
        _put(self, "attributes", frozen)
        _put(self, "preferred_agent", preferred_agent)
        _put(self, "preferred_wait", preferred_wait)
        _put(self, "excluded_agents", names)
        _put(self, "max_wait", max_wait)
        if not ok:
            _validate(self)

    @property
    def requirement_levels(self) -> dict[str, int]:
        """The requirements as a new dict of skill name to minimum level."""
        return dict(self.requirements)


def contact_with_id(template: Contact, contact_id: str) -> Contact:
    """A contact equal to ``template`` but for its id: ``attrs.evolve(template, id=contact_id)``.

    For callers that build many contacts alike (the simulator's arrival
    streams): every field but the id comes from ``template``, which its own
    construction validated, so only the id is checked; an id the constructor
    would refuse goes through it, and is refused with its message.
    """
    if not _is_id(contact_id):
        return attrs.evolve(template, id=contact_id)
    # The frozen class refuses setattr; attrs' own __init__ sets the slots
    # through object.__setattr__ the same way.
    contact: Contact = object.__new__(Contact)
    put = object.__setattr__
    put(contact, "id", contact_id)
    put(contact, "channel", template.channel)
    put(contact, "queue", template.queue)
    put(contact, "requirements", template.requirements)
    put(contact, "priority_seconds", template.priority_seconds)
    put(contact, "tier", template.tier)
    put(contact, "customer_id", template.customer_id)
    put(contact, "attributes", template.attributes)
    put(contact, "preferred_agent", template.preferred_agent)
    put(contact, "preferred_wait", template.preferred_wait)
    put(contact, "excluded_agents", template.excluded_agents)
    put(contact, "max_wait", template.max_wait)
    return contact
