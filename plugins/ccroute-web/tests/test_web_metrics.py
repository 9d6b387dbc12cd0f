"""``/metrics``: Prometheus text that parses and says what the service's metrics say."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_testing import PASSWORD, TOKEN, centre, eventually, login

from ccroute_web.testing import WebClient

pytestmark = pytest.mark.anyio


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def _traffic(service: Any, web: Any) -> None:
    """Two chats: one answered and handled, one abandoned; one task waiting."""
    alice = await login(web, "alice")
    customer = WebClient(web.app)
    async with customer.socket("/ws/chat") as ws, customer.socket("/ws/chat") as ws2:
        chat_id = (await ws.receive_json())["conversation"]
        await ws.send_json({"type": "message", "text": "one"})
        await ws.receive_until("queued")
        await ws2.receive_json()
        await ws2.send_json({"type": "message", "text": "two"})
        await ws2.receive_until("queued")
        await ws2.send_json({"type": "leave"})
        await ws2.receive_until("closed")
        await alice.post("/api/agent/presence", {"presence": "available"})
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        await alice.post(f"/api/agent/contacts/{chat_id}/complete", {"disposition": "resolved"})
        await alice.post(f"/api/agent/contacts/{chat_id}/wrap-up", {})
        await alice.post("/api/agent/presence", {"presence": "not-ready", "reason": "break"})
    await WebClient(web.app).post(
        "/api/contacts", {"channel": "task", "queue": "support"}, auth=("crm", TOKEN)
    )
    await eventually(lambda: service.metrics.report(service.router.now).total.handled == 1)


async def test_the_prometheus_text_parses_and_matches_the_service_metrics() -> None:
    async with centre() as (service, web):
        await _traffic(service, web)
        r = await WebClient(web.app).get("/metrics")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain")
        samples = _samples(r.text)
        report = service.metrics.report(service.router.now)
        for kind, groups in (("queue", report.queues), ("channel", report.channels)):
            for name, stats in groups.items():
                label = ((kind, name),)
                for field in (
                    "offered",
                    "answered",
                    "abandoned",
                    "short_abandons",
                    "handled",
                    "refused",
                ):
                    assert samples[(f"ccroute_{kind}_{field}_total", label)] == getattr(
                        stats, field
                    )
                assert samples[
                    (f"ccroute_{kind}_handle_time_seconds_total", label)
                ] == pytest.approx(stats.total_handle_time)
        support = (("queue", "support"),)
        assert samples[("ccroute_queue_offered_total", support)] == 3
        assert samples[("ccroute_queue_answered_total", support)] == 1
        assert samples[("ccroute_queue_abandoned_total", support)] == 1
        assert samples[("ccroute_queue_waiting", support)] == 1  # the webhook's task
        assert samples[("ccroute_queue_service_level_target", support)] == 0.8
        assert samples[("ccroute_channel_offered_total", (("channel", "chat"),))] == 2
        assert samples[("ccroute_agents", (("status", "not-ready"),))] == 1
        assert samples[("ccroute_agents", (("status", "offline"),))] == 1
        assert 0 < samples[("ccroute_durable_seq", ())] <= service.durable_seq
        assert samples[("ccroute_up", ())] == 1


async def test_hook_and_task_failures_are_exported() -> None:
    from ccroute import hookimpl

    class Broken:
        @hookimpl
        async def ccroute_events(self, events: Any) -> None:
            raise RuntimeError("observer down")

    async with centre(service_options={"plugins_extra": [Broken()]}) as (service, web):
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        await eventually(lambda: sum(service.hook_failures.values()) > 0)
        samples = _samples((await WebClient(web.app).get("/metrics")).text)
        failures = {k: v for k, v in samples.items() if k[0] == "ccroute_hook_failures_total"}
        assert any(dict(labels)["hook"] == "ccroute_events" for _, labels in failures)
        assert sum(failures.values()) == sum(service.hook_failures.values())


async def test_metrics_are_open_to_loopback_and_need_a_login_from_elsewhere() -> None:
    async with centre() as (_service, web):
        remote = WebClient(web.app, client=("203.0.113.9", 40000))
        assert (await remote.get("/metrics")).status_code == 401
        assert (await remote.get("/metrics", auth=("crm", TOKEN))).status_code == 200
        await remote.login("alice", PASSWORD)
        assert (await remote.get("/metrics")).status_code == 403
        sam = WebClient(web.app, client=("203.0.113.9", 40001))
        await sam.login("sam", PASSWORD)
        assert (await sam.get("/metrics")).status_code == 200


async def test_scheduled_callbacks_are_shown_per_queue() -> None:
    from ccroute import Contact

    async with centre() as (service, web):
        at = service.now + 3600
        await service.schedule_callback(Contact("cb-1", "chat", "support"), at)
        samples = _samples((await WebClient(web.app).get("/metrics")).text)
        support = (("queue", "support"),)
        assert samples[("ccroute_queue_scheduled_callbacks", support)] == 1
        assert samples[("ccroute_queue_waiting", support)] == 0
        boards = (await WebClient(web.app).get("/api/queues", auth=("crm", TOKEN))).json()
        board = next(b for b in boards if b["name"] == "support")
        assert (board["scheduled"], board["waiting"]) == (1, 0)
        await service.abandon("cb-1")  # the customer cancels it
        samples = _samples((await WebClient(web.app).get("/metrics")).text)
        assert samples[("ccroute_queue_scheduled_callbacks", support)] == 0
