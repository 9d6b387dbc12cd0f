"""The email channel adapter: an SMTP server in, a relay out, threads in between.

Threads and loops, because aiosmtpd is asyncio-only and the service may run
on trio:

- aiosmtpd's :class:`~aiosmtpd.controller.Controller` runs in its own thread
  with its own asyncio loop; it only speaks SMTP.
- Each received message is parsed and handed to the service from a worker
  thread of the channel's own pool (never on the controller's loop, which
  must keep serving other connections) through
  ``service.run_from_thread(service.inbound, contact)``, which blocks that
  worker until the contact is durable.
- Replies go out through :mod:`smtplib` in an anyio worker thread.
- What the channel remembers (:class:`ThreadMap`, :class:`OfferInbox`) is
  guarded by locks, so any of these threads may touch it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import smtplib
import threading
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

import anyio
import anyio.to_thread
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from ccroute.errors import CCRouteError
from ccroute.events import (
    Abandoned,
    Accepted,
    Completed,
    Event,
    OfferRescinded,
    OfferTimedOut,
    Refused,
    Rejected,
    Transferred,
)
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle
from ccroute.model import Contact

from ._errors import EmailError
from ._memory import OfferInbox, ThreadMap
from ._message import MailRecord, MalformedMailError, build_message, parse_mail
from ._settings import EmailSettings

__all__ = ["CHANNEL", "EmailChannel", "ServiceLike", "channels_of"]

#: The ccroute channel this adapter serves.
CHANNEL = "email"

log = logging.getLogger("ccroute_email")

#: Longest reason text put in an SMTP reply line.
_MAX_REASON = 300

# Which channels serve which running service, by id(service): lets the
# entry-point default step aside for a service with a channel of its own.
_serving: dict[int, list[EmailChannel]] = {}
_serving_lock = threading.Lock()


def channels_of(service: object) -> list[EmailChannel]:
    """The :class:`EmailChannel` instances started (or starting) for ``service``."""
    with _serving_lock:
        return list(_serving.get(id(service), ()))


def _claim(service: object, channel: EmailChannel) -> None:
    with _serving_lock:
        _serving.setdefault(id(service), []).append(channel)


def _release(service: object, channel: EmailChannel) -> None:
    with _serving_lock:
        channels = _serving.get(id(service), [])
        if channel in channels:
            channels.remove(channel)
        if not channels:
            _serving.pop(id(service), None)


#: What the channel uses of the service: ccroute's own narrow protocol for
#: channel adapters (``settings``, ``router`` for reading, ``start_soon``,
#: ``run_from_thread``, ``inbound``). Kept under this name for code that used it.
ServiceLike = ServiceHandle


def _one_line(text: object) -> str:
    """A reason fit for an SMTP reply: one line, bounded length."""
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 3] + "..."


class _Controller(Controller):
    """aiosmtpd's threaded controller, reading back the port it bound.

    Stock aiosmtpd cannot start on port 0: it pokes the server at the port it
    was given to make it initialise. Binding first and then recording the
    real port fixes both. It also waits its whole ready timeout before
    reporting that the address could not be bound; this reports it at once.
    """

    def _run(self, ready_event: threading.Event) -> None:
        try:
            super()._run(ready_event)
        finally:
            if self._thread_exception is not None:
                if not self.loop.is_running() and not self.loop.is_closed():
                    self.loop.close()
                ready_event.set()  # start() goes on to _trigger_server, which raises

    def _trigger_server(self) -> None:
        if self._thread_exception is not None:
            raise self._thread_exception
        super()._trigger_server()  # type: ignore[no-untyped-call]

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
        return server


class _Handler:
    """aiosmtpd handler: every message goes to the channel from a worker thread."""

    def __init__(self, channel: EmailChannel, service: ServiceHandle, pool: ThreadPoolExecutor):
        self._channel = channel
        self._service = service
        self._pool = pool

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        receive = functools.partial(
            self._channel._receive,
            self._service,
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.original_content or b""),
        )
        # Not on this loop: the service call blocks until the contact is durable.
        return await asyncio.get_running_loop().run_in_executor(self._pool, receive)


class EmailChannel:
    """The email channel: mail received over SMTP becomes contacts, agents reply
    through a relay, and a customer's answer goes back to the agent who wrote.

    Register an instance as a ccroute plugin (its methods are the hook
    implementations), or let the ``ccroute`` entry point load
    :mod:`ccroute_email.plugin`, which is a default instance. Keyword
    arguments are :class:`EmailSettings` fields; they override the service's
    ``"email"`` settings, which override the defaults.

    :param on_offer: called with each :class:`~ccroute.hooktypes.OfferDelivery`
        of the email channel after it enters :attr:`offers`, in a worker
        thread; an exception is the hook's failure (logged and counted by the
        service).
    :param on_mail: called with the :class:`~ccroute.Contact` and the raw bytes
        of each message once the contact is durable (to archive the message or
        its attachments, which the contact does not carry), in a worker
        thread; an exception is logged and does not affect the SMTP answer.
    :raises EmailError: for an unknown setting or a value out of range.
    """

    def __init__(
        self,
        *,
        on_offer: Callable[[OfferDelivery], object] | None = None,
        on_mail: Callable[[Contact, bytes], object] | None = None,
        **settings: Any,
    ) -> None:
        self._overrides: dict[str, Any] = dict(settings)
        self._settings = EmailSettings.from_mapping(self._overrides)
        #: Called with each email offer (see above); may be set after construction,
        #: e.g. on the entry-point plugin's default channel.
        self.on_offer = on_offer
        #: Called with each durable contact and its raw message (see above).
        self.on_mail = on_mail
        #: Open offers of the email channel, by agent id.
        self.offers = OfferInbox()
        #: Conversations, by Message-ID (in memory only).
        self.threads = ThreadMap(self._settings.memory)
        self._lock = threading.Lock()
        self._service: ServiceHandle | None = None
        self._controller: _Controller | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._acknowledged: set[str] = set()

    def __repr__(self) -> str:
        where = (
            "stopped" if self.port is None else f"listening on {self._settings.host}:{self.port}"
        )
        return f"<EmailChannel {where}, queue {self._settings.queue!r}>"

    # ------------------------------------------------------------- properties

    @property
    def settings(self) -> EmailSettings:
        """The settings in force: the service's merged with the keyword arguments once started."""
        return self._settings

    @property
    def port(self) -> int | None:
        """The port the SMTP server is bound to (the real one when ``port`` was 0),
        or ``None`` while stopped."""
        controller = self._controller
        return None if controller is None else int(controller.port)

    @property
    def running(self) -> bool:
        """Whether the SMTP server is listening."""
        return self._controller is not None

    # ------------------------------------------------------------------ hooks

    @hookimpl
    async def ccroute_start_channel(self, service: ServiceHandle) -> None:
        """Read the ``"email"`` settings and start the SMTP server, unless the
        setting ``enabled`` is ``False`` (then the channel serves the service
        without listening: nothing arrives by mail).

        :raises EmailError: bad settings, already started for another service,
            or the address cannot be bound.
        """
        raw = service.settings.get(CHANNEL) or {}
        settings = EmailSettings.from_mapping(raw, self._overrides)
        with self._lock:
            if self._service is not None:
                raise EmailError(
                    "this EmailChannel is already started for a service; "
                    "use one EmailChannel per service"
                )
            self._service = service
        _claim(service, self)
        self._settings = settings
        self.threads.capacity = settings.memory
        if not settings.enabled:
            log.info("email channel not listening: the email setting 'enabled' is false")
            return
        pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="ccroute-email")
        controller = _Controller(
            _Handler(self, service, pool),
            hostname=settings.host,
            port=settings.port,
            server_hostname=settings.server_hostname or settings.host,
            data_size_limit=settings.max_message_size,
        )
        started = threading.Event()

        def start() -> None:
            controller.start()
            started.set()

        try:
            await anyio.to_thread.run_sync(start)
        except BaseException as exc:
            # Cancelled (the hook timed out) after the server came up: take it down.
            if started.is_set():
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(controller.stop)
            pool.shutdown(wait=False, cancel_futures=True)
            with self._lock:
                self._service = None
            _release(service, self)
            if isinstance(exc, Exception):
                raise EmailError(
                    f"email channel cannot listen on {settings.host}:{settings.port}: {exc}"
                ) from exc
            raise
        self._controller, self._pool = controller, pool
        log.info("email channel listening on %s:%s", settings.host, controller.port)

    @hookimpl
    async def ccroute_stop_channel(self, service: ServiceHandle) -> None:
        """Stop the SMTP server; mail being handed over is finished or refused by the service."""
        with self._lock:
            if self._service is not service:
                return
            controller, pool = self._controller, self._pool
            self._controller = self._pool = None
        if controller is not None:
            await anyio.to_thread.run_sync(controller.stop)
        if pool is not None:
            # The service has stopped taking calls, so workers still inside
            # run_from_thread return (with a 451) on their own; don't wait.
            pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            self._service = None
        _release(service, self)
        log.info("email channel stopped")

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool | None:
        """Put an email offer in :attr:`offers` and call ``on_offer``; ``None`` for other channels."""
        if delivery.channel != CHANNEL:
            return None
        self.offers.add(delivery)
        if self.on_offer is not None:
            self.on_offer(delivery)
        return True

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> None:
        """Keep :attr:`offers` to open offers, and learn who handles each thread."""
        # Cheap and lock-only: runs on the service's loop, no thread hop per batch.
        for event in events:
            if isinstance(event, Accepted):
                self.offers.remove(event.contact_id, event.agent_id)
                if event.channel == CHANNEL:
                    self.threads.handled(event.contact_id, event.agent_id)
            elif isinstance(event, (Rejected, OfferTimedOut, OfferRescinded)):
                self.offers.remove(event.contact_id, event.agent_id)
            elif isinstance(event, (Abandoned, Transferred, Completed)):
                self.offers.remove(event.contact_id)

    @hookimpl
    async def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        """Log the update; acknowledge a newly queued mail when ``auto_acknowledge`` is set."""
        if update.channel != CHANNEL:
            return
        log.debug("email contact %s: %s", update.contact_id, update.kind)
        settings = self._settings
        service = self._service
        if update.kind != "queued" or not settings.auto_acknowledge or service is None:
            return
        if settings.from_address is None:
            log.warning("auto_acknowledge is set but from_address is not: nothing sent")
            return
        record = self.threads.record(update.contact_id)
        with self._lock:
            if record is None or record.automatic or update.contact_id in self._acknowledged:
                return
            self._acknowledged.add(update.contact_id)
            if len(self._acknowledged) > settings.memory:
                self._acknowledged.clear()  # only guards against a second ack of a requeue
        # In the background: the relay may be slower than the hook timeout.
        service.start_soon(self._acknowledge, record)

    # -------------------------------------------------------------- outbound

    async def reply(
        self,
        service: ServiceHandle,
        contact_id: str,
        agent_id: str,
        body: str,
        *,
        subject: str | None = None,
    ) -> str:
        """Send the agent's reply to the customer of ``contact_id`` through the relay.

        The message goes ``To`` the customer (``Reply-To`` when they gave
        one), with ``Subject`` "Re: <their subject>" unless ``subject`` is
        given, ``In-Reply-To`` and ``References`` naming their message, and a
        new ``Message-ID``, which the channel remembers: the customer's answer
        to it comes back to ``agent_id`` first. The contact is looked up in the
        channel's memory, then in the router (a live contact after a restart).

        :returns: the reply's ``Message-ID``.
        :raises EmailError: ``from_address`` is not set, the contact is not an
            email contact the channel or the router knows, or the relay
            refuses the message or cannot be reached.
        """
        settings = self._settings
        if settings.from_address is None:
            raise EmailError(
                f"cannot reply to contact {contact_id!r}: the email setting 'from_address' is not set"
            )
        record = self.threads.record(contact_id) or self._record_from_router(service, contact_id)
        if record is None:
            raise EmailError(
                f"cannot reply to contact {contact_id!r}: it is not an email contact the "
                f"email channel knows (unknown id, another channel, or forgotten)"
            )
        msg = build_message(record, from_address=settings.from_address, body=body, subject=subject)
        await anyio.to_thread.run_sync(self._send, settings, msg, record.reply_to)
        message_id = str(msg["Message-ID"])
        self.threads.add_message(message_id, record.thread, agent_id)
        log.info("email contact %s: %s replied as %s", contact_id, agent_id, message_id)
        return message_id

    @staticmethod
    def _record_from_router(service: ServiceHandle, contact_id: str) -> MailRecord | None:
        try:
            view = service.router.contact(contact_id)
        except (KeyError, CCRouteError):
            return None
        if view.channel != CHANNEL:
            return None
        return MailRecord.from_attributes(contact_id, view.customer_id, view.attributes)

    @staticmethod
    def _send(settings: EmailSettings, msg: EmailMessage, to: str) -> None:
        """Hand ``msg`` to the relay (blocking: run in a worker thread)."""
        where = f"{settings.relay_host}:{settings.relay_port}"
        try:
            with smtplib.SMTP(
                settings.relay_host, settings.relay_port, timeout=settings.relay_timeout
            ) as smtp:
                smtp.send_message(msg, from_addr=settings.from_address, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()), (0, b""))
            raise EmailError(
                f"relay {where} refused recipient {to}: {code} {_decode(text)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise EmailError(
                f"relay {where} refused the message to {to}: {exc.smtp_code} {_decode(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise EmailError(f"cannot send to {to} through relay {where}: {exc}") from exc

    async def _acknowledge(self, record: MailRecord) -> None:
        settings = self._settings
        assert settings.from_address is not None
        msg = build_message(
            record,
            from_address=settings.from_address,
            body=settings.acknowledgement,
            # RFC 3834: marks it automatic so that the customer's robots don't answer.
            extra_headers=[("Auto-Submitted", "auto-replied")],
        )
        try:
            await anyio.to_thread.run_sync(self._send, settings, msg, record.reply_to)
        except EmailError as exc:
            log.warning("email contact %s: acknowledgement not sent: %s", record.contact_id, exc)
            return
        self.threads.add_message(str(msg["Message-ID"]), record.thread)

    # --------------------------------------------------------------- inbound

    def _receive(
        self, service: ServiceHandle, mail_from: str | None, rcpt_tos: list[str], raw: bytes
    ) -> str:
        """Turn one received message into a contact; returns the SMTP reply line.

        Runs in a channel worker thread. ``250`` only once ``service.inbound``
        returned, i.e. the contact is durable.
        """
        settings = self._settings
        if len(raw) > settings.max_message_size:
            return (
                f"552 5.3.4 Message too big: {len(raw)} bytes, the limit is "
                f"{settings.max_message_size} bytes"
            )
        try:
            mail = parse_mail(
                raw, mail_from=mail_from, rcpt_tos=rcpt_tos, max_body_chars=settings.max_body_chars
            )
        except MalformedMailError as exc:
            log.info("refused a message from %r: %s", mail_from, exc)
            return f"{exc.code} {exc.status} Message refused: {_one_line(exc)}"
        attached = sum(int(a["size"]) for a in mail.attachments)
        if settings.max_attachments_size is not None and attached > settings.max_attachments_size:
            return (
                f"552 5.3.4 Attachments too big: {attached} bytes in all, the limit is "
                f"{settings.max_attachments_size} bytes"
            )

        contact_id = f"email-{uuid.uuid4().hex}"
        known = self.threads.find(mail.thread_candidates())
        thread, agent = known if known is not None else (contact_id, None)
        try:
            contact = Contact(
                id=contact_id,
                channel=CHANNEL,
                queue=settings.queue,
                requirements=settings.requirements,
                priority_seconds=settings.priority_seconds,
                customer_id=mail.customer,
                attributes=mail.attributes(thread),
                preferred_agent=agent,
                preferred_wait=settings.preferred_wait if agent is not None else 0.0,
            )
        except CCRouteError as exc:
            return f"451 4.3.5 Cannot take the message now: {_one_line(exc)}"
        record = MailRecord(
            contact_id=contact_id,
            thread=thread,
            customer=mail.customer,
            reply_to=mail.reply_to,
            subject=mail.subject,
            message_id=mail.message_id,
            references=mail.references,
            automatic=mail.automatic,
        )
        # Known before the service call returns, because the agent may accept
        # (and the customer update arrive) before it does; its message joins
        # the thread map only once the contact is durable.
        self.threads.add_contact(record)
        try:
            events = service.run_from_thread(service.inbound, contact)
        except Exception as exc:
            self.threads.forget_contact(contact_id)
            log.warning("email from %s not taken: %s: %s", mail.customer, type(exc).__name__, exc)
            return (
                f"451 4.3.0 Cannot take the message now, please retry later: "
                f"{_one_line(f'{type(exc).__name__}: {exc}')}"
            )
        for event in events or ():
            if isinstance(event, Refused) and event.contact_id == contact_id:
                self.threads.forget_contact(contact_id)
                return (
                    f"451 4.3.1 Cannot take the message now, please retry later: "
                    f"{_one_line(event.reason)}"
                )
        if mail.message_id is not None:
            self.threads.add_message(mail.message_id, thread)
        log.info("email from %s is contact %s (thread %s)", mail.customer, contact_id, thread)
        if self.on_mail is not None:
            try:
                self.on_mail(contact, raw)
            except Exception:
                log.exception("on_mail callback failed for contact %s", contact_id)
        return f"250 2.0.0 OK: queued as {contact_id}"


def _decode(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else text
