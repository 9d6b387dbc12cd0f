"""Route a small omnichannel morning and print what happened and the metrics.

Three queues (sales, support, billing), three channels (voice, chat, email),
twelve agents with different skills, languages and multi-chat capacity. Contacts
arrive at random (seeded, so every run is the same), agents accept offers after
a few seconds of ringing, handle them, and wrap up; some voice and chat
customers hang up if they wait too long.

The loop below is a tiny hand-written driver: the Router itself does all the
routing, and ccroute.metrics computes every figure from the Router's events.

Run:  python examples/quickstart.py
"""

from __future__ import annotations

import heapq
import random

from ccroute import (
    Abandoned,
    Accepted,
    Agent,
    Contact,
    ContactState,
    ManualClock,
    Offered,
    Presence,
    QueueConfig,
    Router,
    RoutingStep,
    Strategy,
    UnknownIdError,
)
from ccroute.metrics import MetricsCollector

DAY_SECONDS = 2 * 3600  # an 8:00-10:00 morning
SEED = 2026

clock = ManualClock()
router = Router(clock, seed=SEED)
router.add_queue(QueueConfig("billing", Strategy.LONGEST_IDLE, wrap_up=20))
router.add_queue(
    QueueConfig(
        "sales",
        Strategy.MOST_SKILLED,
        service_level_threshold=20,
        wrap_up=15,
        # After 60 s, any sales-capable agent will do; after 120 s billing helps out.
        steps=[RoutingStep(60, requirements={"sales": 1}), RoutingStep(120, queues={"billing"})],
    )
)
router.add_queue(QueueConfig("support", Strategy.LEAST_OCCUPIED, wrap_up=30))
metrics = MetricsCollector.attach(router)

AGENTS = [
    Agent("ana", {"sales": 8, "en": 9, "es": 9}, {"sales"}, {"voice": 1, "chat": 3}),
    Agent("ben", {"sales": 5, "en": 9}, {"sales"}, {"voice": 1, "chat": 2}),
    Agent("chloe", {"sales": 3, "en": 8, "fr": 9}, {"sales", "support"}, {"voice": 1}),
    Agent("dev", {"tech": 9, "en": 9}, {"support"}, {"voice": 1, "chat": 3, "email": 5}),
    Agent("eve", {"tech": 6, "en": 7, "es": 8}, {"support"}, {"chat": 3, "email": 5}),
    Agent("femi", {"tech": 4, "en": 9}, {"support"}, {"voice": 1, "email": 5}),
    Agent("gus", {"tech": 7, "en": 9, "fr": 6}, {"support"}, {"voice": 1, "chat": 2}),
    Agent("hana", {"billing": 9, "en": 9}, {"billing"}, {"voice": 1, "email": 5}),
    Agent("ivan", {"billing": 6, "en": 8}, {"billing", "sales"}, {"voice": 1, "chat": 2}),
    Agent("jo", {"billing": 4, "en": 9, "es": 7}, {"billing"}, {"chat": 3, "email": 5}),
    Agent("kim", {"tech": 8, "en": 9}, {"support"}, None, unit_budget=100),
    Agent("lea", {"sales": 6, "billing": 5, "en": 9}, {"sales", "billing"}, {"voice": 1}),
]
for agent in AGENTS:
    router.add_agent(agent, Presence.AVAILABLE)

# (queue, channel, requirements, arrivals per hour, mean handle seconds)
TRAFFIC = [
    ("sales", "voice", {"sales": 5, "en": 5}, 40, 240),
    ("sales", "chat", {"sales": 3, "en": 5}, 30, 420),
    ("support", "voice", {"tech": 5, "en": 5}, 40, 300),
    ("support", "chat", {"tech": 4, "en": 5}, 35, 480),
    ("support", "email", {"tech": 3}, 30, 360),
    ("billing", "voice", {"billing": 4, "en": 5}, 25, 240),
    ("billing", "email", {"billing": 3}, 20, 300),
]
rng = random.Random(SEED)
timeline: list[tuple[float, int, str, str]] = []  # (time, seq, what, contact id)
seq = 0


