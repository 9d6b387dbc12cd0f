"""The router's state as an explicit, versioned document (what a snapshot holds).

:meth:`Router.state() <ccroute.Router.state>` describes a router as a
:class:`RouterState`: frozen attrs values with named fields holding plain
values (numbers, strings, tuples) and the model values the router was given
(:class:`~ccroute.Channel`, :class:`~ccroute.QueueConfig`,
:class:`~ccroute.Agent`, :class:`~ccroute.Contact`,
:class:`~ccroute.RoutingPolicy`). :meth:`Router.snapshot()
<ccroute.Router.snapshot>` is that document as JSON (:meth:`RouterState.to_bytes`),
and :meth:`Router.restore() <ccroute.Router.restore>` takes either.

The document holds what decides future routing and cannot be worked out from
the rest; indexes and caches are rebuilt on restore. Reading bytes builds
nothing but plain values and, through their constructors (so their
validation runs), the model values: a snapshot cannot make the reader run
code. Every field's type is checked; a document of another :data:`FORMAT`, or
one that is not JSON or has a field of the wrong type, raises
:class:`~ccroute.InputError`. See docs/snapshot.md.
"""

from __future__ import annotations

from typing import Final

import attrs

from ._values import check_json
from .errors import InvalidValueError
from .lifecycle import ContactState, TimerKind
from .model import Agent, Channel, Contact, Presence, QueueConfig, _ReadOnlyMapping
from .policies import RoutingPolicy

__all__ = [
    "FORMAT",
    "AbandonmentRecord",
    "READABLE_FORMATS",
    "AgentRecord",
    "ContactRecord",
    "Exclusion",
    "HandleTimeRecord",
    "QueueRecord",
    "RandomState",
    "RejoinRecord",
    "RouterState",
    "TimerKind",
    "TimerRecord",
]

#: The format :meth:`RouterState.to_bytes` writes. Formats 1 and 2 were pickles
#: of the router's private records; they are not read.
FORMAT: Final = 3
#: The formats this release reads.
READABLE_FORMATS: Final = (3,)

#: A contact's sort key, as :attr:`ContactView.key <ccroute.ContactView.key>`
#: shows it: ``(-tier, queued_at - priority_seconds, sequence)``.
Key = tuple[int, float, int]
#: Skill name and level pairs, in the order the router holds them.
Levels = tuple[tuple[str, int], ...]


@attrs.frozen(slots=True)
class RandomState:
    """The state of the router's random generator (the random strategy's choices),
    as :meth:`random.Random.getstate` gives it.

    :param version: the generator's state version (3 for Python's Mersenne Twister).
    :param internal: the generator's internal state: 624 words and a position.
    :param gauss_next: the cached second value of :meth:`random.Random.gauss`, or ``None``.
    """

    version: int
    internal: tuple[int, ...]
    gauss_next: float | None


@attrs.frozen(slots=True)
class QueueRecord:
    """A queue: its configuration and what routing has changed about it.

    :param config: the configuration the queue was added with.
    :param custom_strategy: whether ``config.strategy`` names a custom strategy
        (JSON cannot tell a :class:`~ccroute.Strategy` value from a custom
        strategy's name such as ``"random"``).
    :param last_agent: the agent this queue offered a contact to last (where
        round robin carries on), or ``None``.
    """

    config: QueueConfig
    custom_strategy: bool
    last_agent: str | None


@attrs.frozen(slots=True)
class AgentRecord:
    """An agent and the state that is its own.

    What an agent holds (offers, contacts in service and in wrap-up, its load
    per channel, the contacts reserved for it) is read from the contacts'
    records on restore.

    :param spec: the agent as it was added.
    :param presence: its presence.
    :param capacity: the contacts it may hold per channel, for every channel
        of the router (``set_capacity`` changes it).
    :param idle_since: when it last became available or freed a slot
        (longest idle).
    :param handled: contacts it accepted since it was added (fewest handled).
    :param rejected: contacts it rejected or let time out while they are still
        waiting or offered, sorted. Kept apart from the contacts'
        ``rejected_by``: an agent removed and added again under the same id
        starts with none, while the contacts still name it.
    :param ramping: whether it is ramping up after an absence.
    :param ramp_left: contacts it still has to accept before its ramp ends
        (``None``: the ramp has no such limit).
    """

    spec: Agent
    presence: Presence
    capacity: Levels
    idle_since: float
    handled: int
    rejected: tuple[str, ...]
    ramping: bool
    ramp_left: int | None


