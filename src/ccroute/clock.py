"""Clocks: where the router's time comes from.

The router never reads the wall clock. It asks the clock object it was given:
a :class:`ManualClock` in tests and simulation (time moves only when told), a
:class:`MonotonicClock` in production. This module is the only place in the
core that reads a system clock.
"""

from __future__ import annotations

import math
import time
from typing import Protocol, runtime_checkable

from .errors import ClockError, InvalidValueError

__all__ = ["Clock", "ManualClock", "MonotonicClock", "WallClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning seconds as a float that never decreases."""

    def now(self) -> float:
        """Return the current time in seconds."""
        ...


class ManualClock:
    """A clock that moves only when told: for tests and simulation.

    >>> clock = ManualClock()
    >>> clock.advance(2.5)
    2.5
    >>> clock.set(10)
    >>> clock.now()
    10.0
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        if not math.isfinite(start):
            raise InvalidValueError(f"clock start must be finite, got {start!r}")
        self._now = float(start)

    def now(self) -> float:
        """Return the current time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and return the new time."""
        if not seconds >= 0 or not math.isfinite(seconds):
            raise ClockError(f"a clock can only advance by a finite amount >= 0, got {seconds!r}")
        self._now += seconds
        return self._now

    def set(self, when: float) -> None:
        """Move time to ``when``, which must not be earlier than now."""
        if not math.isfinite(when) or when < self._now:
            raise ClockError(f"cannot set the clock back from {self._now} to {when!r}")
        self._now = float(when)

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now})"


class MonotonicClock:
    """The production clock: :func:`time.monotonic` seconds, optionally offset."""

    __slots__ = ("_offset",)

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = offset

    def now(self) -> float:
        """Return monotonic seconds plus the offset."""
        return time.monotonic() + self._offset


class WallClock:
    """Seconds since the Unix epoch (:func:`time.time`): the service's default.

    Unlike :class:`MonotonicClock` it means the same after a restart or a
    reboot, so a service that recovers from its log goes on from the logged
    times (the service never lets the router's time go backwards).
    """

    __slots__ = ()

    def now(self) -> float:
        """Return the current Unix time."""
        return time.time()
