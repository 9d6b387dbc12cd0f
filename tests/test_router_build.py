"""The router's two builds: one source, compiled or run as it is.

``src/ccroute/core/router.py`` is the router's only source. The build also
compiles it, typed by ``core/_router_compiled.pxd``, into
``ccroute.core._router_compiled`` (setup.py), and ``ccroute.router`` hands
out that build exactly when the compiled queue is in use. The whole suite
runs on each build (CI runs it as built and again with
``CCROUTE_PURE_PYTHON=1``); these tests check that the build in use is the
one ``ccroute.IMPLEMENTATION`` names, that the compiled one really is typed
(a ``.pxd`` that Cython does not find compiles without a word and types
nothing), and that both builds reproduce the recorded event streams side by
side in one run.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ccroute
import ccroute.core.router as source_build
from ccroute import Agent, Contact, Presence, QueueConfig

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "streams"))

import streams_format  # noqa: E402
from implementations import COMPILED_EXPECTED  # noqa: E402


def compiled_build() -> ModuleType:
    """The compiled build (expected whenever the compiled queue is)."""
    try:
        return importlib.import_module("ccroute.core._router_compiled")
    except ImportError as exc:  # a broken install
        pytest.fail(
            f"the compiled router (ccroute.core._router_compiled) did not load: {exc}; "
            "build it (pip install -e .) or set CCROUTE_PURE_PYTHON=1",
            pytrace=False,
        )


def test_the_build_in_use_is_the_one_implementation_names() -> None:
    if ccroute.IMPLEMENTATION == "compiled":
        assert ccroute.Router is compiled_build().Router
        assert ccroute.Router.__module__ == "ccroute.core._router_compiled"
    else:
        assert ccroute.Router is source_build.Router
        assert ccroute.Router.__module__ == "ccroute.core.router"
    assert ccroute.router.Router is ccroute.Router


def test_the_router_shows_the_signature_of_its_source() -> None:
    """inspect (help, IDEs, fuzzers reading parameters) sees the source's
    parameters in both builds, though the compiled ``__init__`` is a C slot."""
    expected = inspect.signature(source_build.Router.__init__)
    shown = inspect.signature(ccroute.Router)
    assert list(shown.parameters) == [name for name in expected.parameters if name != "self"]
    assert shown.parameters["seed"].kind is inspect.Parameter.KEYWORD_ONLY

    class Custom(ccroute.Router):
        def __init__(self, label: str) -> None:
            super().__init__()

    assert list(inspect.signature(Custom).parameters) == ["label"]


def test_pure_python_runs_the_source() -> None:
    code = "import ccroute; print(ccroute.IMPLEMENTATION, ccroute.Router.__module__)"
    pure = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "CCROUTE_PURE_PYTHON": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert pure.stdout.split() == ["pure", "ccroute.core.router"]


# As for the queue twins (tests/implementations.py): a run with
# CCROUTE_PURE_PYTHON=1 tests the source only; any other run expects the
# compiled build and fails, naming it, if it does not load.
if COMPILED_EXPECTED:

    def test_the_default_is_the_compiled_build() -> None:
        code = "import ccroute; print(ccroute.IMPLEMENTATION, ccroute.Router.__module__)"
        env = {k: v for k, v in os.environ.items() if k != "CCROUTE_PURE_PYTHON"}
        default = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert default.stdout.split() == ["compiled", "ccroute.core._router_compiled"]

    def test_the_compiled_build_is_typed_by_its_declarations() -> None:
        module = compiled_build()
        router = module.Router()
        router.add_queue(QueueConfig("q"))
        router.add_agent(Agent("a", queues=("q",)))
        router.set_presence("a", Presence.AVAILABLE)
        router.submit(Contact("c", "voice", "q"))
        contact = router._contacts["c"]
        assert type(router._agents["a"]).__module__ == "ccroute.core._router_compiled"
        # Typed fields are C members (getset descriptors), not slots: a record
        # refuses a field the declarations do not name, and a typed field a
        # value of another type.
        assert type(vars(type(contact))["arrived_at"]).__name__ == "getset_descriptor"
        assert type(vars(module.Router)["_changes"]).__name__ == "getset_descriptor"
        with pytest.raises(AttributeError):
            contact.undeclared = 1
        with pytest.raises(TypeError):
            contact.handle = "not a number"
        # the source's records are plain slotted classes, and the declarations
        # name exactly their fields
        assert type(vars(source_build._ContactRec)["arrived_at"]).__name__ == "member_descriptor"
        for name in ("_ContactRec", "_AgentRec", "_QueueRec"):
            declared = {
                field
                for field, value in vars(getattr(module, name)).items()
                if type(value).__name__ == "getset_descriptor" and not field.startswith("__")
            }
            assert declared == set(getattr(source_build, name).__slots__), name

    @pytest.fixture
    def source_routers() -> Iterator[None]:
        """The recorded streams' harness making routers of the source build."""
        saved = streams_format.Router
        streams_format.Router = source_build.Router
        try:
            yield
        finally:
            streams_format.Router = saved

    def test_the_source_build_reproduces_the_recorded_streams(
        source_routers: None, queue_factory: Callable[[], Any]
    ) -> None:
        """The build this run does not use, held side by side to the streams the
        compiled one reproduces (tests/test_recorded_streams.py), on both queue
        twins: the two builds decide alike call for call."""
        scenarios = tuple(streams_format.read_all())
        mismatches = list(streams_format.replay_all(scenarios))
        assert not mismatches, f"{len(mismatches)} scenarios differ; first: {mismatches[0]}"
