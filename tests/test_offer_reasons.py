"""Offer reasons agree with the decision they explain, on both queue twins.

Random scenarios drive the public Router API: channels with unit costs (0
included), some exclusive, default capacities 0..3; agents with random
skills, queues, capacities (per channel, 0 included, or the defaults) and
unit budgets (None, 0 and positive); a queue under each built-in scored
strategy (most skilled with routing steps); submits, accepts, rejects,
completions, wrap-up ends, presence changes, capacity changes, agent
updates, transfers and time passing. At the moment each offer is made
(``watch_offers``) its reason must agree with the choice:

- the winner's score is the one docs/explain.md defines, computed here from
  the agent's public view (issue 14: least occupied scored an agent with
  ``unit_budget=0`` by its slots while both queue twins rank it as full);
- when the contact was matched to an agent (trigger ``"contact"``), the
  winner's score is at least the runner-up's: the strategy picks the
  highest score. Longest idle ranks agents holding no work first whatever
  their score, so there the winner may score lower only while it holds no
  work. An agent that freed up (trigger ``"agent"``) takes the most
  deserving contact it can, not the contact's best agent, so its score may
  be lower (docs/routing.md, "When routing happens");
- ``eligible`` counts the agents ``router.explain`` lists as eligible for
  the waiting contact (the winner among them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import (
    Agent,
    AgentView,
    CCRouteError,
    Channel,
    ChannelKind,
    Contact,
    Event,
    Offered,
    OfferReason,
    Presence,
    QueueConfig,
    Router,
    RoutingStep,
    Strategy,
)
from ccroute.testing import RouterHarness, of_type, watch_offers

pytestmark = pytest.mark.usefixtures("queue_factory")

CHANNELS = ("a", "b", "c")
SKILLS = ("x", "y")
QUEUES = {
    "li": Strategy.LONGEST_IDLE,
    "ms": Strategy.MOST_SKILLED,
    "lo": Strategy.LEAST_OCCUPIED,
    "fh": Strategy.FEWEST_HANDLED,
}
AGENTS = ("ann", "bob", "cy", "dee", "eve")


@st.composite
def channels_st(draw: st.DrawFn) -> list[Channel]:
    return [
        Channel(
            name,
            ChannelKind.SEMI_SYNCHRONOUS,
            draw(st.integers(0, 3)),
            draw(st.sampled_from([0, 0, 10, 33, 50, 100])),
            draw(st.booleans()),
        )
        for name in CHANNELS
    ]


@st.composite
def agent_st(draw: st.DrawFn, agent_id: str) -> Agent:
    skills = draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5)))
    queues = draw(st.frozensets(st.sampled_from(sorted(QUEUES)), min_size=1))
    capacity = draw(
        st.none() | st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3), min_size=1)
    )
    budget = draw(st.none() | st.sampled_from([0, 0, 20, 50, 100, 150]))
    return Agent(agent_id, skills=skills, queues=queues, capacity=capacity, unit_budget=budget)


def expected_score(
    code: Strategy, view: AgentView, requirements: Mapping[str, int], now: float
) -> float:
    """docs/explain.md's score of an agent, from its public view."""
    if code is Strategy.LONGEST_IDLE:
        return now - view.idle_since
    if code is Strategy.MOST_SKILLED:
        return float(sum(view.skills.get(s, 0) for s in requirements))
    if code is Strategy.FEWEST_HANDLED:
        return float(-view.handled)
    assert code is Strategy.LEAST_OCCUPIED
    # 1 - the share in use: units / budget with a budget (a budget of 0 lets
    # the agent hold only zero-cost work and counts as full), else contacts
    # over its capacity summed over channels (no capacity counts as full).
    if view.unit_budget is not None:
        return 1.0 - (view.units_used / view.unit_budget if view.unit_budget else 1.0)
    total = sum(view.capacity.values())
    return 1.0 - (sum(view.load.values()) / total if total else 1.0)


