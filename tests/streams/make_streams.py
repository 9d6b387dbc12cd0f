"""Record the router's event streams on random scenarios. Run by a person, never by the tests.

    .venv/bin/python tests/streams/make_streams.py [--version 1|2] [--count N] [--source TEXT]

It writes ``tests/streams/streams-v{version}.jsonl.gz`` (the format is in
``streams_format.py``; version 2 by default): ``--count`` scenarios (1,000
for version 1, 400 for version 2 by default), numbered from 0 (version 1) or
10,000 (version 2), scenario ``n`` generated from ``random.Random(n)`` (not
hypothesis: the same code gives the same scenarios on every run), each run
on the router as it is. Version 1 draws exactly what it drew when
``streams-v1.jsonl.gz`` was recorded (the settings and calls of that time
only); version 2 draws those and the calls and settings added since:
business hours read through an epoch, scheduled callbacks and their retries,
dispositions, masking, and the router's answers (estimated waits, handle
times, opening hours).

A scenario sets up a router (channels, a routing policy, custom strategies
from ``streams_format.STRATEGIES``, queues, exclusions, agents), makes a few
dozen random calls (every tenth scenario: a few hundred, with up to 30
agents) of every command of ``ccroute.commands``, clock moves and ticks,
refused calls of every kind and explanations, and lets its timers run out;
every outcome is recorded. The same code, router and log format give the
same bytes (so version 1's are no longer those of its file: the log format
has gained fields since, which its commands are written with; its
scenarios are the same values, which ``tests/test_recorded_streams.py``
checks).

Recording needs the compiled twin. Before writing, the script replays the
recorded scenarios in two subprocesses, on the compiled twin and on the pure
one (``CCROUTE_PURE_PYTHON=1``), each under its own ``PYTHONHASHSEED``: a
scenario either replay does not reproduce, or one where the router raised
something other than a ``CCRouteError``, is left out of the fixture and
listed (a bug to report). It prints what the scenarios cover.

Regenerate only when a routing change is intended, and say why in the
commit (docs/testing.md). ``--show N`` prints scenario ``N`` of the fixtures
(version 2's are numbered from 10,000), a call a line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import msgspec
from streams_format import (
    FIXTURES,
    HERE,
    KIND,
    QUERIES,
    STRATEGIES,
    VERSION,
    VERSIONS,
    Call,
    Header,
    MaskingData,
    Outcome,
    Scenario,
    ScriptedClock,
    Setup,
    file_name,
    perform,
    read,
    replay_all,
    summarise,
    write,
)

import ccroute
from ccroute import (
    BUILTIN_CHANNELS,
    Admission,
    Agent,
    BusinessHours,
    Channel,
    ChannelKind,
    Contact,
    ContactState,
    Presence,
    QueueConfig,
    RampUp,
    Router,
    RoutingPolicy,
    RoutingStep,
    Strategy,
    WhenClosed,
    codec,
    errors,
)
from ccroute.commands import (
    COMMANDS,
    Abandon,
    Accept,
    AddAgent,
    AddChannel,
    AddExclusion,
    AddQueue,
    AddQueues,
    CallbackUnansweredCall,
    Command,
    Complete,
    EndWrapUp,
    Note,
    Reject,
    RemoveAgent,
    RemoveExclusion,
    RequestCallback,
    ScheduleCallback,
    SetCapacity,
    SetPresence,
    Submit,
    Transfer,
    UpdateAgent,
    UpdateContact,
    UpdateQueue,
)
from ccroute.events import Event, Offered
from ccroute.model import MAX_SECONDS, MAX_TIER

#: How many scenarios each version records by default.
COUNT = {1: 1000, 2: 400}
#: The number of each version's first scenario: numbers are unique over the files.
FIRST = {1: 0, 2: 10_000}
#: Every LARGE-th scenario is a large one: more agents, many more calls.
LARGE = 10

SKILLS = ("en", "fr", "tech")
CUSTOMERS = ("k1", "k2", "k3")
QUEUE_NAMES = ("q0", "q1", "q2")
#: A queue added while the router runs.
LATE_QUEUE = "q3"
#: Agents exclusions may name (not all of them exist).
AGENT_NAMES = ("a1", "a2", "a3", "a4", "a5", "n1", "n2")
#: Channels of blocking matrices and reservations.
POLICY_CHANNELS = ("voice", "chat", "email", "callback")
#: Channels contacts arrive on, weighted (``phone`` joins once added).
SUBMIT_CHANNELS = ("voice", "voice", "chat", "chat", "email", "email", "callback", "sms")
PRESENCES = (Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE)
STRATEGY_CHOICES: tuple[Strategy | str, ...] = (*Strategy, *Strategy, *STRATEGIES)

#: Voice excludes other work.
EXCLUSIVE_VOICE = tuple(attrs.evolve(c, exclusive=c.name == "voice") for c in BUILTIN_CHANNELS)
#: A set of channels of our own: voice exclusive, sms at default capacity 0.
OWN_CHANNELS = (
    Channel("voice", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100, exclusive=True),
    Channel("callback", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=60),
    Channel("chat", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=2, unit_cost=40),
    Channel("email", ChannelKind.ASYNCHRONOUS, default_capacity=4, unit_cost=10),
    Channel("sms", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=0, unit_cost=20),
)
#: A channel added while the router runs (agents added before get capacity 0 on it).
PHONE = Channel("phone", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=60, exclusive=True)

#: How often each operation is drawn.
OPERATIONS: dict[str, float] = {
    "submit": 10,
    "accept": 8,
    "reject": 3,
    "complete": 5,
    "end_wrap_up": 3,
    "abandon": 2,
    "transfer": 2,
    "callback": 1,
    "presence": 3,
    "capacity": 2,
    "add_agent": 1,
    "remove_agent": 1,
    "exclude": 1.5,
    "unexclude": 1,
    "rejoin": 1,
    "update_queue": 1.5,
    "update_agent": 1.5,
    "update_contact": 1.5,
    "add_queue": 0.3,
    "add_channel": 0.3,
    "note": 0.2,
    "advance": 6,
    "advance_only": 1.5,
    "to_due": 1.5,
    "tick": 0.5,
    "clock_back": 0.3,
    "bad": 3,
    "explain": 1.5,
    "explain_agent": 0.7,
}

_S = ContactState

#: The queue settings version 1 draws (QueueConfig's fields when it was
#: recorded, in their order): its draws must stay what they were.
V1_QUEUE_FIELDS = (
    "strategy",
    "service_level_threshold",
    "steps",
    "max_size",
    "offer_timeout",
    "wrap_up",
    "rona_not_ready",
    "blocking",
    "ring",
    "max_wait",
    "overflow",
    "overflow_keep_key",
    "skip_if_no_agent",
    "admission",
    "rejoin_window",
    "priority_seconds",
)
#: And those version 2 draws besides (business hours, dispositions).
V2_QUEUE_FIELDS = (
    *V1_QUEUE_FIELDS,
    "calendar",
    "when_closed",
    "callback_retries",
    "dispositions",
    "disposition_required",
)

# ------------------------------------------------- version 2: what it adds

#: Version 2's further operations and their weights.
OPERATIONS_V2: dict[str, float] = {
    **OPERATIONS,
    "schedule": 1.5,
    "unanswered": 1.5,
    "leap": 1.0,
    "to_opening": 1.2,
    "query": 3.0,
    "contact_query": 0.7,
}
#: Where a scenario's day starts, in wall time: a zone and a local date (all
#: away from daylight-saving changes), at 08:58 local time there; its
#: queues' calendars open and close in the minutes around it, each in a zone
#: of its own.
HOME_DAYS = (
    ("Europe/Paris", date(2026, 3, 10)),
    ("America/New_York", date(2026, 7, 3)),
    ("UTC", date(2026, 12, 24)),
    ("Asia/Kolkata", date(2026, 11, 2)),
)
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Tokyo")
#: Opening ranges, minutes after the day's start (negative: before it).
OPENINGS = (
    ((-10, 3), (6, 40)),  # open; closes in 3 minutes, opens again 3 minutes later
    ((2, 30),),  # closed; opens in 2 minutes
    ((-60, 120),),  # open all through
    ((-2, 1), (3, 5), (8, 60)),  # open and closed by turns
    ((15, 45),),  # opens a quarter of an hour in
)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Dispositions of a queue that has them.
DISPOSITIONS = ("sale", "no-sale", "callback")
#: Attributes with sensitive data, for the masking rules.
SENSITIVE_ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {"card": "4111 1111 1111 1111", "note": "vip"},
    {"message": "my ssn is 219-09-9999, call me"},
    {"password": "hunter2", "Security-Code": 737, "pin": "2468"},
    {"profile": {"billing": [{"pan": 4111111111111111, "iban": "FR76 3000"}], "tags": ["a"]}},
    {"order": "ORD-12345", "account": "acc-991", "phone": "+33 6 12 34 56 78"},
    {"chat": ["hi", "card 5500-0000-0000-0004 exp 12/26", {"ssn": 123456789}]},
)
#: The masking rules a version-2 scenario's router is given (``None``: the default).
MASKINGS = (
    None,
    None,
    None,
    MaskingData(enabled=False),
    MaskingData(more_fields=["account", "profile.billing"], patterns=[r"ORD-\d+"], keep_last=2),
)


# ------------------------------------------------------------- the generator


class Builder:
    """Generates and records one scenario of format ``version``:
    ``random.Random(number)`` draws every choice."""

    def __init__(self, number: int, version: int = 1) -> None:
        self.number = number
        self.version = version
        self.large = number % LARGE == LARGE - 1
        rng = self.rng = random.Random(number)
        channels = rng.choice([BUILTIN_CHANNELS, BUILTIN_CHANNELS, EXCLUSIVE_VOICE, OWN_CHANNELS])
        self.setup = Setup.of(
            seed=rng.randrange(2**16),
            clock=rng.choice([0.0, 0.0, 0.0, 12.25, 1_700_000_000.0]),
            channels=channels,
            policy=self.routing_policy(),
            strategies=sorted(STRATEGIES),
            offer_reasons=rng.random() < 0.9,
        )
        #: the wall time (Unix seconds) the scenario's day starts at
        self.day_start = 0.0
        if version >= 2:
            zone, day = rng.choice(HOME_DAYS)
            self.day_start = datetime(
                day.year, day.month, day.day, 8, 58, tzinfo=ZoneInfo(zone)
            ).timestamp()
            # The router's time 0 at the day's start, a little before it, or a
            # router on Unix time (as a service's): the calendars read the same.
            clock = rng.choice([0.0, 0.0, 12.25, self.day_start])
            self.setup = msgspec.structs.replace(
                self.setup, clock=clock, epoch=self.day_start - clock, masking=rng.choice(MASKINGS)
            )
        self.clock = ScriptedClock(self.setup.clock)
        self.router: Router = self.setup.router(self.clock)
        self.calls: list[Call] = []
        #: calls that raised something other than a CCRouteError: (index, class, message)
        self.internal: list[tuple[int, str, str]] = []
        self.channels = [ch.name for ch in channels]
        self.queue_names: list[str] = []
        #: each agent's declaration, as last accepted
        self.specs: dict[str, Agent] = {}
        self.contacts = 0
        self.added = 0

    # ------------------------------------------------------------- recording

    def perform(self, request: Call) -> Outcome | None:
        outcome = perform(self.router, self.clock, request, self.version)
        if outcome is None:
            self.calls.append(request)
            return None
        if outcome.raised is not None and outcome.raised[0] not in errors.__all__:
            self.internal.append((len(self.calls), *outcome.raised))
        self.calls.append(outcome.record(request))
        return outcome

    def command(self, command: Command) -> Outcome:
        outcome = self.perform(Call(command.name, args=msgspec.Raw(codec.encode_command(command))))
        assert outcome is not None
        return outcome

    def accepted(self, command: Command) -> bool:
        """Make the call; whether it returned (was not refused)."""
        return self.command(command).raised is None

    def set_clock(self, at: float) -> None:
        self.perform(Call("clock", at=float(at)))

    def tick(self) -> None:
        self.perform(Call("tick"))

    def explain(self, contact_id: str) -> None:
        self.perform(Call("explain", id=contact_id))

    def explain_agent(self, agent_id: str) -> None:
        self.perform(Call("explain_agent", id=agent_id))

    def query(self, name: str, **arguments: Any) -> None:
        """Ask the router ``name`` (:data:`streams_format.QUERIES`) with these arguments."""
        assert name in QUERIES
        self.perform(Call(name, args=msgspec.Raw(msgspec.json.encode(arguments))))

    def ask(self, name: str, contact_id: str) -> None:
        """Ask the router ``name`` about a contact."""
        assert name in QUERIES
        self.perform(Call(name, id=contact_id))

    # ---------------------------------------------------------------- values

    def routing_policy(self) -> RoutingPolicy:
        rng = self.rng
        ramp = None
        if rng.random() < 0.3:
            seconds = rng.choice([None, 8.0, 40.0])
            accepted = rng.choice([1, 2] if seconds is None else [None, 1, 2])
            ramp = RampUp(seconds=seconds, accepted=accepted)
        return RoutingPolicy(
            blocking=self.blocking() if rng.random() < 0.3 else {},
            reserve_for=rng.choice(
                [frozenset(), frozenset(), frozenset({"voice"}), frozenset({"voice", "callback"})]
            ),
            ramp_up=ramp,
        )

    def blocking(self) -> dict[str, set[str]]:
        rng = self.rng
        return {
            holding: set(rng.sample(POLICY_CHANNELS, rng.randint(1, 2)))
            for holding in rng.sample(POLICY_CHANNELS, rng.randint(1, 2))
        }

    def requirements(self, most: int = 7) -> dict[str, int]:
        rng = self.rng
        skills = rng.sample(SKILLS, rng.choice([0, 0, 1, 1, 2]))
        return {s: rng.randint(1, most) for s in skills}

    def steps(self, names: Sequence[str]) -> list[RoutingStep]:
        rng = self.rng
        afters = sorted(rng.sample([0.0, 5.0, 15.0, 40.0], rng.choice([0, 0, 1, 1, 2])))
        return [
            RoutingStep(
                after=after,
                requirements={
                    s: rng.choice([None, rng.randint(1, 10)])
                    for s in rng.sample(SKILLS, rng.randint(0, 2))
                },
                queues=set(rng.sample(list(names), rng.choice([0, 0, 1]))),
            )
            for after in afters
        ]

    def queue_field(self, name: str, field: str, names: Sequence[str]) -> Any:
        """A random value for one field of a queue's config."""
        rng = self.rng
        choices: dict[str, Callable[[], Any]] = {
            "strategy": lambda: rng.choice(STRATEGY_CHOICES),
            "service_level_threshold": lambda: rng.choice([20.0, 20.0, 10.0]),
            "steps": lambda: self.steps(names),
            "max_size": lambda: rng.choice([None, None, 3]),
            "offer_timeout": lambda: rng.choice([None, 10.0, 30.0]),
            "wrap_up": lambda: rng.choice([0.0, 5.0, None]),
            "rona_not_ready": lambda: rng.random() < 0.5,
            "blocking": lambda: self.blocking() if rng.random() < 0.25 else {},
            "ring": lambda: rng.choice([1, 1, 2, 3]),
            "max_wait": lambda: rng.choice([None, None, 12.0, 40.0]),
            "overflow": lambda: rng.choice([None, None, *names]),
            "overflow_keep_key": lambda: rng.random() < 0.5,
            "skip_if_no_agent": lambda: rng.random() < 0.3,
            "admission": lambda: rng.choice(
                [Admission.ALWAYS, Admission.ALWAYS, Admission.LOGGED_IN, Admission.ELIGIBLE]
            ),
            "rejoin_window": lambda: rng.choice([None, None, 20.0]),
            "priority_seconds": lambda: rng.choice([0.0, 0.0, 15.0, -10.0]),
            "calendar": lambda: self.calendar() if rng.random() < 0.6 else None,
            "when_closed": lambda: rng.choice(list(WhenClosed)),
            "callback_retries": lambda: rng.choice([(), (30.0,), (20.0, 60.0), (5.0, 5.0, 5.0)]),
            "dispositions": lambda: rng.choice([(), (), DISPOSITIONS]),
            "disposition_required": lambda: rng.random() < 0.5,
        }
        return choices[field]()

    def queue_fields(self) -> tuple[str, ...]:
        return V1_QUEUE_FIELDS if self.version == 1 else V2_QUEUE_FIELDS

    def queue_config(self, name: str, names: Sequence[str]) -> QueueConfig:
        values = {f: self.queue_field(name, f, names) for f in self.queue_fields()}
        return QueueConfig(name, **_consistent(values))

    def calendar(self) -> BusinessHours | dict[str, Any]:
        """Opening hours that open and close in the minutes around the day's start,
        in a zone of their own; now and then closed that day (a holiday) or open
        other hours (a special day), and open the next day too. As a value or as
        the mapping a TOML file gives."""
        rng = self.rng
        zone = ZoneInfo(rng.choice(ZONES))

        def local(minutes: float) -> datetime:
            return datetime.fromtimestamp(self.day_start + 60 * minutes, zone)

        def hours(ranges: Sequence[tuple[int, int]]) -> dict[str, list[str]]:
            days: dict[str, list[str]] = {}
            for start, end in ranges:
                first, last = local(start), local(end)
                days.setdefault(WEEKDAYS[first.weekday()], []).append(f"{first:%H:%M}-{last:%H:%M}")
            return days

        weekly = hours(rng.choice(OPENINGS))
        today = local(0).date()
        if rng.random() < 0.5:
            tomorrow = WEEKDAYS[(today + timedelta(days=1)).weekday()]
            weekly.setdefault(tomorrow, ["08:00-18:00"])
        mapping: dict[str, Any] = {"timezone": zone.key, "weekly": weekly}
        draw = rng.random()
        if draw < 0.15:
            mapping["holidays"] = [today.isoformat()]
        elif draw < 0.3:
            mapping["special"] = {today.isoformat(): next(iter(hours([(5, 25)]).values()))}
        return mapping if rng.random() < 0.5 else BusinessHours.from_mapping(mapping)

    def agent_spec(self, agent_id: str) -> Agent:
        rng = self.rng
        names = self.queue_names
        capacity = None
        if rng.random() < 0.5:
            channels = rng.sample(self.channels, rng.randint(1, len(self.channels)))
            capacity = {ch: rng.randint(0, 3) for ch in channels}
        delays: dict[str, float] = {}
        if rng.random() < 0.3:
            delays = {
                q: rng.choice([0.0, 6.0, 20.0, 20.0])
                for q in rng.sample(names, rng.randint(1, min(2, len(names))))
            }
        return Agent(
            agent_id,
            skills={s: rng.randint(1, 10) for s in rng.sample(SKILLS, rng.randint(1, 3))},
            queues=set(rng.sample(names, rng.randint(1, len(names)))),
            capacity=capacity,
            unit_budget=rng.choice([None, None, None, 100, 150]),
            queue_delays=delays,
        )

    def new_contact_id(self) -> str:
        self.contacts += 1
        return f"c{self.contacts}"

    def contact(self, **fixed: Any) -> Contact:
        rng = self.rng
        preferred = None
        if rng.random() < 0.2:
            preferred = rng.choice([*self.router.agent_ids, "ghost"])
        values: dict[str, Any] = {
            "channel": rng.choice(
                [*SUBMIT_CHANNELS, *(["phone"] if "phone" in self.channels else [])]
            ),
            "queue": rng.choice(self.queue_names),
            "requirements": self.requirements(),
            "priority_seconds": rng.choice([0.0, 0.0, 0.0, 10.0, -5.0]),
            "tier": rng.choice([0] * 8 + [1, -1]),
            "customer_id": rng.choice([None, *CUSTOMERS]),
            "attributes": rng.choice(self.attribute_choices()),
            "preferred_agent": preferred,
            "preferred_wait": rng.choice([0.0, 5.0, 20.0]) if preferred else 0.0,
            "excluded_agents": set(rng.sample(AGENT_NAMES, rng.choice([0, 0, 0, 1, 2]))),
            "max_wait": rng.choice([None, None, 8.0, 25.0]),
        }
        contact_id = fixed.pop("id", None) or self.new_contact_id()
        values.update(fixed)
        return Contact(contact_id, **values)

    def attribute_choices(self) -> list[dict[str, Any]]:
        plain: list[dict[str, Any]] = [{}, {}, {}, {"note": "vip", "n": 3, "tags": ["a", "b"]}]
        return plain if self.version == 1 else [*plain, *SENSITIVE_ATTRIBUTES]

    # ----------------------------------------------------------------- views

    def live(self, *states: ContactState) -> list[str]:
        router = self.router
        return sorted(c for c in router.contact_ids if router.contact(c).state in states)

    def live_ids(self) -> list[str]:
        return sorted(self.router.contact_ids)

    def holders(self, contact_id: str) -> list[str]:
        return list(self.router.explain(contact_id).agents)

    def pick(self, items: Sequence[str]) -> str | None:
        return self.rng.choice(items) if items else None

    # ----------------------------------------------------------- the scenario

    def set_up(self) -> None:
        rng = self.rng
        names = list(QUEUE_NAMES[: rng.randint(1, 3)])
        self.queue_names = names
        configs = [self.queue_config(q, names) for q in names]

        def refs(config: QueueConfig) -> set[str]:
            out = {q for step in config.steps for q in step.queues}
            return out | ({config.overflow} if config.overflow else set())

        one_by_one = all(refs(c) <= set(names[: i + 1]) for i, c in enumerate(configs))
        if one_by_one and rng.random() < 0.4:
            for config in configs:
                self.command(AddQueue(config))
        else:
            self.command(AddQueues(tuple(configs)))
        for _ in range(rng.choice([0, 0, 1, 2])):
            self.command(AddExclusion(rng.choice(CUSTOMERS), rng.choice(AGENT_NAMES)))
        for i in range(1, (rng.randint(8, 30) if self.large else rng.randint(1, 5)) + 1):
            spec = self.agent_spec(f"a{i}")
            presence = rng.choice(
                [Presence.AVAILABLE, Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE]
            )
            if self.accepted(AddAgent(spec, presence)):
                self.specs[spec.id] = spec

    def build(self) -> Scenario:
        rng = self.rng
        self.set_up()
        operations = OPERATIONS if self.version == 1 else OPERATIONS_V2
        kinds = list(operations)
        weights = list(operations.values())
        for _ in range(rng.randint(120, 250) if self.large else rng.randint(15, 60)):
            kind = rng.choices(kinds, weights)[0]
            getattr(self, f"op_{kind}")()
        self.explain_some(3)
        if self.version >= 2:
            self.ask_some(3)
        # Let every timer run out.
        for _ in range(4):
            self.set_clock(self.clock.at + 25.0)
            self.tick()
        self.explain_some(1)
        if self.version >= 2:
            self.ask_some(1)
        summary = msgspec.Raw(msgspec.json.encode(summarise(self.router, self.version)))
        return Scenario(
            self.number, self.number, self.setup, self.calls, summary, version=self.version
        )

    def ask_some(self, contacts: int) -> None:
        """Ask about every queue's hours and handle time, and the first waiting
        contacts' estimated waits."""
        router = self.router
        for queue in router.queues:
            self.query("is_open", queue=queue)
            self.query("next_open", queue=queue)
            self.query("handle_time", queue=queue, channel=self.channels[0])
        for contact in router.waiting()[:contacts]:
            self.ask("estimated_wait", contact.id)
            self.query("estimate_wait", queue=contact.queue, channel=contact.channel, position=2)

    def explain_some(self, contacts: int) -> None:
        """Explain the first waiting contacts and the first logged-in agent."""
        router = self.router
        for contact in router.waiting()[:contacts]:
            self.explain(contact.id)
        logged_in = [
            a for a in router.agent_ids if router.agent(a).presence is not Presence.OFFLINE
        ]
        for agent_id in logged_in[:1]:
            self.explain_agent(agent_id)

    # ------------------------------------------------------------ operations

    def op_submit(self) -> None:
        self.command(Submit(self.contact()))

    def op_accept(self, kind: type[Accept] | type[Reject] = Accept) -> None:
        contact_id = self.pick(self.live(_S.OFFERED))
        if contact_id is None:
            return
        agent_id = self.pick(self.holders(contact_id))
        if agent_id is None or self.rng.random() < 0.15:
            agent_id = self.pick(self.router.agent_ids) or "a1"
        self.command(kind(contact_id, agent_id))

    def op_reject(self) -> None:
        self.op_accept(Reject)

    def op_complete(self) -> None:
        contact_id = self.pick(self.live(_S.IN_SERVICE))
        if contact_id is not None:
            self.command(Complete(contact_id, self.disposition(contact_id)))

    def op_end_wrap_up(self) -> None:
        contact_id = self.pick(self.live(_S.WRAP_UP))
        if contact_id is not None:
            self.command(EndWrapUp(contact_id, self.disposition(contact_id)))

    def disposition(self, contact_id: str) -> str | None:
        """Version 2: none, one of the contact's queue's, or an unknown one."""
        if self.version == 1:
            return None
        config = self.router.queue_config(self.router.contact(contact_id).queue)
        known = list(config.dispositions)
        return self.rng.choice([None, None, *known, *known, "bogus"])

    def op_abandon(self) -> None:
        states: tuple[ContactState, ...] = (_S.WAITING, _S.OFFERED)
        if self.version >= 2:
            states = (*states, _S.SCHEDULED)
        contact_id = self.pick(self.live(*states))
        if contact_id is not None:
            self.command(Abandon(contact_id))

    def op_transfer(self) -> None:
        rng = self.rng
        contact_id = self.pick(self.live_ids())
        if contact_id is None:
            return
        self.command(
            Transfer(
                contact_id,
                queue=rng.choice([None, *self.queue_names]),
                requirements=rng.choice([None, self.requirements(10)]),
                agent=rng.choice([None, None, *self.router.agent_ids]),
                keep_key=rng.random() < 0.6,
            )
        )

    def op_callback(self) -> None:
        contact_id = self.pick(self.live(_S.WAITING))
        if contact_id is not None:
            self.command(RequestCallback(contact_id))

    def op_presence(self) -> None:
        agent_id = self.pick(self.router.agent_ids)
        if agent_id is not None:
            reason = self.rng.choice([None, None, "break", "lunch"])
            self.command(SetPresence(agent_id, self.rng.choice(PRESENCES), reason))

    def op_capacity(self) -> None:
        agent_id = self.pick(self.router.agent_ids)
        if agent_id is not None:
            channel = self.rng.choice(self.channels)
            self.command(SetCapacity(agent_id, channel, self.rng.randint(0, 3)))

    def op_add_agent(self) -> None:
        self.added += 1
        spec = self.agent_spec(f"n{self.added}")
        if self.accepted(AddAgent(spec, self.rng.choice(PRESENCES))):
            self.specs[spec.id] = spec

    def op_remove_agent(self) -> None:
        agent_id = self.pick(self.router.agent_ids)
        if agent_id is not None:
            self.command(RemoveAgent(agent_id))

    def exclusion_pair(self) -> tuple[str, str] | None:
        rng = self.rng
        if rng.random() < 0.4:
            # A holder of an offered contact, for that contact's customer.
            contact_id = self.pick(self.live(_S.OFFERED))
            if contact_id is None:
                return None
            customer = self.router.contact(contact_id).customer_id or rng.choice(CUSTOMERS)
            agent_id = self.pick(self.holders(contact_id)) or rng.choice(AGENT_NAMES)
            return customer, agent_id
        return rng.choice(CUSTOMERS), rng.choice(AGENT_NAMES)

    def op_exclude(self) -> None:
        pair = self.exclusion_pair()
        if pair is not None:
            self.command(AddExclusion(*pair))

    def op_unexclude(self) -> None:
        held = [(k, a) for k in CUSTOMERS for a in sorted(self.router.exclusions(k))]
        pair = self.exclusion_pair()
        if held and self.rng.random() < 0.6:
            pair = self.rng.choice(held)
        if pair is not None:
            self.command(RemoveExclusion(*pair))

    def op_rejoin(self) -> None:
        """A customer hangs up and calls again at once (the rejoin window)."""
        contact_id = self.pick(self.live(_S.WAITING, _S.OFFERED))
        if contact_id is None:
            return
        gone = self.router.contact(contact_id)
        self.command(Abandon(contact_id))
        customer = gone.customer_id or self.rng.choice(CUSTOMERS)
        self.command(
            Submit(Contact(self.new_contact_id(), gone.channel, gone.queue, customer_id=customer))
        )

    def op_update_queue(self) -> None:
        rng = self.rng
        name = rng.choice(self.queue_names)
        held = self.router.queue_config(name)
        draw = rng.random()
        if draw < 0.4:
            config = self.queue_config(name, self.queue_names)
        elif draw < 0.8:
            fields = list(self.queue_fields())
            changes = {
                f: self.queue_field(name, f, self.queue_names)
                for f in rng.sample(fields, rng.randint(1, 2))
            }
            config = attrs.evolve(held, **_consistent(changes, held))
        elif draw < 0.9:
            config = held  # the same settings: nothing happens
        else:
            config = attrs.evolve(held, overflow="nowhere")
        self.command(UpdateQueue(config))

    def op_update_agent(self) -> None:
        rng = self.rng
        agent_id = self.pick(self.router.agent_ids)
        if agent_id is None:
            return
        held = self.specs[agent_id]
        draw = rng.random()
        if draw < 0.5:
            spec = self.agent_spec(agent_id)
        elif draw < 0.85:
            fresh = self.agent_spec(agent_id)
            field = rng.choice(["skills", "queues", "capacity", "unit_budget", "queue_delays"])
            spec = attrs.evolve(held, **{field: getattr(fresh, field)})
        else:
            spec = held  # the same declaration: nothing happens
        if self.accepted(UpdateAgent(spec)):
            self.specs[agent_id] = spec

    def op_update_contact(self) -> None:
        rng = self.rng
        contact_id = self.pick(self.live_ids())
        if contact_id is None:
            return
        self.command(
            UpdateContact(
                contact_id,
                priority_seconds=rng.choice([None, None, 0.0, 30.0, -20.0]),
                tier=rng.choice([None, None, 0, 1, -1]),
                requirements=rng.choice([None, None, self.requirements()]),
                attributes=rng.choice(
                    [None, None, {"note": "vip"}]
                    if self.version == 1
                    else [None, None, {"note": "vip"}, *SENSITIVE_ATTRIBUTES]
                ),
            )
        )

    def op_add_queue(self) -> None:
        if LATE_QUEUE not in self.queue_names:
            names = [*self.queue_names, LATE_QUEUE]
            if self.accepted(AddQueue(self.queue_config(LATE_QUEUE, names))):
                self.queue_names = names
        else:  # declared again as it is: nothing happens
            name = self.rng.choice(self.queue_names)
            self.command(AddQueue(self.router.queue_config(name)))

    def op_add_channel(self) -> None:
        if "phone" in self.channels:
            # Declared again as it is (nothing happens), or otherwise (refused).
            other = attrs.evolve(PHONE, kind=ChannelKind.ASYNCHRONOUS)
            self.command(AddChannel(self.rng.choice([PHONE, other])))
        elif self.accepted(AddChannel(PHONE)):
            self.channels.append("phone")

    def op_note(self) -> None:
        self.command(Note())

    # ------------------------------------------------- version 2's operations

    def op_schedule(self) -> None:
        """A callback at a time: soon, later, at the queue's next opening, or a time
        refused (while the queue is closed, past, too far)."""
        rng = self.rng
        queue = rng.choice(self.queue_names)
        channel = rng.choice(["callback", "callback", "voice", "chat"])
        now = self.clock.at
        kind = rng.choice(["soon", "soon", "later", "opening", "closed", "past", "far"])
        at: float | None = now + rng.choice([0.0, 5.0, 20.0, 45.0])
        if kind == "later":
            at = now + rng.choice([120.0, 600.0, 3600.0])
        elif kind == "opening":
            at = self.opening(queue, closing=False)
        elif kind == "closed":
            at = self.opening(queue, closing=True)
        elif kind == "past":
            at = self.router.now - rng.choice([0.5, 30.0])
        elif kind == "far":
            at = now + MAX_SECONDS * 1.5
        if at is not None:
            self.command(ScheduleCallback(self.contact(queue=queue, channel=channel), at))

    def opening(self, queue: str, *, closing: bool) -> float | None:
        """The router time ``queue``'s calendar next opens (or closes) from the
        clock's time on, if it has one and that comes within three days."""
        calendar = self.router.queue_config(queue).calendar
        if calendar is None:
            return None
        wall = self.setup.epoch + self.clock.at
        found = calendar.next_close(wall) if closing else calendar.next_open(wall)
        if found is None or found - wall > 3 * 86_400:
            return None
        return found - self.setup.epoch

    def op_unanswered(self) -> None:
        """The customer of a callback (or of any contact in service) does not answer."""
        serving = self.live(_S.IN_SERVICE)
        callbacks = [c for c in serving if self.router.contact(c).channel == "callback"]
        contact_id = self.pick(callbacks if callbacks and self.rng.random() < 0.8 else serving)
        if contact_id is None:
            # Refused: not in service.
            contact_id = self.pick(self.live(_S.WAITING, _S.SCHEDULED, _S.WRAP_UP)) or "zz"
        self.command(CallbackUnansweredCall(contact_id))

    def op_leap(self) -> None:
        """Minutes pass: queues open and close, callbacks fall due."""
        self.set_clock(self.clock.at + self.rng.choice([60.0, 150.0, 400.0, 900.0, 2400.0]))
        if self.rng.random() < 0.8:
            self.tick()

    def op_to_opening(self) -> None:
        """To a queue's next opening or closing: exactly, or just before or after."""
        rng = self.rng
        queue = rng.choice(self.queue_names)
        closing = not self.router.is_open(queue, self.clock.at)
        at = self.opening(queue, closing=closing)
        if at is None:
            return
        at += rng.choice([0.0, 0.0, -0.5, 0.5])
        if at >= self.clock.at:
            self.set_clock(at)
            if rng.random() < 0.6:
                self.tick()

    def op_query(self) -> None:
        """Ask the router a question: a wait, a handle time, the hours."""
        rng = self.rng
        queue = rng.choice([*self.queue_names, *(["nowhere"] if rng.random() < 0.05 else [])])
        channel = rng.choice([*self.channels, *(["fax"] if rng.random() < 0.05 else [])])
        kind = rng.choice(
            ["estimated_wait", "estimate_wait", "handle_time", "is_open", "next_open"]
        )
        if kind == "estimated_wait":
            waiting = self.live(_S.WAITING, _S.OFFERED)
            contact_id = self.pick(waiting if waiting and rng.random() < 0.85 else self.live_ids())
            self.ask(kind, contact_id or "zz")
        elif kind == "estimate_wait":
            self.query(
                kind,
                queue=queue,
                channel=channel,
                requirements=self.requirements(rng.choice([7, 12])),
                priority_seconds=rng.choice([0.0, 0.0, 20.0]),
                tier=rng.choice([0, 0, 1, MAX_TIER + 1]),
                position=rng.choice([None, None, 1, 3, 0]),
            )
        elif kind == "handle_time":
            self.query(kind, queue=queue, channel=channel)
        elif kind == "is_open":
            at = rng.choice(
                [None, None, self.clock.at + rng.choice([-30.0, 90.0, 7200.0, 86400.0])]
            )
            self.query(kind, queue=queue, at=at)
        else:
            self.query(kind, queue=queue)

    def op_contact_query(self) -> None:
        """What the router holds of a contact: its attributes as masked, its callback."""
        contact_id = self.pick(self.live_ids())
        if contact_id is not None:
            self.ask("contact", contact_id)

    def step(self) -> float:
        return self.rng.choice([0.5, 1.0, 4.0, 7.0, 13.0, 31.0])

    def op_advance(self) -> None:
        self.set_clock(self.clock.at + self.step())
        self.tick()

    def op_advance_only(self) -> None:
        """The clock moves; the next call applies the timers that fell due."""
        self.set_clock(self.clock.at + self.step())

    def op_to_due(self) -> None:
        """To the next timer's due time exactly."""
        due = self.router.next_due()
        if due is not None and due >= self.clock.at:
            self.set_clock(due)
            if self.rng.random() < 0.7:
                self.tick()

    def op_tick(self) -> None:
        self.tick()

    def op_clock_back(self) -> None:
        """A clock that went back: the calls are refused, nothing changes."""
        at = self.clock.at
        self.set_clock(self.router.now - self.rng.choice([0.5, 3.0]))
        self.tick()
        self.command(Submit(self.contact()))
        self.set_clock(at)

    def op_explain(self) -> None:
        rng = self.rng
        waiting = self.live(_S.WAITING)
        contact_id = self.pick(waiting if waiting and rng.random() < 0.7 else self.live_ids())
        if contact_id is not None:
            self.explain(contact_id if rng.random() < 0.95 else "zz")

    def op_explain_agent(self) -> None:
        agent_id = self.pick(self.router.agent_ids)
        self.explain_agent(agent_id if agent_id is not None and self.rng.random() < 0.95 else "zz")

    def op_bad(self) -> None:
        """A call the router refuses (or, now and then, one it turns out to take)."""
        rng = self.rng
        options = self.bad_calls()
        rng.shuffle(options)
        for option in options:
            command = option()
            if command is not None:
                self.command(command)
                return

    def bad_calls(self) -> list[Callable[[], Command | None]]:
        rng = self.rng
        router = self.router
        agents = router.agent_ids
        agent = rng.choice(agents) if agents else "a1"
        queue = rng.choice(self.queue_names)
        live = self.live_ids()
        waiting = self.live(_S.WAITING)
        offered = self.live(_S.OFFERED)
        serving = self.live(_S.IN_SERVICE)
        wrapping = self.live(_S.WRAP_UP)

        def busy_agent() -> str | None:
            return self.pick([a for a in agents if router.agent(a).in_service])

        def loaded() -> tuple[str, str, int] | None:
            found = [(a, ch, n) for a in agents for ch, n in router.agent(a).load.items() if n]
            return rng.choice(found) if found else None

        def below_load() -> Command | None:
            found = loaded()
            return None if found is None else SetCapacity(found[0], found[1], found[2] - 1)

        def update_below_load() -> Command | None:
            found = loaded()
            if found is None:
                return None
            spec = self.specs[found[0]]
            return UpdateAgent(attrs.evolve(spec, capacity={found[1]: 0}))

        def non_holder() -> Command | None:
            contact_id = self.pick(offered)
            if contact_id is None:
                return None
            others = [a for a in agents if a not in self.holders(contact_id)]
            return None if not others else Reject(contact_id, rng.choice(others))

        def duplicate_agent() -> Command | None:
            return None if not agents else AddAgent(Agent(agent, skills={"zz": 1}))

        def duplicate_queue() -> Command:
            held = router.queue_config(queue)
            return AddQueue(attrs.evolve(held, ring=held.ring + 1))

        def one_of(ids: list[str], make: Callable[[str], Command]) -> Callable[[], Command | None]:
            return lambda: None if not ids else make(rng.choice(ids))

        return [
            lambda: Accept("zz", agent),
            lambda: Complete("zz"),
            lambda: SetPresence("ghost", Presence.AVAILABLE),
            lambda: RemoveAgent("ghost"),
            lambda: SetCapacity(agent, "fax", 1),
            lambda: SetCapacity(agent, "chat", -1),
            lambda: RemoveExclusion("k9", agent),
            lambda: Submit(Contact(self.new_contact_id(), "voice", "nowhere")),
            lambda: Submit(Contact(self.new_contact_id(), "fax", queue)),
            lambda: UpdateContact("zz", tier=1),
            lambda: UpdateQueue(QueueConfig("nowhere")),
            lambda: UpdateAgent(Agent("ghost")),
            lambda: AddAgent(Agent(f"x{len(self.calls)}", queues={"nowhere"})),
            duplicate_queue,
            duplicate_agent,
            below_load,
            update_below_load,
            non_holder,
            one_of(live, lambda c: Submit(self.contact(id=c))),
            one_of(live, lambda c: Transfer(c, queue="nowhere")),
            one_of(live, lambda c: Transfer(c, agent="ghost")),
            one_of(live, lambda c: Transfer(c, requirements={"en": 11})),
            one_of(live, lambda c: UpdateContact(c, tier=MAX_TIER + 1)),
            one_of(waiting, lambda c: RequestCallback(c, "fax")),
            one_of(waiting, lambda c: Accept(c, agent)),
            one_of([*waiting, *offered], lambda c: Complete(c)),
            one_of([*serving, *waiting], lambda c: EndWrapUp(c)),
            one_of([*serving, *wrapping], lambda c: Abandon(c)),
            one_of([*offered, *serving], lambda c: RequestCallback(c)),
            lambda: None if (a := busy_agent()) is None else SetPresence(a, Presence.OFFLINE),
            lambda: None if (a := busy_agent()) is None else RemoveAgent(a),
            *(self.bad_calls_v2(queue) if self.version >= 2 else []),
        ]

    def bad_calls_v2(self, queue: str) -> list[Callable[[], Command | None]]:
        """Version 2's refused calls: callbacks at wrong times or in wrong states,
        dispositions unknown or missing."""
        rng = self.rng
        live = self.live_ids()
        scheduled = self.live(_S.SCHEDULED)
        serving = self.live(_S.IN_SERVICE)
        wrapping = self.live(_S.WRAP_UP)

        def schedule(at: float | None) -> Command | None:
            return None if at is None else ScheduleCallback(self.contact(queue=queue), at)

        def one_of(ids: list[str], make: Callable[[str], Command]) -> Callable[[], Command | None]:
            return lambda: None if not ids else make(rng.choice(ids))

        def without_disposition(
            ids: list[str], make: Callable[[str], Command]
        ) -> Callable[[], Command | None]:
            required = [
                c
                for c in ids
                if self.router.queue_config(self.router.contact(c).queue).disposition_required
            ]
            return one_of(required, make)

        return [
            lambda: schedule(self.router.now - 1.0),
            lambda: schedule(self.opening(queue, closing=True)),
            lambda: CallbackUnansweredCall("zz"),
            one_of(live, lambda c: ScheduleCallback(self.contact(id=c), self.clock.at + 10.0)),
            one_of(scheduled, lambda c: Transfer(c, queue=queue)),
            one_of(scheduled, lambda c: RequestCallback(c)),
            one_of(scheduled, lambda c: CallbackUnansweredCall(c)),
            one_of(serving, lambda c: Complete(c, "bogus")),
            one_of(wrapping, lambda c: EndWrapUp(c, "bogus")),
            without_disposition(serving, lambda c: Complete(c)),
            without_disposition(wrapping, lambda c: EndWrapUp(c)),
        ]


