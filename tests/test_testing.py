"""ccroute.testing: the public helpers for testing code that embeds ccroute.

Most of its use is in the rest of the suite; here, what the module promises
about itself: it is documented and typed, imports no test framework, is not
loaded by ``import ccroute``, and its checks catch what they are meant to.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import typing

import pytest

from ccroute import Event, Offered, Presence, QueueConfig, Queued, testing
from ccroute.testing import (
    RouterHarness,
    assert_work_conserving,
    check_queue,
    of_type,
    offers,
    queue_entries,
    snapshot,
    watch_offers,
)

pytestmark = pytest.mark.usefixtures("queue_factory")


def run(script: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_import_ccroute_does_not_load_it_and_it_loads_no_test_framework() -> None:
    loaded = run(
        "import sys, ccroute\n"
        "before = 'ccroute.testing' in sys.modules\n"
        "import ccroute.testing\n"
        "print(before, sorted(m for m in ('pytest', 'hypothesis', 'unittest') if m in sys.modules))"
    )
    assert loaded == "False []"


def test_every_public_name_is_documented_and_typed() -> None:
    for name in testing.__all__:
        obj = getattr(testing, name)
        assert inspect.getdoc(obj), name
        if inspect.isfunction(obj):
            hints = typing.get_type_hints(obj)
            assert "return" in hints, name
            assert set(inspect.signature(obj).parameters) <= set(hints), name
    for name, member in vars(RouterHarness).items():
        if not name.startswith("_"):
            assert inspect.getdoc(member), name


def test_the_harness_records_every_event_and_offers_reads_them() -> None:
    h = RouterHarness()
    assert of_type(h.queue("q"), Event) == []
    h.agent("ann", queues={"q"})
    h.agent("bob", Presence.NOT_READY, queues={"q"})
    first = h.submit("c1")
    assert offers(first) == [("c1", "ann")]
    assert [e.contact_id for e in of_type(first, Queued)] == ["c1"]
    h.submit("c2")
    assert h.offers() == [("c1", "ann")]
    assert h.advance(5) == []
    assert h.router.now == 5.0
    h.router.set_presence("bob", Presence.AVAILABLE)
    assert h.offers() == [("c1", "ann"), ("c2", "bob")]
    assert len(of_type(h.events, Offered)) == 2
    assert_work_conserving(h.router)
    check_queue(h.router)


def test_snapshot_changes_when_anything_observable_does() -> None:
    h = RouterHarness()
    h.queue("q")
    before = snapshot(h.router)
    assert snapshot(h.router) == before
    h.submit("c1")
    assert snapshot(h.router) != before
    after = snapshot(h.router)
    h.advance(1)
    assert snapshot(h.router) != after


def test_assert_work_conserving_sees_an_agent_left_idle() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ann", queues={"q"})
    h.router.add_queue(QueueConfig("p"))
    h.submit("c1")
    assert_work_conserving(h.router)
    # An explanation listing an eligible agent is what the check refuses.
    explain = h.router.explain

    class Eligible:
        def __init__(self, contact_id: str) -> None:
            self.eligible = (*explain(contact_id).eligible, "ann")

    h.router.explain = Eligible  # type: ignore[assignment,method-assign]
    with pytest.raises(AssertionError, match="c1"):
        assert_work_conserving(h.router)


def test_queue_entries_follow_the_waiting_contacts() -> None:
    h = RouterHarness()
    h.queue("q")
    assert queue_entries(h.router) == []
    h.submit("c1")
    h.submit("c2", priority_seconds=60)
    entries = queue_entries(h.router)
    assert [key for key, _handle in entries] == sorted(
        h.router.contact(c).key for c in ("c1", "c2")
    )
    h.agent("ann", queues={"q"})
    assert len(queue_entries(h.router)) == 1
    check_queue(h.router)


def test_watch_offers_sees_each_offer_before_it_is_made_until_stopped() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ann", queues={"q"}, capacity={"voice": 2})
    seen: list[tuple[str, str, float, int, bool]] = []

    def watcher(
        contact_id: str,
        agent_id: str,
        now: float,
        events: list[Event],
        reason: object,
        extra: bool,
    ) -> None:
        # Not offered yet: the contact still waits.
        assert h.router.contact(contact_id).agent_id is None
        seen.append((contact_id, agent_id, now, len(offers(events)), extra))

    stop = watch_offers(h.router, watcher)
    h.submit("c1")
    h.advance(2)
    h.submit("c2")
    stop()
    stop()  # twice is harmless
    h.agent("bob", queues={"q"})
    h.submit("c3")
    assert seen == [("c1", "ann", 0.0, 0, False), ("c2", "ann", 2.0, 0, False)]
    assert h.offers() == [("c1", "ann"), ("c2", "ann"), ("c3", "bob")]


def test_a_failing_watcher_fails_the_call() -> None:
    h = RouterHarness()
    h.queue("q")
    h.agent("ann", queues={"q"})

    def refuse(*args: object) -> None:
        raise AssertionError("no offers today")

    watch_offers(h.router, refuse)
    with pytest.raises(AssertionError, match="no offers today"):
        h.submit("c1")
