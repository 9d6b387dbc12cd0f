"""What masking costs (docs/masking.md): ``Masking.contact`` on typical contacts,
the router's submit with masking on and off, the service's per-call check, and
a service's submit and abandon (memory store, manual clock) on and off, and on
as it was when the router masked the service's contacts a second time.

Run: ``python benchmarks/bench_masking.py [--rounds 7] [--number 20000]``.
Prints the median of the rounds, in microseconds per call (CPU time for the
service); the two settings are measured with their rounds interleaved. A CPU
reference (``sum(range(1000))``) scales a run against another.
"""

from __future__ import annotations

import argparse
import functools
import logging
import statistics
import time
import timeit
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio

from ccroute import (
    Agent,
    Contact,
    ManualClock,
    Masking,
    MemoryStorage,
    Presence,
    QueueConfig,
    Router,
    Service,
)
from ccroute.commands import Abandon, Accept, Submit

TYPICAL = {
    "language": "en",
    "vip": True,
    "topic": "billing",
    "account": "A-1234567",
    "phone": "+44 20 7946 0958",
}
SENSITIVE = {
    **TYPICAL,
    "card": "4111 1111 1111 1111",
    "customer": {"ssn": "219-09-9999", "cards": ["5500-0000-0000-0004"]},
}


def median_us(fn: Callable[[], Any], rounds: int, number: int) -> float:
    times = timeit.repeat(fn, repeat=rounds, number=number)
    return statistics.median(times) / number * 1e6


def router_submit(masking: Masking, attributes: dict[str, Any]) -> Callable[[], None]:
    """submit then abandon, on a queue nobody serves: the contact waits, then leaves."""
    router = Router(masking=masking, offer_reasons=False)
    router.add_queue(QueueConfig("q"))
    router.add_agent(Agent("a", queues=("q",)), Presence.OFFLINE)
    contact = Contact("c", "chat", "q", attributes=attributes)

    def run() -> None:
        router.submit(contact)
        router.abandon("c")

    return run


async def service_pairs(
    masking: Masking, attributes: dict[str, Any], pairs: int, *, vouch: bool = True
) -> float:
    """CPU us per submit + abandon through a service (memory store, no plugins);
    ``vouch=False`` refuses ``Router._vouch``, as before the router trusted
    the service's masking."""
    async with Service(
        storage=MemoryStorage(),
        load_entrypoints=False,
        masking=masking,
        metrics=False,
        clock=ManualClock(0.0),
    ) as service:
        await service.add_queue(QueueConfig("q"))
        if not vouch:
            # on this router's instance: the compiled router's class cannot be patched
            service.router._vouch = lambda contact, rules: False  # type: ignore[method-assign]
        start = time.process_time()
        for i in range(pairs):
            await service.submit(Contact(f"c{i}", "chat", "q", attributes=attributes))
            await service.abandon(f"c{i}")
        return (time.process_time() - start) / pairs * 1e6


