"""Workforce planning: Erlang B, C and A staffing, and forecasts.

:mod:`~ccroute.wfm.erlang` holds the formulas and the staffing searches
(every name below comes from it); :mod:`~ccroute.wfm.forecast` reads a
forecast of volumes per interval and staffs it, or turns it into a scenario
for the simulator.
"""

from __future__ import annotations

from .erlang import (
    DEFAULT_THRESHOLD_SECONDS,
    MAX_AGENTS,
    Interval,
    StaffingResult,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    interval_staffing,
    parse_rate,
    staff_erlang_a,
    staff_erlang_c,
    staff_interval,
)

__all__ = [
    "DEFAULT_THRESHOLD_SECONDS",
    "MAX_AGENTS",
    "Interval",
    "StaffingResult",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "interval_staffing",
    "parse_rate",
    "staff_erlang_a",
    "staff_erlang_c",
    "staff_interval",
]
