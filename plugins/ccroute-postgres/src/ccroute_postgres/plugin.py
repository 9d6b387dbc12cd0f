"""The ``ccroute_storage`` hook: a service whose settings have a ``"postgres"``
table logs to PostgreSQL (entry point ``postgres`` in the ``ccroute`` group).

Settings (``Service(settings={"postgres": {...}})``, or ``[postgres]`` in a
TOML file)::

    dsn = "host=db user=ccroute dbname=ccroute"   # required
    partition = "default"        # the log this service owns alone
    retention = 2592000          # seconds of records kept (null: all)
    keep_snapshots = 2
    connect_timeout = 10
    check_durability = true      # refuse fsync/full_page_writes off

Without a ``"postgres"`` table the hook provides nothing, so the built-in
default (SQLite with ``"path"``, else memory) stays the store. The store is a
sole owner (:meth:`PostgresStorage.open
<ccroute_postgres.PostgresStorage.open>`): a second service on the same
partition is refused when it starts. For several nodes and failover use
:class:`ccroute.cluster.Node` with a :class:`~ccroute_postgres.PostgresEngine`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ccroute.errors import CCRouteError, InvalidValueError, StorageError
from ccroute.hookspecs import hookimpl
from ccroute.storage import DEFAULT_RETENTION, LogRecord, Recovered

from .storage import PostgresStorage

__all__ = ["ccroute_storage", "storage_from_settings"]

log = logging.getLogger(__name__)

_KEYS: Final = frozenset(
    {"dsn", "partition", "retention", "keep_snapshots", "connect_timeout", "check_durability"}
)


def storage_from_settings(settings: Mapping[str, Any]) -> PostgresStorage | None:
    """The store ``settings["postgres"]`` describes, or ``None`` without that key.

    :raises InvalidValueError: the table is not a mapping, lacks ``dsn``,
        has a key it does not know (a typo must not go unnoticed) or a value
        of the wrong kind; the message names the key.
    """
    table = settings.get("postgres")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise InvalidValueError(
            f'settings["postgres"] must be a table (mapping), not {type(table).__name__}'
        )
    unknown = sorted(str(key) for key in table if key not in _KEYS)
    if unknown:
        raise InvalidValueError(
            f'settings["postgres"] has unknown key(s) {", ".join(unknown)}; '
            f"known: {', '.join(sorted(_KEYS))}"
        )
    if "dsn" not in table:
        raise InvalidValueError('settings["postgres"] needs "dsn", a libpq connection string')
    try:
        return PostgresStorage.open(
            table["dsn"],
            table.get("partition", "default"),
            retention=table.get("retention", DEFAULT_RETENTION),
            keep_snapshots=table.get("keep_snapshots", 2),
            connect_timeout=table.get("connect_timeout", 10.0),
            check_durability=table.get("check_durability", True),
        )
    except InvalidValueError as error:
        raise InvalidValueError(f'settings["postgres"]: {error}') from None


class _Misconfigured:
    """The store a service gets when its ``"postgres"`` settings are wrong: every
    call raises the settings' error, so the service fails to start saying why
    rather than falling back to another store (the hook's next implementation,
    memory by default) and losing what it acknowledges."""

    def __init__(self, error: CCRouteError) -> None:
        self._error = error

    def _raise(self) -> StorageError:
        return StorageError(f"the PostgreSQL store is not configured right: {self._error}")

    async def load(self) -> Recovered:
        raise self._raise()

    async def append(self, records: Sequence[LogRecord]) -> None:
        raise self._raise()

    async def snapshot(self, seq: int, state: bytes) -> None:
        raise self._raise()

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "PostgresStorage(misconfigured)"


@hookimpl
def ccroute_storage(settings: Mapping[str, Any]) -> Any:
    """A :class:`~ccroute_postgres.PostgresStorage` from ``settings["postgres"]``,
    or ``None`` when there is none (see the module)."""
    try:
        store = storage_from_settings(settings)
    except CCRouteError as error:
        return _Misconfigured(error)
    if store is None:
        log.info(
            'ccroute-postgres is installed but not enabled: the settings have no "postgres" '
            'table (settings={"postgres": {"dsn": ...}} turns it on)'
        )
    return store
