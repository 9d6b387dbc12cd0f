"""The compiled and the pure universal queue agree on every operation.

A hypothesis state machine applies the same random operation sequence to both
implementations (channels, agents joining and leaving, logging in and out,
availability, capacity changes, occupying and releasing slots, contacts
inserted, removed and re-indexed under new signatures and reservations) and
requires identical answers at every step from every query: best contact for
an agent (with rejection bars and blocked channels), best agent for a
signature under every strategy (with round robin's last agent and rejection
bars), eligible agents, an offer reason's figures (eligible count, winner's
score, best other score), any logged in, spare capacity, the head of a
signature, and the waiting set. Both structures' internal invariants are
checked after every step. A best contact with blocked channels must also be
the best contact with every contact on those channels barred instead.

Agent ids are chosen to stress the compiled twin's id comparison: ids that
share their first eight UTF-8 bytes, non-ASCII ids, and ids that are
prefixes of one another.
"""

from __future__ import annotations

from typing import Any

import pytest
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
from implementations import COMPILED_EXPECTED, IMPLEMENTATIONS

from ccroute._codes import (
    FEWEST_HANDLED,
    LEAST_OCCUPIED,
    LONGEST_IDLE,
    MOST_SKILLED,
    NONE,
    RANDOM,
    ROUND_ROBIN,
)

IDS = [
    "agent-0001-x",
    "agent-0001-y",
    "agent-0001",
    "agent-0001\x00",
    "agent-0001-é",
    "agent-0001-\U0001f600",
    "zoë",
    "zoé",
    "a",
    "B",
]
STRATEGIES = [LONGEST_IDLE, MOST_SKILLED, LEAST_OCCUPIED, ROUND_ROBIN, FEWEST_HANDLED]
SKILLS = 3
QUEUES = 3

requirements = st.lists(
    st.tuples(st.integers(0, SKILLS - 1), st.integers(1, 3)),
    max_size=2,
    unique_by=lambda r: r[0],
)
queue_sets = st.sets(st.integers(0, QUEUES - 1), min_size=1, max_size=QUEUES)


