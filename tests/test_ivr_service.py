"""Flows run live in the service (``service.flows``, ccroute.ivr.live) on both anyio
backends: each final kind through the real service, self-service and intent
hooks with their failures, time-outs and time limits, the in-queue
treatment, and what happens to sessions when the service stops.

The privacy of sensitive answers through the service is in
tests/test_ivr_service_privacy.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from ivr_helpers import make_flow

from ccroute import (
    Agent,
    Contact,
    CustomerEnriched,
    CustomerUpdate,
    FlowFinished,
    HistoryRecord,
    InvalidStateError,
    InvalidValueError,
    ManualClock,
    MemoryStorage,
    Presence,
    QueueConfig,
    Service,
    ServiceError,
    UnknownIdError,
    hookimpl,
)
from ccroute.ivr import (
    CallbackDecision,
    Flow,
    IntentPrediction,
    Prompt,
    Resolution,
    RoutingDecision,
    load_flow,
)
from ccroute.ivr.live import FlowOutput
from ccroute.lifecycle import ContactState

pytestmark = pytest.mark.anyio

INBOUND = Path(__file__).parent.parent / "examples" / "flows" / "inbound.toml"
CARD = "4111111111111111"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def inbound() -> Flow:
    with INBOUND.open("rb") as file:
        return load_flow(file)


class Centre:
    """The customers' side and the CRM, as application plugins see them."""

    def __init__(self, balance: Mapping[str, Any] | None = None) -> None:
        self.updates: list[CustomerUpdate] = []
        self.history: list[HistoryRecord] = []
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.balance: Mapping[str, Any] | None = balance or {"balance": 12.5, "overdue": False}

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    @hookimpl
    def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.history.append(record)

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return {"tier": "gold"} if customer_id == "vip" else None

    @hookimpl
    def ccroute_self_service(
        self, action: str, arguments: Mapping[str, Any], contact: Contact
    ) -> Mapping[str, Any] | None:
        if action != "balance":
            return None
        self.actions.append((action, dict(arguments)))
        return self.balance


class Caller:
    """The adapter's side of one session: everything the driver sent it."""

    def __init__(self) -> None:
        self.outputs: list[FlowOutput] = []

    def __call__(self, output: FlowOutput) -> None:
        self.outputs.append(output)

    def kinds(self) -> list[str]:
        return [o.kind for o in self.outputs]

    def said(self, kind: str) -> list[str]:
        return [o.text or "" for o in self.outputs if o.kind == kind]


QUEUES = ("general", "billing", "technical", "retention")


async def centre(service: Service, *, agents: bool = False) -> None:
    await service.add_queues([QueueConfig(q, wrap_up=0) for q in QUEUES])
    if agents:
        await service.add_agent(
            Agent("ann", skills={"english": 5, "billing": 5, "network": 5}, queues=QUEUES),
            Presence.AVAILABLE,
        )


def service_for(*plugins: object, clock: ManualClock | None = None, **kw: Any) -> Service:
    return Service(
        clock=clock if clock is not None else ManualClock(0.0),
        plugins=list(plugins),
        load_entrypoints=False,
        **kw,
    )


def notes(service: Service, kind: type) -> list[Any]:
    return [e for r in service.storage.load().records for e in r.events if isinstance(e, kind)]


async def wait_for(condition: Any, seconds: float = 5.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.002)


# ------------------------------------------------------------- final kinds


async def test_a_routed_caller_reaches_the_queue_the_flow_chose(
    anyio_backend: str, inbound: Flow
) -> None:
    desk = Centre()
    async with service_for(desk, storage=MemoryStorage()) as service:
        await centre(service)
        caller = Caller()
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        assert isinstance(live.step, Prompt) and live.step.node == "language"
        await live.input("1")
        step = await live.input("1")  # billing
        assert isinstance(step, RoutingDecision) and not step.fallback
        result = await live.wait()
        assert result.outcome == "routed"
        view = service.router.contact("c1")
        assert (view.queue, dict(view.requirements)) == ("billing", {"billing": 3, "english": 1})
        assert view.attributes["ivr"]["intent"] == "billing"
        finished = notes(service, FlowFinished)
        assert [(f.contact_id, f.flow, f.outcome) for f in finished] == [
            ("c1", "inbound", "routed")
        ]
        assert caller.kinds() == ["prompt", "prompt", "message", "ended", "announcement"]
        assert caller.said("announcement") == [
            "You are number 1 in line. Your wait is about unknown minutes. "
            "Press 9 at any time to be called back instead."
        ]


