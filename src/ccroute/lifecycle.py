"""The lifecycles of contacts and agents, as transition tables.

As in h11's ``_state.py``, every allowed transition is listed here and nowhere
else: the router asks :func:`contact_transition` and :func:`check_presence_change`
and never decides with scattered ``if`` statements whether a move is allowed.
The docs' state diagrams are generated from these tables.
"""

from __future__ import annotations

import enum

from .errors import InvalidStateError
from .model import Presence

__all__ = [
    "CONTACT_TRANSITIONS",
    "PRESENCE_TRANSITIONS",
    "ContactAction",
    "ContactState",
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
    lines += ["", "| agent presence | may change to |", "|---|---|"]
    for old in Presence:
        targets = sorted(new.value for (o, new) in PRESENCE_TRANSITIONS if o is old)
        lines.append(f"| {old.value} | {', '.join(targets)} |")
    return "\n".join(lines) + "\n"
