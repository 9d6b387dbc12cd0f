"""A demo contact centre in one command: ``python -m ccroute_web.demo``.

It starts a service on SQLite (a temporary folder unless ``--path`` names a
file), the web app on loopback, two queues (``support`` for web chats and
``billing``), three agents and a supervisor, and prints the addresses of the
widget, the desktop and the wallboard with the users and their passwords.
``--seconds`` bounds the run (tests, CI); without it the demo runs until
Ctrl-C. The browser tests start the same centre through :func:`centre`.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import anyio
import attrs
from ccroute import Agent, Presence, QueueConfig

from .channel import WebChannel

if TYPE_CHECKING:
    from ccroute import Service

__all__ = [
    "AGENTS",
    "DEMO_FLOW",
    "QUEUES",
    "AgentSpec",
    "Centre",
    "DemoUser",
    "centre",
    "demo_users",
    "main",
]

#: The demo's queues: web chats go to ``support``. A wrap-up of a minute
#: leaves the agent time to pick a disposition (ended early by "Finish wrap-up").
QUEUES: tuple[QueueConfig, ...] = (
    QueueConfig(
        "support",
        service_level_threshold=20.0,
        service_level_target=0.8,
        offer_timeout=30.0,
        wrap_up=60.0,
        dispositions=("resolved", "follow-up", "escalated"),
        disposition_required=True,
    ),
    QueueConfig(
        "billing",
        service_level_threshold=30.0,
        service_level_target=0.9,
        offer_timeout=30.0,
        wrap_up=60.0,
        dispositions=("refunded", "explained", "escalated"),
    ),
)

#: The demo's agents: user name, display name, queues. Each takes three chats at once.
AGENTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("alice", "Alice Martin", ("support", "billing")),
    ("bob", "Bob Chen", ("support",)),
    ("carol", "Carol Diaz", ("support", "billing")),
)

#: Chats an agent handles at once.
CHAT_CAPACITY = 3

#: The chatbot web chats meet first (with ``flow=True``): it asks what the chat
#: is about (the intent) and, for a delivery, the order number, which the agent
#: then sees in the screen pop; billing questions go to the billing queue.
DEMO_FLOW = """\
name = "web-chat"
start = "topic"
input_timeout = 300
time_limit = 900

[fallback]
queue = "support"
message = "Let me put you through to one of our team."

[nodes.topic]
kind = "menu"
prompt = "Thanks! What is it about? Reply 1 for a delivery, 2 for billing, 3 for something else."
options = [
  { digit = "1", keywords = ["delivery", "parcel", "order"], intent = "delivery", next = "order" },
  { digit = "2", keywords = ["billing", "invoice", "refund", "charge"], intent = "billing", next = "to_billing" },
  { digit = "3", next = "to_support" },
]

[nodes.order]
kind = "collect"
prompt = "What is your order number? (for example A-10023)"
field = "order"
expects = "text"
next = "to_support"

[nodes.to_support]
kind = "transfer"
queue = "support"
message = "Thank you. Someone from our support team will be with you shortly."

