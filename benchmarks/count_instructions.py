"""One workload run to the end, for an instruction count under callgrind.

    valgrind --tool=callgrind python benchmarks/count_instructions.py sim N
    valgrind --tool=callgrind python benchmarks/count_instructions.py router N

``sim`` runs ccroute's simulator on compare_simulators.py's M/M/50 model for
about N contacts (seed 1); ``router`` drives compare_queue.py's router
workload (1,000 agents, 20 skills, 3 channels, compiled queue) for N
contacts. Nothing is timed: on a shared machine wall-clock A/B comparisons
swing by more than a small change, while the instructions a run executes do
not. Run two sizes and take the difference over the difference in contacts,
which cancels start-up and imports: instructions per contact.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import compare_queue
import compare_simulators

from ccroute import Presence


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("sim", "router") or not argv[1].isdigit():
        sys.stderr.write(__doc__ or "")
        return 2
    workload, contacts = argv[0], int(argv[1])
    if workload == "sim":
        compare_simulators.run_ccroute(contacts, 1)
    else:
        load = compare_queue.make_router_workload(contacts, 1)
        queue = compare_queue.QUEUE_CLASSES[compare_queue.COMPILED]
        router, clock = compare_queue.build_router(queue, 1, Presence.AVAILABLE)
        compare_queue.drive(router, clock, load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
