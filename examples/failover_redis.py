"""Two nodes share a Redis server; the leader is killed and the other takes over.

Run: python examples/failover_redis.py
(needs Debian's redis-server and the Redis plugin: pip install -e plugins/ccroute-redis)

The program starts a private Redis server (in a temporary directory, on a
free loopback port, appendonly yes, appendfsync always), then two node
processes running this same file with ``--node NAME``. Each node runs a
:class:`ccroute.cluster.Node` for partition ``site-1``: the one holding the
partition's lease routes (here it submits an email contact every 50 ms),
the other follows the log in Redis and keeps a warm copy. The leader is
killed with SIGKILL; about a lease time (1 s) later the other node holds
the lease and carries on from the last acknowledged call: every contact the
dead node submitted is in its router. A few seconds in all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import anyio

from ccroute import Agent, Contact, Presence, QueueConfig, Service
from ccroute.cluster import Node
from ccroute.errors import CCRouteError

PARTITION = "site-1"
TTL = 1.0


# -- a node (this file run with --node NAME URL) --------------------------------------


async def node_main(name: str, url: str) -> None:
    from ccroute_redis import RedisEngine

    engine = await RedisEngine.connect(url)

    def make_service(partition: str, storage: object) -> Service:
        return Service(storage=storage, load_entrypoints=False)  # type: ignore[arg-type]

    try:
        async with Node(engine, [PARTITION], name=name, ttl=TTL, make_service=make_service) as node:
            print(f"{name}: up, following {PARTITION}", flush=True)
            service = await node.wait_leading(PARTITION)
            mine = [c for c in service.router.contact_ids if c.startswith("node-")]
            print(
                f"{name}: leads {PARTITION} (fencing token {node.token(PARTITION)}); "
                f"its router holds {len(mine)} contacts",
                flush=True,
            )
            # The same settings again change nothing: safe for every new leader.
            await service.add_queue(QueueConfig("support", wrap_up=0))
            await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
            count = 0
            while True:
                count += 1
                try:
                    await service.submit(Contact(f"{name}-{count}", "email", "support"))
                except CCRouteError as error:  # the lease was lost: stop routing
                    print(f"{name}: stopped: {error}", flush=True)
                    return
                if count % 10 == 0:
                    print(f"{name}: {count} contacts acknowledged", flush=True)
                await anyio.sleep(0.05)
    finally:
        await engine.close()


# -- the demonstration -----------------------------------------------------------------


class NodeProcess:
    """A node process; its output is echoed with a prefix and kept."""

    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--node", name, url],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        threading.Thread(target=self._echo, daemon=True).start()

    def _echo(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())
            print(f"  | {line.strip()}", flush=True)

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        raise SystemExit(f"{self.name} did not say {text!r}")

    def acknowledged(self) -> int:
        counts = [int(line.split()[1]) for line in self.lines if "acknowledged" in line]
        return max(counts, default=0)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def main() -> None:
    from ccroute_redis.testing import temporary_server

    with temporary_server() as server:
        print(f"Redis at {server.url} (appendonly yes, appendfsync always)")
        a = NodeProcess("node-a", server.url)
        a.wait_for("leads")
        b = NodeProcess("node-b", server.url)
        b.wait_for("up")
        a.wait_for("20 contacts acknowledged")
        print("killing node-a (SIGKILL) ...")
        a.process.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        a.process.wait()
        acknowledged = a.acknowledged()
        line = b.wait_for("leads")
        print(
            f"node-b took over {time.monotonic() - killed:.2f} s after the kill (lease time {TTL:g} s)"
        )
        held = int(line.rsplit("holds", 1)[1].split()[0])
        assert held >= acknowledged, (held, acknowledged)
        print(
            f"node-a printed {acknowledged} acknowledged contacts before it died; "
            f"node-b's router holds {held}: nothing acknowledged was lost"
        )
        b.wait_for("10 contacts acknowledged")
        b.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--node":
        anyio.run(node_main, sys.argv[2], sys.argv[3])
    else:
        main()
