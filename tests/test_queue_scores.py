"""Offer-reason figures come from the queue twins, by the one set of score functions.

``ccroute._queue_protocol`` states least occupied's share and the four scores
of docs/explain.md once (``idle_score``, ``skill_score``, ``occupancy_score``,
``handled_score``); the pure twin calls them and the compiled twin transcribes
them in C. Here random agent populations (skills, queues, capacities, unit
budgets 0 included, costs 0 included, exclusive channels, load, idle times,
handled counts, reservations) are driven through each twin and through the
brute-force reference (tests/reference.py) side by side, and after every step
each twin's ``offer_figures`` must equal, to the bit (``repr``, so ``-0.0`` is
not ``0.0``):

- the figures worked out here from the reference's agents with the
  ``_queue_protocol`` functions: the eligible count of ``eligible_agents``,
  the winner's score, the best score of the others;
- the reference's own ``offer_figures``, which scores agents one by one from
  the definitions restated in the reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import ReferenceQueue

from ccroute._codes import (
    FEWEST_HANDLED,
    LEAST_OCCUPIED,
    LONGEST_IDLE,
    MOST_SKILLED,
    NONE,
    RANDOM,
    ROUND_ROBIN,
)
from ccroute._queue_protocol import (
    handled_score,
    idle_score,
    occupancy_score,
    occupied_share,
    skill_score,
)

pytestmark = pytest.mark.usefixtures("queue_factory")

STRATEGIES = (LONGEST_IDLE, MOST_SKILLED, LEAST_OCCUPIED, ROUND_ROBIN, FEWEST_HANDLED, RANDOM)
SKILLS = 3
QUEUES = 2
CHANNELS = 3


def test_the_score_functions() -> None:
    """docs/explain.md's scores, including the edges both twins transcribe."""
    assert idle_score(2.5, 10.0) == 7.5
    assert skill_score({0: 3, 2: 5}, [(0, 1), (1, 4), (2, 9)]) == 8.0
    assert skill_score({0: 3}, []) == 0.0
    # a budget of 0 and no capacity at all count as full
    assert occupancy_score(0, 0, 5, 10) == 0.0
    assert occupancy_score(0, -1, 0, 0) == 0.0
    assert occupancy_score(30, 120, 9, 9) == 0.75
    assert occupancy_score(0, -1, 1, 4) == 1.0 - occupied_share(0, -1, 1, 4) == 0.75
    assert handled_score(3) == -3.0
    # no handled contact scores 0.0, not -0.0 (they would print differently)
    assert repr(handled_score(0)) == "0.0"


