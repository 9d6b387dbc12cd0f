"""The recorded router streams: their file format, and how a scenario is performed and replayed.

Shared by ``make_streams.py`` (which records the fixtures) and
``tests/test_recorded_streams.py`` (which replays them); docs/testing.md says
what they are for.

A fixture file (``streams-v1.jsonl.gz``, ``streams-v2.jsonl.gz``) is gzipped
JSON lines: a :class:`Header`, then one :class:`Scenario` a line. The two
files share this one schema: version 2 added fields with defaults (a
version-1 line reads and replays as it always did) and calls of its own. A
scenario names

* the router's set-up (:class:`Setup`): its seed, the clock's start, the
  channels (each the fields of an ``add_channel`` command, as
  :mod:`ccroute.codec` writes them), the router-wide
  :class:`~ccroute.RoutingPolicy` (its own small schema, :class:`PolicyData`),
  the custom strategies it is given (names from :data:`STRATEGIES`) and
  ``offer_reasons``; since version 2 also its ``epoch`` (the Unix time of
  its time 0, which business-hours calendars are read in) and its
  ``masking`` rules (:class:`MaskingData`; absent: the default rules);
* its calls, in order (:class:`Call`). ``call`` is the name of a
  :data:`ccroute.commands.COMMANDS` command (``args`` its fields as the codec
  writes them; ``tick`` calls :meth:`Router.tick` and records ``next_due``
  too), or ``clock`` (the clock is set to ``at``, sometimes back in time, so
  that the next call raises :class:`~ccroute.ClockError`), ``explain`` or
  ``explain_agent`` (``id`` is the contact or agent; ``result`` the
  explanation's fields). Version 2 adds the router's questions
  (:data:`QUERIES`): ``id`` or ``args`` (a JSON object of keyword
  arguments) say what is asked, ``result`` holds the answer as JSON (also
  when it is ``null``). A call that returned has its ``events`` (the codec's
  JSON array); one that raised has ``raised``: the exception's class name and
  message;
* ``summary``: what the router shows at the end (:func:`summarise`; version 2
  shows more);
* ``version``: the format version the scenario was recorded in (absent: 1).

Replaying a scenario builds the router from its set-up, performs every call
and compares each outcome with the recorded one: events as
:class:`~ccroute.events.Event` values (decoded by the codec), refusals by
class name and message, explanations, answers and the summary as JSON values.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    Masking,
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
#: The newest version of this format (a change of schema writes a new file name).
VERSION: Final = 2
#: The versions this module reads and replays.
VERSIONS: Final = (1, 2)

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


class MaskingData(msgspec.Struct, forbid_unknown_fields=True):
    """A :class:`~ccroute.Masking`: the default rules, switched off, or with more
    field names, more patterns or fewer digits kept."""

    enabled: bool = True
    #: sensitive field names added to the default ones
    more_fields: list[str] = []
    patterns: list[str] = []
    keep_last: int = 4

    def masking(self) -> Masking:
        rules = Masking(enabled=self.enabled, patterns=self.patterns, keep_last=self.keep_last)
        return rules.with_fields(*self.more_fields) if self.more_fields else rules


class Setup(msgspec.Struct, forbid_unknown_fields=True):
    """How the scenario's router is built (``epoch`` and ``masking`` since version 2)."""

    seed: int
    clock: float
    #: each the fields of an ``add_channel`` command: ``{"channel": {...}}``
    channels: list[Raw]
    policy: PolicyData
    strategies: list[str]
    offer_reasons: bool
    epoch: float = 0.0
    #: ``None``: the router's default rules
    masking: MaskingData | None = None

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
        epoch: float = 0.0,
        masking: MaskingData | None = None,
    ) -> Setup:
        return cls(
            seed=seed,
            clock=clock,
            channels=[Raw(codec.encode_command(AddChannel(ch))) for ch in channels],
            policy=PolicyData.of(policy),
            strategies=sorted(strategies),
            offer_reasons=offer_reasons,
            epoch=epoch,
            masking=masking,
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
            epoch=self.epoch,
            masking=None if self.masking is None else self.masking.masking(),
        )


