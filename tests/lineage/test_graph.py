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
