"""One target convention everywhere; scenario validation, policy fields and traces."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from ccroute import Admission, InvalidValueError
from ccroute.sim import parse_scenario, parse_trace, simulate
from ccroute.sim.scenario import ScenarioError
from ccroute.targets import format_service_level, parse_service_level, parse_share

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("80/20", (0.8, 20.0)),
        ("80%/20s", (0.8, 20.0)),
        (" 90 % / 30 s ", (0.9, 30.0)),
        ("100/0", (1.0, 0.0)),
        ("1%/20", (0.01, 20.0)),
        ("99.5/15", (0.995, 15.0)),
    ],
)
def test_service_levels_are_percent_over_seconds(text: str, expected: tuple[float, float]) -> None:
    assert parse_service_level(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.8/20", "looks like a share.*'80/20'"),
        ("1/20", "looks like a share.*1%/"),
        ("0.5%/20", "from 1% to 100%"),
        ("120/20", "from 1% to 100%"),
        ("80", "percent/seconds such as 80/20"),
        ("80/-5", "percent/seconds"),
    ],
)
def test_service_level_mistakes_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message):
        parse_service_level(text, "--target")


def test_shares_refuse_percents_and_accept_percent_signs() -> None:
    assert parse_share("0.85", "--occupancy-max") == 0.85
    assert parse_share("85%", "--occupancy-max") == pytest.approx(0.85)
    assert parse_share(0.3, "shrinkage") == 0.3
    with pytest.raises(InvalidValueError, match=r"'85' is not a share; write 0.85 or 85%"):
        parse_share("85", "--occupancy-max")
    with pytest.raises(InvalidValueError, match="share"):
        parse_share("lots", "--shrinkage")
    assert format_service_level(0.8, 20.0) == "80/20"


# ------------------------------------------------------------------ scenarios

BASE = "[[queues]]\nname = 'q'\n"
AGENTS = "[[agents]]\nname = 'a'\nqueues = ['q']\n"


def test_the_share_trap_in_a_scenario_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"'0.8/20' looks like a share.*'80/20'"):
        parse_scenario("[[queues]]\nname = 'q'\nservice_level = '0.8/20'\n", "day.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE + AGENTS + "shift = '08:00-25:00'", r"field 'shift': '25:00' is past 24:00"),
        (BASE + AGENTS + "shift = '22:00-06:00'", "22:00-30:00, with \\[simulation\\] days = 2"),
        (BASE + AGENTS + "shift = '08:75-10:00'", 'expected a time like "08:30"'),
        (
            BASE + AGENTS + "shift = '09:00-17:00'\nbreaks = [{ start = '08:30', minutes = 15 }]",
            r"#1 \[\[breaks\]\] #1: the break 08:30-08:45 is outside the shift 09:00-17:00",
        ),
        (
            BASE
            + AGENTS
            + "breaks = [{ start = '10:00', minutes = 30 }, { start = '10:15', minutes = 15 }]",
            "overlaps the one at 10:00",
        ),
        ("[simulation]\nend = '26:00'\n" + BASE, "past 24:00"),
        ("[simulation]\nwarmup_minutes = 700\n" + BASE, "warm-up must be shorter"),
        (BASE + "max_wait = 60\noverflow = 'nope'", "field 'overflow': unknown queue 'nope'"),
        (BASE + "overflow = 'q'\nmax_wait = 60", "cannot overflow to itself"),
        (
            "[[queues]]\nname = 'a'\nmax_wait = 5\noverflow = 'b'\n"
            "[[queues]]\nname = 'b'\nmax_wait = 5\noverflow = 'a'\n",
            "loop: a -> b -> a",
        ),
        ("[[queues]]\nname = 'a'\noverflow = 'a2'\n[[queues]]\nname = 'a2'", "needs max_wait"),
        (BASE + "admission = 'sometimes'", "unknown admission 'sometimes'"),
        (BASE + "ring = 0", "field 'ring': expected an integer >= 1"),
        (BASE + "blocking = { voice = ['fax'] }", "unknown channel 'fax'"),
        ("[routing]\nreserve_for = ['pigeon']\n" + BASE, r"\[routing\], field 'reserve_for'"),
        ("[routing]\nramp_up = { seconds = -5 }\n" + BASE, "ramp_up"),
        (BASE + AGENTS + "queue_delays = { other = 5 }", "not one of the group's queues"),
        (
            BASE.replace("'q'\n", "'q'\noffer_timeout = 0\n")
            + AGENTS
            + "no_answer_probability = 0.1",
            "never end on queue 'q'",
        ),
        (BASE + "rona_not_ready = 'yes'", "expected true or false"),
    ],
)
def test_impossible_scenarios_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(text, "day.toml")


def test_nested_errors_carry_one_location_prefix() -> None:
    text = BASE + "[[arrivals]]\nqueue = 'q'\nrate = 10\nhandle_time = { mean = -1 }\n"
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, "day.toml")
    assert str(info.value).count("day.toml") == 1, info.value
    assert "field 'handle_time', field 'mean'" in str(info.value)


def test_a_multi_day_horizon_allows_overnight_shifts() -> None:
    text = (
        "[simulation]\ndays = 2\nstart = '20:00'\nend = '30:00'\n"
        + BASE
        + AGENTS
        + "shift = '22:00-30:00'\nbreaks = [{ start = '26:00', minutes = 30 }]\n"
    )
    scenario = parse_scenario(text, "night.toml")
    assert scenario.days == 2
    assert scenario.agents[0].shift_end == 30 * 3600


def test_every_routing_policy_can_be_set_from_the_file() -> None:
    text = """
