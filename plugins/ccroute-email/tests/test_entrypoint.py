"""The installed distribution exposes its plugin through the ``ccroute`` entry point,
and that plugin listens only when the application enables it."""

from __future__ import annotations

import importlib.metadata
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from ccroute import Agent, Presence, QueueConfig
from ccroute.hooktypes import ServiceHandle
from ccroute.service import Service
from email_testing import make_mail, send_mail, wait_until

import ccroute_email.plugin
from ccroute_email import EmailChannel, EmailError
from ccroute_email.channel import ServiceLike

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _only_this_distribution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only this distribution's plugins, whatever else is installed."""
    monkeypatch.setenv("CCROUTE_LOAD_PLUGINS", "ccroute-email")


@pytest.fixture
def listeners(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every socket that starts listening (any port, any library) while the test runs."""
    opened: list[Any] = []
    listen = socket.socket.listen

    def recording(self: socket.socket, *args: Any) -> None:
        opened.append(self.getsockname())
        listen(self, *args)

    monkeypatch.setattr(socket.socket, "listen", recording)
    yield opened


def test_entry_point_is_the_plugin_module() -> None:
    [entry] = [ep for ep in importlib.metadata.entry_points(group="ccroute") if ep.name == "email"]
    assert entry.value == "ccroute_email.plugin"
    assert entry.dist is not None and entry.dist.name == "ccroute-email"
    assert entry.load() is ccroute_email.plugin
    assert isinstance(ccroute_email.plugin.channel, EmailChannel)


def test_the_channel_is_typed_against_the_narrow_service_protocol() -> None:
    # One protocol, ccroute's: the name the plugin used before is the same object.
    assert ServiceLike is ServiceHandle


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({}, id="no-email-settings"),
        pytest.param({"email": {"port": 0, "queue": "mail"}}, id="enabled-not-set"),
        pytest.param({"email": {"enabled": False, "port": 0}}, id="enabled-false"),
    ],
)
async def test_installed_but_not_enabled_opens_no_listener(
    settings: dict[str, Any], listeners: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    channel = ccroute_email.plugin.channel
    with caplog.at_level(logging.INFO):
        async with Service(settings=settings) as service:
            assert not channel.running and channel.port is None
            await service.add_queue(QueueConfig("email"))
    assert listeners == []
    assert service.hook_failures == {}
    # Loaded all the same, and saying how to turn it on.
    assert any("'email' loaded (ccroute-email" in r.getMessage() for r in caplog.records), (
        caplog.text
    )
    assert any("installed but not enabled" in r.getMessage() for r in caplog.records)


async def test_entry_point_channel_runs_when_enabled(listeners: list[Any]) -> None:
    channel = ccroute_email.plugin.channel
    settings = {"email": {"enabled": True, "port": 0, "queue": "mail"}}
    async with Service(settings=settings) as service:
        assert channel.running and channel.settings.queue == "mail"
        assert [port for _host, port, *_ in listeners] == [channel.port]
        await service.add_queue(QueueConfig("mail"))
        await service.add_agent(Agent("alice", queues=("mail",)), Presence.AVAILABLE)
        assert channel.port is not None
        await send_mail(channel.port, make_mail())
        await wait_until(lambda: "alice" in channel.offers)
        assert channel.offers["alice"][0].contact.queue == "mail"
    assert not channel.running


async def test_bad_email_settings_are_a_counted_failure_not_a_listener(
    listeners: list[Any],
) -> None:
    for bad in ({"enabled": "yes"}, {"enabled": True, "prot": 25}):
        async with Service(settings={"email": bad}) as service:
            assert not ccroute_email.plugin.channel.running
        assert service.hook_failures == {("ccroute_start_channel", "email", "raised"): 1}
    assert listeners == []
    with pytest.raises(EmailError, match="'enabled' must be true or false"):
        ccroute_email.plugin.enabled_by({"email": {"enabled": 1}})


async def test_entry_point_steps_aside_for_an_explicit_channel() -> None:
    explicit = EmailChannel(port=0)
    async with Service(settings={"email": {"enabled": True, "port": 0}}, plugins=[explicit]):
        assert explicit.running
        assert not ccroute_email.plugin.channel.running


async def test_an_explicit_channel_is_enabled_unless_settings_say_false(
    listeners: list[Any],
) -> None:
    explicit = EmailChannel(port=0)
    async with Service(settings={"email": {"enabled": False}}, plugins=[explicit]):
        # Disabled by the application: no server, and the default stays out too.
        assert not explicit.running
        assert not ccroute_email.plugin.channel.running
    assert listeners == []
    async with Service(plugins=[explicit]):
        assert explicit.running
