"""Plugin code the service runs outside the hook caller, misbehaving, on asyncio
and trio: an agent strategy (called inside the router's call) and a store
(called by the writer) that raise a ``BaseException`` which is not a
cancellation. The service keeps routing, or stops taking calls the way it
does after any storage failure, and restarts from its log either way.

The hooks' own isolation is in tests/test_hook_isolation.py and
tests/test_service_lanes.py.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from ccroute import (
    Agent,
    AgentView,
    Contact,
    ContactView,
    DuplicateIdError,
    MemoryStorage,
    Presence,
    QueueConfig,
    Service,
    StorageError,
    hookimpl,
)
from ccroute.commands import AddQueue
from ccroute.storage import LogRecord, Recovered
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class PluginsOwn(BaseException):
    """A BaseException class of a plugin's own (neither Exception nor a cancellation)."""


BASE_EXCEPTIONS = [SystemExit, KeyboardInterrupt, GeneratorExit, PluginsOwn]


class Strategies:
    """Provides a strategy whose ``score`` raises ``exc`` on every other decision."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc
        self.__name__ = f"strategy-raising-{exc.__name__}"

    @hookimpl
    def ccroute_agent_strategies(self) -> dict[str, Any]:
        exc = self.exc

        class Flaky:
            def score(self, contact: ContactView, agent: AgentView) -> float:
                # Deterministic, as a strategy must be: the same views, the same answer.
                if contact.id.endswith("odd"):
                    raise exc("the plugin's own")
                return 1.0 if agent.id == "b" else 0.0

        return {"flaky": Flaky()}


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS, ids=lambda e: e.__name__)
async def test_a_strategy_raising_a_base_exception_falls_back_and_the_service_goes_on(
    anyio_backend: str, exc: type[BaseException], tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    plugins = [Strategies(exc)]
    with anyio.fail_after(10):
        async with Service(path=path, plugins=plugins, load_entrypoints=False) as service:
            await service.add_queue(QueueConfig("q", strategy="flaky"))
            await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
            await service.add_agent(Agent("b", queues=["q"]), Presence.AVAILABLE)
            await service.add_agent(Agent("c", queues=["q"]), Presence.AVAILABLE)
            events = await service.submit(Contact("c1-odd", "voice", "q"))
            # Longest idle: the first agent to become available.
            assert [(e.contact_id, e.agent_id) for e in events if hasattr(e, "agent_id")] == [
                ("c1-odd", "a")
            ]
            assert service.router.strategy_failures == 1
            events = await service.submit(Contact("c2-even", "voice", "q"))
            assert [e.agent_id for e in events if hasattr(e, "agent_id")] == ["b"]
            assert service.running and service.failure is None
        before = snapshot(service.router)
        async with Service(path=path, plugins=plugins, load_entrypoints=False) as again:
            assert again.recovery_problem is None
            assert snapshot(again.router) == before


class RaisingStore(MemoryStorage):
    """A store (plugin code too) that raises ``exc`` from ``method`` once armed."""

    def __init__(self, exc: type[BaseException], method: str) -> None:
        super().__init__()
        self.exc, self.method, self.armed = exc, method, False

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.armed and self.method == "append":
            raise self.exc("disk on fire")
        super().append(records)

    def snapshot(self, seq: int, data: bytes) -> None:
        if self.armed and self.method == "snapshot":
            raise self.exc("disk on fire")
        super().snapshot(seq, data)


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS, ids=lambda e: e.__name__)
async def test_a_store_raising_a_base_exception_on_append_is_a_storage_failure(
    anyio_backend: str, exc: type[BaseException]
) -> None:
    store = RaisingStore(exc, "append")
    with anyio.fail_after(10):
        async with Service(storage=store, load_entrypoints=False) as service:
            await service.add_queue(QueueConfig("q"))
            store.armed = True
            with pytest.raises(StorageError, match=f"append raised {exc.__name__}: disk on fire"):
                await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
            assert not service.running
            assert isinstance(service.failure, StorageError)
        # Stopped cleanly, writing nothing more; a restart has what was acknowledged.
        store.armed = False
        async with Service(storage=store, load_entrypoints=False) as again:
            assert again.router.queue_config("q").name == "q"
            assert list(again.router.agent_ids) == []


@pytest.mark.parametrize("exc", BASE_EXCEPTIONS, ids=lambda e: e.__name__)
async def test_a_store_raising_a_base_exception_on_snapshot_costs_only_the_snapshot(
    anyio_backend: str, exc: type[BaseException]
) -> None:
    store = RaisingStore(exc, "snapshot")
    store.armed = True
    with anyio.fail_after(10):
        async with Service(storage=store, load_entrypoints=False, snapshot_every=2) as service:
            await service.add_queue(QueueConfig("q"))
            for agent in "abc":
                await service.add_agent(Agent(agent, queues=["q"]), Presence.AVAILABLE)
            await service.drain()
            assert service.running and service.failure is None
        assert store.load().snapshot is None
        before = snapshot(service.router)
        store.armed = False
        async with Service(storage=store, load_entrypoints=False) as again:
            assert snapshot(again.router) == before


TAGS = {"tags": ["web"], "order": {"lines": [1, 2]}}


def vandalise(attributes: Any) -> None:
    """Change a contact's attributes in place, where a plugin can reach."""
    attributes["tags"].append("hacked")
    attributes["order"]["lines"].clear()


