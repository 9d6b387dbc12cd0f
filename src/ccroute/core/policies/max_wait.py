"""Maximum wait, overflow, and skipping when no agent could take a contact.

The rules, as docs/policies/max-wait.md states them:

- A contact's maximum wait (its own ``max_wait``, else its queue's) counts
  from its entry into its current queue. When it passes while the contact
  waits, the contact overflows to the queue's ``overflow`` queue (keeping
  its key if ``overflow_keep_key``) or, without one, times out; an offered
  contact keeps its offer and leaves when the offer comes back. An overflow
  queue that is full (its ``max_size`` reached) makes it time out instead,
  with ``"overflow queue full"``.
- In a queue with ``skip_if_no_agent``, a waiting contact that no logged-in
  agent could ever take (exclusions counting, load and readiness not) and
  that is not reserved for one agent moves on at once: its next routing
  step applies, or, with none left, it overflows or times out with
  ``"no agent"``. A contact that left queues for ``"no agent"`` and would
  be sent back, at the same instant, to one of them times out instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

from ...lifecycle import ContactState

if TYPE_CHECKING:
    from ...events import OverflowReason, TimeoutReason
    from ...model import QueueConfig
    from ..router import _ContactRec, _QueueRec

__all__ = ["WaitLimits"]


class WaitLimits:
    """When a contact's wait is over, and where it goes then.

    Its state is on the contact records (``overdue``: the maximum wait
    passed during an offer; ``fled``: the queues it left for ``"no agent"``
    and when; both in the snapshot); this object counts the queues that
    skip when no agent could take a contact (rebuilt from the queues'
    settings). The router keeps the maximum-wait timer, at the time
    :meth:`due` gives, and moves the contact where :meth:`destination` says.
    It is built for the first queue with a ``max_wait``, an ``overflow`` or
    ``skip_if_no_agent`` (added, updated or restored), or the first contact
    with a ``max_wait`` of its own; a router without one times nothing and
    skips nothing.

    :param queues: the router's queue records by name (read, never changed).
    :param contacts: the router's live contacts by id (read, never changed).
    :param staffed: whether some logged-in agent could ever take a waiting
        contact (a member of its queues, with the skills it needs now and
        capacity above 0 on its channel, not excluded for it; load and
        readiness do not count): the router asks its universal queue.
    """

    __slots__ = ("_contacts", "_queues", "_staffed", "skip_queues")

    def __init__(
        self,
        queues: Mapping[str, _QueueRec],
        contacts: Mapping[str, _ContactRec],
        staffed: Callable[[_ContactRec], bool],
    ) -> None:
        #: How many queues skip when no agent could take a contact; while
        #: none does, nothing is rechecked when agents leave.
        self.skip_queues = 0
        self._queues = queues
        self._contacts = contacts
        self._staffed = staffed

    @staticmethod
    def needed(config: QueueConfig) -> bool:
        """Whether the queue's settings end anyone's wait (a router builds the
        policy for the first such queue)."""
        return config.max_wait is not None or config.overflow is not None or config.skip_if_no_agent

    # ------------------------------------------------------------ notifications

    def queue_set(self, old: QueueConfig | None, new: QueueConfig) -> None:
        """A queue was added (``old`` is ``None``) or given new settings."""
        self.skip_queues += int(new.skip_if_no_agent) - int(
            old is not None and old.skip_if_no_agent
        )

    def overflowed(self, rec: _ContactRec, reason: OverflowReason, now: float) -> None:
        """The contact leaves its queue for the overflow queue: one left for
        ``"no agent"`` is remembered, so that it does not go round."""
        if reason == "no agent":
            fled = rec.fled[1] if rec.fled is not None and rec.fled[0] == now else frozenset()
            rec.fled = (now, fled | {rec.queue})

    # ---------------------------------------------------------------- questions

    def due(self, rec: _ContactRec) -> float | None:
        """When the contact's maximum wait in its current queue passes (its own
        limit, else the queue's; ``None``: it may wait for ever)."""
        limit = rec.spec.max_wait
        if limit is None:
            limit = self._queues[rec.queue].config.max_wait
        return None if limit is None else rec.entered_at + limit

    def wait_over(self, rec: _ContactRec) -> bool:
        """The contact's maximum wait passed: whether it leaves now.

        A waiting contact does. An offered one keeps its offer (the agent is
        being asked, and withdrawing would waste the answer): it is marked
        ``overdue`` and leaves when the offer comes back."""
        if rec.state is ContactState.WAITING:
            return True
        if rec.state is ContactState.OFFERED:
            rec.overdue = True
        return False

    def destination(
        self, rec: _ContactRec, reason: OverflowReason, now: float
    ) -> tuple[str | None, TimeoutReason]:
        """Where a contact whose wait is over goes: the queue it overflows to,
        or ``None`` and the reason it times out with."""
        to_name = self._queues[rec.queue].config.overflow
        outcome: TimeoutReason = reason
        fled = rec.fled
        if (
            to_name is not None
            and reason == "no agent"
            and fled is not None
            and fled[0] == now
            and to_name in fled[1]
        ):
            # Every queue on the way is unstaffed: stop going round.
            to_name = None
        if to_name is not None:
            # Like a transfer, an overflow is the configuration's own
            # instruction: only the target's size is checked, not its rule.
            to_queue = self._queues[to_name]
            limit = to_queue.config.max_size
            if to_name != rec.queue and limit is not None and to_queue.present >= limit:
                to_name = None
                outcome = "overflow queue full"
        return to_name, outcome

    def skip(self, rec: _ContactRec) -> Literal["step", "leave"] | None:
        """Whether the skip-if-no-agent rule moves this contact on now: its next
        routing step applies at once (``"step"``) or, with none left, it
        leaves (``"leave"``: overflow or time out with ``"no agent"``).

        Only a live contact waiting in a queue that skips, and not reserved
        for one agent (that agent could take it), is moved; and only while
        no logged-in agent could ever take it."""
        if not rec.live or rec.state is not ContactState.WAITING or rec.target is not None:
            return None
        config = self._queues[rec.queue].config
        if not config.skip_if_no_agent:
            return None
        if self._staffed(rec):
            return None
        return "step" if rec.steps_applied < len(config.steps) else "leave"

    def to_recheck(self) -> list[_ContactRec]:
        """The waiting contacts of the queues that skip, in key order: after
        agents left, each may have nobody left who could take it."""
        queues = self._queues
        recs = [
            r
            for r in self._contacts.values()
            if r.state is ContactState.WAITING and queues[r.queue].config.skip_if_no_agent
        ]
        return sorted(recs, key=lambda r: r.key)
