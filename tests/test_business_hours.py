"""Business-hours calendars (docs/business-hours.md): the value, its three
queries, daylight-saving days, holidays and special days, and refusals."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
import zoneinfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ccroute import BusinessHours, InvalidValueError, QueueConfig, WhenClosed, codec
from ccroute.business_hours import DAYS
from ccroute.commands import AddQueue

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
HOUR = 3600.0


def unix(zone: zoneinfo.ZoneInfo, *parts: int, fold: int = 0) -> float:
    return dt.datetime(*parts, tzinfo=zone, fold=fold).timestamp()  # type: ignore[misc]


def local(zone: zoneinfo.ZoneInfo, t: float | None) -> dt.datetime | None:
    return None if t is None else dt.datetime.fromtimestamp(t, zone)


OFFICE = BusinessHours(
    "Europe/Paris",
    {
        "mon": ["09:00-12:30", "13:30-18:00"],
        "tue": ["09:00-18:00"],
        "wed": ["09:00-18:00"],
        "thu": ["09:00-18:00"],
        "friday": "09:00-17:00",
        "sat": ["10:00-14:00"],
    },
    holidays=["2026-12-25"],
    special={"2026-12-24": ["09:00-13:00"], "2026-12-31": []},
)


# ================================================================ the queries


def test_an_office_week_opens_and_closes_at_its_local_times() -> None:
    monday = unix(PARIS, 2026, 12, 7, 10)
    assert OFFICE.is_open(monday)
    assert not OFFICE.is_open(unix(PARIS, 2026, 12, 7, 12, 45))  # lunch
    assert OFFICE.next_open(unix(PARIS, 2026, 12, 7, 12, 45)) == unix(PARIS, 2026, 12, 7, 13, 30)
    assert OFFICE.next_close(monday) == unix(PARIS, 2026, 12, 7, 12, 30)
    # Saturday afternoon: the next opening is Monday morning (Sunday is closed)
    saturday = unix(PARIS, 2026, 12, 12, 15)
    assert OFFICE.next_open(saturday) == unix(PARIS, 2026, 12, 14, 9)
    # a closed moment is its own next close, an open one its own next open
    assert OFFICE.next_close(saturday) == saturday
    assert OFFICE.next_open(monday) == monday


def test_holidays_close_the_day_and_special_days_change_its_hours() -> None:
    # Thursday 24 December is a special day (09:00-13:00), Friday 25 a holiday
    assert OFFICE.is_open(unix(PARIS, 2026, 12, 24, 12))
    assert not OFFICE.is_open(unix(PARIS, 2026, 12, 24, 14))
    assert OFFICE.next_close(unix(PARIS, 2026, 12, 24, 9)) == unix(PARIS, 2026, 12, 24, 13)
    assert not OFFICE.is_open(unix(PARIS, 2026, 12, 25, 10))
    assert OFFICE.next_open(unix(PARIS, 2026, 12, 24, 14)) == unix(PARIS, 2026, 12, 26, 10)
    # a special day with no hours is closed, like a holiday
    assert not OFFICE.is_open(unix(PARIS, 2026, 12, 31, 10))
    assert OFFICE.open_ranges("2026-12-24") == ("09:00-13:00",)
    assert OFFICE.open_ranges("2026-12-25") == ()
    assert OFFICE.open_ranges("2026-12-28") == ("09:00-12:30", "13:30-18:00")


def test_an_overnight_range_runs_into_the_next_day_and_joins_its_hours() -> None:
    night = BusinessHours(
        "UTC", {"fri": ["22:00-06:00"], "sat": ["06:00-08:00"]}, holidays=["2026-12-05"]
    )
    friday = dt.datetime(2026, 12, 4, 23, tzinfo=dt.UTC).timestamp()
    saturday_7 = dt.datetime(2026, 12, 5, 7, tzinfo=dt.UTC).timestamp()
    assert night.is_open(friday)
    # Saturday is a holiday: the night that started on Friday still runs to 06:00,
    # and Saturday's own 06:00-08:00 is closed
    assert night.next_close(friday) == dt.datetime(2026, 12, 5, 6, tzinfo=dt.UTC).timestamp()
    assert not night.is_open(saturday_7)
    ordinary = BusinessHours("UTC", {"fri": ["22:00-06:00"], "sat": ["06:00-08:00"]})
    # without the holiday the two ranges are one opening, closing at 08:00
    assert ordinary.next_close(friday) == dt.datetime(2026, 12, 5, 8, tzinfo=dt.UTC).timestamp()


def test_a_calendar_that_never_closes_or_never_opens_says_none() -> None:
    always = BusinessHours("UTC", dict.fromkeys(DAYS, "00:00-24:00"))
    assert always.next_close(0.0) is None
    assert always.is_open(1e9)
    never = BusinessHours("UTC")
    assert never.next_open(0.0) is None and not never.is_open(0.0)
    # a calendar open only on special days finds them, however far
    once = BusinessHours("UTC", special={"2030-06-01": ["10:00-11:00"]})
    assert once.next_open(0.0) == dt.datetime(2030, 6, 1, 10, tzinfo=dt.UTC).timestamp()
    assert once.next_open(dt.datetime(2030, 6, 1, 11, tzinfo=dt.UTC).timestamp()) is None


# ============================================================ daylight saving


def test_spring_forward_day_is_an_hour_shorter_and_skipped_times_move_on() -> None:
    # Paris, Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST
    sunday = BusinessHours("Europe/Paris", {"sun": ["00:00-24:00"]})
    opens = sunday.next_open(unix(PARIS, 2026, 3, 28, 12))
    assert opens == unix(PARIS, 2026, 3, 29, 0)
    closes = sunday.next_close(opens)
    assert closes == unix(PARIS, 2026, 3, 30, 0)
    assert closes - opens == 23 * HOUR
    # a range starting in the skipped hour starts when it would have, an hour on
    gap = BusinessHours("Europe/Paris", {"sun": ["02:30-05:00"]})
    start = gap.next_open(unix(PARIS, 2026, 3, 28, 12))
    assert local(PARIS, start) == dt.datetime(2026, 3, 29, 3, 30, tzinfo=PARIS)
    assert gap.next_close(start) - start == 1.5 * HOUR  # type: ignore[operator]
    # New York, Sunday 8 March 2026
    early = BusinessHours("America/New_York", {"sun": ["01:00-09:00"]})
    start = early.next_open(unix(NEW_YORK, 2026, 3, 7))
    assert early.next_close(start) - start == 7 * HOUR  # type: ignore[operator]


def test_fall_back_day_is_an_hour_longer_and_a_repeated_time_is_its_first() -> None:
    # Paris, Sunday 25 October 2026: 03:00 CEST becomes 02:00 CET
    sunday = BusinessHours("Europe/Paris", {"sun": ["00:00-24:00"]})
    opens = sunday.next_open(unix(PARIS, 2026, 10, 24, 12))
    assert sunday.next_close(opens) - opens == 25 * HOUR  # type: ignore[operator]
    # "02:30" is the first 02:30 (CEST); the second one (CET) is an hour later
    repeated = BusinessHours("Europe/Paris", {"sun": ["01:00-02:30"]})
    first = unix(PARIS, 2026, 10, 25, 2, 15, fold=0)
    second = unix(PARIS, 2026, 10, 25, 2, 15, fold=1)
    assert second - first == HOUR
    assert repeated.is_open(first) and not repeated.is_open(second)
    assert repeated.next_close(first) == unix(PARIS, 2026, 10, 25, 2, 30, fold=0)
    # New York, Sunday 1 November 2026: 09:00 opening is still 09:00 local
    ny = BusinessHours("America/New_York", {"sun": ["09:00-17:00"], "mon": ["09:00-17:00"]})
    assert local(NEW_YORK, ny.next_open(unix(NEW_YORK, 2026, 10, 31, 20))) == dt.datetime(
        2026, 11, 1, 9, tzinfo=NEW_YORK
    )


# ================================================================= properties

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2027, 12, 31, tzinfo=dt.UTC).timestamp()


@st.composite
def day_ranges(draw: st.DrawFn) -> list[str]:
    """Up to three ranges of a day that do not overlap (the last may run overnight)."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), min_size=0, max_size=6)))
    out = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        out.append(f"{a * 15 // 60:02d}:{a * 15 % 60:02d}-{b * 15 // 60:02d}:{b * 15 % 60:02d}")
    if out and draw(st.booleans()):
        # the last range runs overnight, to a time before its start
        last_start = cuts[len(out) * 2 - 2]
        if 0 < last_start < 96:
            end = draw(st.integers(0, last_start - 1))
            hours = f"{last_start * 15 // 60:02d}:{last_start * 15 % 60:02d}"
            out[-1] = f"{hours}-{end * 15 // 60:02d}:{end * 15 % 60:02d}"
    return out


