"""The implementations of the universal queue this run tests, by id.

Kept apart from conftest.py so that test modules can import it by a name no
other suite in the session (the plugins' tests) also uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ccroute import _queue, _queue_py

try:
    from ccroute import _fastqueue
except ImportError as error:  # reported by the tests that need it
    _fastqueue = None
    FASTQUEUE_ERROR: str | None = str(error)
else:
    FASTQUEUE_ERROR = None

#: Whether this run expects the compiled twin (CCROUTE_PURE_PYTHON not set).
COMPILED_EXPECTED = not _queue.PURE_REQUESTED

#: Implementations of the universal queue, by test id (None: expected, not loaded).
IMPLEMENTATIONS: dict[str, Callable[[], Any] | None] = {"pure": _queue_py.UniversalQueue}
if COMPILED_EXPECTED:
    IMPLEMENTATIONS["compiled"] = None if _fastqueue is None else _fastqueue.UniversalQueue

IMPLEMENTATION_IDS = sorted(IMPLEMENTATIONS)
