"""How a batch reaches the database (issue 19): set-based, with short statements, on both storage paths."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from lineage.asof import history_clear
from lineage.models import DatasetRead, Edge, EdgeRetired, Node, RawEvent
from lineage.openlineage import parse_event
from lineage.plan import GraphDelta, NodeDelta, NodeRow, merge_node, stamp
from lineage.services import _merge_newer_in_sql, events_ingest
from portal.audit.models import AuditEntry, AuditPending
from tests.factories import dataset, facet, run_event

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


# -- two batches changing one stored row at once (``services._apply_nodes``) ------------------------------------
_SHARED = "dataset:db:shared"


def _ingest_one(ev: dict[str, Any]) -> None:
    events_ingest(events=[parse_event(json.dumps(ev).encode())], by=None)


def _shared_stored() -> None:
    """``db.shared`` first written at 09:00, last named at 10:00 (its newest time)."""
    _ingest_one(run_event(job="w", time="2026-03-01T09:00:00Z", outputs=[dataset("db", "shared")]))
    _ingest_one(run_event(job="r1", time="2026-03-01T10:00:00Z", inputs=[dataset("db", "shared")]))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent transactions need PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("copy_min_rows", [1, 10**9], ids=["copy", "values"])
def test_two_batches_changing_the_same_dataset_at_once_both_land(copy_min_rows: int) -> None:
    # The second batch merges into the row only after the first commits (it waits for the row's lock, or for the
    # datasets' advisory lock were that taken first): what each says lands, whatever the storage path.
    with override_settings(PORTAL_SQL_COPY_MIN_ROWS=copy_min_rows):
        _shared_stored()
        holding, release = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def first() -> None:
            try:
                with transaction.atomic():
                    _ingest_one(run_event(job="ja", time="2026-03-01T11:00:00Z",
                                          outputs=[dataset("db", "shared", fa=facet(v="a"))]))
                    holding.set()
                    release.wait(timeout=60)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                holding.set()
                connection.close()

        def second() -> None:
            try:
                _ingest_one(run_event(job="jb", time="2026-03-01T11:05:00Z",
                                      inputs=[dataset("db", "shared", fb=facet(v="b"))]))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        t1 = threading.Thread(target=first)
        t1.start()
        assert holding.wait(timeout=30)
        t2 = threading.Thread(target=second)
        t2.start()
        try:
            with connection.cursor() as cur:  # until the second batch waits for the first (no timing asserted)
                for _ in range(600):
                    cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                "WHERE NOT l.granted AND a.datname = current_database()")
                    if cur.fetchone()[0]:
                        break
                    time.sleep(0.05)
                else:
                    pytest.fail("the second batch never waited for the first")
        finally:
            release.set()
            t1.join(timeout=60)
            t2.join(timeout=60)
    assert errors == []
    shared = Node.objects.get(node_id=_SHARED)
    assert (shared.facets["fa"]["v"], shared.facets["fb"]["v"]) == ("a", "b")
    assert set(shared.times["facets"]) == {"fa", "fb"}
    assert shared.event_time == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)


# -- merging stored nodes in SQL (``services._MERGE_NEWER_SQL``) against ``plan.merge_node`` -------------------------
_HOURS = [datetime(2026, 3, 1, h, tzinfo=UTC) for h in (1, 2, 3, 4)] + [datetime(999, 1, 1, tzinfo=UTC)]
_KEYS = ["a", "b", "c"]
_VALUES: list[Any] = [None, 0, 1, "x", {"v": 1}, {"v": [1, "é"]}, [1, 2]]


def _random_row(rng: random.Random, kind: str) -> NodeRow:
    pick = rng.choice
    event_time = pick([*_HOURS[:4], *_HOURS[:4], None, _HOURS[4]])
    latest = [h for h in _HOURS[:4] if event_time is None or h <= event_time] or [_HOURS[0]]
    stamps = [stamp(h) for h in (latest if rng.random() < 0.8 else _HOURS)] + ([""] if rng.random() < 0.1 else [])
    facets = {k: pick(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 3))}
    attrs = {k: pick(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 2))}
    owners = pick([[], [], ["o1"], ["o2", "o1"]])
    state = pick(["", "RUNNING", "COMPLETED", "FAILED"] if kind == "run" else ["", "active"])
    times: dict[str, Any] = {}
    if rng.random() < 0.85:  # else a row from before times were kept
        times = {"facets": {k: pick(stamps) for k in facets if rng.random() < 0.9},
                 "attrs": {k: pick(stamps) for k in attrs if rng.random() < 0.9}}
        times["facets"].update({k: pick(stamps) for k in _KEYS if k not in facets and rng.random() < 0.2})  # deleted
        for part, has in (("owners", owners), ("state", state)):
            if (has and rng.random() < 0.9) or rng.random() < 0.05:
                times[part] = pick(stamps)
    return NodeRow(facets, attrs, owners, state, rng.random() < 0.2, event_time, times)


def _random_delta(rng: random.Random, node_id: str, kind: str) -> NodeDelta:
    graph = GraphDelta()
    for _ in range(rng.choice([1, 1, 2, 3])):  # one event's delta, or a batch's merged one
        facets = {k: rng.choice(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 2))}
        state = rng.choice(["", "RUNNING", "COMPLETED", "ABORTED"] if kind == "run" else ["", "active", "retired"])
        t = rng.choice([*_HOURS[:4], *[datetime(2026, 3, 1, 9, m, tzinfo=UTC) for m in range(8)], None])
        graph.add(NodeDelta(node_id, kind, "ns", node_id, facets=facets,
                            deleted_facets={k for k in _KEYS if k not in facets and rng.random() < 0.2},
                            attrs={k: rng.choice(_VALUES) for k in rng.sample(_KEYS, rng.randint(0, 2))},
                            owners=rng.choice([[], [], ["o3"]]), state=state, state_time=t if state else None,
                            deidentifies=rng.random() < 0.1, event_time=t))
    return graph.nodes[node_id]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the merge in SQL is PostgreSQL's COPY path")
def test_the_merge_in_sql_gives_every_node_merge_node_gives() -> None:
    rng = random.Random(19)
    now = timezone.now()
    merged_in_sql = 0
    for round_ in range(6):
        nodes, deltas, rows = [], [], {}
        for i in range(80):
            kind = "run" if i % 2 else "dataset"
            nid = f"{kind}:ns:r{round_}n{i}"
            rows[nid] = row = _random_row(rng, kind)
            nodes.append(Node(node_id=nid, kind=kind, namespace="ns", name=nid, facets=row.facets, attrs=row.attrs,
                              owners=row.owners, state=row.state, deidentifies=row.deidentifies,
                              event_time=row.event_time, times=row.times, created_at=now, updated_at=now))
            deltas.append(_random_delta(rng, nid, kind))
        Node.objects.bulk_create(nodes)
        expected = {d.node_id: merge_node(copy.deepcopy(rows[d.node_id]), d) for d in deltas}
        with override_settings(PORTAL_SQL_COPY_MIN_ROWS=1):
            merged = _merge_newer_in_sql(deltas, {}, now)
        merged_in_sql += len(merged)
        for nid, facets, attrs, owners, state, deid, event_time, times in Node.objects.filter(
            node_id__startswith=f"run:ns:r{round_}n").union(Node.objects.filter(
                node_id__startswith=f"dataset:ns:r{round_}n")).values_list(
                "node_id", "facets", "attrs", "owners", "state", "deidentifies", "event_time", "times"):
            got = NodeRow(facets, attrs, owners, state, deid, event_time, times)
            assert got == (expected[nid] if nid in merged else rows[nid]), nid
            # newly de-identifying is an audited change: never merged where no audit entry is written
            assert not (nid in merged and expected[nid].deidentifies and not rows[nid].deidentifies), nid
    # Both sides were exercised: most rows in SQL, the rest left for the merge in Python.
    assert 100 < merged_in_sql < 430, merged_in_sql
