"""The storage contract, as reusable pytest tests: what every store must do.

Every store of the log (:class:`~ccroute.MemoryStorage`,
:class:`~ccroute.SQLiteStorage`, an engine's store from a plugin) must keep
records in order with consecutive seqs, append all or nothing, give back the
latest snapshot and the records after it, refuse bad input changing nothing,
and close idempotently. The tests live here, in one class, so that a plugin's
test suite runs exactly the tests ccroute's own stores pass::

    import pytest
    from ccroute.testing_storage import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def make_store(self, tmp_path):
            return lambda *, retention=DEFAULT_RETENTION: MyStorage(tmp_path / "log", retention=retention)

A store whose methods are coroutines (an :class:`~ccroute.storage.AsyncStorage`)
runs the same tests through :class:`SyncStorage`, which calls it on an event
loop of its own (an anyio blocking portal): subclass
:class:`AsyncStorageContract` and give ``make_async_store`` instead. An
engine's partition stores run them through :class:`EngineStorageContract`,
and the lease and fencing rules of :class:`~ccroute.cluster.Engine` are in
:mod:`ccroute.testing_cluster`.

This module needs pytest, hypothesis and anyio (ccroute's ``test`` extra);
importing :mod:`ccroute` does not import it.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol

import anyio
import anyio.from_thread
import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .commands import Accept, Command, SetPresence, Submit, Tick, Transfer
from .errors import InvalidValueError, StorageError
from .events import Offered, OfferReason, Queued, Rejected
from .model import Contact, Presence
from .storage import DEFAULT_RETENTION, AsyncStorage, LogRecord, Recovered, Storage

__all__ = [
    "AsyncStorageContract",
    "MakeAsyncStore",
    "MakeStore",
    "StorageContract",
    "SyncStorage",
    "record",
    "records",
    "timed",
]


def record(seq: int, **changes: Any) -> LogRecord:
    """A submit record as the service logs it: the call and the events it caused
    (record ``seq`` at time ``10 * seq``); ``changes`` replace fields."""
    at = 10.0 * seq
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at,
        "command": Submit(Contact(f"c{seq}", "voice", "sales", priority_seconds=seq % 3)),
        "events": (
            Queued(at=at, contact_id=f"c{seq}", queue="sales", channel="voice"),
            Offered(
                at=at,
                contact_id=f"c{seq}",
                agent_id="a1",
                queue="sales",
                channel="voice",
                timeout_at=at + 20.0,
                reason=OfferReason("longest-idle", "contact", 2, 12.5, 3.0, 0, ()),
            ),
        ),
    }
    fields.update(changes)
    return LogRecord(**fields)


def records(first: int, last: int) -> list[LogRecord]:
    """Records ``first`` to ``last`` inclusive, as :func:`record` makes them."""
    return [record(seq) for seq in range(first, last + 1)]


def timed(seq: int, at: float) -> LogRecord:
    """``record(seq)`` at time ``at`` (its events too)."""
    one = record(seq)
    return attrs.evolve(one, at=at, events=tuple(attrs.evolve(e, at=at) for e in one.events))


def with_attributes(seq: int, attributes: dict[str, Any]) -> LogRecord:
    """A submit record whose contact carries ``attributes``, set past the constructor.

    The model may refuse such values itself; the log must refuse them anyway,
    whatever a model lets through.
    """
    contact = Contact(f"c{seq}", "voice", "sales")
    object.__setattr__(contact, "attributes", attributes)
    return record(seq, command=Submit(contact))


class MakeStore(Protocol):
    """The ``make_store`` fixture's value: a fresh, empty store on each call."""

    def __call__(self, *, retention: float | None = DEFAULT_RETENTION) -> Storage: ...


class MakeAsyncStore(Protocol):
    """The ``make_async_store`` fixture's value: a coroutine making a fresh,
    empty :class:`~ccroute.storage.AsyncStorage` (run on the portal's loop)."""

    def __call__(
        self, *, retention: float | None = DEFAULT_RETENTION
    ) -> Awaitable[AsyncStorage]: ...


