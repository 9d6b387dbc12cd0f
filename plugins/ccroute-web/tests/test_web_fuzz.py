"""Random desktop calls by two agents: whatever one tries on a contact it neither
holds nor is offered, it is refused and the contact does not change."""

from __future__ import annotations

import random
from contextlib import AsyncExitStack
from typing import Any

import pytest
from ccroute.errors import UnknownIdError
from web_testing import centre, login

from ccroute_web.testing import WebClient

pytestmark = pytest.mark.anyio

_ACTIONS = (
    ("offers", "accept", None),
    ("offers", "reject", None),
    ("contacts", "messages", {"text": "hello"}),
    ("contacts", "complete", {"disposition": "resolved"}),
    ("contacts", "wrap-up", {}),
)


def _view(service: Any, contact_id: str) -> tuple[str, str | None] | None:
    try:
        view = service.router.contact(contact_id)
    except UnknownIdError:
        return None
    return view.state.value, view.agent_id


def _mine(service: Any, agent_id: str, contact_id: str, kind: str) -> bool:
    agent = service.router.agent(agent_id)
    if kind == "offers":
        return contact_id in agent.offered
    return contact_id in agent.in_service or contact_id in agent.wrap_up


@pytest.mark.parametrize("seed", [1, 2])
async def test_an_agent_changes_only_what_it_holds_or_is_offered(seed: int) -> None:
    rng = random.Random(seed)
    async with (
        centre(agents={"alice": 2, "bob": 2}, wrap_up=600.0) as (service, web),
        AsyncExitStack() as stack,
    ):
        agents = {name: await login(web, name) for name in ("alice", "bob")}
        for client in agents.values():
            await client.post("/api/agent/presence", {"presence": "available"})
        chats = []
        for i in range(5):
            ws = await stack.enter_async_context(WebClient(web.app).socket("/ws/chat"))
            chats.append((await ws.receive_json())["conversation"])
            await ws.send_json({"type": "message", "text": f"customer {i}"})
            await ws.receive_until("queued")
        refused = done = 0
        for _ in range(120):
            name = rng.choice(sorted(agents))
            contact_id = rng.choice(chats)
            kind, action, body = rng.choice(_ACTIONS)
            mine = _mine(service, name, contact_id, kind)
            before = _view(service, contact_id)
            path = f"/api/agent/{kind}/{contact_id}/{action}"
            response = await agents[name].post(path, body)
            if not mine:
                assert response.status_code in (403, 404), (name, path, response.text)
                assert _view(service, contact_id) == before
                refused += 1
            else:
                assert response.status_code in (200, 201, 409, 422), (name, path, response.text)
                done += response.status_code < 300
        assert refused > 20 and done > 5  # the walk did both
