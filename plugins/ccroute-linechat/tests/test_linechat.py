"""The line chat channel, through a real service and real TCP connections on
loopback, on asyncio and trio: the guide's example must do what it says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import entry_points
from pathlib import Path

import anyio
import anyio.abc
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from ccroute_linechat import LineChat, LineChatError
from ccroute_linechat import plugin as entry_point_module

from ccroute import Agent, ContactState, OfferDelivery, Presence, QueueConfig, Service

pytestmark = pytest.mark.anyio

#: Every wait in these tests is bounded by this many seconds.
TIMEOUT = 10.0


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run every test on asyncio and on trio."""
    return str(request.param)


class Customer:
    """A customer's end of the TCP connection."""

    def __init__(self, stream: anyio.abc.SocketStream) -> None:
        self.stream = stream
        self.lines = BufferedByteReceiveStream(stream)

    async def say(self, text: str) -> None:
        await self.stream.send(text.encode() + b"\n")

    async def hear(self) -> str:
        with anyio.fail_after(TIMEOUT):
            return (await self.lines.receive_until(b"\n", 65536)).decode()


@asynccontextmanager
async def centre(tmp_path: Path) -> AsyncIterator[tuple[Service, LineChat, list[OfferDelivery]]]:
    offers: list[OfferDelivery] = []
    chat = LineChat(queue="support", on_offer=offers.append)
    async with Service(
        path=tmp_path / "centre.db", sync="OFF", plugins=[chat], load_entrypoints=False
    ) as service:
        await service.add_queue(QueueConfig("support", offer_timeout=None))
        yield service, chat, offers


async def wait_for(condition: object) -> None:
    with anyio.fail_after(TIMEOUT):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.01)


async def test_a_customer_waits_is_answered_chats_and_is_closed(tmp_path: Path) -> None:
    async with centre(tmp_path) as (service, chat, offers):
        customer = Customer(await anyio.connect_tcp("127.0.0.1", chat.port))
        await customer.say("hello, my parcel is late")
        assert (await customer.hear()).startswith("* you are number 1 in line")

        await service.add_agent(Agent("ana", queues={"support"}), Presence.AVAILABLE)
        await wait_for(lambda: offers)
        contact_id = offers[0].contact.id
        assert offers[0].contact.attributes["first"] == "hello, my parcel is late"
        await service.accept(contact_id, "ana")
        assert await customer.hear() == "* ana joined the chat"

        await chat.say(contact_id, "ana", "let me look")
        assert await customer.hear() == "ana: let me look"

        await service.complete(contact_id)
        assert await customer.hear() == "* chat closed (completed)"
        await customer.stream.aclose()


async def test_hanging_up_while_waiting_abandons(tmp_path: Path) -> None:
    async with centre(tmp_path) as (service, chat, _offers):
        customer = Customer(await anyio.connect_tcp("127.0.0.1", chat.port))
        await customer.say("anyone there?")
        await customer.hear()
        (contact_id,) = service.router.contact_ids
        await customer.stream.aclose()
        await wait_for(lambda: contact_id not in service.router.contact_ids)
        # the metrics take the abandon in once it is durable
        await wait_for(lambda: service.metrics.report(service.now).queues["support"].abandoned)
        assert service.metrics.report(service.now).queues["support"].abandoned == 1


async def test_the_customers_lines_reach_the_application(tmp_path: Path) -> None:
    heard: list[tuple[str, str]] = []
    async with centre(tmp_path) as (service, chat, _offers):
        chat.on_message = lambda contact_id, text: heard.append((contact_id, text))
        customer = Customer(await anyio.connect_tcp("127.0.0.1", chat.port))
        await customer.say("first")
        await customer.hear()
        await customer.say("second line")
        await wait_for(lambda: heard)
        (contact_id,) = service.router.contact_ids
        assert heard == [(contact_id, "second line")]
        assert service.router.contact(contact_id).state is ContactState.WAITING
        await customer.stream.aclose()


async def test_saying_to_a_contact_without_a_connection_is_refused(tmp_path: Path) -> None:
    async with centre(tmp_path) as (_service, chat, _offers):
        with pytest.raises(LineChatError, match="'nobody' has no open line chat"):
            await chat.say("nobody", "ana", "hi")


def test_bad_settings_are_refused_and_change_nothing() -> None:
    before = (entry_point_module.channel.port, entry_point_module.channel.queue)
    with pytest.raises(LineChatError, match="port must be an integer"):
        entry_point_module.configure({"linechat": {"port": 70000, "queue": "x"}})
    with pytest.raises(LineChatError, match="unknown linechat settings"):
        entry_point_module.configure({"linechat": {"prot": 7000}})
    assert (entry_point_module.channel.port, entry_point_module.channel.queue) == before
    assert entry_point_module.configure({}) is False


def test_the_entry_point_is_registered() -> None:
    (found,) = [ep for ep in entry_points(group="ccroute") if ep.name == "linechat"]
    assert found.load() is entry_point_module


async def test_installed_but_not_enabled_opens_no_listener(tmp_path: Path) -> None:
    async with Service(path=tmp_path / "c.db", sync="OFF", settings={}) as service:
        assert service.running
        assert not entry_point_module.channel.running
