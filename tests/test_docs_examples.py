"""Every piece of code the documentation shows runs, and the reference is complete.

- The programs in docs/examples/ (the tutorial and how-to guides include them)
  run as they are.
- Every ```python block on every page runs: a page's blocks in order, in one
  namespace, as a reader would paste them (``% teardown:`` lines run last);
  ``>>>`` sessions are checked like
  doctests, and the ``test_*`` functions a page shows are called. A page may give hidden set-up
  lines as MyST comments (``% setup: <python>``), like doctest's
  ``testsetup``, for what its fragments take for granted (a router with
  queues). Top-level ``await`` is allowed (the page is run on asyncio).
- The storage plugin of the how-to guide passes the storage contract every
  store passes (``ccroute.testing_storage``).
- Every name ``ccroute`` exports is documented in the API reference.
"""

from __future__ import annotations

import ast
import asyncio
import doctest
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ccroute
from ccroute.storage import DEFAULT_RETENTION, Storage
from ccroute.testing_storage import StorageContract

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PROGRAMS = sorted((DOCS / "examples").glob("*.py"))
PAGES = sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
PAGES_WITH_CODE = [p for p in PAGES if "```python\n" in p.read_text()]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
def test_every_example_program_runs(program: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr[-3000:]


def page_code(page: Path) -> tuple[str, list[str]]:
    """The page's hidden set-up, its python blocks, and its hidden tear-down last."""
    text = page.read_text()
    setup = "\n".join(re.findall(r"^% setup: ?(.*)$", text, flags=re.M))
    teardown = "\n".join(re.findall(r"^% teardown: ?(.*)$", text, flags=re.M))
    # fences may be indented (a block inside a list item)
    found = re.findall(r"^( *)```python\n(.*?)^\1```", text, flags=re.S | re.M)
    blocks = [textwrap.dedent(code) for _indent, code in found]
    return setup, [*blocks, teardown]


@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=[str(p.relative_to(DOCS)) for p in PAGES_WITH_CODE]
)
def test_every_code_block_on_a_page_runs(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Files a page writes land in a temporary directory, and the repository's
    # examples it reads are there too.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    setup, blocks = page_code(page)
    namespace: dict[str, object] = {"__name__": "__docs__", "DOCS": DOCS, "ROOT": ROOT}

    # One event loop for the page, running only while a block awaits: a block
    # that starts its own loop (anyio.run) runs outside it.
    with asyncio.Runner() as runner:
        named = [("setup", setup), *[(f"block {i + 1}", b) for i, b in enumerate(blocks)]]
        for where, code in named:
            name = f"{page.relative_to(ROOT)} ({where})"
            # A page about a server names its address; the set-up may point
            # it at the private one it started (``_substitute``).
            for shown, used in dict(namespace.get("_substitute", {})).items():  # type: ignore[call-overload]
                code = code.replace(shown, used)
            if code.lstrip().startswith(">>>"):
                check_session(code, name, namespace)
                continue
            compiled = compile(code, name, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            result = eval(compiled, namespace)  # our own pages' code
            if asyncio.iscoroutine(result):
                runner.run(result)
        # A page that shows a test (how to test a policy) has it run too.
        for test_name, value in list(namespace.items()):
            if test_name.startswith("test_") and callable(value):
                result = value()
                if asyncio.iscoroutine(result):
                    runner.run(result)


def check_session(code: str, name: str, namespace: dict[str, object]) -> None:
    """Run an interactive session (``>>>`` lines) and check what it prints."""
    test = doctest.DocTestParser().get_doctest(code, namespace, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    runner.run(test, out=report.append, clear_globs=False)
    assert runner.failures == 0, "".join(report)


def test_every_exported_name_is_in_the_api_reference() -> None:
    reference = "\n".join(p.read_text() for p in (DOCS / "reference" / "api").glob("*.md"))
    missing = [
        name
        for name in ccroute.__all__
        if name != "__version__" and f"ccroute.{name}\n" not in reference
    ]
    assert not missing, f"not in docs/reference/api: {missing}"


def test_every_page_is_in_a_table_of_contents() -> None:
    listed: set[str] = set()
    for page in PAGES:
        for block in re.findall(r"^```\{toctree\}\n(.*?)^```", page.read_text(), re.S | re.M):
            for line in block.splitlines():
                if line and not line.startswith(":"):
                    listed.add(str((page.parent / line).resolve().relative_to(DOCS)))
    orphans = [
        str(p.relative_to(DOCS))
        for p in PAGES
        if p.name != "index.md" or p.parent != DOCS
        if str(p.relative_to(DOCS).with_suffix("")) not in listed
    ]
    assert not orphans, f"pages in no toctree: {orphans}"


class TestTheStoragePluginOfTheGuide(StorageContract):
    """docs/howto/storage-plugin.md shows a store; it does what every store must."""

    @pytest.fixture
    def make_store(self, tmp_path: Path) -> object:
        sys.path.insert(0, str(DOCS / "examples"))
        try:
            from howto_storage_plugin import JsonLinesStorage
        finally:
            sys.path.remove(str(DOCS / "examples"))
        made = iter(range(1_000_000))

        def make(*, retention: float | None = DEFAULT_RETENTION) -> Storage:
            # The example keeps every record: retention is not one of its features.
            return JsonLinesStorage(tmp_path / f"log-{next(made)}")

        return make
