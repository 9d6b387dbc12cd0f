"""The HTTP server, run as a task of the service on the service's own event loop.

uvicorn serves when the service runs on asyncio; on trio (which uvicorn does
not support) hypercorn's trio worker serves the same ASGI application. The
socket is bound before the task starts, so a port in use is an error of
``ccroute_start_channel`` (and ``port=0`` is known at once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import anyio
import sniffio

from ._errors import WebError

__all__ = ["Server", "bind"]

log = logging.getLogger("ccroute_web")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one).

    :raises WebError: the address cannot be bound (in use, not local).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise WebError(f"the web server cannot listen on {host}:{port}: {error}") from None
    return sock


def _uvicorn_class() -> Any:
    import uvicorn

    class Uvicorn(uvicorn.Server):
        """uvicorn's server, leaving signals to the application (its Ctrl-C is its own)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Uvicorn


class Server:
    """One ASGI server on one bound socket; :meth:`serve` until :meth:`shutdown`."""

    def __init__(self, app: Any, sock: socket.socket, *, max_frame: int = 1024 * 1024) -> None:
        self._app = app
        self._max_frame = max_frame
        self._sock = sock
        self._stop = anyio.Event()
        self._done = anyio.Event()
        self._uvicorn: Any = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._sock.getsockname()[1])

    async def serve(self) -> None:
        """Serve until :meth:`shutdown` (or cancellation); closes the socket."""
        try:
            if sniffio.current_async_library() == "trio":
                await self._serve_hypercorn()
            else:
                await self._serve_uvicorn()
        finally:
            self._sock.close()
            self._done.set()

    def shutdown(self) -> None:
        """Ask the server to stop: it closes open connections and returns."""
        self._stop.set()
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True

    async def aclose(self, timeout: float) -> None:
        """:meth:`shutdown` and wait up to ``timeout`` seconds for :meth:`serve` to return."""
        self.shutdown()
        with anyio.move_on_after(timeout):
            await self._done.wait()

    async def _serve_uvicorn(self) -> None:
        import uvicorn

        _Uvicorn = _uvicorn_class()
        config = uvicorn.Config(
            self._app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            ws_max_size=self._max_frame,
            timeout_graceful_shutdown=2,
        )
        server = self._uvicorn = _Uvicorn(config)

        async def stop_when_asked() -> None:
            # shutdown() may come before the server exists: this covers both
            await self._stop.wait()
            server.should_exit = True

        async with anyio.create_task_group() as tg:
            tg.start_soon(stop_when_asked)
            await server.serve(sockets=[self._sock])
            tg.cancel_scope.cancel()

    async def _serve_hypercorn(self) -> None:
        from hypercorn.config import Config
        from hypercorn.trio import serve

        config = Config()
        # hypercorn closes the socket it is given: give it a duplicate
        config.bind = [f"fd://{os.dup(self._sock.fileno())}"]
        config.accesslog = None
        config.errorlog = log
        config.graceful_timeout = 2.0
        config.websocket_max_message_size = self._max_frame
        await serve(self._app, config, shutdown_trigger=self._stop.wait, mode="asgi")
