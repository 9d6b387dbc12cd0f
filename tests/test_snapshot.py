"""Router snapshots: restore gives back the same state, errors change nothing.

A snapshot is the router's state document (ccroute.snapshot.RouterState)
written as JSON. The stateful machine (tests/test_stateful.py) restarts from
snapshots at random moments and checks that the decisions that follow equal
those of a router that never restarted; the tests here cover what it cannot:
the document's round trip, its refusals, and each routing policy's state
carried across a restore.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import (
    Agent,
    CCRouteError,
    ClockError,
    Contact,
    ContactState,
    Event,
    InputError,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    Offered,
    OfferRescinded,
    Overflowed,
    PreferenceExpired,
    Presence,
    QueueConfig,
    RampUp,
    RampUpEnded,
    Rejoined,
    Router,
    RoutingPolicy,
    RoutingStep,
    Strategy,
    TimedOut,
    UnknownIdError,
)
from ccroute._snapshot_read import MODEL_FIELDS
from ccroute.snapshot import FORMAT, READABLE_FORMATS, RouterState, TimerKind
from ccroute.testing import RouterHarness, snapshot
from ccroute.views import AgentView, ContactView

pytestmark = pytest.mark.usefixtures("queue_factory")


class ByLanguage:
    """Prefers agents whose 'lang' skill matches the contact's 'lang' attribute level."""

    def score(self, contact: ContactView, agent: AgentView) -> float:
        return float(agent.skills.get("lang", 0) == contact.attributes.get("lang"))


def busy_centre() -> RouterHarness:
    h = RouterHarness(seed=7)
    h.queue("q", offer_timeout=20, wrap_up=15, strategy=Strategy.RANDOM)
    h.agent("a1", skills={"x": 3}, queues=("q",), capacity={"voice": 1, "chat": 2})
    h.agent("a2", skills={"x": 5}, queues=("q",), capacity={"voice": 1, "chat": 2})
    h.agent("a3", Presence.NOT_READY, queues=("q",))
    for i in range(8):
        h.submit(f"c{i}", "chat" if i % 2 else "voice", requirements={"x": 2 + i % 4})
        h.advance(1.5)
    h.router.accept(*h.offers()[0])
    h.router.reject(*h.offers()[1])
    return h


def document(router: Router) -> dict[str, Any]:
    """A router's snapshot as the JSON document it is."""
    doc: dict[str, Any] = json.loads(router.snapshot())
    return doc


def restore_doc(doc: object) -> Router:
    return Router.restore(json.dumps(doc).encode())


# ================================================================ the round trip


def test_restore_gives_back_every_observable_and_the_same_future() -> None:
    h = busy_centre()
    data = h.router.snapshot()
    clock = ManualClock(h.clock.now())
    restored = Router.restore(data, clock)
    assert snapshot(restored) == snapshot(h.router)
    assert restored.state() == h.router.state()
    assert restored.snapshot() == data
    # Same calls from here on, same events: timers, random choices and keys carried over.
    h.clock.advance(30)
    clock.advance(30)
    assert restored.tick() == h.router.tick()
    assert restored.submit(Contact("late", "voice", "q")) == h.router.submit(
        Contact("late", "voice", "q")
    )


def test_a_snapshot_is_json_not_a_pickle() -> None:
    data = busy_centre().router.snapshot()
    assert isinstance(data, bytes)
    assert b"\x80" not in data[:2]  # no pickle protocol header
    doc = json.loads(data)
    assert doc["format"] == FORMAT
    assert {c["spec"]["id"] for c in doc["contacts"]} >= {"c0", "c1"}
    assert FORMAT in READABLE_FORMATS


def test_state_and_snapshot_change_nothing_and_are_deterministic() -> None:
    h = busy_centre()
    before = snapshot(h.router)
    state = h.router.state()
    data = h.router.snapshot()
    assert snapshot(h.router) == before
    assert h.router.state() == state
    assert h.router.snapshot() == data
    # The key sequence was read, not consumed: the next contact gets the next number.
    (queued, *_) = h.submit("next", "voice")
    assert h.router.contact("next").key[2] == state.seq
    assert queued.contact_id == "next"


def test_restore_takes_the_state_document_too() -> None:
    h = busy_centre()
    state = h.router.state()
    clock = ManualClock(h.clock.now())
    restored = Router.restore(state, clock)
    assert snapshot(restored) == snapshot(h.router)
    assert restored.state() == state
    h.clock.advance(25)
    clock.advance(25)
    assert restored.tick() == h.router.tick()


def test_the_state_document_names_what_it_holds() -> None:
    h = busy_centre()
    state = h.router.state()
    assert [a.spec.id for a in state.agents] == ["a1", "a2", "a3"]
    assert [c.spec.id for c in state.contacts] == h.router.contact_ids
    offered = [c for c in state.contacts if c.state is ContactState.OFFERED]
    assert offered and all(c.timeout_at is not None for c in offered)
    kinds = [t.kind for t in state.timers]
    assert TimerKind.OFFER in kinds
    assert [t.due for t in state.timers] == sorted(t.due for t in state.timers)
    (rejected,) = [c for c in state.contacts if c.rejected_by]
    assert rejected.state is ContactState.WAITING
    (agent,) = [a for a in state.agents if a.spec.id == rejected.rejected_by[0]]
    assert agent.rejected == (rejected.spec.id,)
    assert state.random.version == 3 and len(state.random.internal) == 625


