"""The lifecycles of contacts and agents, as transition tables.

As in h11's ``_state.py``, every allowed transition is listed here and nowhere
else: the router asks :func:`contact_transition` and :func:`check_presence_change`
and never decides with scattered ``if`` statements whether a move is allowed.
Beside the transitions sit the timers: which contact action each timer
performs when it falls due (:data:`TIMER_ACTIONS`) and which pending timers
each action ends (:data:`TIMERS_ENDED`); the router applies both tables rather
than cancelling timers by hand. The docs' tables are generated from these.
"""

from __future__ import annotations

import enum

from .errors import InvalidStateError
from .model import Presence

__all__ = [
    "CONTACT_TRANSITIONS",
    "FINAL_STATES",
    "PRESENCE_TRANSITIONS",
    "TIMERS_ENDED",
    "TIMER_ACTIONS",
    "ContactAction",
    "ContactState",
    "TimerKind",
    "check_presence_change",
    "contact_transition",
    "transition_table_markdown",
]


class ContactState(enum.Enum):
    """Where a contact is in its life."""

    #: In the universal queue, waiting for an agent.
    WAITING = "waiting"
    #: Offered to (reserved for) one agent, who has not yet answered.
    OFFERED = "offered"
    #: Accepted: an agent is handling it.
    IN_SERVICE = "in-service"
    #: Completed by the agent, who is doing after-contact work.
    WRAP_UP = "wrap-up"
    #: Finished: wrap-up ended. Final.
    COMPLETED = "completed"
    #: The customer left before being answered. Final.
    ABANDONED = "abandoned"
    #: It waited its maximum (or no agent could take it) and had nowhere to
    #: overflow to. Final.
    TIMED_OUT = "timed-out"
    #: A callback held until its time (asked for, the queue's next opening, or
    #: a retry): not in the queue, not counted as waiting.
    SCHEDULED = "scheduled"
    #: A callback whose calls went unanswered until its retries ran out. Final.
    UNREACHED = "unreached"


class ContactAction(enum.Enum):
    """What can happen to a contact."""

    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    TIME_OUT = "time out"
    RESCIND = "rescind"
    COMPLETE = "complete"
    END_WRAP_UP = "end wrap-up"
    ABANDON = "abandon"
    TRANSFER = "transfer"
    REQUEST_CALLBACK = "request callback"
    APPLY_STEP = "apply routing step"
    TIME_OUT_QUEUE = "time out in queue"
    #: Its wait in the queue is over and it moves to the overflow queue.
    OVERFLOW = "overflow"
    #: A scheduled callback's time came: it enters its queue.
    ENTER_QUEUE = "enter queue"
    #: A scheduled callback's time came while its queue is closed: it waits
    #: for the next opening.
    DEFER_CALLBACK = "defer callback"
    #: The agent's call was not answered and a retry is left: held again.
    RETRY_CALLBACK = "retry callback"
    #: The agent's call was not answered and no retry is left.
    CLOSE_UNREACHED = "close unreached"
    #: The customer cancels a scheduled callback before its time (abandon).
    CANCEL_CALLBACK = "cancel callback"


class TimerKind(enum.Enum):
    """What a pending timer does when it falls due."""

    #: An offer times out (no answer).
    OFFER = "offer"
    #: A contact's wrap-up ends.
    WRAP_UP = "wrap-up"
    #: The next routing step of the contact's queue applies.
    STEP = "step"
    #: The wait for a contact's preferred agent is over.
    PREFERENCE = "preference"
    #: A contact's maximum wait in its queue is over.
    MAX_WAIT = "max-wait"
    #: The next agent queue delay of the contact's queue has passed.
    DELAY = "delay"
    #: An agent's ramp-up ends (the timer of an agent, not of a contact).
    RAMP_UP = "ramp-up"
    #: A scheduled callback's time comes.
    CALLBACK = "callback"


_S = ContactState
_A = ContactAction

