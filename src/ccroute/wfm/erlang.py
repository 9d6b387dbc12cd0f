"""Workforce management: Erlang B, Erlang C and Erlang A (with abandonment).

How many agents does a forecast need? This module answers with the three
classical queueing models of a contact centre, computed exactly (to double
precision) and without overflow from 0.1 to beyond 10,000 Erlangs:

* :func:`erlang_b` and :func:`erlang_c`: the blocking and waiting probabilities;
* :func:`erlang_c_metrics` (M/M/N, callers never hang up) and
  :func:`erlang_a_metrics` (M/M/N+M, exponential patience): every figure of a
  staffing level as a :class:`StaffingResult`;
* :func:`staff_erlang_c` and :func:`staff_erlang_a`: the smallest number of
  agents meeting a service level, an ASA, an occupancy cap and (Erlang A) an
  abandon cap, all at once, plus shrinkage;
* :func:`interval_staffing`: the same for every interval of a forecast
  (:class:`Interval`); :func:`parse_rate` reads rates such as ``"100/30min"``.

Units: rates are arrivals per second, times are seconds. The offered traffic is
``A = rate * aht`` Erlangs; ``N`` is the number of agents on the phones.

How it is computed. Every figure is a ratio of sums over the stationary
distribution of the birth-death chain of the model, all relative to the state
``N - 1``::

    L  = sum_{j=0}^{N-1} pi_j / pi_{N-1}   = sum_j prod_{i=1}^{j} (N - i) / A
    S  = sum_{k>=0} pi_{N+k} / pi_{N-1}    = sum_k prod_{i=0}^{k} lambda / (N mu + i theta)

(``mu = 1/aht``, ``theta = 1/patience``, ``lambda = rate``; Erlang C is
``theta = 0``, where ``S = rho / (1 - rho)``, ``rho = A / N``.) The terms of
each sum are log-concave, so each sum is accumulated from its first term
outwards in floating point, rescaled before it could overflow, and stopped once
a geometric bound on the rest is below ``1e-17`` of the sum: the result is the
exact sum to double precision, found in ``O(|N - A| + sqrt(A))`` steps rather
than ``O(N)``. Nothing is a factorial or a power, so nothing overflows, and no
figure is ever NaN. ``L = 1 / B(N - 1, A)``, which is how :func:`erlang_b` is
computed; it equals the textbook recursion ``B(n) = A B(n-1) / (n + A B(n-1))``.

See ``docs/wfm.md`` for the formulas, the conventions and a worked example.
Everything here is pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import attrs

from ..errors import InvalidValueError

__all__ = [
    "DEFAULT_THRESHOLD_SECONDS",
    "MAX_AGENTS",
    "Interval",
    "StaffingResult",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "interval_staffing",
    "parse_rate",
    "staff_erlang_a",
    "staff_erlang_c",
    "staff_interval",
]

#: Service-level threshold ``T`` (seconds) used when no service-level target is given.
DEFAULT_THRESHOLD_SECONDS = 20.0
#: The staffing solvers give up (``InvalidValueError``) rather than search beyond this.
MAX_AGENTS = 10_000_000

# A sum's running term is rescaled by 1/_BIG before it could overflow.
_BIG = 1e250
_LOG_BIG = math.log(_BIG)
# A sum stops once a bound on the rest is below _TOL times the sum (below one ulp).
_TOL = 1e-17
# Queue sums whose terms rise for more than this many steps start near their peak.
_JUMP = 100_000
# A target counts as met within this relative tolerance, so that the rounding of
# rate * aht (10 Erlangs computed as 10.000000000000002) cannot add an agent.
_TARGET_RTOL = 1e-12

MODEL_ERLANG_C = "erlang-c"
MODEL_ERLANG_A = "erlang-a"


# ================================================================ validation


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(f"{name} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise InvalidValueError(f"{name} must be finite, got {value!r}")
    return result


def _non_negative(value: object, name: str, unit: str = "") -> float:
    result = _number(value, name)
    if result < 0:
        raise InvalidValueError(f"{name} must be >= 0{unit}, got {value!r}")
    return result


def _positive(value: object, name: str, unit: str = "") -> float:
    result = _number(value, name)
    if result <= 0:
        raise InvalidValueError(f"{name} must be > 0{unit}, got {value!r}")
    return result


def _agents(value: object, name: str = "agents") -> int:
    if isinstance(value, bool):
        raise InvalidValueError(f"{name} must be an integer >= 0, got {value!r}")
    try:
        result = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidValueError(f"{name} must be an integer >= 0, got {value!r}") from None
    if result < 0:
        raise InvalidValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(result)


def _shrinkage(value: object) -> float:
    result = _number(value, "shrinkage")
    if not 0.0 <= result < 1.0:
        raise InvalidValueError(f"shrinkage must be in [0, 1), got {value!r}")
    return result


def _scheduled(agents: int, shrinkage: float) -> int:
    """``ceil(agents / (1 - shrinkage))``, with shrinkage read as the decimal it prints as.

    Exact rational arithmetic: 14 agents at 30 % shrinkage schedule 20, not the
    21 that ``math.ceil(14 / 0.7)`` (``20.000000000000004``) would give.
    """
    if shrinkage == 0.0:
        return agents
    return math.ceil(Fraction(agents) / (1 - Fraction(repr(shrinkage))))


@attrs.frozen(slots=True)
class _Targets:
    """Validated staffing targets."""

    service_level: float | None
    threshold: float
    asa: float | None
    occupancy_max: float | None
    abandon_max: float | None

    def met_by(self, result: StaffingResult) -> bool:
        return result.meets(
            service_level=self.service_level,
            asa=self.asa,
            occupancy_max=self.occupancy_max,
            abandon_max=self.abandon_max,
        )


def _targets(
    service_level: object,
    asa: object,
    occupancy_max: object,
    abandon_max: object,
    *,
    abandon_allowed: bool,
) -> _Targets:
    if service_level is None and asa is None and occupancy_max is None and abandon_max is None:
        raise InvalidValueError(
            "at least one target is required: service_level, asa, occupancy_max"
            + (" or abandon_max" if abandon_allowed else "")
        )
    sl_target: float | None = None
    threshold = DEFAULT_THRESHOLD_SECONDS
    if service_level is not None:
        if not isinstance(service_level, (tuple, list)) or len(service_level) != 2:
            raise InvalidValueError(
                "service_level must be a (target, threshold_seconds) pair such as (0.8, 20), "
                f"got {service_level!r}"
            )
        sl_target = _target_level(service_level[0])
        threshold = _non_negative(service_level[1], "service_level threshold", " seconds")
    asa_max = None if asa is None else _positive(asa, "asa", " seconds")
    occ = None
    if occupancy_max is not None:
        occ = _number(occupancy_max, "occupancy_max")
        if not 0.0 < occ <= 1.0:
            raise InvalidValueError(f"occupancy_max must be in (0, 1], got {occupancy_max!r}")
    ab = None
    if abandon_max is not None:
        if not abandon_allowed:
            raise InvalidValueError(
                "abandon_max needs the Erlang A model: give patience (mean seconds a caller waits)"
            )
        ab = _number(abandon_max, "abandon_max")
        if not 0.0 < ab <= 1.0:
            raise InvalidValueError(f"abandon_max must be in (0, 1], got {abandon_max!r}")
    return _Targets(sl_target, threshold, asa_max, occ, ab)


def _target_level(value: object) -> float:
    result = _number(value, "service_level target")
    if not 0.0 <= result < 1.0:
        raise InvalidValueError(
            f"service_level target must be in [0, 1) (a share such as 0.8; 1 can never be met), "
            f"got {value!r}"
        )
    return result


# ==================================================================== result


def _json_float(value: float | None) -> float | None:
    if value is None or math.isinf(value):
        return None
    return value


@attrs.frozen(slots=True)
class StaffingResult:
    """Every figure of one staffing level under one model.

    Produced by :func:`erlang_c_metrics`, :func:`erlang_a_metrics`, the solvers
    :func:`staff_erlang_c` / :func:`staff_erlang_a` and :func:`interval_staffing`.
    With ``A = rate * aht`` and ``N = agents``:

    * Erlang C (``model == "erlang-c"``): ``probability_of_waiting = C(N, A)``;
      ``service_level = P(W <= T) = 1 - C exp(-(N - A) T / aht)``;
      ``asa_seconds = E[W] = C aht / (N - A)`` over all contacts (all are
      answered); ``occupancy = A / N``; ``probability_of_abandon`` is ``None``.
    * Erlang A (``model == "erlang-a"``): ``service_level`` is the share of
      **all** arrivals answered within ``T`` (an abandon counts as missed);
      ``asa_seconds`` is the mean wait of **answered** contacts;
      ``occupancy = rate (1 - P(Ab)) aht / N``.

    A figure that does not exist is explicit: ``finite`` is False, the figure
    is ``math.inf`` (never NaN) and ``reason`` says why. Erlang C with
    ``N <= A`` has ``probability_of_waiting = 1``, ``service_level = 0``,
    ``asa_seconds = inf`` and ``occupancy = 1``. With no traffic (rate 0)
    nobody waits: ``probability_of_waiting = 0``, ``service_level = 1``,
    ``asa_seconds = 0``, ``occupancy = 0``, and ``reason`` notes it.
    """

    #: ``"erlang-c"`` or ``"erlang-a"``.
    model: str
    #: Arrival rate, contacts per second.
    rate_per_second: float
    #: Average handle time in seconds.
    aht_seconds: float
    #: Mean patience in seconds (Erlang A); ``None`` for Erlang C.
    patience_seconds: float | None
    #: Offered traffic ``A = rate * aht`` in Erlangs.
    traffic_erlangs: float
    #: Agents on the phones, ``N``.
    agents: int
    #: Agents to schedule: ``ceil(agents / (1 - shrinkage))``.
    scheduled_agents: int
    #: Share of scheduled time agents are not on the phones (breaks, training), in [0, 1).
    shrinkage: float
    #: The service-level threshold ``T`` in seconds.
    threshold_seconds: float
    #: ``P(W > 0)``: the share of arrivals that find every agent busy.
    probability_of_waiting: float
    #: Share of arrivals answered within ``threshold_seconds`` (see the class documentation).
    service_level: float
    #: Average speed of answer in seconds; ``math.inf`` when it is unbounded.
    asa_seconds: float
    #: Mean share of the agents' time spent handling contacts, in [0, 1].
    occupancy: float
    #: ``P(Ab)``: the share of arrivals that hang up before an answer (Erlang A only).
    probability_of_abandon: float | None
    #: False when a figure is infinite or undefined (see ``reason``).
    finite: bool
    #: Why a figure is infinite or degenerate; ``None`` when nothing is.
    reason: str | None = None

    def meets(
        self,
        *,
        service_level: float | None = None,
        asa: float | None = None,
        occupancy_max: float | None = None,
        abandon_max: float | None = None,
    ) -> bool:
        """Whether this result meets every given target (at its own threshold).

        ``service_level`` is a target share in [0, 1) for ``T = threshold_seconds``;
        ``asa`` a maximum in seconds; ``occupancy_max`` a cap in (0, 1];
        ``abandon_max`` a cap on ``P(Ab)`` (Erlang A results only). A result
        that is not ``finite`` meets nothing. A target counts as met within a
        relative ``1e-12`` (``service_level >= target (1 - 1e-12)``,
        ``asa_seconds <= asa (1 + 1e-12)`` …), so that floating-point rounding
        of ``rate * aht`` cannot add an agent. This is the test the solvers use.
        """
        if not self.finite:
            return False
        if service_level is not None and self.service_level < service_level * (1 - _TARGET_RTOL):
            return False
        if asa is not None and self.asa_seconds > asa * (1 + _TARGET_RTOL):
            return False
        if occupancy_max is not None and self.occupancy > occupancy_max * (1 + _TARGET_RTOL):
            return False
        if abandon_max is not None:
            if self.probability_of_abandon is None:
                raise InvalidValueError("abandon_max applies to Erlang A results only")
            if self.probability_of_abandon > abandon_max * (1 + _TARGET_RTOL):
                return False
        return True

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready values: every infinity becomes ``None``.

        ``reason`` says why a value is ``None``; nothing is ever NaN.
        """
        data = attrs.asdict(self)
        for key, value in data.items():
            if isinstance(value, float):
                data[key] = _json_float(value)
        return data


