"""What the channel remembers: conversations (threads) and open offers.

Both are touched from several threads (the SMTP workers, the service's event
loop, hook worker threads), so each guards its state with one lock and hands
out copies, never its own containers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeVar

from ccroute.hooktypes import OfferDelivery

from ._message import MailRecord

__all__ = ["OfferInbox", "ThreadMap"]


_V = TypeVar("_V")


def _touch(store: OrderedDict[str, _V], key: str, value: _V, capacity: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > capacity:
        store.popitem(last=False)


class ThreadMap:
    """Conversations by Message-ID: which thread a message belongs to, who last
    handled each thread, and the email contacts the channel can reply to.

    In memory only, and bounded: past ``capacity`` entries of each kind the
    least recently used are forgotten. Every method is O(1) (``find`` is
    O(number of ids given)).
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._threads: OrderedDict[str, str] = OrderedDict()  # message id -> thread id
        self._agents: OrderedDict[str, str] = OrderedDict()  # thread id -> agent id
        self._records: OrderedDict[str, MailRecord] = OrderedDict()  # contact id -> record

    def find(self, message_ids: Iterable[str]) -> tuple[str, str | None] | None:
        """The thread the first known id belongs to and the agent who last
        handled it (``None`` if no agent has yet), or ``None`` if no id is known."""
        with self._lock:
            for mid in message_ids:
                thread = self._threads.get(mid)
                if thread is not None:
                    return thread, self._agents.get(thread)
        return None

    @property
    def capacity(self) -> int:
        """Most entries of each kind kept; lowering it forgets the oldest at the next change."""
        return self._capacity

    @capacity.setter
    def capacity(self, value: int) -> None:
        with self._lock:
            self._capacity = value

    def add_contact(self, record: MailRecord) -> None:
        """Remember a contact the channel can reply to (its message is added
        to the thread map separately, with :meth:`add_message`)."""
        with self._lock:
            _touch(self._records, record.contact_id, record, self._capacity)

    def forget_contact(self, contact_id: str) -> None:
        """Forget a contact (one the service did not take)."""
        with self._lock:
            self._records.pop(contact_id, None)

    def add_message(self, message_id: str, thread: str, agent_id: str | None = None) -> None:
        """Remember a message the channel sent in ``thread``, and by whom."""
        with self._lock:
            _touch(self._threads, message_id, thread, self._capacity)
            if agent_id is not None:
                _touch(self._agents, thread, agent_id, self._capacity)

    def handled(self, contact_id: str, agent_id: str) -> bool:
        """Record that ``agent_id`` took ``contact_id``: the agent becomes the
        one its thread's next mail is offered to first. False if the contact is
        not one of the channel's."""
        with self._lock:
            record = self._records.get(contact_id)
            if record is None:
                return False
            _touch(self._agents, record.thread, agent_id, self._capacity)
            return True

    def record(self, contact_id: str) -> MailRecord | None:
        """The remembered contact, or ``None``."""
        with self._lock:
            return self._records.get(contact_id)

    def agent(self, thread: str) -> str | None:
        """The agent who last handled ``thread``, or ``None``."""
        with self._lock:
            return self._agents.get(thread)

    def __len__(self) -> int:
        """Number of messages remembered."""
        with self._lock:
            return len(self._threads)


class OfferInbox(Mapping[str, list[OfferDelivery]]):
    """Open email offers by agent id: the channel's "agent inbox".

    A read-only mapping of agent id to that agent's open offers, oldest first;
    each lookup returns a new list. Offers enter when the service delivers
    them and leave when they are answered, time out or are withdrawn. Safe to
    use from any thread; no event loop needed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offers: dict[str, list[OfferDelivery]] = {}

    def add(self, delivery: OfferDelivery) -> None:
        """Put an offer in its agent's inbox (replacing an older one of the same contact)."""
        agent = delivery.offer.agent_id
        with self._lock:
            offers = self._offers.setdefault(agent, [])
            offers[:] = [d for d in offers if d.offer.contact_id != delivery.offer.contact_id]
            offers.append(delivery)

    def remove(self, contact_id: str, agent_id: str | None = None) -> list[OfferDelivery]:
        """Take the offers of ``contact_id`` out (only ``agent_id``'s if given); returns them."""
        removed: list[OfferDelivery] = []
        with self._lock:
            agents = list(self._offers) if agent_id is None else [agent_id]
            for agent in agents:
                offers = self._offers.get(agent)
                if not offers:
                    continue
                keep = [d for d in offers if d.offer.contact_id != contact_id]
                removed.extend(d for d in offers if d.offer.contact_id == contact_id)
                if keep:
                    self._offers[agent] = keep
                else:
                    del self._offers[agent]
        return removed

    def find(self, contact_id: str) -> OfferDelivery | None:
        """The open offer of ``contact_id``, whoever it is for, or ``None``."""
        with self._lock:
            for offers in self._offers.values():
                for delivery in offers:
                    if delivery.offer.contact_id == contact_id:
                        return delivery
        return None

    def __getitem__(self, agent_id: str) -> list[OfferDelivery]:
        with self._lock:
            offers = self._offers.get(agent_id)
            if not offers:
                raise KeyError(agent_id)
            return list(offers)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._offers))

    def __len__(self) -> int:
        with self._lock:
            return len(self._offers)

    def __repr__(self) -> str:
        with self._lock:
            counts = {agent: len(offers) for agent, offers in self._offers.items()}
        return f"OfferInbox({counts!r})"
