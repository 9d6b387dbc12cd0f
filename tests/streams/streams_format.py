"""The recorded router streams: their file format, and how a scenario is performed and replayed.

Shared by ``make_streams.py`` (which records the fixtures) and
``tests/test_recorded_streams.py`` (which replays them); docs/testing.md says
what they are for.

A fixture file (``streams-v1.jsonl.gz``) is gzipped JSON lines: a
:class:`Header`, then one :class:`Scenario` a line. A scenario names

* the router's set-up (:class:`Setup`): its seed, the clock's start, the
  channels (each the fields of an ``add_channel`` command, as
  :mod:`ccroute.codec` writes them), the router-wide
  :class:`~ccroute.RoutingPolicy` (its own small schema, :class:`PolicyData`),
  the custom strategies it is given (names from :data:`STRATEGIES`) and
  ``offer_reasons``;
* its calls, in order (:class:`Call`). ``call`` is the name of a
  :data:`ccroute.commands.COMMANDS` command (``args`` its fields as the codec
  writes them; ``tick`` calls :meth:`Router.tick` and records ``next_due``
  too), or ``clock`` (the clock is set to ``at``, sometimes back in time, so
  that the next call raises :class:`~ccroute.ClockError`), ``explain`` or
  ``explain_agent`` (``id`` is the contact or agent; ``result`` the
  explanation's fields). A call that returned has its ``events`` (the codec's
  JSON array); one that raised has ``raised``: the exception's class name and
  message;
* ``summary``: what the router shows at the end (:func:`summarise`).

Replaying a scenario builds the router from its set-up, performs every call
and compares each outcome with the recorded one: events as
:class:`~ccroute.events.Event` values (decoded by the codec), refusals by
class name and message, explanations and the summary as JSON values.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import msgspec
from msgspec import UNSET, Raw, UnsetType

from ccroute import (
    AgentExplanation,
    AgentView,
    Channel,
    ContactExplanation,
    ContactView,
    RampUp,
    Router,
    RoutingPolicy,
    codec,
)
from ccroute.commands import AddChannel
from ccroute.events import Event
from ccroute.hooktypes import AgentStrategy

HERE: Final = Path(__file__).resolve().parent
#: The fixture files, in order.
FIXTURES: Final = sorted(HERE.glob("streams-v*.jsonl.gz"))
#: What a header's ``kind`` says.
KIND: Final = "ccroute recorded router streams"
#: The version of this format (a change of schema writes a new file name).
VERSION: Final = 1

# ------------------------------------------------------------ custom strategies


class SkillSum:
    """The most skilled agent overall, less two per open offer; it raises for
    agents whose id ends in 3 on email, so the router falls back to longest
    idle (and counts a strategy failure)."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        if agent.id.endswith("3") and contact.channel == "email":
            raise RuntimeError(f"no score for {agent.id} on email")
        return float(sum(agent.skills.values()) - 2 * len(agent.offered))


