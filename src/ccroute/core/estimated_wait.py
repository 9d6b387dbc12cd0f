"""The estimated wait time (EWT): how long a waiting contact has still to wait.

Three parts, all owned by the :class:`~ccroute.Router` (docs/estimated-wait.md):

- :class:`HandleTimes` learns, from the router's own completions, how long
  a contact holds an agent's slot: from its acceptance to the end of its
  wrap-up (talk + wrap-up), per queue and channel, as a running mean over
  the first ``HANDLE_TIME_WINDOW`` contacts and an exponentially
  weighted mean (weight ``1/HANDLE_TIME_WINDOW``) from then on.
- :class:`Patience` learns how fast each queue's waiting contacts abandon:
  abandonments over seconds waited, weighted towards the latest.
- :class:`WaitEstimator` answers the question, reading the router's records
  and the two learners; it changes nothing a routing decision reads.

Learning is deterministic (the same calls give the same figures), the
figures are in the router's state document
(:class:`~ccroute.snapshot.HandleTimeRecord`,
:class:`~ccroute.snapshot.AbandonmentRecord`) and a replay of the log learns
them again.

The method, for a contact ``c`` waiting with key ``k`` (the documentation
page says it at length):

1. Its *pool* is the agents who could take it: available (not-ready and
   offline agents are not counted), members of its queue or of a queue a
   routing step added, with every required skill at the required level and
   capacity on its channel. When one of them has room for it now (the
   queue's ``has_spare``), the estimate is 0.
2. Each pool agent frees slots at the sum of ``1 / H(queue, channel)`` over
   the contacts it holds (offered, in service, in wrap-up), ``H`` the
   learned handle time: wrap-up is in ``H``, concurrency in the count, a
   slower queue's contacts in their ``H``.
3. The contacts ahead (key below ``k``, any queue) are grouped by what they
   require; agents outside the pool drain the groups they could take too.
4. The pool reaches ``c`` when it has freed one slot more than the contacts
   ahead it must take itself, less those who abandon on the way
   (:func:`_abandoning`, :func:`_time_to_serve`); this is worked out for
   the whole pool and for each part of it that serves fewer of the groups
   ahead, and the soonest counts (:func:`_stage_time`). With exponential
   handle times and one queue, a contact at position ``p`` among ``N`` busy
   agents gets ``p H / N``, its mean wait.
5. Routing steps still to come (``c``'s and those of the contacts ahead)
   change the pools at known times: the estimate goes stage by stage.

``None`` means no estimate is possible: the router has not yet learned any
handle time, or no agent could ever take the contact (an empty pool at
every stage).

What it leaves out (docs/estimated-wait.md, "Limits"): arrivals to come
(a VIP that will overtake ``c``), offers that will be declined or time out,
and the policies that hold a contact back from a free agent (queue delays,
reservation, exclusions): with one of those the estimate may be 0 while the
contact still waits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final

from ..lifecycle import ContactState
from ..model import Presence

if TYPE_CHECKING:
    from .._codes import Key
    from .._queue_protocol import QueueBackend
    from ..model import QueueConfig, RoutingStep
    from .router import _AgentRec, _ContactRec, _QueueRec

__all__ = ["HANDLE_TIME_WINDOW", "PATIENCE_WINDOW", "HandleTimes", "Patience", "WaitEstimator"]

#: The number of completed contacts the learned handle time averages over: a
#: running mean over the first ones of a queue and channel, then an
#: exponentially weighted mean with weight ``1 / HANDLE_TIME_WINDOW``.
HANDLE_TIME_WINDOW: Final = 200

#: About how many contacts that left a queue (answered or abandoned) the
#: learned abandonment rate weighs: each new one counts ``1 / PATIENCE_WINDOW``
#: of the sums, the older ones ``1 - 1 / PATIENCE_WINDOW`` less each time.
PATIENCE_WINDOW: Final = 1000

# The shortest handle time the estimate divides by, in seconds.
_SHORTEST: Final = 1e-3

# A group of contacts ahead: how many, their pool (agent -> rate), and how
# fast they abandon (per second).
_Group = tuple[int, dict[str, float], float]

_WAITING: Final = ContactState.WAITING
_OFFERED: Final = ContactState.OFFERED
_AVAILABLE: Final = Presence.AVAILABLE


class HandleTimes:
    """The learned mean handle time (talk + wrap-up) per queue and channel.

    ``means[(queue, channel)]`` is ``(count, mean)``: the contacts learned
    from and their mean. Cost: O(1) per completion.
    """

    __slots__ = ("means",)

    def __init__(self) -> None:
        self.means: dict[tuple[str, str], tuple[int, float]] = {}

    def learn(self, queue: str, channel: str, seconds: float) -> None:
        """A contact of ``queue`` on ``channel`` held its slot ``seconds`` (acceptance
        to the end of wrap-up)."""
        key = (queue, channel)
        count, mean = self.means.get(key, (0, 0.0))
        count += 1
        self.means[key] = (count, mean + (seconds - mean) / min(count, HANDLE_TIME_WINDOW))

    def mean(self, queue: str, channel: str) -> float | None:
        """The learned handle time of ``queue`` on ``channel``; before its first
        completion, the channel's over every queue, or before the channel's
        first, every channel's (each mean weighted by its count, up to the
        window); ``None`` before the router's first completion.
        Cost: O(1), or O(queues x channels learned) for a fallback.
        """
        found = self.means.get((queue, channel))
        if found is not None:
            return found[1]
        mean = self.pooled(channel)
        return mean if mean is not None else self.pooled(None)

    def pooled(self, channel: str | None) -> float | None:
        """The handle time on ``channel`` over every queue (``None``: over every
        channel too), or ``None`` before a completion there. Cost: O(queues x
        channels learned).
        """
        # fsum: the same figures in any order (a restored router's) give the same mean
        found = [
            (min(count, HANDLE_TIME_WINDOW), mean)
            for (_queue, ch), (count, mean) in self.means.items()
            if channel is None or ch == channel
        ]
        weight = sum(n for n, _mean in found)
        return math.fsum(n * mean for n, mean in found) / weight if weight else None

    def load(self, records: Iterable[tuple[str, str, int, float]]) -> None:
        """Start again from ``(queue, channel, count, mean)`` records (a restore)."""
        self.means = {(q, ch): (count, mean) for q, ch, count, mean in records}

    def records(self) -> list[tuple[str, str, int, float]]:
        """``(queue, channel, count, mean)`` per queue and channel, sorted (a snapshot)."""
        return [(q, ch, count, mean) for (q, ch), (count, mean) in sorted(self.means.items())]


class Patience:
    """How fast the waiting contacts of each queue and channel abandon.

    ``sums[(queue, channel)]`` is ``(abandoned, waited)``: the contacts that
    abandoned and the seconds every contact that left the queue (answered or
    abandoned) had waited there, both weighted towards the latest
    (:data:`PATIENCE_WINDOW`). Their ratio is the abandonment rate per second
    of waiting (the maximum-likelihood rate of an exponential patience).
    Cost: O(1) per contact.
    """

    __slots__ = ("sums",)

    def __init__(self) -> None:
        self.sums: dict[tuple[str, str], tuple[float, float]] = {}

    def left(self, queue: str, channel: str, waited: float, abandoned: bool) -> None:
        """A contact of ``queue`` on ``channel`` left it after ``waited`` seconds,
        answered or ``abandoned``."""
        key = (queue, channel)
        gone, total = self.sums.get(key, (0.0, 0.0))
        keep = 1.0 - 1.0 / PATIENCE_WINDOW
        self.sums[key] = (gone * keep + (1.0 if abandoned else 0.0), total * keep + waited)

    def rate(self, queue: str, channel: str) -> float:
        """Abandonments per second of waiting (0 before any, or with no time waited)."""
        gone, total = self.sums.get((queue, channel), (0.0, 0.0))
        return gone / total if total > 0 else 0.0

    def load(self, records: Iterable[tuple[str, str, float, float]]) -> None:
        """Start again from ``(queue, channel, abandoned, waited)`` records (a restore)."""
        self.sums = {(q, ch): (gone, total) for q, ch, gone, total in records}

    def records(self) -> list[tuple[str, str, float, float]]:
        """``(queue, channel, abandoned, waited)`` per queue and channel, sorted (a snapshot)."""
        return [(q, ch, gone, total) for (q, ch), (gone, total) in sorted(self.sums.items())]


class WaitEstimator:
    """Answers the router's estimated-wait questions (see the module documentation).

    It reads the router's records, the queue's ``has_spare`` and the learned
    handle times, and changes nothing. Both queue twins give the same numbers:
    the only question put to the queue is ``has_spare``, which they answer
    alike.

    :param agents: the router's agents by id.
    :param contacts: the router's live contacts by id.
    :param queues: the router's queues by name.
    :param queue: the universal queue.
    :param channel_ids: the router's channel numbers by name.
    :param handle_times: the learned handle times.
    :param patience: the learned abandonment rates.
    :param version: the router's count of changes (one per call that may
        change it): the pools and rates worked out are kept while it stays
        the same.
    """

    __slots__ = (
        "_agents",
        "_channel_ids",
        "_contacts",
        "_pools",
        "_queue",
        "_queues",
        "_rates",
        "_seen",
        "_version",
        "handle_times",
        "patience",
    )

    def __init__(
        self,
        agents: Mapping[str, _AgentRec],
        contacts: Mapping[str, _ContactRec],
        queues: Mapping[str, _QueueRec],
        queue: QueueBackend,
        channel_ids: Mapping[str, int],
        handle_times: HandleTimes,
        patience: Patience,
        version: Callable[[], int],
    ) -> None:
        self._agents = agents
        self._contacts = contacts
        self._queues = queues
        self._queue = queue
        self._channel_ids = channel_ids
        self.handle_times = handle_times
        self.patience = patience
        self._version = version
        self._seen = -1
        # pools by (channel, queues, requirements, target): the agents and
        # their rates, and whether one has room now; and each agent's rate
        self._pools: dict[tuple[object, ...], tuple[dict[str, float] | None, bool]] = {}
        self._rates: dict[str, float] = {}

    # ------------------------------------------------------------ questions

    def for_contact(self, rec: _ContactRec, now: float) -> float | None:
        """The estimate for a live contact: 0 once offered, else as the module
        says. Cost: O(C + S x A x R) for C live contacts, S distinct
        (requirements, queues) among the waiting ones ahead, A agents and R
        required skills, times one more for each routing step to come.
        """
        if rec.state is _OFFERED:
            return 0.0
        config = self._queues[rec.queue].config
        return self._estimate(
            rec.channel,
            rec.queue,
            rec.requirements,
            rec.extra_queues,
            rec.target,
            rec.key,
            rec.spec.id,
            config,
            rec.steps_applied,
            rec.entered_at,
            now,
        )

    def for_prospect(
        self,
        queue: str,
        channel: str,
        requirements: Mapping[str, int],
        key: Key | tuple[int, float, float],
        now: float,
        ahead: int | None = None,
    ) -> float | None:
        """The estimate for a contact that would enter ``queue`` now with
        ``requirements`` and sort ``key``, behind every contact waiting with
        the same key; ``ahead``, when given, replaces the contacts ahead of it
        by that many of its own kind. Cost: as :meth:`for_contact`.
        """
        config = self._queues[queue].config
        return self._estimate(
            channel, queue, requirements, frozenset(), None, key, None, config, 0, now, now, ahead
        )

    # ------------------------------------------------------------ the method

    def _estimate(
        self,
        channel: str,
        queue: str,
        requirements: Mapping[str, int],
        extra: frozenset[str],
        target: str | None,
        key: Key | tuple[int, float, float],
        own_id: str | None,
        config: QueueConfig,
        steps_applied: int,
        entered_at: float,
        now: float,
        ahead: int | None = None,
    ) -> float | None:
        try:
            # The pools at each stage: now, then after each routing step to come.
            stages: list[tuple[float, frozenset[str], dict[str, int]]] = [
                (now, frozenset({queue}) | extra, dict(requirements))
            ]
            if target is None:
                reqs: Mapping[str, int] = requirements
                queues = stages[0][1]
                for step in config.steps[steps_applied:]:
                    reqs, queues = _stepped(reqs, queues, (step,))
                    stages.append((max(now, entered_at + step.after), queues, dict(reqs)))
            version = self._version()
            if version != self._seen:
                # the router changed since: the pools and rates with it
                self._pools.clear()
                self._rates.clear()
                self._seen = version
            ahead_recs = (
                []
                if ahead is not None
                else [
                    r
                    for r in self._contacts.values()
                    if r.state is _WAITING and r.key < key and r.spec.id != own_id
                ]
            )
            left = 1.0  # the share of the work still to do
            for index, (start, queues, reqs) in enumerate(stages):
                last = index + 1 == len(stages)
                end = math.inf if last else stages[index + 1][0]
                if end <= start:
                    continue  # a later step applies at the same instant
                pool = self._pool(channel, queues, reqs, target)
                if pool is None:
                    return start - now  # someone has room for it then
                groups = (
                    [(ahead, pool, self.patience.rate(queue, channel))]
                    if ahead is not None
                    else self._groups(ahead_recs, start)
                )
                needed = _stage_time(left, pool, groups)
                if math.isinf(needed):
                    if last:
                        return None
                    continue
                if start + needed <= end:
                    return (start - now) + needed
                left *= 1.0 - (end - start) / needed
            return None
        except _Unknown:
            return None

    def _groups(self, ahead: list[_ContactRec], at: float) -> list[_Group]:
        """The contacts ``ahead`` in groups alike at time ``at`` (queue,
        signature, target and the routing steps they will have taken by then):
        each group's count, its pool (the agents who could take them and their
        rates) and its abandonment rate. Cost: O(C) plus O(A x R) per group."""
        counts: dict[tuple[str, str, int, str | None, int], int] = {}
        owners: dict[tuple[str, str, int, str | None, int], dict[str, float]] = {}
        queues = self._queues
        for r in ahead:
            steps = queues[r.queue].config.steps
            more = 0
            if r.target is None:
                while (
                    r.steps_applied + more < len(steps)
                    and r.entered_at + steps[r.steps_applied + more].after <= at
                ):
                    more += 1
            group = (r.queue, r.channel, r.sig, r.target, more)
            if group in counts:
                counts[group] += 1
                continue
            reqs: Mapping[str, int] = r.requirements
            served = frozenset({r.queue}) | r.extra_queues
            if more:
                reqs, served = _stepped(
                    reqs, served, steps[r.steps_applied : r.steps_applied + more]
                )
            own = self._pool(r.channel, served, reqs, r.target, spare=False)
            assert own is not None
            counts[group] = 1
            owners[group] = own
        rate = self.patience.rate
        return [(counts[group], own, rate(group[0], group[1])) for group, own in owners.items()]

    def _pool(
        self,
        channel: str,
        queues: frozenset[str],
        reqs: Mapping[str, int],
        target: str | None,
        *,
        spare: bool = True,
    ) -> dict[str, float] | None:
        """The agents who could take such a contact and the rate each frees slots
        at, or ``None`` (with ``spare``) when one of them has room now, which
        answers before any handle time is needed; raises ``_Unknown`` when one
        is needed and not learned yet. Kept until an agent or a contact's work
        changes. Cost: O(A x R), or O(R) when kept."""
        cache_key = (channel, queues, tuple(sorted(reqs.items())), target)
        found = self._pools.get(cache_key)
        if found is None:
            found = self._pools[cache_key] = self._find_pool(channel, queues, reqs, target)
        pool, room = found
        if spare and room:
            return None
        if pool is None:
            raise _Unknown
        return pool

    def _find_pool(
        self, channel: str, queues: frozenset[str], reqs: Mapping[str, int], target: str | None
    ) -> tuple[dict[str, float] | None, bool]:
        """The pool and whether one of its agents has room now; the pool is
        ``None`` when a handle time it needs is not learned yet (an agent with
        room answers the estimate without it)."""
        ch = self._channel_ids[channel]
        pool: dict[str, float] = {}
        room = unknown = False
        candidates = (
            self._agents.values()
            if target is None
            else [self._agents[target]]
            if target in self._agents
            else []
        )
        rates = self._rates
        for agent in candidates:
            if (
                agent.presence is not _AVAILABLE
                or agent.capacity.get(channel, 0) <= 0
                or queues.isdisjoint(agent.spec.queues)
                or any(agent.levels.get(s, 0) < level for s, level in reqs.items())
            ):
                continue
            if not room and self._queue.has_spare(agent.handle, ch):
                room = True
            if unknown:
                continue
            rate = rates.get(agent.spec.id)
            if rate is None:
                try:
                    rate = rates[agent.spec.id] = self._rate(agent)
                except _Unknown:
                    unknown = True
                    continue
            pool[agent.spec.id] = rate
        return (None if unknown else pool), room

    def _rate(self, agent: _AgentRec) -> float:
        """Slots per second ``agent`` frees: the sum of 1 / handle time over what it holds."""
        parts = []
        contacts = self._contacts
        mean = self.handle_times.mean
        for held in (agent.offered, agent.in_service, agent.wrap_up):
            for contact_id in held:
                rec = contacts[contact_id]
                h = mean(rec.queue, rec.channel)
                if h is None:
                    raise _Unknown
                # a handle time of 0 (work ended at once) counts as a millisecond
                parts.append(1.0 / max(h, _SHORTEST))
        # fsum: sets iterate in another order in a restored router
        return math.fsum(parts)


class _Unknown(Exception):
    """A handle time the estimate needs has not been learned yet."""


def _stepped(
    requirements: Mapping[str, int], queues: frozenset[str], steps: Iterable[RoutingStep]
) -> tuple[dict[str, int], frozenset[str]]:
    """Requirements and queues after ``steps`` (as the router applies a step)."""
    reqs = dict(requirements)
    for step in steps:
        for name, level in step.requirements:
            if level is None:
                reqs.pop(name, None)
            else:
                reqs[name] = level
        queues = queues | step.queues
    return reqs, queues


def _stage_time(left: float, pool: dict[str, float], groups: list[_Group]) -> float:
    """The time the agents of ``pool`` take to reach the contact, given the
    ``groups`` of contacts ahead (count, pool and abandonment rate of each),
    who may abandon on the way (:func:`_abandoning`): the shortest
    :func:`_time_to_serve` over the parts of ``pool`` that serve the same
    groups ahead or fewer (the whole pool among them), each part working
    through the groups it overlaps while the agents outside it drain them
    too. A part whose agents serve none of the groups ahead reaches the
    contact at its first free slot. ``inf`` when no agent of the pool frees
    slots at all. Cost: O(K x G x A) set operations (done in C) for K parts,
    G groups and A agents, and O(K x G log G) besides.
    """
    busy = {a for a, rate in pool.items() if rate > 0}
    # The agents split into classes by the groups ahead they serve: a group
    # every agent of the pool serves splits nothing.
    everyone = frozenset(i for i, (_n, own, _t) in enumerate(groups) if busy <= own.keys())
    classes: dict[frozenset[int], set[str]] = {}
    partial = [i for i, (_n, own, _t) in enumerate(groups) if i not in everyone]
    if partial:
        member: dict[str, set[int]] = {}
        for i in partial:
            for a in busy & groups[i][1].keys():
                member.setdefault(a, set()).add(i)
        for a in busy:
            classes.setdefault(everyone | member.get(a, set()), set()).add(a)
    elif busy:
        classes[everyone] = busy
    # How many contacts ahead an agent outside a part could take, over every
    # group: it splits its slots between them by their counts.
    load: dict[str, int] = {}

    def load_of(agent: str) -> int:
        found = load.get(agent)
        if found is None:
            found = load[agent] = sum(n for n, own, _t in groups if agent in own)
        return found

    best = math.inf
    for sigma in {*classes, frozenset(range(len(groups)))}:
        inside: set[str] = set()
        for served, agents in classes.items():
            if served <= sigma:
                inside |= agents
        if not inside:
            continue
        rate = math.fsum(pool[a] for a in inside)
        overlapping = []
        for n, own, theta in groups:
            if inside.isdisjoint(own):
                continue  # no agent of the part could take them
            drain = math.fsum(own[a] * n / load_of(a) for a in own.keys() - inside)
            overlapping.append((float(n), drain, theta))
        best = min(best, _abandoning(left, rate, overlapping))
    return best


def _time_to_serve(left: float, rate: float, groups: list[tuple[float, float]]) -> float:
    """The time ``T`` at which a pool freeing slots at ``rate`` has served the
    contact and the contacts ahead of it that fall to the pool: ``rate x T =
    left x (1 + sum over groups of max(0, count - drain x T / left))``, where a
    group's ``drain`` is the rate agents outside the pool take it at (``left``:
    the share of the work still to do, after earlier stages). Cost:
    O(G log G) for G groups.
    """
    active = sorted(
        ((left * n / d if d > 0 else math.inf), left * n, d) for n, d in groups if n > 0
    )
    work = left + math.fsum(n for _t, n, _d in active)
    speed = rate + math.fsum(d for _t, _n, d in active)
    while True:
        t = work / speed
        if not active or t <= active[0][0]:
            return t
        # the outside agents finish that group first: it takes nothing more of the pool
        _t, n, d = active.pop(0)
        work -= n
        speed -= d


def _abandoning(left: float, rate: float, groups: list[tuple[float, float, float]]) -> float:
    """:func:`_time_to_serve` when the contacts ahead abandon: a group of
    ``count`` contacts abandoning at ``theta`` per second counts as
    ``count x (1 - exp(-theta T)) / (theta T)`` (its contacts' chance of
    still waiting, averaged over the time ``T`` it takes to reach ours),
    solved for ``T`` by bisection. Cost: O(G log G) per step, 50 steps.
    """

    def served(t: float) -> float:
        shrunk = [(n * _survival(theta * t), drain) for n, drain, theta in groups]
        return _time_to_serve(left, rate, shrunk)

    high = served(0.0)  # nobody abandons: the longest it can take
    if not any(theta > 0 for _n, _d, theta in groups):
        return high
    low = 0.0
    # served(t) falls as t grows: the fixed point t = served(t) lies in [0, high]
    for _ in range(50):
        mid = (low + high) / 2
        if served(mid) > mid:
            low = mid
        else:
            high = mid
    return high


def _survival(x: float) -> float:
    """The mean of ``exp(-u)`` for ``u`` in ``[0, x]``."""
    if x < 1e-9:
        return 1.0
    return -math.expm1(-x) / x
