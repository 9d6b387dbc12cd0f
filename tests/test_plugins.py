"""Plugins: the hook reference in docs/plugins.md, loading order and precedence, and
fault isolation of every hook on asyncio and trio."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
import types
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import attrs
import pluggy
import pytest

import ccroute
from ccroute.errors import InvalidValueError, PluginError
from ccroute.hookspecs import PROJECT, hookimpl
from ccroute.hooktypes import CustomerUpdate, HistoryRecord, RouterView, ServiceHandle
from ccroute.model import Channel, ChannelKind, Contact
from ccroute.plugins import (
    DEFAULT_PLUGIN_NAME,
    FlowChoice,
    Hooks,
    PluginInfo,
    describe_plugins,
    make_plugin_manager,
)
from ccroute.storage import MemoryStorage
from ccroute.storage_sqlite import SQLiteStorage

pytestmark = pytest.mark.anyio

DOCS = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"
# Long enough for a plugin that raises at once to be started on a busy 2-core
# machine (a worker thread once took over 0.2 s to get going under load).
TIMEOUT = 0.5


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_plugin_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCROUTE_LOAD_PLUGINS", raising=False)


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Load only the named test distributions, whatever plugins the environment has
    installed, where a test checks an exact order or error."""
    return lambda names: monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", names)


def plugin(name: str, **hooks: Callable[..., Any]) -> types.SimpleNamespace:
    """A plugin object named ``name`` implementing ``hooks`` (hook name to function);
    functions not marked yet are marked with a plain ``@hookimpl``."""
    marked = {h: f if hasattr(f, f"{PROJECT}_impl") else hookimpl(f) for h, f in hooks.items()}
    return types.SimpleNamespace(__name__=name, **marked)


class Store:
    """A store in name only: enough to pass as a Storage."""

    def load(self) -> Any: ...
    def append(self, records: Any) -> None: ...
    def snapshot(self, seq: int, state: bytes) -> None: ...
    def close(self) -> None: ...


def impl_order(pm: pluggy.PluginManager, hook: str) -> list[str]:
    return [i.plugin_name for i in reversed(getattr(pm.hook, hook).get_hookimpls())]


# ------------------------------------------------------------------ the docs


class _Bare:
    """An annotation that prints as its text, without the quotes of a string."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def rendered_signature(name: str, function: Callable[..., Any]) -> str:
    """``inspect.signature`` of a hook spec, with its string annotations unquoted."""

    def bare(annotation: Any) -> Any:
        if annotation is inspect.Signature.empty:
            return annotation
        return _Bare(annotation if isinstance(annotation, str) else repr(annotation))

    signature = inspect.signature(function)
    signature = signature.replace(
        parameters=[
            p.replace(annotation=bare(p.annotation)) for p in signature.parameters.values()
        ],
        return_annotation=bare(signature.return_annotation),
    )
    return f"{name}{signature}"


def spec_hooks() -> dict[str, Callable[..., Any]]:
    hooks = {}
    for name, caller in vars(make_plugin_manager(load_entrypoints=False).hook).items():
        if isinstance(caller, pluggy.HookCaller) and caller.spec is not None:
            assert name.startswith("ccroute_")
            hooks[name] = caller.spec.function
    return hooks


def test_every_hook_is_documented_under_its_signature() -> None:
    headings = {
        line.lstrip("#").strip().strip("`")
        for line in DOCS.read_text().splitlines()
        if line.startswith("#")
    }
    hooks = spec_hooks()
    assert len(hooks) == 15
    missing = [
        rendered_signature(name, function)
        for name, function in hooks.items()
        if rendered_signature(name, function) not in headings
    ]
    assert missing == []


def test_the_docs_name_no_hook_that_does_not_exist() -> None:
    # Module paths (ccroute_email.plugin) are not hook names.
    named = set(re.findall(r"\bccroute_\w+\b(?!\.)", DOCS.read_text()))
    assert named - set(spec_hooks()) == set()


# ----------------------------------------------------- loading and precedence


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Install a distribution for the test: a dist-info directory and modules on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(dist: str, entry_points: dict[str, str], modules_source: dict[str, str]) -> Path:
        info = site / f"{dist}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[{PROJECT}]\n{lines}")
        for module, source in modules_source.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)
        importlib.invalidate_caches()
        return site

    yield make
    for module in modules:
        sys.modules.pop(module, None)


STORE_PLUGIN = """
from ccroute.hookspecs import hookimpl

