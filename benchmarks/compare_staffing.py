"""Compare ccroute.wfm's Erlang C answers with other Python libraries, side by side.

Run it as ``python benchmarks/compare_staffing.py`` (``--quick`` skips the loads of
5,000 Erlangs and more, ``--timeout S`` bounds each library call, default 20 s).

For each case (0.5 to 10,000 Erlangs) it asks every library that is importable
for the agents needed to answer 80 % (or 90 %) of calls within T seconds, and
for P(wait) and the service level at ccroute's answer, then prints one table:
case, quantity, ccroute's value, each library's value, the relative difference,
the time taken and a status (ok, exception, NaN, inf, out of range, timeout).
Stress rows probe agents below the traffic (an unstable queue, where P(wait) is 1)
and far above it (where naive formulas overflow).

Libraries (none is a dependency of ccroute; install any of them to compare):

* ``pyworkforce`` (PyPI ``pyworkforce``): ``pyworkforce.queuing.ErlangC``;
* ``call_center_tools`` (PyPI ``call-center-tools``): ``calc_staffing``, ``erlang_c``;
* ``erlanglib`` (PyPI ``erlanglib``): ``erlang_c``, ``service_level`` (no Erlang C
  solver); note that importing it sets the global ``decimal`` precision to 1000;
* ``ERLANG`` (PyPI ``erlangccmath``): detected but never called. Its functions
  send their arguments to a remote web service and may prompt for a user id;
  this script makes no network calls, so it reports the library as skipped.

Every library call runs in a forked child process so that a slow or hung call
is stopped at the timeout and the comparison continues.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import multiprocessing
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from ccroute import wfm
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from ccroute import wfm


@dataclass(frozen=True)
class Case:
    """One staffing question: calls per hour, AHT and threshold in seconds, SL target."""

    label: str
    calls_per_hour: float
    aht: float
    threshold: float
    target: float

    @property
    def rate(self) -> float:
        return self.calls_per_hour / 3600.0

    @property
    def traffic(self) -> float:
        return self.rate * self.aht


CASES = [
    Case("0.5 Erl", 10, 180, 20, 0.8),
    Case("10 Erl", 200, 180, 20, 0.8),
    Case("10 Erl 90/10", 200, 180, 10, 0.9),
    Case("50 Erl", 1000, 180, 20, 0.8),
    Case("47.3 Erl", 920, 185, 20, 0.8),
    Case("100 Erl", 1200, 300, 20, 0.8),
    Case("1,000 Erl", 12000, 300, 20, 0.8),
    Case("1,000 Erl 90/10", 12000, 300, 10, 0.9),
    Case("2,468.1 Erl", 29617, 300, 20, 0.8),
    Case("5,000 Erl", 60000, 300, 20, 0.8),
    Case("10,000 Erl", 120000, 300, 20, 0.8),
    Case("9,876.5 Erl", 118518, 300, 15, 0.85),
]
# (label, case, agents): P(wait) and service level at a fixed staffing.
STRESS = [
    ("10 Erl, 8 agents (unstable)", CASES[1], 8),
    ("10 Erl, 10 agents (N = A)", CASES[1], 10),
    ("1,000 Erl, 2,000 agents", CASES[6], 2000),
    ("10,000 Erl, 20,000 agents", CASES[10], 20000),
]
LARGE = 5000.0  # --quick skips cases at or above this many Erlangs


# ====================================================================== adapters
# Each adapter function takes (case, agents) and returns a float (or int).


def _pyworkforce(case: Case) -> Any:
    from pyworkforce.queuing import ErlangC

    # pyworkforce works in minutes; its "asa" argument is the service-level threshold.
    return ErlangC(
        transactions=case.calls_per_hour, aht=case.aht / 60, asa=case.threshold / 60, interval=60
    )


def pyworkforce_staff(case: Case, _agents: int) -> float:
    answer = _pyworkforce(case).required_positions(service_level=case.target, max_occupancy=1.0)
    return float(answer["raw_positions"])


def pyworkforce_p_wait(case: Case, agents: int) -> float:
    return float(_pyworkforce(case).waiting_probability(agents))


def pyworkforce_service_level(case: Case, agents: int) -> float:
    return float(_pyworkforce(case).service_level(agents))


def cct_staff(case: Case, _agents: int) -> float:
    from call_center_tools import calc_staffing

    answer = calc_staffing(
        case.calls_per_hour,
        case.aht,
        max_occupancy=1.0,
        target_answer_time=case.threshold,
        target_service_level=case.target,
    )
    return float(answer.agents)


def cct_p_wait(case: Case, agents: int) -> float:
    from call_center_tools import erlang_c

    return float(erlang_c(case.traffic, agents))


def cct_service_level(case: Case, agents: int) -> float:
    from call_center_tools import calc_service_level, erlang_c

    p_wait = erlang_c(case.traffic, agents)
    return float(calc_service_level(case.traffic, agents, p_wait, case.threshold, case.aht))


def erlanglib_p_wait(case: Case, agents: int) -> float:
    import erlanglib

    return float(erlanglib.erlang_c(agents, case.traffic))


def erlanglib_service_level(case: Case, agents: int) -> float:
    import erlanglib

    p_wait = erlanglib.erlang_c(agents, case.traffic)
    return float(erlanglib.service_level(agents, case.traffic, p_wait, case.threshold, case.aht))


@dataclass(frozen=True)
class Library:
    """A library to compare: its import name, PyPI name and adapters per quantity."""

    name: str
    module: str
    pypi: str
    functions: dict[str, Callable[[Case, int], float]]
    skip_reason: str | None = None


LIBRARIES = [
    Library(
        "pyworkforce",
        "pyworkforce",
        "pyworkforce",
        {
            "agents": pyworkforce_staff,
            "P(wait)": pyworkforce_p_wait,
            "service level": pyworkforce_service_level,
        },
    ),
    Library(
        "call_center_tools",
        "call_center_tools",
        "call-center-tools",
        {"agents": cct_staff, "P(wait)": cct_p_wait, "service level": cct_service_level},
    ),
    Library(
        "erlanglib",
        "erlanglib",
        "erlanglib",
        {"P(wait)": erlanglib_p_wait, "service level": erlanglib_service_level},
    ),
    Library(
        "erlangccmath",
        "ERLANG",
        "erlangccmath",
        {},
        skip_reason="its functions send the inputs to a remote web service (no local "
        "computation); this script makes no network calls",
    ),
]


# ====================================================================== running


def _child(fn: Callable[[Case, int], float], case: Case, agents: int, conn: Any) -> None:
    try:
        start = time.perf_counter()
        value = fn(case, agents)
        conn.send(("ok", value, time.perf_counter() - start))
    except BaseException as exc:  # report anything, including OverflowError
        conn.send(("exception", f"{type(exc).__name__}: {exc}"[:80], 0.0))
    finally:
        conn.close()


def call_with_timeout(
    fn: Callable[[Case, int], float], case: Case, agents: int, timeout: float
) -> tuple[str, Any, float]:
    """Run ``fn(case, agents)`` in a forked child; ``(status, value or message, seconds)``."""
    if "fork" not in multiprocessing.get_all_start_methods():
        start = time.perf_counter()
        try:
            return "ok", fn(case, agents), time.perf_counter() - start
        except Exception as exc:
            return "exception", f"{type(exc).__name__}: {exc}"[:80], 0.0
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(fn, case, agents, child))
    start = time.perf_counter()
    process.start()
    child.close()
    if parent.poll(timeout):
        status, value, seconds = parent.recv()
    else:
        status, value, seconds = (
            "timeout",
            f"no answer in {timeout:g} s",
            time.perf_counter() - start,
        )
    if process.is_alive():
        process.terminate()
    process.join()
    return status, value, seconds


def check_value(quantity: str, value: Any) -> str:
    """``ok`` or what is wrong with a library's value."""
    if not isinstance(value, (int, float)):
        return f"not a number: {value!r}"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf"
    if quantity != "agents" and not 0.0 <= value <= 1.0:
        return "out of [0, 1]"
    return "ok"


