"""End-to-end routing through the public API (pytest-benchmark).

Run: pytest benchmarks/ --benchmark-only
"""

from __future__ import annotations

from typing import Any

import pytest
from workloads import build, route


@pytest.mark.parametrize(("agents", "contacts"), [(100, 20_000), (1_000, 20_000)])
def test_route_contacts(benchmark: Any, agents: int, contacts: int) -> None:
    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        router, clock, rng = build(agents, skills=20)
        return (router, clock, rng, contacts, 20), {}

    completed = benchmark.pedantic(route, setup=setup, rounds=3, iterations=1)
    assert completed > contacts * 0.5