dates = st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 31)).map(dt.date.isoformat)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessHours:
    weekly = {day: draw(day_ranges()) for day in draw(st.sets(st.sampled_from(DAYS)))}
    holidays = draw(st.sets(dates, max_size=5))
    special = {d: draw(day_ranges()) for d in draw(st.sets(dates, max_size=4)) - holidays}
    return BusinessHours(draw(st.sampled_from(ZONES)), weekly, holidays, special)


moments = st.floats(START, END)


# One float before an opening (2026-06-01 09:00 UTC): the midpoint of the two
# rounds onto the opening itself, which is open.
_OPENING = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC).timestamp()


@settings(max_examples=300, deadline=None)
@given(calendars(), moments)
@example(
    BusinessHours("UTC", {day: ["09:00-17:00"] for day in DAYS}),
    math.nextafter(_OPENING, -math.inf),
)
def test_is_open_agrees_with_next_open_and_next_close(hours: BusinessHours, at: float) -> None:
    is_open = hours.is_open(at)
    opens, closes = hours.next_open(at), hours.next_close(at)
    assert (opens == at) == is_open
    assert (closes == at) == (not is_open)
    if not is_open and opens is not None:
        # closed from at until it opens
        assert opens > at and hours.is_open(opens)
        # A moment strictly between them (at and the opening can be adjacent
        # floats, whose midpoint rounds onto one of them).
        middle = (at + opens) / 2
        if at < middle < opens:
            assert not hours.is_open(middle)
        if opens - 0.5 >= at:
            assert not hours.is_open(opens - 0.5)
    if is_open and closes is not None:
        # open from at until it closes
        assert closes > at and not hours.is_open(closes)
        middle = (at + closes) / 2
        if at < middle < closes:
            assert hours.is_open(middle)
        if closes - 0.5 >= at:
            assert hours.is_open(closes - 0.5)