class Vandal:
    """Changes, in place, the attributes (and profiles) of everything it is
    given, in every hook that hands it a contact's data; answers nothing."""

    __name__ = "vandal"

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> None:
        vandalise(contact.attributes)

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Any:
        return {"tier": "gold", "tags": ["vip"]}

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Any) -> None:
        vandalise(contact.attributes)
        profile["tags"].append("hacked")

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: Any) -> None:
        vandalise(delivery.contact.attributes)
        delivery.profile["tags"].append("hacked")

    @hookimpl
    def ccroute_customer_update(self, update: Any) -> None:
        vandalise(update.attributes)

    @hookimpl
    async def ccroute_crm_record(self, record: Any) -> None:
        vandalise(record.attributes)

    @hookimpl
    def ccroute_events(self, events: Any) -> None:
        for event in events:
            if getattr(event, "profile", None):
                event.profile["tags"].append("hacked")


class Reader:
    """What the plugin asked after the vandal sees."""

    __name__ = "reader"

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def saw(self, attributes: Any) -> None:
        self.seen.append({"tags": list(attributes["tags"]), "lines": attributes["order"]["lines"]})

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Any) -> None:
        self.saw(contact.attributes)
        self.seen.append(list(profile["tags"]))

    @hookimpl
    def ccroute_deliver_offer(self, delivery: Any) -> bool:
        self.saw(delivery.contact.attributes)
        self.seen.append(list(delivery.profile["tags"]))
        return True

    @hookimpl
    def ccroute_customer_update(self, update: Any) -> None:
        self.saw(update.attributes)

    @hookimpl
    def ccroute_crm_record(self, record: Any) -> None:
        self.saw(record.attributes)

    @hookimpl
    def ccroute_events(self, events: Any) -> None:
        self.seen.extend(list(e.profile["tags"]) for e in events if getattr(e, "profile", None))


async def test_a_plugin_changing_nested_attributes_changes_nothing_else(
    anyio_backend: str, tmp_path: Path
) -> None:
    reader = Reader()
    path = tmp_path / "centre.db"
    with anyio.fail_after(10):
        async with Service(
            path=path, plugins=[reader, Vandal()], load_entrypoints=False
        ) as service:
            await service.add_queue(QueueConfig("q", wrap_up=0))
            await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
            contact = Contact("c1", "voice", "q", customer_id="cust", attributes=TAGS)
            await service.inbound(contact)
            await service.drain()
            # The router's contact, and what every plugin after the vandal saw.
            assert service.router.contact("c1").attributes == TAGS
            await service.accept("c1", "a")
            await service.complete("c1")
            await service.drain()
            logged = [r.command for r in service.storage.load().records if r.name == "submit"]
            assert [c.contact.attributes for c in logged] == [TAGS]  # type: ignore[attr-defined]
    assert reader.seen
    for seen in reader.seen:
        assert seen in ({"tags": ["web"], "lines": [1, 2]}, ["vip"])
    assert contact.attributes == TAGS  # the adapter's own value too


