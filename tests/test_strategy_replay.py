"""A log written under a custom strategy that misbehaves still replays, exactly.

A router is driven at random (one call at a time, each recorded as the
service logs it: the command, its time, its events, through the log's JSON)
with custom strategies that raise now and then, keep state, draw random
numbers or read the clock, on queues that offer one agent or ring several.
A fresh router (or one restored from a snapshot taken half-way) replays the
records with a strategy that must not be asked, and must end in the very
state of the one that ran: the same state document (waiting contacts and
their keys, offers, agents, counters, ``strategy_failures``).

A log the router cannot have written is still refused: an offer to an agent
who could not take the contact, a built-in strategy's decision changed.
Runs on both queue twins.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from misbehaving import MOVES, Dice, Flaky, Patterned, Stopwatch, Tally, Untouchable

sys.path.insert(0, str(Path(__file__).resolve().parent / "streams"))

from streams_format import Outcome, Scenario, ScriptedClock, perform, read_all, summarise

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    ContactState,
    ManualClock,
    Offered,
    Presence,
    QueueConfig,
    Router,
    StorageError,
    Strategy,
)
from ccroute.codec import decode_row, encode_row
from ccroute.commands import (
    Abandon,
    Accept,
    AddAgent,
    AddQueues,
    Command,
    Complete,
    EndWrapUp,
    Reject,
    SetPresence,
    Submit,
    Tick,
    Transfer,
    UpdateQueue,
)
from ccroute.service import replay
from ccroute.storage import LogRecord

pytestmark = pytest.mark.usefixtures("queue_factory")

QUEUES = (
    QueueConfig("solo", strategy="custom", offer_timeout=20.0, wrap_up=5.0, rona_not_ready=False),
    QueueConfig("ring", strategy="custom", ring=3, offer_timeout=15.0, wrap_up=None),
    QueueConfig("plain", strategy=Strategy.MOST_SKILLED, offer_timeout=None, wrap_up=0.0),
    QueueConfig("dice", strategy=Strategy.RANDOM, offer_timeout=10.0, wrap_up=0.0),
)
AGENTS = tuple(
    Agent(
        f"a{i}",
        skills={"en": i},
        queues=queues,
        capacity={"voice": 1, "chat": 2},
    )
    for i, queues in enumerate(
        [
            ("solo", "ring"),
            ("solo", "ring", "plain"),
            ("ring", "plain", "dice"),
            ("solo", "ring", "dice"),
            ("solo", "plain", "dice"),
            ("ring", "dice"),
        ],
        start=1,
    )
)


class Recorder:
    """A router called as the service calls it, every call that went through
    recorded as the log records it (due timers first, as a ``tick`` of their own;
    a refused call is not recorded)."""

    def __init__(self, strategy: Any, seed: int = 7, reasons: bool = True) -> None:
        self.clock = ManualClock(0.0)
        self.seed = seed
        self.router = Router(
            self.clock, seed=seed, strategies={"custom": strategy}, offer_reasons=reasons
        )
        self.records: list[LogRecord] = []
        self.cut: tuple[int, bytes] | None = None  # (records, state) half-way

    def call(self, command: Command) -> None:
        router = self.router
        due = router.next_due()
        if due is not None and due <= self.clock.now() and type(command) is not Tick:
            self._log(Tick(), router.tick().events)
        try:
            events = command.apply(router)
        except CCRouteError:
            return
        self._log(command, events)

    def _log(self, command: Command, events: list[Any]) -> None:
        record = LogRecord(len(self.records) + 1, self.clock.now(), command, tuple(events))
        # Through the log's JSON, as a restart reads it back.
        self.records.append(decode_row(encode_row(record)))

    def set_up(self) -> None:
        self.call(AddQueues(QUEUES))
        for agent in AGENTS:
            self.call(AddAgent(agent, Presence.AVAILABLE))

    def drive(self, rng: random.Random, steps: int) -> None:
        """Seeded calls among those that make sense now (some are refused)."""
        router = self.router
        for n in range(steps):
            if n == steps // 2:
                self.cut = (len(self.records), router.snapshot())
            by_state: dict[ContactState, list[str]] = {s: [] for s in ContactState}
            for contact_id in router.contact_ids:
                by_state[router.contact(contact_id).state].append(contact_id)
            offered = by_state[ContactState.OFFERED]
            roll = rng.random()
            # Few contacts wait at once, so agents often have a choice.
            if roll < 0.35 and len(by_state[ContactState.WAITING]) > 4:
                roll = 0.35 + rng.random() * 0.65
            if roll < 0.35:
                queue = rng.choice(["solo", "solo", "ring", "ring", "plain", "dice"])
                contact = Contact(
                    f"c{n}",
                    rng.choice(["voice", "chat"]),
                    queue,
                    requirements={"en": rng.randint(1, 3)} if rng.random() < 0.3 else {},
                )
                self.call(Submit(contact))
            elif roll < 0.5 and offered:
                contact_id = rng.choice(offered)
                holders = [a for a in router.agent_ids if contact_id in router.agent(a).offered]
                self.call(Accept(contact_id, rng.choice(holders)))
            elif roll < 0.58 and offered:
                contact_id = rng.choice(offered)
                holders = [a for a in router.agent_ids if contact_id in router.agent(a).offered]
                self.call(Reject(contact_id, rng.choice(holders)))
            elif roll < 0.68 and by_state[ContactState.IN_SERVICE]:
                self.call(Complete(rng.choice(by_state[ContactState.IN_SERVICE])))
            elif roll < 0.72 and by_state[ContactState.WRAP_UP]:
                self.call(EndWrapUp(rng.choice(by_state[ContactState.WRAP_UP])))
            elif roll < 0.8:
                presence = rng.choice([Presence.AVAILABLE] * 3 + [Presence.NOT_READY])
                self.call(SetPresence(rng.choice(AGENTS).id, presence))
            elif roll < 0.84 and router.contact_ids:
                self.call(Abandon(rng.choice(router.contact_ids)))
            elif roll < 0.88 and by_state[ContactState.WAITING] + offered:
                contact_id = rng.choice(by_state[ContactState.WAITING] + offered)
                self.call(Transfer(contact_id, queue=rng.choice(["solo", "ring", "plain"])))
            elif roll < 0.9:
                # A queue changes strategy while contacts wait in it.
                config = rng.choice(QUEUES[:2])
                strategy = rng.choice(["custom", Strategy.LONGEST_IDLE])
                self.call(UpdateQueue(attrs.evolve(config, strategy=strategy)))
            else:
                self.clock.advance(rng.choice([1.0, 5.0, 12.0, 20.0]))
                self.call(Tick())


def replayed(
    rec: Recorder, strategy: Any, *, from_cut: bool = False, reasons: bool = True
) -> Router:
    """A router that replayed ``rec``'s records (from its half-way snapshot, or all)."""
    records = rec.records
    if from_cut:
        assert rec.cut is not None
        done, state = rec.cut
        router = Router.restore(state, strategies={"custom": strategy})
        clock = router.clock
        assert isinstance(clock, ManualClock)
        records = records[done:]
    else:
        clock = ManualClock(0.0)
        router = Router(
            clock, seed=rec.seed, strategies={"custom": strategy}, offer_reasons=reasons
        )
    replay(router, clock, records)
    return router


