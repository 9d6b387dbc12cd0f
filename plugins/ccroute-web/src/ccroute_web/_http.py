"""The plumbing every API route shares: who is asking, reading a bounded JSON
body into a typed value, and turning refusals into one JSON error shape.

An :class:`Endpoint` declares a route once: its method and path, who may call
it, the type of its body and of its answer. The same declaration makes the
Starlette route (:func:`route`) and the OpenAPI operation
(:mod:`ccroute_web._openapi`).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import attrs
import msgspec
from ccroute.errors import (
    CCRouteError,
    DuplicateIdError,
    InvalidStateError,
    InvalidValueError,
    ServiceError,
    UnknownIdError,
)
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from ._auth import User
from ._errors import ApiError
from ._schemas import ErrorOut
from ._settings import Role

if TYPE_CHECKING:
    from ._service import WebService
    from .channel import WebChannel

__all__ = [
    "Call",
    "Endpoint",
    "api_error",
    "error_response",
    "is_loopback",
    "json_response",
    "route",
    "session_user",
]

_encoder = msgspec.json.Encoder()
_FIELD = re.compile(r"at `\$\.?([^`]*)`|field `([^`]*)`")


def json_response(value: Any, status: int = 200) -> Response:
    """``value`` encoded by msgspec as a JSON response."""
    return Response(_encoder.encode(value), status, media_type="application/json")


def error_response(error: ApiError) -> Response:
    """The one JSON shape of every refusal."""
    headers = {"WWW-Authenticate": 'Basic realm="ccroute"'} if error.status == 401 else None
    body = ErrorOut(error=error.message, field=error.field, status=error.status)
    return Response(_encoder.encode(body), error.status, headers, media_type="application/json")


def api_error(error: CCRouteError, field: str | None = None) -> ApiError:
    """The HTTP refusal of an error ccroute raised (it changed nothing)."""
    status = 422
    if isinstance(error, UnknownIdError):
        status = 404
    elif isinstance(error, DuplicateIdError | InvalidStateError):
        status = 409
    elif isinstance(error, ServiceError):
        status = 503
    elif isinstance(error, InvalidValueError):
        status = 422
    return ApiError(status, str(error), field if status == 422 else None)


def _field_of(error: msgspec.ValidationError) -> str | None:
    match = _FIELD.search(str(error))
    if match is None:
        return None
    return (match.group(1) or match.group(2) or "").replace("[...]", "") or None


def is_loopback(conn: HTTPConnection) -> bool:
    """Whether the client connects from a loopback address."""
    client = conn.client
    if client is None:
        return False
    try:
        return ipaddress.ip_address(client.host).is_loopback
    except ValueError:
        return client.host in ("testclient", "localhost")


def session_user(web: WebChannel, conn: HTTPConnection) -> User | None:
    """The user of the signed session cookie, or ``None`` (no cookie, a forged one,
    or one from before the user's last logout)."""
    session = conn.session if "session" in conn.scope else {}
    name, epoch = session.get("user"), session.get("epoch")
    if not isinstance(name, str) or epoch != web.users.epoch(name):
        return None
    return web.users.get(name)


async def basic_user(web: WebChannel, conn: HTTPConnection) -> User | None:
    """The user of an ``Authorization: Basic`` header (password or token), or ``None``.

    :raises ApiError: 401 for a header that names no user with that secret.
    """
    header = conn.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise ApiError(401, "only HTTP Basic authentication is accepted", "authorization")
    try:
        name, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "the Authorization header is not valid Basic credentials") from None
    if not sep:
        raise ApiError(401, "Basic credentials must be user:secret")
    # a key derivation the first time: off the event loop
    user = await anyio.to_thread.run_sync(web.users.authenticate, name, secret)
    if user is None:
        raise ApiError(401, "wrong user name or secret")
    return user


@attrs.frozen(slots=True)
class Call:
    """One API call as a handler sees it."""

    web: WebChannel
    request: Request
    #: The caller (``None`` on public routes).
    user: User | None
    #: The parsed body (``None`` for routes without one).
    body: Any

    @property
    def service(self) -> WebService:
        """The running service (the route checked it runs)."""
        service = self.web.service
        assert service is not None
        return service

    @property
    def agent_id(self) -> str:
        """The caller's agent id (agent routes only)."""
        assert self.user is not None and self.user.agent_id is not None
        return self.user.agent_id

    def service_now(self) -> float:
        """The service clock's time, or the wall clock's while it is stopped."""
        service = self.web.service
        return time.time() if service is None else service.now

    def param(self, name: str) -> str:
        """A path parameter."""
        return str(self.request.path_params[name])


Handler = Callable[[Call], Awaitable[Any]]


@attrs.frozen(slots=True)
class Endpoint:
    """One API route, declared once for the router and the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    summary: str
    #: Who may call it (``None``: anyone, no login).
    roles: frozenset[Role] | None
    #: The type of its JSON body (``None``: no body).
    body: type | None = None
    #: The type of its answer.
    answer: Any = None
    status: int = 200
    #: Refusals it may answer, besides the common ones.
    errors: tuple[int, ...] = ()
    #: Whether it needs the service running (503 otherwise).
    needs_service: bool = True
    #: The media type of its answer.
    media_type: str = "application/json"
    tag: str = "api"


async def read_json(request: Request, limit: int, kind: type) -> Any:
    """The body as a ``kind``, read up to ``limit`` bytes.

    :raises ApiError: 415 not JSON, 413 too large, 400 malformed, 422 invalid (naming the field).
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ApiError(415, "the body must be JSON sent as Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is larger than {limit} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise ApiError(413, f"the body is larger than {limit} bytes")
    try:
        return msgspec.json.decode(bytes(chunks) or b"{}", type=kind)
    except msgspec.ValidationError as error:
        raise ApiError(422, str(error), _field_of(error)) from None
    except msgspec.DecodeError as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from None


def route(web: WebChannel, endpoint: Endpoint) -> Route:
    """The Starlette route of ``endpoint``: authentication, the body, errors."""

    async def handle(request: Request) -> Response:
        try:
            user = None
            if endpoint.roles is not None:
                user = session_user(web, request) or await basic_user(web, request)
                if user is None:
                    raise ApiError(401, "log in first (POST /api/login) or send Basic credentials")
                if user.role not in endpoint.roles:
                    allowed = " or ".join(sorted(endpoint.roles))
                    raise ApiError(
                        403, f"user {user.name!r} is a {user.role}; this needs {allowed}"
                    )
            if endpoint.needs_service and (web.service is None or not web.service.running):
                raise ApiError(503, "the service is not running")
            body = None
            if endpoint.body is not None:
                body = await read_json(request, web.settings.max_body_bytes, endpoint.body)
            answer = await endpoint.handler(Call(web, request, user, body))
        except ApiError as error:
            response = error_response(error)
            # A challenge makes a browser's fetch() open its password dialog (and hang
            # headless): the pages say who they are and get the plain 401.
            if "x-requested-with" in request.headers:
                del response.headers["www-authenticate"]
            return response
        except CCRouteError as error:
            return error_response(api_error(error))
        if isinstance(answer, Response):
            return answer
        return json_response(answer, endpoint.status)

    return Route(endpoint.path, handle, methods=[endpoint.method], name=endpoint.path)
