"""Fixtures of the PostgreSQL plugin's tests: see pg_testing.py."""

from pg_testing import anyio_backend, dsn, engine, partition, pg_server

__all__ = ["anyio_backend", "dsn", "engine", "partition", "pg_server"]
