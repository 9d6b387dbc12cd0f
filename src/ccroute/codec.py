"""The durable encoding of log records: commands and events as JSON, format 4.

This module is the log format (docs/log-format.md): what the stores write
for a :class:`~ccroute.storage.LogRecord` and how they read it back. It is
explicit and versioned, and reading builds nothing but plain values,
the classes of :mod:`ccroute.commands` and :mod:`ccroute.events`, and the
model values (:class:`~ccroute.Contact`, :class:`~ccroute.Agent` …) through
their constructors, so a decoded value is exactly as valid as a constructed
one and a log cannot make its reader run code.

A record is stored as a few plain columns (its ``seq``, ``at``, the command's
name, the contact, agent and queue the command names, the format version, a
checksum) and a JSON body::

    {"command": {...the command's fields...},
     "events": [{"type": "queued", "at": 12.5, ...}, ...]}

- A command is a JSON object of its fields, in the order of the class; its
  name is in its own column (:data:`ccroute.commands.COMMANDS` maps names to
  classes).
- An event is a JSON object of its fields after a ``"type"`` tag, the
  snake-case name of its class; :data:`EVENT_TAGS` is the table of tags. The
  table is part of the format: a tag never changes meaning.
- Model values are JSON objects of their fields; enums are their values;
  sets are sorted arrays; tuples are arrays; a tuple of ``(name, value)``
  pairs (skills, requirements, queue delays, a blocking matrix) is an object
  ``{name: value}`` (an array of ``[name, value]`` pairs when a name repeats);
  a queue's custom strategy is ``{"custom": name}``, a built-in one its value.
- Every field is written, defaults included, so a record reads the same
  whatever later versions choose as defaults. A field missing from a body
  (one written before the field existed) takes the class's default;
  unknown fields are refused.

Encoding refuses, with :class:`~ccroute.errors.InvalidValueError`, anything
JSON cannot give back as it was: contact attributes that are not JSON values
(a ``datetime``, a set, a key that is not a string, an infinite number), an
event time that is not finite, an event class without a tag. Tuples in contact
attributes come back as lists. Decoding refuses, with
:class:`~ccroute.errors.InputError`, a body that is not JSON, a field missing,
unknown or of the wrong type, an unknown tag or command, or a value its
constructor refuses.

Costs (benchmarks/README.md, ``benchmarks/bench_codec.py``): a submit record
(a :class:`~ccroute.commands.Submit` of a typical contact with its
:class:`~ccroute.Queued` and :class:`~ccroute.Offered` events, offer reason
included) encoded in 14 µs and decoded in 29 µs on a busy day, where cattrs
with the json module took 36 and 73 µs. The ``Contact`` constructor and its
validation were more than half of the decoding; since they run in one pass
(:mod:`ccroute.model`, "fast paths") decoding takes about two thirds of that
(27.5 → 18.9 µs, 7 µs of it the constructor, on a loaded 2-core box).
"""

from __future__ import annotations

import enum
import math
import re
import types
import typing
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, Final, NamedTuple, Union

import attrs
import msgspec

from . import commands, events
from ._values import (
    FAULT_DEPTH,
    FAULT_FLOAT,
    FAULT_INT,
    FAULT_KEY,
    FAULT_TEXT,
    MAX_JSON_DEPTH,
    JsonFault,
    json_fault,
    json_path,
    show,
)
from .commands import COMMANDS, Command
from .errors import InputError, InvalidValueError
from .events import Event
from .storage import LogRecord

__all__ = [
    "EVENT_TAGS",
    "FORMAT",
    "EncodedRecords",
    "READABLE_FORMATS",
    "NewerFormatError",
    "PreparedCommand",
    "Row",
    "decode_command",
    "decode_events",
    "decode_record",
    "decode_row",
    "encode_command",
    "encode_events",
    "encode_record",
    "encode_row",
    "key_columns",
    "prepare_command",
    "row_crc",
    "snapshot_crc",
    "tag_of",
]

