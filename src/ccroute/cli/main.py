"""The ``ccroute`` command: simulate a contact-centre day, or answer "how many agents".

``ccroute simulate SCENARIO.toml`` runs a scenario and prints tables per queue,
channel, interval and agent group (``--format table|json|csv|markdown``,
``--plot`` for a chart); ``ccroute staff`` sizes a team with Erlang C or
Erlang A, for one rate or for a day's forecast; ``ccroute plugins`` lists the
plugins a service here would load, and their hooks.

This module parses arguments and runs commands: the figures come from
:mod:`ccroute.cli.report`, tables are laid out by :mod:`ccroute.cli.tables` and
printed by :mod:`ccroute.cli.console`, plots drawn by :mod:`ccroute.cli.plots`,
forecasts read by :mod:`ccroute.wfm.forecast`. Every target follows one
convention (:mod:`ccroute.targets`): a service level is ``80/20`` (percent /
seconds) or ``80%/20s``; a share is ``0.85`` or ``85%``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import CCRouteError, InputError
from ..targets import parse_service_level, parse_share
from .console import Console, Format, make_console
from .tables import Cell, Table

__all__ = ["main"]

# epilogs are printed as written (no %-formatting, unlike arguments' help)
TARGET_HELP = (
    "Targets: a service level is PERCENT/SECONDS, 80/20 or 80%/20s (80% answered within "
    "20 s; 1 to 100 percent, a share such as 0.8/20 is refused); occupancy, shrinkage and "
    "abandon caps are shares, 0.85 or 85% (a bare 85 is refused)."
)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1f} s"


def _read(path_text: str, what: str) -> str:
    path = Path(path_text)
    try:
        return path.read_text()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


# ----------------------------------------------------------------- simulate


def _load_scenario(args: argparse.Namespace) -> Any:
    from ..sim import parse_scenario, parse_trace

    scenario = parse_scenario(_read(args.scenario, "scenario"), str(args.scenario))
    if getattr(args, "trace", None):
        trace = parse_trace(_read(args.trace, "trace"), str(args.trace))
        scenario = scenario.with_trace(trace, str(args.trace))
    return scenario


def _simulate(args: argparse.Namespace, out: Console) -> int:
    from ..sim import replicate, simulate
    from ..wfm.forecast import scenario_requirements
    from .report import day_data, day_tables, replication_tables, replications_data

    if args.replications < 1:
        raise InputError("--replications must be at least 1")
    if args.plot:
        from .plots import check_plot_path

        check_plot_path(args.plot)  # before the day is simulated, not after
    scenario = _load_scenario(args)
    seed = scenario.seed if args.seed is None else args.seed
    requirements = scenario_requirements(scenario)
    bar = out.progress(f"simulating {scenario.name}")
    started = time.monotonic()
    try:
        if args.replications > 1:
            results = replicate(scenario, args.replications, seed=seed, progress=bar)
        else:
            results = [simulate(scenario, seed=seed, progress=bar)]
    finally:
        bar.close()
    seconds = time.monotonic() - started
    days = [day_data(scenario, r, requirements) for r in results]
    summary = None
    if args.replications > 1:
        summary = replications_data(scenario, days, [r.seed for r in results])
    if args.plot:
        from .plots import day_figure, save

        # Written before the tables, so that a reader closing the pipe early
        # (``| head``) still gets the plot asked for.
        save(day_figure(days[0], summary), args.plot)
    if summary is not None:
        if out.format == "json":
            _print_json(summary)
        else:
            for table in replication_tables(summary):
                out.table(table)
            out.line(
                f"{len(results)} runs, {sum(r.events for r in results)} router events in {seconds:.2f} s"
            )
    else:
        data = days[0]
        if out.format == "json":
            _print_json(data)
        else:
            for table in day_tables(data):
                out.table(table)
            total = data["total"]
            out.line(
                f"Self-service (IVR): {total['self_served']}; still waiting at the end: "
                f"{total['stranded']}; {data['events']} router events in {seconds:.2f} s"
            )
    if args.plot and out.format in ("table", "markdown"):
        out.line(f"Plot written to {args.plot}")
    return 0


# -------------------------------------------------------------------- staff


def _targets(args: argparse.Namespace) -> dict[str, Any]:
    """The staffing targets of the flags, each read by the one convention."""
    try:
        service_level = parse_service_level(args.target, "--target") if args.target else None
        occupancy = (
            parse_share(args.occupancy_max, "--occupancy-max") if args.occupancy_max else None
        )
        abandon = parse_share(args.abandon_max, "--abandon-max") if args.abandon_max else None
        shrinkage = parse_share(args.shrinkage, "--shrinkage") if args.shrinkage else 0.0
    except CCRouteError as exc:
        raise InputError(str(exc)) from None
    if service_level is not None and service_level[0] >= 1.0:
        raise InputError(
            f"--target {args.target}: 100% can never be met under Erlang C or A (some "
            "contact always waits); give a percent below 100, e.g. 99/20"
        )
    if shrinkage >= 1.0:
        raise InputError(f"--shrinkage {args.shrinkage}: must be below 100%")
    if occupancy is not None and occupancy <= 0:
        raise InputError(f"--occupancy-max {args.occupancy_max}: must be above 0")
    if abandon is not None and abandon <= 0:
        raise InputError(f"--abandon-max {args.abandon_max}: must be above 0")
    if args.asa is not None and not args.asa > 0:
        raise InputError(f"--asa must be a number of seconds > 0, got {args.asa:g}")
    return {
        "service_level": service_level,
        "asa": args.asa,
        "occupancy_max": occupancy,
        "abandon_max": abandon,
        "shrinkage": shrinkage,
    }


def _missed(result: Any, targets: dict[str, Any]) -> list[str]:
    """What ``result`` misses of ``targets``, in words."""
    missed = []
    if not result.finite:
        return ["every target (the queue never empties: " + (result.reason or "unstable") + ")"]
    level = targets["service_level"]
    if level is not None and result.service_level < level[0] * (1 - 1e-12):
        missed.append(
            f"service level {100 * result.service_level:.1f}% < {100 * level[0]:g}% "
            f"within {level[1]:g} s"
        )
    if targets["asa"] is not None and result.asa_seconds > targets["asa"] * (1 + 1e-12):
        missed.append(f"ASA {result.asa_seconds:.1f} s > {targets['asa']:g} s")
    if targets["occupancy_max"] is not None and result.occupancy > targets["occupancy_max"] * (
        1 + 1e-12
    ):
        missed.append(
            f"occupancy {100 * result.occupancy:.1f}% > {100 * targets['occupancy_max']:g}%"
        )
    ab = targets["abandon_max"]
    if ab is not None and (result.probability_of_abandon or 0.0) > ab * (1 + 1e-12):
        missed.append(f"abandons {100 * (result.probability_of_abandon or 0):.1f}% > {100 * ab:g}%")
    return missed


def _staff(args: argparse.Namespace, out: Console) -> int:
    if args.per_interval and args.scenario is None:
        raise InputError("--per-interval sizes a scenario by simulation: give --scenario FILE")
    if args.scenario is not None:
        from .sizing import size_scenario

        return size_scenario(args, out)
    if args.forecast is not None:
        return _staff_forecast(args, out)
    from ..wfm import (
        StaffingResult,
        erlang_a_metrics,
        erlang_c_metrics,
        parse_rate,
        staff_erlang_a,
        staff_erlang_c,
    )

    if args.rate is None or args.aht is None:
        raise InputError(
            "give --rate and --aht (one rate), --forecast FILE (a day), or --scenario FILE"
        )
    rate = parse_rate(args.rate)
    targets = _targets(args)
    service_level = targets["service_level"]
    threshold = service_level[1] if service_level else 20.0
    given = any(
        targets[k] is not None for k in ("service_level", "asa", "occupancy_max", "abandon_max")
    )
    if targets["abandon_max"] is not None and args.patience is None:
        raise InputError("--abandon-max needs --patience (Erlang A)")
    result: StaffingResult
    if args.agents is not None:
        if args.patience is not None:
            result = erlang_a_metrics(
                rate,
                args.aht,
                args.patience,
                args.agents,
                threshold,
                shrinkage=targets["shrinkage"],
            )
        else:
            result = erlang_c_metrics(
                rate, args.aht, args.agents, threshold, shrinkage=targets["shrinkage"]
            )
    else:
        if not given:
            raise InputError(
                "give a target (--target, --asa, --occupancy-max, --abandon-max) or --agents N"
            )
        solve = {k: targets[k] for k in ("service_level", "asa", "occupancy_max", "shrinkage")}
        if args.patience is not None:
            result = staff_erlang_a(
                rate, args.aht, args.patience, abandon_max=targets["abandon_max"], **solve
            )
        else:
            result = staff_erlang_c(rate, args.aht, **solve)
    missed = _missed(result, targets) if given else []
    data = result.to_dict()
    data["meets_targets"] = None if not given else not missed
    data["targets_missed"] = missed
    if out.format == "json":
        _print_json(data)
        return 0
    model = "Erlang A" if args.patience is not None else "Erlang C"
    table = Table(title=f"{model}: {args.rate}, AHT {args.aht:g} s", show_header=False)
    table.add_column("figure", justify="left")
    table.add_column("value")
    table.marks["*"] = "misses a target"
    table.add_row("traffic", f"{result.traffic_erlangs:.2f} Erlangs")
    table.add_row(
        "agents (on the phones)",
        Cell(str(result.agents), "*" if missed else "", "red" if missed else None),
    )
    if result.scheduled_agents != result.agents:
        table.add_row(
            f"agents scheduled ({100 * result.shrinkage:g}% shrinkage)",
            str(result.scheduled_agents),
        )
    table.add_row("probability of waiting", _pct(result.probability_of_waiting))
    table.add_row(f"service level ({result.threshold_seconds:g} s)", _pct(result.service_level))
    table.add_row("ASA", _secs(result.asa_seconds))
    table.add_row("occupancy", _pct(result.occupancy))
    if result.probability_of_abandon is not None:
        table.add_row("probability of abandon", _pct(result.probability_of_abandon))
    if missed:
        table.notes.append(f"{result.agents} agents MISS the target: " + "; ".join(missed) + ".")
    elif given and args.agents is not None:
        table.notes.append(f"{result.agents} agents meet every target given.")
    out.table(table)
    if result.reason:
        out.line(result.reason, colour="yellow")
    return 0


def _staff_forecast(args: argparse.Namespace, out: Console) -> int:
    from ..wfm.forecast import parse_forecast, plan_scenario, staff_forecast

    if args.rate is not None or args.agents is not None:
        raise InputError("--forecast plans a whole day: leave out --rate and --agents")
    if args.aht is not None or args.patience is not None:
        raise InputError(
            "--forecast takes AHT and patience from the file, not from --aht/--patience"
        )
    intervals = parse_forecast(_read(args.forecast, "forecast"), str(args.forecast))
    targets = _targets(args)
    if all(targets[k] is None for k in ("service_level", "asa", "occupancy_max", "abandon_max")):
        raise InputError("give a target (--target, --asa, --occupancy-max, --abandon-max)")
    results = staff_forecast(intervals, **targets)
    rows: list[dict[str, Any]] = []
    for interval, result in zip(intervals, results, strict=True):
        rows.append(
            {
                "start": _clock(interval.start),
                "volume": interval.volume,
                "aht_seconds": interval.aht,
                "patience_seconds": interval.patience,
                "model": result.model,
                "traffic_erlangs": round(result.traffic_erlangs, 6),
                "required_agents": result.agents,
                "scheduled_agents": result.scheduled_agents,
                "service_level": _round(result.service_level),
                "asa_seconds": _round(result.asa_seconds),
                "occupancy": _round(result.occupancy),
                "probability_of_abandon": _round(result.probability_of_abandon),
            }
        )
    written = None
    if args.write_scenario:
        text = plan_scenario(
            intervals,
            [r.agents for r in results],
            name=f"Plan for {Path(args.forecast).name}",
            service_level=targets["service_level"] or (0.8, 20.0),
        )
        try:
            Path(args.write_scenario).write_text(text)
        except OSError as exc:
            raise InputError(
                f"{args.write_scenario}: cannot write the scenario ({exc.strerror})"
            ) from None
        written = args.write_scenario
    length = intervals[0].length
    total = {
        "volume": sum(i.volume for i in intervals),
        "required_agent_hours": sum(r.agents for r in results) * length / 3600,
        "scheduled_agent_hours": sum(r.scheduled_agents for r in results) * length / 3600,
        "peak_required_agents": max(r.agents for r in results),
        "peak_scheduled_agents": max(r.scheduled_agents for r in results),
    }
    data: dict[str, Any] = {
        "forecast": str(args.forecast),
        "interval_minutes": length / 60,
        "targets": {
            "service_level": None
            if targets["service_level"] is None
            else {
                "target": targets["service_level"][0],
                "threshold_seconds": targets["service_level"][1],
            },
            "asa_seconds": targets["asa"],
            "occupancy_max": targets["occupancy_max"],
            "abandon_max": targets["abandon_max"],
            "shrinkage": targets["shrinkage"],
        },
        "intervals": rows,
        "total": total,
        "scenario_written": written,
    }
    if out.format == "json":
        _print_json(data)
        return 0
    table = Table(title=f"Staffing plan for {args.forecast} ({length / 60:g}-minute intervals)")
    table.add_column("start", justify="left")
    table.add_column("volume")
    table.add_column("AHT s")
    table.add_column("patience\ns", "pat. s", priority=2)
    table.add_column("Erlangs")
    table.add_column("agents\nrequired", "req'd")
    table.add_column("agents\nscheduled", "sched.")
    table.add_column("service\nlevel %", "SL %")
    table.add_column("ASA s")
    table.add_column("occupancy\n%", "occ %")
    table.add_column("abandons\n%", "aband. %", priority=1)
    for row in rows:
        table.add_row(
            row["start"],
            f"{row['volume']:g}",
            f"{row['aht_seconds']:g}",
            "-" if row["patience_seconds"] is None else f"{row['patience_seconds']:g}",
            f"{row['traffic_erlangs']:.2f}",
            str(row["required_agents"]),
            str(row["scheduled_agents"]),
            _plain_pct(row["service_level"]),
            "-" if row["asa_seconds"] is None else f"{row['asa_seconds']:.1f}",
            _plain_pct(row["occupancy"]),
            _plain_pct(row["probability_of_abandon"]),
        )
    table.add_section()
    table.add_row(
        "day",
        f"{total['volume']:g}",
        "",
        "",
        "",
        f"{total['required_agent_hours']:g} h",
        f"{total['scheduled_agent_hours']:g} h",
        "",
        "",
        "",
        "",
    )
    table.notes.append(
        "Required: agents on the phones (Erlang A where the interval has a patience, else C); "
        f"scheduled: required / (1 - shrinkage), shrinkage {100 * targets['shrinkage']:g}%. "
        "The day row gives agent-hours."
    )
    if written:
        table.notes.append(
            f"Scenario written to {written}: `ccroute simulate {written}` checks the plan."
        )
    out.table(table)
    return 0


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def _plain_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}"


# ------------------------------------------------------------------ plugins


def _plugins(args: argparse.Namespace, out: Console) -> int:
    # Imported here: only this subcommand needs pluggy and anyio.
    from ..plugins import LOAD_PLUGINS_ENV, describe_plugins, make_plugin_manager

    infos = describe_plugins(make_plugin_manager())
    if args.json:
        _print_json([info.to_dict() for info in infos])
        return 0
    for info in infos:
        out.line(f"{info.name}  ({info.origin})", colour="bold")
        for hook in info.hooks:
            out.line(f"    {hook}")
    selection = os.environ.get(LOAD_PLUGINS_ENV)
    if selection is not None:
        out.line(f"(entry-point plugins selected by {LOAD_PLUGINS_ENV}={selection!r})")
    return 0


# --------------------------------------------------------------------- main


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ccroute")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv", "markdown"),
        default="table",
        help="table (aligned text fitted to the width), json (every figure), csv, markdown",
    )
    parser.add_argument("--json", action="store_true", help="the same as --format json")
    parser.add_argument(
        "--width",
        type=int,
        metavar="COLUMNS",
        help="fit text tables to this width (default: the terminal's, else $COLUMNS, else 80)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccroute",
        description="Contact-centre routing: simulate a day, or size a team.",
        epilog=TARGET_HELP,
    )
    parser.add_argument("--version", action="version", version=f"ccroute {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser(
        "simulate",
        help="simulate a scenario file and report it",
        description=(
            "Simulate a scenario (docs/scenarios.md) through the real router and report every "
            "queue (and its channels), channel, interval and agent group. Service levels are "
            "measured against each queue's own threshold; a figure below its target is "
            "marked '*'. Per interval, 'staffed' is the time-average of agents logged in and "
            "'required' the Erlang answer from the scenario's own forecast."
        ),
        epilog=TARGET_HELP,
    )
    sim.add_argument("scenario", help="a scenario TOML file (see docs/scenarios.md)")
    _output_options(sim)
    sim.add_argument(
        "--plot",
        metavar="FILE",
        help="draw per queue service level against its target with volume, and agents "
        "staffed against required (.png, .pdf or .svg; needs ccroute[plot])",
    )
    sim.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    sim.add_argument(
        "--replications",
        type=int,
        default=1,
        metavar="N",
        help="independent runs (seeds SEED, SEED+1, ...): per queue and per interval means "
        "with 95%% confidence intervals",
    )
    sim.add_argument(
        "--trace",
        metavar="FILE.csv",
        help="replay arrivals from a CSV trace (columns arrival, queue, handle_time; optional "
        "channel, skills, priority, customer, patience; see examples/arrivals.csv)",
    )
    staff = sub.add_parser(
        "staff",
        help="how many agents: Erlang C/A for one rate or a day's forecast, or by simulation",
        description=(
            "Size a team. One rate: --rate and --aht (Erlang C; Erlang A with --patience). "
            "A day: --forecast FILE (CSV columns start, volume, aht, optional patience; or "
            "TOML, see docs/scenarios.md) gives required and scheduled agents per interval, "
            "and --write-scenario writes a scenario staffed that way. A scenario: --scenario "
            "FILE finds by simulation the smallest headcount per agent group that meets every "
            "queue's target through the real router, beside the Erlang answer; with "
            "--per-interval, per group and interval, for the contacts arriving in each."
        ),
        epilog=TARGET_HELP,
    )
    staff.add_argument("--rate", help="arrival rate with a unit: 100/30min, 400/h")
    staff.add_argument("--aht", type=float, metavar="SECONDS", help="average handle time")
    staff.add_argument(
        "--target", metavar="PERCENT/SECONDS", help="service level target: 80/20 or 80%%/20s"
    )
    staff.add_argument(
        "--asa", type=float, metavar="SECONDS", help="maximum average speed of answer"
    )
    staff.add_argument("--occupancy-max", metavar="SHARE", help="occupancy cap: 0.85 or 85%%")
    staff.add_argument(
        "--abandon-max",
        metavar="SHARE",
        help="cap on the share of contacts abandoning: 0.05 or 5%% (needs patience)",
    )
    staff.add_argument(
        "--patience", type=float, metavar="SECONDS", help="mean patience: use Erlang A"
    )
    staff.add_argument(
        "--agents", type=int, metavar="N", help="evaluate N agents against the targets"
    )
    staff.add_argument(
        "--shrinkage",
        metavar="SHARE",
        help="share of paid time not on the phones: 0.3 or 30%% (scheduled = required / (1 - it))",
    )
    staff.add_argument("--forecast", metavar="FILE", help="a day's forecast, .csv or .toml")
    staff.add_argument(
        "--write-scenario",
        metavar="FILE.toml",
        help="with --forecast: write a scenario whose agents follow the plan",
    )
    staff.add_argument(
        "--scenario",
        metavar="FILE.toml",
        help="staff a scenario by simulation: smallest headcount per agent group meeting "
        "every queue's target",
    )
    staff.add_argument(
        "--replications",
        type=int,
        default=5,
        metavar="N",
        help="with --scenario: runs per candidate staffing (default 5)",
    )
    staff.add_argument(
        "--seed", type=int, help="with --scenario: first seed (default: the scenario's)"
    )
    staff.add_argument(
        "--groups",
        metavar="NAME,...",
        help="with --scenario: the agent groups to size (default: every group)",
    )
    staff.add_argument(
        "--per-interval",
        action="store_true",
        help="with --scenario: the smallest headcount per group in each interval its shift "
        "covers, for the contacts arriving in that interval (each group split into one "
        "sub-group per interval; slower: several searches in a row)",
    )
    _output_options(staff)
    plugins = sub.add_parser(
        "plugins",
        help="list the plugins a service here loads (built-in and installed), and their hooks",
        description=(
            "List the built-in defaults and the plugins installed in the 'ccroute' entry-point "
            "group (as CCROUTE_LOAD_PLUGINS selects them), with their distribution, version "
            "and the hooks each implements. Installed plugins are imported to find their hooks."
        ),
    )
    plugins.add_argument("--json", action="store_true", help="print the list as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ccroute`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    fmt: Format = "json" if getattr(args, "json", False) else getattr(args, "format", "table")
    width = getattr(args, "width", None)
    out = make_console(fmt, width)
    commands: dict[str, Callable[[argparse.Namespace, Console], int]] = {
        "simulate": _simulate,
        "staff": _staff,
        "plugins": _plugins,
    }
    try:
        if width is not None and width < 20:
            raise InputError("--width must be at least 20 columns")
        status = commands[args.command](args, out)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return status
    except CCRouteError as exc:
        out.error(f"ccroute: error: {exc}")
        return 2
    except BrokenPipeError:
        # The reader went away (``ccroute simulate ... | head``): no traceback, and
        # nothing more written at exit to the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
