"""Helpers for testing code that embeds ccroute, and for ccroute's own tests.

A router is deterministic and does no I/O, so a test drives it with a
:class:`~ccroute.ManualClock` and checks the events it returns.
:class:`RouterHarness` sets that up and records every event; the functions
below turn events and routers into values that are easy to assert on::

    from ccroute.testing import RouterHarness, assert_work_conserving, offers

    h = RouterHarness()
    h.queue("q")
    h.agent("ann", queues={"q"})
    assert offers(h.submit("c1")) == [("c1", "ann")]
    h.advance(30)
    assert_work_conserving(h.router)

Everything here reads the router through its public API, except
:func:`check_queue`, :func:`queue_entries` and :func:`watch_offers`, which
look at the router's own machinery (its universal queue, the moment an offer
is made) so that tests of ccroute and of alternative queue backends can check
it; what they return or accept may change with the router's internals.

Importing :mod:`ccroute` does not import this module, and this module
imports no test framework: use it with pytest, unittest or plain asserts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar, cast

from . import _queue
from ._codes import Key
from ._queue_protocol import QueueBackend
from ._values import show
from .clock import ManualClock
from .errors import InvalidValueError
from .events import Event, Offered, OfferReason
from .model import Agent, Contact, Presence, QueueConfig
from .router import Router
from .router_view import ReadOnlyRouter

__all__ = [
    "OfferWatcher",
    "RouterHarness",
    "assert_work_conserving",
    "check_queue",
    "of_type",
    "offers",
    "queue_entries",
    "snapshot",
    "using_queue",
    "watch_offers",
]

E = TypeVar("E", bound=Event)


class RouterHarness:
    """A router, its manual clock, and every event it produced, in order.

    ``RouterHarness(**options)`` builds ``Router(ManualClock(), **options)``
    (``seed``, ``channels``, ``policy`` …). The shortcuts below add queues
    and agents and submit contacts with short defaults; each returns the
    events of its call, and :attr:`events` keeps all of them.
    """

    def __init__(self, **options: Any) -> None:
        self.clock = ManualClock()
        """The router's clock; :meth:`advance` moves it."""
        self.router = Router(self.clock, **options)
        """The router under test."""
        self.events: list[Event] = []
        """Every event the router produced since the harness was built."""
        self.router.observe(self.events.extend)

    def queue(self, name: str, **config: Any) -> list[Event]:
        """Add the queue ``QueueConfig(name, **config)``."""
        return self.router.add_queue(QueueConfig(name, **config))

    def agent(
        self, agent_id: str, presence: Presence = Presence.AVAILABLE, **spec: Any
    ) -> list[Event]:
        """Add ``Agent(agent_id, **spec)``, available unless ``presence`` says otherwise."""
        return self.router.add_agent(Agent(agent_id, **spec), presence)

    def submit(
        self, contact_id: str, channel: str = "voice", queue: str = "q", **spec: Any
    ) -> list[Event]:
        """Submit ``Contact(contact_id, channel, queue, **spec)``."""
        return self.router.submit(Contact(contact_id, channel, queue, **spec))

    def advance(self, seconds: float) -> list[Event]:
        """Move the clock ``seconds`` on and run the timers that fell due (:meth:`Router.tick`)."""
        self.clock.advance(seconds)
        return self.router.tick().events

    def offers(self, events: Iterable[Event] | None = None) -> list[tuple[str, str]]:
        """:func:`offers` of ``events``, or of every event so far."""
        return offers(self.events if events is None else events)


@contextlib.contextmanager
def using_queue(factory: Callable[[], QueueBackend]) -> Iterator[None]:
    """Within the block, every new :class:`~ccroute.Router` routes with a queue
    made by ``factory``: those made by a service, a simulation or a restore
    too, which a ``queue_backend`` argument cannot reach.

    For running one test against each queue twin (``ccroute._fastqueue`` and
    ``ccroute._queue_py``), or against a reference matcher. Not thread-safe:
    it changes a process-wide default, restored when the block ends.
    """
    if not callable(factory):
        raise InvalidValueError(f"using_queue expects a factory of queues, got {show(factory)}")
    previous = _queue.default_factory
    _queue.default_factory = factory
    try:
        yield
    finally:
        _queue.default_factory = previous


def of_type(events: Iterable[Event], cls: type[E]) -> list[E]:
    """The events of class ``cls`` (or a subclass), in order."""
    return [e for e in events if isinstance(e, cls)]


def offers(events: Iterable[Event]) -> list[tuple[str, str]]:
    """The ``(contact_id, agent_id)`` of every :class:`~ccroute.Offered` event, in order."""
    return [(e.contact_id, e.agent_id) for e in events if isinstance(e, Offered)]


