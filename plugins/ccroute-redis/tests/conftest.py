"""Fixtures of the Redis plugin's tests (the helpers live in redis_testing.py,
named apart from the main suite's conftest so both suites run in one session)."""

from redis_testing import anyio_backend, engine, prefix, redis_server

__all__ = ["anyio_backend", "engine", "prefix", "redis_server"]
