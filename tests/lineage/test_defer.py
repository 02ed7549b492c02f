"""Deferred application of single events (services.events_ingest(defer=True), services.lineage_apply_pending, issue 19).

The request stores the raw event and its claims and answers; the graph is applied moments later. The answers
(201/200/400/403/409 and the warnings) must be those of the inline path, a waiting event's run must already be
taken, and once applied the graph must be the one the inline path builds.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, current_app
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from lineage import ids
from lineage.models import ColumnEdge, Edge, Node, NodeTag, RawEvent, RunClaim
from lineage.services import lineage_apply_pending, lineage_rebuild
from lineage.tasks import lineage_apply_pending_task
from portal.accounts.models import User
from portal.accounts.services import namespace_assign, user_ensure
from portal.audit.models import AuditEntry, AuditPending
from tests.conftest import api_client, post_event
from tests.factories import dataset, facet, model_output, run_event
from tests.lineage.conftest import Poison
from tests.workers import KEY_PREFIX, broker_clear, broker_conf, broker_ready, worker_thread

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "openlineage" / "events"
PARENT = "0190c6f5-0000-7000-8000-0000000000aa"
RUN = "0190c6f5-0000-7000-8000-0000000000bb"


def _world() -> dict[str, Any]:
    for ns, team in (("team-a", "team-a"), ("s3://a", "team-a"), ("team-b", "team-b"), ("s3://b", "team-b"),
                     ("ml-b", "team-b")):
        namespace_assign(namespace=ns, team=team)
    return {"a": api_client(user_ensure(username="svc-a", role="ingestor", team="team-a")),
            "b": api_client(user_ensure(username="svc-b", role="ingestor", team="team-b"))}


def _varied() -> list[tuple[str, Any]]:
    """(sender, body) in order: created, duplicate, warnings, 400, 403 (namespace, model), 409 (run, parent run)."""
    bodies: list[tuple[str, Any]] = [("a", p.read_bytes()) for p in sorted(SAMPLES.glob("*.json"))[:12]]
    child = run_event(job="child", namespace="team-a", run_id=RUN, inputs=[dataset("s3://b", "raw",
                      tags={"email": ["PII"]})], outputs=[dataset("s3://a", "out", version="1")],
                      run_facets={"parent": facet(run={"runId": PARENT}, job={"namespace": "team-a",
                                                                                  "name": "parent"})})
    bodies += [
        ("b", run_event(job="train", namespace="team-b", run_id=str(uuid.UUID(int=7)),
                        inputs=[dataset("s3://b", "raw", tags={"email": ["PII"]})],
                        outputs=[model_output("credit", "7", namespace="ml-b", auc=0.81)])),
        ("a", child),
        ("a", child),  # an exact duplicate: 200
        ("a", run_event(job="other", namespace="team-a", run_id=RUN)),  # the run is child's: 409
        ("a", run_event(job="other", namespace="team-a", run_facets={"parent": facet(
            run={"runId": PARENT}, job={"namespace": "team-a", "name": "not-parent"})})),  # parent run taken: 409
        ("a", run_event(job="x", namespace="team-b")),  # not team A's namespace: 403
        ("a", run_event(job="steal", namespace="team-a", outputs=[model_output("credit", "7", namespace="ml-b")])),
        ("a", run_event(job="bad", namespace="team-a", run_facets={"parent": facet(run={"runId": "not-a-uuid"},
                                                                                   job={"namespace": "team-a",
                                                                                        "name": "p"})})),
        ("a", b'{"eventType": "COMPLETE"}'),  # 400
        ("a", run_event(job="late", namespace="team-a", time="2026-01-09T10:00:00Z",
                        inputs=[dataset("s3://a", "out", version="1")])),
    ]
    return bodies


def _answers(clients: dict[str, Any], bodies: list[tuple[str, Any]]) -> list[tuple[int, Any]]:
    out = []
    for who, body in bodies:
        r = post_event(clients[who], body)
        data = r.json()
        out.append((r.status_code, data.get("warnings") if r.status_code < 300 else data.get("errors")))
    return out


def _graph() -> tuple[Any, ...]:
    """Nodes, edges, tags and column edges by node id (pks differ between the runs compared)."""
    nid = dict(Node.objects.values_list("pk", "node_id"))
    nodes = sorted((n, k, s, json.dumps(f, sort_keys=True), json.dumps(a, sort_keys=True), d, nid.get(p))
                   for n, k, s, f, a, d, p in Node.objects.values_list("node_id", "kind", "state", "facets", "attrs",
                                                                      "deidentifies", "parent_id"))
    edges = sorted((nid[s], nid[d], k) for s, d, k in Edge.objects.values_list("src_id", "dst_id", "kind"))
    tags = sorted((nid[n], f, t) for n, f, t in NodeTag.objects.values_list("node_id", "field", "tag"))
    columns = sorted((nid[s], sf, nid[d], df) for s, sf, d, df in ColumnEdge.objects.values_list(
        "src_id", "src_field", "dst_id", "dst_field"))
    return nodes, edges, tags, columns


@pytest.mark.django_db
def test_both_modes_answer_alike_and_build_the_same_graph(settings: Any) -> None:
    clients = _world()
    bodies = _varied()
    results = {}
    for defer in (False, True):
        settings.LINEAGE_INGEST_DEFER = defer
        sid = transaction.savepoint()
        answers = _answers(clients, bodies)
        assert RawEvent.objects.filter(applied_at__isnull=True).count() == 0  # eager: applied after the answer
        results[defer] = (answers, _graph(), sorted(RawEvent.objects.values_list("dedupe_key", "warnings")),
                          sorted(AuditEntry.objects.values_list("action", "target_id", "payload")))
        transaction.savepoint_rollback(sid)
    inline, deferred = results[False], results[True]
    assert deferred[0] == inline[0]
    assert {code for code, _ in inline[0]} == {200, 201, 400, 403, 409}
    assert any(w for code, w in inline[0] if code in (200, 201))  # some answers carry warnings
    assert deferred[1] == inline[1]
    assert deferred[2] == inline[2]
    assert deferred[3] == inline[3]


@pytest.fixture
def no_worker() -> Iterator[None]:
    """Celery with a real broker and no worker: the apply task is queued and nothing applies it."""
    client = broker_ready()
    app = Celery("portal-test", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(**broker_conf(), task_always_eager=False, result_backend=None)
    app.autodiscover_tasks(["lineage"], force=True)
    previous = current_app._get_current_object()
    app.set_current()
    try:
        yield
    finally:
        previous.set_current()
        broker_clear(client)


@pytest.mark.django_db
def test_a_waiting_run_id_reused_by_another_job_is_refused_409(no_worker: None) -> None:
    clients = _world()
    r = post_event(clients["a"], run_event(job="first", namespace="team-a", run_id=RUN))
    assert r.status_code == 201, r.content
    assert not Node.objects.filter(node_id=ids.run_id(RUN)).exists()  # waiting: not in the graph yet
    r = post_event(clients["a"], run_event(job="second", namespace="team-a", run_id=RUN,
                                           event_type="START"))
    assert r.status_code == 409, r.content
    assert r.json()["errors"][0]["field"] == "run.runId"
    # the parent run of a waiting event is taken too
    child = run_event(job="child", namespace="team-a", run_facets={"parent": facet(
        run={"runId": PARENT}, job={"namespace": "team-a", "name": "parent"})})
    assert post_event(clients["a"], child).status_code == 201
    r = post_event(clients["a"], run_event(job="impostor", namespace="team-a", run_id=PARENT))
    assert r.status_code == 409, r.content
    assert RawEvent.objects.filter(applied_at__isnull=True).count() == 2
    assert lineage_apply_pending().applied == 2
    assert Node.objects.get(node_id=ids.run_id(RUN)).parent.node_id == ids.job_id("team-a", "first")


@pytest.mark.django_db
def test_pending_events_are_visible_on_the_node_and_the_pending_endpoint(no_worker: None, client: Any) -> None:
    clients = _world()
    assert post_event(clients["a"], run_event(job="etl", namespace="team-a", run_id=RUN,
                                              event_type="START")).status_code == 201
    lineage_apply_pending()
    assert post_event(clients["a"], run_event(job="etl", namespace="team-a", run_id=RUN)).status_code == 201
    assert post_event(clients["b"], run_event(job="train", namespace="team-b")).status_code == 201
    reader = api_client(user_ensure(username="reader-a", role="viewer", team="team-a"))
    run = reader.get(f"/api/v1/nodes/{ids.run_id(RUN)}").json()
    assert run["pending"]["events"] == 1 and run["pending"]["since"]
    job = reader.get(f"/api/v1/nodes/{ids.job_id('team-a', 'etl')}").json()
    assert job["pending"]["events"] == 1
    mine = reader.get("/api/v1/lineage/pending").json()
    assert mine["events"] == 1 and mine["failed"] == 0 and mine["oldestAgeSeconds"] >= 0  # team B's is not counted
    root = user_ensure(username="root", role="admin")
    assert api_client(root).get("/api/v1/lineage/pending").json()["events"] == 2
    client.force_login(root)
    page = client.get(reverse("web:node-detail", kwargs={"node_id": ids.run_id(RUN)}))
    assert page.status_code == 200 and b'id="pending"' in page.content
    lineage_apply_pending()
    assert reader.get(f"/api/v1/nodes/{ids.run_id(RUN)}").json()["pending"] == {"events": 0, "since": None}
    assert reader.get("/api/v1/lineage/pending").json()["events"] == 0


@pytest.mark.django_db
def test_pending_counts_are_for_readers_and_charlie_counts_none_of_team_a(no_worker: None, client: Any,
                                                                          charlie: Any) -> None:
    clients = _world()
    assert post_event(clients["a"], run_event(job="etl", namespace="team-a")).status_code == 201
    assert client.get("/api/v1/lineage/pending").status_code in (401, 403)  # anonymous
    assert clients["a"].get("/api/v1/lineage/pending").status_code == 403  # an ingest token reads no lineage
    assert api_client(charlie).get("/api/v1/lineage/pending").json()["events"] == 0
    assert api_client(charlie).get(f"/api/v1/nodes/{ids.job_id('team-a', 'etl')}").status_code == 404


@pytest.mark.django_db
def test_rebuild_after_deferred_ingestion_equals_the_graph(no_worker: None) -> None:
    clients = _world()
    assert [code for code, _ in _answers(clients, _varied())].count(201) >= 10
    lineage_apply_pending()
    applied = _graph()
    lineage_rebuild()
    assert _graph() == applied


@pytest.mark.django_db(transaction=True)
def test_an_event_that_fails_to_apply_costs_the_others_nothing_and_waits_with_its_error(no_worker: None,
                                                                                      poison: Poison) -> None:
    clients = _world()
    for job in ("ok1", "poison", "ok2"):
        assert post_event(clients["a"], run_event(job=job, namespace="team-a")).status_code == 201
    with poison(table="lineage_node", column="name"):
        count = lineage_apply_pending()
        assert (count.applied, count.failed) == (2, 1)
        assert sorted(Node.objects.filter(kind="job").values_list("name", flat=True)) == ["ok1", "ok2"]
        failed = RawEvent.objects.get(job_name="poison")
        assert failed.applied_at is None and "poisoned event" in failed.apply_error
        assert lineage_apply_pending().applied == 0  # not retried in a loop
    call_command("lineage_apply_pending", "--retry-failed")
    assert RawEvent.objects.get(job_name="poison").applied_at is not None
    assert Node.objects.filter(kind="job", name="poison").exists()


def claim_race(claimant_job: str, second_job: str) -> Any:
    """A concurrent transaction takes the run's claim (for ``claimant_job``) after the guard of a request (for
    ``second_job``) read it free: that request's claim then waits on the unique index and is read back once the
    first commits. Returns the request's answer."""
    clients = _world()
    holding, release = threading.Event(), threading.Event()
    answers: dict[str, Any] = {}

    def first() -> None:  # a request that took the run and has not committed yet
        try:
            with transaction.atomic():
                RunClaim.objects.create(run=ids.run_id(RUN), job=ids.job_id("team-a", claimant_job),
                                        job_namespace="team-a")
                holding.set()
                release.wait(60)
        finally:
            connection.close()

    def second() -> None:
        try:
            answers["second"] = post_event(clients["a"], run_event(job=second_job, namespace="team-a", run_id=RUN))
        finally:
            connection.close()

    t1 = threading.Thread(target=first)
    t1.start()
    assert holding.wait(60)
    t2 = threading.Thread(target=second)
    t2.start()
    deadline = time.monotonic() + 60
    with connection.cursor() as cur:  # until the second request waits on the first one's claim
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%%lineage_runclaim%%'")
            if cur.fetchone()[0]:
                break
            time.sleep(0.02)
    release.set()
    t1.join()
    t2.join()
    return answers["second"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sequencer", ["inline", "service"])  # service: one statement (services.events_append)
def test_two_concurrent_events_cannot_both_take_a_run(no_worker: None, settings: Any, sequencer: str) -> None:
    """The second request's guard reads before the first commits; its claim then waits on the unique index and is
    refused once the first commits (before the claims tables both were answered 201)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent transactions")
    settings.PORTAL_AUDIT_SEQUENCER = sequencer
    r = claim_race("first", "second")
    assert r.status_code == 409, r.content
    assert r.json()["errors"][0]["field"] == "run.runId"
    assert not RawEvent.objects.filter(job_name="second").exists()
    assert RunClaim.objects.get(run=ids.run_id(RUN)).job == ids.job_id("team-a", "first")
    entries = AuditPending if sequencer == "service" else AuditEntry
    assert list(entries.objects.filter(action__startswith="lineage.").values_list("action", flat=True)) == [
        "lineage.event_refused"]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_applies_waiting_events_as_the_inline_path_would(settings: Any) -> None:
    clients = _world()
    bodies = [b for b in _varied() if b[0] == "a"]
    settings.LINEAGE_INGEST_DEFER = False
    inline = _answers(clients, bodies)
    expected = _graph()
    call_command("flush", "--no-input")
    clients = _world()
    settings.LINEAGE_INGEST_DEFER = True
    with worker_thread(["lineage"]):
        assert _answers(clients, bodies) == inline
        deadline = time.monotonic() + 120
        while RawEvent.objects.filter(applied_at__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not RawEvent.objects.filter(applied_at__isnull=True).exists()
    assert _graph() == expected


@pytest.mark.django_db(transaction=True)
def test_events_appended_while_the_apply_task_waits_enqueue_it_once(no_worker: None, settings: Any) -> None:
    clients = _world()
    client = broker_ready()
    queue = f"{KEY_PREFIX}{settings.LINEAGE_INGEST_QUEUE}"  # the task is routed to the ingest queue
    for job in ("one", "two", "three"):
        assert post_event(clients["a"], run_event(job=job, namespace="team-a")).status_code == 201
    assert client.llen(queue) == 1
    lineage_apply_pending_task.apply()  # as the worker would: clears the mark first, then applies all three
    assert not RawEvent.objects.filter(applied_at__isnull=True).exists()
    assert post_event(clients["a"], run_event(job="four", namespace="team-a")).status_code == 201
    assert client.llen(queue) == 2
    assert settings.CELERY_BEAT_SCHEDULE["lineage-apply-pending"]["task"] == "lineage.apply_pending"


@pytest.mark.django_db
def test_the_history_backfill_reads_only_applied_events(no_worker: None) -> None:
    """``lineage_history_backfill`` restores event times from the raw events the graph was built from; an event still
    waiting (or one that failed alone) is not in the graph, so it must not move a node's or an edge's times back."""
    from lineage.asof import history_backfill

    clients = _world()
    later = run_event(job="etl", namespace="team-a", run_id=RUN, time="2026-01-10T10:00:00Z",
                      inputs=[dataset("s3://a", "raw")])
    assert post_event(clients["a"], later).status_code == 201
    assert lineage_apply_pending().applied == 1
    earlier = run_event(job="etl", namespace="team-a", run_id=RUN, event_type="START", time="2026-01-10T09:00:00Z",
                        inputs=[dataset("s3://a", "raw")])
    assert post_event(clients["a"], earlier).status_code == 201  # waits: nothing applies it
    times = {n.node_id: n.event_from for n in Node.objects.all()}
    edges = set(Edge.objects.values_list("src_id", "dst_id", "kind", "event_from"))
    read = history_backfill(batch_size=2)
    assert {n.node_id: n.event_from for n in Node.objects.all()} == times
    assert set(Edge.objects.values_list("src_id", "dst_id", "kind", "event_from")) == edges
    assert read == 1
    assert lineage_apply_pending().applied == 1  # once applied, the earlier event moves them back as it should
    assert Node.objects.get(node_id=ids.job_id("team-a", "etl")).event_from < times[ids.job_id("team-a", "etl")]


@pytest.mark.django_db
def test_a_run_and_job_whose_events_all_wait_answer_404_saying_so_to_readers_who_may_see_them(
        no_worker: None, charlie: Any) -> None:
    """Before its first event is applied a run has no node: its reader learns the events wait (a 404 with
    ``pending``), not that they were lost; a reader of another team gets the 404 of a node that never was."""
    clients = _world()
    namespace_assign(namespace="pipelines://a:8080", team="team-a")  # a namespace with ':' in it
    assert post_event(clients["a"], run_event(job="etl", namespace="pipelines://a:8080", run_id=RUN)).status_code == 201
    reader = api_client(user_ensure(username="reader-a", role="viewer", team="team-a"))
    never = reader.get(f"/api/v1/nodes/{ids.run_id(str(uuid.UUID(int=99)))}")
    assert never.status_code == 404 and "pending" not in never.json()
    for node_id in (ids.run_id(RUN), ids.job_id("pipelines://a:8080", "etl")):
        r = reader.get(f"/api/v1/nodes/{node_id}")
        assert r.status_code == 404, r.content
        assert r.json()["pending"]["events"] == 1 and "wait to be applied" in r.json()["detail"]
        other = api_client(charlie).get(f"/api/v1/nodes/{node_id}")
        assert (other.status_code, other.json()) == (404, never.json())
    lineage_apply_pending()
    assert reader.get(f"/api/v1/nodes/{ids.run_id(RUN)}").status_code == 200


@pytest.mark.django_db
def test_a_micro_batch_reads_its_senders_with_its_claim_and_acts_for_each(no_worker: None) -> None:
    """The senders come with the claimed events (one statement, not a lookup of its own); each sender's
    de-identification marks are audited with that sender as actor, with the name the inline path records."""
    clients = _world()
    for who, ns, out in (("a", "team-a", "s3://a"), ("b", "team-b", "s3://b")):
        ev = run_event(job="mask", namespace=ns, run_facets={"portalRun": facet(deidentifies=True)},
                       outputs=[dataset(out, "masked")])
        assert post_event(clients[who], ev).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert lineage_apply_pending().applied == 2
    assert not [q["sql"] for q in queries.captured_queries if 'FROM "accounts_user"' in q["sql"]]
    actors = {(e.target_id, e.actor_id, e.actor_name) for e in AuditEntry.objects.filter(
        action="lineage.classification_weakened")}
    a, b = (User.objects.get(username=name) for name in ("svc-a", "svc-b"))
    by_target = {t: actor for t, actor, _ in actors}
    assert by_target[ids.dataset_id("s3://a", "masked")] == a.pk
    assert by_target[ids.dataset_id("s3://b", "masked")] == b.pk
    assert sorted(actor for t, actor, _ in actors if t.startswith("run:")) == sorted([a.pk, b.pk])
    assert {name for _, _, name in actors} == {a.printed_name, b.printed_name}


@pytest.mark.django_db
def test_applying_one_waiting_event_takes_a_bounded_number_of_statements(no_worker: None) -> None:
    """The fixed cost of a micro-batch (issue 19): 31 statements for this event before the senders came with the claim,
    the receipt clamp became one statement, the state changes one insert and one read, and the reads edges one read
    (PostgreSQL; bench/README.md, "Applier: fewer statements per micro-batch")."""
    if connection.vendor != "postgresql":
        pytest.skip("the statement count is PostgreSQL's")
    clients = _world()
    ev = run_event(job="etl", namespace="team-a", run_id=RUN, event_type="START", time="2026-01-10T09:00:00Z",
                   inputs=[dataset("s3://a", "raw")], outputs=[dataset("s3://a", "out")])
    assert post_event(clients["a"], ev).status_code == 201
    lineage_apply_pending()
    assert post_event(clients["a"], run_event(job="etl", namespace="team-a", run_id=RUN, event_type="COMPLETE",
                                              inputs=[dataset("s3://a", "raw")],
                                              outputs=[dataset("s3://a", "out")])).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert lineage_apply_pending(max_batches=1).applied == 1
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]  # the test's transaction
    assert len(sent) <= 24, "\n".join(q[:100] for q in sent)


@pytest.mark.django_db(transaction=True)
def test_retrying_failed_events_applies_those_that_now_pass_and_keeps_the_others_waiting(no_worker: None,
                                                                                       poison: Poison) -> None:
    """``--retry-failed``'s pass: each failed event alone, oldest first, before what waits normally; one that still
    fails keeps waiting with its error (pins the behaviour the separate retry pass keeps)."""
    clients = _world()
    for job in ("poison", "ok1"):
        assert post_event(clients["a"], run_event(job=job, namespace="team-a")).status_code == 201
    with poison(table="lineage_node", column="name"):
        assert (lineage_apply_pending().applied, RawEvent.objects.exclude(apply_error="").count()) == (1, 1)
        assert post_event(clients["a"], run_event(job="ok2", namespace="team-a")).status_code == 201
        count = lineage_apply_pending(retry_failed=True)
        assert (count.applied, count.failed) == (1, 1)  # ok2 applied, poison failed again
        assert RawEvent.objects.get(job_name="poison").applied_at is None
    count = lineage_apply_pending(retry_failed=True)
    assert (count.applied, count.failed) == (1, 0)
    assert not RawEvent.objects.filter(applied_at__isnull=True).exists()
    assert RawEvent.objects.get(job_name="poison").apply_error == ""
    assert sorted(Node.objects.filter(kind="job").values_list("name", flat=True)) == ["ok1", "ok2", "poison"]