@attrs.frozen(slots=True)
class ContactRecord:
    """A live contact (waiting, offered, in service or in wrap-up).

    :param spec: the contact as it was submitted.
    :param state: where it is in its life.
    :param queue: the queue it is in now (transfers and overflows move it).
    :param channel: its channel now (a callback request moves it).
    :param base: the requirements it entered its queue with, skill by skill
        in the router's order.
    :param requirements: its requirements now (routing steps change them).
    :param extra_queues: queues routing steps added, sorted.
    :param key: its place in line, as :attr:`ContactView.key
        <ccroute.ContactView.key>` shows it.
    :param arrived_at: when it was submitted.
    :param entered_at: when it entered its current queue.
    :param steps_applied: routing steps of its queue applied so far.
    :param agent: the agent holding its offer, or serving it; ``None`` while waiting.
    :param also: with ring-all, the other agents holding an offer of it, in
        the order it was offered to them.
    :param target: the agent it is reserved for (a preferred agent or a
        transfer to an agent), or ``None``.
    :param rejected_by: agents who rejected it or let its offer time out, sorted.
    :param accepted_at: when it was accepted (0 before).
    :param completed_at: when it was completed (0 before).
    :param timeout_at: when its current offer times out, or ``None``.
    :param overdue: its maximum wait passed while it was offered: it leaves
        if the offer comes back.
    :param fled: ``(time, queues)``: the queues it left at that time because
        no agent could take it there (stops an overflow cycle), or ``None``.
    :param attempts: calls made for it as a callback that went unanswered
        (when it is due is its ``callback`` timer).
    :param disposition: the wrap-up code given when it was completed, or
        ``None`` (its wrap-up carries it on to :class:`~ccroute.WrapUpEnded`).
    """

    spec: Contact
    state: ContactState
    queue: str
    channel: str
    base: Levels
    requirements: Levels
    extra_queues: tuple[str, ...]
    key: Key
    arrived_at: float
    entered_at: float
    steps_applied: int
    agent: str | None
    also: tuple[str, ...]
    target: str | None
    rejected_by: tuple[str, ...]
    accepted_at: float
    completed_at: float
    timeout_at: float | None
    overdue: bool
    fled: tuple[float, tuple[str, ...]] | None
    attempts: int = 0
    disposition: str | None = None


@attrs.frozen(slots=True)
class TimerRecord:
    """A pending timer. ``RouterState.timers`` lists them in the order they
    fire (by due time, then in the order they were set).

    :param due: when it falls due (clock time).
    :param kind: what it does.
    :param contact: the contact it belongs to (every kind but ramp-up).
    :param agent: the agent it belongs to (ramp-up).
    """

    due: float
    kind: TimerKind
    contact: str | None = None
    agent: str | None = None


@attrs.frozen(slots=True)
class Exclusion:
    """Agents never offered a customer's contacts (:meth:`Router.add_exclusion
    <ccroute.Router.add_exclusion>`).

    :param customer: the customer id.
    :param agents: the excluded agent ids, sorted.
    """

    customer: str
    agents: tuple[str, ...]


@attrs.frozen(slots=True)
class RejoinRecord:
    """A place kept in line for a customer who abandoned (a queue's rejoin window).

    :param customer: the customer id.
    :param queue: the queue the place is in.
    :param key: the abandoned contact's key, which a returning contact takes.
    :param until: when the place is given up.
    :param contact: the abandoned contact's id (named in the ``Rejoined`` event).
    """

    customer: str
    queue: str
    key: Key
    until: float
    contact: str


@attrs.frozen(slots=True)
class HandleTimeRecord:
    """A handle time the router learned (the estimated wait's input; see
    docs/estimated-wait.md).

    :param queue: the queue.
    :param channel: the channel.
    :param count: the contacts of that queue and channel completed so far.
    :param mean: their mean handle time in seconds (acceptance to the end of
        wrap-up), weighted towards the latest ones after the first
        ``HANDLE_TIME_WINDOW``.
    """

    queue: str
    channel: str
    count: int
    mean: float


@attrs.frozen(slots=True)
class AbandonmentRecord:
    """How fast a queue's waiting contacts on a channel abandon, as the router
    learned it (the estimated wait's input; see docs/estimated-wait.md).

    :param queue: the queue.
    :param channel: the channel.
    :param abandoned: the contacts that abandoned, weighted towards the latest
        (``PATIENCE_WINDOW``).
    :param waited: the seconds every contact that left the queue (answered or
        abandoned) had waited, weighted alike.
    """

    queue: str
    channel: str
    abandoned: float
    waited: float


