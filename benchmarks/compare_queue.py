"""ccroute's compiled universal queue against its pure-Python twin and what people write by hand.

    .venv/bin/python benchmarks/compare_queue.py [--quick] [--rounds N] [--seed S]
        [--only queue,matching,router] [--growth F] [--router-contacts N]
        [--router-rounds N] [--memory-contacts N] [--json PATH]

Everything is measured side by side in one process run (the memory figures
of table 3 excepted: they come from fresh subprocesses). Every timed figure is
the median of ``--rounds`` rounds (default 3); rounds are interleaved (round 1
of every implementation, then round 2 of every implementation, ...) and the
order of the implementations rotates from one round to the next. Inputs
(keys, operation sequences, decision inputs, contacts) are generated before
any timing from ``random.Random(seed)``; a timed section is only the
operations, measured with ``time.perf_counter`` after ``gc.collect()`` and with
the cyclic garbage collector disabled. ``--quick`` is a smoke run at small
sizes (it prints the same tables; about a minute). ``--json PATH`` writes
every figure, including the time of every round. The full run takes 35 to 45
minutes on a 2-core box, most of it building the x10 random population of
table 2 (about 17 minutes for the pure twin, whose signature interning is
linear in the profiles per new signature); ``--growth 1`` skips that scale.
Run nothing else meanwhile: two benchmarks on two cores measure each other.

Table 1, queue: one universal queue with a single requirement signature, so
it is a priority queue with removal by handle. Two key kinds: "random" (tier
0, uniformly random time, increasing sequence) and "contact-centre" (four
priority classes: tier 0 with a head start of 0, 30 or 120 s and tier 1,
arrival times increasing, so FIFO within a class). Two workloads: (a) push
1,000,000 contacts, then pop them all in order; (b) prefill 100,000, then
1,000,000 operations: 50% push, 40% pop the best, 10% abandon a random
waiting contact by id. Implementations: ccroute compiled and pure
(``insert`` / ``first`` + ``remove`` / ``remove``), ``heapq`` with a dict and
lazy deletion, ``sortedcontainers.SortedList`` with a dict. The operation
sequence of (b), including which contact each abandon removes, comes from one
untimed reference simulation and is replayed identically against every
implementation. Untimed checks: every implementation pops exactly the
reference sequence on a smaller sample, and after each timed round of (b)
the contacts still waiting, drained in order, are exactly the reference's.
Figures: operations per second.

Table 2, matching: 10,000 agents over 64 skills (3 to 8 skills each, levels
1..10), one voice channel of capacity 1, one queue; 20% of the agents
available (distinct idle times), the rest logged in but not ready; 20,000
waiting contacts each requiring 1 to 3 skills at minimum levels 1..6, with
contact-centre keys. Populations: "random" (every agent its own skill set)
and "teams" (50 team profiles; each agent copies one). Decisions are
read-only, so the state stays fixed: contact to agent (``best_agent`` for the
signature of a random waiting contact, longest idle and most skilled) and
agent to contact (``best_contact`` for a random available agent). The naive
scan is what a developer writes: loop over the available agents checking
every requirement and keep the best by (idle since, id) or (minus the sum of
the required skills' levels, id); loop over the waiting contacts in key order
and take the first the agent may take. An untimed sample checks that all
three answer the same. Each round times as many decisions as fit in about a
second (at least 200, at most 1,000,000, cycling through 50,000 random inputs),
after one untimed warm-up pass.
Figures: decisions per second; then the same at ``--growth`` times the
agents and contacts (default 10: 100,000 agents, 200,000 contacts), as
microseconds per decision at both scales and their ratio. Building the
state is timed too (it is not part of the decisions): interning a new
signature costs time linear in the agents holding its rarest skill.

Table 3, router end to end, through the public API: 1,000 agents, 20 skills,
4 queues (longest idle, most skilled, least occupied, fewest handled), voice,
chat and email, as in ``workloads.build``; contacts arrive at about 90% load
and go submit, offer, accept, complete (after a random handle time) and end
of wrap-up (5 s later, by ``end_wrap_up``), then the run drains. The queue
implementation is chosen with ``Router(queue_backend=...)``. Figures: contacts per
second of wall time (``--router-contacts``, default 1,000,000; rounds
``--router-rounds``, default 3, or 1 above 200,000 contacts), and the memory
held per waiting contact: in a fresh subprocess per implementation and
measure, N contacts (``--memory-contacts``, default 100,000) are submitted
while no agent is ready. Two measures, because C++ allocations of the
compiled twin are invisible to ``tracemalloc``: the tracemalloc peak and
retained growth (Python allocations only), and the growth of the resident
set (``/proc/self/statm``), in bytes per waiting contact. Both include the
``Contact`` object and its id, which the router keeps.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import importlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import count, pairwise, repeat
from pathlib import Path
from typing import Any, Protocol

import sortedcontainers
import workloads
from sortedcontainers import SortedList
from tables import print_table

import ccroute
from ccroute import (
    Contact,
    Event,
    ManualClock,
    Offered,
    Presence,
    Router,
    _queue_py,
)
from ccroute._codes import LONGEST_IDLE, MOST_SKILLED, NONE, Key

_fastqueue = importlib.import_module("ccroute._fastqueue")  # the compiled twin (no type stub)

COMPILED = "ccroute compiled"
PURE = "ccroute pure"
HEAPQ = "heapq + dict (lazy)"
SORTED = "SortedList + dict"
NAIVE = "naive scan"
#: column headings
SHORT = {COMPILED: "compiled", PURE: "pure", HEAPQ: "heapq", SORTED: "SortedList", NAIVE: "naive"}
QUEUE_CLASSES: dict[str, Any] = {
    COMPILED: _fastqueue.UniversalQueue,
    PURE: _queue_py.UniversalQueue,
}


def log(message: str) -> None:
    """Progress on stderr, so that stdout holds only the tables."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ======================================================================== machine


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "cpu": cpu,
        "load_average": list(os.getloadavg()),
        "ccroute": ccroute.__version__,
        "ccroute_git": commit,
        "sortedcontainers": sortedcontainers.__version__,
        "fastqueue_built": time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(Path(str(_fastqueue.__file__)).stat().st_mtime)
        ),
    }


