"""The line chat channel: one TCP connection per customer, one line per message.

A customer connects and writes a first line; that becomes a contact on the
``chat`` channel of the configured queue, taken through
:meth:`~ccroute.hooktypes.ServiceHandle.inbound` (so IVR flows and the CRM
apply). The customer then hears the service's updates (position and
estimated wait while queued, the agent's arrival, the end) and the agent's
messages (:meth:`LineChat.say`); the customer's later lines go to the
application's ``on_message``. A customer who hangs up while waiting abandons.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from ccroute.errors import CCRouteError, InvalidValueError
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle
from ccroute.lifecycle import ContactState
from ccroute.model import Contact

__all__ = ["LineChat", "LineChatError"]

log = logging.getLogger("ccroute_linechat")


class LineChatError(InvalidValueError):
    """The channel's settings are wrong (a bad port, an unknown key)."""


class LineChat:
    """A channel adapter: a TCP listener whose customers chat a line at a time.

    :param host: address to listen on (loopback by default).
    :param port: port to listen on; 0 picks a free one (read :attr:`port` once started).
    :param queue: the queue new contacts join.
    :param channel: the ccroute channel of the contacts (``"chat"``).
    :param on_offer: called with each :class:`~ccroute.hooktypes.OfferDelivery`
        of this channel: the application shows it to the agent.
    :param on_message: called with ``(contact_id, text)`` for each line a
        customer writes after the first.
    :param max_line: longest line accepted, in bytes; a longer one ends the connection.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        queue: str = "support",
        channel: str = "chat",
        on_offer: Callable[[OfferDelivery], None] | None = None,
        on_message: Callable[[str, str], None] | None = None,
        max_line: int = 4096,
    ) -> None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise LineChatError(f"port must be an integer in 0..65535, got {port!r}")
        if isinstance(max_line, bool) or not isinstance(max_line, int) or max_line < 1:
            raise LineChatError(f"max_line must be a positive integer, got {max_line!r}")
        self.host, self.port, self.queue, self.channel = host, port, queue, channel
        self.on_offer, self.on_message, self.max_line = on_offer, on_message, max_line
        self._service: ServiceHandle | None = None
        self._listener: anyio.abc.Listener[anyio.abc.SocketStream] | None = None
        # The open connection of each live contact: where its updates go.
        self._customers: dict[str, _Line] = {}

    @property
    def running(self) -> bool:
        """Whether the channel listens."""
        return self._listener is not None

    # ----------------------------------------------------------- the hooks

    @hookimpl
    async def ccroute_start_channel(self, service: ServiceHandle) -> None:
        """Open the listener and serve customers in the service's task group."""
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self._service, self._listener = service, listener
        # Not awaited here: the hook has a timeout, the listener runs until stop.
        service.start_soon(self._serve, listener)
        log.info("line chat listening on %s:%d", self.host, self.port)

    @hookimpl
    async def ccroute_stop_channel(self, service: ServiceHandle) -> None:
        """Close the listener and every customer's connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.aclose()
        for line in list(self._customers.values()):
            await line.stream.aclose()
        self._customers.clear()

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool | None:
        """Hand this channel's offers to ``on_offer``; ``None`` for other channels."""
        if delivery.channel != self.channel or not self.running or self.on_offer is None:
            return None
        self.on_offer(delivery)
        return True

    @hookimpl
    async def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        """Tell the customer, in a line, what the service says happened."""
        line = self._customers.get(update.contact_id)
        if line is None or update.channel != self.channel:
            return
        if update.kind == "queued":
            wait = "unknown" if update.estimated_wait is None else f"{update.estimated_wait:.0f} s"
            await line.send(f"* you are number {update.position} in line (wait {wait})")
        elif update.kind == "answered":
            await line.send(f"* {update.agent_id} joined the chat")
        elif update.kind == "closed":
            await line.send(f"* chat closed ({update.reason})")
            self._customers.pop(update.contact_id, None)
            await line.stream.aclose()

    # ---------------------------------------------------- the agent's side

    async def say(self, contact_id: str, agent_id: str, text: str) -> None:
        """Send the agent's message to the customer of ``contact_id``.

        :raises LineChatError: the contact has no open connection here.
        """
        line = self._customers.get(contact_id)
        if line is None:
            raise LineChatError(f"contact {contact_id!r} has no open line chat")
        await line.send(f"{agent_id}: {text}")

    # ---------------------------------------------------- the customer's side

    async def _serve(self, listener: anyio.abc.Listener[anyio.abc.SocketStream]) -> None:
        try:
            await listener.serve(self._converse)
        except* anyio.ClosedResourceError:
            pass  # stop closed the listener: the normal end

    async def _converse(self, stream: anyio.abc.SocketStream) -> None:
        service = self._service
        assert service is not None
        lines = BufferedByteReceiveStream(stream)
        line = _Line(stream)
        contact_id = f"line-{uuid.uuid4().hex[:12]}"
        try:
            first = await self._line(lines)
            self._customers[contact_id] = line
            contact = Contact(contact_id, self.channel, self.queue, attributes={"first": first})
            try:
                await service.inbound(contact)
            except CCRouteError as error:  # refused: tell the customer why
                await line.send(f"* sorry, we cannot take your chat: {error}")
                return
            while True:
                text = await self._line(lines)
                if self.on_message is not None:
                    self.on_message(contact_id, text)
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError):
            pass  # the customer hung up (or we closed the chat)
        except anyio.DelimiterNotFound:
            await line.send(f"* lines are limited to {self.max_line} bytes")
        finally:
            if self._customers.pop(contact_id, None) is not None:
                await self._hung_up(contact_id)
            await stream.aclose()

    async def _hung_up(self, contact_id: str) -> None:
        """A customer who leaves before an agent answers abandons."""
        service = self._service
        if service is None or not service.running or contact_id not in service.router.contact_ids:
            return
        if service.router.contact(contact_id).state in (ContactState.WAITING, ContactState.OFFERED):
            await service.abandon(contact_id)

    async def _line(self, lines: BufferedByteReceiveStream) -> str:
        raw = await lines.receive_until(b"\n", self.max_line)
        return raw.decode("utf-8", errors="replace").rstrip("\r")


class _Line:
    """A customer's connection; sends one at a time (updates and the agent's
    messages come from different tasks, and a stream takes one writer)."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self._sending = anyio.Lock()

    async def send(self, text: str) -> None:
        # A customer who is gone cannot hear it; the reader's end notices and cleans up.
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            async with self._sending:
                await self.stream.send(text.encode() + b"\n")
