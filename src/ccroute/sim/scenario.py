"""Simulation scenarios: what a contact-centre day looks like, and the TOML format for it.

A :class:`Scenario` is plain frozen data. :func:`parse_scenario` builds one from
TOML text and validates every field; a mistake raises :class:`ScenarioError`
naming the source, the table and the field. Reading files is the caller's job
(the CLI does it), so this module stays free of I/O. The format is documented in
``docs/scenarios.md``.
"""

from __future__ import annotations

import csv
import datetime
import enum
import math
import tomllib
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import attrs

from ..business_hours import BusinessHours, WhenClosed
from ..errors import CCRouteError, InputError
from ..model import Admission, Channel, ChannelKind, QueueConfig, RoutingStep, Strategy
from ..policies import RampUp, RoutingPolicy
from ..targets import parse_service_level
from ..wfm import parse_rate
from .distributions import Distribution

__all__ = [
    "AgentGroup",
    "ArrivalStream",
    "Break",
    "Scenario",
    "ScenarioError",
    "TraceRecord",
    "parse_clock",
    "parse_scenario",
    "parse_trace",
]


class ScenarioError(InputError):
    """A scenario or trace is malformed; the message names the source, table and field."""


@attrs.frozen(slots=True)
class Break:
    """A break (not-ready) starting ``start`` seconds after midnight, for ``seconds``."""

    start: float
    seconds: float


@attrs.frozen(slots=True)
class AgentGroup:
    """``count`` agents alike: skills, queues, capacity, shift and breaks.

    Agents are named ``{name}-{i:03d}``. ``answer_seconds`` is how long an offer
    rings before the agent accepts; with probability ``no_answer_probability``
    the agent does not answer at all and the offer times out.
    """

    name: str
    count: int
    skills: tuple[tuple[str, int], ...]
    queues: frozenset[str]
    capacity: Mapping[str, int] | None = None
    unit_budget: int | None = None
    shift_start: float = 0.0
    shift_end: float = math.inf
    breaks: tuple[Break, ...] = ()
    answer_seconds: float = 0.0
    no_answer_probability: float = 0.0
    #: Queue name to seconds a contact of that queue waits before this group is offered it.
    queue_delays: tuple[tuple[str, float], ...] = ()


@attrs.frozen(slots=True)
class ArrivalStream:
    """One kind of contact arriving at random (Poisson) on one queue and channel.

    ``rates`` gives arrivals per second per interval (one value applies to the
    whole day). ``self_service_share`` of arrivals are resolved by the IVR and
    never reach the queue. A waiting contact requests a callback after
    ``callback_after`` seconds with probability ``callback_share``.
    """

    name: str
    queue: str
    channel: str
    requirements: tuple[tuple[str, int], ...]
    rates: tuple[float, ...]
    handle_time: Distribution
    patience: Distribution = attrs.field(factory=lambda: Distribution("none"))
    vip_share: float = 0.0
    vip_priority_seconds: float = 60.0
    self_service_share: float = 0.0
    callback_after: float | None = None
    callback_share: float = 0.0
    #: Seconds a contact of this stream may wait before it overflows or times
    #: out (overrides its queue's ``max_wait``); ``None`` for the queue's.
    max_wait: float | None = None


@attrs.frozen(slots=True)
class TraceRecord:
    """One replayed arrival from a CSV trace."""

    arrival: float
    channel: str
    queue: str
    requirements: tuple[tuple[str, int], ...]
    priority_seconds: float
    customer_id: str | None
    handle_time: float
    patience: float


