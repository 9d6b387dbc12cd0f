"""Router-wide routing policies: channel blocking, channel reservation and ramp-up.

Per-queue policies (ring-all, maximum wait and overflow, admission, rejoin,
cross-queue weight) live on :class:`~ccroute.QueueConfig`; per-contact ones
(exclusions, maximum wait) on :class:`~ccroute.Contact`; per-agent queue
delays on :class:`~ccroute.Agent`. The ones here concern every agent, so
they are given once, to the :class:`~ccroute.Router`.
"""

from __future__ import annotations

from typing import Any

import attrs

from ._values import MAX_COUNT, check_id, check_seconds, fail, int_in, plain_number, show
from .errors import InvalidValueError
from .model import _blocking, _frozen_names, check_blocking

__all__ = ["RampUp", "RoutingPolicy"]


def _ramp_seconds(inst: RampUp, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        check_seconds(value, "ramp-up seconds", positive=True)


def _ramp_accepted(inst: RampUp, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        if inst.seconds is None:
            raise InvalidValueError("ramp-up needs seconds, accepted or both; got neither")
        return
    if int_in(value, 1, MAX_COUNT) is None:
        fail("ramp-up accepted", f"an integer >= 1 and <= {MAX_COUNT}", value)


@attrs.frozen(slots=True)
class RampUp:
    """Ease an agent back into work after an absence.

    After an agent becomes available from offline or not-ready, it holds at
    most one unanswered offer at a time until ``seconds`` have passed or it
    has accepted ``accepted`` contacts, whichever comes first. ``None`` turns
    a limit off; at least one must be set.

    :param seconds: length of the ramp, from the moment the agent became
        available (> 0 and at most ``MAX_SECONDS``).
    :param accepted: contacts the agent accepts before the ramp ends (``1..MAX_COUNT``).
    """

    seconds: float | None = attrs.field(
        default=300.0, converter=plain_number, validator=_ramp_seconds
    )
    accepted: int | None = attrs.field(default=3, converter=plain_number, validator=_ramp_accepted)


def _ramp_up(value: RampUp | None) -> RampUp | None:
    if value is not None and not isinstance(value, RampUp):
        raise InvalidValueError(f"ramp_up must be a RampUp or None, got {show(value)}")
    return value


def _reserve_for(inst: RoutingPolicy, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, frozenset):
        fail("routing policy: reserve_for", "a set of channel names", value)
    for name in sorted(value, key=repr):
        check_id(name, "routing policy: reserved channel")


def _policy_blocking(inst: RoutingPolicy, attribute: attrs.Attribute[Any], value: object) -> None:
    check_blocking(value, "routing policy")


@attrs.frozen(slots=True)
class RoutingPolicy:
    """The router-wide policies (see docs/policies/).

    :param blocking: channel-blocking matrix: ``{"voice": {"chat", "email"}}``
        means an agent holding voice work (offered, in service or in
        wrap-up) is not offered chats or emails. Queues may add their own
        (``QueueConfig.blocking``).
    :param reserve_for: channels kept free: while a contact on one of them
        waits that an agent could take if it were free (a logged-in member of
        its queue with its skills and capacity on its channel), that agent is
        offered nothing on other channels, so its work drains until it can
        take the waiting contact ("keep a slot free for voice").
    :param ramp_up: ease agents back into work after an absence, or ``None``.
    """

    blocking: tuple[tuple[str, frozenset[str]], ...] = attrs.field(
        default=(), converter=_blocking, validator=_policy_blocking
    )
    reserve_for: frozenset[str] = attrs.field(
        default=frozenset(), converter=_frozen_names, validator=_reserve_for
    )
    ramp_up: RampUp | None = attrs.field(default=None, converter=_ramp_up)