# Every attribute of a Router, and every field of its records, is in the state
# document, rebuilt from it on restore, or not state (docs/snapshot.md). A new
# one fails the tests below until it is placed, so that none is missed silently.
STORED = {
    "_now": "now",
    "_rng": "random",
    "_seq": "seq",
    "submitted": "submitted",
    "completed": "completed",
    "abandoned": "abandoned",
    "timed_out": "timed_out",
    "strategy_failures": "strategy_failures",
    "_offer_reasons": "offer_reasons",
    "_policy": "policy",
    "_channels": "channels",
    "_skills": "skills",
    "_queues": "queues",
    "_agents": "agents",
    "_contacts": "contacts",
    "_timers": "timers",
    "_epoch": "epoch",
    "unreached": "unreached",
    # the estimated wait's learned handle times (docs/estimated-wait.md)
    "_handle_times": "handle_times",
    "_patience": "abandonment",
}
# The policy objects (ccroute.core.policies): the document fields their state
# is stored in; the rest of it is rebuilt on restore.
POLICIES = {
    "_reservation": ("kept_free", "lift_pending"),
    "_exclusions": ("exclusions",),
    # its state is on the records (rejected_by, rejected)
    "_rejections": (),
    # rebuilt from the policy, the queues' settings and the agents' work
    "_blocking": (),
    # its state is on the agent records (ramping, ramp_left)
    "_ramp_up": (),
    # rebuilt from the agents' settings
    "_queue_delays": (),
    "_rejoins": ("rejoins",),
    # its settings are the queues'
    "_admission": (),
    # its state is on the contact records (overdue, fled)
    "_waits": (),
    # its state is on the contact records (target); agents' reserved is rebuilt
    "_preferred": (),
    # its settings are the queues' calendars and the router's epoch
    "_hours": (),
}
REBUILT = {
    "_channel_ids",
    "_agent_by_handle",
    "_contact_by_handle",
    "_agent_handles",
    "_contact_handles",
    "_timer_seq",
    "_requirement_dicts",
    "_queue_waiting",
    "_ranks",
    "_counts",
    # a memo of the queue's signature ids, refilled as contacts are re-queued
    "_signatures",
    # the estimated wait's estimator: reads the records, keeps pools as a cache
    "_estimator",
    # the count of changes that tells that cache when to start again
    "_changes",
}
# The embedding program's (clock, observers and what they did), code, the queue
# (rebuilt), and the bookkeeping of one call.
NOT_STATE = {
    "_clock",
    "_observers",
    "observer_failures",
    "last_observer_error",
    "_strategies",
    "_q",
    "_notified",
    # the masking rules: the embedding program's, given again to restore
    "_masking",
    "_premasked",  # set by the service for one call only
    "_followed",  # set by the service's replay for one logged call only
}
RECORD_FIELDS = {
    # stored in the document | rebuilt on restore
    "_ContactRec": (
        {"spec", "state", "queue", "channel", "base", "requirements", "extra_queues", "key"}
        | {"arrived_at", "entered_at", "steps_applied", "agent", "target", "rejected_by"}
        | {"accepted_at", "completed_at", "also", "timeout_at", "overdue", "fled"}
        | {"attempts", "disposition"},
        # due: a scheduled callback's, read from its timer
        {"handle", "sig", "tokens", "live", "due"},
    ),
    "_AgentRec": (
        {"spec", "capacity", "presence", "rejected", "idle_since", "handled", "ramping"}
        | {"ramp_left"},
        {"handle", "offered", "in_service", "wrap_up", "reserved", "load", "tokens", "live"}
        | {"levels"},
    ),
    "_QueueRec": (
        {"config", "custom", "last_agent"},
        {"handle", "strategy", "waiting", "present", "logged_in", "scheduled"},
    ),
}


def test_every_router_attribute_is_stored_rebuilt_or_not_state() -> None:
    h = busy_centre()
    known = set(STORED) | REBUILT | NOT_STATE | set(POLICIES)
    assert router_attributes(h.router) - known == set(), (
        "place the new attribute in STORED/REBUILT/NOT_STATE/POLICIES"
    )
    in_policies = {name for names in POLICIES.values() for name in names}
    assert set(STORED.values()) | in_policies <= {f.name for f in attrs.fields(RouterState)}
    # the records' fields as the source declares them (the compiled build's
    # declarations are held to these by tests/test_router_build.py)
    from ccroute.core import router as module

    for name, (stored, rebuilt) in RECORD_FIELDS.items():
        fields = set(getattr(module, name).__slots__)
        assert fields == stored | rebuilt, name


def router_attributes(router: Router) -> set[str]:
    """The attributes a router instance holds, in either build: the compiled
    router keeps those its declarations name as C members (data descriptors of
    its class, as its properties also are), the rest in its instance dictionary."""
    from ccroute.core import router as source

    members = {
        name
        for name, value in vars(type(router)).items()
        if not name.startswith("__")
        and type(value).__name__ == "getset_descriptor"
        and not isinstance(vars(source.Router).get(name), property)
    }
    return set(vars(router)) | members


def test_every_model_field_is_read_back() -> None:
    """A field added to a model class must be added to the snapshot's reader too."""
    for cls, readers in MODEL_FIELDS.items():
        assert [f.name for f in attrs.fields(cls)] == list(readers), cls.__name__


# ====================================================================== refusals


def test_restore_refuses_bytes_that_are_not_a_snapshot() -> None:
    for data in (b"hello", b"", b"[1, 2", b"\xff\xfe", b"[]", b"{}", b'"format"', b"null"):
        with pytest.raises(InputError, match="not a ccroute router snapshot"):
            Router.restore(data)


def _explode() -> None:
    raise AssertionError("a pickle was loaded")


