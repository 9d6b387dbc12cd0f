"""The simulator: seeded determinism, scenario validation, and each behaviour it models."""

from __future__ import annotations

import math
from pathlib import Path

import attrs
import pytest

from ccroute import (
    Abandoned,
    Accepted,
    CallbackRequested,
    InputError,
    Offered,
    OfferRescinded,
    OfferTimedOut,
    Overflowed,
    PresenceChanged,
    Queued,
    RampUp,
    RampUpEnded,
    Refused,
    RoutingPolicy,
    TimedOut,
)
from ccroute.metrics import GroupStats
from ccroute.sim import (
    Scenario,
    Simulation,
    parse_scenario,
    parse_trace,
    simulate,
)
from ccroute.sim.scenario import ScenarioError

# Every test here runs against the compiled and the pure universal queue.
pytestmark = pytest.mark.usefixtures("queue_factory")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SMALL = """
[simulation]
start = "09:00"
end = "11:00"
interval_minutes = 30
seed = 3

[[queues]]
name = "q"
service_level = "80/20"
offer_timeout = 10

[[agents]]
name = "a"
count = {count}
queues = ["q"]
skills = { en = 5 }
capacity = { voice = 1, chat = 2, callback = 1 }
{agent_extra}

[[arrivals]]
queue = "q"
channel = "voice"
skills = { en = 3 }
rate = "60/h"
handle_time = { distribution = "exponential", mean = 120 }
patience = { distribution = "exponential", mean = 90 }
{arrival_extra}
"""


def scenario(agent_extra: str = "", arrival_extra: str = "", count: int = 3) -> str:
    return (
        SMALL.replace("{agent_extra}", agent_extra)
        .replace("{arrival_extra}", arrival_extra)
        .replace("{count}", str(count))
    )


def run(text: str, **kwargs: object) -> object:
    return Simulation(parse_scenario(text, "test.toml"), keep_events=True, **kwargs).run()  # type: ignore[arg-type]


def test_same_seed_same_events_different_seed_different() -> None:
    first = run(scenario())
    second = run(scenario())
    assert first.event_log == second.event_log  # type: ignore[attr-defined]
    assert first.report == second.report  # type: ignore[attr-defined]
    other = run(scenario(), seed=4)
    assert other.event_log != first.event_log  # type: ignore[attr-defined]


def test_report_is_consistent_with_the_event_log() -> None:
    result = run(scenario())
    queued = sum(isinstance(e, Queued) for e in result.event_log)  # type: ignore[attr-defined]
    total = result.report.total  # type: ignore[attr-defined]
    assert total.offered == queued > 60  # ~120 arrivals in two hours
    assert total.answered + total.abandoned + total.in_flight == total.offered
    assert len(result.intervals) == 4  # type: ignore[attr-defined]
    assert sum(i.stats.offered for i in result.intervals) == total.offered  # type: ignore[attr-defined]


def test_shift_and_break_drive_presence() -> None:
    result = run(
        scenario(agent_extra='shift = "09:30-10:30"\nbreaks = [{ start = "10:00", minutes = 10 }]')
    )
    changes = [
        (e.at, e.agent_id, e.new.value, e.reason)
        for e in result.event_log  # type: ignore[attr-defined]
        if isinstance(e, PresenceChanged) and e.agent_id == "a-001"
    ]
    assert changes[0] == (9.5 * 3600, "a-001", "available", "start of shift")
    assert any(
        at == 10 * 3600 and new == "not-ready" and why == "break" for at, _a, new, why in changes
    )
    assert any(at == 10 * 3600 + 600 and new == "available" for at, _a, new, _why in changes)
    # End of shift: offline at 10:30, or later once the last contact is done.
    assert changes[-1][2] == "offline" and changes[-1][0] >= 10.5 * 3600


def test_self_service_share_never_reaches_the_queue() -> None:
    result = run(scenario(arrival_extra="self_service_share = 0.5"))
    offered = result.report.total.offered  # type: ignore[attr-defined]
    served = result.self_served  # type: ignore[attr-defined]
    assert 0.3 < served / (served + offered) < 0.7


