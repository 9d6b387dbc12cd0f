"""What the router estimated each contact would wait, beside what it waited.

``Simulation(scenario, record_waits=True)`` registers a :class:`WaitRecorder`
on the simulated router: when a contact enters its queue it asks the router
for :meth:`Router.estimated_wait <ccroute.Router.estimated_wait>` (what the
service tells the customer in its ``queued`` update, computed by the same
code), and when the contact is answered, abandons or times out it notes the
time. :attr:`SimulationResult.waits <ccroute.sim.SimulationResult.waits>`
holds the records; benchmarks/ewt_accuracy.py compares them
(docs/estimated-wait.md).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..errors import CCRouteError
from ..events import Abandoned, Accepted, Event, Queued, TimedOut
from ..lifecycle import ContactState
from ..router import Router

__all__ = ["WaitRecord", "WaitRecorder"]


@attrs.frozen(slots=True)
class WaitRecord:
    """One contact's estimated and actual wait.

    :param contact_id: the contact.
    :param queue: the queue it entered.
    :param channel: its channel.
    :param queued_at: when it entered the queue.
    :param estimate: the router's estimate then, after the call that queued
        it (0 when it was offered at once; ``None`` when the router had no
        estimate).
    :param position: its place in its queue then (``None``: offered at once).
    :param answered_at: when an agent accepted it (``None``: never).
    :param left_at: when it abandoned or timed out (``None``: it did not).
    """

    contact_id: str
    queue: str
    channel: str
    queued_at: float
    estimate: float | None
    position: int | None
    answered_at: float | None = None
    left_at: float | None = None

    @property
    def wait(self) -> float | None:
        """Seconds from queue entry to answer (``None`` when never answered)."""
        return None if self.answered_at is None else self.answered_at - self.queued_at


class WaitRecorder:
    """A router observer that records each contact's estimated and actual wait.

    :param router: the router it observes (it registers itself).
    :param extra: called as ``extra(router, event)`` with each :class:`Queued`
        event, after the estimate is taken; what it returns is kept in
        ``extras`` under the contact's id (a benchmark's other estimator).

    Cost: one :meth:`Router.estimated_wait <ccroute.Router.estimated_wait>` per
    queued contact.
    """

    def __init__(
        self, router: Router, extra: Callable[[Router, Queued], object] | None = None
    ) -> None:
        self.router = router
        self.records: dict[str, WaitRecord] = {}
        self.extras: dict[str, object] = {}
        self._extra = extra
        router.observe(self)

    def __call__(self, events: list[Event]) -> None:
        router = self.router
        records = self.records
        for event in events:
            if isinstance(event, Queued):
                estimate: float | None
                position: int | None = None
                try:
                    estimate = router.estimated_wait(event.contact_id)
                    if router.contact(event.contact_id).state is ContactState.WAITING:
                        position = router.position(event.contact_id)
                except CCRouteError:  # it left in the same call
                    estimate = None
                records[event.contact_id] = WaitRecord(
                    event.contact_id, event.queue, event.channel, event.at, estimate, position
                )
                if self._extra is not None:
                    self.extras[event.contact_id] = self._extra(router, event)
            elif isinstance(event, Accepted):
                found = records.get(event.contact_id)
                if found is not None and found.answered_at is None:
                    records[event.contact_id] = attrs.evolve(found, answered_at=event.at)
            elif isinstance(event, Abandoned | TimedOut):
                found = records.get(event.contact_id)
                if found is not None and found.left_at is None:
                    records[event.contact_id] = attrs.evolve(found, left_at=event.at)
