"""The interface the router uses on its universal queue, as a typed Protocol.

:class:`QueueBackend` lists exactly the methods :class:`~ccroute.Router`
calls on the queue it holds (``Router._q``), with the types it passes and
expects back. Three classes implement it: the pure-Python twin
(:class:`ccroute._queue_py.UniversalQueue`), the compiled twin
(:class:`ccroute._fastqueue.UniversalQueue`, typed by ``_fastqueue.pyi``) and
the brute-force reference of the tests (``tests/reference.py``). mypy checks
the two twins against it here (see the end of this module) and the reference
in ``tests/test_queue_protocol.py``; the twins' extra methods (``reindex``,
``first``, ``iter_waiting``, ``check`` …) serve the tests and are not part of
it.

Every parameter is positional-only because the router passes every argument
by position: an implementation may name its parameters as it likes. The
interface speaks small integers only (docs/implementation.md): channel,
queue, skill, agent and contact handles, signature handles and the strategy
codes of :mod:`ccroute._codes`, where ``-1`` (:data:`~ccroute._codes.NONE`)
means "no agent" or "no contact".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from ._codes import Key

__all__ = ["QueueBackend", "occupied_share"]


def occupied_share(units: int, budget: int, held: int, slots: int) -> float:
    """Least-occupied's rule: the share of an agent's capacity in use, lower first.

    ``units`` in use of a unit ``budget`` (``-1``: the agent has none), else
    ``held`` contacts over ``slots``, its capacity summed over every channel.
    A budget of 0 (the agent may hold only zero-cost work) and no slots at all
    count as full: 1.0. This is the one statement of the rule: the pure twin
    orders agents by it, the router's offer reasons score ``1 - share`` with
    it, and the compiled twin's ``_key`` is its C transcription (the offer
    reason tests hold both twins to it).
    """
    if budget >= 0:
        return units / budget if budget else 1.0
    return held / slots if slots else 1.0


class QueueBackend(Protocol):
    """The universal queue and skills matcher, as the router uses it."""

    def add_channel(self, ch: int, unit_cost: int, exclusive: bool, /) -> None:
        """Declare channel ``ch``; handles are dense (0, 1, 2 …)."""

    def add_agent(
        self,
        a: int,
        agent_id: str,
        skills: Mapping[int, int],
        queues: Collection[int],
        capacity: Iterable[int],
        budget: int,
        now: float,
        /,
    ) -> None:
        """Add agent ``a``, logged out and unavailable (``budget``: -1 for none)."""

    def remove_agent(self, a: int, /) -> None:
        """Forget agent ``a``, which holds no contacts."""

    def set_logged_in(self, a: int, logged_in: bool, /) -> None:
        """Record whether agent ``a`` is logged in (available or not-ready)."""

    def set_available(self, a: int, available: bool, now: float, /) -> None:
        """Make agent ``a`` available for offers or not; becoming available restarts its idle time."""

    def set_capacity(self, a: int, ch: int, capacity: int, /) -> None:
        """Set agent ``a``'s maximum on channel ``ch``."""

    def occupy(self, a: int, ch: int, /) -> None:
        """Agent ``a`` takes one more contact on ``ch``."""

    def release(self, a: int, ch: int, now: float, /) -> None:
        """Agent ``a`` frees one contact's slot on ``ch``; its idle time restarts at ``now``."""

    def count_handled(self, a: int, n: int = 1, /) -> None:
        """Count ``n`` more contacts handled by agent ``a`` (for fewest-handled)."""

    def has_spare(self, a: int, ch: int, /) -> bool:
        """Whether agent ``a`` could take one more contact on ``ch`` now."""

    def signature(
        self, ch: int, requirements: Iterable[tuple[int, int]], queues: Collection[int], /
    ) -> int:
        """The handle of the signature (channel, required skill levels, queues), interned."""

    def insert(self, c: int, key: Key, g: int, target: int = -1, /) -> None:
        """Queue contact ``c`` with static ``key`` under signature ``g`` (for ``target`` only, if given)."""

    def remove(self, c: int, /) -> None:
        """Take contact ``c`` out of the queue."""

    def best_contact(
        self, a: int, barred: Collection[int] = (), blocked: Collection[int] = (), /
    ) -> int:
        """The waiting contact with the smallest key that agent ``a`` may take now, or -1."""

    def best_agent(
        self,
        g: int,
        strategy: int,
        target: int = -1,
        rr_after: str | None = None,
        barred: Collection[int] = (),
        /,
    ) -> int:
        """The agent a contact of signature ``g`` goes to under ``strategy``, or -1."""

    def eligible_agents(
        self, g: int, target: int = -1, barred: Collection[int] = (), /
    ) -> list[int]:
        """Every agent that may take a contact of signature ``g`` now, in agent-id order."""

    def any_logged_in(self, g: int, exclude: Collection[int] = (), /) -> bool:
        """Whether a logged-in agent not in ``exclude`` could ever take signature ``g``."""

    def __len__(self) -> int:
        """The number of waiting contacts."""


if TYPE_CHECKING:
    # mypy checks both twins against the Protocol here; nothing runs.
    from . import _fastqueue, _queue_py

    def _pure_conforms(queue: _queue_py.UniversalQueue) -> QueueBackend:
        return queue

    def _compiled_conforms(queue: _fastqueue.UniversalQueue) -> QueueBackend:
        return queue