def schedule(when: float, what: str, contact_id: str) -> None:
    global seq
    seq += 1
    heapq.heappush(timeline, (when, seq, what, contact_id))


handle_time: dict[str, float] = {}
specs: dict[str, Contact] = {}
for queue, channel, requirements, per_hour, mean_handle in TRAFFIC:
    t = rng.expovariate(per_hour / 3600)
    while t < DAY_SECONDS:
        contact_id = f"{queue}-{channel}-{seq}"
        vip = rng.random() < 0.1  # VIPs get a 60-second head start in the queue
        specs[contact_id] = Contact(
            contact_id,
            channel,
            queue,
            requirements=requirements,
            priority_seconds=60 if vip else 0,
            customer_id=f"cust{rng.randrange(500)}",
        )
        handle_time[contact_id] = rng.expovariate(1 / mean_handle)
        schedule(t, "arrive", contact_id)
        if channel != "email":  # voice and chat customers give up after a while
            patience = rng.expovariate(1 / (180 if channel == "voice" else 600))
            schedule(t + patience, "patience", contact_id)
        t += rng.expovariate(per_hour / 3600)

log: list[str] = []


def react(events: list[object]) -> None:
    """What the agents' desktops do: answer offers after a few seconds of ringing."""
    for event in events:
        if isinstance(event, Offered):
            schedule(clock.now() + rng.uniform(2, 8), "answer", event.contact_id)
        elif isinstance(event, Accepted):
            schedule(clock.now() + handle_time[event.contact_id], "finish", event.contact_id)
        if isinstance(event, (Offered, Accepted, Abandoned)) and len(log) < 12:
            agent = getattr(event, "agent_id", None) or ""
            log.append(f"{event.at:7.1f}s  {type(event).__name__:<10}{event.contact_id:<22}{agent}")


router.observe(react)
while timeline:
    next_timer = router.next_due()
    when, _seq, what, contact_id = timeline[0]
    if next_timer is not None and next_timer < when:
        clock.set(next_timer)
        router.tick()
        continue
    heapq.heappop(timeline)
    clock.set(when)
    try:
        state = router.contact(contact_id).state
    except UnknownIdError:
        state = None
    if what == "arrive":
        router.submit(specs[contact_id])
    elif what == "patience" and state in (ContactState.WAITING, ContactState.OFFERED):
        router.abandon(contact_id)
    elif what == "answer" and state is ContactState.OFFERED:
        router.accept(contact_id, router.contact(contact_id).agent_id)  # type: ignore[arg-type]
    elif what == "finish" and state is ContactState.IN_SERVICE:
        router.complete(contact_id)
while router.next_due() is not None:  # let the last wrap-ups end
    clock.set(router.next_due())  # type: ignore[arg-type]
    router.tick()

report = metrics.report(clock.now())


def pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def secs(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.0f}s"


print("First events:")
print("\n".join(log))
print()
print(f"{'group':<10}{'offered':>8}{'answered':>9}{'abandoned':>10}{'SL':>8}{'ASA':>7}{'AHT':>7}")
rows = [*report.queues.items(), *report.channels.items(), ("total", report.total)]
for name, stats in rows:
    print(
        f"{name:<10}{stats.offered:>8}{stats.answered:>9}{stats.abandoned:>10}"
        f"{pct(stats.service_level()):>8}{secs(stats.asa):>7}{secs(stats.aht):>7}"
    )
print()
print(
    "Agent occupancy: "
    + ", ".join(
        f"{agent_id} {pct(stats.occupancy).strip()}" for agent_id, stats in report.agents.items()
    )
)
print(
    f"Team occupancy {pct(report.team.occupancy).strip()}, "
    f"utilisation {pct(report.team.utilisation).strip()}"
)
assert report.total.offered == router.submitted
assert (
    report.total.answered + report.total.abandoned + report.total.in_flight == report.total.offered
)