# ======================================================== the chain's sums


def _log_loss_sum(traffic: float, n: int) -> float:
    """``log L(n, A)`` with ``L = sum_{j=0}^{n-1} prod_{i=1}^{j} (n - i) / A = 1 / B(n - 1, A)``.

    Requires ``n >= 1`` and ``A > 0``. The terms ``pi_{n-1-j} / pi_{n-1}`` of
    the Erlang loss system rise while ``n - 1 - j > A`` and then fall faster
    than geometrically, so the sum stops once ``term r / (1 - r)`` (a bound on
    the rest, ``r`` the current ratio) is below ``_TOL`` of the total.
    """
    log_scale = 0.0
    total = 0.0
    term = 1.0
    j = 0
    last = n - 1
    while True:
        total += term
        if j == last:
            break
        ratio = (last - j) / traffic
        if ratio < 1.0 and term * ratio <= _TOL * total * (1.0 - ratio):
            break
        term *= ratio
        j += 1
        if term > _BIG:
            term /= _BIG
            total /= _BIG
            log_scale += _LOG_BIG
    return log_scale + math.log(total)


def _log_rising_ratio(z: float, b: float, count: int) -> float:
    """``sum_{i=0}^{count-1} log(z / (b + i))`` for large ``count``, without the O(count) loop.

    ``= count log z - [lgamma(b + count) - lgamma(b)]``, with the difference of
    log-gammas taken from Stirling's series in a form free of cancellation
    (absolute error about ``count * 1e-16``). Used only to start a queue sum
    near its peak when the peak is more than ``_JUMP`` terms away.
    """
    head = 0.0
    x = b
    m = count
    while x < 30.0 and m > 0:  # shift the argument into Stirling's range
        head += math.log(z / x)
        x += 1.0
        m -= 1
    if m == 0:
        return head

    def corr(v: float) -> float:
        v2 = v * v
        return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680) / v2) / v2) / v2) / v

    # lgamma(x + m) - lgamma(x)
    #   = (x - 1/2) log1p(m / x) + m log(x + m) - m + corr(x + m) - corr(x)
    # and sum log(z / (x + i)) = m log z - that
    #   = -m log1p((x + m - z) / z) + [m - (x - 1/2) log1p(m / x)] - [corr(x + m) - corr(x)]
    rest = -m * math.log1p((x + m - z) / z) + (m - (x - 0.5) * math.log1p(m / x))
    rest -= corr(x + m) - corr(x)
    return head + rest


