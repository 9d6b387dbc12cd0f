"""How-to: drive the service from synchronous code (a Flask view, a script, a thread).

Run: python docs/examples/howto_synchronous.py
"""

import tempfile
from pathlib import Path

from anyio.from_thread import start_blocking_portal

from ccroute import Agent, Contact, Presence, QueueConfig, Service

db = Path(tempfile.mkdtemp()) / "centre.db"

# The portal runs an event loop in a thread of its own; portal.call runs a
# coroutine function there and blocks this thread until it returns.
with start_blocking_portal(backend="asyncio") as portal:
    service = Service(path=db)
    with portal.wrap_async_context_manager(service):
        portal.call(service.add_queue, QueueConfig("support", offer_timeout=None))
        portal.call(service.add_agent, Agent("ana", queues={"support"}), Presence.AVAILABLE)
        events = portal.call(service.submit, Contact("c1", "chat", "support"))
        print([type(e).__name__ for e in events])  # durable when this returns
        portal.call(service.accept, "c1", "ana")
        # Reading needs no portal: the router's views are plain values.
        print(service.router.contact("c1").state.name)
