"""The tutorial's second part: the same centre live, durable in SQLite, with a desktop plugin.

Run: python docs/examples/tutorial_service.py [DB]
"""

import sys
import tempfile

import anyio

from ccroute import (
    Agent,
    Contact,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    Strategy,
    hookimpl,
)


class Desktop:
    """A plugin: the service hands it each offer once the offer is durable."""

    def __init__(self) -> None:
        self.offers: list[tuple[str, str]] = []

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        # A real desktop would push this to the agent's browser; returning
        # True says "delivered" (the log records it).
        self.offers.append((delivery.contact.id, delivery.agent.id))
        return True


async def first_run(db: str, desktop: Desktop) -> None:
    async with Service(path=db, plugins=[desktop]) as service:
        await service.add_queue(QueueConfig("sales", Strategy.MOST_SKILLED, wrap_up=10))
        await service.add_agent(Agent("ana", {"sales": 9}, {"sales"}), Presence.AVAILABLE)
        # Returns once the call and its events are durable in the database.
        events = await service.submit(Contact("call-1", "voice", "sales"))
        print("submitted:", [type(e).__name__ for e in events])
        with anyio.fail_after(5):
            while ("call-1", "ana") not in desktop.offers:
                await anyio.sleep(0.01)
        await service.accept("call-1", "ana")
    # The service stopped here (as it would after a crash, a deploy, a reboot).


async def second_run(db: str, desktop: Desktop) -> None:
    async with Service(path=db, plugins=[desktop]) as service:
        # The same set-up again: declaring what the log already holds does
        # nothing, so start-up code can run at every start.
        await service.add_queue(QueueConfig("sales", Strategy.MOST_SKILLED, wrap_up=10))
        await service.add_agent(Agent("ana", {"sales": 9}, {"sales"}), Presence.AVAILABLE)
        call = service.router.contact("call-1")  # recovered from the log
        print("after the restart:", call.id, call.state.name, "with", call.agent_id)
        assert call.agent_id == "ana"
        events = await service.complete("call-1")
        print("completed:", [type(e).__name__ for e in events])


async def main(db: str) -> None:
    desktop = Desktop()
    await first_run(db, desktop)
    await second_run(db, desktop)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp() + "/centre.db")
