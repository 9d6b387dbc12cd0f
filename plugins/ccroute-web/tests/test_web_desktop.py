"""The agent desktop's API: presence, offers with their screen pop, several chats
at once, wrap-up, own statistics, and an agent acting only on its own work."""

from __future__ import annotations

from typing import Any

import pytest
from ccroute import Presence, hookimpl
from web_testing import centre, eventually, login

from ccroute_web.testing import AsgiSocket, WebClient

pytestmark = pytest.mark.anyio


def _agent_stats(service: Any, agent_id: str) -> Any:
    return service.metrics.report(service.router.now).agents[agent_id]


class _Crm:
    """A CRM plugin with one customer."""

    @hookimpl
    async def ccroute_crm_lookup(self, customer_id: str) -> dict[str, Any] | None:
        if customer_id == "cust-9":
            return {"tier": "gold", "card": "4111 1111 1111 1111"}
        return None


async def _open_chats(stack: Any, web: Any, n: int) -> list[tuple[AsgiSocket, str]]:
    chats = []
    for i in range(n):
        ws = await stack.enter_async_context(WebClient(web.app).socket("/ws/chat"))
        chat_id = (await ws.receive_json())["conversation"]
        await ws.send_json({"type": "message", "text": f"customer {i}"})
        await ws.receive_until("queued")
        chats.append((ws, chat_id))
    return chats


async def test_presence_with_a_reason_and_the_state_the_desktop_shows() -> None:
    async with centre() as (service, web):
        alice = await login(web, "alice")
        state = (await alice.get("/api/agent")).json()
        assert state["presence"] == "offline" and state["status"] == "offline"
        assert state["name"] == "Alice" and state["capacity"]["chat"] == 2
        r = await alice.post("/api/agent/presence", {"presence": "not-ready", "reason": "lunch"})
        assert r.status_code == 200
        await eventually(lambda: web.reasons.get("alice") == "lunch")
        state = (await alice.get("/api/agent")).json()
        assert (state["presence"], state["reason"]) == ("not-ready", "lunch")
        assert service.router.agent("alice").presence is Presence.NOT_READY


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"presence": "sleeping"}, "presence"),
        ({"presence": "available", "reason": "why"}, "reason"),
        ({"presence": "not-ready", "reason": "x" * 101}, "reason"),
        ({}, "presence"),
        ({"presence": "available", "extra": 1}, "extra"),
    ],
)
async def test_bad_presence_is_refused_naming_the_field(body: Any, field: str) -> None:
    async with centre() as (service, web):
        alice = await login(web, "alice")
        r = await alice.post("/api/agent/presence", body)
        assert r.status_code == 422
        assert r.json()["field"] == field
        assert r.json()["status"] == 422
        assert service.router.agent("alice").presence is Presence.OFFLINE


async def test_an_agent_chats_with_several_customers_up_to_its_capacity() -> None:
    from contextlib import AsyncExitStack

    async with centre(agents={"alice": 2}) as (service, web), AsyncExitStack() as stack:
        chats = await _open_chats(stack, web, 3)
        alice = await login(web, "alice")
        desk = await stack.enter_async_context(alice.socket("/ws/agent"))
        await alice.post("/api/agent/presence", {"presence": "available"})
        offered = {(await desk.receive_until("offer"))["offer"]["contact_id"] for _ in range(2)}
        assert offered == {chats[0][1], chats[1][1]}  # in order of arrival, up to 2
        for chat_id in sorted(offered):
            assert (await alice.post(f"/api/agent/offers/{chat_id}/accept")).status_code == 200
        contacts = (await alice.get("/api/agent/contacts")).json()
        assert {c["contact_id"] for c in contacts} == offered
        assert service.router.contact(chats[2][1]).state.value == "waiting"
        # one message to each: each customer hears only its own
        for _ws, chat_id in chats[:2]:
            await alice.post(f"/api/agent/contacts/{chat_id}/messages", {"text": f"to {chat_id}"})
        for ws, chat_id in chats[:2]:
            heard = await ws.receive_until("message")
            assert heard["message"]["text"] == f"to {chat_id}"
        # finishing one (and its wrap-up) frees capacity: the third customer is offered
        first = chats[0][1]
        await alice.post(f"/api/agent/contacts/{first}/complete", {"disposition": "resolved"})
        assert service.router.contact(chats[2][1]).state.value == "waiting"  # wrap-up holds it
        await alice.post(f"/api/agent/contacts/{first}/wrap-up", {})
        third = await desk.receive_until("offer")
        assert third["offer"]["contact_id"] == chats[2][1]


