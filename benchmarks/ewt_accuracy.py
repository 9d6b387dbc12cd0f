"""The estimated wait against the waits the simulator produces (issue 16).

    PYTHONPATH=src .venv/bin/python benchmarks/ewt_accuracy.py [--waits N] [--quick]

Each case is simulated with the real router (``ccroute.sim``), day after day
(seeds 1, 2, 3 ...) until at least N contacts (default 3,500) have waited
and been answered. At queue entry a :class:`~ccroute.sim.WaitRecorder` takes
the router's estimate (``Router.estimated_wait``, what the service sends in
the customer's ``queued`` update) and, beside it, the estimate the service
gave before issue 16: position x mean talk time of the queue's last 100
completed contacts / the queue's logged-in members. Contacts that entered in
the first hour of a day (the learner's warm-up and the empty centre's
transient), that were offered at once, or that were never answered are
left out; so are the rare ones either estimator had no figure for.

Per case: the mean actual wait, each estimator's mean, its mean absolute
error (MAE, also as a share of the mean actual wait) and its bias
(mean(estimate - actual) / mean actual). Targets: MAE within 20% and bias
within 15% of the mean actual wait.

How much of the MAE is noise no estimate can remove, two ways:

- "oracle MAE" replaces each new estimate by the mean actual wait of the
  contacts of the same queue whose new estimate fell in the same bin (50 bins
  of equal count per queue), computed in-sample: an estimator with the same
  information, perfectly calibrated after the fact. The gap between the
  estimate's MAE and it is the estimate's own error; the rest is the waits'
  randomness.
- "exact floor", for the cases that are an M/M/c queue of c identical slots
  (M/M/10, chat as 15 slots, not-ready): a contact at position ``p`` while
  every slot is busy waits for ``p`` departures of a Poisson process of rate
  ``c / H``, a Gamma(``p``, ``c / H``) time; the floor is the mean absolute
  deviation of that distribution around its mean, averaged over the contacts:
  what a perfect-information estimate (the true ``H``, the exact model, but
  not the future handle times) would get.

Where customers abandon (the multi-skill day), the answered contacts are
those whose wait was shorter than their patience: their mean wait is below
the mean wait of a customer who stays, which is what the estimate is for.
With exponential patience of rate ``theta`` (the scenario's), a contact that
waited ``w`` was answered with probability ``exp(-theta w)``, whatever the
others did; weighting each answered contact by ``exp(theta w)`` (inverse
probability weighting) gives the figures over every contact as if each had
stayed. The second table shows them.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ccroute import Completed, Event, Queued, Router
from ccroute.model import QueueConfig
from ccroute.sim import (
    AgentGroup,
    ArrivalStream,
    Break,
    Distribution,
    Scenario,
    Simulation,
    WaitRecorder,
    parse_scenario,
)

HOUR = 3600.0
DAY = 24 * HOUR
WARMUP = HOUR


def _voice(name: str = "q", wrap_up: float = 0.0) -> QueueConfig:
    return QueueConfig(name, offer_timeout=None, wrap_up=wrap_up)


def _make_stream(
    name: str, queue: str, per_hour: float, mean: float, channel: str = "voice"
) -> ArrivalStream:
    return ArrivalStream(
        name, queue, channel, (), (per_hour / HOUR,), Distribution("exponential", mean)
    )


def _day(
    name: str,
    queues: tuple[QueueConfig, ...],
    agents: tuple[AgentGroup, ...],
    arrivals: tuple[ArrivalStream, ...],
) -> Scenario:
    return Scenario(
        start=0.0,
        end=DAY,
        interval=DAY,
        queues=queues,
        agents=agents,
        arrivals=arrivals,
        name=name,
    )


def _group(
    name: str,
    count: int,
    queues: tuple[str, ...],
    capacity: dict[str, int] | None = None,
    breaks: tuple[Break, ...] = (),
) -> AgentGroup:
    return AgentGroup(name, count, (), frozenset(queues), capacity or {"voice": 1}, breaks=breaks)


#: Cases that are M/M/c queues: (slots, mean handle time) for the exact floor.
FLOORS: dict[str, tuple[int, float]] = {
    "M/M/10 voice": (10, 240.0),
    "chat, 3 per agent": (15, 600.0),
    "5 not-ready members": (10, 240.0),
}


def gamma_mad(shape: float, scale: float) -> float:
    """The mean absolute deviation of a Gamma(shape, scale) variable around its mean."""
    return scale * math.exp(math.log(2.0) + shape * math.log(shape) - shape - math.lgamma(shape))


def cases(load: float = 0.9) -> dict[str, Scenario]:
    """The issue's five cases, at ``load`` occupancy of the ready agents (0.9 by
    default), and a multi-skill day (as the example has it)."""
    scale = load / 0.9

    def _stream(
        name: str, queue: str, per_hour: float, mean: float, channel: str = "voice"
    ) -> ArrivalStream:
        return _make_stream(name, queue, per_hour * scale, mean, channel)

    with open("examples/multiskill.toml", encoding="utf-8") as f:
        multiskill = parse_scenario(f.read(), "examples/multiskill.toml")
    return {
        # 10 agents, 240 s exponential talk, 135 calls an hour (rho 0.9)
        "M/M/10 voice": _day(
            "mm10", (_voice(),), (_group("a", 10, ("q",)),), (_stream("calls", "q", 135, 240),)
        ),
        # 180 s talk + 60 s wrap-up: the same 240 s per call
        "60 s wrap-up": _day(
            "wrap",
            (_voice(wrap_up=60.0),),
            (_group("a", 10, ("q",)),),
            (_stream("calls", "q", 135, 180),),
        ),
        # 5 agents x 3 chats, 600 s per chat, 81 chats an hour
        "chat, 3 per agent": _day(
            "chat",
            (_voice(),),
            (_group("a", 5, ("q",), {"chat": 3}),),
            (_stream("chats", "q", 81, 600, "chat"),),
        ),
        # sales (240 s) and service (180 s), 108 calls an hour each (12.6
        # Erlangs): 4 agents each, 6 serving both
        "two queues sharing agents": _day(
            "shared",
            (_voice("sales"), _voice("service")),
            (
                _group("sales", 4, ("sales",)),
                _group("service", 4, ("service",)),
                _group("both", 6, ("sales", "service")),
            ),
            (_stream("sales", "sales", 108, 240), _stream("service", "service", 108, 180)),
        ),
        # 10 ready agents and 5 members logged in but not ready all day
        "5 not-ready members": _day(
            "not-ready",
            (_voice(),),
            (
                _group("a", 10, ("q",)),
                _group("away", 5, ("q",), breaks=(Break(60.0, DAY - 120.0),)),
            ),
            (_stream("calls", "q", 135, 240),),
        ),
        "multi-skill day (examples/multiskill.toml)": multiskill,
    }


class OldEstimate:
    """The service's estimate before issue 16, kept beside the new one."""

    def __init__(self, router: Router) -> None:
        self.talk: dict[str, deque[float]] = {}
        router.observe(self._completed)

    def _completed(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, Completed):
                self.talk.setdefault(e.queue, deque(maxlen=100)).append(e.handle_time)

    def __call__(self, router: Router, event: Queued) -> float | None:
        window = self.talk.get(event.queue)
        logged_in = router.queue_stats(event.queue).logged_in
        view = router.contact(event.contact_id)
        if not window or not logged_in or view.state.value != "waiting":
            return None
        return router.position(event.contact_id) * math.fsum(window) / len(window) / logged_in


