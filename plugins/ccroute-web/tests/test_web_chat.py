"""The customer's WebSocket: a chat becomes a contact, waits with its place in
line, talks with the agent, resumes within the grace period, abandons."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from ccroute.errors import UnknownIdError
from web_testing import centre, eventually, login

from ccroute_web.testing import SocketClosed, WebClient

pytestmark = pytest.mark.anyio


def _contact_state(service: Any, contact_id: str) -> str | None:
    try:
        return str(service.router.contact(contact_id).state.value)
    except UnknownIdError:
        return None


def _abandoned(service: Any) -> int:
    return int(service.metrics.report(service.router.now).total.abandoned)


async def test_a_chat_waits_with_its_position_and_estimate_then_talks_with_the_agent() -> None:
    async with centre(service_options={"wait_update_every": 0.05}) as (service, web):
        customer = WebClient(web.app)
        async with customer.socket("/ws/chat") as ws:
            welcome = await ws.receive_json()
            assert welcome["type"] == "welcome" and welcome["state"] == "new"
            assert welcome["transcript"] == []
            chat_id = welcome["conversation"]
            await ws.send_json({"type": "message", "text": "my order is late", "name": "Dana"})
            echo = await ws.receive_until("message")
            assert echo["message"]["text"] == "my order is late"
            assert echo["message"]["from"] == "customer"
            queued = await ws.receive_until("queued")
            assert queued["position"] == 1
            assert service.router.contact(chat_id).state.value == "waiting"
            # the position comes again while it waits (Service(wait_update_every=...))
            again = await ws.receive_until("queued")
            assert again["position"] == 1

            agent = await login(web, "alice")
            await agent.post("/api/agent/presence", {"presence": "available"})
            offers = (await agent.get("/api/agent/offers")).json()
            assert [o["contact_id"] for o in offers] == [chat_id]
            assert offers[0]["transcript"][0]["text"] == "my order is late"
            assert offers[0]["attributes"]["name"] == "Dana"
            accepted = await agent.post(f"/api/agent/offers/{chat_id}/accept")
            assert accepted.status_code == 200
            assert (await ws.receive_until("answered"))["agent"] == "Alice"

            sent = await agent.post(f"/api/agent/contacts/{chat_id}/messages", {"text": "Hi Dana"})
            assert sent.status_code == 201
            heard = await ws.receive_until("message")
            assert heard["message"]["text"] == "Hi Dana" and heard["message"]["agent"] == "Alice"
            await ws.send_json({"type": "message", "text": "thanks!"})
            await ws.receive_until("message")  # the echo
            await eventually(lambda: len(web.chats.get(chat_id).transcript) == 3)  # type: ignore[union-attr]
            held = (await agent.get(f"/api/agent/contacts/{chat_id}")).json()
            assert [m["text"] for m in held["transcript"]] == [
                "my order is late",
                "Hi Dana",
                "thanks!",
            ]

            done = await agent.post(
                f"/api/agent/contacts/{chat_id}/complete", {"disposition": "resolved"}
            )
            assert done.json()["state"] == "wrap-up"
            assert (await ws.receive_until("closed"))["reason"] == "completed"
            with pytest.raises(SocketClosed):
                await ws.receive_json()
            await agent.http.aclose()


async def test_a_customer_who_comes_back_within_the_grace_period_resumes_the_same_chat() -> None:
    async with centre(resume_grace=5.0) as (service, web):
        customer = WebClient(web.app)
        async with customer.socket("/ws/chat") as ws:
            welcome = await ws.receive_json()
            await ws.send_json({"type": "message", "text": "first"})
            await ws.receive_until("queued")
        # the page was closed: still waiting during the grace period
        await anyio.sleep(0.1)
        assert _contact_state(service, welcome["conversation"]) == "waiting"
        async with customer.socket(f"/ws/chat?resume={welcome['resume']}") as ws:
            back = await ws.receive_json()
            assert back["type"] == "welcome"
            assert back["conversation"] == welcome["conversation"]
            assert back["state"] == "queued"
            assert [m["text"] for m in back["transcript"]] == ["first"]
            await ws.send_json({"type": "message", "text": "still here"})
            assert (await ws.receive_until("message"))["message"]["seq"] == 2
        assert service.metrics.report(service.router.now).total.abandoned == 0


async def test_a_customer_who_does_not_come_back_abandons_after_the_grace_period() -> None:
    async with centre(resume_grace=0.2) as (service, web):
        customer = WebClient(web.app)
        async with customer.socket("/ws/chat") as ws:
            welcome = await ws.receive_json()
            await ws.send_json({"type": "message", "text": "hello"})
            await ws.receive_until("queued")
        chat_id = welcome["conversation"]
        await eventually(lambda: _contact_state(service, chat_id) is None)
        await eventually(lambda: _abandoned(service) == 1)
        # the token no longer opens anything
        with pytest.raises(SocketClosed) as closed:
            async with customer.socket(f"/ws/chat?resume={welcome['resume']}") as ws:
                error = await ws.receive_json()
                assert error == {
                    "type": "error",
                    "error": "this conversation cannot be resumed",
                    "field": "resume",
                }
                await ws.receive_json()
        assert closed.value.code == 4404


async def test_leaving_abandons_at_once_and_tells_the_customer() -> None:
    async with (
        centre(resume_grace=30.0) as (service, web),
        WebClient(web.app).socket("/ws/chat") as ws,
    ):
        welcome = await ws.receive_json()
        await ws.send_json({"type": "message", "text": "hello"})
        await ws.receive_until("queued")
        await ws.send_json({"type": "leave"})
        assert (await ws.receive_until("closed"))["reason"] == "abandoned"
        with pytest.raises(SocketClosed):
            await ws.receive_json()
        assert _contact_state(service, welcome["conversation"]) is None
        await eventually(lambda: _abandoned(service) == 1)
        await eventually(lambda: len(web.chats) == 0)  # forgotten once the socket closed


async def test_a_socket_sees_only_its_own_conversation() -> None:
    async with centre() as (_service, web):
        one, two = WebClient(web.app), WebClient(web.app)
        async with one.socket("/ws/chat") as a, two.socket("/ws/chat") as b:
            wa, wb = await a.receive_json(), await b.receive_json()
            assert wa["conversation"] != wb["conversation"]
            assert wa["resume"] != wb["resume"]
            await a.send_json({"type": "message", "text": "secret of a"})
            await a.receive_until("queued")
            await b.send_json({"type": "message", "text": "b here"})
            frames = [await b.receive_json(), await b.receive_json()]
            assert all("secret of a" not in str(f) for f in frames)
            assert frames[1] == {"type": "queued", "position": 2, "estimated_wait": None}


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("not json", "not a valid message"),
        ('{"type": "shout", "text": "x"}', "not a valid message"),
        ('{"type": "message", "text": "   "}', "text must not be blank"),
        ('{"type": "message", "text": "' + "x" * 101 + '"}', "text must be at most 100 characters"),
        ('{"type": "message", "text": "x", "admin": true}', "unknown field `admin`"),
    ],
)
async def test_bad_frames_are_refused_and_change_nothing(frame: str, error: str) -> None:
    async with (
        centre(max_message_chars=100) as (service, web),
        WebClient(web.app).socket("/ws/chat") as ws,
    ):
        welcome = await ws.receive_json()
        await ws.send_text(frame)
        refusal = await ws.receive_json()
        assert refusal["type"] == "error" and error in refusal["error"]
        assert service.router.contact_ids == []
        assert web.chats.get(welcome["conversation"]).state == "new"  # type: ignore[union-attr]


async def test_a_frame_over_the_size_limit_is_refused() -> None:
    async with (
        centre(max_frame_bytes=512) as (service, web),
        WebClient(web.app).socket("/ws/chat") as ws,
    ):
        await ws.receive_json()
        await ws.send_text('{"type": "message", "text": "' + "x" * 600 + '"}')
        refusal = await ws.receive_json()
        assert refusal["type"] == "error" and "at most 512 bytes" in refusal["error"]
        assert service.router.contact_ids == []


async def test_the_agent_sees_the_customer_leave_an_answered_chat() -> None:
    async with centre(resume_grace=0.1) as (service, web):
        agent = await login(web, "alice")
        await agent.post("/api/agent/presence", {"presence": "available"})
        async with agent.socket("/ws/agent") as desk:
            async with WebClient(web.app).socket("/ws/chat") as ws:
                chat_id = (await ws.receive_json())["conversation"]
                await ws.send_json({"type": "message", "text": "hello"})
                offer = await desk.receive_until("offer")
                assert offer["offer"]["contact_id"] == chat_id
                await agent.post(f"/api/agent/offers/{chat_id}/accept")
                await ws.receive_until("answered")
            gone = await desk.receive_until("customer")
            assert gone == {"type": "customer", "contact_id": chat_id, "connected": False}
            # answered: nothing to abandon; the agent completes it
            await anyio.sleep(0.2)
            assert _contact_state(service, chat_id) == "in-service"
            held = (await agent.get(f"/api/agent/contacts/{chat_id}")).json()
            assert held["customer_connected"] is False
            done = await agent.post(f"/api/agent/contacts/{chat_id}/complete", {})
            assert done.status_code == 200
        await agent.http.aclose()


async def test_a_chatbot_flow_prompts_the_customer_before_the_queue(tmp_path: Any) -> None:
    flow = tmp_path / "bot.toml"
    flow.write_text(
        """