async def test_an_agent_cannot_act_on_another_agents_offer_or_contact() -> None:
    from contextlib import AsyncExitStack

    async with centre(agents={"alice": 1, "bob": 1}) as (service, web), AsyncExitStack() as stack:
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        alice, bob = await login(web, "alice"), await login(web, "bob")
        await alice.post("/api/agent/presence", {"presence": "available"})
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        for path, body in [
            (f"/api/agent/offers/{chat_id}/accept", {}),
            (f"/api/agent/offers/{chat_id}/reject", {}),
        ]:
            r = await bob.post(path, body)
            assert r.status_code == 403, r.text
            assert "not offered to agent 'bob'" in r.json()["error"]
        assert service.router.contact(chat_id).state.value == "offered"
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        for path, body in [
            (f"/api/agent/contacts/{chat_id}/messages", {"text": "I am not Alice"}),
            (f"/api/agent/contacts/{chat_id}/complete", {}),
            (f"/api/agent/contacts/{chat_id}/wrap-up", {}),
        ]:
            r = await bob.post(path, body)
            assert r.status_code == 403, r.text
        assert (await bob.get(f"/api/agent/contacts/{chat_id}")).status_code == 403
        assert service.router.contact(chat_id).state.value == "in-service"
        assert [m.text for m in web.chats.get(chat_id).transcript] == ["customer 0"]  # type: ignore[union-attr]
        # nothing bob tried reached the log
        await eventually(lambda: _agent_stats(service, "alice").accepted == 1)
        assert _agent_stats(service, "alice").rejected == 0
        assert _agent_stats(service, "bob").offers == 0
        assert (await bob.post("/api/agent/offers/nope/accept")).status_code == 404


async def test_reject_offers_the_contact_to_the_next_agent() -> None:
    from contextlib import AsyncExitStack

    async with centre(agents={"alice": 1, "bob": 1}) as (service, web), AsyncExitStack() as stack:
        alice, bob = await login(web, "alice"), await login(web, "bob")
        await alice.post("/api/agent/presence", {"presence": "available"})
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        bob_desk = await stack.enter_async_context(bob.socket("/ws/agent"))
        await bob.post("/api/agent/presence", {"presence": "available"})
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        assert (await alice.post(f"/api/agent/offers/{chat_id}/reject")).json() == {"ok": True}
        offer = await bob_desk.receive_until("offer")
        assert offer["offer"]["contact_id"] == chat_id
        assert (await alice.get("/api/agent/offers")).json() == []


async def test_complete_with_wrap_up_and_a_disposition_then_own_statistics() -> None:
    from contextlib import AsyncExitStack

    async with centre(wrap_up=300.0) as (service, web), AsyncExitStack() as stack:
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        bad = await alice.post(f"/api/agent/contacts/{chat_id}/complete", {"disposition": "lost"})
        assert bad.status_code == 422 and bad.json()["field"] == "disposition"
        assert service.router.contact(chat_id).state.value == "in-service"
        # wrap-up before completing is the wrong state
        early = await alice.post(f"/api/agent/contacts/{chat_id}/wrap-up", {})
        assert early.status_code == 409
        done = await alice.post(f"/api/agent/contacts/{chat_id}/complete", {})
        assert done.json()["state"] == "wrap-up"
        assert done.json()["dispositions"] == ["resolved", "follow-up"]
        msg = await alice.post(f"/api/agent/contacts/{chat_id}/messages", {"text": "late"})
        assert msg.status_code == 409
        r = await alice.post(f"/api/agent/contacts/{chat_id}/wrap-up", {"disposition": "follow-up"})
        assert r.json() == {"ok": True}
        await eventually(lambda: service.metrics.report(service.router.now).total.handled == 1)
        await eventually(lambda: "alice" in web.handle_times)
        stats = (await alice.get("/api/agent/stats")).json()
        assert stats["today"]["handled"] == 1 and stats["total"]["handled"] == 1
        assert stats["today"]["accepted"] == 1 and stats["today"]["aht"] is not None
        queue = service.metrics.report(service.router.now).queues["support"]
        assert queue.dispositions == {"follow-up": 1}


async def test_logout_sets_the_agent_offline_but_not_while_it_holds_contacts() -> None:
    from contextlib import AsyncExitStack

    async with centre(wrap_up=0.0) as (service, web), AsyncExitStack() as stack:
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        r = await alice.post("/api/logout")
        assert r.status_code == 409
        assert (await alice.get("/api/me")).status_code == 200  # still logged in
        done = await alice.post(f"/api/agent/contacts/{chat_id}/complete", {})
        assert done.json()["state"] == "ended"  # no wrap-up in this queue
        assert (await alice.post("/api/logout")).json() == {"ok": True}
        assert service.router.agent("alice").presence is Presence.OFFLINE
        assert (await alice.get("/api/me")).status_code == 401
        assert (await alice.get("/api/agent")).status_code == 401


