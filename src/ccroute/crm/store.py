"""The CRM store: customer profiles and the history of finished contacts.

:class:`CRMStore` is the protocol both built-in stores follow (and that a
test or an application may implement itself); :class:`MemoryCRM` keeps
everything in memory (tests, simulation, a service without a log file),
:class:`~ccroute.crm.sqlite.SQLiteCRM` in an SQLite file beside the log.
Both answer the same queries the same way (the contract tests of
``tests/test_crm_store.py`` run on both):

- a customer's profile: get and put (JSON data only, checked on the way in);
- a finished contact recorded (a :class:`~ccroute.HistoryRecord`; recording
  the same contact id with the same end time again replaces it);
- a customer's recent history, newest first (by end time, then by when it
  was recorded), at most ``limit`` records;
- the last agent who served a customer (optionally since a time).

Nothing a store reads back can run code: profiles and attributes are JSON
values, and records are rebuilt field by field with their types checked.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol, get_args, runtime_checkable

import attrs

from .._values import check_id, check_json, copy_json, show
from ..errors import InputError, InvalidValueError
from ..hooktypes import HistoryRecord, HistoryTransfer, Outcome

__all__ = ["DEFAULT_HISTORY_LIMIT", "MAX_HISTORY_LIMIT", "CRMStore", "LastServed", "MemoryCRM"]

#: Records a history query returns when no limit is given.
DEFAULT_HISTORY_LIMIT: Final = 10
#: The most records one history query may ask for.
MAX_HISTORY_LIMIT: Final = 1000
#: Every history outcome (``hooktypes.Outcome``): the one list a stored row is read against.
_OUTCOMES: Final = frozenset(get_args(Outcome))
_KINDS: Final = frozenset({"transfer", "overflow"})


@attrs.frozen(slots=True)
class LastServed:
    """The agent who last served a customer (answered one of its contacts).

    :param agent_id: the agent.
    :param contact_id: the contact it served.
    :param queue: the queue the contact ended in.
    :param ended_at: when that contact ended (router clock time).
    """

    agent_id: str
    contact_id: str
    queue: str
    ended_at: float


@runtime_checkable
class CRMStore(Protocol):
    """What the built-in CRM plugin needs of a store.

    ``blocking`` says whether the calls do I/O (the plugin then runs them in
    a worker thread, never on the event loop).
    """

    blocking: bool

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's profile (a copy), or ``None`` when there is none."""
        ...

    def put_profile(self, customer_id: str, profile: Mapping[str, Any]) -> None:
        """Store (replace) the customer's profile: JSON data with string keys."""
        ...

    def record(self, record: HistoryRecord) -> None:
        """Add a finished contact to the history."""
        ...

    def history(self, customer_id: str, limit: int = DEFAULT_HISTORY_LIMIT) -> list[HistoryRecord]:
        """The customer's finished contacts, newest first, at most ``limit``."""
        ...

    def last_agent(self, customer_id: str, since: float | None = None) -> LastServed | None:
        """The agent of the customer's latest answered contact that ended at or
        after ``since`` (any time when ``None``), or ``None``."""
        ...

    def close(self) -> None:
        """Release what the store holds (a file); it takes no calls after."""
        ...


# ----------------------------------------------------------- checks, shared


def check_customer(customer_id: object) -> str:
    """A customer id, or :class:`~ccroute.InvalidValueError`."""
    return check_id(customer_id, "customer id")