class Trap:
    """Loading a pickle of it calls _explode."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_explode, ())


def test_restore_refuses_a_pickle_without_loading_it() -> None:
    data = pickle.dumps((2, {"trap": Trap()}, {}), protocol=pickle.HIGHEST_PROTOCOL)
    with pytest.raises(InputError, match="pickle") as info:
        Router.restore(data)
    assert "format(s) 3" in str(info.value)


@pytest.mark.parametrize("fmt", [FORMAT + 1, 99, 2, 0, "3", 3.0, None])
def test_restore_refuses_another_format_naming_it(fmt: object) -> None:
    doc = document(busy_centre().router)
    doc["format"] = fmt
    with pytest.raises(InputError, match=rf"format {fmt!r} is not supported") as info:
        restore_doc(doc)
    assert "reads format(s) 3" in str(info.value)


def test_restore_refuses_a_state_document_of_another_format() -> None:
    state = busy_centre().router.state()
    with pytest.raises(InputError, match="format 4 is not supported"):
        Router.restore(attrs.evolve(state, format=4))


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: object) -> None:
    target: Any = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


WRONG_FIELDS = [
    # (path in the document, wrong value, what the message names)
    (("now",), "12", "snapshot.now must be a number"),
    (("seq",), 1.5, "snapshot.seq must be an integer"),
    (("offer_reasons",), 1, "snapshot.offer_reasons must be true or false"),
    (("agents", 0, "handled"), "3", r"snapshot.agents\[0\].handled must be an integer"),
    (("agents", 0, "presence"), "lunch", r"presence must be one of"),
    (("agents", 0, "spec", "skills"), {"x": 3}, r"spec.skills must be a list"),
    (("agents", 0, "spec", "queues"), "q", r"spec.queues must be a list"),
    (("contacts", 0, "key"), [0, 1.0], r"key must be a key"),
    (("contacts", 0, "state"), "lost", r"state must be one of"),
    (("contacts", 0, "spec", "tier"), True, r"spec.tier must be an integer"),
    (("contacts", 0, "rejected_by"), None, r"rejected_by must be a list"),
    (("timers", 0, "kind"), "explode", r"kind must be one of"),
    (("queues", 0, "config", "strategy"), "fastest", r"strategy must be one of"),
    (("queues", 0, "config", "ring"), "2", r"config.ring must be an integer"),
    (("channels", 0, "kind"), 3, r"kind must be one of"),
    (("random", "internal"), "abc", r"random.internal must be a list"),
    (("policy", "reserve_for"), [1], r"reserve_for\[0\] must be a string"),
]


@pytest.mark.parametrize(("path", "value", "message"), WRONG_FIELDS)
def test_restore_refuses_a_field_of_the_wrong_type(
    path: tuple[Any, ...], value: object, message: str
) -> None:
    doc = document(busy_centre().router)
    _set(doc, path, value)
    with pytest.raises(InputError, match=message):
        restore_doc(doc)


def test_restore_refuses_missing_and_unknown_fields() -> None:
    doc = document(busy_centre().router)
    del doc["contacts"][0]["overdue"]
    with pytest.raises(InputError, match=r"contacts\[0\] has no field 'overdue'"):
        restore_doc(doc)
    doc = document(busy_centre().router)
    doc["agents"][1]["mood"] = "happy"
    with pytest.raises(InputError, match=r"agents\[1\] has an unknown field 'mood'"):
        restore_doc(doc)
    doc = document(busy_centre().router)
    doc["agents"][1]["spec"]["__class__"] = "os.system"
    with pytest.raises(InputError, match="unknown field '__class__'"):
        restore_doc(doc)


def test_restore_refuses_model_values_their_constructors_refuse() -> None:
    doc = document(busy_centre().router)
    doc["agents"][0]["spec"]["skills"] = [["x", 11]]
    with pytest.raises(InputError, match=r"agents\[0\]\.spec"):
        restore_doc(doc)
    doc = document(busy_centre().router)
    doc["channels"][0]["default_capacity"] = -1
    with pytest.raises(InputError, match=r"channels\[0\]"):
        restore_doc(doc)


BROKEN_REFERENCES = [
    (("contacts", 0, "queue"), "nowhere", "unknown 'nowhere'"),
    (("contacts", 0, "channel"), "pigeon", "unknown 'pigeon'"),
    (("agents", 1, "spec", "id"), "a1", "agent 'a1' is listed twice"),
    (("skills",), ["x", "x"], "skill 'x' is listed twice"),
    (("kept_free",), ["ghost"], r"kept_free \(agent\) names unknown 'ghost'"),
    (("agents", 0, "capacity"), [["voice", 1]], "capacity must list every channel"),
    (("seq",), 0, "seq 0 is not above"),
]


@pytest.mark.parametrize(("path", "value", "message"), BROKEN_REFERENCES)
def test_restore_refuses_records_that_do_not_fit_together(
    path: tuple[Any, ...], value: object, message: str
) -> None:
    doc = document(busy_centre().router)
    _set(doc, path, value)
    with pytest.raises(InputError, match=message):
        restore_doc(doc)


def test_restore_refuses_holders_and_timers_that_do_not_fit() -> None:
    h = busy_centre()
    doc = document(h.router)
    (i, offered) = next(
        (i, c) for i, c in enumerate(doc["contacts"]) if c["state"] == ContactState.OFFERED.value
    )
    doc["contacts"][i]["agent"] = "nobody"
    with pytest.raises(InputError, match=r"holder \(agent\) names unknown 'nobody'"):
        restore_doc(doc)
    doc = document(h.router)
    doc["contacts"][i]["state"] = ContactState.WAITING.value
    with pytest.raises(InputError, match="is waiting but held by"):
        restore_doc(doc)
    doc = document(h.router)
    doc["contacts"][i]["state"] = ContactState.COMPLETED.value
    with pytest.raises(InputError, match="is completed, not live"):
        restore_doc(doc)
    doc = document(h.router)
    doc["timers"].append(dict(doc["timers"][0]))
    with pytest.raises(InputError, match=r"two \w+ timers"):
        restore_doc(doc)
    doc = document(h.router)
    doc["timers"][0]["contact"] = "ghost"
    with pytest.raises(InputError, match="timer of unknown contact 'ghost'"):
        restore_doc(doc)
    doc = document(h.router)
    waiting = next(c for c in doc["contacts"] if c["state"] == "waiting")
    doc["timers"].append(
        {"due": 99.0, "kind": "offer", "contact": waiting["spec"]["id"], "agent": None}
    )
    with pytest.raises(InputError, match=r"offer timer of contact '\w+', which is waiting"):
        restore_doc(doc)
    assert offered


def test_a_state_document_of_wrong_values_raises_input_error_not_a_crash() -> None:
    state = busy_centre().router.state()
    broken = attrs.evolve(state, agents=(*state.agents[:1], "not a record"))
    with pytest.raises(InputError):
        Router.restore(broken)  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="bytes"):
        Router.restore("{}")  # type: ignore[arg-type]


def test_restore_refuses_a_clock_behind_the_snapshot() -> None:
    h = busy_centre()
    with pytest.raises(ClockError, match="behind the snapshot"):
        Router.restore(h.router.snapshot(), ManualClock(0))


# ================================================================ contact attributes


def test_attributes_come_back_as_json_gives_them() -> None:
    router = Router(ManualClock())
    router.add_queue(QueueConfig("q"))
    attributes = {
        "vip": True,
        "tags": ("a", "b"),
        "n": 2**62,
        "x": -0.0,
        "nested": {"k": [1, None]},
    }
    router.submit(Contact("c1", "email", "q", attributes=attributes))
    restored = Router.restore(router.snapshot())
    back = restored.contact("c1").attributes
    assert dict(back) == {**attributes, "tags": ["a", "b"]}
    assert type(back["n"]) is int and str(back["x"]) == "-0.0"


def test_an_attribute_changed_into_something_json_cannot_carry_is_refused() -> None:
    router = Router(ManualClock())
    router.add_queue(QueueConfig("q"))
    tags: list[object] = ["a"]
    router.submit(Contact("c1", "email", "q", attributes={"tags": tags}))
    tags.append({1, 2})  # the list is the caller's: it changed after the contact was made
    with pytest.raises(InvalidValueError, match="c1"):
        router.snapshot()


# ============================================================ strategies, counters


def test_custom_strategy_scores_choose_the_agent_and_survive_a_restore() -> None:
    strategies = {"lang": ByLanguage()}
    router = Router(ManualClock(), strategies=strategies)
    router.add_queue(QueueConfig("q", strategy="lang"))
    # a1 has been idle longest, but a2 speaks the customer's language
    router.add_agent(Agent("a1", skills={"lang": 1}, queues=("q",)), Presence.AVAILABLE)
    router.add_agent(Agent("a2", skills={"lang": 2}, queues=("q",)), Presence.AVAILABLE)
    events = router.submit(Contact("c1", "voice", "q", attributes={"lang": 2}))
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["a2"]
    with pytest.raises(UnknownIdError, match="unknown strategy 'lang'"):
        Router.restore(router.snapshot())
    restored = Router.restore(router.snapshot(), strategies=strategies)
    events = restored.submit(Contact("c2", "voice", "q", attributes={"lang": 1}))
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["a1"]


def test_a_custom_strategy_named_like_a_builtin_one_stays_custom() -> None:
    strategies = {"random": ByLanguage()}
    router = Router(ManualClock(), strategies=strategies)
    router.add_queue(QueueConfig("q", strategy="random"))
    router.add_queue(QueueConfig("r", strategy=Strategy.RANDOM))
    restored = Router.restore(router.snapshot(), strategies=strategies)
    assert restored.queue_config("q").strategy == "random"
    assert restored.queue_config("r").strategy is Strategy.RANDOM
    with pytest.raises(UnknownIdError, match="unknown strategy 'random'"):
        Router.restore(router.snapshot())


def test_a_queue_naming_an_unknown_strategy_is_refused_and_changes_nothing() -> None:
    router = Router(ManualClock())
    before = snapshot(router)
    with pytest.raises(UnknownIdError, match="unknown strategy 'nope'"):
        router.add_queue(QueueConfig("q", strategy="nope"))
    assert snapshot(router) == before
    with pytest.raises(InvalidValueError, match="score"):
        Router(strategies={"bad": object()})  # type: ignore[dict-item]


class Broken:
    def __init__(self, result: object) -> None:
        self.result = result

    def score(self, contact: ContactView, agent: AgentView) -> float:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result  # type: ignore[return-value]


@pytest.mark.parametrize("result", [RuntimeError("boom"), "high", float("nan"), None])
def test_a_failing_strategy_falls_back_to_longest_idle_and_is_counted(result: object) -> None:
    clock = ManualClock()
    router = Router(clock, strategies={"broken": Broken(result)})
    router.add_queue(QueueConfig("q", strategy="broken"))
    router.add_agent(Agent("b", queues=("q",)), Presence.AVAILABLE)
    clock.advance(1)
    router.add_agent(Agent("a", queues=("q",)), Presence.AVAILABLE)
    events = router.submit(Contact("c1", "voice", "q"))
    # b has been idle longest
    assert [e.agent_id for e in events if isinstance(e, Offered)] == ["b"]
    assert router.strategy_failures == 1
    restored = Router.restore(router.snapshot(), strategies={"broken": Broken(result)})
    assert restored.strategy_failures == 1


@pytest.mark.parametrize("strategy", list(Strategy))
def test_restored_router_decides_as_the_original_under_every_strategy(strategy: Strategy) -> None:
    """Idle times, handled counts, loads and the round-robin position all carry over."""
    h = RouterHarness(seed=3)
    h.queue("q", strategy=strategy, offer_timeout=None, wrap_up=0)
    for i, level in enumerate((4, 2, 6, 3)):
        h.agent(f"a{i}", skills={"x": level}, queues=("q",), capacity={"voice": 1, "chat": 2})
        h.advance(1)
    # Give the agents different histories: handled counts, idle times, chat load.
    for n in range(7):
        (offer,) = h.offers(h.submit(f"w{n}", "voice", requirements={"x": 1}))
        h.router.accept(*offer)
        h.advance(0.5 + n % 3)
        h.router.complete(offer[0])
    h.submit("chat1", "chat")
    data = h.router.snapshot()
    clock = ManualClock(h.clock.now())
    restored = Router.restore(data, clock)
    for n in range(6):
        contact = Contact(f"n{n}", "voice" if n % 2 else "chat", "q")
        assert restored.submit(contact) == h.router.submit(contact)
        h.advance(1)
        clock.advance(1)
        assert restored.tick() == h.router.tick()


# ================================================== routing policies across a restore

Step = Callable[[Router], object]


def same_future(h: RouterHarness, steps: list[tuple[float, Step]]) -> list[list[Event]]:
    """Restore ``h.router`` from a snapshot, make the same calls on both (each after
    advancing both clocks), and check they give the same events and end in the
    same state. Returns the original's events per step."""
    clock = ManualClock(h.clock.now())
    restored = Router.restore(h.router.snapshot(), clock, strategies=h.router.strategies)
    assert restored.state() == h.router.state()
    assert snapshot(restored) == snapshot(h.router)
    for router in (h.router, restored):
        for contact_id in router.contact_ids:
            assert restored.explain(contact_id) == h.router.explain(contact_id)
        for agent_id in router.agent_ids:
            assert restored.explain_agent(agent_id) == h.router.explain_agent(agent_id)
    seen = []
    for seconds, step in steps:
        h.clock.advance(seconds)
        clock.advance(seconds)
        expected, got = _call(step, h.router), _call(step, restored)
        assert got == expected, step
        seen.append(expected)
        assert snapshot(restored) == snapshot(h.router)
    assert restored.snapshot() == h.router.snapshot()
    return seen


