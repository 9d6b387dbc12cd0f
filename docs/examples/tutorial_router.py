"""The tutorial's first part: a router, two queues, three agents, contacts and events.

Run: python docs/examples/tutorial_router.py
"""

from ccroute import (
    Accepted,
    Agent,
    Contact,
    ManualClock,
    Offered,
    Presence,
    QueueConfig,
    Router,
    Strategy,
)
from ccroute.metrics import MetricsCollector

# 1. A router reads time from a clock you give it: a manual clock here, so the
#    example decides when time passes (a live application uses MonotonicClock).
clock = ManualClock()
router = Router(clock)

# 2. Queues: how long an offer rings, how long wrap-up lasts, which agent wins.
router.add_queue(QueueConfig("sales", Strategy.MOST_SKILLED, offer_timeout=20, wrap_up=10))
router.add_queue(QueueConfig("support", Strategy.LONGEST_IDLE, offer_timeout=20, wrap_up=30))

# 3. Agents: skills with levels 1-10, the queues they serve, and how many
#    contacts of each channel they take at once (one call, or three chats).
router.add_agent(Agent("ana", {"sales": 9, "en": 9}, {"sales"}, {"voice": 1, "chat": 3}))
router.add_agent(Agent("ben", {"sales": 5, "en": 8}, {"sales", "support"}, {"voice": 1}))
router.add_agent(Agent("cai", {"tech": 8, "en": 7}, {"support"}, {"voice": 1, "chat": 2}))
for agent_id in ("ana", "ben", "cai"):
    router.set_presence(agent_id, Presence.AVAILABLE)

# 4. Metrics are folded from the router's events.
metrics = MetricsCollector.attach(router)

# 5. A contact names its channel, its queue and what it requires.
events = router.submit(Contact("call-1", "voice", "sales", requirements={"sales": 7}))
print([type(e).__name__ for e in events])  # ['Queued', 'Offered']
offer = events[-1]
assert isinstance(offer, Offered) and offer.agent_id == "ana"  # only ana has sales >= 7
print(offer.reason)  # why ana: the strategy, the scores, the runner-up

# 6. The agent's desktop rings; four seconds later the agent answers.
clock.advance(4)
(accepted,) = router.accept("call-1", "ana")
assert isinstance(accepted, Accepted) and accepted.wait == 4

# 7. A chat arrives while ana talks: her voice capacity is full, but chat has
#    a capacity of its own (three), so she takes it beside the call.
events = router.submit(Contact("chat-1", "chat", "sales"))
assert events[-1].agent_id == "ana"
router.accept("chat-1", "ana")

# 8. Nobody may take a support call that requires "tech" 9: it waits, and
#    explain() says why, agent by agent.
router.submit(Contact("call-2", "voice", "support", requirements={"tech": 9}))
print(router.explain("call-2"))

# 9. The call ends; wrap-up runs for the queue's 10 s, then ana is free again.
clock.advance(120)
router.complete("call-1")
clock.advance(10)
result = router.tick()  # runs what is due: ana's wrap-up ends
print([type(e).__name__ for e in result.events], "next due:", result.next_due)

# 10. Lower the requirement while the contact waits: it is offered at once.
events = router.update_contact("call-2", requirements={"tech": 5})
print([type(e).__name__ for e in events])

report = metrics.report(clock.now())
sales = report.queues["sales"]
print(f"sales: offered {sales.offered}, answered {sales.answered}, ASA {sales.asa:.1f} s")
assert (sales.offered, sales.answered) == (2, 2)