@settings(max_examples=200, deadline=None)
@given(calendars(), moments)
def test_without_daylight_saving_a_moment_is_open_by_its_local_wall_time(
    hours: BusinessHours, at: float
) -> None:
    """A reference that reads the local wall time (no conversion of ranges) agrees
    wherever the clocks never change."""
    assume(hours.timezone in ("UTC", "Asia/Kolkata"))
    zone = zoneinfo.ZoneInfo(hours.timezone)
    wall = dt.datetime.fromtimestamp(at, zone).replace(tzinfo=None)
    expected = False
    for back in (1, 0):
        day = wall.date() - dt.timedelta(days=back)
        for text in hours.open_ranges(day.isoformat()):
            start_text, end_text = text.split("-")
            start = dt.datetime.combine(day, dt.time.fromisoformat(start_text))
            h, m = map(int, end_text.split(":"))
            end = dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h, minutes=m)
            if end <= start:
                end += dt.timedelta(days=1)
            expected |= start <= wall < end
    assert hours.is_open(at) == expected


@settings(max_examples=100, deadline=None)
@given(calendars())
def test_a_calendar_survives_its_mapping_and_the_log(hours: BusinessHours) -> None:
    assert BusinessHours.from_mapping(hours.to_mapping()) == hours
    command = AddQueue(QueueConfig("q", calendar=hours, when_closed=WhenClosed.HOLD))
    assert codec.decode_command("add_queue", codec.encode_command(command)) == command


