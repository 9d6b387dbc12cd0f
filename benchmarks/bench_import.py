"""What ``import ccroute`` costs: wall time of fresh interpreters, and ``-X importtime``.

Each round starts fresh interpreters: ``python -c "pass"`` (the interpreter
alone), then, for each source tree, ``python -c "import ccroute"`` and
``python -X importtime -c "import ccroute"`` (whose cumulative figure for the
``ccroute`` package is the import alone, without interpreter start-up). Trees
are interleaved within each round, so the machine's noise falls on all of them
alike. The table gives medians over the rounds, and which heavy modules the
import brought in.

    .venv/bin/python benchmarks/bench_import.py [--rounds 30] [--src DIR ...]

``--src DIR`` (repeatable) puts ``DIR`` first on ``PYTHONPATH`` (a ``src``
directory of another checkout, e.g. one made with ``git worktree`` at an older
commit, with its compiled extension built); without it, the installed ccroute
is measured.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HEAVY = ("anyio", "pluggy", "sqlite3", "rich", "msgspec", "attrs", "sortedcontainers")


def _env(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def _wall(code: str, src: str | None) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=_env(src))
    return time.perf_counter() - started


def _importtime(module: str, src: str | None) -> float:
    """Cumulative time ``-X importtime`` reports for ``module``, in seconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
        env=_env(src),
    )
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s*\d+ \|\s*(\d+) \|\s?(\S+)$", line)
        if match and match.group(2) == module:
            return int(match.group(1)) / 1e6
    raise RuntimeError(f"{module} not in -X importtime's output")


def _loaded(module: str, src: str | None) -> tuple[str, str]:
    """The heavy modules ``import module`` loads, and how many modules in all."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {module}; "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules) or '-'); "
            "print(len(sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=_env(src),
    ).stdout.split("\n")
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--module", default="ccroute")
    parser.add_argument("--src", action="append", help="a source tree to measure (repeatable)")
    args = parser.parse_args()
    trees: list[str | None] = list(args.src) if args.src else [None]
    bare: list[float] = []
    full: dict[str | None, list[float]] = {tree: [] for tree in trees}
    own: dict[str | None, list[float]] = {tree: [] for tree in trees}
    for _ in range(args.rounds):
        bare.append(_wall("pass", None))
        for tree in trees:
            full[tree].append(_wall(f"import {args.module}", tree))
            own[tree].append(_importtime(args.module, tree))
    bare_ms = statistics.median(bare) * 1e3
    print(f"python {sys.version.split()[0]}, {args.rounds} rounds, medians (ms)")
    print(f"python -c 'pass': {bare_ms:.1f} ms")
    print()
    print(
        f"| tree | `python -c 'import {args.module}'` | minus `pass` | "
        "-X importtime cumulative | heavy modules loaded | modules |"
    )
    print("|---|---:|---:|---:|---|---:|")
    for tree in trees:
        wall = statistics.median(full[tree]) * 1e3
        heavy, count = _loaded(args.module, tree)
        print(
            f"| {tree or 'installed'} | {wall:.1f} | {wall - bare_ms:.1f} | "
            f"{statistics.median(own[tree]) * 1e3:.1f} | {heavy} | {count} |"
        )


if __name__ == "__main__":
    main()
