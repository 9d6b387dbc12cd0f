"""Test helpers: drive a :class:`~ccroute_web.WebChannel`'s application in process.

:class:`WebClient` talks to the application on the caller's own event loop
(asyncio or trio), with no server and no port: HTTP through httpx's ASGI
transport (the session cookie kept as a browser keeps it), WebSockets through
:class:`AsgiSocket`, a small ASGI WebSocket driver. The application calls the
service directly, so it must run on the service's loop: Starlette's
``TestClient``, which runs the application in a thread of its own, cannot.

Needs httpx (the ``test`` extra). Not imported by ``import ccroute_web``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["AsgiSocket", "SocketClosed", "WebClient"]

#: Every wait of these helpers is bounded by this many seconds.
TIMEOUT = 10.0


class SocketClosed(Exception):
    """The application closed the WebSocket (or refused it at the handshake)."""

    def __init__(self, code: int, accepted: bool) -> None:
        super().__init__(f"closed with code {code}" + ("" if accepted else " at the handshake"))
        #: The close code.
        self.code = code
        #: Whether the handshake had been accepted.
        self.accepted = accepted


class AsgiSocket:
    """One WebSocket to an ASGI application, in process (use ``async with``).

    :param app: the ASGI application.
    :param path: the path, with its query string.
    :param headers: request headers (``cookie``, ``origin``, ...).
    :param client: the client's address as the application sees it.
    :param buffer: frames the application may send before the test reads them
        (``0``: each send waits for the test, as a browser that does not read).
    """

    def __init__(
        self,
        app: Any,
        path: str,
        headers: dict[str, str] | None = None,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        buffer: float = math.inf,
    ) -> None:
        self._app = app
        raw_path, _, query = path.partition("?")
        self._scope = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "http_version": "1.1",
            "path": raw_path,
            "raw_path": raw_path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [
                (k.lower().encode(), v.encode())
                for k, v in {"host": "testserver", **(headers or {})}.items()
            ],
            "client": client,
            "server": ("testserver", 80),
            "subprotocols": [],
            "state": {},
        }
        self._to_app: MemoryObjectSendStream[dict[str, Any]]
        self._app_in: MemoryObjectReceiveStream[dict[str, Any]]
        self._from_app: MemoryObjectReceiveStream[dict[str, Any]]
        self._app_out: MemoryObjectSendStream[dict[str, Any]]
        self._to_app, self._app_in = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self._app_out, self._from_app = anyio.create_memory_object_stream[dict[str, Any]](buffer)
        self._tg: anyio.abc.TaskGroup | None = None
        self._done = anyio.Event()
        self.closed: int | None = None
        """The close code once the application closed the socket."""

    async def _run(self) -> None:
        async def receive() -> dict[str, Any]:
            try:
                return await self._app_in.receive()
            except anyio.EndOfStream:
                return {"type": "websocket.disconnect", "code": 1006}

        async def send(message: dict[str, Any]) -> None:
            try:
                await self._app_out.send(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                raise OSError("the test client went away") from None

        try:
            await self._app(self._scope, receive, send)
        finally:
            self._app_out.close()
            self._done.set()

    async def __aenter__(self) -> AsgiSocket:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run)
        await self._to_app.send({"type": "websocket.connect"})
        with anyio.fail_after(TIMEOUT):
            first = await self._from_app.receive()
        if first["type"] == "websocket.close":
            self.closed = int(first.get("code", 1000))
            await self._finish()
            raise SocketClosed(self.closed, accepted=False)
        if first["type"] != "websocket.accept":
            await self._finish()
            raise SocketClosed(1006, accepted=False)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
        await self._finish()

    async def _finish(self) -> None:
        tg, self._tg = self._tg, None
        if tg is None:
            return
        with anyio.move_on_after(TIMEOUT):
            await self._done.wait()
        tg.cancel_scope.cancel()
        await tg.__aexit__(None, None, None)

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        await self._to_app.send({"type": "websocket.receive", "text": text})

    async def send_json(self, value: Any) -> None:
        """Send one JSON text frame."""
        await self.send_text(json.dumps(value))

    async def receive_json(self, timeout: float = TIMEOUT) -> Any:
        """The next frame the application sent, decoded.

        :raises SocketClosed: the application closed the socket.
        :raises TimeoutError: nothing came within ``timeout`` seconds.
        """
        with anyio.fail_after(timeout):
            while True:
                try:
                    message = await self._from_app.receive()
                except anyio.EndOfStream:
                    raise SocketClosed(self.closed or 1006, accepted=True) from None
                if message["type"] == "websocket.send":
                    text = message.get("text")
                    return json.loads(text if text is not None else message["bytes"])
                if message["type"] == "websocket.close":
                    self.closed = int(message.get("code", 1000))
                    raise SocketClosed(self.closed, accepted=True)

    async def receive_until(self, kind: str, timeout: float = TIMEOUT) -> Any:
        """Frames until one of ``type`` ``kind`` (the ones before are dropped)."""
        with anyio.fail_after(timeout):
            while True:
                frame = await self.receive_json(timeout)
                if frame.get("type") == kind:
                    return frame

    async def close(self, code: int = 1000) -> None:
        """The browser goes away."""
        with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
            await self._to_app.send({"type": "websocket.disconnect", "code": code})


class WebClient:
    """A browser (or another system) talking to a WebChannel's application in process.

    :param app: the ASGI application (``WebChannel.app``).
    :param client: the client's address as the application sees it (loopback
        by default; another address tests what loopback alone may do).
    """

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client
        transport = httpx.ASGITransport(app=app, client=client)
        #: The HTTP client (cookies kept).
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def __aenter__(self) -> WebClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.http.aclose()

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        """POST ``body`` (``{}`` when omitted) as JSON."""
        return await self.http.post(path, json={} if body is None else body, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path``."""
        return await self.http.get(path, **kwargs)

    async def login(self, user: str, password: str) -> httpx.Response:
        """Log in (the session cookie is kept for later calls and sockets)."""
        return await self.post("/api/login", {"user": user, "password": password})

    def _cookie(self) -> dict[str, str]:
        jar = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        return {"cookie": jar} if jar else {}

    @asynccontextmanager
    async def socket(
        self, path: str, *, origin: str | None = "http://testserver", buffer: float = math.inf
    ) -> AsyncIterator[AsgiSocket]:
        """A WebSocket with this client's cookies (and ``Origin``, as a browser sends);
        ``buffer`` as :class:`AsgiSocket`'s."""
        headers = self._cookie()
        if origin is not None:
            headers["origin"] = origin
        async with AsgiSocket(self.app, path, headers, self.client, buffer) as ws:
            yield ws
