"""The ASGI application: pages, the HTTP API, the live sockets, ``/metrics``, ``/openapi.json``.

:func:`create_app` builds it for one :class:`~ccroute_web.WebChannel`; the
channel serves it when the service starts, and a test can drive it with
Starlette's ``TestClient`` while the service runs.
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ._api import ENDPOINTS
from ._errors import ApiError
from ._http import basic_user, error_response, is_loopback, json_response, route, session_user
from ._openapi import METRICS_PATH, openapi
from ._pages import page_routes
from ._prometheus import registry_of
from ._sockets import agent_socket, chat_socket, wallboard_socket

if TYPE_CHECKING:
    from .channel import WebChannel

__all__ = ["SESSION_COOKIE", "WEBSOCKETS", "create_app"]

#: The name of the signed session cookie.
SESSION_COOKIE = "ccroute_session"

#: The WebSocket routes and what they carry (listed in the OpenAPI document
#: under ``x-websockets``; docs/web.md describes their messages).
WEBSOCKETS = {
    "/ws/chat": "The customer's chat (no login; ?resume=TOKEN to resume)",
    "/ws/agent": "The agent's live channel (session cookie, role agent)",
    "/ws/wallboard": "The wallboard feed (session cookie, role supervisor)",
}


def _version() -> str:
    try:
        return metadata.version("ccroute-web")
    except metadata.PackageNotFoundError:
        return "0"


class _LateSession:
    """Starlette's :class:`SessionMiddleware`, built when the first request comes:
    the signing key and cookie settings are the service's, known only at start."""

    def __init__(self, app: ASGIApp, web: WebChannel) -> None:
        self._app = app
        self._web = web
        self._built: tuple[str, Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        web = self._web
        key = f"{web.secret}|{web.settings.session_hours}|{web.settings.secure_cookies}"
        if self._built is None or self._built[0] != key:
            middleware = SessionMiddleware(
                self._app,
                secret_key=web.secret,
                session_cookie=SESSION_COOKIE,
                max_age=int(web.settings.session_hours * 3600),
                same_site="strict",
                https_only=web.settings.secure_cookies,
            )
            self._built = (key, middleware)
        await self._built[1](scope, receive, send)


def create_app(web: WebChannel) -> Starlette:
    """The application of ``web``: every route of docs/web.md."""
    registry = registry_of(web)
    document: dict[str, Any] = openapi(ENDPOINTS, version=_version(), websockets=WEBSOCKETS)

    async def metrics(request: Request) -> Response:
        if not (web.settings.metrics_loopback_only and is_loopback(request)):
            try:
                user = session_user(web, request) or await basic_user(web, request)
                if user is None:
                    raise ApiError(401, "authenticate as a supervisor or integration user")
                if user.role not in ("supervisor", "integration"):
                    raise ApiError(403, f"user {user.name!r} may not read the metrics")
            except ApiError as error:
                return error_response(error)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def openapi_json(request: Request) -> Response:
        return json_response(document)

    async def root(request: Request) -> Response:
        return RedirectResponse("/desktop")

    async def ws_chat(ws: WebSocket) -> None:
        await chat_socket(web, ws)

    async def ws_agent(ws: WebSocket) -> None:
        await agent_socket(web, ws)

    async def ws_wallboard(ws: WebSocket) -> None:
        await wallboard_socket(web, ws)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        return error_response(ApiError(status, str(detail)))

    routes: list[BaseRoute] = [route(web, e) for e in ENDPOINTS]
    routes += [
        Route(METRICS_PATH, metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/", root, methods=["GET"], include_in_schema=False),
        WebSocketRoute("/ws/chat", ws_chat),
        WebSocketRoute("/ws/agent", ws_agent),
        WebSocketRoute("/ws/wallboard", ws_wallboard),
        *page_routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_LateSession, web=web)],
        exception_handlers={HTTPException: not_found},
    )
    app.state.openapi = document
    return app
