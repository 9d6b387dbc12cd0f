"""The interface the router uses on its universal queue, as a typed Protocol.

:class:`QueueBackend` lists exactly the methods :class:`~ccroute.Router`
calls on the queue it holds (``Router._q``), with the types it passes and
expects back. Three classes implement it: the pure-Python twin
(:class:`ccroute._queue_py.UniversalQueue`), the compiled twin
(:class:`ccroute._fastqueue.UniversalQueue`, typed by ``_fastqueue.pyi``) and
the brute-force reference of the tests (``tests/reference.py``). mypy checks
the two twins against it here (see the end of this module) and the reference
in ``tests/test_queue_protocol.py``; the twins' extra methods (``reindex``,
``first``, ``iter_waiting``, ``check`` …) serve the tests and are not part of
it.

It also states, once, the rules the twins rank agents by and score them
with for offer reasons: :func:`occupied_share` and the four scores
(:func:`idle_score`, :func:`skill_score`, :func:`occupancy_score`,
:func:`handled_score`), which the compiled twin transcribes in C.

Every parameter is positional-only because the router passes every argument
by position: an implementation may name its parameters as it likes. The
interface speaks small integers only (docs/implementation.md): channel,
queue, skill, agent and contact handles, signature handles and the strategy
codes of :mod:`ccroute._codes`, where ``-1`` (:data:`~ccroute._codes.NONE`)
means "no agent" or "no contact".
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

from ._codes import Key
from ._values import show
from .errors import InvalidValueError

__all__ = [
    "QueueBackend",
    "check_backend",
    "handled_score",
    "idle_score",
    "occupancy_score",
    "occupied_share",
    "skill_score",
]


def occupied_share(units: int, budget: int, held: int, slots: int) -> float:
    """Least-occupied's rule: the share of an agent's capacity in use, lower first.

    ``units`` in use of a unit ``budget`` (``-1``: the agent has none), else
    ``held`` contacts over ``slots``, its capacity summed over every channel.
    A budget of 0 (the agent may hold only zero-cost work) and no slots at all
    count as full: 1.0. This is the one statement of the rule: the pure twin
    orders agents by it, offer reasons score ``1 - share`` with it
    (:func:`occupancy_score`), and the compiled twin's ``_share`` is its C
    transcription (tests/test_queue_scores.py holds both twins to it).
    """
    if budget >= 0:
        return units / budget if budget else 1.0
    return held / slots if slots else 1.0


# The scores an offer reason reports (docs/explain.md; higher wins), one
# function per built-in strategy. They are stated here once: the pure twin
# calls them in ``offer_figures``, the compiled twin's ``_idle_score`` …
# ``_handled_score`` are their C transcriptions, and tests/test_queue_scores.py
# holds both twins (and the brute-force reference) to these functions. Each
# score is monotone in the quantity the twins order agents by (with rounding,
# too: ``fl(now - x)`` and ``fl(1 - x)`` never increase as ``x`` grows), so the
# best score among some agents is the score of the agent first in that order;
# the twins still order by the exact quantities, never by the scores, whose
# rounding could tie agents the quantities tell apart.


def idle_score(idle_since: float, now: float) -> float:
    """Longest idle's score: seconds since the agent last became idle."""
    return now - idle_since


def skill_score(levels: Mapping[int, int], requirements: Iterable[tuple[int, int]]) -> float:
    """Most skilled's score: the sum of the agent's ``levels`` (skill -> level)
    over the contact's required skills, 0 for a skill it lacks; the required
    levels themselves do not count."""
    return float(sum(levels.get(s, 0) for s, _level in requirements))


def occupancy_score(units: int, budget: int, held: int, slots: int) -> float:
    """Least occupied's score: ``1 -`` :func:`occupied_share` (0 for a full agent)."""
    return 1.0 - occupied_share(units, budget, held, slots)


def handled_score(handled: int) -> float:
    """Fewest handled's score: minus the contacts the agent accepted.

    Negated as an integer first, so 0 handled scores ``0.0``, never ``-0.0``
    (which would compare equal but print differently in an event).
    """
    return float(-handled)


