"""The channel inside a real ccroute Service, mail over loopback, on both backends."""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import Any

import pytest
from ccroute import Agent, Completed, Presence, QueueConfig
from ccroute.hooktypes import OfferDelivery
from ccroute.service import Service
from email_testing import Sink, make_mail, send_mail, wait_until

from ccroute_email import EmailChannel

pytestmark = pytest.mark.anyio


def service_with(channel: EmailChannel, sink: Sink | None = None, **email: Any) -> Service:
    settings = {"port": 0, "from_address": "support@centre.test", **email}
    if sink is not None:
        settings["relay_port"] = sink.port
    return Service(settings={"email": settings}, plugins=[channel], load_entrypoints=False)


async def test_mail_is_offered_accepted_answered_and_completed(sink: Sink) -> None:
    offered: list[OfferDelivery] = []
    channel = EmailChannel(on_offer=offered.append)
    async with service_with(channel, sink) as service:
        await service.add_queue(QueueConfig("email"))
        await service.add_agent(Agent("alice", queues=("email",)), Presence.AVAILABLE)
        assert channel.port is not None
        await send_mail(channel.port, make_mail())

        await wait_until(lambda: "alice" in channel.offers)
        [delivery] = channel.offers["alice"]
        assert offered == [delivery]
        contact = delivery.contact
        assert contact.channel == "email"
        assert contact.customer_id == "carol@example.com"
        assert contact.attributes["subject"] == "My order has not arrived"
        assert contact.attributes["body"] == "Hello,\nmy order 1234 has not arrived.\n"
        assert contact.attributes["from"] == "Carol Customer <Carol@Example.COM>"

        await service.accept(contact.id, "alice")
        await wait_until(lambda: "alice" not in channel.offers)
        mid = await channel.reply(service, contact.id, "alice", "It ships today.")

        [(mail_from, rcpt, reply)] = sink.received()
        assert mail_from == "support@centre.test"
        assert rcpt == ["carol@example.com"]
        assert reply["To"] == "carol@example.com"
        assert reply["Subject"] == "Re: My order has not arrived"
        assert reply["In-Reply-To"] == "<order-1234@example.com>"
        assert reply["Message-ID"] == mid
        assert reply.get_content().strip() == "It ships today."

        events = await service.complete(contact.id)
        assert any(isinstance(e, Completed) for e in events)
        assert not service.hook_failures


async def test_customer_answer_goes_back_to_the_same_agent(sink: Sink) -> None:
    channel = EmailChannel()
    async with service_with(channel, sink, preferred_wait=600) as service:
        await service.add_queue(QueueConfig("email"))
        await service.add_agent(Agent("alice", queues=("email",)), Presence.AVAILABLE)
        await service.add_agent(Agent("bob", queues=("email",)), Presence.OFFLINE)
        assert channel.port is not None

        await send_mail(channel.port, make_mail())
        await wait_until(lambda: "alice" in channel.offers)
        first = channel.offers["alice"][0].contact
        await service.accept(first.id, "alice")
        # Bob logs in now, so he has been idle longer than alice will be.
        await service.set_presence("bob", Presence.AVAILABLE)
        mid = await channel.reply(service, first.id, "alice", "Which colour did you order?")
        await service.complete(first.id)
        assert service.router.agent("bob").idle_since < service.router.agent("alice").idle_since

        await send_mail(
            channel.port,
            make_mail(
                subject="Re: My order has not arrived",
                message_id="<answer-1@example.com>",
                in_reply_to=mid,
                references=f"<order-1234@example.com> {mid}",
                body="Blue.\n",
            ),
        )
        await wait_until(lambda: "alice" in channel.offers)
        [delivery] = channel.offers["alice"]
        assert delivery.contact.attributes["thread"] == first.id
        assert delivery.contact.attributes["body"] == "Blue.\n"
        assert "bob" not in channel.offers

        # A brand-new conversation goes to bob, who is idle longest.
        await send_mail(channel.port, make_mail(message_id="<new@example.com>", subject="Other"))
        await wait_until(lambda: "bob" in channel.offers)
        assert channel.offers["bob"][0].contact.attributes["thread"] != first.id
        assert not service.hook_failures