async def test_a_self_service_caller_is_resolved_without_an_agent(
    anyio_backend: str, inbound: Flow
) -> None:
    desk = Centre({"resolved": True, "message": "Your balance is 12.50. Goodbye."})
    async with service_for(desk) as service:
        await centre(service, agents=True)
        caller = Caller()
        live = await service.flows.start(
            inbound, Contact("c1", "voice", "general", customer_id="cust"), caller
        )
        await live.input("english")
        await live.input("what is my balance")
        step = await live.input(CARD)
        assert isinstance(step, Resolution) and step.outcome == "self-service"
        assert desk.actions == [("balance", {"account": CARD, "customer": "cust"})]
        assert caller.said("message") == ["Your balance is 12.50. Goodbye."]
        with pytest.raises(UnknownIdError):
            service.router.contact("c1")  # never reached the router
        await service.drain()
        assert [(f.flow, f.outcome) for f in notes(service, FlowFinished)] == [
            ("inbound", "self-service")
        ]
        assert [(u.kind, u.reason) for u in desk.updates] == [("closed", "self-service")]
        assert [(h.outcome, h.customer_id) for h in desk.history] == [("self-service", "cust")]
        assert desk.history[0].attributes["ivr"]["answers"] == {"account": "************1111"}
        assert service.metrics.report(service.router.now).total.offered == 0


async def test_a_callback_keeps_the_customers_place_without_holding(
    anyio_backend: str, inbound: Flow
) -> None:
    clock = ManualClock(0.0)
    async with service_for(Centre(), clock=clock) as service:
        await centre(service, agents=True)
        # One billing call of 20 minutes: the estimate is 1200 s for the next caller.
        await service.submit(Contact("old", "voice", "billing"))
        await service.accept("old", "ann")
        clock.advance(1200)
        await service.complete("old")
        await service.submit(Contact("busy", "voice", "billing"))
        await service.accept("busy", "ann")
        caller = Caller()
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        await live.input("1")
        offer = await live.input("1")
        assert isinstance(offer, Prompt) and offer.node == "wait_check"
        assert "about 20 minutes" in offer.text
        step = await live.input("call me")
        assert isinstance(step, CallbackDecision) and step.estimated_wait == 1200
        result = await live.wait()
        assert result.outcome == "callback"
        # Ann may call back while on her voice call (the callback is a channel of its own).
        kinds = [type(e).__name__ for e in result.events]
        assert kinds == ["FlowFinished", "Queued", "CallbackRequested", "Offered"]
        view = service.router.contact("c1")
        assert (view.channel, view.queue, view.agent_id) == ("callback", "billing", "ann")
        # The customer hangs up, as callers who took a callback do: the place is kept.
        await live.hangup()
        assert service.router.contact("c1").state is ContactState.OFFERED


async def test_a_caller_out_of_hours_is_told_and_resolved(
    anyio_backend: str, inbound: Flow
) -> None:
    async with service_for(Centre()) as service:
        await centre(service, agents=True)
        service.flows.hours = lambda queue: False
        caller = Caller()
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        assert isinstance(live.step, Prompt) and live.step.node == "closed"
        step = await live.input("2")
        assert isinstance(step, Resolution) and step.outcome == "closed"
        assert caller.said("message") == ["Thank you for calling. Goodbye."]
        assert [f.outcome for f in notes(service, FlowFinished)] == ["closed"]


