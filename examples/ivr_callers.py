"""Scripted callers through a realistic IVR flow on the real service.

Run: python examples/ivr_callers.py

The service runs with SQLite in a temporary directory and a manual clock set
to Monday 7 December 2026 in Unix time (so the run is the same every time and
takes a second), the flow is examples/flows/inbound.toml, its queues open
08:00-20:00 on weekdays in New York by their business-hours calendar, and
two agents answer. Eight callers phone in between 07:55 and 08:20: one before the lines open, one in French on chat,
one who checks a balance by themselves (a bad account number first), three
billing callers of whom a VIP jumps the queue, one who takes the callback
offer when the wait is long, and one who hangs up. The program prints each
caller's outcome and exits with status 1 if one is not the expected one.

The channel adapter's side is `Line`: it hands each caller's words to the
live session (`service.flows.start`, `LiveSession.input`) and hears what the
flow says through the `send` callable. The demo plugins are `Bank` (the
`balance` self-service action) and `Crm` (a VIP profile).
"""

from __future__ import annotations

import datetime
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from ccroute import (
    Agent,
    BusinessHours,
    Contact,
    ManualClock,
    OfferDelivery,
    Presence,
    QueueConfig,
    Service,
    WhenClosed,
    hookimpl,
)
from ccroute.ivr import load_flow
from ccroute.ivr.live import FlowOutput, LiveSession

with (Path(__file__).parent / "flows" / "inbound.toml").open("rb") as _file:
    INBOUND = load_flow(_file)  # checked once, at start-up
QUEUES = ("general", "billing", "technical", "retention")
#: The centre's opening hours: every queue's calendar.
HOURS = BusinessHours(
    "America/New_York",
    weekly={day: ("08:00-20:00",) for day in ("mon", "tue", "wed", "thu", "fri")},
    holidays={"2026-12-25"},
)
#: Monday 7 December 2026, midnight in New York, in Unix time (EST is UTC-5).
DAY = datetime.datetime(2026, 12, 7, 5, tzinfo=datetime.UTC).timestamp()


def clock_time(hhmm: str) -> float:
    hours, minutes = hhmm.split(":")
    return DAY + int(hours) * 3600 + int(minutes) * 60


def local_time(now: float) -> str:
    seconds = int(now - DAY)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