def _harmonic_shift(b: float, count: int) -> float:
    """``sum_{j=1}^{count} 1 / (b + j) = digamma(b + count + 1) - digamma(b + 1)``.

    Direct summation below 64 terms; otherwise the asymptotic series of the
    digamma function (argument shifted to at least 30), written as
    ``log1p`` plus small corrections so that nothing cancels.
    """
    if count < 64:
        return math.fsum(1.0 / (b + j) for j in range(1, count + 1))
    head = 0.0
    x = b + 1.0
    m = count
    while x < 30.0 and m > 0:
        head += 1.0 / x
        x += 1.0
        m -= 1

    def tail(v: float) -> float:  # digamma(v) - log(v), asymptotically
        w = 1.0 / (v * v)
        return -0.5 / v - w * (1 / 12 - w * (1 / 120 - w * (1 / 252 - w * (1 / 240))))

    return head + math.log1p(m / x) + (tail(x + m) - tail(x))


@attrs.frozen(slots=True)
class _QueueSums:
    """``exp(log_scale)`` times each of the queue sums (see :func:`_queue_sums`)."""

    log_scale: float
    total: float
    abandon: float
    served: float
    served_wait: float

    def log(self, value: float) -> float:
        return self.log_scale + math.log(value) if value > 0.0 else -math.inf


