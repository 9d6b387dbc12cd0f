"""A brute-force reference for the routing policies: who may take a waiting contact, and why not.

:func:`reference_verdicts` answers, for one waiting contact, the question
:meth:`Router.explain <ccroute.Router.explain>` answers, but from the
specification (docs/policies/, docs/routing.md, docs/explain.md) and the
router's *public* state only: :meth:`Router.contact`, :meth:`Router.agent`,
:attr:`Router.agent_ids`, :meth:`Router.waiting`, :meth:`Router.exclusions`,
:attr:`Router.policy`, :meth:`Router.queue_config`, :attr:`Router.channels`
and :attr:`Router.now`. What those views do not carry is followed by a
:class:`Watch` from the calls made and the events seen: the :class:`Agent`
and :class:`Contact` specs given (queue delays, a contact's own exclusions)
and which agents are ramping up. Nothing is cached and nothing is shared with
the router's code: every verdict is a scan of every agent (and, for channel
reservation, of every waiting contact times every agent).

Rules, restated so the code can be read against the specification. Only
logged-in agents (available or not ready) get a verdict; an agent with no
reason is *eligible*. For a waiting contact ``c`` in queue ``Q`` on channel
``ch`` and a logged-in agent ``a``:

* **reserved for another agent** (RESERVED_FOR_OTHER): ``c`` is reserved for
  an agent (preferred agent, direct transfer) other than ``a``. For a
  reserved contact membership and skills are not asked of its target;
* **membership** (NOT_A_MEMBER): ``c`` is not reserved and ``a`` is a member
  of none of the queues that may take ``c`` now (its queue plus those its
  routing steps added);
* **skills / levels**: ``c`` is not reserved and, for each skill ``c``
  requires now, ``a`` lacks it (MISSING_SKILL) or has it below the level
  (LEVEL_TOO_LOW);
* **not ready** (NOT_READY): ``a`` is logged in but not available;
* **capacity** (NO_CAPACITY): ``a`` is available but has no *spare
  capacity* on ``ch``: ``load[ch] >= capacity[ch]``, or it holds anything on
  an exclusive channel, or ``ch`` is exclusive and it holds anything at all,
  or, with a unit budget, ``units used + unit cost of ch > budget``
  (tests/reference.py's rules). Not asked of an agent that is not ready;
* **blocking matrix** (BLOCKED_CHANNEL): ``a`` holds work (offered, in
  service or wrap-up) on a channel ``h`` whose blocked set contains ``ch``,
  in the router-wide matrix (``RoutingPolicy.blocking``) or ``Q``'s own
  (``QueueConfig.blocking``: it adds to the router-wide one, for ``Q``'s
  contacts only);
* **reservation** (RESERVED_CHANNEL): ``ch`` is not a reserved channel and
  ``a`` is *kept free* for some waiting contact ``r`` on a reserved channel
  (``RoutingPolicy.reserve_for``): ``a`` is logged in, has capacity > 0 on
  ``r``'s channel, is ``r``'s reservation target (if ``r`` is reserved) or a
  member of ``r``'s queues with ``r``'s skills (if not), and is neither
  excluded for ``r``, nor rejection-barred for ``r``, nor still within its
  queue delay for ``r``'s queue (each as below, for ``r``);
* **ramping with an open offer** (RAMPING_UP): ``a`` is ramping up
  (``RoutingPolicy.ramp_up``: it became available and neither
  :class:`RampUpEnded` nor a change away from available has been seen since)
  and holds at least one unanswered offer. A ramp ends (RampUpEnded) exactly
  ``seconds`` after it began (reason ``"time"``) or at the ``accepted``-th
  accept (reason ``"accepted"``), whichever comes first; an absence cancels
  it with no event (:meth:`Watch.apply_one`, :meth:`Watch.check_ramps`);
* **exclusions** (EXCLUDED): ``a`` is in ``c``'s own ``excluded_agents`` or
  excluded for ``c``'s customer (:meth:`Router.exclusions`);
* **rejection bar** (REJECTED_BEFORE): ``a`` rejected ``c`` or let its offer
  time out (``ContactView.rejected_by``), *unless no one else can take it*:
  the bar holds only while another logged-in agent ``b`` -- not excluded for
  ``c`` and not itself in ``rejected_by`` -- *could ever* take ``c``: capacity
  > 0 on ``ch``, a member of ``c``'s queues with its skills; ``b``'s load and
  readiness are ignored (and so is ``c``'s reservation);
* **queue delay** (QUEUE_DELAY): ``a``'s ``queue_delays`` give ``Q`` a delay
  ``d > 0`` and ``c`` has waited less than ``d`` seconds in ``Q`` (since
  ``entered_at``).

An agent's own reasons (:func:`reference_agent_reasons`, what
:meth:`Router.explain_agent` puts before the contacts): not ready; ramping
up with an offer open; available with spare capacity on no channel.

``held_back`` (:func:`reference_held_back`) is the set of *hold-back*
reasons (the policies: blocked channel, reserved channel, ramping up,
excluded, rejected before, queue delay, reserved for another agent) of the
agents whose reasons are all hold-backs, in :class:`NotEligible` order.

The queue policies, for the checks around submit and leaving:

* **admission** (:func:`reference_admission`): a contact is refused with
  ``"queue full"`` when its queue's waiting and offered contacts number
  ``max_size`` or more; then, with ``Admission.LOGGED_IN``, ``"no agent
  logged in"`` when no member of the queue is logged in; with
  ``Admission.ELIGIBLE``, ``"no eligible agent"`` when no logged-in agent,
  not excluded, could ever take it in that queue;
* **skip if no agent** (:func:`someone_could_ever_take`): a waiting,
  unreserved contact of a ``skip_if_no_agent`` queue has a logged-in agent,
  not excluded, who could ever take it (as for the rejection bar), once the
  router has looked at it (see tests/test_policy_reference.py);
* **maximum wait** (:func:`max_wait`): the contact's own ``max_wait``, else
  its queue's; a contact still waits only while it has waited less than that
  in its current queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ccroute import (
    Accepted,
    Admission,
    AgentView,
    Contact,
    ContactState,
    ContactView,
    NotEligible,
    Presence,
    PresenceChanged,
    RampUp,
    RampUpEnded,
    Router,
)
from ccroute.events import AgentAdded, AgentRemoved, Event, Queued
from ccroute.model import Agent

__all__ = [
    "HOLD_BACK_REASONS",
    "Watch",
    "could_ever_take",
    "excluded_for",
    "fits",
    "max_wait",
    "reference_agent_reasons",
    "reference_admission",
    "reference_held_back",
    "reference_verdicts",
    "someone_could_ever_take",
    "spare",
]

#: The policies among the reasons (restated from the specification, not imported).
HOLD_BACK_REASONS: frozenset[NotEligible] = frozenset(
    {
        NotEligible.BLOCKED_CHANNEL,
        NotEligible.RESERVED_CHANNEL,
        NotEligible.RAMPING_UP,
        NotEligible.EXCLUDED,
        NotEligible.REJECTED_BEFORE,
        NotEligible.QUEUE_DELAY,
        NotEligible.RESERVED_FOR_OTHER,
    }
)


class Watch:
    """What the reference knows beyond the router's views, from calls and events.

    The driver hands it every :class:`Agent` it adds and every
    :class:`Contact` it submits (:meth:`offer_specs`, before :meth:`apply`
    sees the call's events) and every batch of events, in order.
    """

    def __init__(self, *, ramp_up: RampUp | None) -> None:
        self.ramp_up = ramp_up
        #: Agent specs of the agents that exist, by id.
        self.agents: dict[str, Agent] = {}
        #: Contact specs of every contact ever queued, by id.
        self.contacts: dict[str, Contact] = {}
        #: Agents ramping up now: when the ramp began, contacts accepted since.
        self.ramping: dict[str, list[float]] = {}
        self._pending_agents: dict[str, Agent] = {}
        self._pending_contacts: dict[str, Contact] = {}

    def offer_specs(self, *, agent: Agent | None = None, contact: Contact | None = None) -> None:
        """The spec a call is about to use; kept if its events show it was taken."""
        if agent is not None:
            self._pending_agents[agent.id] = agent
        if contact is not None:
            self._pending_contacts[contact.id] = contact

    def apply(self, events: Iterable[Event]) -> None:
        """Follow one call's events, in order."""
        for e in events:
            self.apply_one(e)
        self.end_call()

    def end_call(self) -> None:
        """Forget the specs the call did not take (it raised or was refused)."""
        self._pending_agents.clear()
        self._pending_contacts.clear()

    def apply_one(self, e: Event) -> None:
        """Follow one event (for drivers that check something between events)."""
        if isinstance(e, AgentAdded):
            self.agents[e.agent_id] = self._pending_agents[e.agent_id]
        elif isinstance(e, AgentRemoved):
            del self.agents[e.agent_id]
            assert e.agent_id not in self.ramping, e  # it logged off first
        elif isinstance(e, Queued):
            self.contacts[e.contact_id] = self._pending_contacts[e.contact_id]
        elif isinstance(e, PresenceChanged):
            if e.new is Presence.AVAILABLE and self.ramp_up is not None:
                self.ramping[e.agent_id] = [e.at, 0]
            elif e.new is not Presence.AVAILABLE:
                self.ramping.pop(e.agent_id, None)  # an absence cancels it silently
        elif isinstance(e, Accepted):
            if e.agent_id in self.ramping:
                self.ramping[e.agent_id][1] += 1
        elif isinstance(e, RampUpEnded):
            ramp = self.ramp_up
            assert e.agent_id in self.ramping, f"a ramp ended that was not running: {e}"
            began, accepted = self.ramping.pop(e.agent_id)
            assert ramp is not None, e
            if e.reason == "time":
                assert ramp.seconds is not None and e.at == began + ramp.seconds, (e, began)
            else:
                assert e.reason == "accepted" and accepted == ramp.accepted, (e, accepted)

    def check_ramps(self, now: float) -> None:
        """No ramp outlived its limits: each ends when the first is reached."""
        ramp = self.ramp_up
        for agent_id, (began, accepted) in self.ramping.items():
            assert ramp is not None
            if ramp.seconds is not None:
                assert now < began + ramp.seconds, (agent_id, began, now)
            if ramp.accepted is not None:
                assert accepted < ramp.accepted, (agent_id, accepted)

    def delay(self, agent_id: str, queue: str) -> float:
        """The agent's delay for ``queue`` (0: none)."""
        return dict(self.agents[agent_id].queue_delays).get(queue, 0.0)


# ------------------------------------------------------------------ the rules


def fits(
    requirements: Mapping[str, int],
    queues: Iterable[str],
    skills: Mapping[str, int],
    member_of: Iterable[str],
) -> bool:
    """Membership and skills: a member of one of ``queues`` with every required level."""
    if set(member_of).isdisjoint(queues):
        return False
    return all(skills.get(s, 0) >= level for s, level in requirements.items())


def excluded_for(router: Router, spec: Contact) -> frozenset[str]:
    """Agents never to be offered this contact: its own exclusions and its customer's."""
    found = set(spec.excluded_agents)
    if spec.customer_id is not None:
        found |= router.exclusions(spec.customer_id)
    return frozenset(found)


def spare(
    agent: AgentView, channel: str, costs: Mapping[str, int], exclusive: Mapping[str, bool]
) -> bool:
    """Whether an available agent could take one more contact on ``channel`` now."""
    if agent.presence is not Presence.AVAILABLE:
        return False
    load = agent.load
    if load.get(channel, 0) >= agent.capacity.get(channel, 0):
        return False
    if any(n and exclusive[ch] for ch, n in load.items()):
        return False
    if exclusive[channel] and any(load.values()):
        return False
    if agent.unit_budget is not None:
        units = sum(n * costs[ch] for ch, n in load.items())
        if units + costs[channel] > agent.unit_budget:
            return False
    return True


def could_ever_take(agent: AgentView, contact: ContactView) -> bool:
    """Logged in, capacity > 0 on the channel, a member with the skills (load ignored)."""
    return (
        agent.presence is not Presence.OFFLINE
        and agent.capacity.get(contact.channel, 0) > 0
        and fits(contact.requirements, contact.queues, agent.skills, agent.queues)
    )


class _State:
    """The public state read once for one verdict computation."""

    def __init__(self, router: Router, watch: Watch) -> None:
        self.router = router
        self.watch = watch
        self.now = router.now
        self.policy = router.policy
        self.costs = {ch.name: ch.unit_cost for ch in router.channels}
        self.exclusive = {ch.name: ch.exclusive for ch in router.channels}
        self.agents = {a: router.agent(a) for a in router.agent_ids}
        self.logged_in = {
            a: v for a, v in self.agents.items() if v.presence is not Presence.OFFLINE
        }
        self.waiting = router.waiting()

    def excluded(self, contact: ContactView) -> frozenset[str]:
        return excluded_for(self.router, self.watch.contacts[contact.id])

    def rejection_barred(self, contact: ContactView, agent_id: str) -> bool:
        if agent_id not in contact.rejected_by:
            return False
        excluded = self.excluded(contact)
        return any(
            b not in contact.rejected_by and b not in excluded and could_ever_take(view, contact)
            for b, view in self.logged_in.items()
        )

    def delayed(self, contact: ContactView, agent_id: str) -> bool:
        d = self.watch.delay(agent_id, contact.queue)
        return d > 0 and self.now - contact.entered_at < d

    def blocked(self, contact: ContactView, agent: AgentView) -> bool:
        matrices = [self.policy.blocking, self.router.queue_config(contact.queue).blocking]
        for matrix in matrices:
            for holding, blocked in matrix:
                if agent.load.get(holding, 0) > 0 and contact.channel in blocked:
                    return True
        return False

    def kept_free(self, agent: AgentView) -> bool:
        """Whether some waiting reserved-channel contact keeps this agent free."""
        reserved = self.policy.reserve_for
        for r in self.waiting:
            if r.channel not in reserved:
                continue
            if agent.presence is Presence.OFFLINE or agent.capacity.get(r.channel, 0) <= 0:
                continue
            if r.reserved_for is not None:
                if r.reserved_for != agent.id:
                    continue
            elif not fits(r.requirements, r.queues, agent.skills, agent.queues):
                continue
            if agent.id in self.excluded(r):
                continue
            if self.rejection_barred(r, agent.id) or self.delayed(r, agent.id):
                continue
            return True
        return False

    def verdict(self, contact: ContactView, agent: AgentView) -> frozenset[NotEligible]:
        reasons: set[NotEligible] = set()
        if contact.reserved_for is not None:
            if contact.reserved_for != agent.id:
                reasons.add(NotEligible.RESERVED_FOR_OTHER)
        else:
            if set(agent.queues).isdisjoint(contact.queues):
                reasons.add(NotEligible.NOT_A_MEMBER)
            for skill, level in contact.requirements.items():
                has = agent.skills.get(skill)
                if has is None:
                    reasons.add(NotEligible.MISSING_SKILL)
                elif has < level:
                    reasons.add(NotEligible.LEVEL_TOO_LOW)
        if agent.presence is Presence.NOT_READY:
            reasons.add(NotEligible.NOT_READY)
        elif not spare(agent, contact.channel, self.costs, self.exclusive):
            reasons.add(NotEligible.NO_CAPACITY)
        if self.blocked(contact, agent):
            reasons.add(NotEligible.BLOCKED_CHANNEL)
        if contact.channel not in self.policy.reserve_for and self.kept_free(agent):
            reasons.add(NotEligible.RESERVED_CHANNEL)
        if agent.id in self.watch.ramping and agent.offered:
            reasons.add(NotEligible.RAMPING_UP)
        if agent.id in self.excluded(contact):
            reasons.add(NotEligible.EXCLUDED)
        if self.rejection_barred(contact, agent.id):
            reasons.add(NotEligible.REJECTED_BEFORE)
        if self.delayed(contact, agent.id):
            reasons.add(NotEligible.QUEUE_DELAY)
        return frozenset(reasons)


def reference_verdicts(
    router: Router, contact_id: str, watch: Watch
) -> dict[str, frozenset[NotEligible]]:
    """Every logged-in agent's reasons it cannot be offered this waiting contact now.

    An empty set means the agent is eligible. Computed by brute force from
    the router's public state and what ``watch`` followed.
    """
    contact = router.contact(contact_id)
    if contact.state is not ContactState.WAITING:
        raise ValueError(f"contact {contact_id!r} is {contact.state.value}, not waiting")
    state = _State(router, watch)
    return {a: state.verdict(contact, view) for a, view in sorted(state.logged_in.items())}


def reference_agent_reasons(router: Router, agent_id: str, watch: Watch) -> frozenset[NotEligible]:
    """Why a logged-in agent takes nothing at all now, whatever the contact:
    not ready; ramping up with an offer open; available with spare capacity on
    no channel."""
    agent = router.agent(agent_id)
    state = _State(router, watch)
    reasons: set[NotEligible] = set()
    if agent.presence is Presence.NOT_READY:
        reasons.add(NotEligible.NOT_READY)
    if agent_id in watch.ramping and agent.offered:
        reasons.add(NotEligible.RAMPING_UP)
    if agent.presence is Presence.AVAILABLE and not any(
        spare(agent, ch, state.costs, state.exclusive) for ch in state.costs
    ):
        reasons.add(NotEligible.NO_CAPACITY)
    return frozenset(reasons)


def reference_held_back(verdicts: Mapping[str, frozenset[NotEligible]]) -> tuple[NotEligible, ...]:
    """The hold-backs of agents held back by policies only, in :class:`NotEligible` order."""
    held: set[NotEligible] = set()
    for reasons in verdicts.values():
        if reasons and reasons <= HOLD_BACK_REASONS:
            held |= reasons
    return tuple(r for r in NotEligible if r in held)


# ------------------------------------------------------- the queue policies


def someone_could_ever_take(router: Router, contact: ContactView, excluded: Iterable[str]) -> bool:
    """The router's any-logged-in check: a logged-in agent, not excluded, who could
    ever take the contact (capacity > 0 on its channel, a member with its skills)."""
    barred = set(excluded)
    for agent_id in router.agent_ids:
        if agent_id not in barred and could_ever_take(router.agent(agent_id), contact):
            return True
    return False


def reference_admission(router: Router, contact: Contact) -> str | None:
    """Why the queue refuses ``contact`` now (the Refused reason), or None to admit it.

    The size limit counts the queue's waiting and offered contacts; then
    LOGGED_IN asks for a logged-in member of the queue and ELIGIBLE for a
    logged-in agent, not excluded, who could ever take the contact in that
    queue (its own requirements, load and readiness ignored).
    """
    config = router.queue_config(contact.queue)
    present = 0
    for cid in router.contact_ids:
        view = router.contact(cid)
        if view.queue == contact.queue and view.state in (
            ContactState.WAITING,
            ContactState.OFFERED,
        ):
            present += 1
    if config.max_size is not None and present >= config.max_size:
        return "queue full"
    agents = [router.agent(a) for a in router.agent_ids]
    if config.admission is Admission.LOGGED_IN and not any(
        v.presence is not Presence.OFFLINE and contact.queue in v.queues for v in agents
    ):
        return "no agent logged in"
    if config.admission is Admission.ELIGIBLE:
        excluded = excluded_for(router, contact)
        if not any(
            v.id not in excluded
            and v.presence is not Presence.OFFLINE
            and v.capacity.get(contact.channel, 0) > 0
            and fits(dict(contact.requirements), {contact.queue}, v.skills, v.queues)
            for v in agents
        ):
            return "no eligible agent"
    return None


def max_wait(router: Router, contact: ContactView, spec: Contact) -> float | None:
    """The contact's maximum wait in its current queue: its own, else the queue's."""
    if spec.max_wait is not None:
        return spec.max_wait
    return router.queue_config(contact.queue).max_wait
