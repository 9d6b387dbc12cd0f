"""ccroute-email: the email channel of ccroute.

An SMTP server (aiosmtpd, in its own thread) turns each received message into
an email contact for the service; offers reach agents through
:attr:`EmailChannel.offers`; agents answer with :meth:`EmailChannel.reply`,
sent through an SMTP relay with threading headers, so that the customer's
answer comes back to the same agent first.

Register an :class:`EmailChannel` with the service, or install the
distribution and let the ``ccroute`` entry point load
:mod:`ccroute_email.plugin`, a default channel configured from the service's
``"email"`` settings, which listens only when those settings say
``"enabled": True``: installing the distribution opens no port by itself.
"""

from __future__ import annotations

from ._errors import EmailError
from ._memory import OfferInbox, ThreadMap
from ._message import MailRecord, MalformedMailError, ParsedMail, parse_mail, reply_subject
from ._settings import MIB, EmailSettings
from .channel import CHANNEL, EmailChannel

__version__ = "0.1.0"

__all__ = [
    "CHANNEL",
    "MIB",
    "EmailChannel",
    "EmailError",
    "EmailSettings",
    "MailRecord",
    "MalformedMailError",
    "OfferInbox",
    "ParsedMail",
    "ThreadMap",
    "__version__",
    "parse_mail",
    "reply_subject",
]
