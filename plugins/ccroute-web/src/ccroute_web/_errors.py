"""The web plugin's exception family and the HTTP errors it becomes."""

from __future__ import annotations

from ccroute.errors import CCRouteError

__all__ = ["ApiError", "WebError"]


class WebError(CCRouteError):
    """The web plugin cannot do what was asked: bad ``"web"`` settings (the
    message names the setting), a password hash it cannot read, a server that
    cannot bind its address."""


class ApiError(WebError):
    """A request the API refuses, with the HTTP status it answers and the field at fault.

    The API turns it into ``{"error": message, "field": field, "status": status}``;
    nothing has changed when it is raised.

    :param status: the HTTP status (4xx).
    :param message: what was wrong, naming the id or value.
    :param field: the input field at fault (a JSON path such as ``"text"`` or
        ``"users.alice.role"``), or ``None``.
    """

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
