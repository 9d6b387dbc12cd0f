"""A call either happens or changes nothing, and every bad input is a CCRouteError.

Three fuzzers, each on both twins of the universal queue:

* the router: random sequences of good and bad calls to every public method
  (wrong types, unknown ids, huge and negative numbers, NaN and infinities,
  huge strings, wrong states), with the clock moving between them. Every call
  either returns or raises a ``CCRouteError``; a refused call leaves the
  router, its time and its queue exactly as they were. A second router driven
  in lockstep receives only the calls that were accepted, so the two must
  agree at every step: the one exception the rules allow (a call that passed
  its checks, then was refused because a timer that fell due changed what it
  needed) must leave the first router exactly as ``tick()`` leaves the second;
* every public constructor (model values, policies, clocks, the router) with
  random good and bad field values: it builds a value whose fields are within
  the documented bounds, or raises a ``CCRouteError``;
* the twins' own public entries, called directly with random arguments: both
  give the same answer or the same error type, and a refused call changes
  neither (differential when the compiled twin is built; the pure twin alone
  otherwise).

Then example tests for the cases the first fuzzing campaign found, and for
observers that raise.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from implementations import COMPILED_EXPECTED, IMPLEMENTATIONS

from ccroute import (
    Admission,
    Agent,
    BusinessHours,
    CCRouteError,
    Channel,
    ChannelKind,
    ClockError,
    Contact,
    Event,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    MonotonicClock,
    Presence,
    QueueConfig,
    RampUp,
    Router,
    RoutingPolicy,
    RoutingStep,
    Strategy,
    Transferred,
    UnknownIdError,
    WhenClosed,
)
from ccroute._values import is_text
from ccroute.model import MAX_COUNT, MAX_ID_LENGTH, MAX_LEVEL, MAX_SECONDS, MAX_TIER, MIN_LEVEL
from ccroute.testing import RouterHarness, check_queue, queue_entries, snapshot

pytestmark = pytest.mark.usefixtures("queue_factory")

HUGE = "x" * 100_000
# Values that are wrong for any id, count or duration (some are also wrong types).
# "\ud800": a lone surrogate, which a Python str holds but UTF-8 (JSON, the log,
# the snapshot) cannot write
BAD_IDS: list[Any] = [
    None,
    5,
    -1,
    2**63,
    1.5,
    math.nan,
    True,
    "",
    "x" * 1001,
    HUGE,
    [],
    b"a",
    "\ud800",
    "a\udfff",
]
BAD_COUNTS: list[Any] = [
    -1,
    2**31,
    2**63,
    -(2**63),
    2**64,
    1.5,
    math.nan,
    math.inf,
    True,
    None,
    "3",
    [3],
]
BAD_SECONDS: list[Any] = [-1, math.nan, math.inf, -math.inf, 1e10, 2**64, 10**400, True, None, "1"]
BAD_PRESENCES: list[Any] = [None, "available", 1, True, Presence]
BAD_FLAGS: list[Any] = ["no", None, 1, 0.0, []]
BAD_REQUIREMENTS: list[Any] = [
    5,
    "en",
    {"en": 11},
    {"en": 0},
    {"": 3},
    {5: 3},
    {"en": 2.5},
    {"en": True},
    [1, 2],
    {"x" * 1001: 3},
    (0,),  # a tuple whose items are not pairs
    ("en",),
    (("en", 1, 2),),
]

AGENTS = ["a0", "a1", "a2", "a3"]
CONTACTS = [f"c{i}" for i in range(8)]
QUEUES = ["q", "r", "h"]
CHANNELS = ["voice", "chat", "email"]
CUSTOMERS = ["k0", "k1"]


def ids(good: list[str], bad: list[Any] = BAD_IDS) -> st.SearchStrategy[Any]:
    """Mostly good ids, sometimes an unknown or malformed one."""
    known = st.sampled_from(good)
    return st.one_of(known, known, known, known, st.sampled_from(["nope", *bad]))


def maybe_bad(good: st.SearchStrategy[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, good, good, st.sampled_from(bad))


# ---------------------------------------------------------------- good values

queue_configs = st.builds(
    QueueConfig,
    st.sampled_from(["q", "r", "s", "t"]),
    strategy=st.sampled_from([*Strategy, "custom-unknown"]),
    offer_timeout=st.sampled_from([None, 3.0, 30.0]),
    wrap_up=st.sampled_from([None, 0.0, 2.0]),
    max_size=st.sampled_from([None, 0, 2]),
    steps=st.sampled_from([(), (RoutingStep(1.0, {"en": None}),), (RoutingStep(0, queues={"q"}),)]),
    ring=st.sampled_from([1, 2]),
    max_wait=st.sampled_from([None, 4.0]),
    overflow=st.sampled_from([None, "q", "r", "elsewhere"]),
    admission=st.sampled_from(list(Admission)),
    rejoin_window=st.sampled_from([None, 5.0]),
)
agents = st.builds(
    Agent,
    st.sampled_from([*AGENTS, "a4"]),
    skills=st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(MIN_LEVEL, MAX_LEVEL)),
    queues=st.sets(st.sampled_from([*QUEUES, "zz"]), max_size=2),
    capacity=st.sampled_from([None, {"voice": 1, "chat": 2}, {"chat": 3}, {"fax": 1}]),
    unit_budget=st.sampled_from([None, 0, 100]),
    queue_delays=st.sampled_from([{}, {"q": 2.0}]),
)
contacts = st.builds(
    Contact,
    st.sampled_from(CONTACTS),
    st.sampled_from([*CHANNELS, *CHANNELS, "pigeon"]),
    st.sampled_from([*QUEUES, *QUEUES, "nope"]),
    requirements=st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 5), max_size=1),
    priority_seconds=st.sampled_from([0.0, 10.0, -MAX_SECONDS]),
    tier=st.sampled_from([0, 1, -MAX_TIER, MAX_TIER]),
    customer_id=st.sampled_from([None, *CUSTOMERS]),
    attributes=st.sampled_from([{}, {"vip": True, "tags": ["x", 1, None, {"n": 2**63 - 1}]}]),
    preferred_agent=st.sampled_from([None, None, "a0", "a9"]),
    preferred_wait=st.sampled_from([0.0, 3.0]),
    excluded_agents=st.sampled_from([frozenset(), frozenset({"a1"})]),
    max_wait=st.sampled_from([None, 6.0]),
)
channels = st.builds(
    Channel,
    st.sampled_from(["voice", "fax", "pager"]),
    st.sampled_from(list(ChannelKind)),
    default_capacity=st.integers(0, 3),
    unit_cost=st.integers(0, 100),
    exclusive=st.booleans(),
)
BAD_OBJECTS: list[Any] = [None, 5, "x", {}, [], object()]


def calls() -> st.SearchStrategy[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """One call to a public Router method, with good and bad arguments mixed."""
    agent_id = ids(AGENTS)
    contact_id = ids(CONTACTS)
    queue = ids(QUEUES)
    channel = ids(CHANNELS)
    presence = maybe_bad(st.sampled_from(list(Presence)), BAD_PRESENCES)
    reason = st.one_of(st.none(), st.sampled_from(["lunch", 5, "x" * 1001, b"", []]))
    capacity = maybe_bad(st.integers(0, 3), BAD_COUNTS)
    customer = ids(CUSTOMERS)
    requirements = st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 10), max_size=1),
        st.sampled_from(BAD_REQUIREMENTS),
    )
    flag = maybe_bad(st.booleans(), BAD_FLAGS)

    def call(name: str, *args: st.SearchStrategy[Any], **kwargs: st.SearchStrategy[Any]) -> Any:
        return st.tuples(st.just(name), st.tuples(*args), st.fixed_dictionaries(kwargs))

    return st.one_of(
        call("add_channel", maybe_bad(channels, BAD_OBJECTS)),
        call("add_queue", maybe_bad(queue_configs, BAD_OBJECTS)),
        call(
            "add_queues",
            st.one_of(
                st.lists(queue_configs, max_size=2),
                st.sampled_from([None, 5, "qr", [QueueConfig("s"), 5], {"q": 1}]),
            ),
        ),
        call("add_agent", maybe_bad(agents, BAD_OBJECTS), presence),
        call("remove_agent", agent_id),
        call("set_presence", agent_id, presence, reason),
        call("set_capacity", agent_id, channel, capacity),
        call("submit", maybe_bad(contacts, BAD_OBJECTS)),
        call("accept", contact_id, agent_id),
        call("reject", contact_id, agent_id),
        call("complete", contact_id),
        call("end_wrap_up", contact_id),
        call("abandon", contact_id),
        call(
            "transfer",
            contact_id,
            queue=st.one_of(st.none(), queue),
            requirements=requirements,
            agent=st.one_of(st.none(), agent_id),
            keep_key=flag,
        ),
        call("request_callback", contact_id, channel),
        call(
            "schedule_callback",
            maybe_bad(contacts, BAD_OBJECTS),
            maybe_bad(st.sampled_from([0.0, 3.0, 70.0, 150.0, 250.0]), BAD_SECONDS),
        ),
        call("callback_unanswered", contact_id),
        call("is_open", queue),
        call("next_open", queue),
        call("add_exclusion", customer, agent_id),
        call("remove_exclusion", customer, agent_id),
        call("exclusions", customer),
        call("tick"),
        call("next_due"),
        call("contact", contact_id),
        call("agent", agent_id),
        call("waiting", st.one_of(st.none(), queue)),
        call("position", contact_id),
        call("queue_size", queue),
        call("queue_config", queue),
        call("explain", contact_id),
        call("explain_agent", agent_id),
        call("observe", st.sampled_from(BAD_OBJECTS)),
        call("unobserve", st.sampled_from(BAD_OBJECTS)),
    )


# -------------------------------------------------------------- the harness


STATS = {"calls": 0, "refused": 0}


def failing_observer(batch: list[Event]) -> None:
    batch.clear()  # must not reach the caller or the other observers
    raise RuntimeError("observer failure planted by the fuzzer")


def new_harness() -> RouterHarness:
    """A router with work in every state: waiting, offered, in service, in wrap-up."""
    h = RouterHarness()
    h.router.observe(failing_observer)
    h.queue("q", offer_timeout=5, wrap_up=2)
    h.queue("r", strategy=Strategy.MOST_SKILLED, ring=2, max_wait=8, overflow="q")
    # open 00:01-00:03 and 00:04-00:06 on the epoch's day (a Thursday, UTC):
    # the fuzzer's clock crosses openings and closings
    h.queue(
        "h",
        calendar=BusinessHours("UTC", {"thu": ["00:01-00:03", "00:04-00:06"]}),
        when_closed=WhenClosed.HOLD,
        callback_retries=(3.0,),
    )
    h.agent("a0", queues={"q", "r"}, skills={"en": 5}, capacity={"voice": 1, "chat": 2})
    h.agent("a1", queues={"q"}, presence=Presence.NOT_READY)
    h.agent("a2", queues={"q", "r"}, capacity={"voice": 1, "chat": 1, "email": 2})
    h.submit("c0")
    h.submit("c1", channel="chat", queue="r", customer_id="k0")
    h.submit("c2", channel="email")
    h.submit("c3", customer_id="k1")
    h.submit("c4", channel="chat", queue="r")
    h.submit("c5", queue="h")  # held until 00:01
    offered = dict(h.offers())
    h.router.accept("c0", offered["c0"])
    h.router.accept("c2", offered["c2"])
    h.router.complete("c2")
    return h


def observable(h: RouterHarness) -> Any:
    """Everything observable about the router, its time and its queue."""
    router = h.router
    check_queue(router)
    return (snapshot(router), router.now, queue_entries(router), len(router))


def due(h: RouterHarness) -> bool:
    next_due = h.router.next_due()
    return next_due is not None and next_due <= h.clock.now()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(
        st.one_of(calls(), st.tuples(st.just("advance"), st.sampled_from([0.0, 0.5, 2.5, 6.0]))),
        min_size=10,
        max_size=60,
    )
)
def test_every_router_call_happens_or_changes_nothing(steps: list[Any]) -> None:
    a, b = new_harness(), new_harness()
    refused = 0
    for step in steps:
        if step[0] == "advance":
            a.clock.advance(step[1])
            b.clock.advance(step[1])
            continue
        name, args, kwargs = step
        before = observable(a)
        document = a.router.snapshot()  # the whole state, as a restart reads it
        timers_due = due(a)
        try:
            result = getattr(a.router, name)(*args, **kwargs)
        except CCRouteError as error:
            refused += 1
            after = observable(a)
            if after == before:
                assert a.router.snapshot() == document, (name, args, kwargs, error)
            else:
                # Only timers that fell due may have run (the call passed its
                # checks, then a timer changed what it needed): exactly tick().
                assert timers_due, (name, args, kwargs, error)
                b.router.tick()
                assert observable(b) == after, (name, args, kwargs, error)
            continue
        other = getattr(b.router, name)(*args, **kwargs)
        assert result == other, (name, args, kwargs)
        assert observable(a) == observable(b), (name, args, kwargs)
    assert a.events == b.events
    assert a.router.snapshot() == b.router.snapshot()
    assert a.router.observer_failures == b.router.observer_failures > 0
    STATS["calls"] += len(steps)
    STATS["refused"] += refused


# ------------------------------------------------------------ constructors


def field(good: st.SearchStrategy[Any], bad: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, st.sampled_from(bad))


class IntSubclass(int):
    """A well-behaved int subclass (as an IntEnum member is): kept as the plain int."""


class FloatSubclass(float):
    """A well-behaved float subclass: kept as the plain float."""


def numbers(good: st.SearchStrategy[Any], subclass: type) -> st.SearchStrategy[Any]:
    """Good numbers, some of them as instances of a subclass."""
    return st.one_of(good, good.map(subclass))


ID = field(st.sampled_from(["a", "voice", "q"]), BAD_IDS)
OPT_ID = st.one_of(st.none(), ID)
COUNT = field(numbers(st.integers(0, MAX_COUNT), IntSubclass), BAD_COUNTS)
SECONDS = field(numbers(st.floats(0, MAX_SECONDS), FloatSubclass), BAD_SECONDS)
OPT_SECONDS = st.one_of(st.none(), SECONDS)
LEVELS = field(
    st.dictionaries(
        st.sampled_from(["en", "fr"]), numbers(st.integers(MIN_LEVEL, MAX_LEVEL), IntSubclass)
    ),
    BAD_REQUIREMENTS,
)
NAMES = field(st.sets(st.sampled_from(["q", "r"])), [5, None, {""}, {5}, {"x" * 1001}])
FLAG = field(st.booleans(), BAD_FLAGS)
JSON_BAD: list[Any] = [
    {"x": object()},
    {"x": math.nan},
    {"x": 2**63},
    {"x": -(2**63) - 1},
    {5: 1},
    {"x": {1: 2}},
    {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    {"x": {1, 2}},
    {"x": b"bytes"},
    5,
    "x",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
ATTRIBUTES = field(st.dictionaries(st.text(max_size=3), json_values, max_size=3), JSON_BAD)

CONSTRUCTORS: dict[str, st.SearchStrategy[Callable[[], object]]] = {
    "Channel": st.builds(
        lambda *a, **k: lambda: Channel(*a, **k),
        ID,
        field(st.sampled_from(list(ChannelKind)), ["voice", None, 1]),
        default_capacity=COUNT,
        unit_cost=COUNT,
        exclusive=FLAG,
    ),
    "RoutingStep": st.builds(
        lambda *a, **k: lambda: RoutingStep(*a, **k),
        SECONDS,
        requirements=field(st.just({"en": None, "fr": 3}), BAD_REQUIREMENTS),
        queues=NAMES,
    ),
    "QueueConfig": st.builds(
        lambda *a, **k: lambda: QueueConfig(*a, **k),
        ID,
        strategy=field(st.sampled_from(list(Strategy)), [None, 5, "", "x" * 1001]),
        service_level_threshold=SECONDS,
        service_level_target=field(st.floats(0, 1), [1.5, -0.1, math.nan, None, True]),
        steps=field(
            st.just([RoutingStep(1), RoutingStep(2)]),
            [None, 5, [RoutingStep(2), RoutingStep(1)], [1]],
        ),
        max_size=st.one_of(st.none(), COUNT),
        offer_timeout=OPT_SECONDS,
        wrap_up=OPT_SECONDS,
        rona_not_ready=FLAG,
        blocking=field(
            st.just({"voice": {"chat"}}),
            [5, {"": {"chat"}}, {"voice": 5}, {5: {"x"}}, (0,), ("voice",)],
        ),
        ring=COUNT,
        max_wait=OPT_SECONDS,
        overflow=OPT_ID,
        overflow_keep_key=FLAG,
        skip_if_no_agent=FLAG,
        admission=field(st.sampled_from(list(Admission)), ["always", None]),
        rejoin_window=OPT_SECONDS,
        priority_seconds=field(st.floats(-MAX_SECONDS, MAX_SECONDS), BAD_SECONDS[1:]),
    ),
    "Agent": st.builds(
        lambda *a, **k: lambda: Agent(*a, **k),
        ID,
        skills=LEVELS,
        queues=NAMES,
        capacity=field(
            st.sampled_from([None, {"voice": 2}, {"voice": IntSubclass(2)}]),
            [{"voice": v} for v in BAD_COUNTS] + [5],
        ),
        unit_budget=st.one_of(st.none(), COUNT),
        queue_delays=field(
            st.just({"q": 3.0}), [{"q": v} for v in BAD_SECONDS] + [5, (0,), ("q",)]
        ),
    ),
    "Contact": st.builds(
        lambda *a, **k: lambda: Contact(*a, **k),
        ID,
        ID,
        ID,
        requirements=LEVELS,
        priority_seconds=field(
            numbers(st.floats(-MAX_SECONDS, MAX_SECONDS), FloatSubclass), BAD_SECONDS[1:]
        ),
        tier=field(numbers(st.integers(-MAX_TIER, MAX_TIER), IntSubclass), BAD_COUNTS[1:]),
        customer_id=OPT_ID,
        attributes=ATTRIBUTES,
        preferred_agent=OPT_ID,
        preferred_wait=SECONDS,
        excluded_agents=NAMES,
        max_wait=OPT_SECONDS,
    ),
    "RampUp": st.builds(
        lambda *a, **k: lambda: RampUp(*a, **k),
        OPT_SECONDS,
        st.one_of(st.none(), COUNT),
    ),
    "RoutingPolicy": st.builds(
        lambda *a, **k: lambda: RoutingPolicy(*a, **k),
        blocking=field(st.just({"voice": {"chat"}}), [5, {"": {"chat"}}, (0,), ("voice",)]),
        reserve_for=NAMES,
        ramp_up=field(st.sampled_from([None, RampUp()]), [300, "x"]),
    ),
    "ManualClock": st.builds(
        lambda v: lambda: ManualClock(v), field(st.floats(-1e300, 1e300), BAD_SECONDS[1:])
    ),
    "MonotonicClock": st.builds(
        lambda v: lambda: MonotonicClock(v), field(st.floats(-1e9, 1e9), BAD_SECONDS[1:])
    ),
    "Router": st.builds(
        lambda *a, **k: lambda: Router(*a, **k),
        field(st.builds(ManualClock), [5, "clock", object()]),
        seed=field(st.integers(), [1.5, None, "s", True]),
        channels=field(
            st.just([Channel("voice", ChannelKind.SYNCHRONOUS)]),
            [None, 5, "voice", [5], [Channel("v", ChannelKind.SYNCHRONOUS)] * 2],
        ),
        strategies=field(st.none(), [5, {"s": 5}, {"": object()}]),
        policy=field(st.none(), [5, {}]),
        offer_reasons=FLAG,
        epoch=field(numbers(st.floats(-1e12, 1e12), FloatSubclass), BAD_SECONDS[1:]),
    ),
}


def check_bounds(value: object) -> None:
    """Fields of a value that was built lie within the documented bounds."""
    for name in getattr(type(value), "__slots__", ()):
        field_value = getattr(value, name, None)
        if name in ("default_capacity", "unit_cost", "ring", "max_size", "unit_budget"):
            assert field_value is None or (
                type(field_value) is int and 0 <= field_value <= MAX_COUNT
            ), (name, field_value)
        if name in ("after", "preferred_wait", "wrap_up", "offer_timeout", "max_wait"):
            assert field_value is None or 0 <= field_value <= MAX_SECONDS, (name, field_value)
        if name == "tier":
            assert type(field_value) is int and abs(field_value) <= MAX_TIER
        # every number kept is a plain int or float: the log and the snapshot
        # write it as JSON, and both queue twins read it alike
        if isinstance(field_value, (int, float)) and not isinstance(field_value, bool):
            assert type(field_value) in (int, float), (name, field_value)
        if name in ("skills", "requirements", "queue_delays"):
            assert all(type(v) in (int, float, type(None)) for _k, v in field_value), name
        if name == "capacity" and field_value is not None:
            assert all(type(v) is int for v in field_value.values()), name
        if name in ("id", "name", "channel", "queue", "customer_id"):
            assert field_value is None or (
                isinstance(field_value, str)
                and 0 < len(field_value) <= MAX_ID_LENGTH
                and is_text(field_value)
            ), (name, field_value)


@pytest.mark.parametrize("name", sorted(CONSTRUCTORS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_constructor_builds_a_bounded_value_or_refuses(
    name: str, data: st.DataObject
) -> None:
    make = data.draw(CONSTRUCTORS[name])
    try:
        value = make()
    except CCRouteError:
        return
    check_bounds(value)


# ----------------------------------------------------------------- the twins

INTS: list[Any] = [-1, 0, 1, 2, 3, 2**31 - 1, 2**31, 2**62 - 1, 2**62, 2**63, -(2**63), 2**64]
JUNK: list[Any] = [None, 1.5, math.nan, math.inf, True, "x", [], (), {0: 1}, object(), b"x"]
TIMES: list[Any] = [0.0, 1.5, 7, -2.0, 1e300, math.nan, math.inf, 10**400, True, None, "1"]


def odd_values() -> tuple[list[Any], list[Any]]:
    """Int and float subclasses, well-behaved and lying (defined further down)."""
    return (
        [IntSubclass(1), IntSubclass(2**62), LyingInt(2**70), LyingInt(-5), UncomparableInt(1)],
        [FloatSubclass(2.5), OddFloat(1.0), -0.0, 5e-324, -1e308],
    )


small = st.integers(-1, 3)
odd_ints = st.deferred(lambda: st.sampled_from(odd_values()[0]))
odd_times = st.deferred(lambda: st.sampled_from(odd_values()[1]))
handle = st.one_of(small, small, st.sampled_from(INTS), st.sampled_from(JUNK), odd_ints)
flag_arg = st.one_of(st.booleans(), st.sampled_from([0, 1, None, "yes"]))
time_arg = st.one_of(st.floats(0, 10), st.sampled_from(TIMES), odd_times)
level = st.one_of(st.integers(0, 3), st.sampled_from([-1, 11, 2**31, 1.5, True, None]))
pairs = st.one_of(
    st.lists(st.tuples(handle, level), max_size=3),
    st.dictionaries(st.integers(0, 3), level, max_size=3),
    st.sampled_from(JUNK),
)
handle_sets = st.one_of(
    st.sets(small, max_size=3),
    st.lists(handle, max_size=3),
    st.frozensets(st.sampled_from(INTS), max_size=2),
    st.sampled_from(JUNK),
)
keys = st.one_of(
    st.tuples(st.integers(-2, 1), st.floats(-5, 5), st.integers(0, 9)),
    st.tuples(st.sampled_from(INTS), time_arg, st.sampled_from(INTS)),
    st.sampled_from([(0, 1.0), [0, 1.0, 2], (0, 1.0, 2, 3), None, (True, 1.0, 1), (0, "t", 1)]),
)
agent_ids = st.one_of(
    st.sampled_from(["ann", "bob", "agent-0001-x", "zoë"]), st.sampled_from(["", HUGE, *JUNK])
)

TWIN_CALLS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "add_channel": st.tuples(
        handle, st.one_of(st.integers(0, 100), st.sampled_from(INTS)), flag_arg
    ),
    "add_agent": st.tuples(
        handle,
        agent_ids,
        pairs,
        st.one_of(st.sets(st.integers(0, 2), max_size=2), st.lists(handle, max_size=2)),
        st.one_of(st.lists(st.integers(0, 3), max_size=3), st.lists(handle, max_size=5)),
        st.one_of(st.sampled_from([-1, 0, 100]), handle),
        time_arg,
    ),
    "remove_agent": st.tuples(handle),
    "set_logged_in": st.tuples(handle, flag_arg),
    "set_available": st.tuples(handle, flag_arg, time_arg),
    "set_capacity": st.tuples(handle, handle, st.one_of(st.integers(0, 3), handle)),
    "occupy": st.tuples(handle, handle),
    "release": st.tuples(handle, handle, time_arg),
    "count_handled": st.tuples(handle, st.one_of(st.integers(0, 3), handle)),
    "has_spare": st.tuples(handle, handle),
    "signature": st.tuples(
        handle, pairs, st.one_of(st.sets(st.integers(0, 2), min_size=1), handle_sets)
    ),
    "insert": st.tuples(st.integers(0, 9) | handle, keys, handle, handle),
    "remove": st.tuples(st.integers(0, 9) | handle),
    "reindex": st.tuples(st.integers(0, 9) | handle, handle, handle),
    "first": st.tuples(handle),
    "best_contact": st.tuples(handle, handle_sets, handle_sets),
    "best_agent": st.tuples(
        handle,
        st.integers(0, 5) | handle,
        handle,
        st.sampled_from([None, "ann", "zz", 5, b"x"]),
        handle_sets,
    ),
    "eligible_agents": st.tuples(handle, handle, handle_sets),
    "any_logged_in": st.tuples(handle, handle_sets),
    "offer_figures": st.tuples(
        handle, st.integers(0, 5) | handle, handle, time_arg, handle, handle_sets
    ),
    "__contains__": st.tuples(handle),
    "set:index_min_profiles": st.tuples(handle),
    "set:index_scan_limit": st.tuples(handle),
}


def populated(make: Callable[[], Any]) -> Any:
    q = make()
    for ch in range(2):
        q.add_channel(ch, 10 * ch + 5, ch == 1)
    for a, agent_id in enumerate(["ann", "bob", "cy"]):
        q.add_agent(a, agent_id, {0: a + 1, 1: 2}, [0, a % 2], [2, 1], -1 if a else 30, 0.0)
        q.set_logged_in(a, True)
        q.set_available(a, True, 0.0)
    sigs = [q.signature(0, [], [0]), q.signature(1, [(0, 2)], [0, 1])]
    q.insert(0, (0, 1.0, 0), sigs[0])
    q.insert(1, (-1, 2.0, 1), sigs[1])
    q.insert(2, (0, 0.5, 2), sigs[0], 1)
    q.occupy(2, 0)
    return q


def fingerprint(q: Any) -> Any:
    """Every answer the twin gives about its state, for "nothing changed"."""
    q.check()

    def ask(name: str, *args: Any) -> Any:
        try:
            return getattr(q, name)(*args)
        except CCRouteError as error:
            return type(error)

    out: list[Any] = [sorted(q.iter_waiting()), len(q), q.index_min_profiles, q.index_scan_limit]
    for a in range(5):
        out.append(ask("best_contact", a))
        out.extend(ask("has_spare", a, ch) for ch in range(3))
    for g in range(4):
        out.append(ask("first", g))
        out.append(ask("eligible_agents", g))
        out.append(ask("any_logged_in", g))
        out.extend(ask("best_agent", g, s) for s in range(5))
        out.extend(ask("offer_figures", g, s, 1, 10.0) for s in range(6))
    return out


def call_twin(q: Any, name: str, args: tuple[Any, ...]) -> Any:
    if name.startswith("set:"):
        setattr(q, name[4:], *args)
        return None
    return getattr(q, name)(*args)


def outcome(q: Any, name: str, args: tuple[Any, ...]) -> tuple[str, Any]:
    before = fingerprint(q)
    try:
        result = call_twin(q, name, args)
    except CCRouteError as error:
        assert fingerprint(q) == before, (name, args, error)
        return ("error", type(error))
    return ("ok", result)


twin_steps = st.lists(
    st.sampled_from(sorted(TWIN_CALLS)).flatmap(lambda n: st.tuples(st.just(n), TWIN_CALLS[n])),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(twin_steps)
def test_twin_entries_refuse_bad_arguments_alike(steps: list[tuple[str, tuple[Any, ...]]]) -> None:
    """Both twins give the same answer or the same CCRouteError, and a refusal changes nothing.

    Without the compiled twin (CCROUTE_PURE_PYTHON=1) the pure one is held to
    the second half alone.
    """
    makers = [m for m in (IMPLEMENTATIONS.get("compiled"), IMPLEMENTATIONS["pure"]) if m]
    if COMPILED_EXPECTED:
        assert len(makers) == 2, "the compiled twin was expected"
    queues = [populated(make) for make in makers]
    for name, args in steps:
        results = [outcome(q, name, args) for q in queues]
        assert all(r == results[0] for r in results), (name, args, results)
        prints = [fingerprint(q) for q in queues]
        assert all(p == prints[0] for p in prints), (name, args)


class LyingInt(int):
    """An int whose comparisons say it lies in every range."""

    def __lt__(self, other: object) -> bool:
        return False

    def __gt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return True

    def __ge__(self, other: object) -> bool:
        return True


class UnhashableInt(int):
    def __hash__(self) -> int:
        raise RuntimeError("no hash")


class UncomparableInt(int):
    __hash__ = int.__hash__

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no comparison")


class OddIndexInt(int):
    def __index__(self) -> int:
        return 10**30

    def __int__(self) -> int:
        return 10**30


class OddFloat(float):
    def __float__(self) -> float:
        return math.nan


class OddStr(str):
    __hash__ = str.__hash__

    def __len__(self) -> int:
        return 0


ODD_INTS: list[Any] = [
    LyingInt(2**70),
    LyingInt(-5),
    LyingInt(1),
    UnhashableInt(1),
    UncomparableInt(1),
    OddIndexInt(1),
]
# (method, good arguments, positions of integers, positions of integer collections)
INT_POSITIONS: list[tuple[str, tuple[Any, ...], tuple[int, ...], tuple[int, ...]]] = [
    ("add_channel", (2, 5, False), (0, 1), ()),
    ("add_agent", (7, "dee", {0: 3}, [0], [1, 1], -1, 0.0), (0, 5), (3, 4)),
    ("remove_agent", (0,), (0,), ()),
    ("set_available", (0, False, 1.0), (0,), ()),
    ("set_capacity", (0, 0, 3), (0, 1, 2), ()),
    ("occupy", (0, 0), (0, 1), ()),
    ("release", (2, 0, 1.0), (0, 1), ()),
    ("count_handled", (0, 2), (0, 1), ()),
    ("has_spare", (1, 0), (0, 1), ()),
    ("signature", (0, [(0, 1)], [0]), (0,), (2,)),
    ("insert", (5, (0, 3.0, 5), 0, 1), (0, 2, 3), ()),
    ("remove", (1,), (0,), ()),
    ("reindex", (1, 0, 2), (0, 1, 2), ()),
    ("first", (1,), (0,), ()),
    ("best_contact", (1, [0], [1]), (0,), (1, 2)),
    ("best_agent", (0, 2, -1, None, [1]), (0, 1, 2), (4,)),
    ("eligible_agents", (0, -1, [1]), (0, 1), (2,)),
    ("offer_figures", (0, 0, 1, 5.0, -1, [2]), (0, 1, 2, 4), (5,)),
    ("any_logged_in", (0, [1]), (0,), (1,)),
    ("__contains__", (1,), (0,), ()),
]


def replace(args: tuple[Any, ...], i: int, value: Any) -> tuple[Any, ...]:
    return (*args[:i], value, *args[i + 1 :])


def odd_variants(name: str) -> list[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """``(odd arguments, the same arguments as the plain values they hold)`` pairs."""
    out = []
    for method, args, ints, collections in INT_POSITIONS:
        if method != name:
            continue
        for odd in ODD_INTS:
            plain = int.__index__(odd)
            for i in ints:
                out.append((replace(args, i, odd), replace(args, i, plain)))
            for i in collections:
                out.append((replace(args, i, [odd]), replace(args, i, [plain])))
    return out


@pytest.mark.parametrize(("name", "good"), [(m, a) for m, a, _i, _c in INT_POSITIONS])
def test_int_subclasses_count_as_the_number_they_hold(
    queue_factory: Callable[[], Any], name: str, good: tuple[Any, ...]
) -> None:
    """An int subclass that lies in its comparisons, hashes or converts oddly is
    refused or taken exactly as the plain int it holds, never checked as one
    number and stored as another (the compiled twin crashed or raised
    OverflowError on such values, the pure one RuntimeError)."""
    for odd_args, plain_args in odd_variants(name):
        odd_q, plain_q = populated(queue_factory), populated(queue_factory)
        before = fingerprint(odd_q)
        got, want = outcome(odd_q, name, odd_args), outcome(plain_q, name, plain_args)
        assert got == want, (name, odd_args)
        assert fingerprint(odd_q) == fingerprint(plain_q), (name, odd_args)
        if got[0] == "error":
            assert fingerprint(odd_q) == before


def test_odd_floats_and_strings_count_as_the_values_they_hold(
    queue_factory: Callable[[], Any],
) -> None:
    """A float subclass whose ``__float__`` lies is read as the number it holds;
    a str subclass whose ``len`` lies is checked as the string it holds."""
    odd_q, plain_q = populated(queue_factory), populated(queue_factory)
    odd_q.set_available(0, False, 0.0)
    plain_q.set_available(0, False, 0.0)
    odd_q.set_available(0, True, OddFloat(7.5))
    plain_q.set_available(0, True, 7.5)
    odd_q.insert(5, (0, OddFloat(0.25), 5), 0)
    plain_q.insert(5, (0, 0.25, 5), 0)
    assert fingerprint(odd_q) == fingerprint(plain_q)
    assert odd_q.offer_figures(0, 0, 0, OddFloat(9.5)) == plain_q.offer_figures(0, 0, 0, 9.5)
    with pytest.raises(InvalidValueError, match="agent id must be"):
        odd_q.add_agent(8, OddStr("x" * 1001), {}, [0], [1], -1, 0.0)
    odd_q.add_agent(8, OddStr("dee"), {}, [0], [1], -1, 0.0)
    plain_q.add_agent(8, "dee", {}, [0], [1], -1, 0.0)
    assert fingerprint(odd_q) == fingerprint(plain_q)


def test_twin_constructor_takes_no_arguments(queue_factory: Callable[..., Any]) -> None:
    with pytest.raises(InvalidValueError, match="takes no arguments"):
        queue_factory(5)


# ------------------------------------------------- the campaign's findings


def test_add_queues_of_none_is_refused() -> None:
    h = RouterHarness()
    with pytest.raises(InvalidValueError, match="add_queues expects QueueConfig values, got None"):
        h.router.add_queues(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("clock", [5, "now", object()])
def test_a_router_needs_a_clock(clock: object) -> None:
    with pytest.raises(InvalidValueError, match="clock must be a Clock"):
        Router(clock)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": 1.5}, "seed must be an integer"),
        ({"offer_reasons": "yes"}, "offer_reasons must be True or False"),
        ({"channels": None}, "channels must be Channel values"),
        ({"strategies": 5}, "strategies must be a mapping"),
        ({"policy": {}}, "policy must be a RoutingPolicy"),
        ({"epoch": 10**400}, "epoch must be a finite number"),  # was OverflowError
        ({"epoch": OddFloat(5.0)}, None),  # read as the 5.0 it holds
    ],
)
def test_router_arguments_are_checked(kwargs: dict[str, Any], message: str | None) -> None:
    if message is None:
        assert Router(ManualClock(), **kwargs).epoch == 5.0
        return
    with pytest.raises(InvalidValueError, match=message):
        Router(ManualClock(), **kwargs)


def test_a_clock_that_fails_or_reads_nonsense_is_a_clock_error() -> None:
    class Broken:
        def __init__(self, reading: object) -> None:
            self.reading = reading

        def now(self) -> object:
            if isinstance(self.reading, Exception):
                raise self.reading
            return self.reading

    for reading in (OSError("no clock"), math.nan, math.inf, "12", None):
        with pytest.raises(ClockError):
            Router(Broken(reading))  # type: ignore[arg-type]
    clock = Broken(0.0)
    router = Router(clock)  # type: ignore[arg-type]
    clock.reading = math.inf
    with pytest.raises(ClockError, match="finite"):
        router.tick()
    assert router.now == 0.0


@pytest.mark.parametrize("steps", [None, 5, "abc", [1], [RoutingStep(2), RoutingStep(1)]])
def test_queue_steps_must_be_routing_steps(steps: object) -> None:
    with pytest.raises(InvalidValueError, match="queue 'q'"):
        QueueConfig("q", steps=steps)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [None, "1", -1, math.nan, math.inf, 10**400, True])
def test_manual_clock_refuses_bad_amounts_and_stays(seconds: object) -> None:
    clock = ManualClock(3)
    with pytest.raises(CCRouteError):
        clock.advance(seconds)  # type: ignore[arg-type]
    with pytest.raises(CCRouteError):
        clock.set(seconds)  # type: ignore[arg-type]
    assert clock.now() == 3.0


def test_manual_clock_never_overflows() -> None:
    clock = ManualClock(1e308)
    with pytest.raises(ClockError, match="overflows"):
        clock.advance(1e308)
    assert clock.now() == 1e308


@pytest.mark.parametrize("value", [1.5, math.nan, math.inf, -1, True, 2**31, "3", None])
def test_channel_capacity_is_a_whole_bounded_number(value: object) -> None:
    with pytest.raises(InvalidValueError, match="channel 'fax': default capacity"):
        Channel("fax", ChannelKind.ASYNCHRONOUS, default_capacity=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="channel 'fax': unit cost"):
        Channel("fax", ChannelKind.ASYNCHRONOUS, unit_cost=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [2.5, True, -1, 2**31, "2"])
def test_queue_size_limit_is_a_whole_bounded_number(value: object) -> None:
    with pytest.raises(InvalidValueError, match="queue 'q': max_size"):
        QueueConfig("q", max_size=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customer_id": 5}, "contact 'c': customer id"),
        ({"customer_id": ""}, "contact 'c': customer id"),
        ({"tier": -(2**63)}, "contact 'c': tier"),
        ({"tier": 2**31}, "contact 'c': tier"),
        ({"tier": 1.0}, "contact 'c': tier"),
        ({"priority_seconds": 1e300}, "contact 'c': priority_seconds"),
        ({"preferred_wait": math.inf}, "contact 'c': preferred_wait"),
        ({"preferred_agent": 7}, "contact 'c': preferred agent"),
        ({"requirements": None}, "contact 'c': requirements"),
        ({"excluded_agents": 5}, "contact 'c': excluded agent"),
        ({"attributes": 5}, "contact 'c': attributes"),
    ],
)
def test_contact_values_are_refused_naming_the_contact(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidValueError, match=message):
        Contact("c", "voice", "q", **kwargs)


@pytest.mark.parametrize(
    ("attributes", "path"),
    [
        ({"a": object()}, r"attributes\['a'\]"),
        ({"a": [1, {"b": math.nan}]}, r"attributes\['a'\]\[1\]\['b'\]"),
        ({"a": 2**63}, r"attributes\['a'\]"),
        ({"a": {1: "x"}}, r"attributes\['a'\]: key 1"),
        ({"a": {1, 2}}, r"attributes\['a'\]"),
        ({"a": b"raw"}, r"attributes\['a'\]"),
    ],
)
def test_contact_attributes_hold_json_only(attributes: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidValueError, match=rf"contact 'c': {path}"):
        Contact("c", "voice", "q", attributes=attributes)


def test_contact_attributes_nest_boundedly() -> None:
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InvalidValueError, match="nest at most"):
        Contact("c", "voice", "q", attributes={"deep": deep})
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(InvalidValueError, match="nest at most"):
        Contact("c", "voice", "q", attributes={"loop": cyclic})
    ok = Contact("c", "voice", "q", attributes={"n": [2**63 - 1, -(2**63), 1.5, None, True, "s"]})
    assert ok.attributes["n"][0] == 2**63 - 1


def test_transfer_keep_key_must_be_a_bool_and_never_reaches_the_event() -> None:
    h = new_harness()
    before = observable(h)
    with pytest.raises(InvalidValueError, match="keep_key must be True or False, got 'no'"):
        h.router.transfer("c0", queue="r", keep_key="no")  # type: ignore[arg-type]
    assert observable(h) == before
    events = h.router.transfer("c0", queue="r", keep_key=False)
    transferred = [e for e in events if isinstance(e, Transferred)]
    assert transferred[0].kept_key is False


@pytest.mark.parametrize("capacity", [2**31, 2**63, -(2**63), 2**64])
def test_huge_capacity_is_refused_before_the_queue_sees_it(capacity: int) -> None:
    h = new_harness()
    before = observable(h)
    with pytest.raises(InvalidValueError, match="capacity for 'chat'"):
        h.router.set_capacity("a0", "chat", capacity)
    assert observable(h) == before
    h.router.set_capacity("a0", "chat", MAX_COUNT)  # the largest is fine on both twins
    assert h.router.agent("a0").capacity["chat"] == MAX_COUNT


def test_extreme_tiers_and_priorities_route_alike_on_both_twins() -> None:
    h = RouterHarness()
    h.queue("q")
    h.submit("low", tier=-MAX_TIER, priority_seconds=-MAX_SECONDS)
    h.submit("high", tier=MAX_TIER, priority_seconds=MAX_SECONDS)
    h.submit("mid")
    assert [c.id for c in h.router.waiting()] == ["high", "mid", "low"]
    h.agent("a", queues={"q"})
    assert h.offers() == [("high", "a")]


def test_a_refused_call_does_not_move_the_time_or_run_timers() -> None:
    h = new_harness()
    h.router.tick()
    due_at = h.router.next_due()
    assert due_at is not None
    h.clock.set(due_at + 1)
    before = observable(h)
    seen = len(h.events)
    for bad in (
        lambda: h.router.set_capacity("a0", "chat", 2**31),
        lambda: h.router.accept("nobody", "a0"),
        lambda: h.router.add_queues(None),  # type: ignore[arg-type]
        lambda: h.router.submit(5),  # type: ignore[arg-type]
        lambda: h.router.complete("c1"),  # not in service
    ):
        with pytest.raises(CCRouteError):
            bad()
        assert observable(h) == before
        assert h.router.now < due_at
        assert len(h.events) == seen
    assert h.router.tick().events  # the timers were there all along


def test_a_call_that_a_due_timer_invalidates_is_refused_after_the_timer() -> None:
    # The one case the rules allow: the call was valid when made, and a timer
    # that fell due (the offer timed out) made it impossible.
    h = RouterHarness()
    h.queue("q", offer_timeout=5)
    h.agent("a", queues={"q"})
    h.submit("c")
    h.clock.advance(6)
    with pytest.raises(InvalidStateError, match="cannot accept contact 'c'"):
        h.router.accept("c", "a")
    assert h.router.now == 6.0
    assert h.router.contact("c").state.value == "waiting"


def test_unknown_and_malformed_ids_are_told_apart() -> None:
    h = new_harness()
    with pytest.raises(UnknownIdError, match="unknown agent 'zz'"):
        h.router.agent("zz")
    with pytest.raises(InvalidValueError, match="agent id must be a string, got 5"):
        h.router.agent(5)  # type: ignore[arg-type]
    with pytest.raises(UnknownIdError) as info:
        h.router.contact(HUGE)
    assert len(str(info.value)) < 100  # the message does not carry the megabyte


# --------------------------------------------------------------- observers


def test_a_raising_observer_is_counted_and_isolated() -> None:
    h = RouterHarness()
    seen_after: list[Event] = []

    def broken(batch: list[Event]) -> None:
        raise ValueError("observer bug")

    h.router.observe(broken)
    h.router.observe(seen_after.extend)
    h.queue("q")  # no events: no observer runs
    assert h.router.observer_failures == 0
    events = h.agent("a", queues={"q"})
    assert events  # the call returned its events although an observer raised
    assert h.router.observer_failures == 1
    assert isinstance(h.router.last_observer_error, ValueError)
    assert seen_after == events  # the observer after the broken one saw the batch
    assert h.events == events  # and so did the one before it
    assert [a for a in h.router.agent_ids] == ["a"]


def test_observers_get_lists_of_their_own() -> None:
    h = RouterHarness()
    other: list[list[Event]] = []
    h.router.observe(lambda batch: batch.clear())
    h.router.observe(other.append)
    h.queue("q")
    events = h.agent("a", queues={"q"})
    assert len(events) == 2 and other[-1] == events and other[-1] is not events


def test_keyboard_interrupt_in_an_observer_is_not_swallowed() -> None:
    h = RouterHarness()

    def interrupt(batch: list[Event]) -> None:
        raise KeyboardInterrupt

    h.router.observe(interrupt)
    h.queue("q")
    with pytest.raises(KeyboardInterrupt):
        h.agent("a", queues={"q"})
    assert h.router.agent_ids == ["a"]  # the change was complete before observers ran
    assert h.router.observer_failures == 0


def test_observe_needs_a_callable() -> None:
    h = RouterHarness()
    with pytest.raises(InvalidValueError, match="observer must be callable"):
        h.router.observe(5)  # type: ignore[arg-type]
    with pytest.raises(UnknownIdError):
        h.router.unobserve(print)
    # not callable, so never an observer: refused before any comparison
    with pytest.raises(InvalidValueError, match="observer must be callable"):
        h.router.unobserve(UncomparableInt(1))  # type: ignore[arg-type]


def test_add_queues_from_an_iterable_that_fails_is_refused_and_adds_nothing() -> None:
    def broken() -> Any:
        yield QueueConfig("s")
        raise RuntimeError("the caller's iterable broke")

    h = new_harness()
    before = observable(h)
    with pytest.raises(InvalidValueError, match="add_queues expects QueueConfig values"):
        h.router.add_queues(broken())
    assert observable(h) == before
    assert "s" not in h.router.queues


def test_lying_numbers_never_pass_a_router_check_as_another_number() -> None:
    """A number is checked as the value it holds: a lying int is refused before
    anything changes (set_capacity changed the agent, then the queue refused
    it), and a float whose ``__float__`` lies is read as the float it holds
    (a callback was scheduled due at NaN); a huge int is out of range, not an
    OverflowError."""
    h = new_harness()
    h.clock.advance(0.5)
    before = observable(h)
    for bad in (LyingInt(2**70), LyingInt(-5), LyingInt(2**2000)):
        with pytest.raises(InvalidValueError, match="capacity for 'chat'"):
            h.router.set_capacity("a0", "chat", bad)
        assert observable(h) == before
    for at in (LyingInt(2**2000), 10**400):
        with pytest.raises(InvalidValueError, match="is_open: 'at'"):
            h.router.is_open("h", at)
        with pytest.raises(InvalidValueError, match="at must be a finite router time"):
            h.router.schedule_callback(Contact("cb", "callback", "q"), at)
        with pytest.raises(InvalidValueError, match="priority_seconds"):
            h.router.update_contact("c1", priority_seconds=at)
        with pytest.raises(InvalidValueError, match="priority_seconds"):
            h.router.estimate_wait("q", "voice", priority_seconds=at)
        assert observable(h) == before
    events = h.router.schedule_callback(Contact("cb", "callback", "q"), OddFloat(50.0))
    assert h.router.contact("cb").callback_due == 50.0
    assert events[0].due == 50.0  # type: ignore[attr-defined]


def test_number_subclasses_are_kept_as_plain_numbers_and_written_alike(
    queue_factory: Callable[[], Any],
) -> None:
    """IntEnum members and int or float subclasses are accepted as the numbers
    they hold and kept as plain ints and floats, so the router's state can be
    written and read back (the snapshot refused them: "cannot write IntSubclass"),
    and routing is what the plain numbers give."""

    class Size(enum.IntEnum):
        THREE = 3

    def build(odd: bool) -> RouterHarness:
        i: Callable[[int], int] = IntSubclass if odd else int
        f: Callable[[float], float] = FloatSubclass if odd else float
        h = RouterHarness()
        h.router.add_queue(
            QueueConfig(
                "q",
                offer_timeout=f(5.0),
                wrap_up=i(2),
                max_size=Size.THREE if odd else 3,
                ring=i(1),
                service_level_target=f(0.5),
                priority_seconds=f(1.5),
                steps=[RoutingStep(i(4), {"en": i(1)})],
            )
        )
        h.router.add_agent(
            Agent(
                "a",
                skills={"en": i(5)},
                queues={"q"},
                capacity={"voice": i(1), "chat": i(3)},
                unit_budget=i(100),
                queue_delays={"q": f(0.0)},
            ),
            Presence.AVAILABLE,
        )
        h.submit("c", requirements={"en": i(2)}, tier=i(2), priority_seconds=f(3.5))
        h.submit("d", channel="chat", tier=i(1), max_wait=f(100.0), preferred_wait=i(0))
        h.router.set_capacity("a", "chat", i(2))
        h.clock.advance(f(1.0))
        h.router.update_contact("d", priority_seconds=f(1.0), tier=i(3))
        return h

    odd, plain = build(odd=True), build(odd=False)
    assert odd.events == plain.events
    assert odd.router.snapshot() == plain.router.snapshot()
    restored = Router.restore(odd.router.snapshot(), ManualClock(odd.clock.now()))
    assert snapshot(restored) == snapshot(odd.router)
    key = odd.router.contact("d").key
    assert [type(part) for part in key] == [int, float, int]


# ------------------------------------------------------ text that UTF-8 cannot hold


@pytest.mark.parametrize("text", ["\ud800", "a\udfff", "\udfff\ud800"])
def test_a_lone_surrogate_is_refused_wherever_text_is_kept(text: str) -> None:
    """A Python str may hold a lone surrogate, which UTF-8 cannot encode: a
    router that accepted one could no longer write its state (the snapshot
    refused it, and a service's log could not hold the call). Every id, name,
    reason and attribute is refused with a message naming it; valid non-ASCII
    text (a NUL, the last code points) is kept."""
    for make, where in [
        (lambda: Contact(text, "voice", "q"), "contact id"),
        (lambda: Contact("c", text, "q"), "contact 'c': channel"),
        (lambda: Contact("c", "voice", "q", customer_id=text), "contact 'c': customer id"),
        (lambda: Contact("c", "voice", "q", requirements={text: 1}), "skill name"),
        (lambda: Contact("c", "voice", "q", excluded_agents={text}), "contact 'c'"),
        (lambda: Contact("c", "voice", "q", attributes={"k": [text]}), r"attributes\['k'\]\[0\]"),
        (lambda: Contact("c", "voice", "q", attributes={text: 1}), "attributes"),
        (lambda: Agent(text), "agent id"),
        (lambda: Agent("a", skills={text: 3}), "skill name"),
        (lambda: Agent("a", capacity={text: 1}), "agent 'a'"),
        (lambda: Agent("a", queue_delays={text: 1.0}), "agent 'a'"),
        (lambda: QueueConfig(text), "queue id"),
        (lambda: QueueConfig("q", strategy=text), "queue 'q': strategy"),
        (lambda: Channel(text, ChannelKind.SYNCHRONOUS), "channel id"),
    ]:
        with pytest.raises(InvalidValueError, match=where):
            make()
    h = new_harness()
    h.clock.advance(0.5)
    before = observable(h)
    document = h.router.snapshot()
    for call in [
        lambda: h.router.set_presence("a1", Presence.AVAILABLE, text),
        lambda: h.router.transfer("c1", requirements={text: 1}),
        lambda: h.router.update_contact("c1", attributes={"note": text}),
        lambda: h.router.add_exclusion(text, "a0"),
    ]:
        with pytest.raises(CCRouteError):
            call()
        assert observable(h) == before
        assert h.router.snapshot() == document
    # valid text that is not ASCII is kept, and the state is written and read back
    for odd in ("\x00", "a\x00", "\uffff", "\U0010ffff", "zoë"):
        h.router.add_agent(Agent(odd, queues={"q"}), Presence.AVAILABLE)
        h.router.submit(Contact(odd, "chat", "q", attributes={odd: odd}))
    restored = Router.restore(h.router.snapshot(), ManualClock(h.clock.now()))
    assert snapshot(restored) == snapshot(h.router)


def broken_iterable() -> Any:
    yield "x"
    raise RuntimeError("the caller's iterable broke")


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda: Contact("c", "voice", "q", requirements=(0,)), "contact 'c': requirements"),
        (lambda: Contact("c", "voice", "q", requirements=("en",)), "contact 'c': requirements"),
        (lambda: Agent("a", skills=(("en", 1, 2),)), "agent 'a': skills"),
        (lambda: Agent("a", queue_delays=(0,)), "agent 'a': queue_delays"),
        (lambda: RoutingStep(1.0, requirements=("en",)), "routing step: requirements"),
        (lambda: QueueConfig("q", blocking=(0,)), "queue 'q': blocking"),
        (lambda: RoutingPolicy(blocking=("voice",)), "routing policy: blocking"),
        (lambda: QueueConfig("q", dispositions=broken_iterable()), "queue 'q'"),
        (lambda: BusinessHours("UTC", holidays=broken_iterable()), "holidays"),
        (lambda: BusinessHours("UTC", weekly=broken_iterable()), "weekly"),
    ],
)
def test_a_tuple_of_non_pairs_or_a_failing_iterable_is_refused(
    make: Callable[[], object], where: str
) -> None:
    """A tuple whose items are not (name, value) pairs reached the validators
    as it was and raised TypeError or ValueError while being unpacked; an
    iterable that fails while read raised its own error."""
    with pytest.raises(InvalidValueError, match=where):
        make()


@pytest.mark.parametrize("backend", [5, "queue", [1], ManualClock(), object()])
def test_a_router_needs_a_queue_backend(backend: object) -> None:
    """Anything but a universal queue was taken, and the router failed with an
    AttributeError on its first use of it (at once: the channels are declared
    when the router is built)."""
    with pytest.raises(InvalidValueError, match="queue_backend must be a new universal queue"):
        Router(ManualClock(), queue_backend=backend)  # type: ignore[arg-type]
    data = RouterHarness().router.snapshot()
    with pytest.raises(InvalidValueError, match="queue_backend must be a new universal queue"):
        Router.restore(data, queue_backend=backend)  # type: ignore[arg-type]


def test_a_router_needs_an_empty_queue_backend(queue_factory: Callable[[], Any]) -> None:
    queue = populated(queue_factory)
    with pytest.raises(InvalidValueError, match="new, empty universal queue"):
        Router(ManualClock(), queue_backend=queue)
    assert Router(ManualClock(), queue_backend=queue_factory()).channels