#: The log format this module writes: the ``version`` of every row it makes.
FORMAT: Final = 4
#: The formats this release reads (format 1, pickles, is migrated, never read:
#: see :func:`ccroute.storage_sqlite.migrate_v1`). Format 2 is format 3 without
#: what business hours, scheduled callbacks and dispositions added: a field it
#: lacks takes its default; format 3 is format 4 without the notes of flows
#: run live, ``flow_started`` and ``flow_advanced`` (docs/log-format.md, "Versions").
READABLE_FORMATS: Final = (2, 3, 4)

#: Every event class by its tag in the log. Part of the format: a tag is
#: never renamed nor given to another class; a new event class adds a tag.
EVENT_TAGS: Final[Mapping[str, type[Event]]] = types.MappingProxyType(
    {
        "queued": events.Queued,
        "refused": events.Refused,
        "offered": events.Offered,
        "offer_timed_out": events.OfferTimedOut,
        "rejected": events.Rejected,
        "offer_rescinded": events.OfferRescinded,
        "accepted": events.Accepted,
        "completed": events.Completed,
        "wrap_up_ended": events.WrapUpEnded,
        "abandoned": events.Abandoned,
        "timed_out": events.TimedOut,
        "overflowed": events.Overflowed,
        "rejoined": events.Rejoined,
        "ramp_up_ended": events.RampUpEnded,
        "transferred": events.Transferred,
        "step_applied": events.StepApplied,
        "preference_expired": events.PreferenceExpired,
        "callback_requested": events.CallbackRequested,
        "callback_scheduled": events.CallbackScheduled,
        "callback_unanswered": events.CallbackUnanswered,
        "callback_closed": events.CallbackClosed,
        "presence_changed": events.PresenceChanged,
        "agent_added": events.AgentAdded,
        "agent_removed": events.AgentRemoved,
        "queue_updated": events.QueueUpdated,
        "agent_updated": events.AgentUpdated,
        "contact_updated": events.ContactUpdated,
        "flow_finished": events.FlowFinished,
        "flow_started": events.FlowStarted,
        "flow_advanced": events.FlowAdvanced,
        "customer_enriched": events.CustomerEnriched,
        "offer_delivered": events.OfferDelivered,
        "history_recorded": events.HistoryRecorded,
    }
)

_TAG_OF: Final[dict[type[Event], str]] = {cls: tag for tag, cls in EVENT_TAGS.items()}


def tag_of(cls: type[Event]) -> str:
    """The tag of an event class in the log (``Queued`` → ``"queued"``).

    :raises InvalidValueError: the class has no tag (it is not in :data:`EVENT_TAGS`).
    """
    try:
        return _TAG_OF[cls]
    except KeyError:
        raise InvalidValueError(
            f"event class {cls.__name__} has no tag in the log format (ccroute.codec.EVENT_TAGS)"
        ) from None


def snake_case(name: str) -> str:
    """``OfferTimedOut`` → ``offer_timed_out``: how a tag is made from a class name."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ---------------------------------------------------------------- field codecs
#
# Each attrs class that appears in a record gets a codec derived once, at
# import, from its fields and their annotations: a msgspec Struct that
# describes its JSON object (decoding checks every field's type in C), a
# function from the object to that Struct (for encoding) and one from the
# decoded Struct back to the object, through its constructor.

_Encode = Callable[[Any], Any]
_Decode = Callable[[Any], Any]


class _Custom(msgspec.Struct, forbid_unknown_fields=True):
    """A queue's custom strategy: ``{"custom": name}``."""

    custom: str


class _Body(msgspec.Struct):
    """The body written for a record (types are checked on decoding only)."""

    command: Any
    events: Any


@attrs.frozen
class _Field:
    """How one field is written (``encode``) and read back (``decode``); ``None``: as is."""

    wire: Any
    encode: _Encode | None
    decode: _Decode | None


def _optional(inner: _Field) -> _Field:
    encode, decode = inner.encode, inner.decode
    return _Field(
        inner.wire | None,
        None if encode is None else (lambda v: None if v is None else encode(v)),
        None if decode is None else (lambda v: None if v is None else decode(v)),
    )


