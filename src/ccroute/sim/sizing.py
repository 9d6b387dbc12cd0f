"""Staffing by simulation: the smallest headcount per agent group that meets every queue's target.

Erlang tables size one queue of identical agents at a time. A centre whose
agents share skills across queues, hold several chats at once, and whose
customers hang up, is not such a queue; :func:`size_by_simulation` asks the
real router instead. For every candidate headcount it runs the scenario with
the same seeds (common random numbers, so two candidates differ by their
staffing and not by their luck) and checks every queue's service level for
the day, each against its own target.

The search:

1. an upper bound: the scenario's own headcounts, grown by half (at least one
   agent) per group being sized until every target is met;
2. bisection per group, largest first, with the other groups held, for the
   smallest count that still meets every target; a second pass over the
   groups if the first changed anything (a smaller group may let another
   shrink);
3. each candidate runs up to ``replications`` days but stops after two once
   it is clearly met (the 95% interval of every queue above its target) or
   clearly missed (one queue's interval wholly below).

A candidate *meets* the targets when the mean over its runs of every queue's
service level reaches the queue's target (``strict``: the low end of the 95%
interval does). Deterministic: the same scenario, seeds and options give the
same answer; no clock is read.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import attrs

from ..errors import InputError
from .engine import simulate
from .replications import Estimate, estimate
from .scenario import Scenario

__all__ = ["Candidate", "SizingResult", "size_by_simulation", "with_counts"]

#: Runs after which a candidate may stop early, when the answer is already clear.
EARLY_STOP_RUNS = 2
#: Growth rounds for the upper bound before giving up.
MAX_GROWTH = 8


def with_counts(scenario: Scenario, counts: Mapping[str, int]) -> Scenario:
    """``scenario`` with the agent groups named in ``counts`` resized (0 removes a group's agents)."""
    return attrs.evolve(
        scenario,
        agents=tuple(attrs.evolve(g, count=counts.get(g.name, g.count)) for g in scenario.agents),
    )


@attrs.frozen(slots=True)
class Candidate:
    """A headcount tried, and what the runs said."""

    counts: Mapping[str, int]
    #: Queue to its service level over the runs (queues with no contacts are left out).
    levels: Mapping[str, Estimate]
    met: bool
    runs: int


@attrs.frozen(slots=True)
class SizingResult:
    """The smallest headcount found, and the work it took."""

    #: Group to its headcount in the scenario as given.
    original: Mapping[str, int]
    #: Group to the smallest headcount meeting every target (groups not sized keep theirs).
    counts: Mapping[str, int]
    #: The runs of the answer (all ``replications`` of them).
    answer: Candidate
    #: Every distinct candidate evaluated, in order.
    candidates: tuple[Candidate, ...]
    #: Simulated days in all.
    runs: int
    seeds: tuple[int, ...]


class _Evaluator:
    def __init__(
        self,
        scenario: Scenario,
        seeds: Sequence[int],
        strict: bool,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.scenario = scenario
        self.seeds = seeds
        self.strict = strict
        self.targets = {q.name: q.service_level_target for q in scenario.queues}
        self.cache: dict[tuple[tuple[str, int], ...], Candidate] = {}
        self.order: list[Candidate] = []
        self.runs = 0
        self.progress = progress

    def __call__(self, counts: Mapping[str, int], *, full: bool = False) -> Candidate:
        key = tuple(sorted(counts.items()))
        cached = self.cache.get(key)
        if cached is not None and (not full or cached.runs == len(self.seeds)):
            return cached
        scenario = with_counts(self.scenario, counts)
        samples: dict[str, list[float]] = {q: [] for q in self.targets}
        verdict: bool | None = None
        runs = 0
        for seed in self.seeds:
            result = simulate(scenario, seed=seed)
            runs += 1
            self.runs += 1
            if self.progress is not None:
                self.progress(self.runs)
            assert result.breakdown is not None
            for queue in self.targets:
                level = result.breakdown.select(queue=queue).service_level()
                if level is not None:
                    samples[queue].append(level)
            if not full and runs >= EARLY_STOP_RUNS and runs < len(self.seeds):
                verdict = self._clear(samples)
                if verdict is not None:
                    break
        levels = {q: estimate(v) for q, v in samples.items() if v}
        met = all(
            (e.low if self.strict else e.mean) >= self.targets[q] * (1 - 1e-12)
            for q, e in levels.items()
        )
        if verdict is not None:
            met = verdict
        candidate = Candidate(dict(counts), levels, met, runs)
        if cached is None:
            self.order.append(candidate)
        self.cache[key] = candidate
        return candidate

    def _clear(self, samples: Mapping[str, list[float]]) -> bool | None:
        """Met or missed beyond doubt after a few runs; ``None`` while it is not clear."""
        levels = {q: estimate(v) for q, v in samples.items() if len(v) >= 2}
        if any(e.high < self.targets[q] for q, e in levels.items()):
            return False
        if len(levels) == sum(1 for v in samples.values() if v) and all(
            e.low >= self.targets[q] for q, e in levels.items()
        ):
            return True
        return None


def size_by_simulation(
    scenario: Scenario,
    *,
    groups: Sequence[str] | None = None,
    replications: int = 5,
    seed: int | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SizingResult:
    """The smallest headcount per agent group (``groups``, default all) meeting every queue's target.

    ``replications`` runs per candidate with seeds ``seed, seed + 1, …``
    (default: the scenario's seed), the same for every candidate.
    ``progress``, if given, is called with the number of days simulated so far.
    Raises :class:`~ccroute.InputError` for an unknown group, fewer than one
    replication, or targets no headcount up to the growth limit meets.
    """
    names = [g.name for g in scenario.agents]
    sized = list(names if groups is None else groups)
    for name in sized:
        if name not in names:
            raise InputError(f"unknown agent group {name!r}; the scenario has {', '.join(names)}")
    if not sized:
        raise InputError("no agent group to size")
    if replications < 1:
        raise InputError("replications must be at least 1")
    first = scenario.seed if seed is None else seed
    seeds = tuple(range(first, first + replications))
    evaluate = _Evaluator(scenario, seeds, strict, progress)
    original = {g.name: g.count for g in scenario.agents}
    counts = dict(original)
    growth = 0
    while not (tried := evaluate(counts)).met:
        growth += 1
        if growth > MAX_GROWTH:
            short = ", ".join(
                f"{q} reaches {100 * e.mean:.1f}% (target {100 * evaluate.targets[q]:g}%)"
                for q, e in sorted(tried.levels.items())
                if e.mean < evaluate.targets[q]
            )
            raise InputError(
                f"no headcount meets every target: with {sum(counts.values())} agents {short}; "
                "more agents do not help: check the skills, capacities, steps and shifts "
                "that serve it"
            )
        for name in sized:
            counts[name] = max(counts[name] + 1, math.ceil(counts[name] * 1.5))
    for _ in range(2):
        changed = False
        for name in sorted(sized, key=lambda n: (-counts[n], n)):
            low, high = -1, counts[name]  # high meets; low is below anything tried
            while high - low > 1:
                middle = (low + high) // 2
                if evaluate({**counts, name: middle}).met:
                    high = middle
                else:
                    low = middle
            if high != counts[name]:
                counts[name] = high
                changed = True
        if not changed:
            break
    answer = evaluate(counts, full=True)
    steps = 0
    while not answer.met:
        # An early stop judged a candidate met that all the runs do not: step back up.
        steps += 1
        if steps > 10 * len(sized):
            raise InputError("the search could not settle on a headcount: add replications")
        name = sized[steps % len(sized)]
        counts[name] += 1
        answer = evaluate(counts, full=True)
    return SizingResult(
        original=original,
        counts=counts,
        answer=answer,
        candidates=tuple(evaluate.order),
        runs=evaluate.runs,
        seeds=seeds,
    )
