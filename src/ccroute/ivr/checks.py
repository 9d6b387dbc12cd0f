"""The load-time checks of a flow's graph, each refusal naming the node.

Run by :class:`~ccroute.ivr.Flow` when it is made, in this order:

1. the start node and every reference (an option's ``next``, a rule's
   ``next``, ``otherwise``, ``no_match``, ``on_error``) name a node;
2. no dead end: every node that does not end the flow has a way on (a
   menu has options; collect, set, action, callback and announce nodes
   have ``next``; a condition has ``otherwise``);
3. every node is reachable from the start;
4. no loop without exit: from every node, some node that ends the flow
   (transfer, end, callback) can be reached through the references;
5. no loop that takes no input: a cycle of set, condition and announce
   nodes (and callback offers with a wait limit, which pass on silently
   when the wait is short) would pass round forever within one call.

Only references count as ways on: the fallback a session takes when
retries run out is a safety net, not a way through the flow. Cost: O(nodes
+ references).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import FlowError
from .nodes import CallbackNode, ConditionNode, Flow, MenuNode, Node

__all__ = ["check_flow"]


def _needs(node: Node) -> str | None:
    """The field a dead-end node lacks, or ``None`` when it has a way on."""
    if node.terminal and not hasattr(node, "next"):
        return None
    if isinstance(node, MenuNode):
        return None if node.options else "options"
    if isinstance(node, ConditionNode):
        return None if node.otherwise is not None else "otherwise"
    if getattr(node, "next", None) is None:
        return "next"
    return None


def _reachable(start: str, graph: Mapping[str, list[str]]) -> dict[str, None]:
    seen: dict[str, None] = {start: None}
    todo = [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen[target] = None
                todo.append(target)
    return seen


def check_flow(flow: Flow) -> None:
    """Refuse ``flow`` with a :class:`~ccroute.FlowError` naming the node when its
    graph breaks one of the rules above; return ``None`` when it passes."""
    nodes = flow.nodes
    if flow.start not in nodes:
        raise FlowError(f"start names unknown node {flow.start!r}", field="start")
    for node_id, node in nodes.items():
        for field, target in node.edges():
            if target not in nodes:
                raise FlowError(f"unknown node {target!r}", node=node_id, field=field)
    for node_id, node in nodes.items():
        lacking = _needs(node)
        if lacking is not None:
            raise FlowError(
                f"dead end: a {node.KIND} node needs {lacking!r} to go on",
                node=node_id,
                field=lacking,
            )
    graph = {node_id: [target for _, target in node.edges()] for node_id, node in nodes.items()}
    reached = _reachable(flow.start, graph)
    unreachable = [node_id for node_id in nodes if node_id not in reached]
    if unreachable:
        names = ", ".join(repr(n) for n in unreachable)
        raise FlowError(
            f"unreachable from start {flow.start!r} (unreachable: {names})", node=unreachable[0]
        )
    # Nodes from which a terminal node can be reached: search back from the terminals.
    back: dict[str, list[str]] = {node_id: [] for node_id in nodes}
    for node_id, targets in graph.items():
        for target in targets:
            back[target].append(node_id)
    exits: dict[str, None] = {}
    for node_id, node in nodes.items():
        if node.terminal and node_id not in exits:
            exits.update(_reachable(node_id, back))
    for node_id in nodes:
        if node_id not in exits:
            raise FlowError(
                "loop without exit: no transfer, end or callback node can be reached from it",
                node=node_id,
            )
    _check_instant_loops(flow)


def _silent_edges(node: Node) -> list[str]:
    """The targets a node may pass on to within one call, without input."""
    if node.automatic:
        return [target for _, target in node.edges()]
    if isinstance(node, CallbackNode) and node.above is not None and node.next is not None:
        return [node.next]  # the wait is short: on to next without a word
    return []


def _check_instant_loops(flow: Flow) -> None:
    """Refuse a cycle of nodes passed without input (it would spin within one call)."""
    nodes = flow.nodes
    silent = {node_id: _silent_edges(node) for node_id, node in nodes.items()}
    automatic = {node_id for node_id, targets in silent.items() if targets}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in nodes:  # declaration order: the same flow names the same node
        if root not in automatic or root in state:
            continue
        path = [(root, iter(_auto_targets(silent[root], automatic)))]
        state[root] = 1
        while path:
            node_id, targets = path[-1]
            target = next(targets, None)
            if target is None:
                state[node_id] = 2
                path.pop()
            elif state.get(target) == 1:
                raise FlowError(
                    "loop that takes no input: set, condition, announce or callback nodes "
                    "lead back to it without a prompt or an action between",
                    node=target,
                )
            elif target not in state:
                state[target] = 1
                path.append((target, iter(_auto_targets(silent[target], automatic))))


def _auto_targets(targets: list[str], automatic: set[str]) -> list[str]:
    return [target for target in targets if target in automatic]
