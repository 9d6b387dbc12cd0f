"""Workforce management: Erlang B, C and A against exact references, staffing, intervals, rates."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccroute.errors import InvalidValueError
from ccroute.wfm import (
    Interval,
    StaffingResult,
    erlang_a_metrics,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    interval_staffing,
    parse_rate,
    staff_erlang_a,
    staff_erlang_c,
)
from ccroute.wfm import erlang as wfm

RTOL = 1e-9


def close(actual: float, expected: float, rtol: float = RTOL) -> bool:
    """Relative agreement; values below 1e-290 (lost to underflow in floats) agree with 0."""
    if abs(expected) < 1e-290:
        return abs(actual) < 1e-280
    return abs(actual - expected) <= rtol * abs(expected)


# ============================================================ references


def reference_b_c(traffic: float, agents: list[int]) -> dict[int, tuple[float, float]]:
    """Erlang B and C at each of ``agents`` by the textbook recursion, exactly or with 50 digits.

    ``B(0) = 1``, ``B(n) = A B(n-1) / (n + A B(n-1))``; ``C = N B / (N - A (1 - B))``.
    Fractions (exact rational arithmetic) for small cases, 50-digit Decimals for large ones.
    """
    wanted = set(agents)
    out: dict[int, tuple[float, float]] = {}
    top = max(agents)
    if top <= 60:
        a_f = Fraction(traffic)  # the float's exact value
        b_f = Fraction(1)
        for n in range(top + 1):
            if n > 0:
                b_f = a_f * b_f / (n + a_f * b_f)
            if n in wanted:
                c_f = Fraction(1) if n <= a_f else n * b_f / (n - a_f * (1 - b_f))
                out[n] = (float(b_f), float(c_f))
        return out
    with localcontext() as ctx:
        ctx.prec = 50
        ctx.Emin = -999999
        a_d = Decimal(traffic)
        b_d = Decimal(1)
        for n in range(top + 1):
            if n > 0:
                b_d = a_d * b_d / (n + a_d * b_d)
            if n in wanted:
                c_d = Decimal(1) if n <= a_d else n * b_d / (n - a_d * (1 - b_d))
                out[n] = (float(b_d), float(c_d))
    return out


def brute_erlang_a(
    rate: float, aht: float, patience: float, agents: int, threshold: float
) -> dict[str, float]:
    """Erlang A by brute force: the whole birth-death chain in 120-digit Decimals.

    States ``0..N`` (death rate ``j mu``) and ``N + k`` (``N mu + k theta``), truncated
    where ``pi`` falls below 1e-45 of its largest value. An arrival that finds ``k``
    waiting is answered iff the ``k + 1`` events "one fewer ahead" (rates
    ``r_j = N mu + j theta``, ``j = k+1 .. 1``) all come before its own abandon; given
    that, its wait is the sum of independent exponentials with rates ``r_1 .. r_{k+1}``
    (a hypoexponential, whose CDF is evaluated in closed form). This is a different
    derivation from the one in ``ccroute.wfm`` (virtual waiting time, incomplete gamma).
    """
    with localcontext() as ctx:
        ctx.prec = 120
        lam = Decimal(rate)
        mu = 1 / Decimal(aht)
        th = 1 / Decimal(patience)
        t = Decimal(threshold)
        n = agents
        pi = [Decimal(1)]
        for j in range(1, n):
            pi.append(pi[-1] * lam / (j * mu))
        below = sum(pi)
        queue = [pi[-1] * lam / (n * mu)]  # state N: all busy, none waiting
        k = 0
        while True:
            k += 1
            nxt = queue[-1] * lam / (n * mu + k * th)
            queue.append(nxt)
            if nxt < queue[0] * Decimal("1e-45") and nxt < max(queue) * Decimal("1e-45"):
                break
        z = below + sum(queue)
        p_wait = sum(queue) / z
        p_ab = Decimal(0)
        served_wait = Decimal(0)
        served_within = Decimal(0)
        for k, p in enumerate(queue):
            rates = [n * mu + j * th for j in range(1, k + 2)]
            p_served = n * mu / (n * mu + (k + 1) * th)
            p_ab += p * (1 - p_served)
            served_wait += p * p_served * sum(1 / r for r in rates)
            cdf = Decimal(1)
            for i, ri in enumerate(rates):
                coef = Decimal(1)
                for m, rm in enumerate(rates):
                    if m != i:
                        coef *= rm / (rm - ri)
                cdf -= coef * (-ri * t).exp()
            served_within += p * p_served * cdf
        p_ab /= z
        p_answered = 1 - p_ab
        return {
            "probability_of_waiting": float(p_wait),
            "probability_of_abandon": float(p_ab),
            "asa_seconds": float(served_wait / z / p_answered),
            "service_level": float(below / z + served_within / z),
            "occupancy": float(lam * p_answered / mu / n),
        }


# ============================================================ Erlang B and C


GRID = [0.1, 0.7, 1.0, 3.3, 10.0, 42.5, 100.0, 333.3, 1000.0, 10000.0]


def grid_agents(traffic: float) -> list[int]:
    root = math.sqrt(traffic)
    base = math.floor(traffic)
    candidates = {
        1,
        max(1, base - 2),
        max(1, base),
        base + 1,
        base + 2,
        math.ceil(traffic + root),
        math.ceil(traffic + 3 * root),
        math.ceil(traffic + 10 * root),
        math.ceil(1.5 * traffic) + 1,
        math.ceil(2 * traffic) + 5,
    }
    return sorted(candidates)


@pytest.mark.parametrize("traffic", GRID)
def test_erlang_b_and_c_match_the_exact_recursion(traffic: float) -> None:
    agents = grid_agents(traffic)
    ref = reference_b_c(traffic, agents)
    for n in agents:
        b_ref, c_ref = ref[n]
        assert close(erlang_b(traffic, n), b_ref), (traffic, n, erlang_b(traffic, n), b_ref)
        assert close(erlang_c(traffic, n), c_ref), (traffic, n, erlang_c(traffic, n), c_ref)


def test_erlang_b_and_c_edge_cases() -> None:
    assert erlang_b(5.0, 0) == 1.0
    assert erlang_b(0.0, 0) == 1.0
    assert erlang_b(0.0, 3) == 0.0
    assert erlang_c(0.0, 0) == 1.0  # agents <= traffic
    assert erlang_c(0.0, 3) == 0.0
    assert erlang_c(6.0, 5) == 1.0
    assert erlang_c(6.0, 6) == 1.0
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_c(1.0, 2) == pytest.approx(1 / 3)


def test_erlang_c_textbook_values() -> None:
    # 100 calls in 30 minutes, AHT 3 minutes: 10 Erlangs.
    expected = {  # agents: (P(wait), service level 20 s, ASA s)
        11: (0.6821, 0.3896, 122.78),
        12: (0.4494, 0.6402, 40.44),
        13: (0.2853, 0.7956, 17.12),
        14: (0.1741, 0.8884, 7.84),
        15: (0.1020, 0.9415, 3.67),
    }
    rate = parse_rate("100/30min")
    for n, (pw, sl, asa) in expected.items():
        r = erlang_c_metrics(rate, 180, n, 20)
        assert r.traffic_erlangs == pytest.approx(10.0)
        assert round(r.probability_of_waiting, 4) == pw
        assert round(r.service_level, 4) == sl
        assert round(r.asa_seconds, 2) == asa
        assert r.occupancy == pytest.approx(10 / n)
    result = staff_erlang_c(rate, 180, service_level=(0.8, 20))
    assert result.agents == 14
    assert result.model == "erlang-c"
    assert result.threshold_seconds == 20
    assert result.probability_of_waiting == pytest.approx(0.1741, abs=1e-4)


# ============================================================ Erlang A

ERLANG_A_CASES = [
    # rate (per s), aht (s), patience (s), agents, threshold (s)
    (10 / 60, 60.0, 120.0, 10, 20.0),  # A = 10, N = A
    (10 / 60, 60.0, 60.0, 8, 15.0),  # understaffed: N < A
    (100 / 1800, 180.0, 300.0, 14, 20.0),  # the textbook case with abandonment
    (100 / 1800, 180.0, 300.0, 12, 0.0),  # T = 0: service level = P(no wait)
    (0.01, 50.0, 30.0, 1, 10.0),  # a single agent
    (0.025, 100.0, 10.0, 3, 5.0),  # patience much shorter than the AHT
    (0.5, 30.0, 45.0, 14, 30.0),  # 15 Erlangs, one agent short
    (0.2, 60.0, 60.0, 4, 5.0),  # 12 Erlangs, 4 agents: service level near 0
]


@pytest.mark.parametrize("case", ERLANG_A_CASES)
def test_erlang_a_matches_brute_force_chain(case: tuple[float, float, float, int, float]) -> None:
    rate, aht, patience, agents, threshold = case
    ref = brute_erlang_a(rate, aht, patience, agents, threshold)
    got = erlang_a_metrics(rate, aht, patience, agents, threshold)
    assert got.model == "erlang-a" and got.finite and got.reason is None
    for key, value in ref.items():
        assert close(getattr(got, key), value), (key, getattr(got, key), value)


def test_erlang_a_service_level_at_zero_threshold_is_no_wait() -> None:
    r = erlang_a_metrics(0.1, 120, 90, 13, 0.0)
    assert r.service_level == pytest.approx(1 - r.probability_of_waiting, rel=1e-12)


@pytest.mark.parametrize("agents", [11, 12, 13, 14, 15, 20])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(agents: int) -> None:
    rate = 100 / 1800
    c = erlang_c_metrics(rate, 180, agents)
    previous_gap = math.inf
    for patience in (1e4, 1e6, 1e8, 1e10):
        # The gaps shrink like 1 / patience (about E[W] / patience).
        a = erlang_a_metrics(rate, 180, patience, agents)
        gap = abs(a.service_level - c.service_level) + abs(a.asa_seconds - c.asa_seconds)
        assert gap < previous_gap / 50
        previous_gap = gap
    a = erlang_a_metrics(rate, 180, 1e10, agents)
    assert a.probability_of_waiting == pytest.approx(c.probability_of_waiting, rel=1e-6)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-6)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-6)
    assert a.occupancy == pytest.approx(c.occupancy, rel=1e-6)
    assert a.probability_of_abandon is not None and a.probability_of_abandon < 1e-7


def test_erlang_a_is_monotone_in_agents_and_finite_below_traffic() -> None:
    rate, aht, patience = 50 / 60, 240.0, 120.0  # 200 Erlangs
    previous: StaffingResult | None = None
    for n in range(120, 260, 7):
        r = erlang_a_metrics(rate, aht, patience, n)
        assert r.finite and r.reason is None
        assert r.probability_of_abandon is not None
        for value in (r.probability_of_waiting, r.service_level, r.asa_seconds, r.occupancy):
            assert math.isfinite(value)
        if previous is not None:
            assert previous.probability_of_abandon is not None
            assert r.probability_of_abandon < previous.probability_of_abandon
            assert r.probability_of_waiting < previous.probability_of_waiting
            assert r.service_level > previous.service_level
            assert r.asa_seconds < previous.asa_seconds
            assert r.occupancy <= previous.occupancy
        previous = r
    below = erlang_a_metrics(rate, aht, patience, 150)  # 50 agents short
    assert below.probability_of_abandon == pytest.approx(0.25, abs=0.02)
    assert below.occupancy == pytest.approx(1.0, abs=1e-3)


def test_erlang_a_with_no_agents_is_explicit() -> None:
    r = erlang_a_metrics(0.1, 100, 60, 0)
    assert not r.finite and r.reason and "no agents" in r.reason
    assert r.probability_of_abandon == 1.0 and r.service_level == 0.0
    assert r.asa_seconds == math.inf
    assert r.to_dict()["asa_seconds"] is None


def test_erlang_a_far_from_the_peak_matches_the_direct_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shortcut that starts a queue sum near its peak gives the sum from 0."""
    cases = [
        (1.0, 100.0, 1000.0, 50, 20.0),  # peak 500 terms away
        (10000 / 300, 300.0, 3600.0, 100, 20.0),  # 10,000 Erlangs, 100 agents: peak 118,800 away
    ]
    for case in cases:
        monkeypatch.setattr(wfm, "_JUMP", 10**12)
        direct = erlang_a_metrics(*case)
        monkeypatch.setattr(wfm, "_JUMP", 0)
        jumped = erlang_a_metrics(*case)
        for key in ("probability_of_waiting", "probability_of_abandon", "service_level"):
            assert close(getattr(jumped, key), getattr(direct, key), 1e-10), key
        assert close(jumped.asa_seconds, direct.asa_seconds, 1e-10)
        assert close(jumped.occupancy, direct.occupancy, 1e-10)


