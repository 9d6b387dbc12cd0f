"""Reading a router state document (:mod:`ccroute.snapshot`) back from JSON.

Reading decodes the JSON into builtins (msgspec, which makes nothing else),
then checks every field's type and builds the document's records and,
through their constructors (so their validation runs), the model values.
:func:`check_references` then checks that the records fit together before
:meth:`Router.restore <ccroute.Router.restore>` rebuilds a router from them.
Every refusal is an :class:`~ccroute.InputError` naming the field, e.g.
``snapshot.agents[2].spec.skills``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Container, Iterable
from typing import Any, Final, TypeVar

from ._values import MAX_COUNT, MAX_TIER
from .business_hours import BusinessHours, WhenClosed
from .errors import InputError, InvalidValueError
from .lifecycle import ContactState
from .model import (
    Admission,
    Agent,
    Channel,
    ChannelKind,
    Contact,
    Presence,
    QueueConfig,
    RoutingStep,
    Strategy,
)
from .policies import RampUp, RoutingPolicy
from .snapshot import (
    READABLE_FORMATS,
    AbandonmentRecord,
    AgentRecord,
    ContactRecord,
    Exclusion,
    HandleTimeRecord,
    Key,
    QueueRecord,
    RandomState,
    RejoinRecord,
    RouterState,
    TimerKind,
    TimerRecord,
)

__all__ = ["MODEL_FIELDS", "check_format", "check_references", "read_state"]

# Key sequences and handles are C ``long long`` in the compiled queue.
_MAX_SEQ: Final = 2**62


def read_state(data: object) -> RouterState:
    """The document in ``data`` (snapshot bytes); see :meth:`RouterState.from_bytes
    <ccroute.snapshot.RouterState.from_bytes>`."""
    import msgspec  # on first use: `import ccroute` does not pay for it

    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidValueError(f"a router snapshot is bytes, got {type(data).__name__}")
    data = bytes(data)
    if data[:1] == b"\x80":
        raise InputError(
            "not a ccroute router snapshot this release reads: it is a pickle (formats 1 "
            "and 2, written by older releases), which is never loaded because loading a "
            f"pickle can run code; this release reads JSON snapshots of format(s) "
            f"{_formats()}"
        )
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InputError(f"not a ccroute router snapshot: {exc}") from exc
    if not isinstance(doc, dict) or "format" not in doc:
        raise InputError("not a ccroute router snapshot: not a JSON object with a format")
    check_format(doc["format"])
    return _record(RouterState, _READ_STATE, _STATE_ADDED)(doc, "snapshot")


def check_format(found: object) -> None:
    """Refuse a document format this release does not read, with :class:`~ccroute.InputError`."""
    if type(found) is not int or found not in READABLE_FORMATS:
        raise InputError(
            f"router snapshot format {found!r} is not supported: this release of ccroute "
            f"reads format(s) {_formats()}"
        )


def _formats() -> str:
    return ", ".join(map(str, READABLE_FORMATS))


# ====================================================================== fields

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)
Reader = Callable[[object, str], _T]


def _wrong(where: str, expected: str, value: object) -> InputError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InputError(f"router snapshot: {where} must be {expected}, got {shown}")


def _str(value: object, where: str) -> str:
    if type(value) is not str:
        raise _wrong(where, "a string", value)
    return value


def _int(value: object, where: str) -> int:
    if type(value) is not int:
        raise _wrong(where, "an integer", value)
    return value


def _float(value: object, where: str) -> float:
    # JSON gives back ints written as ints: keep them so, for an exact round trip.
    if type(value) is not float and type(value) is not int:
        raise _wrong(where, "a number", value)
    return value


def _bool(value: object, where: str) -> bool:
    if type(value) is not bool:
        raise _wrong(where, "true or false", value)
    return value


def _any(value: object, where: str) -> object:
    return value


def _optional(read: Reader[_T]) -> Reader[_T | None]:
    def read_optional(value: object, where: str) -> _T | None:
        return None if value is None else read(value, where)

    return read_optional


def _tuple(read: Reader[_T]) -> Reader[tuple[_T, ...]]:
    def read_tuple(value: object, where: str) -> tuple[_T, ...]:
        if type(value) is not list:
            raise _wrong(where, "a list", value)
        return tuple(read(item, f"{where}[{i}]") for i, item in enumerate(value))

    return read_tuple


def _pair(first: Reader[Any], second: Reader[Any]) -> Reader[tuple[Any, Any]]:
    def read_pair(value: object, where: str) -> tuple[Any, Any]:
        if type(value) is not list or len(value) != 2:
            raise _wrong(where, "a list of two items", value)
        return first(value[0], f"{where}[0]"), second(value[1], f"{where}[1]")

    return read_pair


def _enum(cls: type[_E]) -> Reader[_E]:
    def read_enum(value: object, where: str) -> _E:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(repr(m.value) for m in cls)
            raise _wrong(where, f"one of {names}", value) from None

    return read_enum


def _names(value: object, where: str) -> frozenset[str]:
    return frozenset(_tuple(_str)(value, where))


def _dict(read: Reader[_T]) -> Reader[dict[str, _T]]:
    def read_dict(value: object, where: str) -> dict[str, _T]:
        if type(value) is not dict:
            raise _wrong(where, "an object", value)
        return {key: read(item, f"{where}.{key}") for key, item in value.items()}

    return read_dict


def _key(value: object, where: str) -> Key:
    if type(value) is not list or len(value) != 3:
        raise _wrong(where, "a key [-tier, time, sequence]", value)
    return (
        _int(value[0], f"{where}[0]"),
        _float(value[1], f"{where}[1]"),
        _int(value[2], f"{where}[2]"),
    )


def _fields(
    value: object,
    where: str,
    readers: dict[str, Reader[Any]],
    *,
    required: bool = True,
    optional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Read a JSON object field by field; unknown fields are refused, and
    missing ones too unless ``required`` is false or they are ``optional``
    (then they keep the constructor's default)."""
    if type(value) is not dict:
        raise _wrong(where, "an object", value)
    for name in value:
        if name not in readers:
            raise InputError(f"router snapshot: {where} has an unknown field {name!r}")
    out: dict[str, Any] = {}
    for name, read in readers.items():
        if name in value:
            out[name] = read(value[name], f"{where}.{name}")
        elif required and name not in optional:
            raise InputError(f"router snapshot: {where} has no field {name!r}")
    return out


