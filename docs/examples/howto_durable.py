"""How-to: durable storage, a crash, and recovery from the log.

Run: python docs/examples/howto_durable.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

from ccroute import Service, SQLiteStorage

CHILD = """
import anyio, os, sys
from ccroute import Agent, Contact, Presence, QueueConfig, Service

async def main(db):
    async with Service(path=db) as service:          # synchronous=FULL by default
        await service.add_queue(QueueConfig("support", offer_timeout=None))
        await service.add_agent(Agent("ana", queues={"support"}), Presence.AVAILABLE)
        await service.submit(Contact("c1", "voice", "support"))
        await service.accept("c1", "ana")             # acknowledged: durable now
        print("acknowledged", flush=True)
        os.kill(os.getpid(), 9)                      # a crash: no clean stop, no snapshot

anyio.run(main, sys.argv[1])
"""

db = Path(tempfile.mkdtemp()) / "centre.db"
crashed = subprocess.run([sys.executable, "-c", CHILD, str(db)], capture_output=True, text=True)
print(crashed.stdout.strip(), "then killed by signal", -crashed.returncode)


# The log is plain SQLite with JSON bodies: any tool can read it, and so can
# the store (without a service, for a report or an audit).
with SQLiteStorage(db) as store:
    recovered = store.load()
print("logged calls:", [record.name for record in recovered.records])


async def recover() -> None:
    async with Service(path=db) as service:  # replays the log: the same state
        call = service.router.contact("c1")
        print("recovered:", call.id, call.state.name, "with", call.agent_id)
        print("problems found in the log:", service.recovery_problem)
        assert call.agent_id == "ana"


anyio.run(recover)
