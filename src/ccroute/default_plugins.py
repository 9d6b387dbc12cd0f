"""ccroute's built-in defaults, as a plugin like any other.

:func:`ccroute.plugins.make_plugin_manager` registers this module first, under
the name ``"ccroute.default"``, so every plugin registered after it takes
precedence (except an implementation marked ``trylast``, which pluggy asks
after every plain one, these included).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .storage import Storage

__all__ = ["ccroute_storage"]


@hookimpl
def ccroute_storage(settings: Mapping[str, Any]) -> Storage:
    """The embedded store: SQLite at ``settings["path"]`` when given, else in memory.

    ``settings["sync"]`` sets SQLite's ``synchronous`` mode (``"FULL"`` by
    default, so an acknowledged call survives a power cut), and
    ``settings["retention"]`` the seconds of audit trail the log keeps
    (``None``: everything; by default
    :data:`~ccroute.storage.DEFAULT_RETENTION`), and
    ``settings["accept_loss"] = True`` lets one start accept a log that lost
    acknowledged records (docs/log-format.md, "A lost tail").
    """
    # Imported here: the stores are needed only when a service starts, and
    # importing ccroute must stay cheap.
    if "path" in settings:
        from .storage import DEFAULT_RETENTION
        from .storage_sqlite import SQLiteStorage

        return SQLiteStorage(
            settings["path"],
            synchronous=settings.get("sync", "FULL"),
            retention=settings.get("retention", DEFAULT_RETENTION),
            accept_loss=settings.get("accept_loss", False),
        )
    from .storage import MemoryStorage

    return MemoryStorage()
