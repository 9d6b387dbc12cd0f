"""The routing policies, one module each (docs/structure.md).

Each module holds one policy's state and answers the questions the router
asks it, for routing and for explanations alike: which agents it bars from a
contact, which contacts from an agent, which channels an agent takes nothing
new on. The router tells it what happened (a contact queued or left the
queue, an agent changed); a router-wide policy that is not configured is not
built, and costs the hot path nothing.
"""

from .admission import AdmissionRules
from .blocking import ChannelBlocking
from .business_hours import OpeningHours
from .exclusions import Exclusions
from .max_wait import WaitLimits
from .preferred_agent import PreferredAgents
from .queue_delays import QueueDelays
from .ramp_up import RampingUp
from .rejection import RejectionBar
from .rejoin import Rejoins
from .reservation import ChannelReservation

__all__ = [
    "AdmissionRules",
    "ChannelBlocking",
    "ChannelReservation",
    "Exclusions",
    "OpeningHours",
    "PreferredAgents",
    "QueueDelays",
    "RampingUp",
    "RejectionBar",
    "Rejoins",
    "WaitLimits",
]
