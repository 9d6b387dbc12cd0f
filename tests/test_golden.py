"""The committed golden logs still read, to exactly the values they were written from.

Every log format has a directory ``tests/golden/v<N>`` written once by
``tests/golden/make_golden.py`` (never by the tests): an SQLite log
(``log.db``), its rows as JSON lines (``records.jsonl``), its snapshot's bytes
(``snapshot.json``) and the records they hold (``records.py``). This release
must read every format it claims to (:data:`ccroute.codec.READABLE_FORMATS`),
and write the current one byte for byte as its golden files say: a change to
what is written (a field, a tag, a default, a checksum) fails here instead of
changing the format silently. The golden files of old formats are kept.
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import msgspec
import pytest

from ccroute import SQLiteStorage, codec
from ccroute.commands import COMMANDS
from ccroute.events import Event
from ccroute.storage import LogRecord

GOLDEN = Path(__file__).resolve().parent / "golden"
VERSIONS = sorted(int(p.name[1:]) for p in GOLDEN.glob("v*") if (p / "log.db").exists())


def golden(version: int) -> ModuleType:
    """The ``records.py`` of a format's golden directory."""
    path = GOLDEN / f"v{version}" / "records.py"
    spec = importlib.util.spec_from_file_location(f"golden_v{version}_records", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Line(msgspec.Struct, forbid_unknown_fields=True):
    seq: int
    at: float
    command: str
    contact_id: str | None
    agent_id: str | None
    queue: str | None
    version: int
    crc: int
    body: msgspec.Raw


def lines(version: int) -> list[_Line]:
    """The rows of ``records.jsonl``, the body as its exact bytes."""
    text = (GOLDEN / f"v{version}" / "records.jsonl").read_bytes()
    return [msgspec.json.decode(line, type=_Line) for line in text.splitlines()]


def everything(value: Any) -> Any:
    """``value`` as nested plain data with its type names: every field, those that
    equality and ``repr`` leave out (attributes, capacity, a CRM profile) included."""
    if attrs.has(type(value)):
        return (
            type(value).__name__,
            tuple((f.name, everything(getattr(value, f.name))) for f in attrs.fields(type(value))),
        )
    if isinstance(value, Mapping):
        return ("mapping", tuple((k, everything(v)) for k, v in value.items()))
    if isinstance(value, frozenset):
        return ("frozenset", tuple(sorted(value)))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(everything(v) for v in value))
    return (type(value).__name__, value)


def exactly(record: LogRecord) -> tuple[Any, ...]:
    """What must come back: equal, and equal field by field with every type."""
    return (record, everything(record))


