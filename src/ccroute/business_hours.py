"""Business-hours calendars: when a queue is open, in its own time zone.

A :class:`BusinessHours` value says, for an IANA time zone (read through
:mod:`zoneinfo`), which hours of each weekday are open, which dates are
holidays (closed all day) and which dates have other hours (special days).
It answers three questions about a moment given in Unix seconds:
:meth:`~BusinessHours.is_open`, :meth:`~BusinessHours.next_open` and
:meth:`~BusinessHours.next_close`. A queue holds one in
:attr:`QueueConfig.calendar <ccroute.QueueConfig.calendar>` and says what
happens to a contact that arrives while it is closed
(:class:`WhenClosed`); see docs/business-hours.md.

The value holds its hours as text (``"09:00-17:30"``) so that the log and
a snapshot show them as an operator wrote them; the parsed form is built
once per distinct calendar and cached.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import itertools
import math
import re
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import attrs

from ._values import exact_real, show
from .errors import InvalidValueError

__all__ = ["DAYS", "BusinessHours", "WhenClosed"]

#: The weekday names a calendar's ``weekly`` hours use, Monday first.
DAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX: Final = {name: i for names in (DAYS, _FULL) for i, name in enumerate(names)}

_RANGE: Final = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_MINUTES: Final = 24 * 60
# Moments a query takes: a year-2 .. year-9998 window, so that the local
# dates around any of them exist for the datetime module.
_MIN_AT: Final = -62_104_060_800.0
_MAX_AT: Final = 253_370_764_800.0
_WHERE: Final = "business hours"
_FIRST_YEAR: Final = 2
_LAST_YEAR: Final = 9990


class WhenClosed(enum.Enum):
    """What a queue with a calendar does with a contact submitted while it is closed."""

    #: Refuse it: a :class:`~ccroute.Refused` event with reason ``"closed"``.
    REFUSE = "refuse"
    #: Keep it as a scheduled callback that enters the queue when it next opens.
    HOLD = "hold"
    #: Queue it as usual (the calendar only informs flows and explanations).
    ACCEPT = "accept"


# ------------------------------------------------------------------ parsing

Ranges = tuple[str, ...]


def _minutes(hours: str, minutes: str, text: str, where: str) -> int:
    h, m = int(hours), int(minutes)
    if h > 24 or m > 59 or (h == 24 and m != 0):
        raise InvalidValueError(f"{where}: {text!r} has a time outside 00:00..24:00")
    return h * 60 + m


def _parse_range(text: object, where: str) -> tuple[int, int]:
    """``"HH:MM-HH:MM"`` as (start, end) minutes from the day's midnight; an end
    at or before the start is on the next day (an overnight range)."""
    if not isinstance(text, str):
        raise InvalidValueError(f"{where} must be a string 'HH:MM-HH:MM', got {show(text)}")
    found = _RANGE.fullmatch(text)
    if found is None:
        raise InvalidValueError(f"{where}: {text!r} is not a range 'HH:MM-HH:MM'")
    start = _minutes(found[1], found[2], text, where)
    end = _minutes(found[3], found[4], text, where)
    if start == _DAY_MINUTES:
        raise InvalidValueError(f"{where}: {text!r} starts at 24:00; start at 00:00 instead")
    if end == start:
        raise InvalidValueError(f"{where}: {text!r} is empty (it ends when it starts)")
    if end < start:
        end += _DAY_MINUTES
    return start, end


def _format(start: int, end: int) -> str:
    """A parsed range as text: an overnight end is the next day's time (24:00 stays)."""
    if end > _DAY_MINUTES:
        end -= _DAY_MINUTES
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"


