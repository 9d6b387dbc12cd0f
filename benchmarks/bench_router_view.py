"""What a read through the service's read-only router costs (docs/service.md, "Isolation").

    .venv/bin/python benchmarks/bench_router_view.py [--number N]

Times, with :mod:`timeit` (best of 7 repeats of ``--number`` calls, default
200,000), the reads a channel adapter makes on every offer delivery and
every wallboard refresh: ``contact(id)`` and ``now``, on a small router
(one queue, one agent, one waiting contact) four ways:

- the :class:`~ccroute.Router` itself;
- :class:`~ccroute.router_view.ReadOnlyRouter` (the router's bound methods,
  set once; ``now`` a property);
- a class whose methods call the router's (one more Python call per read);
- a ``__getattr__`` forwarder (an attribute lookup that fails, then a
  ``getattr``, per read).

Prints nanoseconds per read.
"""

from __future__ import annotations

import argparse
import timeit
from typing import Any

from ccroute import Agent, Contact, Presence, QueueConfig, Router
from ccroute.router_view import ReadOnlyRouter


class _Delegating:
    def __init__(self, router: Router) -> None:
        self._router = router

    def contact(self, contact_id: str) -> Any:
        return self._router.contact(contact_id)

    @property
    def now(self) -> float:
        return self._router.now


class _Forwarding:
    def __init__(self, router: Router) -> None:
        self._router = router

    def __getattr__(self, name: str) -> Any:
        return getattr(self._router, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per repeat")
    args = parser.parse_args()
    router = Router()
    router.add_queue(QueueConfig("q"))
    router.add_agent(Agent("ann", queues=["q"]), Presence.NOT_READY)
    router.submit(Contact("c1", "voice", "q"))
    readers = {
        "Router": router,
        "ReadOnlyRouter": ReadOnlyRouter(router),
        "delegating methods": _Delegating(router),
        "__getattr__": _Forwarding(router),
    }
    print(f"{'reader':<20} {'contact(id) ns':>15} {'now ns':>8}")
    for name, reader in readers.items():
        figures = []
        for statement in ("reader.contact('c1')", "reader.now"):
            best = min(
                timeit.repeat(statement, globals={"reader": reader}, number=args.number, repeat=7)
            )
            figures.append(best / args.number * 1e9)
        print(f"{name:<20} {figures[0]:>15.0f} {figures[1]:>8.0f}")


if __name__ == "__main__":
    main()
