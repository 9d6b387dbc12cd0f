"""Wrap-up dispositions: which code an agent may give a contact, and when one is due.

A queue lists its codes (:attr:`QueueConfig.dispositions
<ccroute.QueueConfig.dispositions>`) and may require one
(:attr:`~ccroute.QueueConfig.disposition_required`). The router asks
:func:`check_disposition` before :meth:`~ccroute.Router.complete` or
:meth:`~ccroute.Router.end_wrap_up` changes anything, so a refused code
changes nothing; the code then travels on the contact's record to the
:class:`~ccroute.Completed` and :class:`~ccroute.WrapUpEnded` events
(docs/crm.md, "Dispositions").
"""

from __future__ import annotations

from .._values import show
from ..errors import InvalidStateError, InvalidValueError
from ..model import QueueConfig

__all__ = ["check_disposition"]


def check_disposition(
    config: QueueConfig,
    contact_id: str,
    code: object,
    *,
    given: str | None,
    ends_work: bool,
) -> str | None:
    """The code to keep for a contact of queue ``config``, or refuse the call.

    :param code: the code the call gives (``None``: none).
    :param given: the code the contact has already (from ``complete``).
    :param ends_work: whether this call ends the contact's work (an
        ``end_wrap_up``, or a ``complete`` whose wrap-up ends at once).
    :returns: ``code`` when given, else ``given``.
    :raises InvalidValueError: ``code`` is not one of the queue's codes (the
        message names the code, the queue and the contact).
    :raises InvalidStateError: the queue requires a code, this call ends the
        work, and the contact has none.

    Cost: O(number of codes of the queue).
    """
    if code is None:
        if ends_work and given is None and config.disposition_required:
            raise InvalidStateError(
                f"contact {contact_id!r}: queue {config.name!r} requires a disposition "
                f"(one of {', '.join(config.dispositions)}) before its work ends"
            )
        return given
    if isinstance(code, str):
        code = str.__str__(code)  # a StrEnum member is kept as its plain value
    if not isinstance(code, str) or code not in config.dispositions:
        known = ", ".join(config.dispositions) if config.dispositions else "none"
        raise InvalidValueError(
            f"contact {contact_id!r}: unknown disposition {show(code)} for queue "
            f"{config.name!r} (its codes: {known})"
        )
    return code
