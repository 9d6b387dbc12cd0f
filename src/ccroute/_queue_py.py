"""The universal queue and skills matcher, in pure Python.

This is one of two implementations of the same internal interface (the other
is the compiled ``_fastqueue`` twin); :mod:`ccroute._queue` picks one. The
router talks to it in small integers only:

* channels ``ch``, queues ``q`` and skills ``s`` are dense handles the router
  interns once;
* agents ``a`` and contacts ``c`` are integer handles the router assigns;
* a contact's requirements are a *signature* ``g`` (channel, required skills
  with minimum levels, queues whose members may take it), interned by
  :meth:`UniversalQueue.signature`;
* an agent's skills, queues and channels form its *profile* ``p``.

Waiting contacts are grouped by signature, each group ordered by static key;
agents are grouped by profile, and within a profile, per channel, the agents
that could take one more contact on that channel right now are kept ordered
for each agent strategy in use. Which profiles can serve which signatures is
computed once, when either is first seen. A routing decision therefore looks
only at the groups that can match: its cost is O(log n) in waiting contacts or
agents plus a term linear in the number of compatible signatures or profiles.
Where agents share team profiles that term is small; where every agent's skill
set differs, profiles are as many as agents, and a per-skill index of ready
agents (built on first use, see :meth:`UniversalQueue.best_agent`) replaces the
profile loop for signatures that many profiles can serve. Inserting into an
empty signature group, or emptying one, touches each compatible profile once.

Both implementations must agree exactly, including every tie-break; the
differential tests hold them to it. Both check every argument before changing
anything, with the rules of :mod:`ccroute._twin_checks`, and refuse a bad call
with the same :class:`~ccroute.CCRouteError` subclass.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Iterator, Mapping

from sortedcontainers import SortedList

from . import _twin_checks as check
from ._codes import (
    FEWEST_HANDLED,
    LEAST_OCCUPIED,
    LONGEST_IDLE,
    MOST_SKILLED,
    NONE,
    RANDOM,
    ROUND_ROBIN,
    Key,
)
from ._profile_index import ProfileIndex, add_profile, candidates
from ._queue_protocol import (
    handled_score,
    idle_score,
    occupancy_score,
    occupied_share,
    skill_score,
)
from ._values import exact_int

__all__ = ["UniversalQueue"]

_BY_ID = -1  # the ordering every ready set keeps: (agent id, handle)
_BY_ID_SCORE = -2  # the skill index's most-skilled order: (-level, agent id, handle)
_MAXINT = sys.maxsize


class _Agent:
    __slots__ = (
        "available",
        "budget",
        "cap",
        "exclusive",
        "handled",
        "id",
        "idle_since",
        "keys",
        "load",
        "logged_in",
        "profile",
        "ready",
        "total",
        "total_cap",
        "units",
    )

    def __init__(self, agent_id: str, cap: list[int], budget: int, now: float) -> None:
        self.id = agent_id
        self.cap = cap
        self.budget = budget  # -1: no shared unit budget
        self.load = [0] * len(cap)
        self.total = 0  # contacts held (offered, in service, wrap-up)
        self.units = 0
        self.exclusive = 0  # contacts held on exclusive channels
        self.available = False
        self.logged_in = False
        self.idle_since = now
        self.handled = 0
        self.total_cap = sum(cap)
        self.profile = NONE
        self.ready: frozenset[int] = frozenset()  # channels whose ready sets hold it
        self.keys: dict[int, tuple[object, ...]] = {}


class _Profile:
    __slots__ = (
        "active",
        "channels",
        "logged_in",
        "members",
        "queues",
        "ready",
        "signatures",
        "skills",
    )

    def __init__(
        self, skills: dict[int, int], queues: frozenset[int], channels: frozenset[int]
    ) -> None:
        self.skills = skills
        self.queues = queues
        self.channels = channels
        self.members: set[int] = set()
        self.logged_in = 0
        # compatible signatures, in signature order
        self.signatures: list[int] = []
        # the compatible signatures that have waiting contacts now
        self.active: set[int] = set()
        # channel -> ordering code -> SortedList of keys of ready agents
        self.ready: dict[int, dict[int, SortedList]] = {
            ch: {_BY_ID: SortedList()} for ch in channels
        }


class _Signature:
    __slots__ = ("channel", "items", "profile_set", "profiles", "queues", "requirements")

    def __init__(
        self, channel: int, requirements: tuple[tuple[int, int], ...], queues: frozenset[int]
    ) -> None:
        self.channel = channel
        self.requirements = requirements
        self.queues = queues
        # compatible profiles as (profile, most-skilled score), in profile order
        self.profiles: list[tuple[int, float]] = []
        self.profile_set: set[int] = set()
        self.items: SortedList = SortedList()  # (neg tier, time, seq, contact)


def _compatible(p: _Profile, g: _Signature) -> bool:
    if g.channel not in p.channels or p.queues.isdisjoint(g.queues):
        return False
    skills = p.skills
    return all(skills.get(s, 0) >= level for s, level in g.requirements)


class UniversalQueue:
    """Every waiting contact in one structure, and the agents that can take them."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        check.no_arguments(args, kwargs)
        self._cost: list[int] = []
        self._excl: list[bool] = []
        self._agents: dict[int, _Agent] = {}
        self._profiles: list[_Profile] = []
        self._profile_ids: dict[tuple[object, ...], int] = {}
        # (channel, queue, skill or -1) -> profiles open on that channel, serving
        # that queue and having that skill (-1: any). A new signature is checked
        # only against the shortest list its requirements select.
        self._index: ProfileIndex = {}
        self._sigs: list[_Signature] = []
        self._sig_ids: dict[tuple[object, ...], int] = {}
        # contact -> (entry, signature or NONE, target agent or NONE, channel)
        self._contacts: dict[int, tuple[tuple[int, float, int, int], int, int, int]] = {}
        # (agent, channel) -> contacts reserved for that agent on that channel
        # agent -> channel -> contacts reserved for that agent on that channel
        # (only non-empty lists are kept, so an agent with none costs nothing)
        self._targeted: dict[int, dict[int, SortedList]] = {}
        # (channel, skill or -1) -> ordering code -> SortedList of keys of the
        # agents ready on that channel having that skill (-1: every agent).
        # Built on first use, for signatures compatible with many profiles
        # (every agent a different skill set); see best_agent.
        self._skill_index: dict[tuple[int, int], dict[int, SortedList]] = {}
        self._index_min_profiles = 256
        self._index_scan_limit = 64

    @property
    def index_min_profiles(self) -> int:
        """A signature compatible with more profiles than this is matched
        through the skill index rather than profile by profile (0..2**31-1)."""
        return self._index_min_profiles

    @index_min_profiles.setter
    def index_min_profiles(self, value: int) -> None:
        self._index_min_profiles = check.tuning(value, "index_min_profiles")

    @property
    def index_scan_limit(self) -> int:
        """How many index entries a decision scans before falling back to
        looking at every compatible profile (0..2**31-1)."""
        return self._index_scan_limit

    @index_scan_limit.setter
    def index_scan_limit(self, value: int) -> None:
        self._index_scan_limit = check.tuning(value, "index_scan_limit")

    def _agent(self, a: object) -> tuple[int, _Agent]:
        """Agent handle ``a`` as a plain int, and its agent."""
        handle = check.handle(a, "agent")
        agent = self._agents.get(handle)
        if agent is None:
            check.unknown("agent handle", handle)
        return handle, agent

    def _channel(self, ch: object) -> int:
        return check.known_index(ch, "channel", len(self._cost))

    def _sig(self, g: object) -> int:
        return check.known_index(g, "signature", len(self._sigs))

    def _target(self, target: object) -> int:
        """-1 or a known agent (for insert and reindex)."""
        t = check.target(target)
        if t != NONE and t not in self._agents:
            check.unknown("agent handle", t)
        return t

    # ----------------------------------------------------------------- channels

    def add_channel(self, ch: int, unit_cost: int, exclusive: bool) -> None:
        """Declare channel ``ch`` (handles are dense: 0, 1, 2 …). Cost: O(agents)."""
        ch = check.index(ch, "channel")
        if ch != len(self._cost):
            check.fail("channel handle", f"{len(self._cost)} (handles are dense)", ch)
        unit_cost = check.count(unit_cost, "unit cost")
        exclusive = check.flag(exclusive, "exclusive")
        self._cost.append(unit_cost)
        self._excl.append(exclusive)
        for agent in self._agents.values():
            agent.cap.append(0)
            agent.load.append(0)

    # ------------------------------------------------------------------- agents

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
        """Add agent ``a`` (logged out, unavailable). Cost: O(1), or O(signatures) for a new profile.

        ``capacity`` lists one maximum per channel handle; ``budget`` is the
        shared unit budget or -1 for none.
        """
        a = check.handle(a, "agent")
        if a in self._agents:
            check.state(f"agent handle {a} is in use")
        agent_id = check.agent_id(agent_id)
        levels = check.skills(skills)
        qs = check.queues(queues)
        cap = check.capacity(capacity, len(self._cost))
        budget = check.budget(budget)
        now = check.time(now, "now")
        agent = _Agent(agent_id, cap, budget, now)
        self._agents[a] = agent
        self._join_profile(a, agent, levels, qs)

    def remove_agent(self, a: int) -> None:
        """Forget agent ``a``; it must hold no contacts. Cost: O(channels · log n)."""
        a, agent = self._agent(a)
        if a in self._targeted:
            check.state(f"agent {a} still has contacts reserved for it")
        if agent.total:
            check.state(f"agent {a} still holds {agent.total} contact(s)")
        self._leave_profile(a, agent)
        del self._agents[a]

    def set_logged_in(self, a: int, logged_in: bool) -> None:
        """Record whether agent ``a`` is logged in (available or not-ready). Cost: O(1)."""
        a, agent = self._agent(a)
        check.flag(logged_in, "logged_in")
        if agent.logged_in != logged_in:
            agent.logged_in = logged_in
            self._profiles[agent.profile].logged_in += 1 if logged_in else -1

    def set_available(self, a: int, available: bool, now: float) -> None:
        """Make agent ``a`` available for offers or not. Becoming available restarts its idle time.

        Cost: O(channels · strategies · log n).
        """
        a, agent = self._agent(a)
        check.flag(available, "available")
        now = check.time(now, "now")
        if available and not agent.available:
            agent.idle_since = now
        agent.available = available
        self._refresh(a, agent)

    def set_capacity(self, a: int, ch: int, capacity: int) -> None:
        """Set agent ``a``'s maximum on channel ``ch``. Cost: O(log n), O(signatures) if the profile changes."""
        a, agent = self._agent(a)
        ch = self._channel(ch)
        capacity = check.count(capacity, "capacity")
        was_open = agent.cap[ch] > 0
        agent.cap[ch] = capacity
        agent.total_cap = sum(agent.cap)
        if was_open != (capacity > 0):
            # The set of channels is part of the profile: move the agent.
            profile = self._profiles[agent.profile]
            skills, queues = profile.skills, profile.queues
            self._leave_profile(a, agent)
            self._join_profile(a, agent, skills, queues)
        else:
            self._refresh(a, agent)

    def occupy(self, a: int, ch: int) -> None:
        """Agent ``a`` takes one more contact on ``ch`` (an offer reserves capacity). Cost: O(log n).

        Refused while the agent holds its capacity on ``ch``.
        """
        a, agent = self._agent(a)
        ch = self._channel(ch)
        if agent.load[ch] >= agent.cap[ch]:
            check.state(f"agent {a} holds {agent.load[ch]} on channel {ch}, its capacity")
        agent.load[ch] += 1
        agent.total += 1
        agent.units += self._cost[ch]
        if self._excl[ch]:
            agent.exclusive += 1
        self._refresh(a, agent)

    def release(self, a: int, ch: int, now: float) -> None:
        """Agent ``a`` frees one contact's slot on ``ch``; its idle time restarts. Cost: O(log n).

        Refused while the agent holds nothing on ``ch``.
        """
        a, agent = self._agent(a)
        ch = self._channel(ch)
        now = check.time(now, "now")
        if not agent.load[ch]:
            check.state(f"agent {a} holds nothing on channel {ch}")
        agent.load[ch] -= 1
        agent.total -= 1
        agent.units -= self._cost[ch]
        if self._excl[ch]:
            agent.exclusive -= 1
        agent.idle_since = now
        self._refresh(a, agent)

    def count_handled(self, a: int, n: int = 1) -> None:
        """Count ``n`` more contacts handled by agent ``a`` (for fewest-handled). Cost: O(log n).

        ``n`` is in 0..2**31-1, and an agent's count stays at most 2**53.
        """
        a, agent = self._agent(a)
        n = check.count(n, "n")
        if agent.handled + n > check.MAX_HANDLED:
            check.fail("handled count", f"at most {check.MAX_HANDLED}", agent.handled + n)
        agent.handled += n
        self._refresh(a, agent)

    def has_spare(self, a: int, ch: int) -> bool:
        """Whether agent ``a`` could take one more contact on ``ch`` now. Cost: O(1)."""
        _a, agent = self._agent(a)
        ch = self._channel(ch)
        return self._spare(agent, ch)

    # ------------------------------------------------------------------ contacts

    def signature(
        self, ch: int, requirements: Iterable[tuple[int, int]], queues: Collection[int]
    ) -> int:
        """Intern a requirement signature.

        Cost: O(1) when known; when new, O(P) for the P profiles open on its
        channel, serving one of its queues and having its rarest required skill.
        """
        ch = self._channel(ch)
        reqs = check.requirements(requirements)
        qs = check.queues(queues)
        key = (ch, reqs, qs)
        g = self._sig_ids.get(key)
        if g is None:
            g = len(self._sigs)
            sig = _Signature(ch, reqs, qs)
            self._sigs.append(sig)
            self._sig_ids[key] = g
            for p in candidates(self._index, ch, reqs, qs):
                profile = self._profiles[p]
                skills = profile.skills
                if all(skills.get(s, 0) >= level for s, level in reqs):
                    sig.profiles.append((p, skill_score(profile.skills, sig.requirements)))
                    sig.profile_set.add(p)
                    profile.signatures.append(g)
                    # a new signature has no contacts yet: nothing to activate
        return g

    def insert(self, c: int, key: Key, g: int, target: int = NONE) -> None:
        """Queue contact ``c`` with static ``key`` under signature ``g``. Cost: O(log n).

        With a ``target`` agent, only that agent may take the contact (a
        preferred-agent wait or a transfer to an agent).
        """
        c = check.handle(c, "contact")
        if c in self._contacts:
            check.state(f"contact {c} is already queued")
        key = check.key(key)
        g = self._sig(g)
        target = self._target(target)
        entry = (key[0], key[1], key[2], c)
        ch = self._sigs[g].channel
        self._contacts[c] = (entry, g, target, ch)
        items = self._items(g, target, ch)
        items.add(entry)
        if target == NONE and len(items) == 1:
            # The group just became non-empty: the profiles that can serve it
            # start looking at it.
            for p, _score in self._sigs[g].profiles:
                self._profiles[p].active.add(g)

    def remove(self, c: int) -> None:
        """Take contact ``c`` out of the queue. Cost: O(log n)."""
        c = check.handle(c, "contact")
        if c not in self._contacts:
            check.unknown("contact handle", c)
        entry, g, target, ch = self._contacts.pop(c)
        items = self._items(g, target, ch)
        items.remove(entry)
        if not items:
            if target != NONE:
                by_channel = self._targeted[target]
                del by_channel[ch]
                if not by_channel:
                    del self._targeted[target]
            else:
                for p, _score in self._sigs[g].profiles:
                    self._profiles[p].active.discard(g)

    def reindex(self, c: int, g: int, target: int = NONE) -> None:
        """Move queued contact ``c`` to signature ``g`` and target, keeping its key. Cost: O(log n)."""
        c = check.handle(c, "contact")
        if c not in self._contacts:
            check.unknown("contact handle", c)
        g = self._sig(g)
        target = self._target(target)
        entry = self._contacts[c][0]
        self.remove(c)
        self.insert(c, (entry[0], entry[1], entry[2]), g, target)

    def first(self, g: int) -> int:
        """The waiting contact of signature ``g`` with the smallest key (not reserved), or -1.

        Cost: O(1).
        """
        items = self._sigs[self._sig(g)].items
        return int(items[0][3]) if items else NONE

    def __len__(self) -> int:
        """Number of waiting contacts. Cost: O(1)."""
        return len(self._contacts)

    def __contains__(self, c: object) -> bool:
        """Whether contact ``c`` is queued (``False`` for anything that is not a handle)."""
        handle = exact_int(c)
        return handle is not None and handle in self._contacts

    # ------------------------------------------------------------------ matching

    def best_contact(
        self, a: int, barred: Collection[int] = (), blocked: Collection[int] = ()
    ) -> int:
        """The waiting contact with the smallest key that agent ``a`` may take now, or -1.

        ``barred`` lists contacts the agent may not be offered (it rejected
        them). ``blocked`` lists channel handles on which the agent counts as
        having no spare capacity for this one call, so no waiting contact on
        them is returned, not even one reserved for the agent: the router's
        channel-blocking and channel-reservation policies use it. Handles
        that name no channel are ignored. Cost: O(S + log n + |barred| +
        |blocked|) for S signatures compatible with the agent's profile that
        have waiting contacts.
        """
        a, agent = self._agent(a)
        barred = check.handle_set(barred, "barred")
        blocked = check.handle_set(blocked, "blocked")
        if not agent.available:
            return NONE
        best: tuple[object, ...] | None = None
        for g in self._profiles[agent.profile].active:
            sig = self._sigs[g]
            items = sig.items
            if (blocked and sig.channel in blocked) or not self._spare(agent, sig.channel):
                continue
            entry = items[0]
            if best is not None and entry >= best:
                continue
            if barred:
                found = self._first_unbarred(items, barred)
                if found is None:
                    continue
                entry = found
            if best is None or entry < best:
                best = entry
        for ch, items in self._targeted.get(a, {}).items():
            if not (blocked and ch in blocked) and self._spare(agent, ch):
                found = self._first_unbarred(items, barred)
                if found is not None and (best is None or found < best):
                    best = found
        return NONE if best is None else int(best[3])  # type: ignore[call-overload]

    def best_agent(
        self,
        g: int,
        strategy: int,
        target: int = NONE,
        rr_after: str | None = None,
        barred: Collection[int] = (),
    ) -> int:
        """The agent a contact of signature ``g`` goes to under ``strategy``, or -1.

        ``target`` restricts the choice to one agent; ``rr_after`` is the id of
        the agent the queue offered to last (round robin); ``barred`` lists
        agents who rejected the contact. Ties break by agent id. Cost:
        O(P · log n + |barred|) for P profiles compatible with the signature;
        when P exceeds :attr:`index_min_profiles`, the per-skill index answers
        in O(scan) instead, falling back to the profile loop after
        :attr:`index_scan_limit` entries. :data:`RANDOM` is not served here
        (see :meth:`eligible_agents`).
        """
        sig = self._sigs[self._sig(g)]
        strategy = check.strategy(strategy)
        target = check.target(target)
        rr_after = check.rr_after(rr_after)
        barred = check.handle_set(barred, "barred")
        ch = sig.channel
        if target != NONE:
            agent = self._agents.get(target)
            if agent is not None and self._spare(agent, ch) and target not in barred:
                return target
            return NONE
        if strategy == RANDOM:
            check.random_refused()
        if (
            len(sig.profiles) > self.index_min_profiles
            and strategy != ROUND_ROBIN
            and (strategy != MOST_SKILLED or len(sig.requirements) <= 1)
            and all(level >= 1 for _s, level in sig.requirements)
        ):
            found = self._best_from_index(sig, strategy, barred)
            if found is not None:
                return found
        best: tuple[object, ...] | None = None
        for p, score in sig.profiles:
            ready = self._profiles[p].ready[ch]
            if not ready[_BY_ID]:
                continue
            cand: tuple[object, ...] | None
            if strategy == MOST_SKILLED:
                first = self._first_unbarred(ready[_BY_ID], barred)
                cand = None if first is None else (-score, *first)
            elif strategy == ROUND_ROBIN:
                cand = self._round_robin(ready[_BY_ID], rr_after, barred)
            else:
                order = ready.get(strategy)
                if order is None:
                    order = self._build_order(ready, strategy)
                cand = self._first_unbarred(order, barred)
            if cand is not None and (best is None or cand < best):
                best = cand
        return NONE if best is None else int(best[-1])  # type: ignore[call-overload]

    def _best_from_index(
        self, sig: _Signature, strategy: int, barred: Collection[int]
    ) -> int | None:
        """best_agent through the skill index, or None when the scan limit is hit.

        Every agent that may take the signature has its first required skill
        (every one when it requires none) and is ready on its channel, so the
        index of that skill, read in the strategy's order, meets the winner
        first. Most-skilled is served here only for one required skill, whose
        level is then the whole score.
        """
        s = sig.requirements[0][0] if sig.requirements else NONE
        order = _BY_ID_SCORE if strategy == MOST_SKILLED else strategy
        if order not in (LONGEST_IDLE, LEAST_OCCUPIED, FEWEST_HANDLED, _BY_ID_SCORE):
            raise ValueError(f"unknown strategy code {strategy}")
        orders = self._skill_index.get((sig.channel, s))
        items = None if orders is None else orders.get(order)
        if items is None:
            items = self._build_index(sig.channel, s, order)
        compatible = sig.profile_set
        agents = self._agents
        for scanned, entry in enumerate(items):
            if scanned == self.index_scan_limit:
                return None
            a = entry[-1]
            if agents[a].profile in compatible and a not in barred:
                return int(a)
        return NONE

    def _index_key(self, agent: _Agent, a: int, s: int, order: int) -> tuple[object, ...]:
        if order == _BY_ID_SCORE:
            return (-self._profiles[agent.profile].skills.get(s, 0), agent.id, a)
        return self._key(agent, a, order)

    def _build_index(self, ch: int, s: int, order: int) -> SortedList:
        built = SortedList()
        for profile in self._profiles:
            if ch in profile.channels and (s == NONE or s in profile.skills):
                for _id, a in profile.ready[ch][_BY_ID]:
                    agent = self._agents[a]
                    if order == _BY_ID_SCORE:
                        built.add(self._index_key(agent, a, s, order))
                        continue
                    key = agent.keys.get(order)
                    if key is None:
                        key = agent.keys[order] = self._key(agent, a, order)
                    built.add(key)
        self._skill_index.setdefault((ch, s), {})[order] = built
        return built

    def eligible_agents(
        self, g: int, target: int = NONE, barred: Collection[int] = ()
    ) -> list[int]:
        """Every agent that may take a contact of signature ``g`` now, in agent-id order.

        Cost: O(E log E) for E eligible agents (used by the random strategy).
        """
        sig = self._sigs[self._sig(g)]
        target = check.target(target)
        barred = check.handle_set(barred, "barred")
        if target != NONE:
            agent = self._agents.get(target)
            if agent is not None and self._spare(agent, sig.channel) and target not in barred:
                return [target]
            return []
        found: list[tuple[str, int]] = []
        for p, _score in sig.profiles:
            found.extend(
                e for e in self._profiles[p].ready[sig.channel][_BY_ID] if e[1] not in barred
            )
        found.sort()
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
        """An offer reason's figures: ``(eligible, score, runner_up)``.

        ``eligible`` is how many agents :meth:`eligible_agents` would list for
        the same ``g``, ``target`` and ``barred``; ``score`` is ``winner``'s
        score under ``strategy`` at time ``now`` (``None`` when the winner is
        not among them) and ``runner_up`` the best score of the others
        (``None`` when there are none), by the score functions of
        :mod:`ccroute._queue_protocol`. Round robin and random have no score:
        ``None`` for both. Cost: O(P + E) for P compatible profiles and E
        eligible agents.
        """
        sig = self._sigs[self._sig(g)]
        strategy = check.strategy(strategy)
        winner = check.target(winner)
        now = check.time(now, "now")
        target = check.target(target)
        barred = check.handle_set(barred, "barred")
        agents = self._agents
        # (agent, its profile's most-skilled score) for every eligible agent
        found: list[tuple[int, float]]
        if target != NONE:
            agent = agents.get(target)
            if agent is None or not self._spare(agent, sig.channel) or target in barred:
                return 0, None, None
            skills = self._profiles[agent.profile].skills
            found = [(target, skill_score(skills, sig.requirements))]
        else:
            found = []
            for p, skill in sig.profiles:
                found.extend(
                    (a, skill)
                    for _id, a in self._profiles[p].ready[sig.channel][_BY_ID]
                    if a not in barred
                )
        others = [entry for entry in found if entry[0] != winner]
        mine = agents[winner] if len(others) < len(found) else None
        # Each score is monotone in the quantity compared here, so the best
        # other score is the score of the other agent with the extreme one.
        if strategy == LONGEST_IDLE:
            first = min(others, key=lambda e: agents[e[0]].idle_since, default=None)
            return (
                len(found),
                None if mine is None else idle_score(mine.idle_since, now),
                None if first is None else idle_score(agents[first[0]].idle_since, now),
            )
        if strategy == MOST_SKILLED:
            return (
                len(found),
                None if mine is None else next(skill for a, skill in found if a == winner),
                max((skill for _a, skill in others), default=None),
            )
        if strategy == LEAST_OCCUPIED:
            first = min(others, key=lambda e: self._share(agents[e[0]]), default=None)
            return (
                len(found),
                None if mine is None else self._occupancy(mine),
                None if first is None else self._occupancy(agents[first[0]]),
            )
        if strategy == FEWEST_HANDLED:
            first = min(others, key=lambda e: agents[e[0]].handled, default=None)
            return (
                len(found),
                None if mine is None else handled_score(mine.handled),
                None if first is None else handled_score(agents[first[0]].handled),
            )
        return len(found), None, None

    def any_logged_in(self, g: int, exclude: Collection[int] = ()) -> bool:
        """Whether some logged-in agent not in ``exclude`` could ever take signature ``g``.

        Ignores current load and readiness. Cost: O(P + |exclude|).
        """
        sig = self._sigs[self._sig(g)]
        exclude = check.handle_set(exclude, "exclude")
        logged = sum(self._profiles[p].logged_in for p, _ in sig.profiles)
        if logged == 0:
            return False
        compatible = {p for p, _ in sig.profiles}
        for a in exclude:
            agent = self._agents.get(a)
            if agent is not None and agent.logged_in and agent.profile in compatible:
                logged -= 1
        return logged > 0

    # ------------------------------------------------------------------ internals

    def _items(self, g: int, target: int, ch: int) -> SortedList:
        if target == NONE:
            return self._sigs[g].items
        by_channel = self._targeted.setdefault(target, {})
        items = by_channel.get(ch)
        if items is None:
            items = by_channel[ch] = SortedList()
        return items

    @staticmethod
    def _first_unbarred(items: SortedList, barred: Collection[int]) -> tuple[object, ...] | None:
        if not barred:
            return items[0] if items else None
        for entry in items:
            if entry[-1] not in barred:
                return entry  # type: ignore[no-any-return]
        return None

    @staticmethod
    def _round_robin(
        by_id: SortedList, rr_after: str | None, barred: Collection[int]
    ) -> tuple[object, ...] | None:
        if rr_after is None:
            first = UniversalQueue._first_unbarred(by_id, barred)
            return None if first is None else (True, *first)
        start = by_id.bisect_right((rr_after, _MAXINT))
        for entry in by_id.islice(start):
            if entry[1] not in barred:
                return (False, *entry)
        for entry in by_id.islice(0, start):
            if entry[1] not in barred:
                return (True, *entry)
        return None

    def _spare(self, agent: _Agent, ch: int) -> bool:
        if not agent.available or agent.load[ch] >= agent.cap[ch] or agent.exclusive:
            return False
        if self._excl[ch] and agent.total:
            return False
        return agent.budget < 0 or agent.units + self._cost[ch] <= agent.budget

    def _key(self, agent: _Agent, a: int, order: int) -> tuple[object, ...]:
        if order == _BY_ID:
            return (agent.id, a)
        if order == LONGEST_IDLE:
            return (agent.total > 0, agent.idle_since, agent.id, a)
        if order == LEAST_OCCUPIED:
            return (self._share(agent), agent.id, a)
        if order == FEWEST_HANDLED:
            return (agent.handled, agent.id, a)
        raise ValueError(f"no ordering for strategy {order}")

    @staticmethod
    def _share(agent: _Agent) -> float:
        return occupied_share(agent.units, agent.budget, agent.total, agent.total_cap)

    @staticmethod
    def _occupancy(agent: _Agent) -> float:
        return occupancy_score(agent.units, agent.budget, agent.total, agent.total_cap)

    def _build_order(self, ready: dict[int, SortedList], order: int) -> SortedList:
        # Orderings are built the first time a strategy asks for them, so the
        # cost of keeping them sorted is paid only for strategies in use.
        if order not in (LONGEST_IDLE, LEAST_OCCUPIED, FEWEST_HANDLED):
            raise ValueError(f"unknown strategy code {order}")
        built = SortedList()
        for _id, a in ready[_BY_ID]:
            agent = self._agents[a]
            key = agent.keys.get(order)
            if key is None:
                key = agent.keys[order] = self._key(agent, a, order)
            built.add(key)
        ready[order] = built
        return built

    def _refresh(self, a: int, agent: _Agent) -> None:
        """Bring the agent's entries in its profile's ready sets and the skill index up to date."""
        profile = self._profiles[agent.profile]
        now_ready = frozenset(ch for ch in profile.channels if self._spare(agent, ch))
        old_keys = agent.keys
        new_keys: dict[int, tuple[object, ...]] = {}
        index = self._skill_index
        for ch in agent.ready | now_ready:
            was, now = ch in agent.ready, ch in now_ready
            sets = [(NONE, profile.ready[ch])]
            if index:
                sets.extend((s, index[ch, s]) for s in (NONE, *profile.skills) if (ch, s) in index)
            for s, orders in sets:
                for order, items in orders.items():
                    if order == _BY_ID_SCORE:
                        if was != now:
                            key = self._index_key(agent, a, s, order)
                            if was:
                                items.remove(key)
                            if now:
                                items.add(key)
                        continue
                    new = new_keys.get(order)
                    if new is None:
                        new = new_keys[order] = self._key(agent, a, order)
                    old = old_keys.get(order, new)
                    if was and now and old == new:
                        continue
                    if was:
                        items.remove(old)
                    if now:
                        items.add(new)
        agent.keys = new_keys
        agent.ready = now_ready

    def _join_profile(
        self, a: int, agent: _Agent, skills: dict[int, int], queues: frozenset[int]
    ) -> None:
        channels = frozenset(ch for ch, cap in enumerate(agent.cap) if cap > 0)
        key = (tuple(sorted(skills.items())), queues, channels)
        p = self._profile_ids.get(key)
        if p is None:
            p = len(self._profiles)
            profile = _Profile(skills, queues, channels)
            self._profiles.append(profile)
            self._profile_ids[key] = p
            add_profile(self._index, p, channels, queues, skills)
            for g, sig in enumerate(self._sigs):
                if _compatible(profile, sig):
                    profile.signatures.append(g)
                    sig.profiles.append((p, skill_score(profile.skills, sig.requirements)))
                    sig.profile_set.add(p)
                    if sig.items:
                        profile.active.add(g)
        profile = self._profiles[p]
        profile.members.add(a)
        if agent.logged_in:
            profile.logged_in += 1
        agent.profile = p
        agent.ready = frozenset()
        agent.keys = {}
        self._refresh(a, agent)

    def _leave_profile(self, a: int, agent: _Agent) -> None:
        profile = self._profiles[agent.profile]
        was_available = agent.available
        agent.available = False
        self._refresh(a, agent)
        agent.available = was_available
        profile.members.discard(a)
        if agent.logged_in:
            profile.logged_in -= 1
        agent.profile = NONE

    # ------------------------------------------------------------------ checking

    def iter_waiting(self) -> Iterator[tuple[Key, int]]:
        """Every waiting contact as ``(key, handle)``, in no particular order. Cost: O(n)."""
        for c, (entry, _g, _t, _ch) in self._contacts.items():
            yield (entry[0], entry[1], entry[2]), c

    def check(self) -> None:
        """Assert every internal invariant (for tests). Cost: O(n log n)."""
        count = sum(len(s.items) for s in self._sigs) + sum(
            len(t) for by_channel in self._targeted.values() for t in by_channel.values()
        )
        assert count == len(self._contacts), (count, len(self._contacts))
        for by_channel in self._targeted.values():
            assert by_channel and all(by_channel.values()), "empty reservation lists kept"
        for c, (entry, g, target, ch) in self._contacts.items():
            assert entry[3] == c
            assert entry in self._items(g, target, ch)
        for a, agent in self._agents.items():
            profile = self._profiles[agent.profile]
            assert a in profile.members
            assert agent.total == sum(agent.load)
            assert agent.units == sum(n * self._cost[ch] for ch, n in enumerate(agent.load))
            for ch in profile.channels:
                ready = self._spare(agent, ch)
                assert (ch in agent.ready) == ready, (a, ch)
                for order, items in profile.ready[ch].items():
                    assert (self._key(agent, a, order) in items) == ready, (a, ch, order)
        for (ch, s), orders in self._skill_index.items():
            for order, items in orders.items():
                expect = sorted(
                    self._index_key(agent, a, s, order)
                    for a, agent in self._agents.items()
                    if ch in agent.ready
                    and (s == NONE or s in self._profiles[agent.profile].skills)
                )
                assert list(items) == expect, ("skill index", ch, s, order)
        for p, profile in enumerate(self._profiles):
            assert profile.logged_in == sum(self._agents[a].logged_in for a in profile.members)
            assert profile.active == {g for g in profile.signatures if self._sigs[g].items}, p
            for ch, orders in profile.ready.items():
                sizes = {len(items) for items in orders.values()}
                assert len(sizes) == 1, (p, ch, sizes)