def _not_json(where: str, fault: JsonFault) -> InvalidValueError:
    """The log's refusal of a value that is not a JSON value by the model's rule
    (:func:`ccroute._values.json_fault`): the rule is the model's, the words
    the log's."""
    path, what, part = fault
    at = json_path(where, path)
    if what == FAULT_FLOAT:
        return InvalidValueError(f"{at} is {part!r}: JSON holds finite numbers only")
    if what == FAULT_INT:
        return InvalidValueError(f"{at} is {show(part)}: JSON holds 64-bit integers only")
    if what == FAULT_KEY:
        return InvalidValueError(f"{at}: key {show(part)} is not a string")
    if what == FAULT_DEPTH:
        return InvalidValueError(f"{at}: nested more than {MAX_JSON_DEPTH} deep")
    if what == FAULT_TEXT:
        return InvalidValueError(f"{at} is {show(part)}: JSON holds UTF-8 text only")
    return InvalidValueError(
        f"{at} is a {type(part).__name__}; a logged value must be a JSON value "
        "(str, int, finite float, bool, None, list, dict with string keys)"
    )


def _json_object(where: str) -> _Encode:
    """The encoder of a mapping of names to JSON values (contact attributes, a CRM profile).

    The mapping itself may be any mapping (a contact's is read-only); what it
    holds must be JSON values by the model's rule, which msgspec then writes
    as they are (a tuple as an array)."""

    def encode(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise InvalidValueError(f"{where} must be a mapping, not {type(value).__name__}")
        out: dict[str, Any] = {}
        for key, item in value.items():
            kind = type(item)
            if type(key) is not str:
                raise InvalidValueError(f"{where}: key {show(key)} is not a string")
            # The common case first: flat str/bool/None values need no walk.
            if kind is not str and kind is not bool and item is not None:
                # The object is depth 0, as when the model checks it.
                fault = json_fault(item, 1)
                if fault is not None:
                    raise _not_json(f"{where}[{show(key)}]", fault)
            out[key] = item
        return out

    return encode


def _sorted_names(value: Any) -> list[Any]:
    try:
        return sorted(value)
    except TypeError as error:
        raise InvalidValueError(f"a set of names cannot be logged: {error}") from None


def _pairs(value_field: _Field) -> _Field:
    """A tuple of ``(name, value)`` pairs: an object, or an array of pairs when a name repeats."""
    encode_value, decode_value = value_field.encode, value_field.decode

    def encode(pairs: Any) -> Any:
        try:
            if encode_value is None:
                as_dict = dict(pairs)
            else:
                as_dict = {name: encode_value(v) for name, v in pairs}
        except (TypeError, ValueError) as error:
            raise InvalidValueError(f"pairs of (name, value) expected: {error}") from None
        if len(as_dict) == len(pairs):
            return as_dict
        if encode_value is None:
            return [[name, v] for name, v in pairs]
        return [[name, encode_value(v)] for name, v in pairs]

    def decode(value: Any) -> tuple[tuple[str, Any], ...]:
        items = value.items() if type(value) is dict else value
        if decode_value is None:
            return tuple(items)
        return tuple((name, decode_value(v)) for name, v in items)

    wire = value_field.wire
    return _Field(dict[str, wire] | list[tuple[str, wire]], encode, decode)  # type: ignore[valid-type]


def _each_to_list(encode: _Encode) -> _Encode:
    return lambda v: [encode(x) for x in v]


def _each_to_tuple(decode: _Decode) -> _Decode:
    return lambda v: tuple(decode(x) for x in v)


def _field(tp: Any, where: str) -> _Field:
    """The codec of a field annotated ``tp``."""
    if tp is str or tp is int or tp is bool or tp is float:
        return _Field(tp, None, None)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _Field(tp, None, None)
    if tp is Any:

        def encode_any(value: Any) -> Any:
            fault = json_fault(value)
            if fault is not None:
                raise _not_json(where, fault)
            return value

        return _Field(Any, encode_any, None)
    if typing.get_origin(tp) is typing.Literal and all(type(a) is str for a in typing.get_args(tp)):
        # An event's reason from a closed set is a string in the log, read as
        # any string, as format 2 always read it: the Literal says what the
        # router writes, and a log holding another string still reads (the
        # golden log of format 2 has a preference reason the router never gives).
        return _Field(str, None, None)
    if attrs.has(tp):
        codec = _class_codec(tp)
        return _Field(codec.wire, codec.encode, codec.decode)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(args) == 2:
            return _optional(_field(members[0], where))
        enums = [a for a in members if isinstance(a, type) and issubclass(a, enum.Enum)]
        if len(members) == 2 and len(enums) == 1 and str in members and len(args) == 2:
            # A built-in strategy (an enum) or the name of a custom one.
            (kind,) = enums
            return _Field(
                kind | _Custom,
                lambda v: v if isinstance(v, kind) else _Custom(v),
                lambda v: v if isinstance(v, kind) else v.custom,
            )
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        item_args = typing.get_args(item)
        if typing.get_origin(item) is tuple and len(item_args) == 2 and item_args[0] is str:
            return _pairs(_field(item_args[1], where))
        inner = _field(item, where)
        return _Field(
            tuple[inner.wire, ...],  # type: ignore[name-defined]
            None if inner.encode is None else _each_to_list(inner.encode),
            None if inner.decode is None else _each_to_tuple(inner.decode),
        )
    if origin is frozenset and args and (args[0] is str or issubclass(args[0], enum.Enum)):
        return _Field(frozenset[args[0]], _sorted_names, None)  # type: ignore[valid-type]
    if origin is Mapping or origin is dict:
        key, value = args
        if key is str and value is Any:
            return _Field(dict[str, Any], _json_object(where.rpartition(".")[2]), None)
        if key is str:
            inner = _field(value, where)
            encode = inner.encode
            return _Field(
                dict[str, inner.wire],  # type: ignore[name-defined]
                (lambda v: dict(v.items()))
                if encode is None
                else (lambda v: {k: encode(x) for k, x in v.items()}),
                None,
            )
    raise TypeError(f"{where}: no log encoding for a field of type {tp!r}")


def _wire_field(field: attrs.Attribute[Any], codec: _Field) -> tuple[Any, ...]:
    """The decoding Struct's field: required, or with the class's default."""
    default: Any = field.default
    if default is attrs.NOTHING:
        return (field.name, codec.wire)
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        if default.takes_self:
            return (field.name, codec.wire)
        return (field.name, codec.wire, msgspec.field(default_factory=default.factory))
    return (field.name, codec.wire, default)


class _ClassCodec:
    """How instances of one attrs class are written and read."""

    def __init__(self, cls: type, tag: str | None) -> None:
        self.cls = cls
        self.tag = tag
        hints = typing.get_type_hints(cls)
        fields = attrs.fields(cls)
        for f in fields:
            if not f.init or f.kw_only or f.alias != f.name:
                raise TypeError(f"{cls.__name__}.{f.name}: only plain positional fields are logged")
        names = tuple(f.name for f in fields)
        codecs = [_field(hints[f.name], f"{cls.__name__}.{f.name}") for f in fields]
        self.names = names
        options: dict[str, Any] = {"forbid_unknown_fields": True}
        if tag is not None:
            options.update(tag_field="type", tag=tag)
        # Written: every field, in the class's order. Read: a field the class
        # gives a default may be missing (a record written before the field
        # existed, in an older format) and takes that default.
        self.wire_out: Any = msgspec.defstruct(
            f"{cls.__name__}Out",
            [(name, c.wire) for name, c in zip(names, codecs, strict=True)],
            **options,
        )
        self.wire: Any = msgspec.defstruct(
            f"{cls.__name__}Wire",
            [_wire_field(f, c) for f, c in zip(fields, codecs, strict=True)],
            kw_only=True,
            **options,
        )
        # JSON writes a float that is not finite as null: refuse it here (event
        # times and scores are router output that no constructor validates).
        self.floats = tuple(
            i for i, f in enumerate(fields) if hints[f.name] in (float, float | None)
        )
        self.encode = self._make_encode([c.encode for c in codecs])
        self.decode = self._make_decode([c.decode for c in codecs])

    def _make_encode(self, encoders: Sequence[_Encode | None]) -> Callable[[Any], Any]:
        """The encoder of this class, generated as straight-line code: one
        attribute read per field and a call for the fields that need one,
        about twice as fast as a loop over the fields (benchmarks/bench_codec.py)."""
        if not self.names:
            instance = self.wire_out()
            return lambda obj: instance
        namespace: dict[str, Any] = {
            "_wire": self.wire_out,
            "_isfinite": math.isfinite,
            "_not_finite": self._not_finite,
        }
        lines = [f"def encode_{self.cls.__name__}(obj):"]
        args = []
        for i, (name, encode) in enumerate(zip(self.names, encoders, strict=True)):
            value = f"obj.{name}"
            if i in self.floats:
                lines.append(f"    f{i} = obj.{name}")
                lines.append(f"    if f{i} is not None and not _isfinite(f{i}):")
                lines.append(f"        _not_finite({i}, f{i})")
                value = f"f{i}"
            if encode is not None:
                namespace[f"_e{i}"] = encode
                value = f"_e{i}({value})"
            args.append(value)
        lines.append(f"    return _wire({', '.join(args)})")
        # The names come from the class's attrs fields (identifiers), never from data.
        exec("\n".join(lines), namespace)
        encode_fn: Callable[[Any], Any] = namespace[f"encode_{self.cls.__name__}"]
        return encode_fn

    def _not_finite(self, index: int, value: float) -> None:
        # JSON writes a float that is not finite as null: refuse it.
        raise InvalidValueError(
            f"{self.cls.__name__}.{self.names[index]} is {value!r}: "
            "the log holds finite numbers only"
        )

    def _make_decode(self, decoders: Sequence[_Decode | None]) -> Callable[[Any], Any]:
        """The decoder of this class, generated as the encoder is: the typed
        wire value's fields, converted where a field needs it, into the
        class's constructor (whose validation runs)."""
        namespace: dict[str, Any] = {"_cls": self.cls}
        args = []
        for i, (name, decode) in enumerate(zip(self.names, decoders, strict=True)):
            if decode is None:
                args.append(f"wire.{name}")
            else:
                namespace[f"_d{i}"] = decode
                args.append(f"_d{i}(wire.{name})")
        source = f"def decode_{self.cls.__name__}(wire):\n    return _cls({', '.join(args)})"
        exec(source, namespace)
        decode_fn: Callable[[Any], Any] = namespace[f"decode_{self.cls.__name__}"]
        return decode_fn


_CODECS: dict[type, _ClassCodec] = {}


def _class_codec(cls: type, tag: str | None = None) -> _ClassCodec:
    codec = _CODECS.get(cls)
    if codec is None:
        codec = _CODECS[cls] = _ClassCodec(cls, tag)
    return codec


_EVENT_CODECS: Final = {cls: _class_codec(cls, tag) for tag, cls in EVENT_TAGS.items()}
_EVENT_ENCODERS: Final = {cls: c.encode for cls, c in _EVENT_CODECS.items()}
_EVENT_DECODERS: Final = {c.wire: c.decode for c in _EVENT_CODECS.values()}
_EVENT_WIRE: Final = Union[tuple(c.wire for c in _EVENT_CODECS.values())]  # noqa: UP007
_COMMAND_CODECS: Final = {name: _class_codec(cls) for name, cls in COMMANDS.items()}
_COMMAND_ENCODERS: Final = {c.cls: c.encode for c in _COMMAND_CODECS.values()}

_encoder: Final = msgspec.json.Encoder()
_events_decoder: Final = msgspec.json.Decoder(tuple[_EVENT_WIRE, ...])  # type: ignore[valid-type]
_body_decoders: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    name: msgspec.json.Decoder(
        msgspec.defstruct(
            f"{name}_body",
            [("command", codec.wire), ("events", tuple[_EVENT_WIRE, ...])],  # type: ignore[valid-type]
            forbid_unknown_fields=True,
        )
    )
    for name, codec in _COMMAND_CODECS.items()
}
_command_decoders: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    name: msgspec.json.Decoder(codec.wire) for name, codec in _COMMAND_CODECS.items()
}


