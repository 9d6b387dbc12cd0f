"""``ccroute staff --scenario FILE``: staffing by simulation, beside the Erlang answer.

Runs :func:`ccroute.sim.sizing.size_by_simulation` and reports, per agent
group, the headcount in the file and the smallest one meeting every queue's
target through the real router; per queue, the service level reached (mean
and 95% interval over the runs) and what Erlang C, and Erlang A where
customers have patience, ask for at the peak interval, each queue and channel
sized alone as separate Erlang tables would size it.

With ``--per-interval`` it runs :func:`ccroute.sim.sizing.size_per_interval`
instead and reports the smallest headcount per group and interval, beside
Erlang's requirement per interval (queues and channels added up).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from ..errors import InputError
from ..sim import parse_scenario
from ..sim.sizing import IntervalSizingResult, SizingResult, size_by_simulation, size_per_interval
from ..targets import format_service_level
from ..wfm.forecast import Requirement, scenario_requirements
from .console import Console
from .tables import Cell, Table

__all__ = ["erlang_peaks", "erlang_per_interval", "interval_data", "size_scenario", "sizing_data"]


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the scenario ({exc.strerror})") from None


def erlang_peaks(requirements: list[Requirement]) -> dict[str, int]:
    """Queue to its largest requirement over the intervals (its channels added up), and ``"total"``."""
    per: dict[tuple[int, str], int] = {}
    for r in requirements:
        per[(r.interval, r.queue)] = per.get((r.interval, r.queue), 0) + r.agents
    out: dict[str, int] = {}
    for (_, queue), agents in per.items():
        out[queue] = max(out.get(queue, 0), agents)
    totals: dict[int, int] = {}
    for (interval, _), agents in per.items():
        totals[interval] = totals.get(interval, 0) + agents
    out["total"] = max(totals.values(), default=0)
    return out


def erlang_per_interval(requirements: list[Requirement], intervals: int) -> list[int]:
    """Erlang's agents per interval: every queue and channel sized alone, added up."""
    out = [0] * intervals
    for r in requirements:
        out[r.interval] += r.agents
    return out


def _level(level: Any) -> dict[str, float | None] | None:
    if level is None:
        return None
    return {
        "mean": round(level.mean, 6),
        "low": round(max(0.0, level.low), 6) if math.isfinite(level.low) else None,
        "high": round(min(1.0, level.high), 6) if math.isfinite(level.high) else None,
    }


def interval_data(
    scenario: Any, result: IntervalSizingResult, seconds: float | None
) -> dict[str, Any]:
    """The per-interval answer as JSON-ready data."""
    intervals = len(result.starts)
    erlang_c = erlang_per_interval(scenario_requirements(scenario, model="erlang-c"), intervals)
    erlang_a = erlang_per_interval(scenario_requirements(scenario), intervals)
    targets = {q.name: q for q in scenario.queues}
    rows = []
    for k, start in enumerate(result.starts):
        end = min(start + scenario.interval, scenario.end)
        groups = {
            name: (counts[k] if k in result.covered[name] else None)
            for name, counts in result.counts.items()
        }
        levels = {}
        for queue, config in targets.items():
            level = result.answer.levels.get((k, queue))
            levels[queue] = {
                "service_level": _level(level),
                "met": None
                if level is None
                else level.mean >= config.service_level_target * (1 - 1e-12),
            }
        rows.append(
            {
                "interval": k,
                "start": _clock(start),
                "end": _clock(end),
                "groups": groups,
                "total": sum(v for v in groups.values() if v is not None),
                "erlang_agents": erlang_a[k],
                "erlang_c_agents": erlang_c[k],
                "queues": levels,
            }
        )
    return {
        "scenario": scenario.name,
        "per_interval": True,
        "replications": len(result.seeds),
        "seeds": list(result.seeds),
        "interval_minutes": round(scenario.interval / 60, 6),
        "groups": {
            name: {
                "queues": sorted(group.queues),
                "shift": None
                if not math.isfinite(group.shift_end)
                else f"{_clock(group.shift_start)}-{_clock(group.shift_end)}",
                "in_scenario": result.original[name],
                "sized": name in result.counts,
            }
            for name, group in ((g.name, g) for g in scenario.agents)
        },
        "queues": {
            name: {
                "service_level_target": config.service_level_target,
                "service_level_threshold_seconds": config.service_level_threshold,
            }
            for name, config in targets.items()
        },
        "intervals": rows,
        "candidates": len(result.candidates),
        "simulated_days": result.runs,
        "seconds": None if seconds is None else round(seconds, 2),
    }