@pytest.mark.parametrize("b", [0.3, 7.0, 29.5, 1234.5, 1e6])
@pytest.mark.parametrize("count", [64, 500, 20000])
def test_peak_helpers_match_direct_sums(b: float, count: int) -> None:
    z = b + count + 3.7
    direct_log = math.fsum(math.log(z / (b + i)) for i in range(count))
    assert wfm._log_rising_ratio(z, b, count) == pytest.approx(direct_log, abs=1e-9)
    direct_h = math.fsum(1.0 / (b + j) for j in range(1, count + 1))
    assert wfm._harmonic_shift(b, count) == pytest.approx(direct_h, rel=1e-12)


# ============================================================ degenerate results


def test_erlang_c_at_or_below_traffic_is_infinite_and_explained() -> None:
    r = erlang_c_metrics(6 / 180, 180, 5)
    assert r.traffic_erlangs == pytest.approx(6.0)
    assert not r.finite
    assert r.probability_of_waiting == 1.0 and r.service_level == 0.0
    assert r.asa_seconds == math.inf and r.occupancy == 1.0
    assert r.probability_of_abandon is None
    assert r.reason == (
        "agents (5) at or below traffic (6.0 Erlangs): the queue grows without bound"
    )
    data = r.to_dict()
    assert data["asa_seconds"] is None and data["finite"] is False and data["reason"] == r.reason
    json.dumps(data, allow_nan=False)  # JSON-ready: no inf, no NaN
    assert not r.meets(service_level=0.0)
    exact = erlang_c_metrics(0.05, 120, 6)  # N == A
    assert not exact.finite and exact.asa_seconds == math.inf


