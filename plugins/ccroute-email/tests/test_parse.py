"""Parsing received mail into what a contact needs, and building replies."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest
from email_testing import make_mail

from ccroute_email import MailRecord, MalformedMailError, parse_mail, reply_subject
from ccroute_email._message import build_message


def raw(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)


def test_plain_mail_becomes_contact_fields() -> None:
    mail = parse_mail(raw(make_mail()), mail_from="bounce@example.com")
    assert mail.customer == "carol@example.com"  # addr-spec, lower-cased
    assert mail.reply_to == "carol@example.com"
    assert mail.from_header == "Carol Customer <Carol@Example.COM>"
    assert mail.to == ("support@centre.test",)
    assert mail.subject == "My order has not arrived"
    assert mail.message_id == "<order-1234@example.com>"
    assert mail.in_reply_to is None
    assert mail.references == ()
    assert mail.body == "Hello,\nmy order 1234 has not arrived.\n"
    assert mail.attachments == ()
    assert not mail.automatic
    attrs = mail.attributes("t-1")
    assert attrs["thread"] == "t-1"
    assert set(attrs) >= {
        "subject",
        "from",
        "to",
        "message_id",
        "in_reply_to",
        "references",
        "body",
        "attachments",
    }


def test_envelope_sender_when_from_has_no_address() -> None:
    mail = parse_mail(raw(make_mail(sender=None)), mail_from="<Dave@Example.org>")
    assert mail.customer == "dave@example.org"


def test_no_sender_anywhere_is_malformed_550() -> None:
    with pytest.raises(MalformedMailError) as info:
        parse_mail(raw(make_mail(sender=None)), mail_from="")
    assert info.value.code == 550
    assert "no sender address" in str(info.value)


def test_header_that_is_not_utf8_is_malformed_554() -> None:
    data = b"From: a@b.example\r\nSubject: caf\xe9\r\n\r\nbody\r\n"
    with pytest.raises(MalformedMailError) as info:
        parse_mail(data, mail_from="a@b.example")
    assert info.value.code == 554
    assert "Subject" in str(info.value)


def test_utf8_headers_are_decoded() -> None:
    data = "From: José <jose@exämple.com>\r\nSubject: café\r\n\r\nbody\r\n".encode()
    mail = parse_mail(data, mail_from="x@y.example")
    assert mail.subject == "café"
    assert mail.customer == "jose@exämple.com"


def test_encoded_words_and_reply_to() -> None:
    msg = make_mail(subject="Ünïcode question", headers={"Reply-To": "orders@example.com"})
    mail = parse_mail(raw(msg))
    assert mail.subject == "Ünïcode question"
    assert mail.reply_to == "orders@example.com"
    assert mail.customer == "carol@example.com"


def test_threading_headers_and_candidates() -> None:
    msg = make_mail(
        in_reply_to="<b@x>",
        references="<root@x>  <a@x>\t<b@x>",
    )
    mail = parse_mail(raw(msg))
    assert mail.in_reply_to == "<b@x>"
    assert mail.references == ("<root@x>", "<a@x>", "<b@x>")
    assert mail.thread_candidates() == ["<b@x>", "<a@x>", "<root@x>"]


def test_attachments_are_metadata_only() -> None:
    msg = make_mail(body="See the photo.\n")
    msg.add_attachment(b"\x89PNG" + b"0" * 996, maintype="image", subtype="png", filename="box.png")
    msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="items.csv")
    mail = parse_mail(raw(msg))
    assert mail.body == "See the photo.\n"
    assert [dict(a) for a in mail.attachments] == [
        {"filename": "box.png", "content_type": "image/png", "size": 1000},
        {"filename": "items.csv", "content_type": "text/csv", "size": 8},
    ]


def test_html_alternative_is_not_an_attachment_and_html_only_is_readable() -> None:
    msg = make_mail(body="plain words\n")
    msg.add_alternative("<p>html <b>words</b></p>", subtype="html")
    mail = parse_mail(raw(msg))
    assert mail.body == "plain words\n"
    assert mail.attachments == ()

    html_only = EmailMessage()
    html_only["From"] = "a@b.example"
    html_only.set_content(
        "<html><style>p{}</style><p>Hello&amp;bye</p><p>line two</p></html>", subtype="html"
    )
    assert parse_mail(raw(html_only)).body == "Hello&bye\nline two"


def test_forwarded_message_is_one_attachment() -> None:
    inner = make_mail(subject="original")
    msg = make_mail()
    msg.add_attachment(inner)
    mail = parse_mail(raw(msg))
    assert len(mail.attachments) == 1
    assert mail.attachments[0]["content_type"] == "message/rfc822"
    assert mail.attachments[0]["size"] > 0


def test_unknown_charset_body_is_kept_readable() -> None:
    data = b"From: a@b.example\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\nhello\r\n"
    assert parse_mail(data).body.strip() == "hello"


def test_long_body_is_truncated_and_flagged() -> None:
    mail = parse_mail(raw(make_mail(body="x" * 50)), max_body_chars=10)
    assert mail.body == "x" * 10
    assert mail.body_truncated


@pytest.mark.parametrize(
    ("headers", "mail_from"),
    [
        ({"Auto-Submitted": "auto-replied"}, "a@b.example"),
        ({"Precedence": "bulk"}, "a@b.example"),
        ({"List-Id": "<list.example>"}, "a@b.example"),
        ({}, ""),
    ],
)
def test_machine_mail_is_flagged_automatic(headers: dict[str, str], mail_from: str) -> None:
    assert parse_mail(raw(make_mail(headers=headers)), mail_from=mail_from).automatic


def test_reply_subject() -> None:
    assert reply_subject("Order") == "Re: Order"
    assert reply_subject("RE: Order") == "RE: Order"
    assert reply_subject("re:Order") == "re:Order"
    assert reply_subject("") == "Re:"


def test_build_reply_threads_the_conversation() -> None:
    record = MailRecord(
        contact_id="c1",
        thread="c1",
        customer="carol@example.com",
        reply_to="carol@example.com",
        subject="Order",
        message_id="<m2@x>",
        references=("<m1@x>",),
    )
    msg = build_message(record, from_address="support@centre.test", body="On its way.")
    assert msg["To"] == "carol@example.com"
    assert msg["From"] == "support@centre.test"
    assert msg["Subject"] == "Re: Order"
    assert msg["In-Reply-To"] == "<m2@x>"
    assert msg["References"] == "<m1@x> <m2@x>"
    assert str(msg["Message-ID"]).endswith("@centre.test>")
    assert msg.get_content() == "On its way.\n"


def test_record_from_attributes_round_trip() -> None:
    mail = parse_mail(raw(make_mail(references="<r@x>")))
    record = MailRecord.from_attributes("c9", mail.customer, mail.attributes("t9"))
    assert record is not None
    assert record.thread == "t9"
    assert record.message_id == "<order-1234@example.com>"
    assert record.references == ("<r@x>",)
    assert MailRecord.from_attributes("c9", None, {}) is None
