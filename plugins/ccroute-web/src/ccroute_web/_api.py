"""The HTTP API's handlers and the table that declares them (docs/web.md, "The HTTP API").

Every handler checks everything before it calls the service, so a refusal
changes nothing; an agent acts only on its own offers and contacts (403), and
the router, read in the same step as the call (no ``await`` between), is the
judge of what the agent holds.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import anyio.to_thread
import msgspec
from ccroute.errors import CCRouteError, UnknownIdError
from ccroute.events import FlowFinished, Refused
from ccroute.model import Contact, Presence

from ._errors import ApiError
from ._http import Call, Endpoint, api_error
from ._schemas import (
    AcceptBody,
    AgentState,
    AgentStatsOut,
    ContactOut,
    Conversation,
    DispositionBody,
    HealthOut,
    LoginBody,
    Me,
    Message,
    NewContact,
    Offer,
    Ok,
    PresenceBody,
    QueueBoard,
    TextBody,
    Wallboard,
)
from ._settings import Role
from ._views import agent_state, agent_stats, conversation, queue_board, wallboard

if TYPE_CHECKING:
    from ._auth import User

__all__ = ["ENDPOINTS"]

_encoder = msgspec.json.Encoder()

_AGENT: frozenset[Role] = frozenset({"agent"})
_SUPERVISOR: frozenset[Role] = frozenset({"supervisor"})
_READERS: frozenset[Role] = frozenset({"supervisor", "integration"})
_INTEGRATION: frozenset[Role] = frozenset({"integration"})
_ANYONE: frozenset[Role] = frozenset({"agent", "supervisor", "integration"})


def _me(user: User) -> Me:
    return Me(user=user.name, role=user.role, name=user.display, agent_id=user.agent_id)


# ------------------------------------------------------------------ session


async def health(call: Call) -> HealthOut:
    service = call.web.service
    running = service is not None and service.running
    return HealthOut(running=running, durable_seq=service.durable_seq if service else None)


async def login(call: Call) -> Me:
    body: LoginBody = call.body
    users = call.web.users
    wait = users.locked_for(body.user, call.service_now())
    if wait > 0:
        raise ApiError(
            429, f"too many failed logins for {body.user!r}: try again in {wait:.0f} s", "user"
        )
    # a key derivation: off the event loop
    user = await anyio.to_thread.run_sync(
        lambda: users.authenticate(body.user, body.password, tokens=False)
    )
    if user is None:
        users.failed(body.user, call.service_now())
        raise ApiError(401, "wrong user name or password", "password")
    call.request.session.clear()
    call.request.session["user"] = user.name
    call.request.session["epoch"] = users.epoch(user.name)
    return _me(user)


async def logout(call: Call) -> Ok:
    user = call.user
    assert user is not None
    if user.agent_id is not None and call.web.service is not None:
        try:
            view = call.web.service.router.agent(user.agent_id)
        except UnknownIdError:
            view = None
        if view is not None:
            if view.in_service or view.wrap_up:
                raise ApiError(
                    409, f"agent {user.agent_id!r} still holds contacts: complete them first"
                )
            if view.presence is not Presence.OFFLINE:
                await call.web.service.set_presence(user.agent_id, Presence.OFFLINE)
    # every session of the user ends, on every browser (signed cookies cannot be recalled)
    call.web.users.end_sessions(user.name)
    call.request.session.clear()
    return Ok()


async def me(call: Call) -> Me:
    assert call.user is not None
    return _me(call.user)


# ------------------------------------------------------------------- agent


def _state(call: Call) -> AgentState:
    state = agent_state(call.web, call.agent_id)
    if state is None:
        raise ApiError(404, f"agent {call.agent_id!r} is not known to the router")
    return state


async def get_agent(call: Call) -> AgentState:
    return _state(call)


async def set_presence(call: Call) -> AgentState:
    body: PresenceBody = call.body
    if body.reason is not None and body.presence != "not-ready":
        raise ApiError(422, "a reason goes only with presence 'not-ready'", "reason")
    _state(call)  # 404 for an agent the router does not know
    await call.service.set_presence(call.agent_id, Presence(body.presence), body.reason)
    return _state(call)


async def list_offers(call: Call) -> list[Offer]:
    _state(call)
    return call.web.offers_of(call.agent_id)


def _check_offer(call: Call) -> str:
    """The contact id of the path, if it is offered to the caller (404, 403 otherwise)."""
    contact_id = call.param("contact_id")
    router = call.service.router
    router.contact(contact_id)  # UnknownIdError: 404
    if contact_id not in router.agent(call.agent_id).offered:
        raise ApiError(403, f"contact {contact_id!r} is not offered to agent {call.agent_id!r}")
    return contact_id


def _check_held(call: Call, *, in_service: bool = False, wrap_up: bool = False) -> str:
    """The contact id of the path, if the caller holds it (404, 403, 409 otherwise)."""
    contact_id = call.param("contact_id")
    router = call.service.router
    router.contact(contact_id)  # UnknownIdError: 404
    agent = router.agent(call.agent_id)
    if contact_id not in agent.in_service and contact_id not in agent.wrap_up:
        raise ApiError(403, f"contact {contact_id!r} is not held by agent {call.agent_id!r}")
    if in_service and contact_id not in agent.in_service:
        raise ApiError(409, f"contact {contact_id!r} is in wrap-up, not in service")
    if wrap_up and contact_id not in agent.wrap_up:
        raise ApiError(409, f"contact {contact_id!r} is in service, not in wrap-up")
    return contact_id


async def accept(call: Call) -> Conversation:
    contact_id = _check_offer(call)
    call.web.keep_pop(contact_id, call.agent_id)
    try:
        await call.service.accept(contact_id, call.agent_id)
    except CCRouteError:
        call.web.drop_pop(contact_id)
        raise
    found = conversation(call.web, contact_id)
    if found is None:
        raise ApiError(409, f"contact {contact_id!r} left before it could be shown")
    return found


async def reject(call: Call) -> Ok:
    contact_id = _check_offer(call)
    await call.service.reject(contact_id, call.agent_id)
    return Ok()


async def list_contacts(call: Call) -> list[Conversation]:
    return _state(call).contacts


async def get_contact(call: Call) -> Conversation:
    contact_id = _check_held(call)
    found = conversation(call.web, contact_id)
    assert found is not None
    return found


async def send_message(call: Call) -> Message:
    body: TextBody = call.body
    limit = call.web.settings.max_message_chars
    text = body.text.strip()
    if not text:
        raise ApiError(422, "text must not be blank", "text")
    if len(text) > limit:
        raise ApiError(422, f"text must be at most {limit} characters", "text")
    contact_id = _check_held(call, in_service=True)
    chat = call.web.chats.get(contact_id)
    if chat is None or chat.state == "closed":
        raise ApiError(409, f"contact {contact_id!r} is not an open web chat")
    user = call.user
    assert user is not None
    message = chat.add("agent", call.web.mask(text), call.service.now, agent=user.display)
    data = _encoder.encode({"type": "message", "message": message}).decode()
    chat.send(data)
    call.web.to_agent(
        call.agent_id,
        _encoder.encode({"type": "message", "contact_id": contact_id, "message": message}).decode(),
    )
    return message


def _check_disposition(call: Call, contact_id: str, code: str | None) -> None:
    config = call.service.router.queue_config(call.service.router.contact(contact_id).queue)
    if code is not None and config.dispositions and code not in config.dispositions:
        allowed = ", ".join(config.dispositions)
        raise ApiError(
            422,
            f"disposition {code!r} is not one of queue {config.name!r}'s: {allowed}",
            "disposition",
        )
    if code is None and config.disposition_required:
        raise ApiError(422, f"queue {config.name!r} requires a disposition", "disposition")


async def complete(call: Call) -> Conversation:
    body: DispositionBody = call.body
    contact_id = _check_held(call, in_service=True)
    before = conversation(call.web, contact_id)
    assert before is not None
    if body.disposition is not None:
        _check_disposition(call, contact_id, body.disposition)
    try:
        await call.service.complete(contact_id, body.disposition)
    except CCRouteError as error:
        raise api_error(error, "disposition") from None
    after = conversation(call.web, contact_id)
    return after if after is not None else msgspec.structs.replace(before, state="ended")


async def end_wrap_up(call: Call) -> Ok:
    body: DispositionBody = call.body
    contact_id = _check_held(call, wrap_up=True)
    _check_disposition(call, contact_id, body.disposition)
    try:
        await call.service.end_wrap_up(contact_id, body.disposition)
    except CCRouteError as error:
        raise api_error(error, "disposition") from None
    return Ok()


async def my_stats(call: Call) -> AgentStatsOut:
    _state(call)
    return agent_stats(call.web, call.agent_id)


# --------------------------------------------------------------- wallboard


async def get_wallboard(call: Call) -> Wallboard:
    return wallboard(call.web)


async def list_queues(call: Call) -> list[QueueBoard]:
    report = call.service.metrics.report(call.service.router.now)
    return [queue_board(call.web, name, report) for name in call.service.router.queues]


async def get_queue(call: Call) -> QueueBoard:
    return queue_board(call.web, call.param("name"))


# ----------------------------------------------------------------- webhook


async def submit_contact(call: Call) -> ContactOut:
    body: NewContact = call.body
    web = call.web
    router = call.service.router
    if body.channel not in web.settings.webhook_channels:
        allowed = ", ".join(web.settings.webhook_channels)
        raise ApiError(
            422, f"channel {body.channel!r} is not a webhook channel ({allowed})", "channel"
        )
    if body.queue not in router.queues:
        raise ApiError(422, f"queue {body.queue!r} is not known to the router", "queue")
    contact_id = body.id or f"hook-{secrets.token_hex(8)}"
    try:
        router.contact(contact_id)
    except UnknownIdError:
        pass
    else:
        raise ApiError(409, f"contact {contact_id!r} is known to the service already")
    try:
        contact = Contact(
            contact_id,
            body.channel,
            body.queue,
            requirements=body.requirements,
            priority_seconds=body.priority_seconds,
            customer_id=body.customer_id,
            attributes=body.attributes,
        )
    except CCRouteError as error:
        raise ApiError(
            422, str(error), "attributes" if "attribute" in str(error) else None
        ) from None
    events = await call.service.inbound(contact)
    for e in events:
        if isinstance(e, Refused):
            return ContactOut(contact_id=contact_id, state="refused")
        if isinstance(e, FlowFinished) and e.outcome == "self-service":
            return ContactOut(contact_id=contact_id, state="self-service")
    try:
        view = router.contact(contact_id)
    except UnknownIdError:
        return ContactOut(contact_id=contact_id, state="ended")
    position = router.position(contact_id) if view.state.value == "waiting" else None
    return ContactOut(contact_id=contact_id, state=view.state.value, position=position)


#: Every HTTP route of the API, in the order of docs/web.md.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/healthz",
        health,
        "Whether the service runs",
        None,
        answer=HealthOut,
        needs_service=False,
        tag="health",
    ),
    Endpoint(
        "POST",
        "/api/login",
        login,
        "Log in (sets the session cookie)",
        None,
        LoginBody,
        Me,
        errors=(401,),
        needs_service=False,
        tag="session",
    ),
    Endpoint(
        "POST",
        "/api/logout",
        logout,
        "Log out (an agent goes offline first)",
        _ANYONE,
        AcceptBody,
        Ok,
        errors=(409,),
        needs_service=False,
        tag="session",
    ),
    Endpoint(
        "GET",
        "/api/me",
        me,
        "The user logged in",
        _ANYONE,
        answer=Me,
        needs_service=False,
        tag="session",
    ),
    Endpoint(
        "GET",
        "/api/agent",
        get_agent,
        "The agent's state, offers and contacts",
        _AGENT,
        answer=AgentState,
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/presence",
        set_presence,
        "Set the agent's presence",
        _AGENT,
        PresenceBody,
        AgentState,
        tag="agent",
    ),
    Endpoint(
        "GET",
        "/api/agent/offers",
        list_offers,
        "The agent's open offers with their screen pops",
        _AGENT,
        answer=list[Offer],
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/offers/{contact_id}/accept",
        accept,
        "Accept an offer",
        _AGENT,
        AcceptBody,
        Conversation,
        errors=(404, 409),
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/offers/{contact_id}/reject",
        reject,
        "Reject an offer",
        _AGENT,
        AcceptBody,
        Ok,
        errors=(404, 409),
        tag="agent",
    ),
    Endpoint(
        "GET",
        "/api/agent/contacts",
        list_contacts,
        "The contacts the agent holds",
        _AGENT,
        answer=list[Conversation],
        tag="agent",
    ),
    Endpoint(
        "GET",
        "/api/agent/contacts/{contact_id}",
        get_contact,
        "One held contact with its transcript",
        _AGENT,
        answer=Conversation,
        errors=(404,),
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/contacts/{contact_id}/messages",
        send_message,
        "Write to the customer of a chat",
        _AGENT,
        TextBody,
        Message,
        status=201,
        errors=(404, 409),
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/contacts/{contact_id}/complete",
        complete,
        "End the conversation (wrap-up follows)",
        _AGENT,
        DispositionBody,
        Conversation,
        errors=(404, 409),
        tag="agent",
    ),
    Endpoint(
        "POST",
        "/api/agent/contacts/{contact_id}/wrap-up",
        end_wrap_up,
        "End the wrap-up with a disposition",
        _AGENT,
        DispositionBody,
        Ok,
        errors=(404, 409),
        tag="agent",
    ),
    Endpoint(
        "GET",
        "/api/agent/stats",
        my_stats,
        "The agent's own figures",
        _AGENT,
        answer=AgentStatsOut,
        tag="agent",
    ),
    Endpoint(
        "GET",
        "/api/wallboard",
        get_wallboard,
        "The wallboard",
        _SUPERVISOR,
        answer=Wallboard,
        tag="wallboard",
    ),
    Endpoint(
        "GET",
        "/api/queues",
        list_queues,
        "Every queue's statistics",
        _READERS,
        answer=list[QueueBoard],
        tag="wallboard",
    ),
    Endpoint(
        "GET",
        "/api/queues/{name}",
        get_queue,
        "One queue's statistics",
        _READERS,
        answer=QueueBoard,
        errors=(404,),
        tag="wallboard",
    ),
    Endpoint(
        "POST",
        "/api/contacts",
        submit_contact,
        "Submit a contact from another system (the webhook)",
        _INTEGRATION,
        NewContact,
        ContactOut,
        status=202,
        errors=(409,),
        tag="webhook",
    ),
)
