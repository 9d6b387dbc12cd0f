"""The universal queue's internal interface, on both implementations.

Which implementation is active, that the environment variable forces pure
Python, ordering and removal by handle, reservations, blocked channels, and
that memory stays flat over many insert/remove and agent cycles.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from implementations import COMPILED_EXPECTED
from reference import ReferenceQueue

import ccroute
from ccroute import _queue
from ccroute._codes import LONGEST_IDLE, MOST_SKILLED, NONE, ROUND_ROBIN

pytestmark = pytest.mark.usefixtures("queue_factory")


def test_the_expected_implementation_is_active() -> None:
    expected = "compiled" if COMPILED_EXPECTED else "pure"
    assert expected == ccroute.IMPLEMENTATION
    module = "ccroute._fastqueue" if COMPILED_EXPECTED else "ccroute._queue_py"
    assert _queue.UniversalQueue.__module__ == module


@pytest.mark.parametrize("value", ["1", "yes"])
def test_environment_variable_forces_pure_python(value: str) -> None:
    env = {**os.environ, "CCROUTE_PURE_PYTHON": value}
    out = subprocess.run(
        [sys.executable, "-c", "import ccroute; print(ccroute.IMPLEMENTATION)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "pure"


def test_without_the_variable_the_compiled_twin_loads() -> None:
    if not COMPILED_EXPECTED:
        pytest.skip("this run asked for pure Python (CCROUTE_PURE_PYTHON)")
    env = {k: v for k, v in os.environ.items() if k != "CCROUTE_PURE_PYTHON"}
    out = subprocess.run(
        [sys.executable, "-c", "import ccroute; print(ccroute.IMPLEMENTATION)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "compiled"


def make(queue_factory: Callable[[], Any], channels: int = 1) -> Any:
    q = queue_factory()
    for ch in range(channels):
        q.add_channel(ch, 1, False)
    return q


def ready_agent(q: Any, a: int, agent_id: str, skills: dict[int, int], now: float = 0.0) -> None:
    q.add_agent(a, agent_id, skills, [0], [3], -1, now)
    q.set_logged_in(a, True)
    q.set_available(a, True, now)


def test_contacts_come_out_in_key_order_and_leave_by_handle(
    queue_factory: Callable[[], Any],
) -> None:
    q = make(queue_factory)
    g = q.signature(0, [], [0])
    keys = {1: (0, 5.0, 1), 2: (-1, 9.0, 2), 3: (0, 1.0, 3), 4: (0, 1.0, 4), 5: (0, 7.0, 5)}
    for c, key in keys.items():
        q.insert(c, key, g)
    q.remove(3)  # abandon from the middle
    order = []
    while len(q):
        c = q.first(g)
        order.append(c)
        q.remove(c)
    assert order == [2, 4, 1, 5]  # the higher tier first, then by time, then sequence
    assert q.first(g) == NONE
    with pytest.raises(KeyError):
        q.remove(3)


def test_reindex_keeps_the_key_and_changes_who_may_take_it(
    queue_factory: Callable[[], Any],
) -> None:
    q = make(queue_factory)
    ready_agent(q, 0, "ann", {0: 5})
    strict = q.signature(0, [(0, 8)], [0])
    relaxed = q.signature(0, [(0, 3)], [0])
    q.insert(1, (0, 1.0, 1), strict)
    q.insert(2, (0, 2.0, 2), relaxed)
    assert q.best_contact(0) == 2
    q.reindex(1, relaxed)
    assert q.best_contact(0) == 1  # it kept its earlier key
    assert sorted(q.iter_waiting()) == [((0, 1.0, 1), 1), ((0, 2.0, 2), 2)]
    q.check()


def test_a_reserved_contact_goes_only_to_its_agent(queue_factory: Callable[[], Any]) -> None:
    q = make(queue_factory)
    ready_agent(q, 0, "ann", {})
    ready_agent(q, 1, "bob", {})
    g = q.signature(0, [], [0])
    q.insert(7, (0, 1.0, 1), g, target=1)
    assert q.best_contact(0) == NONE
    assert q.best_contact(1) == 7
    assert q.best_agent(g, LONGEST_IDLE, target=1) == 1
    assert q.best_contact(1, barred={7}) == NONE
    q.remove(7)
    q.remove_agent(1)
    q.check()


def test_blocked_channels_hold_back_their_contacts_for_one_call(
    queue_factory: Callable[[], Any],
) -> None:
    # The brute-force reference must read ``blocked`` the same way.
    for q in (queue_factory(), ReferenceQueue()):
        for ch in range(3):
            q.add_channel(ch, 1, False)
        for a, agent_id in enumerate(["ann", "bob"]):
            q.add_agent(a, agent_id, {}, [0], [2, 2, 2], -1, 0.0)
            q.set_logged_in(a, True)
            q.set_available(a, True, 0.0)
        sigs = [q.signature(ch, [], [0]) for ch in range(3)]
        q.insert(1, (0, 1.0, 1), sigs[0])  # the oldest, on channel 0
        q.insert(2, (0, 2.0, 2), sigs[1])
        q.insert(3, (0, 3.0, 3), sigs[2], target=0)  # reserved for ann, on channel 2
        q.insert(4, (0, 0.5, 4), sigs[2], target=1)  # reserved for bob: never ann's
        assert q.best_contact(0) == 1
        # a better contact on a blocked channel is skipped for the best elsewhere
        assert q.best_contact(0, (), {0}) == 2
        assert q.best_contact(0, blocked=[0]) == 2
        assert q.best_contact(0, (), (0, 1)) == 3  # the reserved one, on an open channel
        assert q.best_contact(0, {3}, frozenset({0})) == 2  # barred and blocked together
        # every channel blocked: nothing, not even the contact reserved for ann
        assert q.best_contact(0, (), {0, 1, 2}) == NONE
        assert q.best_contact(0, (), {2, 0}) == 2
        assert q.best_contact(0, (), {1, 2}) == 1
        assert q.best_contact(1, (), {2}) == 1  # bob's reserved contact is on channel 2
        assert q.best_contact(1, (), {0, 1}) == 4
        assert q.best_contact(1, (), {0, 1, 2}) == NONE
        # handles naming no channel block nothing
        assert q.best_contact(0, (), {-1, 3, 99}) == 1
        # the block lasted one call: nothing about the agents changed
        assert q.best_contact(0) == 1
        assert q.best_contact(1) == 4
        assert all(q.has_spare(a, ch) for a in (0, 1) for ch in range(3))
        q.check()


def test_strategies_break_ties_by_agent_id(queue_factory: Callable[[], Any]) -> None:
    q = make(queue_factory)
    # same idle time and level: the id decides; these ids share 8 UTF-8 bytes
    for a, agent_id in enumerate(["agent-0001-y", "agent-0001-x", "agent-0001", "zoë", "zoe"]):
        ready_agent(q, a, agent_id, {0: 5})
    g = q.signature(0, [(0, 1)], [0])
    assert q.best_agent(g, LONGEST_IDLE) == 2
    assert q.best_agent(g, MOST_SKILLED) == 2
    assert q.best_agent(g, ROUND_ROBIN, rr_after="agent-0001-x") == 0
    assert q.best_agent(g, ROUND_ROBIN, rr_after="zoë") == 2  # wraps around
    assert q.eligible_agents(g) == [2, 1, 0, 4, 3]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def churn(q: Any, cycles: int, start: int) -> None:
    """Insert/remove contacts around 1,000 waiting; agents take and free reservations."""
    g = q.signature(0, [(0, 1)], [0])
    for i in range(start, start + cycles):
        q.insert(i, (0, float(i % 97), i), g, (i % 4) if i % 5 == 0 else NONE)
        if i - start >= 1_000:
            q.remove(i - 1_000)
        a = i % 4
        if q.has_spare(a, 0):
            q.occupy(a, 0)
        else:
            q.release(a, 0, float(i))
            q.count_handled(a)
    for i in range(start + cycles - 1_000, start + cycles):
        q.remove(i)


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc for RSS")
def test_memory_stays_flat_over_many_cycles(queue_factory: Callable[[], Any]) -> None:
    q = make(queue_factory)
    for a in range(4):
        ready_agent(q, a, f"agent{a}", {0: 5})
    churn(q, 50_000, 0)  # warm up: structures reach their working size
    tracemalloc.start()
    before_rss = rss_bytes()
    churn(q, 200_000, 50_000)
    python_growth, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = rss_bytes() - before_rss
    assert len(q) == 0
    q.check()
    # A leak of even 16 bytes per cycle would show as ~3 MB here.
    assert python_growth < 256 * 1024, python_growth
    assert rss_growth < 2 * 1024 * 1024, rss_growth


@pytest.mark.parametrize("signature_first", [True, False], ids=["signature-first", "agent-first"])
def test_a_requirement_at_level_0_is_met_without_the_skill_in_either_order(
    queue_factory: Callable[[], Any], signature_first: bool
) -> None:
    # Level 0 means any agent qualifies (docs of _twin_checks): an agent who
    # lacks the skill is eligible whether the signature or the agent came first.
    q = make(queue_factory)
    if signature_first:
        g = q.signature(0, [(7, 0)], [0])
        ready_agent(q, 0, "ann", {1: 3})
    else:
        ready_agent(q, 0, "ann", {1: 3})
        g = q.signature(0, [(7, 0)], [0])
    q.insert(1, (0, 1.0, 1), g)
    assert q.eligible_agents(g) == [0]
    assert q.best_contact(0) == 1
    q.check()
