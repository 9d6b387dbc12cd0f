"""The service's router is read-only (docs/service.md, "Isolation"): plugins and the
application read the live router through ``service.router`` and cannot change it
behind the log's back, on asyncio and trio."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ccroute import (
    Agent,
    Contact,
    ManualClock,
    Presence,
    QueueConfig,
    ReadOnlyError,
    Router,
    RouterView,
    Service,
    UsageError,
)
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import ServiceHandle
from ccroute.router_view import COMMANDS, QUERIES, ReadOnlyRouter
from ccroute.testing import snapshot

#: What a misbehaving plugin might try on the router it reads, by name.
ATTEMPTS: dict[str, Callable[[Any], object]] = {
    "submit": lambda r: r.submit(Contact("sneak", "voice", "q")),
    "accept": lambda r: r.accept("c1", "ann"),
    "abandon": lambda r: r.abandon("c1"),
    "add_agent": lambda r: r.add_agent(Agent("eve", queues=["q"]), Presence.AVAILABLE),
    "set_presence": lambda r: r.set_presence("ann", Presence.OFFLINE),
    "add_queue": lambda r: r.add_queue(QueueConfig("hidden")),
    "update_queue": lambda r: r.update_queue(QueueConfig("q", offer_timeout=1.0)),
    "tick": lambda r: r.tick(),
    "observe": lambda r: r.observe(lambda batch: None),
    "restore": lambda r: r.restore(r.snapshot()),
    "clock": lambda r: r.clock.set(1e9),
    "set an attribute": lambda r: setattr(r, "submitted", 99),
    "delete an attribute": lambda r: delattr(r, "contact"),
}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


# -- the view itself -------------------------------------------------------------


def test_every_public_router_member_is_a_query_or_a_refused_command() -> None:
    # A command added to Router must be classified here, or it would leak to plugins.
    view_properties = {
        name for name, member in vars(ReadOnlyRouter).items() if isinstance(member, property)
    }
    queries = set(QUERIES) | (view_properties - set(COMMANDS))
    unclassified = public(Router) - queries - set(COMMANDS)
    assert unclassified == set()
    assert set(COMMANDS) <= view_properties
    assert not set(QUERIES) & set(COMMANDS)


def test_the_view_has_every_member_of_the_protocol_plugins_are_typed_against() -> None:
    router = Router()
    view = ReadOnlyRouter(router)
    for name in (n for n in vars(RouterView) if not n.startswith("_")):
        declared = getattr(RouterView, name)
        assert hasattr(view, name), name
        if not isinstance(declared, property):
            wanted = list(inspect.signature(declared).parameters)[1:]
            assert list(inspect.signature(getattr(view, name)).parameters) == wanted, name
    assert len(view) == 0


def test_queries_through_the_view_are_the_routers_answers() -> None:
    router = Router(ManualClock(5.0))
    router.add_queue(QueueConfig("q"))
    router.add_agent(Agent("ann", queues=["q"]), Presence.AVAILABLE)
    router.submit(Contact("c1", "voice", "q"))
    router.submit(Contact("c2", "voice", "q"))
    view = ReadOnlyRouter(router)
    assert snapshot(view) == snapshot(router)
    assert view.contact("c2") == router.contact("c2")
    assert view.position("c2") == router.position("c2") == 1
    assert view.explain("c2") == router.explain("c2")
    assert view.queue_stats("q") == router.queue_stats("q")
    assert view.state() == router.state()
    assert (view.now, view.queues, view.agent_ids, len(view)) == (5.0, ["q"], ["ann"], 1)
    # The view reads the live router: a change the owner makes shows at once.
    router.accept("c1", "ann")
    assert view.submitted == 2 and view.contact("c1").agent_id == "ann"
    assert snapshot(view) == snapshot(router)


@pytest.mark.parametrize("attempt", sorted(ATTEMPTS))
def test_every_change_through_the_view_is_refused_and_changes_nothing(attempt: str) -> None:
    router = Router(ManualClock(5.0))
    router.add_queue(QueueConfig("q"))
    router.add_agent(Agent("ann", queues=["q"]), Presence.AVAILABLE)
    router.submit(Contact("c1", "voice", "q"))
    before = snapshot(router)
    view = ReadOnlyRouter(router)
    with pytest.raises(ReadOnlyError) as raised:
        ATTEMPTS[attempt](view)
    assert isinstance(raised.value, UsageError) and isinstance(raised.value, AttributeError)
    assert "read-only" in str(raised.value)
    assert snapshot(router) == before
    assert router.clock.now() == 5.0


def test_the_refusal_names_the_service_command_to_use() -> None:
    view = ReadOnlyRouter(Router())
    with pytest.raises(ReadOnlyError, match=r"router\.submit .* await service\.submit"):
        view.submit  # noqa: B018  (reading the command is what is refused)
    with pytest.raises(ReadOnlyError, match="ccroute_events"):
        view.observe  # noqa: B018
    assert not hasattr(view, "tick") and getattr(view, "accept", None) is None


# -- in the service ----------------------------------------------------------------


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Meddler:
    """A channel adapter that tries to change the router it was handed to read,
    at start, from a background task, and when an offer is delivered."""

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, str], str] = {}
        self.tried = anyio.Event()

    def _try_all(self, where: str, service: ServiceHandle) -> None:
        for name, attempt in ATTEMPTS.items():
            try:
                attempt(service.router)
            except ReadOnlyError:
                self.outcomes[where, name] = "refused"
            except Exception as error:  # what a router command raised: it ran
                self.outcomes[where, name] = f"ran ({type(error).__name__})"
            else:
                self.outcomes[where, name] = "ran"

    @hookimpl
    async def ccroute_start_channel(self, service: ServiceHandle) -> None:
        self._try_all("start", service)
        self.service = service

        async def later() -> None:
            await anyio.sleep(0)
            self._try_all("task", service)
            self.tried.set()

        service.start_soon(later)

    @hookimpl
    def ccroute_deliver_offer(self, delivery: Any) -> bool:
        self._try_all("offer", self.service)
        return True


async def test_a_plugin_cannot_change_the_router_behind_the_log(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    clock = ManualClock(1000.0)
    meddler = Meddler()
    with anyio.fail_after(30):
        async with Service(
            path=path, sync="OFF", clock=clock, plugins=[meddler], load_entrypoints=False
        ) as service:
            await service.add_queue(QueueConfig("q"))
            await service.add_agent(Agent("ann", queues=["q"]), Presence.AVAILABLE)
            clock.advance(1)
            await service.submit(Contact("c1", "voice", "q"))
            await meddler.tried.wait()
            await service.drain()
            acknowledged = snapshot(service.router)
            assert "sneak" not in service.router.contact_ids
            assert "eve" not in service.router.agent_ids
            assert service.router.queues == ["q"]
        async with Service(path=path, sync="OFF", clock=clock, load_entrypoints=False) as again:
            assert snapshot(again.router) == acknowledged
    wheres = {"start", "task", "offer"}
    assert {where for where, _ in meddler.outcomes} == wheres
    assert meddler.outcomes == {(w, name): "refused" for w in wheres for name in ATTEMPTS}


async def test_the_application_reads_the_same_view_and_observes_through_the_service(
    anyio_backend: str,
) -> None:
    seen: list[list[Any]] = []
    async with Service(sync="OFF", clock=ManualClock(0.0), load_entrypoints=False) as service:
        view = service.router
        assert isinstance(view, ReadOnlyRouter) and service.router is view
        with pytest.raises(ReadOnlyError):
            view.observe(seen.append)
        service.observe_router(seen.append)
        await service.add_queue(QueueConfig("q"))
        await service.add_agent(Agent("ann", queues=["q"]), Presence.AVAILABLE)
        assert [type(e).__name__ for e in seen[-1]] == ["AgentAdded", "PresenceChanged"]
        batches = len(seen)
        service.unobserve_router(seen.append)
        await service.set_presence("ann", Presence.OFFLINE)
        assert len(seen) == batches
        with pytest.raises(ReadOnlyError):
            view.add_queue(QueueConfig("r"))
        assert view.queues == ["q"]
