"""Business hours: whether a queue is open, what it does with an arrival while
closed, and when a scheduled callback may enter.

The rule, as docs/business-hours.md states it: a queue's calendar
(:class:`~ccroute.BusinessHours`) is read in wall time, the router's time
plus its ``epoch`` (the Unix time of the router's time zero: 0 for a router
on a wall clock, the scenario's start for a simulation). While it is closed,
an arrival is refused (``"closed"``), held as a callback until it opens, or
queued, as the queue's ``when_closed`` says; contacts already in the queue
stay. A scheduled callback must fall in open hours; a retry that would fall
in closed hours moves to the next opening.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...business_hours import WhenClosed
from ...errors import InvalidValueError

if TYPE_CHECKING:
    from ...model import QueueConfig

__all__ = ["OpeningHours"]


class OpeningHours:
    """The queues' calendars, asked in router time.

    It holds no state but the epoch: the calendars are the queues' settings.
    The router builds it for the first queue with a calendar (added, updated
    or restored), so that a router without one admits, and schedules
    callbacks, without asking.

    :param epoch: the Unix time of the router's time zero.
    """

    __slots__ = ("epoch",)

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch

    @staticmethod
    def needed(config: QueueConfig) -> bool:
        """Whether the queue has a calendar (a router builds the policy for the first)."""
        return config.calendar is not None

    def is_open(self, config: QueueConfig, now: float) -> bool:
        """Whether the queue is open at router time ``now`` (always, without a
        calendar). Cost: that of :meth:`BusinessHours.is_open
        <ccroute.BusinessHours.is_open>`."""
        calendar = config.calendar
        return calendar is None or calendar.is_open(self.epoch + now)

    def closed(self, config: QueueConfig, now: float) -> WhenClosed | None:
        """What the queue does with a contact submitted at ``now``: ``None``
        while it is open (or has no calendar), else its ``when_closed``."""
        if self.is_open(config, now):
            return None
        return config.when_closed

    def next_open(self, config: QueueConfig, now: float) -> float | None:
        """Router time at or after ``now`` when the queue opens (``now`` while
        open), or ``None`` if its calendar never opens again."""
        calendar = config.calendar
        if calendar is None:
            return now
        found = calendar.next_open(self.epoch + now)
        # Never before now: the calendar's answer is exact, the subtraction is not.
        return None if found is None else max(now, found - self.epoch)

    def check_time(self, config: QueueConfig, contact_id: str, at: float) -> None:
        """Refuse, with :class:`~ccroute.InvalidValueError`, a callback asked
        for a time when the queue is closed, naming the next opening."""
        if self.is_open(config, at):
            return
        opens = self.next_open(config, at)
        hint = "it never opens again" if opens is None else f"it next opens at {opens:g}"
        raise InvalidValueError(
            f"cannot schedule callback {contact_id!r} at {at:g}: queue {config.name!r} is "
            f"closed then ({hint}, router time; epoch {self.epoch:g})"
        )

    def entry_time(self, config: QueueConfig, due: float) -> float | None:
        """When a callback due at ``due`` may enter: ``due`` if the queue is open
        then or accepts while closed, else its next opening (``None``: never)."""
        if config.when_closed is WhenClosed.ACCEPT:
            return due
        return self.next_open(config, due)
