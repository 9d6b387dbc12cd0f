"""The web channel: the plugin object behind the chat widget, the desktops and the wallboard.

:class:`WebChannel` implements ccroute's channel-adapter hooks:

- ``ccroute_start_channel`` / ``ccroute_stop_channel``: attach to the service,
  add the chat and webhook channels the router lacks, start the HTTP server
  (when enabled) and the wallboard's ticker;
- ``ccroute_deliver_offer``: an offer of one of its channels goes to the
  agent's desktop (the screen pop), pushed to its open sockets;
- ``ccroute_customer_update``: a web chat customer hears its place in line,
  its estimated wait, the agent's name, the end;
- ``ccroute_events``: desktops and the wallboard learn what changed.

Every hook is ``async def`` so that it runs on the service's event loop (ccroute
runs plain hooks in worker threads), only reads the router and puts frames on
bounded outboxes: none awaits anything, so a slow browser cannot hold up the
service. What the desktop
shows of offers and contacts is read from the router when asked, so it is
never stale; the web channel keeps only what the router does not: chat
transcripts and the screen pops of open offers.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import anyio
import msgspec
from ccroute.errors import CCRouteError, ServiceError, UnknownIdError
from ccroute.events import (
    Abandoned,
    Accepted,
    Completed,
    Event,
    OfferRescinded,
    OfferTimedOut,
    PresenceChanged,
    Rejected,
    TimedOut,
    Transferred,
    WrapUpEnded,
)
from ccroute.hookspecs import hookimpl
from ccroute.hooktypes import CustomerUpdate, OfferDelivery, ServiceHandle
from ccroute.lifecycle import ContactState
from ccroute.model import Channel, ChannelKind, Presence

from ._auth import Users
from ._baselines import BaselineFile, Kind, baselines_path
from ._board import HandleTimes, Periods
from ._chat import Chat, Chats, frame
from ._errors import WebError
from ._outbox import Outbox
from ._schemas import HistoryItem, Offer
from ._server import Server, bind
from ._service import WebService
from ._settings import WebSettings, load_settings

__all__ = ["WebChannel", "channels_of"]

log = logging.getLogger("ccroute_web")

# The channels serving each running service, by id(service): the entry-point
# default steps aside for a service that has one of its own.
_serving: dict[int, list[WebChannel]] = {}


def channels_of(service: object) -> list[WebChannel]:
    """The :class:`WebChannel` instances started for ``service``."""
    return list(_serving.get(id(service), ()))


_encoder = msgspec.json.Encoder()

#: Offer-closing events and the reason the desktop is told.
_OFFER_GONE: Mapping[type[Event], str] = {
    Rejected: "rejected",
    OfferTimedOut: "timed-out",
    OfferRescinded: "rescinded",
}


def _plain(value: Any) -> Any:
    """A JSON-ready copy of a mapping or sequence the router or CRM handed out."""
    return msgspec.to_builtins(value, str_keys=True, enc_hook=str)


class WebChannel:
    """The web plugin: register an instance with a service (its methods are the
    hook implementations), or let the ``ccroute`` entry point load
    :mod:`ccroute_web.plugin`, a default instance that listens only when
    ``settings["web"]["enabled"]`` is true.

    Keyword arguments are :class:`~ccroute_web.WebSettings` fields; they
    override the service's ``"web"`` settings.

    :raises WebError: an unknown setting or a bad value.
    """

    def __init__(self, **settings: Any) -> None:
        self._overrides = dict(settings)
        self._settings = load_settings({}, **self._overrides)
        self._service: WebService | None = None
        self._server: Server | None = None
        self._users = Users(self._settings.users)
        self._secret = self._settings.secret or secrets.token_urlsafe(32)
        self._chats = self._new_chats()
        self._flow: Any = None
        # agent id -> contact id -> the screen pop of its open offer
        self._pops: dict[str, dict[str, Offer]] = {}
        # contact id -> the screen pop of the offer it was accepted from, while held
        self._held: dict[str, Offer] = {}
        # agent id -> the outboxes of its open desktop sockets
        self._desks: dict[str, set[Outbox]] = {}
        self._boards: set[Outbox] = set()
        self._board_dirty = True
        self._wake_board = anyio.Event()
        # agents whose statistics changed since the last tick
        self._stats_dirty: set[str] = set()
        self._periods = Periods(self._settings.interval_minutes, self._settings.utc_offset_minutes)
        self._baselines = BaselineFile(None)
        #: The reason each agent gave for being not ready (from its presence changes).
        self.reasons: dict[str, str | None] = {}
        #: Each agent's handle times, for its AHT.
        self.handle_times: dict[str, HandleTimes] = {}
        # contact id -> handle time of a completed contact still in wrap-up
        self._handled: dict[str, float] = {}
        #: Browsers disconnected because they fell behind, since the channel started.
        self.dropped = 0
        from .app import create_app

        self.app = create_app(self)
        """The ASGI application (a ``TestClient`` can drive it without the server)."""

    def __repr__(self) -> str:
        where = "stopped" if self.port is None else f"on {self._settings.host}:{self.port}"
        return f"<WebChannel {where}, {len(self._chats)} chats>"

    # ------------------------------------------------------------- properties

    @property
    def settings(self) -> WebSettings:
        """The settings in force (the service's merged with the keyword arguments once started)."""
        return self._settings

    @property
    def users(self) -> Users:
        """The configured users."""
        return self._users

    @property
    def secret(self) -> str:
        """The key that signs session cookies."""
        return self._secret

    @property
    def service(self) -> WebService | None:
        """The service this channel serves, or ``None`` while stopped."""
        return self._service

    @property
    def port(self) -> int | None:
        """The port the server listens on, or ``None`` when it does not."""
        return None if self._server is None else self._server.port

    @property
    def chats(self) -> Chats:
        """The web chat conversations (open or in their grace period)."""
        return self._chats

    @property
    def periods(self) -> Periods:
        """The wallboard's day and interval baselines."""
        return self._periods

    @property
    def channels(self) -> frozenset[str]:
        """The channels whose offers the desktop shows: chat and the webhook's."""
        return frozenset((self._settings.chat_channel, *self._settings.webhook_channels))

    def connections(self) -> dict[str, int]:
        """Open sockets by kind (``chat``, ``agent``, ``wallboard``). O(agents + chats)."""
        return {
            "chat": sum(1 for chat in self._chats if chat.connected),
            "agent": sum(len(boxes) for boxes in self._desks.values()),
            "wallboard": len(self._boards),
        }

    def _new_chats(self) -> Chats:
        s = self._settings
        return Chats(s.max_transcript, s.max_conversations, s.chats_per_ip)

    def configure(self, raw: Mapping[str, Any] | None) -> None:
        """Take the service's ``"web"`` settings (the keyword arguments win).

        :raises WebError: a bad setting or an unreadable hash.
        """
        settings = load_settings(raw, **self._overrides)
        users = Users(settings.users)
        flow = None
        if settings.flow is not None:
            from ccroute.ivr import load_flow

            try:
                with open(settings.flow, "rb") as file:
                    flow = load_flow(file)
            except OSError as error:
                raise WebError(
                    f"web setting 'flow': cannot read {settings.flow!r}: {error}"
                ) from None
        self._settings, self._users, self._flow = settings, users, flow
        self._secret = settings.secret or self._secret
        self._chats = self._new_chats()
        self._periods = Periods(settings.interval_minutes, settings.utc_offset_minutes)

    # ------------------------------------------------------------------ hooks

    @hookimpl
    async def ccroute_start_channel(self, service: ServiceHandle) -> None:
        """Attach to ``service``: add missing channels, start the server (when enabled)
        and the wallboard ticker.

        :raises WebError: bad settings, or the address cannot be bound.
        """
        if self._service is not None:
            raise WebError("this WebChannel serves a running service already")
        self.configure(service.settings.get("web"))
        web = cast(WebService, service)
        try:
            report = web.metrics.report(web.router.now)
        except ServiceError:
            raise WebError(
                "ccroute-web needs the service's metrics (the wallboard, the agents' "
                "statistics, /metrics): start the service with metrics=True"
            ) from None
        known = {c.name for c in web.router.channels}
        s = self._settings
        wanted = [Channel(s.chat_channel, ChannelKind.SEMI_SYNCHRONOUS, default_capacity=3)]
        wanted += [Channel(name, ChannelKind.ASYNCHRONOUS) for name in s.webhook_channels]
        for channel in wanted:
            if channel.name not in known:
                await web.add_channel(channel)
                known.add(channel.name)
        if s.chat_queue not in web.router.queues:
            # usual when the application adds its queues after the start
            log.info("web chats go to queue %r, which the router does not know yet", s.chat_queue)
        sock = bind(s.host, s.port) if s.enabled else None
        self._service = web
        _serving.setdefault(id(service), []).append(self)
        self._board_dirty = True
        self._periods.roll(web.now, report)
        # A restart within the day (or interval) takes back the baseline saved
        # when the period began, so "today" does not start again at zero.
        self._baselines = BaselineFile(baselines_path(service.settings))
        both: set[Kind] = {"day", "interval"}
        fresh = both - self._baselines.restore(self._periods)
        self._baselines.remember(fresh, self._periods, web.router.now, web.metrics.state())
        web.start_soon(self._tick_board)
        web.start_soon(self._orphans)
        if sock is not None:
            self._server = Server(self.app, sock, max_frame=s.max_frame_bytes)
            web.start_soon(self._server.serve)
            log.info("ccroute-web listening on http://%s:%s/", s.host, self.port)
            if not s.loopback:
                log.warning(
                    "ccroute-web listens on %s, not only loopback: put TLS in front", s.host
                )

    @hookimpl
    async def ccroute_stop_channel(self, service: ServiceHandle) -> None:
        """Close every socket, stop the server and detach."""
        if service is not self._service:
            return
        for chat in self._chats:
            if chat.outbox is not None:
                chat.outbox.close()
        for boxes in self._desks.values():
            for box in boxes:
                box.close()
        for box in self._boards:
            box.close()
        if self._server is not None:
            server, self._server = self._server, None
            await server.aclose(timeout=3.0)
        self._service = None
        mine = _serving.get(id(service), [])
        if self in mine:
            mine.remove(self)
        if not mine:
            _serving.pop(id(service), None)

    @hookimpl
    async def ccroute_deliver_offer(self, delivery: OfferDelivery) -> bool | None:
        """Show an offer of a web channel on the agent's desktop; ``None`` for other channels."""
        if self._service is None or delivery.channel not in self.channels:
            return None
        offer = self._pop(delivery)
        agent_id = delivery.agent.id
        self._pops.setdefault(agent_id, {})[offer.contact_id] = offer
        self.to_agent(agent_id, _encoder.encode({"type": "offer", "offer": offer}).decode())
        return True

    @hookimpl
    async def ccroute_customer_update(self, update: CustomerUpdate) -> None:
        """Tell a web chat customer where its contact stands."""
        chat = self._chats.get(update.contact_id)
        if chat is None or self._service is None:
            return
        if update.kind == "queued":
            if chat.state in ("new", "flow", "queued"):
                chat.state = "queued"
                chat.send(
                    frame("queued", position=update.position, estimated_wait=update.estimated_wait)
                )
        elif update.kind == "answered":
            chat.state = "connected"
            chat.agent_id = update.agent_id
            user = None if update.agent_id is None else self._users.by_agent(update.agent_id)
            name = user.display if user is not None else update.agent_id
            chat.send(frame("answered", agent=name))
        elif update.kind == "closed":
            self.close_chat(chat, update.reason or "closed")

    @hookimpl
    async def ccroute_events(self, events: Sequence[Event]) -> None:
        """Tell the desktops and the wallboard what changed (frames only; O(events))."""
        if self._service is None:
            return
        touched: set[str] = set()
        for e in events:
            self._board_dirty = True
            agent_id: str | None = getattr(e, "agent_id", None)
            kind = type(e)
            if kind in _OFFER_GONE:
                assert agent_id is not None
                self._offer_gone(agent_id, cast(Any, e).contact_id, _OFFER_GONE[kind])
            elif kind is Accepted:
                assert agent_id is not None
                contact_id = cast(Accepted, e).contact_id
                pop = self._pops.get(agent_id, {}).get(contact_id)
                if pop is not None:
                    self._held[contact_id] = pop
                self._offer_gone(agent_id, contact_id, "accepted")
            elif kind is Abandoned or kind is TimedOut:
                contact_id = cast(Any, e).contact_id
                self._held.pop(contact_id, None)
                for holder, pops in list(self._pops.items()):
                    if contact_id in pops:
                        self._offer_gone(holder, contact_id, "abandoned")
                        touched.add(holder)
            elif kind is PresenceChanged:
                p = cast(PresenceChanged, e)
                self.reasons[p.agent_id] = p.reason if p.new is Presence.NOT_READY else None
            elif kind is Completed:
                c = cast(Completed, e)
                self._handled[c.contact_id] = c.handle_time
            elif kind is WrapUpEnded:
                assert agent_id is not None
                w = cast(WrapUpEnded, e)
                contact_id = w.contact_id
                self._held.pop(contact_id, None)
                tally = self.handle_times.setdefault(agent_id, HandleTimes())
                tally.add(self._handled.pop(contact_id, 0.0) + w.wrap_time, self._periods.day.start)
                # pushed by the ticker: one metrics report for every agent who finished
                self._stats_dirty.add(agent_id)
                self.to_agent(
                    agent_id, frame("contact_ended", contact_id=contact_id, reason="done")
                )
                chat = self._chats.get(contact_id)
                if chat is not None and chat.state == "closed":
                    self._chats.forget(chat)
            elif kind is Transferred:
                t = cast(Transferred, e)
                if t.from_agent is not None:
                    touched.add(t.from_agent)
                    self.to_agent(
                        t.from_agent,
                        frame("contact_ended", contact_id=t.contact_id, reason="transferred"),
                    )
                if t.to_agent is not None:
                    touched.add(t.to_agent)
            if agent_id is not None:
                touched.add(agent_id)
        for agent_id in touched:
            if self._desks.get(agent_id):
                self._push_state(agent_id)
        self._wake_board.set()

    # ------------------------------------------------------------ the desktop

    def _pop(self, delivery: OfferDelivery) -> Offer:
        contact = delivery.contact
        chat = self._chats.get(contact.id)
        history = [
            HistoryItem(
                contact_id=h.contact_id,
                channel=h.channel,
                queue=h.queue,
                outcome=h.outcome,
                arrived_at=h.arrived_at,
                ended_at=h.ended_at,
                agent_id=h.agent_id,
                disposition=h.disposition,
            )
            for h in delivery.history
        ]
        return Offer(
            contact_id=contact.id,
            channel=contact.channel,
            queue=contact.queue,
            offered_at=delivery.offer.at,
            expires_at=delivery.offer.timeout_at,
            customer_id=contact.customer_id,
            customer_name=None if chat is None else chat.name,
            attributes=_plain(dict(contact.attributes)),
            intent=delivery.intent,
            ivr=_plain(dict(delivery.ivr)),
            profile=_plain(dict(delivery.profile)),
            history=history,
            transcript=[] if chat is None else list(chat.transcript),
        )

    def offers_of(self, agent_id: str) -> list[Offer]:
        """The open offers of an agent, with their screen pops (the router says which
        are open; a pop without an open offer is dropped). O(offers of the agent)."""
        service = self._service
        if service is None:
            return []
        try:
            open_ = service.router.agent(agent_id).offered
        except UnknownIdError:
            return []
        pops = self._pops.get(agent_id, {})
        for stale in [c for c in pops if c not in open_]:
            del pops[stale]
        offers = []
        for contact_id in sorted(open_):
            offer = pops.get(contact_id)
            if offer is None:  # offered through the router but not (yet) delivered here
                try:
                    view = service.router.contact(contact_id)
                except UnknownIdError:
                    continue
                if view.channel not in self.channels:
                    continue
                offer = Offer(
                    contact_id=contact_id,
                    channel=view.channel,
                    queue=view.queue,
                    offered_at=view.entered_at,
                    expires_at=None,
                    customer_id=view.customer_id,
                    customer_name=None if (c := self._chats.get(contact_id)) is None else c.name,
                    attributes=_plain(dict(view.attributes)),
                    intent=None,
                    ivr={},
                    profile={},
                    history=[],
                    transcript=[],
                )
            chat = self._chats.get(contact_id)
            if chat is not None:
                # the customer may have written since the offer was made
                offer = msgspec.structs.replace(offer, transcript=list(chat.transcript))
            offers.append(offer)
        return offers

    def _offer_gone(self, agent_id: str, contact_id: str, reason: str) -> None:
        pops = self._pops.get(agent_id)
        if pops is not None:
            pops.pop(contact_id, None)
            if not pops:
                del self._pops[agent_id]
        self.to_agent(agent_id, frame("offer_gone", contact_id=contact_id, reason=reason))

    def to_agent(self, agent_id: str, data: str) -> None:
        """Put a frame on every open desktop socket of ``agent_id``. O(its sockets)."""
        boxes = self._desks.get(agent_id)
        if not boxes:
            return
        for box in list(boxes):
            if not box.put(data):
                self._drop(boxes, box)

    def _drop(self, boxes: set[Outbox], box: Outbox) -> None:
        boxes.discard(box)
        if box.overflowed:
            self.dropped += 1

    def _push_state(self, agent_id: str) -> None:
        from ._views import agent_state

        state = agent_state(self, agent_id)
        if state is not None:
            self.to_agent(agent_id, _encoder.encode({"type": "state", "state": state}).decode())

    def attach_desk(self, agent_id: str) -> Outbox:
        """A new desktop socket of ``agent_id``: its outbox."""
        box = Outbox(self._settings.send_queue)
        self._desks.setdefault(agent_id, set()).add(box)
        return box

    def detach_desk(self, agent_id: str, box: Outbox) -> None:
        """A desktop socket closed."""
        boxes = self._desks.get(agent_id)
        if boxes is not None:
            self._drop(boxes, box)
            if not boxes:
                del self._desks[agent_id]

    # ---------------------------------------------------------- the wallboard

    def attach_board(self) -> Outbox:
        """A new wallboard socket: its outbox."""
        box = Outbox(self._settings.send_queue)
        self._boards.add(box)
        return box

    def detach_board(self, box: Outbox) -> None:
        """A wallboard socket closed."""
        self._drop(self._boards, box)

    async def _tick_board(self) -> None:
        """Roll the periods at their boundaries, and push the wallboard and the
        agents' statistics while they change: one metrics report per tick, however
        many contacts finished or browsers watch."""
        from ._views import agent_stats, wallboard

        every = self._settings.wallboard_every
        while True:
            with anyio.move_on_after(every):
                await self._wake_board.wait()
            self._wake_board = anyio.Event()
            service = self._service
            if service is None:
                return
            report = None
            if self._periods.due(service.now):
                report = service.metrics.report(service.router.now)
                day = self._periods.day.start
                self._periods.roll(service.now, report)
                began: set[Kind] = {"interval"}
                if self._periods.day.start != day:
                    began.add("day")
                state = service.metrics.state()
                await anyio.to_thread.run_sync(
                    self._baselines.remember, began, self._periods, service.router.now, state
                )
                self._board_dirty = True
            if self._boards and self._board_dirty:
                self._board_dirty = False
                if report is None:
                    report = service.metrics.report(service.router.now)
                board = wallboard(self, report)
                data = _encoder.encode({"type": "wallboard", "wallboard": board}).decode()
                for box in list(self._boards):
                    if not box.put(data):
                        self._drop(self._boards, box)
            dirty, self._stats_dirty = self._stats_dirty, set()
            for agent_id in dirty:
                if self._desks.get(agent_id):
                    if report is None:
                        report = service.metrics.report(service.router.now)
                    stats = agent_stats(self, agent_id, report)
                    self.to_agent(
                        agent_id, _encoder.encode({"type": "stats", "stats": stats}).decode()
                    )
            await anyio.sleep(every)  # at most one push per period, however busy

    # ----------------------------------------------------------- the web chat

    def open_chat(self, address: str) -> Chat | None:
        """A new conversation for a customer at ``address`` (``None``: a limit is reached)."""
        return self._chats.open(address)

    def attach_chat(self, chat: Chat) -> Outbox:
        """The customer's socket of ``chat`` opened (a previous one is replaced)."""
        if chat.outbox is not None:
            chat.outbox.close()
        chat.outbox = Outbox(self._settings.send_queue)
        chat.generation += 1
        if chat.agent_id is not None:
            self.to_agent(chat.agent_id, frame("customer", contact_id=chat.id, connected=True))
        return chat.outbox

    def detach_chat(self, chat: Chat, box: Outbox) -> None:
        """The customer's socket closed: a grace period starts (or, closed, it is forgotten)."""
        if chat.outbox is not box:
            return  # replaced by a newer socket
        chat.outbox = None
        if box.overflowed:
            self.dropped += 1
        if chat.state == "closed":
            if chat.agent_id is None or self._gone(chat.id):
                self._chats.forget(chat)
            return
        if chat.state == "new":
            self._chats.forget(chat)  # never became a contact: nothing to abandon
            return
        chat.generation += 1
        if chat.agent_id is not None:
            self.to_agent(chat.agent_id, frame("customer", contact_id=chat.id, connected=False))
        service = self._service
        if service is not None:
            service.start_soon(self._grace, chat, chat.generation)

    def _gone(self, contact_id: str) -> bool:
        service = self._service
        if service is None:
            return True
        try:
            service.router.contact(contact_id)
        except UnknownIdError:
            return True
        return False

    async def _grace(self, chat: Chat, generation: int) -> None:
        await anyio.sleep(self._settings.resume_grace)
        if chat.generation == generation and not chat.connected:
            await self.leave(chat)

    async def _orphans(self) -> None:
        """Web chats the router holds from before a restart have lost their customer
        (conversations live in memory): give them the grace period, then those still
        in line abandon. So do the chats a crash left in the chat flow, which the
        service routes as it starts (``service.flows.recovered``)."""
        service = self._service
        if service is None:
            return
        channel = self._settings.chat_channel
        router = service.router

        def orphaned(contact_ids: Iterable[str]) -> list[str]:
            found = []
            for cid in contact_ids:
                if not cid.startswith("web-") or self._chats.get(cid) is not None:
                    continue
                try:
                    if router.contact(cid).channel == channel:
                        found.append(cid)
                except UnknownIdError:
                    continue
            return found

        orphans = orphaned(router.contact_ids)
        await anyio.sleep(self._settings.resume_grace)
        try:
            recovered = list(service.flows.recovered)
        except CCRouteError:  # stopped meanwhile
            recovered = []
        orphans += [cid for cid in orphaned(recovered) if cid not in orphans]
        for contact_id in orphans:
            try:
                state = router.contact(contact_id).state
            except UnknownIdError:
                continue
            if state in (ContactState.WAITING, ContactState.OFFERED):
                try:
                    await service.abandon(contact_id)
                except CCRouteError as error:
                    log.info(
                        "chat %s from before the restart: could not abandon: %s", contact_id, error
                    )

    def keep_pop(self, contact_id: str, agent_id: str) -> None:
        """The agent is accepting: keep the offer's screen pop for the conversation
        (the ``Accepted`` event does it too, later: for the accept's own answer)."""
        pop = self._pops.get(agent_id, {}).get(contact_id)
        if pop is not None:
            self._held[contact_id] = pop

    def drop_pop(self, contact_id: str) -> None:
        """Forget a kept screen pop (the accept failed)."""
        self._held.pop(contact_id, None)

    def screen_pop(self, contact_id: str) -> Offer | None:
        """The screen pop of the offer a held contact was accepted from, or ``None``."""
        return self._held.get(contact_id)

    def mask(self, text: str) -> str:
        """``text`` masked by the service's rules (card numbers, ...): what a
        transcript keeps and every screen shows. O(len(text))."""
        service = self._service
        return text if service is None else service.masking.text(text)

    def ringing(self, contact_id: str) -> list[str]:
        """The agents a contact is offered to now (with its screen pop here). O(agents with offers)."""
        return [agent_id for agent_id, pops in self._pops.items() if contact_id in pops]

    async def leave(self, chat: Chat) -> None:
        """The customer left (or its grace period ran out): a contact still in line
        abandons, a flow ends ``abandoned``, an answered chat stays with its agent
        (who is told, and completes it). The conversation closes for the customer."""
        service = self._service
        if service is None or chat.state == "closed":
            return
        session = chat.session
        if session is not None and getattr(session, "running", False):
            try:
                await cast(Any, session).hangup()
            except CCRouteError as error:
                log.info("chat %s: the flow could not end: %s", chat.id, error)
        try:
            view = service.router.contact(chat.id)
        except UnknownIdError:
            view = None
        reason = "abandoned"
        if view is not None and view.state in (ContactState.WAITING, ContactState.OFFERED):
            try:
                await service.abandon(chat.id)
            except CCRouteError as error:
                log.info("chat %s: could not abandon: %s", chat.id, error)
        elif view is not None:
            reason = "left"
        if chat.agent_id is not None:
            self.to_agent(chat.agent_id, frame("customer", contact_id=chat.id, connected=False))
        self.close_chat(chat, reason)

    def close_chat(self, chat: Chat, reason: str) -> None:
        """The conversation is over for the customer: tell it and close its socket."""
        if chat.state == "closed":
            return
        chat.state = "closed"
        chat.reason = reason
        chat.send(frame("closed", reason=reason))
        if chat.outbox is not None:
            chat.outbox.close()
        if (chat.agent_id is None or self._gone(chat.id)) and not chat.connected:
            self._chats.forget(chat)

    def flow_sender(self, chat: Chat) -> Any:
        """The ``send`` of a live flow session: the flow's outputs go to the customer."""

        def send(output: Any) -> None:
            service = self._service
            at = service.now if service is not None else 0.0
            if output.kind == "prompt" and output.text is not None:
                prompt = output.prompt
                chat.sensitive = bool(prompt is not None and prompt.sensitive)
                message = chat.add("bot", self.mask(output.text), at)
                chat.send(
                    frame(
                        "prompt",
                        text=output.text,
                        choices=list(prompt.choices) if prompt is not None else [],
                        sensitive=chat.sensitive,
                        message=message,
                    )
                )
            elif output.kind in ("message", "announcement") and output.text is not None:
                chat.send(
                    _encoder.encode(
                        {"type": "message", "message": chat.add("bot", self.mask(output.text), at)}
                    ).decode()
                )
            elif output.kind == "ended":
                chat.sensitive = False
                if chat.state == "flow" and output.outcome in ("routed", "fallback", "callback"):
                    chat.state = "queued"

        return send

    @property
    def flow(self) -> Any:
        """The chatbot flow web chats go through first, or ``None``."""
        return self._flow
