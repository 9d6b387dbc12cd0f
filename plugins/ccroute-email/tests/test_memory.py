"""Settings, the thread map and the offer inbox."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from ccroute import AgentStatus, AgentView, ContactState, ContactView, Offered, Presence
from ccroute.hooktypes import OfferDelivery

from ccroute_email import (
    MIB,
    EmailChannel,
    EmailError,
    EmailSettings,
    MailRecord,
    OfferInbox,
    ThreadMap,
)

# ----------------------------------------------------------------- settings


def test_defaults() -> None:
    s = EmailSettings()
    assert (s.host, s.port) == ("127.0.0.1", 8025)
    assert (s.relay_host, s.relay_port) == ("127.0.0.1", 25)
    assert s.queue == "email"
    assert dict(s.requirements) == {}
    assert s.max_message_size == 10 * MIB
    assert s.preferred_wait == 3600
    assert s.auto_acknowledge is False


def test_later_layers_override() -> None:
    s = EmailSettings.from_mapping({"port": 0, "queue": "a"}, {"queue": "b"})
    assert (s.port, s.queue) == (0, "b")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prot": 25}, "unknown email setting"),
        ({"port": 70000}, "port"),
        ({"port": "25"}, "port"),
        ({"from_address": "nobody"}, "from_address"),
        ({"requirements": {"billing": 11}}, "billing"),
        ({"requirements": ["billing"]}, "requirements"),
        ({"max_message_size": 0}, "max_message_size"),
        ({"preferred_wait": -1}, "preferred_wait"),
        ({"queue": ""}, "queue"),
        ({"auto_acknowledge": "yes"}, "auto_acknowledge"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(EmailError, match=message):
        EmailSettings.from_mapping(settings)
    with pytest.raises(EmailError, match=message):
        EmailChannel(**settings)


# ---------------------------------------------------------------- thread map


def record(contact_id: str, thread: str, message_id: str | None) -> MailRecord:
    return MailRecord(contact_id, thread, "c@x", "c@x", "s", message_id, ())


def test_thread_map_finds_thread_and_last_agent() -> None:
    threads = ThreadMap()
    threads.add_contact(record("c1", "c1", "<m1@x>"))
    assert threads.find(["<m1@x>"]) is None  # only once the message is added
    threads.add_message("<m1@x>", "c1")
    assert threads.find(["<zz@x>", "<m1@x>"]) == ("c1", None)
    assert threads.handled("c1", "alice")
    assert threads.find(["<m1@x>"]) == ("c1", "alice")
    threads.add_message("<r1@x>", "c1", "bob")
    assert threads.find(["<r1@x>"]) == ("c1", "bob")
    assert not threads.handled("unknown", "alice")
    threads.forget_contact("c1")
    assert threads.record("c1") is None


def test_thread_map_is_bounded() -> None:
    threads = ThreadMap(capacity=2)
    for i in range(3):
        threads.add_message(f"<m{i}@x>", f"t{i}")
    assert len(threads) == 2
    assert threads.find(["<m0@x>"]) is None
    assert threads.find(["<m2@x>"]) == ("t2", None)


# --------------------------------------------------------------------- inbox


def delivery(contact_id: str, agent_id: str) -> OfferDelivery:
    offer = Offered(0.0, contact_id, agent_id, "email", "email", None)
    contact = ContactView(
        id=contact_id,
        state=ContactState.OFFERED,
        queue="email",
        channel="email",
        requirements={},
        queues=frozenset({"email"}),
        key=(0, 0.0, 0),
        arrived_at=0.0,
        entered_at=0.0,
        steps_applied=0,
        agent_id=agent_id,
        reserved_for=None,
        rejected_by=frozenset(),
        customer_id="c@x",
        attributes={},
    )
    agent = AgentView(
        id=agent_id,
        presence=Presence.AVAILABLE,
        status=AgentStatus.BUSY,
        skills={},
        queues=frozenset({"email"}),
        capacity={"email": 5},
        unit_budget=None,
        load={"email": 1},
        units_used=0,
        offered=frozenset({contact_id}),
        in_service=frozenset(),
        wrap_up=frozenset(),
        idle_since=0.0,
        handled=0,
    )
    return OfferDelivery(offer=offer, contact=contact, agent=agent)


def test_inbox_by_agent() -> None:
    inbox = OfferInbox()
    inbox.add(delivery("c1", "alice"))
    inbox.add(delivery("c2", "alice"))
    inbox.add(delivery("c3", "bob"))
    inbox.add(delivery("c1", "alice"))  # a re-delivery replaces, does not duplicate
    assert [d.offer.contact_id for d in inbox["alice"]] == ["c2", "c1"]
    assert sorted(inbox) == ["alice", "bob"]
    assert inbox.find("c3") is not None
    assert [d.offer.agent_id for d in inbox.remove("c3")] == ["bob"]
    assert "bob" not in inbox
    assert inbox.get("bob") is None
    inbox.remove("c1", "bob")  # not bob's: nothing happens
    assert len(inbox["alice"]) == 2


def test_inbox_is_thread_safe() -> None:
    inbox = OfferInbox()

    def work(n: int) -> None:
        for i in range(200):
            inbox.add(delivery(f"c{n}-{i}", f"a{i % 3}"))
            inbox.remove(f"c{n}-{i - 1}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(len(inbox[a]) for a in inbox) == 4