def _call(step: Step, router: Router) -> Any:
    try:
        result = step(router)
    except CCRouteError as exc:
        return repr(exc)
    return getattr(result, "events", result)


def tick(router: Router) -> object:
    return router.tick()


def test_exclusions_survive_a_restore() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.router.add_exclusion("cust", "ann")
    h.agent("ann", Presence.NOT_READY, queues={"q"})
    h.agent("bob", Presence.NOT_READY, queues={"q"})
    h.submit("c1", customer_id="cust")
    h.submit("c2", excluded_agents={"bob"})
    assert h.router.state().exclusions[0].agents == ("ann",)
    events = same_future(
        h,
        [
            (1, lambda r: r.set_presence("ann", Presence.AVAILABLE)),
            (1, lambda r: r.set_presence("bob", Presence.AVAILABLE)),
            (1, lambda r: r.remove_exclusion("cust", "ann")),
            (1, lambda r: r.add_exclusion("cust2", "bob")),
            (1, lambda r: r.exclusions("cust")),
        ],
    )
    assert [(e.contact_id, e.agent_id) for e in events[0] if isinstance(e, Offered)] == [
        ("c2", "ann")
    ]
    assert [(e.contact_id, e.agent_id) for e in events[1] if isinstance(e, Offered)] == [
        ("c1", "bob")
    ]


