"""A leader process for the failover tests: ``python redis_leader_child.py URL PREFIX PARTITION NAME TTL``.

It takes the partition's lease (waiting for it), loads the log, renews the
lease every third of its ttl, and appends batches of submit records whose
contacts are named ``<NAME>-<n>`` as fast as Redis acknowledges them. After
each acknowledged batch it prints ``ack <first> <last>``; when a write is
refused because another node holds the lease it prints ``fenced <seq>`` and
exits 3. It does not watch its own clock: fencing alone must stop it.
"""

from __future__ import annotations

import sys

import anyio
from ccroute import Contact, LogRecord
from ccroute.commands import Submit
from ccroute.errors import FencedError
from ccroute.events import Queued

from ccroute_redis import RedisEngine


def batch(name: str, first: int, size: int, at: float) -> list[LogRecord]:
    """``size`` submit records from seq ``first``, contacts ``<name>-<seq>``."""
    return [
        LogRecord(
            seq,
            at,
            Submit(Contact(f"{name}-{seq}", "email", "support")),
            (Queued(at=at, contact_id=f"{name}-{seq}", queue="support", channel="email"),),
        )
        for seq in range(first, first + size)
    ]


async def main(url: str, prefix: str, partition: str, name: str, ttl: float) -> int:
    engine = RedisEngine(url, prefix=prefix)
    token = None
    while token is None:
        token = await engine.acquire(partition, name, ttl)
        if token is None:
            await anyio.sleep(0.02)
    store = engine.storage(partition, token)
    recovered = await store.load()
    seq, at = recovered.last_seq, recovered.records[-1].at if recovered.records else 0.0
    print(f"leader {token} {seq}", flush=True)

    async def renew() -> None:
        while True:
            await anyio.sleep(ttl / 3)
            await engine.renew(partition, name, token, ttl)

    async with anyio.create_task_group() as group:
        group.start_soon(renew)
        while True:
            at += 1.0
            try:
                await store.append(batch(name, seq + 1, 3, at))
            except FencedError:
                print(f"fenced {seq + 1}", flush=True)
                group.cancel_scope.cancel()
                return 3
            print(f"ack {seq + 1} {seq + 3}", flush=True)
            seq += 3
            await anyio.sleep(0.002)
    return 0


if __name__ == "__main__":
    url, prefix, partition, name, ttl = sys.argv[1:6]
    sys.exit(anyio.run(main, url, prefix, partition, name, float(ttl)))