def snapshot(router: Router | ReadOnlyRouter) -> dict[str, Any]:
    """Everything observable about a router, as one value, for "nothing changed" assertions.

    Two snapshots compare equal when every agent and contact view, the
    waiting order, the queue sizes, the next timer, the counters and the
    time are the same (a service's read-only ``service.router`` will do)::

        before = snapshot(router)
        with pytest.raises(CCRouteError):
            router.accept("c1", "nobody")
        assert snapshot(router) == before
    """
    return {
        "agents": {a: router.agent(a) for a in router.agent_ids},
        "contacts": {c: router.contact(c) for c in router.contact_ids},
        "waiting": [c.id for c in router.waiting()],
        "sizes": {q: router.queue_size(q) for q in router.queues},
        "next_due": router.next_due(),
        "counts": (router.submitted, router.completed, router.abandoned, len(router)),
        "now": router.now,
    }


def assert_work_conserving(router: Router | ReadOnlyRouter) -> None:
    """Assert that no waiting contact and available agent could be matched right now.

    Between calls, a router leaves no contact waiting while an agent is
    eligible for it: :meth:`Router.explain` of every live contact and
    :meth:`Router.explain_agent` of every agent list nobody eligible. Also
    asserts that no agent holds more than its capacity on a channel or more
    units than its budget.

    :raises AssertionError: naming the contact or agent concerned.
    """
    for contact_id in router.contact_ids:
        assert router.explain(contact_id).eligible == (), contact_id
    for agent_id in router.agent_ids:
        assert router.explain_agent(agent_id).eligible == (), agent_id
        view = router.agent(agent_id)
        for channel, n in view.load.items():
            assert n <= view.capacity[channel], (agent_id, channel)
        if view.unit_budget is not None:
            assert view.units_used <= view.unit_budget, agent_id


class _Inspectable(QueueBackend, Protocol):
    """The queue's checking entries (every implementation has them; the router uses neither)."""

    def check(self) -> None: ...

    def iter_waiting(self) -> Iterable[tuple[Key, int]]: ...


def _queue_of(router: Router) -> _Inspectable:
    return cast(_Inspectable, router._q)


def check_queue(router: Router) -> None:
    """Assert that the router's universal queue is sound and holds exactly the waiting contacts.

    Runs the queue implementation's own check of its internal invariants,
    then compares the contacts it holds with the contacts the router says
    are waiting. For tests of ccroute itself and of queue backends.

    :raises AssertionError: what does not hold.
    """
    queue = _queue_of(router)
    queue.check()
    held = sorted(handle for _key, handle in queue.iter_waiting())
    records = router._contacts
    waiting = sorted(records[c.id].handle for c in router.waiting())
    assert held == waiting, f"the queue holds handles {held}, the waiting contacts are {waiting}"


def queue_entries(router: Router) -> list[tuple[Key, int]]:
    """The router's universal queue as the queue holds it: ``(key, handle)`` of
    every waiting contact, sorted.

    The key is the contact's :attr:`~ccroute.ContactView.key`; the handle is
    the router's internal number for it. Compare the lists of two routers
    driven alike, or of one router before and after a call that must change
    nothing; the values themselves mean nothing outside the router.
    """
    return sorted(_queue_of(router).iter_waiting())


class OfferWatcher(Protocol):
    """A function :func:`watch_offers` calls at the moment each offer is made."""

    def __call__(
        self,
        contact_id: str,
        agent_id: str,
        now: float,
        events: list[Event],
        reason: OfferReason | None,
        extra: bool,
    ) -> None:
        """See :func:`watch_offers`."""


def watch_offers(router: Router, watcher: OfferWatcher) -> Callable[[], None]:
    """Call ``watcher`` at the moment the router makes each offer, before it makes it.

    The watcher sees the router as it is just before the offer: the offer's
    contact and agent ids, the time, the events of the current call so far
    (the :class:`~ccroute.Offered` event not yet among them), the offer's
    reason (``None`` when the router gives none) and whether it is one more
    holder of a ring-all offer (``extra``). It may inspect the router through
    its read-only views (``explain``, ``agent``, ``contact`` …) but must not
    call a method that changes it; an exception it raises propagates out of
    the router call, which then stops half done, so use it to fail a test.

    Checks that hold only between calls (work conservation) see every call's
    end state; this one sees the state at each decision inside a call.

    :return: a function that stops watching.
    """
    original = router._offer

    def watched(
        rec: Any,
        agent: Any,
        now: float,
        events: list[Event],
        reason: OfferReason | None = None,
        *,
        extra: bool = False,
    ) -> None:
        watcher(rec.spec.id, agent.spec.id, now, events, reason, extra)
        original(rec, agent, now, events, reason, extra=extra)

    # An attribute of this router only: other routers, and the class, are untouched.
    router._offer = watched  # type: ignore[method-assign]

    def stop() -> None:
        if router.__dict__.get("_offer") is watched:
            del router._offer

    return stop