def expected_figures(
    ref: ReferenceQueue,
    g: int,
    strategy: int,
    winner: int,
    now: float,
    target: int,
    barred: set[int],
) -> tuple[int, float | None, float | None]:
    """The figures from the reference's agents and the _queue_protocol functions."""
    eligible = ref.eligible_agents(g, target, barred)
    _ch, requirements, _queues = ref._sigs[g]
    cost = ref._cost

    def score(a: int) -> float | None:
        agent = ref._agents[a]
        if strategy == LONGEST_IDLE:
            return idle_score(agent.idle_since, now)
        if strategy == MOST_SKILLED:
            return skill_score(agent.skills, requirements)
        if strategy == LEAST_OCCUPIED:
            units = sum(n * cost[ch] for ch, n in enumerate(agent.load))
            return occupancy_score(units, agent.budget, sum(agent.load), sum(agent.cap))
        if strategy == FEWEST_HANDLED:
            return handled_score(agent.handled)
        return None

    mine = score(winner) if winner in eligible else None
    others = [s for a in eligible if a != winner and (s := score(a)) is not None]
    return len(eligible), mine, max(others) if others else None


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_offer_figures_follow_the_score_functions(
    queue_factory: Callable[[], Any], data: st.DataObject
) -> None:
    twin = queue_factory()
    ref = ReferenceQueue()
    queues = (twin, ref)

    def both(name: str, *args: Any) -> Any:
        results = [getattr(q, name)(*args) for q in queues]
        assert results[0] == results[1], (name, args, results)
        return results[0]

    costs = data.draw(st.lists(st.sampled_from([0, 1, 10, 35]), min_size=CHANNELS, max_size=3))
    for ch, cost in enumerate(costs):
        both("add_channel", ch, cost, data.draw(st.sampled_from([False, False, True])))
    now = 0.0
    loads: dict[int, list[int]] = {}
    for a in range(data.draw(st.integers(1, 7))):
        both(
            "add_agent",
            a,
            data.draw(st.sampled_from(["ann", "bob", "cy", "dee", "eve", "fay", "guy"])) + str(a),
            data.draw(st.dictionaries(st.integers(0, SKILLS - 1), st.integers(1, 5))),
            data.draw(st.frozensets(st.integers(0, QUEUES - 1), min_size=1)),
            data.draw(st.lists(st.integers(0, 3), min_size=CHANNELS, max_size=CHANNELS)),
            data.draw(st.sampled_from([-1, -1, 0, 20, 50, 100])),
            now,
        )
        both("set_logged_in", a, True)
        loads[a] = [0] * CHANNELS
    signatures = [
        both(
            "signature",
            data.draw(st.integers(0, CHANNELS - 1)),
            data.draw(
                st.lists(
                    # levels from 1, as the router's (model.MIN_LEVEL)
                    st.tuples(st.integers(0, SKILLS - 1), st.integers(1, 3)),
                    max_size=2,
                    unique_by=lambda r: r[0],
                )
            ),
            data.draw(st.frozensets(st.integers(0, QUEUES - 1), min_size=1)),
        )
        for _ in range(3)
    ]
    reserved: list[int] = []
    agents = sorted(loads)
    for step in range(data.draw(st.integers(1, 15))):
        op = data.draw(st.sampled_from(["available", "occupy", "release", "handled", "reserve"]))
        a = data.draw(st.sampled_from(agents))
        if op == "available":
            now += data.draw(st.sampled_from([0.0, 0.5, 1.0, 3.25]))
            both("set_available", a, data.draw(st.booleans()), now)
        elif op == "occupy":
            ch = data.draw(st.integers(0, CHANNELS - 1))
            if both("has_spare", a, ch):
                both("occupy", a, ch)
                loads[a][ch] += 1
        elif op == "release":
            held = [ch for ch, n in enumerate(loads[a]) if n]
            if held:
                ch = data.draw(st.sampled_from(held))
                now += data.draw(st.sampled_from([0.0, 2.0]))
                both("release", a, ch, now)
                loads[a][ch] -= 1
        elif op == "handled":
            both("count_handled", a, data.draw(st.integers(0, 3)))
        elif op == "reserve":
            both("insert", step, (0, now, step), data.draw(st.sampled_from(signatures)), a)
            reserved.append(step)
        # Every signature and strategy, untargeted and for one target, with a
        # winner among the agents (or none), with and without some agents barred.
        later = now + data.draw(st.sampled_from([0.0, 1.5, 60.0]))
        barred = data.draw(st.sets(st.sampled_from(agents)))
        winner = data.draw(st.sampled_from([NONE, *agents]))
        for g in signatures:
            for target in (NONE, data.draw(st.sampled_from(agents))):
                for strategy in STRATEGIES:
                    for bars in (set(), barred):
                        args = (g, strategy, winner, later, target, bars)
                        got = twin.offer_figures(*args)
                        assert repr(got) == repr(expected_figures(ref, *args)), args
                        assert repr(got) == repr(ref.offer_figures(*args)), args
                    if strategy != RANDOM:
                        # The winner best_agent picks scores at least as well
                        # as any other (longest idle: among agents holding no
                        # work, which it ranks first).
                        best = twin.best_agent(g, strategy, target, None, barred)
                        count, score, runner_up = twin.offer_figures(
                            g, strategy, best, later, target, barred
                        )
                        assert (best == NONE) == (count == 0)
                        if score is not None and runner_up is not None:
                            assert score >= runner_up or strategy == LONGEST_IDLE, args
    twin.check()


def test_a_reserved_contacts_target_is_scored_without_the_skills(
    queue_factory: Callable[[], Any],
) -> None:
    """A target need not have the required skills: it scores the levels it has."""
    q = queue_factory()
    q.add_channel(0, 1, False)
    q.add_agent(7, "ann", {0: 2}, [0], [2], -1, 0.0)
    q.set_logged_in(7, True)
    q.set_available(7, True, 1.0)
    g = q.signature(0, [(0, 4), (1, 1)], [1])
    assert q.eligible_agents(g) == []
    assert q.offer_figures(g, MOST_SKILLED, 7, 5.0) == (0, None, None)
    assert q.offer_figures(g, MOST_SKILLED, 7, 5.0, 7) == (1, 2.0, None)
    assert q.offer_figures(g, LONGEST_IDLE, NONE, 5.0, 7) == (1, None, 4.0)
    assert q.offer_figures(g, ROUND_ROBIN, 7, 5.0, 7) == (1, None, None)
    assert q.offer_figures(g, LEAST_OCCUPIED, 7, 5.0, 7, {7}) == (0, None, None)
