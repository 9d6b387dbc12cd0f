"""The SMTP side over loopback, against a fake service (a real Router behind
the few service methods the channel uses): answers, limits, threading, replies."""

from __future__ import annotations

import smtplib
from email import policy

import anyio
import pytest
from ccroute import Agent, ContactState, Offered, Presence, QueueConfig, UnknownIdError
from ccroute.hooktypes import CustomerUpdate, OfferDelivery
from email_testing import TIMEOUT, Sink, fake_service, make_mail, send_mail, wait_until

from ccroute_email import EmailChannel, EmailError

pytestmark = pytest.mark.anyio


async def test_port_zero_binds_a_free_loopback_port() -> None:
    channel = EmailChannel()
    assert channel.port is None
    async with fake_service(channel, port=0):
        assert channel.running
        assert channel.port is not None and channel.port > 0
        assert "listening on 127.0.0.1" in repr(channel)
    assert channel.port is None


async def test_mail_becomes_a_queued_contact_before_250() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        # smtplib returned, so the server said 250: the contact is already in.
        [contact] = service.calls
        assert contact.id.startswith("email-")
        assert (contact.channel, contact.queue) == ("email", "email")
        assert contact.customer_id == "carol@example.com"
        assert contact.preferred_agent is None
        assert contact.attributes["subject"] == "My order has not arrived"
        assert contact.attributes["thread"] == contact.id
        assert service.router.contact(contact.id).state is ContactState.WAITING


async def test_settings_choose_queue_and_requirements() -> None:
    channel = EmailChannel(requirements={"billing": 3}, priority_seconds=60)
    async with fake_service(channel, port=0, queue="billing-mail") as service:
        service.router.add_queue(QueueConfig("billing-mail"))
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        [contact] = service.calls
        assert contact.queue == "billing-mail"
        assert contact.requirement_levels == {"billing": 3}
        assert contact.priority_seconds == 60


async def test_too_big_is_552_and_nothing_submitted() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0, max_message_size=2000) as service:
        assert channel.port is not None
        with pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as info:
            await send_mail(channel.port, make_mail(body=("x" * 70 + "\n") * 80))
        assert info.value.smtp_code == 552
        assert service.calls == []


async def test_too_big_without_size_announcement_is_552() -> None:
    # A client that skips ESMTP SIZE: the limit is enforced on the data itself.
    channel = EmailChannel()
    async with fake_service(channel, port=0, max_message_size=2000) as service:
        assert channel.port is not None
        port = channel.port

        def send_helo() -> tuple[int, bytes]:
            with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as smtp:
                smtp.helo()
                smtp.mail("carol@example.com")
                smtp.rcpt("support@centre.test")
                return smtp.data(
                    make_mail(body=("x" * 70 + "\n") * 80).as_bytes(policy=policy.SMTP)
                )

        code, reply = await anyio.to_thread.run_sync(send_helo)
        assert code == 552, reply
        assert service.calls == []


async def test_attachments_over_their_limit_are_552() -> None:
    channel = EmailChannel(max_attachments_size=100)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        msg = make_mail()
        msg.add_attachment(b"0" * 500, maintype="application", subtype="pdf", filename="a.pdf")
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, msg)
        assert info.value.smtp_code == 552
        assert b"Attachments too big" in info.value.smtp_error
        assert service.calls == []


async def test_no_sender_is_550_and_nothing_submitted() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, make_mail(sender=None), mail_from="")
        assert info.value.smtp_code == 550
        assert b"no sender address" in info.value.smtp_error
        assert service.calls == []


async def test_undecodable_header_is_554() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        data = b"From: carol@example.com\r\nSubject: caf\xe9\r\n\r\nhello\r\n"
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, data)
        assert info.value.smtp_code == 554
        assert service.calls == []


