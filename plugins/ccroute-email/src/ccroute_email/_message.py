"""Mail in and mail out: parsing a received message into what a contact needs,
and building replies. Pure functions over bytes and values; no sockets here."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

import attrs

from ._errors import EmailError

__all__ = [
    "MailRecord",
    "MalformedMailError",
    "ParsedMail",
    "build_message",
    "parse_mail",
    "reply_subject",
]

_MESSAGE_ID = re.compile(r"<([^<>]+)>")
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)
#: Headers that mark a message as sent by a machine (RFC 3834): never acknowledged.
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
#: A reply's References keeps the first message id and this many of the latest.
_MAX_REFERENCES = 20


class MalformedMailError(EmailError):
    """A received message cannot become a contact (no sender address, headers
    that are not valid UTF-8, a structure the parser cannot read).

    The SMTP server answers it with a permanent failure (``550`` or ``554``)
    and submits nothing.
    """

    def __init__(self, message: str, *, code: int = 554, status: str = "5.6.0") -> None:
        super().__init__(message)
        #: The SMTP reply code the server answers with.
        self.code = code
        #: The enhanced status code (RFC 3463) sent with it.
        self.status = status


@attrs.frozen(slots=True)
class ParsedMail:
    """What a received message says, in the shape a contact needs.

    ``customer`` is the lower-cased addr-spec of the sender (the ``From``
    header, or the envelope sender when the header has no usable address);
    ``reply_to`` is where replies go (``Reply-To`` when given). Message ids keep
    their angle brackets. ``attachments`` holds metadata only.
    """

    customer: str
    reply_to: str
    from_header: str
    to: tuple[str, ...]
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    body: str
    body_truncated: bool
    attachments: tuple[Mapping[str, Any], ...]
    #: Sent by a machine (auto-reply, bounce, mailing list): never acknowledged.
    automatic: bool

    def thread_candidates(self) -> list[str]:
        """Message ids that may name a known conversation, the most specific first:
        ``In-Reply-To``, then ``References`` from the latest back."""
        seen: list[str] = []
        for mid in (self.in_reply_to, *reversed(self.references)):
            if mid is not None and mid not in seen:
                seen.append(mid)
        return seen

    def attributes(self, thread: str) -> dict[str, Any]:
        """The contact's attributes: plain JSON-friendly values, so any store can log them."""
        return {
            "subject": self.subject,
            "from": self.from_header,
            "to": list(self.to),
            "reply_to": self.reply_to,
            "message_id": self.message_id,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "body": self.body,
            "body_truncated": self.body_truncated,
            "attachments": [dict(a) for a in self.attachments],
            "thread": thread,
        }


@attrs.frozen(slots=True)
class MailRecord:
    """What the channel keeps of an email contact to reply to it."""

    contact_id: str
    thread: str
    customer: str
    reply_to: str
    subject: str
    message_id: str | None
    references: tuple[str, ...]
    #: Sent by a machine: never acknowledged automatically.
    automatic: bool = False

    @classmethod
    def from_attributes(
        cls, contact_id: str, customer: str | None, attributes: Mapping[str, Any]
    ) -> MailRecord | None:
        """Rebuild a record from a contact's attributes (e.g. after a restart),
        or ``None`` if they are not an email contact's."""
        reply_to = attributes.get("reply_to") or customer
        if not isinstance(reply_to, str) or "@" not in reply_to:
            return None
        references = attributes.get("references") or ()
        message_id = attributes.get("message_id")
        thread = attributes.get("thread")
        return cls(
            contact_id=contact_id,
            thread=thread if isinstance(thread, str) else contact_id,
            customer=customer or reply_to,
            reply_to=reply_to,
            subject=str(attributes.get("subject") or ""),
            message_id=message_id if isinstance(message_id, str) else None,
            references=tuple(r for r in references if isinstance(r, str)),
        )


def parse_mail(
    raw: bytes,
    *,
    mail_from: str | None = None,
    rcpt_tos: Sequence[str] = (),
    max_body_chars: int = 100_000,
) -> ParsedMail:
    """Parse a received message (the bytes of SMTP ``DATA``).

    :param mail_from: the envelope sender, used when ``From`` has no address.
    :param rcpt_tos: the envelope recipients, used when ``To`` is missing.
    :param max_body_chars: the body is cut to this many characters.
    :raises MalformedMailError: no sender address anywhere, a header that is
        not valid UTF-8, or a message the parser cannot read.
    """
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        _check_headers(msg)
        return _parse(msg, mail_from, rcpt_tos, max_body_chars)
    except MalformedMailError:
        raise
    except Exception as exc:  # the stdlib parser has corner cases that raise
        raise MalformedMailError(f"cannot parse the message: {exc}") from exc


def _check_headers(msg: Message) -> None:
    # The byte parser keeps 8-bit header bytes as surrogate escapes; RFC 6532
    # allows UTF-8 there, anything else cannot be decoded faithfully.
    for name, value in msg.raw_items():
        try:
            _unescape(value)
        except UnicodeError:
            raise MalformedMailError(
                f"header {name!r} is not valid UTF-8 and cannot be decoded"
            ) from None


