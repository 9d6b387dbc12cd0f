"""Running a driver script in a subprocess to SIGKILL it (the crash tests).

Its stdout and stderr go to files, not pipes: a pipe nobody reads would fill
and stall the driver, and a file keeps every line written before the kill.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio


@contextmanager
def running(
    command: list[str], workdir: Path, start: int
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """Start ``command`` with its output in ``out-START.txt`` and ``err-START.txt``
    under ``workdir``; kill it on the way out, whatever happens."""
    out = workdir / f"out-{start}.txt"
    err = workdir / f"err-{start}.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    try:
        yield proc, out, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


async def first_line(proc: subprocess.Popen[bytes], out: Path, err: Path, timeout: float) -> str:
    """Wait for the driver's first line (its ``ready``: it has recovered) and return it."""
    deadline = time.monotonic() + timeout
    while b"\n" not in out.read_bytes():
        if proc.poll() is not None:
            raise AssertionError(f"the driver exited with {proc.returncode}:\n{err.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the driver did not start in {timeout} s")
        await anyio.sleep(0.005)
    return out.read_text().split("\n", 1)[0]
