"""Web chat conversations: the customer's side of a chat contact.

A :class:`Chat` is one conversation: its transcript, its resume token, the
customer's connection (an :class:`~ccroute_web._outbox.Outbox`) while there
is one, and where it stands. :class:`Chats` holds them by contact id and by
token. Everything here runs on the service's event loop and never awaits a
browser: a message to the customer is put on its outbox.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterator
from typing import Literal

import attrs
import msgspec

from ._outbox import Outbox
from ._schemas import Message

__all__ = ["Chat", "ChatState", "Chats", "Sender", "frame"]

#: Where a conversation stands, as the customer socket's ``welcome`` says.
ChatState = Literal["new", "flow", "queued", "connected", "closed"]

#: Who wrote a message.
Sender = Literal["customer", "agent", "bot", "system"]

_encoder = msgspec.json.Encoder()


def frame(kind: str, **fields: object) -> str:
    """One JSON text frame ``{"type": kind, **fields}``."""
    return _encoder.encode({"type": kind, **fields}).decode()


@attrs.define(slots=True, eq=False)
class Chat:
    """One web chat conversation (one contact)."""

    #: The contact id (``web-`` and 16 hex digits).
    id: str
    #: The customer's secret to resume the conversation.
    token: str
    #: The client address that opened it (for the per-address limit).
    address: str
    transcript: deque[Message]
    state: ChatState = "new"
    #: The customer's display name, from the first message.
    name: str | None = None
    #: The customer's connection, while connected.
    outbox: Outbox | None = None
    #: The agent who answered it, once answered.
    agent_id: str | None = None
    #: The flow session while the chatbot runs (a ccroute LiveSession).
    session: object | None = None
    #: Whether the chatbot's current prompt is sensitive (the answer is not kept).
    sensitive: bool = False
    #: Counts the customer's disconnections: a grace timer acts only on its own.
    generation: int = 0
    #: Why it closed, once closed.
    reason: str | None = None
    _seq: int = 0

    @property
    def connected(self) -> bool:
        """Whether the customer's socket is open."""
        return self.outbox is not None

    def add(self, sender: Sender, text: str, at: float, agent: str | None = None) -> Message:
        """Append a message to the transcript (the oldest drop beyond its bound). O(1)."""
        self._seq += 1
        message = Message(seq=self._seq, sender=sender, text=text, at=at, agent=agent)
        self.transcript.append(message)
        return message

    def send(self, data: str) -> None:
        """Put a frame on the customer's outbox, if connected (a full one drops the
        customer: its socket's handler stops and detaches it)."""
        if self.outbox is not None:
            self.outbox.put(data)


@attrs.define(slots=True)
class Chats:
    """The conversations, by contact id and by resume token, with their limits."""

    max_transcript: int
    max_conversations: int
    per_address: int
    _by_id: dict[str, Chat] = attrs.field(factory=dict)
    _by_token: dict[str, Chat] = attrs.field(factory=dict)
    _addresses: dict[str, int] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Chat]:
        return iter(list(self._by_id.values()))

    def open(self, address: str) -> Chat | None:
        """A new conversation for a customer at ``address``; ``None`` when a limit is reached."""
        if len(self._by_id) >= self.max_conversations:
            return None
        if self._addresses.get(address, 0) >= self.per_address:
            return None
        chat = Chat(
            id=f"web-{secrets.token_hex(8)}",
            token=secrets.token_urlsafe(16),
            address=address,
            transcript=deque(maxlen=self.max_transcript),
        )
        self._by_id[chat.id] = chat
        self._by_token[chat.token] = chat
        self._addresses[address] = self._addresses.get(address, 0) + 1
        return chat

    def get(self, contact_id: str) -> Chat | None:
        """The conversation of ``contact_id``, or ``None``."""
        return self._by_id.get(contact_id)

    def by_token(self, token: str) -> Chat | None:
        """The conversation a resume token opens, or ``None`` (unknown or closed)."""
        chat = self._by_token.get(token)
        return None if chat is None or chat.state == "closed" else chat

    def forget(self, chat: Chat) -> None:
        """Drop a conversation (its token no longer resumes it)."""
        if self._by_id.pop(chat.id, None) is None:
            return
        self._by_token.pop(chat.token, None)
        left = self._addresses.get(chat.address, 1) - 1
        if left > 0:
            self._addresses[chat.address] = left
        else:
            self._addresses.pop(chat.address, None)