def _consistent(values: dict[str, Any], held: QueueConfig | None = None) -> dict[str, Any]:
    """Queue settings drawn one by one, made valid together: a disposition is
    required only of a queue that has a list of them."""
    dispositions = values.get("dispositions", () if held is None else held.dispositions)
    required = values.get("disposition_required", held is not None and held.disposition_required)
    if required and not dispositions:
        values["disposition_required"] = False
    return values


# ---------------------------------------------------------- twins and checks


def verify(path: Path) -> int:
    """Replay ``path`` on this process's twin; print the mismatches as JSON."""
    _header, scenarios = read(path)
    found = {m.scenario: str(m) for m in replay_all(scenarios)}
    print(json.dumps({"implementation": ccroute.IMPLEMENTATION, "mismatches": found}))
    return 0


def replay_in_subprocess(path: Path, twin: str, hash_seed: str) -> dict[int, str]:
    """The scenarios of ``path`` that a replay on ``twin`` does not reproduce."""
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    env.pop("CCROUTE_PURE_PYTHON", None)
    if twin == "pure":
        env["CCROUTE_PURE_PYTHON"] = "1"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--verify", str(path)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout)
    assert result["implementation"] == twin, result["implementation"]
    seconds = time.perf_counter() - started
    print(f"replayed on the {twin} twin (PYTHONHASHSEED={hash_seed}) in {seconds:.1f} s")
    return {int(k): v for k, v in result["mismatches"].items()}


