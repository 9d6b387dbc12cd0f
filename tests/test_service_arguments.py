"""Service arguments: a wrong one is refused when the Service is made, and a
store that refuses its file says so itself at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ccroute import Contact, InvalidValueError, QueueConfig, Service, StorageError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "kwargs",
    [
        {"storage": 5},
        {"storage": object()},
        {"path": 5},
        {"settings": 5},
        {"settings": {1: "x"}},
        {"plugins": 5},
        {"plugins": "a plugin"},
        {"clock": 5},
        {"seed": "0"},
        {"seed": True},
        {"load_entrypoints": "no"},
        {"sync": "SOMETIMES"},
        {"hook_timeout": None},
        {"hook_timeout": float("nan")},
        {"hook_timeout": 0},
        {"snapshot_every": 0},
        {"snapshot_every": 2.5},
        {"snapshot_every": True},
        {"policy": "none"},
    ],
    ids=repr,
)
def test_a_wrong_argument_is_refused_at_once(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidValueError):
        Service(**kwargs)


async def test_a_damaged_file_is_reported_by_the_store_not_as_a_missing_store(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "centre.db"
    path.write_bytes(b"this is not an SQLite database, but it is long enough" * 100)
    with pytest.raises(StorageError, match=r"not a ccroute log|not an SQLite"):
        await Service(path=path, load_entrypoints=False).start()
    # the file was not touched
    assert path.read_bytes() == b"this is not an SQLite database, but it is long enough" * 100


async def test_a_value_the_log_cannot_hold_is_refused_before_the_router_changes(
    tmp_path: Path, anyio_backend: str
) -> None:
    path = tmp_path / "centre.db"
    async with Service(path=path, load_entrypoints=False) as service:
        await service.add_queue(QueueConfig("support"))
        # A lone surrogate is a valid str but not UTF-8: no log can hold it.
        # The model refuses it first; planted past the model, the log does.
        with pytest.raises(InvalidValueError, match="lone surrogates"):
            Contact("c\ud800", "voice", "support")
        contact = Contact("c", "voice", "support")
        object.__setattr__(contact, "id", "c\ud800")
        with pytest.raises(InvalidValueError, match="cannot be logged"):
            await service.submit(contact)
        assert service.router.contact_ids == []
        # The service goes on taking calls.
        await service.submit(Contact("c1", "voice", "support"))
    async with Service(path=path, load_entrypoints=False) as again:
        assert again.router.contact_ids == ["c1"]


@pytest.mark.parametrize("retention", [None, 3600.0])
async def test_the_default_store_takes_its_retention_from_the_settings(
    tmp_path: Path, anyio_backend: str, retention: float | None
) -> None:
    service = Service(
        path=tmp_path / "centre.db", settings={"retention": retention}, load_entrypoints=False
    )
    async with service:
        assert getattr(service.storage, "retention", "missing") == retention


def test_a_hook_timeout_beyond_the_float_range_is_refused_not_an_overflow() -> None:
    # math.isfinite(10**400) raised OverflowError; a bool is not a number of seconds
    for bad in (10**400, True):
        with pytest.raises(InvalidValueError, match="hook_timeout must be a positive number"):
            Service(hook_timeout=bad)
