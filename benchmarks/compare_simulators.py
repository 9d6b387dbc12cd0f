"""ccroute's simulator against ciw, SimPy and a bare heapq loop on the same M/M/c call centre.

    .venv/bin/python benchmarks/compare_simulators.py [--contacts N] [--rounds R]
        [--day-contacts N] [--only mmc|day] [--profile]

Part 1, M/M/c: one skill, 50 agents, exponential handle time of mean 180 s,
Poisson arrivals at load 0.9 (0.9 * 50 / 180 = 0.25 per second), FIFO, no
abandonment, N contacts (default 200,000). Four simulators run it:

- ccroute: the full router, driven by ``ccroute.sim.simulate`` (queue config
  with no offer time-out and no wrap-up; agents answer at once). Its
  implementation is named: "pure" today; if ``ccroute.IMPLEMENTATION`` is
  "compiled", a pure-Python figure is measured too, in a subprocess with
  ``CCROUTE_PURE_PYTHON=1`` (timed inside the subprocess, imports excluded).
- ciw (PyPI ``ciw``): ``simulate_until_max_customers(N, method="Complete")``.
- SimPy (PyPI ``simpy``): the textbook model, a ``simpy.Resource(capacity=50)``
  and one process per customer.
- heapq: a hand-written event loop with no routing at all: the upper bound.

ccroute runs arrivals for N / rate seconds and drains (about N contacts, the
exact count is used); SimPy and heapq generate exactly N arrivals and drain;
ciw stops when N have completed. Each run is timed from building the model to
having its per-contact figures. Rounds are interleaved (round 1 of every
simulator, then round 2, ...; the order rotates each round) and the table gives
the median over rounds of contacts completed per second of wall time.

Service level (answered within 20 s / answered) and ASA are pooled over all
rounds, after a warm-up: contacts arriving in the first 5% of the arrival
horizon (0.05 * N / rate seconds) are left out, the same way for every
simulator (``Scenario.warmup`` in ccroute, filtering on arrival time in the
others). The exact Erlang C figures (``ccroute.wfm``) are shown alongside.

Part 2, "multi-skill day": a ccroute scenario with 1,000 agents, 20 skills and
3 channels (voice, chat, email) over 24 hours, 1,000,000 contacts by default
(``--day-contacts`` scales it down by shortening the day at the same load). It
runs in a subprocess so that its peak resident memory (``ru_maxrss``) is its
own (``VmHWM``); the table gives contacts per second and that peak.

``--profile`` runs one ccroute M/M/c round under cProfile instead and prints the
ten functions with the most own time.

ciw and SimPy are benchmark-only dependencies: ``pip install ciw simpy``.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import ccroute
from ccroute.metrics import ServiceLevelVariant
from ccroute.model import QueueConfig, Strategy
from ccroute.sim import AgentGroup, ArrivalStream, Distribution, Scenario, simulate

AGENTS = 50
AHT = 180.0
LOAD = 0.9
RATE = LOAD * AGENTS / AHT  # arrivals per second
THRESHOLD = 20.0
WARMUP_SHARE = 0.05


@dataclass
class Run:
    """One timed run: what completed, and the waits of the contacts measured after warm-up."""

    seconds: float
    completed: int
    answered: int
    within: int
    total_wait: float

    @property
    def rate(self) -> float:
        return self.completed / self.seconds


def warmup_time(contacts: int) -> float:
    return WARMUP_SHARE * contacts / RATE


# ------------------------------------------------------------------- the four M/M/c runs


def mmc_scenario(contacts: int) -> Scenario:
    end = contacts / RATE
    return Scenario(
        start=0.0,
        end=end,
        interval=end,
        warmup=warmup_time(contacts),
        queues=(QueueConfig("calls", service_level_threshold=THRESHOLD, offer_timeout=None),),
        agents=(AgentGroup("agent", AGENTS, (), frozenset({"calls"}), {"voice": 1}),),
        arrivals=(
            ArrivalStream("calls", "calls", "voice", (), (RATE,), Distribution("exponential", AHT)),
        ),
        name="M/M/50",
    )


def run_ccroute(contacts: int, seed: int) -> Run:
    start = time.perf_counter()
    result = simulate(mmc_scenario(contacts), seed=seed)
    seconds = time.perf_counter() - start
    m = result.measured
    assert m.abandoned == 0 and result.stranded == 0
    return Run(
        seconds, result.report.total.handled, m.answered, m.answered_within, m.total_answer_wait
    )


def run_ciw(contacts: int, seed: int) -> Run:
    import ciw

    start = time.perf_counter()
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=RATE)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / AHT)],
        number_of_servers=[AGENTS],
    )
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(contacts, method="Complete")
    records = sim.get_all_records()
    seconds = time.perf_counter() - start
    skip = warmup_time(contacts)
    waits = [r.waiting_time for r in records if r.arrival_date >= skip]
    return Run(
        seconds, len(records), len(waits), sum(1 for w in waits if w <= THRESHOLD), sum(waits)
    )


def run_simpy(contacts: int, seed: int) -> Run:
    import simpy

    start = time.perf_counter()
    expo = random.Random(seed).expovariate
    skip = warmup_time(contacts)
    stats = {"completed": 0, "answered": 0, "within": 0, "wait": 0.0}
    env = simpy.Environment()
    servers = simpy.Resource(env, capacity=AGENTS)

    def customer(arrival: float):  # type: ignore[no-untyped-def]
        with servers.request() as request:
            yield request
            if arrival >= skip:
                wait = env.now - arrival
                stats["answered"] += 1
                stats["wait"] += wait
                if wait <= THRESHOLD:
                    stats["within"] += 1
            yield env.timeout(expo(1.0 / AHT))
        stats["completed"] += 1

    def source():  # type: ignore[no-untyped-def]
        for _ in range(contacts):
            yield env.timeout(expo(RATE))
            env.process(customer(env.now))

    env.process(source())
    env.run()
    seconds = time.perf_counter() - start
    return Run(
        seconds,
        int(stats["completed"]),
        int(stats["answered"]),
        int(stats["within"]),
        stats["wait"],
    )


def run_heapq(contacts: int, seed: int) -> Run:
    start = time.perf_counter()
    expo = random.Random(seed).expovariate
    push, pop = heapq.heappush, heapq.heappop
    skip = warmup_time(contacts)
    mu = 1.0 / AHT
    events: list[tuple[float, int]] = [(expo(RATE), 0)]  # (time, 0 = arrival / 1 = departure)
    waiting: deque[float] = deque()
    free = AGENTS
    arrived = completed = answered = within = 0
    total_wait = 0.0
    while events:
        now, kind = pop(events)
        if kind == 0:
            arrived += 1
            if arrived < contacts:
                push(events, (now + expo(RATE), 0))
            if free:
                free -= 1
                if now >= skip:
                    answered += 1
                    within += 1
                push(events, (now + expo(mu), 1))
            else:
                waiting.append(now)
        else:
            completed += 1
            if waiting:
                arrival = waiting.popleft()
                if arrival >= skip:
                    wait = now - arrival
                    answered += 1
                    total_wait += wait
                    if wait <= THRESHOLD:
                        within += 1
                push(events, (now + expo(mu), 1))
            else:
                free += 1
    seconds = time.perf_counter() - start
    return Run(seconds, completed, answered, within, total_wait)


def run_ccroute_pure_subprocess(contacts: int, seed: int) -> Run:
    """One ccroute round in a fresh interpreter with CCROUTE_PURE_PYTHON=1."""
    env = {**os.environ, "CCROUTE_PURE_PYTHON": "1"}
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "mmc",
            "--contacts",
            str(contacts),
            "--seed",
            str(seed),
        ],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    data = json.loads(out.strip().splitlines()[-1])
    if data.pop("implementation") != "pure":
        raise RuntimeError("CCROUTE_PURE_PYTHON=1 did not select the pure implementation")
    return Run(**data)


# ---------------------------------------------------------------------- exact figures


def erlang_c(rate: float, aht: float, agents: int, threshold: float) -> tuple[float, float, str]:
    """(service level, ASA, source) from ccroute.wfm, or the benchmarks' own formulas."""
    try:
        from ccroute.wfm import erlang_c_metrics

        source = "ccroute.wfm"
    except ImportError:
        from erlang_reference import erlang_c_metrics  # type: ignore[no-redef]

        source = "benchmarks/erlang_reference.py"
    exact = erlang_c_metrics(rate, aht, agents, threshold)
    return exact.service_level, exact.asa_seconds, source


