"""A card number collected by a sensitive collect node, run live in the service,
reaches only the self-service action's hook arguments: it is nowhere in the
SQLite database (WAL included), the log output, the adapter's outputs or any
other hook's arguments, on asyncio and trio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ccroute import (
    Agent,
    Contact,
    CustomerUpdate,
    Event,
    HistoryRecord,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    hookimpl,
)
from ccroute.ivr import IntentPrediction, RoutingDecision, load_flow
from ccroute.ivr.live import FlowOutput

pytestmark = pytest.mark.anyio

INBOUND = Path(__file__).parent.parent / "examples" / "flows" / "inbound.toml"
CARD = "4111111111111111"
BAD = "4111111111111112"  # fails the Luhn check: asked again
SECRETS = (CARD, BAD)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Recorder:
    """Every other hook a card number could leak into, recorded as text."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def note(self, hook: str, *values: object) -> None:
        self.seen.append(f"{hook}: {values!r}")

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.note("deliver_offer", delivery, dict(delivery.contact.attributes))
        return True

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.note("customer_update", update)

    @hookimpl
    def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.note("crm_record", record)

    @hookimpl
    def ccroute_events(self, events: Sequence[Event]) -> None:
        self.note("events", events)

    @hookimpl
    def ccroute_predict_intent(
        self, text: str, intents: Sequence[str], contact: Contact
    ) -> IntentPrediction | None:
        self.note("predict_intent", text, intents, contact)
        return None

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        self.note("crm_lookup", customer_id)
        return {"tier": "silver"}

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
        self.note("crm_enrich", contact, profile)
        return None


class Balance:
    """The one hook that needs the number."""

    def __init__(self) -> None:
        self.arguments: list[dict[str, Any]] = []

    @hookimpl
    def ccroute_self_service(self, action: str, arguments: Mapping[str, Any]) -> Mapping[str, Any]:
        self.arguments.append(dict(arguments))
        return {"overdue": True, "balance": 310.0, "message": "Your account is overdue."}


async def test_a_card_number_reaches_only_the_self_service_hook(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder, balance = Recorder(), Balance()
    outputs: list[FlowOutput] = []
    path = tmp_path / "centre.db"
    with INBOUND.open("rb") as file:
        flow = load_flow(file)
    async with Service(
        path=path, plugins=[recorder, balance], load_entrypoints=False, sync="OFF"
    ) as service:
        await service.add_queues(
            [QueueConfig(q, wrap_up=0) for q in ("general", "billing", "technical", "retention")]
        )
        await service.add_agent(
            Agent("ann", skills={"english": 5, "billing": 5}, queues=("billing",)),
            Presence.AVAILABLE,
        )
        live = await service.flows.start(
            flow, Contact("c1", "voice", "general", customer_id="cust"), outputs.append
        )
        await live.input("1")
        await live.input("I would like my balance")
        retry = await live.input(BAD)
        assert retry is not None and "not valid" in getattr(retry, "text", "")
        step = await live.input(CARD)
        # overdue: an agent helps, in billing
        assert isinstance(step, RoutingDecision) and step.contact.queue == "billing"
        assert balance.arguments == [{"account": CARD, "customer": "cust"}]
        result = await live.wait()
        await service.drain()  # the offer reaches the agent's side
        await service.accept("c1", "ann")
        await service.complete("c1")
        await service.drain()
        seen_repr = repr((live, result, service.flows.sessions))
    # The hooks were called: the test would see a leak.
    hooks = {line.split(":")[0] for line in recorder.seen}
    assert hooks >= {
        "deliver_offer",
        "customer_update",
        "crm_record",
        "events",
        "predict_intent",
        "crm_lookup",
        "crm_enrich",
    }
    # the masked number did reach the offer, the history and the store
    assert any(
        "************1111" in line for line in recorder.seen if line.startswith("crm_record")
    )
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("centre.db"))
    assert b"************1111" in data
    for secret in SECRETS:
        assert secret.encode() not in data
        assert secret not in caplog.text
        assert not [line for line in recorder.seen if secret in line]
        assert not [o for o in outputs if secret in repr(o)]
        assert secret not in seen_repr
