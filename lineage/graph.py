"""networkx on bounded subgraphs only: paths and layered layout. No ORM."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx


def build_graph(nodes: Iterable[int], edges: Iterable[tuple[int, int, str]]) -> nx.DiGraph:
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


def layers(g: nx.DiGraph) -> dict[int, int]:
    """Layer of each node for a left-to-right drawing: longest path from a source (cycles broken)."""
    dag = g
    if not nx.is_directed_acyclic_graph(g):
        dag = g.copy()
        while not nx.is_directed_acyclic_graph(dag):
            u, v = nx.find_cycle(dag)[0][:2]
            dag.remove_edge(u, v)
    layer: dict[int, int] = {}
    for n in nx.topological_sort(dag):
        preds = list(dag.predecessors(n))
        layer[n] = 1 + max((layer[p] for p in preds), default=-1)
    return layer
