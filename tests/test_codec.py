"""The log format's codec: every record comes back equal, nothing else gets in.

Round trips for every command and event class (samples from the golden
records of tests/golden/v2), the tag table, what encoding refuses (values JSON
cannot give back as they were) and what decoding refuses (anything that is
not a well-formed record of this format, or that a constructor refuses).
The committed golden files are read in tests/test_golden.py.
"""

from __future__ import annotations

import enum
import inspect
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccroute import Agent, Channel, ChannelKind, Contact, QueueConfig, RoutingStep, Strategy, codec
from ccroute import events as events_module
from ccroute.commands import COMMANDS, AddAgent, AddQueue, Submit, Tick, Transfer
from ccroute.errors import InputError, InvalidValueError
from ccroute.events import Event, Offered, OfferReason, Queued, StepApplied
from ccroute.storage import LogRecord

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden" / "v2"))
from records import RECORDS

SAMPLE_EVENTS = {type(e): e for r in RECORDS for e in r.events}
SAMPLE_COMMANDS = {r.command.name: r.command for r in RECORDS}


def event_classes() -> list[type[Event]]:
    """Every event class ccroute defines."""
    return [
        cls
        for _, cls in inspect.getmembers(events_module, inspect.isclass)
        if issubclass(cls, Event) and cls is not Event
    ]


# -- the tag table ---------------------------------------------------------------


def test_every_event_class_has_a_tag() -> None:
    missing = [cls.__name__ for cls in event_classes() if cls not in codec.EVENT_TAGS.values()]
    assert missing == [], (
        f"event classes without a tag in ccroute.codec.EVENT_TAGS: {missing}. A new event "
        "changes the log format: give it a tag, a new format version and golden files "
        "(docs/log-format.md, 'Versions')"
    )


def test_tags_are_the_snake_case_class_names_and_unique() -> None:
    for tag, cls in codec.EVENT_TAGS.items():
        assert tag == codec.snake_case(cls.__name__)
        assert codec.tag_of(cls) == tag
    assert len(set(codec.EVENT_TAGS.values())) == len(codec.EVENT_TAGS)
    assert codec.snake_case("OfferTimedOut") == "offer_timed_out"


def test_a_class_without_a_tag_is_refused_by_name() -> None:
    @attrs.frozen
    class Sneaky(Event):
        pass

    with pytest.raises(InvalidValueError, match="event class Sneaky has no tag"):
        codec.encode_events([Sneaky(1.0)])


# -- round trips -------------------------------------------------------------------


@pytest.mark.parametrize("cls", sorted(SAMPLE_EVENTS, key=lambda c: c.__name__), ids=str)
def test_every_event_comes_back_equal(cls: type[Event]) -> None:
    event = SAMPLE_EVENTS[cls]
    data = codec.encode_events([event])
    assert msgspec.json.decode(data)[0]["type"] == codec.tag_of(cls)
    (back,) = codec.decode_events(data)
    assert back == event
    assert type(back) is cls
    assert attrs.astuple(back) == attrs.astuple(event)  # eq=False fields too


@pytest.mark.parametrize("name", sorted(SAMPLE_COMMANDS))
def test_every_command_comes_back_equal(name: str) -> None:
    command = SAMPLE_COMMANDS[name]
    back = codec.decode_command(name, codec.encode_command(command))
    assert back == command
    assert _every_field(back) == _every_field(command)  # eq=False fields too


