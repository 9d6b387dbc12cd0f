"""The universal queue on its own, compiled and pure (pytest-benchmark), at small sizes.

Run: .venv/bin/python -m pytest benchmarks/test_bench_queue.py
(add ``--benchmark-only --benchmark-columns=min,median,max,rounds`` for the table).
The side-by-side comparison with hand-written structures is ``compare_queue.py``;
these use its workloads and check every answer they time.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from compare_queue import (
    QUEUE_CLASSES,
    STRATEGY_NAMES,
    CcrouteQueue,
    MixedWorkload,
    NaiveMatcher,
    Population,
    build_ccroute,
    make_mixed,
    make_population,
)

from ccroute._codes import LONGEST_IDLE, MOST_SKILLED

IMPLEMENTATIONS = pytest.mark.parametrize(
    "impl", [QUEUE_CLASSES[name] for name in QUEUE_CLASSES], ids=["compiled", "pure"]
)


@pytest.fixture(scope="module")
def mixed() -> MixedWorkload:
    """Prefill 2,000, then 20,000 operations: 50% push, 40% pop best, 10% abandon."""
    return make_mixed("contact-centre", 2_000, 20_000, seed=1)


@pytest.fixture(scope="module")
def population() -> Population:
    """1,000 agents (200 available) with random skill sets, 2,000 waiting contacts."""
    return make_population("random", 1_000, 2_000, seed=11)


@IMPLEMENTATIONS
def test_queue_mixed(benchmark: Any, impl: Any, mixed: MixedWorkload) -> None:
    benchmark.group = "queue: mixed workload, 20,000 operations around 2,000 waiting"
    queues: list[CcrouteQueue] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        q = CcrouteQueue(impl)
        for c in range(mixed.prefill):
            q.push(c, mixed.keys[c])
        queues.append(q)
        return (mixed.ops, mixed.keys), {}

    benchmark.pedantic(lambda ops, keys: queues[-1].replay(ops, keys), setup=setup, rounds=5)
    q = queues[-1]
    assert [q.pop() for _ in range(q.size())] == mixed.remaining


@IMPLEMENTATIONS
@pytest.mark.parametrize(
    "strategy", [LONGEST_IDLE, MOST_SKILLED], ids=["longest-idle", "most-skilled"]
)
def test_best_agent(benchmark: Any, impl: Any, strategy: int, population: Population) -> None:
    benchmark.group = (
        f"best_agent: 1,000 decisions, 1,000 random agents, {STRATEGY_NAMES[strategy]}"
    )
    q, sigs = build_ccroute(impl, population)
    rng = random.Random(21)
    contacts = [rng.randrange(len(sigs)) for _ in range(1_000)]
    inputs = [sigs[c] for c in contacts]
    best_agent = q.best_agent

    def run() -> list[int]:
        return [best_agent(g, strategy) for g in inputs]

    answers = benchmark(run)
    naive = NaiveMatcher(population)
    assert answers == [naive.best_agent(population.requirements[c], strategy) for c in contacts]
