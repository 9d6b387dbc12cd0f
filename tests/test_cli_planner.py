"""The planner's command line: honest columns, 80-column output, formats, hygiene, plots."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ccroute.cli import main
from ccroute.cli.report import day_data, replications_data
from ccroute.sim import parse_scenario, replicate, simulate
from ccroute.wfm.forecast import scenario_requirements

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: A small two-queue day whose queues have different thresholds (30 s and 60 s).
SMALL = """
[simulation]
name = "Small"
start = "08:00"
end = "10:00"
interval_minutes = 30
seed = 4

[[queues]]
name = "support"
service_level = "80/30"
offer_timeout = 0

[[queues]]
name = "web"
service_level = "90/60"
offer_timeout = 0

[[agents]]
name = "early"
count = 4
queues = ["support", "web"]
capacity = { voice = 1, chat = 2 }
shift = "08:00-09:00"

[[agents]]
name = "all"
count = 2
queues = ["support", "web"]
capacity = { voice = 1, chat = 2 }

[[arrivals]]
queue = "support"
rate = "50/h"
handle_time = { distribution = "exponential", mean = 240 }
patience = { distribution = "exponential", mean = 200 }

[[arrivals]]
queue = "web"
channel = "chat"
rate = "30/h"
handle_time = { distribution = "exponential", mean = 300 }
"""


def run(
    *args: str, columns: int | None = 80, no_rich: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    prefix = (
        [
            "-c",
            "import sys; sys.modules['rich'] = None; from ccroute.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
        if no_rich
        else ["-m", "ccroute.cli"]
    )
    return subprocess.run(
        [sys.executable, *prefix, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sc") / "small.toml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def small_day() -> dict[str, Any]:
    scenario = parse_scenario(SMALL, "small.toml")
    return day_data(scenario, simulate(scenario))


# ---------------------------------------------------------- honest columns


def test_interval_agents_are_a_time_average_and_the_end_count_is_labelled(
    small_day: dict[str, Any],
) -> None:
    first, second, third, _ = small_day["intervals"]
    # Six agents all through the first hour; at 09:00 four go home (when free).
    assert first["agents_staffed"] == pytest.approx(6.0)
    assert second["agents_staffed"] == pytest.approx(6.0, abs=0.5)
    assert third["agents_staffed"] < 6.0
    assert third["agents_logged_in_at_end"] == 2
    assert "agents_logged_in" not in first  # the ambiguous name is gone


def test_longest_waits_are_filled_in_after_the_day(small_day: dict[str, Any]) -> None:
    assert small_day["total"]["longest_wait_seconds"] is not None
    for row in small_day["queues"].values():
        assert row["longest_wait_seconds"] is not None
    for row in small_day["intervals"]:
        if row["offered"]:
            assert row["longest_wait_seconds"] is not None
    assert max(r["longest_wait_seconds"] for r in small_day["intervals"]) == pytest.approx(
        small_day["total"]["longest_wait_seconds"]
    )


def test_every_service_level_uses_the_queues_own_threshold(small_day: dict[str, Any]) -> None:
    support = small_day["queues"]["support"]
    assert support["service_level_threshold_seconds"] == 30
    assert small_day["queues"]["web"]["channels"]["chat"]["service_level_threshold_seconds"] == 60
    # An interval row pools its queues, each measured against its own threshold.
    for row in small_day["intervals"]:
        cells = row["queues"].values()
        base = sum(c["offered"] - c["short_abandons"] for c in cells)
        within = sum(
            round(c["service_level"] * (c["offered"] - c["short_abandons"]))
            for c in cells
            if c["service_level"] is not None
        )
        if base:
            assert row["service_level"] == pytest.approx(within / base, abs=1e-6)
        assert row["targets_missed"] == [
            q for q, c in row["queues"].items() if c["service_level_met"] is False
        ]
    # A channel row has no target of its own: it pools queues, it is never "met".
    assert small_day["channels"]["chat"]["service_level_target"] is None


def test_staff_says_when_the_agents_given_miss_the_target() -> None:
    done = run(
        "staff", "--rate", "100/30min", "--aht", "180", "--agents", "12", "--target", "80/20"
    )
    assert done.returncode == 0, done.stderr
    assert "12 agents MISS the target: service level" in done.stdout
    assert "< 80% within 20 s" in done.stdout
    data = json.loads(
        run(
            "staff",
            "--rate",
            "100/30min",
            "--aht",
            "180",
            "--agents",
            "14",
            "--target",
            "80%/20s",
            "--json",
        ).stdout
    )
    assert data["meets_targets"] is True and data["targets_missed"] == []


def test_the_share_trap_is_refused_on_the_command_line() -> None:
    done = run("staff", "--rate", "100/30min", "--aht", "180", "--target", "0.8/20")
    assert done.returncode == 2
    assert "'0.8/20' looks like a share" in done.stderr and "'80/20'" in done.stderr


@pytest.mark.parametrize("command", ["simulate", "staff"])
def test_the_help_writes_the_target_convention_as_it_is_typed(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "80/20 or 80%/20s (80% answered within 20 s" in text
    assert "%%" not in text


# ------------------------------------------------------------ output layout


@pytest.mark.parametrize("columns", [80, None], ids=["80-columns", "file"])
def test_tables_fit_80_columns_without_cutting(columns: int | None) -> None:
    for args in (
        ("simulate", "examples/contact_centre.toml"),
        ("simulate", "examples/erlang_c.toml", "--replications", "2"),
        ("staff", "--forecast", "examples/forecast.csv", "--target", "80/20", "--shrinkage", "30%"),
    ):
        done = run(*args, columns=columns)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert max(len(line) for line in lines) <= 80, args
        assert "…" not in done.stdout
    day = run("simulate", "examples/contact_centre.toml", columns=columns).stdout
    assert "offered  answered" in day and "longest" in day


def test_wider_terminals_get_more_columns() -> None:
    narrow = run("simulate", "examples/contact_centre.toml").stdout
    wide = run("simulate", "examples/contact_centre.toml", columns=200).stdout
    header = next(line for line in narrow.splitlines() if "offered  answered" in line)
    assert "AHT" not in header and "Not shown at 80 columns: AHT s" in narrow
    wide_header = next(line for line in wide.splitlines() if "offered  answered" in line)
    assert "AHT s" in wide_header and "Not shown" not in wide.split("Per interval")[0]
    assert max(len(line) for line in wide.splitlines()) > 80


def test_formats_csv_markdown_and_json(small: Path) -> None:
    text = run("simulate", str(small), "--format", "csv").stdout
    blocks = [b for b in text.split("\n\n") if b.strip()]
    rows = list(csv.reader(io.StringIO(blocks[0].split("\n", 1)[1])))
    assert rows[0][:3] == ["queue / channel", "offered", "answered"]
    assert any(r[0] == "support" for r in rows)
    markdown = run("simulate", str(small), "--format", "markdown").stdout
    assert "| queue / channel | offered |" in markdown and "|---:|" in markdown
    data = json.loads(run("simulate", str(small), "--format", "json").stdout)
    assert data == json.loads(run("simulate", str(small), "--json").stdout)


def test_version_and_help_describe_the_conventions() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.startswith("ccroute ")
    help_text = run("staff", "--help", columns=100).stdout
    assert "80/20 or 80%/20s" in help_text and "0.85 or 85%" in help_text


@pytest.mark.parametrize(
    ("plot", "message"),
    [
        ("day.gif", "unknown image format '.gif'"),
        ("missing-dir/day.png", "does not exist"),
    ],
)
def test_bad_plot_paths_fail_before_anything_runs(plot: str, message: str, tmp_path: Path) -> None:
    done = run("simulate", "examples/contact_centre.toml", "--plot", str(tmp_path / plot))
    assert done.returncode == 2 and message in done.stderr
    assert done.stdout == ""  # nothing was simulated or printed


def test_missing_matplotlib_fails_before_anything_runs(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from ccroute.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "simulate",
            "examples/contact_centre.toml",
            "--plot",
            str(tmp_path / "d.png"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and "needs matplotlib" in done.stderr
    assert done.stdout == ""


# -------------------------------------------------------------- replications


def test_replications_give_per_queue_and_per_interval_intervals() -> None:
    scenario = parse_scenario(SMALL, "small.toml")
    requirements = scenario_requirements(scenario)
    results = replicate(scenario, 4)
    days = [day_data(scenario, r, requirements) for r in results]
    data = replications_data(scenario, days, [r.seed for r in results])
    for name in ("support", "web"):
        level = data["queues"][name]["service_level"]
        values = [d["queues"][name]["service_level"] for d in days]
        assert level["mean"] == pytest.approx(sum(values) / 4)
        assert 0 <= level["low"] <= level["mean"] <= level["high"] <= 1
        assert level["runs"] == 4
    assert len(data["intervals"]) == 4
    for row in data["intervals"]:
        for cell in row["queues"].values():
            e = cell["service_level"]
            if e is not None and e["runs"] > 1:
                assert e["low"] <= e["mean"] <= e["high"]
        assert row["agents_staffed"]["mean"] > 0


def test_replication_tables_name_their_figures(small: Path) -> None:
    done = run("simulate", str(small), "--replications", "3")
    assert done.returncode == 0, done.stderr
    assert "3 replications, mean (95% confidence interval)" in done.stdout
    assert "answered_and_abandoned" not in done.stdout
    assert "Per interval: service level %" in done.stdout


# --------------------------------------------------------------------- plots


def _figure(data: dict[str, Any], replications: dict[str, Any] | None = None) -> Any:
    pytest.importorskip("matplotlib")
    from ccroute.cli.plots import day_figure

    return day_figure(data, replications)


def test_the_plot_shows_each_queue_against_its_own_target(small_day: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    fig = _figure(small_day)
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert any("queue support" in t and "30 s" in t for t in titles)
        assert any("queue web" in t and "60 s" in t for t in titles)
        support = next(ax for ax in fig.axes if "queue support" in ax.get_title())
        labels = {line.get_label(): line for line in support.get_lines()}
        assert "target 80% in 30 s" in labels
        assert list(labels["target 80% in 30 s"].get_ydata()) == [80, 80]
        assert support.get_ylim()[0] == 0  # the axis starts at zero, not at 60
        web = next(ax for ax in fig.axes if "queue web" in ax.get_title())
        assert "target 90% in 60 s" in {line.get_label() for line in web.get_lines()}
        # Offered volume as bars on a twin axis of each queue's panel.
        twins = [ax for ax in fig.axes if ax.get_ylabel() == "offered (contacts)"]
        assert len(twins) == 2
        heights = [p.get_height() for p in twins[0].patches]
        assert sum(heights) == small_day["queues"]["support"]["offered"]
        agents = next(ax for ax in fig.axes if "agents" in ax.get_title())
        lines = {line.get_label(): line for line in agents.get_lines()}
        assert {"staffed (logged in)", "required (Erlang, per queue and channel)"} <= set(lines)
        assert list(lines["staffed (logged in)"].get_ydata()) == pytest.approx(
            [r["agents_staffed"] for r in small_day["intervals"]]
        )
    finally:
        plt.close(fig)


def test_replications_plot_as_bands() -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    scenario = parse_scenario(SMALL, "small.toml")
    results = replicate(scenario, 3)
    days = [day_data(scenario, r) for r in results]
    data = replications_data(scenario, days, [r.seed for r in results])
    fig = _figure(days[0], data)
    try:
        support = next(ax for ax in fig.axes if "queue support" in ax.get_title())
        assert any(isinstance(c, PolyCollection) for c in support.collections)  # the band
        mean = next(line for line in support.get_lines() if "mean" in line.get_label())
        expected = [
            100 * (r["queues"]["support"]["service_level"] or {}).get("mean", float("nan"))
            for r in data["intervals"]
        ]
        assert list(mean.get_ydata()) == pytest.approx(expected, nan_ok=True)
        assert "3 replications" in fig.texts[0].get_text()
    finally:
        plt.close(fig)


def test_plot_file_is_written(tmp_path: Path, small: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "day.svg"
    assert main(["simulate", str(small), "--plot", str(out), "--replications", "2"]) == 0
    assert out.read_text().lstrip().startswith("<?xml")
