"""The figures of simulated days as data (``--json``) and as tables (``--format``).

:func:`day_data` turns one :class:`~ccroute.sim.SimulationResult` into
JSON-ready data; :func:`replications_data` summarises several runs with
means and 95% confidence intervals per queue and per interval;
:func:`day_tables` and :func:`replication_tables` lay them out as
:class:`~ccroute.cli.tables.Table` values. Every service level is measured
against the threshold of the queue the contact waited in; rows that pool
queues (channels, intervals, the total) pool those per-queue measurements.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ..sim import Scenario, SimulationResult
from ..sim.breakdown import Tally
from ..sim.replications import estimate
from ..targets import format_service_level
from ..wfm.forecast import Requirement, scenario_requirements
from .tables import Cell, Table

__all__ = [
    "MISSED",
    "band",
    "day_data",
    "day_tables",
    "replication_tables",
    "replications_data",
]

#: The text mark of a figure below its target.
MISSED = "*"
_MISSED_NOTE = "below the queue's service-level target"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _tally_row(tally: Tally, target: float | None, threshold: float | None) -> dict[str, Any]:
    level = tally.service_level()
    return {
        "offered": tally.offered,
        "answered": tally.answered,
        "abandoned": tally.abandoned,
        "short_abandons": tally.short_abandons,
        "timed_out": tally.timed_out,
        "transferred_out": tally.transferred_out,
        "refused": tally.refused,
        "service_level": _num(level),
        "service_level_threshold_seconds": threshold,
        "service_level_target": target,
        "service_level_met": None if level is None or target is None else level >= target,
        "asa_seconds": _num(tally.asa),
        "aht_seconds": _num(tally.aht),
        "abandon_rate": _num(tally.abandon_rate),
        "longest_wait_seconds": _num(tally.longest_wait, 3),
    }


def _agent_ids(scenario: Scenario, queue: str | None = None, group: str | None = None) -> list[str]:
    return [
        f"{g.name}-{i + 1:03d}"
        for g in scenario.agents
        if (queue is None or queue in g.queues) and (group is None or g.name == group)
        for i in range(g.count)
    ]


def _required(requirements: Sequence[Requirement], interval: int, queue: str | None = None) -> int:
    return sum(
        r.agents for r in requirements if r.interval == interval and queue in (None, r.queue)
    )


def day_data(
    scenario: Scenario,
    result: SimulationResult,
    requirements: Sequence[Requirement] | None = None,
) -> dict[str, Any]:
    """Every figure of a simulated day as JSON-ready data (what ``--json`` prints).

    ``requirements`` (default: :func:`~ccroute.wfm.forecast.scenario_requirements`)
    gives the Erlang answer per interval shown beside the agents staffed.
    """
    breakdown = result.breakdown
    assert breakdown is not None  # every Simulation builds one
    if requirements is None:
        requirements = scenario_requirements(scenario)
    report = result.report
    configs = {q.name: q for q in scenario.queues}
    queues = {}
    for name, config in configs.items():
        target, threshold = config.service_level_target, config.service_level_threshold
        row = _tally_row(breakdown.select(queue=name), target, threshold)
        members = _agent_ids(scenario, queue=name)
        row["occupancy"] = _num(report.team_of(members).occupancy) if members else None
        row["channels"] = {
            channel: _tally_row(breakdown.select(queue=name, channel=channel), target, threshold)
            for (queue, channel) in breakdown.pairs()
            if queue == name
        }
        queues[name] = row
    channels = {}
    for channel in sorted({c for _, c in breakdown.pairs()}):
        row = _tally_row(breakdown.select(channel=channel), None, None)
        stats = report.channels.get(channel)
        if stats is not None:  # contacts counted once, even if they changed queue
            row.update(
                offered=stats.offered,
                answered=stats.answered,
                abandoned=stats.abandoned,
                asa_seconds=_num(stats.asa),
                aht_seconds=_num(stats.aht),
            )
        channels[channel] = row
    total = _tally_row(breakdown.select(), None, None)
    total.update(
        offered=report.total.offered,
        answered=report.total.answered,
        abandoned=report.total.abandoned,
        in_flight=report.total.in_flight,
        asa_seconds=_num(report.total.asa),
        aht_seconds=_num(report.total.aht),
        occupancy=_num(report.team.occupancy),
        utilisation=_num(report.team.utilisation),
        probability_of_waiting=_num(result.probability_of_waiting),
        self_served=result.self_served,
        stranded=result.stranded,
    )
    intervals = []
    for k, interval in enumerate(result.intervals):
        pooled = breakdown.select(interval=k)
        row = _tally_row(pooled, None, None)
        per_queue = {}
        for name, config in configs.items():
            cell = _tally_row(
                breakdown.select(interval=k, queue=name),
                config.service_level_target,
                config.service_level_threshold,
            )
            cell["required_agents"] = _required(requirements, k, name)
            per_queue[name] = cell
        row.update(
            start=_clock(interval.start),
            end=_clock(interval.end),
            occupancy=_num(interval.occupancy),
            average_waiting=round(interval.average_waiting, 3),
            agents_staffed=_num(interval.agents_staffed, 3),
            agents_ready=_num(interval.agents_ready, 3),
            agents_logged_in_at_end=interval.agents_logged_in,
            required_agents=_required(requirements, k),
            targets_missed=[q for q, c in per_queue.items() if c["service_level_met"] is False],
            queues=per_queue,
        )
        intervals.append({"start": row.pop("start"), "end": row.pop("end"), **row})
    groups = {}
    for group in scenario.agents:
        team = report.team_of(_agent_ids(scenario, group=group.name))
        groups[group.name] = {
            "agents": group.count,
            "shift": None
            if not math.isfinite(group.shift_end)
            else f"{_clock(group.shift_start)}-{_clock(group.shift_end)}",
            "occupancy": _num(team.occupancy),
            "utilisation": _num(team.utilisation),
            "handled": team.handled,
        }
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "service_level_basis": "each contact against its own queue's threshold",
        "total": total,
        "queues": queues,
        "channels": channels,
        "intervals": intervals,
        "agent_groups": groups,
        "agents": {
            agent_id: {
                "occupancy": _num(a.occupancy),
                "utilisation": _num(a.utilisation),
                "handled": a.handled,
            }
            for agent_id, a in report.agents.items()
        },
        "events": result.events,
    }


# ------------------------------------------------------------------ formatting


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _whole(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _level(row: dict[str, Any], missed: bool | None = None) -> Cell:
    text = _pct(row["service_level"])
    if missed is None:
        missed = row.get("service_level_met") is False
    if missed:
        return Cell(text, MISSED, "red")
    if row.get("service_level_met"):
        return Cell(text, "", "green")
    return Cell(text)


def _target(row: dict[str, Any]) -> str:
    target = row.get("service_level_target")
    if target is None:
        return "-"
    return format_service_level(target, row["service_level_threshold_seconds"])


def day_tables(data: dict[str, Any]) -> list[Table]:
    """The tables of one day: queues and channels, intervals, agent groups."""
    day = Table(title=f"{data['scenario']} (seed {data['seed']})")
    day.marks[MISSED] = _MISSED_NOTE
    day.notes.append(
        "Service levels: each contact against its own queue's threshold; channel and "
        "total rows pool them. Longest wait: the longest any contact waited in the queue."
    )
    day.add_column("queue / channel", "", justify="left")
    day.add_column("offered")
    day.add_column("answered")
    day.add_column("abandoned", "aband.")
    day.add_column("service\nlevel %", "SL %")
    day.add_column("target\n%/s", "target")
    day.add_column("ASA s")
    day.add_column("longest\nwait s")
    day.add_column("AHT s", priority=2)
    day.add_column("occupancy\n%", "occ %", priority=1)
    day.add_column("short\nabandons", priority=3)
    day.add_column("timed\nout", priority=3)
    day.add_column("refused", priority=3)

    def add(label: str, row: dict[str, Any]) -> None:
        day.add_row(
            label,
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            _level(row),
            _target(row),
            _secs(row["asa_seconds"]),
            _whole(row["longest_wait_seconds"]),
            _secs(row["aht_seconds"]),
            _pct(row.get("occupancy")),
            str(row["short_abandons"]),
            str(row["timed_out"]),
            str(row["refused"]),
        )

    for name, row in data["queues"].items():
        add(name, row)
        if len(row["channels"]) > 1:
            for channel, cell in row["channels"].items():
                add(f"  {channel}", cell)
    day.add_section()
    for name, row in data["channels"].items():
        add(f"{name} (all)", row)
    day.add_section()
    add("total", data["total"])

    intervals = Table(title="Per interval (contacts by arrival time)")
    intervals.marks[MISSED] = (
        "a queue missed its target in this interval (--format json says which)"
    )
    intervals.notes.append(
        "Staffed: agents logged in, time-average over the interval (breaks included); "
        "ready: of them, available or handling; required: Erlang C/A per queue and "
        "channel from the scenario's forecast, added up."
    )
    intervals.add_column("start", justify="left")
    intervals.add_column("offered")
    intervals.add_column("answered")
    intervals.add_column("abandoned", "aband.")
    intervals.add_column("service\nlevel %", "SL %")
    intervals.add_column("ASA s", priority=2)
    intervals.add_column("longest\nwait s")
    intervals.add_column("occupancy\n%", "occ %")
    intervals.add_column("waiting\n(avg)", priority=3)
    intervals.add_column("agents\nstaffed", "staffed")
    intervals.add_column("agents\nready", "ready", priority=1)
    intervals.add_column("agents\nrequired", "req'd")
    intervals.add_column("logged in\nat end", priority=4)
    for row in data["intervals"]:
        intervals.add_row(
            row["start"],
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            _level(row, bool(row["targets_missed"])),
            _secs(row["asa_seconds"]),
            _whole(row["longest_wait_seconds"]),
            _pct(row["occupancy"]),
            f"{row['average_waiting']:.1f}",
            _secs(row["agents_staffed"]),
            _secs(row["agents_ready"]),
            str(row["required_agents"]),
            str(row["agents_logged_in_at_end"]),
        )

    groups = Table(title="Agent groups")
    groups.add_column("group", justify="left")
    groups.add_column("agents")
    groups.add_column("shift")
    groups.add_column("handled")
    groups.add_column("occupancy\n%", "occ %")
    groups.add_column("utilisation\n%", "util %")
    for name, row in data["agent_groups"].items():
        groups.add_row(
            name,
            str(row["agents"]),
            row["shift"] or "all day",
            str(row["handled"]),
            _pct(row["occupancy"]),
            _pct(row["utilisation"]),
        )
    return [day, intervals, groups]


# ---------------------------------------------------------------- replications


def _estimate(
    values: Sequence[float | None], low: float = 0.0, high: float = math.inf
) -> dict[str, Any] | None:
    """Mean and 95% interval, the interval clipped to what the figure can be (a share to 0..1)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    e = estimate(present)
    return {
        "mean": _num(e.mean),
        "low": _num(max(low, e.low)),
        "high": _num(min(high, e.high)),
        "runs": len(present),
    }


