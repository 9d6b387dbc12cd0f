"""The plugin the ``ccroute`` entry point loads: a default :class:`WebChannel`.

It listens only when the service's settings enable it::

    Service(settings={"web": {"enabled": True, "port": 8080, "users": {...}}})

and steps aside for a service that registered a :class:`WebChannel` of its own.
"""

from __future__ import annotations

from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import ServiceHandle

from .channel import WebChannel

__all__ = ["ccroute_start_channel", "ccroute_stop_channel", "channel"]

#: The default channel behind this module's hooks.
channel = WebChannel()


@hookimpl(trylast=True)
async def ccroute_start_channel(service: ServiceHandle) -> None:
    """Start the default channel when ``settings["web"]["enabled"]`` is true."""
    web = service.settings.get("web")
    if isinstance(web, dict) and web.get("enabled") is True:
        await channel.ccroute_start_channel(service)


@hookimpl
async def ccroute_stop_channel(service: ServiceHandle) -> None:
    """Stop the default channel if it runs for ``service``."""
    await channel.ccroute_stop_channel(service)