class FewestSkills:
    """The agent with the fewest skills, then the least loaded; a score that is not
    a finite number for sms contacts (the router falls back to longest idle)."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        if contact.channel == "sms":
            return math.nan
        return -float(len(agent.skills)) - 0.25 * sum(agent.load.values())


#: The custom strategies a scenario may give its router, by name: plain
#: functions of the views, so a replay makes the same decisions. Never change
#: one; add another under a new name (and regenerate).
STRATEGIES: Final[Mapping[str, AgentStrategy]] = {
    "skill-sum": SkillSum(),
    "fewest-skills": FewestSkills(),
}


# ------------------------------------------------------------------ the schema


class RampData(msgspec.Struct, forbid_unknown_fields=True):
    """A :class:`~ccroute.RampUp`."""

    seconds: float | None
    accepted: int | None


class PolicyData(msgspec.Struct, forbid_unknown_fields=True):
    """A :class:`~ccroute.RoutingPolicy`: blocking as channel -> sorted channels."""

    blocking: dict[str, list[str]]
    reserve_for: list[str]
    ramp_up: RampData | None

    @classmethod
    def of(cls, policy: RoutingPolicy) -> PolicyData:
        ramp = policy.ramp_up
        return cls(
            blocking={holding: sorted(blocked) for holding, blocked in policy.blocking},
            reserve_for=sorted(policy.reserve_for),
            ramp_up=None if ramp is None else RampData(ramp.seconds, ramp.accepted),
        )

    def policy(self) -> RoutingPolicy:
        ramp = self.ramp_up
        return RoutingPolicy(
            blocking={holding: frozenset(blocked) for holding, blocked in self.blocking.items()},
            reserve_for=frozenset(self.reserve_for),
            ramp_up=None if ramp is None else RampUp(seconds=ramp.seconds, accepted=ramp.accepted),
        )


class Setup(msgspec.Struct, forbid_unknown_fields=True):
    """How the scenario's router is built."""

    seed: int
    clock: float
    #: each the fields of an ``add_channel`` command: ``{"channel": {...}}``
    channels: list[Raw]
    policy: PolicyData
    strategies: list[str]
    offer_reasons: bool

    @classmethod
    def of(
        cls,
        *,
        seed: int,
        clock: float,
        channels: Iterable[Channel],
        policy: RoutingPolicy,
        strategies: Iterable[str],
        offer_reasons: bool,
    ) -> Setup:
        return cls(
            seed=seed,
            clock=clock,
            channels=[Raw(codec.encode_command(AddChannel(ch))) for ch in channels],
            policy=PolicyData.of(policy),
            strategies=sorted(strategies),
            offer_reasons=offer_reasons,
        )

    def router(self, clock: ScriptedClock) -> Router:
        channels = []
        for raw in self.channels:
            command = codec.decode_command("add_channel", bytes(raw))
            assert isinstance(command, AddChannel)
            channels.append(command.channel)
        return Router(
            clock,
            seed=self.seed,
            channels=channels,
            strategies={name: STRATEGIES[name] for name in self.strategies},
            policy=self.policy.policy(),
            offer_reasons=self.offer_reasons,
        )


class Call(msgspec.Struct, forbid_unknown_fields=True):
    """One call of a scenario and, once performed, its outcome (fields left unset are
    not written)."""

    call: str
    #: a command's fields, as the codec writes them
    args: Raw | UnsetType = UNSET
    #: ``clock``: the time the clock is set to
    at: float | UnsetType = UNSET
    #: ``explain`` / ``explain_agent``: the contact or agent
    id: str | UnsetType = UNSET
    #: the events the call returned, as the codec writes them
    events: Raw | UnsetType = UNSET
    #: ``tick``: :meth:`Router.tick`'s ``next_due``
    next_due: float | UnsetType | None = UNSET
    #: an explanation's fields (:func:`explanation`, :func:`agent_explanation`)
    result: Raw | UnsetType = UNSET
    #: the class name and message of the exception the call raised
    raised: tuple[str, str] | UnsetType = UNSET

    def request(self) -> Call:
        """The call without its outcome."""
        return Call(self.call, args=self.args, at=self.at, id=self.id)

    def show(self) -> str:
        """The call as a JSON line, without its outcome."""
        return msgspec.json.encode(self.request()).decode()


class Scenario(msgspec.Struct, forbid_unknown_fields=True):
    """A recorded scenario."""

    scenario: int
    seed: int
    router: Setup
    calls: list[Call]
    summary: Raw


class Header(msgspec.Struct, forbid_unknown_fields=True):
    """The first line of a fixture file."""

    kind: str
    version: int
    scenarios: int
    #: what the streams were recorded from (free text, e.g. a commit)
    source: str
    generator: str


# ------------------------------------------------------------------ reading


def write(path: Path, header: Header, scenarios: Iterable[Scenario]) -> None:
    """Write a fixture file; the same scenarios give the same bytes."""
    encoder = msgspec.json.Encoder()
    lines = [encoder.encode(header), *(encoder.encode(s) for s in scenarios)]
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))


