"""The web channel: the plugin object that owns the app, the chats and the desktops."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import ServiceHandle

from ._server import Server, bind
from ._settings import WebSettings, load_settings

__all__ = ["WebChannel"]

log = logging.getLogger("ccroute_web")


class WebChannel:
    """The web plugin: register an instance with a service (its methods are the
    hook implementations), or let the ``ccroute`` entry point load
    :mod:`ccroute_web.plugin`, a default instance that listens only when
    ``settings["web"]["enabled"]`` is true.

    Keyword arguments are :class:`WebSettings` fields; they override the
    service's ``"web"`` settings.

    :raises WebError: an unknown setting or a bad value.
    """

    def __init__(self, **settings: Any) -> None:
        self._overrides = dict(settings)
        self._settings = load_settings({}, **self._overrides)
        self._service: Any = None
        self._server: Server | None = None
        from .app import create_app

        self.app = create_app(self)
        """The ASGI application (usable without the server, e.g. by a TestClient)."""

    @property
    def settings(self) -> WebSettings:
        """The settings in force (the service's merged with the keyword arguments once started)."""
        return self._settings

    @property
    def service(self) -> Any:
        """The service this channel serves, or ``None`` while stopped."""
        return self._service

    @property
    def port(self) -> int | None:
        """The port the server listens on, or ``None`` when it does not."""
        return None if self._server is None else self._server.port

    def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Take the service's ``"web"`` settings (the keyword arguments win)."""
        self._settings = load_settings(raw, **self._overrides)

    @hookimpl
    async def ccroute_start_channel(self, service: ServiceHandle) -> None:
        """Attach to ``service`` and start the server when enabled."""
        self.configure(service.settings.get("web"))
        self._service = service
        if self._settings.enabled:
            self._server = Server(self.app, bind(self._settings.host, self._settings.port))
            service.start_soon(self._server.serve)
            log.info("ccroute-web listening on %s:%s", self._settings.host, self.port)

    @hookimpl
    async def ccroute_stop_channel(self, service: ServiceHandle) -> None:
        """Stop the server and detach."""
        if service is not self._service:
            return
        if self._server is not None:
            server, self._server = self._server, None
            await server.aclose(timeout=3.0)
        self._service = None
