"""``/metrics``: the service's figures in the Prometheus text format.

A custom collector reads the service at scrape time (no copies kept up to
date between scrapes): one :meth:`MetricsCollector.report
<ccroute.metrics.MetricsCollector.report>`, the router's O(1) queue and
channel statistics, and the service's health counters. Cost per scrape:
O(queues + channels + agents).

Names follow Prometheus conventions: ``ccroute_queue_answered_total{queue=}``
is a counter since the log began (docs/metrics.md defines each figure),
``ccroute_queue_waiting{queue=}`` a gauge, seconds in ``_seconds``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

if TYPE_CHECKING:
    from ccroute.metrics import GroupStats

    from .channel import WebChannel

__all__ = ["COUNTS", "ServiceCollector", "registry_of"]

#: GroupStats counts exported as counters: (field, help).
COUNTS = (
    ("offered", "Entries into the group (docs/metrics.md: offered)"),
    ("answered", "Entries answered"),
    ("answered_within", "Entries answered within the service-level threshold"),
    ("abandoned", "Entries abandoned before an answer, short abandons included"),
    ("short_abandons", "Entries abandoned within the short-abandon threshold"),
    ("timed_out", "Entries that left unanswered after their maximum wait"),
    ("transferred_out", "Entries that moved to another queue unanswered"),
    ("refused", "Contacts refused at submission"),
    ("handled", "Contacts whose wrap-up ended"),
)
#: GroupStats sums exported as counters, in seconds: (field, name, help).
SUMS = (
    ("total_answer_wait", "answer_wait_seconds", "Sum of the waits of answered entries"),
    ("total_handle_time", "handle_time_seconds", "Sum of the handle times of handled contacts"),
    ("total_wrap_time", "wrap_time_seconds", "Sum of the wrap-up times of handled contacts"),
)


class ServiceCollector(Collector):
    """Reads a :class:`~ccroute_web.WebChannel`'s service at each scrape."""

    def __init__(self, web: WebChannel) -> None:
        self._web = web

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Every family; nothing but ``ccroute_up 0`` while the service is stopped."""
        web = self._web
        service = web.service
        up = GaugeMetricFamily("ccroute_up", "Whether the service takes calls")
        up.add_metric([], 1.0 if service is not None and service.running else 0.0)
        yield up
        if service is None:
            return
        router = service.router
        report = service.metrics.report(router.now)
        for kind, groups in (("queue", report.queues), ("channel", report.channels)):
            yield from _groups(kind, groups)
        waiting = GaugeMetricFamily(
            "ccroute_queue_waiting", "Contacts waiting now", labels=["queue"]
        )
        ringing = GaugeMetricFamily(
            "ccroute_queue_ringing", "Contacts offered and not yet answered now", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "ccroute_queue_scheduled_callbacks",
            "Callbacks held for later now (not waiting yet)",
            labels=["queue"],
        )
        members = GaugeMetricFamily(
            "ccroute_queue_agents",
            "Members of the queue by presence now",
            labels=["queue", "state"],
        )
        target = GaugeMetricFamily(
            "ccroute_queue_service_level_target",
            "The queue's service-level target",
            labels=["queue"],
        )
        threshold = GaugeMetricFamily(
            "ccroute_queue_service_level_threshold_seconds",
            "The queue's service-level threshold",
            labels=["queue"],
        )
        for name in router.queues:
            stats = router.queue_stats(name)
            config = router.queue_config(name)
            waiting.add_metric([name], stats.waiting)
            ringing.add_metric([name], stats.offered)
            scheduled.add_metric([name], stats.scheduled)
            members.add_metric([name, "logged_in"], stats.logged_in)
            members.add_metric([name, "available"], stats.available)
            target.add_metric([name], config.service_level_target)
            threshold.add_metric([name], config.service_level_threshold)
        yield from (waiting, ringing, scheduled, members, target, threshold)
        channel_agents = GaugeMetricFamily(
            "ccroute_channel_agents",
            "Agents with capacity on the channel by presence now",
            labels=["channel", "state"],
        )
        for channel in router.channels:
            cstats = router.channel_stats(channel.name)
            channel_agents.add_metric([channel.name, "logged_in"], cstats.logged_in)
            channel_agents.add_metric([channel.name, "available"], cstats.available)
        yield channel_agents
        by_status = GaugeMetricFamily("ccroute_agents", "Agents by status now", labels=["status"])
        counts: dict[str, int] = {}
        for agent_id in router.agent_ids:
            status = router.agent(agent_id).status.value
            counts[status] = counts.get(status, 0) + 1
        for status in ("offline", "not-ready", "idle", "busy", "wrap-up"):
            by_status.add_metric([status], counts.get(status, 0))
        yield by_status
        team = report.team
        occupancy = GaugeMetricFamily("ccroute_team_occupancy", "Pooled occupancy of every agent")
        if team.occupancy is not None:
            occupancy.add_metric([], team.occupancy)
        yield occupancy
        # ---- health
        seq = GaugeMetricFamily(
            "ccroute_durable_seq", "Sequence number of the last durable log record"
        )
        seq.add_metric([], service.durable_seq)
        yield seq
        hooks = CounterMetricFamily(
            "ccroute_hook_failures", "Plugin calls that failed", labels=["hook", "plugin", "kind"]
        )
        for (hook, plugin, kind), n in sorted(service.hook_failures.items()):
            hooks.add_metric([hook, plugin, kind], n)
        yield hooks
        tasks = CounterMetricFamily(
            "ccroute_task_failures", "Background tasks that raised", labels=["task"]
        )
        for task, n in sorted(service.task_failures.items()):
            tasks.add_metric([task], n)
        yield tasks
        connections = GaugeMetricFamily(
            "ccroute_web_connections", "Open browser sockets by kind", labels=["kind"]
        )
        for kind, n in web.connections().items():
            connections.add_metric([kind], n)
        yield connections
        dropped = CounterMetricFamily(
            "ccroute_web_dropped_clients", "Browsers disconnected because they did not read"
        )
        dropped.add_metric([], web.dropped)
        yield dropped


def _groups(
    kind: str, groups: Mapping[str, GroupStats]
) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
    items = sorted(groups.items())
    for field, help_ in COUNTS:
        family = CounterMetricFamily(f"ccroute_{kind}_{field}", help_, labels=[kind])
        for name, stats in items:
            family.add_metric([name], getattr(stats, field))
        yield family
    for field, metric, help_ in SUMS:
        family = CounterMetricFamily(f"ccroute_{kind}_{metric}", help_, labels=[kind])
        for name, stats in items:
            family.add_metric([name], getattr(stats, field))
        yield family
    in_flight = GaugeMetricFamily(
        f"ccroute_{kind}_in_flight",
        "Entries without an outcome yet (waiting or ringing)",
        labels=[kind],
    )
    longest = GaugeMetricFamily(
        f"ccroute_{kind}_longest_wait_seconds", "Wait of the oldest in-flight entry", labels=[kind]
    )
    level = GaugeMetricFamily(
        f"ccroute_{kind}_service_level",
        "Service level since the log began (ccroute's default variant)",
        labels=[kind],
    )
    for name, stats in items:
        in_flight.add_metric([name], stats.in_flight)
        longest.add_metric([name], stats.longest_current_wait or 0.0)
        value = stats.service_level()
        if value is not None:
            level.add_metric([name], value)
    yield from (in_flight, longest, level)


def registry_of(web: WebChannel) -> CollectorRegistry:
    """A registry of its own (not the process-wide default) holding ``web``'s collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(web))
    return registry