[nodes.to_billing]
kind = "transfer"
queue = "billing"
message = "Thank you. Someone from our billing team will be with you shortly."
"""


@attrs.frozen
class DemoUser:
    """A user of the demo and the password it signs in with."""

    user: str
    password: str
    role: str
    name: str


@attrs.frozen
class Centre:
    """A running demo centre: its service, its web channel and where it listens."""

    service: Service
    web: WebChannel
    url: str
    users: tuple[DemoUser, ...]


#: An agent of the centre: user name, display name, the queues it serves.
AgentSpec = tuple[str, str, tuple[str, ...]]


def demo_users(
    password: str | None = None, agents: Sequence[AgentSpec] = AGENTS
) -> tuple[DemoUser, ...]:
    """The users of ``agents`` and a supervisor ``sam``.

    :param password: every user's password; by default each gets a random one.
    """
    people = [(user, name, "agent") for user, name, _ in agents]
    people.append(("sam", "Sam Okafor", "supervisor"))
    return tuple(
        DemoUser(user, password or secrets.token_urlsafe(8), role, name)
        for user, name, role in people
    )


def _web_settings(
    users: Sequence[DemoUser], host: str, port: int, extra: Mapping[str, object]
) -> dict[str, object]:
    from . import hash_secret

    return {
        "enabled": True,
        "host": host,
        "port": port,
        "secret": secrets.token_urlsafe(32),
        "chat_queue": "support",
        "users": {
            u.user: {"role": u.role, "password": hash_secret(u.password), "name": u.name}
            for u in users
        },
        **extra,
    }


@contextlib.asynccontextmanager
async def centre(
    path: str | Path,
    *,
    users: Sequence[DemoUser] | None = None,
    agents: Sequence[AgentSpec] = AGENTS,
    host: str = "127.0.0.1",
    port: int = 0,
    web: Mapping[str, object] | None = None,
    flow: bool = False,
) -> AsyncIterator[Centre]:
    """Run the demo centre on the SQLite log ``path`` while the block runs.

    :param users: who may sign in (default: :func:`demo_users` with random passwords).
    :param agents: the router's agents (the benchmark makes hundreds).
    :param port: the web app's port; 0 picks a free one (``Centre.url`` says which).
    :param web: more ``settings["web"]`` values (e.g. ``{"resume_grace": 3}``).
    :param flow: web chats meet the chatbot of :data:`DEMO_FLOW` first (its file
        is written beside ``path``).
    """
    from ccroute import Service

    users = tuple(users or demo_users(agents=agents))
    channel = WebChannel()
    extra = dict(web or {})
    if flow:
        flow_file = Path(path).parent / "web-chat-flow.toml"
        flow_file.write_text(DEMO_FLOW, encoding="utf-8")
        extra["flow"] = str(flow_file)
    settings = {"web": _web_settings(users, host, port, extra), "crm": True}
    async with Service(path=str(path), plugins=[channel], settings=settings) as service:
        await service.add_queues(list(QUEUES))
        for user, _, queues in agents:
            agent = Agent(user, queues=queues, capacity={"chat": CHAT_CAPACITY})
            await service.add_agent(agent, Presence.OFFLINE)
        assert channel.port is not None
        shown = f"[{host}]" if ":" in host else host
        yield Centre(service, channel, f"http://{shown}:{channel.port}", users)


def _print_banner(c: Centre, out: TextIO) -> None:
    width = max(len(u.user) for u in c.users)
    lines = [
        "ccroute web demo",
        f"  customer widget   {c.url}/widget",
        f"  agent desktop     {c.url}/desktop",
        f"  wallboard         {c.url}/wallboard",
        "",
        "  users (user  password  role):",
        *(f"    {u.user:<{width}}  {u.password}  {u.role}" for u in c.users),
        "",
        "Open the widget in one window and the desktop (signed in as an agent,",
        "set Available) in another. Ctrl-C stops the demo.",
    ]
    print("\n".join(lines), file=out, flush=True)


async def run(
    path: str | Path,
    *,
    host: str,
    port: int,
    seconds: float | None,
    password: str | None,
    out: TextIO,
) -> None:
    """Run the demo until ``seconds`` pass (or forever), printing where to go."""
    async with centre(path, users=demo_users(password), host=host, port=port, flow=True) as c:
        _print_banner(c, out)
        if seconds is None:
            await anyio.sleep_forever()
        else:
            await anyio.sleep(seconds)
            print("demo: time is up, stopping", file=out, flush=True)


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """The command line: ``python -m ccroute_web.demo [--port N] [--seconds S] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m ccroute_web.demo",
        description="A demo contact centre: web chat, agent desktop and wallboard on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: a free one)")
    parser.add_argument("--path", help="SQLite log file (default: in a temporary folder)")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--password", help="one password for every user (default: random)")
    args = parser.parse_args(argv)
    if args.seconds is not None and args.seconds <= 0:
        parser.error("--seconds must be positive")
    with tempfile.TemporaryDirectory(prefix="ccroute-demo-") as folder:
        path = args.path or str(Path(folder) / "demo.db")
        try:
            anyio.run(
                lambda: run(
                    path,
                    host=args.host,
                    port=args.port,
                    seconds=args.seconds,
                    password=args.password,
                    out=out,
                )
            )
        except KeyboardInterrupt:
            print("demo: stopped", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