def test_to_dict_of_a_finite_result() -> None:
    r = erlang_a_metrics(0.1, 100, 60, 12, 30)
    data = r.to_dict()
    assert data["model"] == "erlang-a" and data["agents"] == 12 and data["patience_seconds"] == 60
    assert data["asa_seconds"] == r.asa_seconds and data["reason"] is None
    assert set(data) >= {
        "model",
        "traffic_erlangs",
        "agents",
        "scheduled_agents",
        "probability_of_waiting",
        "service_level",
        "threshold_seconds",
        "asa_seconds",
        "occupancy",
        "probability_of_abandon",
        "finite",
        "reason",
    }
    json.dumps(data, allow_nan=False)


def test_no_traffic_needs_no_agents() -> None:
    for r in (
        erlang_c_metrics(0, 180, 0),
        erlang_c_metrics(0, 180, 3),
        erlang_a_metrics(0, 180, 60, 0),
        staff_erlang_c(0, 180, service_level=(0.8, 20)),
        staff_erlang_a(0, 180, 60, abandon_max=0.05),
    ):
        assert r.finite and r.reason and "no traffic" in r.reason
        assert r.probability_of_waiting == 0.0 and r.service_level == 1.0
        assert r.asa_seconds == 0.0 and r.occupancy == 0.0
    assert staff_erlang_c(0, 180, asa=10).agents == 0


