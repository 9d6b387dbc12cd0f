"""The web plugin's settings: the service's ``settings["web"]`` mapping, checked once.

msgspec converts and checks the mapping (types, ranges, unknown keys); the
error names the setting at fault.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from ._errors import WebError

__all__ = ["KIB", "Role", "UserSettings", "WebSettings", "load_settings"]

#: One kibibyte, the unit of the size limits.
KIB = 1024

#: What a user may do: an agent works the desktop, a supervisor reads the
#: wallboard and the statistics, an integration submits contacts (the webhook)
#: and reads statistics and ``/metrics``.
Role = Literal["agent", "supervisor", "integration"]

_Seconds = Annotated[float, msgspec.Meta(ge=0, le=86_400 * 7)]
_Positive = Annotated[float, msgspec.Meta(gt=0, le=86_400 * 7)]


class UserSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One user of the desktop, the wallboard or the API.

    :param role: ``"agent"``, ``"supervisor"`` or ``"integration"``.
    :param password: the hash of the user's password
        (:func:`ccroute_web.hash_secret`; never the password itself).
    :param token: the hash of an API token the user may send instead, with
        HTTP Basic authentication (``user:token``).
    :param agent: the router's agent id of an agent (defaults to the user name).
    :param name: the name shown to customers and on the wallboard.
    """

    role: Role
    password: str | None = None
    token: str | None = None
    agent: str | None = None
    name: str | None = None


class WebSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Everything the web plugin reads from ``settings["web"]`` (all optional).

    :param enabled: start the HTTP server (the entry-point plugin listens only then).
    :param host: address to bind; loopback by default. Anything else exposes
        the desktop and the API to the network: put TLS in front.
    :param port: port to bind; ``0`` picks a free one (read it from
        :attr:`WebChannel.port`).
    :param secret: the key that signs session cookies; without one, a random
        key is made at start (sessions then end with the process).
    :param secure_cookies: mark the session cookie ``Secure`` (behind HTTPS).
    :param session_hours: how long a login lasts.
    :param users: user name to :class:`UserSettings`.
    :param chat_channel: the channel of web chats (added to the router, as a
        semi-synchronous channel, when it does not know it).
    :param chat_queue: the queue web chats are submitted to.
    :param chat_requirements: skill name to minimum level for web chats.
    :param flow: path of an IVR/chatbot flow file (TOML) web chats go through
        before the queue; its prompts are shown to the customer.
    :param webhook_channels: channels the webhook (``POST /api/contacts``) may
        submit to; the desktop shows the offers of these and of the chat channel.
    :param resume_grace: seconds a customer who lost the connection has to
        come back (with the resume token) before the chat is abandoned.
    :param max_message_chars: longest chat message.
    :param max_body_bytes: largest HTTP request body.
    :param max_frame_bytes: largest WebSocket message.
    :param max_transcript: most messages kept per conversation (oldest dropped).
    :param send_queue: messages waiting for one slow browser before it is
        disconnected (the service never waits for a browser).
    :param wallboard_every: seconds between wallboard pushes while anything changes.
    :param interval_minutes: length of the wallboard's reporting interval.
    :param utc_offset_minutes: offset of the centre's local time, for "today"
        and interval boundaries.
    :param metrics_loopback_only: ``/metrics`` answers loopback clients without
        authentication; others must authenticate as a supervisor or integration.
    :param chats_per_ip: most open customer sockets from one address.
    :param max_conversations: most conversations kept (open or in grace).
    :param allowed_origins: origins whose pages may open the customer socket
        (the widget embedded in a site); empty: any.
    """

    enabled: bool = False
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=0, le=65_535)] = 8080
    secret: Annotated[str, msgspec.Meta(min_length=16)] | None = None
    secure_cookies: bool = False
    session_hours: _Positive = 12.0
    users: dict[str, UserSettings] = msgspec.field(default_factory=dict)
    chat_channel: str = "chat"
    chat_queue: str = "chat"
    chat_requirements: dict[str, Annotated[int, msgspec.Meta(ge=1, le=10)]] = msgspec.field(
        default_factory=dict
    )
    flow: str | None = None
    webhook_channels: list[str] = msgspec.field(default_factory=lambda: ["task"])
    resume_grace: _Seconds = 30.0
    max_message_chars: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 4_000
    max_body_bytes: Annotated[int, msgspec.Meta(ge=256, le=16 * 1024 * KIB)] = 64 * KIB
    max_frame_bytes: Annotated[int, msgspec.Meta(ge=256, le=16 * 1024 * KIB)] = 16 * KIB
    max_transcript: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 500
    send_queue: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 256
    wallboard_every: Annotated[float, msgspec.Meta(ge=0.05, le=3600)] = 1.0
    interval_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] = 15
    utc_offset_minutes: Annotated[int, msgspec.Meta(ge=-1440, le=1440)] = 0
    metrics_loopback_only: bool = True
    chats_per_ip: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1000
    max_conversations: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 100_000
    allowed_origins: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("chat_channel", "chat_queue", "host"):
            if not getattr(self, name):
                raise WebError(f"web setting {name!r} must be a non-empty string")
        if 1440 % self.interval_minutes:
            raise WebError(
                f"web setting 'interval_minutes' must divide a day (1440), got {self.interval_minutes}"
            )
        for user, spec in self.users.items():
            if not user or len(user) > 200:
                raise WebError(f"web setting 'users' has a user name of bad length: {user!r}")
            if spec.password is None and spec.token is None:
                raise WebError(f"web user {user!r} has neither a password nor a token hash")

    @property
    def loopback(self) -> bool:
        """Whether the server binds a loopback address only."""
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return self.host == "localhost"


def load_settings(raw: Mapping[str, Any] | None, **overrides: Any) -> WebSettings:
    """The settings from ``settings["web"]`` (``None``: the defaults) with ``overrides``.

    :raises WebError: an unknown setting or a bad value, naming it.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise WebError(f"the service's 'web' settings must be a mapping, got {raw!r:.80}")
    merged = {**raw, **overrides}
    users = merged.get("users")
    if isinstance(users, Mapping):
        # checked one by one, so that an error names the user
        checked = {}
        for name, spec in users.items():
            try:
                checked[name] = msgspec.convert(spec, UserSettings)
            except msgspec.ValidationError as error:
                raise WebError(f"web user {name!r}: {error}") from None
        merged["users"] = {name: msgspec.to_builtins(spec) for name, spec in checked.items()}
    try:
        return msgspec.convert(merged, WebSettings)
    except msgspec.ValidationError as error:
        raise WebError(f"web settings: {error}") from None
