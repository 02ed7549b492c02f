"""Versions by event time, whatever the arrival order (issue 11).

Hypothesis builds small worlds of runs that read and write datasets, each run sending a START and a COMPLETE
(or FAIL) with its real times and a few facets. Every permutation of the events, sent in one batch or many,
must give the graph the time-ordered sequence gives: the same node ids, edges, run states, facets, attributes
and versions read; and ``lineage_rebuild`` must give it again. Each read must link the version written by the
latest run that completed at or before the reader started, or ``initial`` when there is none.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage import ids
from lineage.models import Edge, Node
from lineage.openlineage import parse_event
from lineage.services import events_ingest, lineage_rebuild
from tests.factories import PRODUCER, SCHEMA_URL, facet

SCALE = int(os.environ.get("PORTAL_HYPOTHESIS_SCALE", "1"))
FIXED = os.environ.get("HYPOTHESIS_RANDOM") != "1"
NS = "postgres://warehouse:5432"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
DATASETS = ("raw", "clean", "features", "report")


@dataclass(frozen=True)
class World:
    runs: list[dict[str, Any]]  # run_id, job, start, end, reads, writes, ok, facet


@st.composite
def worlds(draw: st.DrawFn) -> World:
    n = draw(st.integers(1, 5))
    # distinct minutes: a START strictly before its own end
    slots = draw(st.permutations(range(2 * n + 2)))[: 2 * n]
    runs = []
    for i in range(n):
        a, b = sorted(slots[2 * i: 2 * i + 2])
        reads = draw(st.sets(st.sampled_from(DATASETS), max_size=2))
        writes = draw(st.sets(st.sampled_from(DATASETS), min_size=0, max_size=2))
        runs.append({"run_id": str(uuid.UUID(int=i + 1)), "job": draw(st.sampled_from(["etl", "train", "report"]))
                     + f"-{i}", "start": T0 + timedelta(minutes=a), "end": T0 + timedelta(minutes=b),
                     "reads": sorted(reads), "writes": sorted(writes), "ok": draw(st.sampled_from([True, True, False])),
                     "note": draw(st.sampled_from(["a", "b"]))})
    return World(runs)


def _events(world: World) -> list[tuple[datetime, bytes]]:
    out = []
    for r in world.runs:
        for etype, t in (("START", r["start"]), ("COMPLETE" if r["ok"] else "FAIL", r["end"])):
            ev = {"eventType": etype, "eventTime": t.isoformat(), "producer": PRODUCER, "schemaURL": SCHEMA_URL,
                  "run": {"runId": r["run_id"], "facets": {"note": facet(text=f"{etype}-{r['note']}")}},
                  "job": {"namespace": "pipelines", "name": r["job"],
                          "facets": {"documentation": facet(description=f"{etype} {t.isoformat()}")}},
                  "inputs": [{"namespace": NS, "name": d, "facets": {"documentation": facet(
                      description=f"read at {t.isoformat()}")}} for d in r["reads"]],
                  "outputs": [{"namespace": NS, "name": d, "facets": {"documentation": facet(
                      description=f"written at {t.isoformat()}")}} for d in r["writes"]]}
            out.append((t, json.dumps(ev).encode()))
    return out


def _graph() -> dict[str, Any]:
    nodes = {nid: (state, facets, {k: v for k, v in attrs.items()}, deid, parent)
             for nid, state, facets, attrs, deid, parent in Node.objects.values_list(
                 "node_id", "state", "facets", "attrs", "deidentifies", "parent__node_id")}
    edges = set(Edge.objects.values_list("src__node_id", "dst__node_id", "kind"))
    return {"nodes": nodes, "edges": edges}


def _ingest(batches: list[list[bytes]]) -> None:
    for batch in batches:
        events_ingest(events=[parse_event(raw) for raw in batch], by=None)


def _expected_reads(world: World) -> set[tuple[str, str]]:
    """(dataset version id, run id) of every read, by the rule in docs/facets.md."""
    out = set()
    for r in world.runs:
        for d in r["reads"]:
            done = [w for w in world.runs if w["ok"] and d in w["writes"] and w["end"] <= r["start"]
                    and w["run_id"] != r["run_id"]]
            version = max(done, key=lambda w: w["end"])["run_id"] if done else "initial"
            out.add((ids.dataset_version_id(NS, d, version), ids.run_id(r["run_id"])))
    return out


def _run_in_rollback(fn: Any) -> Any:
    with transaction.atomic():
        fn()
        result = _graph()
        transaction.set_rollback(True)
    return result


@pytest.mark.django_db
# Both storage paths apply the same rules: on PostgreSQL, "copy" sends every set-based write through COPY and a
# staging table, "values" none (SQLite always takes the second).
@pytest.mark.parametrize("copy_min_rows", [1, 10**9], ids=["copy", "values"])
@settings(max_examples=40 * SCALE, deadline=None, derandomize=FIXED,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(world=worlds(), data=st.data())
def test_every_arrival_order_gives_the_graph_of_the_time_ordered_sequence(copy_min_rows: int, world: World,
                                                                         data: st.DataObject) -> None:
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=copy_min_rows):
        _check_every_arrival_order(world, data)


def _check_every_arrival_order(world: World, data: st.DataObject) -> None:
    events = _events(world)
    ordered = [raw for _, raw in sorted(events, key=lambda e: e[0])]
    reference = _run_in_rollback(lambda: _ingest([[raw] for raw in ordered]))
    reads = {(s, d) for s, d, k in reference["edges"] if k == "reads"}
    assert reads == _expected_reads(world)
    versions_read = {s for s, _ in reads}
    assert all(nid in versions_read or not nid.endswith("#initial") for nid in reference["nodes"])

    shuffled = data.draw(st.permutations(ordered), label="arrival order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(shuffled) - 1)), max_size=3), label="batch cuts"))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True) if shuffled[a:b]]

    def shuffled_then_rebuilt() -> None:
        _ingest(batches)
        assert _graph() == reference
        lineage_rebuild()

    assert _run_in_rollback(shuffled_then_rebuilt) == reference