def _queue_sums(z: float, b: float, weighted: bool) -> _QueueSums:
    """The sums over the queue states of the M/M/N+M chain, relative to state ``N - 1``.

    With ``t_k = prod_{i=0}^{k} z / (b + i)`` (``z = lambda / theta``,
    ``b = N mu / theta``, so ``t_k = pi_{N+k} / pi_{N-1}``: ``k`` callers
    waiting), returns

    * ``total = sum_k t_k``;
    * ``abandon = sum_k t_k (k + 1) / (b + k + 1)``: an arrival that finds
      ``k`` waiting abandons with probability ``(k + 1) / (b + k + 1)``;
    * ``served = sum_k t_k b / (b + k + 1)``: it is answered otherwise;
    * ``served_wait = sum_k t_k b / (b + k + 1) H_k``, ``H_k = sum_{j=1}^{k+1}
      1 / (b + j)``: ``H_k / theta`` is its mean wait if it is answered.

    The weighted sums only when ``weighted``. ``t_k`` rises while ``k <= z - b``
    and then falls faster than geometrically; the sum starts at ``k = 0`` (or,
    when the peak is more than ``_JUMP`` terms away, ``12 sqrt(z)`` terms before
    the peak, where the terms are below ``exp(-72)`` of it) and stops once a
    geometric bound on the rest of every sum is below ``_TOL`` of that sum.
    """
    k = 0
    log_scale = math.log(z) - math.log(b)
    harmonic = 0.0  # H_{k-1}
    peak = z - b
    if peak > _JUMP:
        k = int(peak - 12.0 * math.sqrt(z)) - 2
        if k > 0:
            log_scale = _log_rising_ratio(z, b, k + 1)
            harmonic = _harmonic_shift(b, k) if weighted else 0.0
        else:
            k = 0
    term = 1.0
    total = abandon = served = served_wait = 0.0
    while True:
        d = b + k + 1.0
        total += term
        if weighted:
            harmonic += 1.0 / d
            abandon += term * (k + 1) / d
            served += term * (b / d)
            served_wait += term * (b / d) * harmonic
        ratio = z / d
        if ratio < 1.0:
            rest = term * ratio / (1.0 - ratio)
            if rest <= _TOL * total:
                if not weighted:
                    break
                # The weights are at most (j + 1) / b for j > k.
                rest1 = term / b * ((k + 1) * ratio / (1.0 - ratio) + ratio / (1.0 - ratio) ** 2)
                if (
                    min(rest, rest1) <= _TOL * abandon
                    and rest <= _TOL * served
                    and rest1 <= _TOL * served_wait
                ):
                    break
        term *= ratio
        k += 1
        if term > _BIG:
            term /= _BIG
            total /= _BIG
            abandon /= _BIG
            served /= _BIG
            served_wait /= _BIG
            log_scale += _LOG_BIG
    return _QueueSums(log_scale, total, abandon, served, served_wait)


def _log_upper_gamma_cf(s: float, x: float) -> float:
    """``log(Gamma(s, x) e^x x^-s)`` by the continued fraction of the upper incomplete gamma.

    ``Gamma(s, x) = e^-x x^s / (x + 1 - s - 1 (1 - s) / (x + 3 - s - 2 (2 - s) / (x + 5 - s - ...)))``,
    evaluated by the modified Lentz method; it converges quickly for ``x > s + 1``,
    the only case it is used for.
    """
    tiny = 1e-300
    b = x + 1.0 - s
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000_000):
        an = -i * (i - s)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) <= 4e-16:
            break
    return math.log(h)


def _log_answered_within(
    y: float, a: float, theta_t: float, n_t_over_aht: float, log_answered_waiting: float
) -> float:
    """``log`` of ``P(answered, 0 < W <= T) / pi_{N-1}`` in the M/M/N+M queue.

    With ``s = a + 1`` and ``u = y e^{-theta T}`` this is
    ``e^y y^-a [gamma(s, y) - gamma(s, u)] = e^y y^-a [Gamma(s, u) - Gamma(s, y)]``.
    ``log_answered_waiting`` is the log of ``e^y y^-a gamma(s, y)`` (the
    ``served`` queue sum). When ``u > s + 1`` both ends lie right of the peak of
    ``x^a e^-x`` and the lower incomplete gammas nearly cancel, so the
    difference of the upper ones is taken instead (by continued fractions):
    ``e^{y - u - N T / aht} u CF(u) (1 - Gamma(s, y) / Gamma(s, u))``. Otherwise
    ``e^y y^-a gamma(s, u) = e^{y - u - N T / aht} sum_m prod_{i=0}^{m} u / (s + i)``
    is subtracted from the answered-after-waiting sum.
    """
    if theta_t == 0.0:
        return -math.inf
    u = y * math.exp(-theta_t)
    shift = -y * math.expm1(-theta_t) - n_t_over_aht  # y - u - a theta T
    s = a + 1.0
    if u > s + 1.0:
        log_cf_u = _log_upper_gamma_cf(s, u)
        log_cf_y = _log_upper_gamma_cf(s, y)
        delta = s * theta_t + y * math.expm1(-theta_t) + log_cf_y - log_cf_u
        if delta >= 0.0:
            return -math.inf
        return shift + math.log(u) + log_cf_u + math.log(-math.expm1(delta))
    if u <= 0.0:
        return log_answered_waiting
    late = _queue_sums(u, s, weighted=False)
    log_late = late.log(late.total) + shift
    if log_late >= log_answered_waiting:
        return -math.inf
    return log_answered_waiting + math.log(-math.expm1(log_late - log_answered_waiting))


def _logaddexp(x: float, y: float) -> float:
    if x < y:
        x, y = y, x
    if y == -math.inf:
        return x
    return x + math.log1p(math.exp(y - x))


def _inv1pexp(x: float) -> float:
    """``1 / (1 + exp(x))`` without overflow."""
    if x > 0:
        e = math.exp(-x)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(x))


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def _fmt(value: float) -> str:
    return str(round(value, 6))


# ============================================================== Erlang B / C


def erlang_b(traffic: float, agents: int) -> float:
    """Erlang B: the probability that a contact is blocked (finds all agents busy, no queue).

    ``B(N, A) = (A^N / N!) / sum_{k=0}^{N} A^k / k!``, equivalently the stable
    recursion ``B(0) = 1``, ``B(n) = A B(n-1) / (n + A B(n-1))``. Computed as
    ``1 / B = sum_{j=0}^{N} N! / ((N-j)! A^j)`` summed from ``j = 0`` and
    truncated once the rest is below one ulp: the same number to double
    precision, in ``O(|N - A| + sqrt(A))`` steps, with no factorial, no power
    and no overflow (tiny results underflow gracefully towards 0).

    ``traffic`` is ``A`` in Erlangs (>= 0); ``agents`` is ``N`` (an integer
    >= 0). ``B(0, A) = 1``; ``B(N, 0) = 0`` for ``N >= 1``.
    """
    a = _non_negative(traffic, "traffic", " Erlangs")
    n = _agents(agents)
    if n == 0:
        return 1.0
    if a == 0.0:
        return 0.0
    return math.exp(-_log_loss_sum(a, n + 1))


