"""Column walks in one statement (issue 19): ``column_walk`` against the level-by-level walk it replaced (kept
here as the reference), on random column graphs with whole-dataset columns, cycles and both transformation types,
on both engines."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from lineage import column_selectors as cs
from lineage.models import ColumnEdge, Node

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def walk_by_levels(seeds: list[cs.Column], direction: str, depth: int, types: frozenset[str] | None
                   ) -> cs.ColumnWalk:
    """The walk before issue 19: one query per level (``_step``), each column expanded once at its distance, a
    column gone through (a whole dataset's, or one of a whole dataset's columns) at the distance of the column it
    came from."""
    walk = cs.ColumnWalk(direction=direction, depth=depth)
    walk.distance = {c: 0 for c in seeds}
    frontier, level = set(seeds), 0
    while frontier:
        steps = [s for s in cs._step(frontier, direction) if types is None or s[2][0] in types]
        if level == depth:
            walk.cut_by_depth = bool(steps)
            break
        level += 1
        nxt: set[cs.Column] = set()
        for a, b, t in steps:
            if b not in walk.distance:
                walk.distance[b] = level
                nxt.add(b)
            # The old walk said setdefault here, so a column gone through and also reached in the same level got
            # whichever distance its edges' order gave first: the reference takes the lesser, as column_walk does.
            walk.distance[a] = min(walk.distance.get(a, level - 1), level - 1)
            ts = walk.edges.setdefault((b, a) if direction == "upstream" else (a, b), [])
            if t not in ts:
                ts.append(t)
        frontier = nxt
    return walk


def build(seed: int, versions: int = 25, fields: int = 4) -> list[int]:
    rnd = random.Random(seed)
    pks = [n.pk for n in Node.objects.bulk_create([
        Node(node_id=f"datasetVersion:ns:t{i}#1", kind="datasetVersion", namespace="ns", name=f"t{i}", version="1",
             created_at=T0, updated_at=T0) for i in range(versions)])]
    rows = set()
    for _ in range(versions * 5):
        a, b = rnd.sample(pks, 2)
        if rnd.random() < 0.85 and a > b:
            a, b = b, a
        whole = rnd.random() < 0.2  # a filter or join key: the whole output dataset
        kind = "INDIRECT" if whole or rnd.random() < 0.3 else "DIRECT"
        rows.add((a, f"c{rnd.randrange(fields)}", b, "" if whole else f"c{rnd.randrange(fields)}", kind,
                  rnd.choice(["FILTER", "IDENTITY"]), rnd.random() < 0.1))
    ColumnEdge.objects.bulk_create([ColumnEdge(src_id=a, src_field=af, dst_id=b, dst_field=bf, type=t, subtype=st,
                                               masking=m, created_at=T0) for a, af, b, bf, t, st, m in rows])
    return pks


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_column_walk_is_the_level_by_level_walk(seed: int) -> None:
    pks = build(seed)
    rnd = random.Random(seed)
    for _ in range(20):
        seeds = [(pk, rnd.choice(["c0", "c1", "c2", "c3", ""])) for pk in rnd.sample(pks, rnd.choice([1, 1, 3]))]
        direction = rnd.choice(["upstream", "downstream"])
        depth = rnd.choice([0, 1, 2, 3, 20])
        types = rnd.choice([None, frozenset({"DIRECT"}), frozenset({"INDIRECT"})])
        got = cs.column_walk(seeds=seeds, direction=direction, depth=depth, types=types)
        want = walk_by_levels(seeds, direction, depth, types)
        case = (seeds, direction, depth, types)
        assert got.distance == want.distance, case
        assert {k: sorted(v) for k, v in got.edges.items()} == {k: sorted(v) for k, v in want.edges.items()}, case
        assert (got.cut_by_depth, got.cut_by_size) == (want.cut_by_depth, False), case


def test_a_column_walk_cut_by_size_keeps_the_nearest_and_says_so() -> None:
    pks = build(5)
    seed = (pks[-1], "c1")
    full = cs.column_walk(seeds=[seed], direction="upstream", depth=20)
    assert len(full.distance) > 4
    small = cs.column_walk(seeds=[seed], direction="upstream", depth=20, max_nodes=4)
    assert small.cut_by_size and not full.cut_by_size
    nearest = sorted(full.distance.values())[:4]
    assert sorted(d for c, d in small.distance.items() if c in dict(full.distance))[:4] == nearest


def test_a_column_walk_reads_the_edges_it_is_given() -> None:
    pks = build(6)
    seed = (pks[-1], "c1")
    none = cs.column_walk(seeds=[seed], direction="upstream", depth=20,
                          edges=("(SELECT * FROM lineage_columnedge WHERE masking = %s)", [True]))
    assert all(t[3] for ts in none.edges.values() for t in ts)
