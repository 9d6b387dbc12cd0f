"""What the ``ccroute`` entry point loads: a :class:`LineChat` configured by settings.

Installed, the plugin listens only when the service's settings enable it::

    Service(settings={"linechat": {"enabled": True, "port": 7000, "queue": "support"}})

``channel`` is the instance behind the hooks; an application sets its
``on_offer`` and ``on_message`` callbacks, and calls ``channel.say(...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle

from .channel import LineChat, LineChatError

__all__ = [
    "ccroute_customer_update",
    "ccroute_deliver_offer",
    "ccroute_start_channel",
    "ccroute_stop_channel",
    "channel",
    "configure",
]

log = logging.getLogger("ccroute_linechat")

#: The channel behind this module's hooks.
channel = LineChat()

_KEYS = {"enabled", "host", "port", "queue"}


def configure(settings: Mapping[str, Any]) -> bool:
    """Apply ``settings["linechat"]`` to :data:`channel`; whether it is enabled.

    :raises LineChatError: the settings are not a mapping, name an unknown
        key, or hold a bad value (nothing is changed then).
    """
    raw = settings.get("linechat")
    if raw is None:
        return False
    if not isinstance(raw, Mapping):
        raise LineChatError(f"settings['linechat'] must be a mapping, got {raw!r}")
    unknown = set(raw) - _KEYS
    if unknown:
        raise LineChatError(f"unknown linechat settings: {sorted(unknown)}")
    # Built first so that a bad value changes nothing.
    checked = LineChat(
        host=raw.get("host", channel.host),
        port=raw.get("port", channel.port),
        queue=raw.get("queue", channel.queue),
    )
    channel.host, channel.port, channel.queue = checked.host, checked.port, checked.queue
    return raw.get("enabled") is True


@hookimpl
async def ccroute_start_channel(service: ServiceHandle) -> None:
    """Start the channel when ``settings["linechat"]["enabled"]`` is true."""
    if not configure(service.settings):
        log.info("ccroute-linechat is installed but not enabled: no listener")
        return
    await channel.ccroute_start_channel(service)


@hookimpl
async def ccroute_stop_channel(service: ServiceHandle) -> None:
    """Stop the channel if it runs."""
    await channel.ccroute_stop_channel(service)


@hookimpl
def ccroute_deliver_offer(delivery: OfferDelivery) -> bool | None:
    """Deliver chat offers while the channel runs."""
    return channel.ccroute_deliver_offer(delivery)


@hookimpl
async def ccroute_customer_update(update: CustomerUpdate) -> None:
    """Tell customers what happened while the channel runs."""
    await channel.ccroute_customer_update(update)