def _ranges(value: object, where: str) -> tuple[tuple[int, int], ...]:
    """A day's ranges, parsed, sorted and checked not to overlap."""
    if isinstance(value, str):
        value = (value,)
    if isinstance(value, (bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidValueError(
            f"{where} must be a list of ranges 'HH:MM-HH:MM', got {show(value)}"
        )
    parsed = sorted(_parse_range(text, f"{where}[{i}]") for i, text in enumerate(value))
    for (s1, e1), (s2, e2) in itertools.pairwise(parsed):
        if s2 < e1:
            raise InvalidValueError(
                f"{where}: ranges {_format(s1, e1)!r} and {_format(s2, e2)!r} overlap"
            )
    return tuple(parsed)


def _items(value: object, where: str) -> list[tuple[Any, Any]]:
    """A mapping's items, or a sequence of pairs (the form the value keeps)."""
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidValueError(f"{where} must be a mapping, got {show(value)}")
    try:
        items = list(value)
    except Exception:  # an iterable that fails while it is read
        raise InvalidValueError(f"{where} must be a mapping, got {show(value)}") from None
    for item in items:
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidValueError(f"{where} must be a mapping, got an item {show(item)}")
    return items


def _weekly(value: object) -> tuple[tuple[str, Ranges], ...]:
    where = f"{_WHERE}: weekly"
    by_day: dict[int, Ranges] = {}
    for day, hours in _items(value, where):
        index = _DAY_INDEX.get(day.lower()) if isinstance(day, str) else None
        if index is None:
            raise InvalidValueError(
                f"{where}: {show(day)} is not a weekday; use one of {', '.join(DAYS)}"
            )
        if index in by_day:
            raise InvalidValueError(f"{where}: {DAYS[index]!r} is given twice")
        parsed = _ranges(hours, f"{where}[{DAYS[index]!r}]")
        by_day[index] = tuple(_format(s, e) for s, e in parsed)
    return tuple((DAYS[i], by_day[i]) for i in sorted(by_day) if by_day[i])


def _date(text: object, where: str) -> dt.date:
    if not isinstance(text, str) or _DATE.fullmatch(text) is None:
        raise InvalidValueError(f"{where} must be a date 'YYYY-MM-DD', got {show(text)}")
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidValueError(f"{where}: {text!r} is not a calendar date") from None
    if not _FIRST_YEAR <= date.year <= _LAST_YEAR:
        raise InvalidValueError(f"{where}: {text!r} is outside years {_FIRST_YEAR}..{_LAST_YEAR}")
    return date


def _holidays(value: object) -> frozenset[str]:
    where = f"{_WHERE}: holidays"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidValueError(f"{where} must be a list of dates 'YYYY-MM-DD', got {show(value)}")
    try:
        texts = list(value)
    except Exception:  # an iterable that fails while it is read
        raise InvalidValueError(
            f"{where} must be a list of dates 'YYYY-MM-DD', got {show(value)}"
        ) from None
    return frozenset(_date(text, f"{where}[{i}]").isoformat() for i, text in enumerate(texts))


def _special(value: object) -> tuple[tuple[str, Ranges], ...]:
    where = f"{_WHERE}: special"
    by_date: dict[str, Ranges] = {}
    for text, hours in _items(value, where):
        day = _date(text, f"{where} date").isoformat()
        if day in by_date:
            raise InvalidValueError(f"{where}: {day!r} is given twice")
        parsed = _ranges(hours, f"{where}[{day!r}]")
        by_date[day] = tuple(_format(s, e) for s, e in parsed)
    return tuple(sorted(by_date.items()))


def _check_timezone(inst: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidValueError(
            f"{_WHERE}: timezone must be an IANA time zone name such as 'Europe/Paris', "
            f"got {show(value)}"
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidValueError(
            f"{_WHERE}: timezone {value!r} is not a known IANA time zone (e.g. 'Europe/Paris')"
        ) from None


# The hash is cached: the parsed form is looked up by the value on every query.
@attrs.frozen(slots=True, cache_hash=True)
class BusinessHours:
    """A queue's opening hours: weekly ranges, holidays and special days, in one time zone.

    :param timezone: an IANA time zone name (``"Europe/Paris"``,
        ``"America/New_York"``, ``"UTC"``), read through :mod:`zoneinfo`.
    :param weekly: weekday (``"mon"`` … ``"sun"``, or the full English name)
        to its open ranges, ``"HH:MM-HH:MM"`` in local time, several a day
        allowed; a range whose end is at or before its start runs overnight
        into the next day (``"22:00-06:00"``), and ``"24:00"`` ends a range at
        midnight. Ranges of one day may not overlap. A day not listed is closed.
    :param holidays: dates (``"YYYY-MM-DD"``) closed all day.
    :param special: date to the ranges open that day instead of its weekday's
        (an empty list closes it, as a holiday does).

    A range belongs to the day it starts on: a holiday closes the ranges
    starting that day, not the end of the previous night's overnight range.
    Local times the clocks skip (spring forward) are shifted forward by
    the gap (02:30 becomes 03:30), and a repeated local time (fall back)
    means its first occurrence, as :mod:`zoneinfo` reads them. A moment is
    open when it is in ``[start, end)`` of some range.

    Built from the shape a TOML or JSON file holds with :meth:`from_mapping`.
    Every refusal is an :class:`~ccroute.InvalidValueError` naming the field.
    """

    timezone: str = attrs.field(validator=_check_timezone)
    weekly: tuple[tuple[str, Ranges], ...] = attrs.field(default=(), converter=_weekly)
    holidays: frozenset[str] = attrs.field(default=frozenset(), converter=_holidays)
    special: tuple[tuple[str, Ranges], ...] = attrs.field(default=(), converter=_special)

    def __attrs_post_init__(self) -> None:
        both = sorted(self.holidays & {day for day, _ in self.special})
        if both:
            raise InvalidValueError(
                f"{_WHERE}: {both[0]!r} is both a holiday and a special day; give it once"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> BusinessHours:
        """Build a calendar from the mapping a TOML table or a JSON object gives::

            timezone = "Europe/Paris"
            holidays = ["2026-12-25", "2027-01-01"]
            [weekly]
            mon = ["09:00-12:30", "13:30-18:00"]
            sat = ["10:00-14:00"]
            [special]
            "2026-12-24" = ["09:00-13:00"]

        Unknown keys are refused, naming the key.
        """
        if not isinstance(data, Mapping):
            raise InvalidValueError(f"{_WHERE} must be a mapping, got {show(data)}")
        known = ("timezone", "weekly", "holidays", "special")
        for key in data:
            if key not in known:
                raise InvalidValueError(
                    f"{_WHERE}: unknown key {show(key)}; expected one of {', '.join(known)}"
                )
        if "timezone" not in data:
            raise InvalidValueError(f"{_WHERE}: timezone is missing (an IANA name)")
        return cls(
            data["timezone"],
            data.get("weekly", ()),
            data.get("holidays", ()),
            data.get("special", ()),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The calendar as :meth:`from_mapping` takes it (lists and dicts only)."""
        return {
            "timezone": self.timezone,
            "weekly": {day: list(hours) for day, hours in self.weekly},
            "holidays": sorted(self.holidays),
            "special": {day: list(hours) for day, hours in self.special},
        }

    # --------------------------------------------------------------- queries

    def is_open(self, at: float) -> bool:
        """Whether the calendar is open at Unix time ``at``.

        Cost: O(1) while the answer holds since the last query (the router
        asks at every submission, with time moving forward); else O(ranges
        of two days), plus a search for the next opening when closed, as
        :meth:`next_open`. Each local date is converted once (cached per
        calendar)."""
        t = _check_at(at)
        return _compiled(self).is_open(t)

    def next_open(self, at: float) -> float | None:
        """The first moment at or after Unix time ``at`` when the calendar is
        open (``at`` itself when open then), or ``None`` if it never opens again.

        Cost: O(days until then) (at most a week past the last holiday or
        special day)."""
        t = _check_at(at)
        return _compiled(self).next_open(t)

    def next_close(self, at: float) -> float | None:
        """The first moment at or after Unix time ``at`` when the calendar is
        closed (``at`` itself when closed then), or ``None`` if it never closes.

        Back-to-back ranges (``"18:00-24:00"`` then ``"00:00-02:00"``) are one
        opening. Cost: O(days until then), as :meth:`next_open`."""
        t = _check_at(at)
        return _compiled(self).next_close(t)

    def open_ranges(self, day: str) -> Ranges:
        """The ranges open on local date ``day`` (``"YYYY-MM-DD"``): its special
        hours, nothing on a holiday, else its weekday's. Cost: O(ranges)."""
        date = _date(day, f"{_WHERE}: day")
        return tuple(_format(s, e) for s, e in _compiled(self).ranges_of(date))


def _check_at(at: object) -> float:
    number = exact_real(at)
    if number is None or not _MIN_AT <= number <= _MAX_AT:
        raise InvalidValueError(
            f"{_WHERE}: at must be Unix seconds (a finite number between {_MIN_AT:.0f} "
            f"and {_MAX_AT:.0f}), got {show(at)}"
        )
    return float(number)


# ------------------------------------------------------------ the compiled form


class _Compiled:
    """A calendar's parsed hours and the open intervals (Unix seconds) of the
    local dates asked about so far."""

    _CACHE_DAYS: Final = 4096

    def __init__(self, hours: BusinessHours) -> None:
        self.zone = zoneinfo.ZoneInfo(hours.timezone)
        self.weekly: list[tuple[tuple[int, int], ...]] = [()] * 7
        for day, ranges in hours.weekly:
            self.weekly[_DAY_INDEX[day]] = tuple(_parse_range(r, "") for r in ranges)
        self.special = {
            dt.date.fromisoformat(day): tuple(_parse_range(r, "") for r in ranges)
            for day, ranges in hours.special
        }
        self.holidays = {dt.date.fromisoformat(day) for day in hours.holidays}
        self.has_weekly = any(self.weekly)
        overrides = [*self.special, *self.holidays]
        # Past this date every week is the same: a search that reaches a week
        # beyond it without an answer has none.
        self.last_override = max(overrides) if overrides else dt.date.min
        self.open_specials = sorted(day for day, ranges in self.special.items() if ranges)
        self._days: dict[dt.date, tuple[tuple[float, float], ...]] = {}
        # [lo, hi) over which the last is_open answer holds, and that answer
        self._window: tuple[float, float, bool] = (0.0, -1.0, False)

    def ranges_of(self, date: dt.date) -> tuple[tuple[int, int], ...]:
        ranges = self.special.get(date)
        if ranges is not None:
            return ranges
        if date in self.holidays:
            return ()
        return self.weekly[date.weekday()]

    def intervals(self, date: dt.date) -> tuple[tuple[float, float], ...]:
        """The open intervals of the ranges starting on local ``date``, in Unix seconds."""
        found = self._days.get(date)
        if found is not None:
            return found
        midnight = dt.datetime(date.year, date.month, date.day)
        out = []
        for start, end in self.ranges_of(date):
            a = self._unix(midnight + dt.timedelta(minutes=start))
            b = self._unix(midnight + dt.timedelta(minutes=end))
            # A range inside a skipped hour can end up empty: it never opens.
            if b > a:
                out.append((a, b))
        if len(self._days) >= self._CACHE_DAYS:
            self._days.clear()
        result = self._days[date] = tuple(out)
        return result

    def _unix(self, local: dt.datetime) -> float:
        return local.replace(tzinfo=self.zone).timestamp()

    def local_date(self, t: float) -> dt.date:
        return dt.datetime.fromtimestamp(t, self.zone).date()

    def containing(self, t: float) -> tuple[float, float] | None:
        """The interval open at ``t`` (a range starts the day before or that day)."""
        today = self.local_date(t)
        for date in (today - dt.timedelta(days=1), today):
            for a, b in self.intervals(date):
                if a <= t < b:
                    return a, b
        return None

    def is_open(self, t: float) -> bool:
        lo, hi, answer = self._window
        if lo <= t < hi:
            return answer
        found = self.containing(t)
        if found is not None:
            self._window = (found[0], found[1], True)
            return True
        opens = self.next_open(t)
        # Closed from t until it opens: as long as the router's time moves on.
        self._window = (t, math.inf if opens is None else opens, False)
        return False

    def _dates_from(self, first: dt.date) -> Iterator[dt.date]:
        """Local dates on which an opening may start, from ``first`` on, ending a
        week past the last override (after it the weeks repeat)."""
        if not self.has_weekly:
            yield first
            yield first + dt.timedelta(days=1)
            yield from (d for d in self.open_specials if d > first + dt.timedelta(days=1))
            return
        stop = max(first, self.last_override) + dt.timedelta(days=8)
        date = first
        while date <= stop:
            yield date
            date += dt.timedelta(days=1)

    def next_open(self, t: float) -> float | None:
        if self.containing(t) is not None:
            return t
        for date in self._dates_from(self.local_date(t) - dt.timedelta(days=1)):
            for a, b in self.intervals(date):
                if b > t:
                    return max(a, t)
        return None

    def next_close(self, t: float) -> float | None:
        found = self.containing(t)
        if found is None:
            return t
        end = found[1]
        stop = max(self.local_date(t), self.last_override) + dt.timedelta(days=9)
        while True:
            day = self.local_date(end)
            if day > stop:
                # Open every day of a repeating week: it never closes.
                return None
            later = self.containing(end)
            if later is None:
                return end
            end = later[1]


@functools.lru_cache(maxsize=256)
def _compiled(hours: BusinessHours) -> _Compiled:
    return _Compiled(hours)