def sizing_data(scenario: Any, result: SizingResult, seconds: float | None) -> dict[str, Any]:
    """The answer as JSON-ready data."""
    erlang_c = erlang_peaks(scenario_requirements(scenario, model="erlang-c"))
    erlang_a = erlang_peaks(scenario_requirements(scenario))
    queues = {}
    for config in scenario.queues:
        level = result.answer.levels.get(config.name)
        queues[config.name] = {
            "service_level_target": config.service_level_target,
            "service_level_threshold_seconds": config.service_level_threshold,
            "service_level": None
            if level is None
            else {
                "mean": round(level.mean, 6),
                "low": round(max(0.0, level.low), 6) if math.isfinite(level.low) else None,
                "high": round(min(1.0, level.high), 6) if math.isfinite(level.high) else None,
            },
            "erlang_c_peak_agents": erlang_c.get(config.name, 0),
            "erlang_peak_agents": erlang_a.get(config.name, 0),
        }
    groups = {}
    for group in scenario.agents:
        groups[group.name] = {
            "queues": sorted(group.queues),
            "shift": None
            if not math.isfinite(group.shift_end)
            else f"{_clock(group.shift_start)}-{_clock(group.shift_end)}",
            "in_scenario": result.original[group.name],
            "by_simulation": result.counts[group.name],
        }
    simulated = sum(result.counts.values())
    return {
        "scenario": scenario.name,
        "replications": len(result.seeds),
        "seeds": list(result.seeds),
        "groups": groups,
        "queues": queues,
        "total": {
            "in_scenario": sum(result.original.values()),
            "by_simulation": simulated,
            "erlang_c_peak": erlang_c["total"],
            "erlang_peak": erlang_a["total"],
            "erlang_peak_minus_simulation": erlang_a["total"] - simulated,
        },
        "candidates": len(result.candidates),
        "simulated_days": result.runs,
        "seconds": None if seconds is None else round(seconds, 2),
    }


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


