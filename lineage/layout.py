"""Layered left-to-right layout of a bounded lineage subgraph. Pure: no ORM, no drawing.

The browser explorer and the PDF reports draw the same positions, so a diagram in a report looks like
the one the reviewer saw on screen. Layers come from ``graph.layers`` (longest path from a source);
the order inside a layer is improved by a few barycentre sweeps to reduce edge crossings.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from .graph import build_graph, layers

SWEEPS = 4


@dataclass(frozen=True)
class Placement:
    layer: int
    order: int
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    positions: dict[Hashable, Placement]
    width: float
    height: float


def layout(
    nodes: Iterable[Hashable],
    edges: Iterable[tuple[Hashable, Hashable]],
    *,
    column_width: float = 220.0,
    row_height: float = 60.0,
) -> Layout:
    """Place ``nodes`` in columns by layer and rows by crossing-reducing order.

    Node ids may be any hashable; ``edges`` referring to unknown nodes are ignored. The result is
    deterministic for the same input order.
    """
    node_list = list(dict.fromkeys(nodes))
    g = build_graph(node_list, ((s, d, "") for s, d in edges))
    if not node_list:
        return Layout(positions={}, width=0.0, height=0.0)
    layer_of = layers(g)
    columns: dict[int, list[Hashable]] = {}
    for n in node_list:
        columns.setdefault(layer_of[n], []).append(n)
    ordered = [columns[i] for i in sorted(columns)]
    _reduce_crossings(ordered, g)

    positions: dict[Hashable, Placement] = {}
    tallest = max(len(col) for col in ordered)
    for li, col in enumerate(ordered):
        offset = (tallest - len(col)) * row_height / 2
        for oi, n in enumerate(col):
            positions[n] = Placement(layer=li, order=oi, x=li * column_width, y=offset + oi * row_height)
    return Layout(positions=positions, width=(len(ordered) - 1) * column_width, height=(tallest - 1) * row_height)


def _reduce_crossings(columns: list[list[Hashable]], g: Any) -> None:  # g: a networkx DiGraph (untyped)
    """Barycentre heuristic: sweep right then left, sorting each column by its neighbours' mean rank."""
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for i in indices:
            fixed = columns[i - 1] if forward else columns[i + 1]
            rank = {n: r for r, n in enumerate(fixed)}
            here = {n: r for r, n in enumerate(columns[i])}

            def key(n: Hashable, rank: dict[Hashable, int] = rank, here: dict[Hashable, int] = here,
                    forward: bool = forward) -> tuple[float, int]:
                neighbours = g.predecessors(n) if forward else g.successors(n)
                ranks = [rank[m] for m in neighbours if m in rank]
                return (sum(ranks) / len(ranks) if ranks else float(here[n]), here[n])

            columns[i].sort(key=key)


def crossings(columns: list[list[Hashable]], edges: Iterable[tuple[Hashable, Hashable]]) -> int:
    """Number of crossings between adjacent columns: used by tests to show the sweeps help."""
    where = {n: (ci, oi) for ci, col in enumerate(columns) for oi, n in enumerate(col)}
    spans = [
        (where[s][1], where[d][1], where[s][0])
        for s, d in edges
        if s in where and d in where and where[d][0] == where[s][0] + 1
    ]
    count = 0
    for i, (a1, b1, c1) in enumerate(spans):
        for a2, b2, c2 in spans[i + 1 :]:
            if c1 == c2 and (a1 - a2) * (b1 - b2) < 0:
                count += 1
    return count
