"""ccroute's simulator against exact queueing theory: Erlang C and Erlang A, many replications.

    .venv/bin/python benchmarks/validate_erlang.py [--quick] [--replications R]
        [--contacts N] [--jobs J] [--cross-check]

A larger version of tests/test_sim_validation.py. Each case is a single-skill,
single-channel centre (Poisson arrivals, exponential handle time, FIFO,
agents answer at once): an M/M/c queue (Erlang C) or, with exponential
patience, an M/M/c+M queue (Erlang A). Each replication simulates a warm-up of
20 mean handle times (whose arrivals are not measured) and then N arrivals
(default 10,000, and at least 300 mean handle times' worth, so that the
high-traffic cases, whose waits are strongly correlated, get longer runs). R
independent replications (default 30) give the mean and its 95% confidence
interval (Student t) for each figure, which is compared with the exact value
from ``ccroute.wfm``. Every case has its own seeds (case k: 1000*k + 0..R-1),
so that the cases' errors are independent of one another: with shared seeds
the same random numbers would push every case the same way.

The figures are computed as in the tests:

- Erlang C: P(wait) = answered after waiting / answered; service level =
  answered within T / answered; ASA = mean wait of the answered.
- Erlang A: P(abandon) = abandoned / offered; P(wait) = (answered after
  waiting + abandoned) / offered (every abandon waited); service level =
  answered within T / all arrivals; ASA = mean wait of the answered contacts.

The deviation is shown as simulated - exact and in half-widths of the CI:
``|dev| <= 1`` means the exact value lies inside the 95% interval, which
about one interval in twenty misses by chance alone.

``--quick`` runs 10 replications of 2,000 arrivals (at least 60 handle times). ``--jobs`` runs
replications in parallel processes. ``--cross-check`` also compares
``ccroute.wfm`` with the independent formulas of ``benchmarks/erlang_reference.py``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ccroute.metrics import ServiceLevelVariant
from ccroute.model import QueueConfig
from ccroute.sim import (
    AgentGroup,
    ArrivalStream,
    Distribution,
    Scenario,
    SimulationResult,
    simulate,
)
from ccroute.sim.replications import Estimate, estimate

try:
    from ccroute.wfm import erlang_a_metrics, erlang_c_metrics

    EXACT_SOURCE = "ccroute.wfm"
except ImportError:  # not there yet: the benchmarks' own formulas
    from erlang_reference import erlang_a_metrics, erlang_c_metrics  # type: ignore[no-redef]

    EXACT_SOURCE = "benchmarks/erlang_reference.py"

THRESHOLD = 20.0
WARMUP_AHTS = 20.0


@dataclass(frozen=True)
class Case:
    traffic: float  # Erlangs
    agents: int
    aht: float  # seconds
    patience: float | None = None  # mean, seconds; None for Erlang C

    @property
    def rate(self) -> float:
        return self.traffic / self.aht

    @property
    def label(self) -> str:
        text = f"A={self.traffic:g}, c={self.agents}, AHT={self.aht:g}"
        return text if self.patience is None else f"{text}, patience={self.patience:g}"


CASES = (
    # Erlang C: traffic 1..100 Erlangs, occupancy 0.5..0.95.
    Case(1.0, 2, 60.0),
    Case(2.0, 3, 180.0),
    Case(5.0, 7, 120.0),
    Case(10.0, 12, 180.0),
    Case(10.0, 14, 180.0),
    Case(20.0, 23, 240.0),
    Case(30.0, 33, 180.0),
    Case(45.0, 50, 180.0),
    Case(50.0, 55, 300.0),
    Case(100.0, 105, 180.0),
    # Erlang A: some with fewer agents than Erlangs (stable only through abandonment).
    Case(5.0, 5, 120.0, 60.0),
    Case(10.0, 9, 180.0, 120.0),
    Case(10.0, 11, 180.0, 300.0),
    Case(20.0, 21, 60.0, 90.0),
    Case(50.0, 48, 180.0, 180.0),
    Case(100.0, 100, 180.0, 120.0),
)

ERLANG_C_FIGURES: dict[str, Callable[[SimulationResult], float | None]] = {
    "P(wait)": lambda r: r.probability_of_waiting,
    "service level": lambda r: r.measured.service_level(ServiceLevelVariant.ANSWERED),
    "ASA (s)": lambda r: r.measured.asa,
}
ERLANG_A_FIGURES: dict[str, Callable[[SimulationResult], float | None]] = {
    "P(abandon)": lambda r: r.measured.abandon_rate,
    "P(wait)": lambda r: (r.answered_after_waiting + r.measured.abandoned) / r.measured.offered,
    "service level (all arrivals)": lambda r: r.measured.service_level(
        ServiceLevelVariant.ANSWERED_WITHIN_OVER_OFFERED
    ),
    "ASA of answered (s)": lambda r: r.measured.asa,
}
EXACT_ATTRIBUTES = {
    "P(abandon)": "probability_of_abandon",
    "P(wait)": "probability_of_waiting",
    "service level": "service_level",
    "service level (all arrivals)": "service_level",
    "ASA (s)": "asa_seconds",
    "ASA of answered (s)": "asa_seconds",
}


def arrivals(case: Case, contacts: int, horizon_ahts: float) -> int:
    """Measured arrivals per replication: ``contacts``, or ``horizon_ahts`` handle times' worth."""
    return max(contacts, math.ceil(horizon_ahts * case.traffic))