#: (state, action) -> next state. Anything not listed is refused.
CONTACT_TRANSITIONS: dict[tuple[ContactState, ContactAction], ContactState] = {
    (_S.WAITING, _A.OFFER): _S.OFFERED,
    (_S.WAITING, _A.ABANDON): _S.ABANDONED,
    (_S.WAITING, _A.TRANSFER): _S.WAITING,
    (_S.WAITING, _A.REQUEST_CALLBACK): _S.WAITING,
    (_S.WAITING, _A.APPLY_STEP): _S.WAITING,
    (_S.WAITING, _A.TIME_OUT_QUEUE): _S.TIMED_OUT,
    (_S.WAITING, _A.OVERFLOW): _S.WAITING,
    (_S.OFFERED, _A.ACCEPT): _S.IN_SERVICE,
    (_S.OFFERED, _A.REJECT): _S.WAITING,
    (_S.OFFERED, _A.TIME_OUT): _S.WAITING,
    (_S.OFFERED, _A.RESCIND): _S.WAITING,
    (_S.OFFERED, _A.ABANDON): _S.ABANDONED,
    (_S.OFFERED, _A.TRANSFER): _S.WAITING,
    # A step that falls due during an offer updates the requirements the
    # contact will have if it returns to the queue.
    (_S.OFFERED, _A.APPLY_STEP): _S.OFFERED,
    (_S.IN_SERVICE, _A.COMPLETE): _S.WRAP_UP,
    (_S.IN_SERVICE, _A.TRANSFER): _S.WAITING,
    (_S.WRAP_UP, _A.END_WRAP_UP): _S.COMPLETED,
    # A callback the agent called without an answer (docs/business-hours.md).
    (_S.IN_SERVICE, _A.RETRY_CALLBACK): _S.SCHEDULED,
    (_S.IN_SERVICE, _A.CLOSE_UNREACHED): _S.UNREACHED,
    (_S.SCHEDULED, _A.ENTER_QUEUE): _S.WAITING,
    (_S.SCHEDULED, _A.DEFER_CALLBACK): _S.SCHEDULED,
    # the customer cancels a callback not yet due (Router.abandon)
    (_S.SCHEDULED, _A.CANCEL_CALLBACK): _S.ABANDONED,
}

#: States a contact never leaves: the router forgets it, and every timer it had ends.
FINAL_STATES: frozenset[ContactState] = frozenset(
    {_S.COMPLETED, _S.ABANDONED, _S.TIMED_OUT, _S.UNREACHED}
)

_T = TimerKind
_MOVED_BACK = frozenset({_T.OFFER, _T.STEP, _T.MAX_WAIT, _T.DELAY})

#: The contact's pending timers an action ends when it is applied, for the
#: actions that do not end in a final state (those end every timer). A
#: reservation for a preferred agent is the preferred-agent policy's to end,
#: with its timer, whatever the action.
TIMERS_ENDED: dict[ContactAction, frozenset[TimerKind]] = {
    _A.OFFER: frozenset(),
    # answered: it no longer waits, so nothing counted from its wait applies
    _A.ACCEPT: _MOVED_BACK,
    _A.REJECT: frozenset({_T.OFFER}),
    _A.TIME_OUT: frozenset({_T.OFFER}),
    _A.RESCIND: frozenset({_T.OFFER}),
    _A.COMPLETE: frozenset(),
    # it waits afresh in its new queue, whose timers start again
    _A.TRANSFER: _MOVED_BACK,
    _A.OVERFLOW: _MOVED_BACK,
    _A.REQUEST_CALLBACK: frozenset(),
    # the step's own timer; the next step is timed after it applies
    _A.APPLY_STEP: frozenset({_T.STEP}),
    # the callback's own timer (a deferred one is timed again)
    _A.ENTER_QUEUE: frozenset({_T.CALLBACK}),
    _A.DEFER_CALLBACK: frozenset({_T.CALLBACK}),
    # answered, so nothing of its wait is left; its next attempt is timed anew
    _A.RETRY_CALLBACK: frozenset(),
}

