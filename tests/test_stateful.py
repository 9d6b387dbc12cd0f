"""A hypothesis state machine that drives every public Router call at random.

The machine starts from random routing policies (see docs/policies/):
a router-wide :class:`RoutingPolicy` (channel blocking, a reserved channel,
ramp-up), queues with ring-all, maximum wait and overflow, skip-if-no-agent,
admission rules, rejoin windows, cross-queue weights and their own blocking,
agents with queue delays, and contacts of a few customers with exclusions and
maximum waits. Each policy is often off, so the plain router stays in reach.

Every offer is checked as it is made (``ccroute.testing.watch_offers``):

* the agent is eligible for the contact (skills, membership, capacity, unit
  budget, exclusive channels, reservation, rejection bar) and no policy holds
  the contact back from it: the agent holds no work on a channel that blocks
  the contact's channel (router-wide or the contact's queue's matrix), is not
  excluded (by the contact or its customer), does not ramp up with an offer
  open, is not kept free for a reserved channel and its queue delay has passed
  (ring-all extras included);
* no waiting contact with a smaller key was eligible for that agent then,
  unless a policy held it back;
* the offer carries an :class:`OfferReason` that counts the eligible agents
  and names the policies that held someone back, as :meth:`Router.explain` does.

After every step it checks, from public views (and events) only:

* no agent is over capacity (per channel, unit budget, exclusive channels);
* every contact is in exactly one state, the agents' sets agree with the
  contacts' states and ring-all holders (never more than the queue's ring;
  a reserved contact is offered to its target only), the universal queue holds
  exactly the waiting ones, each in exactly one queue, and every contact the
  test submitted is live or has left with an event saying so;
* no open offer of a contact to an agent excluded for it, and a contact is
  never reserved for an excluded agent;
* a ramping agent (tracked from PresenceChanged / RampUpEnded / Accepted
  events) holds at most one unanswered offer, and its ramp ends on time;
* no waiting contact has outstayed its maximum wait;
* the router is work-conserving, with explanations: ``explain(c).eligible``
  and ``explain_agent(a).eligible`` are empty, and every verdict names exactly
  the reasons that hold, recomputed here; in particular an agent that the
  plain routing rules would make eligible is named with a policy holding the
  contact back;
* a scheduled callback (held, or a closed queue's hold) waits for a time
  still to come, in no agent's hands, and enters at it (or at the next
  opening);
* counts are conserved: submitted = live + completed + abandoned + timed out
  + unreached;
* a bad call raises a CCRouteError and changes nothing;

and at the end that replaying the same calls on a fresh router gives the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
from test_event_reasons import assert_known_reasons

from ccroute import (
    Abandoned,
    Accepted,
    Admission,
    Agent,
    AgentRemoved,
    BusinessHours,
    CallbackClosed,
    CallbackScheduled,
    CCRouteError,
    Contact,
    ContactState,
    ContactView,
    Event,
    ManualClock,
    NotEligible,
    Offered,
    OfferReason,
    OfferRescinded,
    Overflowed,
    Presence,
    PresenceChanged,
    QueueConfig,
    Queued,
    QueueUpdated,
    RampUp,
    RampUpEnded,
    Refused,
    Rejected,
    Rejoined,
    Router,
    RoutingPolicy,
    RoutingStep,
    Strategy,
    TimedOut,
    UnknownIdError,
    WhenClosed,
    WrapUpEnded,
)
from ccroute.explain import HOLD_BACKS
from ccroute.testing import check_queue, snapshot, watch_offers
from ccroute.views import AgentView

QUEUES = ("sales", "support", "billing")
SKILLS = ("en", "fr", "tech")
CHANNELS = ("voice", "chat", "email")
# callback: request_callback moves a contact there
IN_USE = (*CHANNELS, "callback")
CUSTOMERS = ("cu1", "cu2", "cu3")

levels = st.integers(1, 10)
# Biased towards matches: most agents know most skills well, most contacts ask little.
skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(3, 10), min_size=2, max_size=3)
requirement_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 6), max_size=1)
capacities = st.dictionaries(st.sampled_from(IN_USE), st.integers(0, 3), min_size=3)
presences = st.sampled_from(
    [Presence.AVAILABLE, Presence.AVAILABLE, Presence.NOT_READY, Presence.OFFLINE]
)
# Policies are off more often than on, and "off" is what hypothesis shrinks to.
blocking_maps = st.one_of(
    st.just({}),
    st.dictionaries(
        st.sampled_from(IN_USE),
        st.frozensets(st.sampled_from(IN_USE), min_size=1, max_size=2),
        min_size=1,
        max_size=2,
    ),
)
queue_delays = st.one_of(
    st.just({}),
    st.dictionaries(st.sampled_from(QUEUES), st.sampled_from([5.0, 20.0]), max_size=1),
)
customers = st.sampled_from([None, None, *CUSTOMERS])
max_waits = st.sampled_from([None, None, None, 10.0, 30.0])
ramp_ups = st.sampled_from([(10.0, None), (40.0, 1), (None, 2), (30.0, 3), (5.0, 1)]).map(
    lambda p: RampUp(seconds=p[0], accepted=p[1])
)
some_policy = st.builds(
    RoutingPolicy,
    blocking=blocking_maps,
    reserve_for=st.sampled_from([frozenset(), frozenset({"voice"})]),
    ramp_up=st.one_of(st.none(), ramp_ups),
)
policies = st.one_of(st.just(RoutingPolicy()), some_policy, some_policy)


# Router time 0 is Thursday 1 January 1970, 00:00 UTC (epoch 0): openings and
# closings within the first hours, which runs reach.
HOURS = BusinessHours("UTC", {"thu": ["00:02-00:10", "00:12-01:00", "01:05-03:00"]})


def queue_configs() -> st.SearchStrategy[list[QueueConfig]]:
    return st.tuples(*(queue_config(q) for q in QUEUES)).map(list)


def queue_config(name: str) -> st.SearchStrategy[QueueConfig]:
    """Settings for queue ``name`` (at the start, and for update_queue)."""
    step = st.builds(
        RoutingStep,
        after=st.sampled_from([0.0, 5.0, 15.0, 40.0]),
        requirements=st.dictionaries(
            st.sampled_from(SKILLS), st.one_of(st.none(), st.integers(1, 5)), max_size=2
        ),
        queues=st.frozensets(st.sampled_from(QUEUES), max_size=1),
    )
    others = [q for q in QUEUES if q != name]
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
        blocking=st.one_of(st.just({}), st.just({}), blocking_maps),
        ring=st.sampled_from([1, 1, 1, 2, 3]),
        max_wait=st.sampled_from([None, None, 20.0, 60.0]),
        overflow=st.sampled_from([None, *others]),
        overflow_keep_key=st.booleans(),
        skip_if_no_agent=st.sampled_from([False, False, True]),
        admission=st.sampled_from(
            [Admission.ALWAYS, Admission.ALWAYS, Admission.LOGGED_IN, Admission.ELIGIBLE]
        ),
        rejoin_window=st.sampled_from([None, None, 30.0, 120.0]),
        priority_seconds=st.sampled_from([0.0, 0.0, 15.0, -10.0]),
        calendar=st.sampled_from([None, None, HOURS]),
        when_closed=st.sampled_from(list(WhenClosed)),
        callback_retries=st.sampled_from([(), (), (5.0,), (3.0, 20.0)]),
    )


def spare(router: Router, agent: AgentView, ch: str) -> bool:
    """Room for one more contact of channel ``ch`` (capacity, exclusivity, unit budget)."""
    channels = {c.name: c for c in router.channels}
    if agent.load.get(ch, 0) >= agent.capacity.get(ch, 0):
        return False
    if any(channels[c].exclusive for c in agent.load):
        return False
    if channels[ch].exclusive and agent.load:
        return False
    return not (
        agent.unit_budget is not None
        and agent.units_used + channels[ch].unit_cost > agent.unit_budget
    )


def rejection_barred(
    router: Router, agent: AgentView, contact: ContactView, excluded: Iterable[str] = ()
) -> bool:
    """Rejected before, and someone else logged in could take it ("not offered again
    unless no one else can take it"); an excluded agent is no one."""
    if agent.id not in contact.rejected_by:
        return False
    excluded = frozenset(excluded)
    return any(
        a.presence is not Presence.OFFLINE
        and a.id not in contact.rejected_by
        and a.id not in excluded
        and qualified(a, contact)
        and a.capacity.get(contact.channel, 0) > 0
        for a in (router.agent(i) for i in router.agent_ids)
    )


def eligible(
    router: Router, agent: AgentView, contact: ContactView, excluded: Iterable[str] = ()
) -> bool:
    """The routing rules of docs/routing.md, restated from public views only.

    The policies of docs/policies/ (blocking, reservation, ramp-up, exclusions,
    queue delays) are left out: where this says yes and the router says no, the
    router must name a policy that holds the contact back (see ``holdbacks``).
    ``excluded`` only matters for the rejection bar: an excluded agent is not
    "someone else" who could take the contact.
    """
    if agent.presence is not Presence.AVAILABLE:
        return False
    if not spare(router, agent, contact.channel):
        return False
    if contact.reserved_for is not None:
        return agent.id == contact.reserved_for
    if not qualified(agent, contact):
        return False
    return not rejection_barred(router, agent, contact, excluded)


def qualified(agent: AgentView, contact: ContactView) -> bool:
    return bool(agent.queues & contact.queues) and all(
        agent.skills.get(s, 0) >= level for s, level in contact.requirements.items()
    )


def mismatch(agent: AgentView, contact: ContactView) -> set[NotEligible]:
    found = set()
    if not agent.queues & contact.queues:
        found.add(NotEligible.NOT_A_MEMBER)
    for skill, level in contact.requirements.items():
        if skill not in agent.skills:
            found.add(NotEligible.MISSING_SKILL)
        elif agent.skills[skill] < level:
            found.add(NotEligible.LEVEL_TOO_LOW)
    return found


class World:
    """The router's state at one moment, seen through public views, with the
    policies of docs/policies/ worked out independently of the router."""

    def __init__(
        self, machine: RouterMachine, router: Router, now: float, ramping: Iterable[str]
    ) -> None:
        self.m = machine
        self.router = router
        self.now = now
        self.policy = router.policy
        self.agents = {a: router.agent(a) for a in router.agent_ids}
        self.waiting = router.waiting()
        self.ramping = frozenset(ramping)
        self.blocks = dict(self.policy.blocking)
        self.queue_blocks = {q: dict(router.queue_config(q).blocking) for q in router.queues}
        self._free: dict[str, bool] = {}

    def excluded(self, contact: ContactView) -> frozenset[str]:
        return self.m.excluded(self.router, contact)

    def blocked(self, agent: AgentView, contact: ContactView) -> bool:
        """Work the agent holds on some channel blocks the contact's channel."""
        own = self.queue_blocks[contact.queue]
        return any(
            n
            and (
                contact.channel in self.blocks.get(held, ()) or contact.channel in own.get(held, ())
            )
            for held, n in agent.load.items()
        )

    def delayed(self, agent: AgentView, contact: ContactView) -> bool:
        delay = self.m.delays.get(agent.id, {}).get(contact.queue, 0.0)
        return self.now - contact.entered_at < delay

    def could_take(self, agent: AgentView, contact: ContactView) -> bool:
        """Whether the agent, if it held no work, could take this reserved-channel contact."""
        if agent.presence is Presence.OFFLINE or agent.capacity.get(contact.channel, 0) <= 0:
            return False
        if contact.reserved_for is not None:
            if contact.reserved_for != agent.id:
                return False
        elif not qualified(agent, contact):
            return False
        excluded = self.excluded(contact)
        return not (
            agent.id in excluded
            or rejection_barred(self.router, agent, contact, excluded)
            or self.delayed(agent, contact)
        )

    def kept_free(self, agent: AgentView) -> bool:
        """The agent is kept free for a waiting contact on a reserved channel."""
        if agent.id not in self._free:
            reserved = self.policy.reserve_for
            self._free[agent.id] = any(
                v.channel in reserved and self.could_take(agent, v) for v in self.waiting
            )
        return self._free[agent.id]

    def holdbacks(self, agent: AgentView, contact: ContactView) -> set[NotEligible]:
        """The policies that keep this agent from this contact now."""
        found = set()
        excluded = self.excluded(contact)
        if contact.reserved_for is not None and contact.reserved_for != agent.id:
            found.add(NotEligible.RESERVED_FOR_OTHER)
        if agent.id in excluded:
            found.add(NotEligible.EXCLUDED)
        if rejection_barred(self.router, agent, contact, excluded):
            found.add(NotEligible.REJECTED_BEFORE)
        if agent.id in self.ramping and agent.offered:
            found.add(NotEligible.RAMPING_UP)
        if self.blocked(agent, contact):
            found.add(NotEligible.BLOCKED_CHANNEL)
        if contact.channel not in self.policy.reserve_for and self.kept_free(agent):
            found.add(NotEligible.RESERVED_CHANNEL)
        if self.delayed(agent, contact):
            found.add(NotEligible.QUEUE_DELAY)
        return found

    def reasons(self, agent: AgentView, contact: ContactView) -> set[NotEligible]:
        """Every reason the router must give for not offering this contact to this
        logged-in agent now (empty: it must be offered)."""
        found = self.holdbacks(agent, contact)
        if agent.presence is Presence.NOT_READY:
            found.add(NotEligible.NOT_READY)
        elif not spare(self.router, agent, contact.channel):
            found.add(NotEligible.NO_CAPACITY)
        if contact.reserved_for is None:
            found |= mismatch(agent, contact)
        return found


class RouterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.events: list[object] = []
        self.router: Router | None = None
        self.stop_watching: Callable[[], None] | None = None
        self.clock = ManualClock()
        self.next_id = 0
        self.broken = False
        self.policy = RoutingPolicy()
        # what the specs said, which the views do not show
        self.spec_excluded: dict[str, frozenset[str]] = {}
        self.max_wait: dict[str, float | None] = {}
        self.delays: dict[str, dict[str, float]] = {}
        # contacts the test knows are live (from Queued / WrapUpEnded / Abandoned /
        # TimedOut, CallbackScheduled / CallbackClosed), and those held as callbacks
        self.live: set[str] = set()
        self.held: set[str] = set()
        # agent -> [ramp start, contacts accepted since], from events
        self.ramps: dict[str, list[float]] = {}
        self.offered_before: dict[str, int] = {}
        # (customer, queue) -> (key, until, contact id): places kept for a rejoin
        self.places: dict[tuple[str, str], tuple[Any, float, str]] = {}
        # (customer, queue) whose place was taken back: one use per abandon
        self.used: set[tuple[str, str]] = set()
        # queue -> the largest ring it had (open offers outlive a smaller one)
        self.rings: dict[str, int] = {}

    # --------------------------------------------------------------- driving

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self.router is not None
        self.calls.append((name, args, kwargs))
        # Offers held when the call began: an agent back with several open
        # does not ramp (docs/policies/ramp-up.md); only set_presence and
        # add_agent make an agent available, and neither changes offers first.
        self.offered_before = {a: len(self.router.agent(a).offered) for a in self.router.agent_ids}
        try:
            result = getattr(self.router, name)(*args, **kwargs)
        except CCRouteError:
            raise
        except BaseException:
            # a check failed inside the call: its events are lost, so no replay
            self.broken = True
            raise
        events = result.events if name == "tick" else result
        self.events.extend(events)
        self.after(events)
        return result

    def expect_error(self, name: str, *args: Any, **kwargs: Any) -> bool:
        """Call something that may be refused; if refused, nothing may change.

        Returns whether the call went through."""
        assert self.router is not None
        self.call("tick")
        before = self.state()
        try:
            self.call(name, *args, **kwargs)
        except CCRouteError:
            self.calls.pop()
            assert self.state() == before, f"{name}{args} raised but changed state"
            return False
        return True

    def state(self) -> dict[str, Any]:
        assert self.router is not None
        state = snapshot(self.router)
        state["exclusions"] = {c: self.router.exclusions(c) for c in CUSTOMERS}
        return state

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

    def excluded(self, router: Router, contact: ContactView) -> frozenset[str]:
        own = self.spec_excluded.get(contact.id, frozenset())
        if contact.customer_id is None:
            return own
        return own | router.exclusions(contact.customer_id)

    def after(self, events: Sequence[object]) -> None:
        """Check one call's events and follow the contacts and ramps they tell of."""
        assert self.router is not None
        assert_known_reasons(events)
        overflowed: dict[str, str] = {}
        for e in events:
            if isinstance(e, Offered):
                assert e.reason is not None, f"{e} carries no reason"
                assert e.reason.eligible >= 1, f"{e}: the winner is eligible"
            elif isinstance(e, Queued):
                assert e.contact_id not in self.live or e.contact_id in self.held
                self.live.add(e.contact_id)
                self.held.discard(e.contact_id)
            elif isinstance(e, CallbackScheduled):
                assert e.due >= e.at, e
                self.live.add(e.contact_id)
                self.held.add(e.contact_id)
            elif isinstance(e, CallbackClosed):
                assert e.contact_id in self.live, f"{e} for a contact not live"
                self.live.discard(e.contact_id)
                self.held.discard(e.contact_id)
            elif isinstance(e, WrapUpEnded | Abandoned | TimedOut):
                assert e.contact_id in self.live, f"{e} for a contact not live"
                self.live.discard(e.contact_id)
                overflowed.pop(e.contact_id, None)
            elif isinstance(e, Overflowed):
                assert e.reason in ("max wait", "no agent"), e
                overflowed[e.contact_id] = e.to_queue
            if isinstance(e, TimedOut):
                assert e.reason in ("max wait", "no agent", "overflow queue full"), e
            if isinstance(e, TimedOut | Overflowed) and e.reason == "max wait":
                # not before its time: the contact's own limit, else its queue's
                queue = e.queue if isinstance(e, TimedOut) else e.from_queue
                limit = self.max_wait.get(e.contact_id)
                if limit is None:
                    limit = self.router.queue_config(queue).max_wait
                assert limit is not None and e.wait >= limit - 1e-9, (e, limit)
            self.follow_ramp(self.ramps, e, check=True)
        for contact_id in {e.contact_id for e in events if isinstance(e, TimedOut)}:
            assert contact_id not in self.router.contact_ids, f"{contact_id} timed out, still live"
        # An overflowed contact waits in exactly its new queue (or has gone since).
        for contact_id, queue in overflowed.items():
            try:
                view = self.router.contact(contact_id)
            except UnknownIdError:
                continue
            assert view.queue == queue, f"{contact_id} overflowed to {queue}, is in {view.queue}"

    def follow_ramp(self, ramps: dict[str, list[float]], e: object, *, check: bool) -> None:
        """Ramp-up as docs/policies/ramp-up.md tells it, from events alone."""
        ramp = self.policy.ramp_up
        if isinstance(e, PresenceChanged):
            if e.new is Presence.AVAILABLE:
                assert e.old is not Presence.AVAILABLE
                if ramp is not None and self.offered_before.get(e.agent_id, 0) <= 1:
                    ramps[e.agent_id] = [e.at, 0]
            else:
                # an absence cancels the ramp silently
                ramps.pop(e.agent_id, None)
        elif isinstance(e, RampUpEnded):
            entry = ramps.pop(e.agent_id, None)
            if check:
                assert ramp is not None and entry is not None, f"{e}: the agent was not ramping"
                if e.reason == "time":
                    assert ramp.seconds is not None and e.at == entry[0] + ramp.seconds, (e, entry)
                else:
                    assert e.reason == "accepted" and entry[1] == ramp.accepted, (e, entry)
        elif isinstance(e, Accepted):
            if e.agent_id in ramps:
                ramps[e.agent_id][1] += 1
        elif isinstance(e, AgentRemoved):
            ramps.pop(e.agent_id, None)

    # ----------------------------------------------------------------- rules

    @initialize(
        configs=queue_configs(),
        policy=policies,
        seed=st.integers(0, 3),
        agents=st.lists(
            st.tuples(
                skill_maps,
                st.frozensets(st.sampled_from(QUEUES), min_size=1),
                st.one_of(st.none(), capacities),
                queue_delays,
            ),
            min_size=1,
            max_size=6,
        ),
        contacts=st.lists(
            st.tuples(
                st.sampled_from(CHANNELS),
                st.sampled_from(QUEUES),
                requirement_maps,
                customers,
                st.frozensets(st.sampled_from(["a1", "a2", "a3"]), max_size=1),
                max_waits,
            ),
            max_size=8,
        ),
    )
    def start(
        self,
        configs: list[QueueConfig],
        policy: RoutingPolicy,
        seed: int,
        agents: list[tuple[dict[str, int], frozenset[str], dict[str, int] | None, dict]],
        contacts: list[tuple[str, str, dict[str, int], str | None, frozenset[str], float | None]],
    ) -> None:
        self.seed = seed
        self.policy = policy
        self.router = self.make_router()
        self.router.observe(self.check_batch)
        # Overflow targets and routing steps may refer to each other.
        self.call("add_queues", configs)
        # A populated centre to start from, so that every run has work to route.
        for skills, queues, capacity, delays in agents:
            agent = Agent(
                self.fresh_id("a"),
                skills=skills,
                queues=queues,
                capacity=capacity,
                queue_delays=delays,
            )
            self.delays[agent.id] = dict(delays)
            self.call("add_agent", agent, Presence.AVAILABLE)
        for channel, queue, requirements, customer, excluded, max_wait in contacts:
            self.submit_contact(
                Contact(
                    self.fresh_id("c"),
                    channel,
                    queue,
                    requirements=requirements,
                    customer_id=customer,
                    excluded_agents=excluded,
                    max_wait=max_wait,
                )
            )
            self.clock.advance(1.0)
            self.calls.append(("advance", (1.0,), {}))
            self.call("tick")

    def make_router(self, router: Router | None = None) -> Router:
        if router is None:
            router = Router(self.clock, seed=self.seed, policy=self.policy)
        watched = router

        def checked_offer(
            contact_id: str,
            agent_id: str,
            now: float,
            events: list[Event],
            reason: OfferReason | None,
            extra: bool,
        ) -> None:
            self.check_offer(watched, contact_id, agent_id, now, list(events), reason, extra)

        self.stop_watching = watch_offers(router, checked_offer)
        return router

    def check_offer(
        self,
        router: Router,
        contact_id: str,
        agent_id: str,
        now: float,
        events: list[object],
        reason: Any,
        extra: bool,
    ) -> None:
        """Every offer, as it is made: to an eligible agent no policy holds back."""
        assert router.now == now
        contact = router.contact(contact_id)
        view = router.agent(agent_id)
        # The ramps as they stand now, in the middle of the call.
        ramps = {a: list(v) for a, v in self.ramps.items()}
        for e in events:
            self.follow_ramp(ramps, e, check=False)
        world = World(self, router, now, ramps)
        excluded = world.excluded(contact)
        # Named one by one, for readable failures; `holdbacks` has them all.
        assert agent_id not in excluded, f"offer of {contact_id} to excluded {agent_id}"
        assert not world.blocked(view, contact), (
            f"offer of {contact_id} ({contact.channel}) to {agent_id}, whose work on "
            f"{dict(view.load)} blocks it"
        )
        assert not (agent_id in ramps and view.offered), (
            f"offer of {contact_id} to {agent_id}, ramping up with {set(view.offered)} open"
        )
        assert not world.delayed(view, contact), f"{contact_id} to {agent_id} before its delay"
        assert not world.holdbacks(view, contact), (
            f"offer of {contact_id} to {agent_id} held back by {world.holdbacks(view, contact)}"
        )
        assert reason is not None and reason.eligible >= 1, reason
        if extra:
            # ring-all: the same contact to one more agent
            assert contact.state is ContactState.OFFERED, f"ring extra of {contact}"
            assert reason.trigger == "contact", "agent-side routing makes a single offer"
            assert contact.reserved_for is None, "a targeted contact rings only its target"
            holders = router.explain(contact_id).agents
            assert agent_id not in holders, f"{contact_id} rung twice at {agent_id}"
            assert len(holders) < router.queue_config(contact.queue).ring, (
                f"{contact_id} rings {agent_id} on top of {holders}: more than the queue's ring"
            )
            assert view.presence is Presence.AVAILABLE, f"{contact_id} rings absent {view}"
            assert spare(router, view, contact.channel), f"{contact_id} rings full {view}"
            assert qualified(view, contact), f"{contact_id} rings unqualified {view}"
            return
        assert contact.state is ContactState.WAITING, f"offer of {contact}"
        assert eligible(router, view, contact, excluded), f"offer of {contact} to ineligible {view}"
        explanation = router.explain(contact_id)
        assert agent_id in explanation.eligible, explanation
        assert reason.eligible == len(explanation.eligible), (reason, explanation)
        held = set()
        for verdict in explanation.not_eligible:
            found = set(verdict.reasons)
            if found <= HOLD_BACKS and NotEligible.RESERVED_FOR_OTHER not in found:
                held |= found
        assert set(reason.held_back) == {r.value for r in held}, (reason, explanation)
        for other in world.waiting:
            if other.key < contact.key and eligible(router, view, other, world.excluded(other)):
                assert world.holdbacks(view, other), (
                    f"{agent_id} offered {contact_id} while {other.id} (smaller key) was eligible"
                )

    @precondition(lambda self: self.router is not None)
    @rule()
    def restart_from_snapshot(self) -> None:
        """Carry on with a router rebuilt from a snapshot; teardown's replay on a
        router that never restarted must still give the same events."""
        assert self.router is not None
        assert self.stop_watching is not None
        self.stop_watching()  # the checking wrapper is test code, not state
        before = self.state()
        data = self.router.snapshot()
        assert self.state() == before, "taking a snapshot changed the router"
        restored = Router.restore(data, self.clock)
        assert restored.policy == self.policy
        self.router = restored
        assert self.state() == before
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
        delays=queue_delays,
    )
    def add_agent(
        self,
        skills: dict[str, int],
        queues: frozenset[str],
        capacity: dict[str, int] | None,
        budget: int | None,
        presence: Presence,
        delays: dict[str, float],
    ) -> None:
        agent_id = self.fresh_id("a")
        self.delays[agent_id] = dict(delays)
        self.call(
            "add_agent",
            Agent(
                agent_id,
                skills=skills,
                queues=queues,
                capacity=capacity,
                unit_budget=budget,
                queue_delays=delays,
            ),
            presence,
        )

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(data=st.data(), presence=presences)
    def set_presence(self, data: st.DataObject, presence: Presence) -> None:
        assert self.router is not None
        agent_id = data.draw(st.sampled_from(self.router.agent_ids))
        self.expect_error("set_presence", agent_id, presence)

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(data=st.data())
    def return_from_break(self, data: st.DataObject) -> None:
        """An agent away (not ready or offline) becomes available: with a ramp-up
        policy it ramps up."""
        assert self.router is not None
        self.call("tick")
        away = [
            a
            for a in self.router.agent_ids
            if self.router.agent(a).presence is not Presence.AVAILABLE
        ]
        if not away:
            return
        agent_id = data.draw(st.sampled_from(away))
        held = len(self.router.agent(agent_id).offered)
        self.call("set_presence", agent_id, Presence.AVAILABLE, "break over")
        # one who kept several offers open through the break does not ramp
        assert (agent_id in self.ramps) == (self.policy.ramp_up is not None and held <= 1)

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

    # ---------------------------------------------------- runtime changes

    @precondition(lambda self: self.router is not None and self.router.agent_ids)
    @rule(
        data=st.data(),
        skills=skill_maps,
        queues=st.frozensets(st.sampled_from(QUEUES), min_size=1, max_size=3),
        capacity=st.one_of(st.none(), capacities),
        budget=st.sampled_from([None, None, 60, 100]),
        delays=queue_delays,
        same=st.sampled_from([False, False, False, True]),
    )
    def update_agent(
        self,
        data: st.DataObject,
        skills: dict[str, int],
        queues: frozenset[str],
        capacity: dict[str, int] | None,
        budget: int | None,
        delays: dict[str, float],
        same: bool,
    ) -> None:
        """New skills, queues, capacities, budget or delays for an agent, often one
        holding work (refused below what it holds), or the same ones (a no-op)."""
        router = self.router
        assert router is not None
        self.call("tick")
        agent_id = data.draw(st.sampled_from(router.agent_ids))
        view = router.agent(agent_id)
        if same:
            # the agent as it is: nothing may change, not even the time
            (held,) = [r.spec for r in router.state().agents if r.spec.id == agent_id]
            before = self.state()
            assert self.call("update_agent", held) == []
            assert self.state() == before
            return
        agent = Agent(
            agent_id,
            skills=skills,
            queues=queues,
            capacity=capacity,
            unit_budget=budget,
            queue_delays=delays,
        )
        # the offers the call makes are checked against the new delays
        old_delays, self.delays[agent_id] = self.delays[agent_id], dict(delays)
        if not self.expect_error("update_agent", agent):
            self.delays[agent_id] = old_delays
        else:
            after = router.agent(agent_id)
            assert after.skills == dict(skills) and after.queues == queues
            # not logged off: its presence and work stay (it may get new offers)
            assert after.presence is view.presence
            assert after.offered >= view.offered
            assert (after.in_service, after.wrap_up) == (view.in_service, view.wrap_up)

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data(), name=st.sampled_from(QUEUES))
    def update_queue(self, data: st.DataObject, name: str) -> None:
        """New settings for a queue: the contacts in it stay (or leave by its rules)."""
        router = self.router
        assert router is not None
        config = data.draw(queue_config(name))
        self.call("tick")
        in_queue = {c for c in router.contact_ids if router.contact(c).queue == name}
        if config == router.queue_config(name):
            before = self.state()
            assert self.call("update_queue", config) == []  # the same settings: a no-op
            assert self.state() == before
            return
        self.rings[name] = max(self.rings.get(name, 1), router.queue_config(name).ring)
        events = self.call("update_queue", config)
        assert isinstance(events[0], QueueUpdated) and events[0].queue == name
        assert router.queue_config(name) == config
        gone = {
            e.contact_id
            for e in events
            if isinstance(e, TimedOut | Overflowed) and e.contact_id in in_queue
        }
        for contact_id in in_queue - gone:
            assert router.contact(contact_id).queue == name

    @precondition(lambda self: self.router is not None)
    @rule(
        data=st.data(),
        priority=st.sampled_from([None, None, 0.0, 30.0, -20.0]),
        tier=st.sampled_from([None, None, 0, 1]),
        requirements=st.one_of(st.none(), requirement_maps),
        attributes=st.sampled_from([None, {"note": "vip"}]),
    )
    def update_contact(
        self,
        data: st.DataObject,
        priority: float | None,
        tier: int | None,
        requirements: dict[str, int] | None,
        attributes: dict[str, str] | None,
    ) -> None:
        """A live contact's priority, tier, requirements or attributes; its place in
        line changes only with its priority or tier, by the documented formula."""
        router = self.router
        assert router is not None
        self.call("tick")
        live = self.ids()
        if not live:
            return
        contact_id = data.draw(st.sampled_from(live))
        before = router.contact(contact_id)
        (spec,) = [r.spec for r in router.state().contacts if r.spec.id == contact_id]
        events = self.call(
            "update_contact",
            contact_id,
            priority_seconds=priority,
            tier=tier,
            requirements=requirements,
            attributes=attributes,
        )
        if contact_id not in router.contact_ids:
            return  # it moved on at once (a skip-if-no-agent queue)
        after = router.contact(contact_id)
        new_priority = spec.priority_seconds if priority is None else priority
        new_tier = spec.tier if tier is None else tier
        moved = [e for e in events if isinstance(e, Overflowed | TimedOut)]
        if (new_priority, new_tier) == (spec.priority_seconds, spec.tier):
            assert moved or after.key == before.key
        elif not moved:
            assert after.key == (
                -new_tier,
                before.key[1] + spec.priority_seconds - new_priority,
                before.key[2],
            ), (before.key, after.key, spec, priority, tier)
        if attributes is not None:
            assert dict(after.attributes) == attributes
        if (priority, tier, requirements, attributes) == (None, None, None, None):
            assert events == []

    def submit_contact(self, contact: Contact) -> None:
        """Submit, and check admission and rejoin (docs/policies/) against
        what the test knows."""
        router = self.router
        assert router is not None
        self.call("tick")
        config = router.queue_config(contact.queue)
        now = self.clock.now()
        self.spec_excluded[contact.id] = contact.excluded_agents
        self.max_wait[contact.id] = contact.max_wait
        if not router.is_open(contact.queue) and config.when_closed is not WhenClosed.ACCEPT:
            # Closed (docs/business-hours.md): refused, or held until it opens.
            opens = router.next_open(contact.queue)
            events = self.call("submit", contact)
            if config.when_closed is WhenClosed.REFUSE or opens is None:
                assert events == [
                    Refused(now, contact.id, contact.queue, contact.channel, "closed")
                ]
            else:
                assert events == [
                    CallbackScheduled(
                        now, contact.id, contact.queue, contact.channel, opens, 1, "closed"
                    )
                ], events
            return
        # Admission, worked out beforehand.
        present = sum(
            1
            for c in router.contact_ids
            if router.contact(c).queue == contact.queue
            and router.contact(c).state in (ContactState.WAITING, ContactState.OFFERED)
        )
        logged_in = [
            a
            for a in (router.agent(i) for i in router.agent_ids)
            if a.presence is not Presence.OFFLINE and contact.queue in a.queues
        ]
        excluded = contact.excluded_agents | (
            router.exclusions(contact.customer_id) if contact.customer_id else frozenset()
        )
        refusal = None
        if config.max_size is not None and present >= config.max_size:
            refusal = "queue full"
        elif config.admission is Admission.LOGGED_IN and not logged_in:
            refusal = "no agent logged in"
        elif config.admission is Admission.ELIGIBLE and not any(
            a.id not in excluded
            and a.capacity.get(contact.channel, 0) > 0
            and all(a.skills.get(s, 0) >= level for s, level in contact.requirements)
            for a in logged_in
        ):
            refusal = "no eligible agent"
        place = None
        if contact.customer_id is not None and config.rejoin_window is not None:
            place = self.places.get((contact.customer_id, contact.queue))
            if place is not None and not now <= place[1]:
                place = None
        events = self.call("submit", contact)
        refused = [e for e in events if isinstance(e, Refused)]
        if refusal is not None:
            assert [(e.contact_id, e.reason) for e in refused] == [(contact.id, refusal)], (
                f"{contact.id} should be refused ({refusal}): {events}"
            )
            assert contact.id not in self.live
            return
        assert not refused, refused
        queued = [i for i, e in enumerate(events) if isinstance(e, Queued)]
        assert len(queued) == 1
        rejoined = [e for e in events if isinstance(e, Rejoined)]
        if place is None:
            assert not rejoined, rejoined
        else:
            # its place in line back, one use per abandon
            del self.places[(contact.customer_id, contact.queue)]  # type: ignore[arg-type]
            self.used.add((contact.customer_id, contact.queue))  # type: ignore[arg-type]
            assert rejoined == [Rejoined(now, contact.id, place[2], contact.queue)], rejoined
            assert events[queued[0] + 1] == rejoined[0]
            moved = any(
                isinstance(e, Overflowed | TimedOut) and e.contact_id == contact.id for e in events
            )
            if not moved:
                assert router.contact(contact.id).key == place[0]
        if contact.id in router.contact_ids:
            view = router.contact(contact.id)
            if (
                view.state is ContactState.WAITING
                and view.reserved_for is None
                and router.queue_config(view.queue).skip_if_no_agent
            ):
                # skip-if-no-agent: someone logged in could take it some day
                assert any(
                    a.presence is not Presence.OFFLINE
                    and a.id not in self.excluded(router, view)
                    and qualified(a, view)
                    and a.capacity.get(view.channel, 0) > 0
                    for a in (router.agent(i) for i in router.agent_ids)
                ), f"{view.id} waits unstaffed in {view.queue}"

    @precondition(lambda self: self.router is not None)
    @rule(
        data=st.data(),
        channel=st.sampled_from(CHANNELS),
        queue=st.sampled_from(QUEUES),
        requirements=requirement_maps,
        priority=st.sampled_from([0.0, 0.0, 10.0, 60.0]),
        tier=st.sampled_from([0, 0, 0, 1]),
        prefer=st.booleans(),
        customer=customers,
        exclude=st.sampled_from([False, False, True]),
        max_wait=max_waits,
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
        customer: str | None,
        exclude: bool,
        max_wait: float | None,
    ) -> None:
        assert self.router is not None
        preferred = None
        if prefer and self.router.agent_ids:
            preferred = data.draw(st.sampled_from(self.router.agent_ids))
        excluded: frozenset[str] = frozenset()
        if exclude and self.router.agent_ids:
            excluded = data.draw(
                st.frozensets(st.sampled_from(self.router.agent_ids), min_size=1, max_size=2)
            )
        self.submit_contact(
            Contact(
                self.fresh_id("c"),
                channel,
                queue,
                requirements=requirements,
                priority_seconds=priority,
                tier=tier,
                preferred_agent=preferred,
                preferred_wait=12.0 if preferred else 0.0,
                customer_id=customer,
                excluded_agents=excluded,
                max_wait=max_wait,
            )
        )

    @precondition(lambda self: self.router is not None and (self.places or self.used))
    @rule(data=st.data(), channel=st.sampled_from(CHANNELS), wait=st.sampled_from([0.0, 20.0]))
    def rejoin(self, data: st.DataObject, channel: str, wait: float) -> None:
        """A customer who abandoned comes back to the same queue (maybe too late, or
        again after taking the place back once)."""
        customer, queue = data.draw(st.sampled_from(sorted(set(self.places) | self.used)))
        if wait:
            self.advance(wait)
        self.submit_contact(Contact(self.fresh_id("c"), channel, queue, customer_id=customer))

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data(), accept=st.booleans())
    def answer_offer(self, data: st.DataObject, accept: bool) -> None:
        """Any holder of an offer accepts or rejects it (ring-all: one of several)."""
        router = self.router
        assert router is not None
        self.call("tick")  # nothing due may be pending, or the offer might just have timed out
        offered = self.ids(ContactState.OFFERED)
        if not offered:
            return
        contact_id = data.draw(st.sampled_from(offered))
        holders = router.explain(contact_id).agents
        agent_id = data.draw(st.sampled_from(holders))
        others = [a for a in holders if a != agent_id]
        if accept:
            events = self.call("accept", contact_id, agent_id)
            assert Accepted in {type(e) for e in events}
            rescinded = [
                (e.agent_id, e.reason)
                for e in events
                if isinstance(e, OfferRescinded) and e.contact_id == contact_id
            ]
            assert rescinded == [(a, f"answered by {agent_id}") for a in others], rescinded
            view = router.contact(contact_id)
            assert view.state is ContactState.IN_SERVICE and view.agent_id == agent_id
            assert router.explain(contact_id).agents == (agent_id,)
        else:
            events = self.call("reject", contact_id, agent_id)
            assert next(e for e in events if isinstance(e, Rejected)).agent_id == agent_id
            if others:
                # it stays offered to the rest
                view = router.contact(contact_id)
                assert view.state is ContactState.OFFERED and agent_id in view.rejected_by
                assert router.explain(contact_id).agents == tuple(others)

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def progress(self, data: st.DataObject) -> None:
        """Move one contact along its happy path (the most common thing in a real centre)."""
        assert self.router is not None
        self.call("tick")
        waiting = (ContactState.WAITING, ContactState.SCHEDULED)
        live = [c for c in self.ids() if self.router.contact(c).state not in waiting]
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
        router = self.router
        assert router is not None
        self.call("tick")
        live = self.ids()
        if not live:
            return
        view = router.contact(data.draw(st.sampled_from(live)))
        if self.expect_error("abandon", view.id):
            window = router.queue_config(view.queue).rejoin_window
            # a cancelled callback never waited: no place to keep
            scheduled = view.state is ContactState.SCHEDULED
            if view.customer_id is not None and window is not None and not scheduled:
                now = self.clock.now()
                self.places[(view.customer_id, view.queue)] = (view.key, now + window, view.id)

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
        router = self.router
        assert router is not None
        self.call("tick")
        live = self.ids()
        if not live:
            return
        agent = None
        if to_agent and router.agent_ids:
            agent = data.draw(st.sampled_from(router.agent_ids))
        contact = router.contact(data.draw(st.sampled_from(live)))
        done = self.expect_error(
            "transfer",
            contact.id,
            queue=queue,
            requirements=requirements,
            agent=agent,
            keep_key=keep_key,
        )
        if agent is not None and agent in self.excluded(router, contact):
            assert not done, f"transfer of {contact.id} to excluded {agent} went through"

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def request_callback(self, data: st.DataObject) -> None:
        live = self.ids()
        if live:
            self.expect_error("request_callback", data.draw(st.sampled_from(live)))

    @precondition(lambda self: self.router is not None)
    @rule(
        queue=st.sampled_from(QUEUES),
        delay=st.sampled_from([0.0, 4.0, 30.0, 200.0]),
        priority=st.sampled_from([0.0, 0.0, 30.0]),
        customer=customers,
    )
    def schedule_callback(
        self, queue: str, delay: float, priority: float, customer: str | None
    ) -> None:
        """A customer asks to be called back later; refused when the queue is closed then."""
        router = self.router
        assert router is not None
        contact = Contact(
            self.fresh_id("c"), "callback", queue, priority_seconds=priority, customer_id=customer
        )
        at = self.clock.now() + delay
        if self.expect_error("schedule_callback", contact, at):
            if delay > 0:
                view = router.contact(contact.id)
                assert view.state is ContactState.SCHEDULED and view.callback_due == at
        else:
            hours = router.queue_config(queue).calendar
            assert hours is not None and not hours.is_open(at), f"callback at {at} refused"

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data())
    def callback_unanswered(self, data: st.DataObject) -> None:
        """The agent serving a contact called and nobody answered."""
        self.call("tick")
        in_service = self.ids(ContactState.IN_SERVICE)
        if in_service:
            self.call("callback_unanswered", data.draw(st.sampled_from(in_service)))

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data(), customer=st.sampled_from(CUSTOMERS), holder=st.booleans())
    def add_exclusion(self, data: st.DataObject, customer: str, holder: bool) -> None:
        router = self.router
        assert router is not None
        self.call("tick")
        # Most telling: exclude an agent holding one of the customer's contacts.
        held = sorted(
            (view.customer_id, a)
            for view in (router.contact(c) for c in router.contact_ids)
            if view.customer_id is not None and view.state is ContactState.OFFERED
            for a in router.explain(view.id).agents
        )
        if holder and held:
            customer, agent_id = data.draw(st.sampled_from(held))
        else:
            # The agent need not exist (yet).
            agent_id = data.draw(st.sampled_from([*router.agent_ids, "a1", "a2"]))
        already = agent_id in router.exclusions(customer)
        events = self.call("add_exclusion", customer, agent_id)
        assert router.exclusions(customer) >= {agent_id}
        if already:
            assert not [e for e in events if isinstance(e, OfferRescinded)]

    @precondition(lambda self: self.router is not None)
    @rule(data=st.data(), customer=st.sampled_from(CUSTOMERS), known=st.booleans())
    def remove_exclusion(self, data: st.DataObject, customer: str, known: bool) -> None:
        """Lift an exclusion; lifting a pair that is not excluded raises UnknownIdError
        and changes nothing."""
        router = self.router
        assert router is not None
        pairs = sorted((c, a) for c in CUSTOMERS for a in router.exclusions(c))
        if known and pairs:
            customer, agent_id = data.draw(st.sampled_from(pairs))
        else:
            agent_id = data.draw(st.sampled_from([*router.agent_ids, "a1", "a2"]))
        if (customer, agent_id) in pairs:
            self.call("remove_exclusion", customer, agent_id)
            assert agent_id not in router.exclusions(customer)
            return
        self.call("tick")
        before = self.state()
        with pytest.raises(UnknownIdError):
            self.call("remove_exclusion", customer, agent_id)
        self.calls.pop()
        assert self.state() == before

    @precondition(lambda self: self.router is not None)
    @rule(seconds=st.sampled_from([0.5, 3.0, 7.0, 13.0, 45.0, 150.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.calls.append(("advance", (seconds,), {}))
        self.call("tick")

    @precondition(lambda self: self.router is not None and self.router.next_due() is not None)
    @rule()
    def advance_to_next_timer(self) -> None:
        """Exactly to the next timer (offer timeout, wrap-up, step, preference,
        maximum wait, queue delay, ramp-up end)."""
        assert self.router is not None
        due = self.router.next_due()
        assert due is not None
        self.clock.set(max(due, self.clock.now()))
        self.calls.append(("set", (self.clock.now(),), {}))
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
        # the universal queue is sound and holds exactly the waiting contacts
        check_queue(router)
        channels = {c.name: c for c in router.channels}
        contacts = {c: router.contact(c) for c in router.contact_ids}
        agents = {a: router.agent(a) for a in router.agent_ids}
        by_state = {s: {c for c, v in contacts.items() if v.state is s} for s in ContactState}
        waiting = router.waiting()
        waiting_ids = [c.id for c in waiting]
        assert len(waiting_ids) == len(set(waiting_ids)), "a contact waits twice"
        assert set(waiting_ids) == by_state[ContactState.WAITING]
        assert len(router) == len(waiting)
        # each waiting contact in exactly one queue
        per_queue = {q: [c.id for c in router.waiting(q)] for q in router.queues}
        for q, ids in per_queue.items():
            assert ids == [c.id for c in waiting if c.queue == q]
            assert router.queue_size(q) == len(ids)
        assert sum(map(len, per_queue.values())) == len(waiting)
        # the contacts the test knows of: live, or gone with an event
        assert set(contacts) == self.live
        # who holds what (ring-all: an offer may have several holders)
        holders: dict[str, tuple[str, ...]] = {}
        for c, view in contacts.items():
            found = router.explain(c).agents
            if view.state is ContactState.SCHEDULED:
                # held for a time still to come, by no one
                assert view.callback_due is not None and view.callback_due > router.now, view
                assert c in self.held
            else:
                assert view.callback_due is None and c not in self.held, view
            if view.state in (ContactState.WAITING, ContactState.SCHEDULED):
                assert found == () and view.agent_id is None
            else:
                assert found and found[0] == view.agent_id and len(set(found)) == len(found), (
                    f"{c} held by {found}, view says {view.agent_id}"
                )
            if view.state is ContactState.OFFERED:
                # update_queue leaves open offers ringing: the largest ring counts
                ring = max(router.queue_config(view.queue).ring, self.rings.get(view.queue, 1))
                assert len(found) <= ring, (c, found)
                if view.reserved_for is not None:
                    assert found == (view.reserved_for,), f"{c} reserved, offered to {found}"
            elif view.state not in (ContactState.WAITING, ContactState.SCHEDULED):
                assert len(found) == 1, f"{c} {view.state.value} by {found}"
            holders[c] = found
        for agent in agents.values():
            for group, state in (
                (agent.offered, ContactState.OFFERED),
                (agent.in_service, ContactState.IN_SERVICE),
                (agent.wrap_up, ContactState.WRAP_UP),
            ):
                for c in group:
                    assert contacts[c].state is state and agent.id in holders[c]
            held = agent.offered | agent.in_service | agent.wrap_up
            assert {c for c, h in holders.items() if agent.id in h} == held
            # never over capacity
            for ch, n in agent.load.items():
                assert n <= agent.capacity[ch], (agent.id, ch, n)
            assert sum(agent.load.values()) == len(held)
            if agent.unit_budget is not None:
                assert agent.units_used <= agent.unit_budget
            exclusive = [ch for ch in agent.load if channels[ch].exclusive]
            if exclusive:
                assert sum(agent.load.values()) == 1
        # exclusions: no open offer to an excluded pair, no reservation for one
        for c, view in contacts.items():
            excluded = self.excluded(router, view)
            if view.state is ContactState.OFFERED:
                assert not excluded & set(holders[c]), f"{c} offered to excluded {holders[c]}"
            assert view.reserved_for is None or view.reserved_for not in excluded
        # ramp-up: at most one unanswered offer, ends on time
        ramp = self.policy.ramp_up
        for agent_id, (since, accepted) in self.ramps.items():
            agent = agents[agent_id]
            assert ramp is not None and agent.presence is Presence.AVAILABLE, agent
            assert len(agent.offered) <= 1, f"{agent_id} ramps up holding {set(agent.offered)}"
            assert ramp.seconds is None or router.now < since + ramp.seconds, (
                f"{agent_id} still ramps at {router.now}, ramp from {since} is {ramp}"
            )
            assert ramp.accepted is None or accepted < ramp.accepted, (
                f"{agent_id} still ramps after accepting {accepted}: {ramp}"
            )
        ramping = {r.spec.id: r.ramping for r in router.state().agents}
        for agent_id in agents:
            assert ramping[agent_id] == (agent_id in self.ramps)
        # maximum wait: nothing waits past it
        for view in waiting:
            limit = self.max_wait.get(view.id)
            if limit is None:
                limit = router.queue_config(view.queue).max_wait
            if limit is not None:
                assert router.now < view.entered_at + limit, f"{view.id} waits past {limit} s"
        self.work_conserving(router, agents, waiting)
        # conservation of counts
        assert (
            router.submitted
            == (len(contacts) + router.completed + router.abandoned + router.timed_out)
            + router.unreached
        )

    def work_conserving(
        self, router: Router, agents: dict[str, AgentView], waiting: list[ContactView]
    ) -> None:
        """No waiting contact and free agent form a pair that nothing but a named
        policy keeps apart, and the explanations say exactly why."""
        world = World(self, router, router.now, self.ramps)
        logged_in = sorted(a for a, v in agents.items() if v.presence is not Presence.OFFLINE)
        verdicts: dict[tuple[str, str], set[NotEligible]] = {}
        for contact in waiting:
            explanation = router.explain(contact.id)
            assert explanation.eligible == (), (
                f"work conservation: {contact.id} waits while {explanation.eligible} could take "
                f"it\n{explanation}\n{contact}\n"
                + "\n".join(str(agents[a]) for a in explanation.eligible)
                + f"\n{router.policy}"
            )
            given = {v.agent_id: set(v.reasons) for v in explanation.not_eligible}
            assert sorted(given) == logged_in
            held: set[NotEligible] = set()
            for agent_id in logged_in:
                agent = agents[agent_id]
                reasons = given[agent_id]
                verdicts[agent_id, contact.id] = reasons
                assert reasons == world.reasons(agent, contact), (
                    f"explain({contact.id}) for {agent_id}: {reasons}, "
                    f"expected {world.reasons(agent, contact)}"
                )
                if eligible(router, agent, contact, world.excluded(contact)):
                    # eligible by the plain rules: a policy holds the contact back
                    assert reasons & HOLD_BACKS, (
                        f"work conservation: {contact.id} waits while {agent_id} could take it"
                    )
                if reasons <= HOLD_BACKS:
                    held |= reasons
            assert set(explanation.held_back) == held, (explanation, held)
        for agent_id, agent in agents.items():
            explanation = router.explain_agent(agent_id)
            assert explanation.eligible == (), (
                f"work conservation: {agent_id} could take {explanation.eligible}"
            )
            assert explanation.status is agent.status
            own = set()
            if agent.presence is Presence.NOT_READY:
                own.add(NotEligible.NOT_READY)
            if agent_id in self.ramps and agent.offered:
                own.add(NotEligible.RAMPING_UP)
            if agent.presence is Presence.AVAILABLE and not any(
                spare(router, agent, ch.name) for ch in router.channels
            ):
                own.add(NotEligible.NO_CAPACITY)
            assert set(explanation.reasons) == own, (explanation, own)
            given = {v.contact_id: set(v.reasons) for v in explanation.contacts}
            if agent.presence is Presence.OFFLINE:
                assert given == {}
            else:
                assert given == {c.id: verdicts[agent_id, c.id] for c in waiting}

    def teardown(self) -> None:
        if self.router is None or self.broken:
            return
        # Same calls, same events: replay on a fresh router and clock.
        clock = ManualClock()
        replay = Router(clock, seed=self.seed, policy=self.policy)
        events: list[object] = []
        for name, args, kwargs in self.calls:
            if name in ("advance", "set"):
                getattr(clock, name)(*args)
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
