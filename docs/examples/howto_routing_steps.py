"""How-to: relax a contact's requirements as it waits (routing steps).

Run: python docs/examples/howto_routing_steps.py
"""

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router, RoutingStep

clock = ManualClock()
router = Router(clock)
router.add_queue(QueueConfig("billing"))
router.add_queue(
    QueueConfig(
        "support",
        steps=[
            # After 30 s waiting, any agent with "tech" at level 3 will do.
            RoutingStep(30, requirements={"tech": 3}),
            # After 90 s, billing's agents may take the contact too.
            RoutingStep(90, queues={"billing"}),
        ],
    )
)
router.add_agent(Agent("junior", {"tech": 4}, {"support"}), Presence.AVAILABLE)
router.add_agent(Agent("billie", {"billing": 9}, {"billing"}), Presence.AVAILABLE)
router.add_agent(Agent("senior", {"tech": 9}, {"support"}), Presence.AVAILABLE)
router.set_presence("senior", Presence.NOT_READY, "lunch")

# Needs an expert; the only one is at lunch.
events = router.submit(Contact("c1", "voice", "support", requirements={"tech": 8}))
assert [type(e).__name__ for e in events] == ["Queued"]

clock.advance(30)
events = router.tick().events  # step 1 applies: junior qualifies now
print([type(e).__name__ for e in events])
assert events[-1].agent_id == "junior"