class Store:
    origin = {origin!r}
    def load(self): ...
    def append(self, records): ...
    def snapshot(self, seq, state): ...
    def close(self): ...

@hookimpl
def ccroute_storage(settings):
    return Store()
"""


@pytest.fixture
def mydist(make_dist: Callable[..., Path]) -> Path:
    """Distribution ``mydist``: entry point ``mine`` = module ``mydist_plugin``, a store."""
    return make_dist(
        "mydist", {"mine": "mydist_plugin"}, {"mydist_plugin": STORE_PLUGIN.format(origin="mydist")}
    )


@pytest.fixture
def otherdist(make_dist: Callable[..., Path]) -> Path:
    return make_dist("otherdist", {"other": "otherdist_plugin"}, {"otherdist_plugin": "x = 1\n"})


async def test_builtin_default_storage_is_memory_or_sqlite(tmp_path: Path) -> None:
    hooks = Hooks(make_plugin_manager(load_entrypoints=False))
    assert isinstance(await hooks.storage({}), MemoryStorage)
    store = await hooks.storage({"path": str(tmp_path / "log.db"), "sync": "NORMAL"})
    assert isinstance(store, SQLiteStorage)
    store.close()


async def test_explicit_plugin_wins_over_the_builtin_default() -> None:
    mine = Store()
    pm = make_plugin_manager([plugin("app", ccroute_storage=lambda: mine)], load_entrypoints=False)
    assert impl_order(pm, "ccroute_storage") == ["app", DEFAULT_PLUGIN_NAME]
    assert await Hooks(pm).storage({}) is mine


async def test_entry_point_plugin_comes_between_builtins_and_explicit_plugins(
    mydist: Path, only: Callable[[str], None]
) -> None:
    only("mydist")
    pm = make_plugin_manager()
    assert impl_order(pm, "ccroute_storage") == ["mine", DEFAULT_PLUGIN_NAME]
    assert getattr(await Hooks(pm).storage({}), "origin", None) == "mydist"

    mine = Store()
    pm = make_plugin_manager([plugin("app", ccroute_storage=lambda: mine)])
    assert impl_order(pm, "ccroute_storage") == ["app", "mine", DEFAULT_PLUGIN_NAME]
    assert await Hooks(pm).storage({}) is mine


def test_tryfirst_and_trylast_still_apply(mydist: Path, only: Callable[[str], None]) -> None:
    only("mydist")
    first = plugin("first", ccroute_storage=hookimpl(tryfirst=True)(lambda: None))
    last = plugin("last", ccroute_storage=hookimpl(trylast=True)(lambda: None))
    pm = make_plugin_manager([first, plugin("app", ccroute_storage=lambda: None), last])
    # trylast goes behind every plain implementation, the built-in default included.
    assert impl_order(pm, "ccroute_storage") == [
        "first",
        "app",
        "mine",
        DEFAULT_PLUGIN_NAME,
        "last",
    ]


def test_entry_points_load_sorted_by_distribution_then_name(
    make_dist: Callable[..., Path], only: Callable[[str], None]
) -> None:
    only("bdist, adist")
    make_dist("bdist", {"b": "bdist_plugin"}, {"bdist_plugin": "x = 1\n"})
    make_dist(
        "adist", {"z": "adist_z", "a": "adist_a"}, {"adist_z": "x = 1\n", "adist_a": "x = 1\n"}
    )
    names = [name for name, _ in make_plugin_manager().list_name_plugin()]
    assert names[0] == DEFAULT_PLUGIN_NAME
    assert [n for n in names if n in {"a", "b", "z"}] == ["a", "z", "b"]


@pytest.mark.parametrize(
    ("selection", "loaded"),
    [
        ("", set()),
        ("mydist", {"mine"}),
        (" MyDist ,, ", {"mine"}),
        ("otherdist", {"other"}),
        ("mydist,otherdist", {"mine", "other"}),
    ],
)
def test_ccroute_load_plugins_selects_distributions(
    mydist: Path,
    otherdist: Path,
    monkeypatch: pytest.MonkeyPatch,
    selection: str,
    loaded: set[str],
) -> None:
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", selection)
    names = {name for name, _ in make_plugin_manager().list_name_plugin()}
    assert names & {"mine", "other"} == loaded


def test_all_entry_point_plugins_load_when_unset_and_none_without_entry_points(
    mydist: Path, otherdist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {"mine", "other"} <= {n for n, _ in make_plugin_manager().list_name_plugin()}
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "mydist")
    pm = make_plugin_manager(load_entrypoints=False)
    assert [n for n, _ in pm.list_name_plugin()] == [DEFAULT_PLUGIN_NAME]


def test_naming_an_unknown_distribution_is_an_error(
    mydist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "mydist, nosuchdist")
    with pytest.raises(PluginError, match=r"'nosuchdist'.*mydist"):
        make_plugin_manager()


def test_entry_point_that_fails_to_import_is_an_error(
    make_dist: Callable[..., Path], only: Callable[[str], None]
) -> None:
    only("brokendist")
    make_dist(
        "brokendist", {"broken": "broken_plugin"}, {"broken_plugin": "import no_such_module_x\n"}
    )
    with pytest.raises(
        PluginError, match=r"plugin 'broken' .*brokendist.*no_such_module_x"
    ) as info:
        make_plugin_manager()
    assert isinstance(info.value.__cause__, ImportError)


def test_misspelt_hook_in_an_entry_point_plugin_is_an_error(
    make_dist: Callable[..., Path], only: Callable[[str], None]
) -> None:
    only("typodist")
    source = "from ccroute.hookspecs import hookimpl\n\n@hookimpl\ndef ccroute_crm_lookupp(customer_id):\n    return {}\n"
    make_dist("typodist", {"typo": "typo_plugin"}, {"typo_plugin": source})
    with pytest.raises(
        PluginError,
        match=r"'typo' implements 'ccroute_crm_lookupp'.*did you mean 'ccroute_crm_lookup'",
    ):
        make_plugin_manager()


def _wrapper(*_args: Any) -> Any:
    return (yield)


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        pytest.param(
            [plugin("app", ccroute_crm_lookupp=lambda: None)],
            r"plugin 'app' .*'ccroute_crm_lookupp'.*did you mean 'ccroute_crm_lookup'",
            id="misspelt-hook",
        ),
        pytest.param(
            [plugin("app", ccroute_crm_lookup=lambda customer: None)],
            r"(?s)plugin 'app'.*customer.*hookspec",
            id="argument-not-in-spec",
        ),
        pytest.param(
            [types.SimpleNamespace(__name__="app", ccroute_events=lambda events: None)],
            r"plugin 'app'.*ccroute_events.*not marked",
            id="unmarked",
        ),
        pytest.param(
            [plugin("app", ccroute_events=hookimpl(wrapper=True)(_wrapper))],
            r"plugin 'app'.*ccroute_events.*wrappers are not supported",
            id="wrapper",
        ),
        pytest.param(
            [plugin("app", ccroute_events=hookimpl(hookwrapper=True)(_wrapper))],
            r"plugin 'app'.*ccroute_events.*wrappers are not supported",
            id="hookwrapper",
        ),
        pytest.param(
            [plugin("app"), plugin("app")],
            r"plugin 'app'.*registered twice",
            id="same-name-twice",
        ),
    ],
)
def test_plugin_mistakes_are_refused_at_load(plugins: list[object], message: str) -> None:
    with pytest.raises(PluginError, match=message):
        make_plugin_manager(plugins, load_entrypoints=False)


def test_the_same_plugin_object_twice_is_an_error(
    mydist: Path, only: Callable[[str], None]
) -> None:
    only("mydist")
    import mydist_plugin  # type: ignore[import-not-found]

    with pytest.raises(PluginError, match="registered twice"):
        make_plugin_manager([mydist_plugin])
    app = plugin("app")
    with pytest.raises(PluginError, match="registered twice"):
        make_plugin_manager([app, app], load_entrypoints=False)


def test_importing_ccroute_loads_no_plugin(mydist: Path) -> None:
    script = (
        "import sys, ccroute, ccroute.plugins\n"
        "print('mydist_plugin' in sys.modules)\n"
        "ccroute.plugins.make_plugin_manager()\n"
        "print('mydist_plugin' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(mydist), "PATH": "", "CCROUTE_LOAD_PLUGINS": "mydist"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    # The second line shows the plugin was there to be loaded.
    assert out.split() == ["False", "True"]


# ------------------------------------------------------------- calling hooks


async def test_each_implementation_gets_only_its_arguments_in_pluggy_order() -> None:
    calls: list[tuple[str, Any]] = []
    loop_thread = threading.get_ident()

    def plain(profile: Any) -> None:
        calls.append(("plain", (profile, threading.get_ident() != loop_thread)))

    async def asynchronous(contact: Any, profile: Any) -> None:
        calls.append(("async", (contact.id, profile, threading.get_ident() == loop_thread)))

    def last() -> None:
        calls.append(("last", ()))

    pm = make_plugin_manager(
        [
            plugin("last", ccroute_crm_enrich=hookimpl(trylast=True)(last)),
            plugin("plain", ccroute_crm_enrich=plain),
            plugin("async", ccroute_crm_enrich=asynchronous),
        ],
        load_entrypoints=False,
    )
    contact = Contact("c-1", "voice", "support")
    assert await Hooks(pm).crm_enrich(contact, {"tier": "gold"}) is contact
    assert calls == [
        ("async", ("c-1", {"tier": "gold"}, True)),  # in the loop
        ("plain", ({"tier": "gold"}, True)),  # in a worker thread
        ("last", ()),
    ]


async def test_collected_results_first_one_wins_by_name() -> None:
    fax1, fax2 = (Channel("fax", ChannelKind.ASYNCHRONOUS, default_capacity=n) for n in (1, 2))
    score = types.SimpleNamespace(score=lambda contact, agent: 0.0)
    other = types.SimpleNamespace(score=lambda contact, agent: 1.0)

    def channels() -> Iterator[Channel]:
        yield fax2  # a generator: drained where the plugin runs

    pm = make_plugin_manager(
        [
            plugin(
                "early", ccroute_channels=channels, ccroute_agent_strategies=lambda: {"s": other}
            ),
            plugin(
                "late",
                ccroute_channels=lambda: [fax1],
                ccroute_agent_strategies=lambda: {"s": score},
            ),
        ],
        load_entrypoints=False,
    )
    hooks = Hooks(pm)
    assert await hooks.channels() == [fax1]
    assert await hooks.agent_strategies() == {"s": score}
    assert hooks.total_failures == 0


async def test_flow_runs_plain_or_async_and_may_resolve_the_contact() -> None:
    contact = Contact("c-1", "voice", "support")
    billing = attrs.evolve(contact, queue="billing")

    class Plain:
        def run(self, contact: Contact) -> Contact:
            return billing

    class SelfService:
        async def run(self, contact: Contact) -> None:
            return None

    hooks = Hooks(make_plugin_manager(load_entrypoints=False))
    assert await hooks.run_flow(FlowChoice(Plain(), "p"), contact) is billing
    assert await hooks.run_flow(FlowChoice(SelfService(), "p"), contact) is None
    assert hooks.total_failures == 0


async def test_a_failure_is_logged_with_hook_plugin_and_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    hooks = Hooks(make_plugin_manager([plugin("bad", ccroute_events=boom)], load_entrypoints=False))
    with caplog.at_level(logging.WARNING, logger="ccroute.plugins"):
        await hooks.events([])
    (record,) = caplog.records
    assert record.name == "ccroute.plugins"
    assert "ccroute_events" in record.getMessage()
    assert "'bad'" in record.getMessage()
    assert "boom" in record.getMessage()


def test_timeout_must_be_positive_and_wrappers_are_refused() -> None:
    pm = make_plugin_manager(load_entrypoints=False)
    for timeout in (0, -1.0, float("nan")):
        with pytest.raises(InvalidValueError):
            Hooks(pm, timeout=timeout)
    pm.register(plugin("wrap", ccroute_events=hookimpl(wrapper=True)(_wrapper)))
    with pytest.raises(PluginError, match=r"'wrap'.*wrapper"):
        Hooks(pm)


# ------------------------------------------------------------ fault isolation

CONTACT = Contact("c-1", "voice", "support", customer_id="cust-1")
ENRICHED = attrs.evolve(CONTACT, priority_seconds=60.0)
OTHER = Contact("c-2", "voice", "support")
FAX = Channel("fax", ChannelKind.ASYNCHRONOUS)
STRATEGY = types.SimpleNamespace(score=lambda contact, agent: 1.0)
GOOD_STORE = Store()
GOOD_FLOW = types.SimpleNamespace(run=lambda contact: contact)
SERVICE: Any = object()
DELIVERY: Any = object()
UPDATE = CustomerUpdate(kind="queued", contact_id="c-1", channel="voice", customer_id=None, at=0.0)
RECORD = HistoryRecord(
    contact_id="c-1",
    customer_id=None,
    channel="voice",
    queue="support",
    outcome="completed",
    arrived_at=0.0,
    ended_at=1.0,
)


class IsMemoryStorage:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryStorage)


async def _run_bad_flow(hooks: Hooks) -> Any:
    choice = await hooks.ivr_flow(CONTACT)
    assert choice is not None and choice.plugin == "bad"
    return await hooks.run_flow(choice, CONTACT)


@attrs.frozen
class Case:
    """One hook family: how to call it, what the bad plugin returns as junk, what a
    healthy plugin returns, and the results alone (the fallback) and alongside it."""

    hook: str
    call: Callable[[Hooks], Awaitable[Any]]
    junk: Any
    fallback: Any
    good: Any = None
    with_good: Any = None
    healthy: bool = True  # whether a healthy plugin alongside is meaningful


CASES = {
    "channels": Case("ccroute_channels", lambda h: h.channels(), ["voice"], [], [FAX], [FAX]),
    "strategies": Case(
        "ccroute_agent_strategies",
        lambda h: h.agent_strategies(),
        {"fancy": object()},
        {},
        {"fancy": STRATEGY},
        {"fancy": STRATEGY},
    ),
    # Alone, the bad store falls through to the built-in default.
    "storage": Case(
        "ccroute_storage",
        lambda h: h.storage({}),
        "a store",
        IsMemoryStorage(),
        GOOD_STORE,
        GOOD_STORE,
    ),
    "start_channel": Case("ccroute_start_channel", lambda h: h.start_channel(SERVICE), 42, None),
    "stop_channel": Case("ccroute_stop_channel", lambda h: h.stop_channel(SERVICE), 42, None),
    "deliver_offer": Case(
        "ccroute_deliver_offer", lambda h: h.deliver_offer(DELIVERY), "yes", False, True, True
    ),
    "customer_update": Case(
        "ccroute_customer_update", lambda h: h.customer_update(UPDATE), 42, None
    ),
    "ivr_flow": Case(
        "ccroute_ivr_flow",
        lambda h: h.ivr_flow(CONTACT),
        object(),
        None,
        GOOD_FLOW,
        FlowChoice(GOOD_FLOW, "good"),
    ),
    # The bad plugin chooses a flow whose run misbehaves: the contact routes as submitted.
    "ivr_run": Case("ccroute_ivr_flow", _run_bad_flow, OTHER, CONTACT, healthy=False),
    "crm_lookup": Case(
        "ccroute_crm_lookup", lambda h: h.crm_lookup("cust-1"), ["gold"], {}, {"t": 1}, {"t": 1}
    ),
    "crm_enrich": Case(
        "ccroute_crm_enrich",
        lambda h: h.crm_enrich(CONTACT, {}),
        OTHER,
        CONTACT,
        ENRICHED,
        ENRICHED,
    ),
    "crm_record": Case("ccroute_crm_record", lambda h: h.crm_record(RECORD), 42, None),
    "events": Case("ccroute_events", lambda h: h.events([]), 42, None),
}

MODES = [
    "raised-plain",
    "raised-async",
    "junk-plain",
    "junk-async",
    "timeout-plain",
    "timeout-async",
]


@pytest.fixture
def hang() -> Iterator[threading.Event]:
    """What a hanging plain implementation waits on; set at teardown so no thread lingers."""
    event = threading.Event()
    yield event
    event.set()


def misbehaving(mode: str, junk: Any, hang: threading.Event) -> Callable[..., Any]:
    def raised(*_args: Any) -> Any:
        raise RuntimeError("boom")

    async def raised_async(*_args: Any) -> Any:
        raise RuntimeError("boom")

    def junk_plain(*_args: Any) -> Any:
        return junk

    async def junk_async(*_args: Any) -> Any:
        return junk

    def hangs(*_args: Any) -> Any:
        hang.wait(30)

    async def hangs_async(*_args: Any) -> Any:
        await anyio.sleep(30)

    return {
        "raised-plain": raised,
        "raised-async": raised_async,
        "junk-plain": junk_plain,
        "junk-async": junk_async,
        "timeout-plain": hangs,
        "timeout-async": hangs_async,
    }[mode]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("family", list(CASES))
async def test_a_failing_plugin_is_isolated(family: str, mode: str, hang: threading.Event) -> None:
    case = CASES[family]
    function = misbehaving(mode, case.junk, hang)
    if family == "ivr_run":
        flow = types.SimpleNamespace(run=function)
        bad = plugin("bad", ccroute_ivr_flow=lambda: flow)
    else:
        bad = plugin("bad", **{case.hook: function})
    expected_failures = Counter({(case.hook, "bad", mode.split("-")[0]): 1})

    # Alone: the hook's fallback.
    hooks = Hooks(make_plugin_manager([bad], load_entrypoints=False), timeout=TIMEOUT)
    started = time.monotonic()
    assert await case.call(hooks) == case.fallback
    # a hung thread (30 s) is abandoned at the time-out, not awaited
    assert time.monotonic() - started < TIMEOUT + 1.5
    assert hooks.failures == expected_failures
    assert hooks.total_failures == 1

    if not case.healthy:
        return
    # Beside a healthy plugin (called after the bad one): the healthy one still has its say.
    asked: list[str] = []

    def healthy() -> Any:
        asked.append("good")
        return case.good

    good = plugin("good", **{case.hook: healthy})
    hooks = Hooks(make_plugin_manager([good, bad], load_entrypoints=False), timeout=TIMEOUT)
    assert await case.call(hooks) == case.with_good
    assert asked == ["good"]
    assert hooks.failures == expected_failures


# ------------------------------------------------------- what is loaded, and logged

EVENTS_PLUGIN = """
from ccroute.hookspecs import hookimpl