async def test_a_caller_who_hangs_up_in_the_flow_is_abandoned_there(
    anyio_backend: str, inbound: Flow
) -> None:
    desk = Centre()
    async with service_for(desk) as service:
        await centre(service, agents=True)
        live = await service.flows.start(
            inbound, Contact("c1", "voice", "general", customer_id="cust"), Caller()
        )
        await live.input("1")
        result = await live.hangup()
        assert result is not None and result.outcome == "abandoned"
        assert live.running is False and service.flows.sessions == {}
        await service.drain()
        assert [h.outcome for h in desk.history] == ["abandoned"]
        assert [f.outcome for f in notes(service, FlowFinished)] == ["abandoned"]
        with pytest.raises(InvalidStateError):
            await live.input("1")


async def test_a_vip_is_enriched_with_the_profile_the_flow_read(
    anyio_backend: str, inbound: Flow
) -> None:
    lookups: list[str] = []

    class Crm:
        @hookimpl
        def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
            lookups.append(customer_id)
            return {"tier": "platinum"}

    async with service_for(Crm()) as service:
        await centre(service)
        await service.submit(Contact("before", "voice", "billing"))
        live = await service.flows.start(
            inbound, Contact("c1", "voice", "general", customer_id="vip"), Caller()
        )
        await live.input("1")
        await live.input("1")
        view = service.router.contact("c1")
        assert view.attributes["vip"] is True
        assert service.router.position("c1") == 1  # jumped the queue: 120 s head start
        assert lookups == ["vip"]  # looked up once, before the flow; routed with the same
        enriched = notes(service, CustomerEnriched)
        assert [(e.contact_id, e.profile) for e in enriched] == [("c1", {"tier": "platinum"})]


# ------------------------------------------------------- hooks and failures


class Raising:
    @hookimpl
    def ccroute_self_service(self, action: str) -> Mapping[str, Any] | None:
        raise RuntimeError("the balance service is down")


class Hanging:
    @hookimpl
    async def ccroute_self_service(self, action: str) -> Mapping[str, Any] | None:
        await anyio.sleep(3600)
        return {"resolved": True}


@pytest.mark.parametrize(("plugin", "kind"), [(Raising(), "raised"), (Hanging(), "timeout")])
async def test_a_failing_self_service_is_counted_and_the_flow_goes_on(
    anyio_backend: str, inbound: Flow, plugin: object, kind: str
) -> None:
    async with service_for(plugin, clock=None, hook_timeout=0.2) as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), Caller())
        await live.input("1")
        await live.input("2")
        with anyio.fail_after(3):
            step = await live.input(CARD)
        # on_error: to billing, then the queue (no wait known: no callback offer)
        assert isinstance(step, RoutingDecision) and step.contact.queue == "billing"
        failures = {
            k: n for k, n in service.hook_failures.items() if k[0] == "ccroute_self_service"
        }
        assert list(failures.values()) == [1] and next(iter(failures))[2] == kind
        assert service.router.contact("c1").queue == "billing"


async def test_an_action_without_on_error_ends_in_the_fallback(anyio_backend: str) -> None:
    flow = make_flow(
        {
            "act": {"kind": "action", "action": "nobody", "next": "out"},
            "out": {"kind": "transfer", "queue": "billing"},
        }
    )
    async with service_for() as service:
        await centre(service)
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), Caller())
        result = await live.wait()
        assert result.outcome == "fallback"
        view = service.router.contact("c1")
        assert view.queue == "general"
        assert view.attributes["ivr"]["fallback"] == "action 'nobody' failed"


class Intents:
    def __init__(self, prediction: IntentPrediction | None) -> None:
        self.prediction = prediction
        self.asked: list[tuple[str, tuple[str, ...], str]] = []

    @hookimpl
    def ccroute_predict_intent(
        self, text: str, intents: Sequence[str], contact: Contact
    ) -> IntentPrediction | None:
        self.asked.append((text, tuple(intents), contact.id))
        return self.prediction


