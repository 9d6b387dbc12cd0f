"""The three WebSockets: the customer's chat, the agent's live channel, the wallboard feed.

Each connection runs two tasks: one reads the browser, one sends what the
connection's :class:`~ccroute_web._outbox.Outbox` holds. Whatever the service
tells a browser goes through the outbox, so the service never waits for one;
a browser that does not read is closed with code 1013 once its outbox is full.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import msgspec
from ccroute.errors import CCRouteError
from ccroute.model import Contact
from starlette.websockets import WebSocket, WebSocketDisconnect

from ._chat import Chat, frame
from ._http import session_user
from ._outbox import Outbox
from ._schemas import ChatIn
from ._views import agent_state, wallboard

if TYPE_CHECKING:
    from .channel import WebChannel

__all__ = ["agent_socket", "chat_socket", "wallboard_socket"]

_encoder = msgspec.json.Encoder()

#: Close codes: going away, policy (bad origin, not allowed), too big, try later.
_NORMAL, _POLICY, _TOO_BIG, _TRY_LATER = 1000, 1008, 1009, 1013
_UNKNOWN_TOKEN = 4404


def _same_origin(ws: WebSocket) -> bool:
    """Whether the page that opened the socket is served by this server (or no
    browser is involved: no ``Origin`` header)."""
    origin = ws.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == ws.headers.get("host", "")


async def _pump(ws: WebSocket, box: Outbox, scope: anyio.CancelScope) -> None:
    """Send the outbox's frames until it closes; then close the socket and stop the reader."""
    try:
        async for data in await box.frames():
            await ws.send_text(data)
        await ws.close(_TRY_LATER if box.overflowed else _NORMAL)
    except (WebSocketDisconnect, RuntimeError, OSError, anyio.BrokenResourceError):
        pass  # the browser went away first
    finally:
        scope.cancel()


async def _drop(ws: WebSocket, box: Outbox) -> None:
    """Close the socket of a browser that fell behind (code 1013), giving up after a second."""
    if box.overflowed:
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(1.0),
            contextlib.suppress(Exception),
        ):
            await ws.close(_TRY_LATER)


async def _frames(ws: WebSocket, limit: int) -> str | None:
    """The next text frame (``None``: the browser left). A frame over ``limit`` bytes
    raises ``ValueError``."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    if text is None:
        data = message.get("bytes") or b""
        if len(data) > limit:
            raise ValueError(f"a message must be at most {limit} bytes")
        text = data.decode("utf-8", "replace")
    if len(text) > limit:
        raise ValueError(f"a message must be at most {limit} bytes")
    return text


# ------------------------------------------------------------------ customer


async def chat_socket(web: WebChannel, ws: WebSocket) -> None:
    """``/ws/chat``: one customer's conversation (docs/web.md)."""
    settings = web.settings
    origin = ws.headers.get("origin")
    if settings.allowed_origins and origin not in settings.allowed_origins:
        await ws.close(_POLICY)
        return
    service = web.service
    await ws.accept()
    if service is None or not service.running:
        await ws.send_text(frame("error", error="the service is not running", field=None))
        await ws.close(_TRY_LATER)
        return
    token = ws.query_params.get("resume")
    if token is not None:
        chat = web.chats.by_token(token)
        if chat is None:
            await ws.send_text(
                frame("error", error="this conversation cannot be resumed", field="resume")
            )
            await ws.close(_UNKNOWN_TOKEN)
            return
    else:
        address = ws.client.host if ws.client is not None else "?"
        opened = web.open_chat(address)
        if opened is None:
            await ws.send_text(
                frame("error", error="too many conversations; try later", field=None)
            )
            await ws.close(_TRY_LATER)
            return
        chat = opened
    box = web.attach_chat(chat)
    box.put(
        _encoder.encode(
            {
                "type": "welcome",
                "conversation": chat.id,
                "resume": chat.token,
                "state": chat.state,
                "transcript": list(chat.transcript),
            }
        ).decode()
    )
    async with anyio.create_task_group() as tg:
        box.on_overflow = tg.cancel_scope.cancel
        tg.start_soon(_pump, ws, box, tg.cancel_scope)
        try:
            while True:
                try:
                    text = await _frames(ws, settings.max_frame_bytes)
                except ValueError as error:
                    chat.send(frame("error", error=str(error), field=None))
                    continue
                if text is None:
                    break
                await _customer_says(web, chat, text)
        except WebSocketDisconnect:
            pass
        finally:
            tg.cancel_scope.cancel()
            web.detach_chat(chat, box)
    await _drop(ws, box)


