"""A hypothesis state machine that drives every public Router call at random.

After every step it checks, from public views only:

* every offer went to an agent eligible for the contact at that moment, and
  no waiting contact with a smaller key was eligible for that agent then;
* no agent is over capacity (per channel, unit budget, exclusive channels);
* every contact is in exactly one state, the agents' sets agree with the
  contacts' states, and the universal queue holds exactly the waiting ones;
* the router is work-conserving: no waiting contact and available agent form
  an eligible pair (a reservation for one agent is part of eligibility);
* counts are conserved: submitted = waiting + offered + in service + wrap-up
  + completed + abandoned;
* a bad call raises a CCRouteError and changes nothing;

and at the end that replaying the same calls on a fresh router gives the same events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from helpers import snapshot
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    ContactState,
    ContactView,
    ManualClock,
    Presence,
    QueueConfig,
    Router,
    RoutingStep,
    Strategy,
)
from ccroute.views import AgentView

QUEUES = ("sales", "support", "billing")
SKILLS = ("en", "fr", "tech")
CHANNELS = ("voice", "chat", "email")

levels = st.integers(1, 10)
# Biased towards matches: most agents know most skills well, most contacts ask little.
skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(3, 10), min_size=2, max_size=3)
requirement_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 6), max_size=1)
capacities = st.dictionaries(
    st.sampled_from((*CHANNELS, "callback")), st.integers(0, 3), min_size=3
)
presences = st.sampled_from(
    [Presence.AVAILABLE, Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE]
)


def queue_configs() -> st.SearchStrategy[list[QueueConfig]]:
    step = st.builds(
        RoutingStep,
        after=st.sampled_from([0.0, 5.0, 15.0, 40.0]),
        requirements=st.dictionaries(
            st.sampled_from(SKILLS), st.one_of(st.none(), st.integers(1, 5)), max_size=2
        ),
        queues=st.frozensets(st.sampled_from(QUEUES), max_size=1),
    )

    def config(name: str) -> st.SearchStrategy[QueueConfig]:
        return st.builds(
            QueueConfig,
            name=st.just(name),
            strategy=st.sampled_from(list(Strategy)),
            offer_timeout=st.sampled_from([None, 8.0, 20.0]),
            wrap_up=st.sampled_from([None, 0.0, 6.0]),
            rona_not_ready=st.booleans(),
            max_size=st.sampled_from([None, None, 4]),
            steps=st.lists(step, max_size=2, unique_by=lambda s: s.after).map(
                lambda steps: sorted(steps, key=lambda s: s.after)
            ),
        )

    return st.tuples(*(config(q) for q in QUEUES)).map(list)


def eligible(router: Router, agent: AgentView, contact: ContactView) -> bool:
    """The routing rules of DESIGN.md, restated from public views only."""
    if agent.presence is not Presence.AVAILABLE:
        return False
    channels = {c.name: c for c in router.channels}
    ch = contact.channel
    if agent.load.get(ch, 0) >= agent.capacity.get(ch, 0):
        return False
    if any(channels[c].exclusive for c in agent.load):
        return False
    if channels[ch].exclusive and agent.load:
        return False
    if (
        agent.unit_budget is not None
        and agent.units_used + channels[ch].unit_cost > agent.unit_budget
    ):
        return False
    if contact.reserved_for is not None:
        return agent.id == contact.reserved_for
    if not qualified(agent, contact):
        return False
    if agent.id in contact.rejected_by:
        others = [
            a
            for a in (router.agent(i) for i in router.agent_ids)
            if a.presence is not Presence.OFFLINE
            and a.id not in contact.rejected_by
            and qualified(a, contact)
            and a.capacity.get(ch, 0) > 0
        ]
        if others:
            return False
    return True


def qualified(agent: AgentView, contact: ContactView) -> bool:
    return bool(agent.queues & contact.queues) and all(
        agent.skills.get(s, 0) >= level for s, level in contact.requirements.items()
    )


class RouterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.events: list[object] = []
        self.router: Router | None = None
        self.clock = ManualClock()
        self.next_id = 0

    # --------------------------------------------------------------- driving

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self.router is not None
        self.calls.append((name, args, kwargs))
        result = getattr(self.router, name)(*args, **kwargs)
        self.events.extend(result.events if name == "tick" else result)
        return result

    def expect_error(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Call something that may be refused; if refused, nothing may change."""
        assert self.router is not None
        self.call("tick")
        before = snapshot(self.router)
        try:
            self.call(name, *args, **kwargs)
        except CCRouteError:
            self.calls.pop()
            assert snapshot(self.router) == before, f"{name}{args} raised but changed state"

    def fresh_id(self, prefix: str) -> str:
        self.next_id += 1
        return f"{prefix}{self.next_id}"

    def ids(self, state: ContactState | None = None) -> list[str]:
        assert self.router is not None
        return sorted(
            c
            for c in self.router.contact_ids
            if state is None or self.router.contact(c).state is state
        )

    # ----------------------------------------------------------------- rules

    @initialize(
        configs=queue_configs(),
        seed=st.integers(0, 3),
        agents=st.lists(
            st.tuples(
                skill_maps,
                st.frozensets(st.sampled_from(QUEUES), min_size=1),
                st.one_of(st.none(), capacities),
            ),
            min_size=1,
            max_size=6,
        ),
        contacts=st.lists(
            st.tuples(st.sampled_from(CHANNELS), st.sampled_from(QUEUES), requirement_maps),
            max_size=8,
        ),
    )
    def start(
        self,
        configs: list[QueueConfig],
        seed: int,
        agents: list[tuple[dict[str, int], frozenset[str], dict[str, int] | None]],
        contacts: list[tuple[str, str, dict[str, int]]],
    ) -> None:
        self.seed = seed
        self.configs = configs
        self.router = self.make_router()
        self.router.observe(self.check_batch)
        known: set[str] = set()
        for config in configs:
            known.add(config.name)
            # A step may only widen to queues that already exist.
            steps = [attrs.evolve(step, queues=step.queues & known) for step in config.steps]
            self.call("add_queue", attrs.evolve(config, steps=steps))
        # A populated centre to start from, so that every run has work to route.
        for skills, queues, capacity in agents:
            agent = Agent(self.fresh_id("a"), skills=skills, queues=queues, capacity=capacity)
            self.call("add_agent", agent, Presence.AVAILABLE)
        for channel, queue, requirements in contacts:
            self.call(
                "submit", Contact(self.fresh_id("c"), channel, queue, requirements=requirements)
            )
            self.clock.advance(1.0)
            self.calls.append(("advance", (1.0,), {}))
            self.call("tick")

    def make_router(self, router: Router | None = None) -> Router:
        if router is None:
            router = Router(self.clock, seed=self.seed)
        original: Callable[..., None] = router._offer  # type: ignore[attr-defined]

        def checked_offer(
            rec: Any, agent: Any, now: float, events: list[object], *args: Any, **kwargs: Any
        ) -> None:
            contact = router.contact(rec.spec.id)
            view = router.agent(agent.spec.id)
            if kwargs.get("extra"):
                # ring-all: the same contact to one more agent
                original(rec, agent, now, events, *args, **kwargs)
                return
            assert contact.state is ContactState.WAITING
            assert eligible(router, view, contact), f"offer of {contact} to ineligible {view}"
            for other in router.waiting():
                if other.key < contact.key:
                    assert not eligible(router, view, other), (
                        f"{view.id} offered {contact.id} while {other.id} (smaller key) was eligible"
                    )
            original(rec, agent, now, events, *args, **kwargs)

        router._offer = checked_offer  # type: ignore[attr-defined,method-assign]
        return router

    @precondition(lambda self: self.router is not None)
    @rule()
    def restart_from_snapshot(self) -> None:
        """Carry on with a router rebuilt from a snapshot; teardown's replay on a
        router that never restarted must still give the same events."""
        assert self.router is not None
        del self.router._offer  # the checking wrapper is test code, not state
        before = snapshot(self.router)
        data = self.router.snapshot()
        assert snapshot(self.router) == before, "taking a snapshot changed the router"
        restored = Router.restore(data, self.clock)
        assert snapshot(restored) == before
        self.router = self.make_router(restored)
        self.router.observe(self.check_batch)

    def check_batch(self, batch: list[object]) -> None:
        times = [e.at for e in batch]  # type: ignore[attr-defined]
        assert times == sorted(times), "events in a batch go forward in time"

    @precondition(lambda self: self.router is not None)
    @rule(
        skills=skill_maps,
        queues=st.frozensets(st.sampled_from(QUEUES), min_size=1, max_size=3),
        capacity=st.one_of(st.none(), capacities),
        budget=st.sampled_from([None, None, 60, 100]),
        presence=presences,
    )
    def add_agent(
        self,
        skills: dict[str, int],
        queues: frozenset[str],
        capacity: dict[str, int] | None,
        budget: int | None,
        presence: Presence,
    ) -> None:
        agent_id = self.fresh_id("a")
        self.call(
            "add_agent",
            Agent(agent_id, skills=skills, queues=queues, capacity=capacity, unit_budget=budget),
            presence,
        )

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(data=st.data(), presence=presences)
    def set_presence(self, data: st.DataObject, presence: Presence) -> None:
        assert self.router is not None
        agent_id = data.draw(st.sampled_from(self.router.agent_ids))
        self.expect_error("set_presence", agent_id, presence)

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(data=st.data(), channel=st.sampled_from(CHANNELS), capacity=st.integers(0, 4))
    def set_capacity(self, data: st.DataObject, channel: str, capacity: int) -> None:
        assert self.router is not None
        agent_id = data.draw(st.sampled_from(self.router.agent_ids))
        self.expect_error("set_capacity", agent_id, channel, capacity)

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(data=st.data())
    def remove_agent(self, data: st.DataObject) -> None:
        assert self.router is not None
        self.expect_error("remove_agent", data.draw(st.sampled_from(self.router.agent_ids)))

    @precondition(lambda self: self.router is not None)
    @rule(
        data=st.data(),
        channel=st.sampled_from(CHANNELS),
        queue=st.sampled_from(QUEUES),
        requirements=requirement_maps,
        priority=st.sampled_from([0.0, 0.0, 10.0, 60.0]),
        tier=st.sampled_from([0, 0, 0, 1]),
        prefer=st.booleans(),
    )
    def submit(
        self,
        data: st.DataObject,
        channel: str,
        queue: str,
        requirements: dict[str, int],
        priority: float,
        tier: int,
        prefer: bool,
    ) -> None:
        assert self.router is not None
        preferred = None
        if prefer and self.router.agent_ids:
            preferred = data.draw(st.sampled_from(self.router.agent_ids))
        self.call(
            "submit",
            Contact(
                self.fresh_id("c"),
                channel,
                queue,
                requirements=requirements,
                priority_seconds=priority,
                tier=tier,
                preferred_agent=preferred,
                preferred_wait=12.0 if preferred else 0.0,
            ),
        )

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data(), accept=st.booleans())
    def answer_offer(self, data: st.DataObject, accept: bool) -> None:
        assert self.router is not None
        self.call("tick")  # nothing due may be pending, or the offer might just have timed out
        offered = self.ids(ContactState.OFFERED)
        if not offered:
            return
        contact_id = data.draw(st.sampled_from(offered))
        agent_id = self.router.contact(contact_id).agent_id
        self.call("accept" if accept else "reject", contact_id, agent_id)

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        """Move one contact along its happy path (the most common thing in a real centre)."""
        assert self.router is not None
        self.call("tick")
        live = [c for c in self.ids() if self.router.contact(c).state is not ContactState.WAITING]
        if not live:
            return
        contact = self.router.contact(data.draw(st.sampled_from(live)))
        if contact.state is ContactState.OFFERED:
            self.call("accept", contact.id, contact.agent_id)
        elif contact.state is ContactState.IN_SERVICE:
            self.call("complete", contact.id)
        else:
            self.call("end_wrap_up", contact.id)

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def progress_again(self, data: st.DataObject) -> None:
        """The happy path again, so it is drawn about as often as everything else together."""
        self.progress(data)

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def complete(self, data: st.DataObject) -> None:
        self.call("tick")
        in_service = self.ids(ContactState.IN_SERVICE)
        if in_service:
            self.call("complete", data.draw(st.sampled_from(in_service)))

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def end_wrap_up(self, data: st.DataObject) -> None:
        self.call("tick")
        wrapping = self.ids(ContactState.WRAP_UP)
        if wrapping:
            self.call("end_wrap_up", data.draw(st.sampled_from(wrapping)))

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def abandon(self, data: st.DataObject) -> None:
        live = self.ids()
        if live:
            self.expect_error("abandon", data.draw(st.sampled_from(live)))

    @precondition(lambda self: self.router is not None)
    @rule(
        data=st.data(),
        queue=st.one_of(st.none(), st.sampled_from(QUEUES)),
        requirements=st.one_of(st.none(), requirement_maps),
        to_agent=st.booleans(),
        keep_key=st.booleans(),
    )
    def transfer(
        self,
        data: st.DataObject,
        queue: str | None,
        requirements: dict[str, int] | None,
        to_agent: bool,
        keep_key: bool,
    ) -> None:
        assert self.router is not None
        live = self.ids()
        if not live:
            return
        agent = None
        if to_agent and self.router.agent_ids:
            agent = data.draw(st.sampled_from(self.router.agent_ids))
        self.expect_error(
            "transfer",
            data.draw(st.sampled_from(live)),
            queue=queue,
            requirements=requirements,
            agent=agent,
            keep_key=keep_key,
        )

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def request_callback(self, data: st.DataObject) -> None:
        live = self.ids()
        if live:
            self.expect_error("request_callback", data.draw(st.sampled_from(live)))

    @precondition(lambda self: self.router is not None)
    @rule(seconds=st.sampled_from([0.5, 3.0, 7.0, 13.0, 45.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.calls.append(("advance", (seconds,), {}))
        self.call("tick")

    @precondition(lambda self: self.router is not None)
    @rule(bad=st.sampled_from(["accept", "reject", "complete", "end_wrap_up", "abandon"]))
    def bad_call(self, bad: str) -> None:
        assert self.router is not None
        args: tuple[str, ...] = ("no-such-contact",)
        if bad in ("accept", "reject"):
            args = ("no-such-contact", "no-such-agent")
        self.expect_error(bad, *args)

    # ------------------------------------------------------------ invariants

    @invariant()
    def consistent(self) -> None:
        router = self.router
        if router is None:
            return
        router._q.check()  # type: ignore[attr-defined]
        channels = {c.name: c for c in router.channels}
        contacts = {c: router.contact(c) for c in router.contact_ids}
        agents = {a: router.agent(a) for a in router.agent_ids}
        by_state = {s: {c for c, v in contacts.items() if v.state is s} for s in ContactState}
        waiting = router.waiting()
        assert {c.id for c in waiting} == by_state[ContactState.WAITING]
        assert len(router) == len(waiting)
        handles = {h for _key, h in router._q.iter_waiting()}  # type: ignore[attr-defined]
        assert handles == {router._contacts[c].handle for c in by_state[ContactState.WAITING]}  # type: ignore[attr-defined]
        held: dict[str, str] = {}
        for agent in agents.values():
            for group, state in (
                (agent.offered, ContactState.OFFERED),
                (agent.in_service, ContactState.IN_SERVICE),
                (agent.wrap_up, ContactState.WRAP_UP),
            ):
                for c in group:
                    assert contacts[c].state is state and contacts[c].agent_id == agent.id
                    assert c not in held, f"{c} held by {held.get(c)} and {agent.id}"
                    held[c] = agent.id
            # never over capacity
            for ch, n in agent.load.items():
                assert n <= agent.capacity[ch], (agent.id, ch, n)
            assert sum(agent.load.values()) == len(agent.offered | agent.in_service | agent.wrap_up)
            if agent.unit_budget is not None:
                assert agent.units_used <= agent.unit_budget
            exclusive = [ch for ch in agent.load if channels[ch].exclusive]
            if exclusive:
                assert sum(agent.load.values()) == 1
        for c, view in contacts.items():
            if view.state is not ContactState.WAITING:
                assert held.get(c) == view.agent_id
        # work conservation
        for agent in agents.values():
            for contact in waiting:
                assert not eligible(router, agent, contact), (
                    f"work conservation: {contact.id} waits while {agent.id} could take it"
                )
        # conservation of counts
        assert router.submitted == (len(contacts) + router.completed + router.abandoned)

    def teardown(self) -> None:
        if self.router is None:
            return
        # Same calls, same events: replay on a fresh router and clock.
        clock = ManualClock()
        replay = Router(clock, seed=self.seed)
        events: list[object] = []
        for name, args, kwargs in self.calls:
            if name == "advance":
                clock.advance(*args)
                continue
            result = getattr(replay, name)(*args, **kwargs)
            events.extend(result.events if name == "tick" else result)
        assert events == self.events


@pytest.mark.usefixtures("queue_factory")
def test_router_state_machine() -> None:
    """The machine above, once per implementation of the universal queue."""
    run_state_machine_as_test(
        RouterMachine, settings=settings(max_examples=200, stateful_step_count=50, deadline=None)
    )