def test_callbacks_keep_their_place_and_do_not_abandon() -> None:
    # One agent for 60 calls an hour: many wait long enough to ask for a callback.
    result = run(scenario(arrival_extra="callback = { after = 30, share = 1.0 }", count=1))
    callbacks = {e.contact_id for e in result.event_log if isinstance(e, CallbackRequested)}  # type: ignore[attr-defined]
    assert callbacks
    abandoned = {e.contact_id for e in result.event_log if type(e).__name__ == "Abandoned"}  # type: ignore[attr-defined]
    assert not callbacks & abandoned


def test_no_answer_times_out_and_agent_recovers() -> None:
    result = run(scenario(agent_extra="no_answer_probability = 0.3\nanswer_seconds = 2"))
    log = result.event_log  # type: ignore[attr-defined]
    assert any(isinstance(e, OfferTimedOut) for e in log)
    rona = [e for e in log if isinstance(e, PresenceChanged) and e.reason == "rona"]
    ready = [e for e in log if isinstance(e, PresenceChanged) and e.reason == "ready again"]
    assert rona and ready and ready[0].at == rona[0].at + 30


def test_trace_replay_submits_each_record() -> None:
    trace = parse_trace(
        "arrival,channel,queue,skills,priority,customer,handle_time,patience\n"
        "09:00:05,voice,q,en:3,0,c1,100,\n"
        "32410,chat,q,,30,c2,50,20\n"
        "09:05:00,voice,q,en:1,0,,10,\n",
        "t.csv",
    )
    sc = parse_scenario(scenario(), "test.toml").with_trace(trace)
    result = Simulation(sc, keep_events=True).run()
    queued = [(e.at, e.channel) for e in result.event_log if isinstance(e, Queued)]  # type: ignore[union-attr]
    assert queued == [(32405.0, "voice"), (32410.0, "chat"), (32700.0, "voice")]
    assert result.report.total.aht == pytest.approx((100 + 50 + 10) / 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[simulation\n", "test.toml: not valid TOML"),
        (
            "[simulation]\nstart = 'noon'\n[[queues]]\nname='q'",
            r"\[simulation\], field 'start': expected a time",
        ),
        (
            "[[queues]]\nname = 'q'\nstrategy = 'fastest'",
            r"\[\[queues\]\] #1, field 'strategy': unknown strategy 'fastest'",
        ),
        (
            "[[queues]]\nname = 'q'\nservice_level = '80%'",
            r"field 'service_level': expected percent/seconds such as 80/20",
        ),
        (
            "[[queues]]\nname = 'q'\ncolour = 'red'",
            r"\[\[queues\]\] #1: unknown field\(s\) 'colour'",
        ),
        (
            "[[queues]]\nname = 'q'\n[[agents]]\nname = 'a'\nqueues = ['nope']",
            r"\[\[agents\]\] #1, field 'queues': unknown queue 'nope'",
        ),
        (
            "[[queues]]\nname = 'q'\n[[agents]]\nname = 'a'\nqueues = ['q']\nskills = { en = 11 }",
            r"field 'skills': level of skill 'en' must be an integer in 1..10, got 11",
        ),
        (
            "[[queues]]\nname = 'q'\n[[arrivals]]\nqueue = 'q'\nrate = 'lots'\n"
            "handle_time = { mean = 60 }",
            r"\[\[arrivals\]\] #1, field 'rate'",
        ),
        (
            "[[queues]]\nname = 'q'\n[[arrivals]]\nqueue = 'q'\nrate = 10\n",
            r"\[\[arrivals\]\] #1, field 'handle_time': missing required field",
        ),
        (
            "[[queues]]\nname = 'q'\n[[arrivals]]\nqueue = 'q'\nprofile = [1, 2]\n"
            "handle_time = { mean = 60 }",
            "expected 20 rates \\(one per interval\\), got 2",
        ),
        (
            "[[queues]]\nname = 'q'\n[[arrivals]]\nqueue = 'q'\nrate = 10\n"
            "handle_time = { distribution = 'gamma', mean = 60 }",
            "unknown distribution 'gamma'",
        ),
        (
            "[simulation]\nstart = '10:00'\nend = '09:00'\n[[queues]]\nname = 'q'",
            "must end after it starts",
        ),
        ("", "at least one \\[\\[queues\\]\\] table is required"),
    ],
)
def test_bad_scenarios_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message) as info:
        parse_scenario(text, "test.toml")
    assert isinstance(info.value, InputError)
    assert "test.toml" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("arrival,channel\n1,voice\n", "missing column"),
        (
            "arrival,channel,queue,skills,priority,customer,handle_time,patience\nx,voice,q,,0,,1,\n",
            "t.csv line 2",
        ),
        (
            "arrival,channel,queue,skills,priority,customer,handle_time,patience\n"
            "10,voice,q,en:12,0,,1,\n",
            "line 2: malformed",
        ),
        (
            "arrival,channel,queue,skills,priority,customer,handle_time,patience\n"
            "10,voice,q,,0,,1,\n5,voice,q,,0,,1,\n",
            "line 3: rows must be in arrival order",
        ),
    ],
)
def test_bad_traces_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_trace(text, "t.csv")


