"""Simulation: drive the real Router through a contact-centre day, and replicate it.

Typical use::

    from ccroute.sim import parse_scenario, simulate
    result = simulate(parse_scenario(open("day.toml").read(), "day.toml"))
    print(result.report.total.service_level())
"""

from __future__ import annotations

from .distributions import Distribution
from .engine import IntervalStats, Simulation, SimulationResult, simulate
from .replications import Estimate, replicate, summarise
from .scenario import (
    AgentGroup,
    ArrivalStream,
    Break,
    Scenario,
    ScenarioError,
    TraceRecord,
    parse_clock,
    parse_scenario,
    parse_trace,
)
from .waits import WaitRecord, WaitRecorder

__all__ = [
    "AgentGroup",
    "ArrivalStream",
    "Break",
    "Distribution",
    "Estimate",
    "IntervalStats",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "SimulationResult",
    "TraceRecord",
    "WaitRecord",
    "WaitRecorder",
    "parse_clock",
    "parse_scenario",
    "parse_trace",
    "replicate",
    "simulate",
    "summarise",
]