def custom_offers(records: list[LogRecord]) -> list[Offered]:
    """Offers a custom strategy chose among several agents."""
    return [
        e
        for r in records
        for e in r.events
        if isinstance(e, Offered)
        and e.reason is not None
        and e.reason.strategy == "custom"
        and e.reason.trigger == "contact"
        and e.reason.eligible > 1
    ]


STRATEGIES: Mapping[str, Callable[[], Any]] = {
    "raises every other call": Flaky,
    "random": Dice,
    "reads the clock": Stopwatch,
    "keeps state": Tally,
}


@pytest.mark.parametrize("make", list(STRATEGIES.values()), ids=list(STRATEGIES))
def test_a_log_written_under_a_strategy_that_answers_differently_replays_exactly(
    make: Callable[[], Any],
) -> None:
    rec = Recorder(make())
    rec.set_up()
    # Long enough that however a random or clock-reading strategy scores
    # (their runs differ each time), the run has the decisions checked below:
    # at 600 steps a random one made as few as 12.
    rec.drive(random.Random(11), 2000)
    chosen = custom_offers(rec.records)
    # The run had decisions to reproduce, ring-all's among them, and a
    # strategy that raises now and then failed some of them, not all.
    assert len(chosen) >= 15 and sum(e.queue == "ring" for e in chosen) >= 5
    failed = sum(e.reason is not None and e.reason.score is None for e in chosen)
    assert rec.router.strategy_failures == failed
    assert (0 < failed < len(chosen)) if make is Flaky else failed == 0
    for from_cut in (False, True):
        untouchable = Untouchable()
        again = replayed(rec, untouchable, from_cut=from_cut)
        assert untouchable.calls == 0
        assert again.snapshot() == rec.router.snapshot()
        assert again.strategy_failures == rec.router.strategy_failures
    # The replayed router goes on routing, asking its own strategy now.
    fresh = Tally()
    again = replayed(rec, fresh)
    again.add_queue(QueueConfig("after", strategy="custom"))
    for agent_id in ("n1", "n2"):
        again.add_agent(Agent(agent_id, queues={"after"}), Presence.AVAILABLE)
    events = again.submit(Contact("next", "voice", "after"))
    assert [e.agent_id for e in events if isinstance(e, Offered)]
    assert sum(fresh.seen.values()) >= 2