def scenario(case: Case, contacts: int) -> Scenario:
    warmup = WARMUP_AHTS * case.aht
    end = warmup + contacts / case.rate
    patience = (
        Distribution("none")
        if case.patience is None
        else Distribution("exponential", case.patience)
    )
    return Scenario(
        start=0.0,
        end=end,
        interval=end,
        warmup=warmup,
        queues=(QueueConfig("q", service_level_threshold=THRESHOLD, offer_timeout=None),),
        agents=(AgentGroup("a", case.agents, (), frozenset({"q"}), {"voice": 1}),),
        arrivals=(
            ArrivalStream(
                "calls",
                "q",
                "voice",
                (),
                (case.rate,),
                Distribution("exponential", case.aht),
                patience,
            ),
        ),
        name=case.label,
    )


def figures(case: Case) -> dict[str, Callable[[SimulationResult], float | None]]:
    return ERLANG_C_FIGURES if case.patience is None else ERLANG_A_FIGURES


def exact(case: Case) -> Any:
    if case.patience is None:
        return erlang_c_metrics(case.rate, case.aht, case.agents, THRESHOLD)
    return erlang_a_metrics(case.rate, case.aht, case.patience, case.agents, THRESHOLD)


def replication(args: tuple[Case, int, int]) -> dict[str, float]:
    """One replication's figures (module-level so that worker processes can run it)."""
    case, contacts, seed = args
    result = simulate(scenario(case, contacts), seed=seed)
    if case.patience is None and result.measured.abandoned:
        raise AssertionError(f"{case.label}: abandons in an Erlang C case")
    out = {}
    for name, figure in figures(case).items():
        value = figure(result)
        if value is not None:
            out[name] = value
    return out


@dataclass(frozen=True)
class Row:
    case: Case
    figure: str
    exact: float
    estimate: Estimate

    @property
    def deviation(self) -> float:
        return self.estimate.mean - self.exact

    @property
    def in_half_widths(self) -> float:
        hw = self.estimate.half_width
        return self.deviation / hw if hw > 0 else (0.0 if self.deviation == 0 else math.inf)


def fmt(value: float, figure: str) -> str:
    return f"{value:.2f}" if figure.startswith("ASA") else f"{value:.4f}"


