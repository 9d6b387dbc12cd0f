"""Masking through the service, on asyncio and trio, with SQLite storage: a card
number and an SSN in a contact's attributes (nested too) and a CRM profile
with sensitive fields reach neither the database file (WAL included), nor the
service's log output, nor any hook's arguments; a replayed log gives the same
masked state; masking switched off keeps the raw values.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest

from ccroute import (
    Agent,
    CCRouteError,
    Contact,
    CustomerEnriched,
    CustomerUpdate,
    Event,
    HistoryRecord,
    InvalidValueError,
    Masking,
    MemoryStorage,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    hookimpl,
)
from ccroute.storage import LogRecord
from ccroute.testing import snapshot

pytestmark = pytest.mark.anyio

CARD_SPACED = "4111 1111 1111 1111"
NESTED_CARD = "5500-0000-0000-0004"
SSN = "219-09-9999"
PROFILE_CARD = "6011111111111117"
UPDATE_CARD = "378282246310005"
PASSWORD = "hunter2-Zebra"
MAIDEN = "Quetzalcoatl-Vance"
# Each raw value, and enough of it that a partly masked copy would show.
RAW = (
    CARD_SPACED,
    "4111111111111111",
    "4111 1111 1111",
    NESTED_CARD,
    "5500-0000-0000",
    SSN,
    "219-09",
    PROFILE_CARD,
    "601111111111",
    UPDATE_CARD,
    "37828224631",
    PASSWORD,
    "hunter2",
    MAIDEN,
    "Quetzalcoatl",
)

ATTRIBUTES = {
    "language": "en",
    "card": CARD_SPACED,
    "ssn": SSN,
    "payment": {"cards": [NESTED_CARD], "note": f"customer ssn {SSN}"},
}
PROFILE = {
    "tier": "gold",
    "password": PASSWORD,
    "mothers_maiden_name": MAIDEN,
    "wallet": [{"card": PROFILE_CARD}],
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def dump(value: Any) -> str:
    """Everything a value holds, as text: attrs fields (those left out of the
    repr too), mappings, sequences and scalars."""
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return "{" + ",".join(f"{f.name}={dump(getattr(value, f.name))}" for f in fields) + "}"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{dump(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ",".join(dump(item) for item in value) + "]"
    return repr(value)


def assert_no_raw(text: str, where: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{raw!r} in {where}"


class Recorder:
    """A plugin on every hook that is handed contact data; it records every argument."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def arguments(self, hook: str) -> list[Any]:
        return [args for name, args in self.calls if name == hook]

    @hookimpl
    def ccroute_ivr_flow(self, contact: Contact) -> Any:
        self.calls.append(("ivr_flow", (contact,)))
        return None

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        self.calls.append(("crm_lookup", (customer_id,)))
        if customer_id == "junk":
            # not JSON (a set): the service logs the junk, card number and all
            return {"card": CARD_SPACED, "tags": {1, 2}}
        if customer_id == "boom":
            raise ValueError(f"the CRM failed on card {CARD_SPACED} and ssn {SSN}")
        return dict(PROFILE)

    @hookimpl
    def ccroute_crm_enrich(self, contact: Contact, profile: Mapping[str, Any]) -> Contact | None:
        self.calls.append(("crm_enrich", (contact, profile)))
        return None

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.calls.append(("deliver_offer", (delivery,)))
        return True

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.calls.append(("customer_update", (update,)))

    @hookimpl
    async def ccroute_crm_record(self, record: HistoryRecord) -> None:
        self.calls.append(("crm_record", (record,)))

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> None:
        self.calls.append(("events", (list(events),)))


def database_bytes(path: Path) -> bytes:
    """The database file and its WAL and shared-memory files, if any."""
    files = sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert path in files
    return b"".join(p.read_bytes() for p in files)


async def run_centre(service: Service) -> None:
    await service.add_queues([QueueConfig("support", wrap_up=0), QueueConfig("later")])
    await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
    await service.inbound(
        Contact("c1", "voice", "support", customer_id="vip", attributes=ATTRIBUTES)
    )
    await service.submit(Contact("c2", "chat", "later", attributes={"wallet": [PROFILE_CARD]}))
    await service.update_contact("c2", attributes={"billing": [f"paid with {UPDATE_CARD}"]})
    await service.inbound(Contact("c3", "chat", "later", customer_id="junk", attributes=ATTRIBUTES))
    await service.inbound(Contact("c4", "chat", "later", customer_id="boom", attributes=ATTRIBUTES))
    await service.accept("c1", "alice")
    await service.complete("c1")
    await service.abandon("c3")
    await service.drain()


