"""The build never falls back silently (setup.py).

Without Cython the build stops with a message naming the way out; with
``CCROUTE_PURE_PYTHON=1`` it builds no extension and says so in a banner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs setup.py's extension step without building anything: ``--name`` makes
# setuptools stop after reading the configuration.
RUN_SETUP = "import runpy, sys; sys.argv = ['setup.py', '--name']; runpy.run_path('setup.py')"


def run_setup(env: dict[str, str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", prelude + RUN_SETUP],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_missing_cython_fails_the_build_with_a_clear_message() -> None:
    env = {k: v for k, v in os.environ.items() if k != "CCROUTE_PURE_PYTHON"}
    result = run_setup(env, prelude="import sys; sys.modules['Cython'] = None; ")
    assert result.returncode != 0
    assert "could not be" in result.stderr and "CCROUTE_PURE_PYTHON=1" in result.stderr


def test_pure_python_build_says_so() -> None:
    result = run_setup({**os.environ, "CCROUTE_PURE_PYTHON": "1"})
    assert result.returncode == 0, result.stderr
    assert "pure Python build" in result.stderr
    assert result.stdout.strip() == "ccroute"
