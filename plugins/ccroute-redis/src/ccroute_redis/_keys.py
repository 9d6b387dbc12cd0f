"""The names of a partition's keys, and the rows of its stream entries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import attrs
from ccroute import codec
from ccroute.cluster import check_name
from ccroute.errors import InputError

#: What a partition's ``meta`` hash says in ``magic``.
MAGIC: Final = "ccroute event log"
#: The layout of the keys this release writes (the ``layout`` field of
#: ``meta``); a partition written with a newer layout is refused.
LAYOUT: Final = 1

#: The fields of a record's stream entry, in the order of codec.Row (minus seq,
#: which is the entry's id). A key column that is None has no field.
FIELDS: Final = ("at", "command", "contact_id", "agent_id", "queue", "version", "crc", "body")
_KEYS_OPTIONAL: Final = frozenset({"contact_id", "agent_id", "queue"})


def check_partition(partition: object) -> str:
    """``partition`` if it is a partition name (:func:`ccroute.cluster.check_name`).

    Any printable name does: every key of a partition starts with the same
    ``<prefix>:{<partition>}``, so Redis Cluster hashes them alike even when
    the name holds braces.

    :raises InvalidValueError: it is not.
    """
    return check_name(partition, "partition")


@attrs.frozen
class Keys:
    """The keys of one partition under ``prefix``."""

    prefix: str
    partition: str

    @property
    def base(self) -> str:
        """``<prefix>:{<partition>}``: braces make Redis Cluster keep them in one slot."""
        return f"{self.prefix}:{{{self.partition}}}"

    @property
    def meta(self) -> str:
        """Hash: magic, layout, format, last_seq, pruned_through."""
        return f"{self.base}:meta"

    @property
    def fence(self) -> str:
        """The latest fencing token handed out."""
        return f"{self.base}:fence"

    @property
    def lease(self) -> str:
        """``"<token> <node>"``, expiring when the lease lapses."""
        return f"{self.base}:lease"

    @property
    def log(self) -> str:
        """The stream of records; entry ``<seq>-0`` is record ``seq``."""
        return f"{self.base}:log"

    @property
    def snapshots(self) -> str:
        """Sorted set of the seqs of the kept snapshots."""
        return f"{self.base}:snapshots"

    @property
    def snapshot_prefix(self) -> str:
        """A snapshot's hash is this followed by its seq."""
        return f"{self.base}:snapshot:"

    def snapshot(self, seq: int) -> str:
        """The hash of the snapshot after record ``seq``: version, crc, body."""
        return f"{self.snapshot_prefix}{seq}"

    @property
    def quarantine(self) -> str:
        """The stream of entries set aside as damaged (never trimmed)."""
        return f"{self.base}:quarantine"


def entry_fields(row: codec.Row) -> list[str]:
    """A row as the flat list of names and values of its stream entry."""
    out: list[str] = []
    for name, value in zip(FIELDS, row[1:], strict=True):
        if value is None:
            continue
        out.append(name)
        out.append(repr(value) if name == "at" else str(value))
    return out


def seq_of(entry_id: bytes) -> int | None:
    """The seq of a stream entry id ``b"<seq>-0"``; ``None`` for any other id."""
    ms, _, n = entry_id.partition(b"-")
    if n != b"0" or not ms.isdigit():
        return None
    return int(ms)


def row_of(seq: int, fields: Mapping[bytes, bytes]) -> codec.Row:
    """The codec row of a stream entry, for :func:`ccroute.codec.decode_row`.

    :raises InputError: a field is missing, unknown, or not what it should be.
    """
    try:
        text = {name.decode(): value.decode() for name, value in fields.items()}
    except UnicodeDecodeError:
        raise InputError("a field is not UTF-8") from None
    unknown = set(text) - set(FIELDS)
    if unknown:
        raise InputError(f"unknown field(s) {', '.join(sorted(unknown))}")
    for name in FIELDS:
        if name not in text and name not in _KEYS_OPTIONAL:
            raise InputError(f"field {name!r} is missing")
    try:
        at = float(text["at"])
        version = int(text["version"])
        crc = int(text["crc"])
    except ValueError as error:
        raise InputError(f"a number field does not parse ({error})") from None
    return codec.Row(
        seq,
        at,
        text["command"],
        text.get("contact_id"),
        text.get("agent_id"),
        text.get("queue"),
        version,
        crc,
        text["body"],
    )
