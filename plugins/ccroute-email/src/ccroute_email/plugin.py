"""The plugin the ``ccroute`` entry point loads: a default :class:`EmailChannel`.

The channel, :data:`channel`, takes all its settings from the service's
``"email"`` settings. It steps aside (does nothing) for a service that also
has an :class:`EmailChannel` registered explicitly, so an application that
configures its own channel does not get a second SMTP server.

One module, one channel: it serves one running service at a time. To run
several services in one process, register an :class:`EmailChannel` with each
(and start them with ``load_entrypoints=False``, or the env var
``CCROUTE_LOAD_PLUGINS``, to keep this one out).
"""

from __future__ import annotations

from collections.abc import Sequence

from ccroute.events import Event
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery

from .channel import EmailChannel, ServiceLike, channels_of

__all__ = [
    "ccroute_customer_update",
    "ccroute_deliver_offer",
    "ccroute_events",
    "ccroute_start_channel",
    "ccroute_stop_channel",
    "channel",
]

#: The default channel behind this module's hooks.
channel = EmailChannel()


# trylast: every other channel's start runs first, so an explicit EmailChannel
# has claimed the service by the time this one looks.
@hookimpl(trylast=True)
async def ccroute_start_channel(service: ServiceLike) -> None:
    """Start the default channel, unless the service has an EmailChannel of its own."""
    if not any(c is not channel for c in channels_of(service)):
        await channel.ccroute_start_channel(service)


@hookimpl
async def ccroute_stop_channel(service: ServiceLike) -> None:
    """Stop the default channel if it runs for ``service``."""
    await channel.ccroute_stop_channel(service)


@hookimpl
def ccroute_deliver_offer(delivery: OfferDelivery) -> bool | None:
    """Deliver email offers while the default channel runs; ``None`` otherwise."""
    return channel.ccroute_deliver_offer(delivery) if channel.running else None


@hookimpl
async def ccroute_events(events: Sequence[Event]) -> None:
    """Track offers and thread owners while the default channel runs."""
    if channel.running:
        await channel.ccroute_events(events)


@hookimpl
async def ccroute_customer_update(update: CustomerUpdate) -> None:
    """Log updates (and acknowledge, if configured) while the default channel runs."""
    if channel.running:
        await channel.ccroute_customer_update(update)
