"""Independent replications: the mean of each figure and its 95% confidence interval."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import attrs

from ..metrics import ServiceLevelVariant
from .engine import SimulationResult, simulate
from .scenario import Scenario

__all__ = ["FIGURES", "Estimate", "estimate", "replicate", "summarise", "t_quantile"]

# Two-sided Student t quantiles by degrees of freedom: 0.975 (95%) and 0.995 (99%).
_T995 = {
    1: 63.657,
    2: 9.925,
    3: 5.841,
    4: 4.604,
    5: 4.032,
    6: 3.707,
    7: 3.499,
    8: 3.355,
    9: 3.250,
    10: 3.169,
    11: 3.106,
    12: 3.055,
    13: 3.012,
    14: 2.977,
    15: 2.947,
    16: 2.921,
    17: 2.898,
    18: 2.878,
    19: 2.861,
    20: 2.845,
    21: 2.831,
    22: 2.819,
    23: 2.807,
    24: 2.797,
    25: 2.787,
    26: 2.779,
    27: 2.771,
    28: 2.763,
    29: 2.756,
    30: 2.750,
    40: 2.704,
    60: 2.660,
    120: 2.617,
}
_T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}


def t_quantile(df: int, level: float = 0.95) -> float:
    """The two-sided ``level`` (0.95 or 0.99) quantile of Student's t with ``df`` degrees of freedom.

    Between rows of the table the next lower row is used, which is conservative.
    """
    if df < 1:
        raise ValueError("need at least 2 replications for a confidence interval")
    table = {0.95: _T975, 0.99: _T995}.get(level)
    if table is None:
        raise ValueError(f"confidence level must be 0.95 or 0.99, got {level!r}")
    if df > 120:
        return 1.960 if level == 0.95 else 2.576
    return table[max(k for k in table if k <= df)]


@attrs.frozen(slots=True)
class Estimate:
    """The mean of a figure over replications, with its 95% confidence interval."""

    mean: float
    low: float
    high: float
    replications: int

    @property
    def half_width(self) -> float:
        """Half the width of the confidence interval."""
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the confidence interval."""
        return self.low <= value <= self.high


def estimate(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean of ``values`` (one per replication) and its ``level`` confidence interval."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return Estimate(mean, -math.inf, math.inf, n)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(n - 1, level) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


#: The figures :func:`summarise` estimates, by name.
FIGURES: dict[str, Callable[[SimulationResult], float | None]] = {
    "service_level": lambda r: r.measured.service_level(ServiceLevelVariant.DEFAULT),
    "service_level_answered_and_abandoned": lambda r: r.measured.service_level(
        ServiceLevelVariant.ANSWERED_AND_ABANDONED
    ),
    "asa_seconds": lambda r: r.measured.asa,
    "probability_of_waiting": lambda r: r.probability_of_waiting,
    "abandon_rate": lambda r: r.measured.abandon_rate,
    "aht_seconds": lambda r: r.measured.aht,
    "occupancy": lambda r: r.report.team.occupancy,
}


def summarise(results: Sequence[SimulationResult]) -> dict[str, Estimate]:
    """Mean and 95% confidence interval of every figure in ``FIGURES``."""
    out = {}
    for name, figure in FIGURES.items():
        values = [v for v in (figure(r) for r in results) if v is not None]
        if values:
            out[name] = estimate(values)
    return out


def replicate(
    scenario: Scenario,
    replications: int,
    *,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> list[SimulationResult]:
    """Run ``replications`` independent runs with seeds ``seed, seed + 1, …``."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    first = scenario.seed if seed is None else seed
    results = []
    for i in range(replications):

        def step(share: float, i: int = i) -> None:
            if progress is not None:
                progress((i + share) / replications)

        results.append(simulate(scenario, seed=first + i, progress=step))
    return results
