"""ccroute on Redis: partitions' event logs, snapshots and leases on a Redis server.

:class:`RedisEngine` implements :class:`ccroute.cluster.Engine` (several
nodes, one leader per partition, fenced writes); :meth:`RedisEngine.storage`
gives a partition's :class:`RedisStorage` (a :class:`ccroute.storage.AsyncStorage`).
:class:`SingleNodeStorage` is a store for one service without a cluster: it
holds the partition's lease itself, so a second service on the same
partition is refused. The ``ccroute`` entry point (:mod:`ccroute_redis.plugin`)
provides it when the service's settings have a ``"redis"`` mapping.
:mod:`ccroute_redis.testing` starts a private server for tests. See docs/redis.md.
"""

from __future__ import annotations

from ._server import RedisSettingsError, ServerInfo
from .engine import RedisEngine
from .single import SingleNodeStorage
from .storage import RedisStorage

__all__ = ["RedisEngine", "RedisSettingsError", "RedisStorage", "ServerInfo", "SingleNodeStorage"]