# ------------------------------------------------------------------ the API


def _encode_events(batch: Iterable[Event]) -> list[Any]:
    encoders = _EVENT_ENCODERS
    try:
        return [encoders[type(e)](e) for e in batch]
    except KeyError as error:
        cls = error.args[0]
        if isinstance(cls, type) and issubclass(cls, Event):
            tag_of(cls)  # raises, naming the class
        raise InvalidValueError(f"events must be Event instances, not {cls!r}") from None


def _encode_command(command: Command) -> Any:
    try:
        encode = _COMMAND_ENCODERS[type(command)]
    except KeyError:
        raise InvalidValueError(
            f"{type(command).__name__} is not a command of the log (ccroute.commands.COMMANDS)"
        ) from None
    return encode(command)


def _dump(value: Any, what: str, which: object = "") -> bytes:
    """``value`` as JSON; refused as ``f"{what}{which} cannot be logged"`` (the
    message is made only then: this runs for every record)."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidValueError(f"{what}{which} cannot be logged: {error}") from None


def encode_record(record: LogRecord) -> bytes:
    """The JSON body of ``record``: ``{"command": {...}, "events": [...]}``. Cost: see the module docs.

    :raises InvalidValueError: a value the log cannot hold exactly (see the module docs).
    """
    body = _Body(_encode_command(record.command), _encode_events(record.events))
    return _dump(body, "record ", record.seq)


def decode_record(seq: int, at: float, command: str, body: str | bytes) -> LogRecord:
    """Rebuild a record from its columns and body, through the constructors. Cost: see the module docs.

    :raises InputError: an unknown command, a body that is not this command's
        JSON, or a value its constructor refuses (the message says which).
    """
    try:
        decoder = _body_decoders[command]
    except (KeyError, TypeError):
        raise InputError(f"unknown command {command!r}") from None
    try:
        wire = decoder.decode(body)
    except msgspec.DecodeError as error:
        raise InputError(f"the body does not decode: {error}") from None
    try:
        decoders = _EVENT_DECODERS
        return LogRecord(
            seq,
            at,
            _COMMAND_CODECS[command].decode(wire.command),
            tuple([decoders[type(e)](e) for e in wire.events]),
        )
    except Exception as error:  # a constructor's refusal, whatever it raises
        raise InputError(f"the body holds a value that is refused: {error}") from None


def encode_command(command: Command) -> bytes:
    """A command's fields as a JSON object (its name is ``command.name``).

    :raises InvalidValueError: as :func:`encode_record`.
    """
    return _dump(_encode_command(command), f"command {command.name!r}")


def decode_command(name: str, data: str | bytes) -> Command:
    """Undo :func:`encode_command`: the command ``name`` from its JSON fields.

    :raises InputError: as :func:`decode_record`.
    """
    try:
        decoder = _command_decoders[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown command {name!r}") from None
    try:
        command: Command = _COMMAND_CODECS[name].decode(decoder.decode(data))
    except msgspec.DecodeError as error:
        raise InputError(f"command {name!r} does not decode: {error}") from None
    except Exception as error:  # a constructor's refusal, whatever it raises
        raise InputError(f"command {name!r} holds a value that is refused: {error}") from None
    return command


def encode_events(batch: Iterable[Event]) -> bytes:
    """Events as a JSON array of tagged objects.

    :raises InvalidValueError: as :func:`encode_record`.
    """
    return _dump(_encode_events(batch), "events")


def decode_events(data: str | bytes) -> tuple[Event, ...]:
    """Undo :func:`encode_events`.

    :raises InputError: not a JSON array of known, well-formed events.
    """
    try:
        wire = _events_decoder.decode(data)
        decoders = _EVENT_DECODERS
        return tuple([decoders[type(e)](e) for e in wire])
    except msgspec.DecodeError as error:
        raise InputError(f"the events do not decode: {error}") from None
    except Exception as error:  # a constructor's refusal, whatever it raises
        raise InputError(f"the events hold a value that is refused: {error}") from None


# ------------------------------------------------------------------ rows

_KeyColumns = tuple[str | None, str | None, str | None]


def _keys_of(cls: type[Command]) -> Callable[[Any], _KeyColumns]:
    """Which of a command's fields fill the ``contact_id``, ``agent_id`` and ``queue`` columns."""
    if cls is commands.Submit or cls is commands.ScheduleCallback:
        return lambda c: (c.contact.id, None, c.contact.queue)
    if cls is commands.AddAgent:
        return lambda c: (None, c.agent.id, None)
    if cls is commands.AddQueue or cls is commands.UpdateQueue:
        return lambda c: (None, None, c.config.name)
    if cls is commands.UpdateAgent:
        return lambda c: (None, c.agent.id, None)
    if cls is commands.Transfer:
        return lambda c: (c.contact_id, c.agent, c.queue)
    names = {f.name for f in attrs.fields(cls)}
    contact = attrgetter("contact_id") if "contact_id" in names else None
    agent = attrgetter("agent_id") if "agent_id" in names else None
    return lambda c: (
        None if contact is None else contact(c),
        None if agent is None else agent(c),
        None,
    )


