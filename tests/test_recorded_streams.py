"""The router reproduces its recorded event streams, event for event, on both twins.

``tests/streams/streams-v1.jsonl.gz`` holds scenarios recorded from the
router by ``tests/streams/make_streams.py`` (the format is in
``tests/streams/streams_format.py``): a router's set-up, every call with its
arguments, and what each call returned (its events, a tick's next due time,
an explanation) or raised (the class and message), and what the router showed
at the end. They pin today's routing decisions: replaying every scenario on
the compiled and on the pure universal queue must give exactly the recorded
outcomes. A routing change that is intended regenerates them (docs/testing.md);
the files are never edited by hand.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "streams"))

from streams_format import FIXTURES, Scenario, read_all, replay_all

from ccroute import codec
from ccroute.commands import COMMANDS

#: Events of the service's inbound pipeline: the router never makes them.
SERVICE_EVENTS = {"flow_finished", "customer_enriched", "offer_delivered", "history_recorded"}
#: Failures shown in full; the rest are counted.
SHOWN = 5


@cache
def scenarios() -> tuple[Scenario, ...]:
    return tuple(read_all())


def test_the_router_reproduces_every_recorded_stream(queue_factory: Callable[[], Any]) -> None:
    """Every scenario, on the twin ``queue_factory`` gives the routers it makes."""
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
    assert [p.name for p in FIXTURES] == ["streams-v1.jsonl.gz"]
    numbers = [s.scenario for s in scenarios()]
    assert len(numbers) >= 500
    assert len(set(numbers)) == len(numbers)


def test_the_fixtures_cover_every_command_and_every_router_event() -> None:
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
    assert made >= {*COMMANDS, "clock", "explain", "explain_agent"}
    assert sorted(set(codec.EVENT_TAGS) - SERVICE_EVENTS - tags) == []
    assert refused >= {
        "ClockError",
        "DuplicateIdError",
        "InvalidStateError",
        "InvalidValueError",
        "UnknownIdError",
    }
