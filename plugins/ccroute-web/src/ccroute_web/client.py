"""A protocol-level client of a running ccroute-web server (real sockets, asyncio).

For load tests, demos and end-to-end tests that talk to the server as browsers
do: :class:`Customer` is the chat widget, :class:`Agent` the desktop,
:class:`Supervisor` the wallboard. Each speaks the protocol of docs/web.md
and nothing else. Needs httpx and websockets (the ``test`` extra); asyncio
only (the websockets library is).

::

    async with Customer(base) as customer, Agent(base, "alice", "pw") as alice:
        await alice.set_presence("available")
        await customer.say("hello", name="Dana")
        offer = await alice.next_offer()
        await alice.accept(offer["contact_id"])
        await customer.until("answered")
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

__all__ = ["Agent", "ApiRefused", "Customer", "Supervisor"]

#: Seconds any single wait of these clients may take.
TIMEOUT = 30.0


class ApiRefused(Exception):
    """The server refused a call: its status and its JSON error."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(f"{status}: {body.get('error')} (field {body.get('field')!r})")
        self.status = status
        self.body = dict(body)


def _ws_url(base: str, path: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}{path}"


class _Socket:
    """One WebSocket of the websockets library, with JSON frames."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        self._url = url
        self._headers = dict(headers)
        self._ws: Any = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self._ws = await connect(self._url, additional_headers=self._headers, open_timeout=TIMEOUT)

    async def send(self, value: Any) -> None:
        await self._ws.send(json.dumps(value))

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            return dict(json.loads(await self._ws.recv()))

    async def until(self, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            while True:
                frame = await self.receive(timeout)
                if frame.get("type") == kind:
                    return frame

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None


class Customer:
    """A chat customer: the widget's socket (``/ws/chat``).

    :param base: the server's URL (``http://127.0.0.1:8080``).
    :param resume: a resume token, to come back to a conversation.
    """

    def __init__(self, base: str, resume: str | None = None) -> None:
        path = "/ws/chat" + (f"?resume={resume}" if resume else "")
        self._socket = _Socket(_ws_url(base, path), {"Origin": base})
        #: The ``welcome`` frame: ``conversation``, ``resume``, ``state``, ``transcript``.
        self.welcome: dict[str, Any] = {}

    async def __aenter__(self) -> Customer:
        await self._socket.open()
        self.welcome = await self._socket.until("welcome")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._socket.close()

    @property
    def conversation(self) -> str:
        """The conversation's (and the contact's) id."""
        return str(self.welcome["conversation"])

    async def say(self, text: str, name: str | None = None) -> None:
        """Write a message (the first starts the contact)."""
        frame: dict[str, Any] = {"type": "message", "text": text}
        if name is not None:
            frame["name"] = name
        await self._socket.send(frame)

    async def leave(self) -> None:
        """End the chat."""
        await self._socket.send({"type": "leave"})

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame."""
        return await self._socket.receive(timeout)

    async def until(self, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """Frames until one of type ``kind``."""
        return await self._socket.until(kind, timeout)

    async def close(self) -> None:
        """Close the page (the grace period starts)."""
        await self._socket.close()


class _User:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.base = base
        self.user = user
        self._password = password
        #: The HTTP client (the session cookie kept).
        # Idle connections are dropped after 2 s, before the server's keep-alive
        # (uvicorn's 5 s) closes them: a request sent on a connection the server
        # is closing fails with a ReadError (seen under load in bench_web.py).
        self.http = httpx.AsyncClient(
            base_url=base, timeout=TIMEOUT, limits=httpx.Limits(keepalive_expiry=2.0)
        )
        self._live: _Socket | None = None

    async def __aenter__(self) -> Any:
        await self.login()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._live is not None:
            await self._live.close()
        await self.http.aclose()

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        if method == "POST":
            response = await self.http.post(path, json={} if body is None else body)
        else:
            response = await self.http.get(path)
        if response.status_code >= 400:
            raise ApiRefused(response.status_code, response.json())
        return response.json()

    async def login(self) -> dict[str, Any]:
        """Log in (the cookie is kept)."""
        return dict(
            await self._call("POST", "/api/login", {"user": self.user, "password": self._password})
        )

    async def live(self, path: str) -> _Socket:
        """Open the user's live socket (closed with the client)."""
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        socket = _Socket(_ws_url(self.base, path), {"Cookie": cookie, "Origin": self.base})
        await socket.open()
        self._live = socket
        return socket


class Agent(_User):
    """An agent at the desktop: the HTTP API and ``/ws/agent``."""

    async def open_live(self) -> None:
        """Open ``/ws/agent`` (its first frame, ``state``, is read)."""
        socket = await self.live("/ws/agent")
        await socket.until("state")

    async def receive(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next live frame, of any type (:meth:`open_live` first)."""
        assert self._live is not None, "open_live() first"
        return await self._live.receive(timeout)

    async def frame(self, kind: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next live frame of type ``kind`` (:meth:`open_live` first)."""
        assert self._live is not None, "open_live() first"
        return await self._live.until(kind, timeout)

    async def next_offer(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next offer pushed to the desktop (:meth:`open_live` first)."""
        return dict((await self.frame("offer", timeout))["offer"])

    async def state(self) -> dict[str, Any]:
        """``GET /api/agent``."""
        return dict(await self._call("GET", "/api/agent"))

    async def set_presence(self, presence: str, reason: str | None = None) -> dict[str, Any]:
        """``POST /api/agent/presence``."""
        body: dict[str, Any] = {"presence": presence}
        if reason is not None:
            body["reason"] = reason
        return dict(await self._call("POST", "/api/agent/presence", body))

    async def offers(self) -> list[dict[str, Any]]:
        """``GET /api/agent/offers``."""
        return list(await self._call("GET", "/api/agent/offers"))

    async def accept(self, contact_id: str) -> dict[str, Any]:
        """Accept an offer: the conversation."""
        return dict(await self._call("POST", f"/api/agent/offers/{contact_id}/accept"))

    async def reject(self, contact_id: str) -> None:
        """Reject an offer."""
        await self._call("POST", f"/api/agent/offers/{contact_id}/reject")

    async def send(self, contact_id: str, text: str) -> dict[str, Any]:
        """Write to a chat's customer: the message."""
        return dict(
            await self._call("POST", f"/api/agent/contacts/{contact_id}/messages", {"text": text})
        )

    async def complete(self, contact_id: str, disposition: str | None = None) -> dict[str, Any]:
        """End the conversation (wrap-up follows)."""
        return dict(
            await self._call(
                "POST", f"/api/agent/contacts/{contact_id}/complete", {"disposition": disposition}
            )
        )

    async def end_wrap_up(self, contact_id: str, disposition: str | None = None) -> None:
        """End the wrap-up."""
        await self._call(
            "POST", f"/api/agent/contacts/{contact_id}/wrap-up", {"disposition": disposition}
        )

    async def stats(self) -> dict[str, Any]:
        """``GET /api/agent/stats``."""
        return dict(await self._call("GET", "/api/agent/stats"))


class Supervisor(_User):
    """A supervisor at the wallboard: ``/api/wallboard`` and ``/ws/wallboard``."""

    async def wallboard(self) -> dict[str, Any]:
        """``GET /api/wallboard``."""
        return dict(await self._call("GET", "/api/wallboard"))

    async def open_live(self) -> dict[str, Any]:
        """Open ``/ws/wallboard``: its first wallboard."""
        socket = await self.live("/ws/wallboard")
        return dict((await socket.until("wallboard"))["wallboard"])

    async def next_wallboard(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next wallboard pushed (:meth:`open_live` first)."""
        assert self._live is not None, "open_live() first"
        return dict((await self._live.until("wallboard", timeout))["wallboard"])
