"""The simulator's fast paths give what the plain paths give, value for value.

The simulator builds each arrival stream's contacts from the stream's first
contact (``contact_with_id``), draws durations through ``Distribution.sampler``
and hands the totals collectors only the events they count
(``TotalsCollector.TAKES``). Each is checked here against the plain path it
replaces: equal values, the same errors, and the same simulated day.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import attrs
import pytest

from ccroute import Contact, InvalidValueError, ManualClock, QueueConfig, Router
from ccroute.metrics import MetricsCollector, TotalsCollector
from ccroute.model import MAX_ID_LENGTH, Agent, Presence, contact_with_id
from ccroute.sim import Distribution, Simulation, parse_scenario
from ccroute.sim import engine as engine_module

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

TEMPLATES = [
    Contact("c1", "voice", "sales"),
    Contact(
        "c1",
        "chat",
        "support",
        requirements={"en": 3, "tech": 5},
        priority_seconds=60.0,
        tier=2,
        customer_id="cust-9",
        attributes={"order": [1, 2]},
        preferred_agent="a7",
        preferred_wait=15.0,
        excluded_agents={"a1", "a2"},
        max_wait=120.0,
    ),
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_contact_with_id_equals_the_constructors_contact(template: Contact) -> None:
    fast = contact_with_id(template, "c2")
    plain = attrs.evolve(template, id="c2")
    assert type(fast) is Contact
    assert fast == plain
    assert hash(fast) == hash(plain)
    assert repr(fast) == repr(plain)
    # every field, those left out of equality (attributes) included
    for field in attrs.fields(Contact):
        assert getattr(fast, field.name) == getattr(plain, field.name), field.name
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.id = "c3"  # type: ignore[misc]


@pytest.mark.parametrize("bad", ["", "x" * (MAX_ID_LENGTH + 1)])
def test_contact_with_id_refuses_what_the_constructor_refuses(bad: str) -> None:
    with pytest.raises(InvalidValueError) as plain:
        Contact(bad, "voice", "sales")
    with pytest.raises(InvalidValueError) as fast:
        contact_with_id(TEMPLATES[0], bad)
    assert str(fast.value) == str(plain.value)


def test_a_fast_contact_routes_like_a_constructed_one() -> None:
    def run(make: Any) -> list[Any]:
        router = Router(ManualClock(0.0), seed=1)
        router.add_queues([QueueConfig("sales")])
        router.add_agent(Agent("a1", queues={"sales"}))
        router.set_presence("a1", Presence.AVAILABLE)
        return router.submit(make(TEMPLATES[0], "c9"))

    assert run(contact_with_id) == run(lambda t, i: attrs.evolve(t, id=i))


@pytest.mark.parametrize(
    "distribution",
    [
        Distribution("exponential", 180.0),
        Distribution("exponential", 7),
        Distribution("lognormal", 120.0, 60.0),
        Distribution("fixed", 30.0),
        Distribution("empirical", values=(1.0, 2.5, 9.0)),
        Distribution("none"),
    ],
)
def test_sampler_draws_what_sample_draws(distribution: Distribution) -> None:
    plain, fast = random.Random(5), random.Random(5)
    draw = distribution.sampler(fast)
    for _ in range(200):
        assert draw() == distribution.sample(plain)
    assert fast.getstate() == plain.getstate()


def test_totals_collector_ignores_what_takes_leaves_out() -> None:
    router = Router(ManualClock(0.0), seed=1)
    router.add_queues([QueueConfig("sales", offer_timeout=5.0)])
    router.add_agent(Agent("a1", queues={"sales"}))
    batches: list[list[Any]] = []
    router.observe(batches.append)
    router.set_presence("a1", Presence.AVAILABLE)
    router.submit(Contact("c1", "voice", "sales"))
    router.reject("c1", "a1")
    router.set_presence("a1", Presence.AVAILABLE)
    router.accept("c1", "a1")
    router.complete("c1")
    events = [e for batch in batches for e in batch]
    assert {type(e) for e in events} - TotalsCollector.TAKES  # some are left out
    every, some = TotalsCollector(), TotalsCollector()
    for event in events:
        every.take(event)
        if type(event) in TotalsCollector.TAKES:
            some.take(event)
    metrics = MetricsCollector()
    metrics.observe(events)
    assert every.total(10.0) == some.total(10.0) == metrics.report(10.0).total


@pytest.mark.usefixtures("queue_factory")
@pytest.mark.parametrize("example", ["contact_centre.toml", "multiskill.toml"])
def test_a_day_is_the_same_without_the_fast_paths(
    example: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = parse_scenario((EXAMPLES / example).read_text(), example)
    scenario = attrs.evolve(scenario, warmup=3600.0)
    fast = Simulation(scenario, keep_events=True).run()
    monkeypatch.setattr(
        engine_module, "contact_with_id", lambda t, i: attrs.evolve(t, id=i), raising=True
    )
    monkeypatch.setattr(
        Distribution, "sampler", lambda self, rng: functools.partial(self.sample, rng)
    )
    plain = Simulation(scenario, keep_events=True).run()
    assert fast == plain
    assert fast.event_log == plain.event_log
    assert fast.breakdown == plain.breakdown


def _busy_day(example: str) -> Any:
    """An example day with a warm-up, and timeouts and overflows besides abandons."""
    scenario = parse_scenario((EXAMPLES / example).read_text(), example)
    names = [q.name for q in scenario.queues]
    queues = tuple(
        attrs.evolve(q, max_wait=90.0 + 30.0 * k, overflow=names[-1] if k == 0 else None)
        for k, q in enumerate(scenario.queues)
    )
    return attrs.evolve(scenario, queues=queues, warmup=1.5 * scenario.interval)


@pytest.mark.usefixtures("queue_factory")
@pytest.mark.parametrize("example", ["contact_centre.toml", "multiskill.toml"])
def test_the_engines_totals_are_totals_collectors_fed_by_arrival(example: str) -> None:
    # The engine folds each event once into the interval and measured totals;
    # TotalsCollectors fed each contact's events (attributed by its arrival,
    # when it was queued or refused) must report the same, float for float.
    scenario = _busy_day(example)
    sim = Simulation(scenario, keep_events=True)
    result = sim.run()
    log = result.event_log
    assert log is not None
    kinds = {type(e).__name__ for e in log}
    assert {"Overflowed", "Abandoned"} <= kinds
    assert "TimedOut" in kinds or example == "multiskill.toml"
    warm_end = scenario.start + scenario.warmup
    intervals = [TotalsCollector() for _ in range(scenario.intervals)]
    measured = TotalsCollector()
    arrival: dict[str, float] = {}
    for event in log:
        contact_id = getattr(event, "contact_id", None)
        if contact_id is None:
            continue
        at = arrival.setdefault(contact_id, event.at)
        index = min(int((at - scenario.start) // scenario.interval), scenario.intervals - 1)
        intervals[index].take(event)
        if at >= warm_end:
            measured.take(event)
    now = result.end_time
    for index, collector in enumerate(intervals):
        assert sim.interval_totals(index) == collector.total(now)
    assert result.measured == measured.total(now)