# ----------------------------------------------------------------------- M/M/c part


def simulators() -> list[tuple[str, Callable[[int, int], Run]]]:
    impl = ccroute.IMPLEMENTATION
    out: list[tuple[str, Callable[[int, int], Run]]] = [(f"ccroute ({impl})", run_ccroute)]
    if impl != "pure":
        out.append(("ccroute (pure, subprocess)", run_ccroute_pure_subprocess))
    for name, module, fn in (("ciw", "ciw", run_ciw), ("SimPy", "simpy", run_simpy)):
        try:
            __import__(module)
        except ImportError:
            print(f"  {name} is not installed (pip install {module}): skipped", file=sys.stderr)
            continue
        out.append((name, fn))
    out.append(("heapq loop (no routing)", run_heapq))
    return out


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def mmc_part(contacts: int, rounds: int) -> None:
    sims = simulators()
    runs: dict[str, list[Run]] = {name: [] for name, _ in sims}
    print(
        f"M/M/{AGENTS}: rate {RATE:.4f}/s, AHT {AHT:.0f} s, load {LOAD}, {contacts:,} contacts, "
        f"{rounds} rounds; warm-up: arrivals before {warmup_time(contacts):,.0f} s dropped",
        file=sys.stderr,
    )
    for r in range(rounds):
        order = sims[r % len(sims) :] + sims[: r % len(sims)]
        for name, fn in order:
            gc.collect()
            run = fn(contacts, r + 1)
            runs[name].append(run)
            print(
                f"  round {r + 1}/{rounds}  {name:<28} {run.seconds:8.2f} s "
                f"{fmt_int(run.rate):>9} contacts/s",
                file=sys.stderr,
                flush=True,
            )

    sl, asa, source = erlang_c(RATE, AHT, AGENTS, THRESHOLD)
    ciw_rate = statistics.median(r.rate for r in runs["ciw"]) if "ciw" in runs else None
    print()
    print(
        f"M/M/{AGENTS}, load {LOAD}, AHT {AHT:.0f} s, {contacts:,} contacts, "
        f"median of {rounds} interleaved rounds ({sys.implementation.name} "
        f"{sys.version.split()[0]}, ccroute {ccroute.IMPLEMENTATION})"
    )
    print()
    print(
        "| simulator | median wall time (s) | contacts/s (median) | vs ciw | "
        "service level (≤ 20 s / answered) | ASA (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, _ in sims:
        rs = runs[name]
        rate = statistics.median(r.rate for r in rs)
        answered = sum(r.answered for r in rs)
        ratio = f"{rate / ciw_rate:.2f}" if ciw_rate else "-"
        print(
            f"| {name} | {statistics.median(r.seconds for r in rs):.2f} | {fmt_int(rate)} | "
            f"{ratio} | {sum(r.within for r in rs) / answered:.4f} | "
            f"{sum(r.total_wait for r in rs) / answered:.2f} |"
        )
    print(f"| Erlang C (exact, {source}) | | | | {sl:.4f} | {asa:.2f} |")


# ----------------------------------------------------------------- multi-skill day

DAY_AGENTS = 1_000
DAY_SKILLS = 20
DAY_CONTACTS = 1_000_000
DAY_SECONDS = 24 * 3600.0
#: (channel, share of contacts, handle time, patience, requirement level)
DAY_CHANNELS = (
    ("voice", 0.5, Distribution("lognormal", 100.0, 65.0), Distribution("exponential", 120.0), 5),
    ("chat", 0.3, Distribution("lognormal", 170.0, 100.0), Distribution("exponential", 300.0), 5),
    ("email", 0.2, Distribution("exponential", 140.0), Distribution("none"), 3),
)
# Each block of 20 groups (of 10 agents) covers every skill exactly 4 times.
_SKILL_OFFSETS = ((0, 1, 2, 3), (0, 5, 10, 15), (0, 3, 7, 12), (0, 2, 9, 14), (0, 4, 11, 17))
_STRATEGIES = (
    Strategy.LONGEST_IDLE,
    Strategy.MOST_SKILLED,
    Strategy.LEAST_OCCUPIED,
    Strategy.FEWEST_HANDLED,
)


def day_scenario(contacts: int) -> Scenario:
    """1,000 agents, 20 skills (one queue each), voice/chat/email, ``contacts`` contacts.

    The full size is 1,000,000 contacts in 24 hours (11.6 per second); fewer
    contacts shorten the day at the same arrival rates. Handle times are short
    (means: voice 100 s, chat 170 s, email 140 s) so that the 1,000 agents, each
    with a 100-unit budget (a call fills it, a chat takes 33, an email 20), use
    about 85% of their units. Voice and chat customers abandon (mean patience 2 and 5
    minutes); a contact needs level 5 (email 3) in its skill, relaxed to 1
    after a minute; 5% of calls are VIPs; agents take 2 s to answer and miss
    0.5% of offers (15 s offer time-out, then 30 s not ready); 5 s wrap-up.
    """
    rng = random.Random(2024)
    rate = DAY_CONTACTS / DAY_SECONDS
    end = contacts / rate
    skills = [f"s{k:02d}" for k in range(DAY_SKILLS)]
    queues = tuple(
        QueueConfig(
            f"q-{skill}",
            _STRATEGIES[k % len(_STRATEGIES)],
            service_level_threshold=20.0,
            offer_timeout=15.0,
            wrap_up=5.0,
            steps=[ccroute.RoutingStep(60.0, requirements={skill: 1})],
        )
        for k, skill in enumerate(skills)
    )
    groups = []
    per_group = 10
    for g in range(DAY_AGENTS // per_group):
        own = sorted({(g + d) % DAY_SKILLS for d in _SKILL_OFFSETS[(g // DAY_SKILLS) % 5]})
        groups.append(
            AgentGroup(
                f"g{g:03d}",
                per_group,
                tuple((skills[k], rng.randint(3, 10)) for k in own),
                frozenset(f"q-{skills[k]}" for k in own),
                {"voice": 1, "chat": 3, "email": 5},
                unit_budget=100,
                answer_seconds=2.0,
                no_answer_probability=0.005,
            )
        )
    arrivals = tuple(
        ArrivalStream(
            f"{skill}-{channel}",
            f"q-{skill}",
            channel,
            ((skill, level),),
            (rate * share / DAY_SKILLS,),
            handle,
            patience,
            vip_share=0.05 if channel == "voice" else 0.0,
        )
        for skill in skills
        for channel, share, handle, patience, level in DAY_CHANNELS
    )
    return Scenario(
        start=0.0,
        end=end,
        interval=1800.0,
        queues=queues,
        agents=tuple(groups),
        arrivals=arrivals,
        name="multi-skill day",
    )


def peak_rss_kib() -> int:
    """Peak resident memory of this process, in KiB.

    Linux's ``VmHWM`` where there is one: ``ru_maxrss`` of a process started by
    a larger one can report the parent's peak (it survives ``exec``).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def day_worker(contacts: int) -> dict[str, object]:
    scenario = day_scenario(contacts)
    rss_before = peak_rss_kib()
    start = time.perf_counter()
    shown = [-1]

    def progress(share: float) -> None:
        pct = int(share * 20) * 5
        if pct > shown[0]:
            shown[0] = pct
            elapsed = time.perf_counter() - start
            eta = elapsed * (1 - share) / share if share > 0 else math.nan
            print(
                f"  day: {pct:3d}% simulated, {elapsed:7.1f} s elapsed, ~{eta:6.0f} s to go",
                file=sys.stderr,
                flush=True,
            )

    result = simulate(scenario, seed=1, progress=progress)
    seconds = time.perf_counter() - start
    total = result.report.total
    return {
        "implementation": ccroute.IMPLEMENTATION,
        "seconds": seconds,
        "offered": total.offered,
        "handled": total.handled,
        "abandoned": total.abandoned,
        "stranded": result.stranded,
        "service_level": total.service_level(ServiceLevelVariant.ANSWERED),
        "asa": total.asa,
        "occupancy": result.report.team.occupancy,
        "events": result.events,
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak_rss_kib(),
        "hours": (scenario.end - scenario.start) / 3600,
    }


def day_part(contacts: int) -> None:
    print(f"multi-skill day: {contacts:,} contacts (in a subprocess)", file=sys.stderr)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", "day", "--day-contacts", str(contacts)],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    d = json.loads(out.strip().splitlines()[-1])
    print()
    print(
        f"Multi-skill day: {DAY_AGENTS:,} agents, {DAY_SKILLS} skills, voice/chat/email, "
        f"{d['hours']:.1f} h, ccroute {d['implementation']}"
    )
    print()
    print(
        "| contacts offered | handled | abandoned | wall time (s) | contacts/s | router events "
        "| peak RSS (MiB) | RSS before run (MiB) | service level (≤ 20 s / answered) | "
        "ASA (s) | occupancy (holding ≥ 1 contact) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {d['offered']:,} | {d['handled']:,} | {d['abandoned']:,} | {d['seconds']:.1f} | "
        f"{fmt_int(d['offered'] / d['seconds'])} | {d['events']:,} | "
        f"{d['rss_peak_kib'] / 1024:.0f} | {d['rss_before_kib'] / 1024:.0f} | "
        f"{d['service_level']:.3f} | {d['asa']:.1f} | {d['occupancy']:.3f} |"
    )


# ----------------------------------------------------------------------------- main


def profile(contacts: int) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    run = run_ccroute(contacts, 1)
    profiler.disable()
    print(f"ccroute M/M/{AGENTS}, {run.completed:,} contacts under cProfile: {run.seconds:.1f} s")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(10)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=200_000, help="M/M/c contacts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--day-contacts",
        type=int,
        default=DAY_CONTACTS,
        help="contacts in the multi-skill day (0 skips it)",
    )
    parser.add_argument("--only", choices=("mmc", "day"))
    parser.add_argument(
        "--profile", action="store_true", help="profile one ccroute M/M/c run instead"
    )
    parser.add_argument("--worker", choices=("mmc", "day"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "mmc":
        run = run_ccroute(args.contacts, args.seed)
        print(json.dumps({"implementation": ccroute.IMPLEMENTATION, **run.__dict__}))
        return
    if args.worker == "day":
        print(json.dumps(day_worker(args.day_contacts)))
        return
    if args.profile:
        profile(args.contacts)
        return
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.only != "day":
        mmc_part(args.contacts, args.rounds)
    if args.only != "mmc" and args.day_contacts > 0:
        day_part(args.day_contacts)


if __name__ == "__main__":
    main()