# ========================================================================= timing


def timed(*phases: Callable[[], object]) -> list[float]:
    """Seconds taken by each phase, run back to back with the cyclic GC off."""
    gc.collect()
    gc.disable()
    try:
        stamps = [time.perf_counter()]
        for phase in phases:
            phase()
            stamps.append(time.perf_counter())
    finally:
        gc.enable()
    return [after - before for before, after in pairwise(stamps)]


def interleaved(
    names: Sequence[str], rounds: int, one_round: Callable[[str], float]
) -> dict[str, list[float]]:
    """Run ``one_round(name)`` for every name, ``rounds`` times, rotating the order each round."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in [*names[shift:], *names[:shift]]:
            times[name].append(one_round(name))
    return times


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ===================================================================== formatting


def rate(value: float) -> str:
    return f"{value:,.0f}"


def ratio(value: float) -> str:
    return f"{value:.2f}x"


# ================================================================ table 1: queue

POP = -1  # in an operation sequence: pop the best contact
# c >= 0: push contact c; c <= -2: abandon contact -2 - c

#: (tier, head start in seconds, weight) of the contact-centre key classes
KEY_CLASSES = ((0, 0.0, 6), (0, 30.0, 2), (0, 120.0, 1), (1, 0.0, 1))
KEY_KINDS = ("random", "contact-centre")


def make_keys(kind: str, n: int, rng: random.Random) -> list[Key]:
    """Keys of contacts 0..n-1, in arrival order (the sequence number is the handle)."""
    if kind == "random":
        return [(0, rng.random() * 1e6, c) for c in range(n)]
    classes = rng.choices(KEY_CLASSES, weights=[w for _t, _h, w in KEY_CLASSES], k=n)
    keys: list[Key] = []
    t = 0.0
    for c, (tier, head, _w) in enumerate(classes):
        t += rng.expovariate(1.0)
        keys.append((-tier, t - head, c))
    return keys


@dataclass
class MixedWorkload:
    """Workload (b): a prefill, then an operation sequence fixed by a reference simulation."""

    prefill: int
    keys: list[Key]
    ops: list[int]
    pops: list[int]  # the contacts the pops return, in order
    remaining: list[int]  # the contacts still waiting at the end, in key order


def make_mixed(kind: str, prefill: int, operations: int, seed: int) -> MixedWorkload:
    rng = random.Random(seed)
    keys = make_keys(kind, prefill + operations, rng)
    # reference: a lazy-deletion heap for the order, a swap-remove list for random picks
    heap = [(keys[c], c) for c in range(prefill)]
    heapq.heapify(heap)
    waiting = list(range(prefill))
    where = {c: c for c in range(prefill)}

    def forget(c: int) -> None:
        i = where.pop(c)
        last = waiting.pop()
        if last != c:
            waiting[i] = last
            where[last] = i

    ops: list[int] = []
    pops: list[int] = []
    nxt = prefill
    for _ in range(operations):
        r = rng.random()
        if r < 0.5 or not waiting:
            ops.append(nxt)
            heapq.heappush(heap, (keys[nxt], nxt))
            where[nxt] = len(waiting)
            waiting.append(nxt)
            nxt += 1
        elif r < 0.9:
            while True:
                c = heapq.heappop(heap)[1]
                if c in where:
                    break
            forget(c)
            ops.append(POP)
            pops.append(c)
        else:
            c = waiting[rng.randrange(len(waiting))]
            forget(c)
            ops.append(-2 - c)
    remaining = sorted(waiting, key=keys.__getitem__)
    return MixedWorkload(prefill, keys[:nxt], ops, pops, remaining)


class QueueBench(Protocol):
    """A priority queue with removal by id, as the benchmark drives it.

    ``push``, ``pop`` and ``abandon`` serve prefilling and the untimed checks;
    ``push_all``, ``pop_all`` and ``replay`` are the timed loops, written with
    local names the way one writes a hot loop.
    """

    def push(self, c: int, key: Key) -> None: ...
    def pop(self) -> int: ...
    def abandon(self, c: int) -> None: ...
    def size(self) -> int: ...
    def push_all(self, items: list[tuple[int, Key]]) -> None: ...
    def pop_all(self, n: int) -> None: ...
    def replay(self, ops: list[int], keys: list[Key]) -> None: ...


class CcrouteQueue:
    """ccroute's universal queue with one signature (any agent, one channel, one queue)."""

    def __init__(self, cls: Any) -> None:
        self.q = cls()
        self.q.add_channel(0, 1, False)
        self.g: int = self.q.signature(0, [], [0])

    def push(self, c: int, key: Key) -> None:
        self.q.insert(c, key, self.g)

    def pop(self) -> int:
        c: int = self.q.first(self.g)
        self.q.remove(c)
        return c

    def abandon(self, c: int) -> None:
        self.q.remove(c)

    def size(self) -> int:
        return len(self.q)

    def push_all(self, items: list[tuple[int, Key]]) -> None:
        insert, g = self.q.insert, self.g
        for c, key in items:
            insert(c, key, g)

    def pop_all(self, n: int) -> None:
        first, remove, g = self.q.first, self.q.remove, self.g
        for _ in repeat(None, n):
            c = first(g)
            remove(c)

    def replay(self, ops: list[int], keys: list[Key]) -> None:
        insert, first, remove, g = self.q.insert, self.q.first, self.q.remove, self.g
        for op in ops:
            if op >= 0:
                insert(op, keys[op], g)
            elif op == POP:
                c = first(g)
                remove(c)
            else:
                remove(-2 - op)