def read(path: Path) -> tuple[Header, list[Scenario]]:
    """A fixture file's header and scenarios."""
    lines = gzip.decompress(path.read_bytes()).splitlines()
    header = msgspec.json.decode(lines[0], type=Header)
    if header.kind != KIND or header.version != VERSION:
        raise ValueError(f"{path.name}: not version {VERSION} of the {KIND}: {header}")
    decoder = msgspec.json.Decoder(Scenario)
    scenarios = [decoder.decode(line) for line in lines[1:]]
    if len(scenarios) != header.scenarios:
        raise ValueError(f"{path.name}: {len(scenarios)} scenarios, the header says {header}")
    return header, scenarios


def read_all() -> list[Scenario]:
    """Every scenario of every fixture file."""
    return [s for path in FIXTURES for s in read(path)[1]]


# ---------------------------------------------------------------- performing


class ScriptedClock:
    """The scenario's clock: set by ``clock`` calls, sometimes back in time."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> float:
        return self.at


def _json(value: Any) -> Any:
    """``value`` as JSON gives it back."""
    return msgspec.json.decode(msgspec.json.encode(value))


def explanation(e: ContactExplanation) -> dict[str, Any]:
    """The fields of :meth:`Router.explain`'s answer (its ``contact_id`` is the call's)."""
    return {
        "state": e.state.value,
        "queue": e.queue,
        "channel": e.channel,
        "waited": e.waited,
        "step": e.step,
        "agents": list(e.agents),
        "eligible": list(e.eligible),
        "not_eligible": [
            [v.agent_id, [r.value for r in v.reasons], v.detail] for v in e.not_eligible
        ],
        "held_back": [r.value for r in e.held_back],
    }


def agent_explanation(e: AgentExplanation) -> dict[str, Any]:
    """The fields of :meth:`Router.explain_agent`'s answer (its ``agent_id`` is the call's)."""
    return {
        "status": e.status.value,
        "reasons": [r.value for r in e.reasons],
        "eligible": list(e.eligible),
        "contacts": [[v.contact_id, [r.value for r in v.reasons], v.detail] for v in e.contacts],
    }


def summarise(router: Router) -> Any:
    """What the router shows at the end of a scenario, as JSON values."""
    contacts = sorted(router.contact_ids)
    return _json(
        {
            "now": router.now,
            "next_due": router.next_due(),
            "submitted": router.submitted,
            "completed": router.completed,
            "abandoned": router.abandoned,
            "timed_out": router.timed_out,
            "strategy_failures": router.strategy_failures,
            "waiting": [c.id for c in router.waiting()],
            "contacts": {
                c: [view.state.value, view.queue, view.channel, view.agent_id]
                for c, view in ((c, router.contact(c)) for c in contacts)
            },
            "agents": {
                a: [view.presence.value, view.status.value, view.handled, dict(view.load)]
                for a, view in ((a, router.agent(a)) for a in router.agent_ids)
            },
            "queues": {
                q: [s.waiting, s.offered, s.logged_in, s.available]
                for q, s in ((q, router.queue_stats(q)) for q in router.queues)
            },
        }
    )


@attrs.frozen
class Outcome:
    """What a call did, as values: its events (or ``None``: it raised), the class
    name and message of what it raised, a tick's ``next_due``, an explanation."""

    events: tuple[Event, ...] | None = None
    raised: tuple[str, str] | None = None
    next_due: float | UnsetType | None = UNSET
    result: Any = None

    @classmethod
    def recorded(cls, call: Call) -> Outcome:
        """The outcome a recorded call holds."""
        return cls(
            events=None if call.events is UNSET else codec.decode_events(bytes(call.events)),
            raised=None if call.raised is UNSET else tuple(call.raised),  # type: ignore[arg-type]
            next_due=call.next_due,
            result=None if call.result is UNSET else msgspec.json.decode(bytes(call.result)),
        )

    def record(self, request: Call) -> Call:
        """``request`` with this outcome."""
        return Call(
            request.call,
            args=request.args,
            at=request.at,
            id=request.id,
            events=UNSET if self.events is None else Raw(codec.encode_events(self.events)),
            next_due=self.next_due,
            result=UNSET if self.result is None else Raw(msgspec.json.encode(self.result)),
            raised=UNSET if self.raised is None else self.raised,
        )

    def lines(self) -> list[str]:
        """The outcome, for a failure message."""
        out: list[str] = []
        if self.raised is not None:
            out.append(f"raised {self.raised[0]}: {self.raised[1]}")
        if self.events is not None:
            out.extend(f"[{i}] {e!r}" for i, e in enumerate(self.events))
            if not self.events:
                out.append("no events")
        if self.next_due is not UNSET:
            out.append(f"next_due {self.next_due!r}")
        if self.result is not None:
            out.append(msgspec.json.encode(self.result).decode())
        return out