@hookimpl
def ccroute_events(events):
    pass

@hookimpl
def ccroute_crm_lookup(customer_id):
    return None
"""


@pytest.fixture
def watchdist(make_dist: Callable[..., Path]) -> Path:
    """Distribution ``watchdist`` 1.0: entry point ``watch`` = an observer and a CRM."""
    return make_dist(
        "watchdist", {"watch": "watchdist_plugin"}, {"watchdist_plugin": EVENTS_PLUGIN}
    )


def test_describe_plugins_names_source_distribution_version_and_hooks(
    watchdist: Path, only: Callable[[str], None]
) -> None:
    only("watchdist")
    app = plugin("app", ccroute_deliver_offer=lambda: None, ccroute_events=lambda: None)
    infos = describe_plugins(make_plugin_manager([app]))
    assert infos == [
        PluginInfo(
            name=DEFAULT_PLUGIN_NAME,
            source="built-in",
            distribution="ccroute",
            version=ccroute.__version__,
            entry_point=None,
            hooks=("ccroute_storage",),
        ),
        PluginInfo(
            name="watch",
            source="entry point",
            distribution="watchdist",
            version="1.0",
            entry_point="watchdist_plugin",
            hooks=("ccroute_crm_lookup", "ccroute_events"),
        ),
        PluginInfo(
            name="app",
            source="application",
            distribution=None,
            version=None,
            entry_point=None,
            hooks=("ccroute_deliver_offer", "ccroute_events"),
        ),
    ]
    assert [info.origin for info in infos] == [
        f"built-in, ccroute {ccroute.__version__}",
        "watchdist 1.0, entry point watchdist_plugin",
        "application",
    ]
    assert infos[1].to_dict() == {
        "name": "watch",
        "source": "entry point",
        "distribution": "watchdist",
        "version": "1.0",
        "entry_point": "watchdist_plugin",
        "hooks": ["ccroute_crm_lookup", "ccroute_events"],
    }
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        infos[0].name = "x"  # type: ignore[misc]


async def test_the_service_logs_which_plugins_it_loaded(
    watchdist: Path, only: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    from ccroute import Service

    only("watchdist")
    app = plugin("my.app", ccroute_events=lambda: None)
    with caplog.at_level(logging.INFO, logger="ccroute.plugins"):
        async with Service(plugins=[app]):
            pass
    lines = [r.getMessage() for r in caplog.records if r.name == "ccroute.plugins"]
    assert lines == [
        f"plugin 'ccroute.default' loaded (built-in, ccroute {ccroute.__version__}): "
        "ccroute_storage",
        "plugin 'watch' loaded (watchdist 1.0, entry point watchdist_plugin): "
        "ccroute_crm_lookup, ccroute_events",
        "plugin 'my.app' loaded (application): ccroute_events",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "ccroute.plugins")


def test_ccroute_plugins_lists_installed_plugins_and_their_hooks(
    watchdist: Path, only: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    from ccroute.cli import main

    only("watchdist")
    assert main(["plugins", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == [DEFAULT_PLUGIN_NAME, "watch"]
    assert listed[1] == {
        "name": "watch",
        "source": "entry point",
        "distribution": "watchdist",
        "version": "1.0",
        "entry_point": "watchdist_plugin",
        "hooks": ["ccroute_crm_lookup", "ccroute_events"],
    }
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "watch  (watchdist 1.0, entry point watchdist_plugin)" in text
    assert "    ccroute_crm_lookup\n    ccroute_events\n" in text
    assert "CCROUTE_LOAD_PLUGINS='watchdist'" in text


def test_ccroute_plugins_reports_a_broken_plugin_as_an_error(
    make_dist: Callable[..., Path], only: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    from ccroute.cli import main

    only("brokendist")
    make_dist("brokendist", {"broken": "broken_plugin"}, {"broken_plugin": "import nope_x\n"})
    assert main(["plugins"]) == 2
    assert "plugin 'broken'" in capsys.readouterr().err


# ------------------------------------------------------ the service, as hooks see it


LIGHT_MODULES = (
    "ccroute.hookspecs",
    "ccroute.hooktypes",
    "ccroute.plugins",
    "ccroute.default_plugins",
)


def test_the_hook_modules_do_not_import_the_service() -> None:
    script = (
        "import sys\n"
        f"for name in {LIGHT_MODULES!r}:\n"
        "    __import__(name)\n"
        "print('ccroute.service' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False"]


def _imports(module: str) -> set[str]:
    """Every ccroute module ``module`` imports anywhere, ``TYPE_CHECKING`` blocks and
    function bodies included (what a type checker follows)."""
    path = Path(importlib.import_module(module).__file__ or "")
    package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([package, *filter(None, [base])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("ccroute.")}


def test_no_import_cycle_between_the_service_and_its_hooks() -> None:
    group = {"ccroute.service", *LIGHT_MODULES}
    graph = {module: _imports(module) & group for module in group}
    for module in LIGHT_MODULES:
        assert "ccroute.service" not in graph[module], module
    # Depth-first search for a cycle within the group.
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " -> ".join([*path, module])
        if module in done:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(group):
        visit(module, ())


def test_service_and_router_are_the_narrow_protocols_hooks_get() -> None:
    from ccroute import Router, Service

    # Every member of the protocols is there with the same parameters (mypy checks
    # the types where the service hands itself to the hooks).
    for protocol, concrete in ((ServiceHandle, Service), (RouterView, Router)):
        members = [name for name in vars(protocol) if not name.startswith("_")]
        assert members, protocol
        for name in members:
            declared = getattr(protocol, name)
            if isinstance(declared, property):
                # A property (the compiled router's are C getters: data
                # descriptors too), or (Service.settings) an attribute set in
                # __init__.
                assert inspect.isdatadescriptor(inspect.getattr_static(concrete, name, None)) or (
                    name in concrete.__init__.__code__.co_names
                ), name
                continue
            actual = getattr(concrete, name)
            wanted = [
                (p.name, p.kind)
                for p in inspect.signature(declared).parameters.values()
                if p.kind is not p.POSITIONAL_ONLY
            ]
            got = [(p.name, p.kind) for p in inspect.signature(actual).parameters.values()]
            assert all(item in got for item in wanted), (name, wanted, got)
            assert inspect.iscoroutinefunction(declared) == inspect.iscoroutinefunction(actual)


def test_the_handle_leaves_out_what_adapters_must_not_do() -> None:
    for name in ("add_queue", "add_agent", "remove_agent", "add_channel", "stop", "flush", "tick"):
        assert not hasattr(ServiceHandle, name), name
    for name in ("submit", "accept", "add_queue", "restore", "snapshot", "tick", "observe"):
        assert not hasattr(RouterView, name), name
