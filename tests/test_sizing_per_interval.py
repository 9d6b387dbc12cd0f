"""Staffing by simulation per interval: ``size_per_interval`` and ``ccroute staff --per-interval``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccroute.cli import main
from ccroute.errors import InputError
from ccroute.sim import parse_scenario, simulate
from ccroute.sim.scenario import Scenario
from ccroute.sim.sizing import IntervalSizingResult, size_per_interval, split_plan

#: Two hours, a quiet one then a peak four times as busy; a base group all day
#: and a peak group whose shift covers the second hour only.
PEAK = """
[simulation]
name = "Peak"
start = "08:00"
end = "10:00"
interval_minutes = 60
seed = 7

[[queues]]
name = "calls"
service_level = "80/20"
offer_timeout = 0

[[agents]]
name = "base"
count = 4
queues = ["calls"]
capacity = { voice = 1 }

[[agents]]
name = "peak"
count = 3
queues = ["calls"]
capacity = { voice = 1 }
shift = "09:00-10:00"

[[arrivals]]
queue = "calls"
profile = ["30/h", "120/h"]
handle_time = { distribution = "exponential", mean = 120 }
patience = { distribution = "exponential", mean = 180 }
"""


@pytest.fixture(scope="module")
def peak() -> tuple[Scenario, IntervalSizingResult]:
    scenario = parse_scenario(PEAK, "peak.toml")
    return scenario, size_per_interval(scenario, replications=3)


def _levels(
    scenario: Scenario, plan: dict[str, tuple[int, ...]], seeds: tuple[int, ...]
) -> dict[tuple[int, str], float]:
    """Mean service level per (interval, queue) of ``plan`` over ``seeds``, computed afresh."""
    split = split_plan(scenario, plan)
    samples: dict[tuple[int, str], list[float]] = {}
    for seed in seeds:
        breakdown = simulate(split, seed=seed).breakdown
        assert breakdown is not None
        for k in range(scenario.intervals):
            for queue in scenario.queues:
                level = breakdown.select(interval=k, queue=queue.name).service_level()
                if level is not None:
                    samples.setdefault((k, queue.name), []).append(level)
    return {cell: sum(v) / len(v) for cell, v in samples.items()}


def test_the_plan_meets_every_interval_on_the_same_seeds(
    peak: tuple[Scenario, IntervalSizingResult],
) -> None:
    scenario, result = peak
    assert result.answer.met and result.answer.runs == 3
    assert result.covered == {"base": (0, 1), "peak": (1,)}
    assert result.counts["peak"][0] == 0  # outside its shift
    levels = _levels(scenario, dict(result.counts), result.seeds)
    assert set(levels) == {(0, "calls"), (1, "calls")}
    assert all(level >= 0.8 for level in levels.values())


def test_one_agent_fewer_in_any_interval_misses(
    peak: tuple[Scenario, IntervalSizingResult],
) -> None:
    scenario, result = peak
    for name, counts in result.counts.items():
        for k in result.covered[name]:
            if counts[k] == 0:
                continue
            fewer = dict(result.counts)
            fewer[name] = tuple(c - (i == k) for i, c in enumerate(counts))
            levels = _levels(scenario, fewer, result.seeds)
            # The interval itself, or an earlier one whose late contacts it serves.
            missed = [cell for cell, level in levels.items() if level < 0.8]
            assert missed and min(j for j, _ in missed) <= k, (name, k, levels)


def test_the_peak_interval_gets_more_agents(
    peak: tuple[Scenario, IntervalSizingResult],
) -> None:
    _, result = peak
    totals = [sum(c[k] for c in result.counts.values()) for k in range(2)]
    assert totals[1] > totals[0] >= 1


def test_the_search_is_deterministic(peak: tuple[Scenario, IntervalSizingResult]) -> None:
    scenario, result = peak
    again = size_per_interval(scenario, replications=3)
    assert again.counts == result.counts
    assert again.runs == result.runs
    assert [c.counts for c in again.candidates] == [c.counts for c in result.candidates]


def test_split_plan_clips_shifts_and_breaks() -> None:
    text = PEAK.replace(
        'shift = "09:00-10:00"',
        'shift = "08:30-10:00"\nbreaks = [{ start = "08:50", minutes = 20 }]',
    )
    scenario = parse_scenario(text, "peak.toml")
    split = split_plan(scenario, {"peak": (2, 5)})
    groups = {g.name: g for g in split.agents}
    assert set(groups) == {"base", "peak@0", "peak@1"}
    assert groups["base"].count == 4  # not in the plan: kept whole
    first, second = groups["peak@0"], groups["peak@1"]
    assert (first.count, first.shift_start, first.shift_end) == (2, 8.5 * 3600, 9 * 3600)
    assert (second.count, second.shift_start, second.shift_end) == (5, 9 * 3600, 10 * 3600)
    # The break across 09:00 is cut in two: each piece keeps its part.
    assert [(b.start, b.seconds) for b in first.breaks] == [(8 * 3600 + 50 * 60, 600.0)]
    assert [(b.start, b.seconds) for b in second.breaks] == [(9 * 3600, 600.0)]
    assert first.queues == second.queues == scenario.agents[1].queues


def test_an_interval_no_plan_meets_is_named() -> None:
    text = PEAK.replace(
        'queue = "calls"\nprofile', 'queue = "calls"\nskills = { french = 1 }\nprofile'
    )
    scenario = parse_scenario(text, "nobody.toml")
    with pytest.raises(InputError, match=r"no plan meets every interval: at 08:00 .* calls"):
        size_per_interval(scenario, groups=["base"], replications=2)


def test_staff_per_interval_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "peak.toml"
    path.write_text(PEAK)
    args = ["staff", "--scenario", str(path), "--per-interval", "--replications", "2"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = data["intervals"]
    assert [(r["start"], r["end"]) for r in rows] == [("08:00", "09:00"), ("09:00", "10:00")]
    assert rows[0]["groups"]["peak"] is None  # outside its shift
    assert rows[1]["total"] == rows[1]["groups"]["base"] + rows[1]["groups"]["peak"]
    assert rows[1]["erlang_agents"] > rows[0]["erlang_agents"] >= 1
    assert all(q["met"] for r in rows for q in r["queues"].values())
    assert main([*args, "--width", "80"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if line.startswith("interval"))
    assert header.split() == ["interval", "base", "peak", "total", "agents", "agents"]
    first = next(line for line in lines if line.startswith("08:00")).split()
    assert first[:3] == ["08:00", str(rows[0]["groups"]["base"]), "-"]
    assert "outside the group's shift" in text
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("interval,base,peak,total")
    assert main(["staff", "--rate", "100/h", "--aht", "180", "--per-interval"]) == 2
    assert "--per-interval sizes a scenario" in capsys.readouterr().err
