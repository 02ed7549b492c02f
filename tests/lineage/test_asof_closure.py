"""The as-of sensitive-tag closure in one statement (``asof._closure``, PostgreSQL) against the level-by-level walk
it replaced (``asof._closure_levels``, kept for SQLite): same nodes, edges and cut on random graphs with history
(edges stored at different times, replaced edges, dropped nodes, jobs and de-identifying runs), on both clocks,
with and without passable runs, and under a cap that cuts the walk."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings

from lineage import asof
from lineage.models import Edge, EdgeRetired, Node, NodeRetired

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KINDS = ["dataset", "datasetVersion", "run", "run", "run", "job"]


def _graph(rng: random.Random, n: int) -> tuple[list[int], list[int]]:
    """Random nodes and edges over 100 minutes; returns the live and the dropped node pks."""
    nodes = Node.objects.bulk_create(
        Node(node_id=f"n{i}", kind=rng.choice(KINDS), namespace="ns", name=f"n{i}",
             deidentifies=rng.random() < 0.15, created_at=T0 + timedelta(minutes=rng.randrange(100)),
             event_from=T0 + timedelta(minutes=rng.randrange(100)), updated_at=T0) for i in range(n))
    live = [x.pk for x in nodes]
    top = max(live)
    dropped = [top + 1000 + i for i in range(n // 10)]
    NodeRetired.objects.bulk_create(
        NodeRetired(id=pk, node_id=f"r{pk}", kind=rng.choice(KINDS), namespace="ns", name=f"r{pk}",
                    created_at=T0 + timedelta(minutes=rng.randrange(50)), updated_at=T0,
                    retired_at=T0 + timedelta(minutes=50 + rng.randrange(50))) for pk in dropped)
    pairs = {(rng.choice(live), rng.choice(live)) for _ in range(n * 3)}
    Edge.objects.bulk_create(
        Edge(src_id=s, dst_id=d, kind=rng.choice(["reads", "writes"]),
             created_at=T0 + timedelta(minutes=rng.randrange(100)),
             event_from=T0 + timedelta(minutes=rng.randrange(100))) for s, d in sorted(pairs) if s != d)
    every = live + dropped
    EdgeRetired.objects.bulk_create(
        EdgeRetired(src_id=rng.choice(every), dst_id=rng.choice(every), kind="reads",
                    created_at=T0 + timedelta(minutes=rng.randrange(60)), event_from=T0,
                    retired_at=T0 + timedelta(minutes=40 + rng.randrange(60))) for _ in range(n))
    return live, dropped


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite walks level by level: nothing to compare")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_one_statement_closure_finds_what_the_level_by_level_walk_finds(seed: int) -> None:
    rng = random.Random(seed)
    live, dropped = _graph(rng, 300)
    deid = list(Node.objects.filter(deidentifies=True).values_list("pk", flat=True))
    checked = cut = 0
    for cap in (5000, 40):
        with override_settings(LINEAGE_MAX_NODES=cap):
            for _ in range(12):
                at = asof.AsOf(T0 + timedelta(minutes=rng.randrange(110)), rng.choice(asof.KINDS))
                seeds = rng.sample(live + dropped, rng.randint(1, 4))
                passable = frozenset(rng.sample(deid, min(len(deid), rng.randint(0, 10))))
                new_info, new_edges, new_cut = asof._closure(seeds, at, passable)
                old_info, old_edges, old_cut = asof._closure_levels(seeds, at, passable)
                assert new_info == old_info, (seeds, at, passable)
                assert sorted(new_edges) == sorted(old_edges), (seeds, at, passable)
                assert new_cut == old_cut
                checked += len(new_info) > 10
                cut += new_cut
    assert checked > 5 and cut > 0  # the graphs gave the walks something to find, and the cap cut some