@attrs.frozen(slots=True)
class Scenario:
    """A contact-centre day to simulate.

    Times are seconds after midnight; arrivals happen from ``start`` to ``end``,
    and the simulation runs on until the last contact is finished, abandoned,
    timed out or stranded (no agent left who could take it). ``policy`` is
    the router-wide :class:`~ccroute.RoutingPolicy` (the ``[routing]`` table).
    ``days`` is the declared horizon: times run up to ``days`` x 24:00.
    ``epoch`` is the Unix time of the scenario's time 0 (midnight of its
    ``date`` in its ``timezone``), in which queues' business-hours calendars
    are read (docs/business-hours.md).
    """

    start: float
    end: float
    interval: float
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentGroup, ...]
    arrivals: tuple[ArrivalStream, ...] = ()
    channels: tuple[Channel, ...] = ()
    seed: int = 1
    warmup: float = 0.0
    trace: tuple[TraceRecord, ...] = ()
    name: str = "scenario"
    policy: RoutingPolicy | None = None
    days: int = 1
    epoch: float = 0.0

    @property
    def intervals(self) -> int:
        """Number of reporting intervals between ``start`` and ``end``."""
        return max(1, math.ceil((self.end - self.start) / self.interval))

    def with_trace(self, trace: Sequence[TraceRecord], source: str = "<trace>") -> Scenario:
        """The same scenario with arrivals replayed from ``trace`` instead of generated.

        A record naming a queue or channel the scenario does not have raises
        :class:`ScenarioError` naming ``source`` and the record's arrival time.
        """
        from ..model import BUILTIN_CHANNELS

        queues = {q.name for q in self.queues}
        channels = {c.name for c in BUILTIN_CHANNELS} | {c.name for c in self.channels}
        for record in trace:
            for kind, name, known in (
                ("queue", record.queue, queues),
                ("channel", record.channel, channels),
            ):
                if name not in known:
                    raise ScenarioError(
                        f"{source}: the arrival at {_clock_text(record.arrival)} names the "
                        f"unknown {kind} {name!r}"
                    )
        return attrs.evolve(self, trace=tuple(trace), arrivals=())


# ---------------------------------------------------------------------- parsing


DAY = 86400.0


