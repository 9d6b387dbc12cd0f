"""ccroute-web: web chat, agent desktop, supervisor wallboard, HTTP API and metrics.

Enable it in the service's settings (``settings["web"] = {"enabled": True,
...}``) or register a :class:`WebChannel`; docs/web.md describes the settings,
authentication, the API and the live protocols.
"""

from __future__ import annotations

from ._auth import User, Users, hash_secret, verify_secret
from ._errors import ApiError, WebError
from ._settings import UserSettings, WebSettings, load_settings
from .app import SESSION_COOKIE, WEBSOCKETS, create_app
from .channel import WebChannel

__all__ = [
    "SESSION_COOKIE",
    "WEBSOCKETS",
    "ApiError",
    "User",
    "UserSettings",
    "Users",
    "WebChannel",
    "WebError",
    "WebSettings",
    "create_app",
    "hash_secret",
    "load_settings",
    "verify_secret",
]
