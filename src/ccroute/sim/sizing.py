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

:func:`size_per_interval` goes further where shifts allow: the smallest
headcount per group *and interval*, each group split into one sub-group per
interval of its shift (:func:`split_plan`), searched forward in time with
the same seeds, bisection and early stop (docs/scenarios.md describes it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ..errors import InputError
from .engine import simulate
from .replications import Estimate, estimate
from .scenario import Scenario

__all__ = [
    "Candidate",
    "IntervalSizingResult",
    "PlanCandidate",
    "SizingResult",
    "size_by_simulation",
    "size_per_interval",
    "split_plan",
    "with_counts",
]

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


class _Evaluated(Protocol):
    @property
    def runs(self) -> int: ...


C = TypeVar("C", bound=_Evaluated)
K = TypeVar("K", bound=Hashable)


class _Runs(Generic[C]):
    """Every candidate's runs: the same seeds, counted for ``progress``, stopped
    early once the answer is clear, and each distinct candidate kept once."""

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
        self.cache: dict[Hashable, C] = {}
        self.order: list[C] = []
        self.runs = 0
        self.progress = progress

    def cached(self, key: Hashable, full: bool) -> C | None:
        """The candidate already evaluated under ``key``, when it has runs enough."""
        found = self.cache.get(key)
        if found is not None and (not full or found.runs == len(self.seeds)):
            return found
        return None

    def keep(self, key: Hashable, candidate: C) -> C:
        """Remember ``candidate`` (a full evaluation replaces an early-stopped one)."""
        if key not in self.cache:
            self.order.append(candidate)
        self.cache[key] = candidate
        return candidate

    def levels(
        self,
        scenario: Scenario,
        cells: Mapping[K, Mapping[str, Any]],
        targets: Mapping[K, float],
        full: bool,
    ) -> tuple[dict[K, Estimate], bool, int]:
        """Run ``scenario`` with the seeds; each cell's service level (the
        breakdown selected by its keywords) over the runs, whether every cell
        reaches its target, and the runs made. Without ``full`` the runs stop
        after :data:`EARLY_STOP_RUNS` once the verdict is clear."""
        samples: dict[K, list[float]] = {c: [] for c in cells}
        verdict: bool | None = None
        runs = 0
        for seed in self.seeds:
            result = simulate(scenario, seed=seed)
            runs += 1
            self.runs += 1
            if self.progress is not None:
                self.progress(self.runs)
            assert result.breakdown is not None
            for cell, selection in cells.items():
                level = result.breakdown.select(**selection).service_level()
                if level is not None:
                    samples[cell].append(level)
            if not full and runs >= EARLY_STOP_RUNS and runs < len(self.seeds):
                verdict = _clear(samples, targets)
                if verdict is not None:
                    break
        levels = {c: estimate(v) for c, v in samples.items() if v}
        if verdict is None:
            verdict = all(_reaches(e, targets[c], self.strict) for c, e in levels.items())
        return levels, verdict, runs


class _Evaluator(_Runs[Candidate]):
    """A day's headcount per group to its candidate: every queue's level for the day."""

    def __call__(self, counts: Mapping[str, int], *, full: bool = False) -> Candidate:
        key = tuple(sorted(counts.items()))
        found = self.cached(key, full)
        if found is not None:
            return found
        cells = {q: {"queue": q} for q in self.targets}
        scenario = with_counts(self.scenario, counts)
        levels, met, runs = self.levels(scenario, cells, self.targets, full)
        return self.keep(key, Candidate(dict(counts), levels, met, runs))


def _clear(samples: Mapping[K, list[float]], targets: Mapping[K, float]) -> bool | None:
    """Met or missed beyond doubt after a few runs; ``None`` while it is not clear."""
    levels = {c: estimate(v) for c, v in samples.items() if len(v) >= 2}
    if any(e.high < targets[c] for c, e in levels.items()):
        return False
    if len(levels) == sum(1 for v in samples.values() if v) and all(
        e.low >= targets[c] for c, e in levels.items()
    ):
        return True
    return None


def _reaches(level: Estimate, target: float, strict: bool) -> bool:
    return (level.low if strict else level.mean) >= target * (1 - 1e-12)


def _smallest(high: int, meets: Callable[[int], bool]) -> int:
    """The smallest count from 0 to ``high`` (which meets) that ``meets``, by bisection."""
    low = -1  # below anything tried
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    return high


def _shrink(
    names: Sequence[str],
    count: Callable[[str], int],
    meets: Callable[[str, int], bool],
    assign: Callable[[str, int], None],
) -> None:
    """Bisect each group down, largest first, the others held; a second pass
    if the first changed anything (a smaller group may let another shrink)."""
    for _ in range(2):
        changed = False
        for name in sorted(names, key=lambda n: (-count(n), n)):
            least = _smallest(count(name), functools.partial(meets, name))
            if least != count(name):
                assign(name, least)
                changed = True
        if not changed:
            return


def _sizing_inputs(
    scenario: Scenario, groups: Sequence[str] | None, replications: int, seed: int | None
) -> tuple[list[str], tuple[int, ...]]:
    """The groups to size and the seeds, checked."""
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
    return sized, tuple(range(first, first + replications))


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
    sized, seeds = _sizing_inputs(scenario, groups, replications, seed)
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
    _shrink(
        sized,
        counts.__getitem__,
        lambda name, middle: evaluate({**counts, name: middle}).met,
        counts.__setitem__,
    )
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


# ------------------------------------------------------------ per interval

#: One plan: group to its headcount per reporting interval (0 outside its shift).
Plan = Mapping[str, tuple[int, ...]]
#: A level's key in a plan's evaluation: (interval index, queue).
Cell = tuple[int, str]


@attrs.frozen(slots=True)
class PlanCandidate:
    """A per-interval plan tried, and what the runs said about the intervals checked."""

    counts: Plan
    #: (interval, queue) to its service level over the runs, for the contacts
    #: that arrived in that interval (cells with no contacts are left out).
    levels: Mapping[Cell, Estimate]
    #: The intervals whose targets were checked.
    checked: tuple[int, ...]
    met: bool
    runs: int


@attrs.frozen(slots=True)
class IntervalSizingResult:
    """The smallest headcount per agent group and interval found, and the work it took."""

    #: Start of each reporting interval, seconds after midnight.
    starts: tuple[float, ...]
    #: Group to its headcount in the scenario as given.
    original: Mapping[str, int]
    #: The groups sized per interval (the others keep their headcount all day).
    sized: tuple[str, ...]
    #: Sized group to its smallest headcount per interval (0 outside its shift).
    counts: Plan
    #: Sized group to the intervals its shift covers.
    covered: Mapping[str, tuple[int, ...]]
    #: The upper bound the search started from (every interval met).
    bound: Plan
    #: The runs of the answer (all ``replications`` of them, every interval checked).
    answer: PlanCandidate
    #: Every distinct candidate evaluated, in order.
    candidates: tuple[PlanCandidate, ...]
    #: Simulated days in all.
    runs: int
    seeds: tuple[int, ...]


def split_plan(scenario: Scenario, plan: Plan) -> Scenario:
    """``scenario`` with every group in ``plan`` split into one sub-group per interval.

    The sub-group ``{group}@{k}`` has the group's skills, queues, capacity,
    unit budget and queue delays, ``plan[group][k]`` agents, and a shift of
    interval ``k`` clipped to the group's own shift; the group's first and
    last sub-groups keep its shift's own start and end, so a group working
    past the day's end (or all day) still finishes the contacts left waiting.
    Breaks are clipped to each sub-group's shift: the group's not-ready time
    stays where the scenario puts it. Groups not in ``plan`` are kept whole.
    """
    agents = []
    for group in scenario.agents:
        counts = plan.get(group.name)
        if counts is None:
            agents.append(group)
            continue
        covered = _covered(scenario, group.shift_start, group.shift_end)
        for k in covered:
            low = scenario.start + k * scenario.interval
            high = min(low + scenario.interval, scenario.end)
            # The first and last pieces keep the shift's own edges: the engine
            # starts nobody before the day, and contacts still waiting at the
            # day's end need the agents the scenario keeps on.
            start = group.shift_start if k == covered[0] else max(low, group.shift_start)
            end = group.shift_end if k == covered[-1] else min(high, group.shift_end)
            breaks = []
            for brk in group.breaks:
                b_low, b_high = max(brk.start, start), min(brk.start + brk.seconds, end)
                if b_high > b_low:
                    breaks.append(attrs.evolve(brk, start=b_low, seconds=b_high - b_low))
            agents.append(
                attrs.evolve(
                    group,
                    name=f"{group.name}@{k}",
                    count=counts[k],
                    shift_start=start,
                    shift_end=end,
                    breaks=tuple(breaks),
                )
            )
    return attrs.evolve(scenario, agents=tuple(agents))


def _covered(scenario: Scenario, shift_start: float, shift_end: float) -> tuple[int, ...]:
    """The reporting intervals a shift overlaps for some time."""
    out = []
    for k in range(scenario.intervals):
        low = scenario.start + k * scenario.interval
        high = min(low + scenario.interval, scenario.end)
        if min(high, shift_end) > max(low, shift_start):
            out.append(k)
    return tuple(out)


def _plan_key(plan: Plan) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple(sorted(plan.items()))


class _PlanEvaluator(_Runs[PlanCandidate]):
    """A plan and the intervals to check to its candidate: every queue's level
    in each interval checked."""

    def __call__(self, plan: Plan, checked: Sequence[int], *, full: bool = False) -> PlanCandidate:
        check = tuple(sorted(checked))
        key = (_plan_key(plan), check)
        found = self.cached(key, full)
        if found is not None:
            return found
        cells = {(k, q): {"interval": k, "queue": q} for k in check for q in self.targets}
        targets = {c: self.targets[c[1]] for c in cells}
        scenario = split_plan(self.scenario, plan)
        levels, met, runs = self.levels(scenario, cells, targets, full)
        return self.keep(key, PlanCandidate(dict(plan), levels, check, met, runs))


def _shortfall(
    candidate: PlanCandidate, targets: Mapping[str, float], starts: Sequence[float]
) -> str:
    """Which interval and queue fall short, and by how much, in words."""
    parts = []
    for (k, queue), level in sorted(candidate.levels.items()):
        if level.mean < targets[queue]:
            total = sum(c[k] for c in candidate.counts.values())
            parts.append(
                f"at {_clock_text(starts[k])} ({total} agents of the groups sized) {queue} "
                f"reaches {100 * level.mean:.1f}% (target {100 * targets[queue]:g}%)"
            )
    return "; ".join(parts) or "the early runs judged it missed"


def _clock_text(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def size_per_interval(
    scenario: Scenario,
    *,
    groups: Sequence[str] | None = None,
    replications: int = 5,
    seed: int | None = None,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> IntervalSizingResult:
    """The smallest headcount per agent group and interval meeting every queue's target there.

    For each sized group (``groups``, default all) and each reporting interval
    its shift covers: the fewest of its agents logged in during that interval
    such that, for the contacts that *arrived* in the interval, every queue's
    service level (mean over the runs; ``strict``: the low end of its 95%
    interval) reaches the queue's target. A plan is simulated by splitting
    each group into sub-groups, one per interval (:func:`split_plan`).

    The search runs forward in time. Upper bound: the scenario's headcounts in
    every interval, grown by half (at least one agent) in every interval
    until every interval is met. Then, interval by interval, bisection per
    group (largest first, the others held; a second pass if the first changed
    anything), earlier intervals fixed at their answers and later ones held at
    the bound, a candidate meeting the targets of every interval up to the
    current one (so a cut cannot push an earlier interval's late contacts
    under its target). Last, the whole plan runs with every replication: an
    interval that then misses (less room later on for the backlog it leaves)
    gets one more agent, the groups taking turns, until every interval is met.
    Same seeds ``seed, seed + 1, …`` for every candidate, and the early stop
    of :func:`size_by_simulation`. Raises :class:`~ccroute.InputError` as
    :func:`size_by_simulation` does, naming the interval and queue that fall
    short when no plan up to the growth limit meets every interval.
    """
    wanted, seeds = _sizing_inputs(scenario, groups, replications, seed)
    byname = {g.name: g for g in scenario.agents}
    covered = {
        name: _covered(scenario, byname[name].shift_start, byname[name].shift_end)
        for name in wanted
    }
    sized = tuple(name for name in wanted if covered[name])
    if not sized:
        raise InputError("no agent group to size: the shifts of those named miss the day")
    evaluate = _PlanEvaluator(scenario, seeds, strict, progress)
    starts = tuple(scenario.start + k * scenario.interval for k in range(scenario.intervals))
    every = tuple(range(scenario.intervals))
    original = {g.name: g.count for g in scenario.agents}

    def flat(counts: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
        return {n: tuple(counts[n] if k in covered[n] else 0 for k in every) for n in sized}

    counts = {n: original[n] for n in sized}
    growth = 0
    while not (tried := evaluate(flat(counts), every)).met:
        growth += 1
        if growth > MAX_GROWTH:
            raise InputError(
                "no plan meets every interval: "
                + _shortfall(tried, evaluate.targets, starts)
                + "; more agents do not help: check the skills, capacities, steps and shifts "
                "that serve it"
            )
        for name in sized:
            counts[name] = max(counts[name] + 1, math.ceil(counts[name] * 1.5))
    bound = flat(counts)
    plan = {n: list(v) for n, v in bound.items()}

    def frozen(p: Mapping[str, list[int]]) -> dict[str, tuple[int, ...]]:
        return {n: tuple(v) for n, v in p.items()}

    def search(k: int) -> None:
        """Bisect interval ``k``'s headcounts, earlier intervals fixed, later held."""
        checked = every[: k + 1]

        def count(name: str) -> int:
            return plan[name][k]

        def meets(name: str, middle: int) -> bool:
            trial = frozen(plan)
            trial[name] = (*trial[name][:k], middle, *trial[name][k + 1 :])
            return evaluate(trial, checked).met

        def assign(name: str, least: int) -> None:
            plan[name][k] = least

        _shrink([n for n in sized if k in covered[n]], count, meets, assign)

    for k in every:
        search(k)
    answer = evaluate(frozen(plan), every, full=True)
    steps = 0
    turn = 0
    while not answer.met:
        # The later intervals were held at the bound while an interval was
        # searched; at their answers they may leave its late contacts waiting
        # longer (or an early stop judged a candidate met that all runs do
        # not): one more agent where the first interval misses.
        steps += 1
        if steps > 10 * len(sized) * len(every):
            raise InputError(
                "the search could not settle on a plan: "
                + _shortfall(answer, evaluate.targets, starts)
                + "; add replications"
            )
        missed = min(
            (
                k
                for (k, q), e in answer.levels.items()
                if not _reaches(e, evaluate.targets[q], strict)
            ),
            default=None,
        )
        if missed is None:
            # Missed by the early-stop verdict alone; cannot happen with full runs.
            break
        here = [n for n in sized if missed in covered[n]]
        plan[here[turn % len(here)]][missed] += 1
        turn += 1
        answer = evaluate(frozen(plan), every, full=True)
    return IntervalSizingResult(
        starts=starts,
        original=original,
        sized=sized,
        counts=frozen(plan),
        covered={n: covered[n] for n in sized},
        bound=bound,
        answer=answer,
        candidates=tuple(evaluate.order),
        runs=evaluate.runs,
        seeds=seeds,
    )