name = "bot"
start = "ask"
time_limit = 60

[fallback]
queue = "support"

[nodes.ask]
kind = "menu"
prompt = "Sales (1) or support (2)?"
options = [{ digit = "1", next = "to_support" }, { digit = "2", next = "to_support" }]

[nodes.to_support]
kind = "transfer"
queue = "support"
message = "Connecting you."
"""
    )
    async with (
        centre(flow=str(flow)) as (service, web),
        WebClient(web.app).socket("/ws/chat") as ws,
    ):
        chat_id = (await ws.receive_json())["conversation"]
        await ws.send_json({"type": "message", "text": "hi"})
        prompt = await ws.receive_until("prompt")
        assert prompt["text"] == "Sales (1) or support (2)?"
        assert prompt["choices"] == ["1", "2"]
        assert _contact_state(service, chat_id) is None  # not routed yet: in the flow
        await ws.send_json({"type": "message", "text": "2"})
        queued = await ws.receive_until("queued")
        assert queued["position"] == 1
        assert _contact_state(service, chat_id) == "waiting"


async def test_what_the_customer_writes_while_the_offer_rings_reaches_the_agent() -> None:
    async with centre() as (service, web):
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        async with alice.socket("/ws/agent") as desk, WebClient(web.app).socket("/ws/chat") as ws:
            chat_id = (await ws.receive_json())["conversation"]
            await ws.send_json({"type": "message", "text": "hello"})
            await desk.receive_until("offer")
            await ws.send_json({"type": "message", "text": "are you there?"})
            pushed = await desk.receive_until("message")
            assert pushed["contact_id"] == chat_id
            assert pushed["message"]["text"] == "are you there?"
            assert service.router.contact(chat_id).state.value == "offered"


async def test_chats_waiting_from_before_a_restart_abandon_after_the_grace_period(
    tmp_path: Any,
) -> None:
    from ccroute import Agent, QueueConfig, Service

    from ccroute_web import WebChannel

    path = tmp_path / "centre.db"
    web = WebChannel(chat_queue="support")
    async with Service(path=path, plugins=[web], load_entrypoints=False, sync="OFF") as service:
        await service.add_queue(QueueConfig("support"))
        await service.add_agent(Agent("alice", queues=("support",)))
        async with WebClient(web.app).socket("/ws/chat") as ws:
            chat_id = (await ws.receive_json())["conversation"]
            await ws.send_json({"type": "message", "text": "hello"})
            await ws.receive_until("queued")
    web = WebChannel(chat_queue="support", resume_grace=0.1)
    async with Service(path=path, plugins=[web], load_entrypoints=False, sync="OFF") as service:
        assert service.router.contact(chat_id).state.value == "waiting"
        await eventually(lambda: _contact_state(service, chat_id) is None)
        await eventually(lambda: _abandoned(service) == 1)


async def test_chats_a_crash_left_in_the_chat_flow_abandon_after_the_grace_period(
    tmp_path: Any,
) -> None:
    from ccroute import Contact, FlowStarted, QueueConfig, Service

    from ccroute_web import WebChannel

    path = tmp_path / "centre.db"
    service = Service(path=path, load_entrypoints=False, sync="OFF")
    await service.start()
    try:
        await service.add_queue(QueueConfig("support"))
        # A web chat in the chat flow when the service died: its progress note is all that is left.
        chat = Contact("web-lost", "chat", "support")
        await service.note_flow(FlowStarted(0.0, chat.id, "chatbot", chat))
    finally:
        await service.halt()
    web = WebChannel(chat_queue="support", resume_grace=0.1)
    async with Service(path=path, plugins=[web], load_entrypoints=False, sync="OFF") as service:
        # routed at start, as every caller a crash left in a flow ...
        assert service.flows.recovered == {"web-lost": "fallback"}
        # ... but its customer is gone with the conversation: it leaves after the grace period
        await eventually(lambda: _contact_state(service, "web-lost") is None)
        await eventually(lambda: _abandoned(service) == 1)


async def test_card_numbers_in_the_chat_are_masked_everywhere_they_are_kept_or_shown() -> None:
    card = "4111 1111 1111 1111"
    async with centre() as (_service, web):
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        async with alice.socket("/ws/agent") as desk, WebClient(web.app).socket("/ws/chat") as ws:
            chat_id = (await ws.receive_json())["conversation"]
            await ws.send_json({"type": "message", "text": f"I paid with {card}.", "name": "Dana"})
            echo = await ws.receive_until("message")
            assert card not in str(echo) and "1111" in echo["message"]["text"]  # last digits kept
            offer = await desk.receive_until("offer")
            assert offer["offer"]["customer_name"] == "Dana"
            assert card not in str(offer)
            await ws.send_json({"type": "message", "text": f"again: {card}"})
            pushed = await desk.receive_until("message")
            assert card not in str(pushed)
            await alice.post(f"/api/agent/offers/{chat_id}/accept")
            sent = await alice.post(
                f"/api/agent/contacts/{chat_id}/messages", {"text": f"you typed {card}?"}
            )
            assert card not in sent.text
            held = await alice.get(f"/api/agent/contacts/{chat_id}")
            assert card not in held.text and len(held.json()["transcript"]) == 3
            assert all(card not in m.text for m in web.chats.get(chat_id).transcript)  # type: ignore[union-attr]
