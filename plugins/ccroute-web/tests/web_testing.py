"""Shared helpers of the web plugin's tests: both anyio backends, a running centre."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from ccroute import Agent, Presence, QueueConfig, Service

from ccroute_web import WebChannel, hash_secret
from ccroute_web.testing import WebClient

__all__ = ["PASSWORD", "TOKEN", "USERS", "anyio_backend", "centre", "eventually", "login"]

#: Every user's password in these tests, and the integration user's token.
PASSWORD = "correct horse"
TOKEN = "tok-3f9a1c"

# a cheap scrypt cost: the tests check the scheme, not its strength
_HASH = hash_secret(PASSWORD, n=2**4)

#: The users of the test centre.
USERS: Mapping[str, Any] = {
    "alice": {"role": "agent", "password": _HASH, "name": "Alice"},
    "bob": {"role": "agent", "password": _HASH, "name": "Bob"},
    "sam": {"role": "supervisor", "password": _HASH},
    "crm": {"role": "integration", "token": hash_secret(TOKEN, n=2**4)},
}


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every async test on asyncio and on trio."""
    return str(request.param)


@asynccontextmanager
async def centre(
    *,
    agents: Mapping[str, int] | None = None,
    wrap_up: float | None = None,
    service_options: Mapping[str, Any] | None = None,
    **web_settings: Any,
) -> AsyncIterator[tuple[Service, WebChannel]]:
    """A running service with a WebChannel (no server: tests use WebClient),
    queue ``support`` (dispositions ``resolved`` and ``follow-up``, wrap-up
    ``wrap_up``), and agents ``alice`` and ``bob`` (offline; chat capacity
    from ``agents``)."""
    settings: dict[str, Any] = {"users": USERS, "chat_queue": "support", "resume_grace": 0.3}
    settings.update(web_settings)
    web = WebChannel(**settings)
    options: dict[str, Any] = {"load_entrypoints": False, "sync": "OFF", "hook_timeout": 2.0}
    options.update(service_options or {})
    extra = options.pop("plugins_extra", [])
    async with Service(plugins=[web, *extra], **options) as service:
        await service.add_queue(
            QueueConfig(
                "support",
                dispositions=("resolved", "follow-up"),
                wrap_up=wrap_up,
                offer_timeout=60.0,
            )
        )
        for agent_id, capacity in (agents or {"alice": 2, "bob": 2}).items():
            await service.add_agent(
                Agent(agent_id, queues=("support",), capacity={"chat": capacity, "task": 1}),
                Presence.OFFLINE,
            )
        yield service, web


async def login(web: WebChannel, user: str) -> WebClient:
    """A client logged in as ``user`` (close it with ``await client.__aexit__()``)."""
    client = WebClient(web.app)
    response = await client.login(user, PASSWORD)
    assert response.status_code == 200, response.text
    return client


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait until ``check()`` is true (polling every 10 ms)."""
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.01)
