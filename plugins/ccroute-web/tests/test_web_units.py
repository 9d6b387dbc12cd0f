"""The small parts on their own: periods and their baselines across a restart,
outboxes, the hash-secret command."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import anyio
import pytest
from ccroute import ManualClock
from hypothesis import given
from hypothesis import strategies as st
from web_testing import TOKEN, centre, eventually

from ccroute_web import verify_secret
from ccroute_web.__main__ import main
from ccroute_web._board import period_start
from ccroute_web._outbox import Outbox
from ccroute_web.testing import WebClient

DAY = 86_400.0


@given(
    now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    minutes=st.sampled_from([1, 5, 15, 30, 60, 1440]),
    offset=st.integers(min_value=-720, max_value=840),
)
def test_a_period_holds_its_time_and_starts_on_a_local_boundary(
    now: float, minutes: int, offset: int
) -> None:
    start = period_start(now, minutes, offset)
    assert start <= now < start + minutes * 60
    assert (start + offset * 60) % (minutes * 60) == pytest.approx(0, abs=1e-3)
    assert period_start(start, minutes, offset) == start  # its own start is in it


def test_an_outbox_keeps_its_bound_and_tells_once_when_it_overflows() -> None:
    box = Outbox(2)
    told: list[int] = []
    box.on_overflow = lambda: told.append(1)
    assert box.put("a") and box.put("b")
    assert box.pending == 2
    assert not box.put("c")
    assert box.overflowed and told == [1]
    assert not box.put("d")  # closed: refused, no second call
    assert told == [1]


def test_the_hash_secret_command_prints_a_hash_of_the_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("hunter2\n"))
    assert main(["hash-secret", "--stdin"]) == 0
    printed = capsys.readouterr().out.strip()
    assert verify_secret("hunter2", printed) and "hunter2" not in printed
    assert main(["something-else"]) == 2


@pytest.mark.anyio
async def test_the_interval_starts_afresh_at_its_boundary_and_the_day_goes_on() -> None:
    clock = ManualClock(start=1_800_000_000.0 - 60)  # a minute before a 15-minute boundary
    async with centre(
        service_options={"clock": clock}, wallboard_every=0.05, interval_minutes=15
    ) as (service, web):
        client = WebClient(web.app)

        async def submit() -> None:
            r = await client.post(
                "/api/contacts", {"channel": "task", "queue": "support"}, auth=("crm", TOKEN)
            )
            assert r.status_code == 202

        await submit()
        await submit()
        clock.advance(120)  # past the boundary
        await service.tick()
        await eventually(lambda: web.periods.interval.start == 1_800_000_000.0)
        await submit()
        await eventually(lambda: service.metrics.report(service.router.now).total.offered == 3)
        sam = WebClient(web.app)
        from web_testing import PASSWORD

        await sam.login("sam", PASSWORD)
        board = (await sam.get("/api/wallboard")).json()
        queue = board["queues"][0]
        assert queue["interval"]["offered"] == 1 and queue["interval"]["start"] == 1_800_000_000.0
        assert queue["today"]["offered"] == 3
        assert queue["waiting"] == 3
        await anyio.sleep(0)


async def _offered_today(web: object, service: object) -> tuple[int, int]:
    from web_testing import PASSWORD

    sam = WebClient(web.app)  # type: ignore[attr-defined]
    await sam.login("sam", PASSWORD)
    queue = (await sam.get("/api/wallboard")).json()["queues"][0]
    return queue["today"]["offered"], queue["interval"]["offered"]


@pytest.mark.anyio
async def test_a_restart_within_the_day_keeps_todays_figures(tmp_path: Path) -> None:
    # Both runs in the same day and the same 15-minute interval: "today" and
    # "this interval" go on from where they were, not from zero.
    clock = ManualClock(start=1_800_000_000.0 + 60)
    options = {"clock": clock, "path": tmp_path / "centre.db"}
    async with centre(service_options=options, interval_minutes=15) as (service, web):
        client = WebClient(web.app)
        for _ in range(2):
            r = await client.post(
                "/api/contacts", {"channel": "task", "queue": "support"}, auth=("crm", TOKEN)
            )
            assert r.status_code == 202
        await eventually(lambda: service.metrics.report(service.router.now).total.offered == 2)
        assert await _offered_today(web, service) == (2, 2)
    assert (tmp_path / "centre-wallboard.json").exists()
    clock.advance(60)
    async with centre(service_options=options, interval_minutes=15) as (service, web):
        assert await _offered_today(web, service) == (2, 2)


@pytest.mark.anyio
async def test_a_damaged_baselines_file_is_ignored_and_the_day_counts_from_the_start(
    tmp_path: Path,
) -> None:
    clock = ManualClock(start=1_800_000_000.0 + 60)
    options = {"clock": clock, "path": tmp_path / "centre.db"}
    async with centre(service_options=options) as (service, web):
        r = await WebClient(web.app).post(
            "/api/contacts", {"channel": "task", "queue": "support"}, auth=("crm", TOKEN)
        )
        assert r.status_code == 202
        await eventually(lambda: service.metrics.report(service.router.now).total.offered == 1)
    (tmp_path / "centre-wallboard.json").write_text('{"format": 1, "day": [1, 2, {"x": 1}]}')
    async with centre(service_options=options) as (service, web):
        # counted from the restart (what the file cannot vouch for is not trusted)
        assert await _offered_today(web, service) == (0, 0)