def test_ramp_up_survives_a_restore() -> None:
    h = RouterHarness(policy=RoutingPolicy(ramp_up=RampUp(seconds=60, accepted=2)))
    h.queue("q", offer_timeout=None)
    h.agent("ann", Presence.NOT_READY, queues={"q"}, capacity={"chat": 3})
    for i in range(4):
        h.submit(f"chat{i}", "chat")
    h.advance(5)
    h.router.set_presence("ann", Presence.AVAILABLE)  # ramps: one offer at a time
    (ann,) = h.router.state().agents
    assert ann.ramping and ann.ramp_left == 2
    assert TimerKind.RAMP_UP in [t.kind for t in h.router.state().timers]
    events = same_future(
        h,
        [
            (1, lambda r: r.submit(Contact("chat9", "chat", "q"))),
            (1, lambda r: r.accept("chat0", "ann")),
            (1, lambda r: r.accept("chat1", "ann")),  # the second accept ends the ramp
            (70, tick),
        ],
    )
    assert RampUpEnded(8.0, "ann", "accepted") in events[2]


def test_ramp_up_ends_on_time_after_a_restore() -> None:
    h = RouterHarness(policy=RoutingPolicy(ramp_up=RampUp(seconds=30, accepted=None)))
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"}, capacity={"chat": 3})
    h.submit("chat0", "chat")
    h.submit("chat1", "chat")
    events = same_future(h, [(10, tick), (25, tick), (1, lambda r: r.accept("chat0", "ann"))])
    assert RampUpEnded(30.0, "ann", "time") in events[1]