# ============================================================ staffing


def test_staffing_targets_and_shrinkage() -> None:
    rate = parse_rate("100/30min")
    sl = staff_erlang_c(rate, 180, service_level=(0.8, 20), shrinkage=0.3)
    assert sl.agents == 14 and sl.scheduled_agents == 20 and sl.shrinkage == 0.3  # not 21
    assert staff_erlang_c(rate, 180, asa=10).agents == 14  # ASA 17.1 s at 13, 7.8 s at 14
    assert staff_erlang_c(rate, 180, asa=20).agents == 13
    assert staff_erlang_c(rate, 180, occupancy_max=0.5).agents == 20  # 10 / 20 exactly
    both = staff_erlang_c(rate, 180, service_level=(0.8, 20), occupancy_max=0.7)
    assert both.agents == 15
    only_asa = staff_erlang_c(rate, 180, asa=30)
    assert only_asa.threshold_seconds == 20.0
    a = staff_erlang_a(rate, 180, 120, service_level=(0.8, 20))
    assert a.model == "erlang-a" and a.agents <= 14
    ab = staff_erlang_a(rate, 180, 120, abandon_max=0.05)
    assert ab.probability_of_abandon is not None and ab.probability_of_abandon <= 0.05
    below = erlang_a_metrics(rate, 180, 120, ab.agents - 1)
    assert below.probability_of_abandon is not None and below.probability_of_abandon > 0.05


