"""Shared fixtures: every queue/matcher/router test runs against each implementation of the queue.

``queue_factory`` is parametrised with ids ``compiled`` and ``pure``. It
hands the test a zero-argument constructor of that implementation and, for
the length of the test, makes every ``Router`` the test creates use it. Test
modules that drive the router put it on all their tests with
``pytestmark = pytest.mark.usefixtures("queue_factory")``.

The compiled twin is expected unless ``CCROUTE_PURE_PYTHON`` asks for pure
Python: if it was expected and did not load, its tests fail (they are not
skipped), as yarl's and propcache's suites do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from implementations import (
    COMPILED_EXPECTED,
    FASTQUEUE_ERROR,
    IMPLEMENTATION_IDS,
    IMPLEMENTATIONS,
)

from ccroute.testing import using_queue

__all__ = ["COMPILED_EXPECTED", "IMPLEMENTATIONS", "queue_factory"]


@pytest.fixture(params=IMPLEMENTATION_IDS, ids=IMPLEMENTATION_IDS)
def queue_factory(request: pytest.FixtureRequest) -> Iterator[Callable[[], Any]]:
    """A zero-argument constructor of one implementation of the universal queue.

    Routers created during the test use the same implementation.
    """
    factory = IMPLEMENTATIONS[request.param]
    if factory is None:
        pytest.fail(
            "the compiled universal queue (ccroute._fastqueue) was expected but did not "
            f"load: {FASTQUEUE_ERROR}; build it (pip install -e .) or set CCROUTE_PURE_PYTHON=1"
        )
    with using_queue(factory):
        yield factory
