"""Integer codes shared by the router and both queue implementations.

The queue/matcher interface speaks small integers only (agent, contact,
channel, queue and skill handles, strategy codes), so that the compiled twin
never touches a Python string on its hot path. This module is the one place
those codes are defined.
"""

from __future__ import annotations

from typing import Final

from .model import Strategy

#: No agent / no contact.
NONE: Final = -1

LONGEST_IDLE: Final = 0
MOST_SKILLED: Final = 1
LEAST_OCCUPIED: Final = 2
ROUND_ROBIN: Final = 3
FEWEST_HANDLED: Final = 4
RANDOM: Final = 5

STRATEGY_CODES: Final[dict[Strategy, int]] = {
    Strategy.LONGEST_IDLE: LONGEST_IDLE,
    Strategy.MOST_SKILLED: MOST_SKILLED,
    Strategy.LEAST_OCCUPIED: LEAST_OCCUPIED,
    Strategy.ROUND_ROBIN: ROUND_ROBIN,
    Strategy.FEWEST_HANDLED: FEWEST_HANDLED,
    Strategy.RANDOM: RANDOM,
}

#: A contact's static sort key: ``(-tier, queued_at - priority_seconds, sequence)``.
#: The single definition of the routing order lives in :func:`contact_key`.
Key = tuple[int, float, int]


def contact_key(tier: int, queued_at: float, priority_seconds: float, sequence: int) -> Key:
    """Return the static sort key of a waiting contact; smaller is served first.

    A higher ``tier`` always comes first; within a tier, ``priority_seconds``
    is a head start in seconds of waiting, so an old contact eventually
    overtakes a newer VIP and nothing starves; ``sequence`` (submission order)
    breaks the remaining ties.
    """
    return (-tier, queued_at - priority_seconds, sequence)