@settings(max_examples=60, deadline=None)
@given(
    rate=st.floats(0.001, 4.0),
    aht=st.floats(10.0, 500.0),
    sl=st.one_of(st.none(), st.tuples(st.floats(0.0, 0.99), st.floats(0.0, 120.0))),
    asa=st.one_of(st.none(), st.floats(0.5, 600.0)),
    occ=st.one_of(st.none(), st.floats(0.3, 1.0)),
    shrinkage=st.floats(0.0, 0.6),
)
def test_staff_erlang_c_returns_the_smallest_agents(
    rate: float,
    aht: float,
    sl: tuple[float, float] | None,
    asa: float | None,
    occ: float | None,
    shrinkage: float,
) -> None:
    if sl is None and asa is None and occ is None:
        sl = (0.8, 20.0)
    result = staff_erlang_c(
        rate, aht, service_level=sl, asa=asa, occupancy_max=occ, shrinkage=shrinkage
    )
    targets: dict[str, Any] = {
        "service_level": None if sl is None else sl[0],
        "asa": asa,
        "occupancy_max": occ,
    }
    threshold = 20.0 if sl is None else sl[1]
    assert result.finite and result.agents > result.traffic_erlangs
    assert result.meets(**targets)
    assert erlang_c_metrics(rate, aht, result.agents, threshold) == attrs_evolve_back(result)
    assert not erlang_c_metrics(rate, aht, result.agents - 1, threshold).meets(**targets)
    assert result.scheduled_agents == math.ceil(
        Fraction(result.agents) / (1 - Fraction(repr(shrinkage)))
    )


def attrs_evolve_back(result: StaffingResult) -> StaffingResult:
    """``result`` as :func:`erlang_c_metrics` returns it (no shrinkage)."""
    import attrs

    return attrs.evolve(result, shrinkage=0.0, scheduled_agents=result.agents)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.001, 2.0),
    aht=st.floats(10.0, 400.0),
    patience=st.floats(5.0, 900.0),
    sl=st.one_of(st.none(), st.tuples(st.floats(0.0, 0.95), st.floats(0.0, 60.0))),
    asa=st.one_of(st.none(), st.floats(1.0, 300.0)),
    occ=st.one_of(st.none(), st.floats(0.3, 1.0)),
    abandon=st.one_of(st.none(), st.floats(0.005, 0.5)),
)
def test_staff_erlang_a_returns_the_smallest_agents(
    rate: float,
    aht: float,
    patience: float,
    sl: tuple[float, float] | None,
    asa: float | None,
    occ: float | None,
    abandon: float | None,
) -> None:
    if sl is None and asa is None and occ is None and abandon is None:
        abandon = 0.05
    result = staff_erlang_a(
        rate, aht, patience, service_level=sl, asa=asa, occupancy_max=occ, abandon_max=abandon
    )
    targets: dict[str, Any] = {
        "service_level": None if sl is None else sl[0],
        "asa": asa,
        "occupancy_max": occ,
        "abandon_max": abandon,
    }
    threshold = 20.0 if sl is None else sl[1]
    assert result.finite and result.agents >= 1
    assert result.meets(**targets)
    assert erlang_a_metrics(rate, aht, patience, result.agents, threshold) == result
    below = erlang_a_metrics(rate, aht, patience, result.agents - 1, threshold)
    assert not below.meets(**targets)


def test_staffing_at_ten_thousand_erlangs() -> None:
    rate = 10000 / 300
    c = staff_erlang_c(rate, 300, service_level=(0.8, 20))
    assert c.meets(service_level=0.8)
    assert not erlang_c_metrics(rate, 300, c.agents - 1).meets(service_level=0.8)
    assert 10000 < c.agents < 10100
    a = staff_erlang_a(rate, 300, 180, service_level=(0.8, 20), abandon_max=0.03)
    assert a.meets(service_level=0.8, abandon_max=0.03)
    assert not erlang_a_metrics(rate, 300, 180, a.agents - 1).meets(
        service_level=0.8, abandon_max=0.03
    )


