"""Fixtures of the web plugin's tests (the helpers live in web_testing.py, named
apart from the main suite's conftest so both suites run in one session)."""

from web_testing import anyio_backend

__all__ = ["anyio_backend"]
