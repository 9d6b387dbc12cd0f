"""The domain model: channels, contacts, agents, queues and their settings.

These are the values an application hands to the :class:`~ccroute.Router`. They
are frozen attrs classes: once built they never change, and the router keeps
its own mutable state beside them. Validation happens here, so a malformed
value is refused before it reaches the router.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from .errors import InvalidValueError

__all__ = [
    "BUILTIN_CHANNELS",
    "Admission",
    "MAX_LEVEL",
    "MIN_LEVEL",
    "Agent",
    "Channel",
    "ChannelKind",
    "Contact",
    "Presence",
    "QueueConfig",
    "RoutingStep",
    "Strategy",
]

#: Lowest skill proficiency an agent can have or a contact can require.
MIN_LEVEL = 1
#: Highest skill proficiency.
MAX_LEVEL = 10


class ChannelKind(enum.Enum):
    """How a channel's customer waits: on the line, in a session, or not at all."""

    #: The customer is on the line and may hang up (voice, video, callback).
    SYNCHRONOUS = "synchronous"
    #: The customer is in a session and answers within minutes (chat, SMS, social).
    SEMI_SYNCHRONOUS = "semi-synchronous"
    #: The customer does not wait (email, tasks); contacts can wait hours.
    ASYNCHRONOUS = "asynchronous"


class Presence(enum.Enum):
    """What an agent has said about themselves.

    ``BUSY`` and ``WRAP_UP`` are not presences but consequences of work; see
    :attr:`ccroute.AgentView.status`.
    """

    OFFLINE = "offline"
    AVAILABLE = "available"
    NOT_READY = "not-ready"


class Strategy(enum.Enum):
    """How a queue picks one agent among several eligible ones.

    Ties always break by agent id (string order), so the choice is deterministic.
    """

    #: Agents with no work first, then the one idle the longest: the earliest
    #: moment it became available or finished its last piece of work.
    LONGEST_IDLE = "longest-idle"
    #: Highest sum of proficiency over the contact's required skills.
    MOST_SKILLED = "most-skilled"
    #: Lowest share of capacity in use (units used / unit budget when the agent
    #: has a budget, otherwise contacts held / total channel capacity).
    LEAST_OCCUPIED = "least-occupied"
    #: The eligible agent whose id follows, in string order, the agent this
    #: queue offered to last; wraps around.
    ROUND_ROBIN = "round-robin"
    #: Fewest contacts accepted since the agent was added.
    FEWEST_HANDLED = "fewest-handled"
    #: Uniformly at random among the eligible agents, from the router's seeded
    #: generator.
    RANDOM = "random"


class Admission(enum.Enum):
    """When a queue admits a contact (beyond its size limit).

    A contact that is not admitted gets a :class:`~ccroute.Refused` event
    with the reason; it is never an exception.
    """

    #: Admit every contact while the queue has room.
    ALWAYS = "always"
    #: Refuse a contact while no member of the queue is logged in
    #: (reason ``"no agent logged in"``).
    LOGGED_IN = "logged-in"
    #: Refuse a contact while no logged-in agent could ever take it: a member
    #: of its queue, with its skills at the levels it requires, capacity on its
    #: channel, and not excluded for it (reason ``"no eligible agent"``).
    #: Load and readiness do not count: a busy or not-ready agent still
    #: qualifies.
    ELIGIBLE = "eligible"


def _check_level(level: object, where: str) -> int:
    if not isinstance(level, int) or isinstance(level, bool):
        raise InvalidValueError(f"{where}: skill level must be an integer, got {level!r}")
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise InvalidValueError(f"{where}: skill level {level} is outside {MIN_LEVEL}..{MAX_LEVEL}")
    return level


def _check_skill_name(name: object, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidValueError(f"{where}: skill name must be a non-empty string, got {name!r}")
    return name


def _skill_levels(
    value: Mapping[str, int] | Iterable[tuple[str, int]],
) -> tuple[tuple[str, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), v) for k, v in items))


def _overrides(
    value: Mapping[str, int | None] | Iterable[tuple[str, int | None]],
) -> tuple[tuple[str, int | None], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), v) for k, v in items))


