"""Router snapshots: restore gives back the same state, errors change nothing.

The stateful machine (tests/test_stateful.py) restarts from snapshots at
random moments and checks that the decisions that follow equal those of a
router that never restarted; the tests here cover what it cannot.
"""

from __future__ import annotations

import pickle

import pytest
from helpers import RouterHarness, snapshot

from ccroute import (
    Agent,
    ClockError,
    Contact,
    InputError,
    InvalidValueError,
    ManualClock,
    Offered,
    Presence,
    QueueConfig,
    Router,
    Strategy,
    UnknownIdError,
)
from ccroute.views import AgentView, ContactView

pytestmark = pytest.mark.usefixtures("queue_factory")


class ByLanguage:
    """Prefers agents whose 'lang' skill matches the contact's 'lang' attribute level."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        return float(agent.skills.get("lang", 0) == contact.attributes.get("lang"))


def busy_centre() -> RouterHarness:
    h = RouterHarness(seed=7)
    h.queue("q", offer_timeout=20, wrap_up=15, strategy=Strategy.RANDOM)
    h.agent("a1", skills={"x": 3}, queues=("q",), capacity={"voice": 1, "chat": 2})
    h.agent("a2", skills={"x": 5}, queues=("q",), capacity={"voice": 1, "chat": 2})
    h.agent("a3", Presence.NOT_READY, queues=("q",))
    for i in range(8):
        h.submit(f"c{i}", "chat" if i % 2 else "voice", requirements={"x": 2 + i % 4})
        h.advance(1.5)
    h.router.accept(*h.offers()[0])
    h.router.reject(*h.offers()[1])
    return h


def test_restore_gives_back_every_observable_and_the_same_future() -> None:
    h = busy_centre()
    data = h.router.snapshot()
    clock = ManualClock(h.clock.now())
    restored = Router.restore(data, clock)
    assert snapshot(restored) == snapshot(h.router)
    # Same calls from here on, same events: timers, random choices and keys carried over.
    h.clock.advance(30)
    clock.advance(30)
    assert restored.tick() == h.router.tick()
    assert restored.submit(Contact("late", "voice", "q")) == h.router.submit(
        Contact("late", "voice", "q")
    )


def test_restore_refuses_bytes_that_are_not_a_snapshot() -> None:
    with pytest.raises(InputError, match="not a ccroute router snapshot"):
        Router.restore(b"hello")
    with pytest.raises(InputError, match="format 99"):
        Router.restore(pickle.dumps((99, {}, {})))


def test_restore_refuses_a_clock_behind_the_snapshot() -> None:
    h = busy_centre()
    with pytest.raises(ClockError, match="behind the snapshot"):
        Router.restore(h.router.snapshot(), ManualClock(0))


def test_custom_strategy_scores_choose_the_agent_and_survive_a_restore() -> None:
    strategies = {"lang": ByLanguage()}
    router = Router(ManualClock(), strategies=strategies)
    router.add_queue(QueueConfig("q", strategy="lang"))
    # a1 has been idle longest, but a2 speaks the customer's language
    router.add_agent(Agent("a1", skills={"lang": 1}, queues=("q",)), Presence.AVAILABLE)
    router.add_agent(Agent("a2", skills={"lang": 2}, queues=("q",)), Presence.AVAILABLE)
    events = router.submit(Contact("c1", "voice", "q", attributes={"lang": 2}))
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["a2"]
    with pytest.raises(UnknownIdError, match="unknown strategy 'lang'"):
        Router.restore(router.snapshot())
    restored = Router.restore(router.snapshot(), strategies=strategies)
    events = restored.submit(Contact("c2", "voice", "q", attributes={"lang": 1}))
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["a1"]


def test_a_queue_naming_an_unknown_strategy_is_refused_and_changes_nothing() -> None:
    router = Router(ManualClock())
    before = snapshot(router)
    with pytest.raises(UnknownIdError, match="unknown strategy 'nope'"):
        router.add_queue(QueueConfig("q", strategy="nope"))
    assert snapshot(router) == before
    with pytest.raises(InvalidValueError, match="score"):
        Router(strategies={"bad": object()})  # type: ignore[dict-item]


class Broken:
    def __init__(self, result: object) -> None:
        self.result = result

    def score(self, contact: ContactView, agent: AgentView) -> float:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result  # type: ignore[return-value]


@pytest.mark.parametrize("result", [RuntimeError("boom"), "high", float("nan"), None])
def test_a_failing_strategy_falls_back_to_longest_idle_and_is_counted(result: object) -> None:
    clock = ManualClock()
    router = Router(clock, strategies={"broken": Broken(result)})
    router.add_queue(QueueConfig("q", strategy="broken"))
    router.add_agent(Agent("b", queues=("q",)), Presence.AVAILABLE)
    clock.advance(1)
    router.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
    events = router.submit(Contact("c1", "voice", "q"))
    # b has been idle longest
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["b"]
    assert router.strategy_failures == 1


@pytest.mark.parametrize("strategy", list(Strategy))
def test_restored_router_decides_as_the_original_under_every_strategy(strategy: Strategy) -> None:
    """Idle times, handled counts, loads and the round-robin position all carry over."""
    h = RouterHarness(seed=3)
    h.queue("q", strategy=strategy, offer_timeout=None, wrap_up=0)
    for i, level in enumerate((4, 2, 6, 3)):
        h.agent(f"a{i}", skills={"x": level}, queues=("q",), capacity={"voice": 1, "chat": 2})
        h.advance(1)
    # Give the agents different histories: handled counts, idle times, chat load.
    for n in range(7):
        (offer,) = h.offers(h.submit(f"w{n}", "voice", requirements={"x": 1}))
        h.router.accept(*offer)
        h.advance(0.5 + n % 3)
        h.router.complete(offer[0])
    h.submit("chat1", "chat")
    data = h.router.snapshot()
    clock = ManualClock(h.clock.now())
    restored = Router.restore(data, clock)
    for n in range(6):
        contact = Contact(f"n{n}", "voice" if n % 2 else "chat", "q")
        assert restored.submit(contact) == h.router.submit(contact)
        h.advance(1)
        clock.advance(1)
        assert restored.tick() == h.router.tick()
