"""networkx on bounded subgraphs only: paths and layered layout. No ORM."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

import networkx as nx

# Nodes are database pks in the walks and node ids in the reports' diagrams.
N = TypeVar("N", bound=Hashable)


def build_graph(nodes: Iterable[N], edges: Iterable[tuple[N, N, str]]) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for src, dst, kind in edges:
        if src in g and dst in g:
            g.add_edge(src, dst, kind=kind)
    return g


def shortest_path(g: nx.DiGraph, source: int, target: int) -> list[int] | None:
    """The shortest directed path from ``source`` to ``target``, or None."""
    try:
        return list(nx.shortest_path(g, source, target))
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        return None


def layers(g: nx.DiGraph) -> dict[Any, int]:
    """Layer of each node for a left-to-right drawing: longest path from a source (cycles broken)."""
    dag = g
    if not nx.is_directed_acyclic_graph(g):
        dag = g.copy()
        while not nx.is_directed_acyclic_graph(dag):
            u, v = nx.find_cycle(dag)[0][:2]
            dag.remove_edge(u, v)
    layer: dict[Any, int] = {}
    for n in nx.topological_sort(dag):
        preds = list(dag.predecessors(n))
        layer[n] = 1 + max((layer[p] for p in preds), default=-1)
    return layer


def tags_reaching(
    own: dict[int, frozenset[str]],
    edges: Iterable[tuple[int, int, str]],
    *,
    stops: set[int],
    members: dict[int, list[int]] | None = None,
) -> dict[int, frozenset[str]]:
    """Tags that reach each node of ``own`` along the arrows (between nodes of ``own``): its own, and those of
    everything upstream of it.

    The same rule as an upstream walk from each node: tags flow out of a node unless it is in ``stops``
    (a de-identifying run, or a job, which a walk does not pass through), but always into it. A node in
    ``members`` (a dataset or a job) also holds what reaches its members. One search downstream per tag from
    the nodes that hold it (cycles end where a node was met), not a fixed point over the whole subgraph: the
    as-of explorer carries tags over closures of 5,000 nodes where few hold any.
    """
    after: dict[int, list[int]] = {}
    for src, dst, _ in edges:
        if src in own and dst in own and src not in stops:
            after.setdefault(src, []).append(dst)
    reach: dict[int, set[str]] = {n: set(t) for n, t in own.items()}
    holders: dict[str, list[int]] = {}
    for n, tags in own.items():
        for tag in tags:
            holders.setdefault(tag, []).append(n)
    for tag, start in holders.items():
        todo = [n for n in start if n not in stops]
        passed = set(todo)
        while todo:
            for m in after.get(todo.pop(), ()):
                reach[m].add(tag)
                if m not in passed and m not in stops:
                    passed.add(m)
                    todo.append(m)
    for agg, parts in (members or {}).items():
        if agg in reach:
            for m in parts:
                reach[agg] |= reach.get(m, set())
    return {n: frozenset(t) for n, t in reach.items()}