def _every_field(value: Any) -> Any:
    """A value with every attrs field, eq=False ones included (attributes,
    capacity), as plain data; sets compare as sets (a repr would depend on
    their iteration order, which the order of insertion can change)."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            {f.name: _every_field(getattr(value, f.name)) for f in attrs.fields(type(value))},
        )
    if isinstance(value, (set, frozenset)):
        return frozenset(_every_field(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _every_field(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(_every_field(v) for v in value)
    return value


def test_a_submit_record_comes_back_through_the_constructors() -> None:
    record = next(r for r in RECORDS if r.name == "submit")
    body = codec.encode_record(record)
    back = codec.decode_record(record.seq, record.at, "submit", body)
    assert back == record
    assert isinstance(back.command, Submit)
    contact = back.command.contact
    # Read-only, like a constructed contact's: not a dict that can be changed.
    assert not isinstance(contact.attributes, dict)
    with pytest.raises(TypeError):
        contact.attributes["x"] = 1  # type: ignore[index]
    assert type(contact.requirements) is tuple
    assert type(contact.excluded_agents) is frozenset


_ids = st.text(alphabet="abcxyz0123", min_size=1, max_size=6)
_floats = st.floats(allow_nan=False, allow_infinity=False)


@given(
    at=_floats,
    contact_id=_ids,
    requirements=st.lists(st.tuples(_ids, st.integers(1, 10)), max_size=3),
    queues=st.frozensets(_ids, max_size=3),
    score=st.none() | _floats,
)
def test_floats_names_and_sets_come_back_exactly(
    at: float,
    contact_id: str,
    requirements: list[tuple[str, int]],
    queues: frozenset[str],
    score: float | None,
) -> None:
    events = (
        StepApplied(at, contact_id, "q", 1, tuple(requirements), queues),
        Offered(
            at, contact_id, "a", "q", "voice", None, OfferReason("x", "agent", 1, score, None, 0)
        ),
    )
    back = codec.decode_events(codec.encode_events(events))
    assert back == events
    assert [math.copysign(1, e.at) for e in back] == [math.copysign(1, e.at) for e in events]


def test_pairs_with_a_repeated_name_are_written_as_pairs() -> None:
    event = StepApplied(1.0, "c", "q", 0, (("en", 3), ("en", 4)), frozenset())
    data = codec.encode_events([event])
    assert b'"requirements":[["en",3],["en",4]]' in data
    assert codec.decode_events(data) == (event,)
    unique = attrs.evolve(event, requirements=(("en", 3), ("fr", 4)))
    assert b'"requirements":{"en":3,"fr":4}' in codec.encode_events([unique])


def test_a_custom_strategy_is_told_from_a_built_in_one_of_the_same_name() -> None:
    custom = AddQueue(QueueConfig("q", strategy="longest-idle"))
    built_in = AddQueue(QueueConfig("q", strategy=Strategy.LONGEST_IDLE))
    assert b'"strategy":{"custom":"longest-idle"}' in codec.encode_command(custom)
    assert b'"strategy":"longest-idle"' in codec.encode_command(built_in)
    assert codec.decode_command("add_queue", codec.encode_command(custom)) == custom
    back = codec.decode_command("add_queue", codec.encode_command(built_in))
    assert isinstance(back, AddQueue)
    assert back.config.strategy is Strategy.LONGEST_IDLE


def test_model_values_are_plain_json() -> None:
    agent = Agent("ann", skills={"fr": 4, "en": 8}, queues={"s", "b"}, capacity={"chat": 2})
    assert msgspec.json.decode(codec.encode_command(AddAgent(agent))) == {
        "agent": {
            "id": "ann",
            "skills": {"en": 8, "fr": 4},
            "queues": ["b", "s"],
            "capacity": {"chat": 2},
            "unit_budget": None,
            "queue_delays": {},
        },
        "presence": "offline",
    }
    step = RoutingStep(30.0, {"fr": None}, {"b", "a"})
    config = msgspec.json.decode(codec.encode_command(AddQueue(QueueConfig("q", steps=(step,)))))
    assert config["config"]["steps"] == [
        {"after": 30.0, "requirements": {"fr": None}, "queues": ["a", "b"]}
    ]
    channel = Channel("w", ChannelKind.SEMI_SYNCHRONOUS)
    assert msgspec.json.decode(codec.encode_command(COMMANDS["add_channel"](channel))) == {
        "channel": {
            "name": "w",
            "kind": "semi-synchronous",
            "default_capacity": 1,
            "unit_cost": 0,
            "exclusive": False,
        }
    }


def test_a_field_missing_from_an_older_body_takes_its_default() -> None:
    # As a record written before Transfer had keep_key would read.
    back = codec.decode_command(
        "transfer", b'{"contact_id":"c1","queue":"q","requirements":null,"agent":null}'
    )
    assert back == Transfer("c1", queue="q")


# -- what encoding refuses ---------------------------------------------------------


def contact_with(attributes: Any) -> Submit:
    """A submit whose contact carries ``attributes``, set past the constructor."""
    contact = Contact("c1", "voice", "q")
    object.__setattr__(contact, "attributes", attributes)
    return Submit(contact)


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"a": float("inf")}, r"attributes\['a'\] is inf: JSON holds finite numbers only"),
        ({"a": [1, float("nan")]}, r"attributes\['a'\]\[1\] is nan"),
        ({1: "x"}, r"attributes: key 1 is not a string"),
        ({"a": {2: "x"}}, r"attributes\['a'\]: key 2 is not a string"),
        ({"a": b"bytes"}, r"attributes\['a'\] is a bytes; a logged value must be a JSON value"),
        ({"a": {"b"}}, r"attributes\['a'\] is a set"),
        ({"a": Strategy.RANDOM}, r"attributes\['a'\] is a Strategy"),
        ("not a mapping", r"attributes must be a mapping, not str"),
    ],
)
def test_attributes_json_cannot_give_back_are_refused(attributes: Any, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        codec.encode_command(contact_with(attributes))


class Colour(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    FIVE = 5


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.sampled_from([Colour.RED, Level.FIVE, b"x", {1, 2}, Strategy.RANDOM, object()]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(st.one_of(st.text(max_size=2), st.integers(0, 2)), inner, max_size=3),
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(max_size=3), JSON_VALUES, max_size=3))
def test_the_log_and_the_model_hold_the_same_attributes(attributes: dict[str, Any]) -> None:
    # One rule (ccroute._values.json_fault): what the model accepts the log
    # writes and reads back, and what it refuses the log refuses too.
    try:
        Contact("c1", "voice", "q", attributes=attributes)
    except InvalidValueError:
        with pytest.raises(InvalidValueError):
            codec.encode_command(contact_with(attributes))
    else:
        command = contact_with(attributes)
        back = codec.decode_command("submit", codec.encode_command(command))
        assert isinstance(back, Submit)
        assert msgspec.json.encode(dict(back.contact.attributes)) == msgspec.json.encode(attributes)


@pytest.mark.parametrize(
    ("value", "model", "log"),
    [
        (Colour.RED, r"must be a plain str, not a Colour", r"is a Colour; a logged value"),
        (Level.FIVE, r"must be a plain int, not a Level", r"is a Level; a logged value"),
        (
            2**63,
            r"must be an integer within a signed 64-bit range",
            r"is 9223372036854775808: JSON holds 64-bit",
        ),
        ([[[[1]]]], None, None),
    ],
)
def test_str_and_int_subclasses_are_not_json_values(
    value: Any, model: str | None, log: str | None
) -> None:
    # An enum member would come back from the log as a plain str or int.
    attributes = {"a": value}
    if model is None:
        Contact("c1", "voice", "q", attributes=attributes)
        codec.encode_command(contact_with(attributes))
        return
    with pytest.raises(InvalidValueError, match=rf"attributes\['a'\] {model}"):
        Contact("c1", "voice", "q", attributes=attributes)
    with pytest.raises(InvalidValueError, match=rf"attributes\['a'\] {log}"):
        codec.encode_command(contact_with(attributes))


def test_tuples_in_attributes_come_back_as_lists() -> None:
    command = contact_with({"a": ("x", ("y",))})
    back = codec.decode_command("submit", codec.encode_command(command))
    assert isinstance(back, Submit)
    assert dict(back.contact.attributes) == {"a": ["x", ["y"]]}


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_event_numbers_that_are_not_finite_are_refused(value: float) -> None:
    with pytest.raises(InvalidValueError, match="the log holds finite numbers only"):
        codec.encode_events([Queued(value, "c", "q", "voice")])
    reason = OfferReason("x", "agent", 1, value, None, 0)
    with pytest.raises(InvalidValueError, match=r"OfferReason.score is"):
        codec.encode_events([Offered(1.0, "c", "a", "q", "voice", None, reason)])


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="cannot be logged"):
        codec.encode_events([Queued(1.0, "c\ud800", "q", "voice")])


def test_a_value_the_format_cannot_give_back_with_its_type_is_refused_by_encode_row() -> None:
    # A bool where the format logs an int: JSON would give back true, not 1.
    event = Queued(1.0, "c", "q", "voice")
    object.__setattr__(event, "contact_id", 5)
    record = LogRecord(1, 1.0, Tick(), (event,))
    codec.encode_record(record)  # the encoder alone writes it...
    with pytest.raises(InvalidValueError, match=r"cannot give this value back.*contact_id"):
        codec.encode_row(record)  # ...the row is checked to decode


def test_a_command_that_is_not_in_the_table_is_refused() -> None:
    with pytest.raises(InvalidValueError, match="is not a command of the log"):
        codec.encode_command(COMMANDS["tick"].__base__())  # type: ignore[misc]


# -- what decoding refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"command" {}', r"the body does not decode: JSON is malformed"),
        (b'{"command": {}, "events": []}', r"Object missing required field `contact`"),
        (
            b'{"command": {"contact": {"id": "c", "channel": "voice", "queue": "q", "tier": "high"}},'
            b' "events": []}',
            r"Expected `int`, got `str` - at `\$.command.contact.tier`",
        ),
        (
            b'{"command": {"contact": {"id": "c", "channel": "voice", "queue": "q"}},'
            b' "events": [{"type": "exploded", "at": 1}]}',
            r"Invalid value 'exploded' - at `\$.events\[0\].type`",
        ),
        (
            b'{"command": {"contact": {"id": "c", "channel": "voice", "queue": "q"}},'
            b' "events": [{"at": 1}]}',
            r"Object missing required field `type` - at `\$.events\[0\]`",
        ),
        (
            b'{"command": {"contact": {"id": "c", "channel": "voice", "queue": "q",'
            b' "requirements": {"en": 11}}}, "events": []}',
            r"the body holds a value that is refused: .*11",
        ),
        (
            b'{"command": {"contact": {"id": "", "channel": "voice", "queue": "q"}}, "events": []}',
            r"the body holds a value that is refused",
        ),
        (
            b'{"command": {"contact": {"id": "c", "channel": "voice", "queue": "q",'
            b' "__class__": "os.system"}}, "events": []}',
            r"Object contains unknown field `__class__`",
        ),
    ],
    ids=[
        "not-json",
        "missing",
        "wrong-type",
        "unknown-tag",
        "no-tag",
        "level-11",
        "empty-id",
        "unknown-field",
    ],
)
def test_decoding_refuses_what_is_not_a_record(body: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        codec.decode_record(1, 1.0, "submit", body)


def test_an_unknown_command_is_refused() -> None:
    with pytest.raises(InputError, match="unknown command 'format_disk'"):
        codec.decode_record(1, 1.0, "format_disk", b'{"command": {}, "events": []}')
    with pytest.raises(InputError, match="unknown command"):
        codec.decode_command("format_disk", b"{}")


def test_rows_check_their_checksum_version_and_key_columns() -> None:
    record = next(r for r in RECORDS if r.name == "accept")
    row = codec.encode_row(record)
    assert codec.decode_row(row) == record
    assert (row.contact_id, row.agent_id, row.queue) == codec.key_columns(record.command)
    with pytest.raises(InputError, match="checksum mismatch"):
        codec.decode_row(row._replace(body=row.body.replace("c", "d", 1)))
    with pytest.raises(InputError, match="checksum mismatch"):
        codec.decode_row(row._replace(seq=row.seq + 1))
    newer = codec.FORMAT + 1
    with pytest.raises(codec.NewerFormatError, match=f"format {newer}"):
        codec.decode_row(row._replace(version=newer))
    with pytest.raises(InputError, match=f"version 1 in a format-{codec.FORMAT} log"):
        codec.decode_row(row._replace(version=1))


def test_the_log_format_page_lists_every_command_and_tag() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "log-format.md").read_text()
    missing = [f"command {name}" for name in COMMANDS if f"| `{name}` |" not in page]
    missing += [f"tag {tag}" for tag in codec.EVENT_TAGS if f"| `{tag}` |" not in page]
    assert missing == [], f"not in docs/log-format.md: {missing}"


# -- one encoding per record: prepare_command and EncodedRecords --------------------


def test_a_batch_encodes_each_record_into_the_row_encode_row_makes() -> None:
    batch = codec.EncodedRecords()
    for record in RECORDS:
        prepared = (
            None if isinstance(record.command, Tick) else codec.prepare_command(record.command)
        )
        batch.add(record, prepared)
    assert list(batch) == list(RECORDS)
    assert len(batch) == len(RECORDS) and batch[0] is RECORDS[0]
    assert list(batch.rows) == [codec.encode_row(r) for r in RECORDS]


def test_a_prepared_command_of_another_command_is_not_used() -> None:
    first, second = [r for r in RECORDS if r.command.name == "submit" and r.events][:2]
    assert first.command != second.command
    batch = codec.EncodedRecords()
    batch.add(first, codec.prepare_command(second.command))
    assert batch.rows[0] == codec.encode_row(first)


def test_prepare_command_refuses_before_anything_runs() -> None:
    with pytest.raises(InvalidValueError, match="lone surrogates"):
        Contact("c\ud800", "voice", "q")  # the model refuses it first
    contact = Contact("c", "voice", "q")
    object.__setattr__(contact, "id", "c\ud800")  # text UTF-8 cannot hold
    with pytest.raises(InvalidValueError, match="cannot be logged"):
        codec.prepare_command(Submit(contact))
    bad = Transfer("c", queue="q")
    object.__setattr__(bad, "keep_key", 1)  # an int where the format logs a bool
    with pytest.raises(InvalidValueError, match="cannot give this value back"):
        codec.prepare_command(bad)


def test_a_record_the_log_cannot_hold_is_not_added() -> None:
    batch = codec.EncodedRecords()
    with pytest.raises(InvalidValueError, match="finite numbers only"):
        batch.add(LogRecord(1, 1.0, Tick(), (Queued(math.inf, "c", "q", "voice"),)))
    assert len(batch) == 0 and list(batch.rows) == []
