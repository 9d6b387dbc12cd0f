"""ccroute on PostgreSQL: partitions' event logs, snapshots and leases in one database.

- :class:`PostgresEngine`: a :class:`ccroute.cluster.Engine` for nodes that
  share the database, one leader per partition, fenced by a lease.
- :class:`PostgresStorage`: one partition's log (an
  :class:`~ccroute.storage.AsyncStorage`); :meth:`PostgresStorage.open` for a
  single process that owns a partition alone.
- the ``ccroute_storage`` hook (:mod:`ccroute_postgres.plugin`): a service
  whose settings have a ``"postgres"`` table logs there.
- :mod:`ccroute_postgres.testing`: a private server for tests and examples.

See docs/postgres.md.
"""

from __future__ import annotations

from ._schema import SCHEMA_VERSION
from .engine import Lease, PostgresEngine
from .storage import PostgresStorage

__all__ = ["SCHEMA_VERSION", "Lease", "PostgresEngine", "PostgresStorage"]