def print_table(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n")
    print("| case | figure | exact | simulated mean | 95% CI | sim - exact | in half-widths |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        est, f = row.estimate, row.figure
        mark = " **!**" if abs(row.in_half_widths) > 1 else ""
        print(
            f"| {row.case.label} | {f} | {fmt(row.exact, f)} | {fmt(est.mean, f)} | "
            f"[{fmt(est.low, f)}, {fmt(est.high, f)}] | {row.deviation:+.4f} | "
            f"{row.in_half_widths:+.2f}{mark} |"
        )


def cross_check() -> None:
    import erlang_reference as ref

    worst = 0.0
    for case in CASES:
        ours = exact(case)
        if case.patience is None:
            theirs = ref.erlang_c_metrics(case.rate, case.aht, case.agents, THRESHOLD)
        else:
            theirs = ref.erlang_a_metrics(
                case.rate, case.aht, case.patience, case.agents, THRESHOLD
            )
        for attr in set(EXACT_ATTRIBUTES.values()):
            a, b = getattr(ours, attr), getattr(theirs, attr)
            if a is None or b is None:
                continue
            worst = max(worst, abs(a - b) / max(abs(b), 1e-12))
    print(
        f"\nCross-check: {EXACT_SOURCE} against benchmarks/erlang_reference.py, "
        f"largest relative difference over all cases and figures: {worst:.1e}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="10 replications of 2,000 arrivals (at least 60 AHT)"
    )
    parser.add_argument("--replications", type=int, help="replications per case (default 30)")
    parser.add_argument(
        "--contacts", type=int, help="measured arrivals per replication (default 10,000)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="case k uses seeds SEED + 1000*k + 0..R-1"
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--cross-check",
        action="store_true",
        help="also compare ccroute.wfm with benchmarks/erlang_reference.py",
    )
    args = parser.parse_args(argv)
    replications = args.replications or (10 if args.quick else 30)
    contacts = args.contacts or (2_000 if args.quick else 10_000)
    horizon = 60.0 if args.quick else 300.0
    if replications < 2:
        parser.error("--replications must be at least 2 for a confidence interval")

    started = time.perf_counter()
    print(
        f"Simulated ({replications} replications of max({contacts:,}, {horizon:g} * traffic) "
        f"measured arrivals after a warm-up of {WARMUP_AHTS:g} AHT; T = {THRESHOLD:g} s) "
        f"against exact values ({EXACT_SOURCE})."
    )
    rows: list[Row] = []
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        for index, case in enumerate(CASES, start=1):
            t0 = time.perf_counter()
            n = arrivals(case, contacts, horizon)
            first = args.seed + 1000 * index
            work = [(case, n, seed) for seed in range(first, first + replications)]
            runs = list(pool.map(replication, work) if pool else map(replication, work))
            truth = exact(case)
            for name in figures(case):
                values = [run[name] for run in runs if name in run]
                rows.append(
                    Row(case, name, getattr(truth, EXACT_ATTRIBUTES[name]), estimate(values))
                )
            print(
                f"  case {index:2d}/{len(CASES)} {case.label:<45} {n:>7,} arrivals "
                f"{time.perf_counter() - t0:6.1f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if pool:
            pool.shutdown()

    print_table("Erlang C (M/M/c)", [r for r in rows if r.case.patience is None])
    print_table("Erlang A (M/M/c+M)", [r for r in rows if r.case.patience is not None])
    inside = sum(1 for r in rows if abs(r.in_half_widths) <= 1)
    worst = max(rows, key=lambda r: abs(r.in_half_widths))
    print(
        f"\n{inside} of {len(rows)} 95% intervals contain the exact value "
        f"(about {0.95 * len(rows):.0f} expected by chance); largest deviation "
        f"{worst.in_half_widths:+.2f} half-widths ({worst.case.label}, {worst.figure}). "
        f"Wall time {time.perf_counter() - started:.0f} s."
    )
    if args.cross_check:
        cross_check()


if __name__ == "__main__":
    main()