def _build(cls: Callable[..., _T], fields: dict[str, Any], where: str) -> _T:
    """A model value through its constructor, whose refusal is bad input here."""
    try:
        return cls(**fields)
    except (InvalidValueError, TypeError, ValueError) as exc:
        raise InputError(f"router snapshot: {where}: {exc}") from exc


def _model(cls: Callable[..., _T], readers: dict[str, Reader[Any]]) -> Reader[_T]:
    def read_model(value: object, where: str) -> _T:
        return _build(cls, _fields(value, where, readers, required=False), where)

    return read_model


_CHANNEL: Final[dict[str, Reader[Any]]] = {
    "name": _str,
    "kind": _enum(ChannelKind),
    "default_capacity": _int,
    "unit_cost": _int,
    "exclusive": _bool,
}
_STEP: Final[dict[str, Reader[Any]]] = {
    "after": _float,
    "requirements": _tuple(_pair(_str, _optional(_int))),
    "queues": _names,
}
_BLOCKING: Final = _tuple(_pair(_str, _names))
_HOURS: Final = _tuple(_pair(_str, _tuple(_str)))
_CALENDAR: Final[dict[str, Reader[Any]]] = {
    "timezone": _str,
    "weekly": _HOURS,
    "holidays": _names,
    "special": _HOURS,
}
_QUEUE_CONFIG: Final[dict[str, Reader[Any]]] = {
    "name": _str,
    # read apart: a Strategy value or a custom strategy's name (QueueRecord.custom_strategy)
    "strategy": _str,
    "service_level_threshold": _float,
    "service_level_target": _float,
    "steps": _tuple(_model(RoutingStep, _STEP)),
    "max_size": _optional(_int),
    "offer_timeout": _optional(_float),
    "wrap_up": _optional(_float),
    "rona_not_ready": _bool,
    "blocking": _BLOCKING,
    "ring": _int,
    "max_wait": _optional(_float),
    "overflow": _optional(_str),
    "overflow_keep_key": _bool,
    "skip_if_no_agent": _bool,
    "admission": _enum(Admission),
    "rejoin_window": _optional(_float),
    "priority_seconds": _float,
    "calendar": _optional(_model(BusinessHours, _CALENDAR)),
    "when_closed": _enum(WhenClosed),
    "callback_retries": _tuple(_float),
    "dispositions": _tuple(_str),
    "disposition_required": _bool,
}
_LEVELS: Final = _tuple(_pair(_str, _int))
_AGENT: Final[dict[str, Reader[Any]]] = {
    "id": _str,
    "skills": _LEVELS,
    "queues": _names,
    "capacity": _optional(_dict(_int)),
    "unit_budget": _optional(_int),
    "queue_delays": _tuple(_pair(_str, _float)),
}
_CONTACT: Final[dict[str, Reader[Any]]] = {
    "id": _str,
    "channel": _str,
    "queue": _str,
    "requirements": _LEVELS,
    "priority_seconds": _float,
    "tier": _int,
    "customer_id": _optional(_str),
    "attributes": _dict(_any),
    "preferred_agent": _optional(_str),
    "preferred_wait": _float,
    "excluded_agents": _names,
    "max_wait": _optional(_float),
}
_RAMP_UP: Final[dict[str, Reader[Any]]] = {
    "seconds": _optional(_float),
    "accepted": _optional(_int),
}
_POLICY: Final[dict[str, Reader[Any]]] = {
    "blocking": _BLOCKING,
    "reserve_for": _names,
    "ramp_up": _optional(_model(RampUp, _RAMP_UP)),
}
#: The model classes a document holds, and the fields read for each: a field
#: added to one of them must be added here too (a test holds them together).
MODEL_FIELDS: Final[dict[type, dict[str, Reader[Any]]]] = {
    Channel: _CHANNEL,
    RoutingStep: _STEP,
    QueueConfig: _QUEUE_CONFIG,
    Agent: _AGENT,
    Contact: _CONTACT,
    RampUp: _RAMP_UP,
    RoutingPolicy: _POLICY,
    BusinessHours: _CALENDAR,
}