# ------------------------------------------------------------------ coverage


def coverage(scenarios: Sequence[Scenario]) -> dict[str, Counter[str]]:
    """What the scenarios hold: calls, outcomes, events, policies."""
    calls: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    raised: Counter[str] = Counter()
    events: Counter[str] = Counter()
    policies: Counter[str] = Counter()
    evidence: Counter[str] = Counter()
    for scenario in scenarios:
        used: set[str] = set()
        policy = scenario.router.policy
        if policy.blocking:
            used.add("router-wide blocking")
        if policy.reserve_for:
            used.add(f"reserve_for {sorted(policy.reserve_for)}")
        if policy.ramp_up is not None:
            used.add("ramp-up")
        if not scenario.router.offer_reasons:
            used.add("offer_reasons=False")
        if scenario.router.clock:
            used.add("clock starting after 0")
        for raw in scenario.router.channels:
            if msgspec.json.decode(bytes(raw))["channel"]["exclusive"]:
                used.add("exclusive channel")
        if scenario.router.epoch:
            used.add("an epoch (router time 0 is not Unix time 0)")
        masking = scenario.router.masking
        if masking is not None:
            used.add("masking off" if not masking.enabled else "masking with rules of its own")
        for call in scenario.calls:
            calls[call.call] += 1
            if call.raised is not msgspec.UNSET:
                raised[f"{call.call}: {call.raised[0]}"] += 1
            else:
                returned[call.call] += 1
            if call.events is not msgspec.UNSET:
                for e in codec.decode_events(bytes(call.events)):
                    events[type(e).__name__] += 1
                    _evidence(e, evidence)
            if call.result is not msgspec.UNSET:
                result = msgspec.json.decode(bytes(call.result))
                if call.call in QUERIES:
                    _answer(call.call, result, evidence)
                else:
                    if result.get("queue_open") is False:
                        evidence[f"{call.call}: queue closed"] += 1
                    if result.get("callback_due") is not None:
                        evidence[f"{call.call}: a scheduled callback"] += 1
                    for verdict in result.get("not_eligible", result.get("contacts", [])):
                        for reason in verdict[1]:
                            evidence[f"{call.call}: {reason}"] += 1
            if call.args is not msgspec.UNSET and call.call not in QUERIES:
                _policies(codec.decode_command(call.call, bytes(call.args)), used)
        policies.update(used)
    return {
        "calls": calls,
        "calls that returned": returned,
        "refusals": raised,
        "events": events,
        "policies (scenarios using each)": policies,
        "what happened": evidence,
    }