class Bank:
    """The self-service back end: account balances (never logs an account number)."""

    balances: Mapping[str, float] = {"4111111111111111": 42.0}

    @hookimpl
    def ccroute_self_service(
        self, action: str, arguments: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        if action != "balance":
            return None  # not ours
        balance = self.balances.get(str(arguments.get("account")))
        if balance is None:
            return {"overdue": True}  # unknown to us: an agent helps
        return {"overdue": False, "message": f"Your balance is {balance:.2f} dollars."}


class Crm:
    """One VIP customer."""

    @hookimpl
    def ccroute_crm_lookup(self, customer_id: str) -> Mapping[str, Any] | None:
        return {"tier": "gold", "name": "Vera"} if customer_id == "vera" else None


class Desk:
    """The agents' desktops: offers arrive here, and the agents answer them in order."""

    def __init__(self) -> None:
        self.offers: list[OfferDelivery] = []

    @hookimpl
    def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool:
        self.offers.append(delivery)
        return True


class Line:
    """A channel adapter's side of one caller: what they say, and what they heard."""

    def __init__(self, name: str, channel: str = "voice", customer: str | None = None) -> None:
        self.contact = Contact(name.lower(), channel, "general", customer_id=customer)
        self.name = name
        self.heard: list[FlowOutput] = []
        self.session: LiveSession | None = None
        self.answered_by = "-"
        self.answered_at = "-"

    def __call__(self, output: FlowOutput) -> None:
        self.heard.append(output)

    async def call(self, service: Service, *words: str, hang_up: bool = False) -> None:
        self.session = await service.flows.start(INBOUND, self.contact, self)
        for said in words:
            await self.session.input(said)
        if hang_up:
            await self.session.hangup()

    @property
    def outcome(self) -> str:
        result = self.session.result if self.session is not None else None
        return "-" if result is None else result.outcome

    def count(self, kind: str) -> int:
        return sum(1 for o in self.heard if o.kind == kind)


async def run(db: Path) -> list[Line]:
    clock = ManualClock(clock_time("07:55"))
    desk = Desk()
    service = Service(
        path=db, sync="OFF", clock=clock, plugins=[Bank(), Crm(), desk], load_entrypoints=False
    )
    lines: dict[str, Line] = {}

    async def at(hhmm: str) -> None:
        clock.set(clock_time(hhmm))
        await service.tick()
        await service.flows.tick()

    async def answer(agent: str) -> None:
        """``agent`` answers the contact offered to them."""
        await service.drain()
        offered = next(d for d in reversed(desk.offers) if d.agent.id == agent)
        await service.accept(offered.contact.id, agent)
        line = lines[offered.contact.id]
        line.answered_by = agent
        line.answered_at = local_time(clock.now())

    def caller(name: str, channel: str = "voice", customer: str | None = None) -> Line:
        line = lines[name.lower()] = Line(name, channel, customer)
        return line

    async with service:
        # Closed, a queue still takes what a flow routes to it: the flow itself
        # tells callers the hours and offers a callback (flows/inbound.toml).
        await service.add_queues(
            [
                QueueConfig(q, wrap_up=0, calendar=HOURS, when_closed=WhenClosed.ACCEPT)
                for q in QUEUES
            ]
        )

        # 07:55 the lines are closed: Olive declines the callback and hangs up.
        await caller("Olive").call(service, "2")

        await at("08:00")
        for agent in (
            # one call at a time, a callback included (each takes her 100 units)
            Agent(
                "ann",
                skills={"english": 5, "billing": 5},
                queues=("general", "billing"),
                unit_budget=100,
            ),
            Agent("chloe", skills={"english": 3, "french": 5, "network": 4}, queues=QUEUES),
        ):
            await service.add_agent(agent, Presence.AVAILABLE)
        # Pierre chats in French about his internet: the keyword matcher finds the intent.
        await caller("Pierre", "chat").call(service, "français", "mon internet ne marche pas")
        await answer("chloe")
        # Sam checks his balance alone, mistyping the account number once.
        await caller("Sam", customer="sam").call(
            service, "1", "what is my balance", "4111 1111 1111 1112", "4111 1111 1111 1111", "2"
        )
        # Ben has an invoice question: Ann answers at once.
        await caller("Ben").call(service, "1", "a question about my invoice")
        await answer("ann")

        await at("08:02")  # Dana waits (Ann is busy) and hears her place in line
        await caller("Dana").call(service, "1", "1")
        await at("08:03")  # Vera, a gold customer, goes ahead of Dana
        await caller("Vera", customer="vera").call(service, "1", "billing")
        await at("08:10")  # Ann finishes with Ben after ten minutes: Vera is next
        await service.complete("ben")
        await answer("ann")
        await at("08:11")  # the wait is long now: Luke asks to be called back
        await caller("Luke").call(service, "1", "1", "call me")
        # Hank starts, then hangs up in the menu.
        await caller("Hank").call(service, "1", hang_up=True)
        await at("08:15")
        await service.complete("vera")
        await answer("ann")  # Dana
        await at("08:20")
        await service.complete("dana")
        await answer("ann")  # Luke's callback
        for contact_id in ("pierre", "luke"):
            await service.complete(contact_id)
        await service.drain()
    return list(lines.values())


#: caller -> (flow outcome, who answered, when): Vera, who called after Dana,
#: is answered first; Luke is called back after Dana, keeping his place.
EXPECTED = {
    "Olive": ("closed", "-", "-"),
    "Pierre": ("routed", "chloe", "08:00"),
    "Sam": ("self-service", "-", "-"),
    "Ben": ("routed", "ann", "08:00"),
    "Dana": ("routed", "ann", "08:15"),
    "Vera": ("routed", "ann", "08:10"),
    "Luke": ("callback", "ann", "08:20"),
    "Hank": ("abandoned", "-", "-"),
}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        lines = anyio.run(run, Path(tmp) / "centre.db")
    order = [line.name for line in lines]
    print(f"{'caller':8} {'channel':8} {'outcome':13} {'answered':14} prompts  in queue")
    wrong = []
    for line in lines:
        answered = "-" if line.answered_by == "-" else f"{line.answered_by} {line.answered_at}"
        print(
            f"{line.name:8} {line.contact.channel:8} {line.outcome:13} {answered:14} "
            f"{line.count('prompt'):7}  {line.count('announcement')} announcements"
        )
        if (line.outcome, line.answered_by, line.answered_at) != EXPECTED.get(line.name):
            wrong.append(line.name)
    if order != list(EXPECTED) or wrong:
        print(f"unexpected outcome for: {', '.join(wrong) or 'the order of callers'}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
