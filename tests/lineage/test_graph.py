"""networkx helpers on small graphs: no database."""

from __future__ import annotations

import pytest

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


def _tags_reaching_fixed_point(own: dict[int, frozenset[str]], edges: list[tuple[int, int, str]], stops: set[int],
                               members: dict[int, list[int]]) -> dict[int, frozenset[str]]:
    """The rule stated plainly, as the reference: repeat "a node holds what its predecessors that are not stops
    hold" over every edge until nothing changes, then the aggregates take their members'."""
    reach = {n: set(t) for n, t in own.items()}
    changed = True
    while changed:
        changed = False
        for s, d, _ in edges:
            if s in reach and d in reach and s not in stops and not reach[s] <= reach[d]:
                reach[d] |= reach[s]
                changed = True
    for agg, parts in members.items():
        if agg in reach:
            for m in parts:
                reach[agg] |= reach.get(m, set())
    return {n: frozenset(t) for n, t in reach.items()}


@pytest.mark.parametrize("seed", range(20))
def test_tags_reaching_matches_the_fixed_point_of_its_rule_on_random_graphs_with_cycles(seed: int) -> None:
    import random

    from lineage.graph import tags_reaching

    rng = random.Random(seed)
    n = rng.randint(5, 80)
    own = {i: frozenset(t for t in ("PII", "PHI", "PCI") if rng.random() < 0.08) for i in range(n)}
    edges = [(rng.randrange(n + 5), rng.randrange(n + 5), "reads") for _ in range(rng.randint(0, 3 * n))]
    stops = {i for i in range(n) if rng.random() < 0.2}
    members = {rng.randrange(n + 2): rng.sample(range(n + 2), 3) for _ in range(3)}
    assert tags_reaching(own, edges, stops=stops, members=members) == \
        _tags_reaching_fixed_point(own, edges, stops, members)