def perform(router: Router, clock: ScriptedClock, call: Call) -> Outcome | None:
    """Make ``call`` on ``router``: its outcome, or ``None`` for a ``clock`` call.

    Any exception the router raises is an outcome (its class name and message).
    """
    name = call.call
    if name == "clock":
        assert isinstance(call.at, float)
        clock.at = call.at
        return None
    # A command is decoded before the call: a fixture that does not decode is an
    # error of the test, never an outcome.
    command = None
    if name not in ("tick", "explain", "explain_agent"):
        assert isinstance(call.args, Raw), call
        command = codec.decode_command(name, bytes(call.args))
    try:
        if command is not None:
            return Outcome(events=tuple(command.apply(router)))
        if name == "tick":
            result = router.tick()
            return Outcome(events=tuple(result.events), next_due=result.next_due)
        assert isinstance(call.id, str), call
        if name == "explain":
            return Outcome(result=_json(explanation(router.explain(call.id))))
        return Outcome(result=_json(agent_explanation(router.explain_agent(call.id))))
    except Exception as error:
        return Outcome(raised=(type(error).__name__, str(error)))


# ----------------------------------------------------------------- replaying


@attrs.frozen
class Mismatch:
    """Where a replay left the recorded stream."""

    scenario: int
    seed: int
    #: the call's index in the scenario (``calls``: the end-of-scenario summary)
    index: int
    calls: int
    call: str
    expected: list[str]
    got: list[str]
    #: the calls before this one, for context
    before: list[str]

    def __str__(self) -> str:
        where = "the summary" if self.index == self.calls else f"call {self.index}"
        lines = [f"scenario {self.scenario} (seed {self.seed}), {where} of {self.calls}:"]
        lines.extend(f"    ... {c}" for c in self.before)
        lines.append(f"  > {self.call}")
        lines.append("  expected:")
        lines.extend(f"    {line}" for line in self.expected)
        lines.append("  got:")
        lines.extend(f"    {line}" for line in self.got)
        first = next(
            (i for i, (e, g) in enumerate(zip(self.expected, self.got, strict=False)) if e != g),
            min(len(self.expected), len(self.got)),
        )
        lines.append(f"  first difference at line {first} of the outcome")
        return "\n".join(lines)


def replay(scenario: Scenario, *, context: int = 3) -> Mismatch | None:
    """Replay a scenario on a new router: the first call whose outcome differs from
    the recorded one (or the summary), or ``None``."""
    clock = ScriptedClock(scenario.router.clock)
    router = scenario.router.router(clock)
    calls = scenario.calls
    for index, call in enumerate(calls):
        got = perform(router, clock, call.request())
        if got is None:
            continue
        expected = Outcome.recorded(call)
        if got != expected:
            return Mismatch(
                scenario.scenario,
                scenario.seed,
                index,
                len(calls),
                call.show(),
                expected.lines(),
                got.lines(),
                [c.show() for c in calls[max(0, index - context) : index]],
            )
    summary = summarise(router)
    recorded = msgspec.json.decode(bytes(scenario.summary))
    if summary != recorded:
        return Mismatch(
            scenario.scenario,
            scenario.seed,
            len(calls),
            len(calls),
            "summary",
            _summary_lines(recorded),
            _summary_lines(summary),
            [],
        )
    return None


def _summary_lines(summary: Mapping[str, Any]) -> list[str]:
    return [f"{key}: {msgspec.json.encode(value).decode()}" for key, value in summary.items()]


def replay_all(scenarios: Iterable[Scenario]) -> Iterator[Mismatch]:
    """The first mismatch of every scenario that has one."""
    for scenario in scenarios:
        mismatch = replay(scenario)
        if mismatch is not None:
            yield mismatch