def _read_queue(value: object, where: str) -> QueueRecord:
    fields = _fields(
        value,
        where,
        {"config": _dict(_any), "custom_strategy": _bool, "last_agent": _optional(_str)},
    )
    config = _fields(fields["config"], f"{where}.config", _QUEUE_CONFIG, required=False)
    if "strategy" in config and not fields["custom_strategy"]:
        config["strategy"] = _enum(Strategy)(config["strategy"], f"{where}.config.strategy")
    fields["config"] = _build(QueueConfig, config, f"{where}.config")
    return QueueRecord(**fields)


_READ_RANDOM: Final = {"version": _int, "internal": _tuple(_int), "gauss_next": _optional(_float)}
_READ_AGENT: Final[dict[str, Reader[Any]]] = {
    "spec": _model(Agent, _AGENT),
    "presence": _enum(Presence),
    "capacity": _LEVELS,
    "idle_since": _float,
    "handled": _int,
    "rejected": _tuple(_str),
    "ramping": _bool,
    "ramp_left": _optional(_int),
}
_READ_CONTACT: Final[dict[str, Reader[Any]]] = {
    "spec": _model(Contact, _CONTACT),
    "state": _enum(ContactState),
    "queue": _str,
    "channel": _str,
    "base": _LEVELS,
    "requirements": _LEVELS,
    "extra_queues": _tuple(_str),
    "key": _key,
    "arrived_at": _float,
    "entered_at": _float,
    "steps_applied": _int,
    "agent": _optional(_str),
    "also": _tuple(_str),
    "target": _optional(_str),
    "rejected_by": _tuple(_str),
    "accepted_at": _float,
    "completed_at": _float,
    "timeout_at": _optional(_float),
    "overdue": _bool,
    "fled": _optional(_pair(_float, _tuple(_str))),
    "attempts": _int,
    "disposition": _optional(_str),
}
_READ_TIMER: Final[dict[str, Reader[Any]]] = {
    "due": _float,
    "kind": _enum(TimerKind),
    "contact": _optional(_str),
    "agent": _optional(_str),
}
_READ_EXCLUSION: Final[dict[str, Reader[Any]]] = {"customer": _str, "agents": _tuple(_str)}
_READ_REJOIN: Final[dict[str, Reader[Any]]] = {
    "customer": _str,
    "queue": _str,
    "key": _key,
    "until": _float,
    "contact": _str,
}