@attrs.frozen(slots=True)
class RouterState:
    """Everything that decides a router's future routing, as plain values.

    Left out: the clock and the observers (they belong to the embedding
    program) and the custom strategies (code, given again to
    :meth:`Router.restore <ccroute.Router.restore>`). Indexes and caches are
    rebuilt from these fields on restore (see docs/snapshot.md).

    :param format: the document's format (:data:`FORMAT`).
    :param now: the time of the router's last call.
    :param seq: the sequence number the next new key takes.
    :param submitted: :attr:`Router.submitted <ccroute.Router.submitted>`.
    :param completed: :attr:`Router.completed <ccroute.Router.completed>`.
    :param abandoned: :attr:`Router.abandoned <ccroute.Router.abandoned>`.
    :param timed_out: :attr:`Router.timed_out <ccroute.Router.timed_out>`.
    :param unreached: :attr:`Router.unreached <ccroute.Router.unreached>` (0
        when missing: a document written before it).
    :param strategy_failures: :attr:`Router.strategy_failures
        <ccroute.Router.strategy_failures>`.
    :param offer_reasons: whether offers carry an :class:`~ccroute.OfferReason`.
    :param random: the random generator's state.
    :param policy: the router-wide routing policies.
    :param channels: the known channels, in the order they were added.
    :param skills: every skill name the router has seen, in the order it first
        saw them.
    :param queues: the queues, in the order they were added.
    :param agents: the agents, in the order they were added.
    :param contacts: the live contacts, in the order they were submitted.
    :param timers: the pending timers, in the order they fire.
    :param exclusions: exclusions per customer, by customer id.
    :param rejoins: places kept for customers who abandoned, by customer and queue.
    :param kept_free: agents a waiting contact on a reserved channel has kept
        free since they were last routed for it, sorted: they are routed again
        when the reservation lifts. Not derivable: it remembers who was kept
        free earlier, not who is kept free now.
    :param lift_pending: a reserved-channel contact stopped waiting during a
        call that then raised, so the next call routes the agents it kept
        free (always false after a call that returned).
    :param epoch: the Unix time of the router's time zero, in which queues'
        calendars are read (0 when missing: a document written before it).
    :param handle_times: the handle times learned per queue and channel, by
        queue and channel (a document without them starts learning afresh).
    :param abandonment: the abandonment learned per queue and channel, by
        queue and channel (likewise).
    """

    format: int
    now: float
    seq: int
    submitted: int
    completed: int
    abandoned: int
    timed_out: int
    strategy_failures: int
    offer_reasons: bool
    random: RandomState
    policy: RoutingPolicy
    channels: tuple[Channel, ...]
    skills: tuple[str, ...]
    queues: tuple[QueueRecord, ...]
    agents: tuple[AgentRecord, ...]
    contacts: tuple[ContactRecord, ...]
    timers: tuple[TimerRecord, ...]
    exclusions: tuple[Exclusion, ...]
    rejoins: tuple[RejoinRecord, ...]
    kept_free: tuple[str, ...]
    lift_pending: bool
    epoch: float = 0.0
    unreached: int = 0
    handle_times: tuple[HandleTimeRecord, ...] = ()
    abandonment: tuple[AbandonmentRecord, ...] = ()

    def to_bytes(self) -> bytes:
        """The document as JSON (UTF-8), what :meth:`Router.snapshot
        <ccroute.Router.snapshot>` returns. Equal states give equal bytes.

        Contact attributes are written as JSON (tuples in them come back as
        lists, as from the service's log). Raises
        :class:`~ccroute.InvalidValueError` when they hold anything else
        (a list or dict in them changed after the contact was made) or a
        string is not valid Unicode. Cost: O(state).
        """
        import msgspec  # on first use: `import ccroute` does not pay for it

        for contact in self.contacts:
            # Checked when the contact was made, but a list or dict in them
            # may have been changed since: nothing may come back different.
            check_json(dict(contact.spec.attributes), f"contact {contact.spec.id!r}: attributes")
        encoder = msgspec.json.Encoder(enc_hook=_enc_hook, order="deterministic")
        try:
            return encoder.encode(self)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidValueError(f"the router state cannot be written as JSON: {exc}") from exc

    @classmethod
    def from_bytes(cls, data: bytes) -> RouterState:
        """Read a document :meth:`to_bytes` wrote.

        Raises :class:`~ccroute.InputError` for bytes that are not JSON (a
        pickle, what formats 1 and 2 were, is refused without being loaded),
        a document of a format this release does not read (naming the format
        found and :data:`READABLE_FORMATS`), a field that is missing, unknown
        or of the wrong type, and model values their constructors refuse.
        References between records are checked by :meth:`Router.restore
        <ccroute.Router.restore>`. Cost: O(size of the document).
        """
        from ._snapshot_read import read_state

        return read_state(data)


# =================================================================== writing


def _enc_hook(value: object) -> object:
    """JSON for what msgspec does not encode itself: the model's read-only mappings."""
    if isinstance(value, _ReadOnlyMapping):
        return dict(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r}")