[routing]
blocking = { voice = ["chat"] }
reserve_for = ["voice"]
ramp_up = { seconds = 120, accepted = 2 }

[[queues]]
name = "front"
ring = 3
max_wait = 60
overflow = "back"
overflow_keep_key = false
skip_if_no_agent = true
admission = "eligible"
rejoin_window = 300
priority_seconds = 30
blocking = { voice = ["email"] }

[[queues]]
name = "back"

[[agents]]
name = "a"
count = 3
queues = ["front", "back"]
queue_delays = { back = 20 }

[[arrivals]]
queue = "front"
rate = "60/h"
max_wait = 45
handle_time = { distribution = "fixed", mean = 30 }
"""
    scenario = parse_scenario(text, "policies.toml")
    front = scenario.queues[0]
    assert (front.ring, front.max_wait, front.overflow) == (3, 60, "back")
    assert front.overflow_keep_key is False and front.skip_if_no_agent is True
    assert front.admission is Admission.ELIGIBLE
    assert (front.rejoin_window, front.priority_seconds) == (300, 30)
    assert dict(front.blocking) == {"voice": frozenset({"email"})}
    policy = scenario.policy
    assert policy is not None
    assert dict(policy.blocking) == {"voice": frozenset({"chat"})}
    assert policy.reserve_for == frozenset({"voice"})
    assert policy.ramp_up is not None and policy.ramp_up.accepted == 2
    assert scenario.agents[0].queue_delays == (("back", 20.0),)
    assert scenario.arrivals[0].max_wait == 45
    # They reach the router: a short run goes through and rings several agents.
    result = simulate(scenario.__class__(**{**_fields(scenario), "end": scenario.start + 3600}))
    assert result.report.total.offered > 0


def _fields(scenario: object) -> dict[str, object]:
    import attrs

    return attrs.asdict(scenario, recurse=False)  # type: ignore[arg-type]


def test_max_wait_and_overflow_move_contacts_in_a_run() -> None:
    text = """
[simulation]
start = "08:00"
end = "09:00"
[[queues]]
name = "first"
max_wait = 10
overflow = "second"
[[queues]]
name = "second"
[[agents]]
name = "a"
count = 1
queues = ["second"]
[[arrivals]]
queue = "first"
rate = "120/h"
handle_time = { distribution = "fixed", mean = 20 }
"""
    result = simulate(parse_scenario(text, "o.toml"))
    assert result.report.queues["first"].transferred_out > 0
    assert result.report.queues["second"].offered > 0


# --------------------------------------------------------------------- traces


def test_traces_take_iso_timestamps_and_optional_columns() -> None:
    records = parse_trace(
        "arrival,queue,handle_time\n"
        "2024-03-04T08:00:01,calls,100\n"
        "2024-03-04T08:00:02.5,calls,200\n"
        "2024-03-05T00:00:00,calls,5\n",
        "t.csv",
    )
    assert [r.arrival for r in records] == [28801.0, 28802.5, 86400.0]
    assert records[0].channel == "voice" and records[0].patience == math.inf
    assert records[0].requirements == () and records[0].customer_id is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arrival,channel\n1,voice\n", "missing column.*queue, handle_time"),
        ("arrival,queue,handle_time,colour\n1,q,1,red\n", "unknown column"),
        ("arrival,queue,handle_time\n2024-13-04T08:00,q,1\n", "not an ISO 8601"),
    ],
)
def test_bad_traces_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_trace(text, "t.csv")


def test_the_sample_trace_ships_and_replays() -> None:
    scenario = parse_scenario((EXAMPLES / "erlang_c.toml").read_text(), "erlang_c.toml")
    trace = parse_trace((EXAMPLES / "arrivals.csv").read_text(), "arrivals.csv")
    result = simulate(scenario.with_trace(trace, "arrivals.csv"))
    assert result.report.total.offered == len(trace) > 10
    with pytest.raises(ScenarioError, match="unknown queue 'sales'"):
        scenario.with_trace(parse_trace("arrival,queue,handle_time\n1,sales,5\n"), "x.csv")
