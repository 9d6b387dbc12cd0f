"""The engine contract, as reusable pytest tests: leases, fencing, following.

Every :class:`~ccroute.cluster.Engine` (the reference
:class:`~ccroute.cluster_sqlite.SQLiteEngine`, the PostgreSQL and Redis
plugins) passes the same tests. A plugin's test suite subclasses the two
classes here and gives one fixture, ``make_engine``: a coroutine function
that opens a new engine on the shared backend (a new node's connection),
taking the keyword ``retention``::

    import pytest
    from ccroute.testing_engine import EngineContract, EngineStorageContract

    @pytest.fixture
    def make_engine(redis_url):
        async def make(*, retention=DEFAULT_RETENTION):
            return await RedisEngine.connect(redis_url, retention=retention)
        return make

    class TestRedisEngine(EngineContract): ...
    class TestRedisPartitionStore(EngineStorageContract): ...

Each test uses partitions of its own (random names), so the backend needs no
cleaning between tests, and closes every engine it opened.
:class:`EngineContract` runs on ``EngineContract.backend`` (asyncio by
default; override ``anyio_backend`` to run on trio too).
:class:`EngineStorageContract` runs the storage contract of
:mod:`ccroute.testing_storage` on a partition's store under a live lease.

Lease tests wait for leases to lapse: with the ttls here the class takes
about 15 seconds.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

import anyio
import anyio.from_thread
import pytest

from .cluster import Engine
from .errors import FencedError, InvalidValueError, StorageError
from .storage import DEFAULT_RETENTION, AsyncStorage, Recovered
from .testing_storage import AsyncStorageContract, MakeAsyncStore, record, records

__all__ = ["EngineContract", "EngineStorageContract", "MakeEngine", "OpenEngine"]


class MakeEngine(Protocol):
    """The ``make_engine`` fixture's value: opens a new engine on the shared backend."""

    def __call__(self, *, retention: float | None = DEFAULT_RETENTION) -> Awaitable[Engine]: ...


#: What the ``open_engine`` fixture gives a test: ``make_engine``, closed after it.
OpenEngine = Callable[[], Awaitable[Engine]]

#: The lease time of the lapse tests, in seconds: short, so the tests are quick,
#: but long enough for a busy CI machine to renew in time.
TTL = 0.6


def fresh_partition() -> str:
    """A partition name no other test uses."""
    return f"contract-{uuid.uuid4().hex[:12]}"


