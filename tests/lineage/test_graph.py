"""networkx helpers on small graphs: no database."""

from __future__ import annotations

from lineage.graph import build_graph, layers, shortest_path


def test_it_finds_the_shortest_directed_path() -> None:
    g = build_graph([1, 2, 3, 4], [(1, 2, "a"), (2, 3, "a"), (1, 3, "b"), (3, 4, "a")])
    assert shortest_path(g, 1, 4) == [1, 3, 4]
    assert shortest_path(g, 4, 1) is None


def test_layers_go_left_to_right_even_with_a_cycle() -> None:
    g = build_graph([1, 2, 3], [(1, 2, "a"), (2, 3, "a"), (3, 1, "a")])
    lay = layers(g)
    assert sorted(lay) == [1, 2, 3]
    g2 = build_graph([1, 2, 3], [(1, 2, "a"), (2, 3, "a"), (1, 3, "a")])
    assert layers(g2) == {1: 0, 2: 1, 3: 2}


def test_tags_reach_downstream_and_stop_after_a_stop_node() -> None:
    from lineage.graph import tags_reaching

    # 1 (PHI) -> 2 (stop: de-identifies) -> 3 -> 4; 5 (PII) -> 3; 6 aggregates 2 and 3.
    own = {1: frozenset({"PHI"}), 2: frozenset(), 3: frozenset(), 4: frozenset(), 5: frozenset({"PII"}),
           6: frozenset()}
    edges = [(1, 2, "reads"), (2, 3, "writes"), (3, 4, "reads"), (5, 3, "reads"), (4, 3, "writes")]
    reach = tags_reaching(own, edges, stops={2}, members={6: [2, 3]})
    assert reach[2] == {"PHI"} and reach[3] == {"PII"} and reach[4] == {"PII"}
    assert reach[6] == {"PHI", "PII"}