def test_meets_rejects_abandon_target_for_erlang_c() -> None:
    r = erlang_c_metrics(0.05, 180, 12)
    with pytest.raises(InvalidValueError, match="Erlang A"):
        r.meets(abandon_max=0.1)


# ============================================================ intervals


def test_interval_staffing() -> None:
    day = [
        Interval.from_volume(8 * 60, 30, 100, 180),  # 10 Erlangs
        Interval(8 * 60 + 30, 30, 0.0, 180),  # quiet
        Interval.from_volume(9 * 60, 15, 50, 180),  # 50 / 15 min = 10 Erlangs
        Interval.from_volume(9 * 60 + 15, 60, 200, 180),  # 200 / h = 10 Erlangs
    ]
    assert day[0].volume == pytest.approx(100)
    assert day[2].rate == pytest.approx(parse_rate("50/15min"))
    c = interval_staffing(day, service_level=(0.8, 20), shrinkage=0.3)
    assert [r.agents for r in c] == [14, 0, 14, 14]
    assert [r.scheduled_agents for r in c] == [20, 0, 20, 20]
    a = interval_staffing(day, service_level=(0.8, 20), patience=120, abandon_max=0.05)
    assert all(r.model == "erlang-a" for r in a)
    assert a[0] == staff_erlang_a(day[0].rate, 180, 120, service_level=(0.8, 20), abandon_max=0.05)
    assert interval_staffing([], asa=20) == []


def test_interval_validation() -> None:
    with pytest.raises(InvalidValueError, match="length_minutes"):
        Interval(0, 0, 0.1, 180)
    with pytest.raises(InvalidValueError, match="rate"):
        Interval(0, 15, -0.1, 180)
    with pytest.raises(InvalidValueError, match="aht"):
        Interval(0, 15, 0.1, 0)
    with pytest.raises(InvalidValueError, match="start_minutes"):
        Interval(math.nan, 15, 0.1, 180)
    with pytest.raises(InvalidValueError, match="abandon_max"):
        interval_staffing([], abandon_max=0.1)  # needs patience
    with pytest.raises(InvalidValueError, match="patience"):
        interval_staffing([], asa=10, patience=0)
    with pytest.raises(InvalidValueError, match="target"):
        interval_staffing([])
    with pytest.raises(InvalidValueError, match=r"intervals\[0\]"):
        interval_staffing([(0, 15, 0.1, 180)], asa=10)  # type: ignore[list-item]


# ============================================================ bad input

BAD_INPUTS: list[tuple[Callable[[], object], str]] = [
    (lambda: erlang_b(-1, 3), "traffic"),
    (lambda: erlang_b(math.inf, 3), "traffic"),
    (lambda: erlang_b(2, -1), "agents"),
    (lambda: erlang_b(2, 2.5), "agents"),  # type: ignore[arg-type]
    (lambda: erlang_c(math.nan, 3), "traffic"),
    (lambda: erlang_c(2, True), "agents"),
    (lambda: erlang_c_metrics(-0.1, 180, 3), "rate"),
    (lambda: erlang_c_metrics(0.1, 0, 3), "aht"),
    (lambda: erlang_c_metrics(0.1, -5, 3), "aht"),
    (lambda: erlang_c_metrics(0.1, 180, -1), "agents"),
    (lambda: erlang_c_metrics(0.1, 180, 30, -1), "threshold"),
    (lambda: erlang_c_metrics(0.1, 180, 30, shrinkage=1.0), "shrinkage"),
    (lambda: erlang_a_metrics(0.1, 180, 0, 3), "patience"),
    (lambda: erlang_a_metrics(0.1, 180, -60, 3), "patience"),
    (lambda: erlang_a_metrics("0.1", 180, 60, 3), "rate"),  # type: ignore[arg-type]
    (lambda: erlang_a_metrics(0.1, 180, 60, -2), "agents"),
    (lambda: staff_erlang_c(0.1, 180), "target"),
    (lambda: staff_erlang_c(-0.1, 180, asa=10), "rate"),
    (lambda: staff_erlang_c(0.1, 0, asa=10), "aht"),
    (lambda: staff_erlang_c(0.1, 180, service_level=(1.0, 20)), "service_level target"),
    (lambda: staff_erlang_c(0.1, 180, service_level=(-0.1, 20)), "service_level target"),
    (lambda: staff_erlang_c(0.1, 180, service_level=(80, 20)), "service_level target"),
    (lambda: staff_erlang_c(0.1, 180, service_level=(0.8, -1)), "service_level threshold"),
    (lambda: staff_erlang_c(0.1, 180, service_level=0.8), "service_level"),  # type: ignore[arg-type]
    (lambda: staff_erlang_c(0.1, 180, asa=0), "asa"),
    (lambda: staff_erlang_c(0.1, 180, asa=-3), "asa"),
    (lambda: staff_erlang_c(0.1, 180, occupancy_max=0), "occupancy_max"),
    (lambda: staff_erlang_c(0.1, 180, occupancy_max=1.2), "occupancy_max"),
    (lambda: staff_erlang_c(0.1, 180, asa=10, shrinkage=-0.1), "shrinkage"),
    (lambda: staff_erlang_c(0.1, 180, asa=10, shrinkage=1.5), "shrinkage"),
    (lambda: staff_erlang_a(0.1, 180, 0, asa=10), "patience"),
    (lambda: staff_erlang_a(0.1, 180, 60), "target"),
    (lambda: staff_erlang_a(0.1, 180, 60, abandon_max=0), "abandon_max"),
    (lambda: staff_erlang_a(0.1, 180, 60, abandon_max=1.5), "abandon_max"),
    (lambda: staff_erlang_a(0.1, -1, 60, asa=10), "aht"),
]