def test_ring_all_holders_survive_a_restore() -> None:
    h = RouterHarness()
    h.queue("q", ring=3, offer_timeout=20)
    for name in ("ann", "bob", "cy"):
        h.agent(name, queues={"q"})
    h.submit("c1")
    (c1,) = h.router.state().contacts
    assert c1.agent is not None and len(c1.also) == 2
    events = same_future(
        h,
        [
            (1, lambda r: r.reject("c1", c1.also[0])),
            (1, lambda r: r.accept("c1", c1.agent)),  # type: ignore[arg-type]
            (1, lambda r: r.submit(Contact("c2", "voice", "q"))),
            (25, tick),
        ],
    )
    assert [e for e in events[1] if isinstance(e, OfferRescinded)] == [
        OfferRescinded(2.0, "c1", c1.also[1], f"answered by {c1.agent}")
    ]


def test_channel_reservation_and_preferred_agents_survive_a_restore() -> None:
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}, blocking={"voice": {"chat"}}))
    h.queue("q", offer_timeout=None)
    # A call fills ann's 100 units; a chat takes 33.
    h.agent("ann", queues={"q"}, capacity={"voice": 1, "chat": 2}, unit_budget=100)
    h.agent("bob", Presence.NOT_READY, queues={"q"}, capacity={"voice": 1, "chat": 2})
    h.submit("chat1", "chat")
    h.router.accept("chat1", "ann")
    h.submit("call", "voice")  # waits for ann, who is kept free for it
    h.submit("chat2", "chat")  # not for ann: she is kept free for the call
    h.submit("pref", "voice", preferred_agent="bob", preferred_wait=30)
    state = h.router.state()
    assert "ann" in state.kept_free
    assert h.router.contact("chat2").state is ContactState.WAITING
    assert [c.target for c in state.contacts if c.spec.id == "pref"] == ["bob"]
    events = same_future(
        h,
        [
            (1, lambda r: r.complete("chat1")),  # ann frees up: the call goes to her
            (1, lambda r: r.set_presence("bob", Presence.AVAILABLE)),
            (1, lambda r: r.abandon("pref")),
            (1, lambda r: r.accept("call", "ann")),
            (40, tick),
        ],
    )
    assert ("call", "ann") in [
        (e.contact_id, e.agent_id) for e in events[0] if isinstance(e, Offered)
    ]


def test_a_lift_left_pending_by_a_refused_call_survives_a_restore() -> None:
    """A call whose timers ended a reserved-channel wait and that was then refused
    leaves the lift to the next call: the restored router makes it too."""
    h = RouterHarness(policy=RoutingPolicy(reserve_for={"voice"}))
    h.queue("q", offer_timeout=10, rona_not_ready=False)
    h.queue("v", max_wait=10)
    h.agent("ann", queues={"q", "v"}, capacity={"voice": 1, "chat": 3}, unit_budget=100)
    h.submit("chat0", "chat")
    h.router.accept("chat0", "ann")
    h.submit("chat1", "chat")  # to ann, until 10 s
    h.submit("call", "voice", queue="v")  # for ann, kept free for it (her chats must end)
    h.submit("chat2", "chat")
    h.clock.advance(10)
    # chat1's offer times out and the call's wait ends, so ann is no longer
    # kept free; but the accept is then refused, before the lift routes her.
    with pytest.raises(InvalidStateError, match="chat1"):
        h.router.accept("chat1", "ann")
    state = h.router.state()
    assert state.lift_pending and state.kept_free == ("ann",)
    events = same_future(h, [(0, tick), (1, lambda r: r.accept("chat1", "ann"))])
    assert [(e.contact_id, e.agent_id) for e in events[0] if isinstance(e, Offered)] == [
        ("chat1", "ann"),
        ("chat2", "ann"),
    ]


def test_a_preference_lapses_on_time_after_a_restore() -> None:
    h = RouterHarness()
    h.queue("q", offer_timeout=None)
    h.agent("ann", queues={"q"})
    h.agent("bob", Presence.NOT_READY, queues={"q"})
    h.submit("c1", preferred_agent="bob", preferred_wait=30)
    events = same_future(h, [(10, tick), (25, tick)])
    assert PreferenceExpired(30.0, "c1", "bob", "wait over") in events[1]


def test_rejoin_places_survive_a_restore() -> None:
    h = RouterHarness()
    h.queue("q", rejoin_window=60)
    h.agent("ann", Presence.NOT_READY, queues={"q"})
    h.submit("first", customer_id="cust")
    h.advance(10)
    h.submit("other")
    h.router.abandon("first")
    (place,) = h.router.state().rejoins
    assert place.customer == "cust" and place.contact == "first"
    events = same_future(
        h,
        [
            (5, lambda r: r.submit(Contact("again", "voice", "q", customer_id="cust"))),
            (1, lambda r: r.waiting()),
            (1, lambda r: r.abandon("again")),
            (100, lambda r: r.submit(Contact("late", "voice", "q", customer_id="cust"))),
        ],
    )
    assert Rejoined(15.0, "again", "first", "q") in events[0]


