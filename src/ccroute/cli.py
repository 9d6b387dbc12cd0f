"""The ``ccroute`` command: simulate a contact-centre day, or answer "how many agents".

``ccroute simulate SCENARIO.toml`` runs a scenario and prints tables per queue,
channel, interval and agent group (``--json`` for scripts, ``--plot`` for a
chart); ``ccroute staff`` sizes a team with Erlang C or Erlang A;
``ccroute plugins`` lists the plugins a service here would load, and their hooks.

Tables and the progress bar come from rich when it is installed (``pip install
ccroute[cli]``), and are plain text (aligned columns, no colour) when it is not:
the command needs nothing beyond ccroute's own dependencies. Plots come from
matplotlib (``pip install ccroute[plot]``). This module is the I/O shell around
:mod:`ccroute.sim`, :mod:`ccroute.wfm` and :mod:`ccroute.plugins`.
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
from typing import Any, Literal

from .errors import CCRouteError
from .metrics import GroupStats
from .sim import (
    Scenario,
    SimulationResult,
    parse_scenario,
    parse_trace,
    replicate,
    simulate,
    summarise,
)
from .wfm import (
    StaffingResult,
    erlang_a_metrics,
    erlang_c_metrics,
    parse_rate,
    staff_erlang_a,
    staff_erlang_c,
)

__all__ = ["main"]


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1f} s"


def _num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


# ------------------------------------------------------------------- output

Justify = Literal["left", "right"]


class _Cell:
    """A table cell with a colour (rich only) and a mark (plain text only, where
    the colour would have said it)."""

    __slots__ = ("colour", "mark", "text")

    def __init__(self, text: str, colour: str | None = None, mark: str = "") -> None:
        self.text = text
        self.colour = colour
        self.mark = mark


class _Table:
    """A table to print, built the same way whether rich renders it or plain text does.

    ``marks`` explains the plain-text marks its cells may carry (printed under
    the table when a cell used one).
    """

    def __init__(self, title: str | None = None, *, show_header: bool = True) -> None:
        self.title = title
        self.show_header = show_header
        self.columns: list[tuple[str, Justify]] = []
        # A row is (cells, bold); None is a section break.
        self.rows: list[tuple[list[_Cell], bool] | None] = []
        self.marks: dict[str, str] = {}

    def add_column(self, header: str = "", *, justify: Justify = "left") -> None:
        self.columns.append((header, justify))

    def add_row(self, *cells: str | _Cell, bold: bool = False) -> None:
        self.rows.append(([c if isinstance(c, _Cell) else _Cell(c) for c in cells], bold))

    def add_section(self) -> None:
        self.rows.append(None)


def render_plain(table: _Table) -> str:
    """``table`` as plain text: the title, a header underlined with dashes, columns
    two spaces apart (numbers right-aligned), dashes between sections, and what
    the marks mean."""
    # Marks hang past the column's alignment, so that marked and unmarked figures line up.
    mark_widths = [
        max((len(row[0][i].mark) for row in table.rows if row is not None), default=0)
        for i in range(len(table.columns))
    ]
    cells = [
        None
        if row is None
        else [c.text + c.mark.ljust(width) for c, width in zip(row[0], mark_widths, strict=True)]
        for row in table.rows
    ]
    texts = [row for row in cells if row is not None]
    header = [name for name, _ in table.columns]
    widths = [
        max([len(header[i]) if table.show_header else 0, *(len(row[i]) for row in texts)])
        for i in range(len(table.columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if justify == "right" else value.ljust(width)
            for value, width, (_, justify) in zip(values, widths, table.columns, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    lines = [table.title] if table.title else []
    if table.show_header:
        lines += [line(header), rule]
    for row in cells:
        lines.append(rule if row is None else line(row))
    used = {c.mark for row in table.rows if row is not None for c in row[0] if c.mark}
    lines += [f"{mark} {text}" for mark, text in table.marks.items() if mark in used]
    return "\n".join(lines) + "\n"


class _Output:
    """Where the command prints: plain text, for when rich is not installed.

    Every method writes to ``sys.stdout`` (errors and progress to
    ``sys.stderr``) as it is when called.
    """

    def table(self, table: _Table) -> None:
        print(render_plain(table))

    def line(self, text: str, *, colour: str | None = None) -> None:
        print(text)

    def error(self, text: str) -> None:
        print(text, file=sys.stderr)

    def progress(self, label: str) -> _Progress:
        return _PlainProgress(label)


class _RichOutput(_Output):
    """Where the command prints when rich is installed: rich tables, colour, a progress bar."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console()
        self.errors = Console(stderr=True)

    def table(self, table: _Table) -> None:
        from rich.table import Table
        from rich.text import Text

        rich_table = Table(title=table.title, show_header=table.show_header)
        for header, justify in table.columns:
            rich_table.add_column(header, justify=justify)
        for row in table.rows:
            if row is None:
                rich_table.add_section()
                continue
            cells, bold = row
            rich_table.add_row(
                *(Text(c.text, style=c.colour or "") for c in cells),
                style="bold" if bold else None,
            )
        self.console.print(rich_table)

    def line(self, text: str, *, colour: str | None = None) -> None:
        self.console.print(text, markup=False, style=colour)

    def error(self, text: str) -> None:
        # Not rich markup: messages quote TOML tables such as [[queues]].
        self.errors.print(text, markup=False, highlight=False, soft_wrap=True, style="red")

    def progress(self, label: str) -> _Progress:
        return _RichProgress(self.errors, label)