def erlang_c(traffic: float, agents: int) -> float:
    """Erlang C: the probability of waiting, ``P(W > 0)``, in an M/M/N queue.

    ``C(N, A) = N B(N, A) / (N - A (1 - B(N, A)))`` for ``N > A``, and 1.0 when
    ``N <= A`` (the queue is unstable: everybody waits). Computed as
    ``C = 1 / (1 + L (N - A) / A)`` with ``L = 1 / B(N - 1, A)`` (see
    :func:`erlang_b`), which is the same formula without cancellation.

    ``traffic`` is ``A`` in Erlangs (>= 0); ``agents`` is ``N`` (an integer >= 0).
    """
    a = _non_negative(traffic, "traffic", " Erlangs")
    n = _agents(agents)
    if n <= a:
        return 1.0
    if a == 0.0:
        return 0.0
    return _inv1pexp(_log_loss_sum(a, n) + math.log(n - a) - math.log(a))


# ============================================================ metrics


def _no_traffic(
    model: str,
    aht: float,
    patience: float | None,
    n: int,
    threshold: float,
    shrinkage: float,
) -> StaffingResult:
    return StaffingResult(
        model=model,
        rate_per_second=0.0,
        aht_seconds=aht,
        patience_seconds=patience,
        traffic_erlangs=0.0,
        agents=n,
        scheduled_agents=_scheduled(n, shrinkage),
        shrinkage=shrinkage,
        threshold_seconds=threshold,
        probability_of_waiting=0.0,
        service_level=1.0,
        asa_seconds=0.0,
        occupancy=0.0,
        probability_of_abandon=None if patience is None else 0.0,
        finite=True,
        reason="no traffic (rate 0): no contact arrives, so none waits or abandons",
    )