def check_limit(limit: object) -> int:
    """A history limit in 1..:data:`MAX_HISTORY_LIMIT`, or :class:`~ccroute.InvalidValueError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise InvalidValueError(
            f"history limit must be an integer in 1..{MAX_HISTORY_LIMIT}, got {show(limit)}"
        )
    return limit


def check_since(since: object) -> float | None:
    """A finite time or ``None``."""
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, int | float) or not math.isfinite(since):
        raise InvalidValueError(f"since must be a finite time or None, got {show(since)}")
    return float(since)


def checked_profile(customer_id: object, profile: object) -> tuple[str, dict[str, Any]]:
    """The id and a private copy of a profile to store, both checked."""
    customer = check_customer(customer_id)
    if not isinstance(profile, Mapping):
        raise InvalidValueError(
            f"profile of customer {customer!r} must be a mapping, got {show(profile)}"
        )
    copy = copy_json(dict(profile))
    check_json(copy, f"profile of customer {customer!r}")
    return customer, copy


def checked_record(record: object) -> HistoryRecord:
    """A history record to store, its JSON parts checked (attributes can be logged)."""
    if not isinstance(record, HistoryRecord):
        raise InvalidValueError(f"expected a HistoryRecord, got {show(record)}")
    check_json(dict(record.attributes), f"history record {record.contact_id!r}: attributes")
    return record


def record_to_json(record: HistoryRecord) -> dict[str, Any]:
    """A record as JSON data (what :func:`record_from_json` reads back)."""
    return {
        "contact_id": record.contact_id,
        "customer_id": record.customer_id,
        "channel": record.channel,
        "queue": record.queue,
        "outcome": record.outcome,
        "arrived_at": record.arrived_at,
        "answered_at": record.answered_at,
        "completed_at": record.completed_at,
        "ended_at": record.ended_at,
        "agent_id": record.agent_id,
        "disposition": record.disposition,
        "transfers": [transfer_to_json(t) for t in record.transfers],
        "attributes": copy_json(dict(record.attributes)),
    }


def transfer_to_json(transfer: HistoryTransfer) -> dict[str, Any]:
    """A transfer as JSON data."""
    return {
        "at": transfer.at,
        "kind": transfer.kind,
        "from_queue": transfer.from_queue,
        "to_queue": transfer.to_queue,
        "from_agent": transfer.from_agent,
        "to_agent": transfer.to_agent,
    }


def _get(data: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str) -> Any:
    value = data.get(name)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok:
        raise InputError(f"{where}: field {name!r} is {show(value)}")
    return float(value) if float in kinds and isinstance(value, int) else value


def record_from_json(data: object, where: str) -> HistoryRecord:
    """A record from JSON data, every field's type checked.

    :raises InputError: a field is missing or of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: a history record must be an object, got {show(data)}")
    text, opt_text = (str,), (str, type(None))
    time, opt_time = (float, int), (float, int, type(None))
    outcome = _get(data, "outcome", text, where)
    if outcome not in _OUTCOMES:
        raise InputError(f"{where}: unknown outcome {show(outcome)}")
    transfers = _get(data, "transfers", (list,), where)
    moves = []
    for i, item in enumerate(transfers):
        at = f"{where}: transfer {i}"
        if not isinstance(item, Mapping):
            raise InputError(f"{at} must be an object, got {show(item)}")
        kind = _get(item, "kind", text, at)
        if kind not in _KINDS:
            raise InputError(f"{at}: unknown kind {show(kind)}")
        moves.append(
            HistoryTransfer(
                at=_get(item, "at", time, at),
                kind=kind,
                from_queue=_get(item, "from_queue", text, at),
                to_queue=_get(item, "to_queue", text, at),
                from_agent=_get(item, "from_agent", opt_text, at),
                to_agent=_get(item, "to_agent", opt_text, at),
            )
        )
    attributes = _get(data, "attributes", (dict,), where)
    return HistoryRecord(
        contact_id=_get(data, "contact_id", text, where),
        customer_id=_get(data, "customer_id", opt_text, where),
        channel=_get(data, "channel", text, where),
        queue=_get(data, "queue", text, where),
        outcome=outcome,
        arrived_at=_get(data, "arrived_at", time, where),
        ended_at=_get(data, "ended_at", time, where),
        answered_at=_get(data, "answered_at", opt_time, where),
        agent_id=_get(data, "agent_id", opt_text, where),
        attributes=attributes,
        completed_at=_get(data, "completed_at", opt_time, where),
        disposition=_get(data, "disposition", opt_text, where),
        transfers=tuple(moves),
    )


