"""Rejoin: a customer who abandoned and comes back gets the place it left.

The rule, as docs/policies/rejoin.md states it: when a contact with a
customer id is abandoned in a queue with a ``rejoin_window`` of *s* seconds,
its key (its place in line) is kept for that customer and queue for *s*
seconds. The first contact of the same customer submitted to the same queue
within the window (*s* seconds later still counts) takes that key; the place
is then used up. Only the latest abandon per customer and queue is kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..._codes import Key

if TYPE_CHECKING:
    from ...model import Contact, QueueConfig

__all__ = ["Rejoins"]


class Rejoins:
    """The places kept for customers who abandoned, and when each lapses.

    ``places`` is state (the snapshot's ``rejoins``); ``expiry`` is rebuilt
    from it.
    """

    __slots__ = ("expiry", "places")

    def __init__(self) -> None:
        #: (customer, queue) -> (key, until, id of the abandoned contact)
        self.places: dict[tuple[str, str], tuple[Key, float, str]] = {}
        #: (until, customer, queue), a heap: the places in the order they lapse
        self.expiry: list[tuple[float, str, str]] = []

    def take(self, contact: Contact, config: QueueConfig, now: float) -> tuple[Key, str] | None:
        """The key and id of the contact this customer abandoned in the queue
        within its window, used up by this arrival (``None``: no place kept)."""
        self._expire(now)
        if contact.customer_id is None or config.rejoin_window is None:
            return None
        entry = self.places.pop((contact.customer_id, config.name), None)
        if entry is None:
            return None
        key, _until, previous = entry
        return key, previous

    def keep(
        self,
        customer: str | None,
        queue: str,
        window: float | None,
        key: Key,
        contact_id: str,
        now: float,
    ) -> None:
        """A contact was abandoned: keep its place for its customer's return."""
        self._expire(now)
        if window is None or customer is None:
            return
        until = now + window
        self.places[(customer, queue)] = (key, until, contact_id)
        heapq.heappush(self.expiry, (until, customer, queue))

    def load(self, kept: Iterable[tuple[str, str, Key, float, str]]) -> None:
        """Restore the kept places from a snapshot's ``(customer, queue, key,
        until, contact id)`` records, in the document's order."""
        kept = list(kept)
        self.places = {(c, q): (key, until, contact) for c, q, key, until, contact in kept}
        self.expiry = [(until, c, q) for c, q, _key, until, _contact in kept]
        heapq.heapify(self.expiry)

    def _expire(self, now: float) -> None:
        # A place lapses once its window is over (a return at its very end counts).
        expiry = self.expiry
        while expiry and expiry[0][0] < now:
            until, customer, queue = heapq.heappop(expiry)
            entry = self.places.get((customer, queue))
            if entry is not None and entry[1] == until:
                del self.places[(customer, queue)]