_SHARES = ("service_level", "abandon_rate", "occupancy", "probability_of_waiting")


_FIGURES = (
    "service_level",
    "asa_seconds",
    "abandon_rate",
    "longest_wait_seconds",
    "aht_seconds",
)


def replications_data(
    scenario: Scenario, days: Sequence[dict[str, Any]], seeds: Sequence[int]
) -> dict[str, Any]:
    """Means and 95% confidence intervals over runs, per queue, per interval and in total.

    ``days`` are :func:`day_data` of each run. Each estimate is
    ``{mean, low, high, runs}`` (``low``/``high``: Student t interval; a
    figure undefined in a run, such as the ASA of an interval nobody was
    answered in, is left out of that estimate and ``runs`` says how many
    counted). ``met`` says whether the interval's low end clears the target
    (``true``), its high end falls short (``false``), or it straddles it (``null``).
    """

    def summary(rows: Sequence[dict[str, Any]], target: float | None) -> dict[str, Any]:
        out: dict[str, Any] = {"offered": _estimate([r["offered"] for r in rows])}
        for figure in _FIGURES:
            out[figure] = _estimate(
                [r[figure] for r in rows], high=1.0 if figure in _SHARES else math.inf
            )
        level = out["service_level"]
        out["service_level_target"] = target
        out["service_level_met"] = (
            None
            if level is None or target is None
            else True
            if level["low"] is not None and level["low"] >= target
            else False
            if level["high"] is not None and level["high"] < target
            else None
        )
        return out

    configs = {q.name: q for q in scenario.queues}
    queues = {}
    for name, config in configs.items():
        row = summary([d["queues"][name] for d in days], config.service_level_target)
        row["service_level_threshold_seconds"] = config.service_level_threshold
        row["occupancy"] = _estimate([d["queues"][name]["occupancy"] for d in days], high=1.0)
        queues[name] = row
    total = summary([d["total"] for d in days], None)
    total["occupancy"] = _estimate([d["total"]["occupancy"] for d in days], high=1.0)
    total["probability_of_waiting"] = _estimate(
        [d["total"]["probability_of_waiting"] for d in days], high=1.0
    )
    intervals = []
    for k, first in enumerate(days[0]["intervals"]):
        rows = [d["intervals"][k] for d in days]
        row = summary(rows, None)
        row["start"] = first["start"]
        row["agents_staffed"] = _estimate([r["agents_staffed"] for r in rows])
        row["required_agents"] = first["required_agents"]
        row["queues"] = {
            name: summary([r["queues"][name] for r in rows], config.service_level_target)
            for name, config in configs.items()
        }
        intervals.append(row)
    return {
        "scenario": scenario.name,
        "replications": len(days),
        "seeds": list(seeds),
        "confidence": 0.95,
        "service_level_basis": "each contact against its own queue's threshold",
        "total": total,
        "queues": queues,
        "intervals": intervals,
        "runs": [d["total"] for d in days],
    }