def test_a_ring_all_decision_replays_each_agent_rung() -> None:
    rec = Recorder(Dice())
    rec.set_up()
    rec.call(Submit(Contact("call", "voice", "ring")))
    (offers,) = [[e for e in r.events if isinstance(e, Offered)] for r in rec.records[-1:]]
    assert len(offers) == 3 and all(o.reason and o.reason.score is not None for o in offers)
    untouchable = Untouchable()
    again = replayed(rec, untouchable)
    assert untouchable.calls == 0
    assert again.explain("call").agents == rec.router.explain("call").agents
    assert again.snapshot() == rec.router.snapshot()


def test_without_offer_reasons_the_choices_replay_but_no_failure_is_counted() -> None:
    # An offer without a reason does not say whether the strategy failed.
    rec = Recorder(Flaky(), reasons=False)
    rec.set_up()
    rec.drive(random.Random(3), 200)
    assert rec.router.strategy_failures > 0
    untouchable = Untouchable()
    again = replayed(rec, untouchable, reasons=False)
    assert untouchable.calls == 0
    assert again.strategy_failures == 0
    live = attrs.evolve(rec.router.state(), strategy_failures=0)
    assert again.state() == live


def tampered(rec: Recorder, offer: Offered, **changes: Any) -> list[LogRecord]:
    """The records with one offer changed."""
    out = []
    for record in rec.records:
        if offer in record.events:
            events = tuple(attrs.evolve(e, **changes) if e is offer else e for e in record.events)
            record = attrs.evolve(record, events=events)
        out.append(record)
    return out


def test_a_logged_choice_the_router_cannot_make_is_a_divergence() -> None:
    rec = Recorder(Dice())
    rec.set_up()
    rec.call(SetPresence("a6", Presence.NOT_READY))
    rec.call(Submit(Contact("call", "voice", "solo")))
    (offer,) = custom_offers(rec.records)
    untouchable = Untouchable()
    # a6 is not ready, a1 does not serve the queue "plain" ... a contact of
    # another queue's member, an unknown agent: none could have taken it.
    for agent in ("a6", "a3", "nobody"):
        records = tampered(rec, offer, agent_id=agent)
        router = Router(ManualClock(0.0), seed=rec.seed, strategies={"custom": untouchable})
        with pytest.raises(StorageError, match="replays to different events"):
            replay(router, router.clock, records)  # type: ignore[arg-type]
    # A store is plugin code: an offer it made up (an id that is not a str,
    # a reason that is not one, a score no strategy could have logged) is
    # not taken either, and is reported as a divergence, not a crash.
    assert offer.reason is not None
    for changes in (
        {"agent_id": ["a1"]},
        {"reason": "best"},
        {"reason": attrs.evolve(offer.reason, score=math.inf)},
        {"reason": attrs.evolve(offer.reason, score=math.nan)},
        {"reason": attrs.evolve(offer.reason, runner_up=-math.inf)},
        {"reason": attrs.evolve(offer.reason, score=True)},
    ):
        router = Router(ManualClock(0.0), seed=rec.seed, strategies={"custom": untouchable})
        with pytest.raises(StorageError, match="replays to different events"):
            replay(router, router.clock, tampered(rec, offer, **changes))  # type: ignore[arg-type]
    # Asked only because the log's choice was impossible.
    assert untouchable.calls > 0


def test_a_built_in_strategys_decision_is_still_checked() -> None:
    rec = Recorder(Dice())
    rec.set_up()
    rec.call(Submit(Contact("call", "voice", "plain", requirements={"en": 1})))
    (offer,) = [e for e in rec.records[-1].events if isinstance(e, Offered)]
    assert offer.agent_id == "a5"  # most skilled
    records = tampered(rec, offer, agent_id="a3")  # eligible, but not most skilled
    router = Router(ManualClock(0.0), seed=rec.seed, strategies={"custom": Untouchable()})
    with pytest.raises(StorageError, match="replays to different events"):
        replay(router, router.clock, records)  # type: ignore[arg-type]


def test_a_failure_replays_as_a_failure_and_longest_idle_chooses_again() -> None:
    rec = Recorder(Patterned(["raise"]))
    rec.set_up()
    rec.call(Submit(Contact("call", "voice", "solo")))
    (offer,) = custom_offers(rec.records)
    assert offer.reason is not None and offer.reason.score is None
    assert offer.agent_id == "a1"  # longest idle among a1, a2, a4, a5
    again = replayed(rec, Untouchable())
    assert again.strategy_failures == 1
    # A logged failure whose agent is not longest idle's choice: not this router's.
    router = Router(ManualClock(0.0), seed=rec.seed, strategies={"custom": Untouchable()})
    with pytest.raises(StorageError, match="replays to different events"):
        replay(router, router.clock, tampered(rec, offer, agent_id="a4"))  # type: ignore[arg-type]


