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

from ._values import exact_float, show
from .errors import ClockError, InvalidValueError

__all__ = ["Clock", "ManualClock", "MonotonicClock", "WallClock"]

_INF = math.inf


@runtime_checkable
class Clock(Protocol):
    """Anything with a ``now()`` returning seconds as a float that never decreases."""

    def now(self) -> float:
        """Return the current time in seconds."""
        ...


def _as_float(value: object) -> float:
    """A number as a plain float (:func:`~ccroute._values.exact_float`); NaN for
    anything that is not an int or float (or a bool)."""
    number = exact_float(value)
    return math.nan if number is None else number


def _finite(value: object, what: str) -> float:
    number = _as_float(value)
    if not math.isfinite(number):
        raise InvalidValueError(f"{what} must be a finite number, got {show(value)}")
    return number


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
        self._now = _finite(start, "clock start")

    def now(self) -> float:
        """Return the current time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0) and return the new time.

        Refused with :class:`ClockError`, leaving the time as it was, for a
        negative or non-finite amount, or one that would take the time past
        the largest finite float.
        """
        amount = _as_float(seconds)
        if not amount >= 0 or not math.isfinite(amount):
            raise ClockError(
                f"a clock can only advance by a finite number >= 0, got {show(seconds)}"
            )
        now = self._now + amount
        if not math.isfinite(now):
            raise ClockError(f"advancing the clock from {self._now} by {seconds!r} overflows")
        self._now = now
        return now

    def set(self, when: float) -> None:
        """Move time to ``when``, a finite number not earlier than now."""
        # A simulator sets the clock before every router call, almost always
        # to a finite float: that case is decided without the conversion.
        if type(when) is float and self._now <= when < _INF:
            self._now = when
            return
        target = _as_float(when)
        if not math.isfinite(target) or target < self._now:
            raise ClockError(f"cannot set the clock from {self._now} to {show(when)}")
        self._now = target

    def __repr__(self) -> str:
        return f"ManualClock(now={self._now})"


class MonotonicClock:
    """The production clock: :func:`time.monotonic` seconds, optionally offset."""

    __slots__ = ("_offset",)

    def __init__(self, offset: float = 0.0) -> None:
        self._offset = _finite(offset, "clock offset")

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
