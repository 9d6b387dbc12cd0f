"""Ramp-up: an agent back from an absence holds one unanswered offer at a time.

The rule, as docs/policies/ramp-up.md states it: after an agent becomes
available from offline or not-ready (unless it kept several offers open
through a short break), it holds at most one unanswered offer at a time
until ``RampUp.seconds`` have passed or it has accepted ``RampUp.accepted``
contacts, whichever comes first. Going offline or not-ready ends the ramp;
coming back starts a new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...policies import RampUp
    from ..router import _AgentRec

__all__ = ["RampingUp"]


class RampingUp:
    """The agents ramping up, and what that keeps from them.

    The state is on the agent records (``ramping``, ``ramp_left``, both in
    the snapshot); this object indexes the ramping agents. The router keeps
    the ramp's timer, at the time :meth:`start` gives.

    :param config: the policy's settings (``RoutingPolicy.ramp_up``); ``None``
        only for a restored router whose document has ramping agents but no
        such policy: they ramp out, nobody starts.
    """

    __slots__ = ("config", "ramping")

    def __init__(self, config: RampUp | None) -> None:
        self.config = config
        #: agent id -> record, for the agents ramping up
        self.ramping: dict[str, _AgentRec] = {}

    # ---------------------------------------------------------------- questions

    @staticmethod
    def holds_back(agent: _AgentRec) -> bool:
        """Whether the ramp keeps the agent from any further offer now (it is
        ramping and holds an unanswered offer)."""
        return agent.ramping and bool(agent.offered)

    def barred_agents(self) -> set[int]:
        """Handles of the agents the ramp keeps from every contact now."""
        return {a.handle for a in self.ramping.values() if a.offered}

    # ------------------------------------------------------------ notifications

    def start(self, agent: _AgentRec, now: float) -> float | None:
        """The agent came back: it ramps up. Returns when the ramp's time is
        over (``None``: it has no time limit)."""
        config = self.config
        assert config is not None
        agent.ramping = True
        agent.ramp_left = config.accepted
        self.ramping[agent.spec.id] = agent
        return None if config.seconds is None else now + config.seconds

    def stop(self, agent: _AgentRec) -> None:
        """The ramp ended (its time, its count) or the agent went away."""
        agent.ramping = False
        agent.ramp_left = None
        self.ramping.pop(agent.spec.id, None)

    def accepted(self, agent: _AgentRec) -> bool:
        """The ramping agent accepted a contact: whether that ends its ramp."""
        if agent.ramp_left is not None:
            agent.ramp_left -= 1
        return agent.ramp_left == 0

    def loaded(self, agent: _AgentRec) -> None:
        """A restored agent that was ramping up."""
        self.ramping[agent.spec.id] = agent