@pytest.mark.parametrize("name", ["contact_centre.toml", "erlang_c.toml"])
def test_example_scenarios_parse_and_run(name: str) -> None:
    sc = parse_scenario((EXAMPLES / name).read_text(), name)
    result = simulate(sc)
    total = result.report.total
    assert total.offered > 1000
    assert 0 < (total.service_level() or 0) <= 1
    assert math.isfinite(total.asa or math.nan)


def test_contact_centre_example_is_what_the_issue_asks_for() -> None:
    sc = parse_scenario((EXAMPLES / "contact_centre.toml").read_text(), "contact_centre.toml")
    assert sum(g.count for g in sc.agents) >= 60
    assert {a.channel for a in sc.arrivals} >= {"voice", "chat", "email"}
    assert {q.name for q in sc.queues} >= {"sales", "support", "billing"}
    assert any(a.vip_share for a in sc.arrivals)
    assert any(a.patience.kind != "none" for a in sc.arrivals)
    assert any(len(a.rates) > 1 and max(a.rates) > 2 * min(a.rates) for a in sc.arrivals)


# ------------------------------------ routing policies: ring-all, time-outs, overflow
#
# These drive the router's queue policies (QueueConfig.ring, max_wait, overflow)
# and RoutingPolicy through the simulator; the router itself raises if the
# simulator accepts an offer it no longer holds or abandons a contact that left.

TWO_GROUPS = """
[simulation]
start = "09:00"
end = "10:00"
seed = 5

[[queues]]
name = "q"
offer_timeout = 20

[[queues]]
name = "spill"
offer_timeout = 20

[[agents]]
name = "fast"
count = 2
queues = ["q"]
answer_seconds = 2

[[agents]]
name = "slow"
count = 2
queues = ["q"]
answer_seconds = 6
no_answer_probability = 0.2

[[agents]]
name = "back"
count = 1
queues = ["spill"]
answer_seconds = 1

[[arrivals]]
queue = "q"
channel = "voice"
rate = "90/h"
handle_time = { distribution = "exponential", mean = 150 }
patience = { distribution = "exponential", mean = 600 }
"""


def policy_scenario(**queue_changes: object) -> Scenario:
    sc = parse_scenario(TWO_GROUPS, "policies.toml")
    q, spill = sc.queues
    return attrs.evolve(sc, queues=(attrs.evolve(q, **queue_changes), spill))


def _balanced(stats: GroupStats) -> None:
    assert (
        stats.answered + stats.abandoned + stats.timed_out + stats.transferred_out + stats.in_flight
        == stats.offered
    )


