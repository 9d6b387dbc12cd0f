"""ccroute-web: web chat, agent desktop, supervisor wallboard, HTTP API and metrics.

Enable it in the service's settings (``settings["web"] = {"enabled": True,
...}``) or register a :class:`WebChannel`; docs/web.md describes the settings,
the API and the live protocols.
"""

from __future__ import annotations

from ._errors import ApiError, WebError
from ._settings import UserSettings, WebSettings
from .app import create_app
from .channel import WebChannel

__all__ = ["ApiError", "UserSettings", "WebChannel", "WebError", "WebSettings", "create_app"]
