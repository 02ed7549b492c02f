"""Split a lineage diagram into pages that stay legible at print size. Pure: bundle dicts in, dicts out.

A diagram is laid out in layers (columns, ``lineage.layout``) from sources to consumers. Drawn whole on one
page a graph of 20 layers shrinks to 13 %, which nobody can read. Here a diagram becomes *parts*: ranges of
consecutive layers (and, when a range is still too tall, bands of rows) each small enough to draw at no less
than ``min_scale`` on a landscape page. An edge that leaves a part ends in a continuation marker naming the
part (and the node) where it goes on; the part it arrives in starts from a marker naming where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .pdf_draw import BOX_H, BOX_W, PAD

CONTINUATION = "continuation"
COLUMN_GAP = 36.0


@dataclass
class Part:
    """One page of a split diagram: its own nodes and edges (markers included) and where it sits."""

    number: int
    layers: tuple[int, int]  # first and last layer index (1-based, inclusive)
    rows: tuple[int, int] | None  # first and last row band when the layer range is split by height too
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def as_diagram(self, parent: dict[str, Any], parts: int) -> dict[str, Any]:
        where = f"layers {self.layers[0]}-{self.layers[1]}" if self.layers[0] != self.layers[1] \
            else f"layer {self.layers[0]}"
        if self.rows:
            where += f", rows {self.rows[0]}-{self.rows[1]}"
        return {**{k: v for k, v in parent.items() if k not in ("nodes", "edges")},
                "title": f"{parent.get('title') or parent.get('root')} (part {self.number} of {parts}: {where})",
                "nodes": self.nodes, "edges": self.edges, "part": self.number, "parts": parts}


def _columns(xs: list[float]) -> list[float]:
    return sorted(set(xs))


def split(diagram: dict[str, Any], *, width: float, height: float, min_scale: float) -> list[dict[str, Any]]:
    """The diagram as one or more parts, each drawable at ``min_scale`` or more in ``width`` x ``height``.

    Returns ``[diagram]`` unchanged when it fits whole. Nodes need positions (``x``, ``y``) as the bundle
    carries them.
    """
    nodes = [n for n in diagram.get("nodes") or [] if isinstance(n, dict)]
    if not nodes or not all(isinstance(n.get("x"), int | float) and isinstance(n.get("y"), int | float)
                            for n in nodes):
        return [diagram]
    xs, ys = [float(n["x"]) for n in nodes], [float(n["y"]) for n in nodes]
    total_w = max(xs) - min(xs) + BOX_W + 2 * PAD
    total_h = max(ys) - min(ys) + BOX_H + 2 * PAD
    if min(1.0, width / total_w, height / total_h) >= min_scale:
        return [diagram]
    columns = _columns(xs)
    step_x = BOX_W + COLUMN_GAP  # printed parts use a tighter column step than the screen layout
    rows = _columns(ys)
    step_y = min((b - a for a, b in zip(rows, rows[1:], strict=False)), default=BOX_H + 22)
    # Markers take a column on each side of a part: leave room for them.
    per_page_cols = max(1, math.floor((width / min_scale - BOX_W - 2 * PAD) / step_x) + 1 - 2)
    per_page_rows = max(1, math.floor((height / min_scale - BOX_H - 2 * PAD) / step_y) + 1)
    col_of = {c: i for i, c in enumerate(columns)}
    row_of = {r: i for i, r in enumerate(rows)}
    by_id = {str(n.get("id")): n for n in nodes}
    part_of: dict[str, int] = {}
    parts: list[Part] = []
    for c0 in range(0, len(columns), per_page_cols):
        c1 = min(len(columns), c0 + per_page_cols) - 1
        members = [n for n in nodes if c0 <= col_of[float(n["x"])] <= c1]
        used_rows = sorted({row_of[float(n["y"])] for n in members})
        bands = [used_rows[i:i + per_page_rows] for i in range(0, len(used_rows), per_page_rows)] or [[]]
        for band in bands:
            keep = set(band)
            part = Part(len(parts) + 1, (c0 + 1, c1 + 1),
                        (band[0] + 1, band[-1] + 1) if len(bands) > 1 and band else None)
            for n in members:
                if row_of[float(n["y"])] in keep:
                    # Re-based so each part starts at the left (one column kept free for incoming markers).
                    part.nodes.append({**n, "x": (col_of[float(n["x"])] - c0 + 1) * step_x,
                                       "y": float(n["y"]) - rows[band[0]] if band else float(n["y"])})
                    part_of[str(n.get("id"))] = part.number
            parts.append(part)
    if len(parts) == 1:
        return [diagram]
    by_number = {p.number: p for p in parts}
    placed = {str(n.get("id")): n for p in parts for n in p.nodes}
    for e in diagram.get("edges") or []:
        if not isinstance(e, dict):
            continue
        src, dst = str(e.get("src")), str(e.get("dst"))
        if src not in part_of or dst not in part_of:
            continue
        a, b = part_of[src], part_of[dst]
        if a == b:
            by_number[a].edges.append(e)
            continue
        out_id, in_id = f"{CONTINUATION}:{src}>{dst}:out", f"{CONTINUATION}:{src}>{dst}:in"
        pa, pb = by_number[a], by_number[b]
        right = max(float(n["x"]) for n in pa.nodes if n.get("kind") != CONTINUATION) + step_x
        pa.nodes.append({"id": out_id, "kind": CONTINUATION, "tags": [], "x": right, "y": placed[src]["y"],
                         "name": f"\u2192 part {b}: {_name(by_id[dst])}"})
        pa.edges.append({"src": src, "dst": out_id, "kind": e.get("kind")})
        pb.nodes.append({"id": in_id, "kind": CONTINUATION, "tags": [], "x": 0.0, "y": placed[dst]["y"],
                         "name": f"\u2190 part {a}: {_name(by_id[src])}"})
        pb.edges.append({"src": in_id, "dst": dst, "kind": e.get("kind")})
    for p in parts:
        _spread_markers(p, step_y)
    return [p.as_diagram(diagram, len(parts)) for p in parts]


def _name(node: dict[str, Any]) -> str:
    return str(node.get("name") or node.get("id"))


def _spread_markers(part: Part, step_y: float) -> None:
    """Markers in the same column and row would overlap: move later ones down a row each."""
    taken: set[tuple[float, float]] = {(float(n["x"]), float(n["y"])) for n in part.nodes
                                       if n.get("kind") != CONTINUATION}
    for n in part.nodes:
        if n.get("kind") != CONTINUATION:
            continue
        x, y = float(n["x"]), float(n["y"])
        while (x, y) in taken:
            y += step_y
        n["y"] = y
        taken.add((x, y))