def _answer(name: str, result: Any, evidence: Counter[str]) -> None:
    """What kind of answer a question got."""
    if name == "contact":
        masked = "*" in msgspec.json.encode(result["attributes"]).decode()
        evidence[f"contact: attributes {'with' if masked else 'without'} a mask"] += 1
        return
    if isinstance(result, bool):
        kind = str(result).lower()
    elif result is None:
        kind = "null"
    else:
        kind = "0" if result == 0 else "a number > 0"
    evidence[f"{name}: {kind}"] += 1


def _evidence(e: Event, evidence: Counter[str]) -> None:
    reason = getattr(e, "reason", None)
    if isinstance(e, Offered):
        if e.reason is not None:
            evidence[f"offer by strategy {e.reason.strategy}"] += 1
            evidence[f"offer triggered by {e.reason.trigger}"] += 1
            for held in e.reason.held_back:
                evidence[f"offer with someone held back by: {held}"] += 1
        if e.timeout_at is not None:
            evidence["offer with a timeout"] += 1
    elif isinstance(reason, str):
        evidence[f"{type(e).__name__} reason {reason!r}"] += 1


def _policies(command: Command, used: set[str]) -> None:
    configs: tuple[QueueConfig, ...] = ()
    if isinstance(command, AddQueues):
        configs = command.configs
    elif isinstance(command, AddQueue | UpdateQueue):
        configs = (command.config,)
    for c in configs:
        strategy = c.strategy if isinstance(c.strategy, str) else c.strategy.value
        used.add(f"strategy {strategy}")
        checks = {
            "routing steps (skill relaxation)": bool(c.steps),
            "steps widening to other queues": any(s.queues for s in c.steps),
            "queue priority_seconds": c.priority_seconds != 0,
            "ring-all (ring > 1)": c.ring > 1,
            "offer timeout": c.offer_timeout is not None,
            "no offer timeout": c.offer_timeout is None,
            "rona_not_ready": c.rona_not_ready and c.offer_timeout is not None,
            "wrap-up timed": bool(c.wrap_up),
            "wrap-up until end_wrap_up": c.wrap_up is None,
            "queue max_wait": c.max_wait is not None,
            "overflow": c.overflow is not None,
            "overflow keeping no key": c.overflow is not None and not c.overflow_keep_key,
            "skip_if_no_agent": c.skip_if_no_agent,
            f"admission {c.admission.value}": True,
            "rejoin window": c.rejoin_window is not None,
            "per-queue blocking": bool(c.blocking),
            "max_size": c.max_size is not None,
            "business hours": c.calendar is not None,
            f"when_closed {c.when_closed.value}": c.calendar is not None,
            "callback retries": bool(c.callback_retries),
            "dispositions": bool(c.dispositions),
            "disposition required": c.disposition_required,
        }
        used.update(name for name, on in checks.items() if on)
    agent = command.agent if isinstance(command, AddAgent | UpdateAgent) else None
    if agent is not None:
        if agent.queue_delays:
            used.add("agent queue delays")
        if agent.unit_budget is not None:
            used.add("unit budget")
        if agent.capacity is not None:
            used.add("per-channel capacities")
    if isinstance(command, Submit):
        contact = command.contact
        checks = {
            "contact tier": contact.tier != 0,
            "contact priority_seconds": contact.priority_seconds != 0,
            "preferred agent": contact.preferred_agent is not None and contact.preferred_wait > 0,
            "contact excluded_agents": bool(contact.excluded_agents),
            "contact max_wait": contact.max_wait is not None,
            "customer id": contact.customer_id is not None,
        }
        used.update(name for name, on in checks.items() if on)
    if isinstance(command, AddExclusion):
        used.add("customer exclusions")
    if isinstance(command, Complete | EndWrapUp) and command.disposition is not None:
        used.add(f"{command.name} with a disposition")