def _output() -> _Output:
    """Rich output when rich can be imported, plain text otherwise."""
    try:
        import rich  # noqa: F401
    except ImportError:
        return _Output()
    return _RichOutput()


class _Progress:
    """A progress display that appears only once a run has taken more than a second."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, share: float) -> None:
        if not self.shown:
            if time.monotonic() - self.started < 1.0:
                return
            self.shown = self.show()
        if self.shown:
            self.update(share)

    def show(self) -> bool:
        """Start showing; whether there is anything to update."""
        return False

    def update(self, share: float) -> None:
        """Show ``share`` (0 to 1) done."""

    def close(self) -> None:
        """Take the display away."""


class _PlainProgress(_Progress):
    """A percentage rewritten in place on stderr, when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.last = -1

    def show(self) -> bool:
        return sys.stderr.isatty()

    def update(self, share: float) -> None:
        percent = int(100 * share)
        if percent != self.last:
            self.last = percent
            sys.stderr.write(f"\r{self.label} {percent:3d}%")
            sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * (len(self.label) + 5) + "\r")
            sys.stderr.flush()


class _RichProgress(_Progress):
    """rich's progress bar, transient."""

    def __init__(self, console: Any, label: str) -> None:
        super().__init__(label)
        self.console = console
        self.progress: Any = None
        self.task: Any = None

    def show(self) -> bool:
        if not self.console.is_terminal:
            return False  # nothing to animate in a file or a pipe
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(self.label, total=1.0)
        return True

    def update(self, share: float) -> None:
        self.progress.update(self.task, completed=share)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


# ----------------------------------------------------------------- simulate


def _queue_agents(scenario: Scenario, queue: str) -> list[str]:
    return [
        f"{group.name}-{i + 1:03d}"
        for group in scenario.agents
        if queue in group.queues
        for i in range(group.count)
    ]


def _group_row(stats: GroupStats, target: float | None) -> dict[str, Any]:
    level = stats.service_level()
    return {
        "offered": stats.offered,
        "answered": stats.answered,
        "abandoned": stats.abandoned,
        "short_abandons": stats.short_abandons,
        "in_flight": stats.in_flight,
        "service_level": _num(level),
        "service_level_threshold_seconds": stats.threshold,
        "service_level_target": target,
        "service_level_met": None if level is None or target is None else level >= target,
        "asa_seconds": _num(stats.asa),
        "aht_seconds": _num(stats.aht),
        "abandon_rate": _num(stats.abandon_rate),
        "longest_wait_seconds": _num(stats.longest_current_wait),
    }