async def test_the_intent_hook_picks_the_menu_option(anyio_backend: str, inbound: Flow) -> None:
    intents = Intents(IntentPrediction("technical", 0.9))
    async with service_for(intents) as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), Caller())
        await live.input("1")
        await live.input("2")  # digits: the hook is not asked
        assert intents.asked == []
        await live.hangup()
        live = await service.flows.start(inbound, Contact("c2", "voice", "general"), Caller())
        await live.input("1")
        step = await live.input("the lights on the box are all red")
        assert intents.asked == [
            (
                "the lights on the box are all red",
                ("billing", "balance", "technical", "cancel"),
                "c2",
            )
        ]
        assert isinstance(step, RoutingDecision) and step.contact.queue == "technical"
        assert step.contact.attributes["ivr"]["confidence"] == 0.9


class BadIntents:
    @hookimpl
    def ccroute_predict_intent(self, text: str) -> IntentPrediction | None:
        raise RuntimeError("the language model is away")


class JunkIntents:
    @hookimpl
    def ccroute_predict_intent(self, text: str) -> IntentPrediction | None:
        return IntentPrediction("weather", 1.0)  # not an intent the menu takes


@pytest.mark.parametrize(("plugin", "kind"), [(BadIntents(), "raised"), (JunkIntents(), "junk")])
async def test_a_failing_intent_hook_falls_back_to_the_keyword_matcher(
    anyio_backend: str, inbound: Flow, plugin: object, kind: str
) -> None:
    async with service_for(plugin) as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), Caller())
        await live.input("1")
        step = await live.input("I want to pay my invoice")  # the flow's [intents]: billing
        assert isinstance(step, RoutingDecision) and step.contact.queue == "billing"
        failures = [k for k in service.hook_failures if k[0] == "ccroute_predict_intent"]
        assert [k[2] for k in failures] == [kind]


# ------------------------------------------------------------- time bounds


async def test_no_answer_ends_in_the_fallback_with_the_contact_routed(anyio_backend: str) -> None:
    flow = make_flow(
        {
            "menu": {
                "kind": "menu",
                "prompt": "Press 1.",
                "timeout": 5,
                "retries": 1,
                "options": [{"digit": "1", "next": "out"}],
            },
            "out": {"kind": "transfer", "queue": "billing"},
        },
        fallback={"queue": "general", "message": "Putting you through."},
    )
    clock = ManualClock(0.0)
    async with service_for(clock=clock) as service:
        await centre(service)
        caller = Caller()
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), caller)
        clock.advance(4.9)
        await service.flows.tick()
        assert caller.kinds() == ["prompt"]
        clock.advance(0.1)
        await service.flows.tick()  # the retry
        assert [p.prompt.attempt for p in caller.outputs if p.prompt is not None] == [1, 2]
        clock.advance(5)
        await service.flows.tick()
        result = await live.wait()
        assert result.outcome == "fallback"
        view = service.router.contact("c1")
        assert (view.queue, view.state) == ("general", ContactState.WAITING)
        assert view.attributes["ivr"]["fallback"] == "retries exhausted at 'menu'"
        assert caller.said("message") == ["Putting you through."]
        assert [f.outcome for f in notes(service, FlowFinished)] == ["fallback"]


async def test_the_flows_time_limit_ends_it_in_the_fallback(anyio_backend: str) -> None:
    flow = make_flow(
        {
            "ask": {
                "kind": "collect",
                "prompt": "Your reference?",
                "field": "ref",
                "timeout": 20,
                "retries": 9,
                "next": "out",
                "validators": [{"kind": "length", "min": 6, "max": 6}],
            },
            "out": {"kind": "transfer", "queue": "billing"},
        },
        time_limit=30,
    )
    clock = ManualClock(0.0)
    async with service_for(clock=clock) as service:
        await centre(service)
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), Caller())
        clock.advance(15)
        await live.input("12")  # too short: asked again
        clock.advance(15)
        await service.flows.tick()
        result = await live.wait()
        assert result.outcome == "fallback"
        assert service.router.contact("c1").attributes["ivr"]["fallback"] == "time limit"


