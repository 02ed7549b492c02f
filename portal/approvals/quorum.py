"""Quorum across approver groups: one person, one vote, counted for at most one group. Pure, no ORM."""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
from networkx.algorithms import bipartite


def quorum_assign(
    needs: Mapping[str, int], voters: Mapping[str, set[str]]
) -> tuple[bool, dict[str, str], dict[str, int]]:
    """Assign voters to group slots so that as many slots as possible are filled.

    ``needs`` maps each group to its minimum; ``voters`` maps each voter to the groups they belong to.
    Returns (quorum met, voter -> group counted for, group -> approvals still missing). A maximum bipartite
    matching finds the best assignment, so a person in two groups never fills both, yet never blocks
    a quorum that another assignment would meet.
    """
    g = nx.Graph()
    slots = [(group, i) for group, n in needs.items() for i in range(n)]
    g.add_nodes_from((("v", v) for v in voters), bipartite=0)
    g.add_nodes_from((("s", s) for s in slots), bipartite=1)
    for v, groups in voters.items():
        for group, i in slots:
            if group in groups:
                g.add_edge(("v", v), ("s", (group, i)))
    left = {("v", v) for v in voters}
    matching = bipartite.hopcroft_karp_matching(g, top_nodes=left) if g.number_of_edges() else {}
    assigned = {node[1]: matching[node][1][0] for node in left if node in matching}
    missing = dict(needs)
    for group in assigned.values():
        missing[group] -= 1
    return all(n <= 0 for n in missing.values()), assigned, {k: v for k, v in missing.items() if v > 0}
