"""One bounded queue of outgoing messages per browser connection.

The service's hooks put messages here and return at once; a task of the
connection sends them. A browser that does not read falls behind, its queue
fills, and it is disconnected instead of holding anything up.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["Outbox"]


class Outbox:
    """A bounded queue of text frames for one connection.

    :param size: frames that may wait; one more and the connection is dropped.

    :attr:`on_overflow`, when set, is called (once) when the outbox overflows:
    the connection's handler stops its tasks, even a send stuck on a browser
    that does not read.
    """

    __slots__ = ("_receive", "_send", "on_overflow", "overflowed")

    def __init__(self, size: int) -> None:
        self._send: MemoryObjectSendStream[str]
        self._receive: MemoryObjectReceiveStream[str]
        self._send, self._receive = anyio.create_memory_object_stream[str](size)
        #: Whether the connection fell too far behind (it is being dropped).
        self.overflowed = False
        #: Called once when the outbox overflows.
        self.on_overflow: Callable[[], object] | None = None

    def put(self, frame: str) -> bool:
        """Queue ``frame``; ``False`` (and the outbox closes) when it is full or closed. O(1)."""
        try:
            self._send.send_nowait(frame)
        except anyio.WouldBlock:
            self.overflowed = True
            self._send.close()
            if self.on_overflow is not None:
                self.on_overflow()
            return False
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            return False
        return True

    def close(self) -> None:
        """No more frames: the sender finishes what is queued, then stops."""
        self._send.close()

    async def frames(self) -> MemoryObjectReceiveStream[str]:
        """The frames to send, in order (iterate it; it ends when the outbox closes)."""
        return self._receive

    @property
    def pending(self) -> int:
        """Frames waiting to be sent."""
        return self._receive.statistics().current_buffer_used
