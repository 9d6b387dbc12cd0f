"""The ccroute command: simulate and staff, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ccroute.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccroute.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_simulate_prints_the_report() -> None:
    done = run_cli("simulate", str(EXAMPLES / "contact_centre.toml"))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in (
        "\nsales ",
        "\nsupport ",
        "\nbilling ",
        "\n  chat ",
        "chat (all)",
        "total",
        "Per interval",
        "08:00",
        "19:30",
        "Agent groups",
        "service",
        "occupancy",
        "longest",
        "staffed",
        "required",
    ):
        assert text in out, text


def test_simulate_json_parses_and_matches_the_table_figures() -> None:
    done = run_cli("simulate", str(EXAMPLES / "contact_centre.toml"), "--json", "--seed", "5")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["seed"] == 5
    total = data["total"]
    assert total["offered"] == total["answered"] + total["abandoned"] + total["in_flight"]
    assert set(data["queues"]) == {"sales", "support", "billing"}
    assert len(data["intervals"]) == 24
    assert sum(i["offered"] for i in data["intervals"]) == total["offered"]
    assert set(data["queues"]["support"]["channels"]) == {"voice", "chat", "email"}
    assert 0 < total["service_level"] <= 1 and 0 < total["occupancy"] < 1


def test_simulate_same_seed_same_json() -> None:
    first = run_cli("simulate", str(EXAMPLES / "erlang_c.toml"), "--json")
    second = run_cli("simulate", str(EXAMPLES / "erlang_c.toml"), "--json")
    assert json.loads(first.stdout) == json.loads(second.stdout)


def test_replications_give_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLES / "erlang_c.toml"), "--replications", "3", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    level = data["total"]["service_level"]
    assert level["low"] <= level["mean"] <= level["high"]
    assert data["seeds"] == [7, 8, 9]


def test_trace_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(
        "arrival,channel,queue,skills,priority,customer,handle_time,patience\n"
        "08:00:01,voice,calls,,0,c1,100,\n08:00:02,voice,calls,,0,c2,200,\n"
    )
    assert main(["simulate", str(EXAMPLES / "erlang_c.toml"), "--trace", str(trace), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total"]["offered"] == 2
    assert data["total"]["aht_seconds"] == 150.0


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "day.png"
    assert main(["simulate", str(EXAMPLES / "erlang_c.toml"), "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_scenario_exits_nonzero_naming_file_table_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[queues]]\nname = 'q'\nstrategy = 'fastest'\n")
    done = run_cli("simulate", str(bad))
    assert done.returncode == 2
    assert "bad.toml [[queues]] #1, field 'strategy': unknown strategy 'fastest'" in done.stderr
    assert done.stdout == ""
    assert done.stderr.count("bad.toml") == 1
    missing = run_cli("simulate", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "cannot read the scenario" in missing.stderr


def test_staff_textbook_case() -> None:
    done = run_cli("staff", "--rate", "100/30min", "--aht", "180", "--target", "80/20", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["agents"] == 14
    assert data["traffic_erlangs"] == pytest.approx(10.0)
    assert data["probability_of_waiting"] == pytest.approx(0.17413, abs=1e-5)
    assert data["service_level"] == pytest.approx(0.88835, abs=1e-5)
    assert data["asa_seconds"] == pytest.approx(7.836, abs=1e-3)
    assert data["occupancy"] == pytest.approx(10 / 14)
    table = run_cli("staff", "--rate", "100/30min", "--aht", "180", "--target", "80/20")
    assert "14" in table.stdout and "88.8%" in table.stdout


def test_staff_erlang_a_and_infinite_values() -> None:
    data = json.loads(
        run_cli(
            "staff",
            "--rate",
            "400/h",
            "--aht",
            "180",
            "--patience",
            "120",
            "--target",
            "80/20",
            "--json",
        ).stdout
    )
    assert "probability_of_abandon" in data and 0 < data["probability_of_abandon"] < 1
    overloaded = json.loads(
        run_cli("staff", "--rate", "100/30min", "--aht", "180", "--agents", "9", "--json").stdout
    )
    assert overloaded["asa_seconds"] is None
    assert overloaded["service_level"] == 0
    assert overloaded["reason"]


def test_staff_abandon_cap_needs_erlang_a() -> None:
    capped = json.loads(
        run_cli(
            "staff",
            "--rate",
            "400/h",
            "--aht",
            "180",
            "--patience",
            "120",
            "--abandon-max",
            "0.02",
            "--json",
        ).stdout
    )
    assert capped["probability_of_abandon"] <= 0.02
    done = run_cli("staff", "--rate", "400/h", "--aht", "180", "--abandon-max", "0.02")
    assert done.returncode == 2 and "--abandon-max needs --patience" in done.stderr


def test_staff_shrinkage_and_combined_targets() -> None:
    data = json.loads(
        run_cli(
            "staff",
            "--rate",
            "100/30min",
            "--aht",
            "180",
            "--target",
            "80/20",
            "--asa",
            "5",
            "--occupancy-max",
            "0.7",
            "--shrinkage",
            "0.3",
            "--json",
        ).stdout
    )
    assert data["agents"] >= 15  # ASA <= 5 s needs more than 14
    assert data["occupancy"] <= 0.7
    assert data["scheduled_agents"] == -(-data["agents"] * 10 // 7)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "lots", "--aht", "180", "--target", "80/20"], "lots"),
        (["--rate", "100/h", "--aht", "0", "--target", "80/20"], "aht"),
        (["--rate", "100/h", "--aht", "180", "--target", "120/20"], "--target"),
        (["--rate", "100/h", "--aht", "180", "--target", "0.8/20"], "write '80/20'"),
        (["--rate", "100/h", "--aht", "180", "--target", "100/0"], "100% can never be met"),
        (["--rate", "100/h", "--aht", "180", "--occupancy-max", "85"], "write 0.85 or 85%"),
        (["--rate", "100/h", "--aht", "180", "--target", "80/20", "--shrinkage", "30"], "0.3"),
        (["--rate", "100/h", "--aht", "180"], "give a target"),
    ],
)
def test_staff_bad_input(args: list[str], message: str) -> None:
    done = run_cli("staff", *args)
    assert done.returncode == 2
    assert message in done.stderr


# ------------------------------------------------------------ without rich

#: Runs the command with rich made unimportable, as after a plain ``pip install ccroute``.
NO_RICH = (
    "import sys\n"
    "sys.modules['rich'] = None  # import rich now raises ImportError\n"
    "from ccroute.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "assert not any(m == 'rich' or m.startswith('rich.') for m in sys.modules if sys.modules[m])\n"
    "sys.exit(status)\n"
)


def run_without_rich(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", NO_RICH, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"COLUMNS": "140", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def tables(text: str) -> list[list[str]]:
    """The blocks of lines between blank lines."""
    return [block.splitlines() for block in text.strip().split("\n\n")]


def test_simulate_works_without_rich_in_aligned_plain_text() -> None:
    done = run_without_rich("simulate", "examples/contact_centre.toml")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in ("sales", "chat (all)", "total", "Per interval", "19:30", "Agent groups"):
        assert text in out
    assert not set(out) & set("┏━┃│└╇…")  # no box drawing, nothing cut
    assert "\x1b[" not in out + done.stderr  # no colour
    day, intervals, groups, summary = tables(out)
    assert day[0].startswith("Omnichannel day (seed ")
    # Columns line up: every row of a table ends where its rule ends (the last
    # column is right-aligned), and the rule's gaps are gaps in every row.
    for block in (day, intervals, groups):
        rule_at = next(i for i, line in enumerate(block) if set(line) == {"-", " "})
        rule = block[rule_at]
        gaps = [i for i, c in enumerate(rule) if c == " "]
        for line in block[rule_at:]:
            if not line or line[0] in "* " or line[0].isupper():
                continue  # legends and notes under the table
            assert len(line) == len(rule), line
            assert all(line[i] == " " for i in gaps), line
    assert summary[0].startswith("Self-service (IVR):")


def test_plain_text_marks_what_rich_colours() -> None:
    done = run_without_rich("simulate", "examples/contact_centre.toml", "--seed", "1")
    day = tables(done.stdout)[0]
    data = json.loads(
        run_cli("simulate", "examples/contact_centre.toml", "--seed", "1", "--json").stdout
    )
    below = {q for q, row in data["queues"].items() if row["service_level_met"] is False}
    assert below  # the example misses a target somewhere
    missed = {line.split()[0] for line in day if "*" in line and not line.startswith("*")}
    assert below <= missed
    assert "* below the queue's service-level target" in day


def test_staff_json_and_errors_work_without_rich() -> None:
    done = run_without_rich("staff", "--rate", "100/30min", "--aht", "180", "--target", "80/20")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "Erlang C: 100/30min, AHT 180 s"
    assert any(line.split()[-1] == "14" and line.startswith("agents") for line in lines)
    body = [line for line in lines[1:] if not line.startswith("-")]
    assert len({len(line) for line in body}) == 1  # values right-aligned in one column
    same = run_without_rich(
        "staff", "--rate", "100/30min", "--aht", "180", "--target", "80/20", "--json"
    )
    assert json.loads(same.stdout)["agents"] == 14
    bad = run_without_rich("simulate", "nope.toml")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == "ccroute: error: nope.toml: cannot read the scenario (No such file or directory)"
    )
    day = run_without_rich("simulate", str(EXAMPLES / "erlang_c.toml"), "--json")
    assert json.loads(day.stdout) == json.loads(
        run_cli("simulate", str(EXAMPLES / "erlang_c.toml"), "--json").stdout
    )


def test_replications_and_plugins_work_without_rich() -> None:
    done = run_without_rich("simulate", str(EXAMPLES / "erlang_c.toml"), "--replications", "3")
    assert done.returncode == 0, done.stderr
    assert "replications, mean (95% confidence interval)" in done.stdout
    assert "Per interval: service level %" in done.stdout
    listed = run_without_rich("plugins")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("ccroute.default  (built-in, ccroute ")
    assert "    ccroute_storage\n" in listed.stdout


@pytest.mark.parametrize("rich", [True, False], ids=["rich", "plain"])
def test_a_closed_pipe_is_not_a_traceback(rich: bool) -> None:
    # stdout is a pipe nobody reads any more, as in `ccroute simulate ... | head -1`.
    script = (
        "import os, sys\n"
        "read, write = os.pipe()\n"
        "os.close(read)\n"
        "os.dup2(write, 1)\n"
        + ("" if rich else "sys.modules['rich'] = None\n")
        + "from ccroute.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "simulate", "examples/erlang_c.toml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr
    assert done.stderr.strip() == ""