@dataclass
class Row:
    case: str
    days: int
    waits: int
    actual: float
    new: float
    new_mae: float
    new_bias: float
    old: float
    old_mae: float
    old_bias: float
    oracle_mae: float
    floor: float | None
    seconds: float
    # weighted by 1 / P(answered) where customers abandon (None: nobody does)
    weighted: tuple[float, float, float, float] | None = None


def _oracle_mae(samples: list[tuple[str, float, float]], bins: int = 50) -> float:
    """MAE of the in-sample mean actual wait per (queue, bin of the new estimate)."""
    total = 0.0
    by_queue: dict[str, list[tuple[float, float]]] = {}
    for queue, estimate, actual in samples:
        by_queue.setdefault(queue, []).append((estimate, actual))
    for pairs in by_queue.values():
        pairs.sort()
        size = max(1, math.ceil(len(pairs) / bins))
        for i in range(0, len(pairs), size):
            chunk = [a for _e, a in pairs[i : i + size]]
            mean = math.fsum(chunk) / len(chunk)
            total += math.fsum(abs(a - mean) for a in chunk)
    return total / len(samples)


def measure(name: str, scenario: Scenario, target: int) -> Row:
    started = time.perf_counter()
    samples: list[tuple[str, float, float, float]] = []  # queue, new, old, actual
    floors: list[float] = []
    theta = {
        a.queue: 1.0 / a.patience.mean
        for a in scenario.arrivals
        if a.patience.kind == "exponential"
    }
    weights: list[float] = []
    seed = 0
    while len(samples) < target:
        seed += 1
        sim = Simulation(scenario, seed=seed)
        old = OldEstimate(sim.router)
        recorder = WaitRecorder(sim.router, extra=old)
        sim.run()
        warm_end = scenario.start + WARMUP
        for record in recorder.records.values():
            before = recorder.extras.get(record.contact_id)
            if (
                record.queued_at < warm_end
                or record.position is None
                or record.wait is None
                or record.estimate is None
                or not isinstance(before, float)
            ):
                continue
            samples.append((record.queue, record.estimate, before, record.wait))
            weights.append(math.exp(theta.get(record.queue, 0.0) * record.wait))
            if name in FLOORS:
                slots, handle = FLOORS[name]
                floors.append(gamma_mad(record.position, handle / slots))
    n = len(samples)
    actual = math.fsum(s[3] for s in samples) / n
    new = math.fsum(s[1] for s in samples) / n
    old_mean = math.fsum(s[2] for s in samples) / n
    new_mae = math.fsum(abs(s[1] - s[3]) for s in samples) / n
    old_mae = math.fsum(abs(s[2] - s[3]) for s in samples) / n
    weighted = None
    if theta:
        total = math.fsum(weights)
        w_actual = math.fsum(w * s[3] for w, s in zip(weights, samples, strict=True)) / total
        w_new = math.fsum(w * s[1] for w, s in zip(weights, samples, strict=True)) / total
        w_old = math.fsum(w * s[2] for w, s in zip(weights, samples, strict=True)) / total
        w_mae = math.fsum(w * abs(s[1] - s[3]) for w, s in zip(weights, samples, strict=True))
        weighted = (w_actual, w_new, w_mae / total, w_old)
    return Row(
        weighted=weighted,
        case=name,
        days=seed,
        waits=n,
        actual=actual,
        new=new,
        new_mae=new_mae,
        new_bias=(new - actual) / actual,
        old=old_mean,
        old_mae=old_mae,
        old_bias=(old_mean - actual) / actual,
        oracle_mae=_oracle_mae([(q, e, a) for q, e, _o, a in samples]),
        floor=math.fsum(floors) / len(floors) if floors else None,
        seconds=time.perf_counter() - started,
    )


