"""How a batch reaches the database (issue 19): set-based, with short statements, on both storage paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from lineage.models import DatasetRead, Edge, Node, RawEvent
from lineage.openlineage import parse_event
from lineage.services import events_ingest
from portal.audit.models import AuditEntry, AuditPending
from tests.factories import dataset, run_event

pytestmark = pytest.mark.django_db


def _batch(n: int, *, job: str = "etl", minute: int = 0) -> list[bytes]:
    out = []
    for i in range(n):
        t = f"2026-03-01T{(minute + i) // 60 % 24:02d}:{(minute + i) % 60:02d}:00Z"
        ev = run_event(job=f"{job}_{i % 7}", time=t, sha=f"{i % 3:040d}",
                       inputs=[dataset("db", f"t{i % 11}"), dataset("db", f"t{(i + 3) % 11}")],
                       outputs=[dataset("db", f"out{i % 5}")])
        out.append(json.dumps(ev).encode())
    return out


class ParamCount:
    def __init__(self) -> None:
        self.most = 0
        self.statements = 0
        self.worst = ""

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        if params is not None and not many and len(params) > self.most:
            self.most, self.worst = len(params), sql[:200]
        return execute(sql, params, many, context)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_a_batch_binds_no_statement_with_thousands_of_placeholders() -> None:
    # Before issue 19 the nodes, edges, raw events and audit rows went in multi-row VALUES statements of up to
    # 30,000 placeholders, which psycopg split and bound on the client for a quarter of the batch time.
    counter = ParamCount()
    with connection.execute_wrapper(counter):
        outcomes = events_ingest(events=[parse_event(b) for b in _batch(300)], by=None)
    assert [o.status for o in outcomes] == ["created"] * 300
    # Fewer rows than PORTAL_SQL_COPY_MIN_ROWS (20) still go in one VALUES statement: at most 19 rows of 16.
    assert counter.most < 20 * 16, f"{counter.worst} bound {counter.most} parameters"
    audited = AuditEntry.objects.filter(action="lineage.event_ingested").count() + AuditPending.objects.filter(
        action="lineage.event_ingested").count()
    assert RawEvent.objects.count() == 300 and audited == 300


def _graph() -> tuple[Any, ...]:
    by = dict(Node.objects.values_list("pk", "node_id"))
    nodes = sorted(Node.objects.values_list("node_id", "kind", "state", "version", "facets", "attrs", "owners",
                                            "times", "parent__node_id"), key=lambda n: n[0])
    edges = sorted((by[s], by[d], k) for s, d, k in Edge.objects.values_list("src_id", "dst_id", "kind"))
    reads = sorted((by[r], by[d], v, linked) for r, d, v, linked in
                   DatasetRead.objects.values_list("run_id", "dataset_id", "version", "linked"))
    return nodes, edges, reads


@pytest.mark.parametrize("copy_min_rows", [1, 20, 10**9], ids=["copy", "default", "values"])
def test_the_storage_paths_build_the_same_graph(copy_min_rows: int) -> None:
    batches = [_batch(60, minute=0), _batch(60, job="late", minute=-30), _batch(5, minute=200)]
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=copy_min_rows):
        for batch in batches:
            events_ingest(events=[parse_event(b) for b in batch], by=None)
        got = _graph()
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=10**9):
        Node.objects.all().delete()
        RawEvent.objects.all().delete()
        for batch in batches:
            events_ingest(events=[parse_event(b) for b in batch], by=None)
        assert _graph() == got
