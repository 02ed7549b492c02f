"""How a batch reaches the database (issue 19): set-based, with short statements, on both storage paths."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings

from lineage.asof import history_clear
from lineage.models import DatasetRead, Edge, EdgeRetired, Node, RawEvent
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


def _round(r: int) -> tuple[list[bytes], list[bytes]]:
    """Two batches sharing datasets: ``a`` reads t0-t10 and writes out0-out4; ``b`` writes t0-t10 (some before
    ``a``'s runs started, re-linking their reads), reads out0-out4, and carries the STARTs of ``a``'s runs (moving
    their reads back). ``b`` is listed in the opposite order."""
    a, b = [], []
    for i in range(120):
        run = str(uuid.UUID(int=r * 1000 + i + 1))
        ins = [dataset("db", f"t{i % 11}"), dataset("db", f"t{(i + 3) % 11}")]
        a.append(run_event(job=f"a_{i % 7}", run_id=run, time=_minute(r * 600 + 120 + i), inputs=ins,
                           outputs=[dataset("db", f"out{i % 5}")]))
        b.append(run_event(job=f"b_{i % 7}", run_id=str(uuid.UUID(int=r * 1000 + 500 + i)),
                           time=_minute(r * 600 + 60 + 2 * i), inputs=[dataset("db", f"out{i % 5}")],
                           outputs=[dataset("db", f"t{i % 11}")]))
        if i % 2:
            b.append(run_event(job=f"a_{i % 7}", run_id=run, event_type="START", time=_minute(r * 600 + 100 + i),
                               inputs=ins, outputs=[dataset("db", f"out{i % 5}")]))
    return [json.dumps(e).encode() for e in a], [json.dumps(e).encode() for e in reversed(b)]


def _minute(m: int) -> str:
    return (datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=m)).isoformat().replace("+00:00", "Z")


def _timed_graph() -> tuple[Any, ...]:
    by = dict(Node.objects.values_list("pk", "node_id"))
    nodes = sorted(Node.objects.values_list("node_id", "event_from"))
    edges = sorted((by[s], by[d], k, t) for s, d, k, t in Edge.objects.values_list("src_id", "dst_id", "kind",
                                                                                    "event_from"))
    return _graph(), nodes, edges


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_sharing_datasets_in_opposite_orders_build_the_serial_graph_without_deadlock() -> None:
    # The datasets' advisory lock is taken after the node rows (versions.datasets_lock has the argument): two
    # batches that read and write the same datasets, one re-linking the other's reads, start together each round.
    rounds = [_round(r) for r in range(3)]
    errors: list[BaseException] = []

    def send(batch: list[bytes], barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=10)
            events_ingest(events=[parse_event(b) for b in batch], by=None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    for a, b in rounds:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(batch, barrier)) for batch in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    concurrent = _timed_graph()
    assert any(k == "reads" for _, _, k, _ in concurrent[2]) and EdgeRetired.objects.exists()

    Node.objects.all().delete()
    RawEvent.objects.all().delete()
    history_clear()
    for a, b in rounds:
        for batch in (a, b):
            events_ingest(events=[parse_event(e) for e in batch], by=None)
    assert _timed_graph() == concurrent