class Call(msgspec.Struct, forbid_unknown_fields=True):
    """One call of a scenario and, once performed, its outcome (fields left unset are
    not written)."""

    call: str
    #: a command's fields, as the codec writes them; a question's keyword
    #: arguments (:data:`QUERIES`)
    args: Raw | UnsetType = UNSET
    #: ``clock``: the time the clock is set to
    at: float | UnsetType = UNSET
    #: ``explain`` / ``explain_agent`` / a question about a contact: its id
    id: str | UnsetType = UNSET
    #: the events the call returned, as the codec writes them
    events: Raw | UnsetType = UNSET
    #: ``tick``: :meth:`Router.tick`'s ``next_due``
    next_due: float | UnsetType | None = UNSET
    #: an explanation's fields (:func:`explanation`, :func:`agent_explanation`),
    #: a question's answer
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
    #: the format version it was recorded in: what its summary shows
    version: int = 1


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


def file_name(version: int) -> str:
    """The name of the fixture file of format ``version``."""
    return f"streams-v{version}.jsonl.gz"


def read(path: Path) -> tuple[Header, list[Scenario]]:
    """A fixture file's header and scenarios."""
    lines = gzip.decompress(path.read_bytes()).splitlines()
    header = msgspec.json.decode(lines[0], type=Header)
    if header.kind != KIND or header.version not in VERSIONS:
        raise ValueError(f"{path.name}: not a version {VERSIONS} of the {KIND}: {header}")
    decoder = msgspec.json.Decoder(Scenario)
    scenarios = [decoder.decode(line) for line in lines[1:]]
    if len(scenarios) != header.scenarios:
        raise ValueError(f"{path.name}: {len(scenarios)} scenarios, the header says {header}")
    wrong = [s.scenario for s in scenarios if s.version != header.version]
    if wrong:
        raise ValueError(f"{path.name}: scenarios {wrong} are not of version {header.version}")
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
    return msgspec.json.decode(msgspec.json.encode(value, enc_hook=_plain))


def _plain(value: Any) -> Any:
    # A contact's attributes are a read-only mapping of the router's.
    if isinstance(value, Mapping):
        return dict(value)
    raise NotImplementedError(f"no JSON for {type(value).__name__}")


