"""How-to: priorities as a head start in seconds, and tiers that always go first.

Run: python docs/examples/howto_priorities.py
"""

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router

clock = ManualClock()
router = Router(clock)
router.add_queue(QueueConfig("support", offer_timeout=None))
router.add_agent(Agent("ana", queues={"support"}))  # offline: contacts wait

router.submit(Contact("early", "voice", "support"))
clock.advance(50)
# Arrived 50 s later with a 60 s head start: it counts as having waited 10 s more.
router.submit(Contact("priority", "voice", "support", priority_seconds=60))
clock.advance(10)
router.submit(Contact("vip", "voice", "support", tier=1))  # a higher tier goes first, always
router.submit(Contact("plain", "voice", "support"))

print([view.id for view in router.waiting()])
assert [view.id for view in router.waiting()] == ["vip", "priority", "early", "plain"]

router.set_presence("ana", Presence.AVAILABLE)  # the first in that order is offered first
assert router.contact("vip").agent_id == "ana"
