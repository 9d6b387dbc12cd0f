"""The server on loopback (uvicorn on asyncio, hypercorn on trio), the entry-point
plugin that listens only when enabled, and slow browsers that cannot hold anything up."""

from __future__ import annotations

import base64
import importlib.metadata
import json
import os
import socket
from typing import Any

import anyio
import httpx
import pytest
from ccroute import Service
from web_testing import USERS, centre, eventually

import ccroute_web.plugin
from ccroute_web import WebChannel, WebError
from ccroute_web.testing import WebClient

pytestmark = pytest.mark.anyio


async def _first_frame(port: int, path: str) -> dict[str, Any]:
    """Open a WebSocket by hand (any backend) and read the server's first text frame."""
    key = base64.b64encode(os.urandom(16)).decode()
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        data = b""
        with anyio.fail_after(5):
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            head, _, data = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101"), head
            while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F) + (
                2 if data[1] & 0x7F == 126 else 0
            ):
                data += await stream.receive()
        length = data[1] & 0x7F
        start = 2
        if length == 126:
            length, start = int.from_bytes(data[2:4], "big"), 4
        while len(data) < start + length:
            data += await stream.receive()
        assert data[0] & 0x0F == 1  # a text frame
        return dict(json.loads(data[start : start + length]))


async def test_the_server_serves_pages_api_and_sockets_on_loopback() -> None:
    async with centre(enabled=True, port=0) as (_service, web):
        port = web.port
        assert port is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).json()["running"] is True
            for page in ("/widget", "/desktop", "/wallboard"):
                r = await http.get(page)
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            assert (
                "frame-ancestors 'none'"
                in (await http.get("/desktop")).headers["content-security-policy"]
            )
            assert (await http.get("/api/agent")).status_code == 401
        welcome = await _first_frame(port, "/ws/chat")
        assert welcome["type"] == "welcome" and welcome["state"] == "new"
    # stopped with the service: the port is free again
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


async def test_a_port_in_use_is_an_error_of_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        web = WebChannel(enabled=True, port=port)
        async with Service(plugins=[web], load_entrypoints=False, sync="OFF") as service:
            failures = [k for k in service.hook_failures if k[0] == "ccroute_start_channel"]
            assert failures and web.port is None


def test_the_entry_point_is_the_plugin_module() -> None:
    try:
        [entry] = [
            ep for ep in importlib.metadata.entry_points(group="ccroute") if ep.name == "web"
        ]
    except ValueError:
        pytest.fail("ccroute-web is not installed: pip install -e plugins/ccroute-web[test]")
    assert entry.value == "ccroute_web.plugin"
    assert entry.load() is ccroute_web.plugin


async def test_the_default_plugin_listens_only_when_enabled() -> None:
    plugin = ccroute_web.plugin
    async with Service(plugins=[plugin], load_entrypoints=False, sync="OFF"):
        assert plugin.channel.service is None and plugin.channel.port is None
    settings = {"web": {"enabled": True, "port": 0, "users": dict(USERS)}}
    async with Service(
        plugins=[plugin], load_entrypoints=False, sync="OFF", settings=settings
    ) as service:
        assert plugin.channel.service is service and plugin.channel.port is not None
        r = await WebClient(plugin.channel.app).get("/healthz")
        assert r.json()["running"] is True
    assert plugin.channel.service is None and plugin.channel.port is None


def test_bad_web_settings_name_the_setting() -> None:
    with pytest.raises(WebError, match="resume_grace"):
        ccroute_web.plugin.enabled_by({"web": {"enabled": True, "resume_grace": -1}})
    assert not ccroute_web.plugin.enabled_by({})
    assert not ccroute_web.plugin.enabled_by({"web": {"port": 1234}})


async def test_a_browser_that_does_not_read_is_dropped_and_the_service_goes_on() -> None:
    async with centre(send_queue=4, resume_grace=30.0) as (service, web):
        customer = WebClient(web.app)
        async with customer.socket("/ws/chat", buffer=0) as ws:
            await ws.receive_json()
            # the customer stops reading: its outbox fills with echoes and it is dropped
            for i in range(10):
                await ws.send_json({"type": "message", "text": f"m{i}"})
            await eventually(lambda: web.dropped == 1)
            chat_id = next(iter(web.chats)).id
            assert not web.chats.get(chat_id).connected  # type: ignore[union-attr]
        # the contact is still there (the grace period runs) and the service answers
        assert service.router.contact(chat_id).state.value == "waiting"
        other = WebClient(web.app)
        async with other.socket("/ws/chat") as ws2:
            assert (await ws2.receive_json())["type"] == "welcome"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the websockets library is asyncio-only
async def test_the_protocol_client_drives_a_whole_chat_over_real_sockets() -> None:
    from web_testing import PASSWORD

    from ccroute_web.client import Agent, ApiRefused, Customer, Supervisor

    async with centre(enabled=True, port=0, wallboard_every=0.05) as (_service, web):
        base = f"http://127.0.0.1:{web.port}"
        async with (
            Agent(base, "alice", PASSWORD) as alice,
            Supervisor(base, "sam", PASSWORD) as sam,
            Customer(base) as customer,
        ):
            await alice.open_live()
            await alice.set_presence("not-ready", "briefing")
            assert (await alice.receive())["type"] == "state"  # any frame, in order
            board = await sam.open_live()
            assert board["queues"][0]["today"]["offered"] == 0
            await alice.set_presence("available")
            await customer.say("hello", name="Dana")
            offer = await alice.next_offer()
            assert offer["contact_id"] == customer.conversation
            with pytest.raises(ApiRefused) as refused:
                await alice.complete(customer.conversation)
            assert refused.value.status == 403
            await alice.accept(customer.conversation)
            assert (await customer.until("answered"))["agent"] == "Alice"
            await alice.send(customer.conversation, "hi Dana")
            heard = (await customer.until("message"))["message"]
            assert (heard["from"], heard["text"], heard["agent"]) == ("agent", "hi Dana", "Alice")
            await customer.say("bye")
            said = await alice.frame("message")
            assert said["message"]["text"] in ("hi Dana", "bye")
            await alice.complete(customer.conversation, "resolved")
            await alice.end_wrap_up(customer.conversation)
            while (board := await sam.next_wallboard())["queues"][0]["today"]["handled"] < 1:
                pass
            assert board["queues"][0]["today"]["answered"] == 1
            assert (await alice.stats())["today"]["handled"] == 1


async def test_a_service_without_metrics_gets_a_clear_error_and_no_web_plugin() -> None:
    web = WebChannel(enabled=True, port=0)
    async with Service(plugins=[web], load_entrypoints=False, sync="OFF", metrics=False) as service:
        assert web.port is None and web.service is None
        assert any(hook == "ccroute_start_channel" for hook, _, _ in service.hook_failures)