class HeapqQueue:
    """The hand-written version: a heap of (key, c) and a dict of live contacts; lazy deletion."""

    def __init__(self) -> None:
        self.heap: list[tuple[Key, int]] = []
        self.live: dict[int, Key] = {}

    def push(self, c: int, key: Key) -> None:
        self.live[c] = key
        heapq.heappush(self.heap, (key, c))

    def pop(self) -> int:
        while True:
            c = heapq.heappop(self.heap)[1]
            if c in self.live:
                del self.live[c]
                return c

    def abandon(self, c: int) -> None:
        del self.live[c]

    def size(self) -> int:
        return len(self.live)

    def push_all(self, items: list[tuple[int, Key]]) -> None:
        heap, live, push = self.heap, self.live, heapq.heappush
        for c, key in items:
            live[c] = key
            push(heap, (key, c))

    def pop_all(self, n: int) -> None:
        heap, live, pop = self.heap, self.live, heapq.heappop
        for _ in repeat(None, n):
            while True:
                c = pop(heap)[1]
                if c in live:
                    del live[c]
                    break

    def replay(self, ops: list[int], keys: list[Key]) -> None:
        heap, live = self.heap, self.live
        push, pop = heapq.heappush, heapq.heappop
        for op in ops:
            if op >= 0:
                key = keys[op]
                live[op] = key
                push(heap, (key, op))
            elif op == POP:
                while True:
                    c = pop(heap)[1]
                    if c in live:
                        del live[c]
                        break
            else:
                del live[-2 - op]


class SortedListQueue:
    """A ``SortedList`` of (key, c) and a dict c -> key for removal by id."""

    def __init__(self) -> None:
        self.items = SortedList()
        self.keys: dict[int, Key] = {}

    def push(self, c: int, key: Key) -> None:
        self.keys[c] = key
        self.items.add((key, c))

    def pop(self) -> int:
        c: int = self.items.pop(0)[1]
        del self.keys[c]
        return c

    def abandon(self, c: int) -> None:
        self.items.remove((self.keys.pop(c), c))

    def size(self) -> int:
        return len(self.keys)

    def push_all(self, items: list[tuple[int, Key]]) -> None:
        add, where = self.items.add, self.keys
        for c, key in items:
            where[c] = key
            add((key, c))

    def pop_all(self, n: int) -> None:
        pop, where = self.items.pop, self.keys
        for _ in repeat(None, n):
            del where[pop(0)[1]]

    def replay(self, ops: list[int], keys: list[Key]) -> None:
        add, pop, remove, where = self.items.add, self.items.pop, self.items.remove, self.keys
        for op in ops:
            if op >= 0:
                key = keys[op]
                where[op] = key
                add((key, op))
            elif op == POP:
                del where[pop(0)[1]]
            else:
                c = -2 - op
                remove((where.pop(c), c))


QUEUES: dict[str, Callable[[], QueueBench]] = {
    COMPILED: lambda: CcrouteQueue(_fastqueue.UniversalQueue),
    PURE: lambda: CcrouteQueue(_queue_py.UniversalQueue),
    HEAPQ: HeapqQueue,
    SORTED: SortedListQueue,
}


