"""The plugin the ``ccroute`` entry point loads: a Redis store when the settings ask for one.

A service whose settings have a ``"redis"`` mapping logs to Redis::

    Service(settings={"redis": {"url": "redis://127.0.0.1:6379/0", "partition": "site-1"}})

Keys of ``settings["redis"]``: ``url`` (required), ``partition``
(``"default"``), ``prefix`` (``"ccroute"``), ``fsync`` (``"always"`` or
``"everysec"``), ``check_server`` (``True``), ``lease_ttl`` (10 s),
``keep_snapshots`` (2); the service's ``settings["retention"]`` applies as
for SQLite. The store is a :class:`~ccroute_redis.SingleNodeStorage`: it holds
the partition's lease, so a second service on the same partition is refused.

Without a ``"redis"`` mapping the hook returns ``None`` and the next
implementation is asked: installing the distribution changes nothing, and
SQLite (or memory) stays the default. Settings that are present but wrong
(an unknown key, a value out of range) do not fall back to another store: the
store returned refuses to load, and the service does not start, with a
message naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ccroute.errors import CCRouteError, StorageError
from ccroute.hookspecs import hookimpl
from ccroute.storage import DEFAULT_RETENTION, LogRecord, Recovered

from .single import SingleNodeStorage

__all__ = ["SETTINGS", "ccroute_storage", "store_from_settings"]

#: The service's settings key this plugin reads.
SETTINGS: Final = "redis"

_KEYS: Final = frozenset(
    {"url", "partition", "prefix", "fsync", "check_server", "lease_ttl", "keep_snapshots"}
)


class RedisSettingsInvalid(StorageError):
    """The service's ``"redis"`` settings are wrong (the message names the key)."""


def store_from_settings(settings: Mapping[str, Any]) -> SingleNodeStorage | None:
    """The store ``settings["redis"]`` describes, or ``None`` when there is none.

    :raises RedisSettingsInvalid: the mapping is not one, has an unknown key,
        lacks ``url``, or holds a value out of range.
    """
    raw = settings.get(SETTINGS)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise RedisSettingsInvalid(
            f"the service's {SETTINGS!r} settings must be a mapping, not {raw!r}"
        )
    unknown = set(raw) - _KEYS
    if unknown:
        raise RedisSettingsInvalid(
            f"the service's {SETTINGS!r} settings have unknown key(s) "
            f"{', '.join(map(repr, sorted(map(str, unknown))))}; known: {', '.join(sorted(_KEYS))}"
        )
    if "url" not in raw:
        raise RedisSettingsInvalid(
            f"the service's {SETTINGS!r} settings need a 'url' (redis://host:port/db)"
        )
    options = {k: raw[k] for k in ("prefix", "fsync", "check_server", "keep_snapshots") if k in raw}
    try:
        return SingleNodeStorage(
            raw["url"],
            raw.get("partition", "default"),
            lease_ttl=raw.get("lease_ttl", 10.0),
            retention=settings.get("retention", DEFAULT_RETENTION),
            **options,
        )
    except CCRouteError as error:
        raise RedisSettingsInvalid(f"the service's {SETTINGS!r} settings: {error}") from None


class _Refusing:
    """A store that refuses to load: the service stops at start with ``error``
    instead of logging somewhere the application did not ask for."""

    def __init__(self, error: StorageError) -> None:
        self.error = error

    async def load(self) -> Recovered:
        raise self.error

    async def append(self, records: Sequence[LogRecord]) -> None:
        raise self.error

    async def snapshot(self, seq: int, state: bytes) -> None:
        raise self.error

    async def close(self) -> None:
        return None


@hookimpl
def ccroute_storage(settings: Mapping[str, Any]) -> SingleNodeStorage | _Refusing | None:
    """A :class:`~ccroute_redis.SingleNodeStorage` when ``settings["redis"]`` is
    given; ``None`` otherwise (the built-in default is then asked)."""
    try:
        return store_from_settings(settings)
    except RedisSettingsInvalid as error:
        return _Refusing(error)
