"""The exception hierarchy of ccroute.

Every error ccroute raises derives from :class:`CCRouteError`. Two families sit
under it, as in h11: :class:`UsageError` when the calling program broke a rule
of the API (an unknown id, a duplicate, an accept of a contact that was not
offered), and :class:`InputError` when data from outside is malformed (a
scenario file, a corrupt log). A call that raises leaves the router exactly as
it was before the call.
"""

from __future__ import annotations

__all__ = [
    "CCRouteError",
    "ClockError",
    "DuplicateIdError",
    "FencedError",
    "FlowError",
    "InputError",
    "InvalidStateError",
    "InvalidValueError",
    "PluginError",
    "ReadOnlyError",
    "ServiceError",
    "StorageError",
    "UnknownIdError",
    "UsageError",
]


class CCRouteError(Exception):
    """Root of every exception raised by ccroute."""


def _cut(id: object) -> str:
    """``repr(id)``, cut short: a message must not carry a megabyte-long id."""
    text = repr(id)
    return text if len(text) <= 60 else f"{text[:55]}…{text[-4:]}"


class UsageError(CCRouteError):
    """The calling program broke a rule of the API; nothing was changed."""


class InputError(CCRouteError):
    """Data from outside the program (a file, a log, a message) is malformed."""


class UnknownIdError(UsageError, KeyError):
    """An agent, contact, queue, channel or skill id is not known to the router.

    Also a :class:`KeyError`, so ``except KeyError`` in calling code keeps working.
    """

    def __init__(self, kind: str, id: object) -> None:
        self.kind = kind
        self.id = id
        super().__init__(f"unknown {kind} {_cut(id)}")

    def __str__(self) -> str:
        # KeyError quotes its argument; the message reads better unquoted.
        return str(self.args[0])


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "an agent", "a queue"."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


class DuplicateIdError(UsageError):
    """An id that must be unique is already in use.

    ``hint`` says what to do instead, e.g. that a declaration with other
    settings under a known id is a change, made with the update command.
    """

    def __init__(self, kind: str, id: str, hint: str | None = None) -> None:
        self.kind = kind
        self.id = id
        message = f"duplicate {kind} id {_cut(id)}: {_a(kind)} with this id already exists"
        super().__init__(message if hint is None else f"{message}; {hint}")


class InvalidValueError(UsageError, ValueError):
    """An argument is outside its allowed range (a skill level of 11, a negative capacity)."""


class InvalidStateError(UsageError):
    """The call is not allowed in the current state of the contact or agent.

    For example accepting a contact that was offered to someone else, or
    completing a contact that was never accepted.
    """


class ClockError(UsageError):
    """The clock went backwards; the router refuses to travel in time."""


class PluginError(UsageError):
    """A plugin cannot be loaded: it implements a hook that does not exist, its
    entry point fails to import, or it is registered twice."""


class StorageError(CCRouteError):
    """The store failed (a disk error, a database that is not a ccroute log).

    When an append fails the service stops taking calls: the router in memory
    is ahead of what is durable, and a restart recovers what was acknowledged.
    """


class FencedError(StorageError):
    """A store refused a write because this node no longer holds the partition's lease.

    Another node took the lease (a newer fencing token) while this one was
    paused, partitioned or slow; nothing of the refused write was stored. The
    service stops taking calls, as for any storage failure, and the node
    that ran it goes back to following the log (docs/high-availability.md).
    ``partition`` names the partition and ``token`` the stale token.
    """

    def __init__(self, message: str, *, partition: str, token: int) -> None:
        super().__init__(message)
        self.partition = partition
        self.token = token


class ServiceError(UsageError):
    """The service is not in a state to take the call (not started, stopping, stopped)."""


class ReadOnlyError(UsageError, AttributeError):
    """A change was asked of a read-only view: the service's router
    (``service.router``, what plugins get) offers its queries, never its commands.

    Change a running service through its command coroutines
    (``await service.submit(contact)`` …), which are logged: a change made
    to the router behind the log's back would be lost, or refused, at the
    next start. Also an :class:`AttributeError`, so ``hasattr`` and
    ``getattr(view, name, default)`` treat the command as absent.
    """


class FlowError(InputError):
    """An IVR or chatbot flow (:mod:`ccroute.ivr`) is refused when it is loaded.

    ``node`` is the id of the node at fault (``None`` for a flow-wide field
    such as ``start``), ``field`` the field within it (``"options[1].next"``),
    when there is one; the message names both. Raised for a malformed field,
    a reference to an unknown node, an unreachable node, a dead end, a loop
    without exit and a loop that takes no input (docs/ivr-flows.md).
    """

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        self.node = node
        self.field = field
        where = []
        if node is not None:
            where.append(f"node {_cut(node)}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"flow: {prefix}: {message}" if prefix else f"flow: {message}")
