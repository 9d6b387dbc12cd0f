"""A brute-force reference for the universal queue and skills matcher.

``ReferenceQueue`` implements the internal interface of
:class:`ccroute._queue_py.UniversalQueue` the naive way, from the routing
semantics alone (docs/routing.md, and the interface's
docstrings): plain dicts and lists, no grouping of agents or contacts, no
sorted structures, no caches. Every decision scans every agent or every
waiting contact and applies the eligibility rules to each one.

It is slow on purpose and exists only so that the differential tests can run
the same scenario through ``Router(queue_backend=ReferenceQueue())`` and the default
router and demand identical events.

Rules, restated here so the code can be read against them:

* an agent has *spare capacity* on channel ``ch`` when it is available,
  ``load[ch] < capacity[ch]``, it holds nothing on an exclusive channel, it
  holds nothing at all if ``ch`` is exclusive, and, with a unit budget
  (``>= 0``), ``units + cost[ch] <= budget``;
* an agent is *eligible* for an untargeted contact of signature ``g`` when it
  has spare capacity on ``g``'s channel, is a member of one of ``g``'s queues
  and has every required skill at the minimum level or above; for a targeted
  contact only the target is eligible, and only its spare capacity counts;
* barred agents / contacts are never chosen;
* ``best_contact``'s ``blocked`` channels count as having no spare capacity
  for that one call: no contact on them is chosen, reserved or not.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from ccroute._codes import (
    FEWEST_HANDLED,
    LEAST_OCCUPIED,
    LONGEST_IDLE,
    MOST_SKILLED,
    NONE,
    RANDOM,
    ROUND_ROBIN,
    Key,
)

__all__ = ["ReferenceQueue"]


class _RefAgent:
    __slots__ = (
        "available",
        "budget",
        "cap",
        "handled",
        "id",
        "idle_since",
        "load",
        "logged_in",
        "queues",
        "skills",
    )

    def __init__(
        self,
        agent_id: str,
        skills: dict[int, int],
        queues: frozenset[int],
        cap: list[int],
        budget: int,
        now: float,
    ) -> None:
        self.id = agent_id
        self.skills = skills
        self.queues = queues
        self.cap = cap
        self.load = [0] * len(cap)
        self.budget = budget
        self.available = False
        self.logged_in = False
        self.idle_since = now
        self.handled = 0


class ReferenceQueue:
    """The same interface as ``UniversalQueue``; every decision is a full scan."""

    def __init__(self) -> None:
        self._cost: list[int] = []
        self._excl: list[bool] = []
        self._agents: dict[int, _RefAgent] = {}
        # signature handle -> (channel, requirements, queues)
        self._sigs: list[tuple[int, tuple[tuple[int, int], ...], frozenset[int]]] = []
        self._sig_ids: dict[tuple[int, tuple[tuple[int, int], ...], frozenset[int]], int] = {}
        # contact handle -> ((key, contact), signature, target agent or NONE)
        self._contacts: dict[int, tuple[tuple[Key, int], int, int]] = {}

    # ------------------------------------------------------------- channels

    def add_channel(self, ch: int, unit_cost: int, exclusive: bool) -> None:
        if ch != len(self._cost):
            raise ValueError(f"channel handles must be dense, expected {len(self._cost)}, got {ch}")
        self._cost.append(unit_cost)
        self._excl.append(exclusive)
        for agent in self._agents.values():
            agent.cap.append(0)
            agent.load.append(0)

    # --------------------------------------------------------------- agents

    def add_agent(
        self,
        a: int,
        agent_id: str,
        skills: Mapping[int, int],
        queues: Collection[int],
        capacity: Iterable[int],
        budget: int,
        now: float,
    ) -> None:
        if a in self._agents:
            raise ValueError(f"agent {a} already exists")
        cap = list(capacity)
        cap.extend([0] * (len(self._cost) - len(cap)))
        self._agents[a] = _RefAgent(agent_id, dict(skills), frozenset(queues), cap, budget, now)

    def remove_agent(self, a: int) -> None:
        agent = self._agents[a]
        if any(load for load in agent.load):
            raise ValueError(f"agent {a} still holds contacts")
        for _entry, _g, target in self._contacts.values():
            if target == a:
                raise ValueError(f"agent {a} still has contacts reserved for it")
        del self._agents[a]

    def set_logged_in(self, a: int, logged_in: bool) -> None:
        self._agents[a].logged_in = logged_in

    def set_available(self, a: int, available: bool, now: float) -> None:
        agent = self._agents[a]
        if available and not agent.available:
            agent.idle_since = now
        agent.available = available

    def set_capacity(self, a: int, ch: int, capacity: int) -> None:
        self._agents[a].cap[ch] = capacity

    def occupy(self, a: int, ch: int) -> None:
        self._agents[a].load[ch] += 1

    def release(self, a: int, ch: int, now: float) -> None:
        agent = self._agents[a]
        agent.load[ch] -= 1
        agent.idle_since = now

    def count_handled(self, a: int, n: int = 1) -> None:
        self._agents[a].handled += n

    def has_spare(self, a: int, ch: int) -> bool:
        return self._spare(self._agents[a], ch)

    # ------------------------------------------------------------- contacts

    def signature(
        self, ch: int, requirements: Iterable[tuple[int, int]], queues: Collection[int]
    ) -> int:
        sig = (ch, tuple(sorted(requirements)), frozenset(queues))
        g = self._sig_ids.get(sig)
        if g is None:
            g = self._sig_ids[sig] = len(self._sigs)
            self._sigs.append(sig)
        return g

    def insert(self, c: int, key: Key, g: int, target: int = NONE) -> None:
        if c in self._contacts:
            raise ValueError(f"contact {c} is already queued")
        self._contacts[c] = (((key[0], key[1], key[2]), c), g, target)

    def remove(self, c: int) -> None:
        del self._contacts[c]

    def reindex(self, c: int, g: int, target: int = NONE) -> None:
        entry = self._contacts[c][0]
        self._contacts[c] = (entry, g, target)

    def __len__(self) -> int:
        return len(self._contacts)

    def __contains__(self, c: object) -> bool:
        return c in self._contacts

    # ------------------------------------------------------------- matching

    def best_contact(
        self, a: int, barred: Collection[int] = (), blocked: Collection[int] = ()
    ) -> int:
        """The smallest-keyed waiting contact agent ``a`` may take now, or -1: a scan of all.

        On a channel in ``blocked`` the agent has no spare capacity for this
        call (the router's channel-blocking and channel-reservation policies),
        so no contact on it is chosen, reserved for the agent or not.
        """
        agent = self._agents[a]
        best: tuple[Key, int] | None = None
        # Whether the agent may take an untargeted contact of a signature,
        # remembered for the length of this one scan only.
        verdict: dict[int, bool] = {}
        for c, (entry, g, target) in self._contacts.items():
            # Cheapest test first: a contact that cannot beat the best so far
            # need not be examined.
            if best is not None and entry >= best:
                continue
            if c in barred:
                continue
            if self._sigs[g][0] in blocked:
                continue
            if target != NONE:
                if target != a or not self._spare(agent, self._sigs[g][0]):
                    continue
            else:
                ok = verdict.get(g)
                if ok is None:
                    ok = verdict[g] = self._eligible(agent, g)
                if not ok:
                    continue
            best = entry
        return NONE if best is None else best[1]

    def best_agent(
        self,
        g: int,
        strategy: int,
        target: int = NONE,
        rr_after: str | None = None,
        barred: Collection[int] = (),
    ) -> int:
        if target != NONE:
            return target if self._target_ok(g, target, barred) else NONE
        if strategy == RANDOM:
            raise ValueError("random strategy picks from eligible_agents()")
        known = (LONGEST_IDLE, MOST_SKILLED, LEAST_OCCUPIED, ROUND_ROBIN, FEWEST_HANDLED)
        if strategy not in known:
            raise ValueError(f"unknown strategy code {strategy}")
        reqs = self._sigs[g][1]
        best_rank: tuple[object, ...] | None = None
        best = NONE
        for a, agent in self._eligible_agents(g, barred):
            rank: tuple[object, ...]
            if strategy == LONGEST_IDLE:
                rank = (sum(agent.load) > 0, agent.idle_since, agent.id)
            elif strategy == MOST_SKILLED:
                rank = (-sum(agent.skills.get(s, 0) for s, _level in reqs), agent.id)
            elif strategy == LEAST_OCCUPIED:
                rank = (self._share(agent), agent.id)
            elif strategy == FEWEST_HANDLED:
                rank = (agent.handled, agent.id)
            else:  # ROUND_ROBIN: ids after rr_after first, then wrap around
                wrapped = rr_after is None or not agent.id > rr_after
                rank = (wrapped, agent.id)
            if best_rank is None or rank < best_rank:
                best_rank, best = rank, a
        return best

    def eligible_agents(
        self, g: int, target: int = NONE, barred: Collection[int] = ()
    ) -> list[int]:
        if target != NONE:
            return [target] if self._target_ok(g, target, barred) else []
        found = sorted((agent.id, a) for a, agent in self._eligible_agents(g, barred))
        return [a for _id, a in found]

    def offer_figures(
        self,
        g: int,
        strategy: int,
        winner: int,
        now: float,
        target: int = NONE,
        barred: Collection[int] = (),
    ) -> tuple[int, float | None, float | None]:
        """Every eligible agent counted and scored, one by one (docs/explain.md's scores)."""
        if target != NONE:
            eligible = [target] if self._target_ok(g, target, barred) else []
        else:
            eligible = [a for a, _agent in self._eligible_agents(g, barred)]
        scores = {a: self._score(strategy, g, self._agents[a], now) for a in eligible}
        others = [score for a, score in scores.items() if a != winner and score is not None]
        return len(eligible), scores.get(winner), max(others) if others else None

    def any_logged_in(self, g: int, exclude: Collection[int] = ()) -> bool:
        ch, reqs, queues = self._sigs[g]
        for a, agent in self._agents.items():
            if a in exclude or not agent.logged_in or agent.cap[ch] <= 0:
                continue
            if agent.queues.isdisjoint(queues):
                continue
            if all(agent.skills.get(s, 0) >= level for s, level in reqs):
                return True
        return False

    # ------------------------------------------------------------ internals

    def _spare(self, agent: _RefAgent, ch: int) -> bool:
        """Whether the agent could take one more contact on ``ch`` right now."""
        if not agent.available:
            return False
        load = agent.load
        if load[ch] >= agent.cap[ch]:
            return False
        return self._room(load, agent.budget, ch)

    def _room(self, load: list[int], budget: int, ch: int) -> bool:
        """The rules beyond the channel's own maximum: exclusivity and the unit budget."""
        excl = self._excl
        for other, n in enumerate(load):
            if n and excl[other]:
                return False  # an exclusive contact keeps every other offer away
        if excl[ch] and any(load):
            return False  # an exclusive contact needs an agent with no other work
        if budget < 0:
            return True
        units = sum(n * cost for n, cost in zip(load, self._cost, strict=True))
        return units + self._cost[ch] <= budget

    def _eligible(self, agent: _RefAgent, g: int) -> bool:
        """Whether the agent may take an untargeted contact of signature ``g`` now."""
        ch, reqs, queues = self._sigs[g]
        return self._eligible_for(agent, ch, reqs, queues)

    def _eligible_for(
        self, agent: _RefAgent, ch: int, reqs: tuple[tuple[int, int], ...], queues: frozenset[int]
    ) -> bool:
        # The cheap tests first; the order does not change the answer.
        if not agent.available or agent.load[ch] >= agent.cap[ch]:
            return False
        if agent.queues.isdisjoint(queues):
            return False
        skills = agent.skills
        for s, level in reqs:
            if skills.get(s, 0) < level:
                return False
        return self._room(agent.load, agent.budget, ch)

    def _eligible_agents(self, g: int, barred: Collection[int]) -> Iterator[tuple[int, _RefAgent]]:
        """Every agent that may take an untargeted contact of ``g`` now: a scan of all agents.

        The same tests as :meth:`_eligible_for`, inlined because this loop is
        the reference's hot spot.
        """
        ch, reqs, queues = self._sigs[g]
        room = self._room
        for a, agent in self._agents.items():
            load = agent.load
            if not agent.available or load[ch] >= agent.cap[ch] or agent.queues.isdisjoint(queues):
                continue
            skills = agent.skills
            for s, level in reqs:
                if skills.get(s, 0) < level:
                    break
            else:
                if room(load, agent.budget, ch) and a not in barred:
                    yield a, agent

    def _target_ok(self, g: int, target: int, barred: Collection[int]) -> bool:
        agent = self._agents.get(target)
        return agent is not None and target not in barred and self._spare(agent, self._sigs[g][0])

    def _score(self, strategy: int, g: int, agent: _RefAgent, now: float) -> float | None:
        """The agent's score under ``strategy``, higher wins; None for round robin and random."""
        if strategy == LONGEST_IDLE:
            return now - agent.idle_since  # seconds idle
        if strategy == MOST_SKILLED:
            # its levels over the required skills, 0 for one it lacks
            return float(sum(agent.skills.get(s, 0) for s, _level in self._sigs[g][1]))
        if strategy == LEAST_OCCUPIED:
            return 1.0 - self._share(agent)
        if strategy == FEWEST_HANDLED:
            return float(-agent.handled)
        return None

    def _share(self, agent: _RefAgent) -> float:
        if agent.budget >= 0:
            units = sum(n * self._cost[ch] for ch, n in enumerate(agent.load))
            return units / agent.budget if agent.budget else 1.0
        total_cap = sum(agent.cap)
        return sum(agent.load) / total_cap if total_cap else 1.0

    # ------------------------------------------------------------- checking

    def iter_waiting(self) -> Iterator[tuple[Key, int]]:
        for entry, _g, _target in self._contacts.values():
            yield entry

    def check(self) -> None:
        """Light consistency check: no negative load, no agent over capacity or budget."""
        for a, agent in self._agents.items():
            assert len(agent.cap) == len(agent.load) == len(self._cost), a
            for ch, n in enumerate(agent.load):
                assert 0 <= n <= agent.cap[ch], (a, ch, n, agent.cap[ch])
            if agent.budget >= 0:
                units = sum(n * self._cost[ch] for ch, n in enumerate(agent.load))
                assert units <= agent.budget, (a, units, agent.budget)
            if any(n for ch, n in enumerate(agent.load) if self._excl[ch]):
                assert sum(agent.load) == 1, (a, agent.load)  # an exclusive contact is held alone
        for c, ((_key, c2), g, target) in self._contacts.items():
            assert c2 == c and 0 <= g < len(self._sigs), c
            assert target == NONE or target in self._agents, (c, target)


if TYPE_CHECKING:
    from ccroute._queue_protocol import QueueBackend

    def _conforms(queue: ReferenceQueue) -> QueueBackend:
        # mypy checks the reference against the router's interface here
        # (tests/test_queue_protocol.py runs it).
        return queue