def _frozen_names(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset((value,))
    return frozenset(value)


class _ReadOnlyMapping(Mapping[str, Any]):
    """A read-only view of a private dict that, unlike MappingProxyType, pickles
    (router snapshots and the service's log carry contacts and agents)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[type[_ReadOnlyMapping], tuple[dict[str, Any]]]:
        return (type(self), (self._data,))


def _frozen_mapping(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return _ReadOnlyMapping(value or {})


def _optional_mapping(value: Mapping[str, int] | None) -> Mapping[str, int] | None:
    return None if value is None else _ReadOnlyMapping(value)


def _steps(value: Iterable[RoutingStep]) -> tuple[RoutingStep, ...]:
    return tuple(value)


def _blocking(
    value: Mapping[str, Iterable[str]] | Iterable[tuple[str, Iterable[str]]],
) -> tuple[tuple[str, frozenset[str]], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), _frozen_names(v)) for k, v in items))


def _delays(
    value: Mapping[str, float] | Iterable[tuple[str, float]],
) -> tuple[tuple[str, float], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((str(k), v) for k, v in items))


def check_blocking(blocking: tuple[tuple[str, frozenset[str]], ...], where: str) -> None:
    """Refuse a channel-blocking matrix with an empty channel name."""
    for holding, blocked in blocking:
        _check_id(holding, f"{where}: blocking channel")
        for name in blocked:
            _check_id(name, f"{where}: blocked channel")


def _check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidValueError(f"{what} id must be a non-empty string, got {value!r}")


def _check_finite(value: float, what: str, *, minimum: float = 0.0) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InvalidValueError(f"{what} must be a finite number, got {value!r}")
    if value < minimum:
        raise InvalidValueError(f"{what} must be at least {minimum}, got {value!r}")


@attrs.frozen(slots=True)
class Channel:
    """A medium contacts arrive on (voice, chat, email …) and how agents handle it.

    :param name: unique channel name, e.g. ``"voice"``.
    :param kind: whether the customer waits on the line, in a session, or not at all.
    :param default_capacity: how many contacts of this channel an agent handles at
        once when the agent does not say otherwise.
    :param unit_cost: units one contact of this channel takes from an agent's
        shared unit budget (only for agents that have a budget).
    :param exclusive: a contact on this channel needs an agent with no other work
        and, while held, keeps every other offer away ("a voice call excludes
        other work").
    """

    name: str
    kind: ChannelKind
    default_capacity: int = 1
    unit_cost: int = 0
    exclusive: bool = False

    def __attrs_post_init__(self) -> None:
        _check_id(self.name, "channel")
        if not isinstance(self.kind, ChannelKind):
            raise InvalidValueError(f"channel {self.name!r}: kind must be a ChannelKind")
        if self.default_capacity < 0:
            raise InvalidValueError(
                f"channel {self.name!r}: default capacity must be >= 0, got {self.default_capacity}"
            )
        if self.unit_cost < 0:
            raise InvalidValueError(
                f"channel {self.name!r}: unit cost must be >= 0, got {self.unit_cost}"
            )


#: Channels every router knows without being told. Costs fit a 100-unit budget:
#: a voice call fills it, a chat takes a third, an email a fifth.
BUILTIN_CHANNELS: tuple[Channel, ...] = (
    Channel("voice", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("video", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("callback", ChannelKind.SYNCHRONOUS, default_capacity=1, unit_cost=100),
    Channel("chat", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=3, unit_cost=33),
    Channel("sms", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("social", ChannelKind.SEMI_SYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("email", ChannelKind.ASYNCHRONOUS, default_capacity=5, unit_cost=20),
    Channel("task", ChannelKind.ASYNCHRONOUS, default_capacity=5, unit_cost=10),
)


@attrs.frozen(slots=True)
class RoutingStep:
    """A change to a waiting contact's requirements once it has waited ``after`` seconds.

    Steps relax (or tighten) requirements as time passes, as TaskRouter
    workflows and bullseye routing do. ``after`` counts from the moment the
    contact entered its current queue. Steps apply in order, each on top of
    the requirements left by the previous one.

    :param after: seconds after queuing when the step applies.
    :param requirements: skill overrides: a level sets that skill's minimum
        (adding the skill if the contact did not require it); ``None`` drops
        the skill from the requirements.
    :param queues: further queues whose members may now take the contact.
    """

    after: float
    requirements: tuple[tuple[str, int | None], ...] = attrs.field(default=(), converter=_overrides)
    queues: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)

    def __attrs_post_init__(self) -> None:
        _check_finite(self.after, "routing step 'after'")
        for name, level in self.requirements:
            _check_skill_name(name, "routing step")
            if level is not None:
                _check_level(level, f"routing step skill {name!r}")


@attrs.frozen(slots=True)
class QueueConfig:
    """A line of business (sales, support …) and its routing policy.

    :param name: unique queue name.
    :param strategy: how an agent is chosen among eligible ones: a built-in
        :class:`Strategy`, or the name of a custom strategy (an
        :class:`~ccroute.AgentStrategy` the router was given).
    :param service_level_threshold: seconds within which an answer counts as
        meeting the service level (the "20" of "80/20").
    :param service_level_target: share of contacts to answer within the
        threshold (the "80%" of "80/20"), in 0..1.
    :param steps: routing steps, in increasing order of ``after``.
    :param max_size: most contacts that may wait in the queue; a contact that
        arrives at a full queue is refused with a :class:`~ccroute.Refused` event.
    :param offer_timeout: seconds an agent has to accept an offer; ``None``
        waits for ever.
    :param wrap_up: seconds of after-contact work after :meth:`Router.complete`;
        ``None`` keeps the agent in wrap-up until :meth:`Router.end_wrap_up`.
    :param rona_not_ready: whether an agent who lets an offer time out
        ("redirect on no answer") is made not-ready.
    :param blocking: channel-blocking matrix for this queue's contacts:
        ``{"voice": {"chat"}}`` means an agent holding voice work (offered, in
        service or in wrap-up) is not offered this queue's chats. It adds to
        the router's matrix (:class:`~ccroute.RoutingPolicy`). See
        docs/policies/blocking.md.
    :param ring: offer each contact to up to this many eligible agents at
        once (ring-all); the first to accept wins and the other offers are
        withdrawn with :class:`~ccroute.OfferRescinded`.
    :param max_wait: seconds a contact may wait in this queue (counted from
        entering it, offers included) before it overflows or times out;
        ``None`` waits for ever. A contact's own ``max_wait`` overrides it.
    :param overflow: the queue a contact moves to when its maximum wait is
        over (an :class:`~ccroute.Overflowed` event); ``None`` makes it leave
        with :class:`~ccroute.TimedOut`.
    :param overflow_keep_key: whether an overflowed contact keeps its place
        in line (its key) or queues as if it arrived at the overflow.
    :param skip_if_no_agent: while no logged-in agent could ever take a
        waiting contact (see :attr:`Admission.ELIGIBLE`), apply its next
        routing step at once, and when none is left, overflow or time out at
        once (TaskRouter's ``skip_if``, FreeSWITCH's no-agent-no-wait).
    :param admission: when to refuse a contact beyond the size limit.
    :param rejoin_window: seconds during which a customer who abandoned this
        queue and comes back (a contact with the same ``customer_id`` and
        queue) regains the abandoned contact's place in line; ``None`` never.
    :param priority_seconds: a head start, in seconds of waiting, given to
        every contact of this queue: it shifts the queue against others in
        the order an agent serving several queues sees (cross-queue weight).
    """

    name: str
    strategy: Strategy | str = Strategy.LONGEST_IDLE
    service_level_threshold: float = 20.0
    service_level_target: float = 0.8
    steps: tuple[RoutingStep, ...] = attrs.field(default=(), converter=_steps)
    max_size: int | None = None
    offer_timeout: float | None = 30.0
    wrap_up: float | None = 0.0
    rona_not_ready: bool = True
    blocking: tuple[tuple[str, frozenset[str]], ...] = attrs.field(default=(), converter=_blocking)
    ring: int = 1
    max_wait: float | None = None
    overflow: str | None = None
    overflow_keep_key: bool = True
    skip_if_no_agent: bool = False
    admission: Admission = Admission.ALWAYS
    rejoin_window: float | None = None
    priority_seconds: float = 0.0

    def __attrs_post_init__(self) -> None:
        _check_id(self.name, "queue")
        where = f"queue {self.name!r}"
        check_blocking(self.blocking, where)
        if not isinstance(self.ring, int) or isinstance(self.ring, bool) or self.ring < 1:
            raise InvalidValueError(f"{where}: ring must be an integer >= 1, got {self.ring!r}")
        if self.max_wait is not None:
            _check_finite(self.max_wait, f"{where} max_wait")
            if self.max_wait <= 0:
                raise InvalidValueError(f"{where}: max_wait must be > 0, got {self.max_wait!r}")
        if self.overflow is not None:
            _check_id(self.overflow, f"{where}: overflow queue")
        if not isinstance(self.admission, Admission):
            raise InvalidValueError(f"{where}: admission must be an Admission")
        if self.rejoin_window is not None:
            _check_finite(self.rejoin_window, f"{where} rejoin_window")
        _check_finite(self.priority_seconds, f"{where} priority_seconds", minimum=-math.inf)
        if not isinstance(self.strategy, Strategy) and not (
            isinstance(self.strategy, str) and self.strategy
        ):
            raise InvalidValueError(
                f"queue {self.name!r}: strategy must be a Strategy or the name of a custom "
                f"strategy, got {self.strategy!r}"
            )
        _check_finite(self.service_level_threshold, f"queue {self.name!r} service level threshold")
        if not 0.0 <= self.service_level_target <= 1.0:
            raise InvalidValueError(
                f"queue {self.name!r}: service level target must be in 0..1, "
                f"got {self.service_level_target!r}"
            )
        previous = -1.0
        for step in self.steps:
            if not isinstance(step, RoutingStep):
                raise InvalidValueError(f"queue {self.name!r}: steps must be RoutingStep values")
            if step.after <= previous:
                raise InvalidValueError(
                    f"queue {self.name!r}: routing steps must have strictly increasing 'after' "
                    f"times, got {step.after} after {previous}"
                )
            previous = step.after
        if self.max_size is not None and self.max_size < 0:
            raise InvalidValueError(f"queue {self.name!r}: max_size must be >= 0")
        if self.offer_timeout is not None:
            _check_finite(self.offer_timeout, f"queue {self.name!r} offer timeout")
            if self.offer_timeout <= 0:
                raise InvalidValueError(f"queue {self.name!r}: offer timeout must be > 0")
        if self.wrap_up is not None:
            _check_finite(self.wrap_up, f"queue {self.name!r} wrap-up")


@attrs.frozen(slots=True)
class Agent:
    """A person or bot who handles contacts.

    :param id: unique agent id.
    :param skills: skill name to proficiency (1..10).
    :param queues: queues the agent is a member of; it is offered contacts of
        these queues only.
    :param capacity: channel name to how many contacts of that channel the agent
        handles at once. ``None`` gives the agent every channel the router knows
        at its default capacity; a mapping gives only the channels it names.
    :param unit_budget: optional budget of units shared across channels (each
        contact takes its channel's ``unit_cost``).
    :param queue_delays: queue name to seconds: a contact of that queue is
        offered to this agent only once it has waited that long in the queue
        (Amazon Connect's routing-profile delay), so other agents get it
        first. The delay is a named hold-back, shown by
        :meth:`Router.explain`.
    """

    id: str
    skills: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_skill_levels)
    queues: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    capacity: Mapping[str, int] | None = attrs.field(
        default=None,
        converter=_optional_mapping,
        eq=False,
        hash=False,
    )
    unit_budget: int | None = None
    queue_delays: tuple[tuple[str, float], ...] = attrs.field(default=(), converter=_delays)

    def __attrs_post_init__(self) -> None:
        _check_id(self.id, "agent")
        for name, delay in self.queue_delays:
            _check_id(name, f"agent {self.id!r}: delayed queue")
            _check_finite(delay, f"agent {self.id!r} delay for queue {name!r}")
        seen: set[str] = set()
        for name, level in self.skills:
            _check_skill_name(name, f"agent {self.id!r}")
            _check_level(level, f"agent {self.id!r} skill {name!r}")
            if name in seen:
                raise InvalidValueError(f"agent {self.id!r}: skill {name!r} is listed twice")
            seen.add(name)
        if self.capacity is not None:
            for channel, cap in self.capacity.items():
                if not isinstance(cap, int) or isinstance(cap, bool) or cap < 0:
                    raise InvalidValueError(
                        f"agent {self.id!r}: capacity for channel {channel!r} must be an "
                        f"integer >= 0, got {cap!r}"
                    )
        if self.unit_budget is not None and (
            not isinstance(self.unit_budget, int) or self.unit_budget < 0
        ):
            raise InvalidValueError(
                f"agent {self.id!r}: unit budget must be an integer >= 0, got {self.unit_budget!r}"
            )

    @property
    def skill_levels(self) -> dict[str, int]:
        """The skills as a new dict of name to level."""
        return dict(self.skills)


@attrs.frozen(slots=True)
class Contact:
    """One customer request on one channel, as the application submits it.

    :param id: unique contact id.
    :param channel: channel name (``"voice"``, ``"chat"`` …).
    :param queue: queue name.
    :param requirements: skill name to the minimum level an agent needs.
    :param priority_seconds: a head start in seconds of waiting: the contact is
        ordered as if it had arrived this much earlier.
    :param tier: a strict class above priority (emergencies): a higher tier is
        always served first.
    :param customer_id: the customer's id, for CRM and exclusions.
    :param attributes: free-form data carried along and shown to the agent.
    :param preferred_agent: an agent to wait for (sticky or last-agent routing).
    :param preferred_wait: seconds to wait for the preferred agent before any
        eligible agent may take the contact.
    :param excluded_agents: agents who must never be offered this contact,
        not even as a last resort (see also :meth:`Router.add_exclusion` for
        exclusions per customer).
    :param max_wait: seconds this contact may wait in a queue before it
        overflows or times out; overrides the queue's ``max_wait``.
    """

    id: str
    channel: str
    queue: str
    requirements: tuple[tuple[str, int], ...] = attrs.field(default=(), converter=_skill_levels)
    priority_seconds: float = 0.0
    tier: int = 0
    customer_id: str | None = None
    attributes: Mapping[str, Any] = attrs.field(
        factory=dict, converter=_frozen_mapping, eq=False, hash=False
    )
    preferred_agent: str | None = None
    preferred_wait: float = 0.0
    excluded_agents: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    max_wait: float | None = None

    def __attrs_post_init__(self) -> None:
        _check_id(self.id, "contact")
        for agent_id in self.excluded_agents:
            _check_id(agent_id, f"contact {self.id!r}: excluded agent")
        if self.max_wait is not None:
            _check_finite(self.max_wait, f"contact {self.id!r} max_wait")
            if self.max_wait <= 0:
                raise InvalidValueError(
                    f"contact {self.id!r}: max_wait must be > 0, got {self.max_wait!r}"
                )
        if not isinstance(self.channel, str) or not self.channel:
            raise InvalidValueError(f"contact {self.id!r}: channel must be a non-empty string")
        if not isinstance(self.queue, str) or not self.queue:
            raise InvalidValueError(f"contact {self.id!r}: queue must be a non-empty string")
        seen: set[str] = set()
        for name, level in self.requirements:
            _check_skill_name(name, f"contact {self.id!r}")
            _check_level(level, f"contact {self.id!r} required skill {name!r}")
            if name in seen:
                raise InvalidValueError(f"contact {self.id!r}: skill {name!r} is listed twice")
            seen.add(name)
        if not isinstance(self.priority_seconds, (int, float)) or not math.isfinite(
            self.priority_seconds
        ):
            raise InvalidValueError(
                f"contact {self.id!r}: priority_seconds must be a finite number"
            )
        if not isinstance(self.tier, int) or isinstance(self.tier, bool):
            raise InvalidValueError(f"contact {self.id!r}: tier must be an integer")
        _check_finite(self.preferred_wait, f"contact {self.id!r} preferred_wait")

    @property
    def requirement_levels(self) -> dict[str, int]:
        """The requirements as a new dict of skill name to minimum level."""
        return dict(self.requirements)