@pytest.mark.parametrize(("call", "name"), BAD_INPUTS)
def test_bad_input_raises_invalid_value_naming_the_argument(
    call: Callable[[], object], name: str
) -> None:
    with pytest.raises(InvalidValueError, match=name):
        call()


def test_invalid_value_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="aht"):
        erlang_c_metrics(0.1, 0, 3)


# ============================================================ parse_rate


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("100/30min", 100 / 1800),
        ("400/h", 400 / 3600),
        ("400/hour", 400 / 3600),
        ("400/hours", 400 / 3600),
        ("2/s", 2.0),
        ("2/sec", 2.0),
        ("1500/day", 1500 / 86400),
        ("50/15min", 50 / 900),
        ("50 / 15 min", 50 / 900),
        ("12.5/minute", 12.5 / 60),
        ("1e3/H", 1000 / 3600),
        ("3000 per 8h", 3000 / 28800),
        ("0/h", 0.0),
        ("7000/week", 7000 / 604800),
    ],
)
def test_parse_rate(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-15)


@pytest.mark.parametrize(
    "text",
    ["", "100", "100/", "/h", "-5/h", "100/0min", "abc/h", "100/fortnight", "100/h/h", "1/m"],
)
def test_parse_rate_rejects_bad_text_naming_it(text: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        parse_rate(text)
    assert repr(text) in str(info.value)


def test_parse_rate_rejects_non_strings() -> None:
    with pytest.raises(InvalidValueError, match="string"):
        parse_rate(100)  # type: ignore[arg-type]


# ============================================================ stability


@pytest.mark.parametrize("agents", [5000, 9999, 10000, 10001, 10100, 20000])
def test_ten_thousand_erlangs_is_finite_and_quick(agents: int) -> None:
    traffic = 10000.0
    rate = traffic / 300
    values = [erlang_b(traffic, agents), erlang_c(traffic, agents)]
    c = erlang_c_metrics(rate, 300, agents)
    values += [c.probability_of_waiting, c.service_level, c.occupancy]
    assert c.finite == (agents > traffic)
    for patience in (5.0, 180.0, 3600.0):
        a = erlang_a_metrics(rate, 300, patience, agents)
        assert a.finite and a.probability_of_abandon is not None
        values += [
            a.probability_of_waiting,
            a.probability_of_abandon,
            a.service_level,
            a.asa_seconds,
            a.occupancy,
        ]
    for v in values:
        assert not math.isnan(v) and v >= 0.0
        assert math.isfinite(v)
    if agents == 10100:
        ref = reference_b_c(traffic, [10100])[10100]
        assert close(values[0], ref[0]) and close(values[1], ref[1])


def test_public_names_have_docstrings() -> None:
    missing = []
    for name in wfm.__all__:
        obj = getattr(wfm, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            if not inspect.getdoc(obj):
                missing.append(name)
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                documentable = inspect.isfunction(member) or isinstance(
                    member, (property, classmethod)
                )
                if documentable and not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert missing == []