async def test_the_screen_pop_carries_the_crm_profile_and_history_masked() -> None:
    async with centre(service_options={"plugins_extra": [_Crm()]}) as (_service, web):
        crm = WebClient(web.app)
        from web_testing import TOKEN

        alice = await login(web, "alice")
        async with alice.socket("/ws/agent") as desk:
            await alice.post("/api/agent/presence", {"presence": "available"})
            r = await crm.post(
                "/api/contacts",
                {
                    "channel": "task",
                    "queue": "support",
                    "customer_id": "cust-9",
                    "attributes": {"subject": "refund"},
                },
                auth=("crm", TOKEN),
            )
            assert r.status_code == 202, r.text
            offer = (await desk.receive_until("offer"))["offer"]
            assert offer["customer_id"] == "cust-9"
            assert offer["attributes"]["subject"] == "refund"
            assert offer["profile"].get("tier") == "gold"
            assert "4111 1111 1111 1111" not in str(offer)


async def test_a_held_contact_keeps_its_screen_pop_for_a_desktop_reloaded_mid_chat() -> None:
    async with centre(service_options={"plugins_extra": [_Crm()]}) as (_service, web):
        from web_testing import TOKEN

        alice = await login(web, "alice")
        async with alice.socket("/ws/agent") as desk:
            await alice.post("/api/agent/presence", {"presence": "available"})
            await WebClient(web.app).post(
                "/api/contacts",
                {"id": "T-9", "channel": "task", "queue": "support", "customer_id": "cust-9"},
                auth=("crm", TOKEN),
            )
            await desk.receive_until("offer")
        accepted = (await alice.post("/api/agent/offers/T-9/accept")).json()
        assert accepted["profile"].get("tier") == "gold"
        # the page reloads: the conversation still carries the customer's context
        reloaded = (await alice.get("/api/agent")).json()["contacts"][0]
        assert reloaded["contact_id"] == "T-9" and reloaded["profile"].get("tier") == "gold"


async def test_the_desktop_hears_its_statistics_after_each_finished_contact() -> None:
    from contextlib import AsyncExitStack

    async with (
        centre(wrap_up=0.0, wallboard_every=0.05) as (_service, web),
        AsyncExitStack() as stack,
    ):
        alice = await login(web, "alice")
        desk = await stack.enter_async_context(alice.socket("/ws/agent"))
        await alice.post("/api/agent/presence", {"presence": "available"})
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        await desk.receive_until("offer")
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        await alice.post(f"/api/agent/contacts/{chat_id}/complete", {"disposition": "resolved"})
        pushed = await desk.receive_until("stats")
        assert pushed["stats"]["agent_id"] == "alice"
        assert pushed["stats"]["today"]["handled"] == 1
        assert pushed["stats"]["today"]["aht"] is not None


async def test_bad_agent_messages_are_refused_and_change_nothing() -> None:
    from contextlib import AsyncExitStack

    from web_testing import TOKEN

    async with (
        centre(max_message_chars=50) as (service, web),
        AsyncExitStack() as stack,
    ):
        alice = await login(web, "alice")
        await alice.post("/api/agent/presence", {"presence": "available"})
        [(_ws, chat_id)] = await _open_chats(stack, web, 1)
        await eventually(lambda: chat_id in service.router.agent("alice").offered)
        await alice.post(f"/api/agent/offers/{chat_id}/accept")
        path = f"/api/agent/contacts/{chat_id}/messages"
        for body, field in [({"text": "   "}, "text"), ({"text": "x" * 51}, "text"), ({}, "text")]:
            r = await alice.post(path, body)
            assert r.status_code == 422 and r.json()["field"] == field, r.text
        assert [m.text for m in web.chats.get(chat_id).transcript] == ["customer 0"]  # type: ignore[union-attr]
        # a contact that is no chat has no one to write to
        await WebClient(web.app).post(
            "/api/contacts",
            {"id": "T-5", "channel": "task", "queue": "support"},
            auth=("crm", TOKEN),
        )
        await eventually(lambda: "T-5" in service.router.agent("alice").offered)
        await alice.post("/api/agent/offers/T-5/accept")
        r = await alice.post("/api/agent/contacts/T-5/messages", {"text": "hello?"})
        assert r.status_code == 409
