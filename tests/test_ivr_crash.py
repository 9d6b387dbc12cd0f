"""Callers in an IVR flow survive a SIGKILL of the service, on asyncio and trio.

``tests/ivr_crash_driver.py`` runs callers through a flow (language, a card
number, a topic menu) on a service over SQLite (``synchronous=FULL``) in a
subprocess, printing a line once each start and each answer has returned,
and is killed with ``SIGKILL`` at seeded random moments. After each kill the
test starts a service on the same database and checks what a caller would
notice:

1. nobody is lost: every caller whose start returned is a contact of the
   router, waiting in the flow's fallback queue (``general``) with
   ``ivr.fallback`` ``"recovered"``, or where its finished flow sent it
   (``billing``);
2. every acknowledged answer is kept: a caller whose card was taken has it,
   masked, in ``ivr.answers``; one whose language was taken has the
   attributes the flow set for it;
3. the raw card number is nowhere in the database files (WAL included);
4. a caller is routed once: the next start (the driver's) recovers nothing.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from kill_harness import first_line, running

from ccroute import Service
from ccroute.ivr.live import RECOVERED
from ccroute.lifecycle import ContactState

pytestmark = pytest.mark.anyio

DRIVER = Path(__file__).resolve().parent / "ivr_crash_driver.py"
CARD = "4111111111111111"
MASKED = "************1111"
KILLS = 4
START_TIMEOUT = 30.0
RUN_TIMEOUT = 150.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def driver(
    db: Path, start: int, backend: str, workdir: Path, seed: int
) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """Start the driver (:func:`kill_harness.running`)."""
    command = [sys.executable, str(DRIVER), str(db), str(start), "--backend", backend]
    command += ["--seed", str(seed), "--max-seconds", "20"]
    with running(command, workdir, start) as started:
        yield started


async def wait_ready(proc: subprocess.Popen[bytes], out: Path, err: Path) -> dict[str, str]:
    """Wait for the ``ready`` line; return what that start recovered."""
    kind, _, rest = (await first_line(proc, out, err, START_TIMEOUT)).partition(" ")
    assert kind == "ready"
    recovered: dict[str, str] = json.loads(rest)
    return recovered


def parse(out: Path) -> tuple[set[str], dict[str, str]]:
    """The callers whose start returned, and the last node acknowledged for each."""
    started: set[str] = set()
    acked: dict[str, str] = {}
    lines = out.read_text().split("\n")
    for line in lines[1:-1]:  # after "ready"; the piece after the last newline may be cut
        kind, *rest = line.split(" ")
        if kind == "started":
            started.add(rest[0])
        elif kind == "ack":
            acked[rest[0]] = rest[1]
        else:
            raise AssertionError(f"unexpected driver line {line!r}")
    return started, acked


@pytest.mark.parametrize("seed", [1])
async def test_no_caller_in_a_flow_is_lost_to_a_sigkill(
    anyio_backend: str, seed: int, tmp_path: Path
) -> None:
    db = tmp_path / "centre.db"
    rng = random.Random(seed)
    everyone: set[str] = set()
    recovered_total = 0
    with anyio.fail_after(RUN_TIMEOUT):
        for kill in range(KILLS):
            with driver(db, kill, anyio_backend, tmp_path, seed * 100 + kill) as (proc, out, err):
                recovered = await wait_ready(proc, out, err)
                # The previous round's callers were routed by the test's own start.
                assert recovered == {}
                await anyio.sleep(rng.uniform(0.2, 0.9))
                proc.kill()
                proc.wait(timeout=10)
            started, acked = parse(out)
            everyone |= started
            async with Service(path=db, load_entrypoints=False) as service:
                router = service.router
                ours = {c for c in router.contact_ids if c.startswith(f"s{kill}-")}
                # 1. nobody whose start was acknowledged is lost
                assert started <= ours, f"lost callers: {sorted(started - ours)}"
                assert set(service.flows.recovered) <= ours
                assert set(service.flows.recovered.values()) <= {"fallback"}
                recovered_total += len(service.flows.recovered)
                for contact_id in ours:
                    view = router.contact(contact_id)
                    assert view.state is ContactState.WAITING
                    ivr = dict(view.attributes["ivr"])
                    if contact_id in service.flows.recovered:
                        assert (view.queue, ivr["fallback"]) == ("general", RECOVERED)
                    else:
                        # its flow ended before the kill: routed where it led
                        assert (view.queue, ivr["fallback"]) == ("billing", None)
                    # 2. every acknowledged answer is kept
                    last = acked.get(contact_id)
                    if last in ("topic", "billing"):
                        assert ivr["answers"] == {"account": MASKED}
                    if last is not None:
                        assert view.attributes["language"] == "en"
                    if last == "billing":
                        assert view.queue == "billing"
                    assert dict(view.attributes)["note"] == f"card {MASKED}"
            # 3. never the raw card, in the log, its WAL or the snapshots
            data = b"".join(
                p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("centre.db")
            )
            assert CARD.encode() not in data
            assert CARD not in err.read_text()  # nor in the driver's log output
        # 4. routed once: a last start finds nothing to recover, and everyone still there
        async with Service(path=db, load_entrypoints=False) as service:
            assert service.flows.recovered == {}
            assert everyone <= set(service.router.contact_ids)
    # The kills did land while callers were in the flow.
    assert recovered_total > 0