def _interval_text(e: dict[str, Any] | None, fmt: Callable[[float | None], str]) -> str:
    if e is None:
        return "-"
    if e["low"] is None or e["high"] is None:
        return f"{fmt(e['mean'])} (one run)"
    if fmt(e["low"]) == fmt(e["high"]):
        return str(fmt(e["mean"]))  # every run gave the same figure
    return f"{fmt(e['mean'])} ({fmt(e['low'])}-{fmt(e['high'])})"


def replication_tables(data: dict[str, Any]) -> list[Table]:
    """Per queue and per interval: mean (95% interval) of the figures that matter."""
    n = data["replications"]
    queues = Table(title=f"{data['scenario']}: {n} replications, mean (95% confidence interval)")
    queues.marks[MISSED] = "the whole interval is below the target"
    queues.marks["?"] = "the interval straddles the target: more replications would tell"
    queues.add_column("queue", justify="left")
    queues.add_column("offered")
    queues.add_column("service level %")
    queues.add_column("target\n%/s", "target")
    queues.add_column("ASA s", priority=1)
    queues.add_column("abandoned %", "aband. %", priority=2)
    queues.add_column("longest wait s", "longest s", priority=3)

    def add(label: str, row: dict[str, Any], target: str) -> None:
        met = row["service_level_met"]
        mark = (
            "" if row["service_level_target"] is None or met else ("?" if met is None else MISSED)
        )
        queues.add_row(
            label,
            _whole(row["offered"]["mean"] if row["offered"] else None),
            Cell(
                _interval_text(row["service_level"], _pct),
                mark,
                "red" if met is False else "green" if met else None,
            ),
            target,
            _interval_text(row["asa_seconds"], _secs),
            _interval_text(row["abandon_rate"], _pct),
            _interval_text(row["longest_wait_seconds"], _whole),
        )

    for name, row in data["queues"].items():
        add(
            name,
            row,
            format_service_level(
                row["service_level_target"], row["service_level_threshold_seconds"]
            ),
        )
    queues.add_section()
    add("total", data["total"], "-")

    intervals = Table(title="Per interval: service level %, mean (95% confidence interval)")
    intervals.marks[MISSED] = queues.marks[MISSED]
    intervals.marks["?"] = queues.marks["?"]
    intervals.add_column("start", justify="left")
    names = list(data["queues"])
    for name in names:
        intervals.add_column(name)
    intervals.add_column("agents\nstaffed", "staffed", priority=1)
    intervals.add_column("agents\nrequired", "req'd", priority=1)
    for row in data["intervals"]:
        cells: list[str | Cell] = [row["start"]]
        for name in names:
            q = row["queues"][name]
            met = q["service_level_met"]
            mark = "" if met else ("?" if met is None and q["service_level"] else MISSED)
            if q["service_level"] is None:
                mark = ""
            cells.append(Cell(_interval_text(q["service_level"], _pct), mark))
        staffed = row["agents_staffed"]
        cells.append(_secs(staffed["mean"]) if staffed else "-")
        cells.append(str(row["required_agents"]))
        intervals.add_row(*cells)
    return [queues, intervals]


def band(
    estimates: Sequence[dict[str, Any] | None],
) -> tuple[list[float], list[float], list[float]]:
    """Means, lows and highs of a series of estimates (NaN where one is missing): for plots."""
    nan = math.nan

    def get(e: dict[str, Any] | None, key: str) -> float:
        value = None if e is None else e.get(key)
        return nan if value is None else float(value)

    return (
        [get(e, "mean") for e in estimates],
        [get(e, "low") for e in estimates],
        [get(e, "high") for e in estimates],
    )