# What the property below appends: any record the log can hold.
_ids = st.text(alphabet="abcxyz0123", min_size=1, max_size=6)
# Any text UTF-8 can hold (a lone surrogate cannot: the codec refuses it).
_text = st.text(st.characters(codec="utf-8"), max_size=6)
_times = st.floats(min_value=0, max_value=1e7, allow_nan=False)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _times | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_events = st.one_of(
    st.builds(Queued, at=_times, contact_id=_ids, queue=_ids, channel=_ids),
    st.builds(
        Offered,
        at=_times,
        contact_id=_ids,
        agent_id=_ids,
        queue=_ids,
        channel=_ids,
        timeout_at=st.none() | _times,
    ),
    st.builds(Rejected, at=_times, contact_id=_ids, agent_id=_ids),
)
_commands = st.one_of(
    st.builds(
        lambda cid, queue, priority, attributes: Submit(
            Contact(cid, "voice", queue, priority_seconds=priority, attributes=attributes)
        ),
        _ids,
        _ids,
        st.floats(-1e6, 1e6),
        st.dictionaries(_text, _json, max_size=3),
    ),
    st.builds(Accept, _ids, _ids),
    st.just(Tick()),
    st.builds(SetPresence, _ids, st.sampled_from(Presence), st.none() | _text),
    st.builds(Transfer, _ids, queue=st.none() | _ids, keep_key=st.booleans()),
)
# (at, command, events); the seq is given when the batch is appended.
_fields = st.tuples(_times, _commands, st.lists(_events, max_size=3).map(tuple))
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.lists(_fields, max_size=6)),
        # A snapshot ``back`` records before the end of the log (not before the latest one).
        st.tuples(st.just("snapshot"), st.integers(0, 4), st.binary(max_size=24)),
    ),
    max_size=10,
)


