"""The hook caller's isolation beyond exceptions, on asyncio and trio: every
BaseException a plugin raises (but a real cancellation) is its failure, real
cancellation always passes, each plugin has threads of its own, and what a
hook is given is its own copy to read.
"""

from __future__ import annotations

import enum
import threading
import time
import types
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import attrs
import pytest

from ccroute.hookspecs import PROJECT, hookimpl
from ccroute.model import Contact
from ccroute.plugins import HOOK_THREADS, Hooks, make_plugin_manager

pytestmark = pytest.mark.anyio

TIMEOUT = 0.2
CONTACT = Contact("c-1", "voice", "support", customer_id="cust-1")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def plugin(name: str, **hooks: Callable[..., Any]) -> types.SimpleNamespace:
    marked = {h: f if hasattr(f, f"{PROJECT}_impl") else hookimpl(f) for h, f in hooks.items()}
    return types.SimpleNamespace(__name__=name, **marked)


def hooks_of(*plugins: object) -> Hooks:
    return Hooks(make_plugin_manager(plugins, load_entrypoints=False), timeout=TIMEOUT)


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit])
@pytest.mark.parametrize("style", ["plain", "async"])
async def test_base_exceptions_are_the_plugins_failure(
    anyio_backend: str, exc: type[BaseException], style: str
) -> None:
    def plain(customer_id: str) -> Any:
        raise exc()

    async def asynchronous(customer_id: str) -> Any:
        raise exc()

    good = plugin("good", ccroute_crm_lookup=lambda customer_id: {"tier": "gold"})
    bad = plugin("bad", ccroute_crm_lookup=plain if style == "plain" else asynchronous)
    hooks = hooks_of(good, bad)  # the bad one is asked first
    assert await hooks.crm_lookup("cust-1") == {"tier": "gold"}
    assert hooks.failures == {("ccroute_crm_lookup", "bad", "raised"): 1}
    assert isinstance(hooks.last_errors["ccroute_crm_lookup"], exc)
    # and the caller goes on awaiting as usual
    await anyio.sleep(0)


async def test_a_real_cancellation_passes_and_is_not_counted(anyio_backend: str) -> None:
    async def hangs(events: Any) -> None:
        await anyio.sleep(30)

    hooks = Hooks(make_plugin_manager([plugin("slow", ccroute_events=hangs)]), timeout=20)
    with anyio.move_on_after(0.1) as scope:
        await hooks.events([])
    assert scope.cancelled_caught  # the cancellation reached the caller's scope
    assert hooks.total_failures == 0


async def test_each_plugin_has_threads_of_its_own(
    anyio_backend: str, release: threading.Event
) -> None:
    def stuck(customer_id: str) -> None:
        release.wait(30)

    hooks = hooks_of(plugin("stuck", ccroute_crm_lookup=stuck))
    # More stuck calls than the plugin has threads: they time out, and their
    # abandoned threads keep the stuck plugin's tokens.
    async with anyio.create_task_group() as tg:
        for _ in range(HOOK_THREADS + 5):
            tg.start_soon(hooks.crm_lookup, "x")
    assert hooks.failures == {("ccroute_crm_lookup", "stuck", "timeout"): HOOK_THREADS + 5}
    # Another plugin's plain implementation still gets a thread at once.
    other = hooks_of(plugin("other", ccroute_crm_lookup=lambda customer_id: {"ok": True}))
    started = time.monotonic()
    assert await other.crm_lookup("x") == {"ok": True}
    assert time.monotonic() - started < TIMEOUT


async def test_what_a_hook_is_given_is_its_own_to_read(anyio_backend: str) -> None:
    seen: list[Any] = []

    def vandal_events(events: Any) -> None:
        seen.append(type(events))
        events.clear()  # a tuple: AttributeError, the vandal's failure

    def vandal_enrich(contact: Contact, profile: dict[str, Any]) -> None:
        profile["tier"] = "bronze"
        profile["tags"].append("hacked")

    def reader(contact: Contact, profile: dict[str, Any]) -> Contact | None:
        seen.append(profile)
        return None

    hooks = hooks_of(
        plugin("reader", ccroute_crm_enrich=reader),
        plugin("vandal", ccroute_events=vandal_events, ccroute_crm_enrich=vandal_enrich),
    )
    await hooks.events([])
    assert seen == [tuple]
    assert hooks.failures == {("ccroute_events", "vandal", "raised"): 1}
    profile = {"tier": "gold", "tags": ["a"]}
    assert await hooks.crm_enrich(CONTACT, profile) is CONTACT
    assert seen[1] == {"tier": "gold", "tags": ["a"]}  # untouched by the vandal
    assert profile == {"tier": "gold", "tags": ["a"]}