def explanation(e: ContactExplanation, version: int = 1) -> dict[str, Any]:
    """The fields of :meth:`Router.explain`'s answer (its ``contact_id`` is the call's);
    from ``version`` 2 on also whether its queue is open and its callback's time."""
    fields: dict[str, Any] = {
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
    if version >= 2:
        fields["queue_open"] = e.queue_open
        fields["callback_due"] = e.callback_due
    return fields


def agent_explanation(e: AgentExplanation) -> dict[str, Any]:
    """The fields of :meth:`Router.explain_agent`'s answer (its ``agent_id`` is the call's)."""
    return {
        "status": e.status.value,
        "reasons": [r.value for r in e.reasons],
        "eligible": list(e.eligible),
        "contacts": [[v.contact_id, [r.value for r in v.reasons], v.detail] for v in e.contacts],
    }


def contact_answer(router: Router, contact_id: str) -> dict[str, Any]:
    """What :meth:`Router.contact` shows of a contact that version 2 records: its
    state, where it is, and what masking and scheduling made of it."""
    view = router.contact(contact_id)
    return {
        "state": view.state.value,
        "queue": view.queue,
        "channel": view.channel,
        "agent_id": view.agent_id,
        "requirements": dict(view.requirements),
        "attributes": view.attributes,
        "callback_due": view.callback_due,
    }


def _estimate_wait(router: Router, call: Call) -> Any:
    return router.estimate_wait(**_arguments(call))


def _arguments(call: Call) -> dict[str, Any]:
    assert isinstance(call.args, Raw), call
    arguments: dict[str, Any] = msgspec.json.decode(bytes(call.args))
    return arguments


def _contact_id(call: Call) -> str:
    assert isinstance(call.id, str), call
    return call.id


#: The router's questions a version-2 scenario asks, by call name: each gives
#: its answer as JSON values. ``estimated_wait`` and ``contact`` take the
#: call's ``id``; the others their keyword arguments from ``args``.
QUERIES: Final[Mapping[str, Callable[[Router, Call], Any]]] = {
    "estimated_wait": lambda router, call: router.estimated_wait(_contact_id(call)),
    "estimate_wait": _estimate_wait,
    "handle_time": lambda router, call: router.handle_time(**_arguments(call)),
    "is_open": lambda router, call: router.is_open(**_arguments(call)),
    "next_open": lambda router, call: router.next_open(**_arguments(call)),
    "contact": lambda router, call: contact_answer(router, _contact_id(call)),
}


def summarise(router: Router, version: int = 1) -> Any:
    """What the router shows at the end of a scenario, as JSON values; from
    ``version`` 2 on, also the contacts that could not be reached, and each live
    contact's attributes (as masked) and scheduled callback time."""
    contacts = sorted(router.contact_ids)
    summary = _json(
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
    if version >= 2:
        summary["unreached"] = router.unreached
        summary["details"] = _json(
            {
                c: [view.attributes, view.callback_due]
                for c, view in ((c, router.contact(c)) for c in contacts)
            }
        )
    return summary


@attrs.frozen
class Outcome:
    """What a call did, as values: its events (or ``None``: it raised), the class
    name and message of what it raised, a tick's ``next_due``, an explanation or
    an answer (``UNSET``: none; an answer may be ``None``)."""

    events: tuple[Event, ...] | None = None
    raised: tuple[str, str] | None = None
    next_due: float | UnsetType | None = UNSET
    result: Any = UNSET

    @classmethod
    def recorded(cls, call: Call) -> Outcome:
        """The outcome a recorded call holds."""
        return cls(
            events=None if call.events is UNSET else codec.decode_events(bytes(call.events)),
            raised=None if call.raised is UNSET else tuple(call.raised),  # type: ignore[arg-type]
            next_due=call.next_due,
            result=UNSET if call.result is UNSET else msgspec.json.decode(bytes(call.result)),
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
            result=UNSET if self.result is UNSET else Raw(msgspec.json.encode(self.result)),
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
        if self.result is not UNSET:
            out.append(msgspec.json.encode(self.result).decode())
        return out


def perform(router: Router, clock: ScriptedClock, call: Call, version: int = 1) -> Outcome | None:
    """Make ``call`` (of a scenario of format ``version``) on ``router``: its
    outcome, or ``None`` for a ``clock`` call.

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
    query = QUERIES.get(name)
    if query is None and name not in ("tick", "explain", "explain_agent"):
        assert isinstance(call.args, Raw), call
        command = codec.decode_command(name, bytes(call.args))
    try:
        if command is not None:
            return Outcome(events=tuple(command.apply(router)))
        if query is not None:
            return Outcome(result=_json(query(router, call)))
        if name == "tick":
            result = router.tick()
            return Outcome(events=tuple(result.events), next_due=result.next_due)
        assert isinstance(call.id, str), call
        if name == "explain":
            return Outcome(result=_json(explanation(router.explain(call.id), version)))
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
        got = perform(router, clock, call.request(), scenario.version)
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
    summary = summarise(router, scenario.version)
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


# ---------------------------------------------------------------- comparing


def _request_value(call: Call) -> Any:
    """A call's request as values: a command decoded by the codec (so fields the log
    format gained since with their defaults do not matter), anything else as JSON."""
    args: Any = None
    if isinstance(call.args, Raw):
        if call.call in QUERIES:
            args = msgspec.json.decode(bytes(call.args))
        else:
            args = codec.decode_command(call.call, bytes(call.args))
    return (call.call, args, call.at, call.id)


def _setup_value(setup: Setup) -> Any:
    channels = [codec.decode_command("add_channel", bytes(raw)) for raw in setup.channels]
    return (msgspec.structs.replace(setup, channels=[]), channels)


def difference(recorded: Scenario, made: Scenario) -> str | None:
    """Where ``made`` (a scenario generated again) differs from ``recorded`` as
    values, or ``None``: the same set-up, the same calls with the same outcomes,
    the same summary."""
    if (recorded.scenario, recorded.seed, recorded.version) != (
        made.scenario,
        made.seed,
        made.version,
    ):
        return "a different number, seed or version"
    if _setup_value(recorded.router) != _setup_value(made.router):
        return "a different set-up"
    if len(recorded.calls) != len(made.calls):
        return f"{len(made.calls)} calls, {len(recorded.calls)} recorded"
    for index, (old, new) in enumerate(zip(recorded.calls, made.calls, strict=True)):
        if _request_value(old) != _request_value(new):
            return f"call {index}: {new.show()}, recorded {old.show()}"
        if Outcome.recorded(old) != Outcome.recorded(new):
            return f"call {index}: {Outcome.recorded(new)}, recorded {Outcome.recorded(old)}"
    if msgspec.json.decode(bytes(recorded.summary)) != msgspec.json.decode(bytes(made.summary)):
        return "a different summary"
    return None
