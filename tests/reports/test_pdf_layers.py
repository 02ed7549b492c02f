"""Splitting a lineage diagram into legible landscape parts (pure)."""

from __future__ import annotations

from lineage.layout import layout
from portal.reports import pdf_draw
from portal.reports.pdf_layers import CONTINUATION, split

WIDTH, HEIGHT, MIN_SCALE = 770.0, 480.0, 0.7


def chain(layers: int, fan: int = 1) -> dict:
    """``layers`` columns, ``fan`` nodes in each, every node feeding the node in the same row of the next."""
    ids = [f"n{c}-{r}" for c in range(layers) for r in range(fan)]
    edges = [(f"n{c}-{r}", f"n{c + 1}-{r}") for c in range(layers - 1) for r in range(fan)]
    placed = layout(ids, edges)
    return {"title": "m v1", "root": ids[-1],
            "nodes": [{"id": i, "kind": "run", "name": i, "tags": [], "x": placed.positions[i].x,
                       "y": placed.positions[i].y} for i in ids],
            "edges": [{"src": s, "dst": d, "kind": "reads"} for s, d in edges]}


def test_a_small_diagram_stays_whole():
    d = chain(3)
    assert split(d, width=WIDTH, height=HEIGHT, min_scale=MIN_SCALE) == [d]


def test_twenty_layers_split_into_parts_each_drawn_at_a_legible_scale_with_continuations():
    d = chain(20, fan=2)
    parts = split(d, width=WIDTH, height=HEIGHT, min_scale=MIN_SCALE)
    assert len(parts) > 3
    real = [n["id"] for p in parts for n in p["nodes"] if n["kind"] != CONTINUATION]
    assert sorted(real) == sorted(n["id"] for n in d["nodes"])  # every node once
    for p in parts:
        planned = pdf_draw.plan(p, width=WIDTH, max_height=HEIGHT)
        assert planned.scale >= MIN_SCALE, (p["title"], planned.scale)
        assert p["parts"] == len(parts) and f"of {len(parts)}" in p["title"]
    first, second = parts[0], parts[1]
    out = [n for n in first["nodes"] if n["kind"] == CONTINUATION]
    assert out and all(n["name"].startswith("\u2192 part 2: ") for n in out)
    incoming = [n for n in second["nodes"] if n["kind"] == CONTINUATION and n["id"].endswith(":in")]
    assert incoming and all(n["name"].startswith("\u2190 part 1: ") for n in incoming)
    ids = {n["id"] for n in first["nodes"]}
    assert all(e["src"] in ids and e["dst"] in ids for e in first["edges"])


def test_a_tall_layer_range_is_split_by_rows_too():
    d = chain(2, fan=40)
    parts = split(d, width=WIDTH, height=HEIGHT, min_scale=MIN_SCALE)
    assert len(parts) > 1 and "rows" in parts[0]["title"]
    for p in parts:
        assert pdf_draw.plan(p, width=WIDTH, max_height=HEIGHT).scale >= MIN_SCALE
