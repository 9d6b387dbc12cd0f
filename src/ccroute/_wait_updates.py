"""When the service tells a waiting contact's customer their position and wait again.

:class:`~ccroute.Service` with ``wait_update_every=P`` sends a contact's
customer a ``queued`` update when it enters a queue, and again every ``P``
seconds while it waits there (docs/estimated-wait.md). This module keeps the
schedule; the service sends the updates. Pure bookkeeping: no I/O, no clock
of its own.
"""

from __future__ import annotations

import heapq
import itertools
import math

from ._values import check_seconds

__all__ = ["WaitUpdates", "check_period"]


def check_period(period: object) -> float | None:
    """``wait_update_every``: ``None`` (only on queue entry) or seconds > 0."""
    if period is None:
        return None
    return float(check_seconds(period, "wait_update_every", positive=True))


class WaitUpdates:
    """The contacts whose customers are due another ``queued`` update, by due time.

    :param period: seconds between one contact's updates.

    Cost: O(log n) to schedule or take one, for n contacts scheduled.
    """

    __slots__ = ("_heap", "_seq", "period")

    def __init__(self, period: float) -> None:
        self.period = period
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()

    def schedule(self, contact_id: str, after: float) -> None:
        """Another update for ``contact_id`` one period after ``after``."""
        heapq.heappush(self._heap, (after + self.period, next(self._seq), contact_id))

    def next_due(self) -> float:
        """When the next update falls due (``inf``: none scheduled)."""
        return self._heap[0][0] if self._heap else math.inf

    def due(self, now: float) -> list[tuple[float, str]]:
        """Take the ``(due time, contact id)`` of every update due by ``now``, in order.
        The caller schedules the next one of each contact that still waits."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _seq, contact_id = heapq.heappop(heap)
            out.append((due, contact_id))
        return out

    def __len__(self) -> int:
        return len(self._heap)