def result_to_dict(scenario: Scenario, result: SimulationResult) -> dict[str, Any]:
    """Every figure of a simulated day as JSON-ready data (what ``--json`` prints)."""
    report = result.report
    targets = {q.name: q.service_level_target for q in scenario.queues}
    queues = {}
    for name, stats in report.queues.items():
        row = _group_row(stats, targets.get(name))
        row["occupancy"] = _num(report.team_of(_queue_agents(scenario, name)).occupancy)
        queues[name] = row
    groups = {}
    for group in scenario.agents:
        team = report.team_of(f"{group.name}-{i + 1:03d}" for i in range(group.count))
        groups[group.name] = {
            "agents": group.count,
            "occupancy": _num(team.occupancy),
            "utilisation": _num(team.utilisation),
            "handled": team.handled,
        }
    return {
        "scenario": result.scenario,
        "seed": result.seed,
        "total": {
            **_group_row(report.total, None),
            "occupancy": _num(report.team.occupancy),
            "utilisation": _num(report.team.utilisation),
            "probability_of_waiting": _num(result.probability_of_waiting),
            "self_served": result.self_served,
            "stranded": result.stranded,
        },
        "queues": queues,
        "channels": {name: _group_row(stats, None) for name, stats in report.channels.items()},
        "intervals": [
            {
                "start": _clock(i.start),
                **_group_row(i.stats, None),
                "occupancy": _num(i.occupancy),
                "average_waiting": round(i.average_waiting, 3),
                "agents_logged_in": i.agents_logged_in,
            }
            for i in result.intervals
        ],
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


def _print_day(out: _Output, scenario: Scenario, data: dict[str, Any], seconds: float) -> None:
    table = _Table(title=f"{data['scenario']} (seed {data['seed']})")
    table.marks["*"] = "below the service level target"
    for column in (
        "",
        "offered",
        "answered",
        "abandoned",
        "service level",
        "target",
        "ASA",
        "AHT",
        "occupancy",
    ):
        table.add_column(column, justify="left" if not column else "right")

    def add(name: str, row: dict[str, Any], bold: bool = False) -> None:
        target = row.get("service_level_target")
        level = _Cell(_pct(row["service_level"]))
        if row.get("service_level_met") is False:
            level = _Cell(level.text, "red", "*")
        elif row.get("service_level_met"):
            level = _Cell(level.text, "green")
        threshold = row["service_level_threshold_seconds"]
        table.add_row(
            name,
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            level,
            "-" if target is None else f"{100 * target:.0f}/{threshold:.0f}",
            _secs(row["asa_seconds"]),
            _secs(row["aht_seconds"]),
            _pct(row.get("occupancy")),
            bold=bold,
        )

    for name, row in data["queues"].items():
        add(f"queue {name}", row)
    table.add_section()
    for name, row in data["channels"].items():
        add(f"channel {name}", row)
    table.add_section()
    add("total", data["total"], bold=True)
    out.table(table)

    intervals = _Table(title="Per interval (contacts by arrival time)")
    for column in (
        "start",
        "offered",
        "answered",
        "abandoned",
        "service level",
        "ASA",
        "occupancy",
        "avg waiting",
        "agents",
    ):
        intervals.add_column(column, justify="right")
    for row in data["intervals"]:
        intervals.add_row(
            row["start"],
            str(row["offered"]),
            str(row["answered"]),
            str(row["abandoned"]),
            _pct(row["service_level"]),
            _secs(row["asa_seconds"]),
            _pct(row["occupancy"]),
            f"{row['average_waiting']:.1f}",
            str(row["agents_logged_in"]),
        )
    out.table(intervals)

    groups = _Table(title="Agent groups")
    for column in ("group", "agents", "handled", "occupancy", "utilisation"):
        groups.add_column(column, justify="left" if column == "group" else "right")
    for name, row in data["agent_groups"].items():
        groups.add_row(
            name,
            str(row["agents"]),
            str(row["handled"]),
            _pct(row["occupancy"]),
            _pct(row["utilisation"]),
        )
    out.table(groups)
    total = data["total"]
    out.line(
        f"Self-service (IVR): {total['self_served']}  •  still waiting at the end: {total['stranded']}"
        f"  •  {data['events']} router events in {seconds:.2f} s"
    )


def _plot(path: str, data: dict[str, Any], scenario: Scenario) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CCRouteError("--plot needs matplotlib: pip install 'ccroute[plot]'") from None
    starts = [row["start"] for row in data["intervals"]]
    x = list(range(len(starts)))
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    level = [
        row["service_level"] if row["service_level"] is not None else float("nan")
        for row in data["intervals"]
    ]
    axes[0].plot(x, [100 * v for v in level], marker="o")
    targets = {q.service_level_target for q in scenario.queues}
    if len(targets) == 1:
        axes[0].axhline(100 * targets.pop(), color="grey", linestyle="--", label="target")
        axes[0].legend()
    axes[0].set_ylabel("service level %")
    axes[1].bar(x, [row["average_waiting"] for row in data["intervals"]])
    axes[1].set_ylabel("avg contacts waiting")
    occupancy = [
        row["occupancy"] if row["occupancy"] is not None else float("nan")
        for row in data["intervals"]
    ]
    axes[2].plot(x, [100 * v for v in occupancy], marker="o", color="tab:green")
    axes[2].set_ylabel("occupancy %")
    axes[2].set_xticks(x, starts, rotation=60)
    fig.suptitle(data["scenario"])
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _simulate(args: argparse.Namespace, out: _Output) -> int:
    path = Path(args.scenario)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CCRouteError(f"{path}: cannot read the scenario ({exc.strerror})") from None
    scenario = parse_scenario(text, str(path))
    if args.trace:
        trace_path = Path(args.trace)
        try:
            trace_text = trace_path.read_text()
        except OSError as exc:
            raise CCRouteError(f"{trace_path}: cannot read the trace ({exc.strerror})") from None
        scenario = scenario.with_trace(parse_trace(trace_text, str(trace_path)))
    seed = scenario.seed if args.seed is None else args.seed
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
    if args.replications > 1:
        summary = summarise(results)
        data: dict[str, Any] = {
            "scenario": scenario.name,
            "replications": len(results),
            "seeds": [r.seed for r in results],
            "confidence": 0.95,
            "figures": {
                name: {"mean": _num(e.mean), "low": _num(e.low), "high": _num(e.high)}
                for name, e in summary.items()
            },
            "runs": [result_to_dict(scenario, r)["total"] for r in results],
        }
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            table = _Table(title=f"{scenario.name}: {len(results)} replications (mean, 95% CI)")
            for column in ("figure", "mean", "95% CI"):
                table.add_column(column, justify="left" if column == "figure" else "right")
            for name, e in summary.items():
                is_share = name not in ("asa_seconds", "aht_seconds")
                fmt = _pct if is_share else _secs
                table.add_row(name.replace("_", " "), fmt(e.mean), f"{fmt(e.low)} to {fmt(e.high)}")
            out.table(table)
        if args.plot:
            _plot(args.plot, result_to_dict(scenario, results[0]), scenario)
        return 0
    data = result_to_dict(scenario, results[0])
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        _print_day(out, scenario, data, seconds)
    if args.plot:
        _plot(args.plot, data, scenario)
        if not args.json:
            out.line(f"Plot written to {args.plot}")
    return 0


# -------------------------------------------------------------------- staff


def _target(text: str) -> tuple[float, float]:
    percent, sep, seconds = text.partition("/")
    try:
        target, threshold = float(percent) / 100.0, float(seconds)
    except ValueError:
        sep = ""
    if not sep or not 0 <= target <= 1 or threshold < 0:
        raise CCRouteError(f"--target must be percent/seconds like 80/20, got {text!r}")
    return target, threshold


def _staff(args: argparse.Namespace, out: _Output) -> int:
    rate = parse_rate(args.rate)
    service_level = _target(args.target) if args.target else None
    threshold = service_level[1] if service_level else 20.0
    result: StaffingResult
    if args.agents is not None:
        if args.patience is not None:
            result = erlang_a_metrics(
                rate, args.aht, args.patience, args.agents, threshold, shrinkage=args.shrinkage
            )
        else:
            result = erlang_c_metrics(
                rate, args.aht, args.agents, threshold, shrinkage=args.shrinkage
            )
    else:
        if (
            service_level is None
            and args.asa is None
            and args.occupancy_max is None
            and args.abandon_max is None
        ):
            raise CCRouteError(
                "give a target (--target, --asa, --occupancy-max, --abandon-max) or --agents N"
            )
        targets: dict[str, Any] = {
            "service_level": service_level,
            "asa": args.asa,
            "occupancy_max": args.occupancy_max,
            "shrinkage": args.shrinkage,
        }
        if args.patience is not None:
            result = staff_erlang_a(
                rate, args.aht, args.patience, abandon_max=args.abandon_max, **targets
            )
        elif args.abandon_max is not None:
            raise CCRouteError("--abandon-max needs --patience (Erlang A)")
        else:
            result = staff_erlang_c(rate, args.aht, **targets)
    data = result.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    model = "Erlang A" if args.patience is not None else "Erlang C"
    table = _Table(title=f"{model}: {args.rate}, AHT {args.aht:g} s", show_header=False)
    table.add_column(justify="left")
    table.add_column(justify="right")
    table.add_row("traffic", f"{result.traffic_erlangs:.2f} Erlangs")
    table.add_row("agents (on the phones)", str(result.agents))
    if result.scheduled_agents != result.agents:
        table.add_row(
            f"agents scheduled ({100 * args.shrinkage:.0f}% shrinkage)",
            str(result.scheduled_agents),
        )
    table.add_row("probability of waiting", _pct(result.probability_of_waiting))
    table.add_row(f"service level ({result.threshold_seconds:g} s)", _pct(result.service_level))
    table.add_row("ASA", _secs(result.asa_seconds))
    table.add_row("occupancy", _pct(result.occupancy))
    if result.probability_of_abandon is not None:
        table.add_row("probability of abandon", _pct(result.probability_of_abandon))
    out.table(table)
    if result.reason:
        out.line(result.reason, colour="yellow")
    return 0


# ------------------------------------------------------------------ plugins


def _plugins(args: argparse.Namespace, out: _Output) -> int:
    # Imported here: only this subcommand needs pluggy and anyio.
    from .plugins import LOAD_PLUGINS_ENV, describe_plugins, make_plugin_manager

    infos = describe_plugins(make_plugin_manager())
    if args.json:
        print(json.dumps([info.to_dict() for info in infos], indent=2))
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccroute", description="Contact-centre routing: simulate a day, or size a team."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="simulate a scenario file and report it")
    sim.add_argument("scenario", help="a scenario TOML file (see docs/scenarios.md)")
    sim.add_argument("--json", action="store_true", help="print the figures as JSON")
    sim.add_argument(
        "--plot", metavar="FILE.png", help="draw service level, waiting and occupancy per interval"
    )
    sim.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    sim.add_argument(
        "--replications",
        type=int,
        default=1,
        metavar="N",
        help="independent runs: mean and 95%% confidence interval",
    )
    sim.add_argument("--trace", metavar="FILE.csv", help="replay arrivals from a CSV trace")
    staff = sub.add_parser("staff", help="how many agents: Erlang C, or Erlang A with --patience")
    staff.add_argument("--rate", required=True, help="arrival rate with a unit: 100/30min, 400/h")
    staff.add_argument(
        "--aht", type=float, required=True, metavar="SECONDS", help="average handle time"
    )
    staff.add_argument(
        "--target", metavar="PERCENT/SECONDS", help="service level target, e.g. 80/20"
    )
    staff.add_argument(
        "--asa", type=float, metavar="SECONDS", help="maximum average speed of answer"
    )
    staff.add_argument(
        "--occupancy-max", type=float, metavar="SHARE", help="occupancy cap, e.g. 0.85"
    )
    staff.add_argument(
        "--abandon-max",
        type=float,
        metavar="SHARE",
        help="cap on the share of contacts abandoning, e.g. 0.05 (needs --patience)",
    )
    staff.add_argument(
        "--patience",
        type=float,
        metavar="SECONDS",
        help="mean patience: use Erlang A (abandonment)",
    )
    staff.add_argument(
        "--agents", type=int, metavar="N", help="evaluate N agents instead of solving"
    )
    staff.add_argument(
        "--shrinkage",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of paid time not on the phones, e.g. 0.3",
    )
    staff.add_argument("--json", action="store_true", help="print the result as JSON")
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
    out = _output()
    commands: dict[str, Callable[[argparse.Namespace, _Output], int]] = {
        "simulate": _simulate,
        "staff": _staff,
        "plugins": _plugins,
    }
    try:
        if args.command == "simulate" and args.replications < 1:
            raise CCRouteError("--replications must be at least 1")
        return commands[args.command](args, out)
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