_KEYS: Final = {cls: _keys_of(cls) for cls in COMMANDS.values()}


def key_columns(command: Command) -> _KeyColumns:
    """``(contact_id, agent_id, queue)``: what the command names, for the log's key columns.

    A submit names its contact and queue, a transfer its contact and the target
    queue and agent, ``accept`` its contact and agent, ``add_agent`` and
    ``update_agent`` their agent, ``add_queue`` and ``update_queue`` their queue,
    and so on; ``None`` where the command names none (``tick``, ``note``,
    ``add_queues``, ``add_channel``).
    """
    return _KEYS[type(command)](command)


class NewerFormatError(InputError):
    """A row written in a newer format than this release reads (``version`` says which)."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"written in format {version}, newer than this release reads")


class Row(NamedTuple):
    """A log record as the SQLite store keeps it: its columns, in the table's order."""

    seq: int
    at: float
    command: str
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    version: int
    crc: int
    body: str


_header = msgspec.json.Encoder().encode


def row_crc(
    seq: int,
    at: float,
    command: str,
    contact_id: str | None,
    agent_id: str | None,
    queue: str | None,
    version: int,
    body: bytes,
) -> int:
    """CRC-32 of a row: of the JSON array ``[seq, at, command, contact_id, agent_id,
    queue, version]`` (compact, as msgspec writes it), a newline, and the body's UTF-8."""
    header = _header((seq, at, command, contact_id, agent_id, queue, version))
    return zlib.crc32(body, zlib.crc32(header + b"\n"))


