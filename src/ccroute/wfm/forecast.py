"""A day's forecast: read it, staff it per interval with Erlang C/A, write it as a scenario.

A forecast is a list of :class:`ForecastInterval` (start, length, volume,
AHT, optional patience), read from CSV (:func:`parse_forecast_csv`) or TOML
(:func:`parse_forecast_toml`). :func:`staff_forecast` solves every interval
with :func:`ccroute.wfm.staff_erlang_c`, or Erlang A where the interval has a
patience. :func:`plan_scenario` writes a scenario TOML whose agents follow the
plan, so ``ccroute simulate`` checks it through the real router.
:func:`scenario_requirements` derives the same Erlang answer from a
scenario's own arrival streams, per interval, queue and channel.

Pure: text in, values (or text) out; no I/O.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Sequence
from typing import Any

import attrs

from ..errors import CCRouteError, InputError
from ..model import BUILTIN_CHANNELS
from ..sim.scenario import Scenario, parse_clock
from .erlang import StaffingResult, staff_interval

__all__ = [
    "ForecastError",
    "ForecastInterval",
    "Requirement",
    "parse_forecast",
    "parse_forecast_csv",
    "parse_forecast_toml",
    "plan_scenario",
    "scenario_requirements",
    "staff_forecast",
]


class ForecastError(InputError):
    """A forecast file is malformed; the message names the source, the row or field."""


@attrs.frozen(slots=True)
class ForecastInterval:
    """One interval of a forecast: ``volume`` contacts arriving from ``start`` for ``length`` seconds."""

    #: Seconds after midnight.
    start: float
    #: Length in seconds (> 0).
    length: float
    #: Expected contacts in the interval (>= 0).
    volume: float
    #: Average handle time in seconds (> 0), wrap-up included.
    aht: float
    #: Mean patience in seconds (Erlang A), or ``None`` (Erlang C: nobody hangs up).
    patience: float | None = None

    @property
    def rate(self) -> float:
        """Arrivals per second."""
        return self.volume / self.length


def _positive(value: object, where: str, *, zero: bool = False) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ForecastError(f"{where}: expected a number, got {value!r}") from None
    if (
        isinstance(value, bool)
        or not math.isfinite(number)
        or number < 0
        or (number == 0 and not zero)
    ):
        bound = ">= 0" if zero else "> 0"
        raise ForecastError(f"{where}: expected a number {bound}, got {value!r}")
    return number


def _spaced(starts: Sequence[float], source: str, default: float) -> float:
    """The interval length: the spacing of ``starts``, which must be even."""
    if len(starts) < 2:
        return default
    length = starts[1] - starts[0]
    for k in range(1, len(starts)):
        if not math.isclose(starts[k] - starts[k - 1], length):
            raise ForecastError(
                f"{source}: intervals must be evenly spaced; row {k + 1} starts "
                f"{(starts[k] - starts[k - 1]) / 60:g} minutes after the one before, "
                f"not {length / 60:g}"
            )
    if length <= 0:
        raise ForecastError(f"{source}: interval starts must increase")
    return length


def parse_forecast_csv(
    text: str, source: str = "<forecast>", *, interval_minutes: float = 30.0
) -> list[ForecastInterval]:
    """Read a CSV forecast: columns ``start``, ``volume``, ``aht`` and optionally ``patience``.

    ``start`` is ``HH:MM``; the interval length is the spacing of the starts
    (``interval_minutes`` for a single row). An empty ``patience`` means none.
    """
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    missing = [c for c in ("start", "volume", "aht") if c not in columns]
    if missing:
        raise ForecastError(
            f"{source}: missing column(s) {', '.join(missing)} "
            "(columns: start, volume, aht, optional patience)"
        )
    unknown = [c for c in columns if c not in ("start", "volume", "aht", "patience")]
    if unknown:
        raise ForecastError(f"{source}: unknown column(s) {', '.join(unknown)}")
    rows: list[tuple[float, float, float, float | None]] = []
    for line, row in enumerate(reader, start=2):
        where = f"{source} line {line}"
        try:
            start = parse_clock((row["start"] or "").strip(), f"{where}, column 'start'")
        except CCRouteError as exc:
            raise ForecastError(str(exc)) from None
        patience_text = (row.get("patience") or "").strip()
        rows.append(
            (
                start,
                _positive(row["volume"], f"{where}, column 'volume'", zero=True),
                _positive(row["aht"], f"{where}, column 'aht'"),
                _positive(patience_text, f"{where}, column 'patience'") if patience_text else None,
            )
        )
    if not rows:
        raise ForecastError(f"{source}: no intervals")
    length = _spaced([r[0] for r in rows], source, interval_minutes * 60)
    return [ForecastInterval(s, length, v, a, p) for s, v, a, p in rows]


def _series(table: dict[str, Any], key: str, count: int, where: str, zero: bool) -> list[Any]:
    value = table.get(key)
    if isinstance(value, list):
        if len(value) != count:
            raise ForecastError(
                f"{where}, field {key!r}: expected {count} values (one per interval), got {len(value)}"
            )
        return [
            _positive(v, f"{where}, field {key!r} item {i + 1}", zero=zero)
            for i, v in enumerate(value)
        ]
    return [_positive(value, f"{where}, field {key!r}", zero=zero)] * count


def parse_forecast_toml(text: str, source: str = "<forecast>") -> list[ForecastInterval]:
    """Read a TOML forecast: a ``[forecast]`` table.

    Fields: ``start`` (``"08:00"``), ``interval_minutes`` (30), ``volume`` (a
    list, one per interval), ``aht`` (seconds: one number or a list),
    ``patience`` (optional: one number or a list).
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ForecastError(f"{source}: not valid TOML: {exc}") from None
    table = data.get("forecast")
    where = f"{source} [forecast]"
    if not isinstance(table, dict) or set(data) - {"forecast"}:
        raise ForecastError(f"{source}: expected a single [forecast] table")
    unknown = sorted(set(table) - {"start", "interval_minutes", "volume", "aht", "patience"})
    if unknown:
        raise ForecastError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    volumes = table.get("volume")
    if not isinstance(volumes, list) or not volumes:
        raise ForecastError(
            f"{where}, field 'volume': expected a list of volumes, one per interval"
        )
    count = len(volumes)
    try:
        start = parse_clock(table.get("start", "08:00"), f"{where}, field 'start'")
    except CCRouteError as exc:
        raise ForecastError(str(exc)) from None
    length = _positive(table.get("interval_minutes", 30), f"{where}, field 'interval_minutes'") * 60
    volume = _series(table, "volume", count, where, True)
    if "aht" not in table:
        raise ForecastError(f"{where}: missing required field 'aht'")
    aht = _series(table, "aht", count, where, False)
    patience: list[float | None] = (
        _series(table, "patience", count, where, False) if "patience" in table else [None] * count
    )
    return [
        ForecastInterval(start + k * length, length, volume[k], aht[k], patience[k])
        for k in range(count)
    ]