async def test_refusals_queue_nothing() -> None:
    channel = EmailChannel()
    async with service_with(channel, max_message_size=4000) as service:
        await service.add_queue(QueueConfig("email"))
        assert channel.port is not None
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as too_big:
            await send_mail(channel.port, make_mail(body=("x" * 70 + "\n") * 100))
        assert too_big.value.smtp_code == 552
        with pytest.raises(smtplib.SMTPDataError) as no_from:
            await send_mail(channel.port, make_mail(sender=None), mail_from="")
        assert 500 <= no_from.value.smtp_code < 600
        assert service.router.waiting() == []


async def test_service_refusing_is_451_and_nothing_queued() -> None:
    channel = EmailChannel()
    async with service_with(channel, queue="no-such-queue") as service:
        await service.add_queue(QueueConfig("email"))
        assert channel.port is not None
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, make_mail())
        assert info.value.smtp_code == 451
        assert b"no-such-queue" in info.value.smtp_error
        assert service.router.waiting() == []
        assert channel.threads.find(["<order-1234@example.com>"]) is None


async def test_attachment_metadata_is_offered() -> None:
    channel = EmailChannel()
    async with service_with(channel) as service:
        await service.add_queue(QueueConfig("email"))
        await service.add_agent(Agent("alice", queues=("email",)), Presence.AVAILABLE)
        assert channel.port is not None
        msg = make_mail(body="Photo of the damage attached.\n")
        msg.add_attachment(
            b"\xff\xd8" + b"j" * 4094, maintype="image", subtype="jpeg", filename="box.jpg"
        )
        await send_mail(channel.port, msg)
        await wait_until(lambda: "alice" in channel.offers)
        attrs = channel.offers["alice"][0].contact.attributes
        assert attrs["attachments"] == [
            {"filename": "box.jpg", "content_type": "image/jpeg", "size": 4096}
        ]
        assert attrs["body"] == "Photo of the damage attached.\n"


async def test_skills_from_settings_route_to_the_skilled_agent() -> None:
    channel = EmailChannel()
    async with service_with(channel, requirements={"billing": 5}) as service:
        await service.add_queue(QueueConfig("email"))
        await service.add_agent(
            Agent("novice", skills={"billing": 2}, queues=("email",)), Presence.AVAILABLE
        )
        await service.add_agent(
            Agent("expert", skills={"billing": 8}, queues=("email",)), Presence.AVAILABLE
        )
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        await wait_until(lambda: "expert" in channel.offers)
        assert "novice" not in channel.offers


async def test_channel_stops_with_the_service() -> None:
    channel = EmailChannel()
    async with service_with(channel):
        assert channel.running
    assert not channel.running
    assert channel.port is None


async def test_acknowledged_mail_survives_a_restart_and_can_be_answered(
    sink: Sink, tmp_path: Path
) -> None:
    db = tmp_path / "centre.db"
    settings = {
        "email": {"port": 0, "from_address": "support@centre.test", "relay_port": sink.port}
    }
    channel = EmailChannel()
    async with Service(
        path=db, settings=settings, plugins=[channel], load_entrypoints=False
    ) as service:
        await service.add_queue(QueueConfig("email"))
        assert channel.port is not None
        await send_mail(channel.port, make_mail())  # 250: durable
        [waiting] = service.router.waiting()

    # A new process: the channel's memory is empty, the store is not.
    fresh = EmailChannel()
    async with Service(
        path=db, settings=settings, plugins=[fresh], load_entrypoints=False
    ) as service:
        [again] = service.router.waiting()
        assert again.id == waiting.id
        assert again.attributes["subject"] == "My order has not arrived"
        await fresh.reply(service, again.id, "alice", "Sorry for the wait.")
        [(_, rcpt, reply)] = sink.received()
        assert rcpt == ["carol@example.com"]
        assert reply["In-Reply-To"] == "<order-1234@example.com>"
