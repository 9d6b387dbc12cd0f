"""``import ccroute`` stays light: the service, the hooks and the stores load on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys

import ccroute

HEAVY = ("anyio", "pluggy", "sqlite3", "rich", "msgspec")


def run(script: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_ccroute_loads_neither_anyio_pluggy_sqlite3_nor_rich() -> None:
    loaded = run(f"import ccroute, sys; print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    assert loaded == "[]"


def test_the_core_is_usable_without_loading_them() -> None:
    # The README's embedding example, in short: routing needs none of them.
    loaded = run(
        "import sys\n"
        "from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router\n"
        "router = Router(ManualClock())\n"
        "router.add_queue(QueueConfig('support'))\n"
        "router.add_agent(Agent('ann', queues={'support'}), Presence.AVAILABLE)\n"
        "router.submit(Contact('c1', 'voice', 'support'))\n"
        "import ccroute.sim, ccroute.metrics, ccroute.wfm\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert loaded == "[]"


def test_a_lazy_name_loads_its_module_on_first_use() -> None:
    loaded = run(
        "import sys, ccroute\n"
        "assert 'ccroute.service' not in sys.modules\n"
        "ccroute.Service\n"
        "print(sorted(m for m in ('anyio', 'pluggy', 'ccroute.service') if m in sys.modules))\n"
    )
    assert loaded == "['anyio', 'ccroute.service', 'pluggy']"


def test_every_lazy_name_resolves_to_its_module_object() -> None:
    lazy = ccroute._LAZY
    assert set(lazy) == {
        "hookimpl",
        "Node",
        "Service",
        "LogRecord",
        "MemoryStorage",
        "Recovered",
        "Storage",
        "SQLiteStorage",
    }
    for name, module in lazy.items():
        assert name in ccroute.__all__, name
        assert name in dir(ccroute), name
        value = getattr(ccroute, name)
        assert value is getattr(importlib.import_module(module, "ccroute"), name)
        assert vars(ccroute)[name] is value  # kept: the next access is a plain lookup


def test_every_public_name_resolves_and_is_listed() -> None:
    names = dir(ccroute)
    for name in ccroute.__all__:
        assert name in names, name
        getattr(ccroute, name)
    # A star import takes the lazy names too.
    out = run("from ccroute import *\nprint(Service.__name__, SQLiteStorage.__name__, hookimpl)")
    assert out.startswith("Service SQLiteStorage <pluggy")


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    try:
        ccroute.Servise  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as error:
        assert "Servise" in str(error)
    else:
        raise AssertionError("no AttributeError")
    out = run(
        "try:\n    from ccroute import Nope\n"
        "except ImportError as error:\n    print(type(error).__name__)\n"
    )
    assert out == "ImportError"
