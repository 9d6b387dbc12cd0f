"""Shared fixtures: every queue/matcher test runs against each implementation of the queue."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ccroute import _queue_py

#: Implementations of the universal queue, by test id. The compiled twin joins
#: this list when it is built (issue 5).
IMPLEMENTATIONS: dict[str, Callable[[], Any]] = {"pure": _queue_py.UniversalQueue}


@pytest.fixture(params=sorted(IMPLEMENTATIONS), ids=sorted(IMPLEMENTATIONS))
def queue_factory(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """A zero-argument constructor of one implementation of the universal queue."""
    return IMPLEMENTATIONS[request.param]
