"""The router reproduces its recorded event streams, event for event, on both twins.

``tests/streams/streams-v1.jsonl.gz`` and ``streams-v2.jsonl.gz`` hold
scenarios recorded from the router by ``tests/streams/make_streams.py`` (the
format is in ``tests/streams/streams_format.py``): a router's set-up, every
call with its arguments, and what each call returned (its events, a tick's
next due time, an explanation, an answer) or raised (the class and message),
and what the router showed at the end. Version 1 pins the routing decisions
of before the restructuring; version 2 those of the calls and settings
added since (business hours, scheduled callbacks, dispositions, masking, the
estimated wait). Replaying every scenario on the compiled and on the pure
universal queue must give exactly the recorded outcomes. A routing change
that is intended regenerates them (docs/testing.md); the files are never
edited by hand.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "streams"))

from make_streams import Builder
from streams_format import FIXTURES, QUERIES, Scenario, difference, read, read_all, replay_all

from ccroute import codec
from ccroute.commands import COMMANDS

#: Events of the service's inbound pipeline: the router never makes them.
SERVICE_EVENTS = {
    "flow_started",
    "flow_advanced",
    "flow_finished",
    "customer_enriched",
    "offer_delivered",
    "history_recorded",
}
#: Failures shown in full; the rest are counted.
SHOWN = 5


@cache
def scenarios() -> tuple[Scenario, ...]:
    return tuple(read_all())


def test_the_router_reproduces_every_recorded_stream(queue_factory: Callable[[], Any]) -> None:
    """Every scenario of both files, on the twin ``queue_factory`` gives the routers
    it makes."""
    mismatches = list(replay_all(scenarios()))
    if mismatches:
        shown = "\n\n".join(str(m) for m in mismatches[:SHOWN])
        more = len(mismatches) - SHOWN
        pytest.fail(
            f"{len(mismatches)} of {len(scenarios())} recorded scenarios are not reproduced "
            f"(first differences below{f'; {more} more' if more > 0 else ''}). If the routing "
            "change is intended, regenerate the streams and say why in the commit "
            f"(docs/testing.md).\n\n{shown}",
            pytrace=False,
        )


def test_the_fixtures_hold_enough_scenarios() -> None:
    assert [p.name for p in FIXTURES] == ["streams-v1.jsonl.gz", "streams-v2.jsonl.gz"]
    per_version = Counter(s.version for s in scenarios())
    assert per_version[1] >= 500
    assert per_version[2] >= 300
    for path in FIXTURES:
        header, held = read(path)
        assert path.name == f"streams-v{header.version}.jsonl.gz"
        assert {s.version for s in held} == {header.version}
    numbers = [s.scenario for s in scenarios()]
    assert len(set(numbers)) == len(numbers)


def test_the_fixtures_cover_every_command_and_every_router_event() -> None:
    """Over both files: every command made, every router event seen, every kind of
    refusal, every question answered."""
    made: set[str] = set()
    refused: set[str] = set()
    tags: set[str] = set()
    for scenario in scenarios():
        for call in scenario.calls:
            if call.raised is not msgspec.UNSET:
                refused.add(call.raised[0])
            else:
                made.add(call.call)
            if call.events is not msgspec.UNSET:
                tags.update(codec.tag_of(type(e)) for e in codec.decode_events(bytes(call.events)))
    assert made >= {*COMMANDS, *QUERIES, "clock", "explain", "explain_agent"}
    assert sorted(set(codec.EVENT_TAGS) - SERVICE_EVENTS - tags) == []
    assert refused >= {
        "ClockError",
        "DuplicateIdError",
        "InvalidStateError",
        "InvalidValueError",
        "UnknownIdError",
    }


def _events(scenario: Scenario) -> list[Any]:
    return [
        e
        for call in scenario.calls
        if call.events is not msgspec.UNSET
        for e in codec.decode_events(bytes(call.events))
    ]


def test_version_2_records_the_decisions_of_the_features_added_since() -> None:
    """What issue 16 added is decided in the recorded streams: closed queues refuse
    and hold, callbacks are scheduled, retried, left unreached and cancelled,
    dispositions are kept, and waits, opening hours and explanations of closed
    queues and scheduled callbacks are answered."""
    v2 = [s for s in scenarios() if s.version == 2]
    reasons: set[tuple[str, str]] = set()
    dispositions: set[str] = set()
    for scenario in v2:
        for e in _events(scenario):
            reason = getattr(e, "reason", None)
            if isinstance(reason, str):
                reasons.add((type(e).__name__, reason))
            disposition = getattr(e, "disposition", None)
            if disposition is not None:
                dispositions.add(disposition)
    assert {
        ("Refused", "closed"),
        ("CallbackScheduled", "closed"),
        ("CallbackScheduled", "requested"),
        ("CallbackScheduled", "retry"),
        ("CallbackClosed", "unreached"),
        ("CallbackClosed", "cancelled"),
    } <= reasons
    assert dispositions == {"sale", "no-sale", "callback"}
    assert {s.router.epoch != 0 for s in v2} == {True, False}
    masking_off = [s for s in v2 if s.router.masking is not None and not s.router.masking.enabled]
    assert masking_off
    answers: dict[str, list[Any]] = {name: [] for name in QUERIES}
    for scenario in v2:
        for call in scenario.calls:
            if call.call in QUERIES and call.result is not msgspec.UNSET:
                answers[call.call].append(msgspec.json.decode(bytes(call.result)))
    for name in ("estimated_wait", "estimate_wait"):
        waits = answers[name]
        assert None in waits and 0 in waits and any(w for w in waits if w), name
    assert None in answers["handle_time"] and any(answers["handle_time"])
    assert set(answers["is_open"]) == {True, False}
    assert all(isinstance(at, float) for at in answers["next_open"])
    explained = [
        msgspec.json.decode(bytes(call.result))
        for scenario in v2
        for call in scenario.calls
        if call.call == "explain" and call.result is not msgspec.UNSET
    ]
    assert {e["queue_open"] for e in explained} == {True, False}
    assert any(e["callback_due"] is not None for e in explained)


#: Raw sensitive values the version-2 scenarios put in contacts' attributes.
RAW = ("4111 1111 1111 1111", "219-09-9999", "hunter2")


def _held_attributes(scenario: Scenario) -> str:
    """Every contact's attributes the scenario recorded (answers and summary), as JSON."""
    held = [
        bytes(call.result).decode()
        for call in scenario.calls
        if call.call == "contact" and call.result is not msgspec.UNSET
    ]
    details = msgspec.json.decode(bytes(scenario.summary))["details"]
    return " ".join([*held, msgspec.json.encode(details).decode()])


def test_version_2_records_attributes_masked_unless_masking_is_off() -> None:
    masked = off = 0
    for scenario in (s for s in scenarios() if s.version == 2):
        held = _held_attributes(scenario)
        rules = scenario.router.masking
        if rules is None or rules.enabled:
            assert not any(raw in held for raw in RAW), scenario.scenario
            masked += "**** **** **** " in held
        else:
            off += any(raw in held for raw in RAW)
    assert masked and off


@pytest.mark.parametrize("version", [1, 2])
def test_the_script_draws_the_recorded_scenarios_again(version: int) -> None:
    """make_streams.py still generates the scenarios each file holds, as values
    (version 1's commands are written today with the log format's newer fields
    at their defaults, so its bytes would differ): the generator of either
    version has not drifted from what was recorded."""
    held = [s for s in scenarios() if s.version == version][::25]
    for recorded in held:
        made = Builder(recorded.scenario, version).build()
        assert difference(recorded, made) is None, recorded.scenario
