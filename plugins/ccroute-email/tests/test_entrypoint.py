"""The installed distribution exposes its plugin through the ``ccroute`` entry point."""

from __future__ import annotations

import importlib.metadata

import pytest
from ccroute import Agent, Presence, QueueConfig
from ccroute.service import Service
from email_testing import make_mail, send_mail, wait_until

import ccroute_email.plugin
from ccroute_email import EmailChannel


def test_entry_point_is_the_plugin_module() -> None:
    [entry] = [ep for ep in importlib.metadata.entry_points(group="ccroute") if ep.name == "email"]
    assert entry.value == "ccroute_email.plugin"
    assert entry.dist is not None and entry.dist.name == "ccroute-email"
    assert entry.load() is ccroute_email.plugin
    assert isinstance(ccroute_email.plugin.channel, EmailChannel)


@pytest.mark.anyio
async def test_entry_point_channel_runs_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this distribution's plugins, whatever else is installed.
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "ccroute-email")
    channel = ccroute_email.plugin.channel
    settings = {"email": {"port": 0, "queue": "mail"}}
    async with Service(settings=settings) as service:
        assert channel.running and channel.settings.queue == "mail"
        await service.add_queue(QueueConfig("mail"))
        await service.add_agent(Agent("alice", queues=("mail",)), Presence.AVAILABLE)
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        await wait_until(lambda: "alice" in channel.offers)
        assert channel.offers["alice"][0].contact.queue == "mail"
    assert not channel.running


@pytest.mark.anyio
async def test_entry_point_steps_aside_for_an_explicit_channel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "ccroute-email")
    explicit = EmailChannel(port=0)
    async with Service(settings={"email": {"port": 0}}, plugins=[explicit]):
        assert explicit.running
        assert not ccroute_email.plugin.channel.running
