"""The service on an AsyncStorage: awaited on its own loop, fenced writes stop it.

An engine's store (PostgreSQL, Redis, :mod:`ccroute.cluster_sqlite`) has
coroutine methods; the service awaits them one at a time on its event loop
instead of a worker thread. A :class:`~ccroute.errors.FencedError` from the
store (another node took the lease) stops the service taking calls like any
storage failure, and nothing more is written: no final snapshot, no hang.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
import pytest

from ccroute import (
    Agent,
    Contact,
    InvalidValueError,
    MemoryStorage,
    Presence,
    QueueConfig,
    Service,
    ServiceError,
    StorageError,
    hookimpl,
)
from ccroute.errors import FencedError
from ccroute.storage import AsyncStorage, LogRecord, Recovered, Storage, is_async_storage

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def bounded(test: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Fail the test, rather than hang, when it takes more than ten seconds."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        with anyio.fail_after(10):
            await test(*args, **kwargs)

    return run


class AsyncMemory:
    """A memory store with coroutine methods, as an engine's store has; it
    yields to the loop on every call and records which thread called it.

    ``fenced`` makes writes raise :class:`FencedError` (storing nothing), as a
    store whose lease another node took does.
    """

    def __init__(self, inner: MemoryStorage | None = None) -> None:
        self.inner = inner if inner is not None else MemoryStorage()
        self.threads: set[int] = set()
        self.calls: list[str] = []
        self.fenced = False
        self.closed = 0
        self.hang_close = False

    def _enter(self, name: str) -> None:
        self.threads.add(threading.get_ident())
        self.calls.append(name)

    async def load(self) -> Recovered:
        self._enter("load")
        await anyio.sleep(0)
        return self.inner.load()

    async def append(self, records: Sequence[LogRecord]) -> None:
        self._enter("append")
        await anyio.sleep(0)
        if self.fenced:
            raise FencedError("partition p1 has a newer lease (token 8)", partition="p1", token=7)
        self.inner.append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        self._enter("snapshot")
        await anyio.sleep(0)
        if self.fenced:
            raise FencedError("partition p1 has a newer lease (token 8)", partition="p1", token=7)
        self.inner.snapshot(seq, state)

    async def close(self) -> None:
        self._enter("close")
        if self.hang_close:
            await anyio.sleep(3600)
        self.closed += 1


async def centre(service: Service) -> None:
    await service.add_queue(QueueConfig("support", wrap_up=0))
    await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)


def test_the_protocols_are_told_apart_by_their_methods() -> None:
    assert is_async_storage(AsyncMemory()) is True
    assert is_async_storage(MemoryStorage()) is False
    # isinstance cannot tell them apart: both name the same four methods.
    assert isinstance(AsyncMemory(), Storage) and isinstance(MemoryStorage(), AsyncStorage)


class HalfAsync(MemoryStorage):
    async def append(self, records: Sequence[LogRecord]) -> None:  # type: ignore[override]
        super().append(records)


def test_a_store_half_async_is_refused_naming_the_methods() -> None:
    with pytest.raises(InvalidValueError, match=r"HalfAsync has async append only"):
        is_async_storage(HalfAsync())
    with pytest.raises(InvalidValueError, match=r"HalfAsync has async append only"):
        Service(storage=HalfAsync(), load_entrypoints=False)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidValueError, match=r"object object at .* lacks load, append, snapshot, close"
    ):
        Service(storage=object(), load_entrypoints=False)  # type: ignore[arg-type]


async def test_the_service_awaits_an_async_store_on_its_own_thread(anyio_backend: str) -> None:
    store = AsyncMemory()
    async with Service(storage=store, load_entrypoints=False, snapshot_every=3) as service:
        await centre(service)
        await service.submit(Contact("c1", "voice", "support"))
        await service.submit(Contact("c2", "voice", "support"))
        assert service.durable_seq == store.inner.load().last_seq
    # Every call ran on the loop's thread, not a worker thread.
    assert store.threads == {threading.get_ident()}
    assert store.calls[0] == "load" and "append" in store.calls and "snapshot" in store.calls
    # A store the application passed in is the application's to close.
    assert store.closed == 0
    async with Service(storage=store, load_entrypoints=False) as again:
        assert again.router.contact("c1").agent_id == "alice"
        assert "c2" in again.router.contact_ids


async def test_concurrent_calls_share_commits_on_an_async_store(anyio_backend: str) -> None:
    store = AsyncMemory()
    async with Service(storage=store, load_entrypoints=False) as service:
        await centre(service)
        before = store.calls.count("append")
        async with anyio.create_task_group() as tg:
            for i in range(40):
                tg.start_soon(service.submit, Contact(f"c{i}", "email", "support"))
        assert store.calls.count("append") - before < 40
        assert service.durable_seq == store.inner.load().last_seq


class Provides:
    def __init__(self, store: AsyncMemory) -> None:
        self.store = store

    @hookimpl
    def ccroute_storage(self, settings: Any) -> Any:
        return self.store


async def test_a_hook_may_provide_an_async_store_and_the_service_awaits_its_close(
    anyio_backend: str,
) -> None:
    store = AsyncMemory()
    async with Service(plugins=[Provides(store)], load_entrypoints=False) as service:
        await centre(service)
        assert service.storage is store
    assert store.closed == 1


@bounded
async def test_a_fenced_append_stops_the_service_and_nothing_more_is_written(
    anyio_backend: str,
) -> None:
    store = AsyncMemory()
    service = Service(storage=store, load_entrypoints=False)
    await service.start()
    try:
        await centre(service)
        await service.submit(Contact("kept", "voice", "support"))
        durable = store.inner.load()
        store.fenced = True
        with pytest.raises(FencedError, match="newer lease") as raised:
            await service.submit(Contact("lost", "voice", "support"))
        assert (raised.value.partition, raised.value.token) == ("p1", 7)
        assert isinstance(raised.value, StorageError)
        assert isinstance(service.failure, FencedError)
        assert not service.running
        with pytest.raises(ServiceError, match="storage failure"):
            await service.submit(Contact("refused", "voice", "support"))
        writes = [c for c in store.calls if c in ("append", "snapshot")]
    finally:
        await service.stop()
    # stop() wrote nothing more: no flush, no final snapshot.
    assert [c for c in store.calls if c in ("append", "snapshot")] == writes
    assert store.inner.load() == durable
    store.fenced = False
    async with Service(storage=store, load_entrypoints=False) as again:
        assert "kept" in again.router.contact_ids
        assert "lost" not in again.router.contact_ids


@bounded
async def test_a_fenced_final_write_on_stop_neither_hangs_nor_snapshots(
    anyio_backend: str,
) -> None:
    store = AsyncMemory()
    service = Service(storage=store, load_entrypoints=False)
    await service.start()
    await centre(service)
    store.fenced = True
    refused: list[BaseException] = []

    async def submit() -> None:
        try:
            await service.submit(Contact("late", "voice", "support"))
        except FencedError as error:
            refused.append(error)

    service.start_soon(submit)
    while "late" not in service.router.contact_ids:
        await anyio.sleep(0)  # until the call is made and logged, not yet durable
    await service.stop()
    assert len(refused) == 1
    assert isinstance(service.failure, FencedError)
    assert store.calls[-2:] == ["append", "close"] or store.calls[-1] == "append"
    # The last flush was refused: no final snapshot was tried after it.
    assert "snapshot" not in store.calls


async def test_a_fenced_snapshot_stops_the_service(anyio_backend: str) -> None:
    class SnapshotFenced(AsyncMemory):
        async def snapshot(self, seq: int, state: bytes) -> None:
            self._enter("snapshot")
            raise FencedError("partition p1 has a newer lease", partition="p1", token=3)

    store = SnapshotFenced()
    async with Service(storage=store, load_entrypoints=False, snapshot_every=2) as service:
        await centre(service)
        with anyio.fail_after(5):
            while service.failure is None:
                await anyio.sleep(0.001)
        assert isinstance(service.failure, FencedError)
        with pytest.raises(ServiceError, match="fenced store"):
            await service.submit(Contact("c1", "voice", "support"))
    assert store.calls.count("snapshot") == 1


@bounded
async def test_halt_fails_waiting_calls_and_writes_nothing(anyio_backend: str) -> None:
    class Slow(AsyncMemory):
        def __init__(self) -> None:
            super().__init__()
            self.release = anyio.Event()
            self.entered = anyio.Event()

        async def append(self, records: Sequence[LogRecord]) -> None:
            if self.release.is_set():
                return await super().append(records)
            self.entered.set()
            await self.release.wait()
            await super().append(records)

    store = Slow()
    store.release.set()
    service = Service(storage=store, load_entrypoints=False)
    await service.start()
    await centre(service)
    durable = store.inner.load()
    store.release = anyio.Event()
    outcomes: list[BaseException] = []

    async def submit(i: int) -> None:
        try:
            await service.submit(Contact(f"c{i}", "voice", "support"))
        except ServiceError as error:
            outcomes.append(error)

    for i in range(3):
        service.start_soon(submit, i)
    await store.entered.wait()
    while len(service.router.contact_ids) < 3:
        await anyio.sleep(0)  # every call made and waiting for its commit
    await service.halt()
    assert len(outcomes) == 3
    assert all("halted" in str(error) for error in outcomes)
    assert isinstance(service.failure, ServiceError)
    assert store.inner.load() == durable
    assert "snapshot" not in store.calls
    with pytest.raises(ServiceError):
        await service.submit(Contact("after", "voice", "support"))


@bounded
async def test_a_close_that_hangs_is_bounded(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccroute.service._CLOSE_SECONDS", 0.2)
    store = AsyncMemory()
    store.hang_close = True
    service = Service(plugins=[Provides(store)], load_entrypoints=False)
    await service.start()
    await service.stop()
    assert store.calls[-1] == "close"
