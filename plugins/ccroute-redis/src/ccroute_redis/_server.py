"""What the engine checks about the Redis server before it stores anything."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final, Literal

import attrs
from ccroute.errors import StorageError

log = logging.getLogger("ccroute_redis")

#: The oldest server the engine runs on: XTRIM MINID (retention) came in 6.2.
MIN_VERSION: Final = (6, 2)

#: What the engine accepts of the server's ``appendfsync``.
Fsync = Literal["always", "everysec"]


class RedisSettingsError(StorageError):
    """The Redis server is set up so that acknowledged calls could be lost
    (or too old); the message names the setting and how to change it."""


@attrs.frozen
class ServerInfo:
    """What the engine found when it checked the server.

    :param version: ``redis_version`` as numbers, e.g. ``(7, 0, 15)``.
    :param appendonly: the ``appendonly`` setting (``True``: the AOF is on).
    :param appendfsync: ``"always"``, ``"everysec"`` or ``"no"``; ``None`` when
        the check was skipped.
    :param maxmemory_policy: the eviction policy, when checked.
    """

    version: tuple[int, ...]
    appendonly: bool | None
    appendfsync: str | None
    maxmemory_policy: str | None


def parse_version(text: str) -> tuple[int, ...]:
    """``"7.0.15"`` → ``(7, 0, 15)``; a part that is not a number ends it."""
    parts: list[int] = []
    for part in text.split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def check_settings(
    where: str, version: tuple[int, ...], config: Mapping[str, str], fsync: Fsync
) -> ServerInfo:
    """Check the server's version and durability settings.

    ``appendonly`` must be ``yes``: without the append-only file a restart of
    Redis loses everything written since the last RDB save. ``appendfsync
    always`` makes every write durable before Redis answers (what ccroute's
    "acknowledged means durable" needs); ``everysec`` may lose the last
    second of writes when the server's machine fails (not when only the
    Redis process dies), and is accepted only with ``fsync="everysec"``, with a
    warning in the log; ``no`` is refused. An eviction policy other than
    ``noeviction`` with a memory limit lets Redis delete log entries under
    memory pressure, and is refused.

    :raises RedisSettingsError: a setting, or the version, is not acceptable.
    """
    if version < MIN_VERSION:
        raise RedisSettingsError(
            f"{where} runs Redis {'.'.join(map(str, version))}; ccroute-redis needs "
            f"Redis {'.'.join(map(str, MIN_VERSION))} or later (XTRIM MINID)"
        )
    appendonly = config.get("appendonly", "no")
    if appendonly != "yes":
        raise RedisSettingsError(
            f"{where} has appendonly {appendonly!r}: without the append-only file a "
            "restart of Redis loses what was acknowledged. Set appendonly yes in "
            "redis.conf (or CONFIG SET appendonly yes)"
        )
    appendfsync = config.get("appendfsync", "")
    if appendfsync == "everysec" and fsync == "everysec":
        log.warning(
            "%s has appendfsync everysec: a failure of the server's machine may lose "
            "the last second of acknowledged calls (accepted: fsync='everysec')",
            where,
        )
    elif appendfsync == "everysec":
        raise RedisSettingsError(
            f"{where} has appendfsync 'everysec': a failure of its machine may lose the "
            "last second of acknowledged calls. Set appendfsync always (every write "
            "on disk before Redis answers), or accept the risk with fsync='everysec'"
        )
    elif appendfsync != "always":
        raise RedisSettingsError(
            f"{where} has appendfsync {appendfsync!r}: Redis leaves flushing to the "
            "operating system, so a machine failure loses acknowledged calls. Set "
            "appendfsync always (or everysec with fsync='everysec')"
        )
    policy = config.get("maxmemory-policy", "noeviction")
    if config.get("maxmemory", "0") != "0" and policy != "noeviction":
        raise RedisSettingsError(
            f"{where} has maxmemory {config.get('maxmemory')} with maxmemory-policy "
            f"{policy!r}: Redis would delete log entries when memory runs short. Set "
            "maxmemory-policy noeviction (writes are then refused instead)"
        )
    return ServerInfo(version, True, appendfsync, policy)