_READ_HANDLE_TIME: Final[dict[str, Reader[Any]]] = {
    "queue": _str,
    "channel": _str,
    "count": _int,
    "mean": _float,
}

_READ_ABANDONMENT: Final[dict[str, Reader[Any]]] = {
    "queue": _str,
    "channel": _str,
    "abandoned": _float,
    "waited": _float,
}


#: Fields added to the state document after it was first written, with a
#: default: a document written before them still reads.
_STATE_ADDED: Final = frozenset({"epoch", "unreached", "handle_times", "abandonment"})
_CONTACT_ADDED: Final = frozenset({"attempts", "disposition"})


def _record(
    cls: Callable[..., _T], readers: dict[str, Reader[Any]], optional: frozenset[str] = frozenset()
) -> Reader[_T]:
    """A record whose fields are all required but the ``optional`` ones (added
    later, with a default: a document written before them still reads)."""

    def read_record(value: object, where: str) -> _T:
        return cls(**_fields(value, where, readers, optional=optional))

    return read_record


_READ_STATE: Final[dict[str, Reader[Any]]] = {
    "format": _int,
    "now": _float,
    "seq": _int,
    "submitted": _int,
    "completed": _int,
    "abandoned": _int,
    "timed_out": _int,
    "strategy_failures": _int,
    "offer_reasons": _bool,
    "random": _record(RandomState, _READ_RANDOM),
    "policy": _model(RoutingPolicy, _POLICY),
    "channels": _tuple(_model(Channel, _CHANNEL)),
    "skills": _tuple(_str),
    "queues": _tuple(_read_queue),
    "agents": _tuple(_record(AgentRecord, _READ_AGENT)),
    "contacts": _tuple(_record(ContactRecord, _READ_CONTACT, _CONTACT_ADDED)),
    "timers": _tuple(_record(TimerRecord, _READ_TIMER)),
    "exclusions": _tuple(_record(Exclusion, _READ_EXCLUSION)),
    "rejoins": _tuple(_record(RejoinRecord, _READ_REJOIN)),
    "kept_free": _tuple(_str),
    "lift_pending": _bool,
    "epoch": _float,
    "unreached": _int,
    "handle_times": _tuple(_record(HandleTimeRecord, _READ_HANDLE_TIME)),
    "abandonment": _tuple(_record(AbandonmentRecord, _READ_ABANDONMENT)),
}


# ============================================================ cross-checks