def snapshot_crc(seq: int, version: int, state: bytes) -> int:
    """CRC-32 of a snapshot row: of the JSON array ``[seq, version]``, a newline, and the state."""
    return zlib.crc32(state, zlib.crc32(_header((seq, version)) + b"\n"))


class PreparedCommand(NamedTuple):
    """A command encoded and checked before it runs: :func:`prepare_command`."""

    command: Command
    #: The command's JSON object, as the body of its record holds it.
    json: bytes


def prepare_command(command: Command) -> PreparedCommand:
    """Encode ``command`` and check its JSON decodes as this format, before it runs.

    The service calls this before the router changes, so a value the log
    cannot hold is refused while refusing still changes nothing; the JSON is
    then spliced into the record's body (:meth:`EncodedRecords.add`), so the
    command is encoded once.

    :raises InvalidValueError: as :func:`encode_row`, for the command's part.
    """
    data = _dump(_encode_command(command), "command ", repr(command.name))
    _check_parses(_command_decoders[command.name], data)
    return PreparedCommand(command, data)


def _check_parses(decoder: msgspec.json.Decoder[Any], data: bytes) -> None:
    try:
        decoder.decode(data)
    except msgspec.ValidationError as error:
        raise InvalidValueError(f"the log cannot give this value back as it is: {error}") from None