async def test_service_refusing_is_451_and_nothing_remembered() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        service.fail = UnknownIdError("queue", "email")
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, make_mail())
        assert info.value.smtp_code == 451
        assert b"unknown queue 'email'" in info.value.smtp_error
        [attempt] = service.calls
        assert channel.threads.record(attempt.id) is None
        assert channel.threads.find(["<order-1234@example.com>"]) is None
        # The sender retries once the service takes mail again.
        service.fail = None
        await send_mail(channel.port, make_mail())
        assert channel.threads.find(["<order-1234@example.com>"]) is not None


async def test_full_queue_is_451() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0, queue="tiny") as service:
        service.router.add_queue(QueueConfig("tiny", max_size=0))
        assert channel.port is not None
        with pytest.raises(smtplib.SMTPDataError) as info:
            await send_mail(channel.port, make_mail())
        assert info.value.smtp_code == 451
        assert b"queue full" in info.value.smtp_error


async def test_attachment_metadata_reaches_the_contact() -> None:
    kept: list[tuple[str, bytes]] = []
    channel = EmailChannel(on_mail=lambda contact, raw: kept.append((contact.id, raw)))
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        msg = make_mail(body="Invoice attached.\n")
        msg.add_attachment(
            b"%PDF" + b"1" * 2044, maintype="application", subtype="pdf", filename="inv.pdf"
        )
        await send_mail(channel.port, msg)
        [contact] = service.calls
        assert contact.attributes["body"] == "Invoice attached.\n"
        assert contact.attributes["attachments"] == [
            {"filename": "inv.pdf", "content_type": "application/pdf", "size": 2048}
        ]
        # The bytes are not in the contact, but on_mail saw the whole message.
        [(contact_id, raw)] = kept
        assert contact_id == contact.id and b"inv.pdf" in raw


async def test_reply_goes_through_the_relay_threaded(sink: Sink) -> None:
    channel = EmailChannel(from_address="support@centre.test", relay_port=sink.port)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail(references="<older@example.com>"))
        [contact] = service.calls
        mid = await channel.reply(service, contact.id, "alice", "It ships today.")
        [(mail_from, rcpt, msg)] = sink.received()
        assert mail_from == "support@centre.test"
        assert rcpt == ["carol@example.com"]
        assert msg["Subject"] == "Re: My order has not arrived"
        assert msg["In-Reply-To"] == "<order-1234@example.com>"
        assert msg["References"] == "<older@example.com> <order-1234@example.com>"
        assert msg["Message-ID"] == mid
        assert msg.get_content().strip() == "It ships today."
        assert channel.threads.find([mid]) == (contact.id, "alice")

        await channel.reply(service, contact.id, "alice", "Tracking: 42", subject="Your parcel")
        assert sink.received()[-1][2]["Subject"] == "Your parcel"


async def test_customer_answer_joins_thread_with_preferred_agent(sink: Sink) -> None:
    channel = EmailChannel(from_address="support@centre.test", relay_port=sink.port)
    async with fake_service(channel, port=0, preferred_wait=120) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        [first] = service.calls
        mid = await channel.reply(service, first.id, "alice", "Which colour?")
        await send_mail(
            channel.port,
            make_mail(
                subject="Re: My order has not arrived",
                message_id="<answer@example.com>",
                in_reply_to=mid,
                references=f"<order-1234@example.com> {mid}",
            ),
        )
        second = service.calls[-1]
        assert second.attributes["thread"] == first.id
        assert second.preferred_agent == "alice"
        assert second.preferred_wait == 120
        # And the answer to the answer still finds the thread.
        assert channel.threads.find(["<answer@example.com>"]) == (first.id, "alice")


async def test_reply_errors(sink: Sink) -> None:
    channel = EmailChannel(from_address="support@centre.test", relay_port=sink.port)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        with pytest.raises(EmailError, match="'nope'"):
            await channel.reply(service, "nope", "alice", "hi")
        await send_mail(channel.port, make_mail())
        [contact] = service.calls
        sink.refuse = "554 5.7.1 relaying denied"
        with pytest.raises(EmailError, match="relaying denied"):
            await channel.reply(service, contact.id, "alice", "hi")
        # Not remembered: the customer never got it.
        assert len(channel.threads) == 1

    unsendable = EmailChannel()
    async with fake_service(unsendable, port=0) as service:
        with pytest.raises(EmailError, match="from_address"):
            await unsendable.reply(service, "x", "alice", "hi")