class EngineContract:
    """The lease, fencing and following rules of :class:`~ccroute.cluster.Engine`.

    Subclass it (its name starting with ``Test``) where a ``make_engine``
    fixture is visible.
    """

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def anyio_backend(self) -> str:
        """The event loop the tests run on; override to add trio."""
        return "asyncio"

    @pytest.fixture
    async def open_engine(self, make_engine: MakeEngine) -> AsyncIterator[OpenEngine]:
        """Opens engines (nodes) on the backend; closes them after the test."""
        opened: list[Engine] = []

        async def open_one() -> Engine:
            engine = await make_engine()
            opened.append(engine)
            return engine

        yield open_one
        for engine in opened:
            with anyio.fail_after(10):
                await engine.close()

    @pytest.fixture
    def partition(self) -> str:
        """A partition of this test's own."""
        return fresh_partition()

    # -- the protocol ------------------------------------------------------------

    async def test_an_engine_satisfies_the_protocol(self, open_engine: OpenEngine) -> None:
        engine = await open_engine()
        assert isinstance(engine, Engine)

    async def test_close_is_idempotent(self, make_engine: MakeEngine) -> None:
        engine = await make_engine()
        await engine.close()
        await engine.close()

    # -- leases --------------------------------------------------------------------

    async def test_a_free_lease_is_taken_and_tokens_strictly_increase(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        tokens = []
        for engine, node in [(a, "node-a"), (b, "node-b"), (a, "node-a"), (a, "node-a")]:
            token = await engine.acquire(partition, node, 30.0)
            assert type(token) is int and token >= 1
            tokens.append(token)
            await engine.release(partition, node, token)
        assert tokens == sorted(tokens) and len(set(tokens)) == len(tokens)

    async def test_a_held_lease_refuses_every_other_node_and_its_holder(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        assert await b.acquire(partition, "node-b", 30.0) is None
        # The holder renews; acquiring again is not how it keeps the lease.
        assert await a.acquire(partition, "node-a", 30.0) is None
        assert await b.acquire(partition, "node-a", 30.0) is None
        assert await a.renew(partition, "node-a", token, 30.0)

    async def test_a_lapsed_lease_can_be_taken_with_a_greater_token(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        first = await a.acquire(partition, "node-a", TTL)
        assert first is not None
        assert await b.acquire(partition, "node-b", TTL) is None
        await anyio.sleep(TTL * 1.5)
        second = await b.acquire(partition, "node-b", 30.0)
        assert second is not None and second > first

    async def test_renewing_keeps_the_lease(self, open_engine: OpenEngine, partition: str) -> None:
        a, b = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", TTL)
        assert token is not None
        for _ in range(4):
            await anyio.sleep(TTL / 2)
            assert await a.renew(partition, "node-a", token, TTL)
            assert await b.acquire(partition, "node-b", TTL) is None

    async def test_a_lapsed_lease_nobody_took_may_be_renewed(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a = await open_engine()
        token = await a.acquire(partition, "node-a", TTL)
        assert token is not None
        await anyio.sleep(TTL * 1.5)
        assert await a.renew(partition, "node-a", token, 30.0)

    async def test_renew_fails_after_a_takeover(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        old = await a.acquire(partition, "node-a", TTL)
        assert old is not None
        await anyio.sleep(TTL * 1.5)
        new = await b.acquire(partition, "node-b", 30.0)
        assert new is not None and new > old
        assert not await a.renew(partition, "node-a", old, 30.0)
        # Neither the new token under the old name nor the old one under the new name.
        assert not await a.renew(partition, "node-a", new, 30.0)
        assert not await a.renew(partition, "node-b", old, 30.0)
        assert await b.renew(partition, "node-b", new, 30.0)

    async def test_release_frees_the_lease_at_once_only_under_its_token(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        await a.release(partition, "node-a", token + 1)
        await a.release(partition, "node-b", token)
        assert await b.acquire(partition, "node-b", 30.0) is None
        await a.release(partition, "node-a", token)
        taken = await b.acquire(partition, "node-b", 30.0)
        assert taken is not None and taken > token
        # A late release of the old lease leaves the new holder alone.
        await a.release(partition, "node-a", token)
        assert await a.acquire(partition, "node-a", 30.0) is None
        assert not await a.renew(partition, "node-a", token, 30.0)

    async def test_partitions_are_independent(self, open_engine: OpenEngine) -> None:
        a, b = await open_engine(), await open_engine()
        one, two = fresh_partition(), fresh_partition()
        token_one = await a.acquire(one, "node-a", 30.0)
        token_two = await b.acquire(two, "node-b", 30.0)
        assert token_one is not None and token_two is not None
        await a.storage(one, token_one).append(records(1, 2))
        await b.storage(two, token_two).append(records(1, 3))
        assert (await a.storage(two, None).load()).last_seq == 3
        assert (await b.storage(one, None).load()).last_seq == 2
        assert await a.acquire(two, "node-a", 30.0) is None

    # -- fencing -------------------------------------------------------------------

    async def test_a_stale_token_cannot_write_and_nothing_is_stored(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, b = await open_engine(), await open_engine()
        old = await a.acquire(partition, "node-a", TTL)
        assert old is not None
        stale = a.storage(partition, old)
        await stale.append(records(1, 3))
        await stale.snapshot(2, b"two")
        await anyio.sleep(TTL * 1.5)
        new = await b.acquire(partition, "node-b", 30.0)
        assert new is not None
        # Fenced as soon as the lease moved, before the new leader writes anything.
        with pytest.raises(FencedError) as raised:
            await stale.append([record(4)])
        assert (raised.value.partition, raised.value.token) == (partition, old)
        assert isinstance(raised.value, StorageError)
        with pytest.raises(FencedError):
            await stale.snapshot(3, b"three")
        leader = b.storage(partition, new)
        recovered = await leader.load()
        assert (recovered.snapshot_seq, recovered.snapshot) == (2, b"two")
        assert recovered.records == (record(3),)
        # The new leader goes on from the old one's last record.
        await leader.append([record(4)])
        with pytest.raises(FencedError):
            await stale.append([record(5)])
        assert (await leader.load()).records == (record(3), record(4))
        await leader.close()
        await stale.close()

    async def test_a_new_store_appends_without_loading_first(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        # A node taking over from its warm copy never calls the store's load.
        a, b = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        await a.storage(partition, token).append(records(1, 3))
        await a.storage(partition, token).snapshot(2, b"two")
        fresh = b.storage(partition, token)
        with pytest.raises(StorageError, match="must be 4"):
            await fresh.append([record(3)])
        await fresh.append([record(4)])
        await b.storage(partition, token).snapshot(4, b"four")
        assert await a.storage(partition, None).load() == Recovered(4, b"four", ())

    async def test_a_store_without_a_token_reads_and_cannot_write(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a = await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        await a.storage(partition, token).append(records(1, 2))
        reader = a.storage(partition, None)
        assert (await reader.load()).records == tuple(records(1, 2))
        with pytest.raises(FencedError):
            await reader.append([record(3)])
        with pytest.raises(FencedError):
            await reader.snapshot(2, b"two")
        assert (await reader.load()).last_seq == 2

    async def test_a_token_of_a_lease_never_taken_is_fenced(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a = await open_engine()
        with pytest.raises(FencedError):
            await a.storage(partition, 7).append([record(1)])
        assert await a.storage(partition, None).load() == Recovered()

    # -- following -----------------------------------------------------------------

    async def test_read_after_returns_the_records_after_seq_in_order(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, follower = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        appended = records(1, 30)
        store = a.storage(partition, token)
        await store.append(appended[:10])
        await store.append(appended[10:])
        read: list[Any] = []
        while len(read) < 30:
            page = await follower.read_after(partition, len(read), 0.0)
            assert page, "records are there: read_after must return some"
            assert page[0].seq == len(read) + 1
            read.extend(page)
        assert read == appended
        assert tuple(await follower.read_after(partition, 25, 0.0))[:5] == tuple(appended[25:])
        assert tuple(await follower.read_after(partition, 30, 0.0)) == ()

    async def test_read_after_waits_at_most_wait(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        follower = await open_engine()
        started = time.monotonic()
        assert tuple(await follower.read_after(partition, 0, 0.5)) == ()
        waited = time.monotonic() - started
        assert 0.3 <= waited < 2.5, f"read_after(wait=0.5) took {waited:.2f} s"

    async def test_read_after_returns_as_soon_as_a_record_arrives(
        self, open_engine: OpenEngine, partition: str
    ) -> None:
        a, follower = await open_engine(), await open_engine()
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        store = a.storage(partition, token)
        await store.append(records(1, 2))
        got: list[Any] = []
        started = time.monotonic()

        async def follow() -> None:
            got.extend(await follower.read_after(partition, 2, 10.0))

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            await anyio.sleep(0.3)
            await store.append([record(3)])
        waited = time.monotonic() - started
        assert got == [record(3)]
        assert waited < 3.0, f"the follower heard of record 3 only after {waited:.2f} s"

    # -- bad input -------------------------------------------------------------------

    @pytest.mark.parametrize("ttl", [0, -1.0, math.nan, math.inf, True, "30"])
    async def test_a_bad_ttl_is_refused(
        self, open_engine: OpenEngine, partition: str, ttl: Any
    ) -> None:
        a = await open_engine()
        with pytest.raises(InvalidValueError, match="ttl must be"):
            await a.acquire(partition, "node-a", ttl)
        token = await a.acquire(partition, "node-a", 30.0)
        assert token is not None
        with pytest.raises(InvalidValueError, match="ttl must be"):
            await a.renew(partition, "node-a", token, ttl)

    @pytest.mark.parametrize("name", ["", 7, None, "x" * 201, "a\nb"])
    async def test_a_bad_partition_or_node_name_is_refused(
        self, open_engine: OpenEngine, name: Any
    ) -> None:
        a = await open_engine()
        with pytest.raises(InvalidValueError, match="partition"):
            await a.acquire(name, "node-a", 30.0)
        with pytest.raises(InvalidValueError, match="node"):
            await a.acquire(fresh_partition(), name, 30.0)
        with pytest.raises(InvalidValueError, match="partition"):
            a.storage(name, None)
        with pytest.raises(InvalidValueError, match="partition"):
            await a.read_after(name, 0, 0.0)

    @pytest.mark.parametrize(
        ("seq", "wait", "message"),
        [(-1, 0.0, "seq must be"), ("0", 0.0, "seq must be"), (0, -1.0, "wait must be")],
    )
    async def test_bad_read_arguments_are_refused(
        self, open_engine: OpenEngine, partition: str, seq: Any, wait: Any, message: str
    ) -> None:
        a = await open_engine()
        with pytest.raises(InvalidValueError, match=message):
            await a.read_after(partition, seq, wait)

    @pytest.mark.parametrize("token", [0, -3, True, "1", 1.0])
    async def test_a_bad_token_is_refused(
        self, open_engine: OpenEngine, partition: str, token: Any
    ) -> None:
        a = await open_engine()
        with pytest.raises(InvalidValueError, match="fencing token"):
            await a.renew(partition, "node-a", token, 30.0)
        with pytest.raises(InvalidValueError, match="fencing token"):
            await a.release(partition, "node-a", token)
        with pytest.raises(InvalidValueError, match="fencing token"):
            a.storage(partition, token)


class EngineStorageContract(AsyncStorageContract):
    """The storage contract of :mod:`ccroute.testing_storage` on a partition's
    store, written under a live lease, and reopened through a new engine.

    Subclass it where a ``make_engine`` fixture is visible.
    """

    @pytest.fixture
    def _engines(self, portal: anyio.from_thread.BlockingPortal) -> Iterator[list[Engine]]:
        opened: list[Engine] = []
        yield opened
        for engine in opened:
            portal.call(engine.close)

    @pytest.fixture
    def make_async_store(self, make_engine: MakeEngine, _engines: list[Engine]) -> MakeAsyncStore:
        async def make(*, retention: float | None = DEFAULT_RETENTION) -> AsyncStorage:
            engine = await make_engine(retention=retention)
            _engines.append(engine)
            partition = fresh_partition()
            token = await engine.acquire(partition, "contract", 600.0)
            assert token is not None
            return _Leased(engine.storage(partition, token), partition, token)

        return make

    @pytest.fixture
    def reopen_async_store(
        self, make_engine: MakeEngine, _engines: list[Engine]
    ) -> Callable[[AsyncStorage], Awaitable[AsyncStorage]]:
        async def reopen(store: AsyncStorage) -> AsyncStorage:
            assert isinstance(store, _Leased)
            engine = await make_engine()
            _engines.append(engine)
            return _Leased(
                engine.storage(store.partition, store.token), store.partition, store.token
            )

        return reopen


class _Leased:
    """A partition's store with the partition and token it writes under."""

    def __init__(self, store: AsyncStorage, partition: str, token: int) -> None:
        self.store, self.partition, self.token = store, partition, token
        self.load, self.append = store.load, store.append
        self.snapshot, self.close = store.snapshot, store.close
