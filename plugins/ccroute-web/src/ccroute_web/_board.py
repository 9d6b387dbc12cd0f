"""The wallboard's figures: "today" and "this interval" out of the service's metrics.

The service's :class:`~ccroute.metrics.MetricsCollector` counts since its log
began. A period's figures are the difference between the report now and the
report taken when the period began (its *baseline*): events of the period,
with ccroute's own definitions (the ratios come from :class:`GroupStats`
itself). A baseline is taken by :meth:`Periods.roll` at most one wallboard
tick after the boundary, and when the plugin starts; a service with a log
file keeps them beside it (:mod:`._baselines`), so that after a restart in
the middle of a day "today" still counts from the day's start.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs
from ccroute.metrics import AgentStats, GroupStats, MetricsReport

__all__ = ["HandleTimes", "Periods", "period_start", "since", "since_agent"]

_COUNTS = (
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "abandoned_within",
    "short_abandons",
    "timed_out",
    "transferred_out",
    "refused",
    "rejoined",
    "handled",
)
_SUMS = ("total_answer_wait", "total_handle_time", "total_wrap_time")
_AGENT = (
    "logged_in_time",
    "available_time",
    "not_ready_time",
    "handling_time",
    "offers",
    "accepted",
    "rejected",
    "timed_out",
    "rescinded",
    "handled",
)


def period_start(now: float, minutes: int, utc_offset_minutes: int) -> float:
    """Start (clock time) of the period of ``minutes`` holding ``now``, in local time."""
    span = minutes * 60.0
    shift = utc_offset_minutes * 60.0
    return math.floor((now + shift) / span) * span - shift


def since(now: GroupStats, base: GroupStats | None) -> GroupStats:
    """``now`` less ``base``: the figures of what happened after ``base`` was taken.

    ``in_flight`` and ``longest_current_wait`` stay as they are now. O(dispositions).
    """
    if base is None:
        return now
    changes: dict[str, Any] = {f: getattr(now, f) - getattr(base, f) for f in _COUNTS + _SUMS}
    changes["dispositions"] = {
        code: n - base.dispositions.get(code, 0)
        for code, n in now.dispositions.items()
        if n - base.dispositions.get(code, 0) > 0
    }
    return attrs.evolve(now, **changes)


def since_agent(now: AgentStats, base: AgentStats | None) -> AgentStats:
    """An agent's figures after ``base`` was taken."""
    if base is None:
        return now
    return attrs.evolve(now, **{f: getattr(now, f) - getattr(base, f) for f in _AGENT})


@attrs.define(slots=True)
class _Baseline:
    start: float
    report: MetricsReport | None


@attrs.define(slots=True)
class Periods:
    """The baselines of the current day and interval."""

    interval_minutes: int
    utc_offset_minutes: int
    day: _Baseline = attrs.field(factory=lambda: _Baseline(-math.inf, None))
    interval: _Baseline = attrs.field(factory=lambda: _Baseline(-math.inf, None))

    def due(self, now: float) -> bool:
        """Whether a period has ended since the last :meth:`roll`. O(1)."""
        return (
            period_start(now, self.interval_minutes, self.utc_offset_minutes) != self.interval.start
        )

    def roll(self, now: float, report: MetricsReport) -> None:
        """Begin the periods holding ``now`` with ``report`` as their baseline, if they
        are not begun yet."""
        day = period_start(now, 1440, self.utc_offset_minutes)
        if day != self.day.start:
            self.day = _Baseline(day, report)
        interval = period_start(now, self.interval_minutes, self.utc_offset_minutes)
        if interval != self.interval.start:
            self.interval = _Baseline(interval, report)

    def queue(
        self, report: MetricsReport, name: str
    ) -> tuple[GroupStats | None, GroupStats | None]:
        """The queue's figures today and this interval (``None``: not seen yet)."""
        now = report.queues.get(name)
        if now is None:
            return None, None
        return self._of(now, self.day.report, name), self._of(now, self.interval.report, name)

    @staticmethod
    def _of(now: GroupStats, base: MetricsReport | None, name: str) -> GroupStats:
        return since(now, None if base is None else base.queues.get(name))

    def total(self, report: MetricsReport) -> tuple[GroupStats, GroupStats]:
        """The centre's figures today and this interval."""
        day = None if self.day.report is None else self.day.report.total
        interval = None if self.interval.report is None else self.interval.report.total
        return since(report.total, day), since(report.total, interval)

    def agent_today(self, report: MetricsReport, agent_id: str) -> AgentStats | None:
        """An agent's figures today (``None``: the metrics never named it)."""
        now = report.agents.get(agent_id)
        if now is None:
            return None
        base: Mapping[str, AgentStats] = {} if self.day.report is None else self.day.report.agents
        return since_agent(now, base.get(agent_id))


@attrs.define(slots=True)
class HandleTimes:
    """One agent's handle times (``Completed.handle_time + WrapUpEnded.wrap_time`` of
    each contact it finished), for its AHT today and since the channel started:
    the service's metrics keep AHT per queue and channel, not per agent."""

    day_start: float = -math.inf
    day_sum: float = 0.0
    day_count: int = 0
    sum: float = 0.0
    count: int = 0

    def add(self, seconds: float, day_start: float) -> None:
        """One finished contact of ``seconds``, in the day beginning at ``day_start``. O(1)."""
        if day_start != self.day_start:
            self.day_start, self.day_sum, self.day_count = day_start, 0.0, 0
        self.day_sum += seconds
        self.day_count += 1
        self.sum += seconds
        self.count += 1

    def today(self, day_start: float) -> float | None:
        """AHT of the day beginning at ``day_start`` (``None``: nothing finished)."""
        if day_start != self.day_start or not self.day_count:
            return None
        return self.day_sum / self.day_count

    def total(self) -> float | None:
        """AHT since the channel started (``None``: nothing finished)."""
        return self.sum / self.count if self.count else None
