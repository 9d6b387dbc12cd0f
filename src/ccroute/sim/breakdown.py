"""Figures per interval, queue and channel, each against its own queue's threshold.

:class:`~ccroute.metrics.MetricsCollector` reports per queue, per channel and
in total, with channels and the total measured against one default threshold.
A planner needs finer and fairer cells: every contact measured against the
threshold of the queue it waited in, per interval (by arrival) x queue x
channel, with the longest wait observed, and the agents staffed over each
interval as a time-average rather than a count at its end.
:class:`BreakdownCollector` observes the router's events to build those
cells; :class:`Breakdown` pools any selection of them.

Definitions (they follow docs/metrics.md): a cell's *entries* start at
``Queued`` (or a transfer or overflow into another queue, which ends the old
entry as transferred out); waits run from the start of the entry; an entry
belongs to the interval in which its contact arrived. The service level is
ccroute's default variant, ``answered_within / (offered - short_abandons)``,
where *within* is the queue's own threshold. The longest wait is the longest
time an entry waited before its outcome (answered, abandoned, timed out or
transferred), or until the report for an entry still waiting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ..events import (
    Abandoned,
    Accepted,
    Completed,
    Event,
    Overflowed,
    PresenceChanged,
    Queued,
    Refused,
    TimedOut,
    Transferred,
    WrapUpEnded,
)
from ..metrics import DEFAULT_SERVICE_LEVEL_THRESHOLD, DEFAULT_SHORT_ABANDON_THRESHOLD
from ..model import Presence

__all__ = ["Breakdown", "BreakdownCollector", "Tally"]

#: Abandons that waited less than this are short (the metrics module's default).
SHORT_ABANDON_SECONDS = DEFAULT_SHORT_ABANDON_THRESHOLD
# The events a breakdown takes; the others pass at the cost of one set lookup.
_TAKEN: frozenset[type[Event]] = frozenset(
    (
        PresenceChanged,
        Queued,
        Accepted,
        Abandoned,
        TimedOut,
        Transferred,
        Overflowed,
        Completed,
        WrapUpEnded,
        Refused,
    )
)


@attrs.frozen(slots=True)
class Tally:
    """Counts of one cell, or of a pool of cells (queue entries, see the module documentation)."""

    offered: int = 0
    answered: int = 0
    #: Answered within the threshold of the queue the entry waited in.
    answered_within: int = 0
    abandoned: int = 0
    short_abandons: int = 0
    timed_out: int = 0
    transferred_out: int = 0
    #: Contacts refused at submission (not part of ``offered``).
    refused: int = 0
    total_answer_wait: float = 0.0
    #: Longest wait observed in seconds; ``None`` when no entry waited at all.
    longest_wait: float | None = None
    #: Entries whose wrap-up ended in this cell's queue.
    handled: int = 0
    #: Sum of their handle and wrap-up times, in seconds.
    total_handle_time: float = 0.0

    def service_level(self) -> float | None:
        """``answered_within / (offered - short_abandons)``; ``None`` with no entries."""
        base = self.offered - self.short_abandons
        return self.answered_within / base if base > 0 else None

    @property
    def asa(self) -> float | None:
        """Average speed of answer in seconds; ``None`` with nothing answered."""
        return self.total_answer_wait / self.answered if self.answered else None

    @property
    def aht(self) -> float | None:
        """Average handle time (wrap-up included) in seconds; ``None`` with nothing handled."""
        return self.total_handle_time / self.handled if self.handled else None

    @property
    def abandon_rate(self) -> float | None:
        """``abandoned / offered``; ``None`` with no entries."""
        return self.abandoned / self.offered if self.offered else None

    @staticmethod
    def pool(tallies: Iterable[Tally]) -> Tally:
        """The sum of ``tallies`` (the longest wait is the longest of theirs)."""
        items = list(tallies)
        waits = [t.longest_wait for t in items if t.longest_wait is not None]
        return Tally(
            offered=sum(t.offered for t in items),
            answered=sum(t.answered for t in items),
            answered_within=sum(t.answered_within for t in items),
            abandoned=sum(t.abandoned for t in items),
            short_abandons=sum(t.short_abandons for t in items),
            timed_out=sum(t.timed_out for t in items),
            transferred_out=sum(t.transferred_out for t in items),
            refused=sum(t.refused for t in items),
            total_answer_wait=sum(t.total_answer_wait for t in items),
            longest_wait=max(waits) if waits else None,
            handled=sum(t.handled for t in items),
            total_handle_time=sum(t.total_handle_time for t in items),
        )


@attrs.frozen(slots=True)
class Breakdown:
    """The cells of a simulated day and the agents staffed per interval."""

    #: Start of each interval, seconds after midnight.
    starts: tuple[float, ...]
    #: (interval index, queue, channel) to its tally.
    cells: Mapping[tuple[int, str, str], Tally]
    #: Time-average number of agents logged in (any presence but offline) per interval.
    agents_logged_in: tuple[float, ...]
    #: Time-average number of agents ready (presence available: idle or handling) per interval.
    agents_ready: tuple[float, ...]

    def select(
        self, *, interval: int | None = None, queue: str | None = None, channel: str | None = None
    ) -> Tally:
        """The pool of the cells matching every given key (all cells when none is given)."""
        return Tally.pool(
            tally
            for (i, q, c), tally in self.cells.items()
            if (interval is None or i == interval)
            and (queue is None or q == queue)
            and (channel is None or c == channel)
        )

    def pairs(self) -> list[tuple[str, str]]:
        """The (queue, channel) pairs that had any entry or refusal, sorted."""
        return sorted({(q, c) for (_, q, c) in self.cells})


class _Cell:
    __slots__ = (
        "abandoned",
        "answered",
        "answered_within",
        "handled",
        "longest_wait",
        "offered",
        "refused",
        "short_abandons",
        "timed_out",
        "total_answer_wait",
        "total_handle_time",
        "transferred_out",
    )

    def __init__(self) -> None:
        self.offered = self.answered = self.answered_within = 0
        self.abandoned = self.short_abandons = self.timed_out = 0
        self.transferred_out = self.refused = 0
        self.total_answer_wait = 0.0
        self.longest_wait: float | None = None
        self.handled = 0
        self.total_handle_time = 0.0

    def waited(self, seconds: float) -> None:
        if self.longest_wait is None or seconds > self.longest_wait:
            self.longest_wait = seconds

    def freeze(self) -> Tally:
        return Tally(
            self.offered,
            self.answered,
            self.answered_within,
            self.abandoned,
            self.short_abandons,
            self.timed_out,
            self.transferred_out,
            self.refused,
            self.total_answer_wait,
            self.longest_wait,
            self.handled,
            self.total_handle_time,
        )


class _Entry:
    __slots__ = ("answered", "cell", "entered", "interval", "queue")

    def __init__(self, interval: int, queue: str, cell: _Cell, entered: float) -> None:
        self.interval = interval
        self.queue = queue
        self.cell = cell
        self.entered = entered
        self.answered = False


class BreakdownCollector:
    """Observes a router's events (``router.observe(collector.observe)``) to build a :class:`Breakdown`.

    :param thresholds: each queue's service-level threshold in seconds (20 s
        for a queue not named).
    :param start: start of the first interval, seconds after midnight.
    :param interval: length of an interval in seconds.
    :param intervals: number of intervals; contacts arriving after the last
        one count in it, and agent time after it is not counted.
    :param end: end of the last interval (the end of the day).
    """

    def __init__(
        self,
        thresholds: Mapping[str, float],
        start: float,
        interval: float,
        intervals: int,
        end: float,
    ) -> None:
        self.thresholds = dict(thresholds)
        self.start = start
        self.interval = interval
        self.intervals = intervals
        self.end = end
        self._cells: dict[tuple[int, str, str], _Cell] = {}
        self._live: dict[str, _Entry] = {}
        self._channel: dict[str, str] = {}
        self._presence: dict[str, Presence] = {}
        self._logged_in = 0
        self._ready = 0
        self._last = start
        self._area_logged_in = [0.0] * intervals
        self._area_ready = [0.0] * intervals

    def _index(self, at: float) -> int:
        return max(0, min(int((at - self.start) // self.interval), self.intervals - 1))

    def _cell(self, interval: int, queue: str, channel: str) -> _Cell:
        key = (interval, queue, channel)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = _Cell()
        return cell

    def _enter(self, contact_id: str, interval: int, queue: str, at: float) -> None:
        cell = self._cell(interval, queue, self._channel[contact_id])
        cell.offered += 1
        self._live[contact_id] = _Entry(interval, queue, cell, at)

    def _integrate(self, until: float) -> None:
        """Add the agents' time from the last change up to ``until``, split by interval."""
        until = min(until, self.end)
        t = self._last
        while t < until:
            index = int((t - self.start) // self.interval)
            if index >= self.intervals:
                break
            boundary = min(self.start + (index + 1) * self.interval, self.end, until)
            if index >= 0:
                self._area_logged_in[index] += self._logged_in * (boundary - t)
                self._area_ready[index] += self._ready * (boundary - t)
            t = boundary
        self._last = max(self._last, until)

    def observe(self, events: Iterable[Event]) -> None:
        """Take a batch of events, in the order the router emitted them."""
        taken = _TAKEN
        for event in events:
            kind = type(event)
            if kind not in taken:
                continue
            # dispatched on the exact class (only those of _TAKEN get here),
            # most frequent first, so the fields each branch reads exist
            e: Any = event
            if kind is Queued:
                contact_id = e.contact_id
                channel = self._channel[contact_id] = e.channel
                # _index, _cell and _enter inlined: every contact comes here
                at = e.at
                interval = max(0, min(int((at - self.start) // self.interval), self.intervals - 1))
                key = (interval, e.queue, channel)
                cell = self._cells.get(key)
                if cell is None:
                    cell = self._cells[key] = _Cell()
                cell.offered += 1
                self._live[contact_id] = _Entry(interval, e.queue, cell, at)
            elif kind is Accepted:
                entry = self._live.get(e.contact_id)
                if entry is not None and not entry.answered:
                    entry.answered = True
                    wait = e.at - entry.entered
                    cell = entry.cell
                    cell.answered += 1
                    cell.total_answer_wait += wait
                    if wait <= self.thresholds.get(entry.queue, DEFAULT_SERVICE_LEVEL_THRESHOLD):
                        cell.answered_within += 1
                    if cell.longest_wait is None or wait > cell.longest_wait:
                        cell.longest_wait = wait
            elif kind is Completed:
                entry = self._live.get(e.contact_id)
                if entry is not None:
                    entry.cell.total_handle_time += e.handle_time
            elif kind is WrapUpEnded:
                entry = self._live.pop(e.contact_id, None)
                if entry is not None:
                    entry.cell.handled += 1
                    entry.cell.total_handle_time += e.wrap_time
                self._channel.pop(e.contact_id, None)
            elif kind is PresenceChanged:
                self._integrate(e.at)
                old = self._presence.get(e.agent_id, Presence.OFFLINE)
                self._presence[e.agent_id] = e.new
                self._logged_in += (e.new is not Presence.OFFLINE) - (old is not Presence.OFFLINE)
                self._ready += (e.new is Presence.AVAILABLE) - (old is Presence.AVAILABLE)
            elif kind is Abandoned or kind is TimedOut:
                entry = self._live.pop(e.contact_id, None)
                if entry is not None and not entry.answered:
                    wait = e.at - entry.entered
                    cell = entry.cell
                    if kind is TimedOut:
                        cell.timed_out += 1
                    else:
                        cell.abandoned += 1
                        if wait < SHORT_ABANDON_SECONDS:
                            cell.short_abandons += 1
                    cell.waited(wait)
                self._channel.pop(e.contact_id, None)
            elif kind is Transferred or kind is Overflowed:
                entry = self._live.get(e.contact_id)
                if entry is not None and e.to_queue != entry.queue:
                    if not entry.answered:
                        entry.cell.transferred_out += 1
                        entry.cell.waited(e.at - entry.entered)
                    self._enter(e.contact_id, entry.interval, e.to_queue, e.at)
            elif kind is Refused:
                self._cell(self._index(e.at), e.queue, e.channel).refused += 1

    def result(self, now: float) -> Breakdown:
        """The breakdown up to ``now``; entries still waiting count their wait so far."""
        self._integrate(now)
        for entry in self._live.values():
            if not entry.answered:
                entry.cell.waited(now - entry.entered)
        lengths = [
            min(self.start + (k + 1) * self.interval, self.end) - (self.start + k * self.interval)
            for k in range(self.intervals)
        ]
        return Breakdown(
            starts=tuple(self.start + k * self.interval for k in range(self.intervals)),
            cells={key: cell.freeze() for key, cell in sorted(self._cells.items())},
            agents_logged_in=tuple(
                a / length if length > 0 else math.nan
                for a, length in zip(self._area_logged_in, lengths, strict=True)
            ),
            agents_ready=tuple(
                a / length if length > 0 else math.nan
                for a, length in zip(self._area_ready, lengths, strict=True)
            ),
        )