async def test_raw_values_reach_no_file_log_or_hook(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "centre.db"
    recorder = Recorder()
    async with Service(
        path=path,
        plugins=[recorder],
        load_entrypoints=False,
        settings={"masking": {"fields": ["mothers_maiden_name"]}},
    ) as service:
        await run_centre(service)
        before = snapshot(service.router)
        # what the agent's side was shown: masked, with what a person needs
        (delivery,) = recorder.arguments("deliver_offer")[0]
        assert delivery.contact.attributes == {
            "language": "en",
            "card": "**** **** **** 1111",
            "ssn": "***********",
            "payment": {"cards": ["****-****-****-0004"], "note": "customer ssn ***-**-9999"},
        }
        assert delivery.profile == {
            "tier": "gold",
            "password": "*" * len(PASSWORD),
            "mothers_maiden_name": "*" * len(MAIDEN),
            "wallet": [{"card": "************1117"}],
        }
        assert service.router.contact("c2").attributes == {"billing": ["paid with ***********0005"]}
        enriched = [
            e
            for (batch,) in recorder.arguments("events")
            for e in batch
            if isinstance(e, CustomerEnriched)
        ]
        assert enriched[0].profile == delivery.profile
    # every hook that takes contact data was called, and saw no raw value
    assert {name for name, _ in recorder.calls} == {
        "ivr_flow",
        "crm_lookup",
        "crm_enrich",
        "deliver_offer",
        "customer_update",
        "crm_record",
        "events",
    }
    assert [r.contact_id for (r,) in recorder.arguments("crm_record")] == ["c1", "c3"]
    for name, args in recorder.calls:
        assert_no_raw(dump(args), f"the arguments of {name}")
    # the log lines were written, masked
    assert "returned junk" in caplog.text and "ValueError" in caplog.text
    assert "**** **** **** 1111" in caplog.text
    assert_no_raw(caplog.text, "the log output")
    # the database, WAL included
    data = database_bytes(path)
    assert b"**** **** **** 1111" in data
    assert_no_raw(data.decode("latin-1"), "the SQLite files")
    # the log holds masked values; replaying it gives the same masked state
    async with Service(path=path, load_entrypoints=False) as again:
        assert snapshot(again.router) == {**before, "now": again.router.now}
        assert again.router.contact("c4").attributes["card"] == "**** **** **** 1111"


async def test_masking_switched_off_keeps_raw_values(anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    recorder = Recorder()
    async with Service(
        path=path, plugins=[recorder], load_entrypoints=False, masking=Masking(enabled=False)
    ) as service:
        await service.add_queue(QueueConfig("support", wrap_up=0))
        await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
        await service.inbound(
            Contact("c1", "voice", "support", customer_id="vip", attributes=ATTRIBUTES)
        )
        await service.drain()
        (delivery,) = recorder.arguments("deliver_offer")[0]
        assert delivery.contact.attributes == ATTRIBUTES
        assert delivery.profile == PROFILE
    data = database_bytes(path)
    assert CARD_SPACED.encode() in data and PASSWORD.encode() in data


async def test_masking_is_configured_once(anyio_backend: str) -> None:
    with pytest.raises(InvalidValueError, match="either as an argument or in settings"):
        Service(masking=Masking(), settings={"masking": {"enabled": False}})
    with pytest.raises(InvalidValueError, match=r"settings\['masking'\] must be a Masking"):
        Service(settings={"masking": True})
    with pytest.raises(InvalidValueError, match="masking settings: unknown key 'feilds'"):
        Service(settings={"masking": {"feilds": ["x"]}})


class Tape(MemoryStorage):
    """A memory store that also keeps every record appended, for a log without snapshot."""

    def __init__(self) -> None:
        super().__init__()
        self.tape: list[LogRecord] = []

    def append(self, records: Sequence[LogRecord]) -> None:
        super().append(records)
        self.tape.extend(records)


async def test_a_log_written_without_masking_is_masked_as_it_is_read(anyio_backend: str) -> None:
    old = Tape()
    async with Service(
        storage=old, plugins=[Recorder()], load_entrypoints=False, masking=Masking(enabled=False)
    ) as service:
        await service.add_queue(QueueConfig("support"))
        await service.add_agent(Agent("alice", queues=("support",)), Presence.AVAILABLE)
        # offered to alice, and still open when the service stops
        await service.inbound(
            Contact("c1", "voice", "support", customer_id="vip", attributes=ATTRIBUTES)
        )
    assert any(CARD_SPACED in dump(record) for record in old.tape)
    replayed = MemoryStorage()
    replayed.append(old.tape)
    # from the records alone (replay), and from the snapshot the stop took (restore)
    for storage in (replayed, old):
        recorder = Recorder()
        async with Service(
            storage=storage,
            plugins=[recorder],
            load_entrypoints=False,
            settings={"masking": {"fields": ["mothers_maiden_name"]}},
        ) as again:
            # the open offer is delivered again, masked, with the profile masked
            (delivery,) = recorder.arguments("deliver_offer")[0]
            assert delivery.contact.attributes["card"] == "**** **** **** 1111"
            assert delivery.profile["password"] == "*" * len(PASSWORD)
            assert_no_raw(dump(again.router.contact("c1")), "the router's view")
            await again.abandon("c1")
            await again.drain()
        for name, args in recorder.calls:
            assert_no_raw(dump(args), f"the arguments of {name}")
        assert recorder.arguments("crm_record")


class Counting(Masking):
    """The default rules, counting the contacts they are asked to mask."""

    calls: list[str] = []  # noqa: RUF012 (a class-level tally: Masking has slots)

    def contact(self, contact: Contact) -> Contact:
        Counting.calls.append(contact.id)
        return super().contact(contact)


async def test_a_service_submit_is_masked_once_and_the_router_still_masks_what_it_is_given(
    anyio_backend: str,
) -> None:
    rules = Counting()
    Counting.calls.clear()
    attributes = {"card": CARD_SPACED, "note": f"ssn {SSN}", "topic": "billing"}
    async with Service(storage=MemoryStorage(), load_entrypoints=False, masking=rules) as service:
        await service.add_queue(QueueConfig("q"))
        # The live router itself (service.router is read-only): this test of
        # its internals calls it directly, behind the log, as nothing else may.
        router = service._live
        await service.submit(Contact("s1", "chat", "q", attributes=attributes))
        await service.schedule_callback(
            Contact("s2", "callback", "q", attributes=attributes), service.now + 600
        )
        # The service masked each contact before logging it; the router took
        # that very object and did not mask it again.
        assert Counting.calls == ["s1", "s2"]
        for contact_id in ("s1", "s2"):
            held = dict(router.contact(contact_id).attributes)
            assert held["card"] == "**** **** **** 1111" and held["note"] == "ssn ***-**-9999"
        # A refused submit (a duplicate id) vouched for nothing that outlives it.
        Counting.calls.clear()
        with pytest.raises(CCRouteError):
            await service.submit(Contact("s1", "chat", "q", attributes=attributes))
        # Nothing vouched for outlives its call: the router masks a raw
        # contact given to it directly, and under other rules than its own.
        router.submit(Contact("d1", "chat", "q", attributes=attributes))
        assert Counting.calls == ["s1", "d1"]
        assert dict(router.contact("d1").attributes)["card"] == "**** **** **** 1111"
        raw = Contact("d2", "chat", "q", attributes=attributes)
        assert router._vouch(raw, Masking(ssns=False)) is False  # not the router's rules
        router.submit(raw)
        assert dict(router.contact("d2").attributes)["note"] == "ssn ***-**-9999"
        # The same object vouched for by the router's own rules is taken as it is:
        # only the service does this, with the contact it has just masked.
        assert router._vouch(rules.contact(raw), rules) is True
        router._unvouch()
        router.submit(attrs.evolve(raw, id="d3"))
        assert dict(router.contact("d3").attributes)["card"] == "**** **** **** 1111"
