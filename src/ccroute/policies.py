"""Router-wide routing policies: channel blocking, channel reservation and ramp-up.

Per-queue policies (ring-all, maximum wait and overflow, admission, rejoin,
cross-queue weight) live on :class:`~ccroute.QueueConfig`; per-contact ones
(exclusions, maximum wait) on :class:`~ccroute.Contact`; per-agent queue
delays on :class:`~ccroute.Agent`. The ones here concern every agent, so
they are given once, to the :class:`~ccroute.Router`.
"""

from __future__ import annotations

import math

import attrs

from .errors import InvalidValueError
from .model import _blocking, _frozen_names, check_blocking

__all__ = ["RampUp", "RoutingPolicy"]


@attrs.frozen(slots=True)
class RampUp:
    """Ease an agent back into work after an absence.

    After an agent becomes available from offline or not-ready, it holds at
    most one unanswered offer at a time until ``seconds`` have passed or it
    has accepted ``accepted`` contacts, whichever comes first. ``None`` turns
    a limit off; at least one must be set.

    :param seconds: length of the ramp, from the moment the agent became available.
    :param accepted: contacts the agent accepts before the ramp ends.
    """

    seconds: float | None = 300.0
    accepted: int | None = 3

    def __attrs_post_init__(self) -> None:
        if self.seconds is None and self.accepted is None:
            raise InvalidValueError("ramp-up needs seconds, accepted or both; got neither")
        if self.seconds is not None and (
            not isinstance(self.seconds, (int, float))
            or isinstance(self.seconds, bool)
            or not math.isfinite(self.seconds)
            or self.seconds <= 0
        ):
            raise InvalidValueError(f"ramp-up seconds must be a number > 0, got {self.seconds!r}")
        if self.accepted is not None and (
            not isinstance(self.accepted, int)
            or isinstance(self.accepted, bool)
            or self.accepted < 1
        ):
            raise InvalidValueError(
                f"ramp-up accepted must be an integer >= 1, got {self.accepted!r}"
            )


def _ramp_up(value: RampUp | None) -> RampUp | None:
    if value is not None and not isinstance(value, RampUp):
        raise InvalidValueError(f"ramp_up must be a RampUp or None, got {value!r}")
    return value


@attrs.frozen(slots=True)
class RoutingPolicy:
    """The router-wide policies (see docs/policies/).

    :param blocking: channel-blocking matrix: ``{"voice": {"chat", "email"}}``
        means an agent holding voice work (offered, in service or in
        wrap-up) is not offered chats or emails. Queues may add their own
        (:attr:`QueueConfig.blocking`).
    :param reserve_for: channels kept free: while a contact on one of them
        waits that an agent could take if it were free (a logged-in member of
        its queue with its skills and capacity on its channel), that agent is
        offered nothing on other channels, so its work drains until it can
        take the waiting contact ("keep a slot free for voice").
    :param ramp_up: ease agents back into work after an absence, or ``None``.
    """

    blocking: tuple[tuple[str, frozenset[str]], ...] = attrs.field(default=(), converter=_blocking)
    reserve_for: frozenset[str] = attrs.field(default=frozenset(), converter=_frozen_names)
    ramp_up: RampUp | None = attrs.field(default=None, converter=_ramp_up)

    def __attrs_post_init__(self) -> None:
        check_blocking(self.blocking, "routing policy")
        for name in self.reserve_for:
            if not isinstance(name, str) or not name:
                raise InvalidValueError(
                    f"routing policy: reserved channel must be a non-empty string, got {name!r}"
                )
