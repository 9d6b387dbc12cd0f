"""What the desktop and the wallboard show, read from the router and the service's metrics.

Nothing here keeps state or computes a figure ccroute computes: the router
says which offers and contacts an agent holds and what its queues look like
(O(1) queue statistics), the service's :class:`~ccroute.metrics.MetricsCollector`
gives every count and ratio, and :class:`~ccroute_web._board.Periods` cuts
them into today and this interval.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec
from ccroute.errors import UnknownIdError
from ccroute.lifecycle import ContactState
from ccroute.metrics import AgentStats, GroupStats, MetricsReport
from ccroute.views import AgentStatus

from ._schemas import (
    AgentFigures,
    AgentsByState,
    AgentState,
    AgentStatsOut,
    CentreTotals,
    Conversation,
    Period,
    QueueAgents,
    QueueBoard,
    Wallboard,
)

if TYPE_CHECKING:
    from .channel import WebChannel

__all__ = ["agent_state", "agent_stats", "conversation", "queue_board", "wallboard"]

_STATES = {ContactState.IN_SERVICE: "in-service", ContactState.WRAP_UP: "wrap-up"}


def conversation(web: WebChannel, contact_id: str) -> Conversation | None:
    """A contact an agent holds, as the desktop shows it; ``None`` when the router
    no longer knows it (or it is not in service or wrap-up). O(transcript)."""
    service = web.service
    if service is None:
        return None
    try:
        view = service.router.contact(contact_id)
    except UnknownIdError:
        return None
    state = _STATES.get(view.state)
    if state is None:
        return None
    config = service.router.queue_config(view.queue)
    chat = web.chats.get(contact_id)
    pop = web.screen_pop(contact_id)
    return Conversation(
        contact_id=contact_id,
        channel=view.channel,
        queue=view.queue,
        state=cast(Any, state),
        customer_id=view.customer_id,
        customer_name=None if chat is None else chat.name,
        accepted_at=view.answered_at,
        customer_connected=chat is not None and chat.connected,
        attributes=msgspec.to_builtins(dict(view.attributes), str_keys=True, enc_hook=str),
        dispositions=list(config.dispositions),
        disposition_required=config.disposition_required,
        transcript=[] if chat is None else list(chat.transcript),
        intent=None if pop is None else pop.intent,
        ivr={} if pop is None else pop.ivr,
        profile={} if pop is None else pop.profile,
        history=[] if pop is None else pop.history,
    )


def agent_state(web: WebChannel, agent_id: str) -> AgentState | None:
    """The desktop's view of an agent; ``None`` for an agent the router does not know.

    O(offers + contacts of the agent)."""
    service = web.service
    if service is None:
        return None
    try:
        view = service.router.agent(agent_id)
    except UnknownIdError:
        return None
    contacts = [
        c
        for c in (conversation(web, cid) for cid in sorted(view.in_service | view.wrap_up))
        if c is not None
    ]
    user = web.users.by_agent(agent_id)
    return AgentState(
        agent_id=agent_id,
        name=agent_id if user is None else user.display,
        presence=cast(Any, view.presence.value),
        status=cast(Any, view.status.value),
        reason=web.reasons.get(agent_id),
        capacity=dict(view.capacity),
        load=dict(view.load),
        offers=web.offers_of(agent_id),
        contacts=contacts,
    )


def _figures(stats: AgentStats | None, aht: float | None) -> AgentFigures:
    if stats is None:
        stats = AgentStats(agent_id="")
    return AgentFigures(
        offers=stats.offers,
        accepted=stats.accepted,
        rejected=stats.rejected,
        timed_out=stats.timed_out,
        handled=stats.handled,
        aht=aht,
        handling_time=stats.handling_time,
        available_time=stats.available_time,
        not_ready_time=stats.not_ready_time,
        logged_in_time=stats.logged_in_time,
        occupancy=stats.occupancy,
        utilisation=stats.utilisation,
    )


def agent_stats(
    web: WebChannel, agent_id: str, report: MetricsReport | None = None
) -> AgentStatsOut:
    """An agent's own figures, today and since the log began. O(queues + channels +
    agents) for the metrics report, unless one is given."""
    service = web.service
    assert service is not None
    if report is None:
        report = service.metrics.report(service.router.now)
    today = web.periods.agent_today(report, agent_id)
    tally = web.handle_times.get(agent_id)
    return AgentStatsOut(
        agent_id=agent_id,
        today=_figures(today, None if tally is None else tally.today(web.periods.day.start)),
        total=_figures(report.agents.get(agent_id), None if tally is None else tally.total()),
    )


def _period(stats: GroupStats | None, start: float) -> Period:
    if stats is None:
        return Period(
            start=start,
            offered=0,
            answered=0,
            abandoned=0,
            short_abandons=0,
            timed_out=0,
            handled=0,
            service_level=None,
            asa=None,
            aht=None,
        )
    return Period(
        start=start,
        offered=stats.offered,
        answered=stats.answered,
        abandoned=stats.abandoned,
        short_abandons=stats.short_abandons,
        timed_out=stats.timed_out,
        handled=stats.handled,
        service_level=stats.service_level(),
        asa=stats.asa,
        aht=stats.aht,
    )


def queue_board(web: WebChannel, name: str, report: MetricsReport | None = None) -> QueueBoard:
    """One queue on the wallboard.

    :raises UnknownIdError: the router does not know the queue.
    """
    service = web.service
    assert service is not None
    router = service.router
    config = router.queue_config(name)
    stats = router.queue_stats(name)
    if report is None:
        report = service.metrics.report(router.now)
    today, interval = web.periods.queue(report, name)
    now = report.queues.get(name)
    return QueueBoard(
        name=name,
        waiting=stats.waiting,
        ringing=stats.offered,
        scheduled=stats.scheduled,
        longest_wait=None if now is None else now.longest_current_wait,
        threshold=config.service_level_threshold,
        target=config.service_level_target,
        agents=QueueAgents(logged_in=stats.logged_in, available=stats.available),
        today=_period(today, web.periods.day.start),
        interval=_period(interval, web.periods.interval.start),
    )


def wallboard(web: WebChannel, report: MetricsReport | None = None) -> Wallboard:
    """The whole wallboard. O(queues + channels + agents): one metrics report
    (unless one is given) and one pass over the agents."""
    service = web.service
    assert service is not None
    router = service.router
    if report is None:
        report = service.metrics.report(router.now)
    counts = dict.fromkeys(AgentStatus, 0)
    for agent_id in router.agent_ids:
        counts[router.agent(agent_id).status] += 1
    today, interval = web.periods.total(report)
    return Wallboard(
        at=router.now,
        queues=[queue_board(web, name, report) for name in router.queues],
        agents=AgentsByState(
            offline=counts[AgentStatus.OFFLINE],
            not_ready=counts[AgentStatus.NOT_READY],
            idle=counts[AgentStatus.IDLE],
            busy=counts[AgentStatus.BUSY],
            wrap_up=counts[AgentStatus.WRAP_UP],
        ),
        total=CentreTotals(
            today=_period(today, web.periods.day.start),
            interval=_period(interval, web.periods.interval.start),
        ),
    )
