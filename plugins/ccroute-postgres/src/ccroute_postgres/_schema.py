"""The tables ccroute keeps in a PostgreSQL database, and the check of their version.

Every name starts with ``ccroute_``, so the tables can share a database (and
a schema, the connection's ``search_path``) with the application's own.

``ccroute_schema``
    one row: ``magic`` (``"ccroute event log"``) and ``version``, the
    version of this layout (:data:`SCHEMA_VERSION`). A database whose
    version is newer than this release knows is refused, untouched.
``ccroute_partitions``
    one row per partition: its lease (``node``, fencing ``token``,
    ``expires_at`` by the server's clock) and ``pruned_through``, the last
    seq retention removed.
``ccroute_log``
    one row per log record, keyed by ``(partition, seq)``, with the columns
    of :class:`ccroute.codec.Row` (the JSON ``body`` and its CRC-32).
``ccroute_snapshots``
    ``(partition, seq)``, ``version``, ``crc`` and the router's state as ``bytea``.
``ccroute_quarantine``
    rows set aside as damaged by a load, with every column they had, the
    ``reason`` and ``set_aside_at``; nothing deletes from it.

Tokens come from the sequence ``ccroute_fencing_tokens``: strictly increasing
for the whole database, so for every partition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ccroute.errors import StorageError

if TYPE_CHECKING:
    import psycopg

__all__ = ["MAGIC", "SCHEMA_VERSION", "ensure_schema"]

#: The version of the table layout this release writes and reads.
SCHEMA_VERSION: Final = 1
MAGIC: Final = "ccroute event log"
# "ccrl": the advisory-lock class of ccroute's locks (schema creation, sole owners).
LOCK_CLASS: Final = 0x6363726C

_TABLES: Final = (
    "CREATE TABLE ccroute_schema (magic text NOT NULL, version integer NOT NULL)",
    "CREATE SEQUENCE ccroute_fencing_tokens AS bigint",
    "CREATE TABLE ccroute_partitions (partition text PRIMARY KEY, node text,"
    " token bigint NOT NULL DEFAULT 0,"
    " expires_at timestamptz NOT NULL DEFAULT '-infinity',"
    " pruned_through bigint NOT NULL DEFAULT 0)",
    "CREATE TABLE ccroute_log (partition text NOT NULL, seq bigint NOT NULL,"
    " at double precision NOT NULL, command text NOT NULL, contact_id text, agent_id text,"
    " queue text, version integer NOT NULL, crc bigint NOT NULL, body text NOT NULL,"
    " PRIMARY KEY (partition, seq))",
    "CREATE TABLE ccroute_snapshots (partition text NOT NULL, seq bigint NOT NULL,"
    " version integer NOT NULL, crc bigint NOT NULL, body bytea NOT NULL,"
    " PRIMARY KEY (partition, seq))",
    "CREATE TABLE ccroute_quarantine (id bigserial PRIMARY KEY, partition text NOT NULL,"
    " kind text NOT NULL, seq bigint, at double precision, command text, contact_id text,"
    " agent_id text, queue text, version integer, crc bigint, body text, state bytea,"
    " reason text NOT NULL, set_aside_at timestamptz NOT NULL DEFAULT now())",
)


def ensure_schema(connection: psycopg.Connection[tuple[object, ...]], where: str) -> None:
    """Create the tables when the database has none; else check they are ours and
    in a version this release reads. ``connection`` is in autocommit mode.

    :raises StorageError: the database holds a ``ccroute_schema`` table that
        is not ccroute's, or a newer layout; nothing was changed.
    """
    with connection.transaction():
        # Two nodes starting at once on an empty database: one creates, the other waits.
        connection.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
        exists = connection.execute("SELECT to_regclass('ccroute_schema') IS NOT NULL").fetchone()
        if exists is None or not exists[0]:
            for statement in _TABLES:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO ccroute_schema (magic, version) VALUES (%s, %s)",
                (MAGIC, SCHEMA_VERSION),
            )
            return
        rows = connection.execute("SELECT magic, version FROM ccroute_schema").fetchall()
    if len(rows) != 1 or rows[0][0] != MAGIC:
        raise StorageError(
            f"{where}: table ccroute_schema is not a ccroute log's (it holds {rows!r}); "
            "the database was left untouched"
        )
    version = rows[0][1]
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StorageError(
            f"{where} holds ccroute tables in layout version {version!r}, written by a newer "
            f"ccroute-postgres; this release reads version {SCHEMA_VERSION}; the database "
            "was left untouched"
        )
