"""What a session asks of the world: :class:`FlowContext`, and two ready-made ones.

Conditions, callback offers and the clock need outside facts: the
customer's profile, whether a queue is open, its estimated wait, its
statistics, the time. A session asks them of a :class:`FlowContext` and
never looks anywhere else, so it stays sans-I/O and deterministic.

:class:`RouterFlowContext` answers from a :class:`ccroute.Router` (its
clock and ``queue_stats``) with callables for the rest;
:class:`FixedFlowContext` answers from plain values (tests, examples).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ..views import QueueStats

if TYPE_CHECKING:
    from ..hooktypes import RouterView
    from ..model import Contact

__all__ = ["FixedFlowContext", "FlowContext", "RouterFlowContext"]


class FlowContext(Protocol):
    """The outside facts a :class:`~ccroute.ivr.FlowSession` asks for.

    Every method is called inline by the session and must not block: an
    application that reads them from a remote system fetches them first
    (the service's driver looks the profile up before it starts a session).
    A method may raise a :class:`~ccroute.CCRouteError` for a queue it does
    not know: the session then takes the fact as missing.
    """

    @property
    def now(self) -> float:
        """The current time, in the router's clock seconds."""
        ...

    def profile(self, customer_id: str | None) -> Mapping[str, Any]:
        """The customer's profile (empty when unknown or ``customer_id`` is ``None``)."""
        ...

    def is_open(self, queue: str) -> bool:
        """Whether ``queue`` is within its business hours now."""
        ...

    def estimated_wait(self, queue: str, contact: Contact | None = None) -> float | None:
        """Seconds a contact entering ``queue`` now should wait, or ``None`` when
        unknown. ``contact`` is the caller's contact as the flow would route it
        to ``queue`` now (its channel, requirements, priority and tier)."""
        ...

    def queue_stats(self, queue: str) -> QueueStats:
        """The queue's figures now (:meth:`ccroute.Router.queue_stats`)."""
        ...


def _no_profile(customer_id: str | None) -> Mapping[str, Any]:
    return {}


@attrs.define(slots=True)
class RouterFlowContext:
    """A :class:`FlowContext` that reads a :class:`~ccroute.Router`: its time
    (``router.now``) and ``queue_stats``, with callables for the rest.

    :param router: the router whose queues the flow routes to (a
        :class:`~ccroute.Router`, or the service's read-only view of one).
    :param profiles: customer id to profile; default: no profiles.
    :param is_open: queue to whether it is open; default: the router's
        business hours (:meth:`Router.is_open <ccroute.Router.is_open>`).
    :param estimated_wait: queue to its estimated wait; default: the
        router's estimate for the caller's contact as the flow would route it
        (:meth:`Router.estimate_wait <ccroute.Router.estimate_wait>`; unknown
        without a contact).
    """

    router: RouterView
    profiles: Callable[[str | None], Mapping[str, Any]] = _no_profile
    open_hours: Callable[[str], bool] | None = attrs.field(default=None, alias="is_open")
    wait: Callable[[str], float | None] | None = attrs.field(default=None, alias="estimated_wait")

    @property
    def now(self) -> float:
        """The router's time (of its last call)."""
        return self.router.now

    def profile(self, customer_id: str | None) -> Mapping[str, Any]:
        """``profiles(customer_id)``."""
        return self.profiles(customer_id)

    def is_open(self, queue: str) -> bool:
        """``is_open(queue)`` as given (default: the router's calendar for it)."""
        if self.open_hours is None:
            return self.router.is_open(queue)
        return self.open_hours(queue)

    def estimated_wait(self, queue: str, contact: Contact | None = None) -> float | None:
        """``estimated_wait(queue)`` as given; by default the router's estimate
        for ``contact`` in ``queue`` (``None`` without a contact)."""
        if self.wait is not None:
            return self.wait(queue)
        if contact is None:
            return None
        return self.router.estimate_wait(
            queue,
            contact.channel,
            dict(contact.requirements),
            priority_seconds=contact.priority_seconds,
            tier=contact.tier,
        )

    def queue_stats(self, queue: str) -> QueueStats:
        """``router.queue_stats(queue)`` (raises ``UnknownIdError`` for an unknown queue)."""
        return self.router.queue_stats(queue)


@attrs.define(slots=True)
class FixedFlowContext:
    """A :class:`FlowContext` of plain values that a test or an example sets.

    :param now: the current time (assign to move it).
    :param profiles: customer id to profile.
    :param closed: the queues that are closed (every other one is open).
    :param waits: queue to estimated wait (missing: unknown).
    :param stats: queue to its statistics (missing: an empty queue with no one logged in).
    """

    now: float = 0.0
    profiles: dict[str, Mapping[str, Any]] = attrs.Factory(dict)
    closed: set[str] = attrs.Factory(set)
    waits: dict[str, float] = attrs.Factory(dict)
    stats: dict[str, QueueStats] = attrs.Factory(dict)

    def profile(self, customer_id: str | None) -> Mapping[str, Any]:
        """The profile under ``customer_id``, or an empty one."""
        return {} if customer_id is None else self.profiles.get(customer_id, {})

    def is_open(self, queue: str) -> bool:
        """Whether ``queue`` is not in ``closed``."""
        return queue not in self.closed

    def estimated_wait(self, queue: str, contact: Contact | None = None) -> float | None:
        """``waits[queue]``, or ``None`` (whatever the contact)."""
        return self.waits.get(queue)

    def queue_stats(self, queue: str) -> QueueStats:
        """``stats[queue]``, or zeros."""
        return self.stats.get(queue) or QueueStats(queue, 0, 0, 0, 0)