class QueuePair(RuleBasedStateMachine):
    """The same operations on both twins, with bookkeeping of what is valid."""

    def __init__(self) -> None:
        super().__init__()
        compiled = IMPLEMENTATIONS["compiled"]
        assert compiled is not None
        pure = IMPLEMENTATIONS["pure"]
        assert pure is not None
        # Both twins match signatures compatible with many profiles through a
        # per-skill index; with a handful of agents here, the first two use it
        # always (and give up scanning early, so the fallback runs too), the
        # third never, so the index and the profile loop are held to each other.
        self.queues: tuple[Any, ...] = (compiled(), pure(), pure())
        for q in self.queues[:2]:
            q.index_min_profiles = 0
            q.index_scan_limit = 2
        self.channels = 0
        self.now = 0.0
        self.agents: dict[int, list[int]] = {}  # handle -> load per channel
        self.reserved: dict[int, int] = {}  # agent -> contacts reserved for it
        self.contacts: dict[int, int] = {}  # contact -> target (NONE: none)
        self.contact_channels: dict[int, int] = {}  # contact -> its signature's channel
        self.sig_channels: dict[int, int] = {}  # signature -> channel
        self.sigs = 0
        self.next_agent = 0
        self.next_contact = 0

    def both(self, name: str, *args: Any) -> Any:
        """Call ``name`` on both twins; they must return the same or raise the same."""
        results = []
        for q in self.queues:
            try:
                results.append(("ok", getattr(q, name)(*args)))
            except (KeyError, ValueError) as error:
                results.append(("error", type(error)))
        assert results[0] == results[1] == results[2], (name, args, results)
        assert results[0][0] == "ok", (name, args, results)
        return results[0][1]

    @initialize(
        costs=st.lists(st.tuples(st.integers(1, 60), st.booleans()), min_size=1, max_size=3),
        agents=st.lists(
            st.tuples(
                st.sampled_from(IDS),
                st.dictionaries(
                    st.integers(0, SKILLS - 1), st.integers(1, 5), min_size=1, max_size=SKILLS
                ),
                queue_sets,
                st.lists(st.integers(1, 3), min_size=3, max_size=3),
            ),
            min_size=2,
            max_size=6,
        ),
    )
    def start(
        self,
        costs: list[tuple[int, bool]],
        agents: list[tuple[str, dict[int, int], set[int], list[int]]],
    ) -> None:
        # A populated start: agents logged in and available at the same
        # moment, so idle-time ties fall through to the agent ids.
        for cost, exclusive in costs:
            self.both("add_channel", self.channels, cost, exclusive)
            self.channels += 1
        for agent_id, skills, queues, capacity in agents:
            a = self.next_agent
            self.next_agent += 1
            self.both("add_agent", a, agent_id, skills, queues, capacity[: self.channels], -1, 0.0)
            self.both("set_logged_in", a, True)
            self.both("set_available", a, True, 0.0)
            self.agents[a] = [0] * self.channels

    # ------------------------------------------------------------- set-up

    @rule(cost=st.integers(1, 60), exclusive=st.booleans())
    def add_channel(self, cost: int, exclusive: bool) -> None:
        if self.channels < 4:
            self.both("add_channel", self.channels, cost, exclusive)
            for load in self.agents.values():
                load.append(0)
            self.channels += 1

    @rule(
        agent_id=st.sampled_from(IDS),
        skills=st.dictionaries(st.integers(0, SKILLS - 1), st.integers(1, 5), max_size=SKILLS),
        queues=queue_sets,
        capacity=st.lists(st.integers(0, 3), min_size=4, max_size=4),
        budget=st.sampled_from([-1, -1, 0, 60, 100]),
    )
    def add_agent(
        self,
        agent_id: str,
        skills: dict[int, int],
        queues: set[int],
        capacity: list[int],
        budget: int,
    ) -> None:
        if len(self.agents) >= 8:
            return
        a = self.next_agent
        self.next_agent += 1
        cap = capacity[: self.channels]
        self.both("add_agent", a, agent_id, skills, queues, cap, budget, self.now)
        self.agents[a] = [0] * self.channels

    @rule(data=st.data())
    def remove_agent(self, data: st.DataObject) -> None:
        free = [a for a, load in self.agents.items() if not any(load) and not self.reserved.get(a)]
        if free:
            a = data.draw(st.sampled_from(free))
            self.both("remove_agent", a)
            del self.agents[a]

    @rule(data=st.data(), logged_in=st.booleans())
    def set_logged_in(self, data: st.DataObject, logged_in: bool) -> None:
        if self.agents:
            self.both("set_logged_in", data.draw(st.sampled_from(sorted(self.agents))), logged_in)

    @rule(
        data=st.data(),
        available=st.sampled_from([True, True, False]),
        step=st.sampled_from([0.0, 0.0, 1.0, 2.5]),
    )
    def set_available(self, data: st.DataObject, available: bool, step: float) -> None:
        self.now += step
        if self.agents:
            a = data.draw(st.sampled_from(sorted(self.agents)))
            self.both("set_available", a, available, self.now)

    @rule(data=st.data(), capacity=st.integers(0, 3))
    def set_capacity(self, data: st.DataObject, capacity: int) -> None:
        if self.agents:
            a = data.draw(st.sampled_from(sorted(self.agents)))
            ch = data.draw(st.integers(0, self.channels - 1))
            self.both("set_capacity", a, ch, capacity)

    @rule(data=st.data())
    def occupy(self, data: st.DataObject) -> None:
        pairs = [
            (a, ch)
            for a in sorted(self.agents)
            for ch in range(self.channels)
            if self.both("has_spare", a, ch)
        ]
        if pairs:
            a, ch = data.draw(st.sampled_from(pairs))
            self.both("occupy", a, ch)
            self.agents[a][ch] += 1

    @rule(data=st.data(), step=st.sampled_from([0.0, 1.0, 3.0]))
    def release(self, data: st.DataObject, step: float) -> None:
        self.now += step
        pairs = [
            (a, ch) for a, load in sorted(self.agents.items()) for ch, n in enumerate(load) if n
        ]
        if pairs:
            a, ch = data.draw(st.sampled_from(pairs))
            self.both("release", a, ch, self.now)
            self.agents[a][ch] -= 1

    @rule(data=st.data())
    def count_handled(self, data: st.DataObject) -> None:
        if self.agents:
            self.both("count_handled", data.draw(st.sampled_from(sorted(self.agents))))

    # ----------------------------------------------------------- contacts

    def draw_signature(self, data: st.DataObject) -> int:
        ch = data.draw(st.integers(0, self.channels - 1))
        g: int = self.both("signature", ch, data.draw(requirements), data.draw(queue_sets))
        self.sigs = max(self.sigs, g + 1)
        self.sig_channels[g] = ch
        return g

    def draw_target(self, data: st.DataObject) -> int:
        if self.agents and data.draw(st.integers(0, 4)) == 0:
            return data.draw(st.sampled_from(sorted(self.agents)))
        return NONE

    @rule(
        data=st.data(),
        tier=st.sampled_from([0, 0, 0, -1]),
        time=st.sampled_from([0.0, 1.0, 1.0, 2.0, 5.0, -3.0]),
    )
    def insert(self, data: st.DataObject, tier: int, time: float) -> None:
        g = self.draw_signature(data)
        target = self.draw_target(data)
        c = self.next_contact
        self.next_contact += 1
        # the sequence is not always unique, so the handle breaks ties too
        self.both("insert", c, (tier, time, c // 2), g, target)
        self.contacts[c] = target
        self.contact_channels[c] = self.sig_channels[g]
        if target != NONE:
            self.reserved[target] = self.reserved.get(target, 0) + 1

    def forget_target(self, c: int) -> None:
        del self.contact_channels[c]
        target = self.contacts.pop(c)
        if target != NONE:
            self.reserved[target] -= 1

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        if self.contacts:
            c = data.draw(st.sampled_from(sorted(self.contacts)))
            self.both("remove", c)
            self.forget_target(c)

    @rule(data=st.data())
    def reindex(self, data: st.DataObject) -> None:
        if self.contacts:
            c = data.draw(st.sampled_from(sorted(self.contacts)))
            g = self.draw_signature(data)
            target = self.draw_target(data)
            self.both("reindex", c, g, target)
            self.forget_target(c)
            self.contacts[c] = target
            self.contact_channels[c] = self.sig_channels[g]
            if target != NONE:
                self.reserved[target] = self.reserved.get(target, 0) + 1

    # ------------------------------------------------------------ queries

    @precondition(lambda self: self.agents)
    @rule(data=st.data())
    def best_contact(self, data: st.DataObject) -> None:
        a = data.draw(st.sampled_from(sorted(self.agents)))
        barred = data.draw(st.sets(st.sampled_from(sorted(self.contacts) or [0])))
        if data.draw(st.booleans()):
            self.both("best_contact", a, barred)
            return
        # Some channels blocked for this call, now and then with handles that
        # name no channel (ignored) or none at all, in any kind of collection.
        channels = data.draw(st.sets(st.integers(-1, self.channels)))
        blocked = data.draw(st.sampled_from([set, frozenset, sorted]))(channels)
        best = self.both("best_contact", a, barred, blocked)
        # Blocking a channel is barring every contact on it.
        on_blocked = {c for c, ch in self.contact_channels.items() if ch in blocked}
        assert best == self.both("best_contact", a, barred | on_blocked), (a, barred, channels)

    @precondition(lambda self: self.sigs)
    @rule(data=st.data(), strategy=st.sampled_from(STRATEGIES))
    def best_agent(self, data: st.DataObject, strategy: int) -> None:
        g = data.draw(st.integers(0, self.sigs - 1))
        target = self.draw_target(data)
        rr_after = data.draw(st.none() | st.sampled_from(IDS))
        barred = data.draw(st.sets(st.sampled_from(sorted(self.agents) or [0])))
        self.both("best_agent", g, strategy, target, rr_after, barred)

    @precondition(lambda self: self.sigs)
    @rule()
    def sweep(self) -> None:
        """Every decision the state allows: each signature under each strategy, each agent."""
        for g in range(self.sigs):
            for strategy in STRATEGIES:
                best = self.both("best_agent", g, strategy)
                self.both("offer_figures", g, strategy, best, self.now + 1.0)
        for a in sorted(self.agents):
            self.both("best_contact", a)

    @precondition(lambda self: self.sigs)
    @rule(
        data=st.data(),
        strategy=st.sampled_from([*STRATEGIES, RANDOM]),
        later=st.sampled_from([0.0, 1.5]),
    )
    def offer_figures(self, data: st.DataObject, strategy: int, later: float) -> None:
        g = data.draw(st.integers(0, self.sigs - 1))
        winner = data.draw(st.sampled_from([NONE, *sorted(self.agents)]))
        target = self.draw_target(data)
        barred = data.draw(st.sets(st.sampled_from(sorted(self.agents) or [0])))
        self.both("offer_figures", g, strategy, winner, self.now + later, target, barred)

    @precondition(lambda self: self.sigs)
    @rule(data=st.data())
    def eligible_and_logged_in(self, data: st.DataObject) -> None:
        g = data.draw(st.integers(0, self.sigs - 1))
        barred = data.draw(st.sets(st.sampled_from(sorted(self.agents) or [0])))
        self.both("eligible_agents", g, self.draw_target(data), barred)
        self.both("any_logged_in", g, barred)
        self.both("first", g)

    @invariant()
    def same_waiting_and_consistent(self) -> None:
        compiled, pure, _ = self.queues
        assert len(compiled) == len(pure) == len(self.contacts)
        assert sorted(compiled.iter_waiting()) == sorted(pure.iter_waiting())
        for c in list(self.contacts)[:3]:
            assert c in compiled and c in pure
        assert (self.next_contact in compiled) is (self.next_contact in pure) is False
        for a in self.agents:
            for ch in range(self.channels):
                self.both("has_spare", a, ch)
        for q in self.queues:
            q.check()


@pytest.mark.skipif(not COMPILED_EXPECTED, reason="CCROUTE_PURE_PYTHON=1: no compiled twin")
def test_compiled_and_pure_agree() -> None:
    """At least 500 random operation sequences, identical answers at every step."""
    if IMPLEMENTATIONS["compiled"] is None:
        pytest.fail("the compiled universal queue was expected but did not load")
    run_state_machine_as_test(
        QueuePair, settings=settings(max_examples=500, stateful_step_count=60, deadline=None)
    )