def parse_forecast(text: str, source: str) -> list[ForecastInterval]:
    """Read a forecast by its file name: ``.toml`` as TOML, anything else as CSV."""
    if source.lower().endswith(".toml"):
        return parse_forecast_toml(text, source)
    return parse_forecast_csv(text, source)


def staff_forecast(
    intervals: Sequence[ForecastInterval],
    *,
    service_level: tuple[float, float] | None = None,
    asa: float | None = None,
    occupancy_max: float | None = None,
    abandon_max: float | None = None,
    shrinkage: float = 0.0,
) -> list[StaffingResult]:
    """Required (and scheduled) agents per interval: Erlang A where there is a patience, else C.

    An interval with a patience is solved with Erlang A; ``abandon_max``
    applies to those only and is an error when no interval has a patience.
    """
    if abandon_max is not None and all(i.patience is None for i in intervals):
        raise InputError("an abandon cap needs patience (a 'patience' column or field)")
    return [
        staff_interval(
            interval.rate,
            interval.aht,
            interval.patience,
            service_level=service_level,
            asa=asa,
            occupancy_max=occupancy_max,
            abandon_max=abandon_max,
            shrinkage=shrinkage,
        )
        for interval in intervals
    ]


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def _shifts(agents: Sequence[int]) -> list[tuple[int, int, int]]:
    """Cover a staffing curve with shifts: (first interval, end interval, count), fewest rows.

    Stacks the curve in layers: layer ``k`` is present where at least ``k``
    agents are needed; each run of a layer is one shift, and equal runs merge.
    """
    runs: dict[tuple[int, int], int] = {}
    for level in range(1, max(agents, default=0) + 1):
        k = 0
        while k < len(agents):
            if agents[k] >= level:
                first = k
                while k < len(agents) and agents[k] >= level:
                    k += 1
                runs[(first, k)] = runs.get((first, k), 0) + 1
            else:
                k += 1
    return [(a, b, n) for (a, b), n in sorted(runs.items())]


