"""Layered layout: pure, no database."""

from lineage.layout import crossings, layout


def _columns(result):
    cols: dict[int, list] = {}
    for n, p in sorted(result.positions.items(), key=lambda kv: (kv[1].layer, kv[1].order)):
        cols.setdefault(p.layer, []).append(n)
    return [cols[i] for i in sorted(cols)]


def test_layers_flow_left_to_right_and_rows_do_not_overlap():
    edges = [("raw", "clean"), ("clean", "train"), ("train", "model"), ("model", "prod"), ("raw", "audit")]
    result = layout(["raw", "clean", "train", "model", "prod", "audit"], edges, column_width=100, row_height=10)
    for s, d in edges:
        assert result.positions[s].x < result.positions[d].x
    seen = {(p.x, p.y) for p in result.positions.values()}
    assert len(seen) == len(result.positions)
    assert result.width == 400


def test_barycentre_sweeps_remove_the_crossing_of_a_twisted_input():
    # a->d, b->c in input order a,b / c,d crosses; the sweep untwists it.
    edges = [("a", "d"), ("b", "c")]
    result = layout(["a", "b", "c", "d"], edges)
    assert crossings([["a", "b"], ["c", "d"]], edges) == 1
    assert crossings(_columns(result), edges) == 0


def test_cycles_unknown_edges_and_empty_input_are_tolerated():
    result = layout([1, 2, 3], [(1, 2), (2, 3), (3, 1), (3, 99)])
    assert set(result.positions) == {1, 2, 3}
    assert layout([], []).positions == {}
