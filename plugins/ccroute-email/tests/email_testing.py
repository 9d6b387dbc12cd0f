"""Shared helpers: both anyio backends, an SMTP sink, mail builders, a fake service."""

from __future__ import annotations

import contextlib
import smtplib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from ccroute import Contact, Event, QueueConfig, Router

from ccroute_email.channel import _Controller

#: Every wait in these tests is bounded by this many seconds.
TIMEOUT = 10.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio."""
    return str(request.param)


# ------------------------------------------------------------------ the sink


class Sink:
    """An SMTP server on 127.0.0.1 (free port) that keeps what it receives.

    ``refuse`` set to an SMTP reply line makes it answer DATA with it instead.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse: str | None = None
        self._lock = threading.Lock()
        self._controller = _Controller(self, hostname="127.0.0.1", port=0, server_hostname="sink")

    @property
    def port(self) -> int:
        return int(self._controller.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse is not None:
            return self.refuse
        msg = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        with self._lock:
            self.messages.append((envelope.mail_from or "", list(envelope.rcpt_tos), msg))
        return "250 OK"

    def received(self) -> list[tuple[str, list[str], EmailMessage]]:
        with self._lock:
            return list(self.messages)

    def __enter__(self) -> Sink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """An SMTP sink standing in for the relay."""
    with Sink() as running:
        yield running


# ------------------------------------------------------------------- helpers


async def wait_until(predicate: Callable[[], object], timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


def make_mail(
    *,
    sender: str | None = "Carol Customer <Carol@Example.COM>",
    to: str = "support@centre.test",
    subject: str = "My order has not arrived",
    body: str = "Hello,\nmy order 1234 has not arrived.\n",
    message_id: str | None = "<order-1234@example.com>",
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """A customer's message, as a mail client would write it."""
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if message_id is not None:
        msg["Message-ID"] = message_id
    if in_reply_to is not None:
        msg["In-Reply-To"] = in_reply_to
    if references is not None:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def _send(port: int, raw: bytes, mail_from: str, to: Sequence[str]) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as smtp:
        return smtp.sendmail(mail_from, list(to), raw)


async def send_mail(
    port: int,
    msg: EmailMessage | bytes,
    *,
    mail_from: str = "carol@example.com",
    to: Sequence[str] = ("support@centre.test",),
) -> None:
    """Send over loopback with smtplib, from a worker thread (the service's loop
    must keep running meanwhile). Raises what smtplib raises."""
    raw = msg if isinstance(msg, bytes) else msg.as_bytes(policy=policy.SMTP)
    with anyio.fail_after(TIMEOUT):
        await anyio.to_thread.run_sync(_send, port, raw, mail_from, to)


# ------------------------------------------------------------- fake service


class FakeService:
    """The parts of ccroute.Service the channel uses, over a real Router.

    ``fail`` set to an exception makes :meth:`inbound` raise it (the service
    refusing); every call is kept in ``calls``.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.router = Router()
        self.router.add_queue(QueueConfig("email"))
        self.calls: list[Contact] = []
        self.fail: Exception | None = None
        self._token = anyio.lowlevel.current_token()
        self.task_group: anyio.abc.TaskGroup | None = None

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        assert self.task_group is not None
        self.task_group.start_soon(fn, *args)

    def run_from_thread(self, async_fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
        return anyio.from_thread.run(async_fn, *args, token=self._token)

    async def inbound(self, contact: Contact) -> list[Event]:
        self.calls.append(contact)
        if self.fail is not None:
            raise self.fail
        return self.router.submit(contact)


@contextlib.asynccontextmanager
async def fake_service(channel: Any, **settings: Any) -> AsyncIterator[FakeService]:
    """A fake service running ``channel`` with ``settings`` as its "email" settings."""
    service = FakeService({"email": settings})
    await channel.ccroute_start_channel(service)
    try:
        async with anyio.create_task_group() as tg:
            service.task_group = tg
            yield service
            tg.cancel_scope.cancel()
    finally:
        await channel.ccroute_stop_channel(service)
