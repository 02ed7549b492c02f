"""Layered left-to-right layout of a bounded lineage subgraph. Pure: no ORM, no drawing.

The browser explorer and the PDF reports draw the same positions, so a diagram in a report looks like
the one the reviewer saw on screen. Layers come from ``graph.layers`` (longest path from a source).

The order inside a layer is the Sugiyama recipe: an edge that skips layers is split into a chain of
placeholder ("dummy") nodes, one per layer it passes, so that long edges take part in the ordering; the
first order is a depth-first walk from the sources (a pipeline's nodes stay together); then barycentre
sweeps, down and up, each followed by a pass that swaps neighbours while that removes crossings, keeping the
best order seen. The placeholders are dropped at the end: rows hold real nodes only.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .graph import build_graph, layers

MAX_SWEEPS = 24
PATIENCE = 4  # sweeps without improvement before stopping
TRANSPOSE_MAX_LAYER = 120
ALIGN_PASSES = 4
TRANSPOSE_ROUNDS = 4  # adjacent swaps are quadratic in a layer's size: skip them in huge layers


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


@dataclass(frozen=True, eq=False)  # identity hashing: each placeholder is one object, and hashing is hot
class _Dummy:
    """A placeholder for an edge passing through a layer."""

    edge: int
    layer: int


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
    columns = _order(node_list, list(g.edges()), layer_of)

    rows = _rows(columns, list(g.edges()))
    top = min(rows.values())
    positions = {n: Placement(layer=li, order=oi, x=li * column_width, y=(rows[n] - top) * row_height)
                 for li, col in enumerate(columns) for oi, n in enumerate(col)}
    return Layout(positions=positions, width=(len(columns) - 1) * column_width,
                  height=(max(rows.values()) - top) * row_height)


def _rows(columns: list[list[Hashable]], edge_list: list[tuple[Hashable, Hashable]]) -> dict[Hashable, float]:
    """Each node's row (a float, rows at least 1 apart in a layer): first centred, then pulled towards the mean
    row of its neighbours, layer by layer, keeping the order. Straight edges and fewer bends to follow."""
    nbrs: dict[Hashable, list[Hashable]] = {n: [] for col in columns for n in col}
    for s, d in edge_list:
        if s != d:
            nbrs[s].append(d)
            nbrs[d].append(s)
    tallest = max(len(col) for col in columns)
    row = {n: (tallest - len(col)) / 2 + i for col in columns for i, n in enumerate(col)}
    for _ in range(ALIGN_PASSES):
        for col in columns:
            wanted = [sum(row[m] for m in nbrs[n]) / len(nbrs[n]) if nbrs[n] else row[n] for n in col]
            for n, y in zip(col, _spaced(wanted), strict=True):
                row[n] = y
    return row


def _spaced(wanted: list[float]) -> list[float]:
    """The rows closest (least squares) to ``wanted`` that keep the order and stay at least 1 apart:
    pool-adjacent-violators on ``wanted[i] - i``."""
    blocks: list[list[float]] = []  # [mean, weight]
    for i, w in enumerate(wanted):
        blocks.append([w - i, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2 = blocks.pop()
            m1, w1 = blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2])
    out: list[float] = []
    for mean, weight in blocks:
        start = len(out)
        out.extend([mean + start + k for k in range(int(weight))])
    return out


def _order(node_list: list[Hashable], edge_list: list[tuple[Hashable, Hashable]],
           layer_of: dict[Any, int]) -> list[list[Hashable]]:
    """Real nodes per layer, in the order with the fewest crossings found (placeholders included in the count)."""
    down: dict[Hashable, list[Hashable]] = {n: [] for n in node_list}
    up: dict[Hashable, list[Hashable]] = {n: [] for n in node_list}
    for i, (s, d) in enumerate(edge_list):
        ls, ld = layer_of[s], layer_of[d]
        if ld <= ls:
            continue  # an edge the cycle breaking turned backwards: drawn, but not ordered by
        chain: list[Hashable] = [s, *(_Dummy(i, k) for k in range(ls + 1, ld)), d]
        for a, b in zip(chain, chain[1:], strict=False):
            down.setdefault(a, []).append(b)
            up.setdefault(b, []).append(a)
            down.setdefault(b, [])
            up.setdefault(a, [])
    layer = dict(layer_of)
    for n in down:
        if isinstance(n, _Dummy):
            layer[n] = n.layer
    count = 1 + max(layer.values())

    # First order: depth first from the sources in input order, so a pipeline's nodes stay together.
    columns: list[list[Hashable]] = [[] for _ in range(count)]
    seen: set[Hashable] = set()
    for start in [n for n in node_list if not up[n]] + node_list:
        stack = [start]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            columns[layer[n]].append(n)
            stack.extend(reversed(down[n]))

    best = [list(c) for c in columns]
    best_count = total_crossings(best, down)
    stale = 0
    for sweep in range(MAX_SWEEPS):
        if best_count == 0 or stale >= PATIENCE:
            break
        forward = sweep % 2 == 0
        indices = range(1, count) if forward else range(count - 2, -1, -1)
        for i in indices:
            fixed = columns[i - 1] if forward else columns[i + 1]
            neighbours = up if forward else down
            _sort_by_barycentre(columns[i], fixed, neighbours)
        _transpose(columns, up, down)
        now = total_crossings(columns, down)
        if now < best_count:
            best, best_count, stale = [list(c) for c in columns], now, 0
        else:
            stale += 1
    return [[n for n in col if not isinstance(n, _Dummy)] for col in best]


def _sort_by_barycentre(column: list[Hashable], fixed: Sequence[Hashable],
                        neighbours: dict[Hashable, list[Hashable]]) -> None:
    rank = {n: r for r, n in enumerate(fixed)}
    here = {n: r for r, n in enumerate(column)}

    def key(n: Hashable) -> tuple[float, int]:
        ranks = [rank[m] for m in neighbours[n] if m in rank]
        return (sum(ranks) / len(ranks) if ranks else float(here[n]), here[n])

    column.sort(key=key)


def _transpose(columns: list[list[Hashable]], up: dict[Hashable, list[Hashable]],
               down: dict[Hashable, list[Hashable]]) -> None:
    """Swap neighbours in a layer while the swap removes crossings with the layers on both sides."""
    for _ in range(TRANSPOSE_ROUNDS):
        improved = False
        for i, col in enumerate(columns):
            if len(col) > TRANSPOSE_MAX_LAYER:
                continue
            left = {n: r for r, n in enumerate(columns[i - 1])} if i > 0 else {}
            right = {n: r for r, n in enumerate(columns[i + 1])} if i + 1 < len(columns) else {}
            # The other layers do not move while this one is swept: each node's neighbour ranks are fixed.
            ranks = {n: ([left[m] for m in up[n] if m in left], [right[m] for m in down[n] if m in right])
                     for n in col}
            for j in range(len(col) - 1):
                a, b = ranks[col[j]], ranks[col[j + 1]]
                if _pair_crossings(b, a) < _pair_crossings(a, b):
                    col[j], col[j + 1] = col[j + 1], col[j]
                    improved = True
        if not improved:
            return


def _pair_crossings(a: tuple[list[int], list[int]], b: tuple[list[int], list[int]]) -> int:
    """Crossings between the edges of node ``a`` placed above node ``b``, on both sides."""
    return sum(1 for x in a[0] for y in b[0] if x > y) + sum(1 for x in a[1] for y in b[1] if x > y)


def total_crossings(columns: list[list[Hashable]], down: dict[Hashable, list[Hashable]]) -> int:
    """Crossings between every pair of adjacent layers, counted as inversions (a Fenwick tree)."""
    total = 0
    for i in range(len(columns) - 1):
        rank = {n: r for r, n in enumerate(columns[i + 1])}
        targets = [rank[m] for n in columns[i] for m in sorted(down.get(n, ()), key=lambda m: rank.get(m, -1))
                   if m in rank]
        total += _inversions(targets, len(columns[i + 1]))
    return total


def _inversions(values: list[int], size: int) -> int:
    tree = [0] * (size + 1)
    count = 0
    for seen, v in enumerate(values):
        # pairs (earlier, this) with earlier > this: earlier ones minus those <= v
        k, not_greater = v + 1, 0
        while k > 0:
            not_greater += tree[k]
            k -= k & -k
        count += seen - not_greater
        k = v + 1
        while k <= size:
            tree[k] += 1
            k += k & -k
    return count


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


def drawn_crossings(result: Layout, edges: Iterable[tuple[Hashable, Hashable]]) -> int:
    """Crossings of the edges drawn as straight lines between the placed nodes, long edges included.

    What a reader sees, whatever algorithm placed the nodes: two edges cross when, over the columns they both
    span, the one above at one end is below at the other. Edges sharing an end node never count."""
    segs = []
    for s, d in edges:
        ps, pd = result.positions.get(s), result.positions.get(d)
        if ps is not None and pd is not None and pd.x > ps.x:
            segs.append((s, d, ps.x, ps.y, pd.x, pd.y))
    count = 0
    for i, (s1, d1, x1, y1, x2, y2) in enumerate(segs):
        for s2, d2, u1, v1, u2, v2 in segs[i + 1:]:
            if len({s1, d1, s2, d2}) < 4:
                continue
            lo, hi = max(x1, u1), min(x2, u2)
            if hi <= lo:
                continue
            at = [_y_at(x1, y1, x2, y2, x) - _y_at(u1, v1, u2, v2, x) for x in (lo, hi)]
            if at[0] * at[1] < 0:
                count += 1
    return count


def _y_at(x1: float, y1: float, x2: float, y2: float, x: float) -> float:
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1)
