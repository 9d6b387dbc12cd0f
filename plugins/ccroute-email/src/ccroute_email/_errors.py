"""The one exception family of the email channel."""

from __future__ import annotations

from ccroute.errors import CCRouteError

__all__ = ["EmailError"]


class EmailError(CCRouteError):
    """The email channel could not do what was asked.

    Raised for bad settings (an unknown key, a port out of range), for a reply
    to a contact the channel does not know, and when the relay refuses or
    cannot be reached; the message names the contact or setting and the reason.
    """
