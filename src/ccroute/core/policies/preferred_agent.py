"""Preferred agent: a contact reserved for one agent for a while.

The rule, as docs/routing.md states it: a contact submitted with a
``preferred_agent`` and a ``preferred_wait`` > 0 is offered to that agent
only, for at most ``preferred_wait`` seconds, if the agent is logged in and
not excluded for it (else the preference lapses at once, with
:class:`~ccroute.PreferenceExpired` saying why). A transfer to an agent
reserves the contact for that agent with no time limit. The reservation
lapses when its time is over, when the agent declines the offer, logs off
or gets excluded, and ends when the contact is answered, leaves or waits
afresh elsewhere. While it lasts, skills and queue membership are not
asked of that agent, and the contact is not skipped for want of agents.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING

from ...model import Presence

if TYPE_CHECKING:
    from ...events import PreferenceExpiryReason
    from ..router import _AgentRec, _ContactRec

__all__ = ["PreferredAgents"]


class PreferredAgents:
    """The contacts reserved for one agent, and whom that keeps from them.

    The state is on the records: a contact's ``target`` (in the snapshot)
    and an agent's ``reserved`` (the contacts reserved for it, rebuilt). The
    router keeps the reservation's timer, at the time :meth:`prefer` or
    :meth:`reserve` gives, and hands the universal queue the target with the
    contact, so that no one else is matched to it.

    :param agents: the router's agents by id (read; their ``reserved`` sets
        are this policy's).
    """

    __slots__ = ("_agents",)

    def __init__(self, agents: Mapping[str, _AgentRec]) -> None:
        self._agents = agents

    # ---------------------------------------------------------------- questions

    @staticmethod
    def bars(rec: _ContactRec, agent: _AgentRec) -> bool:
        """Whether the contact's reservation keeps it from this agent (it is
        reserved for another)."""
        return rec.target is not None and rec.target != agent.spec.id

    def reserved_contacts(self, agent: _AgentRec) -> list[str]:
        """Ids of the contacts reserved for the agent, in id order (the order
        their reservations lapse in when it logs off)."""
        return sorted(agent.reserved)

    # ------------------------------------------------------------ notifications

    def prefer(
        self, rec: _ContactRec, excluded: Collection[str], now: float
    ) -> tuple[float | None, PreferenceExpiryReason | None]:
        """A contact was submitted with a preferred agent and a wait > 0
        (``excluded``: the agents excluded for it). Reserves it for that agent
        and gives when the wait ends, or gives why the preference lapses at
        once (``"excluded"``, ``"not logged in"``)."""
        spec = rec.spec
        agent_id = spec.preferred_agent
        assert agent_id is not None
        if agent_id in excluded:
            return None, "excluded"
        agent = self._agents.get(agent_id)
        if agent is None or agent.presence is Presence.OFFLINE:
            return None, "not logged in"
        return self.reserve(rec, agent, now + spec.preferred_wait), None

    def reserve(self, rec: _ContactRec, agent: _AgentRec, until: float) -> float | None:
        """Reserve the contact for the agent until ``until`` (``math.inf``: a
        transfer to the agent, with no time limit). Gives the time the
        reservation lapses, or ``None`` when it does not."""
        rec.target = agent.spec.id
        agent.reserved.add(rec.spec.id)
        return until if math.isfinite(until) else None

    def release(self, rec: _ContactRec) -> str | None:
        """The contact's reservation ends (answered, gone, waiting afresh, or
        lapsed). Gives the agent it was reserved for (``None``: it was not)."""
        target = rec.target
        if target is not None:
            self._agents[target].reserved.discard(rec.spec.id)
            rec.target = None
        return target

    def declined(self, rec: _ContactRec, agent: _AgentRec) -> bool:
        """The agent declined the contact (rejected it, or let the offer time
        out): whether that ended its reservation (it was reserved for the
        agent; anyone may take it now)."""
        if rec.target != agent.spec.id:
            return False
        self.release(rec)
        return True

    def loaded(self, rec: _ContactRec) -> None:
        """A restored contact: its agent knows it is reserved for it."""
        if rec.target is not None:
            self._agents[rec.target].reserved.add(rec.spec.id)
