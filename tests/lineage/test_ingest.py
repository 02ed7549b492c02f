"""events_ingest and friends, on the real database."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connection

from lineage import selectors
from lineage.models import Edge, Node, NodeTag, RawEvent
from lineage.openlineage import parse_event
from lineage.services import events_ingest, lineage_rebuild, portal_record_ingest
from tests.factories import dataset, deploy_facets, model_output, run_event

pytestmark = pytest.mark.django_db


def ingest(*events: dict) -> list[str]:
    return [o.status for o in events_ingest(events=[parse_event(json.dumps(e).encode()) for e in events], by=None)]


def graph_snapshot() -> tuple:
    nodes = sorted(Node.objects.values_list("node_id", "kind", "state", "version", "environment"))
    by = dict(Node.objects.values_list("pk", "node_id"))
    edges = sorted((by[s], by[d], k) for s, d, k in Edge.objects.values_list("src_id", "dst_id", "kind"))
    tags = sorted(NodeTag.objects.values_list("node__node_id", "field", "tag"))
    return nodes, edges, tags


def test_an_exact_duplicate_is_stored_once_and_changes_nothing() -> None:
    ev = run_event(inputs=[dataset("db", "a")], outputs=[dataset("db", "b")])
    assert ingest(ev) == ["created"]
    before = graph_snapshot()
    assert ingest(ev) == ["duplicate"]
    assert ingest(ev, ev) == ["duplicate", "duplicate"]
    assert RawEvent.objects.count() == 1
    assert graph_snapshot() == before


def test_a_repeat_inside_one_batch_is_a_duplicate() -> None:
    ev = run_event()
    assert ingest(ev, ev) == ["created", "duplicate"]


def test_complete_before_start_ends_completed_and_late_start_does_not_reopen() -> None:
    rid = str(uuid.uuid4())
    ingest(run_event(run_id=rid, event_type="COMPLETE", time="2026-01-10T10:05:00Z"))
    ingest(run_event(run_id=rid, event_type="START", time="2026-01-10T10:00:00Z"))
    run = Node.objects.get(node_id=f"run:{rid}")
    assert run.state == "COMPLETED"
    assert run.attrs["started_at"].startswith("2026-01-10T10:00")
    ingest(run_event(run_id=rid, event_type="START", time="2026-01-10T11:00:00Z"))
    run.refresh_from_db()
    assert run.state == "COMPLETED"


def test_which_exact_data_trained_a_model_version() -> None:
    etl = str(uuid.uuid4())
    train = str(uuid.uuid4())
    ingest(run_event(job="build_features", run_id=etl, inputs=[dataset("db", "raw")],
                     outputs=[dataset("db", "features")], time="2026-01-10T09:00:00Z"))
    ingest(run_event(run_id=train, inputs=[dataset("db", "features")], outputs=[model_output("credit", "7")],
                     time="2026-01-10T10:00:00Z"))
    # a later rewrite of the features does not change what version 7 was trained on
    ingest(run_event(job="build_features", inputs=[dataset("db", "raw")], outputs=[dataset("db", "features")],
                     time="2026-01-11T09:00:00Z"))
    mv = Node.objects.get(node_id="modelVersion:ml-pipelines:credit#7")
    walk = selectors.lineage_walk(seeds=[mv.pk], direction="upstream", depth=20)
    ids = set(Node.objects.filter(pk__in=walk.distance).values_list("node_id", flat=True))
    assert f"datasetVersion:db:features#{etl}" in ids
    assert "datasetVersion:db:raw#initial" in ids
    assert len([i for i in ids if i.startswith("datasetVersion:db:features")]) == 1


def test_sensitive_tags_flow_downstream_until_a_deidentifying_run(settings) -> None:
    # The mark alone stops every tag when no tag needs a determination (PHI does by default: lineage/stops.py,
    # tests/evidence/test_deid_stops.py).
    settings.LINEAGE_DEID_EVIDENCE_TAGS = []
    ingest(run_event(job="deidentify", run_facets={"portalRun": {"deidentifies": True}},
                     inputs=[dataset("ehr", "admissions", tags={"patient_name": ["PHI"]})],
                     outputs=[dataset("ehr", "admissions_deid")], time="2026-01-10T09:00:00Z"))
    pii = dataset("bank", "cust", tags={"ssn": ["PII"]})
    ingest(run_event(job="train", inputs=[dataset("ehr", "admissions_deid"), pii],
                     outputs=[model_output("readmission", "1")], time="2026-01-10T10:00:00Z"))
    mv = Node.objects.get(node_id="modelVersion:ml-pipelines:readmission#1")
    found = selectors.sensitive_upstream(node=mv)
    assert found == {"PII": ["dataset:bank:cust"]}
    deid = Node.objects.get(node_id="dataset:ehr:admissions_deid")
    assert NodeTag.objects.filter(node=deid, tag="DEIDENTIFIED").exists()
    # without the de-identifying run the PHI would reach the model
    ingest(run_event(job="train", inputs=[dataset("ehr", "admissions")], outputs=[model_output("readmission", "2")],
                     time="2026-01-10T11:00:00Z"))
    mv2 = Node.objects.get(node_id="modelVersion:ml-pipelines:readmission#2")
    assert selectors.sensitive_upstream(node=mv2) == {"PHI": ["dataset:ehr:admissions"]}


def test_a_deploy_supersedes_the_previous_version_in_that_environment() -> None:
    ingest(run_event(outputs=[model_output("credit", "6")], time="2026-01-01T00:00:00Z"),
           run_event(outputs=[model_output("credit", "7")], time="2026-01-02T00:00:00Z"))
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "6", "production"), time="2026-01-03T00:00:00Z"))
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"), time="2026-01-04T00:00:00Z"))
    states = dict(Node.objects.filter(kind="deployment").values_list("version", "state"))
    assert states == {"6": "superseded", "7": "active"}
    dep = Node.objects.get(version="7", kind="deployment")
    assert Edge.objects.filter(src__node_id="modelVersion:ml-pipelines:credit#7", dst=dep, kind="deploys").exists()


def test_a_deploy_that_arrives_after_a_newer_one_is_superseded_at_once() -> None:
    ingest(run_event(outputs=[model_output("credit", "6")], time="2026-01-01T00:00:00Z"),
           run_event(outputs=[model_output("credit", "7")], time="2026-01-02T00:00:00Z"))
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "7", "production"), time="2026-01-04T00:00:00Z"))
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "6", "production"), time="2026-01-03T00:00:00Z"))
    states = dict(Node.objects.filter(kind="deployment").values_list("version", "state"))
    assert states == {"6": "superseded", "7": "active"}


def test_a_redeploy_of_the_older_version_makes_it_active_again() -> None:
    deploy = [run_event(job="deploy", run_facets=deploy_facets("credit", v, "production"), time=t)
              for v, t in (("6", "2026-01-03T00:00:00Z"), ("7", "2026-01-04T00:00:00Z"), ("6", "2026-01-05T00:00:00Z"))]
    ingest(deploy[2])
    ingest(deploy[1])
    ingest(deploy[0])
    states = dict(Node.objects.filter(kind="deployment").values_list("version", "state"))
    assert states == {"6": "active", "7": "superseded"}


def test_a_failed_deploy_run_deploys_nothing() -> None:
    ingest(run_event(job="deploy", event_type="FAIL", run_facets=deploy_facets("credit", "6", "production")))
    assert not Node.objects.filter(kind="deployment").exists()


def test_rebuild_gives_the_same_graph_from_the_raw_events() -> None:
    ingest(run_event(job="etl", inputs=[dataset("db", "raw", tags={"ssn": ["PII"]})], outputs=[dataset("db", "clean")],
                     time="2026-01-10T09:00:00Z", sha="b" * 40))
    ingest(run_event(inputs=[dataset("db", "clean")], outputs=[model_output("credit", "1")],
                     time="2026-01-10T10:00:00Z"))
    portal_record_ingest(kind="commit", by=None, payload={
        "repo": "https://git.example.com/ml/credit.git", "sha": "b" * 40, "author_name": "Ann",
        "author_email": "ann@example.com", "time": "2026-01-09T09:00:00+00:00"})
    ingest(run_event(job="deploy", run_facets=deploy_facets("credit", "1", "staging"), time="2026-01-11T00:00:00Z"))
    before = graph_snapshot()
    assert lineage_rebuild() == RawEvent.objects.count()
    assert graph_snapshot() == before


def test_a_rest_commit_enriches_the_commit_node_from_the_job_facet() -> None:
    sha = "c" * 40
    ingest(run_event(sha=sha))
    node = portal_record_ingest(kind="commit", by=None, payload={
        "repo": "https://git.example.com/ml/credit.git", "sha": sha, "author_email": "ann@example.com",
        "message": "tune", "time": "2026-01-09T09:00:00+00:00"})
    assert node.attrs["author_email"] == "ann@example.com"
    assert Edge.objects.filter(src=node, kind="built_from").count() == 2  # job and run


def test_a_failed_run_does_not_make_a_new_version_for_readers() -> None:
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    ingest(run_event(job="etl", run_id=good, outputs=[dataset("db", "t")], time="2026-01-01T00:00:00Z"))
    ingest(run_event(job="etl", run_id=bad, event_type="START", outputs=[dataset("db", "t")],
                     time="2026-01-02T00:00:00Z"))
    ingest(run_event(job="etl", run_id=bad, event_type="FAIL", outputs=[dataset("db", "t")],
                     time="2026-01-02T01:00:00Z"))
    reader = str(uuid.uuid4())
    ingest(run_event(job="read", run_id=reader, inputs=[dataset("db", "t")], time="2026-01-03T00:00:00Z"))
    read = Edge.objects.get(kind="reads", dst__node_id=f"run:{reader}")
    assert read.src.node_id == f"datasetVersion:db:t#{good}"


def test_column_tags_in_the_tags_facet_stay_on_their_column() -> None:
    ds = dataset("db", "t", tags={"name": ["PII"]})
    ds["facets"]["tags"] = {"tags": [{"key": "classification", "value": "PHI", "field": "diagnosis"},
                                     {"key": "FINANCIAL", "value": "true"}]}
    ingest(run_event(inputs=[ds]))
    assert sorted(NodeTag.objects.values_list("field", "tag")) == [("", "FINANCIAL"), ("diagnosis", "PHI"),
                                                                  ("name", "PII")]


def test_commit_shas_match_whatever_their_case() -> None:
    sha = "ABCDEF1234" * 4
    ingest(run_event(sha=sha))
    node = portal_record_ingest(kind="commit", by=None, payload={
        "repo": "https://git.example.com/ml/credit.git", "sha": sha.lower(), "time": "2026-01-09T09:00:00+00:00"})
    assert Node.objects.filter(kind="commit").count() == 1
    assert node.name == sha.lower()


def test_a_walk_does_not_pass_through_a_job_into_its_other_runs() -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    ingest(run_event(run_id=old, sha="a" * 40, inputs=[dataset("db", "old_input")], time="2026-01-01T00:00:00Z"))
    ingest(run_event(run_id=new, sha="b" * 40, inputs=[dataset("db", "new_input")], outputs=[model_output("m", "2")],
                     time="2026-01-02T00:00:00Z"))
    mv = Node.objects.get(node_id="modelVersion:ml-pipelines:m#2")
    walk = selectors.lineage_walk(seeds=[mv.pk], direction="upstream", depth=20)
    ids = set(Node.objects.filter(pk__in=walk.distance).values_list("node_id", flat=True))
    assert f"commit:https://git.example.com/ml/credit.git:{'b' * 40}" in ids
    assert f"commit:https://git.example.com/ml/credit.git:{'a' * 40}" not in ids
    assert "datasetVersion:db:old_input#initial" not in ids and f"run:{old}" not in ids


@pytest.mark.django_db(transaction=True)
def test_batches_sharing_events_in_opposite_orders_do_not_deadlock() -> None:
    def events(round_no: int) -> list:
        return [parse_event(json.dumps(run_event(
            run_id=str(uuid.UUID(int=round_no * 10_000 + i + 1)), job=f"job_{i % 7}",
            time=f"2026-01-{10 + round_no:02d}T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")).encode())
            for i in range(4000)]

    errors: list[BaseException] = []

    def send(batch: list, barrier: threading.Barrier) -> None:
        try:
            barrier.wait(timeout=10)
            events_ingest(events=batch, by=None)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    for round_no in range(2):
        batch = events(round_no)
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=send, args=(b, barrier)) for b in (batch, batch[::-1])]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert errors == []
    assert RawEvent.objects.count() == 2 * 4000