def plan_scenario(
    intervals: Sequence[ForecastInterval],
    agents: Sequence[int],
    *,
    name: str = "Forecast plan",
    service_level: tuple[float, float] = (0.8, 20.0),
    seed: int = 1,
) -> str:
    """A scenario TOML in which ``agents[k]`` agents work interval ``k`` of the forecast.

    One queue (``calls``, voice) with the forecast's target, Poisson arrivals
    at each interval's volume, exponential handle times of each interval's AHT
    (one stream per distinct AHT and patience) and exponential patience where
    the forecast has one; agent groups are shifts covering the plan exactly.
    """
    if not intervals:
        raise InputError("the forecast has no intervals")
    start = intervals[0].start
    length = intervals[0].length
    end = intervals[-1].start + intervals[-1].length
    days = max(1, math.ceil(end / 86400))
    target, threshold = service_level
    lines = [
        "# Written by `ccroute staff --forecast … --write-scenario`: the forecast staffed with",
        "# Erlang per interval. `ccroute simulate` on this file checks the plan through the router.",
        "",
        "[simulation]",
        f"name = {_toml_string(name)}",
        *([f"days = {days}"] if days > 1 else []),
        f'start = "{_clock(start)}"',
        f'end = "{_clock(end)}"',
        f"interval_minutes = {length / 60:g}",
        f"seed = {seed}",
        "",
        "[[queues]]",
        'name = "calls"',
        f'service_level = "{100 * target:g}/{threshold:g}"',
        "offer_timeout = 0",
        "",
    ]
    for first, stop, count in _shifts(agents):
        shift = f"{_clock(intervals[first].start)}-{_clock(intervals[stop - 1].start + length)}"
        lines += [
            "[[agents]]",
            f'name = "shift-{_clock(intervals[first].start).replace(":", "")}-'
            f'{_clock(intervals[stop - 1].start + length).replace(":", "")}"',
            f"count = {count}",
            'queues = ["calls"]',
            "capacity = { voice = 1 }",
            f'shift = "{shift}"',
            "",
        ]
    kinds = sorted({(i.aht, i.patience or 0.0) for i in intervals})
    for number, (aht, patience) in enumerate(kinds, start=1):
        profile = [
            f"{3600 * i.rate:g}" if (i.aht, i.patience or 0.0) == (aht, patience) else "0"
            for i in intervals
        ]
        lines += [
            "[[arrivals]]",
            f'name = "calls-{number}"',
            'queue = "calls"',
            'channel = "voice"',
            f"profile = [{', '.join(profile)}]",
            f'handle_time = {{ distribution = "exponential", mean = {aht:g} }}',
            *(
                [f'patience = {{ distribution = "exponential", mean = {patience:g} }}']
                if patience
                else []
            ),
            "",
        ]
    return "\n".join(lines)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@attrs.frozen(slots=True)
class Requirement:
    """The Erlang answer for one queue and channel in one interval of a scenario."""

    interval: int
    queue: str
    channel: str
    #: Agents needed (Erlang C, or A where the streams have patience), already
    #: divided by the agents' concurrency on the channel.
    agents: int
    #: Contacts per agent at once on this channel (chat 3 …) used to divide.
    concurrency: float
    result: StaffingResult


def _concurrency(scenario: Scenario, queue: str, channel: str) -> float:
    defaults = {c.name: c.default_capacity for c in (*BUILTIN_CHANNELS, *scenario.channels)}
    weighted = total = 0.0
    for group in scenario.agents:
        if queue not in group.queues:
            continue
        capacity = (
            defaults.get(channel, 1) if group.capacity is None else group.capacity.get(channel, 0)
        )
        if capacity > 0:
            weighted += capacity * group.count
            total += group.count
    return weighted / total if total else 1.0


def scenario_requirements(scenario: Scenario, *, model: str = "auto") -> list[Requirement]:
    """Erlang's answer per interval, queue and channel, from the scenario's own streams.

    For each interval, queue and channel: the arrival rate after self-service,
    the AHT (mean handle time plus the queue's wrap-up, weighted by rate), and
    the queue's own target; Erlang A when every stream has a patience (its
    mean), Erlang C otherwise. Channels an agent serves several at once (chat,
    email) divide the AHT by the members' mean capacity on the channel: the
    usual rule of thumb, which :mod:`ccroute.sim.sizing` checks by simulation.
    Each queue and channel is sized alone, as separate Erlang tables would be.
    ``model="erlang-c"`` ignores patience (Erlang C throughout).
    """
    if model not in ("auto", "erlang-c"):
        raise InputError(f"model must be 'auto' or 'erlang-c', got {model!r}")
    queues = {q.name: q for q in scenario.queues}
    groups: dict[tuple[str, str], list[Any]] = {}
    for stream in scenario.arrivals:
        groups.setdefault((stream.queue, stream.channel), []).append(stream)
    out = []
    for k in range(scenario.intervals):
        for (queue, channel), streams in sorted(groups.items()):
            config = queues[queue]
            rates = [
                (s.rates[k] if len(s.rates) > 1 else s.rates[0]) * (1 - s.self_service_share)
                for s in streams
            ]
            rate = sum(rates)
            wrap = config.wrap_up or 0.0
            if rate <= 0:
                aht = streams[0].handle_time.expected + wrap
            else:
                aht = (
                    sum(
                        r * (s.handle_time.expected + wrap)
                        for r, s in zip(rates, streams, strict=True)
                    )
                    / rate
                )
            concurrency = _concurrency(scenario, queue, channel)
            target = min(config.service_level_target, 0.999)
            sl = (target, config.service_level_threshold)
            patiences = [s.patience.expected for s in streams]
            patience = None
            if model == "auto" and all(math.isfinite(p) for p in patiences) and rate > 0:
                patience = sum(r * p for r, p in zip(rates, patiences, strict=True)) / rate
            result = staff_interval(rate, aht / concurrency, patience, service_level=sl)
            out.append(Requirement(k, queue, channel, result.agents, concurrency, result))
    return out
