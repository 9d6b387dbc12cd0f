"""Exact Erlang C and Erlang A figures, computed independently of ``ccroute.wfm``.

The benchmarks take their exact values from ``ccroute.wfm`` when it is
importable; these functions are the fallback, and a cross-check of it
(``validate_erlang.py --cross-check``). Same signatures and attribute names as
``ccroute.wfm.erlang_c_metrics`` and ``erlang_a_metrics``.

Erlang C (M/M/c): the classic closed forms. Erlang A (M/M/c+M, exponential
patience): the stationary birth-death distribution of the number in system,
truncated where it is negligible. By PASTA an arrival sees that distribution;
one that finds ``j - 1`` waiting ahead of it leaves its ``j``-th place at rate
``c*mu + j*theta`` (a service ends or one of the ``j - 1`` ahead, or itself,
abandons), and is served with probability ``(c*mu + (i-1)*theta) / (c*mu + i*theta)``
at place ``i``, independently of how long it stayed there. Its wait if served
is then a sum of independent exponentials, whose distribution function at ``T``
is computed by uniformisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ErlangFigures", "erlang_a_metrics", "erlang_c_metrics"]


@dataclass(frozen=True)
class ErlangFigures:
    probability_of_waiting: float
    #: Erlang C: answered within T / answered; Erlang A: answered within T / all arrivals.
    service_level: float
    #: Mean wait of the answered contacts, in seconds.
    asa_seconds: float
    occupancy: float
    probability_of_abandon: float | None = None


def erlang_c_metrics(rate: float, aht: float, agents: int, threshold: float) -> ErlangFigures:
    """M/M/``agents`` with ``rate`` arrivals per second and mean handle time ``aht`` seconds."""
    traffic = rate * aht
    if traffic >= agents:
        return ErlangFigures(1.0, 0.0, math.inf, 1.0)
    blocking = 1.0  # Erlang B by the usual recursion
    for k in range(1, agents + 1):
        blocking = traffic * blocking / (k + traffic * blocking)
    wait = agents * blocking / (agents - traffic * (1.0 - blocking))
    drain = (agents - traffic) / aht  # rate at which the queue empties
    return ErlangFigures(
        probability_of_waiting=wait,
        service_level=1.0 - wait * math.exp(-drain * threshold),
        asa_seconds=wait / drain,
        occupancy=traffic / agents,
    )


def erlang_a_metrics(
    rate: float, aht: float, patience: float, agents: int, threshold: float
) -> ErlangFigures:
    """M/M/``agents``+M with exponential patience of mean ``patience`` seconds."""
    mu, theta, c = 1.0 / aht, 1.0 / patience, agents
    # Unnormalised stationary weights, scaled so that w[c] = 1.
    below = [1.0] * (c + 1)
    for n in range(c, 0, -1):
        below[n - 1] = below[n] * n / (rate * aht)
    queue = [1.0]  # queue[j] = weight of state c + j
    total = sum(below)
    while True:
        j = len(queue)
        queue.append(queue[-1] * rate / (c * mu + j * theta))
        total += queue[-1]
        if queue[-1] < 1e-17 * total and rate < c * mu + j * theta:
            break
    total = sum(below[:c]) + sum(queue)
    waiting = sum(queue) / total
    mean_queue = sum(j * w for j, w in enumerate(queue)) / total
    abandon = theta * mean_queue / rate
    # Place i (1-based) is left at rate b[i] = c*mu + i*theta; served with a[i] / b[i].
    places = len(queue)
    b = [c * mu + i * theta for i in range(places + 1)]
    served_mass = [0.0] * (places + 1)  # served_mass[j]: P(arrive at place j and be served)
    mean_wait_served = 0.0
    survive, sojourn = 1.0, 0.0
    for j in range(1, places + 1):
        survive *= (c * mu + (j - 1) * theta) / b[j]
        sojourn += 1.0 / b[j]
        served_mass[j] = queue[j - 1] / total * survive
        mean_wait_served += served_mass[j] * sojourn
    answered = 1.0 - abandon
    # P(served and wait <= T): uniformise the place-leaving chain at rate b[places].
    big = b[places]
    x = big * threshold
    vector = served_mass[:]
    absorbed = vector[0]
    within = 0.0
    k = 0
    limit = int(x + 12.0 * math.sqrt(x) + 50.0)
    while k <= limit:
        weight = math.exp(-x + k * math.log(x) - math.lgamma(k + 1)) if x > 0 else float(k == 0)
        within += weight * absorbed
        # One uniformised step: from place i move to i-1 with probability b[i]/big.
        moved = [vector[i] * b[i] / big for i in range(places + 1)]
        for i in range(1, places + 1):
            vector[i] -= moved[i]
            vector[i - 1] += moved[i]
        absorbed = vector[0]
        k += 1
    return ErlangFigures(
        probability_of_waiting=waiting,
        service_level=(1.0 - waiting) + within,
        asa_seconds=mean_wait_served / answered,
        occupancy=(rate * aht) * answered / agents,
        probability_of_abandon=abandon,
    )
