"""The simulator honours business hours (docs/business-hours.md, docs/scenarios.md):
a scenario's date and time zone place its day in wall time, and arrivals while
a queue is closed are refused, held until it opens, or queued, as the queue says."""

from __future__ import annotations

import datetime as dt

import pytest

from ccroute import Abandoned, Accepted, CallbackScheduled, Queued, Refused, WhenClosed
from ccroute.sim import Simulation, parse_scenario
from ccroute.sim.scenario import ScenarioError

pytestmark = pytest.mark.usefixtures("queue_factory")

DAY = """
[simulation]
name = "opening"
date = "2026-12-07"          # a Monday
timezone = "Europe/Paris"
start = "08:00"
end = "10:00"
seed = 7

[calendars.office]
timezone = "Europe/Paris"
weekly = { mon = ["09:00-17:00"], tue = ["09:00-17:00"] }

[[queues]]
name = "sales"
calendar = "office"
when_closed = "refuse"

[[queues]]
name = "support"
calendar = "office"
when_closed = "hold"

[[queues]]
name = "night"
calendar = { timezone = "Europe/Paris", weekly = { mon = "09:00-17:00" } }
when_closed = "accept"

[[agents]]
name = "a"
count = 4
queues = ["sales", "support", "night"]

[[arrivals]]
queue = "sales"
rate = "60/h"
handle_time = { distribution = "fixed", mean = 60 }
patience = { distribution = "exponential", mean = 120 }

[[arrivals]]
queue = "support"
rate = "60/h"
handle_time = { distribution = "fixed", mean = 60 }
patience = { distribution = "exponential", mean = 120 }

[[arrivals]]
queue = "night"
rate = "30/h"
handle_time = { distribution = "fixed", mean = 60 }
"""

NINE = 9 * 3600.0


def test_a_scenario_places_its_day_in_wall_time_and_reads_calendars() -> None:
    scenario = parse_scenario(DAY, "day.toml")
    midnight = dt.datetime(2026, 12, 7, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert scenario.epoch == midnight.timestamp()
    by_name = {q.name: q for q in scenario.queues}
    assert by_name["support"].when_closed is WhenClosed.HOLD
    assert by_name["sales"].calendar == by_name["support"].calendar
    assert by_name["night"].calendar is not None


def test_arrivals_while_closed_are_refused_held_or_queued_as_each_queue_says() -> None:
    result = Simulation(parse_scenario(DAY, "day.toml"), keep_events=True).run()
    log = result.event_log
    assert log is not None
    queue_of = {e.contact_id: e.queue for e in log if isinstance(e, (Queued, Refused))}
    queue_of.update({e.contact_id: e.queue for e in log if isinstance(e, CallbackScheduled)})
    refused = [e for e in log if isinstance(e, Refused)]
    held = [e for e in log if isinstance(e, CallbackScheduled)]
    queued = [e for e in log if isinstance(e, Queued)]
    # sales refuses before 09:00 and only then
    assert refused and all(e.queue == "sales" and e.at < NINE for e in refused)
    assert all(e.reason == "closed" for e in refused)
    assert not [e for e in queued if e.queue == "sales" and e.at < NINE]
    # support holds its early callers, who all enter at 09:00 and never abandon
    assert held and all(e.queue == "support" and e.at < NINE and e.due == NINE for e in held)
    held_ids = {e.contact_id for e in held}
    entries = {e.contact_id: e.at for e in queued if e.contact_id in held_ids}
    assert entries == dict.fromkeys(held_ids, NINE)
    assert not [e for e in queued if e.queue == "support" and e.at < NINE]
    # the night queue accepts at any time
    assert [e for e in queued if e.queue == "night" and e.at < NINE]
    # every held contact is answered, none abandons (called back, it waits)
    answered = {e.contact_id for e in log if isinstance(e, Accepted)}
    abandoned = {e.contact_id for e in log if isinstance(e, Abandoned)}
    assert held_ids <= answered and not held_ids & abandoned
    assert result.report.queues["sales"].refused == len(refused)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (('calendar = "office"\nwhen_closed = "refuse"', 'calendar = "shop"'), "unknown calendar"),
        (('when_closed = "hold"', 'when_closed = "later"'), "unknown behaviour 'later'"),
        (('date = "2026-12-07"', 'date = "07/12/2026"'), "expected a date"),
        (('timezone = "Europe/Paris"\nstart', 'timezone = "Paris"\nstart'), "'Paris' is not"),
        (('mon = ["09:00-17:00"], tue', 'mon = ["9-5"], tue'), "[calendars], field 'office'"),
    ],
)
def test_bad_business_hours_in_a_scenario_are_refused_naming_the_field(
    change: tuple[str, str], words: str
) -> None:
    old, new = change
    assert old in DAY
    with pytest.raises(ScenarioError) as info:
        parse_scenario(DAY.replace(old, new, 1), "day.toml")
    assert words in str(info.value)