def test_there_are_golden_files_for_every_format_this_release_reads() -> None:
    assert VERSIONS, "no golden logs found"
    assert set(codec.READABLE_FORMATS) <= set(VERSIONS)
    assert codec.FORMAT in VERSIONS, "the format written now has no golden files"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_golden_log_loads_to_exactly_its_records(version: int, tmp_path: Path) -> None:
    expected = golden(version)
    path = tmp_path / "log.db"
    shutil.copyfile(GOLDEN / f"v{version}" / "log.db", path)
    with SQLiteStorage(path, retention=None) as store:
        recovered = store.load()
    assert recovered.problem is None
    assert recovered.snapshot_seq == expected.SNAPSHOT_SEQ
    assert recovered.snapshot == (GOLDEN / f"v{version}" / "snapshot.json").read_bytes()
    tail = expected.RECORDS[expected.SNAPSHOT_SEQ :]
    assert [exactly(r) for r in recovered.records] == [exactly(r) for r in tail]
    # Without the snapshot, every record from the first.
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("DELETE FROM snapshots")
    with SQLiteStorage(path, retention=None) as store:
        recovered = store.load()
    assert recovered.problem is None
    assert [exactly(r) for r in recovered.records] == [exactly(r) for r in expected.RECORDS]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_golden_rows_are_the_json_lines(version: int) -> None:
    with closing(sqlite3.connect(GOLDEN / f"v{version}" / "log.db")) as connection:
        rows = connection.execute(
            "SELECT seq, at, command, contact_id, agent_id, queue, version, crc, body"
            " FROM log ORDER BY seq"
        ).fetchall()
        (kind,) = connection.execute("SELECT typeof(body) FROM snapshots").fetchone()
    assert kind == "text", "a JSON snapshot is stored as text"
    assert [(*row[:8], row[8].encode()) for row in rows] == [
        (
            line.seq,
            line.at,
            line.command,
            line.contact_id,
            line.agent_id,
            line.queue,
            line.version,
            line.crc,
            bytes(line.body),
        )
        for line in lines(version)
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_golden_line_decodes_to_its_record(version: int) -> None:
    expected = golden(version).RECORDS
    decoded = [
        codec.decode_row((*msgspec.structs.astuple(line)[:8], bytes(line.body).decode()))
        for line in lines(version)
    ]
    assert [exactly(r) for r in decoded] == [exactly(r) for r in expected]


def test_the_current_format_writes_its_golden_lines_byte_for_byte() -> None:
    expected = golden(codec.FORMAT).RECORDS
    for record, line in zip(expected, lines(codec.FORMAT), strict=True):
        row = codec.encode_row(record)
        assert row.body.encode() == bytes(line.body), (
            f"record {record.seq} ({record.name}) is written differently from its golden "
            "line: the log format changed. A change to what is written needs a new format "
            "version and golden files (docs/log-format.md, 'Versions')"
        )
        assert row[:8] == msgspec.structs.astuple(line)[:8]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_golden_tag_still_names_its_class(version: int) -> None:
    expected = golden(version).RECORDS
    for record, line in zip(expected, lines(version), strict=True):
        tags = [e["type"] for e in msgspec.json.decode(line.body)["events"]]
        assert tags == [codec.tag_of(type(e)) for e in record.events]
        for tag, event in zip(tags, record.events, strict=True):
            assert codec.EVENT_TAGS[tag] is type(event)
        assert COMMANDS[line.command] is type(record.command)


def test_golden_files_cover_every_command_and_every_event_class() -> None:
    commands: set[str] = set()
    classes: set[type[Event]] = set()
    for version in VERSIONS:
        for record in golden(version).RECORDS:
            commands.add(record.name)
            classes.update(type(e) for e in record.events)
    # Format 2's golden log holds every command and event class of format 2,
    # and the current format's every one of its own.
    second = golden(2).RECORDS
    assert {r.name for r in second} >= FORMAT_2_COMMANDS
    assert {codec.tag_of(type(e)) for r in second for e in r.events} >= FORMAT_2_TAGS
    current = golden(codec.FORMAT).RECORDS
    assert {r.name for r in current} >= set(COMMANDS)
    assert {codec.tag_of(type(e)) for r in current for e in r.events} >= set(codec.EVENT_TAGS)
    missing_commands = sorted(set(COMMANDS) - commands)
    missing_events = sorted(tag for tag, cls in codec.EVENT_TAGS.items() if cls not in classes)
    assert (missing_commands, missing_events) == ([], []), (
        f"not in any golden log: commands {missing_commands}, event tags {missing_events}. "
        "A new command or event changes the log format: it needs a new format version and "
        "golden files that hold it (docs/log-format.md, 'Versions')"
    )


#: The commands of format 2, as its golden log holds them.
FORMAT_2_COMMANDS = {
    "add_channel",
    "add_queue",
    "add_queues",
    "add_agent",
    "remove_agent",
    "set_presence",
    "set_capacity",
    "add_exclusion",
    "remove_exclusion",
    "submit",
    "accept",
    "reject",
    "complete",
    "end_wrap_up",
    "abandon",
    "transfer",
    "request_callback",
    "tick",
    "note",
    "update_queue",
    "update_agent",
    "update_contact",
}
#: The event tags of format 2.
FORMAT_2_TAGS = {
    "queued",
    "refused",
    "offered",
    "offer_timed_out",
    "rejected",
    "offer_rescinded",
    "accepted",
    "completed",
    "wrap_up_ended",
    "abandoned",
    "timed_out",
    "overflowed",
    "rejoined",
    "ramp_up_ended",
    "transferred",
    "step_applied",
    "preference_expired",
    "callback_requested",
    "presence_changed",
    "agent_added",
    "agent_removed",
    "queue_updated",
    "agent_updated",
    "contact_updated",
    "flow_finished",
    "customer_enriched",
    "offer_delivered",
    "history_recorded",
}