def erlang_c_metrics(
    rate: float,
    aht: float,
    agents: int,
    threshold: float = DEFAULT_THRESHOLD_SECONDS,
    *,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """Every Erlang C (M/M/N) figure of ``agents`` agents for ``rate`` contacts per second.

    With ``A = rate * aht`` and ``N = agents``, for ``N > A``:

    * ``probability_of_waiting = C = erlang_c(A, N)``;
    * ``service_level = P(W <= T) = 1 - C exp(-(N - A) T / aht)``;
    * ``asa_seconds = E[W] = C aht / (N - A)`` (every contact is answered, so
      this is both the mean wait and the mean wait of answered contacts);
    * ``occupancy = A / N``.

    When ``N <= A`` the queue grows without bound: ``probability_of_waiting``
    1, ``service_level`` 0, ``asa_seconds`` ``math.inf``, ``occupancy`` 1,
    ``finite`` False and ``reason`` set. With ``rate == 0`` nobody waits (see
    :class:`StaffingResult`). ``threshold`` is ``T`` in seconds (>= 0);
    ``shrinkage`` only sets ``scheduled_agents``.
    """
    lam = _non_negative(rate, "rate", " arrivals per second")
    h = _positive(aht, "aht", " seconds")
    n = _agents(agents)
    t = _non_negative(threshold, "threshold", " seconds")
    s = _shrinkage(shrinkage)
    if lam == 0.0:
        return _no_traffic(MODEL_ERLANG_C, h, None, n, t, s)
    a = lam * h
    if n <= a:
        return StaffingResult(
            model=MODEL_ERLANG_C,
            rate_per_second=lam,
            aht_seconds=h,
            patience_seconds=None,
            traffic_erlangs=a,
            agents=n,
            scheduled_agents=_scheduled(n, s),
            shrinkage=s,
            threshold_seconds=t,
            probability_of_waiting=1.0,
            service_level=0.0,
            asa_seconds=math.inf,
            occupancy=1.0,
            probability_of_abandon=None,
            finite=False,
            reason=(
                f"agents ({n}) at or below traffic ({_fmt(a)} Erlangs): "
                "the queue grows without bound"
            ),
        )
    c = erlang_c(a, n)
    return StaffingResult(
        model=MODEL_ERLANG_C,
        rate_per_second=lam,
        aht_seconds=h,
        patience_seconds=None,
        traffic_erlangs=a,
        agents=n,
        scheduled_agents=_scheduled(n, s),
        shrinkage=s,
        threshold_seconds=t,
        probability_of_waiting=c,
        service_level=_clamp01(1.0 - c * math.exp(-(n - a) * t / h)),
        asa_seconds=c * h / (n - a),
        occupancy=a / n,
        probability_of_abandon=None,
        finite=True,
        reason=None,
    )


def erlang_a_metrics(
    rate: float,
    aht: float,
    patience: float,
    agents: int,
    threshold: float = DEFAULT_THRESHOLD_SECONDS,
    *,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """Every Erlang A (M/M/N+M) figure: Erlang C where waiting callers hang up.

    Each caller's patience is exponential with mean ``patience`` seconds
    (``theta = 1 / patience``); ``mu = 1 / aht``, ``lambda = rate``,
    ``A = lambda / mu``, ``N = agents``. The stationary distribution of the
    birth-death chain (birth ``lambda``; death ``n mu`` in state ``n <= N`` and
    ``N mu + k theta`` in state ``N + k``) gives, with ``y = lambda / theta``,
    ``a = N mu / theta`` and everything relative to state ``N - 1``:

    * ``L = sum_{j<N} pi_j / pi_{N-1} = 1 / B(N - 1, A)``,
      ``t_k = pi_{N+k} / pi_{N-1} = prod_{i=0}^{k} y / (a + i)``,
      ``Z = L + sum_k t_k``;
    * ``P(W > 0) = sum_k t_k / Z``;
    * ``P(Ab) = sum_k t_k (k + 1) / (a + k + 1) / Z`` (an arrival finding ``k``
      waiting is answered with probability ``a / (a + k + 1)``);
      equivalently ``P(Ab) = theta E[queue] / lambda``, and it equals Garnett,
      Mandelbaum & Reiman's ``P(W > 0) (1 / (rho A(a, y)) + 1 - 1 / rho)`` with
      ``A(x, y) = x e^y y^-x gamma(x, y)``, ``rho = lambda / (N mu)``;
    * ``asa_seconds = E[W | answered] = sum_k t_k a / (a + k + 1) H_k / theta /
      (L + sum_k t_k a / (a + k + 1))`` with ``H_k = sum_{j=1}^{k+1} 1 / (a + j)``;
    * ``service_level = P(answered and W <= T)``: from the virtual waiting time
      ``V`` (density ``lambda pi_{N-1} exp(lambda H(x) - N mu x)`` for ``x > 0``,
      ``H(x) = (1 - e^{-theta x}) / theta``; a caller is answered after ``V``
      iff its patience exceeds ``V``),
      ``P(answered, W > T) = e^{y - u - N T / aht} sum_m prod_{i=0}^{m} u / (a + 1 + i) / Z``
      with ``u = y e^{-theta T}`` (this is ``e^y y^-a gamma(a + 1, u) / Z``), and
      ``service_level = L / Z + P(answered, W > 0) - P(answered, W > T)``
      (when ``u > a + 2``, a heavily overloaded queue, the difference is taken
      as ``e^y y^-a [Gamma(a + 1, u) - Gamma(a + 1, y)] / Z`` instead, which
      does not cancel); abandons count as missed, so this is
      answered-within-``T`` over offered;
    * ``occupancy = lambda (1 - P(Ab)) aht / N``.

    Every sum is positive and taken exactly (see the module documentation):
    the figures agree with a 120-digit brute-force evaluation of the chain to
    about 1e-15, and stay within about 1e-11 even at ``lambda * patience``
    in the millions.
    The model is stable for any ``N >= 1`` (callers hang up), so every figure
    is finite even when ``N < A``. With ``N == 0`` every caller abandons:
    ``probability_of_abandon`` 1, ``service_level`` 0, ``asa_seconds``
    ``math.inf`` (no one is answered), ``occupancy`` 1, ``finite`` False.
    """
    lam = _non_negative(rate, "rate", " arrivals per second")
    h = _positive(aht, "aht", " seconds")
    p = _positive(patience, "patience", " seconds")
    n = _agents(agents)
    t = _non_negative(threshold, "threshold", " seconds")
    s = _shrinkage(shrinkage)
    if lam == 0.0:
        return _no_traffic(MODEL_ERLANG_A, h, p, n, t, s)
    a_erl = lam * h

    def result(**figures: Any) -> StaffingResult:
        return StaffingResult(
            model=MODEL_ERLANG_A,
            rate_per_second=lam,
            aht_seconds=h,
            patience_seconds=p,
            traffic_erlangs=a_erl,
            agents=n,
            scheduled_agents=_scheduled(n, s),
            shrinkage=s,
            threshold_seconds=t,
            **figures,
        )

    if n == 0:
        return result(
            probability_of_waiting=1.0,
            service_level=0.0,
            asa_seconds=math.inf,
            occupancy=1.0,
            probability_of_abandon=1.0,
            finite=False,
            reason="no agents: every contact waits until it abandons, so none is answered",
        )
    y = lam * p  # lambda / theta
    a = n * p / h  # N mu / theta
    queue = _queue_sums(y, a, weighted=True)
    # Everything in units of exp(queue.log_scale), so that no two large logs are
    # subtracted: L = exp(rel_l), Z = exp(rel_l) + total.
    rel_l = _log_loss_sum(a_erl, n) - queue.log_scale

    def share(x: float) -> float:  # x / (exp(rel_l) + total), without overflow
        if rel_l > 0.0:
            e = math.exp(-rel_l)
            return x * e / (1.0 + queue.total * e)
        return x / (math.exp(rel_l) + queue.total)

    p_no_wait = _inv1pexp(math.log(queue.total) - rel_l)
    p_wait = share(queue.total)
    p_abandon = share(queue.abandon)
    p_answered = p_no_wait + share(queue.served)
    log_within = _log_answered_within(y, a, t / p, n * t / h, queue.log(queue.served))
    p_within = share(math.exp(min(700.0, log_within - queue.log_scale)))
    service_level = _clamp01(p_no_wait + p_within)
    # E[W | answered] = (served_wait / theta) / (L + served)
    if rel_l > 0.0:
        e = math.exp(-rel_l)
        asa = queue.served_wait * p * e / (1.0 + queue.served * e)
    else:
        asa = queue.served_wait * p / (math.exp(rel_l) + queue.served)
    occupancy = min(1.0, a_erl * p_answered / n)
    return result(
        probability_of_waiting=_clamp01(p_wait),
        service_level=service_level,
        asa_seconds=asa,
        occupancy=occupancy,
        probability_of_abandon=_clamp01(p_abandon),
        finite=True,
        reason=None,
    )


# ============================================================ staffing


def _smallest(
    evaluate: Callable[[int], StaffingResult],
    meets: Callable[[StaffingResult], bool],
    low: int,
    guess: int,
) -> StaffingResult:
    """The result for the smallest ``n >= low`` that ``meets``, assuming monotonicity.

    Every figure is monotone in ``n`` (more agents: less waiting, fewer
    abandons, lower occupancy), so ``meets`` is False up to some ``n`` and True
    after it. Starting from ``guess`` (near the answer), gallop with steps of
    ``sqrt(guess)``, doubling, until the answer is bracketed, then bisect:
    ``O(log)`` evaluations.
    """
    cache: dict[int, StaffingResult] = {}

    def ok(n: int) -> bool:
        if n not in cache:
            cache[n] = evaluate(n)
        return meets(cache[n])

    start = max(low, guess)
    step = max(1, math.isqrt(start))
    if ok(start):
        high = start
        while True:  # gallop down
            candidate = high - step
            if candidate < low:
                if ok(low):
                    return cache[low]
                failing = low
                break
            if ok(candidate):
                high = candidate
                step *= 2
            else:
                failing = candidate
                break
    else:
        failing = start
        while True:  # gallop up
            candidate = failing + step
            if candidate > MAX_AGENTS:
                if ok(MAX_AGENTS):
                    high = MAX_AGENTS
                    break
                raise InvalidValueError(
                    f"the targets cannot be met with at most {MAX_AGENTS} agents"
                )
            if ok(candidate):
                high = candidate
                break
            failing = candidate
            step *= 2
    while high - failing > 1:
        middle = (failing + high) // 2
        if ok(middle):
            high = middle
        else:
            failing = middle
    return cache[high]


def _with_shrinkage(result: StaffingResult, shrinkage: float) -> StaffingResult:
    return attrs.evolve(
        result, shrinkage=shrinkage, scheduled_agents=_scheduled(result.agents, shrinkage)
    )


def staff_erlang_c(
    rate: float,
    aht: float,
    *,
    service_level: tuple[float, float] | None = None,
    asa: float | None = None,
    occupancy_max: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """The smallest number of agents meeting every given target under Erlang C.

    Targets (at least one): ``service_level = (target, T)``: ``P(W <= T) >=
    target`` with target in [0, 1) and ``T`` in seconds; ``asa``: ``E[W] <= asa``
    seconds (> 0); ``occupancy_max``: ``A / N <= occupancy_max`` in (0, 1]. The
    answer ``N`` is always a stable queue (``N > A``); it meets every target
    and ``N - 1`` does not (see :meth:`StaffingResult.meets`). The result's
    threshold is ``T``, or 20 s when no service level is given;
    ``scheduled_agents = ceil(N / (1 - shrinkage))``. With ``rate == 0`` the
    answer is 0 agents.

    The search starts at ``floor(A) + 1`` (and ``A / occupancy_max``), gallops
    up in steps of ``sqrt(N)``, doubling, and bisects: about ``2 log2(N)``
    evaluations of ``O(|N - A| + sqrt(A))`` steps each.
    """
    lam = _non_negative(rate, "rate", " arrivals per second")
    h = _positive(aht, "aht", " seconds")
    targets = _targets(service_level, asa, occupancy_max, None, abandon_allowed=False)
    s = _shrinkage(shrinkage)
    if lam == 0.0:
        return _no_traffic(MODEL_ERLANG_C, h, None, 0, targets.threshold, s)
    a = lam * h
    low = math.floor(a) + 1
    if targets.occupancy_max is not None:
        low = max(low, math.ceil(a / targets.occupancy_max) - 1)
    result = _smallest(
        lambda n: erlang_c_metrics(lam, h, n, targets.threshold),
        targets.met_by,
        low,
        low,
    )
    return _with_shrinkage(result, s)


def staff_erlang_a(
    rate: float,
    aht: float,
    patience: float,
    *,
    service_level: tuple[float, float] | None = None,
    asa: float | None = None,
    occupancy_max: float | None = None,
    abandon_max: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """The smallest number of agents meeting every given target under Erlang A.

    Targets (at least one), with the conventions of :func:`erlang_a_metrics`:
    ``service_level = (target, T)``: the share of all arrivals answered within
    ``T`` seconds is at least target (in [0, 1)); ``asa``: the mean wait of
    answered contacts is at most ``asa`` seconds; ``occupancy_max``:
    ``lambda (1 - P(Ab)) aht / N <= occupancy_max``; ``abandon_max``:
    ``P(Ab) <= abandon_max`` (in (0, 1]). The answer has ``N >= 1`` (someone
    answers), meets every target, and ``N - 1`` does not. Abandonment
    stabilises the queue, so the answer may be below the traffic ``A``.

    The search starts at ``round(A)``, gallops down or up in steps of
    ``sqrt(A)``, doubling, and bisects.
    """
    lam = _non_negative(rate, "rate", " arrivals per second")
    h = _positive(aht, "aht", " seconds")
    p = _positive(patience, "patience", " seconds")
    targets = _targets(service_level, asa, occupancy_max, abandon_max, abandon_allowed=True)
    s = _shrinkage(shrinkage)
    if lam == 0.0:
        return _no_traffic(MODEL_ERLANG_A, h, p, 0, targets.threshold, s)
    a = lam * h
    result = _smallest(
        lambda n: erlang_a_metrics(lam, h, p, n, targets.threshold),
        targets.met_by,
        1,
        max(1, round(a)),
    )
    return _with_shrinkage(result, s)


# ============================================================ intervals


def _start_minutes(value: object) -> float:
    return _number(value, "start_minutes")


def _length_minutes(value: object) -> float:
    return _positive(value, "length_minutes", " minutes")


def _interval_rate(value: object) -> float:
    return _non_negative(value, "rate", " arrivals per second")


def _interval_aht(value: object) -> float:
    return _positive(value, "aht", " seconds")


@attrs.frozen(slots=True)
class Interval:
    """One interval of a forecast: ``length_minutes`` from ``start_minutes``, at ``rate`` and ``aht``.

    ``start_minutes`` is the interval's start (minutes from midnight or from
    any origin: it is a label); ``length_minutes`` > 0 (15, 30, 60 or any other
    length); ``rate`` > = 0 contacts per second; ``aht`` > 0 seconds. The
    expected number of contacts in the interval is :attr:`volume`
    ``= rate * 60 * length_minutes``. Build one from a volume with
    :meth:`from_volume`.
    """

    start_minutes: float = attrs.field(converter=_start_minutes)
    length_minutes: float = attrs.field(converter=_length_minutes)
    rate: float = attrs.field(converter=_interval_rate)
    aht: float = attrs.field(converter=_interval_aht)

    @property
    def volume(self) -> float:
        """Expected contacts in the interval: ``rate * 60 * length_minutes``."""
        return self.rate * 60.0 * self.length_minutes

    @classmethod
    def from_volume(
        cls, start_minutes: float, length_minutes: float, volume: float, aht: float
    ) -> Interval:
        """The interval in which ``volume`` contacts arrive: ``rate = volume / (60 * length_minutes)``."""
        length = _positive(length_minutes, "length_minutes", " minutes")
        count = _non_negative(volume, "volume", " contacts")
        return cls(start_minutes, length, count / (60.0 * length), aht)


def interval_staffing(
    intervals: Sequence[Interval],
    *,
    service_level: tuple[float, float] | None = None,
    asa: float | None = None,
    occupancy_max: float | None = None,
    abandon_max: float | None = None,
    patience: float | None = None,
    shrinkage: float = 0.0,
) -> list[StaffingResult]:
    """The staffing of every interval of a forecast: one :class:`StaffingResult` per interval, in order.

    Each interval is solved on its own as a steady state at its rate and AHT
    (the usual WFM assumption: no backlog carries over from one interval to the
    next): :func:`staff_erlang_c`, or :func:`staff_erlang_a` when ``patience``
    is given (``abandon_max`` needs it). The targets and ``shrinkage`` are
    those of the solvers and apply to every interval; they are checked even
    when ``intervals`` is empty. The length of an interval does not change its
    answer (the rate is per second); any positive length works.
    """
    if patience is not None:
        _positive(patience, "patience", " seconds")
    _targets(service_level, asa, occupancy_max, abandon_max, abandon_allowed=patience is not None)
    _shrinkage(shrinkage)
    results = []
    for index, interval in enumerate(intervals):
        if not isinstance(interval, Interval):
            raise InvalidValueError(f"intervals[{index}] must be an Interval, got {interval!r}")
        results.append(
            staff_interval(
                interval.rate,
                interval.aht,
                patience,
                service_level=service_level,
                asa=asa,
                occupancy_max=occupancy_max,
                abandon_max=abandon_max,
                shrinkage=shrinkage,
            )
        )
    return results


def staff_interval(
    rate: float,
    aht: float,
    patience: float | None = None,
    *,
    service_level: tuple[float, float] | None = None,
    asa: float | None = None,
    occupancy_max: float | None = None,
    abandon_max: float | None = None,
    shrinkage: float = 0.0,
) -> StaffingResult:
    """One interval's staffing: :func:`staff_erlang_a` when customers have a
    ``patience``, else :func:`staff_erlang_c` (which takes no ``abandon_max``:
    it is ignored there, as no one abandons)."""
    if patience is None:
        return staff_erlang_c(
            rate,
            aht,
            service_level=service_level,
            asa=asa,
            occupancy_max=occupancy_max,
            shrinkage=shrinkage,
        )
    return staff_erlang_a(
        rate,
        aht,
        patience,
        service_level=service_level,
        asa=asa,
        occupancy_max=occupancy_max,
        abandon_max=abandon_max,
        shrinkage=shrinkage,
    )


# ============================================================ rates

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RATE = re.compile(
    rf"^\s*(?P<count>{_NUMBER})\s*(?:/|\bper\b)\s*(?P<length>{_NUMBER})?\s*(?P<unit>[a-zA-Z]+)\s*$"
)
_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
    **dict.fromkeys(("d", "day", "days"), 86400.0),
    **dict.fromkeys(("w", "wk", "week", "weeks"), 604800.0),
}


def parse_rate(text: str) -> float:
    """Read a rate such as ``"100/30min"``, ``"400/h"``, ``"2/s"`` or ``"1500/day"``: arrivals per second.

    Grammar: ``COUNT / [LENGTH] UNIT`` (``per`` may replace ``/``; spaces are
    allowed), where ``COUNT >= 0`` and ``LENGTH > 0`` are decimal numbers and
    ``UNIT`` is ``s``/``sec``/``second(s)``, ``min``/``minute(s)``,
    ``h``/``hr``/``hour(s)``, ``d``/``day(s)`` or ``w``/``week(s)`` (any case).
    The result is ``COUNT / (LENGTH * seconds per UNIT)``: ``"100/30min"`` is
    ``100 / 1800``. Anything else raises :class:`InvalidValueError` naming the text.
    """
    if not isinstance(text, str):
        raise InvalidValueError(f"rate text must be a string, got {text!r}")
    match = _RATE.match(text)
    if match is None or match["unit"].lower() not in _UNIT_SECONDS:
        raise InvalidValueError(
            f"cannot read the rate {text!r}: expected COUNT/[LENGTH]UNIT such as "
            "'100/30min', '400/h', '2/s' or '1500/day'"
        )
    unit = _UNIT_SECONDS[match["unit"].lower()]
    length = float(match["length"]) if match["length"] else 1.0
    if length <= 0:
        raise InvalidValueError(f"cannot read the rate {text!r}: the period length must be > 0")
    return float(match["count"]) / (length * unit)