# ------------------------------------------------------------------ memory


@attrs.define(slots=True, eq=False)
class _Kept:
    seq: int
    record: HistoryRecord


class MemoryCRM:
    """Profiles and history in memory: for tests, simulation, and a service
    without a log file. Lost when the process ends.

    Every record is kept (memory grows with the contacts: a long-running
    centre uses :class:`~ccroute.crm.sqlite.SQLiteCRM`). Records are kept as
    JSON data and rebuilt when read, so what a caller does with a record it
    was given changes nothing here.

    Costs: profile get and put O(size of the profile); recording O(log n) for
    the customer's n records; a history query O(limit); ``last_agent`` O(n)
    at worst (it stops at the first answered record).
    """

    blocking = False

    def __init__(self) -> None:
        self._profiles: dict[str, dict[str, Any]] = {}
        # Per customer: (ended_at, seq) ascending, and the record as JSON.
        self._by_customer: dict[str | None, list[tuple[float, int, dict[str, Any]]]] = {}
        self._keys: dict[tuple[str, float], tuple[str | None, int]] = {}
        self._seq = 0

    def __repr__(self) -> str:
        return f"MemoryCRM({len(self._profiles)} profiles, {self._seq} records)"

    def profile(self, customer_id: str) -> dict[str, Any] | None:
        """The customer's profile (a copy), or ``None``."""
        found = self._profiles.get(check_customer(customer_id))
        return None if found is None else copy_json(found)

    def put_profile(self, customer_id: str, profile: Mapping[str, Any]) -> None:
        """Store (replace) the customer's profile."""
        customer, copy = checked_profile(customer_id, profile)
        self._profiles[customer] = copy

    def record(self, record: HistoryRecord) -> None:
        """Add a finished contact (the same contact and end time again replaces it)."""
        record = checked_record(record)
        data = record_to_json(record)
        key = (record.contact_id, record.ended_at)
        old = self._keys.pop(key, None)
        if old is not None:
            customer, seq = old
            rows = self._by_customer[customer]
            rows[:] = [row for row in rows if row[1] != seq]
        self._seq += 1
        rows = self._by_customer.setdefault(record.customer_id, [])
        entry = (record.ended_at, self._seq, data)
        # Records come in nearly in end-time order: appending is the usual case.
        if rows and (rows[-1][0], rows[-1][1]) > (entry[0], entry[1]):
            bisect.insort(rows, entry, key=lambda row: (row[0], row[1]))
        else:
            rows.append(entry)
        self._keys[key] = (record.customer_id, self._seq)

    def history(self, customer_id: str, limit: int = DEFAULT_HISTORY_LIMIT) -> list[HistoryRecord]:
        """The customer's finished contacts, newest first, at most ``limit``."""
        rows = self._by_customer.get(check_customer(customer_id), [])
        limit = check_limit(limit)
        return [
            record_from_json(data, f"history of {customer_id!r}")
            for _, _, data in reversed(rows[-limit:])
        ]

    def last_agent(self, customer_id: str, since: float | None = None) -> LastServed | None:
        """The agent of the customer's latest answered contact ended at or after ``since``."""
        rows = self._by_customer.get(check_customer(customer_id), [])
        start = check_since(since)
        for ended_at, _, data in reversed(rows):
            if start is not None and ended_at < start:
                return None
            agent = data["agent_id"]
            if agent is not None:
                return LastServed(agent, data["contact_id"], data["queue"], ended_at)
        return None

    def close(self) -> None:
        """Nothing to release."""

    def all_records(self) -> Sequence[HistoryRecord]:
        """Every record, oldest first (for tests and exports). Cost: O(n log n)."""
        rows = sorted(
            (row for rows in self._by_customer.values() for row in rows),
            key=lambda row: (row[0], row[1]),
        )
        return [record_from_json(data, "history") for _, _, data in rows]