def _unescape(text: str) -> str:
    """Turn surrogate-escaped bytes back into the UTF-8 text they spell."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8")


def _header(msg: Message, name: str) -> str | None:
    value = msg.get(name)
    return None if value is None else _unescape(str(value))


def _addresses(msg: Message, name: str) -> list[str]:
    header = msg.get(name)
    found: list[str] = []
    for addr in getattr(header, "addresses", ()):
        if addr.username and addr.domain:
            found.append(_unescape(addr.addr_spec).lower())
    return found


def _envelope_address(address: str | None) -> str | None:
    if not address:
        return None
    address = address.strip().strip("<>").strip()
    return address.lower() if "@" in address else None


def _message_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = [f"<{m.strip()}>" for m in _MESSAGE_ID.findall(value) if m.strip()]
    if not found and value.strip() and not any(c.isspace() for c in value.strip()):
        # A bare id without brackets: not RFC 5322, but some clients do it.
        found = [f"<{value.strip()}>"]
    return found


def _parse(
    msg: EmailMessage, mail_from: str | None, rcpt_tos: Sequence[str], max_body_chars: int
) -> ParsedMail:
    senders = _addresses(msg, "From")
    envelope = _envelope_address(mail_from)
    customer = senders[0] if senders else envelope
    if customer is None:
        raise MalformedMailError(
            "no sender address: the From header has no address and the envelope sender is empty",
            code=550,
            status="5.1.7",
        )
    reply_to = next(iter(_addresses(msg, "Reply-To")), customer)
    to = _addresses(msg, "To") or [a.lower() for a in rcpt_tos]
    in_reply_to = next(iter(_message_ids(_header(msg, "In-Reply-To"))), None)
    message_id = next(iter(_message_ids(_header(msg, "Message-ID"))), None)
    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = "" if body_part is None else _text_of(body_part)
    truncated = len(body) > max_body_chars
    auto = (_header(msg, "Auto-Submitted") or "no").strip().lower()
    precedence = (_header(msg, "Precedence") or "").strip().lower()
    automatic = (
        auto != "no"
        or precedence in _BULK_PRECEDENCE
        or msg.get("List-Id") is not None
        # the null sender: bounces and other notifications
        or (mail_from is not None and mail_from.strip() in ("", "<>"))
    )
    return ParsedMail(
        customer=customer,
        reply_to=reply_to,
        from_header=_header(msg, "From") or customer,
        to=tuple(to),
        subject=(_header(msg, "Subject") or "").strip(),
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=tuple(_message_ids(_header(msg, "References"))),
        body=body[:max_body_chars],
        body_truncated=truncated,
        attachments=tuple(_attachments(msg, body_part)),
        automatic=automatic,
    )


def _text_of(part: Message) -> str:
    try:
        text = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError):
        # An unknown or lying charset: keep what can be read rather than refuse the mail.
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(text, str):
        return ""
    # Mail travels with CRLF; agents and logs read plain newlines.
    text = text.replace("\r\n", "\n")
    if part.get_content_type() == "text/html":
        text = _html_text(text)
    return text


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li", "tr"):
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def _html_text(html: str) -> str:
    """The readable text of an HTML-only mail, so agents see words, not markup."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(line for line in lines if line)


def _leaves(part: Message) -> Iterator[Message]:
    # A forwarded message is one attachment, not a bag of its own parts.
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    for sub in part.iter_parts():  # type: ignore[attr-defined]
        yield from _leaves(sub)


def _attachments(msg: Message, body_part: Message | None) -> Iterator[dict[str, Any]]:
    if not msg.is_multipart():
        return
    for part in _leaves(msg):
        if part is body_part:
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if (
            filename is None
            and disposition != "attachment"
            and part.get_content_maintype() == "text"
        ):
            continue  # the other half of a text/html alternative, not an attachment
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload(0)
            size = len(inner.as_bytes()) if isinstance(inner, Message) else 0
        else:
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
        yield {
            "filename": None if filename is None else _unescape(filename),
            "content_type": part.get_content_type(),
            "size": size,
        }


def reply_subject(subject: str) -> str:
    """``Re: <subject>``, without stacking a second ``Re:``."""
    subject = subject.strip()
    if _REPLY_PREFIX.match(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def _references(record: MailRecord) -> list[str]:
    refs = list(record.references)
    if record.message_id is not None and record.message_id not in refs:
        refs.append(record.message_id)
    if len(refs) > _MAX_REFERENCES:
        # RFC 5322 3.6.4: keep the root and the most recent ones.
        refs = [refs[0], *refs[-(_MAX_REFERENCES - 1) :]]
    return refs


def build_message(
    record: MailRecord,
    *,
    from_address: str,
    body: str,
    subject: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
) -> EmailMessage:
    """Build a reply in the conversation of ``record``: ``To`` the customer,
    ``In-Reply-To`` and ``References`` naming the customer's message, and a new
    ``Message-ID`` (read it back from the result)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = from_address
    msg["To"] = record.reply_to
    msg["Subject"] = reply_subject(record.subject) if subject is None else subject
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    domain = from_address.rpartition("@")[2] or None
    msg["Message-ID"] = email.utils.make_msgid(domain=domain)
    if record.message_id is not None:
        msg["In-Reply-To"] = record.message_id
    refs = _references(record)
    if refs:
        msg["References"] = " ".join(refs)
    for name, value in extra_headers:
        msg[name] = value
    msg.set_content(body)
    return msg