def ccroute_answers(case: Case, agents: int | None) -> tuple[int, dict[str, float], float]:
    """ccroute's staffing (or the given agents) and its figures there, with the time taken."""
    start = time.perf_counter()
    if agents is None:
        result = wfm.staff_erlang_c(
            case.rate, case.aht, service_level=(case.target, case.threshold)
        )
    else:
        result = wfm.erlang_c_metrics(case.rate, case.aht, agents, case.threshold)
    seconds = time.perf_counter() - start
    figures = {
        "agents": float(result.agents),
        "P(wait)": result.probability_of_waiting,
        "service level": result.service_level,
    }
    return result.agents, figures, seconds


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.10g}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per library call")
    parser.add_argument("--quick", action="store_true", help=f"skip loads >= {LARGE:g} Erlangs")
    args = parser.parse_args(argv)

    available: list[Library] = []
    print("## Libraries\n")
    for library in LIBRARIES:
        found = importlib.util.find_spec(library.module) is not None
        if not found:
            print(f"- {library.name} (pip install {library.pypi}): not installed, skipped")
        elif library.skip_reason:
            print(
                f"- {library.name} (PyPI {library.pypi}): installed, skipped: {library.skip_reason}"
            )
        else:
            try:
                module = importlib.import_module(library.module)
            except Exception as exc:
                print(
                    f"- {library.name}: cannot be imported ({type(exc).__name__}: {exc}), skipped"
                )
                continue
            version = getattr(module, "__version__", "?")
            print(f"- {library.name} (PyPI {library.pypi}) {version}: compared")
            available.append(library)
    print(
        "\nccroute.wfm is exact to double precision (checked against 50-digit and "
        "rational references in tests/test_wfm.py); rel. diff = |library - ccroute| / |ccroute|.\n"
    )

    rows: list[list[str]] = []
    failures: list[str] = []
    jobs: list[tuple[str, Case, int | None, tuple[str, ...]]] = []
    for case in CASES:
        if args.quick and case.traffic >= LARGE:
            continue
        label = f"{case.label} ({case.calls_per_hour:g}/h, AHT {case.aht:g} s, {case.target:.0%}/{case.threshold:g} s)"
        jobs.append((label, case, None, ("agents", "P(wait)", "service level")))
    for label, case, agents in STRESS:
        if args.quick and case.traffic >= LARGE:
            continue
        jobs.append((label, case, agents, ("P(wait)", "service level")))

    for label, case, fixed, quantities in jobs:
        agents, ours, our_seconds = ccroute_answers(case, fixed)
        for quantity in quantities:
            rows.append(
                [
                    label,
                    quantity,
                    fmt(ours[quantity]),
                    "ccroute",
                    "",
                    "",
                    f"{our_seconds:.4f}",
                    "ok",
                ]
            )
            for library in available:
                fn = library.functions.get(quantity)
                if fn is None:
                    continue
                status, value, seconds = call_with_timeout(fn, case, agents, args.timeout)
                if status == "ok":
                    status = check_value(quantity, value)
                diff = ""
                if status in ("ok", "out of [0, 1]") and isinstance(value, (int, float)):
                    reference = ours[quantity]
                    if reference != 0:
                        diff = f"{abs(value - reference) / abs(reference):.2e}"
                    else:
                        diff = "0" if value == 0 else f"abs {abs(value):.2e}"
                shown = fmt(value) if status not in ("exception", "timeout") else ""
                rows.append(
                    [
                        "",
                        "",
                        "",
                        library.name,
                        shown,
                        diff,
                        f"{seconds:.4f}",
                        status if status == "ok" else f"FAIL: {status}",
                    ]
                )
                if status != "ok":
                    failures.append(f"{library.name}: {label}: {quantity}: {status}: {value}")
                elif quantity == "agents" and value != ours[quantity]:
                    failures.append(
                        f"{library.name}: {label}: agents {fmt(value)} vs ccroute {fmt(ours[quantity])}"
                    )

    header = [
        "case",
        "quantity",
        "ccroute",
        "library",
        "library value",
        "rel. diff",
        "time (s)",
        "status",
    ]
    print("## Comparison\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print("\n## Failures and disagreements\n")
    if not available:
        print("- no library to compare with: install pyworkforce, call-center-tools or erlanglib")
    for line in failures:
        print(f"- {line}")
    if available and not failures:
        print("- none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
