"""The router's state-changing calls as values: one table for the service, the log and replay.

Each command is a frozen attrs class holding the arguments of one
:class:`~ccroute.Router` method. The service builds a command for every call
it makes, applies it with :meth:`Command.apply`, and logs it; a restarted
service decodes the logged commands and applies them again. The class's
``name`` is the command's name in the log (the ``command`` column of the
SQLite store), and :data:`COMMANDS` maps each name to its class, so the async
wrappers, the names in the log and replay all read the same table.

Commands carry their arguments as given: the router validates them when the
command is applied, exactly as it validates a direct call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

import attrs

from .model import Agent, Channel, Contact, Presence, QueueConfig, _frozen_mapping

if TYPE_CHECKING:
    from .events import Event
    from .router import Router

__all__ = [
    "COMMANDS",
    "Abandon",
    "Accept",
    "AddAgent",
    "AddChannel",
    "AddExclusion",
    "AddQueue",
    "AddQueues",
    "Command",
    "Complete",
    "CallbackUnansweredCall",
    "EndWrapUp",
    "Note",
    "Reject",
    "RemoveAgent",
    "RemoveExclusion",
    "RequestCallback",
    "ScheduleCallback",
    "SetCapacity",
    "SetPresence",
    "Submit",
    "Tick",
    "Transfer",
    "UpdateAgent",
    "UpdateContact",
    "UpdateQueue",
]


@attrs.frozen(slots=True)
class Command:
    """A state-changing router call, as data.

    Subclasses set :attr:`name` and implement :meth:`apply`.
    """

    #: The command's name in the log.
    name: ClassVar[str] = ""

    def apply(self, router: Router) -> list[Event]:
        """Make the call on ``router`` and return the events it caused.

        Raises what the router method raises; a refused call changes nothing.
        """
        raise NotImplementedError


#: Every command class by its name in the log.
COMMANDS: Final[dict[str, type[Command]]] = {}


_C = TypeVar("_C", bound=type[Command])


def _command(cls: _C) -> _C:
    if not cls.name or cls.name in COMMANDS:
        raise RuntimeError(f"command {cls.__name__} has a missing or duplicate name {cls.name!r}")
    COMMANDS[cls.name] = cls
    return cls


# ------------------------------------------------------------------ set-up


@_command
@attrs.frozen(slots=True)
class AddChannel(Command):
    """:meth:`Router.add_channel`."""

    name: ClassVar[str] = "add_channel"
    channel: Channel

    def apply(self, router: Router) -> list[Event]:
        return router.add_channel(self.channel)


@_command
@attrs.frozen(slots=True)
class AddQueue(Command):
    """:meth:`Router.add_queue`."""

    name: ClassVar[str] = "add_queue"
    config: QueueConfig

    def apply(self, router: Router) -> list[Event]:
        return router.add_queue(self.config)


@_command
@attrs.frozen(slots=True)
class AddQueues(Command):
    """:meth:`Router.add_queues`: several queues at once (they may overflow to each other)."""

    name: ClassVar[str] = "add_queues"
    configs: tuple[QueueConfig, ...]

    def apply(self, router: Router) -> list[Event]:
        return router.add_queues(self.configs)


@_command
@attrs.frozen(slots=True)
class AddAgent(Command):
    """:meth:`Router.add_agent`."""

    name: ClassVar[str] = "add_agent"
    agent: Agent
    presence: Presence = Presence.OFFLINE

    def apply(self, router: Router) -> list[Event]:
        return router.add_agent(self.agent, self.presence)


@_command
@attrs.frozen(slots=True)
class RemoveAgent(Command):
    """:meth:`Router.remove_agent`."""

    name: ClassVar[str] = "remove_agent"
    agent_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.remove_agent(self.agent_id)


# ------------------------------------------------------------------ agents


@_command
@attrs.frozen(slots=True)
class SetPresence(Command):
    """:meth:`Router.set_presence`."""

    name: ClassVar[str] = "set_presence"
    agent_id: str
    presence: Presence
    reason: str | None = None

    def apply(self, router: Router) -> list[Event]:
        return router.set_presence(self.agent_id, self.presence, self.reason)


@_command
@attrs.frozen(slots=True)
class SetCapacity(Command):
    """:meth:`Router.set_capacity`."""

    name: ClassVar[str] = "set_capacity"
    agent_id: str
    channel: str
    capacity: int

    def apply(self, router: Router) -> list[Event]:
        return router.set_capacity(self.agent_id, self.channel, self.capacity)


@_command
@attrs.frozen(slots=True)
class AddExclusion(Command):
    """:meth:`Router.add_exclusion`."""

    name: ClassVar[str] = "add_exclusion"
    customer_id: str
    agent_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.add_exclusion(self.customer_id, self.agent_id)


@_command
@attrs.frozen(slots=True)
class RemoveExclusion(Command):
    """:meth:`Router.remove_exclusion`."""

    name: ClassVar[str] = "remove_exclusion"
    customer_id: str
    agent_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.remove_exclusion(self.customer_id, self.agent_id)


# ---------------------------------------------------------------- contacts


@_command
@attrs.frozen(slots=True)
class Submit(Command):
    """:meth:`Router.submit`."""

    name: ClassVar[str] = "submit"
    contact: Contact

    def apply(self, router: Router) -> list[Event]:
        return router.submit(self.contact)


@_command
@attrs.frozen(slots=True)
class Accept(Command):
    """:meth:`Router.accept`."""

    name: ClassVar[str] = "accept"
    contact_id: str
    agent_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.accept(self.contact_id, self.agent_id)


@_command
@attrs.frozen(slots=True)
class Reject(Command):
    """:meth:`Router.reject`."""

    name: ClassVar[str] = "reject"
    contact_id: str
    agent_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.reject(self.contact_id, self.agent_id)


@_command
@attrs.frozen(slots=True)
class Complete(Command):
    """:meth:`Router.complete`."""

    name: ClassVar[str] = "complete"
    contact_id: str
    disposition: str | None = None

    def apply(self, router: Router) -> list[Event]:
        return router.complete(self.contact_id, self.disposition)


@_command
@attrs.frozen(slots=True)
class EndWrapUp(Command):
    """:meth:`Router.end_wrap_up`."""

    name: ClassVar[str] = "end_wrap_up"
    contact_id: str
    disposition: str | None = None

    def apply(self, router: Router) -> list[Event]:
        return router.end_wrap_up(self.contact_id, self.disposition)


@_command
@attrs.frozen(slots=True)
class Abandon(Command):
    """:meth:`Router.abandon`."""

    name: ClassVar[str] = "abandon"
    contact_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.abandon(self.contact_id)


def _requirements(
    value: Mapping[str, int] | tuple[tuple[str, int], ...] | None,
) -> tuple[tuple[str, int], ...] | None:
    # A mapping becomes sorted pairs, so equal transfers are equal commands.
    if isinstance(value, Mapping):
        return tuple(sorted(value.items()))
    return value


@_command
@attrs.frozen(slots=True)
class Transfer(Command):
    """:meth:`Router.transfer`.

    ``requirements`` is kept as sorted ``(skill, level)`` pairs (a mapping is
    accepted and converted).
    """

    name: ClassVar[str] = "transfer"
    contact_id: str
    queue: str | None = None
    requirements: tuple[tuple[str, int], ...] | None = attrs.field(
        default=None, converter=_requirements
    )
    agent: str | None = None
    keep_key: bool = True

    def apply(self, router: Router) -> list[Event]:
        requirements = None if self.requirements is None else dict(self.requirements)
        return router.transfer(
            self.contact_id,
            queue=self.queue,
            requirements=requirements,
            agent=self.agent,
            keep_key=self.keep_key,
        )


@_command
@attrs.frozen(slots=True)
class RequestCallback(Command):
    """:meth:`Router.request_callback`."""

    name: ClassVar[str] = "request_callback"
    contact_id: str
    channel: str = "callback"

    def apply(self, router: Router) -> list[Event]:
        return router.request_callback(self.contact_id, self.channel)


@_command
@attrs.frozen(slots=True)
class ScheduleCallback(Command):
    """:meth:`Router.schedule_callback`: hold a callback until ``at`` (router time)."""

    name: ClassVar[str] = "schedule_callback"
    contact: Contact
    at: float

    def apply(self, router: Router) -> list[Event]:
        return router.schedule_callback(self.contact, self.at)


@_command
@attrs.frozen(slots=True)
class CallbackUnansweredCall(Command):
    """:meth:`Router.callback_unanswered`: the agent's call was not answered."""

    name: ClassVar[str] = "callback_unanswered"
    contact_id: str

    def apply(self, router: Router) -> list[Event]:
        return router.callback_unanswered(self.contact_id)


