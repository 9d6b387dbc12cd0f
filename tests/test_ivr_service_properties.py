"""Hypothesis through the live service: whatever a caller says and whenever,
their session on examples/flows/inbound.toml ends within the flow's time
limit in exactly one way, logged once, and a routed caller is in the router
while a resolved one never reaches it; and a service that dies at any point
of it leaves a caller still in the flow to the next start, which routes them
once, as the flow stood (docs/ivr-flows.md, "After a crash")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccroute import (
    Abandoned,
    Agent,
    Contact,
    FlowFinished,
    ManualClock,
    MemoryStorage,
    Presence,
    QueueConfig,
    Service,
    UnknownIdError,
    hookimpl,
)
from ccroute.ivr import load_flow
from ccroute.storage import LogRecord

with (Path(__file__).parent.parent / "examples" / "flows" / "inbound.toml").open("rb") as _file:
    FLOW = load_flow(_file)
QUEUES = ("general", "billing", "technical", "retention")
WORDS = (
    "1",
    "2",
    "3",
    "4",
    "9",
    "yes",
    "no",
    "call me",
    "english",
    "français",
    "my invoice",
    "my balance",
    "the internet is broken",
    "goodbye",
    "agent",
    "4111111111111111",
    "4111 1111 1111 1112",
    "",
)


@attrs.frozen
class Wait:
    seconds: float


class Plugins:
    def __init__(self, answer: Mapping[str, Any] | None, vip: bool) -> None:
        self.answer = answer
        self.vip = vip

    @hookimpl
    def ccroute_self_service(self) -> Mapping[str, Any] | None:
        return self.answer

    @hookimpl
    def ccroute_crm_lookup(self) -> Mapping[str, Any] | None:
        return {"tier": "gold"} if self.vip else None


RESULTS = st.sampled_from(
    [None, {"overdue": True}, {"overdue": False, "message": "It is 3."}, {"resolved": True}]
)
SCRIPTS = st.lists(
    st.one_of(st.sampled_from(WORDS), st.floats(0, 40).map(Wait), st.just("hangup")),
    max_size=14,
)


async def run(script: list[Any], answer: Mapping[str, Any] | None, vip: bool, closed: bool) -> None:
    clock = ManualClock(1000.0)
    service = Service(
        storage=MemoryStorage(),
        clock=clock,
        plugins=[Plugins(answer, vip)],
        load_entrypoints=False,
    )
    async with service:
        await service.add_queues([QueueConfig(q) for q in QUEUES])
        await service.add_agent(Agent("ann", queues=("billing",)), Presence.NOT_READY)
        service.flows.hours = lambda queue: not closed
        contact = Contact("c1", "voice", "general", customer_id="cust")
        live = await service.flows.start(FLOW, contact)
        started = clock.now()
        for item in script:
            if isinstance(item, Wait):
                clock.advance(item.seconds)
                await service.flows.tick()
            elif item == "hangup":
                await live.hangup()
            elif not live.step or not live.step.final:
                await live.input(item)
        clock.set(max(clock.now(), started + FLOW.time_limit))
        await service.flows.tick()
        assert live.result is not None
        outcome = live.result.outcome
        events = [e for r in service.storage.load().records for e in r.events]
        finished = [e for e in events if isinstance(e, FlowFinished)]
        assert [(f.contact_id, f.flow, f.outcome) for f in finished] == [("c1", "inbound", outcome)]
        if outcome in ("routed", "fallback", "callback"):
            if any(isinstance(e, Abandoned) for e in events):
                # hung up in the queue: only a caller on hold can
                assert outcome != "callback" and "hangup" in script
            else:
                view = service.router.contact("c1")
                assert view.queue in QUEUES
                assert (view.channel == "callback") == (outcome == "callback")
        else:
            assert outcome in ("self-service", "closed", "abandoned")
            try:
                service.router.contact("c1")
            except UnknownIdError:
                pass
            else:
                raise AssertionError("a resolved caller reached the router")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=SCRIPTS,
    answer=RESULTS,
    vip=st.booleans(),
    closed=st.booleans(),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_every_live_session_ends_once_within_its_time_limit(
    script: list[Any], answer: Mapping[str, Any] | None, vip: bool, closed: bool, backend: str
) -> None:
    anyio.run(run, script, answer, vip, closed, backend=backend)


class Tape(MemoryStorage):
    """A memory store that also keeps every record appended (load() starts at the snapshot)."""

    def __init__(self) -> None:
        super().__init__()
        self.tape: list[LogRecord] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        super().append(records)
        self.tape.extend(records)


async def crash(
    script: list[Any], cut: int, answer: Mapping[str, Any] | None, vip: bool, closed: bool
) -> None:
    """Run the script up to ``cut``, halt the service (a crash: nothing more is
    written, no session is ended), then start another on the same store."""
    clock = ManualClock(1000.0)
    store = Tape()

    def service() -> Service:
        return Service(
            storage=store, clock=clock, plugins=[Plugins(answer, vip)], load_entrypoints=False
        )

    first = service()
    await first.start()
    try:
        await first.add_queues([QueueConfig(q) for q in QUEUES])
        first.flows.hours = lambda queue: not closed
        live = await first.flows.start(FLOW, Contact("c1", "voice", "general", customer_id="cust"))
        for item in script[:cut]:
            if isinstance(item, Wait):
                clock.advance(item.seconds)
                await first.flows.tick()
            elif item == "hangup":
                await live.hangup()
            elif not live.step or not live.step.final:
                await live.input(item)
        in_flow = live.step is not None and not live.step.final
        # What the session would route were it to fall back now (the session
        # itself is the driver's: read, never changed).
        session = live._session
        expected = first.masking.contact(session.fallback_contact("recovered")) if in_flow else None
    finally:
        await first.halt()
    async with service() as again:
        if in_flow:
            assert expected is not None
            assert again.flows.recovered == {"c1": "fallback"}
            view = again.router.contact("c1")
            assert (view.queue, dict(view.requirements)) == (expected.queue, {})
            assert dict(view.attributes) == dict(expected.attributes)
            assert dict(view.attributes["ivr"])["fallback"] == "recovered"
        else:
            assert again.flows.recovered == {}
    async with service() as third:
        assert third.flows.recovered == {}
    finished = [e for r in store.tape for e in r.events if isinstance(e, FlowFinished)]
    assert len(finished) == 1  # ended once, before the crash or at the restart


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=SCRIPTS,
    cut=st.integers(0, 14),
    answer=RESULTS,
    vip=st.booleans(),
    closed=st.booleans(),
    backend=st.sampled_from(["asyncio", "trio"]),
)
def test_a_caller_in_the_flow_when_the_service_dies_is_routed_once_as_it_stood(
    script: list[Any],
    cut: int,
    answer: Mapping[str, Any] | None,
    vip: bool,
    closed: bool,
    backend: str,
) -> None:
    anyio.run(crash, script, cut, answer, vip, closed, backend=backend)