def size_scenario(args: argparse.Namespace, out: Console) -> int:
    """Run ``ccroute staff --scenario``; returns the exit status."""
    for flag in ("rate", "aht", "forecast", "agents", "target", "patience"):
        if getattr(args, flag) is not None:
            raise InputError(
                f"--scenario takes its targets, volumes and times from the file: leave out "
                f"--{flag.replace('_', '-')}"
            )
    scenario = parse_scenario(_read(args.scenario), str(args.scenario))
    groups = None if not args.groups else [g.strip() for g in args.groups.split(",") if g.strip()]
    if getattr(args, "per_interval", False):
        return _size_per_interval(scenario, groups, args, out)
    bar = out.progress(f"staffing {scenario.name} by simulation")
    started = time.monotonic()
    try:
        result = size_by_simulation(
            scenario,
            groups=groups,
            replications=args.replications,
            seed=args.seed,
        )
    finally:
        bar.close()
    seconds = time.monotonic() - started
    data = sizing_data(scenario, result, seconds)
    if out.format == "json":
        import json
        import sys

        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    table = Table(
        title=f"{scenario.name}: staffing by simulation ({data['replications']} runs each)"
    )
    table.add_column("agent group", "group", justify="left")
    table.add_column("queues", justify="left", priority=1)
    table.add_column("shift")
    table.add_column("in the\nfile", "file")
    table.add_column("by\nsimulation", "sim.")
    for name, row in data["groups"].items():
        table.add_row(
            name,
            ",".join(row["queues"]),
            row["shift"] or "all day",
            str(row["in_scenario"]),
            str(row["by_simulation"]),
        )
    total = data["total"]
    table.add_section()
    table.add_row("total", "", "", str(total["in_scenario"]), str(total["by_simulation"]))
    out.table(table)

    queues = Table(title="Per queue: service level reached, and what Erlang asks (peak interval)")
    queues.marks["*"] = "below the target"
    queues.add_column("queue", justify="left")
    queues.add_column("target\n%/s", "target")
    queues.add_column("service level %\nmean (95% CI)", "SL % (95% CI)")
    queues.add_column("Erlang C\nagents", "Erl. C")
    queues.add_column("Erlang A/C\nagents", "Erl. A")
    for name, row in data["queues"].items():
        level = row["service_level"]
        text = "-"
        missed = False
        if level is not None:
            text = f"{100 * level['mean']:.1f}"
            if level["low"] is not None and level["high"] is not None:
                text += f" ({100 * level['low']:.1f}-{100 * level['high']:.1f})"
            missed = level["mean"] < row["service_level_target"]
        queues.add_row(
            name,
            format_service_level(
                row["service_level_target"], row["service_level_threshold_seconds"]
            ),
            Cell(text, "*" if missed else "", "red" if missed else None),
            str(row["erlang_c_peak_agents"]),
            str(row["erlang_peak_agents"]),
        )
    queues.add_section()
    queues.add_row("total", "", "", str(total["erlang_c_peak"]), str(total["erlang_peak"]))
    difference = total["erlang_peak"] - total["by_simulation"]
    verdict = (
        f"Erlang over-staffs by {difference}"
        if difference > 0
        else f"Erlang under-staffs by {-difference}"
        if difference < 0
        else "Erlang agrees"
    )
    queues.notes.append(
        f"By simulation {total['by_simulation']} agents meet every target; Erlang (A where "
        f"customers hang up, else C; each queue and channel alone, chat divided by the "
        f"agents' concurrency) asks {total['erlang_peak']} at the peak: {verdict}. "
        f"{data['candidates']} candidates, {data['simulated_days']} simulated days in "
        f"{seconds:.1f} s."
    )
    out.table(queues)
    return 0


def _size_per_interval(
    scenario: Any, groups: list[str] | None, args: argparse.Namespace, out: Console
) -> int:
    bar = out.progress(f"staffing {scenario.name} by simulation, per interval")
    started = time.monotonic()
    try:
        result = size_per_interval(
            scenario, groups=groups, replications=args.replications, seed=args.seed
        )
    finally:
        bar.close()
    # Wall time for the reader only: the search itself reads no clock.
    seconds = time.monotonic() - started
    data = interval_data(scenario, result, seconds)
    if out.format == "json":
        import json
        import sys

        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    table = Table(
        title=f"{scenario.name}: staffing by simulation per interval "
        f"({data['replications']} runs each)"
    )
    table.add_column("interval", justify="left")
    sized = list(result.counts)
    for name in sized:
        # Group names head their columns; long ones shorten before columns drop.
        table.add_column(name, name[:6] if len(name) > 6 else None)
    table.add_column("total")
    table.add_column("Erlang A/C\nagents", "Erl. A", priority=1)
    table.add_column("Erlang C\nagents", "Erl. C", priority=2)
    for row in data["intervals"]:
        table.add_row(
            row["start"],
            *("-" if row["groups"][n] is None else str(row["groups"][n]) for n in sized),
            str(row["total"]),
            str(row["erlang_agents"]),
            str(row["erlang_c_agents"]),
        )
    if any(v is None for row in data["intervals"] for v in row["groups"].values()):
        table.notes.append("'-': outside the group's shift.")
    kept = [n for n, g in data["groups"].items() if not g["sized"]]
    if kept:
        table.notes.append(
            "Not sized, kept as in the file: "
            + ", ".join(f"{n} ({data['groups'][n]['in_scenario']})" for n in kept)
            + "."
        )
    table.notes.append(
        f"Agents of each group logged in per interval (the group split into one sub-group "
        f"per interval of its shift) so that the contacts arriving in the interval meet "
        f"every queue's target; Erlang A (C where customers never hang up) and Erlang C "
        f"size each queue and channel alone, added up. {data['candidates']} candidates, "
        f"{data['simulated_days']} simulated days in {seconds:.1f} s."
    )
    out.table(table)
    return 0
