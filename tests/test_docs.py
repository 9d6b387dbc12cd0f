"""The docs agree with the code: lifecycle tables, errors, and docstrings on public names."""

from __future__ import annotations

import inspect
from pathlib import Path

import ccroute
from ccroute import errors
from ccroute.lifecycle import transition_table_markdown

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_lifecycle_page_matches_the_tables() -> None:
    assert transition_table_markdown() in (DOCS / "lifecycle.md").read_text()


def test_every_error_class_is_documented() -> None:
    page = (DOCS / "errors.md").read_text()
    for name in errors.__all__:
        assert f"`{name}`" in page, f"{name} is not in docs/errors.md"


def test_every_public_name_has_a_docstring() -> None:
    missing = []
    for name in ccroute.__all__:
        obj = getattr(ccroute, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                missing.append(name)
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and inspect.isfunction(member) and not member.__doc__:
                    missing.append(f"{name}.{attr}")
    assert missing == []
