"""The CRM store in an SQLite file of its own, beside the service's log.

A separate file, not tables in the log: the log has one writer and a
format of its own (docs/log-format.md), and history writes must not wait
for, or be waited on by, the log's group commits. The service puts it next
to the log (``centre.db`` → ``centre-crm.db``) unless told otherwise
(docs/crm.md). The file holds three tables:

``crm_meta``
    ``key``/``value``: ``magic`` (``"ccroute crm"``) and ``format`` (``1``);
    a file without them (another program's database, a ccroute log) is
    refused and left untouched.
``profiles``
    ``customer_id TEXT PRIMARY KEY, profile TEXT``: the profile as JSON.
``history``
    one row per finished contact: ``seq INTEGER PRIMARY KEY`` (the order it
    was recorded in), ``contact_id``, ``customer_id``, ``channel``,
    ``queue``, ``outcome``, ``agent_id``, ``disposition``, ``arrived_at``,
    ``answered_at``, ``completed_at``, ``ended_at`` (REAL, router clock
    times), ``transfers`` and ``attributes`` (JSON); unique on
    ``(contact_id, ended_at)``, indexed by customer and end time. An
    operator reads it with SQL: ``json_extract(attributes, '$.ivr')`` gives
    a contact's IVR answers.

Reading builds nothing but JSON values and :class:`~ccroute.HistoryRecord`
values with every field's type checked: a file cannot make its reader run
code. The store may be called from several threads (the plugin calls it
from worker threads); a lock serialises the calls.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

from .._values import show
from ..errors import InputError, InvalidValueError, StorageError
from ..hooktypes import HistoryRecord
from .store import (
    DEFAULT_HISTORY_LIMIT,
    LastServed,
    check_customer,
    check_limit,
    check_since,
    checked_profile,
    checked_record,
    record_from_json,
    record_to_json,
)

__all__ = ["SQLiteCRM"]

_MAGIC: Final = "ccroute crm"
_FORMAT: Final = "1"
_SYNC_MODES: Final = ("FULL", "NORMAL", "OFF")
_SCHEMA: Final = (
    "CREATE TABLE crm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE profiles (customer_id TEXT PRIMARY KEY, profile TEXT NOT NULL)",
    "CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, contact_id TEXT NOT NULL,"
    " customer_id TEXT, channel TEXT NOT NULL, queue TEXT NOT NULL, outcome TEXT NOT NULL,"
    " agent_id TEXT, disposition TEXT, arrived_at REAL NOT NULL, answered_at REAL,"
    " completed_at REAL, ended_at REAL NOT NULL, transfers TEXT NOT NULL,"
    " attributes TEXT NOT NULL, UNIQUE (contact_id, ended_at))",
    "CREATE INDEX history_by_customer ON history (customer_id, ended_at, seq)",
)
_COLUMNS: Final = (
    "contact_id, customer_id, channel, queue, outcome, agent_id, disposition, arrived_at,"
    " answered_at, completed_at, ended_at, transfers, attributes"
)


_NAMES: Final = tuple(name.strip() for name in _COLUMNS.split(","))


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)


class SQLiteCRM:
    """Profiles and history in an SQLite file (WAL); survives restarts.

    :param path: the database file (created with its tables when new).
    :param synchronous: SQLite's ``synchronous``: ``"NORMAL"`` by default (a
        record survives a crash of the process; the last ones before a power
        loss may not), ``"FULL"`` or ``"OFF"``.
    :raises StorageError: the file cannot be opened, or it is not a ccroute
        CRM file (it is left untouched).

    Costs: a profile get or put, recording, and ``last_agent`` are one
    indexed statement each (tens of microseconds); a history query reads
    ``limit`` rows.
    """

    blocking = True

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL") -> None:
        if synchronous not in _SYNC_MODES:
            raise InvalidValueError(
                f"synchronous must be one of {', '.join(_SYNC_MODES)}, got {show(synchronous)}"
            )
        self._path = os.fspath(path)
        self._lock = threading.Lock()
        try:
            connection = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as error:
            raise StorageError(f"cannot open the CRM store {self._path}: {error}") from error
        try:
            self._open(connection, synchronous)
        except BaseException:
            connection.close()
            raise
        self._connection: sqlite3.Connection | None = connection

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    def __repr__(self) -> str:
        state = " (closed)" if self._connection is None else ""
        return f"SQLiteCRM({self._path!r}){state}"

    def _open(self, connection: sqlite3.Connection, synchronous: str) -> None:
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                tables = {
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type='table'"
                    )
                    if not row[0].startswith("sqlite_")
                }
                if not tables:
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    connection.executemany(
                        "INSERT INTO crm_meta (key, value) VALUES (?, ?)",
                        [("magic", _MAGIC), ("format", _FORMAT)],
                    )
                else:
                    self._check_ours(connection, tables)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("PRAGMA journal_mode=WAL")
            # One of _SYNC_MODES, checked: safe to format in.
            connection.execute(f"PRAGMA synchronous = {synchronous}")
        except sqlite3.DatabaseError as error:
            raise StorageError(f"cannot open the CRM store {self._path}: {error}") from error

    def _check_ours(self, connection: sqlite3.Connection, tables: set[str]) -> None:
        if "crm_meta" not in tables:
            raise StorageError(
                f"{self._path} is not a ccroute CRM store (it has no crm_meta table); "
                "it was left untouched"
            )
        meta = dict(connection.execute("SELECT key, value FROM crm_meta").fetchall())
        if meta.get("magic") != _MAGIC:
            raise StorageError(
                f"{self._path} is not a ccroute CRM store (magic {meta.get('magic')!r}); "
                "it was left untouched"
            )
        if meta.get("format") != _FORMAT:
            raise StorageError(
                f"{self._path} is a CRM store in format {meta.get('format')!r}; this "
                f"release reads format {_FORMAT}"
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._connection
            if connection is None:
                raise StorageError(f"the CRM store {self._path} is closed")
            try:
                yield connection
            except sqlite3.Error as error:
                raise StorageError(f"the CRM store {self._path} failed: {error}") from error

    # -------------------------------------------------------------- profiles

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's profile, or ``None``.

        :raises InputError: the stored profile is not a JSON object.
        """
        customer = check_customer(customer_id)
        with self._db() as db:
            row = db.execute(
                "SELECT profile FROM profiles WHERE customer_id = ?", (customer,)
            ).fetchone()
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except (TypeError, ValueError) as error:
            raise InputError(
                f"{self._path}: profile of {customer!r} is not JSON: {error}"
            ) from None
        if not isinstance(value, dict):
            raise InputError(f"{self._path}: profile of {customer!r} is not a JSON object")
        return value

    def put_profile(self, customer_id: str, profile: Mapping[str, Any]) -> None:
        """Store (replace) the customer's profile."""
        customer, copy = checked_profile(customer_id, profile)
        text = _dumps(copy)
        with self._db() as db:
            db.execute(
                "INSERT INTO profiles (customer_id, profile) VALUES (?, ?) "
                "ON CONFLICT (customer_id) DO UPDATE SET profile = excluded.profile",
                (customer, text),
            )

    # --------------------------------------------------------------- history

    def record(self, record: HistoryRecord) -> None:
        """Add a finished contact (the same contact and end time again replaces it)."""
        data = record_to_json(checked_record(record))
        row = (
            data["contact_id"],
            data["customer_id"],
            data["channel"],
            data["queue"],
            data["outcome"],
            data["agent_id"],
            data["disposition"],
            data["arrived_at"],
            data["answered_at"],
            data["completed_at"],
            data["ended_at"],
            _dumps(data["transfers"]),
            _dumps(data["attributes"]),
        )
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "DELETE FROM history WHERE contact_id = ? AND ended_at = ?",
                    (data["contact_id"], data["ended_at"]),
                )
                db.execute(
                    f"INSERT INTO history ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _read(self, row: Sequence[Any]) -> HistoryRecord:
        data = dict(zip(_NAMES, row, strict=True))
        where = f"{self._path}: history of contact {show(data['contact_id'])}"
        for name in ("transfers", "attributes"):
            try:
                data[name] = json.loads(data[name])
            except (TypeError, ValueError) as error:
                raise InputError(f"{where}: {name} is not JSON: {error}") from None
        return record_from_json(data, where)

    def history(self, customer_id: str, limit: int = DEFAULT_HISTORY_LIMIT) -> list[HistoryRecord]:
        """The customer's finished contacts, newest first, at most ``limit``.

        :raises InputError: a stored row is damaged (a field of the wrong type).
        """
        customer = check_customer(customer_id)
        limit = check_limit(limit)
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM history WHERE customer_id = ? "
                "ORDER BY ended_at DESC, seq DESC LIMIT ?",
                (customer, limit),
            ).fetchall()
        return [self._read(row) for row in rows]

    def last_agent(self, customer_id: str, since: float | None = None) -> LastServed | None:
        """The agent of the customer's latest answered contact ended at or after ``since``."""
        customer = check_customer(customer_id)
        start = check_since(since)
        with self._db() as db:
            row = db.execute(
                "SELECT agent_id, contact_id, queue, ended_at FROM history "
                "WHERE customer_id = ? AND agent_id IS NOT NULL AND ended_at >= ? "
                "ORDER BY ended_at DESC, seq DESC LIMIT 1",
                (customer, -1e308 if start is None else start),
            ).fetchone()
        if row is None:
            return None
        agent, contact, queue, ended_at = row
        if not (isinstance(agent, str) and isinstance(contact, str) and isinstance(queue, str)):
            raise InputError(f"{self._path}: a history row of {customer!r} is damaged")
        if not isinstance(ended_at, int | float):
            raise InputError(f"{self._path}: a history row of {customer!r} is damaged")
        return LastServed(agent, contact, queue, float(ended_at))

    def all_records(self) -> Sequence[HistoryRecord]:
        """Every record, oldest first (for tests and exports). Cost: O(n)."""
        with self._db() as db:
            rows = db.execute(f"SELECT {_COLUMNS} FROM history ORDER BY ended_at, seq").fetchall()
        return [self._read(row) for row in rows]

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