async def test_timers_run_by_themselves_on_the_real_clock(anyio_backend: str) -> None:
    flow = make_flow(
        {
            "menu": {
                "kind": "menu",
                "prompt": "Press 1.",
                "options": [{"digit": "1", "next": "out"}],
                "retries": 0,
            },
            "out": {"kind": "transfer", "queue": "billing"},
        },
        input_timeout=1.0,
    )
    # The hook timeout is far shorter than the flow: a session is not bounded by it.
    async with Service(load_entrypoints=False, hook_timeout=0.05) as service:
        await centre(service)
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), Caller())
        await anyio.sleep(0.1)
        step = await live.input("1")
        assert isinstance(step, RoutingDecision) and not step.fallback
        live = await service.flows.start(flow, Contact("c2", "voice", "general"), Caller())
        with anyio.fail_after(5):
            result = await live.wait()
        assert result.outcome == "fallback"
        assert service.router.contact("c2").queue == "general"


# ------------------------------------------------------------ the treatment


async def test_the_treatment_repeats_until_the_exit_digit_asks_for_a_callback(
    anyio_backend: str, inbound: Flow
) -> None:
    clock = ManualClock(0.0)
    async with service_for(clock=clock) as service:
        await centre(service)
        await service.submit(Contact("ahead", "voice", "billing"))
        caller = Caller()
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        await live.input("1")
        await live.input("1")
        assert len(caller.said("announcement")) == 1
        clock.advance(59)
        await service.flows.tick()
        assert len(caller.said("announcement")) == 1
        await service.abandon("ahead")
        clock.advance(1)
        await service.flows.tick()
        said = caller.said("announcement")
        assert [s.split(".")[0] for s in said] == [
            "You are number 2 in line",
            "You are number 1 in line",
        ]
        assert await live.input("5") is None  # not the exit: ignored
        assert await live.input("9") is None
        assert caller.outputs[-1] == FlowOutput(contact_id="c1", kind="exit", outcome="callback")
        assert service.router.contact("c1").channel == "callback"
        clock.advance(600)
        await service.flows.tick()
        assert len(caller.said("announcement")) == 2  # no more once it left the line
        assert service.flows.sessions == {}


async def test_the_treatment_stops_once_an_agent_answers(anyio_backend: str, inbound: Flow) -> None:
    clock = ManualClock(0.0)
    async with service_for(clock=clock) as service:
        await centre(service)
        caller = Caller()
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        await live.input("1")
        await live.input("1")
        await service.add_agent(
            Agent("ann", skills={"english": 5, "billing": 5}, queues=QUEUES), Presence.AVAILABLE
        )
        await service.accept("c1", "ann")
        clock.advance(60)
        await service.flows.tick()
        assert len(caller.said("announcement")) == 1
        assert live.running is False
        # Hanging up after the answer is the agent's business, not an abandon.
        await live.hangup()
        assert service.router.contact("c1").state is ContactState.IN_SERVICE


async def test_hanging_up_while_queued_abandons_the_contact(
    anyio_backend: str, inbound: Flow
) -> None:
    async with service_for() as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), Caller())
        await live.input("1")
        await live.input("1")
        await live.hangup()
        with pytest.raises(UnknownIdError):
            service.router.contact("c1")
        assert service.metrics.report(service.router.now).total.abandoned == 1


# ------------------------------------------------------ stopping, misuse


async def test_a_session_live_at_stop_ends_in_the_fallback_and_survives_a_restart(
    anyio_backend: str, inbound: Flow
) -> None:
    store = MemoryStorage()
    caller = Caller()
    async with service_for(storage=store) as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), caller)
        await live.input("1")
    assert caller.kinds()[-2:] == ["message", "ended"]
    assert caller.outputs[-1].outcome == "fallback"
    async with service_for(storage=store) as again:
        view = again.router.contact("c1")
        assert (view.queue, view.state) == ("general", ContactState.WAITING)
        assert view.attributes["ivr"]["fallback"] == "service stopping"
        assert view.attributes["language"] == "en"
        assert again.flows.sessions == {}  # nothing to resume: it was routed
    with pytest.raises(ServiceError):
        await service.flows.start(inbound, Contact("c2", "voice", "general"))