def test_overflow_and_fled_queues_survive_a_restore() -> None:
    """A contact that fled an unstaffed queue remembers it at that instant, so it
    does not cycle back when its new queue loses its last agent."""
    h = RouterHarness()
    h.router.add_queues(
        [
            QueueConfig("A", overflow="B", skip_if_no_agent=True, max_wait=100),
            QueueConfig("B", overflow="A", skip_if_no_agent=True, max_wait=100),
        ]
    )
    h.agent("bee", Presence.NOT_READY, queues={"B"})
    events = h.submit("c", queue="A")
    assert Overflowed(0.0, "c", "A", "B", 0.0, "no agent", True) in events
    (c,) = h.router.state().contacts
    assert c.fled == (0.0, ("A",))
    result = same_future(h, [(0, lambda r: r.set_presence("bee", Presence.OFFLINE))])
    assert TimedOut(0.0, "c", "B", "voice", 0.0, "no agent") in result[0]
    assert not any(isinstance(e, Overflowed) for e in result[0])


def test_maximum_wait_overdue_and_queue_delays_survive_a_restore() -> None:
    h = RouterHarness()
    h.router.add_queues(
        [
            QueueConfig("front", max_wait=20, overflow="back", offer_timeout=30),
            QueueConfig("back", steps=[RoutingStep(5, {"x": None})]),
        ]
    )
    h.agent("ann", queues={"front"}, skills={"x": 2})
    h.agent("bob", queues={"back", "front"}, queue_delays={"front": 10}, skills={"x": 1})
    h.submit("c1", queue="front")  # to ann at once; bob waits 10 s for front contacts
    h.submit("c2", queue="front", requirements={"x": 2})
    h.advance(21)  # c1's maximum wait passes while it is offered: overdue
    (c1,) = [c for c in h.router.state().contacts if c.spec.id == "c1"]
    assert c1.overdue
    same_future(
        h,
        [
            (1, lambda r: r.reject("c1", "ann")),
            (3, tick),
            (10, tick),
            (1, lambda r: r.submit(Contact("c3", "voice", "front"))),
            (12, tick),
        ],
    )


# ============================================================= property: round trip

CHANNELS = ("voice", "chat", "email")
QUEUES = ("q1", "q2")


Draw = Callable[[st.SearchStrategy[Any]], Any]
Call = Callable[[Router, Draw], object]


def _pick(draw: Draw, options: Iterable[Any], fallback: Any) -> Any:
    """One of ``options`` (sorted), or ``fallback`` when there is none."""
    options = sorted(set(options))
    return draw(st.sampled_from(options)) if options else fallback


def _held(router: Router, kind: str) -> list[tuple[str, str]]:
    """(contact, agent) pairs of what the agents hold: offered, in_service or wrap_up."""
    return [(c, a) for a in router.agent_ids for c in getattr(router.agent(a), kind)]


def _calls() -> list[tuple[int, Call]]:
    """Every kind of call with a weight, its arguments drawn, mostly from what the
    router holds (so that most calls go through), sometimes not."""
    names = st.sampled_from(["a1", "a2", "a3", "a4"])
    fresh = st.sampled_from([f"c{i}" for i in range(16)])

    def contact(r: Router, draw: Draw) -> str:
        return _pick(draw, r.contact_ids, "c0") if draw(st.booleans()) else draw(fresh)

    def offer(r: Router, draw: Draw) -> tuple[str, str]:
        pair: tuple[str, str] = _pick(draw, _held(r, "offered"), ("c0", "a1"))
        return pair

    def agent(r: Router, draw: Draw) -> str:
        return _pick(draw, r.agent_ids, "a1") if draw(st.booleans()) else draw(names)

    return [
        (
            2,
            lambda r, draw: r.add_agent(
                Agent(
                    draw(names),
                    skills=draw(st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 5))),
                    queues=draw(st.frozensets(st.sampled_from(QUEUES), min_size=1)),
                    capacity=draw(st.sampled_from([None, {"voice": 1, "chat": 2}])),
                    unit_budget=draw(st.sampled_from([None, 100])),
                    queue_delays=draw(st.sampled_from([{}, {"q1": 3.0}])),
                ),
                draw(st.sampled_from([Presence.AVAILABLE, Presence.NOT_READY])),
            ),
        ),
        (
            6,
            lambda r, draw: r.submit(
                Contact(
                    draw(fresh),
                    draw(st.sampled_from(CHANNELS)),
                    draw(st.sampled_from(QUEUES)),
                    requirements=draw(st.sampled_from([{}, {}, {"en": 2}, {"fr": 1}])),
                    customer_id=draw(st.sampled_from([None, "k1", "k2"])),
                    priority_seconds=draw(st.sampled_from([0.0, 2.5])),
                    tier=draw(st.integers(0, 1)),
                    preferred_agent=draw(st.sampled_from([None, None, "a1"])),
                    preferred_wait=5,
                    excluded_agents=draw(st.sampled_from([(), (), ("a2",)])),
                    attributes={"n": draw(st.integers(-(2**63), 2**63 - 1)), "t": ("x", 1.5)},
                )
            ),
        ),
        (4, lambda r, draw: r.accept(*offer(r, draw))),
        (2, lambda r, draw: r.reject(*offer(r, draw))),
        (3, lambda r, draw: r.complete(_pick(draw, _held(r, "in_service"), ("c0",))[0])),
        (1, lambda r, draw: r.end_wrap_up(_pick(draw, _held(r, "wrap_up"), ("c0",))[0])),
        (2, lambda r, draw: r.abandon(contact(r, draw))),
        (
            1,
            lambda r, draw: r.transfer(
                contact(r, draw),
                queue=draw(st.sampled_from(QUEUES)),
                agent=draw(st.sampled_from([None, None, "a3"])),
                keep_key=draw(st.booleans()),
            ),
        ),
        (1, lambda r, draw: r.request_callback(contact(r, draw))),
        (
            3,
            lambda r, draw: r.set_presence(agent(r, draw), draw(st.sampled_from(list(Presence)))),
        ),
        (1, lambda r, draw: r.set_capacity(agent(r, draw), "chat", draw(st.integers(0, 3)))),
        (1, lambda r, draw: r.remove_agent(agent(r, draw))),
        (1, lambda r, draw: r.add_exclusion(draw(st.sampled_from(["k1", "k2"])), agent(r, draw))),
        (
            1,
            lambda r, draw: r.remove_exclusion(draw(st.sampled_from(["k1", "k2"])), agent(r, draw)),
        ),
        (1, lambda r, draw: r.explain(contact(r, draw))),
        (
            1,
            lambda r, draw: r.update_agent(
                Agent(
                    agent(r, draw),
                    skills=draw(st.dictionaries(st.sampled_from(["en", "fr"]), st.integers(1, 5))),
                    queues=draw(st.frozensets(st.sampled_from(QUEUES), min_size=1)),
                    capacity=draw(st.sampled_from([None, {"voice": 1, "chat": 3}])),
                    queue_delays=draw(st.sampled_from([{}, {"q2": 2.0}])),
                )
            ),
        ),
        (
            1,
            lambda r, draw: r.update_contact(
                contact(r, draw),
                priority_seconds=draw(st.sampled_from([None, 0.0, 9.0])),
                tier=draw(st.sampled_from([None, 0, 2])),
                requirements=draw(st.sampled_from([None, {}, {"fr": 3}])),
                attributes=draw(st.sampled_from([None, {"note": "vip"}])),
            ),
        ),
        (
            1,
            lambda r, draw: r.update_queue(
                QueueConfig(
                    "q2",
                    strategy=draw(st.sampled_from(list(Strategy))),
                    ring=draw(st.integers(1, 2)),
                    max_wait=draw(st.sampled_from([None, 6.0])),
                    overflow=draw(st.sampled_from([None, "q1"])),
                    steps=draw(st.sampled_from([(), (RoutingStep(3, {"en": None}),)])),
                    blocking=draw(st.sampled_from([{}, {"voice": {"email"}}])),
                    wrap_up=None,
                )
            ),
        ),
        (4, lambda r, draw: _advance(r, draw(st.sampled_from([0.5, 2.0, 7.0])))),
    ]