#: The contact actions a timer may perform when it falls due (none: it changes
#: only who may take the contact, or an agent's ramp-up). A maximum wait ends
#: in an overflow or a time-out, as the queue's settings say.
TIMER_ACTIONS: dict[TimerKind, tuple[ContactAction, ...]] = {
    _T.OFFER: (_A.TIME_OUT,),
    _T.WRAP_UP: (_A.END_WRAP_UP,),
    _T.STEP: (_A.APPLY_STEP,),
    _T.PREFERENCE: (),
    _T.MAX_WAIT: (_A.OVERFLOW, _A.TIME_OUT_QUEUE),
    _T.DELAY: (),
    _T.RAMP_UP: (),
    _T.CALLBACK: (_A.ENTER_QUEUE, _A.DEFER_CALLBACK),
}

# The same table keyed by the members' identities: an Enum hashes in Python
# (``hash(self._name_)``), twice per lookup, and the router looks up a
# transition at every move; members live as long as the process, so their
# ids are stable keys. Derived from CONTACT_TRANSITIONS, never edited.
_NEXT_BY_ID: dict[tuple[int, int], ContactState] = {
    (id(state), id(action)): after for (state, action), after in CONTACT_TRANSITIONS.items()
}

#: Presence changes an agent may make. Setting the current presence again is a no-op.
PRESENCE_TRANSITIONS: frozenset[tuple[Presence, Presence]] = frozenset(
    {
        (Presence.OFFLINE, Presence.AVAILABLE),
        (Presence.OFFLINE, Presence.NOT_READY),
        (Presence.AVAILABLE, Presence.NOT_READY),
        (Presence.AVAILABLE, Presence.OFFLINE),
        (Presence.NOT_READY, Presence.AVAILABLE),
        (Presence.NOT_READY, Presence.OFFLINE),
    }
)


def contact_transition(contact_id: str, state: ContactState, action: ContactAction) -> ContactState:
    """Return the state a contact moves to, or raise :class:`InvalidStateError`.

    The error names the contact, the action, its current state and the states
    from which the action is allowed.
    """
    after = _NEXT_BY_ID.get((id(state), id(action)))
    if after is None:
        allowed = sorted(s.value for (s, a) in CONTACT_TRANSITIONS if a is action)
        raise InvalidStateError(
            f"cannot {action.value} contact {contact_id!r}: it is {state.value}, "
            f"expected one of: {', '.join(allowed)}"
        )
    return after


def check_presence_change(agent_id: str, old: Presence, new: Presence) -> bool:
    """Say whether ``old -> new`` is a change (``False`` for a no-op), or raise.

    Every pair of distinct presences is currently allowed; the table exists so
    that a restriction is added in one place.
    """
    if old is new:
        return False
    if (old, new) not in PRESENCE_TRANSITIONS:
        raise InvalidStateError(f"agent {agent_id!r} cannot go from {old.value} to {new.value}")
    return True


def transition_table_markdown() -> str:
    """The transition tables as Markdown, for docs/lifecycle.md (kept in sync by a test)."""
    lines = [
        "| contact state | action | next state |",
        "|---|---|---|",
    ]
    for (state, action), target in CONTACT_TRANSITIONS.items():
        lines.append(f"| {state.value} | {action.value} | {target.value} |")
    lines += ["", "| action | timers it ends |", "|---|---|"]
    for action in ContactAction:
        ended = TIMERS_ENDED.get(action)
        names = "every timer (final state)" if ended is None else _timer_names(ended)
        lines.append(f"| {action.value} | {names} |")
    lines += ["", "| timer | actions it may perform |", "|---|---|"]
    for kind, actions in TIMER_ACTIONS.items():
        lines.append(f"| {kind.value} | {', '.join(a.value for a in actions) or 'none'} |")
    lines += ["", "| agent presence | may change to |", "|---|---|"]
    for old in Presence:
        targets = sorted(new.value for (o, new) in PRESENCE_TRANSITIONS if o is old)
        lines.append(f"| {old.value} | {', '.join(targets)} |")
    return "\n".join(lines) + "\n"


def _timer_names(kinds: frozenset[TimerKind]) -> str:
    return ", ".join(k.value for k in TimerKind if k in kinds) or "none"