class _Level(enum.IntEnum):
    GOLD = 3


@pytest.mark.parametrize(
    "profile",
    [
        {"when": object()},
        {1: "x"},
        {"x": float("nan")},
        ["not", "a", "mapping"],
        # what the log could not write back as it was given (the model's rule)
        {"n": 2**70},
        {"level": _Level.GOLD},
    ],
    ids=["object", "key", "nan", "list", "huge-int", "enum-member"],
)
async def test_a_profile_that_is_not_json_data_is_junk(anyio_backend: str, profile: Any) -> None:
    hooks = hooks_of(
        plugin("good", ccroute_crm_lookup=lambda customer_id: {"tier": "gold"}),
        plugin("bad", ccroute_crm_lookup=lambda customer_id: profile),
    )
    assert await hooks.crm_lookup("x") == {"tier": "gold"}
    assert hooks.failures == {("ccroute_crm_lookup", "bad", "junk"): 1}


async def test_the_profile_returned_is_a_copy(anyio_backend: str) -> None:
    kept = {"tier": "gold", "tags": ["a"]}
    hooks = hooks_of(plugin("crm", ccroute_crm_lookup=lambda customer_id: kept))
    got = await hooks.crm_lookup("x")
    assert got == kept and got is not kept and got["tags"] is not kept["tags"]


async def test_a_contact_the_caller_cannot_use_is_junk(anyio_backend: str) -> None:
    def usable(contact: Contact) -> str | None:
        return None if contact.queue == "support" else f"unknown queue {contact.queue!r}"

    elsewhere = attrs.evolve(CONTACT, queue="nowhere")
    vip = attrs.evolve(CONTACT, priority_seconds=60.0)
    hooks = hooks_of(
        plugin("good", ccroute_crm_enrich=lambda contact: vip),
        plugin("bad", ccroute_crm_enrich=lambda contact: elsewhere),
    )
    assert await hooks.crm_enrich(CONTACT, {}, usable) == vip
    assert hooks.failures == {("ccroute_crm_enrich", "bad", "junk"): 1}

    class Flow:
        def run(self, contact: Contact) -> Contact:
            return elsewhere

    choice = await hooks_of(plugin("ivr", ccroute_ivr_flow=lambda: Flow())).ivr_flow(CONTACT)
    assert choice is not None
    flows = hooks_of()
    assert await flows.run_flow_outcome(choice, CONTACT, usable) == (CONTACT, True)
    assert flows.failures == {("ccroute_ivr_flow", "ivr", "junk"): 1}


class _Hostile:
    """A result whose every attribute lookup and comparison runs (failing) plugin code."""

    def __init__(self, exc: type[BaseException]) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        raise self.exc(f"no {name}")

    def __eq__(self, other: object) -> bool:
        raise self.exc("no comparing")

    __hash__ = object.__hash__


class _TouchyContact(Contact):
    """A Contact subclass whose comparisons run the plugin's code."""

    def __eq__(self, other: object) -> bool:
        raise SystemExit("no comparing")

    __hash__ = Contact.__hash__


@pytest.mark.parametrize("exc", [RuntimeError, SystemExit, KeyboardInterrupt])
async def test_a_result_that_fails_to_be_looked_at_is_junk(
    anyio_backend: str, exc: type[BaseException]
) -> None:
    hostile = _Hostile(exc)
    hooks = hooks_of(
        plugin(
            "hostile",
            ccroute_ivr_flow=lambda: hostile,
            ccroute_agent_strategies=lambda: {"h": hostile},
        )
    )
    assert await hooks.ivr_flow(CONTACT) is None
    assert await hooks.agent_strategies() == {}
    assert hooks.failures == {
        ("ccroute_ivr_flow", "hostile", "junk"): 1,
        ("ccroute_agent_strategies", "hostile", "junk"): 1,
    }
    touchy = _TouchyContact("c-1", "voice", "support", customer_id="cust-1")
    enrich = hooks_of(plugin("touchy", ccroute_crm_enrich=lambda: touchy))
    assert await enrich.crm_enrich(CONTACT, {}) is CONTACT
    assert enrich.failures == {("ccroute_crm_enrich", "touchy", "junk"): 1}
