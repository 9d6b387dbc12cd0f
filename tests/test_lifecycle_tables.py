"""The lifecycle tables drive the router's timers (docs/lifecycle.md).

These check the tables' own consistency; that the router applies them is
held by the recorded streams (tests/test_recorded_streams.py) and by the
behaviour tests below, through the public API.
"""

from __future__ import annotations

from ccroute import Agent, Contact, ManualClock, Presence, QueueConfig, Router
from ccroute.events import Accepted, OfferTimedOut, StepApplied, TimedOut
from ccroute.lifecycle import (
    CONTACT_TRANSITIONS,
    FINAL_STATES,
    TIMER_ACTIONS,
    TIMERS_ENDED,
    ContactAction,
    TimerKind,
)
from ccroute.model import RoutingStep


def test_every_action_that_does_not_end_a_contact_says_which_timers_it_ends() -> None:
    for (_before, action), after in CONTACT_TRANSITIONS.items():
        assert (action in TIMERS_ENDED) == (after not in FINAL_STATES), action


def test_every_action_has_a_transition_and_every_timer_a_row() -> None:
    assert {action for _state, action in CONTACT_TRANSITIONS} == set(ContactAction)
    assert set(TIMER_ACTIONS) == set(TimerKind)


def test_each_timer_performs_only_actions_whose_moves_exist() -> None:
    allowed = {action for _state, action in CONTACT_TRANSITIONS}
    for actions in TIMER_ACTIONS.values():
        assert set(actions) <= allowed


def test_an_answered_contact_is_no_longer_stepped_or_timed_out() -> None:
    # accept ends the step and max-wait timers (TIMERS_ENDED[ACCEPT])
    clock = ManualClock()
    router = Router(clock=clock)
    router.add_queue(
        QueueConfig(
            "q",
            steps=(RoutingStep(after=10, requirements=(("x", None),)),),
            max_wait=20,
            offer_timeout=None,
        )
    )
    router.add_agent(Agent("a", skills={"x": 1}, queues={"q"}), presence=Presence.AVAILABLE)
    router.submit(Contact("c", "voice", "q", requirements={"x": 1}))
    events = router.accept("c", "a")
    assert any(isinstance(e, Accepted) for e in events)
    clock.advance(60)
    later = router.tick().events
    assert not [e for e in later if isinstance(e, (StepApplied, TimedOut))]


def test_an_offer_timer_ends_when_the_offer_is_rejected() -> None:
    # reject ends the offer's time-out (TIMERS_ENDED[REJECT]); the next offer times itself
    clock = ManualClock()
    router = Router(clock=clock)
    router.add_queue(QueueConfig("q", offer_timeout=10))
    router.add_agent(Agent("a", queues={"q"}), presence=Presence.AVAILABLE)
    router.add_agent(Agent("b", queues={"q"}), presence=Presence.AVAILABLE)
    router.submit(Contact("c", "voice", "q"))
    first = router.contact("c").agent_id
    assert first is not None
    clock.advance(5)
    router.reject("c", first)
    clock.advance(6)  # the first offer's deadline has passed; the second's has not
    assert not [e for e in router.tick().events if isinstance(e, OfferTimedOut)]
    clock.advance(5)
    assert [e.agent_id for e in router.tick().events if isinstance(e, OfferTimedOut)] == [
        a for a in ("a", "b") if a != first
    ]
