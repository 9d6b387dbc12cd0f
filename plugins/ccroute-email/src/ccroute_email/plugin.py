"""The plugin the ``ccroute`` entry point loads: a default :class:`EmailChannel`.

The channel, :data:`channel`, takes all its settings from the service's
``"email"`` settings, and listens only when the application enables it there::

    Service(settings={"email": {"enabled": True, "port": 2525}})

Installing the distribution is not enough: a service whose settings have no
``"email"`` mapping, or one without ``"enabled": True``, opens no port (the
plugin logs at INFO that it is installed but not enabled). The channel also
steps aside (does nothing) for a service that has an :class:`EmailChannel`
registered explicitly, so an application that configures its own channel does
not get a second SMTP server.

One module, one channel: it serves one running service at a time. To run
several services in one process, register an :class:`EmailChannel` with each
(and start them with ``load_entrypoints=False``, or the env var
``CCROUTE_LOAD_PLUGINS``, to keep this one out).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ccroute.events import Event
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle

from ._errors import EmailError
from ._settings import EmailSettings
from .channel import CHANNEL, EmailChannel, channels_of

__all__ = [
    "ccroute_customer_update",
    "ccroute_deliver_offer",
    "ccroute_events",
    "ccroute_start_channel",
    "ccroute_stop_channel",
    "channel",
    "enabled_by",
]

log = logging.getLogger("ccroute_email")

#: The default channel behind this module's hooks.
channel = EmailChannel()


def enabled_by(settings: Mapping[str, object]) -> bool:
    """Whether a service's settings enable the default channel: ``settings["email"]``
    is a mapping with ``"enabled": True``.

    :raises EmailError: the ``"email"`` settings are not valid (an unknown key,
        a value out of range, ``enabled`` that is not a bool).
    """
    raw = settings.get(CHANNEL)
    if raw is None:
        return False
    if not isinstance(raw, Mapping):
        raise EmailError(f"the service's {CHANNEL!r} settings must be a mapping, got {raw!r}")
    EmailSettings.from_mapping(raw)  # a typo or a bad value is an error, enabled or not
    return raw.get("enabled") is True


# trylast: every other channel's start runs first, so an explicit EmailChannel
# has claimed the service by the time this one looks.
@hookimpl(trylast=True)
async def ccroute_start_channel(service: ServiceHandle) -> None:
    """Start the default channel when the service's settings enable it
    (``settings["email"]["enabled"] = True``), unless the service has an
    EmailChannel of its own."""
    if any(c is not channel for c in channels_of(service)):
        return
    if not enabled_by(service.settings):
        log.info(
            "ccroute-email is installed but not enabled: no SMTP server "
            "(set the service's settings['email']['enabled'] = True to listen)"
        )
        return
    await channel.ccroute_start_channel(service)


@hookimpl
async def ccroute_stop_channel(service: ServiceHandle) -> None:
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
