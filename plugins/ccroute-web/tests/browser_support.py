"""Fixtures of the browser tests: Debian's Chromium through Playwright, and a live
demo centre (service on SQLite + the web app on a free loopback port) run on an
event loop in a thread beside the test, which drives the browser synchronously.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio.from_thread
import attrs
import pytest

from ccroute_web.demo import Centre, centre, demo_users

T = TypeVar("T")

#: Debian's chromium package installs the browser here (tools/install-test-services.sh).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
#: Every demo user's password in the tests.
PASSWORD = "correct horse battery"
#: Seconds a customer has to come back: short, so the abandon test is quick.
GRACE = 2.0


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless; fails (never skips) when it is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's 'chromium' package "
            "(apt-get install -y --no-install-recommends chromium)",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@attrs.frozen
class Live:
    """A running demo centre and the event loop (in a thread) it runs on."""

    centre: Centre
    portal: Any

    @property
    def url(self) -> str:
        """The web app's base URL."""
        return self.centre.url

    @property
    def service(self) -> Any:
        """The service (read its views through :meth:`call`)."""
        return self.centre.service

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await fn(*args)`` on the centre's event loop and return its result."""
        result: T = self.portal.call(fn, *args)
        return result


@attrs.define
class Pages:
    """Opens pages in browser contexts of their own and collects their script errors."""

    browser: Any
    errors: list[str] = attrs.Factory(list)

    def open(self, url: str, viewport: dict[str, int]) -> Any:
        """A new page (its own cookies and storage) at ``url``."""
        page = self.browser.new_context(viewport=viewport).new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.goto(url)
        return page


@pytest.fixture
def pages(browser: Any) -> Iterator[Pages]:
    """Pages for one test; the test fails if a page raised a script error."""
    opened = Pages(browser)
    yield opened
    assert not opened.errors, "script errors in the pages: " + "; ".join(opened.errors)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per module (each test opens its own contexts).

    Not per session: Playwright's synchronous API runs an asyncio loop in the
    main thread while it is open, and the anyio tests of later modules could
    not start theirs.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests write the pages' screenshots: $CCROUTE_SCREENSHOTS or a temp folder."""
    folder = os.environ.get("CCROUTE_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nccroute-web screenshots: {path}")
    return path


@contextlib.contextmanager
def running_centre(*, flow: bool) -> Iterator[Live]:
    """The demo centre on a temporary SQLite log, on a free loopback port."""
    users = demo_users(PASSWORD)
    with (
        tempfile.TemporaryDirectory(prefix="ccroute-web-") as folder,
        anyio.from_thread.start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(
            centre(Path(folder) / "centre.db", users=users, web={"resume_grace": GRACE}, flow=flow)
        ) as running,
    ):
        yield Live(running, portal)


@pytest.fixture
def live() -> Iterator[Live]:
    """The demo centre, web chats straight to the ``support`` queue."""
    with running_centre(flow=False) as centre_:
        yield centre_


@pytest.fixture
def live_with_bot() -> Iterator[Live]:
    """The demo centre, web chats through the demo's chatbot flow first."""
    with running_centre(flow=True) as centre_:
        yield centre_
