"""A read-only view of a live :class:`~ccroute.Router`: what ``service.router`` is.

A running :class:`~ccroute.Service` logs every change it makes to its router
and rebuilds the router from that log at the next start. A change made to the
router itself (``router.submit(...)``, ``router.tick()``, a clock moved by
hand) is in no record: the next start replays to another state, or refuses
the log as diverging. So the service hands out, to plugins and application
alike, a :class:`ReadOnlyRouter`: every query of the router (views,
figures, positions, estimated waits, explanations, counters, its time), and
none of its commands. Asking it for a command raises
:class:`~ccroute.errors.ReadOnlyError` (a :class:`~ccroute.UsageError`)
naming the service's coroutine to use instead.

Cost: the queries are the router's own bound methods, looked up once when
the view is made, so calling ``view.contact(id)`` costs what
``router.contact(id)`` does; the properties (``now``, ``queues``, the
counters) add one Python property call (tens of nanoseconds).

The view is a guard against mistakes, not a sandbox: a plugin runs in the
service's process and could reach anything it is determined to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn

from .errors import ReadOnlyError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .explain import AgentExplanation, ContactExplanation
    from .model import Channel, QueueConfig
    from .policies import RoutingPolicy
    from .router import Router
    from .snapshot import RouterState
    from .views import AgentView, ChannelStats, ContactView, QueueStats

__all__ = ["COMMANDS", "QUERIES", "ReadOnlyRouter"]

#: The router's query methods the view offers, bound once (they change nothing).
QUERIES: Final = (
    "agent",
    "channel_stats",
    "contact",
    "estimate_wait",
    "estimated_wait",
    "exclusions",
    "explain",
    "explain_agent",
    "handle_time",
    "is_open",
    "next_due",
    "next_open",
    "position",
    "queue_config",
    "queue_size",
    "queue_stats",
    "snapshot",
    "state",
    "waiting",
)

#: The router's commands and what to use instead, for the message a plugin gets.
COMMANDS: Final = {
    **{
        name: f"await service.{name}(...)"
        for name in (
            "abandon",
            "accept",
            "add_agent",
            "add_channel",
            "add_exclusion",
            "add_queue",
            "add_queues",
            "callback_unanswered",
            "complete",
            "end_wrap_up",
            "reject",
            "remove_agent",
            "remove_exclusion",
            "request_callback",
            "schedule_callback",
            "set_capacity",
            "set_presence",
            "submit",
            "tick",
            "transfer",
            "update_agent",
            "update_contact",
            "update_queue",
        )
    },
    "observe": (
        "the ccroute_events hook (every batch of events once it is durable); "
        "the application may register a router observer with service.observe_router(f)"
    ),
    "unobserve": "service.unobserve_router(f), for an observer the application registered",
    "restore": "nothing: the service rebuilds its router from the log at start",
    "clock": "router.now or service.now (the service sets the router's clock)",
}


def _refuse(name: str) -> property:
    instead = COMMANDS[name]

    def refused(self: ReadOnlyRouter) -> NoReturn:
        raise ReadOnlyError(
            f"router.{name} is not available here: the service's router is read-only "
            f"(a change made to it would not be logged, and the next start would lose "
            f"or refuse it); use {instead} instead"
        )

    return property(
        refused, doc=f"Refused (:class:`~ccroute.errors.ReadOnlyError`): use {instead}."
    )


class ReadOnlyRouter:
    """The queries of a live :class:`~ccroute.Router`, none of its commands.

    Implements :class:`ccroute.hooktypes.RouterView`; also offers the
    router's counters, ``state()``, ``snapshot()`` and ``len()``. Reading
    a command (``view.submit``) raises :class:`~ccroute.errors.ReadOnlyError`;
    so does setting or deleting any attribute.

    :param router: the router to read (the view holds it, never copies it).
    """

    __slots__ = ("__dict__", "_router")
    _router: Router

    if TYPE_CHECKING:
        # Set per instance to the router's own bound methods (see __init__).
        def agent(self, agent_id: str) -> AgentView: ...
        def channel_stats(self, channel: str) -> ChannelStats: ...
        def contact(self, contact_id: str) -> ContactView: ...
        def estimate_wait(
            self,
            queue: str,
            channel: str,
            requirements: Mapping[str, int] | None = None,
            *,
            priority_seconds: float = 0.0,
            tier: int = 0,
            position: int | None = None,
        ) -> float | None: ...
        def estimated_wait(self, contact_id: str) -> float | None: ...
        def exclusions(self, customer_id: str) -> frozenset[str]: ...
        def explain(self, contact_id: str) -> ContactExplanation: ...
        def explain_agent(self, agent_id: str) -> AgentExplanation: ...
        def handle_time(self, queue: str, channel: str) -> float | None: ...
        def is_open(self, queue: str, at: float | None = None) -> bool: ...
        def next_due(self) -> float | None: ...
        def next_open(self, queue: str) -> float | None: ...
        def position(self, contact_id: str) -> int: ...
        def queue_config(self, name: str) -> QueueConfig: ...
        def queue_size(self, queue: str) -> int: ...
        def queue_stats(self, queue: str) -> QueueStats: ...
        def snapshot(self) -> bytes: ...
        def state(self) -> RouterState: ...
        def waiting(self, queue: str | None = None) -> list[ContactView]: ...

    def __init__(self, router: Router) -> None:
        set_ = object.__setattr__
        set_(self, "_router", router)
        # Bound once: a query through the view is the router's own call.
        self.__dict__.update({name: getattr(router, name) for name in QUERIES})

    # -- what changes as the router works: read through on each access

    @property
    def now(self) -> float:
        """The time of the router's last call."""
        return self._router.now

    @property
    def epoch(self) -> float:
        """The Unix time of the router's time zero (:attr:`Router.epoch <ccroute.Router.epoch>`)."""
        return self._router.epoch

    @property
    def policy(self) -> RoutingPolicy:
        """The router-wide routing policy."""
        return self._router.policy

    @property
    def strategies(self) -> dict[str, Any]:
        """The custom strategies the router knows, by name (a copy)."""
        return self._router.strategies

    @property
    def queues(self) -> list[str]:
        """Names of the known queues, in the order they were added."""
        return self._router.queues

    @property
    def channels(self) -> list[Channel]:
        """The known channels, in the order they were added."""
        return self._router.channels

    @property
    def agent_ids(self) -> list[str]:
        """Ids of every agent, in the order they were added."""
        return self._router.agent_ids

    @property
    def contact_ids(self) -> list[str]:
        """Ids of every live contact (waiting, offered, in service, in wrap-up)."""
        return self._router.contact_ids

    @property
    def submitted(self) -> int:
        """Contacts admitted since the router's log began."""
        return self._router.submitted

    @property
    def completed(self) -> int:
        """Contacts whose wrap-up ended."""
        return self._router.completed

    @property
    def abandoned(self) -> int:
        """Contacts abandoned before being answered."""
        return self._router.abandoned

    @property
    def timed_out(self) -> int:
        """Contacts that left with :class:`~ccroute.TimedOut`."""
        return self._router.timed_out

    @property
    def unreached(self) -> int:
        """Callbacks closed unreached."""
        return self._router.unreached

    @property
    def strategy_failures(self) -> int:
        """Decisions where a custom strategy failed and longest idle chose instead."""
        return self._router.strategy_failures

    @property
    def observer_failures(self) -> int:
        """Router observer calls that raised."""
        return self._router.observer_failures

    @property
    def last_observer_error(self) -> Exception | None:
        """The exception the last failing router observer raised, or ``None``."""
        return self._router.last_observer_error

    def __len__(self) -> int:
        """Number of waiting contacts. Cost: O(1)."""
        return len(self._router)

    def __repr__(self) -> str:
        return f"<read-only view of {self._router!r}>"

    # -- refused

    abandon = _refuse("abandon")
    accept = _refuse("accept")
    add_agent = _refuse("add_agent")
    add_channel = _refuse("add_channel")
    add_exclusion = _refuse("add_exclusion")
    add_queue = _refuse("add_queue")
    add_queues = _refuse("add_queues")
    callback_unanswered = _refuse("callback_unanswered")
    complete = _refuse("complete")
    end_wrap_up = _refuse("end_wrap_up")
    reject = _refuse("reject")
    remove_agent = _refuse("remove_agent")
    remove_exclusion = _refuse("remove_exclusion")
    request_callback = _refuse("request_callback")
    schedule_callback = _refuse("schedule_callback")
    set_capacity = _refuse("set_capacity")
    set_presence = _refuse("set_presence")
    submit = _refuse("submit")
    tick = _refuse("tick")
    transfer = _refuse("transfer")
    update_agent = _refuse("update_agent")
    update_contact = _refuse("update_contact")
    update_queue = _refuse("update_queue")
    observe = _refuse("observe")
    unobserve = _refuse("unobserve")
    restore = _refuse("restore")
    clock = _refuse("clock")

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise ReadOnlyError(
            f"cannot set {name!r} on the service's router: it is read-only; "
            "change the service through its commands (await service.submit(...) …)"
        )

    def __delattr__(self, name: str) -> NoReturn:
        raise ReadOnlyError(f"cannot delete {name!r} from the service's router: it is read-only")
