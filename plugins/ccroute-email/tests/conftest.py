"""Fixtures of the email plugin's tests (the helpers live in email_testing.py,
named apart from the main suite's conftest so both suites run in one session)."""

from email_testing import anyio_backend, sink

__all__ = ["anyio_backend", "sink"]