# --------------------------------------------------------- runtime changes


@_command
@attrs.frozen(slots=True)
class UpdateQueue(Command):
    """:meth:`Router.update_queue`: new settings for a known queue."""

    name: ClassVar[str] = "update_queue"
    config: QueueConfig

    def apply(self, router: Router) -> list[Event]:
        return router.update_queue(self.config)


@_command
@attrs.frozen(slots=True)
class UpdateAgent(Command):
    """:meth:`Router.update_agent`: new skills, queues, capacities … for a known agent."""

    name: ClassVar[str] = "update_agent"
    agent: Agent

    def apply(self, router: Router) -> list[Event]:
        return router.update_agent(self.agent)


def _levels(pairs: tuple[tuple[str, int], ...] | None) -> Mapping[str, int] | None:
    # Pairs that do not make a mapping are passed on for the router to refuse.
    try:
        return None if pairs is None else dict(pairs)
    except (TypeError, ValueError):
        return pairs  # type: ignore[return-value]


def _attributes(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    # Read-only, as a contact's own; a value that is no mapping is kept for
    # the router to refuse.
    return None if value is None else _frozen_mapping(value)


@_command
@attrs.frozen(slots=True)
class UpdateContact(Command):
    """:meth:`Router.update_contact`.

    Each field left ``None`` leaves that part of the contact unchanged (none
    of them takes ``None`` as a value). ``requirements`` is kept as sorted
    ``(skill, level)`` pairs (a mapping is accepted and converted);
    ``attributes`` replaces the contact's attributes as a whole.
    """

    name: ClassVar[str] = "update_contact"
    contact_id: str
    priority_seconds: float | None = None
    tier: int | None = None
    requirements: tuple[tuple[str, int], ...] | None = attrs.field(
        default=None, converter=_requirements
    )
    attributes: Mapping[str, Any] | None = attrs.field(
        default=None, converter=_attributes, hash=False
    )

    def apply(self, router: Router) -> list[Event]:
        return router.update_contact(
            self.contact_id,
            priority_seconds=self.priority_seconds,
            tier=self.tier,
            requirements=_levels(self.requirements),
            attributes=self.attributes,
        )


# ------------------------------------------------------------------ timers


@_command
@attrs.frozen(slots=True)
class Tick(Command):
    """:meth:`Router.tick`: apply the timers that fell due."""

    name: ClassVar[str] = "tick"

    def apply(self, router: Router) -> list[Event]:
        return router.tick().events


@_command
@attrs.frozen(slots=True)
class Note(Command):
    """Not a router call: the service's own pipeline events (IVR, CRM, delivery).

    They are logged for the audit trail and for observers; replay skips them.
    """

    name: ClassVar[str] = "note"

    def apply(self, router: Router) -> list[Event]:
        return []
