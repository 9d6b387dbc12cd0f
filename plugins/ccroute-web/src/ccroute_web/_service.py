"""What the web plugin uses of the service: the adapters' protocol and a few reads more."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from ccroute.events import Event
from ccroute.hooktypes import ServiceHandle
from ccroute.masking import Masking
from ccroute.metrics import MetricsCollector
from ccroute.model import Agent, Channel, Presence

__all__ = ["WebService"]


class WebService(ServiceHandle, Protocol):
    """:class:`~ccroute.hooktypes.ServiceHandle` plus what the wallboard, the
    desktop and ``/metrics`` read (:class:`ccroute.Service` has all of it)."""

    @property
    def metrics(self) -> MetricsCollector:
        """The centre's figures since the log began."""
        ...

    @property
    def masking(self) -> Masking:
        """The service's masking rules."""
        ...

    @property
    def durable_seq(self) -> int:
        """The seq of the last durable log record."""
        ...

    @property
    def hook_failures(self) -> Counter[tuple[str, str, str]]:
        """Plugin failures by (hook, plugin, kind)."""
        ...

    @property
    def task_failures(self) -> Counter[str]:
        """Background tasks that raised, by name."""
        ...

    @property
    def now(self) -> float:
        """The service clock's time."""
        ...

    async def add_channel(self, channel: Channel) -> Sequence[Event]:
        """Teach the router a channel."""
        ...

    async def add_agent(self, agent: Agent, presence: Presence = ...) -> Sequence[Event]:
        """Add an agent."""
        ...