@pytest.mark.parametrize(
    "body",
    [b"not json at all", b'{"format": 99}', b'{"service_snapshot":1,"service_length":1,"service":'],
    ids=["garbage", "not-a-router", "torn-frame"],
)
async def test_a_snapshot_that_cannot_be_restored_is_a_storage_error_naming_it(
    anyio_backend: str, body: bytes
) -> None:
    # Its checksum holds (the store cannot tell): a writer's mistake, or a forgery.
    store = MemoryStorage()
    async with Service(storage=store, load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("q"))
        await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
        seq = service.durable_seq
    store.snapshot(seq, body)
    with pytest.raises(StorageError) as raised:
        async with Service(storage=store, load_entrypoints=False):
            pass  # pragma: no cover - refused at start
    message = str(raised.value)
    assert message.startswith(f"recovering from {store!r}: the snapshot after record {seq}")
    assert "cannot be restored" in message


class HangingStore(MemoryStorage):
    """A plain store whose appends block, once armed, until released (or 5 s)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.release = threading.Event()

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.armed:
            self.release.wait(5)
        super().append(records)


class HangingAsyncStore:
    """An async store whose appends never end once armed."""

    def __init__(self) -> None:
        self.inner = MemoryStorage()
        self.armed = False

    async def append(self, records: Sequence[LogRecord]) -> None:
        if self.armed:
            await anyio.sleep(60)
        self.inner.append(records)

    async def snapshot(self, seq: int, state: bytes) -> None:
        self.inner.snapshot(seq, state)

    async def load(self) -> Any:
        return self.inner.load()

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("kind", ["plain", "async"])
async def test_stop_gives_up_on_a_store_that_hangs_and_acknowledges_nothing_more(
    anyio_backend: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ccroute.service._CLOSE_SECONDS", 0.3)
    store: Any = HangingStore() if kind == "plain" else HangingAsyncStore()
    outcomes: list[BaseException] = []

    async def call(service: Service) -> None:
        try:
            await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
        except StorageError as error:
            outcomes.append(error)

    try:
        with anyio.fail_after(4):
            service = Service(storage=store, load_entrypoints=False)
            async with service:
                await service.add_queue(QueueConfig("q"))
                store.armed = True
                service.start_soon(call, service)
                await anyio.sleep(0.05)  # the call waits on its commit, which hangs
            # Left within the bound: the call was not acknowledged, and says so.
            assert [str(e) for e in outcomes] == [
                f"the store failed: the store {store!r} did not finish writing the records "
                "not yet durable within 0.3 s of the service stopping"
            ]
            assert isinstance(service.failure, StorageError)
    finally:
        if kind == "plain":
            store.release.set()


class ByName:
    def score(self, contact: ContactView, agent: AgentView) -> float:
        return 1.0 if agent.id == "b" else 0.0


class StrategiesThatMayFail:
    __name__ = "strategies"

    def __init__(self, up: bool) -> None:
        self.up = up

    @hookimpl
    def ccroute_agent_strategies(self) -> dict[str, Any]:
        if not self.up:
            raise RuntimeError("strategy service down")
        return {"by-name": ByName()}


@pytest.mark.parametrize("snapshot_every", [3, 10_000], ids=["snapshot", "log"])
async def test_a_restart_without_the_logs_strategies_says_their_hook_failed(
    anyio_backend: str, tmp_path: Path, snapshot_every: int
) -> None:
    path = tmp_path / "centre.db"
    up = [StrategiesThatMayFail(True)]
    async with Service(
        path=path, plugins=up, load_entrypoints=False, snapshot_every=snapshot_every
    ) as service:
        await service.add_queue(QueueConfig("q", strategy="by-name"))
        for agent in "abc":
            await service.add_agent(Agent(agent, queues=["q"]), Presence.AVAILABLE)
    down = [StrategiesThatMayFail(False)]
    with pytest.raises(StorageError) as raised:
        async with Service(path=path, plugins=down, load_entrypoints=False):
            pass  # pragma: no cover - refused at start
    message = str(raised.value)
    assert f"recovering from SQLiteStorage({str(path)!r}" in message
    assert "unknown strategy 'by-name'" in message
    assert "a ccroute_agent_strategies hook failed at this start" in message
    assert "strategy service down" in message
    # The log is untouched: with the plugin back, the centre starts as it was.
    async with Service(path=path, plugins=up, load_entrypoints=False) as again:
        assert sorted(again.router.agent_ids) == ["a", "b", "c"]


class Reentrant:
    """Hooks that call back into the service that called them: an IVR choosing
    no flow but first sending the same contact in again, and a CRM that
    submits a follow-up contact for every lookup."""

    __name__ = "reentrant"

    def __init__(self) -> None:
        self.service: Service | None = None

    @hookimpl
    async def ccroute_ivr_flow(self, contact: Contact) -> None:
        assert self.service is not None
        await self.service.inbound(contact)

    @hookimpl
    async def ccroute_crm_lookup(self, customer_id: str) -> Any:
        assert self.service is not None
        await self.service.inbound(Contact(f"follow-up-{customer_id}", "voice", "q"))
        return {"tier": "gold"}


async def test_hooks_calling_back_into_the_service_are_bounded_and_it_goes_on(
    anyio_backend: str,
) -> None:
    from ccroute.plugins import MAX_HOOK_NESTING

    reentrant = Reentrant()
    with anyio.fail_after(5):
        async with Service(plugins=[reentrant], load_entrypoints=False) as service:
            reentrant.service = service
            await service.add_queue(QueueConfig("q"))
            await service.add_agent(Agent("a", queues=["q"]), Presence.AVAILABLE)
            # Unbounded, the loop ran the task out of stack inside a router call
            # (asyncio), which stopped the service; or ran 10,000 levels (trio).
            with pytest.raises(DuplicateIdError):  # the loop's own doing: c1 went in deeper
                await service.inbound(Contact("c1", "voice", "q", customer_id="cust"))
            assert service.running and service.failure is None
            assert sorted(service.router.contact_ids) == ["c1", "follow-up-cust"]
            failures = service.hook_failures
            assert failures[("ccroute_crm_lookup", "reentrant", "raised")] <= MAX_HOOK_NESTING
            assert sum(failures.values()) < 20 * MAX_HOOK_NESTING
            events = await service.submit(Contact("c2", "voice", "q"))
            assert events


class LoadsJunk(MemoryStorage):
    """A store whose ``load`` returns something no service can start from."""

    def __init__(self, loaded: object) -> None:
        super().__init__()
        self.loaded = loaded

    def load(self) -> Any:
        return self.loaded


def _record(seq: int) -> LogRecord:
    return LogRecord(seq, 0.0, AddQueue(QueueConfig(f"q{seq}")), ())


@pytest.mark.parametrize(
    ("loaded", "says"),
    [
        (None, "loaded None, not a Recovered"),
        ({"records": []}, "loaded {'records': []}, not a Recovered"),
        (Recovered(snapshot_seq=-5), "loaded a snapshot_seq of -5"),
        (Recovered(snapshot_seq=3), "loaded a snapshot of None after record 3"),
        (Recovered(snapshot_seq=3, snapshot="text"), "loaded a snapshot of 'text' after record 3"),
        (Recovered(records=("x",)), "loaded 'x' where record 1 was due"),
        (Recovered(records=(_record(1), _record(3))), "loaded record 3 where record 2 was due"),
    ],
    ids=["none", "dict", "negative", "no-snapshot", "text", "junk-record", "gap"],
)
async def test_a_store_that_loads_junk_is_refused_with_a_storage_error(
    anyio_backend: str, loaded: object, says: str
) -> None:
    store = LoadsJunk(loaded)
    with pytest.raises(StorageError) as raised:
        async with Service(storage=store, load_entrypoints=False):
            pass  # pragma: no cover - refused at start
    assert str(raised.value).startswith(f"the store {store!r} {says}")
    assert str(raised.value).endswith("it cannot be recovered from")
