"""Two ccroute nodes on one PostgreSQL database: the leader dies, the standby takes over.

Run: python examples/failover_postgres.py
(needs Debian's postgresql package and the plugin: pip install -e plugins/ccroute-postgres)

The program starts a private PostgreSQL server (initdb in a temporary
directory, 127.0.0.1 on a free port), then two node processes that share the
partition "paris". The node that takes the lease routes: it submits a contact
every 50 ms and prints each one it acknowledged. The other follows the log
as a warm standby. After a second the leader is killed with SIGKILL (no
goodbye, its lease still held); once the lease lapses by the database's
clock the standby takes it with a greater fencing token and starts routing
from the warm copy. Every contact the dead leader acknowledged is there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

PARTITION = "paris"
TTL = 1.5  # seconds: the takeover takes about TTL + TTL / 4


async def run_node(dsn: str, name: str) -> None:
    """A node process: lead "paris" when it can, routing contacts; print what happens."""
    import anyio
    from ccroute_postgres import PostgresEngine

    from ccroute import Contact, QueueConfig
    from ccroute.cluster import Node, NodeEvent

    def say(**fields: Any) -> None:
        print(json.dumps(fields), flush=True)

    def on_event(event: NodeEvent) -> None:
        say(event=event.kind, token=event.token, reason=event.reason, seconds=event.seconds)

    engine = PostgresEngine(dsn)
    try:
        async with Node(engine, [PARTITION], name=name, ttl=TTL, on_event=on_event) as node:
            say(event="started")
            count = 0
            while True:
                service = await node.wait_leading(PARTITION)
                # What the node found when it took over: every contact waiting.
                say(event="routing", contacts=[view.id for view in service.router.waiting()])
                await service.add_queue(QueueConfig("support"))
                while PARTITION in node.leading:
                    count += 1
                    contact_id = f"{name}-{count}"
                    try:
                        await service.submit(Contact(contact_id, "chat", "support"))
                    except Exception as error:  # fenced, or stopping: follow again
                        say(event="refused", contact=contact_id, error=type(error).__name__)
                        break
                    say(event="ack", contact=contact_id)
                    await anyio.sleep(0.05)
    finally:
        await engine.close()


class NodeProcess:
    """A node in a child process, its printed lines read as JSON."""

    def __init__(self, dsn: str, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--node", name, dsn],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[dict[str, Any]] = []

    def until(self, event: str, timeout: float = 30.0) -> dict[str, Any]:
        """Read lines until one of ``event``; return it."""
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"node {self.name} ended before {event!r}")
            fields = json.loads(line)
            self.lines.append(fields)
            if fields["event"] == event:
                return fields
        raise TimeoutError(f"node {self.name}: no {event!r} within {timeout} s")

    def acked(self) -> list[str]:
        return [line["contact"] for line in self.lines if line["event"] == "ack"]


def main() -> None:
    from ccroute_postgres.testing import temporary_server

    with temporary_server() as server:
        print(f"PostgreSQL on 127.0.0.1:{server.port}")
        first = NodeProcess(server.dsn, "node-a")
        first.until("routing")
        second = NodeProcess(server.dsn, "node-b")
        second.until("started")
        try:
            lead = next(line for line in first.lines if line["event"] == "lead")
            print(f"node-a leads {PARTITION} (fencing token {lead['token']}); node-b follows")
            for _ in range(20):
                first.until("ack")
            first.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            first.process.wait()
            # Whatever node-a printed before it died: acknowledged, so durable.
            for line in first.process.stdout or ():
                first.lines.append(json.loads(line))
            acked = first.acked()
            print(f"node-a killed (SIGKILL) after {len(acked)} acknowledged contacts")
            took = second.until("lead")
            routing = second.until("routing")
            print(
                f"node-b took over {time.monotonic() - killed:.2f} s after the kill "
                f"(fencing token {took['token']} > {lead['token']}; lease {TTL} s; "
                f"the service started from the {took['reason']} copy in {took['seconds']:.3f} s)"
            )
            missing = sorted(set(acked) - set(routing["contacts"]))
            print(f"contacts node-b found: {len(routing['contacts'])}; lost: {missing or 'none'}")
            assert not missing and took["token"] > lead["token"]
            for _ in range(5):
                print(f"node-b routes: {second.until('ack')['contact']}")
        finally:
            for node in (first, second):
                if node.process.poll() is None:
                    node.process.send_signal(signal.SIGKILL)
                    node.process.wait()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--node":
        import anyio

        anyio.run(run_node, sys.argv[3], sys.argv[2])
    else:
        main()
