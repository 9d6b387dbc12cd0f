"""What the web plugin uses of the service: the adapters' protocol and two commands more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ccroute.events import Event
from ccroute.hooktypes import ServiceHandle
from ccroute.model import Agent, Channel, Presence

__all__ = ["WebService"]


class WebService(ServiceHandle, Protocol):
    """:class:`~ccroute.hooktypes.ServiceHandle` (its reads include the metrics,
    the masking rules, ``durable_seq`` and the failure counts the wallboard,
    the desktop and ``/metrics`` show) plus the set-up commands the web
    channel uses (:class:`ccroute.Service` has all of it): it adds the chat
    and webhook channels its settings name."""

    async def add_channel(self, channel: Channel) -> Sequence[Event]:
        """Teach the router a channel."""
        ...

    async def add_agent(self, agent: Agent, presence: Presence = ...) -> Sequence[Event]:
        """Add an agent."""
        ...