def _advance(router: Router, seconds: float) -> object:
    clock = router.clock
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)
    return router.tick()


CALLS: Final = [call for weight, call in _calls() for _ in range(weight)]


def some_call(router: Router, draw: Draw) -> Any:
    """One random call (or time passing); its events, or the refusal's repr."""
    return _call(lambda r: CALLS[draw(st.integers(0, len(CALLS) - 1))](r, draw), router)


def random_router(draw: Draw) -> RouterHarness:
    """A router with policies on, driven through random calls."""
    policy = draw(
        st.builds(
            RoutingPolicy,
            blocking=st.sampled_from([{}, {"voice": {"chat"}}]),
            reserve_for=st.sampled_from([frozenset(), frozenset({"voice"})]),
            ramp_up=st.sampled_from([None, RampUp(seconds=20, accepted=2)]),
        )
    )
    h = RouterHarness(seed=draw(st.integers(0, 5)), policy=policy)
    h.router.add_queues(
        [
            QueueConfig(
                "q1",
                strategy=draw(st.sampled_from(list(Strategy))),
                ring=draw(st.sampled_from([1, 2, 3])),
                max_wait=draw(st.sampled_from([None, 15.0])),
                overflow="q2",
                skip_if_no_agent=draw(st.booleans()),
                rejoin_window=30,
                steps=[RoutingStep(4, {"fr": None}, {"q2"})],
                offer_timeout=10,
                wrap_up=3,
                blocking=draw(st.sampled_from([{}, {"email": {"chat"}}])),
            ),
            QueueConfig("q2", strategy=Strategy.ROUND_ROBIN, priority_seconds=5, wrap_up=None),
        ]
    )
    for _ in range(draw(st.integers(0, 80))):
        some_call(h.router, draw)
    return h


def property_settings(examples: int) -> settings:
    # queue_factory only selects the queue implementation: nothing to reset per example
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@property_settings(60)
@given(data=st.data())
def test_the_state_document_round_trips_through_bytes_exactly(data: st.DataObject) -> None:
    h = random_router(data.draw)
    state = h.router.state()
    encoded = state.to_bytes()
    assert encoded == h.router.snapshot()
    decoded = RouterState.from_bytes(encoded)
    assert decoded == state
    # Fields attrs leaves out of == (contact attributes, agents' capacity specs) too:
    assert decoded.to_bytes() == encoded
    assert [a.spec.capacity for a in decoded.agents] == [a.spec.capacity for a in state.agents]
    restored = Router.restore(encoded, ManualClock(h.clock.now()))
    assert restored.state() == state
    assert restored.snapshot() == encoded
    assert snapshot(restored) == snapshot(h.router)


@property_settings(40)
@given(data=st.data())
def test_a_restored_router_makes_the_same_decisions(data: st.DataObject) -> None:
    h = random_router(data.draw)
    restored = Router.restore(h.router.snapshot(), ManualClock(h.clock.now()))
    for _ in range(25):
        # The same draws for both: recorded on the original, replayed on the copy.
        recorded: list[Any] = []

        def record(strategy: st.SearchStrategy[Any], recorded: list[Any] = recorded) -> Any:
            recorded.append(data.draw(strategy))
            return recorded[-1]

        expected = some_call(h.router, record)
        replay = iter(recorded)
        assert some_call(restored, lambda _strategy, replay=replay: next(replay)) == expected
        assert snapshot(restored) == snapshot(h.router)
    assert restored.snapshot() == h.router.snapshot()