def test_the_scores_an_offer_carries_are_the_logged_ones() -> None:
    rec = Recorder(Dice())
    rec.set_up()
    rec.call(Submit(Contact("call", "voice", "solo")))
    (offer,) = custom_offers(rec.records)
    again = Router(ManualClock(0.0), seed=rec.seed, strategies={"custom": Untouchable()})
    clock = again.clock
    assert isinstance(clock, ManualClock)
    seen: list[Any] = []
    again.observe(seen.extend)
    replay(again, clock, rec.records)
    (replayed_offer,) = [e for e in seen if isinstance(e, Offered)]
    assert replayed_offer == offer
    assert replayed_offer.reason is not None and offer.reason is not None
    assert replayed_offer.reason.score == offer.reason.score
    assert replayed_offer.reason.runner_up == offer.reason.runner_up


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    moves=st.lists(st.sampled_from(MOVES), min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
    steps=st.integers(20, 160),
)
def test_any_pattern_of_misbehaviour_replays_to_the_state_that_ran(
    moves: list[str], seed: int, steps: int
) -> None:
    """Whatever a strategy does at each call (score, raise, exit, NaN, junk,
    random, the clock), a replay of its log, whole or from a snapshot taken
    half-way, ends in the state of the router that ran, without asking it."""
    rec = Recorder(Patterned(moves, seed))
    rec.set_up()
    rec.drive(random.Random(seed), steps)
    expected = rec.router.snapshot()
    for from_cut in (False, True):
        untouchable = Untouchable()
        again = replayed(rec, untouchable, from_cut=from_cut)
        assert untouchable.calls == 0
        assert again.snapshot() == expected


# ------------------------------------------- every recorded stream, followed


@cache
def custom_scenarios() -> tuple[Scenario, ...]:
    """The recorded scenarios whose router has custom strategies."""
    return tuple(s for s in read_all() if s.router.strategies)


def follow(scenario: Scenario) -> tuple[str | None, int, int]:
    """Replay a recorded scenario with strategies that must not be asked, each
    call following the events it recorded: the first difference (or ``None``),
    the strategies' calls and the custom decisions among several agents."""
    setup = scenario.router
    clock = ScriptedClock(setup.clock)
    untouchable = {name: Untouchable() for name in setup.strategies}
    built = setup.router(clock)
    router = Router(
        clock,
        seed=setup.seed,
        channels=built.channels,
        strategies=untouchable,
        policy=built.policy,
        offer_reasons=setup.offer_reasons,
        epoch=setup.epoch,
        masking=None if setup.masking is None else setup.masking.masking(),
    )
    decisions = 0
    for index, call in enumerate(scenario.calls):
        expected = Outcome.recorded(call)
        if expected.events is not None:
            router._follow(expected.events)
            decisions += len(custom_offers_of(expected.events, setup.strategies))
        try:
            got = perform(router, clock, call.request(), scenario.version)
        finally:
            router._unfollow()
        if got is not None and got != expected:
            return f"call {index} ({call.call}): expected {expected}, got {got}", 0, decisions
    summary = summarise(router, scenario.version)
    recorded = msgspec.json.decode(bytes(scenario.summary))
    if not setup.offer_reasons:
        # Offers without reasons do not say whether the strategy failed.
        del summary["strategy_failures"], recorded["strategy_failures"]
    if summary != recorded:
        return f"summary: expected {recorded}, got {summary}", 0, decisions
    return None, sum(s.calls for s in untouchable.values()), decisions


def custom_offers_of(events: tuple[Any, ...], names: list[str]) -> list[Offered]:
    return [
        e
        for e in events
        if isinstance(e, Offered)
        and e.reason is not None
        and e.reason.strategy in names
        and e.reason.trigger == "contact"
        and e.reason.eligible > 1
    ]


def test_every_recorded_stream_replays_following_its_events_without_asking_a_strategy() -> None:
    """The 1,400 recorded scenarios (every policy, timers, ring-all, reservations,
    steps, runtime changes ...) whose router has custom strategies: each call
    given the events it recorded makes them again, its strategies' choices
    taken from them (each decision's offer is the next event of its call),
    and the end is the recorded one, ``strategy_failures`` included."""
    scenarios = custom_scenarios()
    assert len(scenarios) > 100
    decisions = 0
    for scenario in scenarios:
        problem, asked, made = follow(scenario)
        assert problem is None, f"scenario {scenario.scenario}: {problem}"
        assert asked == 0, f"scenario {scenario.scenario}: a strategy was asked {asked} times"
        decisions += made
    assert decisions > 300
