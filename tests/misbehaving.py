"""Custom agent strategies that do not answer twice alike, for the replay tests.

A strategy should be deterministic (docs/policies/custom-strategy.md), but
it is plugin code: these raise now and then, keep state of their own, draw
random numbers or read the time. A log written under them must still replay
(tests/test_strategy_replay.py, tests/test_strategy_restart.py and the
``tests/strategy_crash_driver.py`` subprocess import them).
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ccroute import AgentView, ContactView, hookimpl

#: What :class:`Patterned` does at one call of ``score``.
MOVES = ("level", "raise", "base", "nan", "junk", "random", "clock")


class Flaky:
    """Raises on every third call of ``score``; else scores the agent's English."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, contact: ContactView, agent: AgentView) -> float:
        self.calls += 1
        if self.calls % 3 == 0:
            raise RuntimeError("the strategy's backend timed out")
        return float(agent.skills.get("en", 0))


class Dice:
    """Scores at random, from a generator seeded by the operating system."""

    def __init__(self) -> None:
        self.rng = random.Random()

    def score(self, contact: ContactView, agent: AgentView) -> float:
        return self.rng.random()


class Stopwatch:
    """Scores by the wall clock's microseconds, read at each call."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        return float(time.perf_counter_ns() // 1000 % 97)


class Tally:
    """A round robin of its own: the agent it scored least often scores highest.

    Its state is its own (never in the router's snapshot): a restarted
    process starts counting again from nothing.
    """

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def score(self, contact: ContactView, agent: AgentView) -> float:
        self.seen[agent.id] += 1
        return -float(self.seen[agent.id])


class Patterned:
    """Makes the moves of ``moves`` in turn, one per call of ``score``
    (:data:`MOVES`): score the agent's English, raise an exception, raise a
    ``SystemExit``, return NaN, return a string, a random score, a score
    read from the clock."""

    def __init__(self, moves: Sequence[str], seed: int | None = None) -> None:
        self.moves = tuple(moves)
        self.rng = random.Random(seed)
        self.calls = 0

    def score(self, contact: ContactView, agent: AgentView) -> Any:
        move = self.moves[self.calls % len(self.moves)]
        self.calls += 1
        if move == "raise":
            raise LookupError("the plugin's own bug")
        if move == "base":
            raise SystemExit(3)
        if move == "nan":
            return math.nan
        if move == "junk":
            return "high"
        if move == "random":
            return self.rng.random()
        if move == "clock":
            return float(time.perf_counter_ns() % 1009)
        return float(agent.skills.get("en", 0))


class Untouchable:
    """Counts its calls: a replay must not ask it (it scores 0 if asked)."""

    def __init__(self) -> None:
        self.calls = 0

    def score(self, contact: ContactView, agent: AgentView) -> float:
        self.calls += 1
        return 0.0


def fresh_strategies() -> dict[str, Any]:
    """One new instance of each misbehaving strategy, by the name queues use."""
    return {
        "flaky": Flaky(),
        "dice": Dice(),
        "stopwatch": Stopwatch(),
        "tally": Tally(),
        "junk": Patterned(("junk", "level", "base", "nan", "random", "raise", "clock")),
    }


class MisbehavingStrategies:
    """A plugin giving :func:`fresh_strategies` (new ones at each start)."""

    __name__ = "misbehaving-strategies"

    @hookimpl
    def ccroute_agent_strategies(self) -> dict[str, Any]:
        return fresh_strategies()