def parse_clock(value: object, where: str, *, horizon: float = math.inf) -> float:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (or a number of seconds) to seconds after midnight.

    Minutes and seconds are below 60; the time may not be later than
    ``horizon`` seconds (a scenario's is ``days`` x 24:00).
    """
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0 or not math.isfinite(value):
            raise ScenarioError(f"{where}: a time must be a finite number >= 0, got {value!r}")
        seconds = float(value)
    elif isinstance(value, str):
        parts = value.strip().split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if (
            2 <= len(numbers) <= 3
            and all(n >= 0 for n in numbers)
            and all(n < 60 for n in numbers[1:])
        ):
            seconds = numbers[0] * 3600 + numbers[1] * 60 + (numbers[2] if len(numbers) == 3 else 0)
    if seconds is None:
        raise ScenarioError(f'{where}: expected a time like "08:30", got {value!r}')
    if seconds > horizon:
        days = horizon / DAY
        raise ScenarioError(
            f"{where}: {value!r} is past {_clock_text(horizon)}, the end of the "
            + ("day" if days == 1 else f"{days:g}-day horizon")
            + "; a later time needs a longer horizon ([simulation] days = 2)"
        )
    return seconds


def _clock_text(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


class _Table:
    """Typed access to one TOML table, with errors that say where."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ScenarioError(f"{where}: expected a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.where = where
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.where}, field {key!r}"

    def get(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        self.used.add(key)
        if key not in self.data:
            if required:
                raise ScenarioError(f"{self.where}: missing required field {key!r}")
            return default
        return self.data[key]

    def number(
        self,
        key: str,
        default: float | None = None,
        *,
        minimum: float = 0.0,
        required: bool = False,
        maximum: float = math.inf,
    ) -> float:
        value = self.get(key, default, required=required)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ScenarioError(f"{self.field(key)}: expected a number, got {value!r}")
        if not minimum <= value <= maximum:
            bound = (
                f"between {minimum} and {maximum}" if math.isfinite(maximum) else f">= {minimum}"
            )
            raise ScenarioError(f"{self.field(key)}: must be {bound}, got {value!r}")
        return float(value)

    def integer(
        self, key: str, default: int | None = None, *, minimum: int = 0, required: bool = False
    ) -> int:
        value = self.get(key, default, required=required)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ScenarioError(
                f"{self.field(key)}: expected an integer >= {minimum}, got {value!r}"
            )
        return value

    def string(self, key: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.get(key, default, required=required)
        if not isinstance(value, str) or not value:
            raise ScenarioError(f"{self.field(key)}: expected a non-empty string, got {value!r}")
        return value

    def skills(self, key: str) -> tuple[tuple[str, int], ...]:
        value = self.get(key, {})
        if not isinstance(value, dict):
            raise ScenarioError(f"{self.field(key)}: expected a table of skill = level")
        for name, level in value.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
                raise ScenarioError(
                    f"{self.field(key)}: level of skill {name!r} must be an integer in 1..10, "
                    f"got {level!r}"
                )
        return tuple(sorted(value.items()))

    def names(self, key: str, *, required: bool = False) -> frozenset[str]:
        value = self.get(key, [], required=required)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ScenarioError(f"{self.field(key)}: expected a list of names")
        return frozenset(value)

    def table(self, key: str) -> _Table | None:
        value = self.get(key)
        return None if value is None else _Table(value, self.field(key))

    def tables(self, key: str, where: str) -> list[_Table]:
        value = self.get(key, [])
        if not isinstance(value, list):
            raise ScenarioError(f"{self.field(key)}: expected an array of tables [[{key}]]")
        return [_Table(item, f"{where} [[{key}]] #{i + 1}") for i, item in enumerate(value)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ScenarioError(f"{self.where}: unknown field(s) {', '.join(map(repr, unknown))}")


def _distribution(
    table: _Table | None, where: str, *, default: Distribution | None = None
) -> Distribution:
    if table is None:
        if default is None:
            raise ScenarioError(f"{where}: missing required field")
        return default
    kind = table.string("distribution", "exponential")
    values = table.get("values", [])
    if not isinstance(values, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
    ):
        raise ScenarioError(f"{table.field('values')}: expected a list of numbers")
    mean = table.number("mean", 0.0)
    stdev = table.number("stdev", 0.0)
    table.finish()
    try:
        return Distribution(kind, mean=mean, stdev=stdev, values=tuple(float(v) for v in values))
    except CCRouteError as exc:
        raise ScenarioError(f"{table.where}: {exc}") from None


def _rate(value: object, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0 or not math.isfinite(value):
            raise ScenarioError(f"{where}: a rate must be a finite number >= 0, got {value!r}")
        return float(value) / 3600.0  # a bare number is per hour
    if isinstance(value, str):
        try:
            return parse_rate(value)
        except CCRouteError as exc:
            raise ScenarioError(f"{where}: {exc}") from None
    raise ScenarioError(f'{where}: expected a rate like "120/h" or "50/30min", got {value!r}')


def _service_level(table: _Table) -> tuple[float, float]:
    value = table.get("service_level", "80/20")
    try:
        return parse_service_level(value, table.field("service_level"))
    except CCRouteError as exc:
        raise ScenarioError(str(exc)) from None


def _optional_seconds(table: _Table, key: str, *, positive: bool = False) -> float | None:
    """A number of seconds, absent (or 0 where ``positive``: TOML has no null) for none."""
    if key not in table.data:
        table.used.add(key)
        return None
    value = table.number(key)
    return None if positive and value == 0 else value


def _flag(table: _Table, key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ScenarioError(f"{table.field(key)}: expected true or false, got {value!r}")
    return value


def _blocking_matrix(
    table: _Table, key: str, channels: set[str]
) -> dict[str, frozenset[str]] | None:
    """``{ voice = ["chat", "email"] }``: holding voice work blocks chats and emails."""
    value = table.get(key)
    if value is None:
        return None
    where = table.field(key)
    if not isinstance(value, dict):
        raise ScenarioError(f'{where}: expected a table such as {{ voice = ["chat"] }}')
    matrix = {}
    for holding, blocked in value.items():
        if isinstance(blocked, str):
            blocked = [blocked]
        if not isinstance(blocked, list) or not all(isinstance(b, str) for b in blocked):
            raise ScenarioError(f"{where}: channels blocked by {holding!r} must be a list of names")
        for name in [holding, *blocked]:
            if name not in channels:
                raise ScenarioError(f"{where}: unknown channel {name!r}")
        matrix[holding] = frozenset(blocked)
    return matrix


_QUEUE_POLICIES = (
    "ring",
    "max_wait",
    "overflow",
    "overflow_keep_key",
    "skip_if_no_agent",
    "admission",
    "rejoin_window",
    "priority_seconds",
    "blocking",
    "calendar",
    "when_closed",
    "callback_retries",
)


def _calendars(table: _Table | None) -> dict[str, BusinessHours]:
    """The ``[calendars.NAME]`` tables: business hours queues name."""
    if table is None:
        return {}
    out = {}
    for name, value in table.data.items():
        table.used.add(name)
        out[name] = _calendar(value, table.field(name))
    return out


def _calendar(value: object, where: str) -> BusinessHours:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a table of business hours")
    try:
        return BusinessHours.from_mapping(value)
    except CCRouteError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _closed_hours(table: _Table, calendars: Mapping[str, BusinessHours]) -> dict[str, Any]:
    """A queue's ``calendar`` (a name of ``[calendars]`` or a table), ``when_closed``
    and ``callback_retries``."""
    value = table.get("calendar")
    calendar = None
    if isinstance(value, str):
        calendar = calendars.get(value)
        if calendar is None:
            known = ", ".join(sorted(calendars)) or "none"
            raise ScenarioError(
                f"{table.field('calendar')}: unknown calendar {value!r} ([calendars]: {known})"
            )
    elif value is not None:
        calendar = _calendar(value, table.field("calendar"))
    when_closed = _choice(table, "when_closed", WhenClosed, WhenClosed.REFUSE, "behaviour")
    retries = table.get("callback_retries", [])
    if not isinstance(retries, list) or not all(
        isinstance(r, (int, float)) and not isinstance(r, bool) for r in retries
    ):
        raise ScenarioError(f"{table.field('callback_retries')}: expected a list of seconds")
    return {
        "calendar": calendar,
        "when_closed": when_closed,
        "callback_retries": tuple(float(r) for r in retries),
    }


_E = TypeVar("_E", bound=enum.Enum)


def _choice(table: _Table, key: str, kind: type[_E], default: _E, noun: str) -> _E:
    """The member of ``kind`` whose value ``table[key]`` names (``default`` when
    absent), or a ScenarioError listing the values it could be."""
    name = table.string(key, default.value)
    try:
        return kind(name)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ScenarioError(
            f"{table.field(key)}: unknown {noun} {name!r}, expected one of {choices}"
        ) from None


def _queue(
    table: _Table,
    known: set[str],
    channels: set[str],
    calendars: Mapping[str, BusinessHours] | None = None,
) -> QueueConfig:
    """One [[queues]] table; ``known`` holds every queue name of the scenario."""
    name = table.string("name", required=True)
    strategy = _choice(table, "strategy", Strategy, Strategy.LONGEST_IDLE, "strategy")
    target, threshold = _service_level(table)
    steps = []
    for step in table.tables("steps", table.where):
        queues = step.names("queues")
        for q in sorted(queues - known - {name}):
            raise ScenarioError(f"{step.field('queues')}: unknown queue {q!r}")
        overrides = step.get("requirements", {})
        if not isinstance(overrides, dict) or not all(
            (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 10) or v == 0
            for v in overrides.values()
        ):
            raise ScenarioError(
                f"{step.field('requirements')}: expected skill = level (1..10, or 0 to drop the skill)"
            )
        after = step.number("after", required=True)
        step.finish()
        try:
            steps.append(
                RoutingStep(
                    after,
                    requirements={k: (None if v == 0 else v) for k, v in overrides.items()},
                    queues=queues,
                )
            )
        except CCRouteError as exc:
            raise ScenarioError(f"{step.where}: {exc}") from None
    if [s.after for s in steps] != sorted(s.after for s in steps):
        raise ScenarioError(f"{table.field('steps')}: steps must be in increasing order of 'after'")
    # TOML has no null: 0 means offers never time out.
    offer_timeout = table.number("offer_timeout", 30.0)
    wrap_up = table.number("wrap_up", 0.0)
    max_size = None if table.get("max_size") is None else table.integer("max_size")
    overflow = table.get("overflow")
    if overflow is not None:
        overflow = table.string("overflow")
        if overflow not in known:
            raise ScenarioError(f"{table.field('overflow')}: unknown queue {overflow!r}")
        if overflow == name:
            raise ScenarioError(f"{table.field('overflow')}: a queue cannot overflow to itself")
    max_wait = _optional_seconds(table, "max_wait", positive=True)
    if overflow is not None and max_wait is None and not table.data.get("skip_if_no_agent"):
        raise ScenarioError(
            f"{table.field('overflow')}: overflow needs max_wait (or skip_if_no_agent = true)"
        )
    admission = _choice(table, "admission", Admission, Admission.ALWAYS, "admission")
    policies: dict[str, Any] = {
        "ring": table.integer("ring", 1, minimum=1),
        "max_wait": max_wait,
        "overflow": overflow,
        "overflow_keep_key": _flag(table, "overflow_keep_key", True),
        "skip_if_no_agent": _flag(table, "skip_if_no_agent", False),
        "admission": admission,
        "rejoin_window": _optional_seconds(table, "rejoin_window", positive=True),
        "priority_seconds": table.number("priority_seconds", 0.0, minimum=-math.inf),
        "blocking": _blocking_matrix(table, "blocking", channels) or {},
        **_closed_hours(table, calendars or {}),
    }
    rona = _flag(table, "rona_not_ready", True)
    table.finish()
    try:
        return QueueConfig(
            name,
            strategy,
            service_level_threshold=threshold,
            service_level_target=target,
            steps=steps,
            max_size=max_size,
            offer_timeout=offer_timeout or None,
            wrap_up=wrap_up,
            rona_not_ready=rona,
            **policies,
        )
    except CCRouteError as exc:
        raise ScenarioError(f"{table.where}: {exc}") from None


def _shift(table: _Table, horizon: float) -> tuple[float, float]:
    shift = table.get("shift")
    if shift is None:
        return 0.0, math.inf
    where = table.field("shift")
    if not isinstance(shift, str) or shift.count("-") != 1:
        raise ScenarioError(f'{where}: expected "HH:MM-HH:MM", got {shift!r}')
    first, second = shift.split("-")
    start = parse_clock(first.strip(), where, horizon=horizon)
    end = parse_clock(second.strip(), where, horizon=horizon)
    if end <= start:
        raise ScenarioError(
            f"{where}: the shift must end after it starts, got {shift!r} "
            "(a shift past midnight is written 22:00-30:00, with [simulation] days = 2)"
        )
    return start, end


def _agents(table: _Table, queues: set[str], channels: set[str], horizon: float) -> AgentGroup:
    name = table.string("name", required=True)
    member_of = table.names("queues", required=True)
    for q in sorted(member_of - queues):
        raise ScenarioError(f"{table.field('queues')}: unknown queue {q!r}")
    capacity = table.get("capacity")
    if capacity is not None:
        if not isinstance(capacity, dict):
            raise ScenarioError(f"{table.field('capacity')}: expected a table of channel = count")
        for channel, count in capacity.items():
            if channel not in channels:
                raise ScenarioError(f"{table.field('capacity')}: unknown channel {channel!r}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ScenarioError(
                    f"{table.field('capacity')}: capacity for {channel!r} must be an integer >= 0"
                )
    shift_start, shift_end = _shift(table, horizon)
    breaks: list[Break] = []
    for item in table.tables("breaks", table.where):
        start = parse_clock(item.get("start", required=True), item.field("start"), horizon=horizon)
        length = item.number("minutes", required=True, minimum=0.0) * 60
        item.finish()
        if start < shift_start or start + length > shift_end:
            shift = table.data.get("shift", "the whole day")
            raise ScenarioError(
                f"{item.where}: the break {_clock_text(start)}-{_clock_text(start + length)} "
                f"is outside the shift {shift}"
            )
        for other in breaks:
            if start < other.start + other.seconds and other.start < start + length:
                raise ScenarioError(
                    f"{item.where}: the break at {_clock_text(start)} overlaps the one at "
                    f"{_clock_text(other.start)}"
                )
        breaks.append(Break(start, length))
    delays = table.get("queue_delays", {})
    if not isinstance(delays, dict):
        raise ScenarioError(f"{table.field('queue_delays')}: expected a table of queue = seconds")
    for queue, seconds in delays.items():
        if queue not in member_of:
            raise ScenarioError(
                f"{table.field('queue_delays')}: {queue!r} is not one of the group's queues"
            )
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ScenarioError(
                f"{table.field('queue_delays')}: delay for {queue!r} must be seconds >= 0"
            )
    budget = table.get("unit_budget")
    group = AgentGroup(
        name=name,
        count=table.integer("count", 1, minimum=1),
        skills=table.skills("skills"),
        queues=member_of,
        capacity=capacity,
        unit_budget=None if budget is None else table.integer("unit_budget"),
        shift_start=shift_start,
        shift_end=shift_end,
        breaks=tuple(sorted(breaks, key=lambda b: b.start)),
        answer_seconds=table.number("answer_seconds", 0.0),
        no_answer_probability=table.number("no_answer_probability", 0.0, maximum=1.0),
        queue_delays=tuple(sorted((q, float(d)) for q, d in delays.items())),
    )
    table.finish()
    return group


def _arrivals(
    table: _Table, index: int, queues: set[str], channels: set[str], intervals: int
) -> ArrivalStream:
    queue = table.string("queue", required=True)
    if queue not in queues:
        raise ScenarioError(f"{table.field('queue')}: unknown queue {queue!r}")
    channel = table.string("channel", "voice")
    if channel not in channels:
        raise ScenarioError(f"{table.field('channel')}: unknown channel {channel!r}")
    if ("rate" in table.data) == ("profile" in table.data):
        raise ScenarioError(f"{table.where}: give exactly one of 'rate' or 'profile'")
    if "rate" in table.data:
        rates: tuple[float, ...] = (_rate(table.get("rate"), table.field("rate")),)
    else:
        profile = table.get("profile")
        if not isinstance(profile, list) or not profile:
            raise ScenarioError(
                f"{table.field('profile')}: expected a list of rates, one per interval"
            )
        if len(profile) != intervals:
            raise ScenarioError(
                f"{table.field('profile')}: expected {intervals} rates (one per interval), got {len(profile)}"
            )
        rates = tuple(
            _rate(v, f"{table.field('profile')} item {i + 1}") for i, v in enumerate(profile)
        )
    callback = table.table("callback")
    callback_after, callback_share = None, 0.0
    if callback is not None:
        callback_after = callback.number("after", required=True)
        callback_share = callback.number("share", 1.0, maximum=1.0)
        callback.finish()
    stream = ArrivalStream(
        name=table.string("name", f"{queue}-{channel}-{index + 1}"),
        queue=queue,
        channel=channel,
        requirements=table.skills("skills"),
        rates=rates,
        handle_time=_distribution(table.table("handle_time"), table.field("handle_time")),
        patience=_distribution(
            table.table("patience"), table.field("patience"), default=Distribution("none")
        ),
        vip_share=table.number("vip_share", 0.0, maximum=1.0),
        vip_priority_seconds=table.number("vip_priority_seconds", 60.0),
        self_service_share=table.number("self_service_share", 0.0, maximum=1.0),
        callback_after=callback_after,
        callback_share=callback_share,
        max_wait=_optional_seconds(table, "max_wait", positive=True),
    )
    table.finish()
    return stream


def _routing(table: _Table | None, channels: set[str]) -> RoutingPolicy | None:
    """The router-wide ``[routing]`` table: blocking, reserve_for, ramp_up."""
    if table is None:
        return None
    blocking = _blocking_matrix(table, "blocking", channels) or {}
    reserve = table.names("reserve_for")
    for name in sorted(reserve - channels):
        raise ScenarioError(f"{table.field('reserve_for')}: unknown channel {name!r}")
    ramp_table = table.table("ramp_up")
    ramp = None
    if ramp_table is not None:
        seconds = _optional_seconds(ramp_table, "seconds", positive=True)
        accepted = ramp_table.get("accepted")
        if accepted is not None:
            accepted = ramp_table.integer("accepted", minimum=1)
        ramp_table.finish()
        try:
            ramp = RampUp(seconds=seconds, accepted=accepted)
        except CCRouteError as exc:
            raise ScenarioError(f"{ramp_table.where}: {exc}") from None
    table.finish()
    try:
        return RoutingPolicy(blocking=blocking, reserve_for=reserve, ramp_up=ramp)
    except CCRouteError as exc:
        raise ScenarioError(f"{table.where}: {exc}") from None


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    root = _Table(data, source)
    sim = root.table("simulation") or _Table({}, f"{source} [simulation]")
    sim.where = f"{source} [simulation]"
    days = sim.integer("days", 1, minimum=1)
    horizon = days * DAY
    start = parse_clock(sim.get("start", "08:00"), sim.field("start"), horizon=horizon)
    end = parse_clock(sim.get("end", "18:00"), sim.field("end"), horizon=horizon)
    if end <= start:
        raise ScenarioError(f"{sim.field('end')}: the day must end after it starts")
    interval = sim.number("interval_minutes", 30.0, minimum=1.0) * 60
    seed = sim.integer("seed", 1)
    warmup = sim.number("warmup_minutes", 0.0) * 60
    if warmup >= end - start:
        raise ScenarioError(
            f"{sim.field('warmup_minutes')}: the warm-up must be shorter than the day"
        )
    name = sim.string("name", source)
    epoch = _epoch(sim)
    sim.finish()

    channels = []
    for item in root.tables("channels", source):
        kind = item.string("kind", "asynchronous")
        try:
            channels.append(
                Channel(
                    item.string("name", required=True),
                    ChannelKind(kind),
                    default_capacity=item.integer("default_capacity", 1),
                    unit_cost=item.integer("unit_cost", 0),
                    exclusive=_flag(item, "exclusive", False),
                )
            )
        except ValueError:
            raise ScenarioError(f"{item.field('kind')}: unknown channel kind {kind!r}") from None
        item.finish()
    from ..model import BUILTIN_CHANNELS

    channel_names = {c.name for c in BUILTIN_CHANNELS} | {c.name for c in channels}
    routing = root.table("routing")
    if routing is not None:
        routing.where = f"{source} [routing]"
    policy = _routing(routing, channel_names)

    queue_tables = root.tables("queues", source)
    queue_names = [t.data.get("name") for t in queue_tables]
    known = {n for n in queue_names if isinstance(n, str)}
    for item, queue_name in zip(queue_tables, queue_names, strict=True):
        if queue_names.count(queue_name) > 1:
            raise ScenarioError(f"{item.field('name')}: duplicate queue {queue_name!r}")
    calendar_table = root.table("calendars")
    if calendar_table is not None:
        calendar_table.where = f"{source} [calendars]"
    calendars = _calendars(calendar_table)
    queues = [_queue(item, known, channel_names, calendars) for item in queue_tables]
    if not queues:
        raise ScenarioError(f"{source}: at least one [[queues]] table is required")
    _check_overflow_cycles(queues, source)
    agents = [
        _agents(item, known, channel_names, horizon) for item in root.tables("agents", source)
    ]
    groups = [a.name for a in agents]
    if len(set(groups)) != len(groups):
        raise ScenarioError(f"{source}: [[agents]] names must be unique")
    intervals = max(1, math.ceil((end - start) / interval))
    arrivals = [
        _arrivals(item, i, known, channel_names, intervals)
        for i, item in enumerate(root.tables("arrivals", source))
    ]
    streams = [a.name for a in arrivals]
    if len(set(streams)) != len(streams):
        raise ScenarioError(f"{source}: [[arrivals]] names must be unique")
    root.finish()
    _check_no_answer(queues, agents, source)
    return Scenario(
        start=start,
        end=end,
        interval=interval,
        queues=tuple(queues),
        agents=tuple(agents),
        arrivals=tuple(arrivals),
        channels=tuple(channels),
        seed=seed,
        warmup=warmup,
        name=name,
        policy=policy,
        days=days,
        epoch=epoch,
    )


def _epoch(sim: _Table) -> float:
    """The Unix time of midnight of ``date`` in ``timezone`` (0 without a date)."""
    zone_name = sim.string("timezone", "UTC")
    try:
        zone = zoneinfo.ZoneInfo(zone_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScenarioError(
            f"{sim.field('timezone')}: {zone_name!r} is not a known IANA time zone"
        ) from None
    value = sim.get("date")
    if value is None:
        return 0.0
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ScenarioError(f'{sim.field("date")}: expected a date like "2026-12-07"')
    return datetime.datetime(value.year, value.month, value.day, tzinfo=zone).timestamp()


def _check_overflow_cycles(queues: Sequence[QueueConfig], source: str) -> None:
    """Refuse overflow chains that come back to where they started (a contact would loop)."""
    overflow = {q.name: q.overflow for q in queues}
    for first in overflow:
        seen = [first]
        current = overflow[first]
        while current is not None:
            if current in seen:
                chain = " -> ".join([*seen, current])
                raise ScenarioError(f"{source} [[queues]]: overflow goes round in a loop: {chain}")
            seen.append(current)
            current = overflow.get(current)


def _check_no_answer(
    queues: Sequence[QueueConfig], agents: Sequence[AgentGroup], source: str
) -> None:
    """An offer nobody answers rings for ever unless the queue times offers out."""
    timeless = {q.name for q in queues if q.offer_timeout is None}
    for index, group in enumerate(agents):
        stuck = sorted(group.queues & timeless)
        if group.no_answer_probability > 0 and stuck:
            raise ScenarioError(
                f"{source} [[agents]] #{index + 1}, field 'no_answer_probability': offers "
                f"nobody answers never end on queue {stuck[0]!r} (offer_timeout = 0)"
            )


#: The columns a trace must have; the others are optional.
TRACE_REQUIRED = ("arrival", "queue", "handle_time")
#: Every column a trace may have.
TRACE_COLUMNS = (
    "arrival",
    "channel",
    "queue",
    "skills",
    "priority",
    "customer",
    "handle_time",
    "patience",
)


def parse_trace(text: str, source: str = "<trace>") -> list[TraceRecord]:
    """Parse a CSV trace of arrivals.

    Columns (header required; only ``arrival``, ``queue`` and ``handle_time``
    must be there): ``arrival`` (seconds after midnight, ``HH:MM:SS``, or an
    ISO 8601 timestamp such as ``2024-03-04T08:00:01``, counted from midnight of
    the first row's date), ``channel`` (default ``voice``), ``queue``,
    ``skills`` (``en:5;tech:3``), ``priority`` (seconds of head start),
    ``customer``, ``handle_time`` (seconds), ``patience`` (seconds; empty for
    none). Rows must be in arrival order; unknown columns are errors.
    """
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in TRACE_REQUIRED if c not in columns]
    if missing:
        raise ScenarioError(
            f"{source}: missing column(s) {', '.join(missing)} "
            f"(required: {', '.join(TRACE_REQUIRED)}; optional: "
            f"{', '.join(c for c in TRACE_COLUMNS if c not in TRACE_REQUIRED)})"
        )
    unknown = [c for c in columns if c not in TRACE_COLUMNS]
    if unknown:
        raise ScenarioError(f"{source}: unknown column(s) {', '.join(unknown)}")
    records = []
    last = -math.inf
    origin: datetime.datetime | None = None
    for line, row in enumerate(reader, start=2):
        where = f"{source} line {line}"

        def cell(name: str, row: dict[str, str | None] = row) -> str:
            return (row.get(name) or "").strip()

        text_arrival = cell("arrival")
        if "T" in text_arrival or text_arrival.count("-") >= 2:
            try:
                moment = datetime.datetime.fromisoformat(text_arrival)
            except ValueError:
                raise ScenarioError(
                    f"{where}, column 'arrival': not an ISO 8601 timestamp: {text_arrival!r}"
                ) from None
            if origin is None:
                origin = moment.replace(hour=0, minute=0, second=0, microsecond=0)
            if (moment.tzinfo is None) != (origin.tzinfo is None):
                raise ScenarioError(
                    f"{where}, column 'arrival': mixes timestamps with and without a time zone"
                )
            arrival = (moment - origin).total_seconds()
        else:
            arrival = parse_clock(_number_or_text(text_arrival), f"{where}, column 'arrival'")
        try:
            skills = []
            for part in filter(None, cell("skills").split(";")):
                name, _, level = part.partition(":")
                value = int(level)
                if not name.strip() or not 1 <= value <= 10:
                    raise ValueError(f"skill {part!r}: expected name:level with level 1..10")
                skills.append((name.strip(), value))
            handle = float(cell("handle_time"))
            patience = float(cell("patience")) if cell("patience") else math.inf
            priority = float(cell("priority") or 0)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(f"{where}: malformed value ({exc})") from None
        if handle < 0 or patience < 0 or not math.isfinite(handle):
            raise ScenarioError(f"{where}: handle_time and patience must be >= 0")
        if arrival < last:
            raise ScenarioError(f"{where}: rows must be in arrival order")
        last = arrival
        if not cell("queue"):
            raise ScenarioError(f"{where}: the queue is required")
        records.append(
            TraceRecord(
                arrival,
                cell("channel") or "voice",
                cell("queue"),
                tuple(sorted(skills)),
                priority,
                cell("customer") or None,
                handle,
                patience,
            )
        )
    return records


def _number_or_text(value: str | None) -> object:
    if value is None:
        return ""
    try:
        return float(value)
    except ValueError:
        return value