def table(rows: list[Row]) -> str:
    head = (
        "| case | waits (days) | mean wait | new: mean | MAE (share) | bias "
        "| old: mean | MAE (share) | bias | oracle MAE | exact floor | met |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|"
    )
    lines = [head]
    for r in rows:
        met = r.new_mae <= 0.20 * r.actual and abs(r.new_bias) <= 0.15
        lines.append(
            f"| {r.case} | {r.waits:,} ({r.days}) | {r.actual:.1f} s | {r.new:.1f} s "
            f"| {r.new_mae:.1f} s ({r.new_mae / r.actual:.0%}) | {r.new_bias:+.1%} "
            f"| {r.old:.1f} s | {r.old_mae:.1f} s ({r.old_mae / r.actual:.0%}) "
            f"| {r.old_bias:+.1%} | {r.oracle_mae:.1f} s ({r.oracle_mae / r.actual:.0%}) "
            f"| {'-' if r.floor is None else f'{r.floor:.1f} s ({r.floor / r.actual:.0%})'} "
            f"| {'yes' if met else 'no'} |"
        )
    abandoning = [r for r in rows if r.weighted is not None]
    if abandoning:
        lines += [
            "",
            "Where customers abandon, answered contacts weighted by 1 / P(answered):",
            "",
            "| case | mean wait | new: mean | MAE (share) | bias | old: mean | bias |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in abandoning:
            assert r.weighted is not None
            actual, new, mae, old = r.weighted
            lines.append(
                f"| {r.case} | {actual:.1f} s | {new:.1f} s | {mae:.1f} s ({mae / actual:.0%}) "
                f"| {(new - actual) / actual:+.1%} | {old:.1f} s | {(old - actual) / actual:+.1%} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=3500, help="waits per case (default 3,500)")
    parser.add_argument("--quick", action="store_true", help="500 waits per case")
    parser.add_argument("--case", action="append", help="run only these cases (by name prefix)")
    parser.add_argument(
        "--load", type=float, default=0.9, help="occupancy of the five cases (default 0.9)"
    )
    args = parser.parse_args(argv)
    target = 500 if args.quick else args.waits
    rows = []
    progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    for name, scenario in cases(args.load).items():
        if args.case and not any(name.startswith(c) for c in args.case):
            continue
        row = measure(name, scenario, target)
        progress(f"{name}: {row.waits} waits over {row.days} days in {row.seconds:.1f} s")
        rows.append(row)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