async def service_calls(
    rules: dict[str, Masking], attributes: dict[str, Any], rounds: int, number: int
) -> dict[str, float]:
    """The synchronous part of a service's submit and abandon (masking, the log's
    encoding, the router's call: ``Service._call``, which runs without yielding),
    us per pair, median of interleaved rounds, for each setting in ``rules``
    (``"twice"``: masking on, ``Router._vouch`` refused, as before the router
    trusted the service's masking; refused on that router alone, through its
    instance, which the compiled router's class does not let anyone patch)."""
    found: dict[str, list[float]] = {name: [] for name in rules}
    services = {}
    async with AsyncExitStack() as stack:
        for name, masking in rules.items():
            service = await stack.enter_async_context(
                Service(
                    storage=MemoryStorage(),
                    load_entrypoints=False,
                    masking=masking,
                    metrics=False,
                    clock=ManualClock(0.0),
                )
            )
            await service.add_queue(QueueConfig("q"))
            services[name] = service
        contacts = [Contact(f"c{i}", "chat", "q", attributes=attributes) for i in range(number)]
        for _ in range(rounds):
            for name, service in services.items():
                if name == "twice":
                    service.router._vouch = lambda contact, rules: False  # type: ignore[method-assign]
                try:
                    start = time.perf_counter()
                    for contact in contacts:
                        service._call(Submit(contact))
                        service._call(Abandon(contact.id))
                    found[name].append((time.perf_counter() - start) / number * 1e6)
                finally:
                    vars(service.router).pop("_vouch", None)
                await service.flush()
    return {name: statistics.median(times) for name, times in found.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    rounds, number = args.rounds, args.number
    masking = Masking()
    bare = Contact("c", "chat", "q")
    typical = Contact("c", "chat", "q", attributes=TYPICAL)
    raw = Contact("c", "chat", "q", attributes=SENSITIVE)
    masked = masking.contact(raw)
    print(f"Masking.contact, us per call (median of {rounds} rounds of {number})")
    for name, contact in (
        ("no attributes", bare),
        ("typical (5 flat attributes, nothing to mask)", typical),
        ("a card and an SSN, nested (masked: a new contact)", raw),
        ("the same, masked already", masked),
    ):
        print(f"  {name:52} {median_us(lambda c=contact: masking.contact(c), rounds, number):8.2f}")
    print("Masking.fields_of (the service, every call)")
    for name, command in (("Accept", Accept("c", "a")), ("Submit, typical", Submit(typical))):
        print(
            f"  {name:52} {median_us(lambda c=command: masking.fields_of(c), rounds, number):8.2f}"
        )
    print("Router.submit + abandon, typical contact: masking on / off, rounds interleaved")
    on = router_submit(masking, TYPICAL)
    off = router_submit(Masking(enabled=False), TYPICAL)
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for name, fn in (("on", on), ("off", off)):
            times[name].append(timeit.timeit(fn, number=number) / number * 1e6)
    on_us, off_us = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"  on {on_us:.2f} us, off {off_us:.2f} us: masking adds {on_us - off_us:.2f} us")
    logging.getLogger("ccroute.service").setLevel(logging.ERROR)  # "no plugin delivers offers"
    pairs = max(number // 10, 100)
    print(f"Service submit + abandon, CPU us per pair ({pairs} pairs a round)")
    print("  (twice: as before the router trusted the service's masking, Router._vouch refused)")
    for label, attributes in (
        ("typical contact", TYPICAL),
        ("card and SSN", SENSITIVE),
        ("no attributes", {}),
    ):
        found: dict[str, list[float]] = {"on": [], "twice": [], "off": []}
        for _ in range(rounds):
            for name, rules in (
                ("on", masking),
                ("twice", masking),
                ("off", Masking(enabled=False)),
            ):
                found[name].append(
                    anyio.run(
                        functools.partial(
                            service_pairs, rules, attributes, pairs, vouch=name != "twice"
                        )
                    )
                )
        on_us, twice_us, off_us = (statistics.median(found[k]) for k in ("on", "twice", "off"))
        print(
            f"  {label}: on {on_us:.1f} us, masked twice {twice_us:.1f} us, off {off_us:.1f} us:"
            f" masking adds {on_us - off_us:.1f} us (twice: {twice_us - off_us:.1f} us)"
        )
    settings = {"on": masking, "twice": masking, "off": Masking(enabled=False)}
    print(
        f"Service._call(Submit) + _call(Abandon): masking, encoding and the router's call, "
        f"us per pair ({pairs} pairs a round)"
    )
    for label, attributes in (
        ("typical contact", TYPICAL),
        ("card and SSN", SENSITIVE),
        ("no attributes", {}),
    ):
        got = anyio.run(service_calls, settings, attributes, rounds, pairs)
        print(
            f"  {label}: on {got['on']:.1f} us, masked twice {got['twice']:.1f} us, "
            f"off {got['off']:.1f} us: the second masking cost {got['twice'] - got['on']:.1f} us "
            f"({(got['twice'] - got['on']) / got['twice']:.0%})"
        )
    reference = median_us(lambda: sum(range(1000)), rounds, 2000)
    print(f"CPU reference, sum(range(1000)): {reference:.2f} us")


if __name__ == "__main__":
    main()