def _row(record: LogRecord, prepared: PreparedCommand | None) -> Row:
    """The row of ``record``; ``prepared``: its command, already encoded and checked."""
    command = record.command
    if prepared is None or prepared.command is not command:
        prepared = prepare_command(command)
    seq = record.seq
    events = _dump(_encode_events(record.events), "record ", seq)
    _check_parses(_events_decoder, events)
    # Byte for byte what encode_record writes (msgspec writes a Struct's
    # fields in order, compact): the golden rows check it.
    body = b"".join((b'{"command":', prepared.json, b',"events":', events, b"}"))
    name = command.name
    contact_id, agent_id, queue = _KEYS[type(command)](command)
    at = float(record.at)  # as the REAL column gives it back, for the checksum
    # row_crc, inline (once per record)
    header = _header((seq, at, name, contact_id, agent_id, queue, FORMAT))
    crc = zlib.crc32(body, zlib.crc32(b"\n", zlib.crc32(header)))
    return Row(seq, at, name, contact_id, agent_id, queue, FORMAT, crc, body.decode())


def encode_row(record: LogRecord) -> Row:
    """The row a store writes for ``record``, its body checked to decode as this format.

    The check parses the body against the format's types (not the
    constructors), so a value the model let through but JSON cannot give back
    with its type (a ``bool`` where an ``int`` is logged …) is refused now,
    not set aside as damaged at the next start. Cost: :func:`encode_record`
    plus a typed parse of the body (about a third of the encoding time of a
    submit record).

    :raises InvalidValueError: as :func:`encode_record`, or the body does not
        decode as this format.
    """
    return _row(record, None)


