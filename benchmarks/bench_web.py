"""Load on the web plugin: hundreds of chat customers and agents on loopback.

    .venv/bin/python benchmarks/bench_web.py [--customers 300] [--agents 100]
        [--messages 4] [--rate 0] [--seconds 120]

One process runs the demo centre (a service on SQLite, sync ``FULL``, and the
web app on a free loopback port) with ``--agents`` agents of three chats each
and a supervisor; this process drives it as real browsers would, on one
asyncio loop:

- every agent signs in (``POST /api/login``), opens its live socket
  (``/ws/agent``), sets itself available, accepts each offer it is shown
  (``POST .../accept``) and greets the customer, answers each customer
  message with a reply (``POST .../messages``), and after the last one ends
  the chat and its wrap-up with a disposition (``complete``, ``wrap-up``);
- every customer opens ``/ws/chat`` (all at once, or ``--rate`` per second),
  writes a first message, and once
  greeted writes ``--messages`` more, each after the agent's previous message
  arrived.

It prints, side by side from one run: chat messages delivered per second
(every message that reached the other party's socket, both ways, over the
time from the first customer message to the last chat's end), offer-to-desktop
latency (the router's ``offered_at`` to the offer's arrival on the agent's
socket: the service's durable commit, delivery and the push) and
message latency (a customer's send to the agent's socket), as median, p95
and worst, plus the wallboard's totals at the end as a check.
Bounded: ``--seconds`` stops the run (reported as unfinished chats).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PASSWORD = "bench-pass-1234"


def _serve(agents: int, folder: str) -> None:
    """The server process: the demo centre with ``agents`` agents; prints its URL."""
    import anyio
    from ccroute_web.demo import centre, demo_users

    specs = [(f"agent{i:04d}", f"Agent {i}", ("support",)) for i in range(agents)]

    async def main() -> None:
        web = {"chats_per_ip": 100_000, "resume_grace": 5.0}
        users = demo_users(PASSWORD, specs)
        async with centre(Path(folder) / "bench.db", users=users, agents=specs, web=web) as c:
            print(c.url, flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the driver closes stdin

    anyio.run(main)


def _quantiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


class Run:
    """What the driver measured."""

    def __init__(self) -> None:
        self.offer_latency: list[float] = []
        self.message_latency: list[float] = []
        self.delivered = 0
        self.finished = 0
        self.first_send: float | None = None
        self.last_end = 0.0
        self.sent_at: dict[tuple[str, str], float] = {}
        self.errors: list[str] = []
        self.ready = 0
        self.sign_in = 0.0


async def _agent(url: str, user: str, run: Run, messages: int, stop: asyncio.Event) -> None:
    from ccroute_web.client import Agent
    from websockets import ConnectionClosed

    async with Agent(url, user, PASSWORD) as agent:
        await agent.open_live()
        await agent.set_presence("available")
        run.ready += 1
        replies: dict[str, int] = {}

        async def handle(msg: dict[str, Any]) -> None:
            try:
                await act(msg)
            except Exception as error:  # counted and shown: a refused call is a finding
                run.errors.append(f"{user}: {type(error).__name__}: {error}")

        async def act(msg: dict[str, Any]) -> None:
            kind = msg.get("type")
            if kind == "offer":
                offer = msg["offer"]
                run.offer_latency.append(time.time() - offer["offered_at"])
                cid = offer["contact_id"]
                await agent.accept(cid)
                await agent.send(cid, "hello")
            elif kind == "message" and msg["message"]["from"] == "customer":
                cid = msg["contact_id"]
                run.delivered += 1
                sent = run.sent_at.pop((cid, msg["message"]["text"]), None)
                if sent is not None:
                    run.message_latency.append(time.monotonic() - sent)
                n = replies.get(cid, 0)
                replies[cid] = n + 1
                if n < messages - 1:
                    await agent.send(cid, f"reply {n}")
                else:
                    await agent.complete(cid)
                    await agent.end_wrap_up(cid, "resolved")

        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            try:
                frame = await agent.receive(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                break
            task = asyncio.create_task(handle(frame))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)


async def _customer(url: str, n: int, run: Run, messages: int, delay: float) -> None:
    from ccroute_web.client import Customer
    from websockets import ConnectionClosed

    await asyncio.sleep(delay)
    async with Customer(url) as customer:
        contact = customer.conversation
        sent = 0

        async def say(text: str, name: str | None = None) -> None:
            run.sent_at[(contact, text)] = time.monotonic()
            await customer.say(text, name)

        if run.first_send is None:
            run.first_send = time.monotonic()
        await say(f"customer {n} needs help", name=f"Customer {n}")
        while True:
            try:
                msg = await customer.receive(timeout=120.0)
            except (TimeoutError, ConnectionClosed) as error:
                run.errors.append(f"customer {n}: {type(error).__name__} {error}")
                return
            kind = msg.get("type")
            if kind == "message" and msg["message"]["from"] == "agent":
                run.delivered += 1
                if sent < messages:
                    sent += 1
                    await say(f"customer {n} message {sent}")
            elif kind == "closed":
                run.finished += 1
                run.last_end = time.monotonic()
                return
            elif kind == "error":
                run.errors.append(f"customer {n}: {msg.get('error')}")


async def _drive(
    url: str, customers: int, agents: int, messages: int, seconds: float, rate: float
) -> Run:
    run = Run()
    stop = asyncio.Event()
    agent_tasks = [
        asyncio.create_task(_agent(url, f"agent{i:04d}", run, messages, stop))
        for i in range(agents)
    ]
    # Customers come once every agent signed in (a key derivation each) and is available.
    signed_in = time.monotonic()
    while run.ready < agents and time.monotonic() - signed_in < seconds:
        await asyncio.sleep(0.1)
    run.sign_in = time.monotonic() - signed_in
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    _customer(url, n, run, messages, n / rate if rate > 0 else 0.0)
                    for n in range(customers)
                )
            ),
            timeout=seconds,
        )
    run.first_send = run.first_send or started
    stop.set()
    await asyncio.gather(*agent_tasks, return_exceptions=True)
    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--messages", type=int, default=4, help="customer messages after the first")
    parser.add_argument("--seconds", type=float, default=120.0, help="bound on the run")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="customers arriving per second (0: all at once)"
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve, args.folder)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-web-") as folder:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(args.agents), "--folder", folder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert server.stdout is not None and server.stdin is not None
        try:
            url = server.stdout.readline().strip()
            if not url.startswith("http://"):
                raise SystemExit(f"the server did not start: {url!r}")
            run = asyncio.run(
                _drive(url, args.customers, args.agents, args.messages, args.seconds, args.rate)
            )
        finally:
            server.stdin.close()
            server.wait(timeout=60)

    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    driver_cpu = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = max(1e-9, (run.last_end or time.monotonic()) - (run.first_send or 0.0))
    print(
        f"ccroute-web load: {args.customers} chat customers, {args.agents} agents "
        f"(3 chats each), {args.messages + 1} customer messages per chat, one service on loopback, "
        + ("all arriving at once" if args.rate <= 0 else f"{args.rate:g} arriving per second")
    )
    print(
        f"  agents signed in          {run.ready}/{args.agents} in {run.sign_in:.1f} s "
        "(before any customer)"
    )
    print(f"  chats finished            {run.finished}/{args.customers} in {elapsed:.1f} s")
    print(
        f"  chat messages delivered   {run.delivered}  ({run.delivered / elapsed:,.0f} per second)"
    )
    for label, values in (
        ("offer to desktop", run.offer_latency),
        ("customer msg to agent", run.message_latency),
    ):
        med, p95, worst = _quantiles(values)
        print(
            f"  {label:<24}  median {med * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
            f"worst {worst * 1000:7.1f} ms   (n={len(values)})"
        )
    print(
        f"  CPU seconds               server {server_cpu.ru_utime + server_cpu.ru_stime:.1f}   "
        f"driver {driver_cpu.ru_utime + driver_cpu.ru_stime:.1f}   (the whole run, start-up included)"
    )
    if run.errors:
        print(f"  failures                  {len(run.errors)} (first: {run.errors[0]})")
    return 0 if run.finished == args.customers and not run.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