# ================================================================== loading


def test_a_calendar_loads_from_toml() -> None:
    data = tomllib.loads(
        """
        timezone = "Europe/Paris"
        holidays = ["2026-12-25"]
        [weekly]
        mon = ["09:00-12:30", "13:30-18:00"]
        tue = "09:00-18:00"
        [special]
        "2026-12-24" = ["09:00-13:00"]
        """
    )
    hours = BusinessHours.from_mapping(data)
    assert hours.weekly == (("mon", ("09:00-12:30", "13:30-18:00")), ("tue", ("09:00-18:00",)))
    # a queue takes the same mapping
    assert QueueConfig("q", calendar=data).calendar == hours


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not a known IANA"),
        ({"timezone": 3}, "timezone must be an IANA"),
        ({}, "timezone is missing"),
        ({"timezone": "UTC", "hours": {}}, "unknown key 'hours'"),
        ({"timezone": "UTC", "weekly": {"mun": "09:00-17:00"}}, "'mun' is not a weekday"),
        ({"timezone": "UTC", "weekly": {"mon": "9-17"}}, "weekly['mon'][0]: '9-17' is not a range"),
        ({"timezone": "UTC", "weekly": {"mon": "09:00-25:00"}}, "outside 00:00..24:00"),
        ({"timezone": "UTC", "weekly": {"mon": "09:00-17:00\n"}}, "is not a range"),
        ({"timezone": "UTC", "weekly": {"mon": "09:00-09:00"}}, "is empty"),
        ({"timezone": "UTC", "weekly": {"mon": "24:00-02:00"}}, "starts at 24:00"),
        (
            {"timezone": "UTC", "weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            "ranges '09:00-12:00' and '11:00-13:00' overlap",
        ),
        ({"timezone": "UTC", "weekly": {"mon": [9]}}, "weekly['mon'][0] must be a string"),
        ({"timezone": "UTC", "weekly": ["mon"]}, "weekly must be a mapping"),
        ({"timezone": "UTC", "holidays": ["2026-02-30"]}, "holidays[0]: '2026-02-30' is not"),
        ({"timezone": "UTC", "holidays": "2026-12-25"}, "holidays must be a list of dates"),
        ({"timezone": "UTC", "holidays": ["2026-12-25\n"]}, "holidays[0] must be a date"),
        ({"timezone": "UTC", "special": {"12/24": []}}, "special date must be a date"),
        (
            {"timezone": "UTC", "holidays": ["2026-12-25"], "special": {"2026-12-25": []}},
            "'2026-12-25' is both a holiday and a special day",
        ),
    ],
)
def test_bad_calendars_are_refused_naming_the_field(data: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        BusinessHours.from_mapping(data)
    assert words in str(info.value)


@pytest.mark.parametrize("at", [float("nan"), float("inf"), "noon", True, None, 1e300])
def test_queries_refuse_a_moment_that_is_not_unix_seconds(at: object) -> None:
    for query in (OFFICE.is_open, OFFICE.next_open, OFFICE.next_close):
        with pytest.raises(InvalidValueError, match="at must be Unix seconds"):
            query(at)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("settings_", "words"),
    [
        ({"calendar": "UTC"}, "calendar must be a BusinessHours, a mapping or None"),
        ({"when_closed": "hold"}, "when_closed must be a WhenClosed"),
        ({"callback_retries": (60, 0)}, "callback_retries[1] must be > 0"),
        ({"callback_retries": 60}, "callback_retries must be a list of seconds"),
        ({"callback_retries": (1.0,) * 101}, "at most 100 delays"),
    ],
)
def test_a_queue_refuses_bad_closed_hours_settings(
    settings_: dict[str, object], words: str
) -> None:
    with pytest.raises(InvalidValueError) as info:
        QueueConfig("q", **settings_)  # type: ignore[arg-type]
    assert words in str(info.value)
