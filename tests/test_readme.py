"""The README's embedding example runs as written, and its Quick start has two commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_embedding_example_runs() -> None:
    (example,) = blocks("python")
    assert len(example.strip().splitlines()) <= 20
    exec(compile(example, "README.md", "exec"), {})


def test_quick_start_has_exactly_two_commands() -> None:
    quick_start = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick_start, flags=re.S)
    assert len(commands) == 2
    assert all(len(c.strip().splitlines()) == 1 for c in commands)
    assert "ccroute simulate examples/contact_centre.toml" in commands[0]
    assert "pytest" in commands[1]