class StorageContract:
    """The tests every store passes. Subclass it (its name starting with
    ``Test``) and give the fixture ``make_store``: a :class:`MakeStore`, each
    call a new empty store with that ``retention`` (the tests close what they
    open). Override the fixture ``reopen_store`` for a durable store: given a
    store (closed by then), it opens the same log again.

    Cost: about 60 tests; the property test runs 25 examples.
    """

    @pytest.fixture
    def store(self, make_store: MakeStore) -> Iterator[Storage]:
        """An empty store, closed after the test."""
        opened = make_store()
        try:
            yield opened
        finally:
            opened.close()

    @pytest.fixture
    def reopen_store(self) -> Callable[[Storage], Storage] | None:
        """Opens a closed store's log again; ``None`` (the default): the store
        keeps nothing once closed (a memory store)."""
        return None

    def test_the_store_satisfies_the_protocol(self, store: Storage) -> None:
        assert isinstance(store, Storage)

    def test_an_empty_store_loads_nothing(self, store: Storage) -> None:
        recovered = store.load()
        assert recovered == Recovered()
        assert recovered.last_seq == 0

    def test_appended_records_load_back_equal_events_included(self, store: Storage) -> None:
        store.append(records(1, 3))
        store.append([record(4)])
        store.append(records(5, 12))
        recovered = store.load()
        assert recovered.records == tuple(records(1, 12))
        assert recovered.records[0].events[1] == record(1).events[1]
        assert recovered.problem is None
        assert recovered.last_seq == 12

    def test_records_come_back_decoded_not_as_the_objects_appended(self, store: Storage) -> None:
        appended = record(1)
        store.append([appended])
        (loaded,) = store.load().records
        assert loaded == appended
        assert loaded.command is not appended.command
        assert loaded.events[1] is not appended.events[1]

    def test_an_empty_batch_changes_nothing(self, store: Storage) -> None:
        store.append([])
        store.append(records(1, 2))
        store.append(())
        assert store.load().records == tuple(records(1, 2))

    def test_a_record_carrying_a_contact_loads_back(self, store: Storage) -> None:
        contact = Contact(
            "c1", "voice", "sales", requirements={"en": 3}, attributes={"vip": True, "tags": ["x"]}
        )
        store.append([record(1, command=Submit(contact))])
        (loaded,) = store.load().records
        assert isinstance(loaded.command, Submit)
        assert loaded.command.contact == contact
        # Contact equality ignores attributes; they must survive too, read-only.
        attributes = loaded.command.contact.attributes
        assert dict(attributes) == {"vip": True, "tags": ["x"]}
        with pytest.raises(TypeError):
            attributes["vip"] = False  # type: ignore[index]

    @pytest.mark.parametrize("first", [0, 2, 5])
    def test_the_first_record_of_an_empty_log_must_be_1(self, store: Storage, first: int) -> None:
        with pytest.raises(StorageError, match=rf"record {first}\b.*next record must be 1"):
            store.append([record(first)])
        assert store.load().records == ()

    @pytest.mark.parametrize("first", [3, 5, 100])
    def test_a_batch_must_continue_the_log(self, store: Storage, first: int) -> None:
        store.append(records(1, 3))
        with pytest.raises(StorageError, match=rf"record {first}\b.*ends at record 3.*must be 4"):
            store.append([record(first)])
        assert store.load().records == tuple(records(1, 3))

    def test_seqs_in_a_batch_must_be_consecutive(self, store: Storage) -> None:
        store.append(records(1, 3))
        with pytest.raises(StorageError, match=r"record 7 follows record 5"):
            store.append([record(4), record(5), record(7)])
        assert store.load().records == tuple(records(1, 3))
        store.append(records(4, 5))
        assert store.load().last_seq == 5

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ("not a record", r"item 1 of the batch is a str, not a LogRecord"),
            (
                record(3, events=[Queued(1.0, "c", "q", "voice")]),
                r"record 3: events must be a tuple",
            ),
            (record(3, events=(Queued(1.0, "c", "q", "voice"), "x")), r"record 3: events must be"),
            (record(3, at="soon"), r"record 3: at must be a finite number"),
            (record(3, at=float("inf")), r"record 3: at must be a finite number"),
            (record(3, command="submit"), r"record 3: command must be a Command"),
            (record(3, command=Command()), r"record 3: command must be a Command"),
            (attrs.evolve(record(3), seq="3"), r"item 1 .*seq must be an int"),  # type: ignore[arg-type]
            # Values the log cannot hold as they are: refused by both stores alike.
            (
                with_attributes(3, {"when": datetime.date(2026, 1, 2)}),
                r"record 3 \(submit\) cannot be stored: attributes\['when'\] is a date",
            ),
            (
                with_attributes(3, {"ids": {1, 2}}),
                r"record 3 \(submit\) cannot be stored.*is a set",
            ),
            (with_attributes(3, {"x": {1: "a"}}), r"record 3 \(submit\).*key 1 is not a string"),
            (with_attributes(3, {"x": float("nan")}), r"record 3 \(submit\).*finite numbers only"),
            (
                record(3, events=(Queued(float("inf"), "c", "q", "voice"),)),
                r"record 3 \(submit\).*Queued.at is inf",
            ),
        ],
        ids=[
            "not-a-record",
            "events-list",
            "events",
            "at",
            "at-inf",
            "command-name",
            "command-base",
            "seq",
            "attribute-date",
            "attribute-set",
            "attribute-key",
            "attribute-nan",
            "event-inf",
        ],
    )
    def test_append_is_all_or_nothing(self, store: Storage, bad: Any, message: str) -> None:
        store.append([record(1)])
        with pytest.raises(InvalidValueError, match=message):
            store.append([record(2), bad, record(4)])
        # Neither record 2 (before the bad item) nor anything else was kept...
        assert store.load().records == (record(1),)
        # ...and the log still goes on from record 1.
        store.append(records(2, 3))
        assert store.load().last_seq == 3

    @pytest.mark.parametrize("batch", [record(1), None, 1])
    def test_a_batch_must_be_a_sequence_of_records(self, store: Storage, batch: Any) -> None:
        with pytest.raises(InvalidValueError, match="sequence of LogRecord"):
            store.append(batch)
        assert store.load().records == ()

    def test_load_returns_the_snapshot_and_the_records_after_it(self, store: Storage) -> None:
        store.append(records(1, 5))
        store.snapshot(3, b"state after 3")
        recovered = store.load()
        assert recovered.snapshot_seq == 3
        assert recovered.snapshot == b"state after 3"
        assert recovered.records == tuple(records(4, 5))
        assert recovered.last_seq == 5
        store.append(records(6, 7))
        assert store.load().records == tuple(records(4, 7))

    def test_a_snapshot_at_the_end_of_the_log_leaves_no_tail(self, store: Storage) -> None:
        store.append(records(1, 4))
        store.snapshot(4, bytearray(b"four"))  # type: ignore[arg-type]
        recovered = store.load()
        assert (recovered.snapshot_seq, recovered.snapshot, recovered.records) == (4, b"four", ())
        assert recovered.last_seq == 4
        store.append([record(5)])
        assert store.load().records == (record(5),)

    def test_a_snapshot_of_the_empty_log_is_allowed(self, store: Storage) -> None:
        store.snapshot(0, b"empty router")
        assert store.load() == Recovered(snapshot_seq=0, snapshot=b"empty router")
        store.append([record(1)])
        assert store.load().records == (record(1),)

    @pytest.mark.parametrize(
        "state",
        [b'{"format": 1, "agents": []}', b"\x80\x05binary\x00state", b"", "é".encode()],
        ids=["json", "binary", "empty", "utf8"],
    )
    def test_snapshot_bytes_come_back_exactly(self, store: Storage, state: bytes) -> None:
        store.append(records(1, 2))
        store.snapshot(2, state)
        assert store.load().snapshot == state

    def test_the_latest_snapshot_wins(self, store: Storage) -> None:
        store.append(records(1, 2))
        for seq in (1, 2, 2):
            store.snapshot(seq, f"after {seq}".encode())
        store.append(records(3, 6))
        store.snapshot(5, b"after 5")
        recovered = store.load()
        assert (recovered.snapshot_seq, recovered.snapshot) == (5, b"after 5")
        assert recovered.records == (record(6),)

    @pytest.mark.parametrize(
        ("seq", "state", "message"),
        [
            (6, b"s", r"log ends at record 5; a snapshot after record 6"),
            (2, b"s", r"record 2 is before the latest snapshot \(after record 3\)"),
            (4, "text", r"state must be bytes, not str"),
            ("4", b"s", r"seq must be an int"),
        ],
    )
    def test_bad_snapshots_are_refused_and_change_nothing(
        self, store: Storage, seq: Any, state: Any, message: str
    ) -> None:
        store.append(records(1, 5))
        store.snapshot(3, b"three")
        before = store.load()
        with pytest.raises(InvalidValueError, match=message):
            store.snapshot(seq, state)
        assert store.load() == before

    def test_close_is_idempotent_and_final(self, store: Storage) -> None:
        store.append(records(1, 2))
        store.close()
        store.close()
        with pytest.raises(StorageError, match="closed"):
            store.load()
        with pytest.raises(StorageError, match="closed"):
            store.append([record(3)])
        with pytest.raises(StorageError, match="closed"):
            store.snapshot(2, b"s")

    def test_calls_may_come_from_another_thread(self, store: Storage) -> None:
        errors: list[BaseException] = []

        def work() -> None:
            try:
                store.append(records(1, 3))
                store.snapshot(2, b"two")
            except BaseException as error:  # reported below, on the test's thread
                errors.append(error)

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        assert errors == []
        assert store.load().records == (record(3),)

    # -- retention: a snapshot may drop what it covers, never what load needs

    def test_retention_never_drops_what_load_gives_back(self, make_store: MakeStore) -> None:
        opened = make_store(retention=100.0)
        try:
            # Records 1..10 at times 0, 50, ..., 450.
            log = [timed(seq, 50.0 * (seq - 1)) for seq in range(1, 11)]
            opened.append(log)
            opened.snapshot(6, b"after six")
            recovered = opened.load()
            assert (recovered.snapshot_seq, recovered.records) == (6, tuple(log[6:]))
            # Records older than the retention but after the snapshot are kept,
            # and the log goes on.
            opened.append([timed(11, 1000.0)])
            opened.snapshot(11, b"after eleven")
            assert opened.load() == Recovered(11, b"after eleven", ())
            opened.append([timed(12, 1001.0)])
            assert opened.load().records == (timed(12, 1001.0),)
            with pytest.raises(StorageError, match="must be 13"):
                opened.append([timed(9, 1002.0)])
        finally:
            opened.close()

    # -- the property: what was appended is what comes back

    @settings(
        max_examples=25,
        deadline=None,
        # Each subclass runs it on its own instances; ``self`` holds no state.
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(steps=_steps)
    def test_what_was_appended_comes_back_after_the_latest_snapshot(
        self,
        make_store: MakeStore,
        reopen_store: Callable[[Storage], Storage] | None,
        steps: list[tuple[Any, ...]],
    ) -> None:
        store = make_store(retention=None)
        try:
            appended: list[LogRecord] = []
            snapshot: tuple[int, bytes | None] = (0, None)
            for step in steps:
                if step[0] == "append":
                    batch = [
                        LogRecord(len(appended) + index, *fields)
                        for index, fields in enumerate(step[1], start=1)
                    ]
                    store.append(batch)
                    appended.extend(batch)
                else:
                    _, back, state = step
                    seq = max(len(appended) - back, snapshot[0])
                    store.snapshot(seq, state)
                    snapshot = (seq, state)
            if reopen_store is not None:
                store.close()
                store = reopen_store(store)
            recovered = store.load()
            assert (recovered.snapshot_seq, recovered.snapshot) == snapshot
            assert recovered.records == tuple(appended[snapshot[0] :])
            for got, sent in zip(recovered.records, appended[snapshot[0] :], strict=True):
                if isinstance(sent.command, Submit):
                    assert isinstance(got.command, Submit)
                    assert dict(got.command.contact.attributes) == dict(
                        sent.command.contact.attributes
                    )
            assert recovered.problem is None
            # The reopened log goes on where it ended.
            store.append([record(len(appended) + 1)])
            assert store.load().records[-1] == record(len(appended) + 1)
        finally:
            store.close()


class SyncStorage:
    """An :class:`~ccroute.storage.AsyncStorage` seen as a
    :class:`~ccroute.storage.Storage`: each call runs on the event loop of an
    anyio blocking portal, from whichever thread calls (one at a time, as
    the protocol promises). For tests and tools, not for the service, which
    awaits an async store itself.

    Cost: a thread hop per call (tens of microseconds).
    """

    def __init__(self, store: AsyncStorage, portal: anyio.from_thread.BlockingPortal) -> None:
        self.store = store
        """The async store."""
        self._portal = portal

    def load(self) -> Recovered:
        """As :meth:`AsyncStorage.load`, waited for."""
        return self._portal.call(self.store.load)

    def append(self, records: Sequence[LogRecord]) -> None:
        """As :meth:`AsyncStorage.append`, waited for."""
        self._portal.call(self.store.append, records)

    def snapshot(self, seq: int, state: bytes) -> None:
        """As :meth:`AsyncStorage.snapshot`, waited for."""
        self._portal.call(self.store.snapshot, seq, state)

    def close(self) -> None:
        """As :meth:`AsyncStorage.close`, waited for."""
        self._portal.call(self.store.close)

    def __repr__(self) -> str:
        return f"SyncStorage({self.store!r})"


class AsyncStorageContract(StorageContract):
    """:class:`StorageContract` for an :class:`~ccroute.storage.AsyncStorage`.

    Give the fixture ``make_async_store``: a :class:`MakeAsyncStore`, whose
    coroutine runs on the portal's loop (fixture ``portal``, one per test,
    on :attr:`backend`); for a durable store, ``reopen_async_store``: a
    coroutine function opening a closed store's log again. Each store is
    wrapped in :class:`SyncStorage`.
    """

    #: The anyio backend the portal's loop runs (``"asyncio"`` or ``"trio"``).
    backend = "asyncio"

    @pytest.fixture
    def portal(self) -> Iterator[anyio.from_thread.BlockingPortal]:
        """An event loop in a thread of its own, for the test's length."""
        with anyio.from_thread.start_blocking_portal(self.backend) as portal:
            yield portal

    @pytest.fixture
    def reopen_async_store(self) -> Callable[[AsyncStorage], Awaitable[AsyncStorage]] | None:
        """Opens a closed async store's log again; ``None``: it keeps nothing."""
        return None

    @pytest.fixture
    def make_store(
        self, make_async_store: MakeAsyncStore, portal: anyio.from_thread.BlockingPortal
    ) -> MakeStore:
        def make(*, retention: float | None = DEFAULT_RETENTION) -> Storage:
            async def made() -> AsyncStorage:
                return await make_async_store(retention=retention)

            return SyncStorage(portal.call(made), portal)

        return make

    @pytest.fixture
    def reopen_store(
        self,
        reopen_async_store: Callable[[AsyncStorage], Awaitable[AsyncStorage]] | None,
        portal: anyio.from_thread.BlockingPortal,
    ) -> Callable[[Storage], Storage] | None:
        if reopen_async_store is None:
            return None

        def reopen(store: Storage) -> Storage:
            assert isinstance(store, SyncStorage)
            inner = store.store

            async def reopened() -> AsyncStorage:
                return await reopen_async_store(inner)

            return SyncStorage(portal.call(reopened), portal)

        return reopen
