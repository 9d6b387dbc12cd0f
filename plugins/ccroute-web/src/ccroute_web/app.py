"""The ASGI application: pages, the HTTP API, the live sockets, ``/metrics``.

:func:`create_app` builds it for one :class:`~ccroute_web.WebChannel`; the
channel serves it when the service starts (or a test drives it with
Starlette's ``TestClient``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._pages import page_routes

if TYPE_CHECKING:
    from .channel import WebChannel

__all__ = ["create_app"]


def create_app(web: WebChannel) -> Starlette:
    """The application of ``web``: every route of docs/web.md."""

    async def healthz(request: Request) -> Response:
        service = web.service
        return JSONResponse(
            {
                "running": service is not None and service.running,
                "durable_seq": None if service is None else service.durable_seq,
            }
        )

    routes = [Route("/healthz", healthz, methods=["GET"]), *page_routes()]
    return Starlette(routes=routes)