def check_references(state: RouterState) -> None:
    """Refuse, with :class:`~ccroute.InputError`, a document whose records do not
    fit together: duplicate ids, names of channels, queues, agents or contacts
    it does not hold, timers of the wrong kind for their owner, counts and
    keys outside what the compiled queue holds. Routing invariants (capacity
    not exceeded, reservations only for logged-in agents ...) are the
    writer's to keep: :meth:`Router.state <ccroute.Router.state>` keeps them.
    """
    check_format(state.format)
    channels = _unique((c.name for c in state.channels), "channel")
    skills = set(_unique(state.skills, "skill"))
    queues = {r.config.name: r for r in state.queues}
    _unique((r.config.name for r in state.queues), "queue")
    agents = {r.spec.id: r for r in state.agents}
    _unique((r.spec.id for r in state.agents), "agent")
    contacts = {r.spec.id: r for r in state.contacts}
    _unique((r.spec.id for r in state.contacts), "contact")

    def known(names: Iterable[str], among: Container[str], what: str) -> None:
        for name in names:
            if name not in among:
                raise InputError(f"router snapshot: {what} names unknown {name!r}")

    def blocking(matrix: tuple[tuple[str, frozenset[str]], ...], what: str) -> None:
        for holding, blocked in matrix:
            known([holding, *sorted(blocked)], channels, f"{what} blocking (channel)")

    blocking(state.policy.blocking, "the routing policy")
    known(sorted(state.policy.reserve_for), channels, "the routing policy reserve_for (channel)")
    for record in state.queues:
        config = record.config
        where = f"queue {config.name!r}"
        for step in config.steps:
            known(sorted(step.queues), queues, f"{where} routing step (queue)")
        if config.overflow is not None:
            known([config.overflow], queues, f"{where} overflow (queue)")
        blocking(config.blocking, where)
        if record.custom_strategy != isinstance(config.strategy, str):
            raise InputError(
                f"router snapshot: {where}: custom_strategy disagrees with its strategy"
            )
    for agent in state.agents:
        where = f"agent {agent.spec.id!r}"
        known(sorted(agent.spec.queues), queues, f"{where} (queue)")
        known([name for name, _ in agent.spec.queue_delays], queues, f"{where} delay (queue)")
        known([name for name, _ in agent.spec.skills], skills, f"{where} (skill)")
        if agent.spec.capacity is not None:
            known(sorted(agent.spec.capacity), channels, f"{where} spec capacity (channel)")
        names = [name for name, _ in agent.capacity]
        if sorted(names) != sorted(channels):
            raise InputError(
                f"router snapshot: {where} capacity must list every channel once, lists {names}"
            )
        for name, n in agent.capacity:
            _bounded(n, 0, MAX_COUNT, f"{where} capacity for {name!r}")
        _bounded(agent.handled, 0, MAX_COUNT, f"{where} handled")
        known(agent.rejected, contacts, f"{where} rejected (contact)")
    held = {
        ContactState.OFFERED,
        ContactState.IN_SERVICE,
        ContactState.WRAP_UP,
    }
    for contact in state.contacts:
        where = f"contact {contact.spec.id!r}"
        known([contact.queue, *contact.extra_queues], queues, f"{where} (queue)")
        known([contact.channel], channels, f"{where} (channel)")
        holders = [*([] if contact.agent is None else [contact.agent]), *contact.also]
        known(holders, agents, f"{where} holder (agent)")
        if contact.target is not None:
            known([contact.target], agents, f"{where} target (agent)")
        if contact.state in (ContactState.WAITING, ContactState.SCHEDULED):
            if holders:
                raise InputError(f"router snapshot: {where} is waiting but held by {holders}")
        elif contact.state in held:
            if contact.agent is None or len(set(holders)) != len(holders):
                raise InputError(f"router snapshot: {where} is {contact.state.value}: bad holders")
            if contact.also and contact.state is not ContactState.OFFERED:
                raise InputError(f"router snapshot: {where} rings several agents, not offered")
        else:
            raise InputError(f"router snapshot: {where} is {contact.state.value}, not live")
    owners: set[tuple[str, str, TimerKind]] = set()
    for timer in state.timers:
        owner: tuple[str, str, TimerKind]
        if timer.kind is TimerKind.RAMP_UP:
            if timer.contact is not None or timer.agent not in agents:
                raise InputError(f"router snapshot: ramp-up timer of unknown agent {timer.agent!r}")
            owner = ("agent", timer.agent, timer.kind)
        else:
            if timer.agent is not None or timer.contact not in contacts:
                raise InputError(
                    f"router snapshot: {timer.kind.value} timer of unknown contact {timer.contact!r}"
                )
            contact = contacts[timer.contact]
            if not _timer_fits(timer.kind, contact, queues[contact.queue].config):
                raise InputError(
                    f"router snapshot: {timer.kind.value} timer of contact {timer.contact!r}, "
                    f"which is {contact.state.value}"
                )
            owner = ("contact", timer.contact, timer.kind)
        if owner in owners:
            raise InputError(f"router snapshot: two {timer.kind.value} timers of {owner[1]!r}")
        owners.add(owner)
    for contact in state.contacts:
        due = ("contact", contact.spec.id, TimerKind.CALLBACK)
        if contact.state is ContactState.SCHEDULED and due not in owners:
            raise InputError(f"router snapshot: contact {contact.spec.id!r} is scheduled, no timer")
        _bounded(contact.attempts, 0, MAX_COUNT, f"contact {contact.spec.id!r} attempts")
    _unique((e.customer for e in state.exclusions), "exclusion customer")
    _unique((f"{r.customer}/{r.queue}" for r in state.rejoins), "rejoin place")
    known(state.kept_free, agents, "kept_free (agent)")
    _unique((f"{r.queue}/{r.channel}" for r in state.handle_times), "handle time of")
    for learned in state.handle_times:
        where = f"handle time of {learned.queue!r} on {learned.channel!r}"
        known([learned.queue], queues, f"{where} (queue)")
        known([learned.channel], channels, f"{where} (channel)")
        _bounded(learned.count, 1, _MAX_SEQ, f"{where}: count")
        if not 0 <= learned.mean < math.inf:
            raise InputError(f"router snapshot: {where}: mean {learned.mean!r} is not >= 0")
    _unique((f"{r.queue}/{r.channel}" for r in state.abandonment), "abandonment of")
    for learned_rate in state.abandonment:
        where = f"abandonment of {learned_rate.queue!r} on {learned_rate.channel!r}"
        known([learned_rate.queue], queues, f"{where} (queue)")
        known([learned_rate.channel], channels, f"{where} (channel)")
        for name in ("abandoned", "waited"):
            value = getattr(learned_rate, name)
            if not 0 <= value < math.inf:
                raise InputError(f"router snapshot: {where}: {name} {value!r} is not >= 0")
    _bounded(state.seq, 0, _MAX_SEQ, "seq")
    for key in [c.key for c in state.contacts] + [r.key for r in state.rejoins]:
        _bounded(key[0], -MAX_TIER, MAX_TIER, "a key's -tier")
        if key[2] >= state.seq or key[2] < 0:
            raise InputError(f"router snapshot: seq {state.seq} is not above the keys' sequences")
    if any(a.ramping for a in state.agents) and state.policy.ramp_up is None:
        raise InputError("router snapshot: an agent ramps up without a ramp-up policy")


def _bounded(value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        raise InputError(f"router snapshot: {what} is {value}, outside {low}..{high}")


def _timer_fits(kind: TimerKind, contact: ContactRecord, config: QueueConfig) -> bool:
    if (kind is TimerKind.CALLBACK) != (contact.state is ContactState.SCHEDULED):
        return False
    if kind is TimerKind.OFFER:
        return contact.state is ContactState.OFFERED
    if kind is TimerKind.WRAP_UP:
        return contact.state is ContactState.WRAP_UP
    if kind is TimerKind.STEP:
        return contact.steps_applied < len(config.steps) and contact.state in (
            ContactState.WAITING,
            ContactState.OFFERED,
        )
    return True


def _unique(names: Iterable[str], what: str) -> list[str]:
    seen: list[str] = []
    found: set[str] = set()
    for name in names:
        if name in found:
            raise InputError(f"router snapshot: {what} {name!r} is listed twice")
        found.add(name)
        seen.append(name)
    return seen
