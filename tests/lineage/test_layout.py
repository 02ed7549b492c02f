"""Layered layout: pure, no database."""

from lineage.layout import crossings, drawn_crossings, layout, total_crossings


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


# The readmission pipeline of the demo, as the explorer draws it around the model (depth 5): the commit builds
# every job and run, so its edges skip layers and cross the others unless the long edges take part in ordering.
DEMO_NODES = ["job", "deid_job", "train_job", "commit", "deid_out", "train_run", "run", "deid_run", "admissions",
              "patients", "prod", "staging", "model"]
DEMO_EDGES = [("commit", "job"), ("commit", "deid_job"), ("commit", "train_job"), ("commit", "train_run"),
              ("commit", "run"), ("commit", "deid_run"), ("job", "run"), ("deid_job", "deid_run"),
              ("train_job", "train_run"), ("model", "prod"), ("model", "staging"), ("deid_out", "train_run"),
              ("train_run", "model"), ("run", "train_run"), ("run", "deid_run"), ("deid_run", "deid_out"),
              ("admissions", "deid_run"), ("patients", "deid_run")]


def test_long_edges_take_part_in_the_ordering_so_the_demo_pipeline_draws_with_fewer_crossings():
    # The layout before this change (input order, four sweeps over real nodes, rows centred) drew 4 crossings.
    result = layout(DEMO_NODES, DEMO_EDGES)
    assert drawn_crossings(result, DEMO_EDGES) <= 2


def test_no_two_nodes_share_a_box_even_in_a_dense_300_node_graph():
    nodes, edges = random_layered(300, seed=7)
    result = layout(nodes, edges, column_width=220, row_height=60)
    by_column: dict[float, list[float]] = {}
    for p in result.positions.values():
        by_column.setdefault(p.x, []).append(p.y)
    for ys in by_column.values():
        ys.sort()
        assert all(b - a >= 60 - 1e-6 for a, b in zip(ys, ys[1:], strict=False))
    assert min(p.y for p in result.positions.values()) == 0
    assert result.height == max(p.y for p in result.positions.values())


def test_the_sweeps_reduce_the_crossings_of_a_shuffled_300_node_graph():
    nodes, edges = random_layered(300, seed=7)
    # Each node's first-seen order kept (no sweeps): what the ordering starts from.
    rows = _columns(layout(nodes, edges))
    assert total_crossings(rows, _down(edges)) < crossings_of_input_order(nodes, edges, rows)


def crossings_of_input_order(nodes, edges, ordered_columns):
    layer = {n: li for li, col in enumerate(ordered_columns) for n in col}
    cols = [[n for n in nodes if layer[n] == li] for li in range(len(ordered_columns))]
    return total_crossings(cols, _down(edges))


def _down(edges):
    down: dict = {}
    for s, d in edges:
        down.setdefault(s, []).append(d)
    return down


def random_layered(count: int, *, seed: int):
    import random

    rnd = random.Random(seed)
    per = 30
    layers = [[f"n{li}_{i}" for i in range(per)] for li in range(count // per)]
    edges = []
    for li in range(1, len(layers)):
        for n in layers[li]:
            for _ in range(rnd.randint(1, 3)):
                edges.append((rnd.choice(layers[li - 1]), n))
    nodes = [n for layer in layers for n in layer]
    rnd.shuffle(nodes)
    return nodes, list(dict.fromkeys(edges))
