"""The simulator, driving the real Router, agrees with queueing theory.

Single-skill, single-channel centres with Poisson arrivals and exponential
handle times are M/M/N queues: Erlang C gives their probability of waiting,
service level and ASA exactly; with exponential patience they are M/M/N+M
queues and Erlang A gives them. Each case runs independent replications with
fixed seeds and asserts that the exact value lies in the 99% confidence
interval of the replications' mean, and that the interval is narrow enough for
that to mean something. (99% rather than 95% because 40 intervals are checked:
at 95% two would be expected to miss by chance.) The larger validation suite
is benchmarks/validate_erlang.py.
"""

from __future__ import annotations

import math

import pytest

from ccroute.metrics import ServiceLevelVariant
from ccroute.model import QueueConfig
from ccroute.sim import AgentGroup, ArrivalStream, Distribution, Scenario, simulate
from ccroute.sim.replications import estimate
from ccroute.wfm import erlang_a_metrics, erlang_c_metrics

REPLICATIONS = 10
THRESHOLD = 20.0


def centre(
    traffic: float, agents: int, aht: float, patience: float | None, contacts: int
) -> Scenario:
    rate = traffic / aht
    warmup = 20 * aht
    end = warmup + contacts / rate
    return Scenario(
        start=0.0,
        end=end,
        interval=end,
        warmup=warmup,
        queues=(QueueConfig("q", service_level_threshold=THRESHOLD, offer_timeout=None),),
        agents=(AgentGroup("a", agents, (), frozenset({"q"}), {"voice": 1}),),
        arrivals=(
            ArrivalStream(
                "calls",
                "q",
                "voice",
                (),
                (rate,),
                Distribution("exponential", aht),
                Distribution("none") if patience is None else Distribution("exponential", patience),
            ),
        ),
    )


ERLANG_C_CASES = [  # (traffic in Erlangs, agents, AHT seconds)
    (2.0, 3, 60.0),
    (4.0, 6, 120.0),
    (8.0, 10, 180.0),
    (10.0, 12, 180.0),
    (10.0, 14, 180.0),
    (15.0, 18, 90.0),
    (20.0, 24, 120.0),
]
ERLANG_A_CASES = [  # (traffic, agents, AHT, mean patience)
    (10.0, 9, 180.0, 120.0),
    (10.0, 11, 180.0, 300.0),
    (5.0, 5, 120.0, 60.0),
    (20.0, 21, 60.0, 90.0),
]


def check(name: str, values: list[float], exact: float, *, width: float = 0.3) -> None:
    est = estimate(values, level=0.99)
    assert est.contains(exact), (
        f"{name}: exact {exact:.4f} outside 99% CI [{est.low:.4f}, {est.high:.4f}]"
    )
    # The interval must be tight enough that missing it would mean something:
    # a half-width under ``width`` of the exact value (or 0.03 for small shares).
    limit = max(width * exact, 0.03)
    assert est.half_width < limit, f"{name}: CI too wide ({est.half_width:.4f} >= {limit:.4f})"


@pytest.mark.parametrize(("traffic", "agents", "aht"), ERLANG_C_CASES)
def test_simulation_agrees_with_erlang_c(traffic: float, agents: int, aht: float) -> None:
    exact = erlang_c_metrics(traffic / aht, aht, agents, THRESHOLD)
    # Near saturation waits are long-correlated: give those cases longer runs.
    contacts = 6000 if traffic / agents > 0.8 else 2500
    runs = [
        simulate(centre(traffic, agents, aht, None, contacts), seed=s) for s in range(REPLICATIONS)
    ]
    for run in runs:
        assert run.measured.abandoned == 0
    check("P(wait)", [r.probability_of_waiting for r in runs], exact.probability_of_waiting)
    check(
        "service level",
        [r.measured.service_level(ServiceLevelVariant.ANSWERED) for r in runs],
        exact.service_level,
    )
    # ASA is the noisiest figure (a mean of heavy-tailed waits).
    check("ASA", [r.measured.asa for r in runs], exact.asa_seconds, width=0.5)


@pytest.mark.parametrize(("traffic", "agents", "aht", "patience"), ERLANG_A_CASES)
def test_simulation_agrees_with_erlang_a(
    traffic: float, agents: int, aht: float, patience: float
) -> None:
    exact = erlang_a_metrics(traffic / aht, aht, patience, agents, THRESHOLD)
    runs = [
        simulate(centre(traffic, agents, aht, patience, 2500), seed=s) for s in range(REPLICATIONS)
    ]
    assert exact.probability_of_abandon is not None
    check("P(abandon)", [r.measured.abandon_rate for r in runs], exact.probability_of_abandon)
    # Every abandon waited; answered contacts waited when their wait was > 0.
    check(
        "P(wait)",
        [(r.answered_after_waiting + r.measured.abandoned) / r.measured.offered for r in runs],
        exact.probability_of_waiting,
    )
    check(
        "service level (all arrivals)",
        [r.measured.service_level(ServiceLevelVariant.ANSWERED_WITHIN_OVER_OFFERED) for r in runs],
        exact.service_level,
    )
    check("ASA of answered", [r.measured.asa for r in runs], exact.asa_seconds, width=0.5)
    assert math.isfinite(exact.asa_seconds)
