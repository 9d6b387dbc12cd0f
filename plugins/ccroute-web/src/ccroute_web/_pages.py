"""The three pages and their static files, served from the package's ``static/`` folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["STATIC", "page_routes"]

#: The folder of the pages and their assets.
STATIC = Path(__file__).parent / "static"

_PAGES = {"/widget": "widget.html", "/desktop": "desktop.html", "/wallboard": "wallboard.html"}

# The pages load nothing from elsewhere; the widget may be framed by any site
# (it is meant to be embedded), the desktop and wallboard by none.
_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:"


def _page(filename: str, *, embeddable: bool) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        response = FileResponse(STATIC / filename, media_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        if embeddable:
            response.headers["Content-Security-Policy"] = _CSP
        else:
            response.headers["Content-Security-Policy"] = _CSP + "; frame-ancestors 'none'"
            response.headers["X-Frame-Options"] = "DENY"
        return response

    return serve


def page_routes() -> list[Route | Mount]:
    """``/widget``, ``/desktop``, ``/wallboard`` and ``/static/...``."""
    routes: list[Route | Mount] = [
        Route(
            path,
            _page(name, embeddable=path == "/widget"),
            methods=["GET"],
            include_in_schema=False,
        )
        for path, name in _PAGES.items()
    ]
    routes.append(Mount("/static", app=StaticFiles(directory=STATIC), name="static"))
    return routes
