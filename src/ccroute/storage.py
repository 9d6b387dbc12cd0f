"""Where the service keeps what it acknowledged: an event log plus snapshots.

The service logs every state-changing call it made to the router as one
:class:`LogRecord` (the call, its clock time, and the events it caused), and
now and then a snapshot of the whole router. A restarted service loads the
latest good snapshot and replays the records after it; because the router is
deterministic, that rebuilds exactly the state the log describes.

A store is small and synchronous: the service calls it from one worker thread
at a time, batching the records of concurrent calls into one :meth:`append`
(group commit). Two stores are built in: :class:`MemoryStorage` here and
:class:`~ccroute.storage_sqlite.SQLiteStorage`, the durable default. Both
keep records in the log format of :mod:`ccroute.codec` (JSON, format 2; see
docs/log-format.md), so they accept and refuse exactly the same records, and
both drop, when a snapshot is stored, the records it covers that are older
than their ``retention``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

import attrs

from .commands import Command
from .errors import InputError, InvalidValueError, StorageError
from .events import Event

if TYPE_CHECKING:
    from .codec import Row

__all__ = [
    "DEFAULT_RETENTION",
    "AsyncStorage",
    "LogRecord",
    "MemoryStorage",
    "Recovered",
    "Storage",
    "check_batch",
    "check_retention",
    "check_snapshot",
    "damaged_snapshots_note",
    "encode_batch",
    "is_async_storage",
    "retention_gap",
    "snapshot_damage",
]

#: Seconds of audit trail a store keeps by default (30 days, by the records'
#: ``at``): records older than this that a snapshot covers are dropped when a
#: snapshot is stored. ``retention=None`` keeps every record.
DEFAULT_RETENTION: Final = 30 * 24 * 3600.0


@attrs.frozen(slots=True)
class LogRecord:
    """One acknowledged router call.

    :param seq: position in the log, 1 for the first record, consecutive.
    :param at: the router clock time the call ran at.
    :param command: the call, as a :class:`~ccroute.commands.Command`
        (:class:`~ccroute.commands.Note` for the service's own pipeline events).
    :param events: the events the call caused.
    """

    seq: int
    at: float
    command: Command
    events: tuple[Event, ...] = ()

    @property
    def name(self) -> str:
        """The command's name in the log (``"submit"``, ``"tick"`` …)."""
        return self.command.name


@attrs.frozen(slots=True)
class Recovered:
    """What a store holds, as :meth:`Storage.load` found it.

    :param snapshot_seq: the seq of the last record the snapshot includes (0: none).
    :param snapshot: the snapshot's bytes, or ``None`` when there is none.
    :param records: the good records after the snapshot, in order.
    :param problem: ``None``, or what was wrong with the log (a corrupt or
        truncated record), said plainly; the records before it are in ``records``.
    """

    snapshot_seq: int = 0
    snapshot: bytes | None = None
    records: tuple[LogRecord, ...] = ()
    problem: str | None = None

    @property
    def last_seq(self) -> int:
        """The seq of the last good record (or of the snapshot when no record follows)."""
        return self.records[-1].seq if self.records else self.snapshot_seq


@runtime_checkable
class Storage(Protocol):
    """What the service needs from a store. Calls come from one thread at a time."""

    def load(self) -> Recovered:
        """Read the latest good snapshot and the good records after it.

        A damaged record ends the good prefix: it and anything after it are set
        aside (not deleted) and ``Recovered.problem`` says what was found.
        """
        ...

    def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log; they are durable (per the store's sync mode) on return.

        Either every record is stored or, when this raises, none. The first
        record's seq must be the one after the log's last and the seqs must
        be consecutive, else :class:`~ccroute.errors.StorageError`.
        """
        ...

    def snapshot(self, seq: int, state: bytes) -> None:
        """Store a snapshot of the router after record ``seq``; older snapshots may go."""
        ...

    def close(self) -> None:
        """Flush and release the store. Closing twice does nothing."""
        ...


@runtime_checkable
class AsyncStorage(Protocol):
    """A store whose calls are coroutines, for engines with async drivers
    (the PostgreSQL and Redis plugins).

    The same contract as :class:`Storage`, method for method: the service
    awaits these on its own event loop instead of running them in a worker
    thread, still one call at a time. A store fenced by a lease
    (:mod:`ccroute.cluster`) raises :class:`~ccroute.errors.FencedError` from
    :meth:`append` and :meth:`snapshot` once another node holds the lease.
    """

    async def load(self) -> Recovered:
        """As :meth:`Storage.load`."""
        ...

    async def append(self, records: Sequence[LogRecord]) -> None:
        """As :meth:`Storage.append`."""
        ...

    async def snapshot(self, seq: int, state: bytes) -> None:
        """As :meth:`Storage.snapshot`."""
        ...

    async def close(self) -> None:
        """As :meth:`Storage.close`."""
        ...


_STORE_METHODS: Final = ("load", "append", "snapshot", "close")


def is_async_storage(store: object) -> bool:
    """Whether ``store`` is an :class:`AsyncStorage` (its four methods are
    coroutine functions) rather than a :class:`Storage` (none of them is).

    Both protocols name the same methods, so ``isinstance`` cannot tell them
    apart; this looks at the methods themselves.

    :raises InvalidValueError: a method is missing, or some are coroutine
        functions and some are not (the message names them).
    """
    missing = [name for name in _STORE_METHODS if not callable(getattr(store, name, None))]
    if missing:
        raise InvalidValueError(
            f"a store needs load, append, snapshot and close; {store!r:.80} lacks "
            + ", ".join(missing)
        )
    coroutines = [inspect.iscoroutinefunction(getattr(store, name)) for name in _STORE_METHODS]
    if all(coroutines):
        return True
    if not any(coroutines):
        return False
    asynchronous = [
        name for name, is_async in zip(_STORE_METHODS, coroutines, strict=True) if is_async
    ]
    raise InvalidValueError(
        f"a store's methods must be all coroutine functions (an AsyncStorage) or none "
        f"(a Storage); {type(store).__name__} has async {', '.join(asynchronous)} only"
    )


# -- checks and messages shared by every store, the plugins' included --------
#
# Every store refuses exactly the same calls and says the same about damage,
# so a test that passes against one store does not fail against another for a
# reason the test never saw.


def _record_shape_problem(at: object, command: object, events: object) -> str | None:
    """What is wrong with the fields of a record, or ``None``.

    Used on append, before the record is encoded (:mod:`ccroute.codec` then
    refuses values the log cannot hold and checks the body decodes), so a
    record a store accepted decodes as good.
    """
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        return f"at must be a finite number, not {at!r}"
    if not isinstance(command, Command) or type(command) is Command:
        return f"command must be a Command, not {type(command).__name__}"
    if not isinstance(events, tuple):
        return f"events must be a tuple, not {type(events).__name__}"
    for event in events:
        if not isinstance(event, Event):
            return f"events must be Event instances, not {type(event).__name__}"
    return None


def check_batch(records: Sequence[LogRecord], last_seq: int, where: str) -> list[LogRecord]:
    """Check a batch for :meth:`Storage.append`; return it as a list.

    :param last_seq: the seq of the last record the store holds (0: none).
    :param where: names the store in messages.
    :raises InvalidValueError: an item is not a well-formed :class:`LogRecord`.
    :raises StorageError: the seqs do not continue the log one by one.
    """
    if isinstance(records, LogRecord):
        # A lone record is a Sequence of nothing useful; say what was meant.
        raise InvalidValueError("append takes a sequence of LogRecord, not a single LogRecord")
    try:
        batch = list(records)
    except TypeError:
        raise InvalidValueError(
            f"append takes a sequence of LogRecord, not {type(records).__name__}"
        ) from None
    expected = last_seq + 1
    for index, record in enumerate(batch):
        if not isinstance(record, LogRecord):
            raise InvalidValueError(
                f"append: item {index} of the batch is a {type(record).__name__}, not a LogRecord"
            )
        if isinstance(record.seq, bool) or not isinstance(record.seq, int):
            raise InvalidValueError(
                f"append: item {index} of the batch has seq {record.seq!r}; seq must be an int"
            )
        if record.seq != expected:
            if index == 0:
                ends = f"ends at record {last_seq}" if last_seq else "is empty"
                raise StorageError(
                    f"cannot append record {record.seq} to {where}: the log {ends}, "
                    f"so the next record must be {expected}"
                )
            raise StorageError(
                f"cannot append to {where}: seqs in a batch must be consecutive, but record "
                f"{record.seq} follows record {expected - 1}"
            )
        problem = _record_shape_problem(record.at, record.command, record.events)
        if problem is not None:
            raise InvalidValueError(f"append: record {record.seq}: {problem}")
        expected += 1
    return batch


def encode_batch(batch: Sequence[LogRecord], records: Sequence[LogRecord]) -> list[Row]:
    """The rows of a checked batch (``records`` as :func:`check_batch` made a
    list of it), in the log format; every body is checked to decode.

    :raises InvalidValueError: a record holds a value the log cannot hold
        exactly (the message names the record).
    """
    from .codec import EncodedRecords, encode_row

    if type(records) is EncodedRecords:
        # Encoded (and checked) as each record was added: not again.
        return list(records.rows)
    rows = []
    for record in batch:
        try:
            rows.append(encode_row(record))
        except InvalidValueError as error:
            raise InvalidValueError(
                f"append: record {record.seq} ({record.name}) cannot be stored: {error}"
            ) from None
    return rows


def check_retention(retention: float | None) -> float | None:
    """``retention`` if it is ``None`` or a finite number of seconds >= 0."""
    if retention is None:
        return None
    if (
        isinstance(retention, bool)
        or not isinstance(retention, int | float)
        or not math.isfinite(retention)
        or retention < 0
    ):
        raise InvalidValueError(
            f"retention must be None or a finite number of seconds >= 0, not {retention!r}"
        )
    return float(retention)


def check_snapshot(seq: int, state: bytes, last_seq: int, snapshot_seq: int) -> bytes:
    """Check the arguments of :meth:`Storage.snapshot`; return the state as bytes.

    :param last_seq: the seq of the last record the store holds.
    :param snapshot_seq: the seq of the latest snapshot it holds (0: none).
    :raises InvalidValueError: ``seq`` is outside ``snapshot_seq..last_seq`` or
        ``state`` is not bytes.
    """
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InvalidValueError(f"snapshot: seq must be an int, not {type(seq).__name__}")
    if not isinstance(state, bytes | bytearray | memoryview):
        raise InvalidValueError(f"snapshot: state must be bytes, not {type(state).__name__}")
    if seq > last_seq:
        raise InvalidValueError(
            f"snapshot: the log ends at record {last_seq}; a snapshot after record {seq} "
            "would cover records the log does not hold"
        )
    if seq < snapshot_seq:
        raise InvalidValueError(
            f"snapshot: record {seq} is before the latest snapshot (after record "
            f"{snapshot_seq}); snapshots only move forward"
        )
    return bytes(state)


def snapshot_damage(seq: int, version: object, crc: object, body: bytes | None) -> str | None:
    """Why a stored snapshot cannot be used, said briefly, or ``None`` when it can.

    A version this release does not read, a missing body, a checksum that
    does not hold (:func:`ccroute.codec.snapshot_crc`). A snapshot in a
    *newer* format is not damage: a store refuses the whole log for it
    before asking this.
    """
    from .codec import FORMAT, READABLE_FORMATS, snapshot_crc

    if type(version) is not int or version not in READABLE_FORMATS:
        return f"version {version!r} in a format-{FORMAT} log"
    if body is None:
        return "its body is missing"
    if snapshot_crc(seq, version, body) != crc:
        return "checksum mismatch"
    return None


def damaged_snapshots_note(damaged: Sequence[str], used: int | None, kept: str) -> str:
    """What ``Recovered.problem`` says when damaged snapshots were passed over.

    :param damaged: one phrase per damaged snapshot, newest first.
    :param used: the seq of the snapshot used instead, ``None`` when none is left.
    :param kept: what became of the damaged ones (``"set aside in table quarantine"``).
    """
    if used is None:
        fallback = "no good snapshot is left, so the log is replayed from its first record"
    else:
        fallback = f"the snapshot after record {used} is used instead"
    moved = "it was" if len(damaged) == 1 else "they were"
    return f"{'; '.join(damaged)}; {moved} {kept} and {fallback}"


def retention_gap(
    where: str, pruned: int, snapshot_seq: int | None, note: str | None, remedy: str = ""
) -> str:
    """Why a log cannot be replayed: retention removed records no good snapshot covers.

    :param where: names the store (a path, a server).
    :param pruned: the last record retention removed.
    :param snapshot_seq: the latest good snapshot's seq, ``None`` when none is left.
    :param note: what was found about the snapshots, if anything.
    :param remedy: what to do (``"restore the file from a backup"``).
    """
    held = (
        "no good snapshot is left"
        if snapshot_seq is None
        else f"the only good snapshot is after record {snapshot_seq}"
    )
    return (
        f"{where} cannot be recovered: retention removed records 1..{pruned} and {held}"
        + (f"; {remedy}" if remedy else "")
        + (f" ({note})" if note else "")
    )


class MemoryStorage:
    """A store that keeps everything in memory: for tests and simulation.

    It behaves as :class:`~ccroute.storage_sqlite.SQLiteStorage` does, minus
    durability and damage: records go through the same log format (each is
    encoded on :meth:`append` and decoded again by :meth:`load`), so the same
    calls are refused with the same errors, a value the durable log could not
    hold is refused here too, an append is all-or-nothing, and :meth:`load`
    returns the latest snapshot and the records after it, equal to (not the
    same objects as) the records appended. Only the latest snapshot is kept.

    Cost: encoding on append and decoding on load, a few microseconds per
    record (see benchmarks/README.md), and the encoded records' memory.

    :param retention: seconds of records to keep, by their ``at``, counted
        back from the log's last record: when a snapshot is stored, the
        records it covers that are older are dropped. ``None`` keeps them all.
    :raises InvalidValueError: ``retention`` is not ``None`` nor a finite
        number >= 0.
    """

    def __init__(self, *, retention: float | None = DEFAULT_RETENTION) -> None:
        self._retention = check_retention(retention)
        # The rows of records first_seq, first_seq + 1 ... (earlier ones were dropped).
        self._rows: list[Row] = []
        self._first_seq = 1
        self._snapshot: tuple[int, bytes] | None = None
        self._closed = False

    @property
    def retention(self) -> float | None:
        """Seconds of records kept behind the latest snapshot (``None``: all of them)."""
        return self._retention

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the memory store is closed")

    @property
    def _last_seq(self) -> int:
        return self._first_seq - 1 + len(self._rows)

    @property
    def _snapshot_seq(self) -> int:
        return self._snapshot[0] if self._snapshot is not None else 0

    def load(self) -> Recovered:
        """Return the latest snapshot and the records after it, decoded afresh.

        Cost: O(records after the snapshot), decoding each.
        """
        from .codec import decode_row

        self._check_open()
        seq, state = self._snapshot if self._snapshot is not None else (0, None)
        try:
            records = tuple(decode_row(row) for row in self._rows[seq + 1 - self._first_seq :])
        except InputError as error:
            raise StorageError(f"the memory store cannot read a record back: {error}") from error
        return Recovered(snapshot_seq=seq, snapshot=state, records=records)

    def append(self, records: Sequence[LogRecord]) -> None:
        """Add records to the log; all of them or, when this raises, none.

        Cost: encoding each record (a few microseconds).

        :raises InvalidValueError: an item is not a well-formed :class:`LogRecord`,
            or holds a value the log cannot hold (see :mod:`ccroute.codec`).
        :raises StorageError: the seqs do not continue the log one by one (the
            message names them), or the store is closed.
        """
        self._check_open()
        # Every record is checked and encoded before the first is kept: all or nothing.
        batch = check_batch(records, self._last_seq, "the memory store")
        self._rows.extend(encode_batch(batch, records))

    def snapshot(self, seq: int, state: bytes) -> None:
        """Keep ``state`` as the snapshot after record ``seq``, replacing the previous one,
        and drop the records it covers that are older than the retention.

        :raises InvalidValueError: ``seq`` is beyond the log or before the latest
            snapshot, or ``state`` is not bytes.
        :raises StorageError: the store is closed.
        """
        self._check_open()
        data = check_snapshot(seq, state, self._last_seq, self._snapshot_seq)
        self._snapshot = (seq, data)
        if self._retention is None or not self._rows:
            return
        cutoff = self._rows[-1].at - self._retention
        drop = 0
        for row in self._rows[: seq + 1 - self._first_seq]:
            if row.at >= cutoff:
                break
            drop += 1
        del self._rows[:drop]
        self._first_seq += drop

    def close(self) -> None:
        """Close the store; later calls raise :class:`StorageError`. Closing twice does nothing."""
        self._closed = True

    def __enter__(self) -> MemoryStorage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