def test_ring_offers_are_answered_once_and_rescinded_offers_never_accepted() -> None:
    result = Simulation(policy_scenario(ring=3), keep_events=True).run()
    log = result.event_log
    assert log is not None
    offered: dict[str, set[str]] = {}
    for e in log:
        if isinstance(e, Offered):
            offered.setdefault(e.contact_id, set()).add(e.agent_id)
    assert any(len(agents) > 1 for agents in offered.values())  # it did ring
    rescinded = [e for e in log if isinstance(e, OfferRescinded)]
    assert any(e.reason.startswith("answered by ") for e in rescinded)
    accepted = [e.contact_id for e in log if isinstance(e, Accepted)]
    assert len(accepted) == len(set(accepted))  # one answer per contact
    # fast agents answer every offer they still hold after 2 s: none of theirs
    # times out, whichever other agents the contact rang at once
    assert not any(isinstance(e, OfferTimedOut) and e.agent_id.startswith("fast-") for e in log)
    # a slow agent whose ring was answered by a fast one never accepted it
    for e in rescinded:
        assert not any(
            isinstance(a, Accepted) and a.contact_id == e.contact_id and a.agent_id == e.agent_id
            for a in log
        )
    total = result.report.total
    _balanced(total)
    assert total.in_flight == 0 and result.stranded == 0
    assert total.answered == len(accepted)


def test_timed_out_contacts_are_gone_and_never_abandon() -> None:
    # Long patience, a 30 s maximum wait and no overflow: many contacts time out,
    # and their patience runs out later, when they are gone.
    result = Simulation(policy_scenario(max_wait=30.0), keep_events=True).run()
    log = result.event_log
    assert log is not None
    left = {e.contact_id: e.at for e in log if isinstance(e, TimedOut)}
    assert left
    assert not any(isinstance(e, Abandoned) and e.contact_id in left for e in log)
    # nothing happens to a contact after it timed out
    assert not any(
        getattr(e, "contact_id", None) in left and e.at > left[e.contact_id] for e in log
    )
    total = result.report.total
    _balanced(total)
    assert total.timed_out == len(left)
    assert total.in_flight == 0 and result.stranded == 0


def test_overflowed_contacts_wait_on_in_the_overflow_queue() -> None:
    result = Simulation(policy_scenario(max_wait=15.0, overflow="spill"), keep_events=True).run()
    log = result.event_log
    assert log is not None
    moved = [e for e in log if isinstance(e, Overflowed)]
    assert moved and all((e.from_queue, e.to_queue) == ("q", "spill") for e in moved)
    report = result.report
    assert report.queues["q"].transferred_out == len(moved)
    assert report.queues["spill"].offered == len(moved)
    assert report.queues["spill"].answered > 0
    for stats in (*report.queues.values(), report.total):
        _balanced(stats)
    assert report.total.in_flight == 0 and result.stranded == 0


def test_the_scenario_policy_reaches_the_router() -> None:
    sc = attrs.evolve(
        policy_scenario(), policy=RoutingPolicy(ramp_up=RampUp(seconds=60.0, accepted=None))
    )
    result = Simulation(sc, keep_events=True).run()
    assert result.event_log is not None
    assert any(isinstance(e, RampUpEnded) for e in result.event_log)
    plain = Simulation(policy_scenario(), keep_events=True).run()
    assert plain.event_log is not None
    assert not any(isinstance(e, RampUpEnded) for e in plain.event_log)


def test_refused_contacts_are_gone_and_never_abandon() -> None:
    # A full queue refuses callers who would have run out of patience later:
    # the simulation goes on, and nothing happens to a refused contact after.
    result = Simulation(policy_scenario(max_size=2), keep_events=True).run()
    log = result.event_log
    assert log is not None
    refused = {e.contact_id: e.at for e in log if isinstance(e, Refused)}
    assert refused
    assert not any(
        getattr(e, "contact_id", None) in refused and e.at > refused[e.contact_id] for e in log
    )
    total = result.report.total
    assert total.refused == len(refused)
    assert total.in_flight == 0 and result.stranded == 0