def check_queues(kind: str, n: int, seed: int) -> list[str]:
    """Untimed: every implementation pops the reference sequence, through both code paths."""
    problems: list[str] = []
    keys = make_keys(kind, n, random.Random(seed))
    items = list(enumerate(keys))
    in_order = sorted(range(n), key=keys.__getitem__)
    mixed = make_mixed(kind, n // 10, n, seed)
    for name, factory in QUEUES.items():
        q = factory()
        for c, key in items:
            q.push(c, key)
        if [q.pop() for _ in range(n)] != in_order:
            problems.append(f"{name}, {kind} keys: push then pop order differs from sorted keys")
        q = factory()
        q.push_all(items)
        q.pop_all(n // 2)
        if [q.pop() for _ in range(n - n // 2)] != in_order[n // 2 :]:
            problems.append(f"{name}, {kind} keys: push_all/pop_all leave the wrong contacts")
        q = factory()
        for c in range(mixed.prefill):
            q.push(c, mixed.keys[c])
        popped: list[int] = []
        for op in mixed.ops:
            if op >= 0:
                q.push(op, mixed.keys[op])
            elif op == POP:
                popped.append(q.pop())
            else:
                q.abandon(-2 - op)
        if popped != mixed.pops:
            problems.append(f"{name}, {kind} keys: mixed workload pops differ from the reference")
        q = factory()
        for c in range(mixed.prefill):
            q.push(c, mixed.keys[c])
        q.replay(mixed.ops, mixed.keys)
        if [q.pop() for _ in range(q.size())] != mixed.remaining:
            problems.append(f"{name}, {kind} keys: replay leaves the wrong contacts waiting")
    return problems


def round_push_pop(
    name: str,
    items: list[tuple[int, Key]],
    phases: dict[str, list[list[float]]],
    problems: list[str],
) -> float:
    """One timed round of workload (a) on a fresh structure."""
    q = QUEUES[name]()
    push_s, pop_s = timed(lambda: q.push_all(items), lambda: q.pop_all(len(items)))
    phases[name].append([push_s, pop_s])
    if q.size():
        problems.append(f"{name}: {q.size()} contacts left after popping all")
    return push_s + pop_s


def round_mixed(name: str, mixed: MixedWorkload, what: str, problems: list[str]) -> float:
    """One timed round of workload (b) on a fresh, prefilled structure; checked afterwards."""
    q = QUEUES[name]()
    for c in range(mixed.prefill):
        q.push(c, mixed.keys[c])
    (seconds,) = timed(lambda: q.replay(mixed.ops, mixed.keys))
    if [q.pop() for _ in range(q.size())] != mixed.remaining:
        problems.append(f"{name}, {what} keys: timed replay left the wrong contacts waiting")
    return seconds


def bench_queue(args: argparse.Namespace) -> dict[str, Any]:
    names = list(QUEUES)
    n_push = args.push_pop
    results: dict[str, Any] = {"rows": []}
    problems: list[str] = []
    for kind in KEY_KINDS:
        log(f"queue: checking agreement, {kind} keys")
        problems += check_queues(kind, args.check_size, args.seed)

    for kind in KEY_KINDS:
        log(f"queue: (a) push then pop {n_push:,}, {kind} keys")
        keys = make_keys(kind, n_push, random.Random(args.seed + 1))
        items = list(enumerate(keys))
        phases: dict[str, list[list[float]]] = {name: [] for name in names}
        times = interleaved(
            names,
            args.rounds,
            partial(round_push_pop, items=items, phases=phases, problems=problems),
        )
        results["rows"].append(
            {
                "workload": f"push then pop {n_push:,}",
                "keys": kind,
                "operations": 2 * n_push,
                "seconds": times,
                "push_pop_seconds": phases,
                "ops_per_s": {n: 2 * n_push / median(t) for n, t in times.items()},
            }
        )
        del items, keys

    for kind in KEY_KINDS:
        log(f"queue: (b) mixed, {args.prefill:,} waiting, {args.operations:,} operations, {kind}")
        mixed = make_mixed(kind, args.prefill, args.operations, args.seed + 2)
        times = interleaved(
            names, args.rounds, partial(round_mixed, mixed=mixed, what=kind, problems=problems)
        )
        results["rows"].append(
            {
                "workload": f"mixed around {args.prefill:,} waiting",
                "keys": kind,
                "operations": args.operations,
                "seconds": times,
                "ops_per_s": {n: args.operations / median(t) for n, t in times.items()},
            }
        )
        del mixed
    results["problems"] = problems
    return results


def print_queue(results: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"## Table 1: queue (operations per second, median of {args.rounds} interleaved rounds)")
    print()
    headers = ["workload", "keys", *(SHORT[n] for n in (COMPILED, PURE, HEAPQ, SORTED))]
    headers += ["compiled / heapq", "compiled / pure", "compiled / SortedList"]
    rows = []
    for row in results["rows"]:
        r = row["ops_per_s"]
        rows.append(
            [
                row["workload"],
                row["keys"],
                *(rate(r[n]) for n in (COMPILED, PURE, HEAPQ, SORTED)),
                ratio(r[COMPILED] / r[HEAPQ]),
                ratio(r[COMPILED] / r[PURE]),
                ratio(r[COMPILED] / r[SORTED]),
            ]
        )
    print_table(headers, rows)
    print()
    print(
        f"Columns: ccroute compiled, ccroute pure, heapq + dict with lazy deletion, "
        f"SortedList + dict; ratios are of operations per second (higher: compiled faster). "
        f"Mixed: 50% push, 40% pop best, 10% abandon a random waiting contact. "
        f"Agreement: every implementation popped the reference sequence on samples of "
        f"{args.check_size:,} contacts; after every timed mixed round the contacts left "
        f"matched the reference. Problems: {len(results['problems']) or 'none'}."
    )
    for problem in results["problems"]:
        print(f"  PROBLEM: {problem}")


# ============================================================= table 2: matching

SKILLS = 64
TEAMS = 50
STRATEGY_NAMES = {LONGEST_IDLE: "longest idle", MOST_SKILLED: "most skilled"}
#: (label, strategy code or None for agent to contact)
DECISIONS: tuple[tuple[str, int | None], ...] = (
    ("contact to agent, longest idle", LONGEST_IDLE),
    ("contact to agent, most skilled", MOST_SKILLED),
    ("agent to contact", None),
)
MATCHERS = (COMPILED, PURE, NAIVE)
Requirements = tuple[tuple[int, int], ...]


def agent_id(a: int) -> str:
    return f"agent{a:06d}"


@dataclass
class Population:
    kind: str
    skills: list[dict[int, int]]  # per agent handle
    available: list[int]  # agent handles, ascending
    idle_since: dict[int, float]  # per available agent, all distinct
    requirements: list[Requirements]  # per contact handle
    keys: list[Key]  # per contact handle


def make_population(kind: str, agents: int, contacts: int, seed: int) -> Population:
    rng = random.Random(seed)

    def profile() -> dict[int, int]:
        return {s: rng.randint(1, 10) for s in rng.sample(range(SKILLS), rng.randint(3, 8))}

    if kind == "random":
        skills = [profile() for _ in range(agents)]
    else:
        teams = [profile() for _ in range(TEAMS)]
        skills = [dict(teams[rng.randrange(TEAMS)]) for _ in range(agents)]
    available = sorted(rng.sample(range(agents), agents // 5))
    idle = rng.sample(range(10 * agents), len(available))
    requirements = [
        tuple(sorted((s, rng.randint(1, 6)) for s in rng.sample(range(SKILLS), rng.randint(1, 3))))
        for _ in range(contacts)
    ]
    return Population(
        kind,
        skills,
        available,
        {a: float(t) for a, t in zip(available, idle, strict=True)},
        requirements,
        make_keys("contact-centre", contacts, rng),
    )


def build_ccroute(cls: Any, pop: Population) -> tuple[Any, list[int]]:
    """A queue holding the population; returns it and each contact's signature."""
    q = cls()
    q.add_channel(0, 1, False)
    for a, skills in enumerate(pop.skills):
        q.add_agent(a, agent_id(a), skills, [0], [1], -1, 0.0)
        q.set_logged_in(a, True)
    for a in pop.available:
        q.set_available(a, True, pop.idle_since[a])
    sigs = []
    for c, (reqs, key) in enumerate(zip(pop.requirements, pop.keys, strict=True)):
        g = q.signature(0, reqs, [0])
        q.insert(c, key, g)
        sigs.append(g)
    return q, sigs


@dataclass(slots=True)
class NaiveAgent:
    handle: int
    id: str
    skills: dict[int, int]
    idle_since: float


@dataclass(slots=True)
class NaiveContact:
    handle: int
    key: Key
    requirements: Requirements


class NaiveMatcher:
    """Plain lists and loops: every decision looks at every candidate."""

    def __init__(self, pop: Population) -> None:
        self.agents = {
            a: NaiveAgent(a, agent_id(a), pop.skills[a], pop.idle_since[a]) for a in pop.available
        }
        self.available = list(self.agents.values())
        self.waiting = sorted(
            (
                NaiveContact(c, k, r)
                for c, (k, r) in enumerate(zip(pop.keys, pop.requirements, strict=True))
            ),
            key=lambda contact: contact.key,
        )

    def best_agent(self, requirements: Requirements, strategy: int) -> int:
        best = NONE
        best_key: tuple[float, str] | None = None
        for agent in self.available:
            skills = agent.skills
            for s, level in requirements:
                if skills.get(s, 0) < level:
                    break
            else:
                if strategy == LONGEST_IDLE:
                    key = (agent.idle_since, agent.id)
                else:
                    key = (-sum(skills[s] for s, _level in requirements), agent.id)
                if best_key is None or key < best_key:
                    best_key = key
                    best = agent.handle
        return best

    def best_contact(self, agent: NaiveAgent) -> int:
        skills = agent.skills
        for contact in self.waiting:
            for s, level in contact.requirements:
                if skills.get(s, 0) < level:
                    break
            else:
                return contact.handle
        return NONE


@dataclass
class MatchState:
    """Everything one population needs for its decisions, in each implementation."""

    pop: Population
    queues: dict[str, Any]  # compiled / pure -> UniversalQueue
    sigs: list[int]  # per contact (both twins intern signatures in the same order)
    naive: NaiveMatcher
    build_seconds: dict[str, float] = field(default_factory=dict)


def build_state(pop: Population) -> MatchState:
    queues: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    sigs: list[int] = []
    for name, cls in QUEUE_CLASSES.items():
        start = time.perf_counter()
        queues[name], sigs_here = build_ccroute(cls, pop)
        seconds[name] = time.perf_counter() - start
        if sigs and sigs_here != sigs:
            raise AssertionError("the twins interned signatures in different orders")
        sigs = sigs_here
        log(f"  built {name}: {seconds[name]:.1f} s, {max(sigs) + 1:,} signatures")
    start = time.perf_counter()
    naive = NaiveMatcher(pop)
    seconds[NAIVE] = time.perf_counter() - start
    return MatchState(pop, queues, sigs, naive, seconds)


def decision_inputs(
    state: MatchState, matcher: str, strategy: int | None, sample: list[int]
) -> list[Any]:
    """The arguments ``matcher`` takes for the sampled contacts (or agents)."""
    if strategy is None:
        if matcher == NAIVE:
            return [state.naive.agents[a] for a in sample]
        return list(sample)
    if matcher == NAIVE:
        return [state.pop.requirements[c] for c in sample]
    return [state.sigs[c] for c in sample]


def decide(state: MatchState, matcher: str, strategy: int | None, inputs: list[Any]) -> list[int]:
    """Untimed: the answers, for the agreement check."""
    if matcher == NAIVE:
        if strategy is None:
            return [state.naive.best_contact(x) for x in inputs]
        return [state.naive.best_agent(x, strategy) for x in inputs]
    q = state.queues[matcher]
    if strategy is None:
        return [q.best_contact(x) for x in inputs]
    return [q.best_agent(x, strategy) for x in inputs]


def decision_loop(
    state: MatchState, matcher: str, strategy: int | None, inputs: list[Any]
) -> Callable[[], None]:
    """The timed loop: ``len(inputs)`` decisions, answers discarded."""
    if matcher == NAIVE:
        naive = state.naive
        if strategy is None:
            best_contact = naive.best_contact

            def run() -> None:
                for agent in inputs:
                    best_contact(agent)
        else:
            best_agent = naive.best_agent

            def run() -> None:
                for reqs in inputs:
                    best_agent(reqs, strategy)
    else:
        q = state.queues[matcher]
        if strategy is None:
            q_best_contact = q.best_contact

            def run() -> None:
                for a in inputs:
                    q_best_contact(a)
        else:
            q_best_agent = q.best_agent

            def run() -> None:
                for g in inputs:
                    q_best_agent(g, strategy)

    return run


def take(pool: list[int], n: int) -> list[int]:
    """The first ``n`` items of ``pool`` repeated as often as needed."""
    return [pool[i % len(pool)] for i in range(n)]


def calibrate(
    state: MatchState,
    matcher: str,
    strategy: int | None,
    pool: list[int],
    round_seconds: float,
    most: int,
) -> int:
    """How many decisions fill about ``round_seconds`` (at least 200, at most ``most``)."""
    k = 50
    while True:
        loop = decision_loop(
            state, matcher, strategy, decision_inputs(state, matcher, strategy, take(pool, k))
        )
        (seconds,) = timed(loop)
        if seconds >= 0.05 * round_seconds or k >= most:
            break
        k *= 4
    return max(200, min(most, int(round_seconds * k / max(seconds, 1e-9))))


def time_loop(loops: dict[str, Callable[[], None]], matcher: str) -> float:
    (seconds,) = timed(loops[matcher])
    return seconds


def measure_population(
    state: MatchState, args: argparse.Namespace, seed: int
) -> tuple[dict[str, Any], list[str]]:
    pop = state.pop
    rng = random.Random(seed)
    contact_pool = [rng.randrange(len(pop.keys)) for _ in range(args.decision_pool)]
    agent_pool = [rng.choice(pop.available) for _ in range(args.decision_pool)]
    problems: list[str] = []
    out: dict[str, Any] = {}
    for label, strategy in DECISIONS:
        pool = agent_pool if strategy is None else contact_pool
        check = pool[: args.match_check]
        answers = {
            m: decide(state, m, strategy, decision_inputs(state, m, strategy, check))
            for m in MATCHERS
        }
        for i, x in enumerate(check):
            got = {m: answers[m][i] for m in MATCHERS}
            if len(set(got.values())) > 1:
                what = f"agent {x}" if strategy is None else f"contact {x} {pop.requirements[x]}"
                problems.append(f"{pop.kind}, {label}, {what}: {got}")
        counts: dict[str, int] = {}
        loops: dict[str, Callable[[], None]] = {}
        for m in MATCHERS:
            counts[m] = calibrate(state, m, strategy, pool, args.round_seconds, args.max_decisions)
            loops[m] = decision_loop(
                state, m, strategy, decision_inputs(state, m, strategy, take(pool, counts[m]))
            )
            loops[m]()  # warm-up pass, untimed
        times = interleaved(MATCHERS, args.rounds, partial(time_loop, loops))
        out[label] = {
            "decisions_per_round": counts,
            "seconds": times,
            "per_s": {m: counts[m] / median(t) for m, t in times.items()},
            "us": {m: 1e6 * median(t) / counts[m] for m, t in times.items()},
            "checked": len(check),
        }
    return out, problems


def bench_matching(args: argparse.Namespace) -> dict[str, Any]:
    scales = [(1, args.agents, args.contacts)]
    if args.growth > 1:
        scales.append((args.growth, args.agents * args.growth, args.contacts * args.growth))
    results: dict[str, Any] = {"scales": [], "problems": []}
    for factor, agents, contacts in scales:
        for kind in ("random", "teams"):
            log(f"matching: {kind}, {agents:,} agents, {contacts:,} contacts: building")
            pop = make_population(kind, agents, contacts, args.seed + 10)
            state = build_state(pop)
            log(f"matching: {kind}, {agents:,} agents: measuring")
            figures, problems = measure_population(state, args, args.seed + 20)
            results["problems"] += [f"scale x{factor}, {p}" for p in problems]
            results["scales"].append(
                {
                    "factor": factor,
                    "agents": agents,
                    "available": len(pop.available),
                    "contacts": contacts,
                    "population": kind,
                    "signatures": max(state.sigs) + 1,
                    "build_seconds": state.build_seconds,
                    "decisions": figures,
                }
            )
            del state, pop
            gc.collect()
    return results


def print_matching(results: dict[str, Any], args: argparse.Namespace) -> None:
    base = [s for s in results["scales"] if s["factor"] == 1]
    print()
    s0 = base[0]
    print(
        f"## Table 2: matching ({s0['agents']:,} agents, {s0['available']:,} available, "
        f"{s0['contacts']:,} waiting contacts; decisions per second, median of {args.rounds} "
        f"interleaved rounds)"
    )
    print()
    headers = ["population", "decision", *(SHORT[m] for m in MATCHERS)]
    headers += ["compiled / naive", "pure / naive", "compiled / pure"]
    rows = []
    for s in base:
        for label, _strategy in DECISIONS:
            r = s["decisions"][label]["per_s"]
            rows.append(
                [
                    s["population"],
                    label,
                    *(rate(r[m]) for m in MATCHERS),
                    ratio(r[COMPILED] / r[NAIVE]),
                    ratio(r[PURE] / r[NAIVE]),
                    ratio(r[COMPILED] / r[PURE]),
                ]
            )
    print_table(headers, rows)
    print()
    print("Decisions timed per round (after calibration and one untimed warm-up pass):")
    for s in results["scales"]:
        for label, _strategy in DECISIONS:
            counts = s["decisions"][label]["decisions_per_round"]
            listed = ", ".join(f"{m} {counts[m]:,}" for m in MATCHERS)
            print(f"  x{s['factor']} {s['population']}, {label}: {listed}")
    print()
    print("Building the state (untimed above; adding agents, interning signatures, inserting):")
    rows = []
    for s in results["scales"]:
        b = s["build_seconds"]
        rows.append(
            [
                f"x{s['factor']} {s['population']}",
                f"{s['agents']:,}",
                f"{s['contacts']:,}",
                f"{s['signatures']:,}",
                f"{b[COMPILED]:.2f}",
                f"{b[PURE]:.2f}",
                f"{1e6 * b[COMPILED] / s['contacts']:.0f}",
                f"{1e6 * b[PURE] / s['contacts']:.0f}",
            ]
        )
    print_table(
        [
            "scale, population",
            "agents",
            "contacts",
            "signatures",
            "compiled (s)",
            "pure (s)",
            "compiled us/contact",
            "pure us/contact",
        ],
        rows,
    )
    grown = [s for s in results["scales"] if s["factor"] != 1]
    if grown:
        factor = grown[0]["factor"]
        print()
        print(
            f"Growth: microseconds per decision at x1 ({s0['agents']:,} agents, "
            f"{s0['contacts']:,} contacts) and x{factor} ({grown[0]['agents']:,} agents, "
            f"{grown[0]['contacts']:,} contacts)"
        )
        print()
        rows = []
        for small in base:
            big = next(s for s in grown if s["population"] == small["population"])
            for label, _strategy in DECISIONS:
                for m in MATCHERS:
                    us1 = small["decisions"][label]["us"][m]
                    us10 = big["decisions"][label]["us"][m]
                    rows.append(
                        [
                            small["population"],
                            label,
                            m,
                            f"{us1:,.2f}",
                            f"{us10:,.2f}",
                            ratio(us10 / us1),
                        ]
                    )
        print_table(
            ["population", "decision", "implementation", "us at x1", f"us at x{factor}", "growth"],
            rows,
        )
    print()
    checked = sum(d["checked"] for s in results["scales"] for d in s["decisions"].values())
    print(
        f"Agreement: {checked:,} sampled decisions compared across the three implementations; "
        f"disagreements: {len(results['problems']) or 'none'}."
    )
    for problem in results["problems"][:20]:
        print(f"  DISAGREEMENT: {problem}")


# =============================================================== table 3: router

ROUTER_AGENTS = 1_000
ROUTER_SKILLS = 20
ROUTER_QUEUES = ("sales", "support", "billing", "retention")
CHANNELS = ("voice", "chat", "email")
MEAN_HANDLE = 60.0
WRAP_UP = 5.0
LOAD = 0.9
ACCEPT, COMPLETE, END_WRAP_UP = 0, 1, 2


def build_router(queue_cls: Any, seed: int, presence: Presence) -> tuple[Router, ManualClock]:
    """``workloads.build`` (1,000 agents, 20 skills) with a chosen queue implementation.

    Wrap-up lasts until ``end_wrap_up``, so every step of a contact is a public call.
    """
    router, clock, _rng = workloads.build(
        ROUTER_AGENTS, ROUTER_SKILLS, seed, queue=queue_cls(), presence=presence, wrap_up=None
    )
    return router, clock


def make_contact(i: int, rng: random.Random) -> Contact:
    chosen = rng.sample(range(ROUTER_SKILLS), rng.randint(1, 2))
    return Contact(
        f"c{i}",
        rng.choice(CHANNELS),
        rng.choice(ROUTER_QUEUES),
        requirements={f"s{s}": rng.randint(1, 5) for s in chosen},
        priority_seconds=rng.choice((0, 0, 0, 30)),
    )


@dataclass
class RouterWorkload:
    contacts: list[Contact]
    arrivals: list[float]
    handle: dict[str, float]  # contact id -> handle time


def make_router_workload(n: int, seed: int) -> RouterWorkload:
    rng = random.Random(seed)
    arrival_rate = LOAD * ROUTER_AGENTS * 1.5 / (MEAN_HANDLE + WRAP_UP)
    contacts, arrivals, handle = [], [], {}
    t = 0.0
    for i in range(n):
        t += rng.expovariate(arrival_rate)
        contact = make_contact(i, rng)
        contacts.append(contact)
        arrivals.append(t)
        handle[contact.id] = rng.expovariate(1.0 / MEAN_HANDLE)
    return RouterWorkload(contacts, arrivals, handle)


def drive(router: Router, clock: ManualClock, wl: RouterWorkload) -> None:
    """Submit every contact at its time; offers are accepted at once, then completed, then ended."""
    pending: list[tuple[float, int, int, str, str]] = []  # (when, seq, step, contact, agent)
    seq = count()
    push, pop = heapq.heappush, heapq.heappop
    handle = wl.handle

    def step(limit: float) -> None:
        while pending and pending[0][0] <= limit:
            when, _s, what, contact_id, agent_id = pop(pending)
            clock.set(when)
            if what == ACCEPT:
                events = router.accept(contact_id, agent_id)
                push(pending, (when + handle[contact_id], next(seq), COMPLETE, contact_id, ""))
            elif what == COMPLETE:
                events = router.complete(contact_id)
                push(pending, (when + WRAP_UP, next(seq), END_WRAP_UP, contact_id, ""))
            else:
                events = router.end_wrap_up(contact_id)
            for event in events:
                if type(event) is Offered:
                    push(pending, (when, next(seq), ACCEPT, event.contact_id, event.agent_id))

    for contact, t in zip(wl.contacts, wl.arrivals, strict=True):
        step(t)
        clock.set(t)
        for event in router.submit(contact):
            if type(event) is Offered:
                push(pending, (t, next(seq), ACCEPT, event.contact_id, event.agent_id))
    step(float("inf"))


def record_events(stream: list[tuple[object, ...]], batch: list[Event]) -> None:
    stream.extend(
        (type(e).__name__, e.at, getattr(e, "contact_id", None), getattr(e, "agent_id", None))
        for e in batch
    )


def check_router(n: int, seed: int) -> list[str]:
    """Untimed: both twins produce the same event stream on a small run."""
    streams: dict[str, list[tuple[object, ...]]] = {}
    wl = make_router_workload(n, seed)
    for name, cls in QUEUE_CLASSES.items():
        router, clock = build_router(cls, seed, Presence.AVAILABLE)
        stream: list[tuple[object, ...]] = []
        router.observe(partial(record_events, stream))
        drive(router, clock, wl)
        streams[name] = stream
    a, b = streams[COMPILED], streams[PURE]
    if a == b:
        return []
    i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return [
        f"router event streams differ at event {i} of {len(a)} / {len(b)}: "
        f"compiled {a[i] if i < len(a) else None} vs pure {b[i] if i < len(b) else None}"
    ]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(impl: str, measure: str, n: int, seed: int) -> dict[str, float]:
    """In a fresh process: submit ``n`` contacts with no agent ready; bytes per waiting contact."""
    import tracemalloc

    router, _clock = build_router(QUEUE_CLASSES[impl], seed, Presence.NOT_READY)
    rng = random.Random(seed + 1)
    gc.collect()
    if measure == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    for i in range(n):
        router.submit(make_contact(i, rng))
    gc.collect()
    if measure == "tracemalloc":
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        found = {"peak": (peak - before) / n, "retained": (current - before) / n}
    else:
        found = {"rss": (rss_bytes() - before) / n}
    assert len(router.waiting()) == n, "contacts were routed or refused"
    # signature handles are dense: interning a new one tells how many there were
    found["signatures"] = router._q.signature(0, [(1 << 30, 1)], [0])
    return found


def measure_memory(impl: str, measure: str, n: int, seed: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--memory-child", impl, measure, str(n), str(seed)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def bench_router(args: argparse.Namespace) -> dict[str, Any]:
    log(
        f"router: checking that both twins produce the same events ({args.router_check:,} contacts)"
    )
    problems = check_router(args.router_check, args.seed + 30)
    log(f"router: generating {args.router_contacts:,} contacts")
    wl = make_router_workload(args.router_contacts, args.seed + 31)
    completed: dict[str, list[int]] = {name: [] for name in QUEUE_CLASSES}
    left: dict[str, list[int]] = {name: [] for name in QUEUE_CLASSES}

    def one_round(name: str) -> float:
        router, clock = build_router(QUEUE_CLASSES[name], args.seed + 32, Presence.AVAILABLE)
        log(f"router: {name} round {len(completed[name]) + 1}")
        (seconds,) = timed(lambda: drive(router, clock, wl))
        completed[name].append(router.completed)
        left[name].append(len(router))
        return seconds

    times = interleaved(list(QUEUE_CLASSES), args.router_rounds, one_round)
    if len({c for runs in completed.values() for c in runs}) > 1:
        problems.append(f"completed counts differ between twins or rounds: {completed}")
    memory: dict[str, dict[str, float]] = {}
    for name in QUEUE_CLASSES:
        log(f"router: memory of {args.memory_contacts:,} waiting contacts, {name}")
        memory[name] = {
            **measure_memory(name, "tracemalloc", args.memory_contacts, args.seed + 33),
            **measure_memory(name, "rss", args.memory_contacts, args.seed + 33),
        }
    return {
        "contacts": args.router_contacts,
        "rounds": args.router_rounds,
        "seconds": times,
        "completed": completed,
        "left_in_router": left,
        "per_s": {name: args.router_contacts / median(t) for name, t in times.items()},
        "memory_contacts": args.memory_contacts,
        "memory_bytes_per_contact": memory,
        "problems": problems,
    }


def print_router(results: dict[str, Any]) -> None:
    print()
    n_rounds = results["rounds"]
    print(
        f"## Table 3: router end to end ({ROUTER_AGENTS:,} agents, {ROUTER_SKILLS} skills, "
        f"{results['contacts']:,} contacts, median of {n_rounds} interleaved "
        f"round{'s' if n_rounds != 1 else ''})"
    )
    print()
    rows = []
    for name in QUEUE_CLASSES:
        rows.append(
            [
                name,
                f"{results['contacts']:,}",
                f"{results['completed'][name][0]:,}",
                f"{results['left_in_router'][name][0]:,}",
                f"{median(results['seconds'][name]):.2f}",
                " / ".join(f"{s:.2f}" for s in results["seconds"][name]),
                rate(results["per_s"][name]),
                ratio(results["per_s"][name] / results["per_s"][PURE]),
            ]
        )
    print_table(
        [
            "implementation",
            "submitted",
            "completed",
            "never served",
            "median (s)",
            "rounds (s)",
            "contacts / s",
            "vs pure",
        ],
        rows,
    )
    print()
    print(
        f"Memory per waiting contact ({results['memory_contacts']:,} contacts submitted with "
        f"no agent ready; fresh process per figure; includes the Contact object):"
    )
    print()
    rows = []
    for name in QUEUE_CLASSES:
        m = results["memory_bytes_per_contact"][name]
        rows.append(
            [
                name,
                f"{m['signatures']:,}",
                f"{m['peak']:,.0f}",
                f"{m['retained']:,.0f}",
                f"{m['rss']:,.0f}",
            ]
        )
    print_table(
        [
            "implementation",
            "signatures",
            "tracemalloc peak (B)",
            "tracemalloc retained (B)",
            "RSS growth (B)",
        ],
        rows,
    )
    print()
    print(
        "tracemalloc sees Python allocations only; the compiled twin's C++ heaps and maps "
        "show up in RSS growth alone. Distinct requirement signatures are interned once and "
        "kept, so part of the figure is per signature, not per contact."
    )
    print(
        f"Agreement: event streams and completed counts: problems: {len(results['problems']) or 'none'}."
    )
    for problem in results["problems"]:
        print(f"  PROBLEM: {problem}")


# ========================================================================== main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per figure (median)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--only", default="queue,matching,router", help="comma-separated tables to run"
    )
    parser.add_argument(
        "--growth", type=int, default=None, help="scale factor of the second matching run"
    )
    parser.add_argument("--router-contacts", type=int, default=None)
    parser.add_argument(
        "--router-rounds", type=int, default=None, help="default: --rounds, or 1 above 200,000"
    )
    parser.add_argument("--memory-contacts", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    quick = args.quick
    args.push_pop = 100_000 if quick else 1_000_000
    args.prefill = 10_000 if quick else 100_000
    args.operations = 100_000 if quick else 1_000_000
    args.check_size = 2_000 if quick else 20_000
    args.agents = 1_000 if quick else 10_000
    args.contacts = 2_000 if quick else 20_000
    args.growth = args.growth if args.growth is not None else (4 if quick else 10)
    args.decision_pool = 5_000 if quick else 50_000
    args.max_decisions = 20 * args.decision_pool
    args.round_seconds = 0.1 if quick else 1.0
    args.match_check = 100 if quick else 300
    if args.router_contacts is None:
        args.router_contacts = 20_000 if quick else 1_000_000
    if args.router_rounds is None:
        args.router_rounds = args.rounds if args.router_contacts <= 200_000 else 1
    args.router_check = 1_000 if quick else 5_000
    if args.memory_contacts is None:
        args.memory_contacts = 10_000 if quick else 100_000
    args.only = {part.strip() for part in args.only.split(",")}
    unknown = args.only - {"queue", "matching", "router"}
    if unknown:
        parser.error(f"--only: unknown tables {sorted(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        impl, measure, n, seed = args.memory_child
        print(json.dumps(memory_child(impl, measure, int(n), int(seed))))
        return 0
    started = time.perf_counter()
    info = machine()
    print("# ccroute universal queue: compiled vs pure vs hand-written")
    print()
    print(f"- machine: {info['platform']}; {info['cpu_count']} CPUs ({info['cpu']})")
    print(f"- python: {info['python']}; load average at start {info['load_average']}")
    print(
        f"- ccroute {info['ccroute']} (git {info['ccroute_git']}), "
        f"compiled twin built {info['fastqueue_built']}, "
        f"sortedcontainers {info['sortedcontainers']}"
    )
    print(
        f"- run: {'--quick, ' if args.quick else ''}seed {args.seed}, {args.rounds} interleaved "
        f"rounds per figure (router: {args.router_rounds}), medians"
    )
    if args.rounds < 3:
        print("- NOTE: fewer than 3 rounds: medians are not robust")
    report: dict[str, Any] = {
        "machine": info,
        "args": {k: v for k, v in vars(args).items() if k != "json"},
    }
    report["args"]["only"] = sorted(args.only)
    if "queue" in args.only:
        report["queue"] = bench_queue(args)
        print_queue(report["queue"], args)
    if "matching" in args.only:
        report["matching"] = bench_matching(args)
        print_matching(report["matching"], args)
    if "router" in args.only:
        report["router"] = bench_router(args)
        print_router(report["router"])
    elapsed = time.perf_counter() - started
    report["wall_seconds"] = elapsed
    report["load_average_at_end"] = list(os.getloadavg())
    print()
    print(f"Total wall time: {elapsed:.0f} s; load average at end {report['load_average_at_end']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"Figures written to {args.json}")
    problems = sum(
        len(report[t]["problems"]) for t in ("queue", "matching", "router") if t in report
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
