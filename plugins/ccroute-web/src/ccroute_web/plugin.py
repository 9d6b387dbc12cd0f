"""The plugin the ``ccroute`` entry point loads: a default :class:`WebChannel`.

It starts only when the service's settings enable it::

    Service(settings={"web": {"enabled": True, "port": 8080, "users": {...}}})

Installing the distribution is not enough: without ``settings["web"]["enabled"]
= True`` it opens no port and adds no channel. It steps aside for a service
that registered a :class:`WebChannel` of its own (that one serves instead).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ccroute.events import Event
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle

from ._settings import load_settings
from .channel import WebChannel, channels_of

__all__ = [
    "ccroute_customer_update",
    "ccroute_deliver_offer",
    "ccroute_events",
    "ccroute_start_channel",
    "ccroute_stop_channel",
    "channel",
    "enabled_by",
]

log = logging.getLogger("ccroute_web")

#: The default channel behind this module's hooks.
channel = WebChannel()


def enabled_by(settings: Mapping[str, object]) -> bool:
    """Whether a service's settings enable the default channel.

    :raises WebError: the ``"web"`` settings are not valid (checked, enabled or not).
    """
    raw = settings.get("web")
    if raw is None:
        return False
    return load_settings(raw).enabled  # type: ignore[arg-type]


# trylast: an application's own WebChannel starts first and claims the service.
@hookimpl(trylast=True)
async def ccroute_start_channel(service: ServiceHandle) -> None:
    """Start the default channel when ``settings["web"]["enabled"]`` is true,
    unless the service has a WebChannel of its own."""
    if any(c is not channel for c in channels_of(service)):
        return
    if not enabled_by(service.settings):
        log.info("ccroute-web is installed but not enabled (settings['web']['enabled'] = True)")
        return
    await channel.ccroute_start_channel(service)


@hookimpl
async def ccroute_stop_channel(service: ServiceHandle) -> None:
    """Stop the default channel if it runs for ``service``."""
    await channel.ccroute_stop_channel(service)


@hookimpl
async def ccroute_deliver_offer(delivery: OfferDelivery) -> bool | None:
    """Show web offers on the desktop while the default channel runs."""
    return await channel.ccroute_deliver_offer(delivery)


@hookimpl
async def ccroute_customer_update(update: CustomerUpdate) -> None:
    """Tell web chat customers where they stand while the default channel runs."""
    await channel.ccroute_customer_update(update)


@hookimpl
async def ccroute_events(events: Sequence[Event]) -> None:
    """Update desktops and the wallboard while the default channel runs."""
    await channel.ccroute_events(events)
