"""Simulation scenarios: what a contact-centre day looks like, and the TOML format for it.

A :class:`Scenario` is plain frozen data. :func:`parse_scenario` builds one from
TOML text and validates every field; a mistake raises :class:`ScenarioError`
naming the source, the table and the field. Reading files is the caller's job
(the CLI does it), so this module stays free of I/O. The format is documented in
``docs/scenarios.md``.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import CCRouteError, InputError
from ..model import Channel, ChannelKind, QueueConfig, RoutingStep, Strategy
from ..policies import RoutingPolicy
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
    the router-wide :class:`~ccroute.RoutingPolicy` (not read from TOML).
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

    @property
    def intervals(self) -> int:
        """Number of reporting intervals between ``start`` and ``end``."""
        return max(1, math.ceil((self.end - self.start) / self.interval))

    def with_trace(self, trace: Sequence[TraceRecord]) -> Scenario:
        """The same scenario with arrivals replayed from ``trace`` instead of generated."""
        return attrs.evolve(self, trace=tuple(trace), arrivals=())


# ---------------------------------------------------------------------- parsing


def parse_clock(value: object, where: str) -> float:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (or a number of seconds) to seconds after midnight."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ScenarioError(f"{where}: a time must be >= 0, got {value!r}")
        return float(value)
    if isinstance(value, str):
        parts = value.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if 2 <= len(numbers) <= 3 and all(n >= 0 for n in numbers):
            seconds = numbers[0] * 3600 + numbers[1] * 60 + (numbers[2] if len(numbers) == 3 else 0)
            return seconds
    raise ScenarioError(f'{where}: expected a time like "08:30", got {value!r}')


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
    try:
        result = Distribution(
            kind,
            mean=table.number("mean", 0.0),
            stdev=table.number("stdev", 0.0),
            values=tuple(float(v) for v in values),
        )
    except CCRouteError as exc:
        raise ScenarioError(f"{table.where}: {exc}") from None
    table.finish()
    return result


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
    if isinstance(value, str) and "/" in value:
        target, _, threshold = value.partition("/")
        try:
            t, s = float(target) / 100.0, float(threshold)
        except ValueError:
            t = s = -1.0
        if 0 <= t <= 1 and s >= 0:
            return t, s
    raise ScenarioError(
        f'{table.field("service_level")}: expected "percent/seconds" like "80/20", got {value!r}'
    )


def _queue(table: _Table, known: set[str]) -> QueueConfig:
    """One [[queues]] table; ``known`` holds every queue name of the scenario."""
    name = table.string("name", required=True)
    strategy_name = table.string("strategy", "longest-idle")
    try:
        strategy = Strategy(strategy_name)
    except ValueError:
        choices = ", ".join(s.value for s in Strategy)
        raise ScenarioError(
            f"{table.field('strategy')}: unknown strategy {strategy_name!r}, expected one of {choices}"
        ) from None
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
        steps.append(
            RoutingStep(
                step.number("after", required=True),
                requirements={k: (None if v == 0 else v) for k, v in overrides.items()},
                queues=queues,
            )
        )
        step.finish()
    # TOML has no null: 0 means offers never time out.
    offer_timeout = table.number("offer_timeout", 30.0)
    wrap_up = table.number("wrap_up", 0.0)
    max_size = table.get("max_size")
    try:
        config = QueueConfig(
            name,
            strategy,
            service_level_threshold=threshold,
            service_level_target=target,
            steps=steps,
            max_size=None if max_size is None else table.integer("max_size"),
            offer_timeout=offer_timeout or None,
            wrap_up=wrap_up,
            rona_not_ready=bool(table.get("rona_not_ready", True)),
        )
    except CCRouteError as exc:
        raise ScenarioError(f"{table.where}: {exc}") from None
    table.finish()
    return config


def _agents(table: _Table, queues: set[str], channels: set[str]) -> AgentGroup:
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
    shift = table.get("shift")
    shift_start, shift_end = 0.0, math.inf
    if shift is not None:
        if not isinstance(shift, str) or shift.count("-") != 1:
            raise ScenarioError(f'{table.field("shift")}: expected "HH:MM-HH:MM", got {shift!r}')
        first, second = shift.split("-")
        shift_start = parse_clock(first.strip(), table.field("shift"))
        shift_end = parse_clock(second.strip(), table.field("shift"))
        if shift_end <= shift_start:
            raise ScenarioError(f"{table.field('shift')}: the shift must end after it starts")
    breaks = []
    for item in table.tables("breaks", table.where):
        breaks.append(
            Break(
                parse_clock(item.get("start", required=True), item.field("start")),
                item.number("minutes", required=True, minimum=0.0) * 60,
            )
        )
        item.finish()
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
        breaks=tuple(breaks),
        answer_seconds=table.number("answer_seconds", 0.0),
        no_answer_probability=table.number("no_answer_probability", 0.0, maximum=1.0),
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
    )
    table.finish()
    return stream


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None
    root = _Table(data, source)
    sim = root.table("simulation") or _Table({}, f"{source} [simulation]")
    sim.where = f"{source} [simulation]"
    start = parse_clock(sim.get("start", "08:00"), sim.field("start"))
    end = parse_clock(sim.get("end", "18:00"), sim.field("end"))
    if end <= start:
        raise ScenarioError(f"{sim.field('end')}: the day must end after it starts")
    interval = sim.number("interval_minutes", 30.0, minimum=1.0) * 60
    seed = sim.integer("seed", 1)
    warmup = sim.number("warmup_minutes", 0.0) * 60
    name = sim.string("name", source)
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
                    exclusive=bool(item.get("exclusive", False)),
                )
            )
        except ValueError:
            raise ScenarioError(f"{item.field('kind')}: unknown channel kind {kind!r}") from None
        item.finish()
    from ..model import BUILTIN_CHANNELS

    channel_names = {c.name for c in BUILTIN_CHANNELS} | {c.name for c in channels}

    queue_tables = root.tables("queues", source)
    queue_names = [t.data.get("name") for t in queue_tables]
    known = {n for n in queue_names if isinstance(n, str)}
    for item, queue_name in zip(queue_tables, queue_names, strict=True):
        if queue_names.count(queue_name) > 1:
            raise ScenarioError(f"{item.field('name')}: duplicate queue {queue_name!r}")
    queues = [_queue(item, known) for item in queue_tables]
    if not queues:
        raise ScenarioError(f"{source}: at least one [[queues]] table is required")
    agents = [_agents(item, known, channel_names) for item in root.tables("agents", source)]
    groups = [a.name for a in agents]
    if len(set(groups)) != len(groups):
        raise ScenarioError(f"{source}: [[agents]] names must be unique")
    intervals = max(1, math.ceil((end - start) / interval))
    arrivals = [
        _arrivals(item, i, known, channel_names, intervals)
        for i, item in enumerate(root.tables("arrivals", source))
    ]
    root.finish()
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
    )


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

    Columns (header required): ``arrival`` (seconds after midnight or ``HH:MM:SS``),
    ``channel``, ``queue``, ``skills`` (``en:5;tech:3``), ``priority`` (seconds of
    head start), ``customer``, ``handle_time`` (seconds), ``patience`` (seconds;
    empty for none). Rows must be in arrival order.
    """
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in TRACE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ScenarioError(f"{source}: missing column(s) {', '.join(missing)}")
    records = []
    last = -math.inf
    for line, row in enumerate(reader, start=2):
        where = f"{source} line {line}"
        try:
            arrival = parse_clock(_number_or_text(row["arrival"]), f"{where}, column 'arrival'")
            skills = []
            for part in filter(None, (row["skills"] or "").split(";")):
                name, _, level = part.partition(":")
                value = int(level)
                if not name or not 1 <= value <= 10:
                    raise ValueError(part)
                skills.append((name.strip(), value))
            handle = float(row["handle_time"])
            patience = float(row["patience"]) if (row["patience"] or "").strip() else math.inf
            priority = float(row["priority"] or 0)
        except (ValueError, TypeError) as exc:
            raise ScenarioError(f"{where}: malformed value ({exc})") from None
        if handle < 0 or patience < 0 or not math.isfinite(handle):
            raise ScenarioError(f"{where}: handle_time and patience must be >= 0")
        if arrival < last:
            raise ScenarioError(f"{where}: rows must be in arrival order")
        last = arrival
        if not row["channel"] or not row["queue"]:
            raise ScenarioError(f"{where}: channel and queue are required")
        records.append(
            TraceRecord(
                arrival,
                row["channel"],
                row["queue"],
                tuple(sorted(skills)),
                priority,
                row["customer"] or None,
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
