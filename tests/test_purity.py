"""The core is pure: no I/O, no wall clock, no unseeded randomness outside the clock module.

docs/implementation.md: the core is pure. Only the clock, service, plugin loading,
storage and CLI modules may do I/O; nothing else may.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ccroute"
# _queue.py reads one environment variable at import (CCROUTE_PURE_PYTHON) and
# looks for the compiled router's file, to choose between two builds whose
# behaviour is identical; it does no other I/O, and the choice cannot change
# a routing result.
# plugins.py reads CCROUTE_LOAD_PLUGINS and imports entry points when the
# service starts; service.py, storage*.py do the I/O the core leaves out;
# cluster*.py are the shell of several nodes (leases timed by the node's
# clock, the reference engine's SQLite file); testing_storage/engine/cluster.py
# are test support (threads, subprocesses, signals) the core never imports.
ALLOWED_IO = {
    "clock.py",
    "_queue.py",
    "plugins.py",
    "default_plugins.py",
    "service.py",
    "storage.py",
    "storage_sqlite.py",
    "cluster.py",
    "cluster_sqlite.py",
    "testing_storage.py",
    "testing_engine.py",
    "testing_cluster.py",
}
# The command line (its output layer: the terminal's width and colours,
# writing plot files, timing a staffing search for the user).
ALLOWED_IO_PACKAGES = {SRC / "cli"}
# The built-in CRM's shell side: its SQLite store, and the plugin that reads
# the service's settings and a rules file (its rules and memory store are pure).
ALLOWED_IO_FILES = {SRC / "crm" / "sqlite.py", SRC / "crm" / "plugin.py"}
# Modules that parse dates but must never read the clock: the import is
# allowed, the clock's functions are not (checked below).
# business_hours.py converts calendars' local times with zoneinfo (which reads
# the time-zone database, static data, once per zone).
PARSING_ONLY = {"scenario.py": {"datetime"}, "business_hours.py": {"datetime"}}
CLOCK_READINGS = {"now", "today", "utcnow", "time", "monotonic", "perf_counter"}
FORBIDDEN_MODULES = {
    "time",
    "datetime",
    "os",
    "io",
    "socket",
    "select",
    "selectors",
    "asyncio",
    "threading",
    "subprocess",
    "shutil",
    "pathlib",
    "sqlite3",
    "urllib",
    "http",
    "logging",
    "tempfile",
}
FORBIDDEN_CALLS = {"open", "print", "input"}
MODULES = sorted(
    p
    for p in SRC.rglob("*.py")
    if p.name not in ALLOWED_IO
    and p.parent not in ALLOWED_IO_PACKAGES
    and p not in ALLOWED_IO_FILES
)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_pure(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module.split(".")[0]]
        else:
            names = []
        allowed = PARSING_ONLY.get(path.name, set())
        for name in names:
            if name in allowed:
                continue
            assert name not in FORBIDDEN_MODULES, f"{path.name}:{node.lineno} imports {name}"
        if allowed and isinstance(node, ast.Attribute):
            assert node.attr not in CLOCK_READINGS, (
                f"{path.name}:{node.lineno} reads the clock ({node.attr})"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} calls {node.func.id}"
            )
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "random"
            and node.attr != "Random"
        ):
            raise AssertionError(
                f"{path.name}:{node.lineno} uses the global random generator (random.{node.attr}); "
                "use a seeded random.Random"
            )


def test_router_randomness_is_seeded() -> None:
    source = (SRC / "core" / "router.py").read_text()
    assert "random.Random(seed)" in source