class EncodedRecords(Sequence[LogRecord]):
    """A batch of log records, each encoded into its :class:`Row` once, as it is added.

    The service builds its group commits in one: a record is encoded (and
    checked) in the call that makes it, its command's JSON taken from the
    check made before the router ran (:func:`prepare_command`), and a store
    that knows this class (:class:`~ccroute.storage.MemoryStorage`,
    :class:`~ccroute.storage_sqlite.SQLiteStorage`) writes :attr:`rows`
    instead of encoding every record again. Any other store sees the sequence
    of :class:`~ccroute.storage.LogRecord` it always did. Rows and records
    cannot disagree: the only way in is :meth:`add`, which makes the row from
    the record.
    """

    __slots__ = ("_records", "_rows")

    def __init__(self) -> None:
        self._records: list[LogRecord] = []
        self._rows: list[Row] = []

    def add(self, record: LogRecord, prepared: PreparedCommand | None = None) -> None:
        """Encode ``record`` and append it; ``prepared``, when it is for this
        record's command (the same object), spares encoding the command again.

        :raises InvalidValueError: as :func:`encode_row`; nothing is appended.
        """
        row = _row(record, prepared)
        self._records.append(record)
        self._rows.append(row)

    @property
    def rows(self) -> Sequence[Row]:
        """The rows, in the records' order."""
        return self._rows

    def __len__(self) -> int:
        return len(self._records)

    @typing.overload
    def __getitem__(self, index: int) -> LogRecord: ...

    @typing.overload
    def __getitem__(self, index: slice) -> Sequence[LogRecord]: ...

    def __getitem__(self, index: int | slice) -> LogRecord | Sequence[LogRecord]:
        return self._records[index]

    def __iter__(self) -> typing.Iterator[LogRecord]:
        return iter(self._records)

    def __repr__(self) -> str:
        return f"EncodedRecords({self._records!r})"


def decode_row(row: Sequence[Any]) -> LogRecord:
    """Check a row (types, version, checksum, key columns) and decode its record.

    :raises InputError: the row is damaged; the message says how, briefly
        (``"checksum mismatch"``, ``"columns disagree with the body: …"`` …).
    """
    seq, at, command, contact_id, agent_id, queue, version, crc, body = row
    if type(version) is int and version > FORMAT:
        raise NewerFormatError(version)
    if type(version) is not int or version not in READABLE_FORMATS:
        raise InputError(f"version {version!r} in a format-{FORMAT} log")
    if type(body) is not str:
        raise InputError(f"body is a {type(body).__name__}, not text")
    if type(at) is not float or type(command) is not str:
        raise InputError("at or command is of the wrong type")
    if row_crc(seq, at, command, contact_id, agent_id, queue, version, body.encode()) != crc:
        raise InputError("checksum mismatch")
    record = decode_record(seq, at, command, body)
    keys = key_columns(record.command)
    if keys != (contact_id, agent_id, queue):
        raise InputError(
            f"columns disagree with the body: (contact_id, agent_id, queue) are "
            f"{(contact_id, agent_id, queue)!r}, the body says {keys!r}"
        )
    return record