async def _customer_says(web: WebChannel, chat: Chat, text: str) -> None:
    """One frame from the customer: validated, then acted on (a refusal changes nothing)."""
    try:
        said = msgspec.json.decode(text, type=ChatIn)
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        chat.send(frame("error", error=f"not a valid message: {error}", field=None))
        return
    if said.type == "leave":
        await web.leave(chat)
        return
    limit = web.settings.max_message_chars
    raw = (said.text or "").strip()
    # what is kept and shown is masked (a card number typed in the chat)
    body = web.mask(raw)
    if not raw:
        chat.send(frame("error", error="text must not be blank", field="text"))
        return
    if len(raw) > limit:
        chat.send(frame("error", error=f"text must be at most {limit} characters", field="text"))
        return
    if chat.state == "closed":
        chat.send(frame("error", error="this conversation is over", field=None))
        return
    service = web.service
    if service is None:
        return
    now = service.now
    if chat.state == "new":
        await _start(web, chat, body, said.name, now)
    elif chat.state == "flow" and chat.session is not None:
        session = chat.session
        sensitive = chat.sensitive
        # a sensitive answer (a card number, a PIN) is neither kept nor echoed
        message = chat.add("customer", "•••" if sensitive else body, now)
        chat.send(_encoder.encode({"type": "message", "message": message}).decode())
        try:
            # the flow takes the answer itself (a card number for a payment action)
            await session.input(raw)  # type: ignore[attr-defined]
        except CCRouteError as error:
            chat.send(frame("error", error=str(error), field="text"))
    else:
        message = chat.add("customer", body, now)
        chat.send(_encoder.encode({"type": "message", "message": message}).decode())
        # to the agent who answered, or to those it rings for (their screen pop grows)
        agents = [chat.agent_id] if chat.agent_id is not None else web.ringing(chat.id)
        if agents:
            data = _encoder.encode({"type": "message", "contact_id": chat.id, "message": message})
            for agent_id in agents:
                web.to_agent(agent_id, data.decode())


async def _start(web: WebChannel, chat: Chat, text: str, name: str | None, now: float) -> None:
    """The customer's first message: the conversation becomes a contact."""
    service = web.service
    assert service is not None
    settings = web.settings
    chat.name = None if name is None else web.mask(name)
    message = chat.add("customer", text, now)
    chat.send(_encoder.encode({"type": "message", "message": message}).decode())
    attributes: dict[str, str] = {"source": "web chat"}
    if name is not None:
        attributes["name"] = name
    contact = Contact(
        chat.id,
        settings.chat_channel,
        settings.chat_queue,
        requirements=dict(settings.chat_requirements),
        attributes=attributes,
    )
    try:
        if web.flow is not None:
            chat.state = "flow"
            chat.session = await service.flows.start(web.flow, contact, web.flow_sender(chat))
        else:
            chat.state = "queued"
            await service.inbound(contact)
    except CCRouteError as error:
        # nothing durable happened: the chat can try again
        chat.state = "new"
        chat.send(frame("error", error=f"the chat could not start: {error}", field=None))


# -------------------------------------------------------------------- agent


async def agent_socket(web: WebChannel, ws: WebSocket) -> None:
    """``/ws/agent``: the live channel of the agent logged in (docs/web.md)."""
    user = session_user(web, ws)
    if not _same_origin(ws) or user is None or user.agent_id is None or web.service is None:
        await ws.close(_POLICY)
        return
    await ws.accept()
    agent_id = user.agent_id
    box = web.attach_desk(agent_id)
    state = agent_state(web, agent_id)
    if state is not None:
        box.put(_encoder.encode({"type": "state", "state": state}).decode())
    await _listen(ws, box, web.settings.max_frame_bytes)
    web.detach_desk(agent_id, box)


async def wallboard_socket(web: WebChannel, ws: WebSocket) -> None:
    """``/ws/wallboard``: the wallboard, pushed as it changes (docs/web.md)."""
    user = session_user(web, ws)
    if not _same_origin(ws) or user is None or user.role != "supervisor" or web.service is None:
        await ws.close(_POLICY)
        return
    await ws.accept()
    box = web.attach_board()
    box.put(_encoder.encode({"type": "wallboard", "wallboard": wallboard(web)}).decode())
    await _listen(ws, box, web.settings.max_frame_bytes)
    web.detach_board(box)


async def _listen(ws: WebSocket, box: Outbox, limit: int) -> None:
    """Send the outbox while the browser stays; what it sends is read and ignored."""
    async with anyio.create_task_group() as tg:
        box.on_overflow = tg.cancel_scope.cancel
        tg.start_soon(_pump, ws, box, tg.cancel_scope)
        try:
            while True:
                try:
                    if await _frames(ws, limit) is None:
                        break
                except ValueError:
                    break
        except WebSocketDisconnect:
            pass
        finally:
            tg.cancel_scope.cancel()
    await _drop(ws, box)