async def test_relay_down_is_an_email_error() -> None:
    with Sink() as gone:
        port = gone.port
    channel = EmailChannel(from_address="support@centre.test", relay_port=port, relay_timeout=2)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        [contact] = service.calls
        with pytest.raises(EmailError, match="cannot send"):
            await channel.reply(service, contact.id, "alice", "hi")


async def test_reply_to_a_contact_known_only_to_the_router(sink: Sink) -> None:
    # After a restart the channel's memory is empty but the router (rebuilt
    # from storage) still has the contact and its attributes.
    channel = EmailChannel(from_address="support@centre.test", relay_port=sink.port)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        [contact] = service.calls
        channel.threads.forget_contact(contact.id)
        await channel.reply(service, contact.id, "alice", "Back again.")
        assert sink.received()[0][2]["In-Reply-To"] == "<order-1234@example.com>"


async def test_offer_delivery_and_events_keep_the_inbox(sink: Sink) -> None:
    seen: list[OfferDelivery] = []
    channel = EmailChannel(on_offer=seen.append)
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        service.router.add_agent(Agent("alice", queues=("email",)), Presence.AVAILABLE)
        await send_mail(channel.port, make_mail())
        [contact] = service.calls
        # The fake has no hook plumbing: drive the hooks by hand.
        view = service.router.contact(contact.id)
        assert view.state is ContactState.OFFERED
        offer = Offered(0.0, contact.id, "alice", "email", "email", None)
        delivery = OfferDelivery(offer, view, service.router.agent("alice"))
        assert channel.ccroute_deliver_offer(delivery) is True
        assert (
            channel.offers["alice"][0].contact.attributes["subject"] == "My order has not arrived"
        )
        assert seen == [delivery]
        await channel.ccroute_events(service.router.accept(contact.id, "alice"))
        assert "alice" not in channel.offers
        assert channel.threads.find(["<order-1234@example.com>"]) == (contact.id, "alice")
        other = OfferDelivery(
            Offered(0.0, "v1", "alice", "voice", "voice", None), view, service.router.agent("alice")
        )
        assert channel.ccroute_deliver_offer(other) is None


async def test_auto_acknowledgement(sink: Sink) -> None:
    channel = EmailChannel(
        from_address="support@centre.test", relay_port=sink.port, auto_acknowledge=True
    )
    async with fake_service(channel, port=0) as service:
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        await send_mail(
            channel.port,
            make_mail(message_id="<ooo@example.com>", headers={"Auto-Submitted": "auto-replied"}),
        )
        human, robot = service.calls
        for contact in (human, robot, human):  # queued twice: acknowledged once
            await channel.ccroute_customer_update(
                CustomerUpdate("queued", contact.id, "email", contact.customer_id, 0.0)
            )
        await wait_until(lambda: len(sink.received()) >= 1)
        await anyio.sleep(0.2)
        [(_, rcpt, ack)] = sink.received()
        assert rcpt == ["carol@example.com"]
        assert ack["Auto-Submitted"] == "auto-replied"
        assert ack["In-Reply-To"] == "<order-1234@example.com>"
        assert channel.threads.find([ack["Message-ID"]]) == (human.id, None)


async def test_start_twice_and_bind_failure() -> None:
    channel = EmailChannel()
    async with fake_service(channel, port=0) as service:
        with pytest.raises(EmailError, match="already started"):
            await channel.ccroute_start_channel(service)
        taken = channel.port
        clash = EmailChannel()
        with pytest.raises(EmailError, match="cannot listen"):
            async with fake_service(clash, port=taken):
                pass
        assert not clash.running