class QueueBackend(Protocol):
    """The universal queue and skills matcher, as the router uses it."""

    def add_channel(self, ch: int, unit_cost: int, exclusive: bool, /) -> None:
        """Declare channel ``ch``; handles are dense (0, 1, 2 …)."""

    def add_agent(
        self,
        a: int,
        agent_id: str,
        skills: Mapping[int, int],
        queues: Collection[int],
        capacity: Iterable[int],
        budget: int,
        now: float,
        /,
    ) -> None:
        """Add agent ``a``, logged out and unavailable (``budget``: -1 for none)."""

    def remove_agent(self, a: int, /) -> None:
        """Forget agent ``a``, which holds no contacts."""

    def set_logged_in(self, a: int, logged_in: bool, /) -> None:
        """Record whether agent ``a`` is logged in (available or not-ready)."""

    def set_available(self, a: int, available: bool, now: float, /) -> None:
        """Make agent ``a`` available for offers or not; becoming available restarts its idle time."""

    def set_capacity(self, a: int, ch: int, capacity: int, /) -> None:
        """Set agent ``a``'s maximum on channel ``ch``."""

    def occupy(self, a: int, ch: int, /) -> None:
        """Agent ``a`` takes one more contact on ``ch``."""

    def release(self, a: int, ch: int, now: float, /) -> None:
        """Agent ``a`` frees one contact's slot on ``ch``; its idle time restarts at ``now``."""

    def count_handled(self, a: int, n: int = 1, /) -> None:
        """Count ``n`` more contacts handled by agent ``a`` (for fewest-handled)."""

    def has_spare(self, a: int, ch: int, /) -> bool:
        """Whether agent ``a`` could take one more contact on ``ch`` now."""

    def signature(
        self, ch: int, requirements: Iterable[tuple[int, int]], queues: Collection[int], /
    ) -> int:
        """The handle of the signature (channel, required skill levels, queues), interned."""

    def insert(self, c: int, key: Key, g: int, target: int = -1, /) -> None:
        """Queue contact ``c`` with static ``key`` under signature ``g`` (for ``target`` only, if given)."""

    def remove(self, c: int, /) -> None:
        """Take contact ``c`` out of the queue."""

    def best_contact(
        self, a: int, barred: Collection[int] = (), blocked: Collection[int] = (), /
    ) -> int:
        """The waiting contact with the smallest key that agent ``a`` may take now, or -1."""

    def best_agent(
        self,
        g: int,
        strategy: int,
        target: int = -1,
        rr_after: str | None = None,
        barred: Collection[int] = (),
        /,
    ) -> int:
        """The agent a contact of signature ``g`` goes to under ``strategy``, or -1."""

    def eligible_agents(
        self, g: int, target: int = -1, barred: Collection[int] = (), /
    ) -> list[int]:
        """Every agent that may take a contact of signature ``g`` now, in agent-id order."""

    def offer_figures(
        self,
        g: int,
        strategy: int,
        winner: int,
        now: float,
        target: int = -1,
        barred: Collection[int] = (),
        /,
    ) -> tuple[int, float | None, float | None]:
        """An offer reason's figures: ``(eligible, score, runner_up)``.

        ``eligible`` counts the agents :meth:`eligible_agents` would list for
        the same ``g``, ``target`` and ``barred``; ``score`` is ``winner``'s
        score under ``strategy`` (``None`` when it is not among them) and
        ``runner_up`` the best score of the others (``None`` when there are
        none). Strategies without a score (round robin, random) give ``None``
        for both.
        """

    def any_logged_in(self, g: int, exclude: Collection[int] = (), /) -> bool:
        """Whether a logged-in agent not in ``exclude`` could ever take signature ``g``."""

    def __len__(self) -> int:
        """The number of waiting contacts."""


def check_backend(value: object) -> QueueBackend:
    """``value`` as a router's queue: an object with every method of
    :class:`QueueBackend` that holds no contact yet, or :class:`InvalidValueError`
    (a router that took anything else failed later, on its first call to it)."""
    missing = [name for name in _METHODS if not callable(getattr(value, name, None))]
    if missing:
        raise InvalidValueError(
            f"queue_backend must be a new universal queue (a QueueBackend), got {show(value)}, "
            f"which lacks {', '.join(missing)}"
        )
    try:
        size = len(value)  # type: ignore[arg-type]
    except Exception:  # a len() that fails is no queue's
        size = -1
    if size != 0:
        raise InvalidValueError(
            f"queue_backend must be a new, empty universal queue, got {show(value)} "
            f"holding {size if size > 0 else 'an unknown number of'} contacts"
        )
    return value  # type: ignore[return-value]


# The methods the router calls (the Protocol's), checked by check_backend.
_METHODS = tuple(
    name
    for name, member in vars(QueueBackend).items()
    if callable(member) and (not name.startswith("_") or name == "__len__")
)


if TYPE_CHECKING:
    # mypy checks both twins against the Protocol here; nothing runs.
    from . import _fastqueue, _queue_py

    def _pure_conforms(queue: _queue_py.UniversalQueue) -> QueueBackend:
        return queue

    def _compiled_conforms(queue: _fastqueue.UniversalQueue) -> QueueBackend:
        return queue