async def test_a_flow_refuses_what_it_cannot_run(anyio_backend: str, inbound: Flow) -> None:
    async with service_for() as service:
        with pytest.raises(UnknownIdError, match="general"):
            await service.flows.start(inbound, Contact("c1", "voice", "general"))
        await centre(service)
        await service.submit(Contact("known", "voice", "general"))
        with pytest.raises(InvalidStateError, match="known"):
            await service.flows.start(inbound, Contact("known", "voice", "general"))
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"))
        with pytest.raises(InvalidStateError, match="c1"):
            await service.flows.start(inbound, Contact("c1", "voice", "general"))
        with pytest.raises(InvalidValueError):
            await service.flows.start("inbound", Contact("c2", "voice", "general"))  # type: ignore[arg-type]
        with pytest.raises(InvalidValueError):
            await live.input(1)  # type: ignore[arg-type]
        with pytest.raises(InvalidValueError, match="'other'"):
            await service.inbound(
                Contact("c3", "voice", "general"), flow=FlowFinished(0.0, "other", "x", "routed")
            )
        assert list(service.flows.sessions) == ["c1"]


async def test_a_failing_send_is_counted_and_the_session_goes_on(
    anyio_backend: str, inbound: Flow
) -> None:
    def send(output: FlowOutput) -> None:
        raise RuntimeError("the line dropped")

    async with service_for() as service:
        await centre(service)
        live = await service.flows.start(inbound, Contact("c1", "voice", "general"), send)
        await live.input("1")
        await live.input("1")
        assert (await live.wait()).outcome == "routed"
        assert service.flows.send_failures == 5  # 2 prompts, a message, the end, an announcement


class _SendersOwn(BaseException):
    """A BaseException of the adapter's own."""


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit, _SendersOwn])
@pytest.mark.parametrize("style", ["plain", "async"])
async def test_a_send_raising_a_base_exception_is_counted_too(
    anyio_backend: str, inbound: Flow, exc: type[BaseException], style: str
) -> None:
    def plain(output: FlowOutput) -> None:
        raise exc("the line dropped")

    async def asynchronous(output: FlowOutput) -> None:
        raise exc("the line dropped")

    send = plain if style == "plain" else asynchronous
    with anyio.fail_after(5):
        async with service_for() as service:
            await centre(service)
            live = await service.flows.start(inbound, Contact("c1", "voice", "general"), send)
            await live.input("1")
            await live.input("1")
            assert (await live.wait()).outcome == "routed"
            assert service.flows.send_failures == 5
            assert service.running


async def test_a_decision_the_router_refuses_goes_to_the_fallback(anyio_backend: str) -> None:
    flow = make_flow({"out": {"kind": "transfer", "queue": "nowhere"}})
    async with service_for() as service:
        await centre(service)
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), Caller())
        result = await live.wait()
        assert result.outcome == "fallback"
        view = service.router.contact("c1")
        assert view.queue == "general"
        assert "nowhere" in view.attributes["ivr"]["fallback"]
        assert [f.outcome for f in notes(service, FlowFinished)] == ["fallback"]


async def test_a_message_exit_tells_the_adapter_and_leaves_the_contact_in_line(
    anyio_backend: str,
) -> None:
    flow = make_flow(
        {
            "treat": {
                "kind": "announce",
                "message": "You are number {position}. Press 8 to leave a message.",
                "period": 30,
                "exit_digit": "8",
                "exit": "message",
                "next": "out",
            },
            "out": {"kind": "transfer", "queue": "billing"},
        }
    )
    async with service_for() as service:
        await centre(service)
        caller = Caller()
        live = await service.flows.start(flow, Contact("c1", "voice", "general"), caller)
        assert caller.said("announcement") == ["You are number 1. Press 8 to leave a message."]
        await live.input("8")
        assert caller.outputs[-1] == FlowOutput(contact_id="c1", kind="exit", outcome="message")
        view = service.router.contact("c1")
        assert (view.channel, view.state) == ("voice", ContactState.WAITING)
        with pytest.raises(InvalidStateError):
            await live.input("8")  # the treatment is over


