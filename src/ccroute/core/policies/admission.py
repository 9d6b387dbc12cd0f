"""Admission: a queue may refuse a contact at the door, with a reason.

The rule, as docs/policies/admission.md states it: when a contact is
submitted, a queue with a ``max_size`` that holds that many contacts
(waiting and offered) refuses it with ``"queue full"``; then its
``admission`` rule: ``LOGGED_IN`` refuses while no member of the queue is
logged in (``"no agent logged in"``), ``ELIGIBLE`` while no logged-in agent
could ever take the contact as submitted (``"no eligible agent"``). Only
arrivals are refused: transfers ignore both, an overflow checks only the
size (the router does that itself, as the overflow's decision).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from ...model import Admission

if TYPE_CHECKING:
    from ..._queue_protocol import QueueBackend
    from ...events import RefusalReason
    from ...model import Contact, QueueConfig
    from ..router import _AgentRec, _QueueRec
    from .exclusions import Exclusions

__all__ = ["AdmissionRules"]


class AdmissionRules:
    """The queues' size limits and admission rules, asked once per submission.

    It holds no state of its own: the settings are the queues', the counts
    it reads (``present``, ``logged_in``) the router's queue records. The
    router builds it when the first queue that limits its size or has an
    admission rule other than ``ALWAYS`` is added (or updated, or restored),
    so that a router without one admits without asking.

    :param queue: the universal queue, asked whether a logged-in agent could
        ever take the contact.
    :param channel_ids: the router's channel numbers by name (read).
    :param skill: the router's skill number for a name (it numbers a skill
        not seen before, as the contact's signature would next).
    :param exclusions: the exclusions policy, for the agents never to count.
    :param agents: the router's agents by id (read, never changed).
    """

    __slots__ = ("_agents", "_channel_ids", "_exclusions", "_queue", "_skill")

    def __init__(
        self,
        queue: QueueBackend,
        channel_ids: Mapping[str, int],
        skill: Callable[[str], int],
        exclusions: Exclusions,
        agents: Mapping[str, _AgentRec],
    ) -> None:
        self._queue = queue
        self._channel_ids = channel_ids
        self._skill = skill
        self._exclusions = exclusions
        self._agents = agents

    @staticmethod
    def needed(config: QueueConfig) -> bool:
        """Whether the queue's settings can refuse anyone (a router builds the
        policy for the first such queue)."""
        return config.max_size is not None or config.admission is not Admission.ALWAYS

    def refusal(self, contact: Contact, queue: _QueueRec) -> RefusalReason | None:
        """Why the queue refuses this submitted contact, or ``None`` to admit it."""
        config = queue.config
        # Size first: a full queue refuses whatever its rule says.
        if config.max_size is not None and queue.present >= config.max_size:
            return "queue full"
        if config.admission is Admission.LOGGED_IN and queue.logged_in == 0:
            return "no agent logged in"
        if config.admission is Admission.ELIGIBLE:
            skill = self._skill
            sig = self._queue.signature(
                self._channel_ids[contact.channel],
                [(skill(s), level) for s, level in contact.requirements],
                [queue.handle],
            )
            agents = self._agents
            # Load and readiness do not count, exclusions do: an excluded
            # agent could never take it.
            excluded = {agents[a].handle for a in self._exclusions.excluded(contact) if a in agents}
            if not self._queue.any_logged_in(sig, excluded):
                return "no eligible agent"
        return None
