"""Callers in a flow survive a service that stops without ending them, on asyncio and trio.

A flow run live logs where its caller would go (``FlowStarted``, then
``FlowAdvanced`` as the caller moves on) before each prompt is said. A
service that stops without routing them (a halt here; a SIGKILL in
tests/test_ivr_crash.py) routes every such caller at its next start: to the
flow's fallback queue, with what the flow had set and collected (sensitive
answers masked) and ``ivr.fallback`` ``"recovered"``, logged with a
``FlowFinished`` note, once (a later restart routes none again), from a
snapshot and from the log alone.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from ivr_helpers import make_flow

from ccroute import (
    Contact,
    CustomerUpdate,
    FlowAdvanced,
    FlowFinished,
    FlowStarted,
    InvalidValueError,
    MemoryStorage,
    QueueConfig,
    Service,
    StorageError,
    codec,
    hookimpl,
)
from ccroute.ivr import Flow, Prompt
from ccroute.ivr.live import RECOVERED, FlowOutput
from ccroute.lifecycle import ContactState
from ccroute.storage import LogRecord

pytestmark = pytest.mark.anyio

CARD = "4111111111111111"


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def flow() -> Flow:
    """Language, then a sensitive account number, then a topic menu that waits."""
    return make_flow(
        {
            "lang": {
                "kind": "menu",
                "prompt": "1 for English",
                "options": [{"digit": "1", "next": "english"}],
            },
            "english": {
                "kind": "set",
                "requirements": {"english": 2},
                "priority_seconds": 30,
                "attributes": {"language": "en"},
                "next": "account",
            },
            "account": {
                "kind": "collect",
                "prompt": "Your card number?",
                "field": "account",
                "sensitive": True,
                "validators": [{"kind": "luhn"}],
                "next": "topic",
            },
            "topic": {
                "kind": "menu",
                "prompt": "1 for billing",
                "options": [{"digit": "1", "next": "billing"}],
            },
            "billing": {"kind": "transfer", "queue": "billing"},
        },
        name="recovery",
        time_limit=3600,
        input_timeout=600,
        fallback={"queue": "general", "requirements": {"english": 1}},
    )


class Desk:
    """The customer side and a CRM that knows every customer."""

    def __init__(self) -> None:
        self.updates: list[CustomerUpdate] = []
        self.lookups: list[str] = []

    @hookimpl
    def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        self.updates.append(update)

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        self.lookups.append(customer_id)
        return {"tier": "gold"}


def notes(path: Path) -> list[Any]:
    """Every flow note of the log, in order (read with SQL: a service may hold the log)."""
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            "SELECT seq, at, command, contact_id, agent_id, queue, version, crc, body"
            " FROM log ORDER BY seq"
        ).fetchall()
    kinds = (FlowStarted, FlowAdvanced, FlowFinished)
    return [e for row in rows for e in codec.decode_row(row).events if isinstance(e, kinds)]


async def test_callers_left_in_a_flow_are_routed_to_its_fallback_at_the_next_start(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "centre.db"
    outputs: list[FlowOutput] = []
    service = Service(path=path, load_entrypoints=False, sync="OFF", plugins=[Desk()])
    await service.start()
    try:
        await service.add_queues([QueueConfig(q) for q in ("general", "billing")])
        # c1 has given its card and waits in the topic menu; c2 has only started;
        # c3 has finished its flow (routed to billing) and is not a flow's any more.
        one = await service.flows.start(
            flow(), Contact("c1", "voice", "general", customer_id="k1"), outputs.append
        )
        await one.input("1")
        step = await one.input(CARD)
        assert isinstance(step, Prompt) and step.node == "topic"
        await service.flows.start(
            flow(), Contact("c2", "chat", "general", attributes={"card": CARD})
        )
        three = await service.flows.start(flow(), Contact("c3", "voice", "general"))
        for answer in ("1", CARD, "1"):
            await three.input(answer)
        assert service.router.contact("c3").queue == "billing"
        logged = notes(path)
        assert [(type(n).__name__, n.contact_id) for n in logged] == [
            ("FlowStarted", "c1"),
            ("FlowAdvanced", "c1"),  # language chosen: asked for the card
            ("FlowAdvanced", "c1"),  # card given: the topic menu
            ("FlowStarted", "c2"),
            ("FlowStarted", "c3"),
            ("FlowAdvanced", "c3"),
            ("FlowAdvanced", "c3"),
            ("FlowFinished", "c3"),
        ]
    finally:
        # Stopped without ending the sessions, as after a crash.
        await service.halt()
    assert "c1" not in {c for c in service.router.contact_ids}

    for replay_all in (False, True):
        if replay_all:
            with closing(sqlite3.connect(path)) as db, db:
                db.execute("DELETE FROM snapshots")
        desk = Desk()
        async with Service(path=path, load_entrypoints=False, sync="OFF", plugins=[desk]) as again:
            if not replay_all:
                assert again.flows.recovered == {"c1": "fallback", "c2": "fallback"}
                assert sorted(desk.lookups) == ["k1"]  # the CRM was asked, as for any caller
            else:
                assert again.flows.recovered == {}  # routed once only
            router = again.router
            assert sorted(router.contact_ids) == ["c1", "c2", "c3"]
            view = router.contact("c1")
            assert (view.state, view.queue, view.channel) == (
                ContactState.WAITING,
                "general",
                "voice",
            )
            assert dict(view.requirements) == {"english": 1}  # the fallback's
            assert view.key[1] == view.entered_at - 30  # the priority the flow set is kept
            ivr = dict(view.attributes["ivr"])
            assert ivr["fallback"] == RECOVERED
            assert ivr["answers"] == {"account": "************1111"}
            assert ivr["path"] == ["lang", "english", "account", "topic"]
            assert view.attributes["language"] == "en"
            second = router.contact("c2")
            assert second.queue == "general" and second.channel == "chat"
            assert dict(second.attributes)["card"] == "************1111"
            assert dict(second.attributes["ivr"])["path"] == ["lang"]
            assert router.contact("c3").queue == "billing"
            await again.drain()
            if not replay_all:
                queued = {u.contact_id for u in desk.updates if u.kind == "queued"}
                assert queued == {"c1", "c2"}
    finished = [n for n in notes(path) if isinstance(n, FlowFinished)]
    assert sorted((n.contact_id, n.outcome) for n in finished) == [
        ("c1", "fallback"),
        ("c2", "fallback"),
        ("c3", "routed"),
    ]
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("centre.db"))
    assert CARD.encode() not in data
    assert b"************1111" in data
    # No raw card reached an adapter or the log output either.
    assert not [o for o in outputs if CARD in repr(o)]
    assert CARD not in caplog.text
    assert "were in a flow when the service last stopped" in caplog.text


async def test_a_clean_stop_leaves_nothing_to_recover(anyio_backend: str, tmp_path: Path) -> None:
    path = tmp_path / "centre.db"
    async with Service(path=path, load_entrypoints=False, sync="OFF") as service:
        await service.add_queues([QueueConfig(q) for q in ("general", "billing")])
        live = await service.flows.start(flow(), Contact("c1", "voice", "general"))
        await live.input("1")
    async with Service(path=path, load_entrypoints=False, sync="OFF") as again:
        assert again.flows.recovered == {}
        ivr = dict(again.router.contact("c1").attributes["ivr"])
        assert ivr["fallback"] == "service stopping"
    assert [type(n).__name__ for n in notes(path)] == [
        "FlowStarted",
        "FlowAdvanced",
        "FlowFinished",
    ]


async def test_a_recovered_caller_whose_id_was_taken_is_logged_lost(
    anyio_backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "centre.db"
    service = Service(path=path, load_entrypoints=False, sync="OFF")
    await service.start()
    try:
        await service.add_queues([QueueConfig(q) for q in ("general", "billing")])
        await service.flows.start(flow(), Contact("c1", "voice", "general"))
        # The same id reached the router another way while its caller was in the flow.
        await service.submit(Contact("c1", "email", "billing"))
    finally:
        await service.halt()
    async with Service(path=path, load_entrypoints=False, sync="OFF") as again:
        assert again.flows.recovered == {"c1": "lost"}
        assert again.router.contact("c1").channel == "email"  # the other contact, untouched
    assert "could not be routed after the restart" in caplog.text
    async with Service(path=path, load_entrypoints=False, sync="OFF") as third:
        assert third.flows.recovered == {}
    assert [(type(n).__name__, getattr(n, "outcome", None)) for n in notes(path)] == [
        ("FlowStarted", None),
        ("FlowFinished", "lost"),
    ]


async def test_junk_progress_notes_are_refused_and_log_nothing(
    anyio_backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.db"
    async with Service(path=path, load_entrypoints=False, sync="OFF") as service:
        await service.add_queue(QueueConfig("general"))
        before = service.durable_seq
        contact = Contact("c1", "voice", "general")
        for junk, words in (
            ("a note", "note_flow takes FlowStarted"),
            (FlowStarted(0.0, "c1", "f", "c1"), "contact must be a Contact, got str"),  # type: ignore[arg-type]
            (FlowStarted(0.0, "c2", "f", contact), "holds the contact 'c1'"),
            (FlowStarted(0.0, "", "f", contact), "contact_id must be a non-empty string"),
            (FlowStarted(0.0, "c1", 7, contact), "flow must be a non-empty string"),  # type: ignore[arg-type]
            (FlowAdvanced(0.0, "c1", "", contact), "node must be a non-empty string"),
            (FlowFinished(0.0, "c1", 3, "fallback"), "flow must be a str"),  # type: ignore[arg-type]
        ):
            with pytest.raises(InvalidValueError, match=words):
                await service.note_flow(junk)  # type: ignore[arg-type]
        with pytest.raises(InvalidValueError, match="recover takes a list of FlowStarted"):
            await service.flows.recover([FlowFinished(0.0, "c1", "f", "x")])  # type: ignore[list-item]
        await service.flush()
        assert service.durable_seq == before
        assert service.router.contact_ids == []
        # A good note is logged masked, whatever the caller gave.
        raw = Contact("c1", "voice", "general", attributes={"card": CARD})
        (logged,) = await service.note_flow(FlowStarted(0.0, "c1", "f", raw))
        assert isinstance(logged, FlowStarted)
        assert dict(logged.contact.attributes)["card"] == "************1111"
        assert logged.at > 0.0  # stamped with the time it was logged at, not the one given


class Failing(MemoryStorage):
    """A memory store whose appends fail while ``broken``."""

    broken = False

    def append(self, records: Sequence[LogRecord]) -> None:
        if self.broken:
            raise OSError("disk full")
        super().append(records)


async def test_a_store_failing_during_recovery_fails_the_start_and_loses_nobody(
    anyio_backend: str,
) -> None:
    store = Failing()
    service = Service(storage=store, load_entrypoints=False)
    await service.start()
    try:
        await service.add_queues([QueueConfig(q) for q in ("general", "billing")])
        await service.flows.start(flow(), Contact("c1", "voice", "general"))
    finally:
        await service.halt()
    store.broken = True
    with pytest.raises(StorageError, match="disk full"):
        async with Service(storage=store, load_entrypoints=False):
            pass  # pragma: no cover (the start fails)
    store.broken = False
    async with Service(storage=store, load_entrypoints=False) as again:
        assert again.flows.recovered == {"c1": "fallback"}
        assert again.router.contact("c1").queue == "general"