def print_coverage(scenarios: Sequence[Scenario]) -> None:
    found = coverage(scenarios)
    print(f"\n{len(scenarios)} scenarios, {sum(len(s.calls) for s in scenarios)} calls")
    for title, counts in found.items():
        print(f"\n{title}:")
        for name, n in sorted(counts.items()):
            print(f"  {n:7d}  {name}")
    missing = [name for name in sorted(COMMANDS) if not found["calls that returned"][name]]
    print(f"\ncommands never made (or always refused): {missing or 'none'}")
    from ccroute import events as events_module

    never = sorted(
        cls.__name__
        for cls in codec.EVENT_TAGS.values()
        if cls.__name__ not in found["events"] and hasattr(events_module, cls.__name__)
    )
    print(f"event classes that never appear: {never or 'none'}")


# ---------------------------------------------------------------------- main


def generate(version: int, count: int, source: str, out: Path) -> int:
    if ccroute.IMPLEMENTATION != "compiled":
        print("recording needs the compiled twin (unset CCROUTE_PURE_PYTHON, build it)")
        return 1
    print(
        f"recording {count} scenarios of version {version} "
        f"with {ccroute.__file__} ({ccroute.IMPLEMENTATION})"
    )
    started = time.perf_counter()
    scenarios: list[Scenario] = []
    left_out: dict[int, str] = {}
    for number in range(FIRST[version], FIRST[version] + count):
        builder = Builder(number, version)
        scenario = builder.build()
        if builder.internal:
            left_out[number] = f"raised something other than a CCRouteError: {builder.internal}"
        scenarios.append(scenario)
    print(f"recorded in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / out.name
        header = Header(KIND, version, len(scenarios), source, "tests/streams/make_streams.py")
        write(candidate, header, scenarios)
        for twin, hash_seed in (("compiled", "1"), ("pure", "2")):
            for number, text in replay_in_subprocess(candidate, twin, hash_seed).items():
                left_out.setdefault(number, "")
                left_out[number] += f"\n[{twin} replay]\n{text}"
    for number, why in sorted(left_out.items()):
        print(f"\nLEFT OUT: scenario {number}: {why}")
    kept = [s for s in scenarios if s.scenario not in left_out]
    write(out, Header(KIND, version, len(kept), source, "tests/streams/make_streams.py"), kept)
    print_coverage(kept)
    print(f"\nwrote {out.name}: {len(kept)} scenarios, {out.stat().st_size:,} bytes")
    if left_out:
        print(f"left out (see above): {sorted(left_out)}")
    return 0


def show(number: int) -> int:
    for path in FIXTURES:
        for scenario in read(path)[1]:
            if scenario.scenario == number:
                print(msgspec.json.encode(scenario.router).decode())
                for i, call in enumerate(scenario.calls):
                    print(f"{i:4d} {msgspec.json.encode(call).decode()}")
                print(f"summary {bytes(scenario.summary).decode()}")
                return 0
    print(f"no scenario {number}")
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--version",
        type=int,
        choices=VERSIONS,
        default=VERSION,
        help=f"the format (and file) to record (default {VERSION})",
    )
    parser.add_argument("--count", type=int, help="scenarios to record (default: 1000 / 400)")
    parser.add_argument("--source", default="", help="what is recorded (kept in the header)")
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--verify", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--show", type=int, help="print a recorded scenario")
    args = parser.parse_args()
    if args.verify is not None:
        return verify(args.verify)
    if args.show is not None:
        return show(args.show)
    version: int = args.version
    count = COUNT[version] if args.count is None else args.count
    return generate(version, count, args.source, args.out or HERE / file_name(version))


if __name__ == "__main__":
    sys.exit(main())