async def test_resolve_and_inbound_refuse_bad_notes_and_profiles(anyio_backend: str) -> None:
    async with service_for() as service:
        await centre(service)
        contact = Contact("c1", "voice", "general", customer_id="cust")
        with pytest.raises(InvalidValueError):
            await service.resolve(contact, "self-service")  # type: ignore[arg-type]
        with pytest.raises(InvalidValueError, match="'c2'"):
            await service.resolve(contact, FlowFinished(0.0, "c2", "f", "self-service"))
        with pytest.raises(InvalidValueError, match="profile"):
            await service.inbound(contact, profile={"tier": object()})
        assert not notes(service, FlowFinished)  # refused: nothing logged
        events = await service.inbound(
            contact, flow=FlowFinished(0.0, "c1", "f", "routed"), profile={"tier": "gold"}
        )
        assert [type(e).__name__ for e in events][:2] == ["FlowFinished", "CustomerEnriched"]


# ------------------------------------------------- the two hooks' wrappers


async def hooks_of(*plugins: object, timeout: float = 1.0) -> Any:
    from ccroute.plugins import Hooks, make_plugin_manager

    return Hooks(make_plugin_manager(plugins, load_entrypoints=False), timeout=timeout)


async def test_self_service_arguments_are_read_only_and_results_checked(
    anyio_backend: str,
) -> None:
    class Meddler:
        @hookimpl
        def ccroute_self_service(self, arguments: Any) -> Any:
            arguments["account"] = "changed"
            return {"resolved": True}

    class Junk:
        @hookimpl
        def ccroute_self_service(self) -> Any:
            return {"when": object()}

    class Good:
        def __init__(self) -> None:
            self.seen: list[dict[str, Any]] = []

        @hookimpl
        def ccroute_self_service(self, arguments: Mapping[str, Any]) -> Any:
            self.seen.append(dict(arguments))
            return {"balance": 1.0}

    good = Good()
    # Asked last registered first: the meddler, then the junk, then the good one.
    hooks = await hooks_of(good, Junk(), Meddler())
    contact = Contact("c1", "voice", "general")
    result = await hooks.self_service("balance", {"account": CARD}, contact)
    assert result == {"balance": 1.0}
    assert good.seen == [{"account": CARD}]
    assert {(k[0], k[2]) for k in hooks.failures} == {
        ("ccroute_self_service", "raised"),
        ("ccroute_self_service", "junk"),
    }
    assert await (await hooks_of()).self_service("balance", {}, contact) is None


async def test_an_actions_own_timeout_shortens_the_hook_timeout(anyio_backend: str) -> None:
    class Slow:
        @hookimpl
        async def ccroute_self_service(self) -> Any:
            await anyio.sleep(0.5)
            return {"resolved": True}

    hooks = await hooks_of(Slow(), timeout=5.0)
    contact = Contact("c1", "voice", "general")
    with anyio.fail_after(2):
        assert await hooks.self_service("x", {}, contact, timeout=0.05) is None
    assert [k[2] for k in hooks.failures] == ["timeout"]
    assert await hooks.self_service("x", {}, contact, timeout=60) == {"resolved": True}


async def test_a_hanging_action_holds_up_only_its_own_session(
    anyio_backend: str, inbound: Flow
) -> None:
    async with service_for(Hanging(), hook_timeout=2.0) as service:
        await centre(service)
        slow = await service.flows.start(inbound, Contact("slow", "voice", "general"), Caller())
        await slow.input("1")
        await slow.input("2")
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow.input, CARD)  # its action hangs for the hook timeout
            await anyio.sleep(0.05)
            with anyio.fail_after(1.0):
                quick = await service.flows.start(
                    inbound, Contact("quick", "voice", "general"), Caller()
                )
                await quick.input("1")
                await quick.input("1")
                assert (await quick.wait()).outcome == "routed"
            assert slow.result is None  # still waiting for its action
        assert slow.result is not None and slow.result.step.contact.queue == "billing"
