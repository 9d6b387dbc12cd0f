"""Failover with real processes: a leader SIGKILLed under load loses nothing it
acknowledged, and a leader frozen with SIGSTOP past its lease, resumed after a
takeover, cannot append. Bounded: three kills, about ten seconds in all."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import anyio
import pytest
from ccroute.commands import Submit
from ccroute.errors import FencedError
from ccroute.testing_storage import record

from ccroute_redis import RedisEngine
from ccroute_redis.testing import RedisServer

CHILD = Path(__file__).resolve().parent / "redis_leader_child.py"
TTL = 0.6


class Leader:
    """A leader process (redis_leader_child.py) and the lines it printed."""

    def __init__(self, server: RedisServer, prefix: str, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), server.url, prefix, "p", name, str(TTL)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def wait_for(self, prefix: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if line.startswith(prefix):
                    return line
            if self.process.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.01)
        raise AssertionError(f"{self.name} never printed {prefix!r}: {self.lines[-5:]}")

    def acknowledged(self) -> list[int]:
        """Every seq this leader's appends were acknowledged for."""
        seqs: list[int] = []
        for line in list(self.lines):
            if line.startswith("ack "):
                first, last = map(int, line.split()[1:])
                seqs.extend(range(first, last + 1))
        return seqs

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._reader.join(5)


def load_contacts(server: RedisServer, prefix: str) -> list[tuple[int, str]]:
    """``(seq, contact id)`` of every record of partition ``p``, from a fresh engine."""

    async def load() -> list[tuple[int, str]]:
        engine = RedisEngine(server.url, prefix=prefix)
        try:
            recovered = await engine.storage("p", None).load()
            assert recovered.problem is None
            out = []
            for record in recovered.records:
                assert isinstance(record.command, Submit)
                out.append((record.seq, record.command.contact.id))
            return out
        finally:
            await engine.close()

    return anyio.run(load)


def test_a_leader_killed_under_load_loses_nothing_acknowledged(
    redis_server: RedisServer, prefix: str
) -> None:
    rng = random.Random(18)
    leader = Leader(redis_server, prefix, "node-0")
    leader.wait_for("leader")
    takeovers: list[float] = []
    everyone = [leader]
    try:
        for kill in range(1, 4):
            time.sleep(rng.uniform(0.2, 0.5))
            leader.wait_for("ack")
            leader.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            leader.process.wait(10)
            acknowledged = leader.acknowledged()
            assert acknowledged, "the leader acknowledged nothing before it was killed"
            # A standby (a new process) takes over once the lease lapses.
            leader = Leader(redis_server, prefix, f"node-{kill}")
            everyone.append(leader)
            line = leader.wait_for("leader")
            takeovers.append(time.monotonic() - killed)
            last = line.split()[2]
            # Every acknowledged record is in the log the new leader loaded.
            assert int(last) >= acknowledged[-1]
        leader.wait_for("ack")
    finally:
        for one in everyone:
            one.stop()
    log = load_contacts(redis_server, prefix)
    seqs = [seq for seq, _ in log]
    assert seqs == list(range(1, len(log) + 1))
    ids = [contact for _, contact in log]
    # No contact was logged twice (each was submitted once).
    assert len(set(ids)) == len(ids)
    by_seq = dict(log)
    for one in everyone:
        for seq in one.acknowledged():
            assert by_seq[seq] == f"{one.name}-{seq}", f"acknowledged record {seq} was lost"
    # Takeover is bounded by the lease time (plus a process start).
    assert max(takeovers) < TTL + 10


def test_a_frozen_leader_resumed_after_a_takeover_cannot_append(
    redis_server: RedisServer, prefix: str
) -> None:
    old = Leader(redis_server, prefix, "frozen")
    new: Leader | None = None
    try:
        old.wait_for("leader")
        old.wait_for("ack")
        old.process.send_signal(signal.SIGSTOP)
        new = Leader(redis_server, prefix, "taker")
        new.wait_for("leader")  # the frozen leader's lease lapsed and was taken
        new.wait_for("ack")
        old.process.send_signal(signal.SIGCONT)
        fenced = old.wait_for("fenced")
        assert old.process.wait(10) == 3
    finally:
        old.stop()
        if new is not None:
            new.stop()
    log = load_contacts(redis_server, prefix)
    assert [seq for seq, _ in log] == list(range(1, len(log) + 1))
    refused_from = int(fenced.split()[1])
    frozen = {seq for seq, contact in log if contact.startswith("frozen-")}
    taker = {seq for seq, contact in log if contact.startswith("taker-")}
    # What the frozen leader acknowledged is stored, and nothing else of it:
    # its write after the resume was refused, and all of it precedes the taker's.
    assert frozen == set(old.acknowledged())
    assert refused_from not in frozen
    assert taker and max(frozen) < min(taker)


def test_nodes_on_redis_fail_over_under_load_with_the_cluster_harness(
    redis_server: RedisServer, prefix: str
) -> None:
    """Three ccroute.cluster.Node processes on Redis, two partitions, real calls:
    the leader of one is SIGKILLed three times at random, then one is frozen
    with SIGSTOP until another took over and resumed. Every acknowledged call
    is in its partition's log exactly once, each log replays cleanly, no
    contact is offered twice, and the resumed leader wrote nothing more."""
    from ccroute.testing_cluster import FailoverRun, run_failover

    settings = {"url": redis_server.url, "prefix": prefix, "retention": None}

    async def run() -> FailoverRun:
        return await run_failover(
            "ccroute_redis.engine:open_engine",
            settings,
            partitions=("east", "west"),
            nodes=3,
            kills=3,
            ttl=1.0,
            seed=18,
        )

    result = anyio.run(run)
    assert result.report.acks > 0 and set(result.report.records) == {"east", "west"}
    assert result.report.offers > 0
    assert len(result.takeovers) == 3
    # A takeover is bounded by the lease time plus a node's start.
    assert max(result.takeovers) < 1.0 * 4 + 5
    assert any(line.startswith("lose") for line in result.paused)
    # The resumed leader's token can never write again.
    assert result.stale_token is not None

    async def stale_append() -> None:
        engine = RedisEngine(redis_server.url, prefix=prefix)
        try:
            store = engine.storage("east", result.stale_token)
            last = (await engine.storage("east", None).load()).last_seq
            with pytest.raises(FencedError):
                await store.append([record(last + 1)])
        finally:
            await engine.close()

    anyio.run(stale_append)