class Checker:
    """Checks each offer's reason at the moment the offer is made."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.checked = 0

    def __call__(
        self,
        contact_id: str,
        agent_id: str,
        now: float,
        events: list[Event],
        reason: OfferReason | None,
        extra: bool,
    ) -> None:
        router = self.router
        assert reason is not None
        code = Strategy(reason.strategy)
        winner = router.agent(agent_id)
        if not extra:
            # The contact still waits: explain lists who could take it now,
            # the winner among them.
            assert reason.eligible == len(router.explain(contact_id).eligible), reason
            requirements = router.contact(contact_id).requirements
            expected = expected_score(code, winner, requirements, now)
            assert reason.score == expected, (reason, expected, winner)
        if (
            reason.trigger == "contact"
            and reason.runner_up is not None
            and reason.score is not None
            and reason.score < reason.runner_up
        ):
            # The strategy picks the highest score. Only longest idle may pick
            # a lower one: an agent holding no work ranks first.
            assert code is Strategy.LONGEST_IDLE and not any(winner.load.values()), (
                reason,
                winner,
            )
        self.checked += 1


OPS = (
    "submit",
    "submit",
    "submit",
    "accept",
    "accept",
    "reject",
    "complete",
    "end_wrap_up",
    "presence",
    "capacity",
    "update_agent",
    "transfer",
    "advance",
)


def run(data: st.DataObject, steps: int) -> int:
    """Drive one random scenario; return how many offers were checked."""
    channels = data.draw(channels_st(), label="channels")
    h = RouterHarness(channels=channels)
    router = h.router
    # Most skilled relaxes "x" after 5 s and lets every queue help after 10 s.
    relax = (RoutingStep(5.0, {"x": 1}), RoutingStep(10.0, {"y": None}, queues=set(QUEUES)))
    router.add_queues(
        QueueConfig(
            name,
            strategy=strategy,
            wrap_up=None,
            offer_timeout=None,
            steps=relax if name == "ms" else (),
        )
        for name, strategy in QUEUES.items()
    )
    checker = Checker(router)
    watch_offers(router, checker)
    for agent_id in AGENTS[: data.draw(st.integers(2, len(AGENTS)), label="agents")]:
        agent = data.draw(agent_st(agent_id), label=agent_id)
        router.add_agent(agent, data.draw(st.sampled_from(list(Presence)), label="presence"))
    serial = 0

    def pick(ids: Iterable[str]) -> str:
        return data.draw(st.sampled_from(sorted(ids)))

    for _ in range(steps):
        op = data.draw(st.sampled_from(OPS), label="op")
        offered = [(c, a) for a in router.agent_ids for c in router.agent(a).offered]
        in_service = [c for a in router.agent_ids for c in router.agent(a).in_service]
        wrap_up = [c for a in router.agent_ids for c in router.agent(a).wrap_up]
        try:
            if op == "submit":
                serial += 1
                router.submit(
                    Contact(
                        f"c{serial}",
                        data.draw(st.sampled_from(CHANNELS)),
                        data.draw(st.sampled_from(sorted(QUEUES))),
                        requirements=data.draw(
                            st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5))
                        ),
                    )
                )
            elif op in ("accept", "reject") and offered:
                c, a = data.draw(st.sampled_from(sorted(offered)))
                (router.accept if op == "accept" else router.reject)(c, a)
            elif op == "complete" and in_service:
                router.complete(pick(in_service))
            elif op == "end_wrap_up" and wrap_up:
                router.end_wrap_up(pick(wrap_up))
            elif op == "presence":
                router.set_presence(
                    pick(router.agent_ids), data.draw(st.sampled_from(list(Presence)))
                )
            elif op == "capacity":
                router.set_capacity(
                    pick(router.agent_ids),
                    data.draw(st.sampled_from(CHANNELS)),
                    data.draw(st.integers(0, 3)),
                )
            elif op == "update_agent":
                router.update_agent(data.draw(agent_st(pick(router.agent_ids))))
            elif op == "transfer" and router.contact_ids:
                router.transfer(
                    pick(router.contact_ids),
                    queue=data.draw(st.sampled_from(sorted(QUEUES))),
                    requirements=data.draw(
                        st.none() | st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5))
                    ),
                )
            elif op == "advance":
                h.advance(data.draw(st.sampled_from([0.5, 1.0, 7.0])))
        except CCRouteError:
            pass  # a refused call changes nothing
    return checker.checked


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_offer_reasons_agree_with_the_decision(
    queue_factory: Callable[[], Any], data: st.DataObject
) -> None:
    run(data, steps=40)


def test_zero_budget_agent_scores_as_full(queue_factory: Callable[[], Any]) -> None:
    """Issue 14's case: an agent with unit_budget=0 (it can hold only zero-cost
    work) counts as fully occupied, and its reason says so."""
    channels = [Channel("free", ChannelKind.ASYNCHRONOUS, 2, 0)]
    h = RouterHarness(channels=channels)
    h.queue("q", strategy=Strategy.LEAST_OCCUPIED)
    h.agent("ann", queues={"q"}, unit_budget=0)
    h.agent("bob", queues={"q"}, capacity={"free": 2})
    h.submit("c1", channel="free")
    h.submit("c2", channel="free")
    reasons = [
        (e.contact_id, e.agent_id, e.reason.score, e.reason.runner_up)
        for e in of_type(h.events, Offered)
        if e.reason is not None
    ]
    # bob (empty, 2 slots) scores 1.0 against ann's 0.0; then bob (half full)
    # scores 0.5, still above ann.
    assert reasons == [("c1", "bob", 1.0, 0.0), ("c2", "bob", 0.5, 0.0)]
